//! Replication groups with cluster mode enabled: node groups (shards), each a
//! primary and up to five replicas, owning hash slots of a real Redis Cluster.
//!
//! The record holds the desired topology (members of each shard, the slots
//! each shard should own, shards being removed); the reconciler
//! (`worker/cluster_mode.rs`) makes the engines follow it — meeting nodes,
//! assigning and migrating slots — and reports back failovers the engines made.

use serde::{Deserialize, Serialize};

use super::{CreateReplicationGroup, ModifyReplicationGroup, ReplicationGroup};
use crate::engine::EngineKind;
use crate::model::cluster::{parse_engine, resolve_version, CacheCluster, CreateCluster};
use crate::model::{lifecycle, ControlPlane, Error, Fault, Result, Scope};

/// Hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;
/// Node groups per replication group (AWS's quota).
pub const MAX_NODE_GROUPS: i64 = 500;
/// Replicas per node group.
pub const MAX_REPLICAS: i64 = 5;

/// One shard: its member clusters (one node each) and the slots it should own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroup {
    pub id: String,
    /// Inclusive slot ranges, sorted; what the engines must converge to.
    pub slots: Vec<(u16, u16)>,
    /// The member whose node is the shard's master (as last seen).
    pub primary: String,
    /// Member clusters, primary first at creation.
    pub members: Vec<String>,
    /// Being removed: its slots move to other shards, then its nodes go.
    #[serde(default)]
    pub removing: bool,
}

/// One `NodeGroupConfiguration` entry as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct NodeGroupSpec {
    pub id: Option<String>,
    pub slots: Option<String>,
    pub replica_count: Option<i64>,
    pub primary_az: Option<String>,
    pub replica_azs: Vec<String>,
}

/// One `ReplicaConfiguration` (`ConfigureShard`) entry.
#[derive(Debug, Clone, Default)]
pub struct ShardReplicas {
    pub node_group_id: String,
    pub new_replica_count: i64,
    pub azs: Vec<String>,
}

/// `ModifyReplicationGroupShardConfiguration` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct ShardConfiguration {
    pub id: String,
    pub node_group_count: i64,
    pub apply_immediately: bool,
    /// `(NodeGroupId, PreferredAvailabilityZones)`.
    pub resharding: Vec<(String, Vec<String>)>,
    pub to_remove: Vec<String>,
    pub to_retain: Vec<String>,
}

/// Parse `Slots` as AWS writes them: `0-5460`, or ranges and single slots
/// separated by commas.
pub fn parse_slots(s: &str) -> Result<Vec<(u16, u16)>> {
    let bad = || Error::invalid(format!("Invalid slot range: {s}. Slots look like 0-5460."));
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= SLOTS {
            return Err(bad());
        }
        out.push((a, b));
    }
    if out.is_empty() {
        return Err(bad());
    }
    out.sort_unstable();
    Ok(out)
}

/// Slots as `DescribeReplicationGroups` shows them.
#[must_use]
pub fn format_slots(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Owner per slot → ranges per owner index.
fn ranges_of(owner: &[usize], who: usize) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (s, o) in owner.iter().enumerate() {
        if *o != who {
            continue;
        }
        let s = u16::try_from(s).unwrap_or(0);
        match out.last_mut() {
            Some((_, b)) if *b + 1 == s => *b = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Slots split evenly over `n` shards, in order (as `redis-cli --cluster create`).
#[must_use]
pub fn even_split(n: usize) -> Vec<Vec<(u16, u16)>> {
    let n = n.max(1);
    let total = usize::from(SLOTS);
    let mut owner = vec![0; total];
    let mut start = 0;
    for i in 0..n {
        let count = total / n + usize::from(i < total % n);
        for o in owner.iter_mut().skip(start).take(count) {
            *o = i;
        }
        start += count;
    }
    (0..n).map(|i| ranges_of(&owner, i)).collect()
}

/// Move slots so that shards not being removed own an even share each and
/// removed shards own none, moving as few slots as possible.
pub fn rebalance(groups: &mut [NodeGroup]) {
    let total = usize::from(SLOTS);
    let mut owner = vec![usize::MAX; total];
    for (i, g) in groups.iter().enumerate() {
        for (a, b) in &g.slots {
            for s in *a..=*b {
                owner[usize::from(s)] = i;
            }
        }
    }
    let active: Vec<usize> = (0..groups.len()).filter(|i| !groups[*i].removing).collect();
    if active.is_empty() {
        return;
    }
    let mut target = vec![0usize; groups.len()];
    for (k, i) in active.iter().enumerate() {
        target[*i] = total / active.len() + usize::from(k < total % active.len());
    }
    let mut have = vec![0usize; groups.len()];
    for o in owner.iter().filter(|o| **o != usize::MAX) {
        have[*o] += 1;
    }
    // Surplus slots (highest first from each donor) and unowned slots.
    let mut spare: Vec<usize> = (0..total).filter(|s| owner[*s] == usize::MAX).collect();
    for (i, t) in target.iter().enumerate() {
        let mut surplus = have[i].saturating_sub(*t);
        for s in (0..total).rev() {
            if surplus == 0 {
                break;
            }
            if owner[s] == i {
                spare.push(s);
                surplus -= 1;
            }
        }
    }
    spare.sort_unstable();
    let mut it = spare.into_iter();
    for i in &active {
        let need = target[*i].saturating_sub(have[*i]);
        for s in it.by_ref().take(need) {
            owner[s] = *i;
        }
    }
    for (i, g) in groups.iter_mut().enumerate() {
        g.slots = ranges_of(&owner, i);
    }
}

/// A reshard of a group that left a global datastore while its cluster
/// mode was served by fronts, waiting for it to be a Redis Cluster again
/// (`ControlPlane::recluster`); then it runs (`resume_shards`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingShards {
    /// `ModifyReplicationGroupShardConfiguration` (and the shard count
    /// actions that come to it).
    Configure {
        count: i64,
        resharding: Vec<(String, Vec<String>)>,
        remove: Vec<String>,
        retain: Vec<String>,
    },
    /// Slots spread evenly again (`rebalance_slots`).
    Rebalance,
}

/// Member cluster ids of a shard: `<rg>-<ng>-001…`.
fn member_id(rg: &str, ng: &str, k: usize) -> String {
    format!("{rg}-{ng}-{k:03}")
}

fn node_group_id(raw: &str) -> Result<String> {
    let n: u32 = raw
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=9999).contains(n) && raw.trim().len() <= 4)
        .ok_or_else(|| {
            Error::invalid(format!(
                "Invalid node group id: {raw}. A node group id is 1 to 4 digits."
            ))
        })?;
    Ok(format!("{n:04}"))
}

fn quota(n: i64) -> Result<()> {
    if n > MAX_NODE_GROUPS {
        return Err(Error::new(
            Fault::NodeGroupsPerReplicationGroupQuotaExceeded,
            format!(
                "The number of node groups per replication group cannot exceed {MAX_NODE_GROUPS}."
            ),
        ));
    }
    if n < 1 {
        return Err(Error::invalid(
            "The number of node groups must be at least 1.",
        ));
    }
    Ok(())
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

fn node_group_not_found(g: &ReplicationGroup, ng: &str) -> Error {
    Error::new(
        Fault::NodeGroupNotFoundFault,
        format!("Node group {ng} not found in replication group {}.", g.id),
    )
}

impl ReplicationGroup {
    /// Whether this group is a Redis Cluster (cluster mode enabled or compatible).
    #[must_use]
    pub fn cluster_enabled(&self) -> bool {
        !self.node_groups.is_empty()
    }

    /// The shard a member cluster belongs to.
    #[must_use]
    pub fn node_group_of(&self, member: &str) -> Option<&NodeGroup> {
        self.node_groups
            .iter()
            .find(|ng| ng.members.iter().any(|m| m == member))
    }
}

impl ControlPlane {
    /// Whether a parameter group turns cluster mode on (`cluster-enabled` = `yes`).
    fn parameter_group_cluster_on(&self, scope: &Scope, name: &str) -> Result<bool> {
        let pg = self.find_parameter_group(scope, name)?;
        Ok(pg
            .effective()
            .into_iter()
            .any(|(p, v, _)| p.parameter_name == "cluster-enabled" && v.as_deref() == Some("yes")))
    }

    /// Whether `CreateReplicationGroup` asks for cluster mode, with AWS's errors
    /// for contradictory requests.
    pub(crate) fn wants_cluster_mode(
        &self,
        scope: &Scope,
        req: &CreateReplicationGroup,
    ) -> Result<bool> {
        let mode = match req.cluster_mode.as_deref().map(str::to_ascii_lowercase) {
            None => None,
            Some(m) if matches!(m.as_str(), "enabled" | "compatible" | "disabled") => Some(m),
            Some(m) => {
                return Err(Error::invalid(format!(
                    "Invalid value for ClusterMode: {m}. Valid values are enabled, disabled and compatible."
                )))
            }
        };
        let structural = req.num_node_groups.is_some_and(|n| n > 1) || req.node_groups.len() > 1;
        let on = match &req.cluster.parameter_group {
            Some(pg) if req.primary_cluster_id.is_none() => {
                let on = self.parameter_group_cluster_on(scope, pg)?;
                if on && mode.as_deref() == Some("disabled") {
                    return Err(Error::combination(format!(
                        "Cache parameter group {pg} has cluster-enabled set to yes, which is incompatible with ClusterMode disabled."
                    )));
                }
                if !on && (structural || matches!(mode.as_deref(), Some("enabled" | "compatible")))
                {
                    return Err(Error::combination(format!(
                        "Cluster mode requires a cache parameter group with cluster-enabled set to yes; {pg} has cluster-enabled set to no."
                    )));
                }
                on
            }
            _ => {
                if structural && mode.as_deref() == Some("disabled") {
                    return Err(Error::combination(
                        "More than one node group requires cluster mode enabled.",
                    ));
                }
                structural || matches!(mode.as_deref(), Some("enabled" | "compatible"))
            }
        };
        if on && req.primary_cluster_id.is_some() {
            return Err(Error::combination(
                "PrimaryClusterId cannot be used with cluster mode enabled.",
            ));
        }
        if on && req.num_cache_clusters.is_some() {
            return Err(Error::combination(
                "NumCacheClusters cannot be used with cluster mode enabled: use NumNodeGroups and ReplicasPerNodeGroup.",
            ));
        }
        Ok(on)
    }

    /// `CreateReplicationGroup` with cluster mode enabled.
    #[allow(clippy::too_many_lines)]
    pub(crate) fn create_sharded_group(
        &self,
        scope: &Scope,
        id: String,
        req: CreateReplicationGroup,
        joining: Option<super::Joining>,
    ) -> Result<ReplicationGroup> {
        let engine = parse_engine(req.cluster.engine.as_deref().unwrap_or("redis"))?;
        if engine == EngineKind::Memcached {
            return Err(Error::invalid(
                "Replication groups are only supported for the redis and valkey engines.",
            ));
        }
        let version = resolve_version(engine, req.cluster.engine_version.as_deref())?;
        let family = &version.cache_parameter_group_family;
        let pg = match &req.cluster.parameter_group {
            Some(p) => p.clone(),
            None if crate::catalog::has_cluster_on_group(family) => {
                format!("default.{family}.cluster.on")
            }
            None => {
                return Err(Error::combination(format!(
                    "Cluster mode is not supported for {} {}.",
                    engine.as_str(),
                    version.engine_version
                )))
            }
        };
        let count = match (req.num_node_groups, req.node_groups.len()) {
            (Some(n), k) if k > 0 && usize::try_from(n).ok() != Some(k) => {
                return Err(Error::invalid(format!(
                    "NumNodeGroups ({n}) must equal the number of NodeGroupConfiguration entries ({k})."
                )))
            }
            (Some(n), _) => n,
            (None, 0) => 1,
            (None, k) => i64::try_from(k).unwrap_or(i64::MAX),
        };
        quota(count)?;
        let count = usize::try_from(count).unwrap_or(1);
        let default_replicas = req.replicas_per_node_group.unwrap_or(0);
        // Node group ids, replica counts, AZs.
        let mut specs: Vec<NodeGroupSpec> = req.node_groups.clone();
        specs.resize_with(count, NodeGroupSpec::default);
        let mut ids: Vec<String> = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let ng = match &s.id {
                Some(raw) => node_group_id(raw)?,
                None => {
                    let mut k = i + 1;
                    while ids.contains(&format!("{k:04}"))
                        || specs.iter().any(|x| {
                            x.id.as_deref().and_then(|r| node_group_id(r).ok())
                                == Some(format!("{k:04}"))
                        })
                    {
                        k += 1;
                    }
                    format!("{k:04}")
                }
            };
            if ids.contains(&ng) {
                return Err(Error::invalid(format!(
                    "Node group id {ng} is given more than once."
                )));
            }
            ids.push(ng);
        }
        let mut replicas = Vec::new();
        for s in &specs {
            let r = s.replica_count.unwrap_or(default_replicas);
            if !(0..=MAX_REPLICAS).contains(&r) {
                return Err(Error::invalid(format!(
                    "The number of replicas per node group must be between 0 and {MAX_REPLICAS}."
                )));
            }
            if !s.replica_azs.is_empty() && i64::try_from(s.replica_azs.len()).ok() != Some(r) {
                return Err(Error::invalid(
                    "The number of ReplicaAvailabilityZones must equal ReplicaCount.",
                ));
            }
            replicas.push(usize::try_from(r).unwrap_or(0));
        }
        // Slots: as asked (every shard, covering 0-16383 once), or evenly.
        let given = specs.iter().filter(|s| s.slots.is_some()).count();
        let slots: Vec<Vec<(u16, u16)>> = if given == 0 {
            even_split(count)
        } else {
            if given != count {
                return Err(Error::invalid(
                    "Slots must be given for every node group or for none.",
                ));
            }
            let parsed = specs
                .iter()
                .map(|s| parse_slots(s.slots.as_deref().unwrap_or_default()))
                .collect::<Result<Vec<_>>>()?;
            let mut seen = vec![false; usize::from(SLOTS)];
            for (a, b) in parsed.iter().flatten() {
                for s in *a..=*b {
                    if std::mem::replace(&mut seen[usize::from(s)], true) {
                        return Err(Error::invalid(format!(
                            "Slot {s} is assigned to more than one node group."
                        )));
                    }
                }
            }
            if let Some(s) = seen.iter().position(|x| !x) {
                return Err(Error::invalid(format!(
                    "The node groups' slots must cover 0-16383; slot {s} is not assigned."
                )));
            }
            parsed
        };
        let automatic_failover = match req.automatic_failover {
            Some(false) => {
                return Err(Error::combination(
                    "Automatic failover must be enabled for a replication group with cluster mode enabled.",
                ))
            }
            _ => true,
        };
        let multi_az = req.multi_az.unwrap_or(false);
        if multi_az && replicas.contains(&0) {
            return Err(Error::combination(
                "Multi-AZ requires at least one replica in every node group.",
            ));
        }
        let mut base: CreateCluster = req.cluster.clone();
        // A restore: each shard's nodes start from that shard's RDB.
        let restore = self.sharded_restore(
            scope,
            base.snapshot_name.take().as_deref(),
            &std::mem::take(&mut base.snapshot_arns),
            engine,
            &version.engine_version,
            &slots,
        )?;
        base.engine = Some(engine.as_str().to_owned());
        base.parameter_group = Some(pg);
        base.num_cache_nodes = Some(1);
        base.replication_group_id = None;
        base.az_mode = None;
        base.preferred_azs = Vec::new();
        let mut clusters: Vec<CacheCluster> = Vec::new();
        let mut node_groups = Vec::new();
        for (i, ng) in ids.iter().enumerate() {
            let mut members = Vec::new();
            for k in 0..=replicas[i] {
                let mut r = base.clone();
                r.id = member_id(&id, ng, k + 1);
                r.replication_group_id = Some(id.clone());
                r.preferred_az = if k == 0 {
                    specs[i].primary_az.clone()
                } else {
                    specs[i].replica_azs.get(k - 1).cloned()
                };
                let mut c = self.build_cluster(scope, r)?;
                c.replication_group_id = Some(id.clone());
                c.at_rest_encryption = req.at_rest_encryption == Some(true);
                c.kms_key_id.clone_from(&req.kms_key_id);
                if let Some((files, name)) = &restore {
                    c.restore_from = files.get(i).cloned();
                    c.restore_snapshot.clone_from(name);
                }
                if let Some((_, auth, modified, _)) = &joining {
                    // The primary region's AUTH token(s), as AWS carries them over.
                    c.auth = auth.clone();
                    c.auth_token_last_modified = *modified;
                }
                members.push(c.id.clone());
                clusters.push(c);
            }
            node_groups.push(NodeGroup {
                id: ng.clone(),
                slots: slots[i].clone(),
                primary: members[0].clone(),
                members,
                removing: false,
            });
        }
        let Some(t) = clusters.first().cloned() else {
            return Err(Error::internal("replication group without members"));
        };
        let mut taken = super::node_hosts(clusters.iter());
        let (config_host, config_port) = self.alloc_addr(t.port, &mut taken)?;
        let group = ReplicationGroup {
            id: id.clone(),
            description: req.description.clone(),
            status: lifecycle::CREATING.to_owned(),
            members: clusters.iter().map(|c| c.id.clone()).collect(),
            primary: t.id.clone(),
            automatic_failover,
            multi_az,
            primary_port: 0,
            reader_port: 0,
            primary_host: None,
            reader_host: None,
            engine: t.engine,
            snapshot_retention_limit: t.snapshot_retention_limit,
            snapshot_window: t
                .snapshot_window
                .clone()
                .unwrap_or_else(|| "06:30-07:30".to_owned()),
            snapshotting_cluster: None,
            auth_token_enabled: t.auth.enabled(),
            auth_token_last_modified: t.auth_token_last_modified,
            network_type: t.network_type.clone(),
            ip_discovery: t.ip_discovery.clone(),
            auto_minor_version_upgrade: t.auto_minor_version_upgrade,
            created: Self::now(),
            tags: req.cluster.tags.clone(),
            failover_to: None,
            failover_test: false,
            rolling: Vec::new(),
            rolling_node_type: None,
            rolling_engine: None,
            rolling_engine_version: None,
            rolling_parameter_group: None,
            generation: 1,
            migration: None,
            migration_test: None,
            node_groups,
            cluster_mode: Some(
                req.cluster_mode
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .filter(|m| m == "compatible")
                    .unwrap_or_else(|| "enabled".to_owned()),
            ),
            config_port: Some(config_port),
            config_host: Some(config_host),
            durability: req.durability.clone(),
            user_group_ids: req.user_group_ids.clone(),
            users_pending: false,
            global_id: joining.as_ref().map(|j| j.0.clone()),
            // A secondary of a global datastore: fronts before replicas.
            fronted: joining.is_some(),
            recluster: false,
            pending_shards: None,
        };
        if let Some((_, _, _, (ps, source))) = &joining {
            // Its own copy of the primary's parameter group, as on AWS.
            let pg = self.create_global_datastore_parameter_group(scope, &id, ps, source)?;
            for c in &mut clusters {
                c.parameter_group.clone_from(&pg);
            }
        }
        self.insert_clusters(scope, &clusters, Some(&group))?;
        if let Some((gid, ..)) = &joining {
            self.join_global(scope, gid, &id)?;
        }
        Ok(group)
    }

    /// New member clusters built like `template` (an existing member).
    fn build_members(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        ids: &[(String, Option<String>)],
    ) -> Result<Vec<CacheCluster>> {
        let t = self.find_cluster(scope, &g.primary)?;
        let mut out = Vec::new();
        for (mid, az) in ids {
            let r = CreateCluster {
                id: mid.clone(),
                engine: Some(t.engine.as_str().to_owned()),
                engine_version: Some(t.engine_version.clone()),
                node_type: Some(t.node_type.clone()),
                num_cache_nodes: Some(1),
                parameter_group: Some(t.parameter_group.clone()),
                subnet_group: t.subnet_group.clone(),
                security_group_ids: t.security_group_ids.clone(),
                preferred_az: az.clone(),
                maintenance_window: Some(t.maintenance_window.clone()),
                snapshot_window: t.snapshot_window.clone(),
                snapshot_retention_limit: Some(t.snapshot_retention_limit),
                tags: g.tags.clone(),
                replication_group_id: Some(g.id.clone()),
                ..CreateCluster::default()
            };
            let mut c = self.build_cluster(scope, r)?;
            c.replication_group_id = Some(g.id.clone());
            c.auth.clone_from(&t.auth);
            c.auth_token_last_modified = t.auth_token_last_modified;
            c.transit_encryption = t.transit_encryption;
            c.transit_mode.clone_from(&t.transit_mode);
            c.at_rest_encryption = t.at_rest_encryption;
            c.kms_key_id.clone_from(&t.kms_key_id);
            out.push(c);
        }
        Ok(out)
    }

    fn next_member_number(g: &ReplicationGroup, ng: &NodeGroup) -> usize {
        let prefix = format!("{}-{}-", g.id, ng.id);
        ng.members
            .iter()
            .filter_map(|m| m.strip_prefix(&prefix))
            .filter_map(|n| n.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// `ModifyReplicationGroupShardConfiguration`: add shards (slots move to
    /// them) or remove shards (their slots move away first).
    #[allow(clippy::too_many_lines)]
    pub fn modify_shard_configuration(
        &self,
        scope: &Scope,
        req: ShardConfiguration,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, &req.id)?;
        if !g.cluster_enabled() {
            return Err(Error::invalid(format!(
                "Replication group {} does not have cluster mode enabled: its shard configuration cannot be modified.",
                g.id
            )));
        }
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        let (groups, new_clusters, message) = self.plan_shards(scope, &g, &req)?;
        if g.fronted && g.global_id.is_none() {
            let pending = PendingShards::Configure {
                count: req.node_group_count,
                resharding: req.resharding,
                remove: req.to_remove,
                retain: req.to_retain,
            };
            return self.defer_shards(scope, &g, pending);
        }
        if !new_clusters.is_empty() {
            self.insert_clusters(scope, &new_clusters, None)?;
        }
        let added: Vec<String> = new_clusters.iter().map(|c| c.id.clone()).collect();
        let g = self.update_replication_group(scope, &g.id, move |g| {
            g.node_groups = groups;
            g.members.extend(added);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(scope, "replication-group", &g.id, message);
        Ok(g)
    }

    /// The new shards of `g` after `req` (checked), the clusters to add and
    /// the event that says so.
    #[allow(clippy::too_many_lines)]
    fn plan_shards(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        req: &ShardConfiguration,
    ) -> Result<(Vec<NodeGroup>, Vec<CacheCluster>, String)> {
        if !req.apply_immediately {
            return Err(Error::invalid(
                "ApplyImmediately must be true: the only permitted value for ApplyImmediately is true.",
            ));
        }
        quota(req.node_group_count)?;
        let want = usize::try_from(req.node_group_count).unwrap_or(1);
        let have = g.node_groups.len();
        if want == have {
            return Err(Error::invalid(format!(
                "Replication group {} already has {have} node groups.",
                g.id
            )));
        }
        let mut groups = g.node_groups.clone();
        let mut new_clusters = Vec::new();
        let message;
        if want > have {
            if !req.to_remove.is_empty() || !req.to_retain.is_empty() {
                return Err(Error::combination(
                    "NodeGroupsToRemove and NodeGroupsToRetain can only be used to decrease the number of node groups.",
                ));
            }
            let replicas = g.node_groups.first().map_or(0, |ng| ng.members.len() - 1);
            // Named new shards (ReshardingConfiguration), then generated ids.
            let mut added: Vec<(String, Vec<String>)> = Vec::new();
            for (raw, azs) in &req.resharding {
                let ng = node_group_id(raw)?;
                if groups.iter().any(|x| x.id == ng) {
                    continue;
                }
                if added.iter().any(|(x, _)| *x == ng) {
                    return Err(Error::invalid(format!(
                        "Node group id {ng} is given more than once."
                    )));
                }
                added.push((ng, azs.clone()));
            }
            if added.len() > want - have {
                return Err(Error::invalid(
                    "ReshardingConfiguration names more new node groups than NodeGroupCount adds.",
                ));
            }
            let mut k = 1;
            while added.len() < want - have {
                let ng = format!("{k:04}");
                if !groups.iter().any(|x| x.id == ng) && !added.iter().any(|(x, _)| *x == ng) {
                    added.push((ng, Vec::new()));
                }
                k += 1;
            }
            for (ng, azs) in added {
                let ids: Vec<(String, Option<String>)> = (0..=replicas)
                    .map(|k| (member_id(&g.id, &ng, k + 1), azs.get(k).cloned()))
                    .collect();
                let built = self.build_members(scope, g, &ids)?;
                groups.push(NodeGroup {
                    id: ng,
                    slots: Vec::new(),
                    primary: ids[0].0.clone(),
                    members: ids.into_iter().map(|(m, _)| m).collect(),
                    removing: false,
                });
                new_clusters.extend(built);
            }
            message = format!(
                "Increasing the number of node groups of replication group {} to {want}",
                g.id
            );
        } else {
            let remove: Vec<String> = match (req.to_remove.is_empty(), req.to_retain.is_empty()) {
                (false, true) => req
                    .to_remove
                    .iter()
                    .map(|r| node_group_id(r))
                    .collect::<Result<_>>()?,
                (true, false) => {
                    let keep: Vec<String> = req
                        .to_retain
                        .iter()
                        .map(|r| node_group_id(r))
                        .collect::<Result<_>>()?;
                    for k in &keep {
                        if !groups.iter().any(|x| x.id == *k) {
                            return Err(node_group_not_found(g, k));
                        }
                    }
                    groups
                        .iter()
                        .filter(|x| !keep.contains(&x.id))
                        .map(|x| x.id.clone())
                        .collect()
                }
                (true, true) => {
                    return Err(Error::invalid(
                        "Either NodeGroupsToRemove or NodeGroupsToRetain is required to decrease the number of node groups.",
                    ))
                }
                (false, false) => {
                    return Err(Error::combination(
                        "NodeGroupsToRemove and NodeGroupsToRetain cannot both be given.",
                    ))
                }
            };
            for r in &remove {
                if !groups.iter().any(|x| x.id == *r) {
                    return Err(node_group_not_found(g, r));
                }
            }
            let mut uniq = remove.clone();
            uniq.sort();
            uniq.dedup();
            if uniq.len() != have - want {
                return Err(Error::invalid(format!(
                    "NodeGroupCount ({want}) does not match the {have} node groups less the {} to remove.",
                    uniq.len()
                )));
            }
            for x in &mut groups {
                x.removing = uniq.contains(&x.id);
            }
            message = format!(
                "Decreasing the number of node groups of replication group {} to {want}",
                g.id
            );
        }
        rebalance(&mut groups);
        Ok((groups, new_clusters, message))
    }

    /// Spread the slots evenly over the shards again (the reconciler
    /// migrates what moves).
    pub fn rebalance_slots(&self, scope: &Scope, id: &str) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        if !g.cluster_enabled() {
            return Err(Error::invalid(format!(
                "Replication group {} does not have cluster mode enabled: it has no slots to rebalance.",
                g.id
            )));
        }
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(&g));
        }
        if g.fronted && g.global_id.is_none() {
            return self.defer_shards(scope, &g, PendingShards::Rebalance);
        }
        let g = self.update_replication_group(scope, id, |g| {
            rebalance(&mut g.node_groups);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!("Rebalancing the slots of replication group {}", g.id),
        );
        Ok(g)
    }

    /// A group whose cluster mode is served by fronts turns back into a real
    /// Redis Cluster with its data (before it reshards: stock engines move
    /// keys between shards only in cluster mode). Every node restarts with
    /// cluster mode on: each shard's primary with its data (it holds exactly
    /// its shard's keys), its replicas empty (they follow it again once the
    /// cluster is formed). The worker claims each shard's slots on its primary
    /// before the nodes meet, then clears `recluster`. The group and its
    /// clusters are stored in one write, so a backend stopped at any moment
    /// either restarts them all or none. Whether it started now (`false`: not
    /// served by fronts, or already turning).
    pub fn recluster(&self, scope: &Scope, id: &str) -> Result<bool> {
        let started = {
            let mut st = self.lock();
            let r = st.region(scope);
            let g = r
                .replication_groups
                .get(&id.to_ascii_lowercase())
                .ok_or_else(|| super::not_found(id))?;
            if !g.cluster_enabled() || !g.fronted {
                false
            } else {
                let mut next = g.clone();
                next.fronted = false;
                next.recluster = true;
                next.status = lifecycle::MODIFYING.to_owned();
                next.generation += 1;
                let mut clusters = Vec::new();
                for ng in &next.node_groups {
                    for mid in &ng.members {
                        let Some(c) = r.clusters.get(mid) else {
                            continue;
                        };
                        let mut c = c.clone();
                        let primary = *mid == ng.primary;
                        for n in &mut c.nodes {
                            n.restart = true;
                            n.keep_data = primary;
                        }
                        c.status = lifecycle::MODIFYING.to_owned();
                        c.generation += 1;
                        clusters.push(c);
                    }
                }
                self.store_group_with_clusters(scope, r, next, clusters)?;
                true
            }
        };
        if started {
            self.wake();
            self.event(
                scope,
                "replication-group",
                id,
                format!(
                    "Replication group {id} restarts its nodes with cluster mode on, data kept, to become a Redis Cluster again before it reshards"
                ),
            );
        }
        Ok(started)
    }

    /// A reshard of a group served by fronts outside any datastore: stored,
    /// then the group becomes a Redis Cluster again (`recluster`); the worker
    /// runs it once the group is one (`resume_shards`).
    fn defer_shards(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        pending: PendingShards,
    ) -> Result<ReplicationGroup> {
        self.update_replication_group(scope, &g.id, |g| {
            g.pending_shards = Some(pending);
            Ok(())
        })?;
        self.recluster(scope, &g.id)?;
        self.find_replication_group(scope, &g.id)
    }

    /// A deferred reshard, from the worker once the group is a Redis Cluster
    /// again and settled (before it reads `available`): it runs now and is
    /// forgotten; one that no longer fits (the group changed meanwhile) is
    /// dropped with an event. A group still served by fronts (a stopped
    /// backend left the turn undone) starts turning. Whether the group goes
    /// on modifying.
    pub fn resume_shards(&self, scope: &Scope, id: &str) -> bool {
        let Ok(g) = self.find_replication_group(scope, id) else {
            return false;
        };
        let Some(pending) = g.pending_shards.clone() else {
            return false;
        };
        if g.fronted {
            if let Err(e) = self.recluster(scope, id) {
                tracing::warn!(group = id, error = %e, "could not start turning the group into a Redis Cluster");
            }
            return true;
        }
        if g.recluster {
            return true;
        }
        let done = match pending {
            PendingShards::Configure {
                count,
                resharding,
                remove,
                retain,
            } => {
                let req = ShardConfiguration {
                    id: g.id.clone(),
                    node_group_count: count,
                    apply_immediately: true,
                    resharding,
                    to_remove: remove,
                    to_retain: retain,
                };
                self.plan_shards(scope, &g, &req)
                    .and_then(|(groups, new_clusters, message)| {
                        if !new_clusters.is_empty() {
                            self.insert_clusters(scope, &new_clusters, None)?;
                        }
                        let added: Vec<String> =
                            new_clusters.iter().map(|c| c.id.clone()).collect();
                        self.update_replication_group(scope, id, move |g| {
                            g.node_groups = groups;
                            g.members.extend(added);
                            g.pending_shards = None;
                            g.status = lifecycle::MODIFYING.to_owned();
                            Ok(())
                        })?;
                        self.event(scope, "replication-group", id, message);
                        Ok(())
                    })
            }
            PendingShards::Rebalance => self
                .update_replication_group(scope, id, |g| {
                    rebalance(&mut g.node_groups);
                    g.pending_shards = None;
                    g.status = lifecycle::MODIFYING.to_owned();
                    Ok(())
                })
                .map(|g| {
                    self.event(
                        scope,
                        "replication-group",
                        &g.id,
                        format!("Rebalancing the slots of replication group {}", g.id),
                    );
                }),
        };
        match done {
            Ok(()) => true,
            Err(e) if matches!(e.fault, Fault::ServiceUnavailable | Fault::Internal) => {
                tracing::warn!(group = id, error = %e, "the deferred reshard could not be stored; trying again");
                true
            }
            Err(e) => {
                let _ = self.update_replication_group(scope, id, |g| {
                    g.pending_shards = None;
                    Ok(())
                });
                self.event(
                    scope,
                    "replication-group",
                    id,
                    format!("The shard change of replication group {id} could not be made: {e}"),
                );
                false
            }
        }
    }

    /// The worker claimed every shard's slots on its primary: the nodes
    /// meet and the replicas follow as in any cluster-mode group.
    pub fn finish_recluster(&self, scope: &Scope, id: &str) -> Result<()> {
        let g = self.update_replication_group(scope, id, |g| {
            g.recluster = false;
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!(
                "Replication group {} formed its Redis Cluster again around the data of its shards",
                g.id
            ),
        );
        Ok(())
    }

    /// The reconciler moved every slot off a removed shard and made the
    /// cluster forget its nodes: its member clusters go.
    pub fn finish_node_group_removal(&self, scope: &Scope, id: &str, ng: &str) -> Result<()> {
        let g = self.find_replication_group(scope, id)?;
        let Some(group) = g.node_groups.iter().find(|x| x.id == ng).cloned() else {
            return Ok(());
        };
        for mid in &group.members {
            let _ = self.update_cluster(scope, mid, |c| {
                c.status = lifecycle::DELETING.to_owned();
                for n in &mut c.nodes {
                    n.status = lifecycle::NODE_DELETING.to_owned();
                }
                Ok(())
            });
        }
        let ng = ng.to_owned();
        self.update_replication_group(scope, id, move |g| {
            g.node_groups.retain(|x| x.id != ng);
            g.members.retain(|m| !group.members.contains(m));
            if !g.members.contains(&g.primary) {
                if let Some(first) = g.node_groups.first() {
                    g.primary = first.primary.clone();
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// The engines elected another master for a shard (automatic failover,
    /// `CLUSTER FAILOVER`): the record follows.
    pub fn set_node_group_primary(
        &self,
        scope: &Scope,
        id: &str,
        ng: &str,
        primary: &str,
    ) -> Result<ReplicationGroup> {
        let (ng, primary) = (ng.to_owned(), primary.to_owned());
        self.update_replication_group(scope, id, move |g| {
            if let Some(x) = g.node_groups.iter_mut().find(|x| x.id == ng) {
                x.primary.clone_from(&primary);
            }
            if let Some(first) = g.node_groups.first() {
                g.primary = first.primary.clone();
            }
            if g.failover_to.as_deref() == Some(primary.as_str()) {
                g.failover_to = None;
            }
            Ok(())
        })
    }

    /// `TestFailover` of one shard: a replica of it takes over (`CLUSTER FAILOVER`).
    pub(crate) fn sharded_test_failover(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        node_group_id: &str,
    ) -> Result<ReplicationGroup> {
        let Some(ng) = g.node_groups.iter().find(|x| x.id == node_group_id) else {
            return Err(node_group_not_found(g, node_group_id));
        };
        if g.status != lifecycle::AVAILABLE {
            return Err(bad_state(g));
        }
        let members = self.replication_group_view(scope, g);
        let Some(target) = ng.members.iter().find(|m| {
            **m != ng.primary
                && members
                    .iter()
                    .any(|c| c.id == **m && c.status == lifecycle::AVAILABLE)
        }) else {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Node group {} of replication group {} has no available replica to fail over to.",
                    ng.id, g.id
                ),
            ));
        };
        let target = target.clone();
        let g = self.update_replication_group(scope, &g.id, move |g| {
            g.failover_to = Some(target);
            g.failover_test = true;
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!("Test Failover API called for node group {node_group_id}"),
        );
        Ok(g)
    }

    /// Per-shard target replica counts from `NewReplicaCount` (every shard) or
    /// `ReplicaConfiguration`.
    fn replica_targets(
        g: &ReplicationGroup,
        new_count: Option<i64>,
        per_shard: &[ShardReplicas],
    ) -> Result<Vec<(String, usize, Vec<String>)>> {
        let mut out = Vec::new();
        if per_shard.is_empty() {
            let Some(n) = new_count else {
                return Err(Error::invalid(
                    "Either NewReplicaCount or ReplicaConfiguration must be provided.",
                ));
            };
            for ng in &g.node_groups {
                out.push((ng.id.clone(), usize::try_from(n).unwrap_or(0), Vec::new()));
            }
            if !(0..=MAX_REPLICAS).contains(&n) {
                return Err(Error::invalid(format!(
                    "NewReplicaCount must be between 0 and {MAX_REPLICAS}."
                )));
            }
        } else {
            if new_count.is_some() {
                return Err(Error::combination(
                    "NewReplicaCount and ReplicaConfiguration cannot both be given.",
                ));
            }
            for s in per_shard {
                let id = node_group_id(&s.node_group_id)?;
                if !g.node_groups.iter().any(|x| x.id == id) {
                    return Err(node_group_not_found(g, &id));
                }
                if !(0..=MAX_REPLICAS).contains(&s.new_replica_count) {
                    return Err(Error::invalid(format!(
                        "NewReplicaCount must be between 0 and {MAX_REPLICAS}."
                    )));
                }
                out.push((
                    id,
                    usize::try_from(s.new_replica_count).unwrap_or(0),
                    s.azs.clone(),
                ));
            }
        }
        Ok(out)
    }

    /// What `ModifyReplicationGroup` can change on a cluster-mode group.
    pub(crate) fn check_sharded_modify(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        req: &ModifyReplicationGroup,
    ) -> Result<()> {
        if let Some(m) = &req.cluster_mode {
            let m = m.to_ascii_lowercase();
            if Some(&m) != g.cluster_mode.as_ref() {
                return Err(Error::invalid(format!(
                    "Changing ClusterMode of replication group {} to {m} is not available yet in elasticache-local.",
                    g.id
                )));
            }
        }
        if req.primary_cluster_id.is_some() {
            return Err(Error::combination(
                "PrimaryClusterId cannot be used with cluster mode enabled: use TestFailover for a node group.",
            ));
        }
        if req.automatic_failover == Some(false) {
            return Err(Error::combination(
                "Automatic failover must be enabled for a replication group with cluster mode enabled.",
            ));
        }
        if req.cluster.node_type.is_some() || req.cluster.engine_version.is_some() {
            return Err(Error::invalid(
                "Changing the node type or engine version of a replication group with cluster mode enabled is not available yet in elasticache-local.",
            ));
        }
        if let Some(pg) = &req.cluster.parameter_group {
            if !self.parameter_group_cluster_on(scope, pg)? {
                return Err(Error::combination(format!(
                    "Cache parameter group {pg} has cluster-enabled set to no, which a replication group with cluster mode enabled cannot use."
                )));
            }
        }
        Ok(())
    }

    /// `IncreaseReplicaCount` of a cluster-mode group.
    pub(crate) fn sharded_increase_replicas(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        new_count: Option<i64>,
        per_shard: &[ShardReplicas],
    ) -> Result<ReplicationGroup> {
        let targets = Self::replica_targets(g, new_count, per_shard)?;
        let mut new_ids: Vec<(String, String, Option<String>)> = Vec::new();
        for (ngid, want, azs) in &targets {
            let Some(ng) = g.node_groups.iter().find(|x| x.id == *ngid) else {
                continue;
            };
            let have = ng.members.len() - 1;
            if *want <= have {
                return Err(Error::invalid(format!(
                    "NewReplicaCount ({want}) of node group {ngid} must be greater than its current number of replicas ({have})."
                )));
            }
            let next = Self::next_member_number(g, ng);
            for k in 0..want - have {
                // PreferredAvailabilityZones lists the primary's first.
                let az = azs.get(have + k + 1).cloned();
                new_ids.push((ngid.clone(), member_id(&g.id, ngid, next + k), az));
            }
        }
        let built = self.build_members(
            scope,
            g,
            &new_ids
                .iter()
                .map(|(_, m, az)| (m.clone(), az.clone()))
                .collect::<Vec<_>>(),
        )?;
        self.insert_clusters(scope, &built, None)?;
        let g = self.update_replication_group(scope, &g.id, move |g| {
            for (ngid, mid, _) in new_ids {
                if let Some(x) = g.node_groups.iter_mut().find(|x| x.id == ngid) {
                    x.members.push(mid.clone());
                }
                g.members.push(mid);
            }
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!(
                "Increasing the number of replicas of replication group {}",
                g.id
            ),
        );
        Ok(g)
    }

    /// `DecreaseReplicaCount` of a cluster-mode group.
    pub(crate) fn sharded_decrease_replicas(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        new_count: Option<i64>,
        per_shard: &[ShardReplicas],
        to_remove: &[String],
    ) -> Result<ReplicationGroup> {
        let mut remove: Vec<String> = Vec::new();
        if to_remove.is_empty() {
            for (ngid, want, _) in Self::replica_targets(g, new_count, per_shard)? {
                let Some(ng) = g.node_groups.iter().find(|x| x.id == ngid) else {
                    continue;
                };
                let have = ng.members.len() - 1;
                if want >= have {
                    return Err(Error::invalid(format!(
                        "NewReplicaCount ({want}) of node group {ngid} must be less than its current number of replicas ({have})."
                    )));
                }
                remove.extend(
                    ng.members
                        .iter()
                        .rev()
                        .filter(|m| **m != ng.primary)
                        .take(have - want)
                        .cloned(),
                );
            }
        } else {
            for r in to_remove.iter().map(|s| s.to_ascii_lowercase()) {
                let Some(ng) = g.node_group_of(&r) else {
                    return Err(Error::new(
                        Fault::CacheClusterNotFound,
                        format!(
                            "Cache cluster {r} is not a member of replication group {}.",
                            g.id
                        ),
                    ));
                };
                if ng.primary == r {
                    return Err(Error::invalid(format!(
                        "Cache cluster {r} is the primary of node group {}: it cannot be removed.",
                        ng.id
                    )));
                }
                remove.push(r);
            }
        }
        if remove.is_empty() {
            return Err(Error::new(
                Fault::NoOperationFault,
                "The replica count is already as requested.",
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
        let g = self.update_replication_group(scope, &g.id, move |g| {
            for x in &mut g.node_groups {
                x.members.retain(|m| !remove.contains(m));
            }
            g.members.retain(|m| !remove.contains(m));
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.event(
            scope,
            "replication-group",
            &g.id,
            format!(
                "Decreasing the number of replicas of replication group {}",
                g.id
            ),
        );
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(r: &[(u16, u16)]) -> usize {
        r.iter().map(|(a, b)| usize::from(b - a) + 1).sum()
    }

    #[test]
    fn slots_parse_and_format() {
        assert_eq!(parse_slots("0-5460").unwrap(), vec![(0, 5460)]);
        assert_eq!(
            parse_slots("10-20,5,30-40").unwrap(),
            vec![(5, 5), (10, 20), (30, 40)]
        );
        assert!(parse_slots("5-1").is_err());
        assert!(parse_slots("0-16384").is_err());
        assert!(parse_slots("x").is_err());
        assert_eq!(format_slots(&[(0, 10), (12, 12)]), "0-10,12");
    }

    #[test]
    fn even_split_like_redis_cli() {
        let s = even_split(3);
        assert_eq!(s[0], vec![(0, 5461)]);
        assert_eq!(s[1], vec![(5462, 10922)]);
        assert_eq!(s[2], vec![(10923, 16383)]);
    }

    #[test]
    fn rebalance_out_and_in() {
        let mut groups: Vec<NodeGroup> = even_split(3)
            .into_iter()
            .enumerate()
            .map(|(i, slots)| NodeGroup {
                id: format!("{:04}", i + 1),
                slots,
                primary: String::new(),
                members: Vec::new(),
                removing: false,
            })
            .collect();
        groups.push(NodeGroup {
            id: "0004".into(),
            slots: Vec::new(),
            primary: String::new(),
            members: Vec::new(),
            removing: false,
        });
        rebalance(&mut groups);
        for g in &groups {
            assert_eq!(count(&g.slots), 4096, "{g:?}");
        }
        // The first shard keeps its low slots: only surplus moves.
        assert_eq!(groups[0].slots[0].0, 0);
        groups[1].removing = true;
        rebalance(&mut groups);
        assert!(groups[1].slots.is_empty());
        let total: usize = groups.iter().map(|g| count(&g.slots)).sum();
        assert_eq!(total, 16384);
        assert!(groups
            .iter()
            .filter(|g| !g.removing)
            .all(|g| (5461..=5462).contains(&count(&g.slots))));
    }
}
