//! The clusters' pass: the reconciler's work on each cache cluster.
//!
//! For a cluster that needs work it removes the nodes marked for deletion,
//! starts new nodes and restarts the ones that must, pushes parameters, and
//! settles statuses and events once the engines answer; it also applies
//! pending changes in maintenance windows, re-adopts engines after a backend
//! restart, and recovers dead nodes.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::discovery::ClusterConfig;
use super::mcdump;
use super::node::{self, apply_params, orphan_spec, runtime_config, READY_TIMEOUT};
use super::Reconciler;
use crate::engine::{self, EngineKind, NodeStatus};
use crate::model::cluster::{apply_pending, CacheCluster, CacheNode};
use crate::model::{lifecycle, ControlPlane, Scope};

const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Failed passes a creating cluster may take before it reads `create-failed`
/// (a node start can fail for passing reasons: a slow daemon, a port still closing).
const CREATE_ATTEMPTS: u32 = 3;

/// What one pass did to a cluster's nodes.
#[derive(Default)]
struct Pass {
    /// Nothing failed.
    ok: bool,
    /// Nodes started or restarted in this pass, and answering.
    done: Vec<String>,
    /// Nodes removed.
    removed: Vec<String>,
    /// Nodes restarted (a subset of `done`).
    restarted: Vec<String>,
    /// What the runtime ran instead of what was asked (e.g. another version).
    substitutions: Vec<String>,
    /// The cluster's parameters are on its running nodes.
    params_applied: bool,
}

impl Pass {
    /// Whether the cluster's node list changed (for the configuration endpoint).
    fn changed(&self) -> bool {
        !self.removed.is_empty() || self.done.iter().any(|d| !self.restarted.contains(d))
    }
}

impl Reconciler {
    fn needs_work(c: &CacheCluster) -> bool {
        c.status != lifecycle::CREATE_FAILED
            && ((c.status != lifecycle::AVAILABLE && c.status != lifecycle::SNAPSHOTTING)
                || c.params_dirty
                || c.nodes
                    .iter()
                    .any(|n| n.status != lifecycle::NODE_AVAILABLE || n.restart))
    }

    /// Apply pending modified values of clusters whose maintenance window is open now.
    pub(super) fn maintenance(&self) {
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
    pub(super) fn tick(self: &Arc<Self>) {
        // The members of one create (a group's, a cluster's nodes) share one
        // start slot and start together, whatever order their tasks run in
        // (see `slots`).
        let work: Vec<(Scope, String)> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .flat_map(|(scope, r)| {
                    r.clusters
                        .values()
                        .filter(|c| Self::needs_work(c))
                        .map(move |c| (scope.clone(), c.id.clone()))
                })
                .collect()
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

    /// One pass over one cluster, in phases: remove the nodes marked for
    /// deletion, start and restart nodes, push parameters, then settle the
    /// record and say what happened. Returns false when something failed.
    async fn reconcile(&self, scope: &Scope, id: &str) -> bool {
        let Ok(c) = self.cp.find_cluster(scope, id) else {
            return true;
        };
        if c.status == lifecycle::DELETING {
            return self.remove_cluster(scope, &c).await;
        }
        let mut pass = Pass {
            ok: true,
            ..Pass::default()
        };
        self.remove_marked_nodes(scope, &c, &mut pass).await;
        self.start_nodes(scope, &c, &mut pass).await;
        if pass.ok {
            pass.params_applied = self.push_parameters(scope, &c, &pass.done).await;
        }
        if !pass.ok && c.status == lifecycle::CREATING {
            self.count_create_failure(scope, id);
            return false;
        }
        // The configuration endpoint lists the new nodes before the cluster
        // reads `available` (clients discover nodes once it is).
        let changed = pass.changed();
        self.serve_config_endpoint(
            scope,
            &c,
            |n| {
                !pass.removed.contains(&n.id)
                    && (n.status == lifecycle::NODE_AVAILABLE || pass.done.contains(&n.id))
            },
            c.config_version + u64::from(changed),
        )
        .await;
        let Some((was, cur)) = super::blocking(|| self.settle(scope, &c, &pass, changed)) else {
            return pass.ok;
        };
        self.serve_config_endpoint(
            scope,
            &cur,
            |n| n.status == lifecycle::NODE_AVAILABLE,
            cur.config_version,
        )
        .await;
        super::blocking(|| self.announce(scope, &was, &cur, &pass));
        pass.ok
    }

    /// A deleting cluster: remove its nodes and its configuration endpoint,
    /// then the record.
    async fn remove_cluster(&self, scope: &Scope, c: &CacheCluster) -> bool {
        let id = c.id.as_str();
        if self.cp.snapshot_taken_from(scope, id) {
            // A final snapshot still reads this node's data: look again soon.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return true;
        }
        for n in &c.nodes {
            let spec = self.spec(scope, c, n);
            if let Err(e) = self.runtime().remove(&spec).await {
                tracing::warn!(node = %spec.key, error = %e, "removing node failed");
                return false;
            }
        }
        self.discovery.stop(&c.node_key(scope, "config"));
        let gone = {
            // Removed from the store first, under the lock (the store always
            // holds the last change).
            let mut st = self.cp.lock();
            st.region(scope).clusters.contains_key(id)
                && self
                    .cp
                    .persist::<CacheCluster>("cluster", scope, id, None)
                    .is_ok()
                && st.region(scope).clusters.remove(id).is_some()
        };
        if gone {
            self.cp.event(
                scope,
                "cache-cluster",
                id,
                format!("Cache cluster {id} deleted"),
            );
        }
        true
    }

    /// Remove the nodes marked for deletion.
    async fn remove_marked_nodes(&self, scope: &Scope, c: &CacheCluster, pass: &mut Pass) {
        for n in c
            .nodes
            .iter()
            .filter(|n| n.status == lifecycle::NODE_DELETING)
        {
            match self.runtime().remove(&self.spec(scope, c, n)).await {
                Ok(()) => pass.removed.push(n.id.clone()),
                Err(e) => {
                    tracing::warn!(cluster = %c.id, node = %n.id, error = %e, "removing node failed");
                    pass.ok = false;
                }
            }
        }
    }

    /// Start new nodes and restart the ones that must, all at once.
    async fn start_nodes(&self, scope: &Scope, c: &CacheCluster, pass: &mut Pass) {
        let id = c.id.as_str();
        let mut jobs = Vec::new();
        if let Some(n) = c.nodes.iter().find(|n| {
            n.status != lifecycle::NODE_DELETING
                && (n.status == lifecycle::NODE_CREATING || n.restart)
        }) {
            self.announce_pull(scope, c, &self.spec(scope, c, n)).await;
        }
        for n in c
            .nodes
            .iter()
            .filter(|n| n.status != lifecycle::NODE_DELETING)
        {
            let needs_start = n.status == lifecycle::NODE_CREATING || n.restart;
            if !needs_start {
                continue;
            }
            let spec = self.spec(scope, c, n);
            // A group turning from fronts into a Redis Cluster again: the
            // node's front leaves its endpoint to the engine, the engine
            // (beside it until now) saves first, and its cluster identity
            // starts anew (a `nodes.conf` from an earlier time as a Redis
            // Cluster names peers and slots of then).
            let recluster = n.restart
                && c.replication_group_id
                    .as_deref()
                    .and_then(|rg| self.cp.find_replication_group(scope, rg).ok())
                    .is_some_and(|g| g.recluster);
            if recluster {
                if let Some(rg) = c.replication_group_id.as_deref() {
                    self.proxies
                        .stop(&format!("{}{}", Self::fronted_prefix(scope, rg), c.id));
                }
            }
            let rt = self.cp.runtime.clone();
            let starts = self.starts.clone();
            let share = super::slots::share_key(scope, &c.id, c.replication_group_id.as_deref());
            let fast_cron = self.fast_cron.clone();
            let ca = self.ca.clone();
            let keys = crate::atrest::KeyStore::new(&self.cp.settings.keys_dir);
            let names = node::tls_names(self.cp.as_ref(), scope, c, spec.host);
            let restart = n.restart;
            let keep = n.keep_data;
            let tls = c.transit_encryption;
            let node_id = n.id.clone();
            let endpoint_port = n.port;
            // A restore: the snapshot's RDB is the new node's `dump.rdb`.
            let restore = c
                .restore_from
                .clone()
                .filter(|_| n.status == lifecycle::NODE_CREATING && !restart);
            // A serverless Memcached cache's restore loads its dump once the node runs.
            let (restore, load) = if spec.engine == EngineKind::Memcached {
                (None, restore)
            } else {
                (restore, None)
            };
            jobs.push(tokio::spawn(async move {
                let restoring = restore.is_some() || load.is_some();
                let began = Instant::now();
                let mut ready_in = READY_TIMEOUT;
                if let Some(rdb) = restore {
                    let size = std::fs::metadata(&rdb).map(|m| m.len()).unwrap_or(0);
                    // A large RDB takes the engine a while to load: a second more
                    // per 20 MiB (engines load hundreds of MiB a second).
                    ready_in += Duration::from_secs(size / (20 << 20));
                    tracing::info!(
                        node = %spec.key,
                        snapshot = %rdb.display(),
                        size = %node::mib(size),
                        "restoring a snapshot: copying its RDB into the node's data directory"
                    );
                    tokio::fs::create_dir_all(&spec.data_dir).await?;
                    // Decrypted when the snapshot is encrypted at rest.
                    let (from, to, keys) =
                        (rdb.clone(), spec.data_dir.join("dump.rdb"), keys.clone());
                    tokio::task::spawn_blocking(move || keys.copy_plain(&from, &to))
                        .await?
                        .map_err(|e| anyhow::anyhow!("cannot restore {}: {e:#}", rdb.display()))?;
                }
                if restart {
                    if keep && spec.engine != EngineKind::Memcached {
                        let mut ports = vec![spec.port, endpoint_port];
                        if recluster {
                            // No write is acknowledged after the SAVE (the
                            // engine saves nothing when it stops).
                            let engine = node::fronted_engine_port(endpoint_port);
                            node::refuse_writes(spec.host, engine, tls).await;
                            ports.insert(0, engine);
                        }
                        node::save_at(spec.host, &ports, tls).await;
                    }
                    rt.stop(&spec).await?;
                    if !keep {
                        // A reboot loses what was not persisted, as on AWS.
                        let _ = std::fs::remove_file(spec.data_dir.join("dump.rdb"));
                    }
                    if recluster {
                        let _ = std::fs::remove_file(spec.data_dir.join("nodes.conf"));
                    }
                }
                // A start slot until the engine answers, at most SLOT_HOLD
                // (for a restore, until it runs: loading an RDB holds none),
                // shared with the other nodes of the same create.
                let slot = starts.take(&share).await;
                let info = node::start(rt.as_ref(), &ca, &spec, &names).await?;
                node::note_fast_cron(&fast_cron, &spec);
                if restoring && spec.engine != EngineKind::Memcached {
                    drop(slot);
                    // The engine loads the RDB before it answers: say how far it is.
                    tokio::select! {
                        r = engine::wait_ready(rt.as_ref(), &spec, ready_in) => r?,
                        () = node::log_loading(&spec, tls) => {}
                    }
                    tracing::info!(
                        node = %spec.key,
                        seconds = began.elapsed().as_secs_f64(),
                        "restoring a snapshot: done, the node has loaded it"
                    );
                } else {
                    let ready = engine::wait_ready(rt.as_ref(), &spec, READY_TIMEOUT);
                    tokio::pin!(ready);
                    tokio::select! {
                        r = &mut ready => {
                            drop(slot);
                            r?;
                        }
                        () = tokio::time::sleep(super::slots::SLOT_HOLD) => {
                            drop(slot);
                            ready.await?;
                        }
                    }
                }
                if let Some(dump) = load {
                    let data = tokio::task::spawn_blocking(move || {
                        let data = std::fs::read(&dump)?;
                        keys.plaintext(data)
                    })
                    .await??;
                    tracing::info!(
                        node = %spec.key,
                        size = %node::mib(data.len() as u64),
                        "restoring a snapshot: loading its Memcached dump into the node"
                    );
                    let items = mcdump::decode(&data)?;
                    let n = mcdump::load(spec.host, spec.port, tls, &items, &spec.key).await?;
                    tracing::info!(
                        node = %spec.key,
                        items = n,
                        seconds = began.elapsed().as_secs_f64(),
                        "restoring a snapshot: done, the Memcached dump is loaded"
                    );
                }
                anyhow::Ok((node_id, restart, info.substitution))
            }));
        }
        for j in jobs {
            match j.await {
                Ok(Ok((node_id, restart, sub))) => {
                    if restart {
                        pass.restarted.push(node_id.clone());
                    }
                    if let Some(s) = sub {
                        pass.substitutions.push(s);
                    }
                    pass.done.push(node_id);
                }
                Ok(Err(e)) => {
                    pass.ok = false;
                    self.cp.event(
                        scope,
                        "cache-cluster",
                        id,
                        format!("Failed to start a cache node of cluster {id}: {e:#}"),
                    );
                }
                Err(e) => {
                    pass.ok = false;
                    tracing::error!(error = %e, "node task panicked");
                }
            }
        }
    }

    /// Push parameters to every running node (when they changed or nodes
    /// started). Whether the cluster's parameters are now applied.
    async fn push_parameters(&self, scope: &Scope, c: &CacheCluster, started: &[String]) -> bool {
        let fresh = self
            .cp
            .find_cluster(scope, &c.id)
            .unwrap_or_else(|_| c.clone());
        if fresh.engine == EngineKind::Memcached {
            // Memcached has no runtime configuration: its parameters only
            // take effect at a restart, so there is nothing to push.
            return true;
        }
        if !fresh.params_dirty && started.is_empty() {
            return false;
        }
        let params = runtime_config(self.cp.as_ref(), scope, &fresh);
        let users = node::cluster_users(self.cp.as_ref(), scope, &fresh);
        let mut ok = true;
        for n in fresh
            .nodes
            .iter()
            .filter(|n| n.status != lifecycle::NODE_DELETING)
        {
            // At the engine (a node served by a front answers beside it).
            let sp = self.spec(scope, &fresh, n);
            apply_params(sp.host, sp.port, fresh.transit_encryption, &params).await;
            // The users (AUTH tokens) too, live: the node's file has them for its
            // next start.
            if let Err(e) =
                node::push_users(sp.host, sp.port, fresh.transit_encryption, &users).await
            {
                tracing::warn!(cluster = %fresh.id, node = %n.id, error = %e, "could not push the node's users");
                ok = false;
            }
        }
        ok
    }

    /// A creating cluster's pass failed: after `CREATE_ATTEMPTS` of them it
    /// reads `create-failed`.
    fn count_create_failure(&self, scope: &Scope, id: &str) {
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
    }

    /// Write what the pass did into the record (nodes, parameter status,
    /// cluster status) and persist it: the status before, and the record now.
    /// `None` when the cluster is gone.
    fn settle(
        &self,
        scope: &Scope,
        c: &CacheCluster,
        pass: &Pass,
        changed: bool,
    ) -> Option<(String, CacheCluster)> {
        let generation = c.generation;
        let (was, cur, pending) = {
            let mut st = self.cp.lock();
            let cur = st.region(scope).clusters.get_mut(&c.id)?;
            cur.nodes.retain(|n| !pass.removed.contains(&n.id));
            for n in cur.nodes.iter_mut().filter(|n| pass.done.contains(&n.id)) {
                n.status = lifecycle::NODE_AVAILABLE.to_owned();
                n.restart = false;
                n.keep_data = false;
            }
            if pass.params_applied && cur.generation == generation {
                cur.params_dirty = false;
            }
            if !pass.restarted.is_empty() && pass.restarted.len() == cur.nodes.len() {
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
                && pass.ok
                && cur.status != lifecycle::SNAPSHOTTING
                && (cur.generation == generation || !cur.params_dirty)
            {
                cur.status = lifecycle::AVAILABLE.to_owned();
            }
            if changed {
                cur.config_version += 1;
            }
            let cur = cur.clone();
            // What the runtime ran instead of what was asked, and that the
            // cluster is now created, are said in the same transaction as its
            // record (one commit for all).
            let mut notes: Vec<String> = pass
                .substitutions
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|s| format!("Cache cluster {}: {s}", c.id))
                .collect();
            if was == lifecycle::CREATING && cur.status == lifecycle::AVAILABLE {
                notes.push(format!("Cache cluster {} created", c.id));
            }
            let events: Vec<_> = notes
                .into_iter()
                .filter_map(|m| {
                    self.cp
                        .stage_event(&mut st, scope, "cache-cluster", &c.id, m)
                        .ok()
                })
                .collect();
            // Queued for the store under the lock, so that it never overwrites
            // a later change (a delete marked meanwhile) in the store; the
            // commit is waited for outside it (creates and describes go on).
            let pending = ControlPlane::encode(&cur).ok().map(|bytes| {
                let mut items = vec![("cluster", c.id.as_str(), Some(bytes))];
                items.extend(events.iter().flat_map(|e| e.items()));
                self.cp.submit_all(scope, &items)
            });
            for e in &events {
                ControlPlane::show_event(&mut st, e);
            }
            (was, cur, pending)
        };
        if let Some(p) = pending {
            let _ = p.wait();
        }
        Some((was, cur))
    }

    /// The events of a pass: created, nodes added, removed or restarted,
    /// modification completed.
    fn announce(&self, scope: &Scope, was: &str, cur: &CacheCluster, pass: &Pass) {
        let id = cur.id.as_str();
        let added: Vec<&String> = pass
            .done
            .iter()
            .filter(|d| !pass.restarted.contains(d))
            .collect();
        if was == lifecycle::CREATING && cur.status == lifecycle::AVAILABLE {
            self.create_failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&(scope.clone(), id.to_owned()));
            // Its event was stored with the record (`settle`).
            return;
        }
        if !added.is_empty() && was != lifecycle::CREATING {
            let list: Vec<&str> = added.iter().map(|s| s.as_str()).collect();
            self.cp.event(
                scope,
                "cache-cluster",
                id,
                format!("Added cache node(s) {} in cluster {id}", list.join(", ")),
            );
        }
        if !pass.removed.is_empty() {
            self.cp.event(
                scope,
                "cache-cluster",
                id,
                format!(
                    "Removed cache node(s) {} from cluster {id}",
                    pass.removed.join(", ")
                ),
            );
        }
        for r in &pass.restarted {
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
    pub(super) async fn adopt(&self) {
        // Every node's key; and, cloned, only the clusters the loop below
        // has work for (a node to adopt or restart, a configuration
        // endpoint to serve): the lock is held while the API serves its
        // first requests, and most stored clusters may have neither.
        let mut known = HashSet::new();
        let clusters: Vec<(Scope, CacheCluster)> = {
            let st = self.cp.lock();
            let mut work = Vec::new();
            for (scope, r) in &st.regions {
                for c in r.clusters.values() {
                    for n in &c.nodes {
                        known.insert(c.node_key(scope, &n.id));
                    }
                    let has_work = c.status != lifecycle::DELETING
                        && (c
                            .nodes
                            .iter()
                            .any(|n| n.status == lifecycle::NODE_AVAILABLE)
                            || (c.engine == EngineKind::Memcached && c.config_port.is_some()));
                    if has_work {
                        work.push((scope.clone(), c.clone()));
                    }
                }
            }
            work
        };
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
        // Node directories nobody owns (a node whose cluster's deletion was
        // cut off after its engine stopped, or whose record never was stored):
        // removed too, with whatever engine still runs in them.
        for key in node_dirs(&self.cp.settings.nodes_dir)
            .into_iter()
            .filter(|k| !known.contains(k))
        {
            tracing::info!(node = %key, "removing orphaned node directory");
            let spec = orphan_spec(&self.cp.settings.nodes_dir, &key);
            if let Err(e) = self.runtime().remove(&spec).await {
                tracing::warn!(node = %key, error = %e, "could not remove orphaned node directory");
            }
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
                if let Err(e) = self.start_node(&scope, &c, &spec).await {
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
                            spec.host,
                            spec.port,
                            c.transit_encryption,
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
    pub(super) async fn health(&self) {
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
            if self.is_inflight(&scope, &c.id) {
                continue;
            }
            for n in &c.nodes {
                let spec = self.spec(&scope, &c, n);
                if self.runtime().status(&spec).await == NodeStatus::Stopped {
                    tracing::warn!(node = %spec.key, "cache node is down; recovering it");
                    // Claims the cluster and reads it again: it may be deleted by now.
                    if self.recover_node(&scope, &c.id, &spec).await
                        && engine::wait_ready(self.runtime(), &spec, READY_TIMEOUT)
                            .await
                            .is_ok()
                    {
                        if c.engine != EngineKind::Memcached {
                            apply_params(
                                spec.host,
                                spec.port,
                                c.transit_encryption,
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

/// The names of the node directories under `nodes_dir` (each a node key).
fn node_dirs(nodes_dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(nodes_dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
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
}
