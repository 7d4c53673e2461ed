//! Snapshots (backups) of Redis and Valkey data.
//!
//! A snapshot record is desired state like any other: `CreateSnapshot`,
//! `CopySnapshot`, a final snapshot on delete or the automatic-backup schedule
//! store it as `creating` with what to take it from; the worker
//! (`worker/snapshots.rs`) does the I/O — `BGSAVE` on the engine and a copy of
//! the RDB into `<data-dir>/snapshots/<account>/<region>/<name>/<node-group>.rdb`
//! — and settles it `available`. Restores name an RDB file; the reconciler puts
//! it in place as the new node's `dump.rdb` before its first start.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cluster::CacheCluster;
use super::replication_group::{ReplicationGroup, NODE_GROUP_ID};
use super::{
    arn, lifecycle, subnet_group, validate, ControlPlane, Error, Fault, Result, Scope, Tag,
};
use crate::engine::EngineKind;

/// Manual snapshots per account and region.
pub const MAX_SNAPSHOTS: usize = 1000;

pub const CREATING: &str = "creating";
pub const AVAILABLE: &str = "available";
pub const EXPORTING: &str = "exporting";
pub const DELETING: &str = "deleting";

pub const SOURCE_MANUAL: &str = "manual";
pub const SOURCE_AUTOMATED: &str = "automated";

/// Prefix AWS reserves for automatic backups.
pub const AUTOMATIC_PREFIX: &str = "automatic.";

/// One node's part of a snapshot: the RDB of one node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    pub cluster_id: String,
    pub node_group_id: String,
    pub cache_node_id: String,
    pub node_created: DateTime<Utc>,
    /// Size of the RDB file, once taken.
    pub size_bytes: Option<u64>,
    pub snapshot_created: Option<DateTime<Utc>>,
    pub az: String,
    /// Replicas of the node group when the snapshot was taken.
    pub replica_count: i64,
    pub replica_azs: Vec<String>,
    /// Slot ranges of the node group (`None`: every slot).
    #[serde(default)]
    pub slots: Option<String>,
}

/// One node group a snapshot saves: which member cluster's node, and what
/// the snapshot tells of the group.
#[derive(Debug, Clone)]
pub struct ShardSource {
    pub node_group_id: String,
    /// Slot ranges (`0-5460`); `None`: every slot.
    pub slots: Option<String>,
    pub cluster: CacheCluster,
    pub replica_count: usize,
}

/// An export asked for by `CopySnapshot` with `TargetBucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub bucket: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub name: String,
    /// `manual` or `automated`.
    pub source: String,
    pub status: String,
    pub cluster_id: Option<String>,
    pub replication_group_id: Option<String>,
    pub replication_group_description: Option<String>,
    pub engine: EngineKind,
    pub engine_version: String,
    pub node_type: String,
    pub num_cache_nodes: Option<i64>,
    pub preferred_az: Option<String>,
    pub cluster_created: DateTime<Utc>,
    pub maintenance_window: String,
    pub topic_arn: Option<String>,
    pub port: u16,
    pub parameter_group: String,
    pub subnet_group: Option<String>,
    pub vpc_id: String,
    pub auto_minor_version_upgrade: bool,
    pub retention_limit: i64,
    pub window: String,
    pub num_node_groups: i64,
    pub automatic_failover: Option<bool>,
    pub node_snapshots: Vec<NodeSnapshot>,
    pub tags: Vec<Tag>,
    pub created: DateTime<Utc>,
    /// The member cluster whose node the worker saves (`BGSAVE`).
    pub take_from: Option<String>,
    /// Or: the snapshot whose files the worker copies.
    pub copy_of: Option<String>,
    /// Exports still to write into local buckets.
    #[serde(default)]
    pub exports: Vec<Export>,
}

impl Snapshot {
    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "snapshot", &self.name)
    }

    /// The node group ids this snapshot holds one RDB file for.
    #[must_use]
    pub fn node_groups(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .node_snapshots
            .iter()
            .map(|n| n.node_group_id.clone())
            .collect();
        v.dedup();
        v
    }
}

/// `CreateSnapshot` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct CreateSnapshot {
    pub name: String,
    pub cluster_id: Option<String>,
    pub replication_group_id: Option<String>,
    pub kms_key_id: Option<String>,
    pub tags: Vec<Tag>,
}

/// What `DescribeSnapshots` filters on.
#[derive(Debug, Clone, Default)]
pub struct SnapshotQuery {
    pub name: Option<String>,
    pub cluster_id: Option<String>,
    pub replication_group_id: Option<String>,
    /// `user` (manual) or `system` (automated).
    pub source: Option<String>,
}

/// Directory of one snapshot's files.
#[must_use]
pub fn snapshot_dir(root: &Path, scope: &Scope, name: &str) -> PathBuf {
    root.join(&scope.account).join(&scope.region).join(name)
}

/// The RDB file of one node group of a snapshot.
#[must_use]
pub fn rdb_path(root: &Path, scope: &Scope, name: &str, node_group: &str) -> PathBuf {
    snapshot_dir(root, scope, name).join(format!("{node_group}.rdb"))
}

/// Where an export of `name`'s node group goes: `<bucket>/<name>-<node-group>.rdb`,
/// as ElastiCache names exported files.
#[must_use]
pub fn export_path(buckets: &Path, bucket: &str, name: &str, node_group: &str) -> PathBuf {
    buckets
        .join(bucket)
        .join(format!("{name}-{node_group}.rdb"))
}

/// `CacheSize` as ElastiCache shows it: megabytes, or kilobytes below one.
#[must_use]
pub fn cache_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MB", (bytes + (1 << 19)) >> 20)
    } else {
        format!("{} KB", bytes.div_ceil(1024).max(1))
    }
}

/// The name of an automatic backup taken at `at`.
#[must_use]
pub fn automatic_name(source: &str, at: DateTime<Utc>) -> String {
    format!("{AUTOMATIC_PREFIX}{source}-{}", at.format("%Y-%m-%d-%H-%M"))
}

fn not_found(name: &str) -> Error {
    Error::new(
        Fault::SnapshotNotFoundFault,
        format!("Snapshot {name} not found."),
    )
}

fn already_exists(name: &str) -> Error {
    Error::new(
        Fault::SnapshotAlreadyExistsFault,
        format!("Snapshot {name} already exists."),
    )
}

fn memcached_unsupported() -> Error {
    Error::new(
        Fault::SnapshotFeatureNotSupportedFault,
        "Snapshots are not supported for the memcached engine.",
    )
}

/// A bucket name S3 accepts: 3–63 lowercase letters, digits, dots and hyphens.
fn check_bucket(bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "The S3 bucket name {bucket} is not valid."
        )))
    }
}

/// A snapshot name given by a user: an identifier, never `automatic.*`.
fn check_name(param: &str, name: &str) -> Result<String> {
    if name.to_ascii_lowercase().starts_with(AUTOMATIC_PREFIX) {
        return Err(Error::invalid(format!(
            "The parameter {param} must not begin with '{AUTOMATIC_PREFIX}': that prefix is reserved for automatic backups."
        )));
    }
    validate::identifier("Snapshot", param, name, 255)
}

impl super::Region {
    /// Add or replace a snapshot, keeping [`super::Region::snapshot_order`].
    pub(crate) fn put_snapshot(&mut self, s: Snapshot) {
        if let Some(old) = self.snapshots.get(&s.name) {
            self.snapshot_order.remove(&(old.created, old.name.clone()));
        }
        self.snapshot_order.insert((s.created, s.name.clone()));
        self.snapshots.insert(s.name.clone(), s);
    }

    /// Remove a snapshot, keeping [`super::Region::snapshot_order`].
    pub(crate) fn take_snapshot(&mut self, name: &str) -> Option<Snapshot> {
        let s = self.snapshots.remove(name)?;
        self.snapshot_order.remove(&(s.created, s.name.clone()));
        Some(s)
    }
}

impl ControlPlane {
    pub fn find_snapshot(&self, scope: &Scope, name: &str) -> Result<Snapshot> {
        let st = self.lock();
        let r = st.regions.get(scope);
        r.and_then(|r| {
            r.snapshots
                .get(name)
                .or_else(|| r.snapshots.get(&name.to_ascii_lowercase()))
        })
        .cloned()
        .ok_or_else(|| not_found(name))
    }

    pub fn list_snapshots(&self, scope: &Scope) -> Vec<Snapshot> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| r.snapshots.values().cloned().collect())
            .unwrap_or_default()
    }

    fn save_snapshot(&self, scope: &Scope, s: &Snapshot) -> Result<()> {
        self.persist("snapshot", scope, &s.name, Some(s))
    }

    /// Store a new snapshot after the existence and quota checks.
    fn insert_snapshot(&self, scope: &Scope, s: &Snapshot) -> Result<()> {
        {
            let mut st = self.lock();
            let r = st.region(scope);
            if r.snapshots.contains_key(&s.name) {
                return Err(already_exists(&s.name));
            }
            let manual = r
                .snapshots
                .values()
                .filter(|x| x.source == SOURCE_MANUAL)
                .count();
            if s.source == SOURCE_MANUAL && manual >= MAX_SNAPSHOTS {
                return Err(Error::new(
                    Fault::SnapshotQuotaExceededFault,
                    format!("The request cannot be processed: the quota of {MAX_SNAPSHOTS} snapshots has been reached."),
                ));
            }
            r.put_snapshot(s.clone());
        }
        self.save_snapshot(scope, s)?;
        self.wake();
        Ok(())
    }

    /// Mutate a snapshot under the lock and persist it.
    pub fn update_snapshot(
        &self,
        scope: &Scope,
        name: &str,
        f: impl FnOnce(&mut Snapshot) -> Result<()>,
    ) -> Result<Snapshot> {
        let s = {
            let mut st = self.lock();
            let r = st.region(scope);
            let mut next = r
                .snapshots
                .get(name)
                .ok_or_else(|| not_found(name))?
                .clone();
            f(&mut next)?;
            r.put_snapshot(next.clone());
            next
        };
        self.save_snapshot(scope, &s)?;
        Ok(s)
    }

    /// Forget a snapshot (the worker calls this once its files are gone).
    pub fn remove_snapshot(&self, scope: &Scope, name: &str) {
        let gone = self.lock().region(scope).take_snapshot(name).is_some();
        if gone {
            let _ = self.persist::<Snapshot>("snapshot", scope, name, None);
        }
    }

    /// While a snapshot is taken, its standalone cluster or its group reads
    /// `snapshotting` (as on AWS); `done` puts `available` back.
    pub fn mark_snapshotting(&self, scope: &Scope, s: &Snapshot, done: bool) {
        let (from, to) = if done {
            (lifecycle::SNAPSHOTTING, lifecycle::AVAILABLE)
        } else {
            (lifecycle::AVAILABLE, lifecycle::SNAPSHOTTING)
        };
        if let Some(g) = &s.replication_group_id {
            let _ = self.update_replication_group(scope, g, |g| {
                if g.status == from {
                    g.status = to.to_owned();
                }
                Ok(())
            });
        } else if let Some(c) = &s.cluster_id {
            let mut st = self.lock();
            let Some(c) = st.region(scope).clusters.get_mut(c) else {
                return;
            };
            if c.status != from {
                return;
            }
            let mut next = c.clone();
            next.status = to.to_owned();
            // Stored under the lock, before it is visible (see `update_cluster`).
            if self
                .persist("cluster", scope, &next.id, Some(&next))
                .is_ok()
            {
                *c = next;
            }
        }
    }

    /// Whether a snapshot is still being taken from this cluster's node (its
    /// deletion waits for it: a final snapshot).
    #[must_use]
    pub fn snapshot_taken_from(&self, scope: &Scope, cluster_id: &str) -> bool {
        let st = self.lock();
        st.regions.get(scope).is_some_and(|r| {
            r.snapshots.values().any(|s| {
                s.status == CREATING
                    && s.copy_of.is_none()
                    && s.node_snapshots.iter().any(|n| n.cluster_id == cluster_id)
            })
        })
    }

    /// A snapshot of one cluster (standalone, or a member of a
    /// cluster-mode-disabled group), built from its current settings.
    fn snapshot_of_cluster(
        scope: &Scope,
        c: &CacheCluster,
        group: Option<&ReplicationGroup>,
        name: &str,
        source: &str,
        tags: Vec<Tag>,
    ) -> Snapshot {
        let replicas = group.map_or(0, |g| g.members.len().saturating_sub(1));
        let shard = ShardSource {
            node_group_id: NODE_GROUP_ID.to_owned(),
            slots: None,
            cluster: c.clone(),
            replica_count: replicas,
        };
        Self::snapshot_of(scope, &[shard], group, name, source, tags)
    }

    /// A snapshot of one or more node groups, each saved from one member
    /// cluster; the first shard's cluster gives the settings.
    fn snapshot_of(
        scope: &Scope,
        shards: &[ShardSource],
        group: Option<&ReplicationGroup>,
        name: &str,
        source: &str,
        tags: Vec<Tag>,
    ) -> Snapshot {
        let now = Self::now();
        let c = &shards[0].cluster;
        let node_snapshots = shards
            .iter()
            .map(|sh| {
                let node = sh.cluster.nodes.first();
                NodeSnapshot {
                    cluster_id: sh.cluster.id.clone(),
                    node_group_id: sh.node_group_id.clone(),
                    cache_node_id: node.map_or_else(|| "0001".to_owned(), |n| n.id.clone()),
                    node_created: node.map_or(sh.cluster.created, |n| n.created),
                    size_bytes: None,
                    snapshot_created: None,
                    az: node.map_or_else(|| sh.cluster.preferred_az.clone(), |n| n.az.clone()),
                    replica_count: i64::try_from(sh.replica_count).unwrap_or(0),
                    replica_azs: Vec::new(),
                    slots: sh.slots.clone(),
                }
            })
            .collect();
        Snapshot {
            name: name.to_owned(),
            source: source.to_owned(),
            status: CREATING.to_owned(),
            cluster_id: group.is_none().then(|| c.id.clone()),
            replication_group_id: group.map(|g| g.id.clone()),
            replication_group_description: group.map(|g| g.description.clone()),
            engine: c.engine,
            engine_version: c.engine_version.clone(),
            node_type: c.node_type.clone(),
            num_cache_nodes: group
                .is_none()
                .then(|| i64::try_from(c.nodes.len()).unwrap_or(1)),
            preferred_az: group.is_none().then(|| c.preferred_az.clone()),
            cluster_created: group.map_or(c.created, |g| g.created),
            maintenance_window: c.maintenance_window.clone(),
            topic_arn: c.notification_topic_arn.clone(),
            port: c.port,
            parameter_group: c.parameter_group.clone(),
            subnet_group: c.subnet_group.clone(),
            vpc_id: subnet_group::vpc_id(scope),
            auto_minor_version_upgrade: c.auto_minor_version_upgrade,
            retention_limit: group
                .map_or(c.snapshot_retention_limit, |g| g.snapshot_retention_limit),
            window: group.map_or_else(
                || c.snapshot_window.clone().unwrap_or_default(),
                |g| g.snapshot_window.clone(),
            ),
            num_node_groups: i64::try_from(shards.len()).unwrap_or(1),
            automatic_failover: group.map(|g| g.automatic_failover),
            node_snapshots,
            tags,
            created: now,
            take_from: Some(c.id.clone()),
            copy_of: None,
            exports: Vec::new(),
        }
    }

    /// What a snapshot of a group saves: one member per node group. Cluster
    /// mode disabled: the one node group `0001`, from [`Self::snapshot_member`].
    /// (A sharded group gives one `ShardSource` per node group — its id,
    /// slots, a member to save and its replica count; the worker already
    /// takes one RDB per node snapshot.)
    fn group_shards(&self, scope: &Scope, g: &ReplicationGroup) -> Result<Vec<ShardSource>> {
        if g.cluster_enabled() {
            let members = self.replication_group_view(scope, g);
            let ok = |c: &&CacheCluster| c.status == lifecycle::AVAILABLE;
            return g
                .node_groups
                .iter()
                .filter(|ng| !ng.removing)
                .map(|ng| {
                    let mine: Vec<&CacheCluster> = members
                        .iter()
                        .filter(|c| ng.members.contains(&c.id))
                        .collect();
                    // A replica of the shard when one is available, else its primary.
                    let c = mine
                        .iter()
                        .copied()
                        .filter(ok)
                        .find(|c| c.id != ng.primary)
                        .or_else(|| mine.iter().copied().find(|c| c.id == ng.primary))
                        .cloned()
                        .ok_or_else(|| {
                            Error::new(
                                Fault::InvalidReplicationGroupState,
                                format!(
                                    "Node group {} of replication group {} has no member to snapshot.",
                                    ng.id, g.id
                                ),
                            )
                        })?;
                    Ok(ShardSource {
                        node_group_id: ng.id.clone(),
                        slots: Some(super::shards::format_slots(&ng.slots)),
                        cluster: c,
                        replica_count: ng.members.len().saturating_sub(1),
                    })
                })
                .collect();
        }
        let c = self.snapshot_member(scope, g)?;
        Ok(vec![ShardSource {
            node_group_id: NODE_GROUP_ID.to_owned(),
            slots: None,
            cluster: c,
            replica_count: g.members.len().saturating_sub(1),
        }])
    }

    /// The member of a group a snapshot is taken from: its snapshotting
    /// cluster, else an available replica, else the primary.
    fn snapshot_member(&self, scope: &Scope, g: &ReplicationGroup) -> Result<CacheCluster> {
        let members = self.replication_group_view(scope, g);
        let ok = |c: &&CacheCluster| c.status == lifecycle::AVAILABLE;
        members
            .iter()
            .filter(ok)
            .find(|c| g.snapshotting_cluster.as_deref() == Some(c.id.as_str()))
            .or_else(|| members.iter().filter(ok).find(|c| c.id != g.primary))
            .or_else(|| members.iter().find(|c| c.id == g.primary))
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    Fault::InvalidReplicationGroupState,
                    format!("Replication group {} has no member to snapshot.", g.id),
                )
            })
    }

    pub fn create_snapshot(&self, scope: &Scope, req: CreateSnapshot) -> Result<Snapshot> {
        self.check_room()?;
        let name = check_name("SnapshotName", &req.name)?;
        if req.kms_key_id.is_some() {
            return Err(Error::invalid(
                "KmsKeyId is not available in elasticache-local: snapshots are stored unencrypted.",
            ));
        }
        super::validate::check_tags(&req.tags)?;
        let snap = match (&req.cluster_id, &req.replication_group_id) {
            (Some(_), Some(_)) => {
                return Err(Error::combination(
                    "Only one of CacheClusterId or ReplicationGroupId may be specified.",
                ))
            }
            (None, None) => {
                return Err(Error::combination(
                    "One of CacheClusterId or ReplicationGroupId must be specified.",
                ))
            }
            (Some(cid), None) => {
                let c = self.find_cluster(scope, cid)?;
                // Only a serverless Memcached cache's (hidden) node is dumped.
                if c.engine == EngineKind::Memcached
                    && !c.id.starts_with(super::validate::INTERNAL_PREFIX)
                {
                    return Err(memcached_unsupported());
                }
                if c.status != lifecycle::AVAILABLE {
                    return Err(Error::new(
                        Fault::InvalidCacheClusterState,
                        format!(
                            "Cache cluster {} is not in available state (it is {}).",
                            c.id, c.status
                        ),
                    ));
                }
                let g = match &c.replication_group_id {
                    Some(rg) => Some(self.find_replication_group(scope, rg)?),
                    None => None,
                };
                Self::snapshot_of_cluster(scope, &c, g.as_ref(), &name, SOURCE_MANUAL, req.tags)
            }
            (None, Some(rg)) => {
                let g = self.find_replication_group(scope, rg)?;
                if g.status != lifecycle::AVAILABLE {
                    return Err(Error::new(
                        Fault::InvalidReplicationGroupState,
                        format!(
                            "Replication group {} is not in available state (it is {}).",
                            g.id, g.status
                        ),
                    ));
                }
                let shards = self.group_shards(scope, &g)?;
                Self::snapshot_of(scope, &shards, Some(&g), &name, SOURCE_MANUAL, req.tags)
            }
        };
        self.insert_snapshot(scope, &snap)?;
        self.mark_snapshotting(scope, &snap, false);
        let (kind, id) = snapshot_event_source(&snap);
        self.event(
            scope,
            kind,
            &id,
            format!("Snapshot {} of {id} requested", snap.name),
        );
        Ok(snap)
    }

    /// `FinalSnapshotIdentifier` of `DeleteCacheCluster`: checked and stored
    /// before the cluster turns `deleting`; its deletion waits for the data.
    pub(crate) fn final_snapshot_of_cluster(
        &self,
        scope: &Scope,
        c: &CacheCluster,
        name: &str,
    ) -> Result<()> {
        if c.engine == EngineKind::Memcached {
            return Err(memcached_unsupported());
        }
        if c.replication_group_id.is_some() {
            return Err(Error::combination(format!(
                "Cache cluster {} is a member of a replication group: take the final snapshot with DeleteReplicationGroup.",
                c.id
            )));
        }
        let name = check_name("FinalSnapshotIdentifier", name)?;
        if c.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {} is not in available state (it is {}): no final snapshot can be taken.",
                    c.id, c.status
                ),
            ));
        }
        let snap = Self::snapshot_of_cluster(scope, c, None, &name, SOURCE_MANUAL, Vec::new());
        self.insert_snapshot(scope, &snap)
    }

    /// `FinalSnapshotIdentifier` of `DeleteReplicationGroup`.
    pub(crate) fn final_snapshot_of_group(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        name: &str,
    ) -> Result<()> {
        let name = check_name("FinalSnapshotIdentifier", name)?;
        if g.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} is not in available state (it is {}): no final snapshot can be taken.",
                    g.id, g.status
                ),
            ));
        }
        let shards = self.group_shards(scope, g)?;
        let snap = Self::snapshot_of(scope, &shards, Some(g), &name, SOURCE_MANUAL, Vec::new());
        self.insert_snapshot(scope, &snap)
    }

    /// An automatic backup of a cluster or group (the worker's schedule).
    pub fn create_automatic_snapshot(
        &self,
        scope: &Scope,
        cluster_id: Option<&str>,
        group_id: Option<&str>,
    ) -> Result<Snapshot> {
        let now = Self::now();
        let snap = if let Some(rg) = group_id {
            let g = self.find_replication_group(scope, rg)?;
            let shards = self.group_shards(scope, &g)?;
            let mut s = Self::snapshot_of(
                scope,
                &shards,
                Some(&g),
                &automatic_name(&g.id, now),
                SOURCE_AUTOMATED,
                Vec::new(),
            );
            s.tags.clone_from(&g.tags);
            s
        } else {
            let c = self.find_cluster(scope, cluster_id.unwrap_or_default())?;
            let mut s = Self::snapshot_of_cluster(
                scope,
                &c,
                None,
                &automatic_name(&c.id, now),
                SOURCE_AUTOMATED,
                Vec::new(),
            );
            s.tags.clone_from(&c.tags);
            s
        };
        self.insert_snapshot(scope, &snap)?;
        self.mark_snapshotting(scope, &snap, false);
        Ok(snap)
    }

    pub fn copy_snapshot(
        &self,
        scope: &Scope,
        source: &str,
        target: &str,
        bucket: Option<&str>,
        kms_key_id: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<Snapshot> {
        let src = self.find_snapshot(scope, source)?;
        if kms_key_id.is_some() {
            return Err(Error::invalid(
                "KmsKeyId is not available in elasticache-local: snapshots are stored unencrypted.",
            ));
        }
        super::validate::check_tags(&tags)?;
        if src.status != AVAILABLE {
            return Err(Error::new(
                Fault::InvalidSnapshotState,
                format!(
                    "Snapshot {} is not in available state (it is {}).",
                    src.name, src.status
                ),
            ));
        }
        if target.is_empty() {
            return Err(Error::invalid(
                "The parameter TargetSnapshotName must be provided and must not be blank.",
            ));
        }
        if let Some(b) = bucket {
            check_bucket(b)?;
            // The bucket is a local directory that must exist, as an S3 bucket must.
            let dir = self.settings.buckets_dir.join(b);
            if !dir.is_dir() {
                return Err(Error::invalid(format!(
                    "The S3 bucket {b} does not exist (create the directory {}).",
                    dir.display()
                )));
            }
            if src
                .node_groups()
                .iter()
                .any(|ng| export_path(&self.settings.buckets_dir, b, target, ng).exists())
            {
                return Err(already_exists(target));
            }
            // An export: files in a local bucket, no new snapshot.
            let export = Export {
                bucket: b.to_owned(),
                name: target.to_owned(),
            };
            return self.update_snapshot(scope, &src.name, move |s| {
                s.exports.push(export);
                s.status = EXPORTING.to_owned();
                Ok(())
            });
        }
        let name = check_name("TargetSnapshotName", target)?;
        let mut copy = src.clone();
        copy.name = name;
        copy.source = SOURCE_MANUAL.to_owned();
        copy.status = CREATING.to_owned();
        copy.created = Self::now();
        copy.take_from = None;
        copy.copy_of = Some(src.name.clone());
        copy.exports = Vec::new();
        copy.tags = if tags.is_empty() { src.tags } else { tags };
        self.insert_snapshot(scope, &copy)?;
        self.wake();
        Ok(copy)
    }

    pub fn delete_snapshot(&self, scope: &Scope, name: &str) -> Result<Snapshot> {
        let s = self.find_snapshot(scope, name)?;
        if s.status != AVAILABLE {
            return Err(Error::new(
                Fault::InvalidSnapshotState,
                format!(
                    "Snapshot {} is not in available state (it is {}).",
                    s.name, s.status
                ),
            ));
        }
        let restoring = {
            let st = self.lock();
            st.regions.get(scope).is_some_and(|r| {
                r.clusters.values().any(|c| {
                    c.status == lifecycle::CREATING
                        && c.restore_snapshot.as_deref() == Some(s.name.as_str())
                })
            })
        };
        if restoring {
            return Err(Error::new(
                Fault::InvalidSnapshotState,
                format!("Snapshot {} is being restored into a new cluster.", s.name),
            ));
        }
        let s = self.update_snapshot(scope, &s.name, |s| {
            s.status = DELETING.to_owned();
            Ok(())
        })?;
        self.wake();
        Ok(s)
    }

    /// One page of the snapshots `q` selects that `keep` also does, oldest
    /// first (then by name), and how many there are (up to one past the
    /// page); only the page is cloned
    /// (see [`super::page_of`]).
    pub fn describe_snapshots(
        &self,
        scope: &Scope,
        q: &SnapshotQuery,
        keep: impl Fn(&Snapshot) -> bool,
        skip: usize,
        size: usize,
    ) -> Result<(Vec<Snapshot>, usize)> {
        let source = match q.source.as_deref() {
            None => None,
            Some("user" | "manual") => Some(SOURCE_MANUAL),
            Some("system" | "automated") => Some(SOURCE_AUTOMATED),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "Invalid SnapshotSource {other}: valid values are user and system."
                )))
            }
        };
        if let Some(n) = &q.name {
            self.find_snapshot(scope, n)?;
        }
        let lower = |s: &Option<String>| s.as_ref().map(|v| v.to_ascii_lowercase());
        let (cid, rg) = (lower(&q.cluster_id), lower(&q.replication_group_id));
        let st = self.lock();
        let Some(r) = st.regions.get(scope) else {
            if let Some(c) = &cid {
                return Err(Error::new(
                    Fault::CacheClusterNotFound,
                    format!("CacheCluster not found: {c}"),
                ));
            }
            return Ok((Vec::new(), 0));
        };
        if let Some(c) = &cid {
            // A cluster that neither exists nor left snapshots is unknown.
            let known = r.clusters.contains_key(c)
                || r.snapshots
                    .values()
                    .any(|s| s.node_snapshots.iter().any(|n| &n.cluster_id == c));
            if !known {
                return Err(Error::new(
                    Fault::CacheClusterNotFound,
                    format!("CacheCluster not found: {c}"),
                ));
            }
        }
        let selected = r
            .snapshot_order
            .iter()
            .filter_map(|(_, name)| r.snapshots.get(name))
            .filter(|s| {
                q.name
                    .as_ref()
                    .is_none_or(|n| s.name == *n || s.name == n.to_ascii_lowercase())
            })
            .filter(|s| {
                cid.as_ref().is_none_or(|c| {
                    s.cluster_id.as_ref() == Some(c)
                        || s.node_snapshots.iter().any(|n| &n.cluster_id == c)
                })
            })
            .filter(|s| {
                rg.as_ref()
                    .is_none_or(|g| s.replication_group_id.as_ref() == Some(g))
            })
            .filter(|s| source.is_none_or(|x| s.source == x))
            .filter(|s| s.status != DELETING)
            .filter(|s| keep(s));
        Ok(super::page_of(selected, skip, size))
    }

    /// The engine of the snapshot a restore names (its default engine).
    pub(crate) fn snapshot_engine(&self, scope: &Scope, name: Option<&str>) -> Option<String> {
        name.and_then(|n| self.find_snapshot(scope, n).ok())
            .map(|s| s.engine.as_str().to_owned())
    }

    /// A restore takes what the request leaves out from the snapshot: engine,
    /// engine version, node type, port, parameter group and windows.
    pub(crate) fn restore_defaults(
        &self,
        scope: &Scope,
        mut req: super::cluster::CreateCluster,
    ) -> super::cluster::CreateCluster {
        let Some(s) = req
            .snapshot_name
            .as_deref()
            .and_then(|n| self.find_snapshot(scope, n).ok())
        else {
            return req;
        };
        if req.engine.is_none() {
            req.engine = Some(s.engine.as_str().to_owned());
        }
        let same_engine = req
            .engine
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(s.engine.as_str()));
        if req.engine_version.is_none() && same_engine {
            req.engine_version = Some(s.engine_version.clone());
        }
        if req.node_type.is_none() {
            req.node_type = Some(s.node_type.clone());
        }
        if req.port.is_none() {
            req.port = Some(i64::from(s.port));
        }
        if req.parameter_group.is_none()
            && same_engine
            && self.find_parameter_group(scope, &s.parameter_group).is_ok()
        {
            req.parameter_group = Some(s.parameter_group.clone());
        }
        if req.snapshot_window.is_none()
            && !s.window.is_empty()
            && s.engine != EngineKind::Memcached
        {
            req.snapshot_window = Some(s.window.clone());
        }
        req
    }

    /// The RDB a new cluster starts from, from `SnapshotName` or `SnapshotArns`
    /// (`file:///abs/path.rdb`, `s3://bucket/key`, `arn:aws:s3:::bucket/key`,
    /// the last two in the local bucket directory). `None`: an empty start.
    /// The RDB each node group of a new cluster-mode group starts from, in
    /// node-group order: a snapshot's node groups when they hold the same slots
    /// (any one-node-group source for a one-node-group target).
    pub(crate) fn sharded_restore(
        &self,
        scope: &Scope,
        snapshot_name: Option<&str>,
        arns: &[String],
        engine: EngineKind,
        version: &str,
        slots: &[Vec<(u16, u16)>],
    ) -> Result<Option<(Vec<PathBuf>, Option<String>)>> {
        if snapshot_name.is_none() && arns.is_empty() {
            return Ok(None);
        }
        let sharded = snapshot_name
            .map(|n| {
                self.find_snapshot(scope, n)
                    .map_err(|_| Error::invalid(format!("Snapshot {n} not found.")))
            })
            .transpose()?
            .filter(|s| s.num_node_groups > 1);
        let Some(s) = sharded else {
            if slots.len() != 1 {
                return Err(Error::combination(
                    "Restoring data that holds one node group into a replication group with several \
                     node groups is not available yet in elasticache-local (AWS redistributes the \
                     keys by slot); restore it into one node group, then scale out.",
                ));
            }
            return Ok(self
                .restore_source(scope, snapshot_name, arns, engine, version)?
                .map(|(p, n)| (vec![p], n)));
        };
        restorable(&s, engine)?;
        let files = self.snapshot_files(scope, &s);
        let same = files.len() == slots.len()
            && files.iter().zip(slots).all(|((_, have, _), want)| {
                have.as_deref()
                    .and_then(|h| super::shards::parse_slots(h).ok())
                    .is_some_and(|h| h == *want)
            });
        if !same {
            let layout: Vec<String> = files
                .iter()
                .map(|(ng, sl, _)| format!("{ng}: {}", sl.as_deref().unwrap_or("0-16383")))
                .collect();
            return Err(Error::combination(format!(
                "Snapshot {} holds {} node groups ({}); restoring it into other slots is not \
                 available yet in elasticache-local: give the same NumNodeGroups (or \
                 NodeGroupConfiguration Slots).",
                s.name,
                files.len(),
                layout.join(", ")
            )));
        }
        Ok(Some((
            files.into_iter().map(|(_, _, p)| p).collect(),
            Some(s.name),
        )))
    }

    pub(crate) fn restore_source(
        &self,
        scope: &Scope,
        snapshot_name: Option<&str>,
        arns: &[String],
        engine: EngineKind,
        version: &str,
    ) -> Result<Option<(PathBuf, Option<String>)>> {
        if snapshot_name.is_none() && arns.is_empty() {
            return Ok(None);
        }
        if engine == EngineKind::Memcached {
            // A serverless Memcached cache's dump (its hidden snapshot) restores
            // into a new serverless Memcached cache's node; nothing else does.
            let s = snapshot_name
                .filter(|n| n.starts_with(super::validate::INTERNAL_PREFIX))
                .and_then(|n| self.find_snapshot(scope, n).ok())
                .filter(|s| s.engine == EngineKind::Memcached && arns.is_empty());
            let Some(s) = s else {
                return Err(Error::combination(
                    "Memcached clusters cannot be restored from a snapshot.",
                ));
            };
            restorable(&s, engine)?;
            let path = self
                .snapshot_files(scope, &s)
                .into_iter()
                .next()
                .map(|(_, _, p)| p)
                .ok_or_else(|| Error::internal("snapshot without node snapshots"))?;
            return Ok(Some((path, Some(s.name))));
        }
        if snapshot_name.is_some() && !arns.is_empty() {
            return Err(Error::combination(
                "Only one of SnapshotName or SnapshotArns may be specified.",
            ));
        }
        if let Some(name) = snapshot_name {
            let s = self
                .find_snapshot(scope, name)
                .map_err(|_| Error::invalid(format!("Snapshot {name} not found.")))?;
            restorable(&s, engine)?;
            if s.num_node_groups > 1 {
                return Err(Error::combination(format!(
                    "Snapshot {} holds {} node groups: it can only be restored into a cluster-mode-enabled replication group.",
                    s.name, s.num_node_groups
                )));
            }
            if engine == s.engine
                && super::cluster::version_cmp(version, &s.engine_version)
                    == std::cmp::Ordering::Less
            {
                return Err(Error::combination(format!(
                    "Snapshot {} was taken on {} {}: it cannot be restored on the older version {version}.",
                    s.name,
                    s.engine.as_str(),
                    s.engine_version
                )));
            }
            let path = self
                .snapshot_files(scope, &s)
                .into_iter()
                .next()
                .map(|(_, _, p)| p)
                .ok_or_else(|| Error::internal("snapshot without node snapshots"))?;
            return Ok(Some((path, Some(s.name))));
        }
        if arns.len() > 1 {
            return Err(Error::combination(
                "A cluster with one node group restores from exactly one RDB file in SnapshotArns.",
            ));
        }
        let path = self.rdb_location(&arns[0])?;
        if !path.is_file() {
            return Err(Error::invalid(format!(
                "The RDB file {} named by SnapshotArns does not exist.",
                arns[0]
            )));
        }
        Ok(Some((path, None)))
    }

    /// The RDB files of a snapshot, one per node group, in node-group order,
    /// with the group's slots: what a restore starts each shard from.
    #[must_use]
    pub fn snapshot_files(
        &self,
        scope: &Scope,
        s: &Snapshot,
    ) -> Vec<(String, Option<String>, PathBuf)> {
        let mut v: Vec<(String, Option<String>, PathBuf)> = s
            .node_snapshots
            .iter()
            .map(|n| {
                (
                    n.node_group_id.clone(),
                    n.slots.clone(),
                    rdb_path(
                        &self.settings.snapshots_dir,
                        scope,
                        &s.name,
                        &n.node_group_id,
                    ),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        v
    }

    /// A `SnapshotArns` entry as a local file.
    fn rdb_location(&self, arn_str: &str) -> Result<PathBuf> {
        let bad = || {
            Error::invalid(format!(
                "Invalid SnapshotArns entry {arn_str}: use file:///absolute/path.rdb, s3://bucket/key or arn:aws:s3:::bucket/key."
            ))
        };
        if let Some(p) = arn_str.strip_prefix("file://") {
            let p = Path::new(p);
            if !p.is_absolute() {
                return Err(bad());
            }
            return Ok(p.to_path_buf());
        }
        let object = arn_str
            .strip_prefix("s3://")
            .or_else(|| arn_str.strip_prefix("arn:aws:s3:::"))
            .ok_or_else(bad)?;
        let (bucket, key) = object.split_once('/').ok_or_else(bad)?;
        check_bucket(bucket)?;
        if key.is_empty() || key.split('/').any(|p| p.is_empty() || p == "..") {
            return Err(bad());
        }
        Ok(self.settings.buckets_dir.join(bucket).join(key))
    }
}

/// The event source of a snapshot: its group, else its cluster.
#[must_use]
pub fn snapshot_event_source(s: &Snapshot) -> (&'static str, String) {
    match (&s.replication_group_id, &s.cluster_id) {
        (Some(g), _) => ("replication-group", g.clone()),
        (None, Some(c)) => ("cache-cluster", c.clone()),
        (None, None) => ("cache-cluster", s.take_from.clone().unwrap_or_default()),
    }
}

/// What every restore requires of its snapshot: available, and not Valkey
/// data into a Redis engine.
fn restorable(s: &Snapshot, engine: EngineKind) -> Result<()> {
    if s.status != AVAILABLE {
        return Err(Error::invalid(format!(
            "Snapshot {} is not in available state (it is {}).",
            s.name, s.status
        )));
    }
    if (s.engine == EngineKind::Memcached) != (engine == EngineKind::Memcached) {
        return Err(Error::combination(format!(
            "Snapshot {} is of a {} cache: it cannot be restored into a {} cache.",
            s.name.replacen(super::validate::INTERNAL_PREFIX, "", 1),
            s.engine.as_str(),
            engine.as_str()
        )));
    }
    if s.engine == EngineKind::Valkey && engine == EngineKind::Redis {
        return Err(Error::combination(format!(
            "Snapshot {} is of a valkey cluster: it cannot be restored into a redis cluster.",
            s.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(cache_size(1), "1 KB");
        assert_eq!(cache_size(2048), "2 KB");
        assert_eq!(cache_size(5 << 20), "5 MB");
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T06:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(automatic_name("c1", t), "automatic.c1-2026-11-22-06-45");
        assert!(check_name("SnapshotName", "automatic.x").is_err());
        assert_eq!(check_name("SnapshotName", "My-Snap").unwrap(), "my-snap");
        assert!(check_bucket("my-bucket").is_ok());
        assert!(check_bucket("My_Bucket").is_err());
    }

    #[test]
    fn clock_offsets() {
        let secs = |s: &str| super::super::parse_clock_offset(s).map(|d| d.num_seconds());
        assert_eq!(secs("3600"), Ok(3600));
        assert_eq!(secs("90m"), Ok(5400));
        assert_eq!(secs("1d"), Ok(86400));
        assert_eq!(secs("-2h"), Ok(-7200));
        assert!(secs("soon").is_err());
        assert!(secs("5w").is_err());
    }

    /// DescribeSnapshots answers oldest first, then by name, from the order
    /// kept beside the snapshots (no sort of them all), also after a restart
    /// and after one is deleted or changed.
    #[test]
    fn pages_oldest_first_from_the_kept_order() {
        let tmp = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn crate::store::Store> =
            std::sync::Arc::new(crate::store::MemoryStore::default());
        let cp = crate::model::test_support::control_plane_on(tmp.path(), store.clone());
        let scope = Scope::new("000000000000", "us-east-1");
        let at = |minute: u32| {
            chrono::DateTime::parse_from_rfc3339(&format!("2026-12-03T10:{minute:02}:00Z"))
                .unwrap()
                .with_timezone(&Utc)
        };
        let snap = |name: &str, created: DateTime<Utc>| -> Snapshot {
            serde_json::from_value(serde_json::json!({
                "name": name, "source": SOURCE_MANUAL, "status": AVAILABLE,
                "cluster_id": "c1", "replication_group_id": null,
                "replication_group_description": null, "engine": "redis",
                "engine_version": "7.0.15", "node_type": "cache.t3.micro",
                "num_cache_nodes": 1, "preferred_az": null, "cluster_created": created,
                "maintenance_window": "sun:05:00-sun:06:00", "topic_arn": null, "port": 6379,
                "parameter_group": "default.redis7", "subnet_group": null, "vpc_id": "vpc-1",
                "auto_minor_version_upgrade": true, "retention_limit": 0,
                "window": "06:00-07:00", "num_node_groups": 1, "automatic_failover": null,
                "node_snapshots": [], "tags": [], "created": created,
                "take_from": null, "copy_of": null
            }))
            .unwrap()
        };
        // Names and dates in different orders; two share a date.
        for (name, minute) in [("d", 4), ("a", 9), ("c", 1), ("b", 4), ("e", 7)] {
            cp.insert_snapshot(&scope, &snap(name, at(minute))).unwrap();
        }
        let names = |cp: &ControlPlane, skip: usize, size: usize| {
            let (page, total) = cp
                .describe_snapshots(&scope, &SnapshotQuery::default(), |_| true, skip, size)
                .unwrap();
            (
                page.into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(""),
                total,
            )
        };
        assert_eq!(names(&cp, 0, 50), ("cbdea".to_owned(), 5));
        assert_eq!(names(&cp, 0, 2), ("cb".to_owned(), 3));
        assert_eq!(names(&cp, 2, 2), ("de".to_owned(), 5));
        assert_eq!(names(&cp, 4, 2), ("a".to_owned(), 5));
        // Read back from the store by a new control plane: the same order.
        let again = crate::model::test_support::control_plane_on(tmp.path(), store);
        assert_eq!(names(&again, 0, 50), ("cbdea".to_owned(), 5));
        // A change keeps one entry per snapshot; a removal leaves none.
        cp.update_snapshot(&scope, "b", |s| {
            s.created = at(8);
            Ok(())
        })
        .unwrap();
        cp.remove_snapshot(&scope, "e");
        assert_eq!(names(&cp, 0, 50), ("cdba".to_owned(), 4));
        let st = cp.lock();
        assert_eq!(st.regions[&scope].snapshot_order.len(), 4);
    }
}
