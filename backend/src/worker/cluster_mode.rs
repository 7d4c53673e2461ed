//! Replication groups with cluster mode enabled on real engines: a Redis Cluster.
//!
//! Every node runs with `cluster-enabled yes` and announces the address a
//! client on the host reaches it at. The group's pass (every half second, and
//! in a tight loop while the group is creating or modifying) converges the
//! engines on the record: nodes meet (`CLUSTER MEET`), shard primaries get
//! their slots (`CLUSTER ADDSLOTSRANGE`) or have them migrated in
//! (`CLUSTER SETSLOT … IMPORTING/MIGRATING`, `MIGRATE … KEYS`,
//! `CLUSTER SETSLOT … NODE`), replicas follow their shard's primary
//! (`CLUSTER REPLICATE`), removed nodes are forgotten (`CLUSTER FORGET`), a
//! requested failover runs `CLUSTER FAILOVER` on the replica, and failovers the
//! engines made themselves are written back to the record. The configuration
//! endpoint is a proxy to the live nodes, which answer `CLUSTER SLOTS`.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::node::{
    apply_params, bus_port, command, connect, push_pending_users, runtime_config, NODE_TIMEOUT_MS,
};
use super::Reconciler;
use crate::engine::{admin_secret, resp, NodeSpec, NodeStatus, ADMIN_USER};
use crate::model::cluster::CacheCluster;
use crate::model::replication_group::ReplicationGroup;
use crate::model::shards::SLOTS;
use crate::model::{lifecycle, Scope};

/// How long a creating or modifying group's pass keeps converging before it
/// hands over to the next pass.
const BUDGET: Duration = Duration::from_secs(30);
/// Between rounds of a converging pass.
const ROUND: Duration = Duration::from_millis(20);
/// A dead shard primary the cluster did not fail over by itself (no majority)
/// is taken over by a replica after this long.
const TAKEOVER_AFTER: Duration = Duration::from_millis(NODE_TIMEOUT_MS + 4000);
/// A requested failover that has not happened after this long is given up.
const GIVE_UP_FAILOVER: Duration = Duration::from_secs(60);

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    /// `ip:port` (empty while unknown).
    addr: String,
    flags: Vec<String>,
    master: Option<String>,
    /// Config epoch: the newer claim on slots wins.
    epoch: u64,
    slots: Vec<(u16, u16)>,
}

impl Entry {
    fn has(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    fn is_master(&self) -> bool {
        self.has("master")
    }

    /// A node the viewer really knows (not a handshake or a lost address).
    fn known(&self) -> bool {
        !self.has("handshake") && !self.has("noaddr")
    }
}

fn parse_nodes(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let addr = f[1].split('@').next().unwrap_or_default();
            let addr = addr.split(',').next().unwrap_or_default().to_owned();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| {
                    let (a, b) = s.split_once('-').unwrap_or((s, s));
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            Some(Entry {
                id: f[0].to_owned(),
                addr,
                flags: f[2].split(',').map(str::to_owned).collect(),
                master: (f[3] != "-").then(|| f[3].to_owned()),
                epoch: f[6].parse().unwrap_or(0),
                slots,
            })
        })
        .collect()
}

/// What one live node says.
struct View {
    myid: String,
    entries: Vec<Entry>,
    state_ok: bool,
    link_up: bool,
}

impl View {
    fn me(&self) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == self.myid)
    }

    fn knows(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.id == id && e.known())
    }

    fn owners(&self) -> Vec<Option<&str>> {
        let mut out = vec![None; usize::from(SLOTS)];
        for e in self.entries.iter().filter(|e| e.is_master()) {
            for (a, b) in &e.slots {
                for s in *a..=*b {
                    if let Some(o) = out.get_mut(usize::from(s)) {
                        *o = Some(e.id.as_str());
                    }
                }
            }
        }
        out
    }
}

/// A member node of the group this pass.
struct Node {
    cluster: CacheCluster,
    spec: NodeSpec,
    shard: String,
    busy: bool,
    view: Option<View>,
}

impl Node {
    fn addr(&self) -> (Ipv4Addr, u16) {
        (self.spec.host, self.spec.port)
    }

    fn addr_text(&self) -> String {
        format!("{}:{}", self.spec.host, self.spec.port)
    }

    fn id(&self) -> Option<&str> {
        self.view.as_ref().map(|v| v.myid.as_str())
    }

    fn live(&self) -> bool {
        self.view.is_some()
    }
}

async fn view_of(addr: (Ipv4Addr, u16), tls: bool) -> Option<View> {
    let fut = async {
        let mut c = connect(addr.0, addr.1, tls).await.ok()?;
        let myid = c.cmd(&["CLUSTER", "MYID"]).await.ok()?.as_text()?;
        let nodes = c.cmd(&["CLUSTER", "NODES"]).await.ok()?.as_text()?;
        let info = c.cmd(&["CLUSTER", "INFO"]).await.ok()?.as_text()?;
        let repl = c.cmd(&["INFO", "replication"]).await.ok()?.as_text()?;
        Some(View {
            myid,
            entries: parse_nodes(&nodes),
            state_ok: info.contains("cluster_state:ok"),
            link_up: repl.contains("master_link_status:up"),
        })
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .ok()
        .flatten()
}

/// When each requested failover was first tried.
fn failover_since() -> &'static Mutex<HashMap<String, Instant>> {
    static M: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    M.get_or_init(|| Mutex::new(HashMap::new()))
}

/// When each dead node was first seen dead (for the takeover fallback).
fn dead_since() -> &'static Mutex<HashMap<String, Instant>> {
    static M: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    M.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Slots migrated per pipelined batch.
const BATCH: usize = 256;

/// Pipeline `cmds` and fail on the first error reply.
async fn all_ok(conn: &mut resp::Conn, cmds: &[Vec<Vec<u8>>]) -> anyhow::Result<Vec<resp::Reply>> {
    let replies = conn.pipeline(cmds).await?;
    if let Some(resp::Reply::Error(e)) = replies.iter().find(|r| matches!(r, resp::Reply::Error(_)))
    {
        anyhow::bail!("server error: {e}");
    }
    Ok(replies)
}

fn args(a: &[&str]) -> Vec<Vec<u8>> {
    a.iter().map(|x| x.as_bytes().to_vec()).collect()
}

fn setslot(slots: &[u16], how: &str, id: &str) -> Vec<Vec<Vec<u8>>> {
    slots
        .iter()
        .map(|s| args(&["CLUSTER", "SETSLOT", &s.to_string(), how, id]))
        .collect()
}

/// Move slots from `src` to `dst` with their keys, a batch at a time:
/// `IMPORTING` on the target, `MIGRATING` on the source, `MIGRATE … KEYS`
/// until the slots are empty, then `NODE` on the target and the source.
async fn migrate_slots(
    src: &mut resp::Conn,
    dst: &mut resp::Conn,
    (src_id, dst_id): (&str, &str),
    dst_addr: (Ipv4Addr, u16),
    slots: &[u16],
) -> anyhow::Result<()> {
    let host = dst_addr.0.to_string();
    let port = dst_addr.1.to_string();
    for batch in slots.chunks(BATCH) {
        let t = Instant::now();
        all_ok(dst, &setslot(batch, "IMPORTING", src_id)).await?;
        let t1 = t.elapsed();
        all_ok(src, &setslot(batch, "MIGRATING", dst_id)).await?;
        let t2 = t.elapsed();
        let mut pending: Vec<u16> = batch.to_vec();
        while !pending.is_empty() {
            let asks: Vec<Vec<Vec<u8>>> = pending
                .iter()
                .map(|s| args(&["CLUSTER", "GETKEYSINSLOT", &s.to_string(), "1000"]))
                .collect();
            let replies = all_ok(src, &asks).await?;
            // One MIGRATE per slot (keys of one command share a slot), pipelined.
            let mut migrates = Vec::new();
            let mut again = Vec::new();
            for (s, r) in pending.iter().zip(replies) {
                let resp::Reply::Array(Some(k)) = r else {
                    continue;
                };
                let keys: Vec<Vec<u8>> = k
                    .into_iter()
                    .filter_map(|k| match k {
                        resp::Reply::Bulk(Some(b)) => Some(b),
                        _ => None,
                    })
                    .collect();
                if keys.is_empty() {
                    continue;
                }
                again.push(*s);
                let mut m = args(&["MIGRATE", &host, &port, "", "0", "10000", "REPLACE"]);
                // As the backend's admin user; over TLS when the cluster's bus
                // is (the engine picks that from `tls-cluster`).
                m.extend(args(&["AUTH2", ADMIN_USER, admin_secret()]));
                m.push(b"KEYS".to_vec());
                m.extend(keys);
                migrates.push(m);
            }
            all_ok(src, &migrates).await?;
            pending = again;
        }
        let t3 = t.elapsed();
        all_ok(dst, &setslot(batch, "NODE", dst_id)).await?;
        let t4 = t.elapsed();
        all_ok(src, &setslot(batch, "NODE", dst_id)).await?;
        tracing::debug!(?t1, ?t2, ?t3, ?t4, total = ?t.elapsed(), "slot batch migrated");
    }
    Ok(())
}

/// Slot numbers as `ADDSLOTSRANGE` arguments.
fn range_args(ranges: &[(u16, u16)]) -> Vec<String> {
    ranges
        .iter()
        .flat_map(|(a, b)| [a.to_string(), b.to_string()])
        .collect()
}

impl Reconciler {
    fn config_proxy_key(scope: &Scope, g: &ReplicationGroup) -> String {
        format!("{}-{}-{}-config", scope.account, scope.region, g.id)
    }

    /// One pass over a cluster-mode group.
    pub(super) async fn cluster_mode_group(&self, scope: &Scope, g: &ReplicationGroup) {
        let id = g.id.as_str();
        if g.status == lifecycle::DELETING {
            let left = {
                let st = self.cp.lock();
                st.regions.get(scope).is_some_and(|r| {
                    r.clusters.values().any(|c| {
                        c.replication_group_id.as_deref() == Some(id) && g.members.contains(&c.id)
                    })
                })
            };
            if !left {
                self.proxies.stop(&Self::config_proxy_key(scope, g));
                self.cp.remove_replication_group(scope, id);
                self.cp.event(
                    scope,
                    "replication-group",
                    id,
                    format!("Replication group {id} deleted"),
                );
            }
            return;
        }
        let started = Instant::now();
        let mut state = Session::default();
        loop {
            let Ok(g) = self.cp.find_replication_group(scope, id) else {
                return;
            };
            if g.status == lifecycle::DELETING {
                return;
            }
            let view = self.cp.replication_group_view(scope, &g);
            if self.creation_failed(scope, &g, &view) {
                return;
            }
            let converging = matches!(
                g.status.as_str(),
                lifecycle::CREATING | lifecycle::MODIFYING
            );
            let settled = self.converge(scope, &g, view, &mut state).await;
            if settled || !converging || started.elapsed() > BUDGET {
                return;
            }
            tokio::time::sleep(ROUND).await;
        }
    }

    /// Build this round's nodes: members with their views (live ones).
    async fn round_nodes(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        view: Vec<CacheCluster>,
    ) -> Vec<Node> {
        let mut nodes = Vec::new();
        for c in view {
            let Some(n) = c.nodes.first().cloned() else {
                continue;
            };
            let spec = self.spec(scope, &c, &n);
            let busy = c.status != lifecycle::AVAILABLE
                || n.status != lifecycle::NODE_AVAILABLE
                || n.restart
                || self.is_inflight(scope, &c.id);
            let shard = g
                .node_group_of(&c.id)
                .map(|x| x.id.clone())
                .unwrap_or_default();
            nodes.push(Node {
                cluster: c,
                spec,
                shard,
                busy,
                view: None,
            });
        }
        let tls = nodes.iter().any(|n| n.cluster.transit_encryption);
        let views = futures_util::future::join_all(nodes.iter().map(|n| async {
            if n.busy {
                None
            } else {
                view_of(n.addr(), tls).await
            }
        }))
        .await;
        for (n, v) in nodes.iter_mut().zip(views) {
            n.view = v;
        }
        nodes
    }

    /// One round: act on what differs, and say whether all is settled.
    #[allow(clippy::too_many_lines)]
    async fn converge(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        view: Vec<CacheCluster>,
        st: &mut Session,
    ) -> bool {
        let id = g.id.as_str();
        let mut nodes = self.round_nodes(scope, g, view).await;
        let tls = nodes.iter().any(|n| n.cluster.transit_encryption);
        if g.recluster {
            self.recluster(scope, g, &nodes, tls).await;
            return false;
        }
        let mut settled = nodes.len() == g.members.len() && nodes.iter().all(Node::live);

        // Dead members: wait for the cluster's own failover (or take over),
        // then bring them back; they rejoin as replicas.
        self.recover_dead(scope, g, &mut nodes, tls).await;

        let live: Vec<usize> = (0..nodes.len()).filter(|i| nodes[*i].live()).collect();
        if live.is_empty() {
            return false;
        }
        // A brand-new cluster: slots and config epochs before the nodes meet.
        let fresh = live.iter().all(|i| {
            nodes[*i].view.as_ref().is_some_and(|v| {
                v.entries.len() == 1 && v.entries.iter().all(|e| e.slots.is_empty())
            })
        });
        if fresh && live.len() == nodes.len() && nodes.len() == g.members.len() {
            for (k, ng) in g.node_groups.iter().enumerate() {
                let Some(p) = nodes.iter().find(|n| n.cluster.id == ng.primary) else {
                    continue;
                };
                let epoch = (k + 1).to_string();
                let _ = command(p.addr(), tls, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch]).await;
                let mut args = vec!["CLUSTER".to_owned(), "ADDSLOTSRANGE".to_owned()];
                args.extend(range_args(&ng.slots));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                if let Err(e) = command(p.addr(), tls, &args).await {
                    tracing::warn!(group = id, node = %p.spec.key, error = %e, "ADDSLOTSRANGE failed");
                }
            }
            settled = false;
        }

        // Meet: everyone knows the anchor and the anchor knows everyone; after
        // a while, any pair still apart meets directly.
        // The anchor: the node that knows the most (entries in handshake
        // do not count: a node met several times at once lists each
        // handshake), then the one that knows the most slot owners.
        let anchor = *live
            .iter()
            .max_by_key(|i| {
                let v = nodes[**i].view.as_ref();
                (
                    v.map_or(0, |v| v.entries.iter().filter(|e| e.known()).count()),
                    v.map_or(0, |v| v.owners().iter().filter(|o| o.is_some()).count()),
                    std::cmp::Reverse(**i),
                )
            })
            .unwrap_or(&live[0]);
        let mut meets = Vec::new();
        for &y in &live {
            for &x in &live {
                if x == y {
                    continue;
                }
                let (Some(vy), Some(xid)) = (nodes[y].view.as_ref(), nodes[x].id()) else {
                    continue;
                };
                if vy.knows(xid) {
                    continue;
                }
                settled = false;
                let direct =
                    x == anchor || y == anchor || st.since.elapsed() > Duration::from_millis(700);
                let key = (nodes[y].cluster.id.clone(), nodes[x].cluster.id.clone());
                let again = st
                    .met
                    .get(&key)
                    .is_none_or(|t| t.elapsed() > Duration::from_secs(2));
                if direct && again {
                    st.met.insert(key, Instant::now());
                    meets.push((y, x));
                }
            }
        }
        for (y, x) in meets {
            let (host, port) = nodes[x].addr();
            let (h, p, b) = (
                host.to_string(),
                port.to_string(),
                bus_port(port).to_string(),
            );
            if let Err(e) = command(nodes[y].addr(), tls, &["CLUSTER", "MEET", &h, &p, &b]).await {
                tracing::debug!(group = id, error = %e, "CLUSTER MEET failed");
            }
        }

        // Strangers: nodes no member is (removed replicas, old identities).
        let member_ids: HashMap<String, String> = nodes
            .iter()
            .filter_map(|n| Some((n.addr_text(), n.id()?.to_owned())))
            .collect();
        let member_addrs: HashSet<String> = nodes.iter().map(Node::addr_text).collect();
        let removing: HashSet<&str> = g
            .node_groups
            .iter()
            .filter(|x| x.removing)
            .flat_map(|x| x.members.iter().map(String::as_str))
            .collect();
        for &y in &live {
            let Some(v) = nodes[y].view.as_ref() else {
                continue;
            };
            let strangers: Vec<String> = v
                .entries
                .iter()
                .filter(|e| e.id != v.myid && !e.has("handshake"))
                .filter(|e| {
                    !member_addrs.contains(&e.addr)
                        || member_ids.get(&e.addr).is_some_and(|m| *m != e.id)
                })
                .map(|e| e.id.clone())
                .collect();
            for s in strangers {
                settled = false;
                let _ = command(nodes[y].addr(), tls, &["CLUSTER", "FORGET", &s]).await;
            }
        }

        // Each shard's primary as the engines see it; the record follows.
        let anchor_view = nodes[anchor].view.as_ref();
        let slots_of = |n: &Node| -> usize {
            n.view.as_ref().and_then(View::me).map_or(0, |e| {
                e.slots.iter().map(|(a, b)| usize::from(b - a) + 1).sum()
            })
        };
        let is_master = |n: &Node| {
            n.view
                .as_ref()
                .and_then(View::me)
                .is_some_and(Entry::is_master)
        };
        let mut primaries: HashMap<String, usize> = HashMap::new();
        for ng in &g.node_groups {
            let members: Vec<usize> = (0..nodes.len())
                .filter(|i| nodes[*i].shard == ng.id && nodes[*i].live())
                .collect();
            let with_slots = members
                .iter()
                .copied()
                .filter(|i| is_master(&nodes[*i]) && slots_of(&nodes[*i]) > 0)
                .max_by_key(|i| {
                    let epoch = nodes[*i]
                        .view
                        .as_ref()
                        .and_then(View::me)
                        .map_or(0, |e| e.epoch);
                    (epoch, slots_of(&nodes[*i]))
                });
            let p = with_slots.or_else(|| {
                members
                    .iter()
                    .copied()
                    .find(|i| nodes[*i].cluster.id == ng.primary && is_master(&nodes[*i]))
            });
            let Some(p) = p else {
                settled = false;
                continue;
            };
            primaries.insert(ng.id.clone(), p);
            if nodes[p].cluster.id != ng.primary && with_slots.is_some() {
                let new = nodes[p].cluster.id.clone();
                let old = ng.primary.clone();
                let asked = g.failover_to.as_deref() == Some(new.as_str());
                failover_since()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&format!("{}-{}-{id}-{new}", scope.account, scope.region));
                if self
                    .cp
                    .set_node_group_primary(scope, id, &ng.id, &new)
                    .is_ok()
                {
                    tracing::warn!(group = id, shard = %ng.id, %old, %new, "shard primary changed");
                    self.cp.event(
                        scope,
                        "replication-group",
                        id,
                        format!("Failover from primary node {old} to replica node {new} completed"),
                    );
                    self.cp.event(
                        scope,
                        "replication-group",
                        id,
                        format!("Failover to replica node {new} completed"),
                    );
                    if asked {
                        self.cp.event(
                            scope,
                            "cache-cluster",
                            &old,
                            "Recovery completed for cache nodes 0001",
                        );
                    }
                }
                settled = false;
            }
        }

        // Replicas follow their shard's primary.
        for &y in &live {
            let Some(&p) = primaries.get(&nodes[y].shard) else {
                continue;
            };
            if p == y {
                continue;
            }
            let (Some(pid), Some(v)) = (nodes[p].id().map(str::to_owned), nodes[y].view.as_ref())
            else {
                continue;
            };
            let follows = v
                .me()
                .is_some_and(|e| e.master.as_deref() == Some(pid.as_str()));
            if follows {
                if !v.link_up {
                    settled = false;
                }
                continue;
            }
            settled = false;
            // A master still holding slots (a stale claim) is left to the cluster.
            if !v.knows(&pid) || v.me().is_some_and(|e| e.is_master() && !e.slots.is_empty()) {
                continue;
            }
            match command(nodes[y].addr(), tls, &["CLUSTER", "REPLICATE", &pid]).await {
                Ok(_) => {
                    tracing::debug!(group = id, node = %nodes[y].spec.key, "replicating its shard's primary")
                }
                Err(e) => {
                    tracing::debug!(group = id, node = %nodes[y].spec.key, error = %e, "CLUSTER REPLICATE failed")
                }
            }
        }

        // A requested failover (TestFailover).
        if let Some(to) = g.failover_to.clone() {
            settled = false;
            self.requested_failover(scope, g, &nodes, &primaries, &to, tls)
                .await;
        }

        // Slots: move what a shard should own from where it is.
        let all_know = live.iter().all(|y| {
            live.iter().all(|x| {
                nodes[*x]
                    .id()
                    .is_some_and(|xid| nodes[*y].view.as_ref().is_some_and(|v| v.knows(xid)))
            })
        });
        let all_ok_state = live
            .iter()
            .all(|i| nodes[*i].view.as_ref().is_some_and(|v| v.state_ok));
        if let (true, Some(av)) = (all_know && !fresh, anchor_view) {
            // The anchor's slot map, with the gaps filled from the other
            // views: a node that joined a moment ago lists other masters
            // before it has heard which slots they own, and a slot that
            // looked unowned would be claimed empty (its keys lost).
            let mut owners: Vec<Option<String>> = av
                .owners()
                .into_iter()
                .map(|o| o.map(str::to_owned))
                .collect();
            for v in live.iter().filter_map(|i| nodes[*i].view.as_ref()) {
                for (slot, o) in v.owners().into_iter().enumerate() {
                    if let (None, Some(o)) = (&owners[slot], o) {
                        owners[slot] = Some(o.to_owned());
                    }
                }
            }
            let mut moves: Vec<(usize, usize, u16)> = Vec::new();
            let mut unowned: HashMap<usize, Vec<u16>> = HashMap::new();
            for ng in &g.node_groups {
                let Some(&p) = primaries.get(&ng.id) else {
                    continue;
                };
                let Some(pid) = nodes[p].id() else { continue };
                for (a, b) in &ng.slots {
                    for s in *a..=*b {
                        match owners[usize::from(s)].as_deref() {
                            Some(o) if o == pid => {}
                            Some(o) => {
                                if let Some(src) =
                                    live.iter().copied().find(|i| nodes[*i].id() == Some(o))
                                {
                                    moves.push((src, p, s));
                                }
                            }
                            None => unowned.entry(p).or_default().push(s),
                        }
                    }
                }
            }
            for (p, slots) in unowned {
                settled = false;
                tracing::info!(group = id, node = %nodes[p].spec.key, slots = slots.len(), "claiming slots no node owns");
                let mut args = vec!["CLUSTER".to_owned(), "ADDSLOTS".to_owned()];
                args.extend(slots.iter().map(ToString::to_string));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let _ = command(nodes[p].addr(), tls, &args).await;
            }
            if !moves.is_empty() {
                settled = false;
                // A node still in its start-up delay answers CLUSTERDOWN.
                if all_ok_state {
                    self.migrate(g, &nodes, &moves, tls).await;
                }
            }
            // Every node agrees on the slot map.
            for &y in &live {
                let Some(v) = nodes[y].view.as_ref() else {
                    continue;
                };
                let o = v.owners();
                for ng in &g.node_groups {
                    let Some(pid) = primaries.get(&ng.id).and_then(|p| nodes[*p].id()) else {
                        settled = false;
                        continue;
                    };
                    if ng
                        .slots
                        .iter()
                        .any(|(a, b)| (*a..=*b).any(|s| o[usize::from(s)] != Some(pid)))
                    {
                        settled = false;
                    }
                }
            }
        } else {
            settled = false;
        }

        // Shards being removed: once they own nothing, the cluster forgets them.
        for ng in g.node_groups.iter().filter(|x| x.removing) {
            settled = false;
            let mine: Vec<usize> = (0..nodes.len())
                .filter(|i| nodes[*i].shard == ng.id)
                .collect();
            let empty = mine
                .iter()
                .all(|i| nodes[*i].live() && slots_of(&nodes[*i]) == 0)
                && ng.slots.is_empty()
                && all_know
                && anchor_view.is_some_and(|av| {
                    let ids: Vec<&str> = mine.iter().filter_map(|i| nodes[*i].id()).collect();
                    av.owners()
                        .iter()
                        .all(|o| o.is_none_or(|o| !ids.contains(&o)))
                });
            if !empty {
                continue;
            }
            let ids: Vec<String> = mine
                .iter()
                .filter_map(|i| nodes[*i].id().map(str::to_owned))
                .collect();
            for &y in live
                .iter()
                .filter(|y| !removing.contains(nodes[**y].cluster.id.as_str()))
            {
                for x in &ids {
                    let _ = command(nodes[y].addr(), tls, &["CLUSTER", "FORGET", x]).await;
                }
            }
            if let Err(e) = self.cp.finish_node_group_removal(scope, id, &ng.id) {
                tracing::warn!(group = id, shard = %ng.id, error = %e, "removing a node group failed");
            } else {
                self.cp.event(
                    scope,
                    "replication-group",
                    id,
                    format!("Removed node group {} from replication group {id}", ng.id),
                );
            }
        }

        // The configuration endpoint reaches the live nodes (any answers CLUSTER SLOTS).
        if let Some((host, port)) = g.config_endpoint() {
            let mut targets: Vec<(Ipv4Addr, u16)> =
                primaries.values().map(|p| nodes[*p].addr()).collect();
            if targets.is_empty() {
                targets = live.iter().map(|i| nodes[*i].addr()).collect();
            }
            targets.sort_unstable();
            let preferred = nodes.iter().any(|n| n.spec.plain_port.is_some());
            if let Err(e) = self
                .proxies
                .serve(
                    &Self::config_proxy_key(scope, g),
                    host,
                    port,
                    targets,
                    preferred,
                )
                .await
            {
                tracing::warn!(group = id, %host, port, error = %e, "configuration endpoint could not listen");
            }
        }

        if !live
            .iter()
            .all(|i| nodes[*i].view.as_ref().is_some_and(|v| v.state_ok))
        {
            settled = false;
        }
        // Asked only when it matters (a scan of the region's clusters).
        if settled && self.clusters_leaving(scope, g) {
            settled = false;
        }
        // Users changed (user groups attached or removed): every node gets
        // them; the group settles on the next pass.
        if settled && g.users_pending {
            settled = false;
            push_pending_users(self.cp.as_ref(), scope, id).await;
        }
        // A reshard deferred until the group was a Redis Cluster again.
        if settled && g.pending_shards.is_some() && self.cp.resume_shards(scope, id) {
            return false;
        }
        if settled
            && matches!(
                g.status.as_str(),
                lifecycle::CREATING | lifecycle::MODIFYING
            )
            && !self.settle_group(scope, g)
        {
            return false;
        }
        settled
    }

    /// A group turning from fronts into a Redis Cluster again (`recluster`
    /// in the record): its nodes restarted with cluster mode on, each shard
    /// primary with its data, replicas empty. Once every node answers, each
    /// shard primary, still alone, takes a config epoch of its own and
    /// claims its shard's slots (those with keys it claimed itself when it
    /// loaded them; `ADDSLOTS` the others); then the record lets the nodes
    /// meet, and the rounds after converge as for any group. Nothing meets
    /// before every primary holds its slots: a slot claimed empty by one
    /// node and with keys by another would, on meeting, lose its keys on the
    /// side with the older epoch. Repeated after a backend restart, it claims
    /// only what is still unclaimed.
    async fn recluster(&self, scope: &Scope, g: &ReplicationGroup, nodes: &[Node], tls: bool) {
        let id = g.id.as_str();
        for k in self
            .proxies
            .keys_with_prefix(&Self::fronted_prefix(scope, id))
        {
            self.proxies.stop(&k);
        }
        if nodes.len() != g.members.len() || !nodes.iter().all(|n| !n.busy && n.live()) {
            return;
        }
        for (k, ng) in g.node_groups.iter().enumerate() {
            let Some(p) = nodes.iter().find(|n| n.cluster.id == ng.primary) else {
                return;
            };
            let Some(v) = p.view.as_ref() else { return };
            if v.entries.iter().any(|e| e.id != v.myid && e.known()) {
                // Met already (a pass before the record was written).
                continue;
            }
            let epoch = (k + 1).to_string();
            let _ = command(p.addr(), tls, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch]).await;
            let owners = v.owners();
            let missing: Vec<String> = ng
                .slots
                .iter()
                .flat_map(|(a, b)| *a..=*b)
                .filter(|s| owners[usize::from(*s)].is_none())
                .map(|s| s.to_string())
                .collect();
            let held = ng
                .slots
                .iter()
                .map(|(a, b)| usize::from(b - a) + 1)
                .sum::<usize>()
                - missing.len();
            tracing::info!(group = id, shard = %ng.id, node = %p.spec.key, with_keys = held, claimed = missing.len(),
                "re-forming the Redis Cluster: the shard primary claims its slots");
            if missing.is_empty() {
                continue;
            }
            let mut args = vec!["CLUSTER", "ADDSLOTS"];
            args.extend(missing.iter().map(String::as_str));
            if let Err(e) = command(p.addr(), tls, &args).await {
                tracing::warn!(group = id, node = %p.spec.key, error = %e, "ADDSLOTS failed");
                return;
            }
        }
        if let Err(e) = self.cp.finish_recluster(scope, id) {
            tracing::warn!(group = id, error = %e, "could not record the re-formed cluster");
        }
    }

    /// Move slots, one at a time, each with its keys.
    async fn migrate(
        &self,
        g: &ReplicationGroup,
        nodes: &[Node],
        moves: &[(usize, usize, u16)],
        tls: bool,
    ) {
        let started = Instant::now();
        let mut conns: HashMap<usize, resp::Conn> = HashMap::new();
        for (src, dst, _) in moves {
            for i in [*src, *dst] {
                if let std::collections::hash_map::Entry::Vacant(e) = conns.entry(i) {
                    match connect(nodes[i].spec.host, nodes[i].spec.port, tls).await {
                        Ok(c) => {
                            e.insert(c);
                        }
                        Err(err) => {
                            tracing::warn!(group = %g.id, error = %err, "cannot reach a node to migrate slots");
                            return;
                        }
                    }
                }
            }
        }
        let mut pairs: Vec<((usize, usize), Vec<u16>)> = Vec::new();
        for (src, dst, slot) in moves {
            match pairs.iter_mut().find(|(k, _)| *k == (*src, *dst)) {
                Some((_, v)) => v.push(*slot),
                None => pairs.push(((*src, *dst), vec![*slot])),
            }
        }
        let mut moved = 0;
        for ((src, dst), slots) in pairs {
            let (Some(sid), Some(did)) = (nodes[src].id(), nodes[dst].id()) else {
                continue;
            };
            let (Some(mut s), Some(mut d)) = (conns.remove(&src), conns.remove(&dst)) else {
                return;
            };
            let r = migrate_slots(&mut s, &mut d, (sid, did), nodes[dst].addr(), &slots).await;
            conns.insert(src, s);
            conns.insert(dst, d);
            if let Err(e) = r {
                tracing::warn!(group = %g.id, error = %e, "slot migration failed; retrying on the next pass");
                return;
            }
            moved += slots.len();
        }
        tracing::info!(group = %g.id, slots = moved, ms = started.elapsed().as_millis(), "slots migrated");
    }

    /// `CLUSTER FAILOVER` on the requested replica, then wait for it to be master.
    async fn requested_failover(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        nodes: &[Node],
        primaries: &HashMap<String, usize>,
        to: &str,
        tls: bool,
    ) {
        let id = g.id.as_str();
        // A failover that cannot happen (the replica is down or never in
        // sync) gives up after a while instead of leaving the group modifying.
        let key = format!("{}-{}-{id}-{to}", scope.account, scope.region);
        let since = *failover_since()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_insert_with(Instant::now);
        if since.elapsed() > GIVE_UP_FAILOVER {
            failover_since()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&key);
            let _ = self.cp.update_replication_group(scope, id, |g| {
                g.failover_to = None;
                Ok(())
            });
            self.cp.event(
                scope,
                "replication-group",
                id,
                format!("Failover to replica node {to} failed: the replica did not take over"),
            );
            return;
        }
        let Some(t) = nodes.iter().position(|n| n.cluster.id == to) else {
            let _ = self.cp.update_replication_group(scope, id, |g| {
                g.failover_to = None;
                Ok(())
            });
            return;
        };
        if primaries.get(&nodes[t].shard) == Some(&t) {
            // Already the primary: the record follows.
            failover_since()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&key);
            let shard = nodes[t].shard.clone();
            let _ = self.cp.set_node_group_primary(scope, id, &shard, to);
            return;
        }
        let Some(v) = nodes[t].view.as_ref() else {
            return;
        };
        let Some(p) = primaries.get(&nodes[t].shard) else {
            return;
        };
        let follows = v
            .me()
            .is_some_and(|e| e.master.as_deref() == nodes[*p].id());
        if !follows || !v.link_up {
            return;
        }
        let started = Instant::now();
        if let Err(e) = command(nodes[t].addr(), tls, &["CLUSTER", "FAILOVER"]).await {
            tracing::warn!(group = id, node = to, error = %e, "CLUSTER FAILOVER failed");
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let role = command(nodes[t].addr(), tls, &["ROLE"]).await;
            if let Ok(resp::Reply::Array(Some(r))) = role {
                if r.first().and_then(resp::Reply::as_text).as_deref() == Some("master") {
                    tracing::info!(
                        group = id,
                        node = to,
                        ms = started.elapsed().as_millis(),
                        "failover done"
                    );
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(
            group = id,
            node = to,
            "CLUSTER FAILOVER did not complete in 10 s"
        );
    }

    /// Dead members come back, but not a dead shard primary whose replica is
    /// about to take over (it would come back empty and be followed).
    async fn recover_dead(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        nodes: &mut [Node],
        tls: bool,
    ) {
        let mut dead = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            if n.busy || n.live() {
                continue;
            }
            if self.runtime().status(&n.spec).await == NodeStatus::Stopped {
                dead.push(i);
            }
        }
        {
            let mut m = dead_since()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let keys: HashSet<&str> = dead.iter().map(|i| nodes[*i].spec.key.as_str()).collect();
            m.retain(|k, _| keys.contains(k.as_str()) || !nodes.iter().any(|n| n.spec.key == *k));
            for k in &keys {
                m.entry((*k).to_owned()).or_insert_with(Instant::now);
            }
        }
        for i in dead {
            let addr = nodes[i].addr_text();
            let shard = nodes[i].shard.clone();
            // The live nodes' view of the dead one: still a master with slots?
            let owns = nodes.iter().filter_map(|n| n.view.as_ref()).any(|v| {
                v.entries
                    .iter()
                    .any(|e| e.addr == addr && e.is_master() && !e.slots.is_empty())
            });
            let replicas: Vec<usize> = (0..nodes.len())
                .filter(|j| *j != i && nodes[*j].shard == shard && nodes[*j].live())
                .collect();
            if owns && !replicas.is_empty() {
                let since = dead_since()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&nodes[i].spec.key)
                    .copied()
                    .unwrap_or_else(Instant::now);
                if since.elapsed() > TAKEOVER_AFTER {
                    let r = replicas[0];
                    tracing::warn!(group = %g.id, node = %nodes[r].spec.key, "shard primary still down; replica takes over");
                    let _ =
                        command(nodes[r].addr(), tls, &["CLUSTER", "FAILOVER", "TAKEOVER"]).await;
                }
                continue;
            }
            let n = &nodes[i];
            if self.member_leaving(scope, &n.cluster.id) || !self.may_recover(&n.spec.key) {
                continue;
            }
            tracing::warn!(node = %n.spec.key, "cluster node is down; recovering it");
            if self.recover_node(scope, &n.cluster.id, &n.spec).await
                && self.wait_member_ready(scope, &n.cluster.id, &n.spec).await
            {
                apply_params(
                    n.spec.host,
                    n.spec.port,
                    tls,
                    &runtime_config(self.cp.as_ref(), scope, &n.cluster),
                )
                .await;
                self.cp.event(
                    scope,
                    "cache-cluster",
                    &n.cluster.id,
                    format!("Recovered cache node 0001 of cluster {}", n.cluster.id),
                );
            }
        }
    }
}

/// What a converging pass remembers between rounds.
struct Session {
    since: Instant,
    met: HashMap<(String, String), Instant>,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            met: HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines() {
        let text =
            "a1 127.1.2.3:6379@16379 myself,master - 0 0 1 connected 0-5460 7000 [5461->-b2]\n\
                    b2 127.1.2.4:6379@16379,host master - 0 1 2 connected 5461-10922\n\
                    c3 :0@0 master,noaddr,handshake - 0 0 0 disconnected\n\
                    d4 127.1.2.5:6379@16379 slave a1 0 1 1 connected\n";
        let e = parse_nodes(text);
        assert_eq!(e.len(), 4);
        assert_eq!(e[1].epoch, 2);
        assert_eq!(e[0].slots, vec![(0, 5460), (7000, 7000)]);
        assert!(e[0].has("myself") && e[0].is_master());
        assert_eq!(e[1].addr, "127.1.2.4:6379");
        assert!(!e[2].known());
        assert_eq!(e[3].master.as_deref(), Some("a1"));
    }
}
