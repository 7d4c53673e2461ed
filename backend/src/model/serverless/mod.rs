//! Serverless caches (ElastiCache Serverless) on real engines.
//!
//! A serverless cache is a record of its own, backed by ordinary resources that
//! the API never shows: for Redis and Valkey a replication group of a primary
//! and one replica (TLS only, automatic failover, encrypted at rest), for
//! Memcached a one-node TLS cluster. Their identifiers begin with
//! [`validate::INTERNAL_PREFIX`], which no identifier given through the API can
//! have (`ops` refuses it). The cache's `Endpoint` and `ReaderEndpoint` are
//! the backing group's primary and reader endpoints (Memcached: its node);
//! its snapshots are snapshots of the backing group under hidden names, so that
//! the snapshot pass takes, copies, exports and deletes them as any other.
//!
//! `CacheUsageLimits`: the `DataStorage` maximum is the engines' `maxmemory`
//! (Memcached: its memory limit); the minimum and `ECPUPerSecond` are checked
//! and kept, with no local effect (one engine pair serves any load it can).

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cluster::{CacheCluster, CreateCluster, ModifyCluster};
use super::migration::Source;
use super::replication_group::{CreateReplicationGroup, ModifyReplicationGroup, ReplicationGroup};
use super::snapshot::{CreateSnapshot, Snapshot, AUTOMATIC_PREFIX};
use super::validate::{self, INTERNAL_PREFIX};
use super::{arn, lifecycle, ControlPlane, Error, Fault, Result, Scope, Tag};
use crate::catalog;
use crate::engine::EngineKind;

/// Serverless caches per account and region (AWS's default quota).
pub const MAX_CACHES: usize = 40;
/// The node type the backing engines run as (its memory is the default limit).
pub const BACKING_NODE_TYPE: &str = "cache.m7g.large";
/// `DataStorage` limits in GB, and `ECPUPerSecond` limits, as AWS bounds them.
const DATA_GB: std::ops::RangeInclusive<i64> = 1..=5000;
const ECPU: std::ops::RangeInclusive<i64> = 1000..=15_000_000;

/// `CacheUsageLimits` as asked (`DataStorage` in GB).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLimits {
    pub data_max: Option<i64>,
    pub data_min: Option<i64>,
    pub ecpu_max: Option<i64>,
    pub ecpu_min: Option<i64>,
}

impl UsageLimits {
    /// The engines' memory limit, in bytes, when a maximum is set.
    #[must_use]
    pub fn memory_bytes(&self) -> Option<u64> {
        self.data_max
            .and_then(|gb| u64::try_from(gb).ok())
            .map(|gb| gb << 30)
    }

    /// Check limits as AWS does: `Unit` GB, bounds, minimum not above maximum.
    pub fn check(&self) -> Result<()> {
        for (v, what) in [(self.data_max, "Maximum"), (self.data_min, "Minimum")] {
            if let Some(v) = v {
                if !DATA_GB.contains(&v) {
                    return Err(Error::invalid(format!(
                        "CacheUsageLimits.DataStorage.{what} must be between {} and {} GB.",
                        DATA_GB.start(),
                        DATA_GB.end()
                    )));
                }
            }
        }
        for (v, what) in [(self.ecpu_max, "Maximum"), (self.ecpu_min, "Minimum")] {
            if let Some(v) = v {
                if !ECPU.contains(&v) {
                    return Err(Error::invalid(format!(
                        "CacheUsageLimits.ECPUPerSecond.{what} must be between {} and {}.",
                        ECPU.start(),
                        ECPU.end()
                    )));
                }
            }
        }
        if let (Some(min), Some(max)) = (self.data_min, self.data_max) {
            if min > max {
                return Err(Error::combination(
                    "CacheUsageLimits.DataStorage.Minimum cannot be greater than Maximum.",
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.ecpu_min, self.ecpu_max) {
            if min > max {
                return Err(Error::combination(
                    "CacheUsageLimits.ECPUPerSecond.Minimum cannot be greater than Maximum.",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerlessCache {
    pub name: String,
    pub description: String,
    pub engine: EngineKind,
    pub major_version: String,
    pub full_version: String,
    pub status: String,
    pub created: DateTime<Utc>,
    pub limits: UsageLimits,
    pub kms_key_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub user_group_id: Option<String>,
    pub snapshot_retention_limit: i64,
    pub daily_snapshot_time: String,
    pub network_type: String,
    pub connection_type: String,
    pub tags: Vec<Tag>,
    /// The final snapshot asked by `DeleteServerlessCache`, taken before the
    /// backing group goes.
    #[serde(default)]
    pub final_snapshot: Option<String>,
    /// An online migration into the cache (`PrepareMigration` on).
    #[serde(default)]
    pub migration: Option<ServerlessMigration>,
}

/// An online migration into a serverless cache: prepared, then its engines
/// follow the source (the backing group's own migration) until it is stopped
/// or completed (at once with `AutoCutover` when the data is in sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerlessMigration {
    pub source: Source,
    /// `prepared`, `migrating`, `completing`.
    pub status: String,
    pub auto_cutover: bool,
    /// The source serves TLS: the PEM certificate(s) it is verified against
    /// (`SourceTlsConfiguration` with `verify-ca`).
    #[serde(default)]
    pub source_tls_certificate: Option<String>,
}

impl ServerlessCache {
    #[must_use]
    pub fn arn(&self, scope: &Scope) -> String {
        arn::arn(scope, "serverlesscache", &self.name)
    }

    /// The hidden replication group (Redis, Valkey) or cluster (Memcached) behind it.
    #[must_use]
    pub fn backing_id(&self) -> String {
        backing_id(&self.name)
    }
}

/// The hidden resource behind serverless cache `name`.
#[must_use]
pub fn backing_id(name: &str) -> String {
    format!("{INTERNAL_PREFIX}{name}")
}

/// The serverless cache a hidden resource id belongs to.
#[must_use]
pub fn cache_of(backing: &str) -> Option<&str> {
    backing.strip_prefix(INTERNAL_PREFIX)
}

/// The hidden snapshot name of serverless snapshot `name` (automatic ones keep
/// their prefix first).
#[must_use]
pub fn hidden_snapshot(name: &str) -> String {
    match name.strip_prefix(AUTOMATIC_PREFIX) {
        Some(rest) if !rest.starts_with(INTERNAL_PREFIX) => {
            format!("{AUTOMATIC_PREFIX}{INTERNAL_PREFIX}{rest}")
        }
        Some(_) => name.to_owned(),
        None => format!("{INTERNAL_PREFIX}{name}"),
    }
}

/// The serverless snapshot name a hidden snapshot shows as.
#[must_use]
pub fn shown_snapshot(hidden: &str) -> String {
    hidden.replacen(INTERNAL_PREFIX, "", 1)
}

/// The serverless cache a snapshot record was taken of, if it is one's.
#[must_use]
pub fn snapshot_cache(s: &Snapshot) -> Option<&str> {
    s.replication_group_id
        .as_deref()
        .or(s.cluster_id.as_deref())
        .and_then(cache_of)
}

/// Whether a snapshot record is a serverless cache's.
#[must_use]
pub fn is_serverless_snapshot(s: &Snapshot) -> bool {
    snapshot_cache(s).is_some() || s.name.starts_with(INTERNAL_PREFIX)
}

/// An endpoint: address and port.
pub type HostPort = (String, u16);

/// `CreateServerlessCache` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct CreateServerless {
    pub name: String,
    pub description: Option<String>,
    pub engine: String,
    pub major_version: Option<String>,
    pub limits: UsageLimits,
    pub kms_key_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub snapshot_arns: Vec<String>,
    pub tags: Vec<Tag>,
    pub user_group_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub snapshot_retention_limit: Option<i64>,
    pub daily_snapshot_time: Option<String>,
    pub network_type: Option<String>,
    pub connection_type: Option<String>,
}

/// `ModifyServerlessCache` as the model sees it.
#[derive(Debug, Clone, Default)]
pub struct ModifyServerless {
    pub name: String,
    pub description: Option<String>,
    pub limits: Option<UsageLimits>,
    pub remove_user_group: bool,
    pub user_group_id: Option<String>,
    pub security_group_ids: Option<Vec<String>>,
    pub snapshot_retention_limit: Option<i64>,
    pub daily_snapshot_time: Option<String>,
    pub engine: Option<String>,
    pub major_version: Option<String>,
}

fn not_found(name: &str) -> Error {
    Error::new(
        Fault::ServerlessCacheNotFoundFault,
        format!("Serverless cache {name} not found."),
    )
}

fn bad_state(c: &ServerlessCache) -> Error {
    Error::new(
        Fault::InvalidServerlessCacheStateFault,
        format!(
            "Serverless cache {} is not in available state (it is {}).",
            c.name, c.status
        ),
    )
}

impl ControlPlane {
    /// The backing engines refused a change for their state (a daily snapshot,
    /// an earlier change still reaching them): the cache's own error, saying
    /// which from the backing's status, without naming them (never shown).
    fn backing_busy(&self, scope: &Scope, e: Error, c: &ServerlessCache) -> Error {
        if !matches!(
            e.fault,
            Fault::InvalidReplicationGroupState | Fault::InvalidCacheClusterState
        ) {
            return e;
        }
        let status = if c.engine == EngineKind::Memcached {
            self.find_cluster(scope, &c.backing_id())
                .ok()
                .map(|b| b.status)
        } else {
            self.serverless_backing_group(scope, c).map(|g| g.status)
        };
        let doing = if status.as_deref() == Some(lifecycle::SNAPSHOTTING) {
            "a snapshot is being taken"
        } else {
            "an earlier change is still being applied"
        };
        Error::new(
            Fault::InvalidServerlessCacheStateFault,
            format!(
                "Serverless cache {} is busy ({doing}); try again shortly.",
                c.name
            ),
        )
    }
}

fn snapshot_not_found(name: &str) -> Error {
    Error::new(
        Fault::ServerlessCacheSnapshotNotFoundFault,
        format!("Serverless cache snapshot {name} not found."),
    )
}

/// The engine versions a serverless cache of `engine` runs, newest first:
/// (`MajorEngineVersion`, `FullEngineVersion`).
fn versions(engine: EngineKind) -> Vec<(String, String)> {
    let majors: &[&str] = match engine {
        EngineKind::Redis => &["7"],
        EngineKind::Valkey => &["8", "7"],
        EngineKind::Memcached => &["1.6"],
    };
    majors
        .iter()
        .filter_map(|m| {
            let newest = catalog::engine_versions()
                .iter()
                .filter(|v| v.engine == engine.as_str())
                .filter(|v| {
                    v.engine_version
                        .strip_prefix(*m)
                        .is_some_and(|r| r.starts_with('.'))
                })
                .max_by(|a, b| super::cluster::version_cmp(&a.engine_version, &b.engine_version))?;
            Some(((*m).to_owned(), newest.engine_version.clone()))
        })
        .collect()
}

/// `(MajorEngineVersion, FullEngineVersion)` for a request.
fn resolve(engine: EngineKind, major: Option<&str>) -> Result<(String, String)> {
    let all = versions(engine);
    let found = match major {
        None => all.first(),
        Some(m) => all.iter().find(|(v, _)| v == m),
    };
    found.cloned().ok_or_else(|| {
        Error::invalid(format!(
            "MajorEngineVersion {} is not supported for engine {}. Supported: {}.",
            major.unwrap_or(""),
            engine.as_str(),
            all.iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn parse_engine(engine: &str) -> Result<EngineKind> {
    match engine.to_ascii_lowercase().as_str() {
        "redis" => Ok(EngineKind::Redis),
        "valkey" => Ok(EngineKind::Valkey),
        "memcached" => Ok(EngineKind::Memcached),
        other => Err(Error::invalid(format!(
            "Invalid engine {other}: serverless caches run redis, valkey or memcached."
        ))),
    }
}

/// `DailySnapshotTime`: `HH:MM`, UTC.
fn daily_time(v: &str) -> Result<String> {
    let ok = v.len() == 5
        && v.as_bytes()[2] == b':'
        && v[..2].parse::<u32>().is_ok_and(|h| h < 24)
        && v[3..].parse::<u32>().is_ok_and(|m| m < 60);
    if ok {
        Ok(v.to_owned())
    } else {
        Err(Error::invalid(format!(
            "Invalid DailySnapshotTime {v}: use HH:MM (UTC)."
        )))
    }
}

/// The one-hour snapshot window a daily time opens.
fn window_of(daily: &str) -> String {
    let h: u32 = daily[..2].parse().unwrap_or(0);
    format!("{daily}-{:02}:{}", (h + 1) % 24, &daily[3..])
}

/// The engine change `ModifyServerlessCache` asks, as AWS allows it: Redis →
/// Valkey and major version upgrades; no downgrade, no Valkey → Redis, no
/// change to or from Memcached. `None` when nothing changes.
fn engine_change(
    c: &ServerlessCache,
    engine: Option<&str>,
    major: Option<&str>,
) -> Result<Option<(EngineKind, String, String)>> {
    if engine.is_none() && major.is_none() {
        return Ok(None);
    }
    let engine = engine.map_or(Ok(c.engine), parse_engine)?;
    if engine != c.engine && !(c.engine == EngineKind::Redis && engine == EngineKind::Valkey) {
        return Err(Error::combination(format!(
            "Serverless cache {} runs {}: its engine cannot change to {} (only redis to valkey).",
            c.name,
            c.engine.as_str(),
            engine.as_str()
        )));
    }
    let major = match (major, engine == c.engine) {
        (Some(m), _) => Some(m),
        (None, true) => Some(c.major_version.as_str()),
        (None, false) => None,
    };
    let (major, full) = resolve(engine, major)?;
    if engine == c.engine
        && super::cluster::version_cmp(&major, &c.major_version) == std::cmp::Ordering::Less
    {
        return Err(Error::invalid(format!(
            "Serverless cache {} runs {} {}: it cannot be downgraded to {major}.",
            c.name,
            c.engine.as_str(),
            c.major_version
        )));
    }
    if engine == c.engine && major == c.major_version {
        return Ok(None);
    }
    Ok(Some((engine, major, full)))
}

fn check_retention(n: i64) -> Result<i64> {
    if (0..=35).contains(&n) {
        Ok(n)
    } else {
        Err(Error::invalid(
            "SnapshotRetentionLimit must be between 0 and 35 days.",
        ))
    }
}

impl ControlPlane {
    pub fn find_serverless_cache(&self, scope: &Scope, name: &str) -> Result<ServerlessCache> {
        let st = self.lock();
        st.regions
            .get(scope)
            .and_then(|r| r.serverless_caches.get(&name.to_ascii_lowercase()))
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    pub fn list_serverless_caches(&self, scope: &Scope) -> Vec<ServerlessCache> {
        let st = self.lock();
        st.regions
            .get(scope)
            .map(|r| r.serverless_caches.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every serverless cache, with its scope (for the worker).
    pub fn all_serverless_caches(&self) -> Vec<(Scope, ServerlessCache)> {
        let st = self.lock();
        st.regions
            .iter()
            .flat_map(|(s, r)| {
                r.serverless_caches
                    .values()
                    .map(move |c| (s.clone(), c.clone()))
            })
            .collect()
    }

    /// Mutate a cache under the lock and persist it: stored before it is
    /// visible, so a refused write changes nothing.
    pub fn update_serverless_cache(
        &self,
        scope: &Scope,
        name: &str,
        f: impl FnOnce(&mut ServerlessCache) -> Result<()>,
    ) -> Result<ServerlessCache> {
        let c = {
            let mut st = self.lock();
            let c = st
                .region(scope)
                .serverless_caches
                .get_mut(name)
                .ok_or_else(|| not_found(name))?;
            let mut next = c.clone();
            f(&mut next)?;
            self.persist("serverlesscache", scope, &next.name, Some(&next))?;
            *c = next.clone();
            next
        };
        Ok(c)
    }

    /// Forget a deleted cache (the worker calls this once its backing is gone).
    pub fn remove_serverless_cache(&self, scope: &Scope, name: &str) {
        let gone = self
            .lock()
            .region(scope)
            .serverless_caches
            .remove(name)
            .is_some();
        if gone {
            let _ = self.persist::<ServerlessCache>("serverlesscache", scope, name, None);
        }
    }

    /// The hidden replication group behind a Redis/Valkey cache.
    pub fn serverless_backing_group(
        &self,
        scope: &Scope,
        c: &ServerlessCache,
    ) -> Option<ReplicationGroup> {
        let st = self.lock();
        st.regions
            .get(scope)?
            .replication_groups
            .get(&c.backing_id())
            .cloned()
    }

    /// The hidden cluster behind a Memcached cache.
    pub fn serverless_backing_cluster(
        &self,
        scope: &Scope,
        c: &ServerlessCache,
    ) -> Option<CacheCluster> {
        let st = self.lock();
        st.regions
            .get(scope)?
            .clusters
            .get(&c.backing_id())
            .cloned()
    }

    /// `(Endpoint, ReaderEndpoint)` of a cache, once its engines exist.
    pub fn serverless_endpoints(
        &self,
        scope: &Scope,
        c: &ServerlessCache,
    ) -> (Option<HostPort>, Option<HostPort>) {
        let host = |ip: Ipv4Addr| self.settings.endpoint_host(ip);
        if c.engine == EngineKind::Memcached {
            let node = self
                .serverless_backing_cluster(scope, c)
                .and_then(|cl| cl.nodes.first().map(|n| (host(n.host), n.port)));
            return (node, None);
        }
        match self.serverless_backing_group(scope, c) {
            Some(g) => {
                let (ph, pp) = g.primary_endpoint();
                let (rh, rp) = g.reader_endpoint();
                (Some((host(ph), pp)), Some((host(rh), rp)))
            }
            None => (None, None),
        }
    }

    /// The snapshot a `SnapshotArnsToRestore` entry names: a serverless
    /// snapshot's hidden one, or a node-based snapshot.
    fn restore_snapshot(&self, scope: &Scope, arn_str: &str) -> Result<Snapshot> {
        let a = arn::parse(arn_str)?;
        if a.scope != *scope {
            return Err(Error::invalid(format!(
                "The snapshot {arn_str} is not in this account and region."
            )));
        }
        match a.kind.as_str() {
            "serverlesscachesnapshot" => self
                .find_snapshot(scope, &hidden_snapshot(&a.name))
                .map_err(|_| snapshot_not_found(&a.name)),
            "snapshot" => self.find_snapshot(scope, &a.name),
            _ => Err(Error::invalid(format!("{arn_str} is not a snapshot ARN."))),
        }
    }

    #[allow(clippy::too_many_lines)]
    pub fn create_serverless_cache(
        &self,
        scope: &Scope,
        req: CreateServerless,
    ) -> Result<ServerlessCache> {
        self.check_room()?;
        let name = validate::identifier("Serverless cache", "ServerlessCacheName", &req.name, 40)?;
        let engine = parse_engine(&req.engine)?;
        let (major, full) = resolve(engine, req.major_version.as_deref())?;
        req.limits.check()?;
        validate::check_tags(&req.tags)?;
        let retention = check_retention(req.snapshot_retention_limit.unwrap_or(0))?;
        let daily = daily_time(req.daily_snapshot_time.as_deref().unwrap_or("03:00"))?;
        let network_type = req.network_type.clone().unwrap_or_else(|| "ipv4".into());
        if !matches!(network_type.as_str(), "ipv4" | "ipv6" | "dual_stack") {
            return Err(Error::invalid(format!(
                "Invalid NetworkType {network_type}: valid values are ipv4, ipv6 and dual_stack."
            )));
        }
        let connection_type = req.connection_type.clone().unwrap_or_else(|| "vpc".into());
        match connection_type.as_str() {
            "vpc" => {}
            "public" => {
                return Err(Error::combination(format!(
                    "ConnectionType public requires the valkey engine, major version 9 or later; this cache would run {} {major}.",
                    engine.as_str()
                )))
            }
            other => {
                return Err(Error::invalid(format!(
                    "Invalid ConnectionType {other}: valid values are vpc and public."
                )))
            }
        }
        if let Some(ug) = &req.user_group_id {
            if engine == EngineKind::Memcached {
                return Err(Error::combination(
                    "UserGroupId is only supported for the redis and valkey engines.",
                ));
            }
            let g = self.find_user_group(scope, ug)?;
            g.check_active()?;
        }
        let mut restore = None;
        if let Some(a) = req.snapshot_arns.first() {
            if req.snapshot_arns.len() > 1 {
                return Err(Error::invalid(
                    "SnapshotArnsToRestore takes one snapshot in elasticache-local.",
                ));
            }
            let s = self.restore_snapshot(scope, a)?;
            if (engine == EngineKind::Memcached) != (s.engine == EngineKind::Memcached) {
                return Err(Error::combination(format!(
                    "The snapshot {a} is of a {} cache: it cannot be restored into a {} serverless cache.",
                    s.engine.as_str(),
                    engine.as_str()
                )));
            }
            if s.engine == EngineKind::Valkey && engine == EngineKind::Redis {
                return Err(Error::combination(format!(
                    "The snapshot {a} is of a valkey cache: it cannot be restored into a redis serverless cache."
                )));
            }
            if s.status != lifecycle::AVAILABLE {
                return Err(Error::new(
                    Fault::InvalidServerlessCacheSnapshotStateFault,
                    format!("The snapshot {a} is not available (it is {}).", s.status),
                ));
            }
            restore = Some(s.name);
        }
        {
            let st = self.lock();
            let r = st.regions.get(scope);
            if r.is_some_and(|r| r.serverless_caches.contains_key(&name)) {
                return Err(Error::new(
                    Fault::ServerlessCacheAlreadyExistsFault,
                    format!("Serverless cache {name} already exists."),
                ));
            }
            if r.map_or(0, |r| r.serverless_caches.len()) >= MAX_CACHES {
                return Err(Error::new(
                    Fault::ServerlessCacheQuotaForCustomerExceededFault,
                    format!(
                        "The request cannot be processed: the quota of {MAX_CACHES} serverless caches has been reached."
                    ),
                ));
            }
        }
        let cache = ServerlessCache {
            name: name.clone(),
            description: req.description.clone().unwrap_or_default(),
            engine,
            major_version: major,
            full_version: full.clone(),
            status: lifecycle::CREATING.to_owned(),
            created: Self::now(),
            limits: req.limits.clone(),
            kms_key_id: req.kms_key_id.clone(),
            security_group_ids: req.security_group_ids.clone(),
            subnet_ids: req.subnet_ids.clone(),
            user_group_id: req.user_group_id.clone(),
            snapshot_retention_limit: retention,
            daily_snapshot_time: daily.clone(),
            network_type,
            connection_type,
            tags: req.tags.clone(),
            final_snapshot: None,
            migration: None,
        };
        // The backing engines, TLS only, encrypted at rest.
        let cluster = CreateCluster {
            id: cache.backing_id(),
            engine: Some(engine.as_str().to_owned()),
            engine_version: Some(full),
            node_type: Some(BACKING_NODE_TYPE.to_owned()),
            num_cache_nodes: Some(1),
            snapshot_window: (engine != EngineKind::Memcached).then(|| window_of(&daily)),
            snapshot_retention_limit: (engine != EngineKind::Memcached).then_some(retention),
            snapshot_name: restore,
            transit_encryption: Some(true),
            transit_mode: (engine != EngineKind::Memcached).then(|| "required".to_owned()),
            ..CreateCluster::default()
        };
        if engine == EngineKind::Memcached {
            let mut c = self.build_cluster(scope, cluster)?;
            c.memory_limit = cache.limits.memory_bytes();
            // Daily dumps of the items (node-based Memcached has no snapshots).
            c.snapshot_window = Some(window_of(&daily));
            c.snapshot_retention_limit = retention;
            c.at_rest_encryption = true;
            c.kms_key_id.clone_from(&cache.kms_key_id);
            self.insert_serverless(scope, &cache)?;
            if let Err(e) = self.insert_clusters(scope, std::slice::from_ref(&c), None) {
                self.remove_serverless_cache(scope, &name);
                return Err(e);
            }
        } else {
            self.insert_serverless(scope, &cache)?;
            let made = self.create_replication_group(
                scope,
                CreateReplicationGroup {
                    id: cache.backing_id(),
                    description: format!("serverless cache {name}"),
                    automatic_failover: Some(true),
                    multi_az: Some(true),
                    num_cache_clusters: Some(2),
                    user_group_ids: cache.user_group_id.iter().cloned().collect(),
                    at_rest_encryption: Some(true),
                    kms_key_id: cache.kms_key_id.clone(),
                    cluster,
                    ..CreateReplicationGroup::default()
                },
            );
            match made {
                Ok(g) => {
                    // Snapshots are taken on the primary, so that they hold
                    // every acknowledged write (as a serverless snapshot does).
                    let _ = self.update_replication_group(scope, &g.id, |g| {
                        g.snapshotting_cluster = Some(g.primary.clone());
                        Ok(())
                    });
                    if let Some(bytes) = cache.limits.memory_bytes() {
                        for m in &g.members {
                            let _ = self.update_cluster(scope, m, |c| {
                                c.memory_limit = Some(bytes);
                                Ok(())
                            });
                        }
                    }
                }
                Err(e) => {
                    self.remove_serverless_cache(scope, &name);
                    return Err(e);
                }
            }
        }
        self.event(
            scope,
            "serverless-cache",
            &name,
            format!("Serverless cache {name} is being created"),
        );
        self.wake();
        Ok(cache)
    }

    /// Stored before it is visible (a refused write leaves no cache behind).
    fn insert_serverless(&self, scope: &Scope, c: &ServerlessCache) -> Result<()> {
        let mut st = self.lock();
        self.persist("serverlesscache", scope, &c.name, Some(c))?;
        st.region(scope)
            .serverless_caches
            .insert(c.name.clone(), c.clone());
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    pub fn modify_serverless_cache(
        &self,
        scope: &Scope,
        req: ModifyServerless,
    ) -> Result<ServerlessCache> {
        let c = self.find_serverless_cache(scope, &req.name)?;
        if c.status != lifecycle::AVAILABLE {
            return Err(bad_state(&c));
        }
        // Validate everything before changing anything.
        if let Some(l) = &req.limits {
            l.check()?;
        }
        let retention = req
            .snapshot_retention_limit
            .map(check_retention)
            .transpose()?;
        let daily = req
            .daily_snapshot_time
            .as_deref()
            .map(daily_time)
            .transpose()?;
        if req.remove_user_group && req.user_group_id.is_some() {
            return Err(Error::combination(
                "RemoveUserGroup and UserGroupId cannot both be given.",
            ));
        }
        if let Some(ug) = &req.user_group_id {
            if c.engine == EngineKind::Memcached {
                return Err(Error::combination(
                    "UserGroupId is only supported for the redis and valkey engines.",
                ));
            }
            self.find_user_group(scope, ug)?.check_active()?;
        }
        let engine_change = engine_change(&c, req.engine.as_deref(), req.major_version.as_deref())?;
        let memory = req.limits.as_ref().map(UsageLimits::memory_bytes);
        let new_group = if req.remove_user_group {
            Some(None)
        } else {
            req.user_group_id.clone().map(Some)
        };
        let users_change = new_group.as_ref().is_some_and(|g| *g != c.user_group_id);
        let memory_change = memory.is_some_and(|m| m != c.limits.memory_bytes());
        // The backing engines take the changes.
        if c.engine == EngineKind::Memcached {
            if memory_change || retention.is_some() || daily.is_some() {
                self.update_cluster(scope, &c.backing_id(), |cl| {
                    if memory_change {
                        cl.memory_limit = memory.flatten();
                    }
                    if let Some(r) = retention {
                        cl.snapshot_retention_limit = r;
                    }
                    if let Some(d) = &daily {
                        cl.snapshot_window = Some(window_of(d));
                    }
                    Ok(())
                })
                .map_err(|e| self.backing_busy(scope, e, &c))?;
            }
        } else {
            let g = self
                .serverless_backing_group(scope, &c)
                .ok_or_else(|| bad_state(&c))?;
            if users_change || retention.is_some() || daily.is_some() {
                let mut m = ModifyReplicationGroup {
                    id: g.id.clone(),
                    ..ModifyReplicationGroup::default()
                };
                if users_change {
                    m.user_groups_to_remove = g.user_group_ids.clone();
                    m.user_groups_to_add = new_group.clone().flatten().into_iter().collect();
                }
                m.cluster.snapshot_retention_limit = retention;
                m.cluster.snapshot_window = daily.as_deref().map(window_of);
                m.cluster.apply_immediately = true;
                self.modify_replication_group(scope, m)
                    .map_err(|e| self.backing_busy(scope, e, &c))?;
            }
            if let Some((engine, _, full)) = &engine_change {
                // Rolled through the engines, replica first, each restarted
                // on the new engine with its data.
                self.modify_replication_group(
                    scope,
                    ModifyReplicationGroup {
                        id: g.id.clone(),
                        engine: Some(*engine),
                        cluster: ModifyCluster {
                            engine_version: Some(full.clone()),
                            apply_immediately: true,
                            ..ModifyCluster::default()
                        },
                        ..ModifyReplicationGroup::default()
                    },
                )
                .map_err(|e| self.backing_busy(scope, e, &c))?;
            }
            if memory_change {
                for mid in &g.members {
                    let bytes = memory.flatten();
                    self.update_cluster(scope, mid, |cl| {
                        cl.memory_limit = bytes;
                        cl.params_dirty = true;
                        cl.generation += 1;
                        Ok(())
                    })?;
                }
            }
        }
        let busy = users_change || memory_change || engine_change.is_some();
        let c = self.update_serverless_cache(scope, &c.name, |c| {
            if let Some(d) = &req.description {
                c.description.clone_from(d);
            }
            if let Some(l) = &req.limits {
                c.limits = l.clone();
            }
            if let Some(g) = &new_group {
                c.user_group_id.clone_from(g);
            }
            if let Some(s) = &req.security_group_ids {
                c.security_group_ids.clone_from(s);
            }
            if let Some(r) = retention {
                c.snapshot_retention_limit = r;
            }
            if let Some(d) = &daily {
                c.daily_snapshot_time.clone_from(d);
            }
            if let Some((engine, major, full)) = &engine_change {
                c.engine = *engine;
                c.major_version.clone_from(major);
                c.full_version.clone_from(full);
            }
            if busy {
                c.status = lifecycle::MODIFYING.to_owned();
            }
            Ok(())
        })?;
        if let Some((engine, major, _)) = &engine_change {
            self.event(
                scope,
                "serverless-cache",
                &c.name,
                format!(
                    "Serverless cache {} is being upgraded to {} {major}",
                    c.name,
                    engine.as_str()
                ),
            );
        }
        self.event(
            scope,
            "serverless-cache",
            &c.name,
            format!("Serverless cache {} modified", c.name),
        );
        self.wake();
        Ok(c)
    }

    pub fn delete_serverless_cache(
        &self,
        scope: &Scope,
        name: &str,
        final_snapshot: Option<&str>,
    ) -> Result<ServerlessCache> {
        let c = self.find_serverless_cache(scope, name)?;
        if c.status != lifecycle::AVAILABLE && c.status != lifecycle::CREATE_FAILED {
            return Err(bad_state(&c));
        }
        if let Some(s) = final_snapshot {
            self.create_serverless_snapshot(scope, s, &c.name, Vec::new())?;
        }
        let c = self.update_serverless_cache(scope, &c.name, |c| {
            c.status = lifecycle::DELETING.to_owned();
            c.final_snapshot = final_snapshot.map(str::to_owned);
            Ok(())
        })?;
        // The worker deletes the engines (after the final snapshot, if any).
        self.event(
            scope,
            "serverless-cache",
            &c.name,
            format!("Serverless cache {} is being deleted", c.name),
        );
        self.wake();
        Ok(c)
    }

    /// Delete the engines behind a cache that is `deleting` (retried by the
    /// worker until they take it: a cluster busy with a change refuses).
    pub fn delete_serverless_backing(&self, scope: &Scope, c: &ServerlessCache) -> Result<()> {
        if c.engine == EngineKind::Memcached {
            if let Some(cl) = self.serverless_backing_cluster(scope, c) {
                if cl.status != lifecycle::DELETING {
                    self.delete_cluster(scope, &cl.id, None)?;
                }
            }
        } else if let Some(g) = self.serverless_backing_group(scope, c) {
            if g.status != lifecycle::DELETING {
                self.delete_replication_group(scope, &g.id, false, None)?;
            }
        }
        Ok(())
    }

    /// `CreateServerlessCacheSnapshot` (and the final snapshot of a delete).
    pub fn create_serverless_snapshot(
        &self,
        scope: &Scope,
        name: &str,
        cache: &str,
        tags: Vec<Tag>,
    ) -> Result<Snapshot> {
        validate::identifier(
            "Serverless cache snapshot",
            "ServerlessCacheSnapshotName",
            name,
            255,
        )?;
        let c = self.find_serverless_cache(scope, cache)?;
        if c.status != lifecycle::AVAILABLE {
            return Err(bad_state(&c));
        }
        let hidden = hidden_snapshot(&name.to_ascii_lowercase());
        if self.find_snapshot(scope, &hidden).is_ok() {
            return Err(snapshot_exists(name));
        }
        // Redis/Valkey: an RDB of the group's primary; Memcached: a dump of
        // every item of its node.
        let memcached = c.engine == EngineKind::Memcached;
        self.create_snapshot(
            scope,
            CreateSnapshot {
                name: hidden,
                cluster_id: memcached.then(|| c.backing_id()),
                replication_group_id: (!memcached).then(|| c.backing_id()),
                kms_key_id: None,
                tags,
            },
        )
        .map_err(|e| self.backing_busy(scope, e, &c))
    }

    /// A serverless snapshot by its shown name.
    pub fn find_serverless_snapshot(&self, scope: &Scope, name: &str) -> Result<Snapshot> {
        self.find_snapshot(scope, &hidden_snapshot(&name.to_ascii_lowercase()))
            .map_err(|_| snapshot_not_found(name))
    }

    pub fn copy_serverless_snapshot(
        &self,
        scope: &Scope,
        source: &str,
        target: &str,
        tags: Vec<Tag>,
    ) -> Result<Snapshot> {
        let src = self.find_serverless_snapshot(scope, source)?;
        validate::identifier(
            "Serverless cache snapshot",
            "TargetServerlessCacheSnapshotName",
            target,
            255,
        )?;
        let hidden = hidden_snapshot(&target.to_ascii_lowercase());
        if self.find_snapshot(scope, &hidden).is_ok() {
            return Err(snapshot_exists(target));
        }
        if src.status != lifecycle::AVAILABLE {
            return Err(snapshot_state(&src));
        }
        self.copy_snapshot(scope, &src.name, &hidden, None, None, tags)
    }

    pub fn delete_serverless_snapshot(&self, scope: &Scope, name: &str) -> Result<Snapshot> {
        let s = self.find_serverless_snapshot(scope, name)?;
        if s.status != lifecycle::AVAILABLE {
            return Err(snapshot_state(&s));
        }
        self.delete_snapshot(scope, &s.name)
    }

    pub fn export_serverless_snapshot(
        &self,
        scope: &Scope,
        name: &str,
        bucket: &str,
    ) -> Result<Snapshot> {
        let s = self.find_serverless_snapshot(scope, name)?;
        if s.engine == EngineKind::Memcached {
            // As AWS: exports are for Valkey and Redis OSS snapshots only.
            return Err(Error::invalid(format!(
                "Serverless cache snapshot {} is of a memcached cache: ExportServerlessCacheSnapshot is available for Valkey and Redis OSS only.",
                shown_snapshot(&s.name)
            )));
        }
        if s.status != lifecycle::AVAILABLE {
            return Err(snapshot_state(&s));
        }
        self.copy_snapshot(
            scope,
            &s.name,
            &shown_snapshot(&s.name),
            Some(bucket),
            None,
            Vec::new(),
        )
    }

    /// Serverless snapshots, optionally of one cache.
    pub fn list_serverless_snapshots(&self, scope: &Scope) -> Vec<Snapshot> {
        self.list_snapshots(scope)
            .into_iter()
            .filter(is_serverless_snapshot)
            .collect()
    }
}

/// What the engines behind a cache are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// Settled: every engine answers with the cache's settings.
    Ready,
    /// Still starting, restarting or taking a change.
    Busy,
    Failed,
    Gone,
}

impl ControlPlane {
    /// The state of the engines behind a cache.
    #[must_use]
    pub fn serverless_backing(&self, scope: &Scope, c: &ServerlessCache) -> Backing {
        let st = self.lock();
        let Some(r) = st.regions.get(scope) else {
            return Backing::Gone;
        };
        let id = c.backing_id();
        let members: Vec<&CacheCluster> = if c.engine == EngineKind::Memcached {
            r.clusters.get(&id).into_iter().collect()
        } else {
            let Some(g) = r.replication_groups.get(&id) else {
                return Backing::Gone;
            };
            if g.status == lifecycle::CREATE_FAILED {
                return Backing::Failed;
            }
            if g.status != lifecycle::AVAILABLE || g.users_pending {
                return Backing::Busy;
            }
            g.members.iter().filter_map(|m| r.clusters.get(m)).collect()
        };
        if members.is_empty() {
            return Backing::Gone;
        }
        if members.iter().any(|m| m.status == lifecycle::CREATE_FAILED) {
            return Backing::Failed;
        }
        if members
            .iter()
            .all(|m| m.status == lifecycle::AVAILABLE && !m.params_dirty)
        {
            Backing::Ready
        } else {
            Backing::Busy
        }
    }

    /// Settle every cache's status on its engines' (the worker calls this):
    /// `creating`/`modifying` → `available` once they are ready, `create-failed`
    /// when they failed; a `deleting` cache waits for its final snapshot, then
    /// deletes its engines, then goes.
    pub fn settle_serverless_caches(&self) {
        for (scope, c) in self.all_serverless_caches() {
            self.settle_serverless_migration(&scope, &c);
            let backing = self.serverless_backing(&scope, &c);
            let next = match (c.status.as_str(), backing) {
                (lifecycle::CREATING | lifecycle::MODIFYING, Backing::Ready) => {
                    Some(lifecycle::AVAILABLE)
                }
                (lifecycle::CREATING, Backing::Failed) => Some(lifecycle::CREATE_FAILED),
                // The engines are made right after the record; none a minute
                // later means the backend stopped in between.
                (lifecycle::CREATING, Backing::Gone)
                    if Self::now() - c.created > chrono::Duration::seconds(60) =>
                {
                    Some(lifecycle::CREATE_FAILED)
                }
                (lifecycle::DELETING, Backing::Gone) => {
                    self.remove_serverless_cache(&scope, &c.name);
                    self.event(
                        &scope,
                        "serverless-cache",
                        &c.name,
                        format!("Serverless cache {} deleted", c.name),
                    );
                    continue;
                }
                (lifecycle::DELETING, _) => {
                    let waiting = c.final_snapshot.as_deref().is_some_and(|s| {
                        self.find_serverless_snapshot(&scope, s)
                            .is_ok_and(|s| s.status == lifecycle::CREATING)
                    });
                    if !waiting {
                        if let Err(e) = self.delete_serverless_backing(&scope, &c) {
                            tracing::warn!(cache = %c.name, error = %e, "deleting a serverless cache's engines");
                        }
                    }
                    continue;
                }
                _ => None,
            };
            let Some(next) = next else { continue };
            let created = c.status == lifecycle::CREATING;
            if self
                .update_serverless_cache(&scope, &c.name, |c| {
                    c.status = next.to_owned();
                    Ok(())
                })
                .is_ok()
            {
                let msg = match (next, created) {
                    (lifecycle::AVAILABLE, true) => format!("Serverless cache {} created", c.name),
                    (lifecycle::AVAILABLE, false) => {
                        format!("Serverless cache {} modification complete", c.name)
                    }
                    _ => format!("Serverless cache {} could not be created", c.name),
                };
                self.event(&scope, "serverless-cache", &c.name, msg);
            }
        }
    }
}

fn not_under_migration(name: &str) -> Error {
    Error::new(
        Fault::ServerlessCacheNotUnderMigrationFault,
        format!("Serverless cache {name} is not under migration."),
    )
}

/// Online migration into serverless caches.
impl ControlPlane {
    /// `PrepareMigration`: check the cache and the source; the cache then
    /// takes `StartMigration` from that source, over TLS when
    /// `tls_certificate` (see [`super::migration::source_tls`]).
    pub fn prepare_serverless_migration(
        &self,
        scope: &Scope,
        name: &str,
        src: Source,
        tls_certificate: Option<String>,
    ) -> Result<ServerlessCache> {
        let c = self.find_serverless_cache(scope, name)?;
        if c.engine == EngineKind::Memcached {
            return Err(Error::invalid(
                "Online migration is only supported into redis and valkey serverless caches.",
            ));
        }
        if c.migration.is_some() {
            return Err(Error::new(
                Fault::ServerlessCacheAlreadyUnderMigrationFault,
                format!("Serverless cache {} is already under migration.", c.name),
            ));
        }
        if c.status != lifecycle::AVAILABLE {
            return Err(bad_state(&c));
        }
        let (ep, reader) = self.serverless_endpoints(scope, &c);
        if [ep, reader]
            .into_iter()
            .flatten()
            .any(|(h, p)| h == src.address && p == src.port)
        {
            return Err(Error::invalid(format!(
                "The customer node endpoint {src} is the serverless cache {} itself.",
                c.name
            )));
        }
        let tls = tls_certificate.is_some();
        let c = self.update_serverless_cache(scope, &c.name, |c| {
            c.migration = Some(ServerlessMigration {
                source: src.clone(),
                status: "prepared".to_owned(),
                auto_cutover: false,
                source_tls_certificate: tls_certificate,
            });
            Ok(())
        })?;
        self.event(
            scope,
            "serverless-cache",
            &c.name,
            format!(
                "Migration from {src}{} to serverless cache {} prepared",
                if tls { " (TLS, verify-ca)" } else { "" },
                c.name
            ),
        );
        Ok(c)
    }

    /// `StartMigration` with `ServerlessCacheName`: the cache's engines follow
    /// the prepared source.
    pub fn start_serverless_migration(
        &self,
        scope: &Scope,
        name: &str,
        src: Source,
        auto_cutover: bool,
    ) -> Result<ServerlessCache> {
        let c = self.find_serverless_cache(scope, name)?;
        let Some(m) = &c.migration else {
            return Err(not_under_migration(&c.name));
        };
        if m.status != "prepared" {
            return Err(Error::new(
                Fault::ServerlessCacheAlreadyUnderMigrationFault,
                format!(
                    "The migration into serverless cache {} has already started.",
                    c.name
                ),
            ));
        }
        if m.source != src {
            return Err(Error::invalid(format!(
                "The customer node endpoint {src} is not the one PrepareMigration was given ({}).",
                m.source
            )));
        }
        let tls = m.source_tls_certificate.clone();
        self.start_migration_from(scope, &c.backing_id(), src, tls)?;
        self.update_serverless_cache(scope, &c.name, |c| {
            if let Some(m) = c.migration.as_mut() {
                m.status = "migrating".to_owned();
                m.auto_cutover = auto_cutover;
            }
            Ok(())
        })
    }

    /// `CompleteMigration` (`force`) and `StopMigration` (at once, keeping the
    /// data copied so far): the engines stop following the source.
    pub fn end_serverless_migration(
        &self,
        scope: &Scope,
        name: &str,
        force: bool,
    ) -> Result<ServerlessCache> {
        let c = self.find_serverless_cache(scope, name)?;
        let Some(m) = &c.migration else {
            return Err(not_under_migration(&c.name));
        };
        if m.status == "migrating" {
            self.complete_migration(scope, &c.backing_id(), force)?;
        }
        let prepared_only = m.status == "prepared";
        self.update_serverless_cache(scope, &c.name, |c| {
            if prepared_only {
                c.migration = None;
            } else if let Some(m) = c.migration.as_mut() {
                m.status = "completing".to_owned();
            }
            Ok(())
        })
    }

    /// The migration's state for the API: its status and cutover mode.
    #[must_use]
    pub fn serverless_migration_status(
        &self,
        scope: &Scope,
        c: &ServerlessCache,
    ) -> Option<(String, &'static str)> {
        let m = c.migration.as_ref()?;
        let synced = self
            .serverless_backing_group(scope, c)
            .and_then(|g| g.migration)
            .is_some_and(|m| m.synced);
        let status = match m.status.as_str() {
            "migrating" if synced => "in-sync".to_owned(),
            s => s.to_owned(),
        };
        Some((
            status,
            if m.auto_cutover {
                "automatic"
            } else {
                "manual"
            },
        ))
    }

    /// Settle a cache's migration on its backing group's (from
    /// [`Self::settle_serverless_caches`]): cut over when in sync with
    /// `AutoCutover`; forget it once the group's migration has ended.
    fn settle_serverless_migration(&self, scope: &Scope, c: &ServerlessCache) {
        let Some(m) = &c.migration else { return };
        if m.status == "prepared" {
            return;
        }
        let group = self
            .serverless_backing_group(scope, c)
            .and_then(|g| g.migration);
        match group {
            None => {
                let forgot = self.update_serverless_cache(scope, &c.name, |c| {
                    c.migration = None;
                    Ok(())
                });
                // Still `migrating`: neither completed nor stopped, the
                // engines gave it up (the backing group's event is hidden).
                if forgot.is_ok() && m.status == "migrating" {
                    let how = if m.source_tls_certificate.is_some() {
                        " over TLS, verifying it against the SourceTlsCertificate given to PrepareMigration"
                    } else {
                        ""
                    };
                    self.event(
                        scope,
                        "serverless-cache",
                        &c.name,
                        format!(
                            "Failed to start migration from {} to serverless cache {}: the cache could not replicate from it{how}",
                            m.source, c.name
                        ),
                    );
                }
            }
            Some(gm) if gm.synced && m.auto_cutover && gm.completing.is_none() => {
                if self
                    .complete_migration(scope, &c.backing_id(), false)
                    .is_ok()
                {
                    let _ = self.update_serverless_cache(scope, &c.name, |c| {
                        if let Some(m) = c.migration.as_mut() {
                            m.status = "completing".to_owned();
                        }
                        Ok(())
                    });
                }
            }
            Some(_) => {}
        }
    }
}

fn snapshot_exists(name: &str) -> Error {
    Error::new(
        Fault::ServerlessCacheSnapshotAlreadyExistsFault,
        format!("Serverless cache snapshot {name} already exists."),
    )
}

fn snapshot_state(s: &Snapshot) -> Error {
    Error::new(
        Fault::InvalidServerlessCacheSnapshotStateFault,
        format!(
            "Serverless cache snapshot {} is not in available state (it is {}).",
            shown_snapshot(&s.name),
            s.status
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names_round_trip() {
        assert_eq!(hidden_snapshot("s1"), format!("{INTERNAL_PREFIX}s1"));
        assert_eq!(shown_snapshot(&hidden_snapshot("s1")), "s1");
        let auto = "automatic.c1-2026-12-02-03-00";
        assert_eq!(shown_snapshot(&hidden_snapshot(auto)), auto);
        assert_eq!(cache_of(&backing_id("c1")), Some("c1"));
    }

    #[test]
    fn limits_are_checked() {
        let l = UsageLimits {
            data_max: Some(10),
            data_min: Some(20),
            ..UsageLimits::default()
        };
        assert_eq!(
            l.check().unwrap_err().fault,
            Fault::InvalidParameterCombination
        );
        let l = UsageLimits {
            data_max: Some(0),
            ..UsageLimits::default()
        };
        assert_eq!(l.check().unwrap_err().fault, Fault::InvalidParameterValue);
        let l = UsageLimits {
            ecpu_max: Some(5000),
            ecpu_min: Some(1000),
            data_max: Some(2),
            ..UsageLimits::default()
        };
        assert!(l.check().is_ok());
        assert_eq!(l.memory_bytes(), Some(2 << 30));
    }

    fn cache(engine: EngineKind, major: &str) -> ServerlessCache {
        let (major, full) = resolve(engine, Some(major)).unwrap();
        ServerlessCache {
            name: "c".into(),
            description: String::new(),
            engine,
            major_version: major,
            full_version: full,
            status: lifecycle::AVAILABLE.into(),
            created: ControlPlane::now(),
            limits: UsageLimits::default(),
            kms_key_id: None,
            security_group_ids: Vec::new(),
            subnet_ids: Vec::new(),
            user_group_id: None,
            snapshot_retention_limit: 0,
            daily_snapshot_time: "03:00".into(),
            network_type: "ipv4".into(),
            connection_type: "vpc".into(),
            tags: Vec::new(),
            final_snapshot: None,
            migration: None,
        }
    }

    #[test]
    fn engine_changes_as_aws_allows() {
        let redis = cache(EngineKind::Redis, "7");
        let (e, m, _) = engine_change(&redis, Some("valkey"), None)
            .unwrap()
            .unwrap();
        assert_eq!((e, m.as_str()), (EngineKind::Valkey, "8"));
        let (_, m, _) = engine_change(&redis, Some("valkey"), Some("7"))
            .unwrap()
            .unwrap();
        assert_eq!(m, "7");
        assert_eq!(
            engine_change(&redis, Some("redis"), Some("7")).unwrap(),
            None
        );
        let v7 = cache(EngineKind::Valkey, "7");
        assert!(engine_change(&v7, None, Some("8")).unwrap().is_some());
        let v8 = cache(EngineKind::Valkey, "8");
        let refused = |c: &ServerlessCache, e: Option<&str>, m: Option<&str>| {
            engine_change(c, e, m).unwrap_err().fault
        };
        assert_eq!(refused(&v8, None, Some("7")), Fault::InvalidParameterValue);
        assert_eq!(
            refused(&v8, Some("redis"), None),
            Fault::InvalidParameterCombination
        );
        assert_eq!(
            refused(&redis, Some("memcached"), None),
            Fault::InvalidParameterCombination
        );
        let mc = cache(EngineKind::Memcached, "1.6");
        assert_eq!(
            refused(&mc, Some("valkey"), None),
            Fault::InvalidParameterCombination
        );
        assert_eq!(
            refused(&mc, None, Some("1.5")),
            Fault::InvalidParameterValue
        );
    }

    #[test]
    fn versions_come_from_the_engine_table() {
        assert_eq!(resolve(EngineKind::Redis, None).unwrap().0, "7");
        assert_eq!(resolve(EngineKind::Valkey, None).unwrap().0, "8");
        assert_eq!(resolve(EngineKind::Memcached, None).unwrap().0, "1.6");
        assert!(resolve(EngineKind::Redis, Some("6")).is_err());
        assert_eq!(window_of("23:30"), "23:30-00:30");
    }
}
