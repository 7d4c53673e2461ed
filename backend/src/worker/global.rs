//! Global datastores on real engines: a secondary group's primary `REPLICAOF`
//! the primary region's primary (its replicas follow it as in any group), so
//! every secondary region is a read-only copy; after a failover the roles
//! swap on the next pass. Statuses settle on the members (a model rule).
//! Called from the replication loop (the link, failovers) and the
//! reconciler's loop (the statuses).
//!
//! A failover synchronises first, as AWS does: the primary region's shard
//! primaries stop taking writes (`CLIENT PAUSE … WRITE`: a write blocks, and
//! is answered `-READONLY` once its node follows the new primary), each of
//! the new primary region's shard primaries is waited for until its
//! replication offset reaches the old one's (at most [`SYNC_WAIT`]), and only
//! then do the roles swap. Every write the old primary acknowledged is in the
//! new primary region.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::node::{command, connect, replication_info, Addr};
use super::Reconciler;
use crate::engine::resp::Reply;
use crate::engine::NodeSpec;
use crate::model::global_datastore::{GlobalReplicationGroup, Role};
use crate::model::replication_group::ReplicationGroup;
use crate::model::Scope;

/// How long a failover waits for the secondary region to catch up with the
/// primary region before it swaps the roles anyway.
const SYNC_WAIT: Duration = Duration::from_secs(10);
/// How long the primary region's writes stay paused at most: the swap lifts
/// the pause as soon as the old primaries follow the new ones (a Redis
/// Cluster that restarts behind fronts ends it by stopping).
const PAUSE_MS: &str = "30000";
/// `min-replicas-to-write` that no group reaches: how an engine without
/// `CLIENT PAUSE … WRITE` (before 6.2) is made to refuse writes.
const NO_WRITES: &str = "1000000";

/// One shard's primary engine in a member group.
struct ShardPrimary {
    shard: String,
    spec: NodeSpec,
    tls: bool,
}

impl ShardPrimary {
    fn addr(&self) -> Addr {
        (self.spec.host, self.spec.port)
    }
}

/// How writes were stopped on an old shard primary, to be lifted after.
enum Stopped {
    Paused,
    /// `min-replicas-to-write` was this before.
    MinReplicas(String),
    /// The node did not answer: nothing to lift, nothing to wait for.
    Unreachable,
}

fn repl_offset(info: &HashMap<String, String>, key: &str) -> i64 {
    info.get(key).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

impl Reconciler {
    pub(super) fn global_datastores(&self) {
        self.cp.settle_global_datastores();
    }

    /// The primary's role when its group is a secondary of a global datastore:
    /// it follows the primary region's primary. False when the group is not a
    /// secondary (its primary is then an ordinary master).
    pub(super) async fn follow_global_primary(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        primary: &NodeSpec,
        info: &HashMap<String, String>,
        tls: bool,
    ) -> bool {
        let Some(Role::Secondary { primary: (ps, pid) }) = self.cp.global_role(scope, g) else {
            return false;
        };
        let source = self
            .cp
            .find_replication_group(&ps, &pid)
            .ok()
            .and_then(|pg| {
                let c = self.cp.find_cluster(&ps, &pg.primary).ok()?;
                let n = c.nodes.first()?.clone();
                Some(self.spec(&ps, &c, &n))
            });
        // Nothing to follow right now (the primary region's group is busy):
        // stay as is, read-only or not, until it is back.
        let Some(source) = source else { return true };
        let Ok((host, port)) = self.runtime().peer_address(&source).await else {
            return true;
        };
        let port = port.to_string();
        let role = info.get("role").map_or("", String::as_str);
        let follows = role == "slave"
            && info.get("master_host").map(String::as_str) == Some(host.as_str())
            && info.get("master_port").map(String::as_str) == Some(port.as_str());
        if !follows {
            let res = async {
                let mut conn = connect(primary.host, primary.port, tls).await?;
                tokio::time::timeout(
                    Duration::from_secs(5),
                    conn.cmd(&["REPLICAOF", &host, &port]),
                )
                .await?
            }
            .await;
            match res {
                Ok(_) => tracing::info!(group = %g.id, region = %scope.region, %host, %port,
                    "secondary region's primary replicates from the primary region"),
                Err(e) => {
                    tracing::warn!(group = %g.id, error = %e, "REPLICAOF the primary region failed")
                }
            }
        } else if info.get("master_link_status").map(String::as_str) == Some("up")
            && info.get("master_sync_in_progress").map(String::as_str) != Some("1")
        {
            self.cp.global_member_linked(scope, g);
        }
        true
    }
}

impl Reconciler {
    /// Failovers asked for: each runs in a task of its own that holds every
    /// member group's pass (no pass re-points a node while the roles swap).
    pub(super) fn global_failovers(self: &Arc<Self>) {
        for (home, g) in self.cp.pending_global_failovers() {
            let keys: Vec<(Scope, String)> = g
                .members
                .iter()
                .map(|m| {
                    (
                        Scope::new(home.account.clone(), m.region.clone()),
                        m.replication_group_id.clone(),
                    )
                })
                .collect();
            {
                let mut inflight = self
                    .rg_inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.iter().any(|k| inflight.contains(k)) {
                    continue;
                }
                inflight.extend(keys.iter().cloned());
            }
            let me = self.clone();
            tokio::spawn(async move {
                me.global_failover(&home, &g).await;
                {
                    let mut inflight = me
                        .rg_inflight
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for k in &keys {
                        inflight.remove(k);
                    }
                }
                me.cp.wake();
            });
        }
    }

    /// The shard primaries' engines of a member group (one shard, `0001`,
    /// with cluster mode disabled).
    fn shard_primaries(&self, scope: &Scope, g: &ReplicationGroup) -> Vec<ShardPrimary> {
        let ids: Vec<(String, String)> = if g.cluster_enabled() {
            g.node_groups
                .iter()
                .map(|ng| (ng.id.clone(), ng.primary.clone()))
                .collect()
        } else {
            vec![("0001".to_owned(), g.primary.clone())]
        };
        ids.into_iter()
            .filter_map(|(shard, cid)| {
                let c = self.cp.find_cluster(scope, &cid).ok()?;
                let n = c.nodes.first()?.clone();
                Some(ShardPrimary {
                    shard,
                    spec: self.spec(scope, &c, &n),
                    tls: c.transit_encryption,
                })
            })
            .collect()
    }

    /// Stop writes on an old shard primary.
    async fn stop_writes(p: &ShardPrimary) -> Stopped {
        if command(p.addr(), p.tls, &["CLIENT", "PAUSE", PAUSE_MS, "WRITE"])
            .await
            .is_ok()
        {
            return Stopped::Paused;
        }
        // Before 6.2 `CLIENT PAUSE` pauses every command, `INFO` too: the
        // node refuses writes (`-NOREPLICAS`) instead.
        let Ok(was) = command(p.addr(), p.tls, &["CONFIG", "GET", "min-replicas-to-write"]).await
        else {
            return Stopped::Unreachable;
        };
        let was = match was {
            Reply::Array(Some(a)) => a.get(1).and_then(Reply::as_text),
            _ => None,
        }
        .unwrap_or_else(|| "0".to_owned());
        match command(
            p.addr(),
            p.tls,
            &["CONFIG", "SET", "min-replicas-to-write", NO_WRITES],
        )
        .await
        {
            Ok(_) => Stopped::MinReplicas(was),
            Err(_) => Stopped::Unreachable,
        }
    }

    async fn lift_writes(p: &ShardPrimary, how: &Stopped) {
        let res = match how {
            Stopped::Paused => command(p.addr(), p.tls, &["CLIENT", "UNPAUSE"]).await,
            Stopped::MinReplicas(was) => {
                command(
                    p.addr(),
                    p.tls,
                    &["CONFIG", "SET", "min-replicas-to-write", was],
                )
                .await
            }
            Stopped::Unreachable => return,
        };
        if let Err(e) = res {
            tracing::warn!(node = %p.spec.key, error = %e, "lifting the failover's write stop failed");
        }
    }

    /// One failover: stop writes in the primary region, let every shard of
    /// the chosen secondary catch up (bounded), swap the roles, promote, and
    /// have the old primaries follow the new ones.
    #[allow(clippy::too_many_lines)]
    async fn global_failover(&self, home: &Scope, g: &GlobalReplicationGroup) {
        let Some((region, rg)) = g.failover_to.clone() else {
            return;
        };
        let account = home.account.clone();
        let new_scope = Scope::new(account.clone(), region.clone());
        let old = g.primary().map(|p| {
            (
                Scope::new(account.clone(), p.region.clone()),
                p.replication_group_id.clone(),
            )
        });
        let old_group = old
            .as_ref()
            .and_then(|(s, id)| self.cp.find_replication_group(s, id).ok());
        let Ok(new_group) = self.cp.find_replication_group(&new_scope, &rg) else {
            // The member left: nothing to fail over to.
            if let Err(e) = self.cp.complete_global_failover(home, &g.id) {
                tracing::warn!(global = %g.id, error = %e, "dropping a failover failed");
            }
            return;
        };
        let news = self.shard_primaries(&new_scope, &new_group);
        let olds = match (&old, &old_group) {
            (Some((s, _)), Some(og)) => self.shard_primaries(s, og),
            _ => Vec::new(),
        };
        let partner = |k: usize, o: &ShardPrimary| -> Option<&ShardPrimary> {
            news.iter()
                .find(|n| n.shard == o.shard)
                .or_else(|| news.get(k))
        };

        let real_cluster = old_group
            .as_ref()
            .is_some_and(|og| og.cluster_enabled() && !og.fronted);

        // 1. No more writes in the primary region. A Redis Cluster's replicas
        //    pause too: it restarts behind fronts after the swap, and a
        //    replica that outlives its stopped primary would be promoted by
        //    the cluster and take writes.
        let mut stopped = Vec::new();
        for o in &olds {
            stopped.push(Self::stop_writes(o).await);
        }
        if let (true, Some((s, _)), Some(og)) = (real_cluster, &old, &old_group) {
            for c in self.cp.replication_group_view(s, og) {
                let Some(n) = c.nodes.first() else { continue };
                let spec = self.spec(s, &c, n);
                if olds.iter().all(|o| o.spec.key != spec.key) {
                    let _ = Self::stop_writes(&ShardPrimary {
                        shard: String::new(),
                        spec,
                        tls: c.transit_encryption,
                    })
                    .await;
                }
            }
        }
        // 2. Each shard of the new primary region catches up with its old
        //    primary's offset (read once writes stopped).
        let started = Instant::now();
        let deadline = started + SYNC_WAIT;
        let mut lagging: Vec<String> = Vec::new();
        let mut unreachable: Vec<String> = Vec::new();
        for (k, o) in olds.iter().enumerate() {
            if matches!(stopped[k], Stopped::Unreachable) {
                unreachable.push(o.shard.clone());
                continue;
            }
            let Some(n) = partner(k, o) else { continue };
            let want = match replication_info(o.addr(), o.tls).await {
                Some(i) => repl_offset(&i, "master_repl_offset"),
                None => {
                    unreachable.push(o.shard.clone());
                    continue;
                }
            };
            loop {
                let got = replication_info(n.addr(), n.tls)
                    .await
                    .map_or(-1, |i| repl_offset(&i, "slave_repl_offset"));
                if got >= want {
                    break;
                }
                if Instant::now() >= deadline {
                    tracing::warn!(global = %g.id, shard = %o.shard, want, got, "secondary did not catch up before the failover");
                    lagging.push(o.shard.clone());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let waited = started.elapsed();
        if !unreachable.is_empty() {
            self.cp.global_event(
                g,
                &account,
                &format!(
                    "Failover of global replication group {}: the primary region's primary of node group(s) {} did not answer; failing over without synchronising them",
                    g.id,
                    unreachable.join(", ")
                ),
            );
        }
        if !lagging.is_empty() {
            self.cp.global_event(
                g,
                &account,
                &format!(
                    "Failover of global replication group {}: replication group {rg} in region {region} had not caught up with the primary region within {} s (node group(s) {}); failing over anyway, the primary region's last writes may be lost",
                    g.id,
                    SYNC_WAIT.as_secs(),
                    lagging.join(", ")
                ),
            );
        }
        tracing::info!(global = %g.id, ms = waited.as_millis(), lagging = lagging.len(), "failover synchronised; swapping roles");

        // 3. The roles swap; the new primaries stop replicating.
        let swapped = match self.cp.complete_global_failover(home, &g.id) {
            Ok((_, swapped)) => swapped,
            Err(e) => {
                tracing::warn!(global = %g.id, error = %e, "completing a failover failed");
                false
            }
        };
        if !swapped {
            // Nothing changed (the chosen secondary left meanwhile): the
            // primary region takes writes again.
            for (k, o) in olds.iter().enumerate() {
                Self::lift_writes(o, &stopped[k]).await;
            }
            return;
        }
        for n in &news {
            if let Err(e) = command(n.addr(), n.tls, &["REPLICAOF", "NO", "ONE"]).await {
                tracing::warn!(node = %n.spec.key, error = %e, "promoting the new primary region's shard primary failed");
            }
        }
        // 4. The old primaries follow the new ones, then their paused writes
        //    run (and are refused: `-READONLY`). A Redis Cluster of the old
        //    primary region restarts behind fronts instead (its passes point
        //    it); stopping ends its pause.
        if real_cluster {
            return;
        }
        for (k, o) in olds.iter().enumerate() {
            if let Some(n) = partner(k, o) {
                if let Ok((host, port)) = self.runtime().peer_address(&n.spec).await {
                    let port = port.to_string();
                    if let Err(e) = command(o.addr(), o.tls, &["REPLICAOF", &host, &port]).await {
                        tracing::warn!(node = %o.spec.key, error = %e, "the old primary could not follow the new one");
                    }
                }
            }
            Self::lift_writes(o, &stopped[k]).await;
        }
    }
}
