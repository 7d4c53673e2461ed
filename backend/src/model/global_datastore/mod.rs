//! Global datastores (`*GlobalReplicationGroup*`): one replication group per
//! region of an account, the primary region's writable, every other region's
//! a read-only copy that replicates from it.
//!
//! Regions are scopes of one backend, so the replication is real: the worker
//! makes a secondary group's primary `REPLICAOF` the primary group's primary
//! (see `worker/global.rs`). The record lives in the scope where it was
//! created and is seen from every region of its account, as on AWS; each
//! member group names its datastore (`ReplicationGroup::global_id`).
//! Engine, version, node type, shards and encryption are the primary group's:
//! a datastore stores only what is its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::EngineKind;
use crate::model::cluster::ModifyCluster;
use crate::model::replication_group::{ModifyReplicationGroup, ReplicationGroup};
use crate::model::shards::ShardConfiguration;
use crate::model::{lifecycle, ControlPlane, Error, Fault, Result, Scope, State, Tag};

pub const PRIMARY: &str = "PRIMARY";
pub const SECONDARY: &str = "SECONDARY";
/// A member whose replication link is not up yet.
pub const ASSOCIATING: &str = "associating";
pub const ASSOCIATED: &str = "associated";
pub const PRIMARY_ONLY: &str = "primary-only";
/// Secondary regions a datastore may have, as on AWS.
const MAX_SECONDARIES: usize = 2;

/// A member replication group of a datastore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub region: String,
    pub replication_group_id: String,
    /// `PRIMARY` or `SECONDARY`.
    pub role: String,
    /// `associating` until a secondary's link to the primary region is up, then `associated`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalReplicationGroup {
    /// `<region prefix>-<suffix>`.
    pub id: String,
    pub description: String,
    pub status: String,
    /// The primary first.
    pub members: Vec<Member>,
    pub created: DateTime<Utc>,
    pub tags: Vec<Tag>,
    /// `DeleteGlobalReplicationGroup` with `RetainPrimaryReplicationGroup=false`.
    #[serde(default)]
    pub delete_primary: bool,
    /// `FailoverGlobalReplicationGroup` asked for, not done yet: (region,
    /// replication group) of the secondary that becomes the primary. The
    /// worker first stops writes in the primary region and lets the
    /// secondary catch up, then swaps the roles (`complete_global_failover`).
    #[serde(default)]
    pub failover_to: Option<(String, String)>,
    /// A reshard asked for while the primary region's group was served by
    /// fronts (after a failover): that group turns into a Redis Cluster
    /// again first (`ControlPlane::recluster`), then this runs on every
    /// member (`settle_global_datastores`).
    #[serde(default)]
    pub pending_reshard: Option<PendingReshard>,
}

/// A datastore's reshard waiting for its primary region's group to be a
/// Redis Cluster again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingReshard {
    /// `Increase`/`DecreaseNodeGroupsInGlobalReplicationGroup`: the count and
    /// the members' own node group IDs to remove or retain.
    Shards {
        count: i64,
        remove: Vec<String>,
        retain: Vec<String>,
    },
    /// `RebalanceSlotsInGlobalReplicationGroup`.
    Rebalance,
}

impl GlobalReplicationGroup {
    /// Global datastores' ARNs name no region.
    #[must_use]
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:elasticache::{account}:globalreplicationgroup:{}",
            self.id
        )
    }

    /// The primary member.
    #[must_use]
    pub fn primary(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.role == PRIMARY)
    }

    #[must_use]
    pub fn member(&self, region: &str, id: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.region == region && m.replication_group_id == id)
    }
}

/// What a describe shows beyond the record: the primary group's settings.
#[derive(Debug, Clone)]
pub struct GlobalView {
    pub record: GlobalReplicationGroup,
    pub arn: String,
    pub engine: String,
    pub engine_version: String,
    pub node_type: String,
    pub cluster_enabled: bool,
    /// Shards: (`<id>-0001`, slot ranges) with cluster mode enabled.
    pub node_groups: Vec<(String, String)>,
    pub auth_token_enabled: bool,
    pub transit_encryption: bool,
    pub at_rest_encryption: bool,
    /// Per member (same order): whether automatic failover is enabled.
    pub automatic_failover: Vec<bool>,
}

/// The role a group plays in its datastore, for the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// Replicates from the primary group (its scope and id).
    Secondary {
        primary: (Scope, String),
    },
}

/// AWS's per-region prefix of global datastore IDs; regions it does not
/// list get five letters derived from their name.
#[must_use]
pub fn region_prefix(region: &str) -> String {
    let known = match region {
        "us-east-2" => "fpkhr",
        "us-east-1" => "ldgnf",
        "us-west-1" => "virxk",
        "us-west-2" => "sgaui",
        "ca-central-1" => "bxodz",
        "ap-south-1" => "erpgt",
        "ap-northeast-1" => "quwsw",
        "ap-northeast-2" => "lfqnh",
        "ap-northeast-3" => "nlapn",
        "ap-southeast-1" => "vlqxn",
        "ap-southeast-2" => "vbgxd",
        "eu-central-1" => "iudkw",
        "eu-west-1" => "gxeiz",
        "eu-west-2" => "okuqm",
        "eu-west-3" => "fgjhi",
        "sa-east-1" => "juxlw",
        "cn-north-1" => "emvgo",
        "cn-northwest-1" => "ckbem",
        "ap-east-1" => "knjmp",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    // FNV-1a of the name, spelled in five lower-case letters.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in region.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..5)
        .map(|i| char::from(b'a' + u8::try_from((h >> (i * 8)) % 26).unwrap_or(0)))
        .collect()
}

/// Node types a global datastore accepts, as AWS lists them: the M5, M6g,
/// M7g, R5, R6g, R6gd, R7g and C7gn families, size large and above.
pub fn check_node_type(node_type: &str) -> Result<()> {
    let mut parts = node_type.split('.');
    let (_, family, size) = (parts.next(), parts.next(), parts.next());
    let family_ok = family.is_some_and(|f| {
        matches!(
            f,
            "m5" | "m6g" | "m7g" | "r5" | "r6g" | "r6gd" | "r7g" | "c7gn"
        )
    });
    let size_ok = size.is_some_and(|s| !matches!(s, "nano" | "micro" | "small" | "medium"));
    if family_ok && size_ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Cache node type {node_type} is not supported for global datastores: use an M5, M6g, M7g, R5, R6g, R6gd, R7g or C7gn node type of size large or above."
        )))
    }
}

fn not_found(id: &str) -> Error {
    Error::new(
        Fault::GlobalReplicationGroupNotFoundFault,
        format!("GlobalReplicationGroup {id} not found."),
    )
}

fn bad_state(g: &GlobalReplicationGroup, what: &str) -> Error {
    Error::new(
        Fault::InvalidGlobalReplicationGroupState,
        format!(
            "Global replication group {} is not in a valid state to {what} (it is {}).",
            g.id, g.status
        ),
    )
}

/// Where a datastore is stored: its scope, in the account of `scope`.
fn locate(st: &State, account: &str, id: &str) -> Option<(Scope, GlobalReplicationGroup)> {
    st.regions.iter().find_map(|(s, r)| {
        (s.account == account)
            .then(|| r.global_replication_groups.get(id))
            .flatten()
            .map(|g| (s.clone(), g.clone()))
    })
}

/// `Increase`/`DecreaseNodeGroupsInGlobalReplicationGroup`.
#[derive(Debug, Clone, Default)]
pub struct GlobalReshard {
    pub id: String,
    pub count: i64,
    /// Increase (true) or decrease.
    pub grow: bool,
    pub to_remove: Vec<String>,
    pub to_retain: Vec<String>,
    pub apply_immediately: bool,
}

/// `ModifyGlobalReplicationGroup`.
#[derive(Debug, Clone, Default)]
pub struct ModifyGlobal {
    pub id: String,
    pub apply_immediately: bool,
    pub node_type: Option<String>,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub parameter_group: Option<String>,
    pub description: Option<String>,
    pub automatic_failover: Option<bool>,
}

impl ControlPlane {
    /// A datastore of `scope`'s account (IDs are matched exactly, as AWS does).
    pub fn find_global(&self, scope: &Scope, id: &str) -> Result<(Scope, GlobalReplicationGroup)> {
        let st = self.lock();
        locate(&st, &scope.account, id).ok_or_else(|| not_found(id))
    }

    /// Every datastore of the account, by ID.
    #[must_use]
    pub fn list_globals(&self, scope: &Scope) -> Vec<GlobalReplicationGroup> {
        let st = self.lock();
        let mut all: Vec<GlobalReplicationGroup> = st
            .regions
            .iter()
            .filter(|(s, _)| s.account == scope.account)
            .flat_map(|(_, r)| r.global_replication_groups.values().cloned())
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// Mutate a datastore under the lock, persist it (before it is visible),
    /// wake the reconciler.
    fn update_global(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut GlobalReplicationGroup) -> Result<()>,
    ) -> Result<GlobalReplicationGroup> {
        let g = {
            let mut st = self.lock();
            let (home, _) = locate(&st, &scope.account, id).ok_or_else(|| not_found(id))?;
            let g = st
                .region(&home)
                .global_replication_groups
                .get_mut(id)
                .ok_or_else(|| not_found(id))?;
            let mut next = g.clone();
            f(&mut next)?;
            // Stored before it is visible: a refused write changes nothing.
            self.persist("globalreplicationgroup", &home, &next.id, Some(&next))?;
            *g = next.clone();
            next
        };
        self.wake();
        Ok(g)
    }

    /// Set (or clear) a member group's link to its datastore.
    fn link_member(&self, scope: &Scope, rg: &str, global: Option<String>) -> Result<()> {
        self.update_replication_group(scope, rg, move |g| {
            g.global_id = global;
            Ok(())
        })
        .map(|_| ())
    }

    /// An event in every region of the datastore.
    pub fn global_event(&self, g: &GlobalReplicationGroup, account: &str, msg: &str) {
        let mut regions: Vec<&str> = g.members.iter().map(|m| m.region.as_str()).collect();
        regions.dedup();
        for r in regions {
            self.event(
                &Scope::new(account, r),
                "replication-group",
                &g.members
                    .iter()
                    .find(|m| m.region == r)
                    .map_or(g.id.clone(), |m| m.replication_group_id.clone()),
                msg.to_owned(),
            );
        }
    }

    /// The datastore as a describe shows it.
    #[must_use]
    pub fn global_view(&self, scope: &Scope, g: &GlobalReplicationGroup) -> GlobalView {
        let mut view = GlobalView {
            record: g.clone(),
            arn: g.arn(&scope.account),
            engine: String::new(),
            engine_version: String::new(),
            node_type: String::new(),
            cluster_enabled: false,
            node_groups: Vec::new(),
            auth_token_enabled: false,
            transit_encryption: false,
            at_rest_encryption: false,
            automatic_failover: Vec::new(),
        };
        for m in &g.members {
            let ms = Scope::new(scope.account.clone(), m.region.clone());
            let rg = self
                .find_replication_group(&ms, &m.replication_group_id)
                .ok();
            view.automatic_failover
                .push(rg.as_ref().is_some_and(|r| r.automatic_failover));
            if m.role != PRIMARY {
                continue;
            }
            let Some(rg) = rg else { continue };
            if let Some(c) = self.replication_group_view(&ms, &rg).first() {
                view.engine = c.engine.as_str().to_owned();
                view.engine_version.clone_from(&c.engine_version);
                view.node_type.clone_from(&c.node_type);
                view.transit_encryption = c.transit_encryption;
                view.at_rest_encryption = c.at_rest_encryption;
            }
            view.auth_token_enabled = rg.auth_token_enabled;
            view.cluster_enabled = rg.cluster_enabled();
            view.node_groups = rg
                .node_groups
                .iter()
                .enumerate()
                .map(|(i, ng)| {
                    (
                        format!("{}-{:04}", g.id, i + 1),
                        crate::model::shards::format_slots(&ng.slots),
                    )
                })
                .collect();
        }
        view
    }

    /// `CreateGlobalReplicationGroup`: an existing group becomes the primary.
    pub fn create_global_replication_group(
        &self,
        scope: &Scope,
        suffix: &str,
        description: Option<String>,
        primary: &str,
        tags: Vec<Tag>,
    ) -> Result<GlobalReplicationGroup> {
        let suffix = suffix.trim();
        if suffix.is_empty()
            || suffix.len() > 40
            || !suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::invalid(format!(
                "Invalid GlobalReplicationGroupIdSuffix {suffix}: 1 to 40 letters, digits and hyphens."
            )));
        }
        crate::model::validate::check_tags(&tags)?;
        let rg = self.find_replication_group(scope, primary)?;
        if rg.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} is not in available state (it is {}).",
                    rg.id, rg.status
                ),
            ));
        }
        if let Some(gid) = &rg.global_id {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} is already a member of global replication group {gid}.",
                    rg.id
                ),
            ));
        }
        if rg.migration.is_some() {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!("Replication group {} is under migration.", rg.id),
            ));
        }
        if let Some(c) = self.replication_group_view(scope, &rg).first() {
            check_node_type(&c.node_type)?;
        }
        let id = format!(
            "{}-{}",
            region_prefix(&scope.region),
            suffix.to_ascii_lowercase()
        );
        let g = GlobalReplicationGroup {
            id: id.clone(),
            description: description.unwrap_or_default(),
            status: lifecycle::CREATING.to_owned(),
            members: vec![Member {
                region: scope.region.clone(),
                replication_group_id: rg.id.clone(),
                role: PRIMARY.to_owned(),
                status: ASSOCIATED.to_owned(),
            }],
            created: Self::now(),
            tags,
            delete_primary: false,
            failover_to: None,
            pending_reshard: None,
        };
        {
            let mut st = self.lock();
            if locate(&st, &scope.account, &id).is_some() {
                return Err(Error::new(
                    Fault::GlobalReplicationGroupAlreadyExistsFault,
                    format!("Global replication group {id} already exists."),
                ));
            }
            // Stored before it is visible.
            self.persist("globalreplicationgroup", scope, &id, Some(&g))?;
            st.region(scope)
                .global_replication_groups
                .insert(id.clone(), g.clone());
        }
        self.link_member(scope, &rg.id, Some(id.clone()))?;
        self.use_global_parameter_group(scope, &rg)?;
        self.event(
            scope,
            "replication-group",
            &rg.id,
            format!(
                "Global replication group {id} created with primary replication group {}",
                rg.id
            ),
        );
        self.wake();
        Ok(g)
    }

    /// The primary group takes a parameter group of its own, a copy of its
    /// primary cluster's, as AWS does when a datastore is made from it.
    fn use_global_parameter_group(&self, scope: &Scope, g: &ReplicationGroup) -> Result<()> {
        let Ok(source) = self.find_cluster(scope, &g.primary) else {
            return Ok(());
        };
        let pg = self.create_global_datastore_parameter_group(
            scope,
            &g.id,
            scope,
            &source.parameter_group,
        )?;
        for m in &g.members {
            let pg = pg.clone();
            self.update_cluster(scope, m, move |c| {
                c.parameter_group = pg;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// What a group joining datastore `gid` as a secondary in `scope` inherits:
    /// the primary group (its scope, record, and first member cluster).
    pub fn global_primary_for_join(
        &self,
        scope: &Scope,
        gid: &str,
    ) -> Result<(Scope, ReplicationGroup, crate::model::cluster::CacheCluster)> {
        let (_, g) = self.find_global(scope, gid)?;
        if g.status == lifecycle::DELETING {
            return Err(bad_state(&g, "add a member"));
        }
        if g.members.iter().any(|m| m.region == scope.region) {
            return Err(Error::invalid(format!(
                "Global replication group {gid} already has a member in region {}: each region holds at most one.",
                scope.region
            )));
        }
        if g.members.iter().filter(|m| m.role == SECONDARY).count() >= MAX_SECONDARIES {
            return Err(Error::invalid(format!(
                "Global replication group {gid} already has {MAX_SECONDARIES} secondary regions, the most it may have."
            )));
        }
        let p = g
            .primary()
            .ok_or_else(|| Error::internal("datastore without primary"))?;
        let ps = Scope::new(scope.account.clone(), p.region.clone());
        let rg = self.find_replication_group(&ps, &p.replication_group_id)?;
        let c = self
            .replication_group_view(&ps, &rg)
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("primary group without members"))?;
        Ok((ps, rg, c))
    }

    /// Record a new secondary group (called once the group itself is created).
    pub fn join_global(&self, scope: &Scope, gid: &str, rg: &str) -> Result<()> {
        let member = Member {
            region: scope.region.clone(),
            replication_group_id: rg.to_owned(),
            role: SECONDARY.to_owned(),
            status: ASSOCIATING.to_owned(),
        };
        let g = self.update_global(scope, gid, move |g| {
            g.members.push(member);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!(
                "Replication group {rg} in region {} is joining global replication group {gid} as a secondary",
                scope.region
            ),
        );
        Ok(())
    }

    /// The role of a member group, for the worker (`None`: in no datastore).
    #[must_use]
    pub fn global_role(&self, scope: &Scope, g: &ReplicationGroup) -> Option<Role> {
        let gid = g.global_id.as_deref()?;
        let (_, d) = self.find_global(scope, gid).ok()?;
        let me = d.member(&scope.region, &g.id)?;
        if me.role == PRIMARY {
            return Some(Role::Primary);
        }
        let p = d.primary()?;
        Some(Role::Secondary {
            primary: (
                Scope::new(scope.account.clone(), p.region.clone()),
                p.replication_group_id.clone(),
            ),
        })
    }

    /// The worker saw a secondary's link to the primary region up.
    pub fn global_member_linked(&self, scope: &Scope, g: &ReplicationGroup) {
        let Some(gid) = g.global_id.clone() else {
            return;
        };
        let (region, id) = (scope.region.clone(), g.id.clone());
        let changed = self
            .find_global(scope, &gid)
            .ok()
            .and_then(|(_, d)| d.member(&region, &id).map(|m| m.status == ASSOCIATING))
            .unwrap_or(false);
        if !changed {
            return;
        }
        if let Ok(d) = self.update_global(scope, &gid, |d| {
            for m in &mut d.members {
                if m.region == region && m.replication_group_id == id {
                    m.status = ASSOCIATED.to_owned();
                }
            }
            Ok(())
        }) {
            self.global_event(
                &d,
                &scope.account,
                &format!(
                    "Replication group {id} in region {region} replicates from the primary region of global replication group {gid}"
                ),
            );
        }
    }

    /// A whole-datastore operation needs it settled.
    fn settled_global(
        &self,
        scope: &Scope,
        id: &str,
        what: &str,
    ) -> Result<GlobalReplicationGroup> {
        let (_, g) = self.find_global(scope, id)?;
        if !matches!(g.status.as_str(), lifecycle::AVAILABLE | PRIMARY_ONLY) {
            return Err(bad_state(&g, what));
        }
        Ok(g)
    }

    /// `ModifyGlobalReplicationGroup`: description, automatic failover, and node
    /// type / engine (Redis → Valkey) / engine version / parameter group rolled
    /// through every member.
    pub fn modify_global_replication_group(
        &self,
        scope: &Scope,
        req: ModifyGlobal,
    ) -> Result<GlobalReplicationGroup> {
        if !req.apply_immediately {
            return Err(Error::invalid(
                "ApplyImmediately must be true: modifications of a global datastore cannot wait for a maintenance window.",
            ));
        }
        let g = self.settled_global(scope, &req.id, "be modified")?;
        let view = self.global_view(scope, &g);
        // Redis → Valkey, as AWS allows it: with the new engine's version, the
        // members rolled like a major upgrade (each takes a new parameter group).
        let engine_now = crate::model::cluster::parse_engine(&view.engine)?;
        let engine = match req.engine.as_deref().filter(|e| !e.is_empty()) {
            Some(e) => crate::model::cluster::parse_engine(e)?,
            None => engine_now,
        };
        let engine_change = (engine != engine_now).then_some(engine);
        if engine_change.is_some() {
            if !(engine_now == EngineKind::Redis && engine == EngineKind::Valkey) {
                return Err(Error::combination(format!(
                    "Global replication group {} runs {}: its engine cannot change to {} (only redis to valkey).",
                    g.id,
                    engine_now.as_str(),
                    engine.as_str()
                )));
            }
            if req.engine_version.is_none() {
                return Err(Error::invalid(format!(
                    "Changing the engine of global replication group {} to {} needs EngineVersion.",
                    g.id,
                    engine.as_str()
                )));
            }
        }
        let changes_nodes = req.node_type.is_some()
            || req.engine_version.is_some()
            || req.parameter_group.is_some();
        if req.node_type.is_some()
            && (req.engine_version.is_some() || req.parameter_group.is_some())
        {
            return Err(Error::combination(
                "CacheNodeType cannot be modified together with EngineVersion or CacheParameterGroupName.",
            ));
        }
        if let Some(t) = &req.node_type {
            check_node_type(t)?;
        }
        // A major upgrade (a new parameter-group family) gives every member a
        // new `global-datastore-…` group, a copy of the one named or of the
        // family's default; a parameter group alone is refused, as on AWS.
        let family_now =
            crate::catalog::family_for(&view.engine, &view.engine_version).unwrap_or_default();
        let target = match &req.engine_version {
            Some(v) => crate::model::cluster::resolve_version(engine, Some(v))?
                .cache_parameter_group_family
                .as_str(),
            None => family_now,
        };
        let pg_source = if target == family_now {
            if req
                .parameter_group
                .as_deref()
                .is_some_and(|p| !p.is_empty())
            {
                return Err(Error::invalid(
                    "ModifyGlobalReplicationGroup API does not support cache parameter group modification without a change in major engine version.",
                ));
            }
            None
        } else {
            let p = g
                .primary()
                .ok_or_else(|| Error::internal("datastore without primary"))?;
            let ps = Scope::new(scope.account.clone(), p.region.clone());
            let name = match req.parameter_group.as_deref().filter(|p| !p.is_empty()) {
                Some(n) => {
                    let pg = self.find_parameter_group(&ps, n)?;
                    if pg.family != target {
                        return Err(Error::combination(format!(
                            "The parameter group family {} does not match the engine family {target}.",
                            pg.family
                        )));
                    }
                    pg.name
                }
                None if view.cluster_enabled => format!("default.{target}.cluster.on"),
                None => format!("default.{target}"),
            };
            Some((ps, name))
        };
        if changes_nodes || req.automatic_failover.is_some() {
            // Every member takes it: the primary first (it validates the change).
            for m in &g.members {
                let ms = Scope::new(scope.account.clone(), m.region.clone());
                let pg = match &pg_source {
                    Some((ps, name)) => Some(self.create_global_datastore_parameter_group(
                        &ms,
                        &m.replication_group_id,
                        ps,
                        name,
                    )?),
                    None => None,
                };
                let modify = ModifyReplicationGroup {
                    id: m.replication_group_id.clone(),
                    automatic_failover: req.automatic_failover,
                    engine: engine_change,
                    cluster: ModifyCluster {
                        id: m.replication_group_id.clone(),
                        apply_immediately: true,
                        node_type: req.node_type.clone(),
                        engine_version: req.engine_version.clone(),
                        parameter_group: pg,
                        ..ModifyCluster::default()
                    },
                    ..ModifyReplicationGroup::default()
                };
                self.modify_replication_group(&ms, modify)?;
            }
        }
        let g = self.update_global(scope, &req.id, |g| {
            if let Some(d) = req.description {
                g.description = d;
            }
            if changes_nodes || req.automatic_failover.is_some() {
                g.status = lifecycle::MODIFYING.to_owned();
            }
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!("Global replication group {} modified", g.id),
        );
        Ok(g)
    }

    /// `DeleteGlobalReplicationGroup`: only the primary may be left.
    pub fn delete_global_replication_group(
        &self,
        scope: &Scope,
        id: &str,
        retain_primary: bool,
    ) -> Result<GlobalReplicationGroup> {
        let (_, g) = self.find_global(scope, id)?;
        if g.status == lifecycle::DELETING {
            return Err(bad_state(&g, "be deleted"));
        }
        if g.members.iter().any(|m| m.role == SECONDARY) {
            return Err(Error::new(
                Fault::InvalidGlobalReplicationGroupState,
                format!(
                    "Global replication group {id} still has secondary replication groups: disassociate or delete them first."
                ),
            ));
        }
        let g = self.update_global(scope, id, |g| {
            g.status = lifecycle::DELETING.to_owned();
            g.delete_primary = !retain_primary;
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!("Global replication group {id} is being deleted"),
        );
        Ok(g)
    }

    /// `DisassociateGlobalReplicationGroup`: a secondary leaves and becomes a
    /// writable group of its own region.
    pub fn disassociate_global_replication_group(
        &self,
        scope: &Scope,
        id: &str,
        rg: &str,
        region: &str,
    ) -> Result<GlobalReplicationGroup> {
        let g = self.settled_global(scope, id, "disassociate a member")?;
        let rg = rg.to_ascii_lowercase();
        let Some(m) = g.member(region, &rg) else {
            return Err(Error::invalid(format!(
                "Replication group {rg} in region {region} is not a member of global replication group {id}."
            )));
        };
        if m.role == PRIMARY {
            return Err(Error::invalid(format!(
                "Replication group {rg} is the primary of global replication group {id}: fail over to another region first, or delete the global replication group."
            )));
        }
        let ms = Scope::new(scope.account.clone(), region.to_owned());
        self.link_member(&ms, &rg, None)?;
        let (r2, rg2) = (region.to_owned(), rg.clone());
        let g = self.update_global(scope, id, move |g| {
            g.members
                .retain(|m| !(m.region == r2 && m.replication_group_id == rg2));
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        let msg = format!(
            "Replication group {rg} in region {region} disassociated from global replication group {id}"
        );
        self.event(&ms, "replication-group", &rg, msg.clone());
        self.global_event(&g, &scope.account, &msg);
        Ok(g)
    }

    /// A member group deleted on its own leaves its datastore; the primary
    /// cannot be deleted while it is one.
    pub(crate) fn leave_global_on_delete(&self, scope: &Scope, g: &ReplicationGroup) -> Result<()> {
        let Some(gid) = g.global_id.clone() else {
            return Ok(());
        };
        let Ok((_, d)) = self.find_global(scope, &gid) else {
            return Ok(());
        };
        match d.member(&scope.region, &g.id) {
            Some(m) if m.role == PRIMARY && d.status != lifecycle::DELETING => Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} is the primary of global replication group {gid}: delete the global replication group first.",
                    g.id
                ),
            )),
            Some(_) if d.status != lifecycle::DELETING => {
                let (region, id) = (scope.region.clone(), g.id.clone());
                let d = self.update_global(scope, &gid, move |d| {
                    d.members
                        .retain(|m| !(m.region == region && m.replication_group_id == id));
                    d.status = lifecycle::MODIFYING.to_owned();
                    Ok(())
                })?;
                self.global_event(
                    &d,
                    &scope.account,
                    &format!(
                        "Replication group {} in region {} left global replication group {gid}: it is being deleted",
                        g.id, scope.region
                    ),
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `FailoverGlobalReplicationGroup`: a secondary region becomes the primary.
    pub fn failover_global_replication_group(
        &self,
        scope: &Scope,
        id: &str,
        region: &str,
        rg: &str,
    ) -> Result<GlobalReplicationGroup> {
        let g = self.settled_global(scope, id, "fail over")?;
        let rg = rg.to_ascii_lowercase();
        let Some(m) = g.member(region, &rg) else {
            return Err(Error::invalid(format!(
                "Replication group {rg} in region {region} is not a member of global replication group {id}."
            )));
        };
        if m.role == PRIMARY {
            return Err(Error::combination(format!(
                "Replication group {rg} in region {region} is already the primary of global replication group {id}."
            )));
        }
        let to = (region.to_owned(), rg.clone());
        let g = self.update_global(scope, id, move |g| {
            g.failover_to = Some(to);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!(
                "Failover of global replication group {id} to replication group {rg} in region {region} started"
            ),
        );
        Ok(g)
    }

    /// Datastores with a failover asked for and not done yet (the worker's).
    #[must_use]
    pub fn pending_global_failovers(&self) -> Vec<(Scope, GlobalReplicationGroup)> {
        let st = self.lock();
        st.regions
            .iter()
            .flat_map(|(s, r)| {
                r.global_replication_groups
                    .values()
                    .filter(|g| g.failover_to.is_some())
                    .map(move |g| (s.clone(), g.clone()))
            })
            .collect()
    }

    /// The worker stopped writes in the primary region and let the secondary
    /// catch up (or gave up waiting): the roles swap. The new primary's
    /// shard primaries stop replicating, the others follow them. The
    /// datastore after, and whether the roles swapped (not when the chosen
    /// secondary left meanwhile).
    pub fn complete_global_failover(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(GlobalReplicationGroup, bool)> {
        let mut swapped = false;
        let g = self.update_global(scope, id, |g| {
            let Some((r2, rg2)) = g.failover_to.take() else {
                return Err(bad_state(g, "complete a failover"));
            };
            if g.member(&r2, &rg2).is_none() {
                // The member left meanwhile: nothing to swap.
                return Ok(());
            }
            swapped = true;
            for m in &mut g.members {
                if m.region == r2 && m.replication_group_id == rg2 {
                    m.role = PRIMARY.to_owned();
                    m.status = ASSOCIATED.to_owned();
                } else {
                    m.role = SECONDARY.to_owned();
                    m.status = ASSOCIATING.to_owned();
                }
            }
            // The primary first, as AWS lists it.
            g.members.sort_by_key(|m| m.role != PRIMARY);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        // A Redis Cluster that becomes a secondary cannot `REPLICAOF`: its
        // nodes restart with cluster mode off, data kept, behind fronts.
        for m in g.members.iter().filter(|m| m.role == SECONDARY) {
            let ms = Scope::new(scope.account.clone(), m.region.clone());
            self.serve_by_fronts(&ms, &m.replication_group_id)?;
        }
        if let Some(p) = g.primary().filter(|_| swapped) {
            self.global_event(
                &g,
                &scope.account,
                &format!(
                    "Replication group {} in region {} is now the primary of global replication group {id}",
                    p.replication_group_id, p.region
                ),
            );
        }
        Ok((g, swapped))
    }

    /// A cluster-mode group turns to cluster mode served by fronts (a no-op
    /// when it is already, or has cluster mode disabled): every node restarts
    /// with its data, its engine with cluster mode off.
    fn serve_by_fronts(&self, scope: &Scope, id: &str) -> Result<()> {
        let g = self.find_replication_group(scope, id)?;
        if !g.cluster_enabled() || g.fronted {
            return Ok(());
        }
        // The group first: the restarts take the nodes' specs from it.
        self.update_replication_group(scope, id, |g| {
            g.fronted = true;
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        for mid in &g.members {
            self.update_cluster(scope, mid, |c| {
                for n in &mut c.nodes {
                    n.restart = true;
                    n.keep_data = true;
                }
                c.status = lifecycle::MODIFYING.to_owned();
                Ok(())
            })?;
        }
        self.event(
            scope,
            "replication-group",
            id,
            format!("Replication group {id} restarts its nodes to replicate from the new primary region"),
        );
        Ok(())
    }

    /// Whether the datastore's primary region's group is served by fronts
    /// (a former secondary, after a failover).
    fn primary_fronted(&self, scope: &Scope, g: &GlobalReplicationGroup) -> bool {
        let Some(p) = g.primary() else { return false };
        let ps = Scope::new(scope.account.clone(), p.region.clone());
        self.find_replication_group(&ps, &p.replication_group_id)
            .is_ok_and(|rg| rg.fronted)
    }

    /// A reshard of a datastore whose primary region is served by fronts:
    /// stored, then the primary region's group turns into a Redis Cluster
    /// again (a restart of every node, data kept); the reshard runs once it
    /// is one (`settle_global_datastores`). The datastore reads `modifying`
    /// throughout.
    fn defer_reshard(
        &self,
        scope: &Scope,
        g: &GlobalReplicationGroup,
        pending: PendingReshard,
    ) -> Result<GlobalReplicationGroup> {
        let g = self.update_global(scope, &g.id, |g| {
            g.pending_reshard = Some(pending);
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        if let Some(p) = g.primary() {
            self.global_event(
                &g,
                &scope.account,
                &format!(
                    "Global replication group {}: its primary, replication group {} in region {}, is served by fronts since a failover; it restarts every node with its data to become a Redis Cluster again, then the node groups change",
                    g.id, p.replication_group_id, p.region
                ),
            );
            let ps = Scope::new(scope.account.clone(), p.region.clone());
            if let Err(e) = self.recluster(&ps, &p.replication_group_id) {
                // The datastore's pass tries again (`resume_reshard`).
                tracing::warn!(global = %g.id, error = %e, "could not start turning the primary region's group into a Redis Cluster");
            }
        }
        Ok(g)
    }

    /// A deferred reshard, from the datastore's pass: the primary region's
    /// group turns into a Redis Cluster (again, if a stopped backend left
    /// that undone); once it is one and every member is settled, every
    /// member reshards as any datastore does, and the reshard is forgotten.
    /// A member that already has the asked shard count (a backend stopped
    /// between members) is left as it is.
    fn resume_reshard(&self, home: &Scope, g: &GlobalReplicationGroup) {
        let Some(pending) = g.pending_reshard.clone() else {
            return;
        };
        let Some(p) = g.primary() else { return };
        let ps = Scope::new(home.account.clone(), p.region.clone());
        let Ok(pg) = self.find_replication_group(&ps, &p.replication_group_id) else {
            return;
        };
        if pg.fronted {
            if let Err(e) = self.recluster(&ps, &pg.id) {
                tracing::warn!(global = %g.id, error = %e, "could not start turning the primary region's group into a Redis Cluster");
            }
            return;
        }
        if pg.recluster || g.failover_to.is_some() {
            return;
        }
        let settled = g.members.iter().all(|m| {
            let ms = Scope::new(home.account.clone(), m.region.clone());
            m.status == ASSOCIATED
                && self
                    .find_replication_group(&ms, &m.replication_group_id)
                    .is_ok_and(|rg| rg.status == lifecycle::AVAILABLE)
        });
        if !settled {
            return;
        }
        let done = match &pending {
            PendingReshard::Shards {
                count,
                remove,
                retain,
            } => self.reshard_members(home, g, *count, remove, retain),
            PendingReshard::Rebalance => self.rebalance_members(home, g),
        };
        match done {
            Err(e) if matches!(e.fault, Fault::ServiceUnavailable | Fault::Internal) => {
                tracing::warn!(global = %g.id, error = %e, "the deferred reshard could not be stored; trying again");
                return;
            }
            Err(e) => {
                // It no longer fits (a member changed meanwhile): dropped, said.
                self.global_event(
                    g,
                    &home.account,
                    &format!(
                        "The node group change of global replication group {} could not be made: {e}",
                        g.id
                    ),
                );
            }
            Ok(_) => {}
        }
        if let Err(e) = self.update_global(home, &g.id, |g| {
            g.pending_reshard = None;
            Ok(())
        }) {
            tracing::warn!(global = %g.id, error = %e, "could not record the deferred reshard as done");
        }
    }

    /// `Increase`/`DecreaseNodeGroupsInGlobalReplicationGroup`: every member
    /// reshards to `count` shards (cluster mode enabled).
    pub fn reshard_global(
        &self,
        scope: &Scope,
        req: GlobalReshard,
    ) -> Result<GlobalReplicationGroup> {
        let GlobalReshard {
            id,
            count,
            grow,
            to_remove,
            to_retain,
            apply_immediately,
        } = req;
        let id = id.as_str();
        if !apply_immediately {
            return Err(Error::invalid("ApplyImmediately must be true."));
        }
        let g = self.settled_global(scope, id, "change its node groups")?;
        let view = self.global_view(scope, &g);
        if !view.cluster_enabled {
            return Err(Error::invalid(format!(
                "Global replication group {id} has cluster mode disabled: it has no node groups to change."
            )));
        }
        let now = i64::try_from(view.node_groups.len()).unwrap_or(0);
        if grow && count <= now {
            return Err(Error::invalid(format!(
                "NodeGroupCount must be greater than the current number of node groups ({now})."
            )));
        }
        if !grow && count >= now {
            return Err(Error::invalid(format!(
                "NodeGroupCount must be less than the current number of node groups ({now})."
            )));
        }
        if !to_remove.is_empty() && !to_retain.is_empty() {
            return Err(Error::combination(
                "Only one of GlobalNodeGroupsToRemove or GlobalNodeGroupsToRetain may be specified.",
            ));
        }
        // Global node group `<id>-000N` is shard N of every member.
        let local = |list: &[String]| -> Result<Vec<String>> {
            list.iter()
                .map(|x| {
                    view.node_groups
                        .iter()
                        .position(|(gid, _)| gid == x)
                        .map(|i| format!("{:04}", i + 1))
                        .ok_or_else(|| {
                            Error::invalid(format!("Global node group {x} not found in {id}."))
                        })
                })
                .collect()
        };
        let (mut remove, retain) = (local(&to_remove)?, local(&to_retain)?);
        if !grow && remove.is_empty() && retain.is_empty() {
            // Neither list: the newest shards go.
            let keep = usize::try_from(count).unwrap_or(1);
            remove = (keep..view.node_groups.len())
                .map(|i| format!("{:04}", i + 1))
                .collect();
        }
        if self.primary_fronted(scope, &g) {
            let pending = PendingReshard::Shards {
                count,
                remove,
                retain,
            };
            return self.defer_reshard(scope, &g, pending);
        }
        self.reshard_members(scope, &g, count, &remove, &retain)
    }

    /// `RebalanceSlotsInGlobalReplicationGroup`.
    pub fn rebalance_global(
        &self,
        scope: &Scope,
        id: &str,
        apply_immediately: bool,
    ) -> Result<GlobalReplicationGroup> {
        if !apply_immediately {
            return Err(Error::invalid("ApplyImmediately must be true."));
        }
        let g = self.settled_global(scope, id, "rebalance its slots")?;
        let view = self.global_view(scope, &g);
        if !view.cluster_enabled {
            return Err(Error::invalid(format!(
                "Global replication group {id} has cluster mode disabled: it has no slots to rebalance."
            )));
        }
        if self.primary_fronted(scope, &g) {
            return self.defer_reshard(scope, &g, PendingReshard::Rebalance);
        }
        self.rebalance_members(scope, &g)
    }

    fn rebalance_members(
        &self,
        scope: &Scope,
        g: &GlobalReplicationGroup,
    ) -> Result<GlobalReplicationGroup> {
        for m in &g.members {
            let ms = Scope::new(scope.account.clone(), m.region.clone());
            self.rebalance_slots(&ms, &m.replication_group_id)?;
        }
        let g = self.update_global(scope, &g.id, |g| {
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!("Global replication group {} is rebalancing its slots", g.id),
        );
        Ok(g)
    }

    fn reshard_members(
        &self,
        scope: &Scope,
        g: &GlobalReplicationGroup,
        count: i64,
        remove: &[String],
        retain: &[String],
    ) -> Result<GlobalReplicationGroup> {
        for m in &g.members {
            let ms = Scope::new(scope.account.clone(), m.region.clone());
            let has = self
                .find_replication_group(&ms, &m.replication_group_id)
                .map(|rg| rg.node_groups.iter().filter(|x| !x.removing).count());
            if has.is_ok_and(|n| i64::try_from(n).is_ok_and(|n| n == count)) {
                continue;
            }
            let req = ShardConfiguration {
                id: m.replication_group_id.clone(),
                node_group_count: count,
                apply_immediately: true,
                resharding: Vec::new(),
                to_remove: remove.to_vec(),
                to_retain: retain.to_vec(),
            };
            self.modify_shard_configuration(&ms, req)?;
        }
        let g = self.update_global(scope, &g.id, |g| {
            g.status = lifecycle::MODIFYING.to_owned();
            Ok(())
        })?;
        self.global_event(
            &g,
            &scope.account,
            &format!(
                "Global replication group {} is resharding to {count} node groups",
                g.id
            ),
        );
        Ok(g)
    }

    /// Statuses follow the members (called from the worker's loop): `creating`,
    /// `modifying` while a member changes or a link is not up, then
    /// `primary-only` or `available`; a deleted datastore goes once its links
    /// are cut.
    pub fn settle_global_datastores(&self) {
        let all: Vec<(Scope, GlobalReplicationGroup)> = {
            let st = self.lock();
            st.regions
                .iter()
                .flat_map(|(s, r)| {
                    r.global_replication_groups
                        .values()
                        .map(move |g| (s.clone(), g.clone()))
                })
                .collect()
        };
        for (home, g) in all {
            if g.status == lifecycle::DELETING {
                self.finish_global_delete(&home, &g);
                continue;
            }
            self.resume_reshard(&home, &g);
            let mut busy = g.pending_reshard.is_some();
            for m in &g.members {
                let ms = Scope::new(home.account.clone(), m.region.clone());
                match self.find_replication_group(&ms, &m.replication_group_id) {
                    Ok(rg) => busy |= rg.status != lifecycle::AVAILABLE,
                    Err(_) => busy = true,
                }
                busy |= m.status != ASSOCIATED;
            }
            busy |= g.failover_to.is_some();
            let next = if busy {
                if g.status == lifecycle::CREATING {
                    lifecycle::CREATING
                } else {
                    lifecycle::MODIFYING
                }
            } else if g.members.len() == 1 {
                PRIMARY_ONLY
            } else {
                lifecycle::AVAILABLE
            };
            if next != g.status {
                let was = g.status.clone();
                if !busy && was == lifecycle::MODIFYING {
                    for m in &g.members {
                        let ms = Scope::new(home.account.clone(), m.region.clone());
                        self.prune_global_parameter_groups(&ms, &m.replication_group_id);
                    }
                }
                if let Ok(g) = self.update_global(&home, &g.id, |g| {
                    g.status = next.to_owned();
                    Ok(())
                }) {
                    if was == lifecycle::MODIFYING || was == lifecycle::CREATING {
                        self.global_event(
                            &g,
                            &home.account,
                            &format!("Global replication group {} is {next}", g.id),
                        );
                    }
                }
            }
        }
    }

    /// A member's `global-datastore-<id>…` groups that no cluster uses any
    /// more (replaced by a major upgrade) go, as AWS manages them; the one in
    /// use stays, and so does a former member's (its owner deletes it).
    fn prune_global_parameter_groups(&self, scope: &Scope, group: &str) {
        let prefix = format!("global-datastore-{group}");
        let unused: Vec<String> = {
            let st = self.lock();
            let Some(r) = st.regions.get(scope) else {
                return;
            };
            r.parameter_groups
                .keys()
                .filter(|n| {
                    n.strip_prefix(&prefix).is_some_and(|rest| {
                        rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_lowercase())
                    })
                })
                .filter(|n| !r.clusters.values().any(|c| &c.parameter_group == *n))
                .cloned()
                .collect()
        };
        for name in unused {
            if let Err(e) = self.delete_parameter_group(scope, &name) {
                tracing::warn!(parameter_group = %name, error = %e, "could not remove a replaced global datastore parameter group");
            }
        }
    }

    fn finish_global_delete(&self, home: &Scope, g: &GlobalReplicationGroup) {
        for m in &g.members {
            let ms = Scope::new(home.account.clone(), m.region.clone());
            if self.link_member(&ms, &m.replication_group_id, None).is_ok() && g.delete_primary {
                if let Err(e) =
                    self.delete_replication_group(&ms, &m.replication_group_id, false, None)
                {
                    tracing::warn!(group = %m.replication_group_id, error = %e, "deleting the primary of a deleted global datastore failed");
                }
            }
        }
        // Stored first: a refused write keeps the datastore (the next pass
        // tries again) rather than forgetting it until a restart.
        let gone = {
            let mut st = self.lock();
            let r = st.region(home);
            r.global_replication_groups.contains_key(&g.id)
                && self
                    .persist::<GlobalReplicationGroup>("globalreplicationgroup", home, &g.id, None)
                    .is_ok()
                && r.global_replication_groups.remove(&g.id).is_some()
        };
        if gone {
            self.global_event(
                g,
                &home.account,
                &format!("Global replication group {} deleted", g.id),
            );
        }
    }

    /// Tags of a datastore (its ARN names no region).
    pub(crate) fn with_global_tags(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        let home = {
            let st = self.lock();
            locate(&st, &scope.account, id)
                .ok_or_else(|| not_found(id))?
                .0
        };
        self.change_tags(
            &home,
            "globalreplicationgroup",
            id,
            |r| r.global_replication_groups.get_mut(id),
            |g: &mut GlobalReplicationGroup| &mut g.tags,
            || not_found(id),
            f,
        )
    }

    /// A member group's `GlobalReplicationGroupInfo`: (datastore ID, role).
    #[must_use]
    pub fn global_info(&self, scope: &Scope, g: &ReplicationGroup) -> Option<(String, String)> {
        let gid = g.global_id.clone()?;
        let (_, d) = self.find_global(scope, &gid).ok()?;
        let role = d.member(&scope.region, &g.id)?.role.clone();
        Some((gid, role))
    }
}

/// Parse a global datastore's ARN: (account, id).
#[must_use]
pub fn parse_arn(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("arn:aws:elasticache::")?;
    let (account, rest) = rest.split_once(':')?;
    let id = rest.strip_prefix("globalreplicationgroup:")?;
    (!account.is_empty() && !id.is_empty()).then(|| (account.to_owned(), id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_awss_or_five_letters() {
        assert_eq!(region_prefix("us-east-1"), "ldgnf");
        assert_eq!(region_prefix("us-west-2"), "sgaui");
        let p = region_prefix("xx-mars-1");
        assert_eq!(p.len(), 5);
        assert!(p.chars().all(|c| c.is_ascii_lowercase()));
        assert_eq!(p, region_prefix("xx-mars-1"));
    }

    #[test]
    fn node_types_as_aws_limits_them() {
        assert!(check_node_type("cache.r6g.large").is_ok());
        assert!(check_node_type("cache.m5.xlarge").is_ok());
        assert!(check_node_type("cache.t3.micro").is_err());
        assert!(check_node_type("cache.m4.large").is_err());
        assert!(check_node_type("cache.m6g.medium").is_err());
    }

    #[test]
    fn arns_name_no_region() {
        assert_eq!(
            parse_arn("arn:aws:elasticache::000000000000:globalreplicationgroup:ldgnf-x"),
            Some(("000000000000".into(), "ldgnf-x".into()))
        );
        assert_eq!(parse_arn("arn:aws:elasticache:us-east-1:0:cluster:x"), None);
    }
}
