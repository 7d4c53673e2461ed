//! Background work: the reconciler and what it serves (endpoint proxies, the
//! Memcached configuration endpoints).
//!
//! Layout, top to bottom (no module imports a sibling above it):
//! - this file: the [`Reconciler`] (its state and its loops), which runs the passes;
//! - the passes, each an `impl Reconciler` of its own: `reconcile` (clusters:
//!   start, restart, remove nodes, parameters, statuses, events), `replication`
//!   (replication groups), `cluster_mode` (Redis Cluster groups), `snapshots`,
//!   `migration`, `users` (users and user groups pushed to the engines),
//!   `global` (global datastores: secondary regions follow the primary region);
//! - what the passes share, below them: `node` (a node's configuration and spec,
//!   connecting to it, pushing parameters, saving), `proxy` and `discovery` (the
//!   endpoints served); `figures` (a node's live figures, read for the dashboard).

pub mod cluster_mode;
pub mod discovery;
pub mod figures;
pub mod front;
mod fronted;
mod global;
mod mcdump;
mod migration;
mod node;
pub mod proxy;
pub mod reconcile;
pub mod replication;
mod serverless;
mod slots;
pub mod snapshots;
mod updates;
mod users;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use self::discovery::Discovery;
use self::proxy::Proxies;
use crate::engine::{EngineRuntime, NodeSpec, StartInfo};
use crate::model::cluster::{CacheCluster, CacheNode};
use crate::model::replication_group::ReplicationGroup;
use crate::model::{ControlPlane, Scope};
use crate::tls::Authority;

const HEALTH_EVERY: Duration = Duration::from_secs(5);

/// Per region, per group: a record and when it was seen.
type RgSeen = HashMap<Scope, HashMap<String, (ReplicationGroup, Instant)>>;

/// Run `f`, which waits for a store commit (`fdatasync`), without holding up
/// the runtime's other tasks (the API's requests among them): on the
/// multi-thread runtime this thread first hands its tasks to another. The
/// reconciler's writes ran on the runtime's threads (one per core), so a few
/// of them at once held up every request until their commits were over.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The reconciler: the one place where the model and the engines meet.
///
/// It watches the control plane, makes the engines match the desired state,
/// and settles statuses and events once the engines answer.
pub struct Reconciler {
    cp: Arc<ControlPlane>,
    /// Issues TLS nodes their certificates.
    ca: Arc<Authority>,
    discovery: Discovery,
    proxies: Proxies,
    inflight: Mutex<HashSet<(Scope, String)>>,
    /// Replication groups whose pass is running.
    rg_inflight: Mutex<HashSet<(Scope, String)>>,
    /// Groups woken while their pass was running.
    rg_rerun: Mutex<HashSet<(Scope, String)>>,
    /// Dormant groups (see `replication::dormant`): each one's record at its
    /// last visit, and when; visited again when the record differs or a
    /// sweep is due.
    rg_dormant: Mutex<RgSeen>,
    failed_at: Mutex<HashMap<(Scope, String), Instant>>,
    /// Failed passes of clusters still `creating`.
    create_failures: Mutex<HashMap<(Scope, String), u32>>,
    /// Nodes whose recovery failed (their keys), announced once until one
    /// succeeds.
    recovery_failures: Mutex<HashSet<String>>,
    /// Group members that died again before they answered after a recovery
    /// (their keys): how many times in a row, and when the next recovery may
    /// start (a node that dies at every start is not started every pass).
    died_again: Mutex<HashMap<String, (u32, Instant)>>,
    /// Snapshots whose work is running.
    snap_inflight: Mutex<HashSet<(Scope, String)>>,
    /// Scopes whose users' pass is running.
    users_inflight: Mutex<HashSet<Scope>>,
    /// Creates starting engines at once (see [`slots`]).
    starts: Arc<slots::StartSlots>,
    /// Nodes running with a fast server cron until their group settles
    /// (see [`node::SYNC_HZ`]).
    fast_cron: Arc<Mutex<HashSet<String>>>,
}

/// How often the passes that only a clock makes due run (see [`Reconciler::run`]).
const TIMED_EVERY: Duration = Duration::from_millis(500);

impl Reconciler {
    #[must_use]
    pub fn new(cp: Arc<ControlPlane>, ca: Arc<Authority>) -> Arc<Self> {
        Arc::new(Self {
            cp,
            ca,
            discovery: Discovery::default(),
            proxies: Proxies::default(),
            inflight: Mutex::new(HashSet::new()),
            rg_inflight: Mutex::new(HashSet::new()),
            rg_rerun: Mutex::new(HashSet::new()),
            rg_dormant: Mutex::new(HashMap::new()),
            failed_at: Mutex::new(HashMap::new()),
            create_failures: Mutex::new(HashMap::new()),
            recovery_failures: Mutex::new(HashSet::new()),
            died_again: Mutex::new(HashMap::new()),
            snap_inflight: Mutex::new(HashSet::new()),
            users_inflight: Mutex::new(HashSet::new()),
            starts: Arc::new(slots::StartSlots::new()),
            fast_cron: Arc::default(),
        })
    }

    /// Re-adopt what runs, restart what does not, remove what nobody owns;
    /// then loop forever.
    pub async fn run(self: Arc<Self>) {
        self.adopt().await;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.replication_pass().await;
                tokio::select! {
                    () = me.cp.groups_woken() => {}
                    () = tokio::time::sleep(replication::EVERY) => {}
                }
            }
        });
        let mut last_health = Instant::now();
        let mut last_timed: Option<Instant> = None;
        loop {
            tokio::select! {
                () = self.cp.woken() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            // The passes that a clock makes due (maintenance windows,
            // automatic backups) read every stored cluster, group and
            // snapshot: on the clock, not on every wake (each change wakes
            // the loop; with thousands stored they cost more than the
            // change itself: issue 15).
            if last_timed.is_none_or(|t| t.elapsed() >= TIMED_EVERY) {
                last_timed = Some(Instant::now());
                self.maintenance();
                self.schedule_automatic();
            }
            self.tick();
            self.snapshots();
            self.users();
            self.updates();
            self.serverless().await;
            self.global_datastores();
            if last_health.elapsed() >= HEALTH_EVERY {
                last_health = Instant::now();
                let me = self.clone();
                tokio::spawn(async move { me.health().await });
            }
        }
    }

    fn runtime(&self) -> &dyn EngineRuntime {
        self.cp.runtime.as_ref()
    }

    /// Whether a reconcile task owns this cluster right now.
    fn is_inflight(&self, scope: &Scope, id: &str) -> bool {
        self.inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(scope.clone(), id.to_owned()))
    }

    /// Start a dead node of `c` again (the recoveries of the health check and
    /// of the groups' passes). The start holds the cluster's slot in
    /// `inflight`, so that it never runs beside the clusters' pass of the same
    /// cluster: a node started while its cluster is being removed would be an
    /// engine nobody owns. False when the cluster is busy, going or gone, or
    /// the start failed.
    /// Whether a recovery of node `key` may start now: not while it backs off
    /// after dying again before it answered (1 s, doubling, at most 30 s).
    fn may_recover(&self, key: &str) -> bool {
        self.died_again
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .is_none_or(|(_, next)| Instant::now() >= *next)
    }

    /// Node `key`, just recovered, died before it answered (`false`) or
    /// answered (`true`).
    fn recovered(&self, key: &str, answered: bool) {
        let mut m = self
            .died_again
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if answered {
            m.remove(key);
            return;
        }
        let e = m.entry(key.to_owned()).or_insert((0, Instant::now()));
        e.0 = e.0.saturating_add(1);
        let wait = Duration::from_millis(500).saturating_mul(1 << e.0.min(6));
        e.1 = Instant::now() + wait.min(Duration::from_secs(30));
    }

    async fn recover_node(&self, scope: &Scope, cluster: &str, spec: &NodeSpec) -> bool {
        let key = (scope.clone(), cluster.to_owned());
        if !self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone())
        {
            return false;
        }
        // Read again now that the slot is ours: a delete may have come meanwhile.
        let started = match self.cp.find_cluster(scope, cluster) {
            Ok(c)
                if c.status != crate::model::lifecycle::DELETING
                    && c.nodes.iter().any(|n| {
                        c.node_key(scope, &n.id) == spec.key
                            && n.status != crate::model::lifecycle::NODE_DELETING
                    }) =>
            {
                let node_id = c
                    .nodes
                    .iter()
                    .find(|n| c.node_key(scope, &n.id) == spec.key)
                    .map(|n| n.id.clone())
                    .unwrap_or_default();
                match self.start_node(scope, &c, spec).await {
                    Ok(_) => {
                        self.recovery_failures
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&spec.key);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(node = %spec.key, error = %e, "could not recover node");
                        // Said once (it is tried again every pass, until it starts).
                        if self
                            .recovery_failures
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(spec.key.clone())
                        {
                            self.cp.event(
                                scope,
                                "cache-cluster",
                                cluster,
                                format!(
                                    "Cache node {node_id} of cluster {cluster} is down and could not be recovered: {e:#}; trying again"
                                ),
                            );
                        }
                        false
                    }
                }
            }
            _ => false,
        };
        self.inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key);
        self.cp.wake();
        started
    }

    /// Start (or re-adopt) a node of `c`, with its TLS files when it serves TLS.
    async fn start_node(
        &self,
        scope: &Scope,
        c: &CacheCluster,
        spec: &NodeSpec,
    ) -> anyhow::Result<StartInfo> {
        let names = node::tls_names(self.cp.as_ref(), scope, c, spec.host);
        self.announce_pull(scope, c, spec).await;
        let info = node::start(self.runtime(), &self.ca, spec, &names).await?;
        node::note_fast_cron(&self.fast_cron, spec);
        Ok(info)
    }

    /// Say in `c`'s events when starting `spec` must pull its image first
    /// (the pull's progress per layer is in the log).
    async fn announce_pull(&self, scope: &Scope, c: &CacheCluster, spec: &NodeSpec) {
        if let Some(image) = self.runtime().missing_image(spec).await {
            self.cp.event(
                scope,
                "cache-cluster",
                &c.id,
                format!(
                    "Cache cluster {}: pulling image {image} before its nodes start (the first start of this engine version takes longer)",
                    c.id
                ),
            );
        }
    }

    /// How a node of `c` runs.
    /// The keys of a fronted group's node fronts (`worker/fronted.rs`) start
    /// with this; then the node's cluster ID. The clusters' pass stops a
    /// node's front before its engine takes the endpoint back (a group that
    /// turns into a Redis Cluster again).
    fn fronted_prefix(scope: &Scope, group: &str) -> String {
        format!("{}-{}-{group}-node-", scope.account, scope.region)
    }

    fn spec(&self, scope: &Scope, c: &CacheCluster, n: &CacheNode) -> NodeSpec {
        node::spec(self.cp.as_ref(), scope, c, n)
    }
}

#[cfg(test)]
mod tests {
    /// No pass imports another pass: what they share lives below them (`node`,
    /// `proxy`, `discovery`) or in this file.
    #[test]
    fn passes_import_no_other_pass() {
        let passes = [
            ("reconcile", include_str!("reconcile.rs")),
            ("replication", include_str!("replication.rs")),
            ("cluster_mode", include_str!("cluster_mode.rs")),
            ("snapshots", include_str!("snapshots.rs")),
            ("migration", include_str!("migration.rs")),
            ("updates", include_str!("updates.rs")),
            ("serverless", include_str!("serverless.rs")),
            ("global", include_str!("global.rs")),
            ("fronted", include_str!("fronted.rs")),
        ];
        for (name, text) in passes {
            for (other, _) in passes.iter().filter(|(o, _)| *o != name) {
                for needle in [format!("super::{other}::"), format!("worker::{other}::")] {
                    assert!(
                        !text.contains(&needle),
                        "worker/{name}.rs reaches into the pass {other} ({needle})"
                    );
                }
            }
        }
    }
}
