//! The reconciler: the one place where the model and the engines meet.
//!
//! It watches the control plane, makes the engines match the desired state
//! (start, restart, remove nodes; push parameters), and settles statuses and
//! events once the engines answer.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::discovery::{ClusterConfig, Discovery};
use super::proxy::Proxies;
use crate::catalog;
use crate::engine::{self, resp, EngineKind, EngineRuntime, NodeSpec, NodeStatus};
use crate::model::cluster::{apply_pending, CacheCluster, CacheNode};
use crate::model::{lifecycle, ControlPlane, Scope};

pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(60);
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Failed passes a creating cluster may take before it reads `create-failed`
/// (a node start can fail for passing reasons: a slow daemon, a port still closing).
const CREATE_ATTEMPTS: u32 = 3;
const HEALTH_EVERY: Duration = Duration::from_secs(5);

pub struct Reconciler {
    pub(super) cp: Arc<ControlPlane>,
    discovery: Discovery,
    pub(super) proxies: Proxies,
    inflight: Mutex<HashSet<(Scope, String)>>,
    /// Replication groups whose pass is running.
    pub(super) rg_inflight: Mutex<HashSet<(Scope, String)>>,
    /// Groups woken while their pass was running.
    pub(super) rg_rerun: Mutex<HashSet<(Scope, String)>>,
    failed_at: Mutex<HashMap<(Scope, String), Instant>>,
    /// Failed passes of clusters still `creating`.
    create_failures: Mutex<HashMap<(Scope, String), u32>>,
    /// Snapshots whose work is running.
    pub(super) snap_inflight: Mutex<HashSet<(Scope, String)>>,
}

impl Reconciler {
    #[must_use]
    pub fn new(cp: Arc<ControlPlane>) -> Arc<Self> {
        Arc::new(Self {
            cp,
            discovery: Discovery::default(),
            proxies: Proxies::default(),
            inflight: Mutex::new(HashSet::new()),
            rg_inflight: Mutex::new(HashSet::new()),
            rg_rerun: Mutex::new(HashSet::new()),
            failed_at: Mutex::new(HashMap::new()),
            create_failures: Mutex::new(HashMap::new()),
            snap_inflight: Mutex::new(HashSet::new()),
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
                    () = tokio::time::sleep(super::replication::EVERY) => {}
                }
            }
        });
        let mut last_health = Instant::now();
        loop {
            tokio::select! {
                () = self.cp.woken() => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            self.maintenance();
            self.tick();
            self.snapshots();
            if last_health.elapsed() >= HEALTH_EVERY {
                last_health = Instant::now();
                let me = self.clone();
                tokio::spawn(async move { me.health().await });
            }
        }
    }

    fn needs_work(c: &CacheCluster) -> bool {
        c.status != lifecycle::CREATE_FAILED
            && ((c.status != lifecycle::AVAILABLE && c.status != lifecycle::SNAPSHOTTING)
                || c.params_dirty
                || c.nodes
                    .iter()
                    .any(|n| n.status != lifecycle::NODE_AVAILABLE || n.restart))
    }

    /// Apply pending modified values of clusters whose maintenance window is open now.
    fn maintenance(&self) {
        let now = ControlPlane::now();
        let due: Vec<(Scope, String)> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .flat_map(|(scope, r)| {
                    r.clusters
                        .values()
                        .filter(|c| c.status == lifecycle::AVAILABLE && !c.pending.is_empty())
                        .filter(|c| in_window(&c.maintenance_window, now))
                        .map(move |c| (scope.clone(), c.id.clone()))
                })
                .collect()
        };
        for (scope, id) in due {
            let applied = self.cp.update_cluster(&scope, &id, |c| {
                apply_pending(c, &scope)?;
                c.status = lifecycle::MODIFYING.to_owned();
                Ok(())
            });
            if applied.is_ok() {
                self.cp.event(&scope, "cache-cluster", &id, format!("Applying pending modifications to cache cluster {id} in its maintenance window"));
            }
        }
    }

    /// Start a task for every cluster that needs work and has none running.
    fn tick(self: &Arc<Self>) {
        let work: Vec<(Scope, String)> = {
            let st = self.cp.lock();
            let mut work: Vec<(bool, Scope, String)> = st
                .regions
                .iter()
                .flat_map(|(scope, r)| {
                    // Shard primaries of cluster-mode groups start first: a new
                    // Redis Cluster master takes writes 2 s after it starts.
                    let primaries: HashSet<&str> = r
                        .replication_groups
                        .values()
                        .flat_map(|g| g.node_groups.iter().map(|ng| ng.primary.as_str()))
                        .collect();
                    r.clusters
                        .values()
                        .filter(|c| Self::needs_work(c))
                        .map(move |c| {
                            (
                                !primaries.contains(c.id.as_str()),
                                scope.clone(),
                                c.id.clone(),
                            )
                        })
                })
                .collect();
            work.sort_by_key(|(later, _, _)| *later);
            work.into_iter().map(|(_, s, id)| (s, id)).collect()
        };
        for key in work {
            if let Some(t) = self
                .failed_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&key)
            {
                if t.elapsed() < RETRY_AFTER {
                    continue;
                }
            }
            if !self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key.clone())
            {
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                let ok = me.reconcile(&key.0, &key.1).await;
                {
                    let mut failed = me
                        .failed_at
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if ok {
                        failed.remove(&key);
                    } else {
                        failed.insert(key.clone(), Instant::now());
                    }
                }
                me.inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&key);
                me.cp.wake();
            });
        }
    }

    pub(super) fn runtime(&self) -> &dyn EngineRuntime {
        self.cp.runtime.as_ref()
    }

    /// Whether a reconcile task owns this cluster right now.
    pub(super) fn is_inflight(&self, scope: &Scope, id: &str) -> bool {
        self.inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(scope.clone(), id.to_owned()))
    }

    pub(super) fn spec(&self, scope: &Scope, c: &CacheCluster, n: &CacheNode) -> NodeSpec {
        let mut config = startup_config(self.cp.as_ref(), scope, c);
        let sharded = c.replication_group_id.as_deref().is_some_and(|rg| {
            self.cp
                .find_replication_group(scope, rg)
                .is_ok_and(|g| g.cluster_enabled())
        });
        if sharded {
            // Cluster mode: the backend's cluster directives, not the group's.
            config.retain(|(k, _)| !k.starts_with("cluster-"));
            config.extend(super::cluster_mode::node_config(n.host, n.port));
        }
        c.node_spec(scope, n, &self.cp.settings.nodes_dir, config)
    }

    /// One pass over one cluster. Returns false when something failed.
    #[allow(clippy::too_many_lines)]
    async fn reconcile(&self, scope: &Scope, id: &str) -> bool {
        let Ok(c) = self.cp.find_cluster(scope, id) else {
            return true;
        };
        let generation = c.generation;
        if c.status == lifecycle::DELETING {
            if self.cp.snapshot_taken_from(scope, id) {
                // A final snapshot still reads this node's data: look again soon.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return true;
            }
            for n in &c.nodes {
                let spec = self.spec(scope, &c, n);
                if let Err(e) = self.runtime().remove(&spec).await {
                    tracing::warn!(node = %spec.key, error = %e, "removing node failed");
                    return false;
                }
            }
            self.discovery.stop(&c.node_key(scope, "config"));
            let gone = {
                let mut st = self.cp.lock();
                st.region(scope).clusters.remove(id).is_some()
            };
            if gone {
                let _ = self.cp.persist::<CacheCluster>("cluster", scope, id, None);
                self.cp.event(
                    scope,
                    "cache-cluster",
                    id,
                    format!("Cache cluster {id} deleted"),
                );
            }
            return true;
        }

        let mut ok = true;
        let mut done: Vec<String> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        let mut restarted: Vec<String> = Vec::new();
        let mut substitutions: Vec<String> = Vec::new();
        // Remove nodes marked for deletion.
        for n in c
            .nodes
            .iter()
            .filter(|n| n.status == lifecycle::NODE_DELETING)
        {
            match self.runtime().remove(&self.spec(scope, &c, n)).await {
                Ok(()) => removed.push(n.id.clone()),
                Err(e) => {
                    tracing::warn!(cluster = id, node = %n.id, error = %e, "removing node failed");
                    ok = false;
                }
            }
        }
        // Start new nodes and restart the ones that must, all at once.
        let mut jobs = Vec::new();
        for n in c
            .nodes
            .iter()
            .filter(|n| n.status != lifecycle::NODE_DELETING)
        {
            let needs_start = n.status == lifecycle::NODE_CREATING || n.restart;
            if !needs_start {
                continue;
            }
            let spec = self.spec(scope, &c, n);
            let rt = self.cp.runtime.clone();
            let restart = n.restart;
            let keep = n.keep_data;
            let auth = c.auth_token.clone();
            let node_id = n.id.clone();
            // A restore: the snapshot's RDB is the new node's `dump.rdb`.
            let restore = c
                .restore_from
                .clone()
                .filter(|_| n.status == lifecycle::NODE_CREATING && !restart);
            jobs.push(tokio::spawn(async move {
                if let Some(rdb) = restore {
                    tokio::fs::create_dir_all(&spec.data_dir).await?;
                    tokio::fs::copy(&rdb, spec.data_dir.join("dump.rdb"))
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot restore {}: {e}", rdb.display()))?;
                }
                if restart {
                    if keep && spec.engine != EngineKind::Memcached {
                        save(spec.host, spec.port, auth.as_deref()).await;
                    }
                    rt.stop(&spec).await?;
                    if !keep {
                        // A reboot loses what was not persisted, as on AWS.
                        let _ = std::fs::remove_file(spec.data_dir.join("dump.rdb"));
                    }
                }
                let info = rt.start(&spec).await?;
                engine::wait_ready(rt.as_ref(), &spec, READY_TIMEOUT).await?;
                anyhow::Ok((node_id, restart, info.substitution))
            }));
        }
        for j in jobs {
            match j.await {
                Ok(Ok((node_id, restart, sub))) => {
                    if restart {
                        restarted.push(node_id.clone());
                    }
                    if let Some(s) = sub {
                        substitutions.push(s);
                    }
                    done.push(node_id);
                }
                Ok(Err(e)) => {
                    ok = false;
                    self.cp.event(
                        scope,
                        "cache-cluster",
                        id,
                        format!("Failed to start a cache node of cluster {id}: {e}"),
                    );
                }
                Err(e) => {
                    ok = false;
                    tracing::error!(error = %e, "node task panicked");
                }
            }
        }
        // Push parameters to every running node.
        let mut params_applied = false;
        if ok {
            let fresh = self
                .cp
                .find_cluster(scope, id)
                .unwrap_or_else(|_| c.clone());
            if fresh.engine != EngineKind::Memcached && (fresh.params_dirty || !done.is_empty()) {
                let params = runtime_config(self.cp.as_ref(), scope, &fresh);
                for n in fresh
                    .nodes
                    .iter()
                    .filter(|n| n.status != lifecycle::NODE_DELETING)
                {
                    apply_params(n.host, n.port, fresh.auth_token.as_deref(), &params).await;
                }
                params_applied = true;
            } else if fresh.engine == EngineKind::Memcached {
                // Memcached has no runtime configuration: its parameters only
                // take effect at a restart, so there is nothing to push.
                params_applied = true;
            }
        }
        if !ok && c.status == lifecycle::CREATING {
            let attempts = {
                let mut f = self
                    .create_failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = f.entry((scope.clone(), id.to_owned())).or_insert(0);
                *n += 1;
                *n
            };
            if attempts >= CREATE_ATTEMPTS {
                let _ = self.cp.update_cluster(scope, id, |c| {
                    c.status = lifecycle::CREATE_FAILED.to_owned();
                    Ok(())
                });
            } else {
                tracing::warn!(
                    cluster = id,
                    attempts,
                    "creating a node failed; trying again"
                );
            }
            return false;
        }
        // The configuration endpoint lists the new nodes before the cluster
        // reads `available` (clients discover nodes once it is).
        let changed = !removed.is_empty() || done.iter().any(|d| !restarted.contains(d));
        self.serve_config_endpoint(
            scope,
            &c,
            |n| {
                !removed.contains(&n.id)
                    && (n.status == lifecycle::NODE_AVAILABLE || done.contains(&n.id))
            },
            c.config_version + u64::from(changed),
        )
        .await;
        // Settle what was done.
        let settled = {
            let mut st = self.cp.lock();
            let Some(cur) = st.region(scope).clusters.get_mut(id) else {
                return ok;
            };
            cur.nodes.retain(|n| !removed.contains(&n.id));
            for n in cur.nodes.iter_mut().filter(|n| done.contains(&n.id)) {
                n.status = lifecycle::NODE_AVAILABLE.to_owned();
                n.restart = false;
                n.keep_data = false;
            }
            if params_applied && cur.generation == generation {
                cur.params_dirty = false;
            }
            if !restarted.is_empty() && restarted.len() == cur.nodes.len() {
                cur.params_need_reboot = false;
            }
            let nodes_settled = cur
                .nodes
                .iter()
                .all(|n| n.status == lifecycle::NODE_AVAILABLE && !n.restart);
            if !cur.params_dirty {
                cur.parameter_group_status = if cur.params_need_reboot {
                    lifecycle::PG_PENDING_REBOOT.to_owned()
                } else {
                    lifecycle::PG_IN_SYNC.to_owned()
                };
            }
            let was = cur.status.clone();
            // A snapshot in progress settles the status itself.
            if nodes_settled
                && ok
                && cur.status != lifecycle::SNAPSHOTTING
                && (cur.generation == generation || !cur.params_dirty)
            {
                cur.status = lifecycle::AVAILABLE.to_owned();
            }
            if changed {
                cur.config_version += 1;
            }
            (was, cur.clone())
        };
        let (was, cur) = settled;
        let _ = self.cp.persist("cluster", scope, id, Some(&cur));
        for s in substitutions.iter().collect::<HashSet<_>>() {
            self.cp.event(
                scope,
                "cache-cluster",
                id,
                format!("Cache cluster {id}: {s}"),
            );
        }
        self.serve_config_endpoint(
            scope,
            &cur,
            |n| n.status == lifecycle::NODE_AVAILABLE,
            cur.config_version,
        )
        .await;
        let added: Vec<&String> = done.iter().filter(|d| !restarted.contains(d)).collect();
        if was == lifecycle::CREATING && cur.status == lifecycle::AVAILABLE {
            self.create_failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&(scope.clone(), id.to_owned()));
            self.cp.event(
                scope,
                "cache-cluster",
                id,
                format!("Cache cluster {id} created"),
            );
        } else {
            if !added.is_empty() && was != lifecycle::CREATING {
                let list: Vec<&str> = added.iter().map(|s| s.as_str()).collect();
                self.cp.event(
                    scope,
                    "cache-cluster",
                    id,
                    format!("Added cache node(s) {} in cluster {id}", list.join(", ")),
                );
            }
            if !removed.is_empty() {
                self.cp.event(
                    scope,
                    "cache-cluster",
                    id,
                    format!(
                        "Removed cache node(s) {} from cluster {id}",
                        removed.join(", ")
                    ),
                );
            }
            for r in &restarted {
                self.cp.event(
                    scope,
                    "cache-cluster",
                    id,
                    format!("Cache node {r} restarted"),
                );
            }
            if was == lifecycle::MODIFYING && cur.status == lifecycle::AVAILABLE {
                self.cp.event(
                    scope,
                    "cache-cluster",
                    id,
                    format!("Cache cluster {id} modification completed"),
                );
            }
        }
        ok
    }

    /// Serve (or update) a Memcached cluster's configuration endpoint with the
    /// nodes `listed` accepts, at `version`. Other engines have none.
    async fn serve_config_endpoint(
        &self,
        scope: &Scope,
        c: &CacheCluster,
        listed: impl Fn(&CacheNode) -> bool,
        version: u64,
    ) {
        let (EngineKind::Memcached, Some(port)) = (c.engine, c.config_port) else {
            return;
        };
        let cfg = self.discovery_config(c, listed, version);
        let host = c.config_host.unwrap_or(Ipv4Addr::LOCALHOST);
        if let Err(e) = self
            .discovery
            .serve(&c.node_key(scope, "config"), host, port, cfg)
            .await
        {
            tracing::warn!(cluster = %c.id, error = %e, "configuration endpoint could not listen");
        }
    }

    /// The Auto Discovery answer: the nodes `listed` accepts, at `version`.
    fn discovery_config(
        &self,
        c: &CacheCluster,
        listed: impl Fn(&CacheNode) -> bool,
        version: u64,
    ) -> ClusterConfig {
        ClusterConfig {
            version,
            nodes: c
                .nodes
                .iter()
                .filter(|n| listed(n))
                .map(|n| {
                    let host = self.cp.settings.endpoint_host(n.host);
                    (host.clone(), host, n.port)
                })
                .collect(),
        }
    }

    /// After a restart of the backend: every node of every cluster is started
    /// (which re-adopts a running one), and engines nobody owns are removed.
    async fn adopt(&self) {
        let clusters: Vec<(Scope, CacheCluster)> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .flat_map(|(s, r)| r.clusters.values().map(move |c| (s.clone(), c.clone())))
                .collect()
        };
        let mut known = HashSet::new();
        for (scope, c) in &clusters {
            for n in &c.nodes {
                known.insert(c.node_key(scope, &n.id));
            }
        }
        match self.runtime().list_nodes().await {
            Ok(running) => {
                for key in running.into_iter().filter(|k| !known.contains(k)) {
                    tracing::info!(node = %key, "removing orphaned engine");
                    let spec = orphan_spec(&self.cp.settings.nodes_dir, &key);
                    if let Err(e) = self.runtime().remove(&spec).await {
                        tracing::warn!(node = %key, error = %e, "could not remove orphaned engine");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list running engines"),
        }
        for (scope, c) in clusters {
            if c.status == lifecycle::DELETING {
                continue;
            }
            let mut any_restarted = false;
            for n in c
                .nodes
                .iter()
                .filter(|n| n.status == lifecycle::NODE_AVAILABLE)
            {
                let spec = self.spec(&scope, &c, n);
                let running = self.runtime().status(&spec).await == NodeStatus::Ready;
                if !running && c.replication_group_id.is_some() {
                    // A replication group member that died while the backend was down:
                    // the group's loop fails over (if it was the primary) before
                    // restarting it, so that an empty primary never comes back.
                    continue;
                }
                if let Err(e) = self.runtime().start(&spec).await {
                    tracing::warn!(node = %spec.key, error = %e, "could not start node after restart");
                    continue;
                }
                if !running {
                    any_restarted = true;
                    if engine::wait_ready(self.runtime(), &spec, READY_TIMEOUT)
                        .await
                        .is_ok()
                        && c.engine != EngineKind::Memcached
                    {
                        apply_params(
                            n.host,
                            n.port,
                            c.auth_token.as_deref(),
                            &runtime_config(self.cp.as_ref(), &scope, &c),
                        )
                        .await;
                    }
                }
            }
            self.serve_config_endpoint(
                &scope,
                &c,
                |n| n.status == lifecycle::NODE_AVAILABLE,
                c.config_version,
            )
            .await;
            if any_restarted {
                self.cp.event(
                    &scope,
                    "cache-cluster",
                    &c.id,
                    format!(
                        "Cache cluster {} nodes restarted after a backend restart",
                        c.id
                    ),
                );
            }
        }
    }

    /// Nodes of available clusters that died are started again, as AWS replaces a failed node.
    async fn health(&self) {
        let clusters: Vec<(Scope, CacheCluster)> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .flat_map(|(s, r)| {
                    r.clusters
                        .values()
                        // Replication group members: the group's own loop
                        // fails over and recovers them.
                        .filter(|c| {
                            c.status == lifecycle::AVAILABLE && c.replication_group_id.is_none()
                        })
                        .map(move |c| (s.clone(), c.clone()))
                })
                .collect()
        };
        for (scope, c) in clusters {
            if self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&(scope.clone(), c.id.clone()))
            {
                continue;
            }
            for n in &c.nodes {
                let spec = self.spec(&scope, &c, n);
                if self.runtime().status(&spec).await == NodeStatus::Stopped {
                    tracing::warn!(node = %spec.key, "cache node is down; recovering it");
                    if self.runtime().start(&spec).await.is_ok()
                        && engine::wait_ready(self.runtime(), &spec, READY_TIMEOUT)
                            .await
                            .is_ok()
                    {
                        if c.engine != EngineKind::Memcached {
                            apply_params(
                                n.host,
                                n.port,
                                c.auth_token.as_deref(),
                                &runtime_config(self.cp.as_ref(), &scope, &c),
                            )
                            .await;
                        }
                        self.cp.event(
                            &scope,
                            "cache-cluster",
                            &c.id,
                            format!("Recovered cache node {} of cluster {}", n.id, c.id),
                        );
                    }
                }
            }
        }
    }
}

fn orphan_spec(nodes_dir: &std::path::Path, key: &str) -> NodeSpec {
    NodeSpec {
        key: key.to_owned(),
        engine: EngineKind::Redis,
        version: String::new(),
        host: Ipv4Addr::LOCALHOST,
        port: 0,
        memory_bytes: 0,
        config: Vec::new(),
        data_dir: nodes_dir.join(key),
        auth_token: None,
        tls: false,
    }
}

/// Parameters of the cluster's group that are real engine directives:
/// (name, value, takes effect only at start).
fn engine_params(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
) -> Vec<(String, String, bool)> {
    let Ok(pg) = cp.find_parameter_group(scope, &c.parameter_group) else {
        return Vec::new();
    };
    pg.effective()
        .into_iter()
        .filter(|(p, _, _)| catalog::is_engine_directive(&p.parameter_name))
        .filter_map(|(p, v, source)| {
            let v = v.filter(|v| !v.is_empty())?;
            let at_start = p.change_type.as_deref() == Some("requires-reboot");
            // Defaults that need a restart stay as the engine's own: a default the
            // local binary does not know must not keep a node from starting.
            if at_start && source != "user" {
                return None;
            }
            Some((p.parameter_name.clone(), v, at_start))
        })
        .collect()
}

/// Directives passed at start: the user's values of reboot-only parameters
/// (Redis, Valkey), or memcached options for the user's values (Memcached).
fn startup_config(cp: &ControlPlane, scope: &Scope, c: &CacheCluster) -> Vec<(String, String)> {
    if c.engine == EngineKind::Memcached {
        let Ok(pg) = cp.find_parameter_group(scope, &c.parameter_group) else {
            return Vec::new();
        };
        return pg
            .values
            .iter()
            .filter_map(|(n, v)| memcached_option(n, v))
            .collect();
    }
    engine_params(cp, scope, c)
        .into_iter()
        .filter(|(_, _, s)| *s)
        .map(|(n, v, _)| (n, v))
        .collect()
}

/// An ElastiCache Memcached parameter as a memcached long option, where memcached has one.
fn memcached_option(name: &str, value: &str) -> Option<(String, String)> {
    let on = value == "1";
    let opt = |o: &str, v: &str| Some((o.to_owned(), v.to_owned()));
    let ext = |e: String| Some(("extended".to_owned(), e));
    match name {
        "backlog_queue_limit" => opt("listen-backlog", value),
        "binding_protocol" => opt("protocol", value),
        "cas_disabled" if on => opt("disable-cas", ""),
        "chunk_size" => opt("slab-min-size", value),
        "chunk_size_growth_factor" => opt("slab-growth-factor", value),
        "disable_flush_all" if on => opt("disable-flush-all", ""),
        "error_on_memory_exhausted" if on => opt("disable-evictions", ""),
        "large_memory_pages" if on => opt("enable-largepages", ""),
        "max_item_size" => opt("max-item-size", value),
        "max_simultaneous_connections" => opt("conn-limit", value),
        "hash_algorithm"
        | "idle_timeout"
        | "slab_automove"
        | "slab_chunk_max"
        | "watcher_logbuf_size"
        | "worker_logbuf_size" => ext(format!("{name}={value}")),
        "lru_crawler" | "lru_maintainer" => ext(if on {
            name.to_owned()
        } else {
            format!("no_{name}")
        }),
        "maxconns_fast" | "slab_reassign" | "track_sizes" if on => ext(name.to_owned()),
        _ => None,
    }
}

/// Directives set on running engines with `CONFIG SET`.
pub(super) fn runtime_config(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
) -> Vec<(String, String)> {
    engine_params(cp, scope, c)
        .into_iter()
        .filter(|(_, _, s)| !*s)
        .map(|(n, v, _)| (n, v))
        .collect()
}

pub(super) async fn connect(
    host: Ipv4Addr,
    port: u16,
    auth: Option<&str>,
) -> anyhow::Result<resp::Conn> {
    let mut conn = resp::Conn::connect(host, port).await?;
    if let Some(t) = auth {
        conn.cmd(&["AUTH", t]).await?;
    }
    Ok(conn)
}

/// `CONFIG SET` each parameter; one the engine refuses is logged and skipped.
pub(super) async fn apply_params(
    host: Ipv4Addr,
    port: u16,
    auth: Option<&str>,
    params: &[(String, String)],
) {
    let Ok(mut conn) = connect(host, port, auth).await else {
        tracing::warn!(port, "could not connect to apply parameters");
        return;
    };
    // One round trip for all of them; each `CONFIG SET` still stands alone.
    let cmds: Vec<Vec<Vec<u8>>> = params
        .iter()
        .map(|(name, value)| {
            vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                name.as_bytes().to_vec(),
                value.as_bytes().to_vec(),
            ]
        })
        .collect();
    match conn.pipeline(&cmds).await {
        Ok(replies) => {
            for ((name, value), reply) in params.iter().zip(replies) {
                if let resp::Reply::Error(e) = reply {
                    tracing::debug!(port, %name, %value, error = %e, "engine refused parameter");
                }
            }
        }
        Err(e) => tracing::debug!(port, error = %e, "CONFIG SET failed"),
    }
}

/// `SAVE` before a restart that keeps data.
async fn save(host: Ipv4Addr, port: u16, auth: Option<&str>) {
    let mut conn = match connect(host, port, auth).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(port, error = %e, "could not connect to SAVE before restart");
            return;
        }
    };
    // A background save (a replica's full sync, a snapshot) must end first:
    // the engine refuses SAVE meanwhile, and stopping it then loses data.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match conn.cmd(&["SAVE"]).await {
            Ok(_) => return,
            Err(e) if e.to_string().contains("in progress") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(port, error = %e, "SAVE before restart failed");
                return;
            }
        }
    }
}

/// Whether `now` falls inside a `ddd:hh24:mi-ddd:hh24:mi` window (UTC).
fn in_window(window: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let minute = |s: &str| -> Option<u32> {
        let (d, t) = s.split_once(':')?;
        let day = u32::try_from(DAYS.iter().position(|x| *x == d)?).ok()?;
        let (h, m) = t.split_once(':')?;
        Some(day * 1440 + h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
    };
    let Some((a, b)) = window
        .split_once('-')
        .and_then(|(a, b)| Some((minute(a)?, minute(b)?)))
    else {
        return false;
    };
    let week = 7 * 1440;
    let cur = now.weekday().num_days_from_sunday() * 1440 + now.hour() * 60 + now.minute();
    (cur + week - a) % week < (b + week - a) % week
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_windows() {
        // 2026-11-22 is a Sunday.
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T05:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(in_window("sun:05:00-sun:06:00", t));
        assert!(!in_window("sun:06:00-sun:07:00", t));
        assert!(in_window("sat:23:00-sun:06:00", t));
        assert!(!in_window("mon:05:00-mon:06:00", t));
    }

    #[test]
    fn memcached_parameters_become_options() {
        assert_eq!(
            memcached_option("max_item_size", "2097152"),
            Some(("max-item-size".into(), "2097152".into()))
        );
        assert_eq!(
            memcached_option("cas_disabled", "1"),
            Some(("disable-cas".into(), String::new()))
        );
        assert_eq!(memcached_option("cas_disabled", "0"), None);
        assert_eq!(
            memcached_option("lru_crawler", "0"),
            Some(("extended".into(), "no_lru_crawler".into()))
        );
        assert_eq!(
            memcached_option("memcached_connections_overhead", "100"),
            None
        );
    }
}
