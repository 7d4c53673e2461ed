//! Cache clusters: Redis and Valkey with one node, Memcached with 1–40.
//!
//! API calls change the desired state here and bump `generation`; the reconciler
//! makes the engines match and moves statuses to `available`.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    arn, lifecycle, subnet_group, validate, ControlPlane, Error, Fault, Result, Scope, Tag,
};
use crate::catalog;
use crate::engine::{AclUsers, EngineKind, NodeSpec};

pub const MAX_CLUSTERS: usize = 300;
pub const MAX_NODES_PER_CLUSTER: i64 = 40;
pub const MAX_NODES_PER_CUSTOMER: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheNode {
    pub id: String,
    pub status: String,
    pub created: DateTime<Utc>,
    /// Loopback address the engine answers on (see [`NodeSpec::host`]).
    #[serde(default = "loopback")]
    pub host: Ipv4Addr,
    /// Host port the engine answers on: the cluster's port when the node has
    /// its own loopback address, else a free port on 127.0.0.1.
    pub port: u16,
    pub az: String,
    /// The node must be restarted (reboot, node type or version change).
    #[serde(default)]
    pub restart: bool,
    /// Keep the data across the restart (`SAVE` first): node type and engine
    /// changes keep data, a reboot does not (as on AWS).
    #[serde(default)]
    pub keep_data: bool,
}

/// Changes waiting for the next reboot or maintenance window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub num_cache_nodes: Option<i64>,
    pub node_ids_to_remove: Vec<String>,
    pub engine_version: Option<String>,
    pub node_type: Option<String>,
}

impl Pending {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.num_cache_nodes.is_none() && self.engine_version.is_none() && self.node_type.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheCluster {
    pub id: String,
    pub engine: EngineKind,
    pub engine_version: String,
    pub node_type: String,
    pub status: String,
    pub nodes: Vec<CacheNode>,
    pub parameter_group: String,
    pub parameter_group_status: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub az_mode: String,
    pub preferred_az: String,
    pub preferred_azs: Vec<String>,
    pub maintenance_window: String,
    pub snapshot_window: Option<String>,
    pub snapshot_retention_limit: i64,
    pub notification_topic_arn: Option<String>,
    pub notification_topic_status: Option<String>,
    pub auto_minor_version_upgrade: bool,
    pub transit_encryption: bool,
    /// `preferred` (plaintext and TLS) or `required` (TLS only) when
    /// `transit_encryption`.
    #[serde(default)]
    pub transit_mode: Option<String>,
    pub at_rest_encryption: bool,
    /// The KMS key ID its backups are encrypted under (`None`: AWS's default key).
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// The AUTH tokens the nodes accept (never answered, logged or put on a
    /// command line).
    #[serde(default)]
    pub auth: AuthTokens,
    pub auth_token_last_modified: Option<DateTime<Utc>>,
    /// The port the user asked for (AWS's `Port`); engines answer on their node ports.
    pub port: u16,
    /// Memcached Auto Discovery listener port (the configuration endpoint).
    pub config_port: Option<u16>,
    /// Address of that listener (127.0.0.1 when absent).
    #[serde(default)]
    pub config_host: Option<Ipv4Addr>,
    pub config_version: u64,
    pub network_type: String,
    pub ip_discovery: String,
    pub pending: Pending,
    pub created: DateTime<Utc>,
    pub tags: Vec<Tag>,
    pub replication_group_id: Option<String>,
    /// Bumped by every API change; the reconciler settles a cluster only when
    /// the generation it worked on is still current.
    pub generation: u64,
    /// Parameters changed since the engines last took them.
    #[serde(default)]
    pub params_dirty: bool,
    /// Some changed parameter only takes effect at the next reboot.
    #[serde(default)]
    pub params_need_reboot: bool,
    /// The RDB file new nodes start from (a restore), put in place as
    /// `dump.rdb` before their first start.
    #[serde(default)]
    pub restore_from: Option<std::path::PathBuf>,
    /// The snapshot that file belongs to (`SnapshotName`), if any.
    #[serde(default)]
    pub restore_snapshot: Option<String>,
    /// The engines' memory limit when not the node type's (a serverless
    /// cache's `DataStorage` maximum), in bytes.
    #[serde(default)]
    pub memory_limit: Option<u64>,
}

/// The AUTH tokens of a cluster's nodes (Redis/Valkey, node-based access):
/// at most the two newest (a `ROTATE` keeps the previous one valid), oldest
/// first. `open`: unauthenticated clients are still accepted (a `ROTATE` onto
/// a group that had no token, until a `SET`). `Debug` shows no token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTokens {
    pub tokens: Vec<String>,
    #[serde(default)]
    pub open: bool,
    /// The last change was a `ROTATE` (a `SET` may follow).
    #[serde(default)]
    pub rotating: bool,
}

impl std::fmt::Debug for AuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthTokens")
            .field("tokens", &self.tokens.len())
            .field("open", &self.open)
            .finish()
    }
}

impl AuthTokens {
    /// The tokens of a new cluster: `token`, or none.
    #[must_use]
    pub fn new(token: Option<String>) -> Self {
        Self {
            tokens: token.into_iter().collect(),
            open: false,
            rotating: false,
        }
    }

    /// Whether clients must authenticate with a token (AWS's `AuthTokenEnabled`).
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The tokens after `ModifyReplicationGroup` `AuthToken` +
    /// `AuthTokenUpdateStrategy` (`None`: no change asked). `ROTATE` (the
    /// default) keeps the newest previous token beside the new one (onto a
    /// token-less group: unauthenticated clients stay accepted until a `SET`);
    /// `SET`, only after a `ROTATE`, keeps the new one alone; `DELETE` removes
    /// them (the caller checks it moves to RBAC).
    pub fn next(&self, token: Option<&str>, strategy: Option<&str>) -> Result<Option<Self>> {
        let strategy = match (token, strategy) {
            (None, None) => return Ok(None),
            (_, Some(s)) => s,
            (Some(_), None) => "ROTATE",
        };
        match (strategy, token) {
            ("DELETE", None) => Ok(Some(Self::default())),
            ("DELETE", Some(_)) => Err(Error::combination(
                "AuthToken cannot be specified with AuthTokenUpdateStrategy DELETE.",
            )),
            ("ROTATE" | "SET", None) => Err(Error::invalid(format!(
                "AuthToken must be specified with AuthTokenUpdateStrategy {strategy}."
            ))),
            ("ROTATE", Some(t)) => {
                check_auth_token(t)?;
                let mut tokens: Vec<String> = self
                    .tokens
                    .last()
                    .filter(|old| old.as_str() != t)
                    .cloned()
                    .into_iter()
                    .collect();
                tokens.push(t.to_owned());
                Ok(Some(Self {
                    tokens,
                    open: self.open || self.tokens.is_empty(),
                    rotating: true,
                }))
            }
            ("SET", Some(t)) => {
                check_auth_token(t)?;
                if !self.rotating {
                    return Err(Error::combination(
                        "AuthTokenUpdateStrategy SET is only allowed after the AUTH token was rotated with AuthTokenUpdateStrategy ROTATE.",
                    ));
                }
                Ok(Some(Self::new(Some(t.to_owned()))))
            }
            (other, _) => Err(Error::invalid(format!(
                "Invalid AuthTokenUpdateStrategy {other}. Valid values are SET, ROTATE and DELETE."
            ))),
        }
    }
}

impl CacheCluster {
    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "cluster", &self.id)
    }

    /// Stable key of one node, unique across accounts and regions.
    #[must_use]
    pub fn node_key(&self, scope: &Scope, node_id: &str) -> String {
        format!("{}-{}-{}-{node_id}", scope.account, scope.region, self.id)
    }

    /// What a runtime needs to run one node.
    #[must_use]
    pub fn node_spec(
        &self,
        scope: &Scope,
        node: &CacheNode,
        nodes_dir: &std::path::Path,
        extra: Vec<(String, String)>,
    ) -> NodeSpec {
        let key = self.node_key(scope, &node.id);
        NodeSpec {
            data_dir: nodes_dir.join(&key),
            key,
            engine: self.engine,
            version: self.engine_version.clone(),
            host: node.host,
            port: node.port,
            memory_bytes: self.memory_limit.unwrap_or_else(|| {
                catalog::node_type(&self.node_type)
                    .map_or(512 << 20, catalog::NodeType::memory_bytes)
            }),
            config: extra,
            users: AclUsers::default(),
            tls: self.transit_encryption,
            plain_port: (self.transit_mode.as_deref() == Some("preferred"))
                .then(|| crate::engine::plain_port(node.port)),
        }
    }

    fn next_node_ids(&self, count: usize) -> Vec<String> {
        let max = self
            .nodes
            .iter()
            .filter_map(|n| n.id.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        (1..=count)
            .map(|i| format!("{:04}", max as usize + i))
            .collect()
    }
}

/// `CreateCacheCluster` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct CreateCluster {
    pub id: String,
    pub engine: Option<String>,
    pub engine_version: Option<String>,
    pub node_type: Option<String>,
    pub num_cache_nodes: Option<i64>,
    pub parameter_group: Option<String>,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_group_names: Vec<String>,
    pub az_mode: Option<String>,
    pub preferred_az: Option<String>,
    pub preferred_azs: Vec<String>,
    pub maintenance_window: Option<String>,
    pub snapshot_window: Option<String>,
    pub snapshot_retention_limit: Option<i64>,
    pub snapshot_name: Option<String>,
    pub snapshot_arns: Vec<String>,
    pub notification_topic_arn: Option<String>,
    pub auto_minor_version_upgrade: Option<bool>,
    pub transit_encryption: Option<bool>,
    /// `TransitEncryptionMode` (replication groups).
    pub transit_mode: Option<String>,
    pub auth_token: Option<String>,
    pub port: Option<i64>,
    pub network_type: Option<String>,
    pub ip_discovery: Option<String>,
    pub replication_group_id: Option<String>,
    pub tags: Vec<Tag>,
}

/// `ModifyCacheCluster` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct ModifyCluster {
    pub id: String,
    pub num_cache_nodes: Option<i64>,
    pub node_ids_to_remove: Vec<String>,
    pub az_mode: Option<String>,
    pub new_azs: Vec<String>,
    pub security_group_ids: Option<Vec<String>>,
    pub maintenance_window: Option<String>,
    pub notification_topic_arn: Option<String>,
    pub notification_topic_status: Option<String>,
    pub parameter_group: Option<String>,
    pub apply_immediately: bool,
    /// A new engine (Redis → Valkey), with `engine_version` of that engine:
    /// rolled through a replication group's members (`ModifyCacheCluster`
    /// takes no engine change: see `check_cluster_engine`).
    pub engine: Option<EngineKind>,
    pub engine_version: Option<String>,
    pub auto_minor_version_upgrade: Option<bool>,
    pub snapshot_retention_limit: Option<i64>,
    pub snapshot_window: Option<String>,
    pub node_type: Option<String>,
    pub auth_token: Option<String>,
    pub auth_token_update_strategy: Option<String>,
    pub ip_discovery: Option<String>,
    /// A new transit encryption setting (enabled, mode), from
    /// `ModifyReplicationGroup` (checked there): nodes restart into it.
    pub transit: Option<(bool, Option<String>)>,
}

/// Whether a dotted version is below `min` (`1.6.6` < `[1, 6, 12]`).
fn version_lt(v: &str, min: &[u32]) -> bool {
    let parts: Vec<u32> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    for (i, m) in min.iter().enumerate() {
        let p = parts.get(i).copied().unwrap_or(0);
        if p != *m {
            return p < *m;
        }
    }
    false
}

/// An AUTH token as AWS takes it: 16 to 128 characters, letters, digits and
/// `! & # $ ^ < > -`.
pub fn check_auth_token(t: &str) -> Result<()> {
    let ok = (16..=128).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!&#$^<>-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("Invalid AuthToken provided."))
    }
}

/// The transit encryption mode a new cluster or group gets (`None`: off),
/// from `TransitEncryptionEnabled`, `TransitEncryptionMode` and `AuthToken`.
pub fn check_transit(
    engine: EngineKind,
    enabled: Option<bool>,
    mode: Option<&str>,
    token: Option<&str>,
) -> Result<Option<String>> {
    if let Some(m) = mode {
        if !matches!(m, "preferred" | "required") {
            return Err(Error::invalid(format!(
                "Invalid TransitEncryptionMode {m}. Valid values are preferred and required."
            )));
        }
        if enabled != Some(true) {
            return Err(Error::combination(
                "TransitEncryptionMode can only be specified when TransitEncryptionEnabled is true.",
            ));
        }
    }
    if let Some(t) = token {
        if enabled != Some(true) {
            return Err(Error::combination(
                "Auth Token can only be specified when TransitEncryptionEnabled is true.",
            ));
        }
        if engine == EngineKind::Memcached {
            return Err(Error::combination(
                "AuthToken is not supported for engine memcached.",
            ));
        }
        check_auth_token(t)?;
        if mode == Some("preferred") {
            return Err(Error::combination(
                "Transit encryption preferred is not supported with redis access control.",
            ));
        }
    }
    if enabled != Some(true) {
        return Ok(None);
    }
    if engine == EngineKind::Memcached && mode == Some("preferred") {
        return Err(Error::combination(
            "TransitEncryptionMode preferred is not supported for engine memcached.",
        ));
    }
    Ok(Some(mode.unwrap_or("required").to_owned()))
}

pub fn parse_engine(s: &str) -> Result<EngineKind> {
    match s.to_ascii_lowercase().as_str() {
        "redis" => Ok(EngineKind::Redis),
        "valkey" => Ok(EngineKind::Valkey),
        "memcached" => Ok(EngineKind::Memcached),
        _ => Err(Error::invalid(format!(
            "Invalid engine: {s}. Valid engines are redis, valkey and memcached."
        ))),
    }
}

/// Resolve a requested version (`7.1`, `6.x`, `1.6.22`) against the catalog.
pub fn resolve_version(
    engine: EngineKind,
    requested: Option<&str>,
) -> Result<&'static catalog::EngineVersion> {
    match requested {
        None => Ok(catalog::default_version(engine.as_str())),
        Some(v) => catalog::find_engine_version(engine.as_str(), v).ok_or_else(|| {
            Error::combination(format!("Cannot find version {v} for {}", engine.as_str()))
        }),
    }
}

pub(crate) fn check_node_type(name: &str) -> Result<()> {
    if catalog::node_type(name).is_none() {
        return Err(Error::invalid(format!("Invalid Cache Node Type: {name}")));
    }
    Ok(())
}

/// Compare dotted versions numerically (`6.2` < `7.0` < `7.1`; `1.6.6` < `1.6.22`).
#[must_use]
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a).cmp(&parse(b))
}

fn default_port(engine: EngineKind) -> u16 {
    match engine {
        EngineKind::Memcached => 11211,
        _ => 6379,
    }
}

/// The fault AWS answers for a cluster that does not exist.
fn not_found(id: &str) -> Error {
    Error::new(
        Fault::CacheClusterNotFound,
        format!("CacheCluster not found: {id}"),
    )
}

fn loopback() -> Ipv4Addr {
    Ipv4Addr::LOCALHOST
}

impl ControlPlane {
    /// Where a new node (or configuration endpoint) of a cluster on `port`
    /// answers: its own loopback address on the cluster's port, as AWS nodes
    /// answer on the cluster's port under their own names; a free port on
    /// 127.0.0.1 where that is impossible or clients reach engines through
    /// another advertised host.
    pub(super) fn alloc_addr(
        &self,
        port: u16,
        taken: &mut Vec<Ipv4Addr>,
    ) -> Result<(Ipv4Addr, u16)> {
        if self.settings.advertise_host == "127.0.0.1" {
            if let Some(ip) = crate::engine::free_loopback(port, taken) {
                taken.push(ip);
                return Ok((ip, port));
            }
        }
        let p = crate::engine::free_port().map_err(Error::internal)?;
        Ok((Ipv4Addr::LOCALHOST, p))
    }
}

impl ControlPlane {
    pub fn find_cluster(&self, scope: &Scope, id: &str) -> Result<CacheCluster> {
        let id = id.to_ascii_lowercase();
        let st = self.lock();
        st.regions
            .get(scope)
            .and_then(|r| r.clusters.get(&id))
            .cloned()
            .ok_or_else(|| not_found(&id))
    }

    pub fn list_clusters(&self, scope: &Scope) -> Vec<CacheCluster> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| r.clusters.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One page of the scope's clusters (in id order) that `keep` selects,
    /// and how many it selects, counted up to one past the page (see
    /// [`super::page_of`]).
    pub fn clusters_page(
        &self,
        scope: &Scope,
        keep: impl Fn(&CacheCluster) -> bool,
        skip: usize,
        size: usize,
    ) -> (Vec<CacheCluster>, usize) {
        let st = self.lock();
        st.regions.get(scope).map_or((Vec::new(), 0), |r| {
            super::page_of(r.clusters.values().filter(|c| keep(c)), skip, size)
        })
    }

    pub(super) fn save_cluster(&self, scope: &Scope, c: &CacheCluster) -> Result<()> {
        self.persist("cluster", scope, &c.id, Some(c))
    }

    pub fn create_cluster(&self, scope: &Scope, req: CreateCluster) -> Result<CacheCluster> {
        self.check_room()?;
        if req.replication_group_id.is_some() {
            return self.add_read_replica(scope, req);
        }
        let cluster = self.build_cluster(scope, req)?;
        if cluster.transit_encryption {
            if cluster.engine != EngineKind::Memcached {
                return Err(Error::combination(format!(
                    "Encryption feature is not supported for engine {}: transit encryption of {} needs a replication group (CreateReplicationGroup).",
                    cluster.engine.as_str().to_ascii_uppercase(),
                    cluster.engine.as_str()
                )));
            }
            if version_lt(&cluster.engine_version, &[1, 6, 12]) {
                return Err(Error::combination(
                    "Encryption in transit is supported for Memcached engine version 1.6.12 and later.",
                ));
            }
        }
        self.insert_clusters(scope, std::slice::from_ref(&cluster), None)?;
        Ok(cluster)
    }

    /// Validate a `CreateCacheCluster` request and build the record (nothing stored yet).
    #[allow(clippy::too_many_lines)]
    pub(crate) fn build_cluster(&self, scope: &Scope, req: CreateCluster) -> Result<CacheCluster> {
        let id = validate::identifier("Cache cluster", "CacheClusterId", &req.id, 50)?;
        let req = self.restore_defaults(scope, req);
        let engine = parse_engine(req.engine.as_deref().unwrap_or("memcached"))?;
        let version = resolve_version(engine, req.engine_version.as_deref())?;
        let node_type = req.node_type.clone().ok_or_else(|| {
            Error::new(
                Fault::InvalidParameterValue,
                "The parameter CacheNodeType must be provided and must not be blank.",
            )
        })?;
        check_node_type(&node_type)?;
        let n = req.num_cache_nodes.unwrap_or(1);
        if n < 1 {
            return Err(Error::invalid(
                "The parameter NumCacheNodes must be a positive integer.",
            ));
        }
        if engine != EngineKind::Memcached && n != 1 {
            return Err(Error::invalid(format!(
                "Cannot create a {} cluster with a NumCacheNodes parameter greater than 1.",
                engine.as_str()
            )));
        }
        if n > MAX_NODES_PER_CLUSTER {
            return Err(Error::new(
                Fault::NodeQuotaForClusterExceeded,
                format!(
                    "The number of cache nodes per cluster cannot exceed {MAX_NODES_PER_CLUSTER}."
                ),
            ));
        }
        if engine == EngineKind::Memcached
            && (req.snapshot_retention_limit.is_some_and(|l| l > 0)
                || req.snapshot_window.is_some())
        {
            return Err(Error::combination(
                "Snapshots are not supported for the memcached engine.",
            ));
        }
        let restore = self.restore_source(
            scope,
            req.snapshot_name.as_deref(),
            &req.snapshot_arns,
            engine,
            &version.engine_version,
        )?;
        if !req.security_group_names.is_empty() {
            return Err(Error::new(
                Fault::InvalidParameterCombination,
                "Use of cache security groups is not permitted along with cache subnet group and/or security group Ids.",
            ));
        }
        let transit_mode = check_transit(
            engine,
            req.transit_encryption,
            req.transit_mode.as_deref(),
            req.auth_token.as_deref(),
        )?;
        let maintenance_window = req
            .maintenance_window
            .as_deref()
            .map(validate::maintenance_window)
            .transpose()?
            .unwrap_or_else(|| "sun:05:00-sun:06:00".to_owned());
        let snapshot_window = match engine {
            EngineKind::Memcached => None,
            _ => Some(
                req.snapshot_window
                    .as_deref()
                    .map(validate::snapshot_window)
                    .transpose()?
                    .unwrap_or_else(|| "06:30-07:30".to_owned()),
            ),
        };
        let pg_name = req
            .parameter_group
            .clone()
            .unwrap_or_else(|| format!("default.{}", version.cache_parameter_group_family));
        let pg = self.find_parameter_group(scope, &pg_name)?;
        if pg.family != version.cache_parameter_group_family {
            return Err(Error::combination(format!(
                "The parameter group family {} does not match the engine family {}.",
                pg.family, version.cache_parameter_group_family
            )));
        }
        // Members of a cluster-mode replication group are built with their
        // group's id; a cache cluster of its own cannot be a cluster node.
        if req.replication_group_id.is_none()
            && pg.values.get("cluster-enabled").map(String::as_str) == Some("yes")
        {
            return Err(Error::combination(
                "Cluster mode is only available through CreateReplicationGroup: a cache cluster cannot use a cluster-enabled parameter group.",
            ));
        }
        let sg_name = req
            .subnet_group
            .clone()
            .unwrap_or_else(|| subnet_group::DEFAULT.to_owned());
        let sg = self.find_subnet_group(scope, &sg_name)?;
        let azs: Vec<String> = sg.subnets(scope).into_iter().map(|s| s.az).collect();
        let az_mode = req
            .az_mode
            .clone()
            .unwrap_or_else(|| "single-az".to_owned());
        if az_mode == "cross-az" && engine != EngineKind::Memcached {
            return Err(Error::combination(
                "AZMode cross-az is only supported for the memcached engine.",
            ));
        }
        if !req.preferred_azs.is_empty() && i64::try_from(req.preferred_azs.len()).ok() != Some(n) {
            return Err(Error::invalid(
                "The number of PreferredAvailabilityZones must equal NumCacheNodes.",
            ));
        }
        let preferred_az = req.preferred_az.clone().unwrap_or_else(|| {
            azs.first()
                .cloned()
                .unwrap_or_else(|| format!("{}a", scope.region))
        });
        super::validate::check_tags(&req.tags)?;
        let now = Self::now();
        let port = req
            .port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| default_port(engine));
        let mut taken = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..usize::try_from(n).unwrap_or(1) {
            let az = if let Some(a) = req.preferred_azs.get(i) {
                a.clone()
            } else if az_mode == "cross-az" && !azs.is_empty() {
                azs[i % azs.len()].clone()
            } else {
                preferred_az.clone()
            };
            let (host, node_port) = self.alloc_addr(port, &mut taken)?;
            nodes.push(CacheNode {
                id: format!("{:04}", i + 1),
                status: lifecycle::NODE_CREATING.to_owned(),
                created: now,
                host,
                port: node_port,
                az,
                restart: false,
                keep_data: false,
            });
        }
        let config = if engine == EngineKind::Memcached {
            Some(self.alloc_addr(port, &mut taken)?)
        } else {
            None
        };
        // "Multiple" only when the nodes really span AZs (cross-az or
        // PreferredAvailabilityZones); single-az nodes share one AZ.
        let multi_az = nodes.iter().any(|x| x.az != nodes[0].az);
        let cluster = CacheCluster {
            id: id.clone(),
            engine,
            engine_version: version.engine_version.clone(),
            node_type,
            status: lifecycle::CREATING.to_owned(),
            nodes,
            parameter_group: pg.name.clone(),
            parameter_group_status: lifecycle::PG_IN_SYNC.to_owned(),
            subnet_group: Some(sg.name.clone()),
            security_group_ids: req.security_group_ids.clone(),
            az_mode: if engine == EngineKind::Memcached {
                az_mode
            } else {
                "single-az".to_owned()
            },
            preferred_az: if multi_az {
                "Multiple".to_owned()
            } else {
                preferred_az
            },
            preferred_azs: req.preferred_azs.clone(),
            maintenance_window,
            snapshot_window,
            snapshot_retention_limit: if engine == EngineKind::Memcached {
                0
            } else {
                req.snapshot_retention_limit.unwrap_or(0)
            },
            notification_topic_arn: req.notification_topic_arn.clone(),
            notification_topic_status: req
                .notification_topic_arn
                .as_ref()
                .map(|_| "active".to_owned()),
            auto_minor_version_upgrade: req.auto_minor_version_upgrade.unwrap_or(true),
            transit_encryption: transit_mode.is_some(),
            transit_mode,
            at_rest_encryption: false,
            kms_key_id: None,
            auth: AuthTokens::new(req.auth_token.clone()),
            auth_token_last_modified: req.auth_token.as_ref().map(|_| now),
            port,
            config_port: config.map(|(_, p)| p),
            config_host: config.map(|(h, _)| h),
            config_version: 1,
            network_type: req
                .network_type
                .clone()
                .unwrap_or_else(|| "ipv4".to_owned()),
            ip_discovery: req
                .ip_discovery
                .clone()
                .unwrap_or_else(|| "ipv4".to_owned()),
            pending: Pending::default(),
            created: now,
            tags: req.tags.clone(),
            replication_group_id: None,
            generation: 1,
            params_dirty: true,
            params_need_reboot: false,
            restore_from: restore.as_ref().map(|(p, _)| p.clone()),
            restore_snapshot: restore.and_then(|(_, n)| n),
            memory_limit: None,
        };
        Ok(cluster)
    }

    /// Mutate a cluster under the lock, bump its generation, persist it, wake the reconciler.
    ///
    /// The change is stored before it is visible and under the same lock, so
    /// the stored record is always the last change (two changes never land
    /// in the store in the other order) and a failed write changes nothing.
    pub fn update_cluster(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut CacheCluster) -> Result<()>,
    ) -> Result<CacheCluster> {
        let id = id.to_ascii_lowercase();
        let c = {
            let mut st = self.lock();
            let c = st
                .region(scope)
                .clusters
                .get_mut(&id)
                .ok_or_else(|| not_found(&id))?;
            let mut next = c.clone();
            f(&mut next)?;
            next.generation += 1;
            self.save_cluster(scope, &next)?;
            *c = next.clone();
            next
        };
        self.wake();
        Ok(c)
    }

    #[allow(clippy::too_many_lines)]
    /// `ModifyCacheCluster` with `Engine`: its own engine is accepted; a new
    /// one is given through the replication group, as AWS requires (a
    /// single-node cluster joins a replication group first).
    pub fn check_cluster_engine(&self, scope: &Scope, id: &str, engine: &str) -> Result<()> {
        let engine = parse_engine(engine)?;
        let c = self.find_cluster(scope, id)?;
        if engine == c.engine {
            return Ok(());
        }
        Err(Error::combination(format!(
            "Cache cluster {} runs {}: its engine changes to {} through a replication group (ModifyReplicationGroup with Engine and EngineVersion); a single-node cluster first joins one.",
            c.id,
            c.engine.as_str(),
            engine.as_str()
        )))
    }

    pub fn modify_cluster(&self, scope: &Scope, req: ModifyCluster) -> Result<CacheCluster> {
        let current = self.find_cluster(scope, &req.id)?;
        if current.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {} is not in available state (it is {}).",
                    current.id, current.status
                ),
            ));
        }
        let engine = req.engine.unwrap_or(current.engine);
        if engine != current.engine
            && !(current.engine == EngineKind::Redis && engine == EngineKind::Valkey)
        {
            return Err(Error::combination(format!(
                "Cannot change the engine of cache cluster {} from {} to {}: only redis to valkey.",
                current.id,
                current.engine.as_str(),
                engine.as_str()
            )));
        }
        if engine != current.engine && req.engine_version.is_none() {
            return Err(Error::invalid(
                "A change of engine needs the new engine's version.",
            ));
        }
        // Validate everything before changing anything.
        if let Some(nt) = &req.node_type {
            check_node_type(nt)?;
        }
        let new_version = match &req.engine_version {
            Some(v) => {
                let ev = resolve_version(engine, Some(v))?;
                if engine == current.engine
                    && version_cmp(&ev.engine_version, &current.engine_version)
                        == std::cmp::Ordering::Less
                {
                    return Err(Error::invalid(format!(
                        "Cannot downgrade {} from {} to {}.",
                        engine.as_str(),
                        current.engine_version,
                        ev.engine_version
                    )));
                }
                Some(ev)
            }
            None => None,
        };
        let family_now = catalog::family_for(current.engine.as_str(), &current.engine_version)
            .unwrap_or_default();
        let target_family =
            new_version.map_or(family_now, |v| v.cache_parameter_group_family.as_str());
        let new_pg = match &req.parameter_group {
            Some(name) => {
                let pg = self.find_parameter_group(scope, name)?;
                if pg.family != target_family {
                    return Err(Error::combination(format!(
                        "The parameter group family {} does not match the engine family {target_family}.",
                        pg.family
                    )));
                }
                Some(pg.name)
            }
            None if target_family != family_now => {
                let cur = self.find_parameter_group(scope, &current.parameter_group)?;
                if !cur.is_default() {
                    return Err(Error::combination(format!(
                        "The engine version {} needs a parameter group of family {target_family}: specify CacheParameterGroupName.",
                        new_version.map_or("", |v| v.engine_version.as_str())
                    )));
                }
                Some(format!("default.{target_family}"))
            }
            None => None,
        };
        // A new group needs a reboot only where a reboot-only parameter differs.
        let pg_needs_reboot = match &new_pg {
            Some(name) if *name != current.parameter_group => {
                let old = self.find_parameter_group(scope, &current.parameter_group)?;
                let new = self.find_parameter_group(scope, name)?;
                reboot_params_differ(&old, &new)
            }
            _ => false,
        };
        let mw = req
            .maintenance_window
            .as_deref()
            .map(validate::maintenance_window)
            .transpose()?;
        let sw = req
            .snapshot_window
            .as_deref()
            .map(validate::snapshot_window)
            .transpose()?;
        if engine == EngineKind::Memcached
            && (req.snapshot_retention_limit.is_some_and(|l| l > 0) || sw.is_some())
        {
            return Err(Error::combination(
                "Snapshots are not supported for the memcached engine.",
            ));
        }
        let transit_after = req
            .transit
            .as_ref()
            .map_or(current.transit_encryption, |t| t.0);
        if req.auth_token.is_some() && engine == EngineKind::Memcached {
            return Err(Error::combination(
                "AuthToken is not supported for engine memcached.",
            ));
        }
        if req.auth_token.is_some() && !transit_after {
            return Err(Error::combination(
                "Auth Token can only be specified when TransitEncryptionEnabled is true.",
            ));
        }
        let new_auth = current.auth.next(
            req.auth_token.as_deref(),
            req.auth_token_update_strategy.as_deref(),
        )?;
        let count = i64::try_from(current.nodes.len()).unwrap_or(0);
        if let Some(n) = req.num_cache_nodes {
            if engine != EngineKind::Memcached && n != 1 {
                return Err(Error::invalid(format!(
                    "Cannot modify a {} cluster to have a NumCacheNodes parameter other than 1.",
                    engine.as_str()
                )));
            }
            if n < 1 {
                return Err(Error::invalid(
                    "The parameter NumCacheNodes must be a positive integer.",
                ));
            }
            if n > MAX_NODES_PER_CLUSTER {
                return Err(Error::new(
                    Fault::NodeQuotaForClusterExceeded,
                    format!("The number of cache nodes per cluster cannot exceed {MAX_NODES_PER_CLUSTER}."),
                ));
            }
            if n < count {
                let want = usize::try_from(count - n).unwrap_or(0);
                if req.node_ids_to_remove.len() != want {
                    return Err(Error::invalid(format!(
                        "The number of cache node ids to remove ({}) must equal the decrease in NumCacheNodes ({want}).",
                        req.node_ids_to_remove.len()
                    )));
                }
            } else if !req.node_ids_to_remove.is_empty()
                && n != count - i64::try_from(req.node_ids_to_remove.len()).unwrap_or(0)
            {
                return Err(Error::invalid(
                    "CacheNodeIdsToRemove can only be given when NumCacheNodes decreases by that many nodes.",
                ));
            }
            for nid in &req.node_ids_to_remove {
                if !current.nodes.iter().any(|x| &x.id == nid) {
                    return Err(Error::new(
                        Fault::CacheNodeNotFound,
                        format!("Cache node {nid} not found in cluster {}.", current.id),
                    ));
                }
            }
        }
        let mut taken: Vec<Ipv4Addr> = current.nodes.iter().map(|n| n.host).collect();
        taken.extend(current.config_host);
        let add_ports: Vec<(Ipv4Addr, u16)> = match req.num_cache_nodes {
            Some(n) if n > count && req.apply_immediately => (0..(n - count))
                .map(|_| self.alloc_addr(current.port, &mut taken))
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        };
        let scope_c = scope.clone();
        let c = self.update_cluster(scope, &req.id, move |c| {
            let mut engines_change = false;
            if let Some(a) = new_auth {
                c.auth = a;
                c.auth_token_last_modified = Some(Self::now());
                // The reconciler pushes the users with the parameters.
                c.params_dirty = true;
                engines_change = true;
            }
            if let Some((on, mode)) = req.transit.clone() {
                if (c.transit_encryption, &c.transit_mode) != (on, &mode) {
                    c.transit_encryption = on;
                    c.transit_mode = mode;
                    for n in &mut c.nodes {
                        n.restart = true;
                        n.keep_data = true;
                    }
                    engines_change = true;
                }
            }
            if let Some(v) = mw {
                c.maintenance_window = v;
            }
            if let Some(v) = sw {
                c.snapshot_window = Some(v);
            }
            if let Some(v) = req.snapshot_retention_limit {
                c.snapshot_retention_limit = v;
            }
            if let Some(v) = req.security_group_ids {
                c.security_group_ids = v;
            }
            if let Some(v) = req.notification_topic_arn {
                c.notification_topic_arn = Some(v);
                c.notification_topic_status = Some("active".to_owned());
            }
            if let Some(v) = req.notification_topic_status {
                c.notification_topic_status = Some(v);
            }
            if let Some(v) = req.auto_minor_version_upgrade {
                c.auto_minor_version_upgrade = v;
            }
            if let Some(v) = req.ip_discovery {
                c.ip_discovery = v;
            }
            if let Some(v) = req.az_mode {
                c.az_mode = v;
            }
            if let Some(pg) = new_pg {
                if pg != c.parameter_group {
                    c.parameter_group = pg;
                    c.params_dirty = true;
                    c.params_need_reboot |= pg_needs_reboot;
                    c.parameter_group_status = lifecycle::PG_APPLYING.to_owned();
                    engines_change = true;
                }
            }
            let mut pending = c.pending.clone();
            if req.apply_immediately {
                if let Some(ev) = new_version {
                    if ev.engine_version != c.engine_version || engine != c.engine {
                        c.engine = engine;
                        c.engine_version.clone_from(&ev.engine_version);
                        for n in &mut c.nodes {
                            n.restart = true;
                            n.keep_data = true;
                        }
                        engines_change = true;
                    }
                    pending.engine_version = None;
                }
                if let Some(nt) = req.node_type {
                    if nt != c.node_type {
                        c.node_type = nt;
                        for n in &mut c.nodes {
                            n.restart = true;
                            n.keep_data = true;
                        }
                        engines_change = true;
                    }
                    pending.node_type = None;
                }
                if let Some(n) = req.num_cache_nodes {
                    pending.num_cache_nodes = None;
                    pending.node_ids_to_remove.clear();
                    engines_change |=
                        apply_node_count(c, &scope_c, n, &req.node_ids_to_remove, &add_ports);
                }
            } else {
                if let Some(ev) = new_version {
                    if ev.engine_version != c.engine_version {
                        pending.engine_version = Some(ev.engine_version.clone());
                    }
                }
                if let Some(nt) = req.node_type {
                    if nt != c.node_type {
                        pending.node_type = Some(nt);
                    }
                }
                if let Some(n) = req.num_cache_nodes {
                    if n != i64::try_from(c.nodes.len()).unwrap_or(0) {
                        pending.num_cache_nodes = Some(n);
                        pending
                            .node_ids_to_remove
                            .clone_from(&req.node_ids_to_remove);
                    }
                }
            }
            c.pending = pending;
            if engines_change {
                c.status = lifecycle::MODIFYING.to_owned();
            }
            Ok(())
        })?;
        self.event(
            scope,
            "cache-cluster",
            &c.id,
            format!("Cache cluster {} modified", c.id),
        );
        Ok(c)
    }

    pub fn reboot_cluster(
        &self,
        scope: &Scope,
        id: &str,
        node_ids: &[String],
    ) -> Result<CacheCluster> {
        let current = self.find_cluster(scope, id)?;
        if current.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {} is not in available state (it is {}).",
                    current.id, current.status
                ),
            ));
        }
        if node_ids.is_empty() {
            return Err(Error::invalid(
                "The parameter CacheNodeIdsToReboot must contain at least one cache node id.",
            ));
        }
        for nid in node_ids {
            if !current.nodes.iter().any(|n| &n.id == nid) {
                return Err(Error::new(
                    Fault::CacheNodeNotFound,
                    format!("Cache node {nid} not found in cluster {}.", current.id),
                ));
            }
        }
        let ids: Vec<String> = node_ids.to_vec();
        let scope_c = scope.clone();
        let c = self.update_cluster(scope, id, move |c| {
            c.status = lifecycle::REBOOTING.to_owned();
            for n in c.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
                n.status = lifecycle::NODE_REBOOTING.to_owned();
                n.restart = true;
            }
            apply_pending(c, &scope_c)
        })?;
        self.event(
            scope,
            "cache-cluster",
            &c.id,
            format!(
                "Cache cluster {} reboot requested for nodes {}",
                c.id,
                node_ids.join(", ")
            ),
        );
        Ok(c)
    }

    pub fn delete_cluster(
        &self,
        scope: &Scope,
        id: &str,
        final_snapshot: Option<&str>,
    ) -> Result<CacheCluster> {
        let current = self.find_cluster(scope, id)?;
        if current.status == lifecycle::DELETING {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!("Cache cluster {} is already being deleted.", current.id),
            ));
        }
        if let Some(name) = final_snapshot {
            // Checked and stored before anything changes; needs `available`.
            self.final_snapshot_of_cluster(scope, &current, name)?;
        }
        if let Some(rg) = &current.replication_group_id {
            self.detach_member_for_delete(scope, rg, &current.id)?;
        }
        if matches!(
            current.status.as_str(),
            lifecycle::MODIFYING | lifecycle::REBOOTING
        ) {
            return Err(Error::new(
                Fault::InvalidCacheClusterState,
                format!(
                    "Cache cluster {} is not in a deletable state (it is {}).",
                    current.id, current.status
                ),
            ));
        }
        self.update_cluster(scope, id, |c| {
            c.status = lifecycle::DELETING.to_owned();
            for n in &mut c.nodes {
                n.status = lifecycle::NODE_DELETING.to_owned();
            }
            Ok(())
        })
    }

    /// Allowed scale-ups and scale-downs of a cluster's node type.
    pub fn allowed_node_types(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let c = self.find_cluster(scope, id)?;
        let mem = catalog::node_type(&c.node_type).map_or(0.0, |n| n.memory_gib);
        let mut up = Vec::new();
        let mut down = Vec::new();
        for nt in catalog::node_types() {
            if nt.name == c.node_type {
                continue;
            }
            if nt.memory_gib > mem {
                up.push(nt.name.clone());
            } else if c.engine != EngineKind::Memcached {
                down.push(nt.name.clone());
            }
        }
        Ok((up, down))
    }
}

/// Apply a new node count: add nodes (with the given ports) or mark the named
/// ones for removal. Returns whether engines change.
fn apply_node_count(
    c: &mut CacheCluster,
    scope: &Scope,
    n: i64,
    remove: &[String],
    ports: &[(Ipv4Addr, u16)],
) -> bool {
    let count = i64::try_from(
        c.nodes
            .iter()
            .filter(|x| x.status != lifecycle::NODE_DELETING)
            .count(),
    )
    .unwrap_or(0);
    if n > count {
        let ids = c.next_node_ids(usize::try_from(n - count).unwrap_or(0));
        let now = ControlPlane::now();
        let azs: Vec<String> = c.nodes.iter().map(|x| x.az.clone()).collect();
        for (i, id) in ids.into_iter().enumerate() {
            let (host, port) = ports
                .get(i)
                .copied()
                .unwrap_or_else(|| (Ipv4Addr::LOCALHOST, crate::engine::free_port().unwrap_or(0)));
            let az = if c.az_mode == "cross-az" && !azs.is_empty() {
                super::subnet_group::subnet_az(scope, &id)
            } else {
                azs.first()
                    .cloned()
                    .unwrap_or_else(|| format!("{}a", scope.region))
            };
            c.nodes.push(CacheNode {
                id,
                status: lifecycle::NODE_CREATING.to_owned(),
                created: now,
                host,
                port,
                az,
                restart: false,
                keep_data: false,
            });
        }
        true
    } else if n < count {
        for x in c.nodes.iter_mut().filter(|x| remove.contains(&x.id)) {
            x.status = lifecycle::NODE_DELETING.to_owned();
        }
        true
    } else {
        false
    }
}

/// Whether two groups give a reboot-only parameter different values.
fn reboot_params_differ(
    a: &super::parameter_group::ParameterGroup,
    b: &super::parameter_group::ParameterGroup,
) -> bool {
    let reboot_values = |g: &super::parameter_group::ParameterGroup| -> std::collections::BTreeMap<String, Option<String>> {
        g.effective()
            .into_iter()
            .filter(|(p, _, _)| p.change_type.as_deref() == Some("requires-reboot"))
            .map(|(p, v, _)| (p.parameter_name.clone(), v))
            .collect()
    };
    a.family != b.family || reboot_values(a) != reboot_values(b)
}

/// Apply pending modified values (at a reboot or in the maintenance window).
pub fn apply_pending(c: &mut CacheCluster, scope: &Scope) -> Result<()> {
    let p = std::mem::take(&mut c.pending);
    if let Some(v) = p.engine_version {
        c.engine_version = v;
        for n in &mut c.nodes {
            n.restart = true;
            n.keep_data = true;
        }
    }
    if let Some(nt) = p.node_type {
        c.node_type = nt;
        for n in &mut c.nodes {
            n.restart = true;
            n.keep_data = true;
        }
    }
    if let Some(n) = p.num_cache_nodes {
        apply_node_count(c, scope, n, &p.node_ids_to_remove, &[]);
    }
    Ok(())
}
