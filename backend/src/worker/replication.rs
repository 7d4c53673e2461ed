//! Replication groups on real engines: the reconciler's second loop.
//!
//! Every half second, for every group: fail over a dead primary (automatic
//! failover), perform a requested promotion (TestFailover, `PrimaryClusterId`),
//! restart dead members, make every replica `REPLICAOF` the primary, roll node
//! type / engine changes through the members one at a time, point the endpoint
//! proxies at the right nodes, and settle the group's status and events.
//! Member clusters themselves (start, restart, remove, parameters) are the
//! ordinary per-cluster reconcile's work.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::node::{
    apply_params, command, push_pending_users, replication_info, runtime_config, Addr,
    READY_TIMEOUT,
};
use super::Reconciler;
use crate::engine::{self, NodeSpec, NodeStatus};
use crate::model::cluster::{CacheCluster, ModifyCluster};
use crate::model::replication_group::ReplicationGroup;
use crate::model::{lifecycle, Scope};

use super::front::{node_id, Front, Node, Topology};

pub(super) const EVERY: Duration = Duration::from_millis(500);
/// How often a [`dormant`] group whose record did not change is visited all
/// the same (the health check's period).
const SWEEP: Duration = Duration::from_secs(5);
/// How long a promotion waits for the replica to catch up with a live primary.
const CATCH_UP: Duration = Duration::from_secs(3);
/// How long a pass waits for a new replica's first sync before leaving it to the next pass.
const FIRST_SYNC: Duration = Duration::from_secs(2);

struct Member {
    cluster: CacheCluster,
    spec: NodeSpec,
    /// The member's own reconcile owns it right now (creating, restarting, deleting).
    busy: bool,
    status: NodeStatus,
}

impl Member {
    fn addr(&self) -> Addr {
        (self.spec.host, self.spec.port)
    }
}

/// Wait until the replicas at `addrs` report `master_link_status:up`; returns
/// those that did within `within`.
///
/// A new replica's first sync takes ~5–10 ms on the process runtime: look
/// every 2 ms for the first 100 ms (the 10 ms step alone was up to a seventh
/// of a 1+2 group's create), then every 10 ms.
async fn links_come_up(addrs: &[Addr], tls: bool, within: Duration) -> Vec<Addr> {
    let began = Instant::now();
    let deadline = began + within;
    let mut up: Vec<Addr> = Vec::new();
    loop {
        for a in addrs {
            if up.contains(a) {
                continue;
            }
            if replication_info(*a, tls)
                .await
                .is_some_and(|i| i.get("master_link_status").map(String::as_str) == Some("up"))
            {
                up.push(*a);
            }
        }
        if up.len() == addrs.len() || Instant::now() >= deadline {
            return up;
        }
        let step = if began.elapsed() < Duration::from_millis(100) {
            2
        } else {
            10
        };
        tokio::time::sleep(Duration::from_millis(step)).await;
    }
}

/// A group the pass has nothing to watch in until its record changes: none
/// of its members exists (`exists`), so no engine of it runs and no endpoint
/// has a node to point at; not being created, modified or deleted (those
/// settle or go); not cluster mode (shards, fronts), not a global datastore's
/// member (its role follows another region), no migration. What such a group
/// reads (`create-failed`, say) changes only through its record, which wakes
/// it: [`Reconciler::replication_pass`] compares the record with the one of
/// its last visit.
fn dormant(g: &ReplicationGroup, exists: impl Fn(&str) -> bool) -> bool {
    !matches!(
        g.status.as_str(),
        lifecycle::CREATING | lifecycle::MODIFYING | lifecycle::DELETING
    ) && !g.cluster_enabled()
        && !g.fronted
        && g.global_id.is_none()
        && g.migration.is_none()
        && g.migration_test.is_none()
        && !g.members.iter().any(|m| exists(m))
}

fn offset(info: &HashMap<String, String>, key: &str) -> i64 {
    info.get(key).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

impl Reconciler {
    /// One pass over every replication group, each in a task of its own (a slow
    /// restart in one group must not hold up a failover in another).
    ///
    /// A group with nothing to watch ([`dormant`]) is visited only when its
    /// record changed since its last visit, or once every [`SWEEP`]: thousands
    /// of such groups stored (seeded, `create-failed` with their members gone)
    /// cost a clone, a task and a pass each, every half second, for nothing
    /// (issue 15: ~11% of a core idle with 2,700 of them).
    pub(super) async fn replication_pass(self: &std::sync::Arc<Self>) {
        // Failovers of global datastores first: they hold their members' passes.
        self.global_failovers();
        let groups: Vec<(Scope, ReplicationGroup)> = {
            let st = self.cp.lock();
            let mut seen = self
                .rg_dormant
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            // Forget the groups that are gone.
            seen.retain(|scope, m| {
                st.regions.get(scope).is_some_and(|r| {
                    m.retain(|id, _| r.replication_groups.contains_key(id));
                    !m.is_empty()
                })
            });
            let mut out = Vec::new();
            for (s, r) in &st.regions {
                for g in r.replication_groups.values() {
                    if !dormant(g, |m| r.clusters.contains_key(m)) {
                        if let Some(m) = seen.get_mut(s) {
                            m.remove(&g.id);
                        }
                        out.push((s.clone(), g.clone()));
                        continue;
                    }
                    let last = seen.get(s).and_then(|m| m.get(&g.id));
                    if last.is_some_and(|(was, at)| was == g && now.duration_since(*at) < SWEEP) {
                        continue;
                    }
                    seen.entry(s.clone())
                        .or_default()
                        .insert(g.id.clone(), (g.clone(), now));
                    out.push((s.clone(), g.clone()));
                }
            }
            out
        };
        for (scope, g) in groups {
            let key = (scope.clone(), g.id.clone());
            if !self
                .rg_inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone())
            {
                // Something changed while its pass runs: look again right after.
                self.rg_rerun
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key);
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                me.replication_group(&scope, &g).await;
                me.rg_inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
                let again = me
                    .rg_rerun
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
                if again {
                    me.cp.wake();
                }
            });
        }
    }

    /// Whether a cluster of the region still names `g` its group without
    /// being one of its members (removed by a decrease, not deleted yet): the
    /// group does not settle until it is gone. A scan of the region's
    /// clusters: asked only when the group could settle otherwise.
    pub(super) fn clusters_leaving(&self, scope: &Scope, g: &ReplicationGroup) -> bool {
        let st = self.cp.lock();
        st.regions.get(scope).is_some_and(|r| {
            r.clusters.values().any(|c| {
                c.replication_group_id.as_deref() == Some(g.id.as_str())
                    && !g.members.contains(&c.id)
            })
        })
    }

    /// Whether a member cluster is gone or being deleted (its group may be too):
    /// a dead node of it is not brought back.
    pub(super) fn member_leaving(&self, scope: &Scope, cluster: &str) -> bool {
        self.cp
            .find_cluster(scope, cluster)
            .map_or(true, |c| c.status == lifecycle::DELETING)
    }

    /// Wait for a recovered member's engine, giving up as soon as the member is
    /// being deleted (a group deleted meanwhile must not wait on it) or its
    /// engine is dead again (killed or crashed while starting): the group's
    /// pass must not wait out `READY_TIMEOUT` for it while its other members
    /// go unwatched (a primary that died meanwhile was failed over 60 s late:
    /// drill 2). A later pass recovers it again, backing off while it keeps
    /// dying (`may_recover`).
    pub(super) async fn wait_member_ready(
        &self,
        scope: &Scope,
        cluster: &str,
        spec: &NodeSpec,
    ) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if engine::wait_ready(self.runtime(), spec, Duration::from_millis(250))
                .await
                .is_ok()
            {
                self.recovered(&spec.key, true);
                return true;
            }
            if self.member_leaving(scope, cluster) {
                return false;
            }
            if self.runtime().status(spec).await == NodeStatus::Stopped {
                tracing::warn!(node = %spec.key, "recovered member died again before it answered");
                self.recovered(&spec.key, false);
                return false;
            }
        }
        false
    }

    /// A group being created whose member could not start reads `create-failed`
    /// (both kinds of group); true when it does.
    pub(super) fn creation_failed(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        view: &[CacheCluster],
    ) -> bool {
        if g.status != lifecycle::CREATING
            || !view.iter().any(|c| c.status == lifecycle::CREATE_FAILED)
        {
            return false;
        }
        let id = g.id.as_str();
        let _ = self.cp.update_replication_group(scope, id, |g| {
            g.status = lifecycle::CREATE_FAILED.to_owned();
            Ok(())
        });
        self.cp.event(
            scope,
            "replication-group",
            id,
            format!("Failed to create replication group {id}: a member cluster could not start"),
        );
        true
    }

    fn proxy_key(scope: &Scope, g: &ReplicationGroup, which: &str) -> String {
        format!("{}-{}-{}-{which}", scope.account, scope.region, g.id)
    }

    #[allow(clippy::too_many_lines)]
    async fn replication_group(&self, scope: &Scope, g: &ReplicationGroup) {
        if g.cluster_enabled() {
            if g.fronted {
                self.fronted_group(scope, g).await;
            } else {
                self.cluster_mode_group(scope, g).await;
            }
            return;
        }
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
                self.proxies.stop(&Self::proxy_key(scope, g, "primary"));
                self.proxies.stop(&Self::proxy_key(scope, g, "reader"));
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
        if g.migration_test.is_some() {
            self.test_migration(scope, g).await;
        }
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
            members.push(Member {
                cluster: c,
                spec,
                busy,
                status,
            });
        }
        let tls = members.iter().any(|m| m.cluster.transit_encryption);
        let mut primary = g.primary.clone();

        // Automatic failover: the primary's engine died.
        let dead_primary = members
            .iter()
            .any(|m| m.cluster.id == primary && !m.busy && m.status == NodeStatus::Stopped);
        if dead_primary && g.automatic_failover {
            let mut best: Option<(i64, &Member)> = None;
            for m in members
                .iter()
                .filter(|m| m.cluster.id != primary && !m.busy && m.status == NodeStatus::Ready)
            {
                let off = match replication_info(m.addr(), tls).await {
                    Some(i) => {
                        offset(&i, "slave_repl_offset").max(offset(&i, "master_repl_offset"))
                    }
                    None => continue,
                };
                if best.is_none_or(|(o, _)| off > o) {
                    best = Some((off, m));
                }
            }
            if let Some((_, m)) = best {
                let new = m.cluster.id.clone();
                let started = Instant::now();
                match command(m.addr(), tls, &["REPLICAOF", "NO", "ONE"]).await {
                    Ok(_) => {
                        let old = primary.clone();
                        let to = new.clone();
                        if self
                            .cp
                            .update_replication_group(scope, id, move |g| {
                                g.primary = to;
                                if g.failover_to.as_deref() == Some(g.primary.as_str()) {
                                    g.failover_to = None;
                                }
                                Ok(())
                            })
                            .is_ok()
                        {
                            tracing::warn!(group = id, %old, %new, ms = started.elapsed().as_millis(), "primary died; promoted a replica");
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
                            primary = new;
                            // The surviving replicas follow the new primary now,
                            // before the dead node is brought back (seconds on Docker).
                            for r in members.iter().filter(|r| {
                                r.cluster.id != primary && !r.busy && r.status == NodeStatus::Ready
                            }) {
                                self.make_replica(&members, r, &primary, tls).await;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(group = id, error = %e, "promoting a replica failed"),
                }
            }
        }

        // A requested promotion (TestFailover, PrimaryClusterId).
        let mut promoted_by_request = None;
        if let Some(to) = g.failover_to.clone() {
            let target = members.iter().find(|m| m.cluster.id == to);
            let old = members.iter().find(|m| m.cluster.id == primary);
            match target {
                None => {
                    let _ = self.cp.update_replication_group(scope, id, |g| {
                        g.failover_to = None;
                        Ok(())
                    });
                }
                Some(t) if to == primary => {
                    let _ = t;
                    let _ = self.cp.update_replication_group(scope, id, |g| {
                        g.failover_to = None;
                        Ok(())
                    });
                }
                Some(t) if !t.busy && t.status == NodeStatus::Ready => {
                    // Let the replica catch up with a live primary first.
                    if let Some(o) = old.filter(|o| o.status == NodeStatus::Ready) {
                        if let Some(info) = replication_info(o.addr(), tls).await {
                            let want = offset(&info, "master_repl_offset");
                            let deadline = Instant::now() + CATCH_UP;
                            while Instant::now() < deadline {
                                let got = replication_info(t.addr(), tls)
                                    .await
                                    .map_or(-1, |i| offset(&i, "slave_repl_offset"));
                                if got >= want {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                    if command(t.addr(), tls, &["REPLICAOF", "NO", "ONE"])
                        .await
                        .is_ok()
                    {
                        let new = to.clone();
                        if self
                            .cp
                            .update_replication_group(scope, id, move |g| {
                                g.primary = new;
                                g.failover_to = None;
                                Ok(())
                            })
                            .is_ok()
                        {
                            promoted_by_request =
                                Some((primary.clone(), to.clone(), g.failover_test));
                            primary = to;
                        }
                    }
                }
                Some(_) => {}
            }
        }

        // The endpoints follow the primary at once.
        self.serve_endpoints(scope, g, &members, &primary, None)
            .await;

        if let Some((old, new, test)) = promoted_by_request {
            if let Some(o) = members.iter().find(|m| m.cluster.id == old) {
                if o.status == NodeStatus::Ready {
                    self.make_replica(&members, o, &new, tls).await;
                }
            }
            self.cp.event(
                scope,
                "replication-group",
                id,
                format!("Failover from primary node {old} to replica node {new} completed"),
            );
            if test {
                self.cp.event(
                    scope,
                    "replication-group",
                    id,
                    format!("Failover to replica node {new} completed"),
                );
                self.cp.event(
                    scope,
                    "cache-cluster",
                    &old,
                    "Recovery completed for cache nodes 0001",
                );
            }
        }

        // Dead members come back (a dead primary without automatic failover too).
        for m in members
            .iter_mut()
            .filter(|m| !m.busy && m.status == NodeStatus::Stopped)
        {
            if self.member_leaving(scope, &m.cluster.id) || !self.may_recover(&m.spec.key) {
                continue;
            }
            tracing::warn!(node = %m.spec.key, "replication group member is down; recovering it");
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
                m.status = NodeStatus::Ready;
                self.cp.event(
                    scope,
                    "cache-cluster",
                    &m.cluster.id,
                    format!(
                        "Recovered cache node {} of cluster {}",
                        m.spec.key.rsplit('-').next().unwrap_or("0001"),
                        m.cluster.id
                    ),
                );
            }
        }

        // Topology: the primary is a master, every replica follows it.
        let primary_ready = members
            .iter()
            .any(|m| m.cluster.id == primary && !m.busy && m.status == NodeStatus::Ready);
        let mut links_up = true;
        let mut replicas_up: Vec<Addr> = Vec::new();
        // Replicas told to follow the primary in this pass (then with those
        // still in their first sync: waited for together).
        let mut pointed: Vec<Addr> = Vec::new();
        // Replicas that follow the primary already, their link not up yet.
        let mut syncing: Vec<Addr> = Vec::new();
        // Every member's view at once, and the replicas to point told at
        // once below: one round trip each, in turn, cost a new group a few
        // milliseconds per member while its engines were still starting.
        let infos = futures_util::future::join_all(members.iter().map(|m| async move {
            if m.busy || m.status != NodeStatus::Ready {
                None
            } else {
                replication_info(m.addr(), tls).await
            }
        }))
        .await;
        let mut to_point: Vec<&Member> = Vec::new();
        let creating = g.status == lifecycle::CREATING;
        let all_ready = members
            .iter()
            .all(|m| !m.busy && m.status == NodeStatus::Ready);
        for (m, info) in members.iter().zip(infos) {
            let Some(info) = info else {
                links_up = false;
                continue;
            };
            let role = info.get("role").map_or("", String::as_str);
            if m.cluster.id == primary {
                if self.migrate_primary(scope, g, &m.spec, &info, tls).await {
                    continue;
                }
                if self
                    .follow_global_primary(scope, g, &m.spec, &info, tls)
                    .await
                {
                    continue;
                }
                if role != "master" {
                    let _ = command(m.addr(), tls, &["REPLICAOF", "NO", "ONE"]).await;
                }
                continue;
            }
            let Some(p) = members.iter().find(|x| x.cluster.id == primary) else {
                links_up = false;
                continue;
            };
            let Ok((host, port)) = self.runtime().peer_address(&p.spec).await else {
                links_up = false;
                continue;
            };
            let follows = role == "slave"
                && info.get("master_host").map(String::as_str) == Some(host.as_str())
                && info.get("master_port").map(String::as_str) == Some(port.to_string().as_str());
            if !follows {
                if !primary_ready || (creating && !all_ready) {
                    // Not before the primary answers: a replica whose first
                    // connection is refused tries again only at its next
                    // once-a-second replication cron. The primary's cluster
                    // settling wakes this pass again. A new group's replicas
                    // are told together, once every member answers: one told
                    // alone had the next wait for its first sync (this pass
                    // waits for it, and reruns only after).
                    links_up = false;
                    continue;
                }
                to_point.push(m);
                pointed.push(m.addr());
            } else if info.get("master_link_status").map(String::as_str) == Some("up") {
                replicas_up.push(m.addr());
            } else {
                // Following, its sync not done yet.
                syncing.push(m.addr());
            }
        }
        futures_util::future::join_all(
            to_point
                .iter()
                .map(|m| self.make_replica(&members, m, &primary, tls)),
        )
        .await;
        // A group being created or grown settles in this pass: the first sync
        // of a new replica takes milliseconds, not a loop turn.
        let settling = matches!(
            g.status.as_str(),
            lifecycle::CREATING | lifecycle::MODIFYING
        );
        pointed.append(&mut syncing);
        if settling && primary_ready && !pointed.is_empty() {
            let up = links_come_up(&pointed, tls, FIRST_SYNC).await;
            links_up &= up.len() == pointed.len();
            replicas_up.extend(up);
        } else if !pointed.is_empty() {
            links_up = false;
        }
        self.serve_endpoints(scope, g, &members, &primary, Some(replicas_up))
            .await;

        let fresh = self.cp.find_replication_group(scope, id).ok();
        let Some(fresh) = fresh else { return };
        let settled_members = !members.is_empty()
            && members
                .iter()
                .all(|m| !m.busy && m.status == NodeStatus::Ready)
            && members.len() == fresh.members.len();

        if settled_members && links_up {
            self.slow_cron(&members, tls).await;
        }

        // Roll node type / engine changes through the members, one at a time.
        if !fresh.rolling.is_empty() && settled_members && links_up && fresh.failover_to.is_none() {
            let next = fresh.rolling[0].clone();
            let req = ModifyCluster {
                id: next.clone(),
                apply_immediately: true,
                node_type: fresh.rolling_node_type.clone(),
                engine: fresh.rolling_engine,
                engine_version: fresh.rolling_engine_version.clone(),
                parameter_group: fresh.rolling_parameter_group.clone(),
                ..ModifyCluster::default()
            };
            if let Err(e) = self.cp.modify_cluster(scope, req) {
                tracing::warn!(group = id, member = %next, error = %e, "rolling change failed on a member");
            }
            let _ = self.cp.update_replication_group(scope, id, move |g| {
                g.rolling.retain(|m| *m != next);
                Ok(())
            });
            return;
        }

        // Users changed (user groups attached or removed): every node gets
        // them; the group settles on the next pass.
        let users_ok = !fresh.users_pending;
        if fresh.users_pending && settled_members && links_up {
            push_pending_users(self.cp.as_ref(), scope, id).await;
        }
        if matches!(
            fresh.status.as_str(),
            lifecycle::CREATING | lifecycle::MODIFYING
        ) && settled_members
            && users_ok
            && links_up
            && fresh.failover_to.is_none()
            && fresh.rolling.is_empty()
            && !self.clusters_leaving(scope, &fresh)
        {
            self.settle_group(scope, &fresh);
        }
    }

    /// A creating or modifying group whose members have settled becomes
    /// `available` (unless it changed since `g` was read), with its event.
    /// True when it did.
    pub(super) fn settle_group(&self, scope: &Scope, g: &ReplicationGroup) -> bool {
        let (id, was, gen) = (g.id.as_str(), g.status.clone(), g.generation);
        let done = self.cp.update_replication_group(scope, id, move |g| {
            if g.generation == gen {
                g.status = lifecycle::AVAILABLE.to_owned();
            }
            Ok(())
        });
        if !done.is_ok_and(|g| g.status == lifecycle::AVAILABLE) {
            return false;
        }
        let msg = if was == lifecycle::CREATING {
            format!("Replication group {id} created")
        } else {
            format!("Replication group {id} modification completed")
        };
        tracing::info!(group = id, "{msg}");
        self.cp.event(scope, "replication-group", id, msg);
        true
    }

    /// `REPLICAOF` the primary's address as this runtime's nodes see it.
    /// Members started with a fast server cron for their replicas' first sync
    /// go back to Redis's default once the group has settled (see
    /// [`super::node::SYNC_HZ`]).
    async fn slow_cron(&self, members: &[Member], tls: bool) {
        let fast: Vec<&Member> = {
            let set = self
                .fast_cron
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            members
                .iter()
                .filter(|m| set.contains(&m.spec.key))
                .collect()
        };
        for m in fast {
            if command(
                m.addr(),
                tls,
                &["CONFIG", "SET", "hz", super::node::IDLE_HZ],
            )
            .await
            .is_ok()
            {
                self.fast_cron
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&m.spec.key);
            }
        }
    }

    async fn make_replica(&self, members: &[Member], m: &Member, primary: &str, tls: bool) {
        let Some(p) = members.iter().find(|x| x.cluster.id == primary) else {
            return;
        };
        let Ok((host, port)) = self.runtime().peer_address(&p.spec).await else {
            return;
        };
        let port = port.to_string();
        match command(m.addr(), tls, &["REPLICAOF", &host, &port]).await {
            Ok(_) => {
                tracing::info!(node = %m.spec.key, %host, %port, "replicating from the primary")
            }
            Err(e) => tracing::warn!(node = %m.spec.key, error = %e, "REPLICAOF failed"),
        }
    }

    /// Point the primary endpoint at the primary and the reader endpoint at the
    /// replicas that are in sync (`None`: keep the reader's targets for now unless
    /// they are unknown).
    async fn serve_endpoints(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        members: &[Member],
        primary: &str,
        replicas: Option<Vec<Addr>>,
    ) {
        let Some(p) = members.iter().find(|m| m.cluster.id == primary) else {
            return;
        };
        let (host, port) = g.primary_endpoint();
        let preferred = p.spec.plain_port.is_some();
        if let Err(e) = self
            .serve_endpoint(scope, g, "primary", (host, port), vec![p.addr()], preferred)
            .await
        {
            tracing::warn!(group = %g.id, %host, port, error = %e, "primary endpoint could not listen");
        }
        let readers = match replicas {
            Some(r) if !r.is_empty() => r,
            Some(_) => vec![p.addr()],
            None => members
                .iter()
                .filter(|m| m.cluster.id != primary && !m.busy && m.status == NodeStatus::Ready)
                .map(Member::addr)
                .collect::<Vec<_>>(),
        };
        let readers = if readers.is_empty() {
            vec![p.addr()]
        } else {
            readers
        };
        let (host, port) = g.reader_endpoint();
        if let Err(e) = self
            .serve_endpoint(scope, g, "reader", (host, port), readers, preferred)
            .await
        {
            tracing::warn!(group = %g.id, %host, port, error = %e, "reader endpoint could not listen");
        }
    }

    /// One endpoint's proxy; a serverless cache's endpoints are fronts that
    /// present the cache as a one-shard cluster (`worker::front`).
    async fn serve_endpoint(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        role: &str,
        (host, port): Addr,
        targets: Vec<Addr>,
        preferred: bool,
    ) -> std::io::Result<()> {
        let key = Self::proxy_key(scope, g, role);
        if crate::model::serverless::cache_of(&g.id).is_none() {
            return self
                .proxies
                .serve(&key, host, port, targets, preferred)
                .await;
        }
        let (ph, pp) = g.primary_endpoint();
        let (rh, rp) = g.reader_endpoint();
        let name = |ip| self.cp.settings.endpoint_host(ip);
        let topology = Topology::one_shard(
            Node {
                host: name(ph),
                port: pp,
                id: node_id(&format!("{}/primary", g.id)),
            },
            Node {
                host: name(rh),
                port: rp,
                id: node_id(&format!("{}/replica", g.id)),
            },
            node_id(&format!("{}/shard", g.id)),
            role == "primary",
        );
        let mut names: Vec<String> = Vec::new();
        for n in [
            ph.to_string(),
            rh.to_string(),
            name(ph),
            name(rh),
            "localhost".to_owned(),
        ] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let make = || Front::new(&self.ca, &names, topology.clone());
        self.proxies
            .serve_front(&key, host, port, targets, &make, topology.clone())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: &str, members: &[&str]) -> ReplicationGroup {
        serde_json::from_value(serde_json::json!({
            "id": "g", "description": "", "status": status, "members": members,
            "primary": members.first().copied().unwrap_or_default(),
            "automatic_failover": false, "multi_az": false,
            "primary_port": 6379, "reader_port": 6379, "engine": "redis",
            "snapshot_retention_limit": 0, "snapshot_window": "05:00-06:00",
            "auth_token_enabled": false, "network_type": "ipv4", "ip_discovery": "ipv4",
            "auto_minor_version_upgrade": true, "created": "2026-01-01T00:00:00Z",
            "tags": [], "generation": 1
        }))
        .expect("a group record")
    }

    /// Only a group with nothing to watch may wait for a change of its
    /// record: one member that exists (an engine to watch, a failover to
    /// make) or a status that settles keeps it in every pass.
    #[test]
    fn dormant_groups() {
        let none = |_: &str| false;
        let all = |_: &str| true;
        assert!(dormant(&group(lifecycle::CREATE_FAILED, &["g-001"]), none));
        assert!(dormant(&group(lifecycle::AVAILABLE, &[]), none));
        assert!(!dormant(&group(lifecycle::CREATE_FAILED, &["g-001"]), all));
        assert!(!dormant(
            &group(lifecycle::AVAILABLE, &["g-001", "g-002"]),
            |m: &str| m == "g-002"
        ));
        for busy in [
            lifecycle::CREATING,
            lifecycle::MODIFYING,
            lifecycle::DELETING,
        ] {
            assert!(!dormant(&group(busy, &["g-001"]), none), "{busy}");
        }
        let mut g = group(lifecycle::CREATE_FAILED, &["g-001"]);
        g.global_id = Some("ldgnf-global".to_owned());
        assert!(!dormant(&g, none));
        let mut g = group(lifecycle::CREATE_FAILED, &["g-001"]);
        g.fronted = true;
        assert!(!dormant(&g, none));
    }
}
