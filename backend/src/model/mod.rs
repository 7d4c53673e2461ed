//! The domain: control-plane state and the rules of ElastiCache.
//! No HTTP, no XML, no Docker here: engines are reached through
//! [`crate::engine::EngineRuntime`] by the reconciler only.
//!
//! Layout: a folder per resource family (`cluster/`, `replication_group/` with
//! its `shards` (cluster mode) and `migration`, `parameter_group/`,
//! `subnet_group/`, `snapshot/`), and beside them what every family shares:
//! this file (the `ControlPlane`, its state per account and region, records of
//! more than one family stored together), `error`, `arn`, `validate`, `tags`,
//! `events`, `lifecycle`, `record`. A family imports the shared modules and the
//! families below it, never one above: `parameter_group`, `subnet_group`,
//! `user` (users and user groups), `reserved_node` ← `cluster` ←
//! `replication_group` ← `snapshot`, `service_update` ← `serverless`
//! (serverless caches, backed by hidden groups, clusters and snapshots).
//! `global_datastore` (global datastores: member replication groups across
//! regions) sits above `replication_group`.

pub mod arn;
pub mod cluster;
pub mod error;
pub mod events;
pub mod global_datastore;
pub mod lifecycle;
pub mod parameter_group;
pub mod record;
pub mod replication_group;
pub mod reserved_node;
pub mod serverless;
pub mod service_update;
pub mod snapshot;
pub mod subnet_group;
pub mod tags;
pub mod user;
pub mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::EngineRuntime;
use crate::store::Store;

pub use error::{Error, Fault, Result};
pub use replication_group::{migration, shards};

/// Where a resource lives: every resource belongs to one account and one region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    #[must_use]
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }
}

/// A key/value tag as the API carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// All resources of one (account, region).
#[derive(Debug, Default, Clone)]
pub struct Region {
    pub clusters: BTreeMap<String, cluster::CacheCluster>,
    pub replication_groups: BTreeMap<String, replication_group::ReplicationGroup>,
    pub parameter_groups: BTreeMap<String, parameter_group::ParameterGroup>,
    pub subnet_groups: BTreeMap<String, subnet_group::SubnetGroup>,
    /// Snapshots by name; add and remove them with `Region::put_snapshot`
    /// and `Region::take_snapshot`, which keep `snapshot_order` with them.
    pub snapshots: BTreeMap<String, snapshot::Snapshot>,
    /// The snapshots' (creation date, name), the order DescribeSnapshots
    /// answers in, so that a page is found without sorting them all.
    pub(crate) snapshot_order: std::collections::BTreeSet<(chrono::DateTime<chrono::Utc>, String)>,
    pub users: BTreeMap<String, user::User>,
    pub user_groups: BTreeMap<String, user::UserGroup>,
    pub reserved_nodes: BTreeMap<String, reserved_node::ReservedNode>,
    pub update_actions: BTreeMap<String, service_update::UpdateActionRecord>,
    pub serverless_caches: BTreeMap<String, serverless::ServerlessCache>,
    /// Global datastores created in this region (seen from every region of the account).
    pub global_replication_groups: BTreeMap<String, global_datastore::GlobalReplicationGroup>,
    /// The newest events (at most [`events::IN_MEMORY`]), oldest first.
    pub events: Vec<events::Event>,
    /// The date of the oldest stored event older than `events` holds, if
    /// any: the store has older ones that memory does not.
    pub older_events: Option<chrono::DateTime<chrono::Utc>>,
    /// Tags of the `default.*` parameter groups and `default` subnet group,
    /// which are not stored as records of their own.
    pub default_tags: BTreeMap<String, Vec<Tag>>,
    /// Clusters being created, by id, with their node counts: being stored,
    /// not visible yet (`insert_clusters`), but their ids and quota taken.
    pub(crate) pending_clusters: BTreeMap<String, usize>,
    /// Replication groups being created likewise.
    pub(crate) pending_groups: std::collections::BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub regions: BTreeMap<Scope, Region>,
    pub event_seq: u64,
}

impl State {
    pub fn region(&mut self, scope: &Scope) -> &mut Region {
        self.regions.entry(scope.clone()).or_default()
    }
}

/// Settings of the control plane that do not change while it runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Root of node data directories (`<data-dir>/nodes`).
    pub nodes_dir: PathBuf,
    /// The address clients reach engines on (endpoints' `Address`).
    pub advertise_host: String,
    /// Root of snapshot files (`<data-dir>/snapshots`).
    pub snapshots_dir: PathBuf,
    /// Local S3 buckets (`<data-dir>/s3`): `s3://bucket/key` is `<buckets_dir>/bucket/key`.
    pub buckets_dir: PathBuf,
    /// The local key store of encryption at rest (`<data-dir>/kms`).
    pub keys_dir: PathBuf,
}

impl Settings {
    /// The endpoint address of something answering on `ip`: its own loopback
    /// address, or the advertised host for 127.0.0.1.
    #[must_use]
    pub fn endpoint_host(&self, ip: std::net::Ipv4Addr) -> String {
        if ip == std::net::Ipv4Addr::LOCALHOST {
            self.advertise_host.clone()
        } else {
            ip.to_string()
        }
    }
}

/// Free space a create needs on the data directory (`check_room`).
pub const ROOM_RESERVE: u64 = 16 << 20;

/// One page of `items`: the `size` after the first `skip`, cloned, and how
/// many there are, counted up to one past the page (enough to tell whether
/// another page follows and whether `skip` is past the end). Only the page
/// is cloned and nothing past it is visited, so that a describe costs the
/// same whatever else is stored (callers iterate under the state lock).
pub fn page_of<'a, T: Clone + 'a>(
    items: impl Iterator<Item = &'a T>,
    skip: usize,
    size: usize,
) -> (Vec<T>, usize) {
    let mut total = 0;
    let mut page = Vec::new();
    for item in items.take(skip.saturating_add(size).saturating_add(1)) {
        if total >= skip && page.len() < size {
            page.push(item.clone());
        }
        total += 1;
    }
    (page, total)
}

/// The control plane: state in memory, written through to the store on every change.
pub struct ControlPlane {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    pub runtime: Arc<dyn EngineRuntime>,
    pub settings: Settings,
    wake: tokio::sync::Notify,
    wake_groups: tokio::sync::Notify,
}

impl ControlPlane {
    /// Load every record from the store.
    pub fn load(
        store: Arc<dyn Store>,
        runtime: Arc<dyn EngineRuntime>,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let state = record::load_state(store.as_ref())?;
        Ok(Self {
            store,
            state: Mutex::new(state),
            runtime,
            settings,
            wake: tokio::sync::Notify::new(),
            wake_groups: tokio::sync::Notify::new(),
        })
    }

    /// Lock the state. Never held across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Persist one record (or remove it when `value` is `None`).
    pub fn persist<T: Serialize>(
        &self,
        kind: &str,
        scope: &Scope,
        id: &str,
        value: Option<&T>,
    ) -> Result<()> {
        let key = record::key(kind, scope, id);
        let res = match value {
            Some(v) => {
                let bytes = record::encode(v).map_err(Error::internal)?;
                self.store.put(&key, &bytes)
            }
            None => self.store.delete(&key),
        };
        res.map_err(Error::storage)
    }

    /// Apply `f` to the tags of one record of `scope` (found by `record`,
    /// stored as `kind`/`id`) under the lock: a change is stored before it
    /// is visible, so a refused write changes nothing; a read (no change)
    /// writes nothing. Returns the tags after.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn change_tags<T: Clone + Serialize>(
        &self,
        scope: &Scope,
        kind: &str,
        id: &str,
        record: impl FnOnce(&mut Region) -> Option<&mut T>,
        tags: impl Fn(&mut T) -> &mut Vec<Tag>,
        missing: impl FnOnce() -> Error,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        let mut st = self.lock();
        let rec = record(st.region(scope)).ok_or_else(missing)?;
        let mut next = tags(rec).clone();
        f(&mut next)?;
        if next != *tags(rec) {
            let mut whole = rec.clone();
            *tags(&mut whole) = next;
            self.persist(kind, scope, id, Some(&whole))?;
            *rec = whole;
        }
        Ok(tags(rec).clone())
    }

    /// Whether the data directory has room for what a create starts (node
    /// directories, engine files, snapshots): a create on a full disk is
    /// refused before anything is recorded, rather than acknowledged and then
    /// failed. Deletes and other changes are not held to it (they free space).
    pub fn check_room(&self) -> Result<()> {
        let dir = &self.settings.nodes_dir;
        // A directory that cannot be examined is left to the writes to report.
        let Ok(st) = rustix::fs::statvfs(dir) else {
            return Ok(());
        };
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < ROOM_RESERVE {
            return Err(Error::storage(format!(
                "the data directory {} has {} KiB free, less than the {} MiB its nodes need \
                 (No space left on device)",
                dir.display(),
                free / 1024,
                ROOM_RESERVE >> 20
            )));
        }
        Ok(())
    }

    /// Persist several records of one change in one transaction: after a
    /// crash either all of them are stored or none. Each item is
    /// `(kind, id, value)`, `None` removing the record.
    pub fn persist_all(
        &self,
        scope: &Scope,
        items: &[(&str, &str, Option<Vec<u8>>)],
    ) -> Result<()> {
        let batch: Vec<(String, Option<Vec<u8>>)> = items
            .iter()
            .map(|(kind, id, v)| (record::key(kind, scope, id), v.clone()))
            .collect();
        self.store.write(&batch).map_err(Error::storage)
    }

    /// Queue the records of one change as [`persist_all`](Self::persist_all)
    /// stores them, and return at once: called under the lock, the store
    /// keeps the lock's order of changes (a later change is never stored
    /// under this one), and the caller waits for the commit after releasing
    /// the lock ([`crate::store::Pending::wait`]). Only for changes already
    /// visible by design (the reconciler's own), not for acknowledged ones.
    pub(crate) fn submit_all(
        &self,
        scope: &Scope,
        items: &[(&str, &str, Option<Vec<u8>>)],
    ) -> Box<dyn crate::store::Pending + '_> {
        let batch = items
            .iter()
            .map(|(kind, id, v)| (record::key(kind, scope, id), v.clone()))
            .collect();
        self.store.submit(batch)
    }

    /// A record as [`persist_all`](Self::persist_all) stores it.
    pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
        record::encode(value).map_err(Error::internal)
    }

    /// Every (account, region) that holds anything, in order.
    pub fn scopes(&self) -> Vec<Scope> {
        self.lock().regions.keys().cloned().collect()
    }

    /// Ask the reconciler to look at the state now.
    pub fn wake(&self) {
        self.wake.notify_one();
        self.wake_groups.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The replication groups' loop waits on this one (a member that settles
    /// wakes its group at once).
    pub async fn groups_woken(&self) {
        self.wake_groups.notified().await;
    }

    /// The clock, one place so that tests and events agree: the system
    /// clock moved by the configured offset (see [`set_clock_offset`]).
    #[must_use]
    pub fn now() -> DateTime<Utc> {
        Utc::now()
            + CLOCK_OFFSET
                .get()
                .copied()
                .unwrap_or_else(chrono::Duration::zero)
    }
}

/// Records of more than one family, stored together.
impl ControlPlane {
    /// Store new clusters (and the replication group they make up, if any) at
    /// once, after the existence and quota checks; then wake the reconciler.
    ///
    /// The records are durable, in one transaction, before anyone sees them:
    /// the reconciler never starts an engine for a record a crash could lose,
    /// and a crash never keeps half of a group.
    pub(crate) fn insert_clusters(
        &self,
        scope: &Scope,
        clusters: &[cluster::CacheCluster],
        group: Option<&replication_group::ReplicationGroup>,
    ) -> Result<()> {
        let mut items = Vec::new();
        for cluster in clusters {
            items.push(("cluster", cluster.id.as_str(), Some(Self::encode(cluster)?)));
        }
        if let Some(g) = group {
            items.push(("replicationgroup", g.id.as_str(), Some(Self::encode(g)?)));
        }
        {
            let mut st = self.lock();
            let r = st.region(scope);
            if let Some(g) = group {
                if r.replication_groups.contains_key(&g.id) || r.pending_groups.contains(&g.id) {
                    return Err(Error::new(
                        Fault::ReplicationGroupAlreadyExists,
                        format!("Replication group {} already exists.", g.id),
                    ));
                }
            }
            for cluster in clusters {
                if r.clusters.contains_key(&cluster.id)
                    || r.pending_clusters.contains_key(&cluster.id)
                {
                    return Err(Error::new(
                        Fault::CacheClusterAlreadyExists,
                        format!("Cache cluster {} already exists.", cluster.id),
                    ));
                }
            }
            if r.clusters.len() + r.pending_clusters.len() + clusters.len() > cluster::MAX_CLUSTERS
            {
                return Err(Error::new(
                    Fault::ClusterQuotaForCustomerExceeded,
                    format!("The request cannot be processed: the quota of {} cache clusters has been reached.", cluster::MAX_CLUSTERS),
                ));
            }
            let total_nodes: usize = r.clusters.values().map(|c| c.nodes.len()).sum::<usize>()
                + r.pending_clusters.values().sum::<usize>();
            let new_nodes: usize = clusters.iter().map(|c| c.nodes.len()).sum();
            if total_nodes + new_nodes > cluster::MAX_NODES_PER_CUSTOMER {
                return Err(Error::new(
                    Fault::NodeQuotaForCustomerExceeded,
                    format!("The request cannot be processed: the quota of {} cache nodes has been reached.", cluster::MAX_NODES_PER_CUSTOMER),
                ));
            }
            // The ids and the quota are taken from here on.
            for cluster in clusters {
                r.pending_clusters
                    .insert(cluster.id.clone(), cluster.nodes.len());
            }
            if let Some(g) = group {
                r.pending_groups.insert(g.id.clone());
            }
        }
        // Stored outside the lock, so that concurrent creates share a commit
        // (the store's group commit) and nothing else waits for it; still
        // durable before anyone sees the records: until then they are only
        // pending (no describe, reconciler or change finds them, so no other
        // write of their keys can come first).
        let stored = self.persist_all(scope, &items);
        {
            let mut st = self.lock();
            let r = st.region(scope);
            for cluster in clusters {
                r.pending_clusters.remove(&cluster.id);
                if stored.is_ok() {
                    r.clusters.insert(cluster.id.clone(), cluster.clone());
                }
            }
            if let Some(g) = group {
                r.pending_groups.remove(&g.id);
                if stored.is_ok() {
                    r.replication_groups.insert(g.id.clone(), g.clone());
                }
            }
        }
        stored?;
        self.wake();
        Ok(())
    }
}

/// Users and the replication groups that attach them (families on either side).
impl ControlPlane {
    /// The replication groups a user group is attached to.
    pub fn replication_groups_with_user_group(&self, scope: &Scope, id: &str) -> Vec<String> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| {
                r.replication_groups
                    .values()
                    .filter(|g| g.user_group_ids.iter().any(|u| u == id))
                    .map(|g| g.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every node of replication group `id` has its users now.
    pub fn users_pushed(&self, scope: &Scope, id: &str) {
        let _ = self.update_replication_group(scope, id, |g| {
            g.users_pending = false;
            Ok(())
        });
    }

    /// `DeleteUserGroup`: refused while a replication group attaches the group.
    pub fn delete_user_group(&self, scope: &Scope, id: &str) -> Result<user::UserGroup> {
        let in_use = self
            .replication_groups_with_user_group(scope, id)
            .into_iter()
            .next();
        self.mark_user_group_deleted(scope, id, in_use.as_deref())
    }
}

static CLOCK_OFFSET: std::sync::OnceLock<chrono::Duration> = std::sync::OnceLock::new();

/// Move the control plane's clock (`--clock-offset`), once, at start: lets
/// tests reach a snapshot window or the next day without waiting.
pub fn set_clock_offset(offset: chrono::Duration) {
    let _ = CLOCK_OFFSET.set(offset);
}

/// Parse a clock offset: an integer with an optional unit `s`, `m`, `h` or
/// `d` (seconds when none), optionally negative: `90m`, `1d`, `-3600`.
pub fn parse_clock_offset(s: &str) -> std::result::Result<chrono::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid clock offset {s:?}: expected e.g. 3600, 90m, 2h or 1d"))?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => {
            return Err(format!(
                "invalid clock offset unit in {s:?}: use s, m, h or d"
            ))
        }
    };
    Ok(chrono::Duration::seconds(n * secs))
}

/// Format a timestamp as the API does (ISO 8601, UTC, milliseconds).
#[must_use]
pub fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
pub(crate) mod test_support {
    /// A control plane on `store`, its engines and files under `dir`.
    pub(crate) fn control_plane_on(
        dir: &std::path::Path,
        store: std::sync::Arc<dyn crate::store::Store>,
    ) -> super::ControlPlane {
        let runtime = std::sync::Arc::new(
            crate::engine::process::ProcessRuntime::new(dir.join("rt")).unwrap(),
        );
        super::ControlPlane::load(
            store,
            runtime,
            super::Settings {
                nodes_dir: dir.join("nodes"),
                advertise_host: "127.0.0.1".into(),
                snapshots_dir: dir.join("snapshots"),
                buckets_dir: dir.join("s3"),
                keys_dir: dir.join("kms"),
            },
        )
        .unwrap()
    }
}

#[cfg(test)]
mod layout_tests {
    /// A family imports the shared modules and the families below it, never one
    /// above: parameter_group, subnet_group, user, reserved_node ← cluster ←
    /// replication_group ← snapshot, service_update ← serverless.
    #[test]
    fn families_import_only_families_below() {
        let families: [(&str, &[&str]); 9] = [
            ("parameter_group", &[include_str!("parameter_group/mod.rs")]),
            ("user", &[include_str!("user/mod.rs")]),
            ("subnet_group", &[include_str!("subnet_group/mod.rs")]),
            ("reserved_node", &[include_str!("reserved_node/mod.rs")]),
            ("cluster", &[include_str!("cluster/mod.rs")]),
            (
                "replication_group",
                &[
                    include_str!("replication_group/mod.rs"),
                    include_str!("replication_group/shards.rs"),
                    include_str!("replication_group/migration.rs"),
                ],
            ),
            ("snapshot", &[include_str!("snapshot/mod.rs")]),
            ("service_update", &[include_str!("service_update/mod.rs")]),
            ("serverless", &[include_str!("serverless/mod.rs")]),
        ];
        let above = |name: &str| -> Vec<&str> {
            let mut v = match name {
                "parameter_group" | "subnet_group" | "user" | "reserved_node" => {
                    vec![
                        "cluster",
                        "replication_group",
                        "shards",
                        "migration",
                        "snapshot",
                        "service_update",
                    ]
                }
                "cluster" => vec![
                    "replication_group",
                    "shards",
                    "migration",
                    "snapshot",
                    "service_update",
                ],
                "replication_group" => vec!["snapshot", "service_update"],
                "snapshot" => vec!["service_update"],
                "service_update" => vec!["snapshot"],
                _ => vec![],
            };
            if name != "serverless" {
                v.push("serverless");
            }
            v
        };
        for (name, texts) in families {
            for text in texts {
                for other in above(name) {
                    for needle in [
                        format!("super::{other}::"),
                        format!("model::{other}::"),
                        format!("super::{other},"),
                        format!(" {other}::{{"),
                    ] {
                        assert!(
                            !text.contains(&needle),
                            "model/{name} reaches into {other}, a family above it ({needle})"
                        );
                    }
                }
            }
        }
    }
}
