//! Replication groups whose cluster mode is served by fronts: a cluster-mode
//! secondary of a global datastore (and a former primary after a failover).
//!
//! Stock Redis and Valkey refuse `REPLICAOF` in cluster mode, so such a
//! group's engines run with cluster mode off: per shard, the shard's primary
//! `REPLICAOF` the primary region's primary of the same shard (or is a master
//! when its group is the datastore's primary, or left it), and its replicas
//! `REPLICAOF` it. Every node holds exactly its shard's keys and, in a
//! secondary region, refuses writes with the engine's own `-READONLY`.
//!
//! At each node's endpoint a front (`worker/front.rs`) presents the group as
//! a Redis Cluster: the group's shards and nodes, the slots of its record (a
//! copy of the primary region's layout), `-MOVED` for keys of another shard.
//! The engine answers beside its front on the node's own address
//! (`node::fronted_engine_port`). The configuration endpoint reaches the shard
//! primaries' fronts. A dead shard primary's most advanced replica takes its
//! place; dead nodes come back and follow again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::front::{key_table, node_id, Front, KeyTable, Node as FrontNode, Shard, Topology};
use super::node::{announce_ip, apply_params, push_pending_users, runtime_config, tls_names};
use super::Reconciler;
use crate::engine::{NodeSpec, NodeStatus};
use crate::model::cluster::CacheCluster;
use crate::model::global_datastore::Role;
use crate::model::replication_group::ReplicationGroup;
use crate::model::{lifecycle, Scope};

struct Member {
    cluster: CacheCluster,
    spec: NodeSpec,
    /// The node's endpoint, where its front listens.
    endpoint: Addr,
    shard: String,
    busy: bool,
    status: NodeStatus,
    info: Option<HashMap<String, String>>,
}

impl Member {
    fn addr(&self) -> Addr {
        (self.spec.host, self.spec.port)
    }

    fn ready(&self) -> bool {
        !self.busy && self.status == NodeStatus::Ready
    }

    fn get(&self, k: &str) -> &str {
        self.info
            .as_ref()
            .and_then(|i| i.get(k))
            .map_or("", String::as_str)
    }

    /// Whether it replicates `host:port` with its link up.
    fn follows(&self, host: &str, port: u16) -> bool {
        self.get("role") == "slave"
            && self.get("master_host") == host
            && self.get("master_port") == port.to_string()
    }

    fn link_up(&self) -> bool {
        self.get("master_link_status") == "up" && self.get("master_sync_in_progress") != "1"
    }

    fn offset(&self) -> i64 {
        self.get("slave_repl_offset").parse().unwrap_or(-1)
    }
}

use super::node::{command, replication_info, Addr};

/// Key tables (`COMMAND`), fetched once per engine and version.
fn key_tables() -> &'static Mutex<HashMap<String, Arc<KeyTable>>> {
    static M: OnceLock<Mutex<HashMap<String, Arc<KeyTable>>>> = OnceLock::new();
    M.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Reconciler {
    /// The same key as a Redis Cluster's configuration endpoint: a group
    /// turning to fronts keeps its listener.
    fn fronted_config_key(scope: &Scope, g: &ReplicationGroup) -> String {
        format!("{}-{}-{}-config", scope.account, scope.region, g.id)
    }

    /// The engine's key table, asked of a ready member the first time.
    async fn engine_keys(&self, members: &[Member], tls: bool) -> Option<Arc<KeyTable>> {
        let m = members.iter().find(|m| m.ready())?;
        let name = format!("{}-{}", m.spec.engine.as_str(), m.spec.version);
        if let Some(t) = key_tables()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&name)
        {
            return Some(t.clone());
        }
        let reply = command(m.addr(), tls, &["COMMAND"]).await.ok()?;
        let table = key_table(&reply);
        if table.is_empty() {
            return None;
        }
        let table = Arc::new(table);
        key_tables()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, table.clone());
        Some(table)
    }

    /// The address the primary region's primary of shard `ng` (position
    /// `k`) is replicated from, as this runtime's nodes reach it.
    async fn upstream_of(
        &self,
        up: &(Scope, ReplicationGroup),
        ng: &str,
        k: usize,
    ) -> Option<(String, u16)> {
        let (ps, pg) = up;
        let shard = pg
            .node_groups
            .iter()
            .find(|x| x.id == ng)
            .or_else(|| pg.node_groups.get(k))?;
        let c = self.cp.find_cluster(ps, &shard.primary).ok()?;
        let n = c.nodes.first()?.clone();
        if c.status != lifecycle::AVAILABLE || n.restart {
            return None;
        }
        let spec = self.spec(ps, &c, &n);
        self.runtime().peer_address(&spec).await.ok()
    }

    /// One pass over a group whose cluster mode is served by fronts.
    #[allow(clippy::too_many_lines)]
    pub(super) async fn fronted_group(&self, scope: &Scope, g: &ReplicationGroup) {
        let id = g.id.as_str();
        let prefix = Self::fronted_prefix(scope, &g.id);
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
                for k in self.proxies.keys_with_prefix(&prefix) {
                    self.proxies.stop(&k);
                }
                self.proxies.stop(&Self::fronted_config_key(scope, g));
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
        let view = self.cp.replication_group_view(scope, g);
        if self.creation_failed(scope, g, &view) {
            return;
        }
        let tls = view.iter().any(|c| c.transit_encryption);
        let mut members = Vec::new();
        for c in view {
            let Some(n) = c.nodes.first().cloned() else {
                continue;
            };
            let spec = self.spec(scope, &c, &n);
            let busy = c.status != lifecycle::AVAILABLE
                || n.status != lifecycle::NODE_AVAILABLE
                || n.restart
                || self.is_inflight(scope, &c.id);
            let status = if busy {
                NodeStatus::Starting
            } else {
                self.runtime().status(&spec).await
            };
            let info = if !busy && status == NodeStatus::Ready {
                replication_info((spec.host, spec.port), tls).await
            } else {
                None
            };
            let shard = g
                .node_group_of(&c.id)
                .map(|x| x.id.clone())
                .unwrap_or_default();
            members.push(Member {
                cluster: c,
                spec,
                endpoint: (n.host, n.port),
                shard,
                busy,
                status,
                info,
            });
        }
        let role = self.cp.global_role(scope, g);
        let upstream = match &role {
            Some(Role::Secondary { primary: (ps, pid) }) => self
                .cp
                .find_replication_group(ps, pid)
                .ok()
                .map(|pg| (ps.clone(), pg)),
            _ => None,
        };
        let secondary = matches!(role, Some(Role::Secondary { .. }));
        let mut settled = members.len() == g.members.len() && members.iter().all(Member::ready);

        // A requested failover (TestFailover): the record names the new
        // primary; the replication below follows it.
        if let Some(to) = g.failover_to.clone() {
            if let Some(ng) = g.node_group_of(&to).map(|x| x.id.clone()) {
                let old = g
                    .node_group_of(&to)
                    .map(|x| x.primary.clone())
                    .unwrap_or_default();
                if self.cp.set_node_group_primary(scope, id, &ng, &to).is_ok() {
                    self.cp.event(
                        scope,
                        "replication-group",
                        id,
                        format!("Failover from primary node {old} to replica node {to} completed"),
                    );
                }
            } else {
                let _ = self.cp.update_replication_group(scope, id, |g| {
                    g.failover_to = None;
                    Ok(())
                });
            }
            return;
        }

        // A dead shard primary: its most advanced replica takes its place.
        for ng in &g.node_groups {
            let dead = members
                .iter()
                .any(|m| m.cluster.id == ng.primary && !m.busy && m.status == NodeStatus::Stopped);
            if !dead {
                continue;
            }
            let best = members
                .iter()
                .filter(|m| m.shard == ng.id && m.cluster.id != ng.primary && m.ready())
                .max_by_key(|m| m.offset());
            if let Some(r) = best {
                let new = r.cluster.id.clone();
                if self
                    .cp
                    .set_node_group_primary(scope, id, &ng.id, &new)
                    .is_ok()
                {
                    tracing::warn!(group = id, shard = %ng.id, old = %ng.primary, %new, "shard primary died; a replica takes its place");
                    self.cp.event(
                        scope,
                        "replication-group",
                        id,
                        format!(
                            "Failover from primary node {} to replica node {new} completed",
                            ng.primary
                        ),
                    );
                    return;
                }
            }
        }

        // Dead members come back (and follow again below).
        for m in members
            .iter_mut()
            .filter(|m| !m.busy && m.status == NodeStatus::Stopped)
        {
            settled = false;
            if self.member_leaving(scope, &m.cluster.id) || !self.may_recover(&m.spec.key) {
                continue;
            }
            tracing::warn!(node = %m.spec.key, "node of a group served by fronts is down; recovering it");
            if self.recover_node(scope, &m.cluster.id, &m.spec).await
                && self.wait_member_ready(scope, &m.cluster.id, &m.spec).await
            {
                apply_params(
                    m.spec.host,
                    m.spec.port,
                    tls,
                    &runtime_config(self.cp.as_ref(), scope, &m.cluster),
                )
                .await;
                self.cp.event(
                    scope,
                    "cache-cluster",
                    &m.cluster.id,
                    format!("Recovered cache node 0001 of cluster {}", m.cluster.id),
                );
            }
        }

        // Replication: per shard, the primary follows the primary region's
        // shard (or is a master), its replicas follow it.
        let mut linked = secondary;
        for (k, ng) in g.node_groups.iter().enumerate() {
            let Some(p) = members.iter().find(|m| m.cluster.id == ng.primary) else {
                settled = false;
                linked = false;
                continue;
            };
            if !p.ready() || p.info.is_none() {
                settled = false;
                linked = false;
                continue;
            }
            if secondary {
                let source = match &upstream {
                    Some(up) => self.upstream_of(up, &ng.id, k).await,
                    None => None,
                };
                match source {
                    // The primary region's shard is busy: stay as is.
                    None => {
                        settled = false;
                        linked = false;
                    }
                    Some((host, port)) if !p.follows(&host, port) => {
                        settled = false;
                        linked = false;
                        let port = port.to_string();
                        match command(p.addr(), tls, &["REPLICAOF", &host, &port]).await {
                            Ok(_) => tracing::info!(group = id, shard = %ng.id, %host, %port,
                                "shard primary replicates from the primary region"),
                            Err(e) => tracing::warn!(group = id, shard = %ng.id, error = %e,
                                "REPLICAOF the primary region failed"),
                        }
                    }
                    Some(_) if !p.link_up() => {
                        settled = false;
                        linked = false;
                    }
                    Some(_) => {}
                }
            } else if p.get("role") != "master" {
                settled = false;
                if let Err(e) = command(p.addr(), tls, &["REPLICAOF", "NO", "ONE"]).await {
                    tracing::warn!(group = id, shard = %ng.id, error = %e, "REPLICAOF NO ONE failed");
                }
            }
            let Ok((host, port)) = self.runtime().peer_address(&p.spec).await else {
                settled = false;
                continue;
            };
            for r in members
                .iter()
                .filter(|m| m.shard == ng.id && m.cluster.id != ng.primary && m.ready())
            {
                if !r.follows(&host, port) {
                    settled = false;
                    let port = port.to_string();
                    if let Err(e) = command(r.addr(), tls, &["REPLICAOF", &host, &port]).await {
                        tracing::warn!(node = %r.spec.key, error = %e, "REPLICAOF failed");
                    }
                } else if !r.link_up() {
                    settled = false;
                }
            }
        }
        if linked {
            self.cp.global_member_linked(scope, g);
        }

        // Shards being removed go once the primary region's group has no such
        // shard any more (its slots moved away there, and here with them).
        for ng in g.node_groups.iter().filter(|x| x.removing) {
            settled = false;
            let gone = upstream
                .as_ref()
                .is_none_or(|(_, pg)| !pg.node_groups.iter().any(|x| x.id == ng.id));
            if gone {
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
        }

        // Fronts: the record's shards, at every ready node. While the primary
        // region's group reshards, the fronts keep the layout they present.
        let upstream_busy = upstream
            .as_ref()
            .is_some_and(|(_, pg)| pg.status != lifecycle::AVAILABLE);
        if upstream_busy {
            settled = false;
        }
        let serving = self.proxies.keys_with_prefix(&prefix);
        let keys = self.engine_keys(&members, tls).await;
        if let Some(keys) = keys.filter(|_| !upstream_busy || serving.is_empty()) {
            let node_of = |m: &Member| FrontNode {
                host: announce_ip(self.cp.as_ref(), m.endpoint.0).to_string(),
                port: m.endpoint.1,
                id: node_id(&format!(
                    "{}/{}/{}",
                    scope.account, scope.region, m.cluster.id
                )),
            };
            let shards: Vec<Shard> = g
                .node_groups
                .iter()
                .filter_map(|ng| {
                    let p = members.iter().find(|m| m.cluster.id == ng.primary)?;
                    Some(Shard {
                        id: node_id(&format!(
                            "{}/{}/{}/{}",
                            scope.account, scope.region, id, ng.id
                        )),
                        slots: ng.slots.clone(),
                        primary: node_of(p),
                        replicas: members
                            .iter()
                            .filter(|m| m.shard == ng.id && m.cluster.id != ng.primary)
                            .map(node_of)
                            .collect(),
                    })
                })
                .collect();
            for m in members.iter().filter(|m| m.ready()) {
                let topology = Topology {
                    shards: shards.clone(),
                    me: node_of(m).id,
                    redirect: true,
                    keys: keys.clone(),
                    what: "this node",
                };
                // With transit encryption the front ends TLS (a certificate
                // naming the node's and the configuration endpoint's
                // addresses) and speaks TLS on to the engine.
                let names = tls_names(self.cp.as_ref(), scope, &m.cluster, m.endpoint.0);
                let preferred = m.cluster.transit_mode.as_deref() == Some("preferred");
                let make = || {
                    if tls && preferred {
                        Front::preferred(&self.ca, &names, topology.clone())
                    } else if tls {
                        Front::new(&self.ca, &names, topology.clone())
                    } else {
                        Ok(Front::plain(topology.clone()))
                    }
                };
                let key = format!("{prefix}{}", m.cluster.id);
                if let Err(e) = self
                    .proxies
                    .serve_front(
                        &key,
                        m.endpoint.0,
                        m.endpoint.1,
                        vec![m.addr()],
                        &make,
                        topology.clone(),
                    )
                    .await
                {
                    settled = false;
                    tracing::warn!(group = id, node = %m.spec.key, error = %e, "the node's front could not listen");
                }
            }
        } else {
            settled = false;
        }
        // Fronts of nodes that left the group go.
        for k in serving {
            let member = k.strip_prefix(&prefix).unwrap_or_default();
            if !g.members.iter().any(|m| m == member) {
                self.proxies.stop(&k);
            }
        }

        // The configuration endpoint reaches the shard primaries' fronts.
        if let Some((host, port)) = g.config_endpoint() {
            let mut targets: Vec<Addr> = g
                .node_groups
                .iter()
                .filter_map(|ng| members.iter().find(|m| m.cluster.id == ng.primary))
                .filter(|m| m.ready())
                .map(|m| m.endpoint)
                .collect();
            if targets.is_empty() {
                targets = members.iter().map(|m| m.endpoint).collect();
            }
            targets.sort_unstable();
            if let Err(e) = self
                .proxies
                .serve(
                    &Self::fronted_config_key(scope, g),
                    host,
                    port,
                    targets,
                    false,
                )
                .await
            {
                tracing::warn!(group = id, %host, port, error = %e, "configuration endpoint could not listen");
            }
        }

        // Asked only when it matters (a scan of the region's clusters).
        if settled && self.clusters_leaving(scope, g) {
            settled = false;
        }
        if settled && g.users_pending {
            settled = false;
            push_pending_users(self.cp.as_ref(), scope, id).await;
        }
        // A reshard asked for outside a datastore: the group turns into a
        // Redis Cluster first (again, when a stopped backend left it undone).
        if g.pending_shards.is_some() && self.cp.resume_shards(scope, id) {
            return;
        }
        if settled
            && matches!(
                g.status.as_str(),
                lifecycle::CREATING | lifecycle::MODIFYING
            )
        {
            self.settle_group(scope, g);
        }
    }
}
