//! Replication groups with cluster mode disabled: one node group (`0001`) made of
//! single-node member clusters, one primary and up to five replicas.
//!
//! The record holds the desired topology (which member is primary, a requested
//! promotion, a rolling change); the reconciler makes the engines follow it and
//! settles the status.
//!
//! Beside it: `shards` (cluster mode enabled: node groups, slots, resharding)
//! and `migration` (online migration into a group).

pub mod migration;
pub mod shards;

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use self::shards::{NodeGroup, NodeGroupSpec, ShardReplicas};
use super::cluster::{
    check_node_type, resolve_version, CacheCluster, CreateCluster, ModifyCluster,
};
use super::{arn, lifecycle, validate, ControlPlane, Error, Fault, Result, Scope, Tag};
use crate::catalog;
use crate::engine::EngineKind;

/// The one node group of a cluster-mode-disabled group.
pub const NODE_GROUP_ID: &str = "0001";
/// A primary and up to five replicas.
pub const MAX_MEMBERS: usize = 6;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationGroup {
    pub id: String,
    pub description: String,
    pub status: String,
    /// Member cache clusters, in creation order.
    pub members: Vec<String>,
    /// The member cluster whose node is the primary.
    pub primary: String,
    pub automatic_failover: bool,
    pub multi_az: bool,
    /// The primary and reader endpoints (backend proxies), kept for life: each on
    /// an address of its own in 127.0.0.0/8 and the group's port, as AWS gives
    /// each endpoint its own DNS name on the group's port; 127.0.0.1 (`None`, as
    /// in records made before per-endpoint addresses) and a port of its own
    /// where that is impossible (see `ControlPlane::alloc_addr`).
    pub primary_port: u16,
    pub reader_port: u16,
    #[serde(default)]
    pub primary_host: Option<Ipv4Addr>,
    #[serde(default)]
    pub reader_host: Option<Ipv4Addr>,
    pub engine: EngineKind,
    pub snapshot_retention_limit: i64,
    pub snapshot_window: String,
    pub snapshotting_cluster: Option<String>,
    pub auth_token_enabled: bool,
    pub auth_token_last_modified: Option<DateTime<Utc>>,
    pub network_type: String,
    pub ip_discovery: String,
    pub auto_minor_version_upgrade: bool,
    pub created: DateTime<Utc>,
    pub tags: Vec<Tag>,
    /// A promotion asked for (TestFailover, `PrimaryClusterId`), done by the reconciler.
    #[serde(default)]
    pub failover_to: Option<String>,
    /// Whether the promotion was asked by TestFailover (for the events).
    #[serde(default)]
    pub failover_test: bool,
    /// Members still to take a node type / engine change, one at a time, primary last.
    #[serde(default)]
    pub rolling: Vec<String>,
    #[serde(default)]
    pub rolling_node_type: Option<String>,
    /// The engine the rolling change moves the members to (Redis → Valkey).
    #[serde(default)]
    pub rolling_engine: Option<EngineKind>,
    #[serde(default)]
    pub rolling_engine_version: Option<String>,
    /// The parameter group that goes with a rolling engine upgrade (a new
    /// family's group: each member takes it with its new version).
    #[serde(default)]
    pub rolling_parameter_group: Option<String>,
    /// An online migration in progress (`StartMigration`).
    #[serde(default)]
    pub migration: Option<migration::Migration>,
    /// A `TestMigration` the worker has yet to try.
    #[serde(default)]
    pub migration_test: Option<migration::Source>,
    pub generation: u64,
    /// Cluster mode enabled: the shards (see `shards.rs`); empty when disabled.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// `enabled` or `compatible` for a Redis Cluster; `None`: disabled.
    #[serde(default)]
    pub cluster_mode: Option<String>,
    /// The configuration endpoint (cluster mode enabled), placed like the
    /// primary endpoint.
    #[serde(default)]
    pub config_port: Option<u16>,
    #[serde(default)]
    pub config_host: Option<Ipv4Addr>,
    /// `Durability` as asked at creation (`default` or `disabled`; the
    /// transactional log behind `sync` and `async` is not run here).
    #[serde(default)]
    pub durability: Option<String>,
    /// User groups attached (RBAC): their users are the engines' users.
    #[serde(default)]
    pub user_group_ids: Vec<String>,
    /// The nodes' users changed (user groups attached or removed) and are
    /// not pushed to the running nodes yet.
    #[serde(default)]
    pub users_pending: bool,
    /// The global datastore this group is a member of (its role is the datastore's).
    #[serde(default)]
    pub global_id: Option<String>,
    /// Cluster mode served by fronts (a cluster-mode group that is or was a
    /// secondary of a global datastore): its engines run with cluster mode
    /// off, each shard a primary and its replicas (`REPLICAOF`), and a front
    /// at each node's endpoint presents the group as a Redis Cluster
    /// (`worker/fronted.rs`). Stock engines refuse `REPLICAOF` in cluster mode.
    #[serde(default)]
    pub fronted: bool,
    /// Turning from fronts back into a Redis Cluster with its data (before
    /// it reshards, see `shards.rs` `recluster`): its nodes restart with
    /// cluster mode on, shard primaries with their data, replicas empty; the
    /// worker claims each shard's slots on its primary before the nodes
    /// meet, then clears this.
    #[serde(default)]
    pub recluster: bool,
    /// A reshard asked for while the group, outside any datastore, was
    /// served by fronts: it runs once the group is a Redis Cluster again.
    #[serde(default)]
    pub pending_shards: Option<shards::PendingShards>,
}

impl ReplicationGroup {
    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "replicationgroup", &self.id)
    }

    /// Where the primary endpoint answers.
    #[must_use]
    pub fn primary_endpoint(&self) -> (Ipv4Addr, u16) {
        (
            self.primary_host.unwrap_or(Ipv4Addr::LOCALHOST),
            self.primary_port,
        )
    }

    /// Where the reader endpoint answers.
    #[must_use]
    pub fn reader_endpoint(&self) -> (Ipv4Addr, u16) {
        (
            self.reader_host.unwrap_or(Ipv4Addr::LOCALHOST),
            self.reader_port,
        )
    }

    /// Where the configuration endpoint answers (cluster mode enabled).
    #[must_use]
    pub fn config_endpoint(&self) -> Option<(Ipv4Addr, u16)> {
        self.config_port
            .map(|p| (self.config_host.unwrap_or(Ipv4Addr::LOCALHOST), p))
    }

    fn next_member_ids(&self, count: usize) -> Vec<String> {
        let max = self
            .members
            .iter()
            .filter_map(|m| m.strip_prefix(&format!("{}-", self.id)))
            .filter_map(|n| n.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        (1..=count)
            .map(|i| format!("{}-{:03}", self.id, max + i))
            .collect()
    }
}

/// `CreateReplicationGroup` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct CreateReplicationGroup {
    pub id: String,
    pub description: String,
    pub primary_cluster_id: Option<String>,
    pub automatic_failover: Option<bool>,
    pub multi_az: Option<bool>,
    pub num_cache_clusters: Option<i64>,
    pub preferred_azs: Vec<String>,
    pub num_node_groups: Option<i64>,
    pub replicas_per_node_group: Option<i64>,
    pub node_group_configuration: usize,
    /// `NodeGroupConfiguration` entries (cluster mode enabled).
    pub node_groups: Vec<NodeGroupSpec>,
    pub cluster_mode: Option<String>,
    pub global_replication_group_id: Option<String>,
    pub user_group_ids: Vec<String>,
    pub at_rest_encryption: Option<bool>,
    pub kms_key_id: Option<String>,
    pub data_tiering: Option<bool>,
    pub durability: Option<String>,
    /// The member clusters' settings (id, node count and AZ are set per member).
    pub cluster: CreateCluster,
}

/// `ModifyReplicationGroup` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct ModifyReplicationGroup {
    pub id: String,
    pub description: Option<String>,
    pub primary_cluster_id: Option<String>,
    pub snapshotting_cluster_id: Option<String>,
    pub automatic_failover: Option<bool>,
    pub multi_az: Option<bool>,
    pub node_group_id: Option<String>,
    pub cluster_mode: Option<String>,
    /// `UserGroupIdsToAdd` / `UserGroupIdsToRemove`.
    pub user_groups_to_add: Vec<String>,
    pub user_groups_to_remove: Vec<String>,
    pub durability: Option<String>,
    /// `TransitEncryptionEnabled` and `TransitEncryptionMode`.
    pub transit_enabled: Option<bool>,
    pub transit_mode: Option<String>,
    /// A new engine (Redis → Valkey, with `cluster.engine_version`): a
    /// serverless cache's engine change, rolled through the members.
    pub engine: Option<EngineKind>,
    /// Settings every member takes (`ModifyCacheCluster` of each member).
    pub cluster: ModifyCluster,
}

/// `Durability`: `sync` and `async` persist writes to ElastiCache's Multi-AZ
/// transactional log (Valkey 9.0 and later), which is not run here; `default`
/// resolves to `disabled`, as it does on AWS for every other engine.
fn check_durability(d: Option<&str>) -> Result<()> {
    match d {
        None | Some("default" | "disabled") => Ok(()),
        Some(d) => Err(Error::invalid(format!(
            "Durability {d} is not available yet in elasticache-local: it needs ElastiCache's Multi-AZ transactional log (Valkey 9.0 and later). Use default or disabled."
        ))),
    }
}

impl ReplicationGroup {
    /// `Durability` as the API reports it.
    #[must_use]
    pub fn durability(&self) -> &str {
        self.durability.as_deref().unwrap_or("default")
    }

    /// `EffectiveDurability`: always `disabled` here (see [`check_durability`]).
    #[must_use]
    pub fn effective_durability(&self) -> &'static str {
        "disabled"
    }
}

/// The transit encryption a group moves to (`None`: no change), by AWS's
/// two-step rule: a group without TLS turns it on as `preferred`, then
/// `required`; it turns it off from `preferred`.
fn next_transit(
    current: &CacheCluster,
    enabled: Option<bool>,
    mode: Option<&str>,
) -> Result<Option<(bool, Option<String>)>> {
    if let Some(m) = mode {
        if !matches!(m, "preferred" | "required") {
            return Err(Error::invalid(format!(
                "Invalid TransitEncryptionMode {m}. Valid values are preferred and required."
            )));
        }
    }
    let on = current.transit_encryption;
    match (enabled, mode) {
        (None, None) => Ok(None),
        (Some(false), Some(_)) => Err(Error::combination(
            "TransitEncryptionMode can only be specified when TransitEncryptionEnabled is true.",
        )),
        (None | Some(true), Some(_)) | (Some(true), None) if !on => {
            if mode == Some("preferred") {
                Ok(Some((true, Some("preferred".to_owned()))))
            } else if enabled.is_none() {
                Err(Error::combination(
                    "TransitEncryptionMode can only be specified when TransitEncryptionEnabled is true.",
                ))
            } else {
                Err(Error::combination(
                    "TransitEncryptionMode must be set to preferred when enabling transit encryption on an existing replication group; change it to required once every client uses TLS.",
                ))
            }
        }
        (Some(true), None) => Ok(None),
        (_, Some(m)) => Ok(Some((true, Some(m.to_owned())))),
        (Some(false), None) if !on => Ok(None),
        (Some(false), None) => {
            if current.transit_mode.as_deref() == Some("required") {
                Err(Error::combination(
                    "Transit encryption must be in preferred mode before it can be disabled: modify TransitEncryptionMode to preferred first.",
                ))
            } else {
                Ok(Some((false, None)))
            }
        }
    }
}

/// What a secondary of a global datastore inherits from its primary group,
/// with AWS's error when the request asks for something else.
/// A group joining a global datastore as a secondary: the datastore's ID and
/// the primary region's AUTH tokens (and when they last changed).
/// What a secondary of a global datastore takes from its primary: the
/// datastore's ID, the AUTH tokens (and when they changed), and the primary's
/// parameter group (its scope and name), which the new group gets a copy of.
pub(crate) type Joining = (
    String,
    super::cluster::AuthTokens,
    Option<DateTime<Utc>>,
    (Scope, String),
);

fn inherit_from_global(
    req: &mut CreateReplicationGroup,
    gid: &str,
    primary: &ReplicationGroup,
    pc: &CacheCluster,
) -> Result<()> {
    let differs = |what: &str| {
        Error::combination(format!(
            "{what} of a secondary replication group comes from global replication group {gid}: leave it out or give the primary's."
        ))
    };
    let c = &mut req.cluster;
    if c.engine
        .as_deref()
        .is_some_and(|e| !e.eq_ignore_ascii_case(pc.engine.as_str()))
    {
        return Err(differs("Engine"));
    }
    if c.engine_version.as_deref().is_some_and(|v| {
        !(pc.engine_version == v || pc.engine_version.starts_with(&format!("{v}.")))
    }) {
        return Err(differs("EngineVersion"));
    }
    if c.node_type.as_deref().is_some_and(|t| t != pc.node_type) {
        return Err(differs("CacheNodeType"));
    }
    if c.transit_encryption
        .is_some_and(|t| t != pc.transit_encryption)
    {
        return Err(differs("TransitEncryptionEnabled"));
    }
    if req
        .at_rest_encryption
        .is_some_and(|a| a != pc.at_rest_encryption)
    {
        return Err(differs("AtRestEncryptionEnabled"));
    }
    if c.auth_token.is_some() {
        return Err(differs("AuthToken"));
    }
    if req.primary_cluster_id.is_some() {
        return Err(Error::combination(format!(
            "An existing cluster cannot join global replication group {gid} as a secondary (its data would be replaced): create a new replication group."
        )));
    }
    if req.num_node_groups.is_some()
        || req.node_group_configuration > 0
        || req.cluster_mode.is_some()
    {
        return Err(differs("The shard layout"));
    }
    c.engine = Some(pc.engine.as_str().to_owned());
    c.engine_version = Some(pc.engine_version.clone());
    c.node_type = Some(pc.node_type.clone());
    c.transit_encryption = Some(pc.transit_encryption);
    c.transit_mode.clone_from(&pc.transit_mode);
    if c.port.is_none() {
        c.port = Some(i64::from(pc.port));
    }
    // AWS ignores a parameter group given here: the member gets a copy of the
    // primary's (`global-datastore-…`, made when the group is recorded).
    c.parameter_group = None;
    req.at_rest_encryption = Some(pc.at_rest_encryption);
    if primary.cluster_enabled() {
        // The primary's shards: the same ids, slots and replica counts.
        let shards: Vec<&shards::NodeGroup> = primary
            .node_groups
            .iter()
            .filter(|ng| !ng.removing)
            .collect();
        req.num_node_groups = Some(i64::try_from(shards.len()).unwrap_or(1));
        req.node_groups = shards
            .iter()
            .map(|ng| shards::NodeGroupSpec {
                id: Some(ng.id.clone()),
                slots: Some(shards::format_slots(&ng.slots)),
                replica_count: Some(
                    req.replicas_per_node_group
                        .unwrap_or(i64::try_from(ng.members.len()).unwrap_or(1) - 1),
                ),
                ..shards::NodeGroupSpec::default()
            })
            .collect();
        req.cluster_mode.clone_from(&primary.cluster_mode);
    } else if req.num_cache_clusters.is_none() && req.replicas_per_node_group.is_none() {
        req.num_cache_clusters = Some(i64::try_from(primary.members.len()).unwrap_or(1));
    }
    if req.automatic_failover.is_none() {
        req.automatic_failover = Some(primary.automatic_failover);
    }
    if req.multi_az.is_none() {
        req.multi_az = Some(primary.multi_az);
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::new(
        Fault::ReplicationGroupNotFoundFault,
        format!("ReplicationGroup {id} not found."),
    )
}

fn bad_state(g: &ReplicationGroup) -> Error {
    Error::new(
        Fault::InvalidReplicationGroupState,
        format!(
            "Replication group {} is not in available state (it is {}).",
            g.id, g.status
        ),
    )
}

fn cluster_mode_not_yet() -> Error {
    Error::invalid(
        "Changing the cluster mode of an existing replication group is not available yet in \
         elasticache-local: create a replication group with cluster mode enabled instead.",
    )
}

impl ControlPlane {
    pub fn find_replication_group(&self, scope: &Scope, id: &str) -> Result<ReplicationGroup> {
        let id = id.to_ascii_lowercase();
        let st = self.lock();
        st.regions
            .get(scope)
            .and_then(|r| r.replication_groups.get(&id))
            .cloned()
            .ok_or_else(|| not_found(&id))
    }

    pub fn list_replication_groups(&self, scope: &Scope) -> Vec<ReplicationGroup> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| r.replication_groups.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One page of the scope's groups (in id order) that `keep` selects, and
    /// how many it selects, counted up to one past the page (see
    /// [`super::page_of`]).
    pub fn replication_groups_page(
        &self,
        scope: &Scope,
        keep: impl Fn(&ReplicationGroup) -> bool,
        skip: usize,
        size: usize,
    ) -> (Vec<ReplicationGroup>, usize) {
        let st = self.lock();
        st.regions.get(scope).map_or((Vec::new(), 0), |r| {
            super::page_of(
                r.replication_groups.values().filter(|g| keep(g)),
                skip,
                size,
            )
        })
    }

    /// A group and its member clusters (in member order; missing ones skipped).
    pub fn replication_group_view(&self, scope: &Scope, g: &ReplicationGroup) -> Vec<CacheCluster> {
        let st = self.lock();
        let Some(r) = st.regions.get(scope) else {
            return Vec::new();
        };
        g.members
            .iter()
            .filter_map(|m| r.clusters.get(m).cloned())
            .collect()
    }

    /// Mutate a group under the lock, bump its generation, persist it, wake the reconciler.
    pub fn update_replication_group(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut ReplicationGroup) -> Result<()>,
    ) -> Result<ReplicationGroup> {
        let id = id.to_ascii_lowercase();
        let g = {
            let mut st = self.lock();
            let g = st
                .region(scope)
                .replication_groups
                .get_mut(&id)
                .ok_or_else(|| not_found(&id))?;
            let mut next = g.clone();
            f(&mut next)?;
            next.generation += 1;
            // Stored before it is visible, under the lock (see `update_cluster`).
            self.persist("replicationgroup", scope, &next.id, Some(&next))?;
            *g = next.clone();
            next
        };
        self.wake();
        Ok(g)
    }

    /// Forget a deleted group (the reconciler calls this once its members are gone).
    pub fn remove_replication_group(&self, scope: &Scope, id: &str) {
        let mut st = self.lock();
        if st.region(scope).replication_groups.contains_key(id)
            && self
                .persist::<ReplicationGroup>("replicationgroup", scope, id, None)
                .is_ok()
        {
            st.region(scope).replication_groups.remove(id);
        }
    }

    #[allow(clippy::too_many_lines)]
    pub fn create_replication_group(
        &self,
        scope: &Scope,
        mut req: CreateReplicationGroup,
    ) -> Result<ReplicationGroup> {
        self.check_room()?;
        let id = validate::identifier("Replication group", "ReplicationGroupId", &req.id, 40)?;
        if req.description.is_empty() {
            return Err(Error::invalid(
                "The parameter ReplicationGroupDescription must be provided and must not be blank.",
            ));
        }
        // A secondary of a global datastore takes the primary group's settings.
        let joining: Option<Joining> = match req.global_replication_group_id.clone() {
            Some(gid) => {
                let (ps, prg, pc) = self.global_primary_for_join(scope, &gid)?;
                inherit_from_global(&mut req, &gid, &prg, &pc)?;
                Some((
                    gid,
                    pc.auth.clone(),
                    pc.auth_token_last_modified,
                    (ps, pc.parameter_group.clone()),
                ))
            }
            None => None,
        };
        if !req.user_group_ids.is_empty() {
            if req.cluster.auth_token.is_some() {
                return Err(Error::combination(
                    "AuthToken and UserGroupIds cannot both be given: a replication group uses either an AUTH token or role-based access control.",
                ));
            }
            self.check_user_groups(
                scope,
                &req.user_group_ids,
                req.cluster.transit_encryption == Some(true),
            )?;
        }
        if req.kms_key_id.is_some() && req.at_rest_encryption != Some(true) {
            return Err(Error::combination(
                "KmsKeyId can only be specified when AtRestEncryptionEnabled is true.",
            ));
        }
        if req.data_tiering == Some(true) {
            return Err(Error::invalid(
                "DataTieringEnabled is only supported for the r6gd node types, which elasticache-local does not offer.",
            ));
        }
        check_durability(req.durability.as_deref())?;
        if self.wants_cluster_mode(scope, &req)? {
            return self.create_sharded_group(scope, id, req, joining);
        }
        // The primary: an existing cluster, or a new one.
        let existing = match &req.primary_cluster_id {
            Some(pid) => {
                let c = self.find_cluster(scope, pid)?;
                if c.engine == EngineKind::Memcached {
                    return Err(Error::invalid(
                        "Replication groups are only supported for the redis and valkey engines.",
                    ));
                }
                if c.status != lifecycle::AVAILABLE || c.replication_group_id.is_some() {
                    return Err(Error::new(
                        Fault::InvalidCacheClusterState,
                        format!(
                            "Cache cluster {} is not in a valid state to be the primary of a replication group.",
                            c.id
                        ),
                    ));
                }
                Some(c)
            }
            None => None,
        };
        let n = match (req.num_cache_clusters, req.replicas_per_node_group) {
            (Some(n), _) => n,
            (None, Some(r)) => r + 1,
            (None, None) if existing.is_some() => 1,
            (None, None) => 1,
        };
        if !(1..=i64::try_from(MAX_MEMBERS).unwrap_or(6)).contains(&n) {
            return Err(Error::invalid(format!(
                "The number of cache clusters must be between 1 and {MAX_MEMBERS} (a primary and up to 5 replicas)."
            )));
        }
        let n = usize::try_from(n).unwrap_or(1);
        let automatic_failover = req.automatic_failover.unwrap_or(false);
        let multi_az = req.multi_az.unwrap_or(false);
        if automatic_failover && n < 2 {
            return Err(Error::combination(
                "Automatic failover requires at least 2 cache clusters (a primary and a replica).",
            ));
        }
        if multi_az && !automatic_failover {
            return Err(Error::combination(
                "Multi-AZ requires AutomaticFailoverEnabled to be true.",
            ));
        }
        if !req.preferred_azs.is_empty() && req.preferred_azs.len() != n {
            return Err(Error::invalid(
                "The number of PreferredCacheClusterAZs must equal NumCacheClusters.",
            ));
        }
        let engine_name = (req.cluster.engine.clone())
            .or_else(|| self.snapshot_engine(scope, req.cluster.snapshot_name.as_deref()))
            .unwrap_or_else(|| "redis".into());
        let mut base = req.cluster.clone();
        if let Some(c) = &existing {
            base.engine = Some(c.engine.as_str().to_owned());
            base.engine_version = Some(c.engine_version.clone());
            base.node_type = Some(c.node_type.clone());
            base.parameter_group = Some(c.parameter_group.clone());
            base.subnet_group.clone_from(&c.subnet_group);
        } else {
            let engine = super::cluster::parse_engine(&engine_name)?;
            if engine == EngineKind::Memcached {
                return Err(Error::invalid(
                    "Replication groups are only supported for the redis and valkey engines.",
                ));
            }
            base.engine = Some(engine.as_str().to_owned());
        }
        base.num_cache_nodes = Some(1);
        base.replication_group_id = None;
        base.az_mode = None;
        base.preferred_azs = Vec::new();
        // Members: the existing primary keeps its name; new ones are <rg>-001…
        let mut members: Vec<CacheCluster> = Vec::new();
        let mut ids: Vec<String> = existing.iter().map(|c| c.id.clone()).collect();
        let mut k = 0;
        while ids.len() < n {
            k += 1;
            ids.push(format!("{id}-{k:03}"));
        }
        for (i, mid) in ids.iter().enumerate() {
            if existing.as_ref().is_some_and(|c| &c.id == mid) {
                continue;
            }
            let mut r = base.clone();
            r.id.clone_from(mid);
            if let Some(az) = req.preferred_azs.get(i) {
                r.preferred_az = Some(az.clone());
            }
            let mut c = self.build_cluster(scope, r)?;
            c.replication_group_id = Some(id.clone());
            c.at_rest_encryption = req.at_rest_encryption == Some(true);
            c.kms_key_id.clone_from(&req.kms_key_id);
            if let Some((_, auth, modified, _)) = &joining {
                // The primary region's AUTH token(s), as AWS carries them over.
                c.auth = auth.clone();
                c.auth_token_last_modified = *modified;
            }
            members.push(c);
        }
        let template = existing.clone().or_else(|| members.first().cloned());
        let Some(t) = template else {
            return Err(Error::internal("replication group without members"));
        };
        if self
            .find_parameter_group(scope, &t.parameter_group)
            .is_ok_and(|pg| pg.values.get("cluster-enabled").map(String::as_str) == Some("yes"))
        {
            return Err(cluster_mode_not_yet());
        }
        let now = Self::now();
        let mut taken = node_hosts(existing.iter().chain(&members));
        let (primary_host, primary_port) = self.alloc_addr(t.port, &mut taken)?;
        let (reader_host, reader_port) = self.alloc_addr(t.port, &mut taken)?;
        let group = ReplicationGroup {
            id: id.clone(),
            description: req.description.clone(),
            status: lifecycle::CREATING.to_owned(),
            members: ids.clone(),
            primary: ids[0].clone(),
            automatic_failover,
            multi_az,
            primary_port,
            reader_port,
            primary_host: Some(primary_host),
            reader_host: Some(reader_host),
            engine: t.engine,
            snapshot_retention_limit: t.snapshot_retention_limit,
            snapshot_window: t
                .snapshot_window
                .clone()
                .unwrap_or_else(|| "06:30-07:30".to_owned()),
            snapshotting_cluster: (t.snapshot_retention_limit > 0).then(|| ids[0].clone()),
            auth_token_enabled: t.auth.enabled(),
            auth_token_last_modified: t.auth_token_last_modified,
            network_type: t.network_type.clone(),
            ip_discovery: t.ip_discovery.clone(),
            auto_minor_version_upgrade: t.auto_minor_version_upgrade,
            created: now,
            tags: req.cluster.tags.clone(),
            failover_to: None,
            failover_test: false,
            rolling: Vec::new(),
            rolling_node_type: None,
            rolling_engine: None,
            rolling_engine_version: None,
            rolling_parameter_group: None,
            migration: None,
            migration_test: None,
            generation: 1,
            node_groups: Vec::new(),
            cluster_mode: None,
            config_port: None,
            config_host: None,
            durability: req.durability.clone(),
            user_group_ids: req.user_group_ids.clone(),
            users_pending: false,
            global_id: joining.as_ref().map(|j| j.0.clone()),
            fronted: false,
            recluster: false,
            pending_shards: None,
        };
        if let Some((_, _, _, (ps, source))) = &joining {
            // Its own copy of the primary's parameter group, as on AWS.
            let pg = self.create_global_datastore_parameter_group(scope, &id, ps, source)?;
            for m in &mut members {
                m.parameter_group.clone_from(&pg);
            }
        }
        self.insert_clusters(scope, &members, Some(&group))?;
        if let Some((gid, ..)) = &joining {
            self.join_global(scope, gid, &id)?;
        }
        if let Some(c) = existing {
            let gid = id.clone();
            self.update_cluster(scope, &c.id, move |c| {
                c.replication_group_id = Some(gid);
                Ok(())
            })?;
        }
        Ok(group)
    }

    /// Store a group and the clusters it changes in one transaction (after a
    /// crash all of them or none), then make them visible in `r`.
    pub(crate) fn store_group_with_clusters(
        &self,
        scope: &Scope,
        r: &mut super::Region,
        group: ReplicationGroup,
        clusters: Vec<CacheCluster>,
    ) -> Result<()> {
        let mut items = Vec::new();
        for c in &clusters {
            items.push(("cluster", c.id.as_str(), Some(Self::encode(c)?)));
        }
        items.push((
            "replicationgroup",
            group.id.as_str(),
            Some(Self::encode(&group)?),
        ));
        self.persist_all(scope, &items)?;
        for c in clusters {
            r.clusters.insert(c.id.clone(), c);
        }
        r.replication_groups.insert(group.id.clone(), group);
        Ok(())
    }

    /// What a global datastore's member group may not change by itself, as
    /// AWS refuses it: its node type, engine, engine version and parameter
    /// group change through the datastore (`ModifyGlobalReplicationGroup`),
    /// its shards through `Increase`/`DecreaseNodeGroupsInGlobalReplicationGroup`;
    /// otherwise the member would drift from the other regions. A value equal
    /// to the current one is not a change. Called for the API's requests; the
    /// datastore's own rolls go through.
    pub fn check_member_change(
        &self,
        scope: &Scope,
        id: &str,
        req: Option<&ModifyReplicationGroup>,
    ) -> Result<()> {
        let g = self.find_replication_group(scope, id)?;
        let Some(gid) = &g.global_id else {
            return Ok(());
        };
        let refused = || {
            Err(Error::invalid(format!(
                "Cluster [{}] is part of a global cluster [{gid}]. Request rejected.",
                g.id
            )))
        };
        let Some(req) = req else {
            return refused();
        };
        let current = self.find_cluster(scope, &g.primary)?;
        let differs =
            |asked: Option<&String>, now: &str| asked.is_some_and(|a| !a.eq_ignore_ascii_case(now));
        if differs(req.cluster.node_type.as_ref(), &current.node_type)
            || differs(req.cluster.engine_version.as_ref(), &current.engine_version)
            || differs(
                req.cluster.parameter_group.as_ref(),
                &current.parameter_group,
            )
            || req.engine.is_some_and(|e| e != current.engine)
        {
            return refused();
        }
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    pub fn modify_replication_group(
        &self,
        scope: &Scope,
        req: ModifyReplicationGroup,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, &req.id)?;
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        check_durability(req.durability.as_deref())?;
        if g.cluster_enabled() {
            self.check_sharded_modify(scope, &g, &req)?;
        } else if req
            .cluster_mode
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case("disabled"))
        {
            return Err(cluster_mode_not_yet());
        }
        if let Some(ng) = &req.node_group_id {
            if ng != NODE_GROUP_ID && g.node_groups.iter().all(|x| x.id != *ng) {
                return Err(Error::new(
                    Fault::NodeGroupNotFoundFault,
                    format!("Node group {ng} not found in replication group {}.", g.id),
                ));
            }
        }
        if req.cluster.auth_token_update_strategy.as_deref() == Some("DELETE")
            && req.user_groups_to_add.is_empty()
        {
            return Err(Error::combination(
                "AuthTokenUpdateStrategy DELETE is only allowed when moving to role-based access control with UserGroupIdsToAdd.",
            ));
        }
        let current = self.find_cluster(scope, &g.primary)?;
        let transit = next_transit(&current, req.transit_enabled, req.transit_mode.as_deref())?;
        let auth_change =
            req.cluster.auth_token.is_some() || req.cluster.auth_token_update_strategy.is_some();
        // AWS looks at this before the token itself: HashiCorp's 5.x provider
        // sends `AuthTokenUpdateStrategy=ROTATE` with no token after an import,
        // and AWS's answer (hashicorp/terraform-provider-aws#38209) is this one.
        if auth_change
            && current.transit_mode.is_none()
            && transit.as_ref().is_none_or(|t| t.1.is_none())
        {
            return Err(Error::invalid(
                "The AUTH token modification is only supported when encryption-in-transit is enabled.",
            ));
        }
        let auth_after = if auth_change {
            current.auth.next(
                req.cluster.auth_token.as_deref(),
                req.cluster.auth_token_update_strategy.as_deref(),
            )?
        } else {
            None
        }
        .unwrap_or_else(|| current.auth.clone());
        let mode_after: Option<String> = transit
            .as_ref()
            .map_or(current.transit_mode.clone(), |t| t.1.clone());
        if auth_after.enabled() && mode_after.as_deref() == Some("preferred") {
            return Err(Error::combination(
                "Transit encryption preferred is not supported with redis access control.",
            ));
        }
        if auth_after.enabled() && mode_after.is_none() {
            return Err(Error::combination(
                "Auth Token can only be specified when TransitEncryptionEnabled is true.",
            ));
        }
        let mut req = req;
        req.cluster.transit = transit;
        let user_groups_after =
            if req.user_groups_to_add.is_empty() && req.user_groups_to_remove.is_empty() {
                None
            } else {
                let mut after: Vec<String> = g
                    .user_group_ids
                    .iter()
                    .filter(|u| !req.user_groups_to_remove.contains(u))
                    .cloned()
                    .collect();
                for u in &req.user_groups_to_remove {
                    if !g.user_group_ids.contains(u) {
                        return Err(Error::invalid(format!(
                            "User group {u} is not associated with replication group {}.",
                            g.id
                        )));
                    }
                }
                let new: Vec<String> = req
                    .user_groups_to_add
                    .iter()
                    .filter(|u| !after.contains(u))
                    .cloned()
                    .collect();
                if !new.is_empty() {
                    self.check_user_groups(scope, &new, mode_after.is_some())?;
                }
                after.extend(new);
                Some(after)
            };
        let rbac_after = user_groups_after
            .as_ref()
            .map_or(!g.user_group_ids.is_empty(), |u| !u.is_empty());
        if rbac_after && auth_after.enabled() {
            return Err(Error::combination(
                "A replication group uses either an AUTH token or user groups: to move from AUTH to role-based access control, give UserGroupIdsToAdd with AuthTokenUpdateStrategy DELETE.",
            ));
        }
        let af = req.automatic_failover.unwrap_or(g.automatic_failover);
        let multi_az = req.multi_az.unwrap_or(g.multi_az && af);
        if af && g.members.len() < 2 {
            return Err(Error::combination(
                "Automatic failover requires at least 2 cache clusters (a primary and a replica).",
            ));
        }
        if multi_az && !af {
            return Err(Error::combination(
                "Multi-AZ requires AutomaticFailoverEnabled to be true.",
            ));
        }
        let promote = match &req.primary_cluster_id {
            Some(p) => {
                let p = p.to_ascii_lowercase();
                if !g.members.contains(&p) {
                    return Err(Error::new(
                        Fault::CacheClusterNotFound,
                        format!(
                            "Cache cluster {p} is not a member of replication group {}.",
                            g.id
                        ),
                    ));
                }
                (p != g.primary).then_some(p)
            }
            None => None,
        };
        if let Some(s) = &req.snapshotting_cluster_id {
            if !g.members.contains(&s.to_ascii_lowercase()) {
                return Err(Error::new(
                    Fault::CacheClusterNotFound,
                    format!(
                        "Cache cluster {s} is not a member of replication group {}.",
                        g.id
                    ),
                ));
            }
        }
        let m = &req.cluster;
        if let Some(nt) = &m.node_type {
            check_node_type(nt)?;
        }
        let engine = req.engine.unwrap_or(g.engine);
        let engine_change = (engine != g.engine).then_some(engine);
        if engine_change.is_some()
            && !(g.engine == EngineKind::Redis && engine == EngineKind::Valkey)
        {
            return Err(Error::combination(format!(
                "Replication group {} runs {}: its engine cannot change to {} (only redis to valkey).",
                g.id,
                g.engine.as_str(),
                engine.as_str()
            )));
        }
        if engine_change.is_some() && !(m.apply_immediately && m.engine_version.is_some()) {
            return Err(Error::invalid(
                "A change of engine needs the new engine's version, applied immediately.",
            ));
        }
        let version = m
            .engine_version
            .as_deref()
            .map(|v| resolve_version(engine, Some(v)))
            .transpose()?;
        // Node type and engine changes applied now roll through the members.
        let rolling = m.apply_immediately && (m.node_type.is_some() || version.is_some());
        let mut per_member = m.clone();
        let mut rolling_pg = None;
        if rolling {
            per_member.node_type = None;
            per_member.engine_version = None;
            if let Some(v) = version {
                // The parameter group goes with the new version, member by
                // member; checked here so that the request fails, not the roll.
                rolling_pg = per_member.parameter_group.take();
                let current = self.find_cluster(scope, &g.primary)?;
                let family_now =
                    catalog::family_for(current.engine.as_str(), &current.engine_version)
                        .unwrap_or_default();
                let target = v.cache_parameter_group_family.as_str();
                match &rolling_pg {
                    Some(name) => {
                        let pg = self.find_parameter_group(scope, name)?;
                        if pg.family != target {
                            return Err(Error::combination(format!(
                                "The parameter group family {} does not match the engine family {target}.",
                                pg.family
                            )));
                        }
                    }
                    None if target != family_now
                        && !self
                            .find_parameter_group(scope, &current.parameter_group)?
                            .is_default() =>
                    {
                        return Err(Error::combination(format!(
                            "The engine version {} needs a parameter group of family {target}: specify CacheParameterGroupName.",
                            v.engine_version
                        )));
                    }
                    None => {}
                }
            }
        }
        let touches_members = per_member.parameter_group.is_some()
            || per_member.maintenance_window.is_some()
            || per_member.snapshot_window.is_some()
            || per_member.snapshot_retention_limit.is_some()
            || per_member.security_group_ids.is_some()
            || per_member.notification_topic_arn.is_some()
            || per_member.notification_topic_status.is_some()
            || per_member.auto_minor_version_upgrade.is_some()
            || per_member.ip_discovery.is_some()
            || per_member.auth_token.is_some()
            || per_member.auth_token_update_strategy.is_some()
            || per_member.transit.is_some()
            || per_member.node_type.is_some()
            || per_member.engine_version.is_some();
        if touches_members {
            for mid in &g.members {
                let mut r = per_member.clone();
                r.id.clone_from(mid);
                self.modify_cluster(scope, r)?;
            }
        }
        let description = req.description.clone();
        let snap = req.snapshotting_cluster_id.clone();
        let rolling_members: Vec<String> = if rolling {
            let mut v: Vec<String> = g
                .members
                .iter()
                .filter(|x| **x != g.primary)
                .cloned()
                .collect();
            v.push(g.primary.clone());
            v
        } else {
            Vec::new()
        };
        let node_type = m.node_type.clone();
        let engine_version = version.map(|v| v.engine_version.clone());
        let g = self.update_replication_group(scope, &g.id, move |g| {
            if let Some(d) = description {
                g.description = d;
            }
            g.automatic_failover = af;
            g.multi_az = multi_az;
            if let Some(s) = snap {
                g.snapshotting_cluster = Some(s.to_ascii_lowercase());
            }
            if let Some(v) = per_member.snapshot_retention_limit {
                g.snapshot_retention_limit = v;
                if v > 0 && g.snapshotting_cluster.is_none() {
                    g.snapshotting_cluster = Some(g.primary.clone());
                }
            }
            if let Some(v) = &per_member.snapshot_window {
                g.snapshot_window.clone_from(v);
            }
            if let Some(v) = per_member.auto_minor_version_upgrade {
                g.auto_minor_version_upgrade = v;
            }
            if let Some(v) = &per_member.ip_discovery {
                g.ip_discovery.clone_from(v);
            }
            if let Some(p) = promote {
                g.failover_to = Some(p);
                g.failover_test = false;
                g.status = lifecycle::MODIFYING.to_owned();
            }
            if !rolling_members.is_empty() {
                g.rolling = rolling_members;
                g.rolling_node_type = node_type;
                g.rolling_engine_version = engine_version;
                g.rolling_parameter_group = rolling_pg;
                g.rolling_engine = engine_change;
                if let Some(e) = engine_change {
                    g.engine = e;
                }
                g.status = lifecycle::MODIFYING.to_owned();
            }
            if touches_members {
                g.status = lifecycle::MODIFYING.to_owned();
            }
            if let Some(ugs) = user_groups_after {
                g.user_group_ids = ugs;
                g.users_pending = true;
                g.status = lifecycle::MODIFYING.to_owned();
            }
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!("Replication group {} modified", g.id),
        );
        Ok(g)
    }

    pub fn delete_replication_group(
        &self,
        scope: &Scope,
        id: &str,
        retain_primary: bool,
        final_snapshot: Option<&str>,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        if g.status == lifecycle::DELETING {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!("Replication group {} is already being deleted.", g.id),
            ));
        }
        self.leave_global_on_delete(scope, &g)?;
        if retain_primary && g.cluster_enabled() {
            return Err(Error::combination(
                "RetainPrimaryCluster is not supported for a replication group with cluster mode enabled.",
            ));
        }
        if let Some(name) = final_snapshot {
            self.final_snapshot_of_group(scope, &g, name)?;
        }
        // The group and its members change in one transaction: a crash
        // never leaves members being deleted under a group that is not.
        let next = {
            let mut st = self.lock();
            let r = st.region(scope);
            let Some(cur) = r.replication_groups.get(&g.id) else {
                return Err(not_found(&g.id));
            };
            let mut next = cur.clone();
            next.status = lifecycle::DELETING.to_owned();
            if retain_primary {
                let p = next.primary.clone();
                next.members.retain(|m| *m != p);
            }
            next.failover_to = None;
            next.rolling.clear();
            next.generation += 1;
            let mut members = Vec::new();
            for mid in &cur.members {
                let Some(c) = r.clusters.get(mid) else {
                    continue;
                };
                let mut c = c.clone();
                if retain_primary && *mid == cur.primary {
                    c.replication_group_id = None;
                } else {
                    c.status = lifecycle::DELETING.to_owned();
                    for n in &mut c.nodes {
                        n.status = lifecycle::NODE_DELETING.to_owned();
                    }
                }
                c.generation += 1;
                members.push(c);
            }
            self.store_group_with_clusters(scope, r, next.clone(), members)?;
            next
        };
        self.wake();
        Ok(next)
    }

    pub fn test_failover(
        &self,
        scope: &Scope,
        id: &str,
        node_group_id: &str,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        if g.cluster_enabled() {
            return self.sharded_test_failover(scope, &g, node_group_id);
        }
        if node_group_id != NODE_GROUP_ID {
            return Err(Error::new(
                Fault::NodeGroupNotFoundFault,
                format!(
                    "Node group {node_group_id} not found in replication group {}.",
                    g.id
                ),
            ));
        }
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        if !g.automatic_failover {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} must have automatic failover enabled to test failover.",
                    g.id
                ),
            ));
        }
        let members = self.replication_group_view(scope, &g);
        let Some(target) = members
            .iter()
            .find(|c| c.id != g.primary && c.status == lifecycle::AVAILABLE)
        else {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!("Replication group {} has no available replica.", g.id),
            ));
        };
        let target = target.id.clone();
        let g = self.update_replication_group(scope, id, move |g| {
            g.failover_to = Some(target);
            g.failover_test = true;
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!("Test Failover API called for node group {NODE_GROUP_ID}"),
        );
        Ok(g)
    }

    /// Add `count` replicas built like the primary.
    fn add_replicas(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        count: usize,
        template: Option<CreateCluster>,
        ids: Option<Vec<String>>,
    ) -> Result<ReplicationGroup> {
        if g.members.len() + count > MAX_MEMBERS {
            return Err(Error::new(
                Fault::NodeQuotaForClusterExceeded,
                format!(
                    "A replication group with cluster mode disabled has at most {} replicas.",
                    MAX_MEMBERS - 1
                ),
            ));
        }
        let primary = self.find_cluster(scope, &g.primary)?;
        let ids = ids.unwrap_or_else(|| g.next_member_ids(count));
        let mut new = Vec::new();
        for mid in &ids {
            let mut r = template.clone().unwrap_or_default();
            r.id.clone_from(mid);
            r.engine = Some(primary.engine.as_str().to_owned());
            r.engine_version = Some(primary.engine_version.clone());
            r.node_type = Some(primary.node_type.clone());
            r.parameter_group = Some(primary.parameter_group.clone());
            r.subnet_group.clone_from(&primary.subnet_group);
            if r.security_group_ids.is_empty() {
                r.security_group_ids.clone_from(&primary.security_group_ids);
            }
            r.maintenance_window
                .get_or_insert_with(|| primary.maintenance_window.clone());
            r.snapshot_window.clone_from(&primary.snapshot_window);
            r.snapshot_retention_limit = Some(primary.snapshot_retention_limit);
            r.num_cache_nodes = Some(1);
            r.replication_group_id = None;
            if r.tags.is_empty() {
                r.tags.clone_from(&g.tags);
            }
            let mut c = self.build_cluster(scope, r)?;
            c.replication_group_id = Some(g.id.clone());
            c.auth.clone_from(&primary.auth);
            c.auth_token_last_modified = primary.auth_token_last_modified;
            c.transit_encryption = primary.transit_encryption;
            c.transit_mode.clone_from(&primary.transit_mode);
            c.at_rest_encryption = primary.at_rest_encryption;
            c.kms_key_id.clone_from(&primary.kms_key_id);
            new.push(c);
        }
        self.insert_clusters(scope, &new, None)?;
        self.update_replication_group(scope, &g.id, move |g| {
            g.members.extend(ids);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })
    }

    /// `CreateCacheCluster` with `ReplicationGroupId`: a read replica of the group.
    pub(crate) fn add_read_replica(
        &self,
        scope: &Scope,
        mut req: CreateCluster,
    ) -> Result<CacheCluster> {
        let rg = req.replication_group_id.take().unwrap_or_default();
        let g = self.find_replication_group(scope, &rg)?;
        if g.cluster_enabled() {
            return Err(Error::invalid(format!(
                "Replication group {} has cluster mode enabled: add replicas with IncreaseReplicaCount.",
                g.id
            )));
        }
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        if req.num_cache_nodes.is_some_and(|n| n != 1) {
            return Err(Error::invalid(
                "A read replica of a replication group has exactly one cache node.",
            ));
        }
        let id = validate::identifier("Cache cluster", "CacheClusterId", &req.id, 50)?;
        let primary = self.find_cluster(scope, &g.primary)?;
        if let Some(e) = &req.engine {
            if !e.eq_ignore_ascii_case(primary.engine.as_str()) {
                return Err(Error::combination(format!(
                    "The engine of a read replica must be the group's ({}).",
                    primary.engine.as_str()
                )));
            }
        }
        req.engine = None;
        req.engine_version = None;
        self.add_replicas(scope, &g, 1, Some(req), Some(vec![id.clone()]))?;
        self.find_cluster(scope, &id)
    }

    pub fn increase_replica_count(
        &self,
        scope: &Scope,
        id: &str,
        new_count: Option<i64>,
        per_shard: &[ShardReplicas],
        apply_immediately: bool,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        if !apply_immediately {
            return Err(Error::invalid(
                "ApplyImmediately must be true: replica count changes are applied immediately.",
            ));
        }
        if g.cluster_enabled() {
            return self.sharded_increase_replicas(scope, &g, new_count, per_shard);
        }
        let new_count = new_count.or_else(|| per_shard.first().map(|s| s.new_replica_count));
        let Some(want) = new_count else {
            return Err(Error::invalid(
                "The parameter NewReplicaCount must be provided.",
            ));
        };
        let have = g.members.len() - 1;
        let want = usize::try_from(want).unwrap_or(0);
        if want > MAX_MEMBERS - 1 {
            return Err(Error::invalid(format!(
                "NewReplicaCount must be at most {}.",
                MAX_MEMBERS - 1
            )));
        }
        if want <= have {
            return Err(Error::invalid(format!(
                "NewReplicaCount ({want}) must be greater than the current number of replicas ({have})."
            )));
        }
        let g = self.add_replicas(scope, &g, want - have, None, None)?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!(
                "Increasing the number of replicas of replication group {} to {want}",
                g.id
            ),
        );
        Ok(g)
    }

    pub fn decrease_replica_count(
        &self,
        scope: &Scope,
        id: &str,
        new_count: Option<i64>,
        per_shard: &[ShardReplicas],
        to_remove: &[String],
        apply_immediately: bool,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        if !apply_immediately {
            return Err(Error::invalid(
                "ApplyImmediately must be true: replica count changes are applied immediately.",
            ));
        }
        if g.cluster_enabled() {
            return self.sharded_decrease_replicas(scope, &g, new_count, per_shard, to_remove);
        }
        let new_count = new_count.or_else(|| per_shard.first().map(|s| s.new_replica_count));
        let have = g.members.len() - 1;
        let remove: Vec<String> = if to_remove.is_empty() {
            let Some(want) = new_count else {
                return Err(Error::invalid(
                    "Either NewReplicaCount or ReplicasToRemove must be provided.",
                ));
            };
            let want = usize::try_from(want).unwrap_or(0);
            if want >= have {
                return Err(Error::invalid(format!(
                    "NewReplicaCount ({want}) must be less than the current number of replicas ({have})."
                )));
            }
            g.members
                .iter()
                .rev()
                .filter(|m| **m != g.primary)
                .take(have - want)
                .cloned()
                .collect()
        } else {
            let list: Vec<String> = to_remove.iter().map(|s| s.to_ascii_lowercase()).collect();
            for r in &list {
                if !g.members.contains(r) {
                    return Err(Error::new(
                        Fault::CacheClusterNotFound,
                        format!(
                            "Cache cluster {r} is not a member of replication group {}.",
                            g.id
                        ),
                    ));
                }
                if *r == g.primary {
                    return Err(Error::invalid(format!(
                        "Cache cluster {r} is the primary of replication group {}: promote another member first.",
                        g.id
                    )));
                }
            }
            if new_count.is_some_and(|n| usize::try_from(n).ok() != Some(have - list.len())) {
                return Err(Error::invalid(
                    "NewReplicaCount does not match the number of ReplicasToRemove.",
                ));
            }
            list
        };
        if remove.is_empty() {
            return Err(Error::new(
                Fault::NoOperationFault,
                "The replica count is already as requested.",
            ));
        }
        if g.automatic_failover && have - remove.len() < 1 {
            return Err(Error::invalid(
                "A replication group with automatic failover enabled needs at least one replica.",
            ));
        }
        for mid in &remove {
            self.update_cluster(scope, mid, |c| {
                c.status = lifecycle::DELETING.to_owned();
                for n in &mut c.nodes {
                    n.status = lifecycle::NODE_DELETING.to_owned();
                }
                Ok(())
            })?;
        }
        let g = self.update_replication_group(scope, id, move |g| {
            g.members.retain(|m| !remove.contains(m));
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!(
                "Decreasing the number of replicas of replication group {} to {}",
                g.id,
                g.members.len() - 1
            ),
        );
        Ok(g)
    }

    /// `DeleteCacheCluster` of a member: the primary cannot go; a replica leaves the group.
    pub(crate) fn detach_member_for_delete(
        &self,
        scope: &Scope,
        rg: &str,
        cluster_id: &str,
    ) -> Result<()> {
        let Ok(g) = self.find_replication_group(scope, rg) else {
            return Ok(());
        };
        if g.status == lifecycle::DELETING {
            return Ok(());
        }
        if g.cluster_enabled() {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {cluster_id} is a member of replication group {}, which has cluster mode enabled: remove it with DecreaseReplicaCount.",
                    g.id
                ),
            ));
        }
        if g.primary == cluster_id {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {cluster_id} is the primary of replication group {}: it cannot be deleted.",
                    g.id
                ),
            ));
        }
        if g.automatic_failover && g.members.len() <= 2 {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {cluster_id} is the last replica of replication group {}, which has automatic failover enabled.",
                    g.id
                ),
            ));
        }
        let cid = cluster_id.to_owned();
        self.update_replication_group(scope, rg, move |g| {
            g.members.retain(|m| *m != cid);
            if g.snapshotting_cluster.as_deref() == Some(cid.as_str()) {
                g.snapshotting_cluster = Some(g.primary.clone());
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// The addresses the nodes of `clusters` answer on, which new endpoints avoid.
pub(super) fn node_hosts<'a>(clusters: impl Iterator<Item = &'a CacheCluster>) -> Vec<Ipv4Addr> {
    clusters
        .flat_map(|c| c.nodes.iter().map(|n| n.host))
        .filter(|h| *h != Ipv4Addr::LOCALHOST)
        .collect()
}
