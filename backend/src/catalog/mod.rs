//! Static catalogs of what Amazon ElastiCache offers: engine default
//! parameters per parameter-group family, engine versions and node types.
//!
//! The data lives in JSON files next to this module (compiled in with
//! `include_str!`) and is parsed once, lazily. Field names follow the members
//! of the ElastiCache API model (2015-02-02), so the structs can be turned into
//! API response values with `serde_json::to_value` directly.

pub mod reserved;
pub mod service_updates;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// One engine parameter as `DescribeEngineDefaultParameters` reports it
/// (the model's `Parameter` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub parameter_name: String,
    /// The default value; `None` where AWS reports none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_modifiable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_engine_version: Option<String>,
    /// `immediate` or `requires-reboot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_type: Option<String>,
}

impl Parameter {
    /// Whether a change only takes effect after a reboot.
    pub fn requires_reboot(&self) -> bool {
        self.change_type.as_deref() == Some("requires-reboot")
    }
}

/// The model's `CacheNodeTypeSpecificValue` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeTypeSpecificValue {
    pub cache_node_type: String,
    pub value: String,
}

/// The model's `CacheNodeTypeSpecificParameter` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeTypeSpecificParameter {
    pub parameter_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_modifiable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_engine_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_type: Option<String>,
    #[serde(default)]
    pub cache_node_type_specific_values: Vec<NodeTypeSpecificValue>,
}

impl NodeTypeSpecificParameter {
    /// The value for one node type, if the catalog has it.
    pub fn value_for(&self, node_type: &str) -> Option<&str> {
        self.cache_node_type_specific_values
            .iter()
            .find(|v| v.cache_node_type == node_type)
            .map(|v| v.value.as_str())
    }
}

/// The model's `CacheEngineVersion` shape, plus whether it is the engine's
/// default (newest) version. `Default` is not an API member, so it is read
/// from the catalog but never serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EngineVersion {
    pub engine: String,
    pub engine_version: String,
    pub cache_parameter_group_family: String,
    pub cache_engine_description: String,
    pub cache_engine_version_description: String,
    #[serde(default, skip_serializing)]
    pub default: bool,
}

/// A cache node type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeType {
    /// e.g. `cache.t3.micro`.
    pub name: String,
    /// e.g. `t3`.
    pub family: String,
    /// AWS's "Memory (GiB)" figure.
    #[serde(rename = "MemoryGiB")]
    pub memory_gib: f64,
    pub vcpu: u32,
    /// False for previous-generation types (t1, m1, m2, m3, r3, c1).
    #[serde(default)]
    pub current_generation: bool,
}

impl NodeType {
    /// The node's memory in bytes (GiB figure × 2^30, rounded down).
    pub fn memory_bytes(&self) -> u64 {
        (self.memory_gib * (1u64 << 30) as f64) as u64
    }
}

macro_rules! families {
    ($($name:literal),* $(,)?) => {
        const FAMILIES: &[&str] = &[$($name),*];
        const PARAMETER_SOURCES: &[(&str, &str, &str)] = &[$(
            (
                $name,
                include_str!(concat!("parameters/", $name, ".json")),
                include_str!(concat!("parameters/", $name, ".node_type_specific.json")),
            )
        ),*];
    };
}

families!(
    "memcached1.4",
    "memcached1.5",
    "memcached1.6",
    "redis2.6",
    "redis2.8",
    "redis3.2",
    "redis4.0",
    "redis5.0",
    "redis6.x",
    "redis7",
    "valkey7",
    "valkey8",
);

struct ParameterCatalog {
    defaults: HashMap<&'static str, Vec<Parameter>>,
    node_type_specific: HashMap<&'static str, Vec<NodeTypeSpecificParameter>>,
}

static PARAMETERS: LazyLock<ParameterCatalog> = LazyLock::new(|| {
    let mut defaults = HashMap::new();
    let mut node_type_specific = HashMap::new();
    for (family, params, nts) in PARAMETER_SOURCES {
        let params: Vec<Parameter> = serde_json::from_str(params)
            .unwrap_or_else(|e| panic!("catalog parameters/{family}.json: {e}"));
        let nts: Vec<NodeTypeSpecificParameter> = serde_json::from_str(nts)
            .unwrap_or_else(|e| panic!("catalog parameters/{family}.node_type_specific.json: {e}"));
        defaults.insert(*family, params);
        node_type_specific.insert(*family, nts);
    }
    ParameterCatalog {
        defaults,
        node_type_specific,
    }
});

#[derive(Deserialize)]
struct ElastiCacheOnly {
    redis: Vec<String>,
    memcached: Vec<String>,
    startup_only: Vec<String>,
}

struct NameSets {
    elasticache_only: HashSet<String>,
    startup_only: HashSet<String>,
}

static NAME_SETS: LazyLock<NameSets> = LazyLock::new(|| {
    let raw: ElastiCacheOnly =
        serde_json::from_str(include_str!("parameters/elasticache_only.json"))
            .expect("catalog parameters/elasticache_only.json");
    NameSets {
        elasticache_only: raw.redis.into_iter().chain(raw.memcached).collect(),
        startup_only: raw.startup_only.into_iter().collect(),
    }
});

static ENGINE_VERSIONS: LazyLock<Vec<EngineVersion>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("engine_versions.json"))
        .expect("catalog engine_versions.json")
});

static NODE_TYPES: LazyLock<Vec<NodeType>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("node_types.json")).expect("catalog node_types.json")
});

/// Every parameter-group family in the catalog.
pub fn families() -> &'static [&'static str] {
    FAMILIES
}

/// The engine default parameters of a family (as
/// `DescribeEngineDefaultParameters` returns them), or `None` for an unknown
/// family.
pub fn parameters(family: &str) -> Option<&'static [Parameter]> {
    PARAMETERS.defaults.get(family).map(Vec::as_slice)
}

/// One default parameter of a family.
pub fn parameter(family: &str, name: &str) -> Option<&'static Parameter> {
    parameters(family)?
        .iter()
        .find(|p| p.parameter_name == name)
}

/// The node-type-specific parameters of a family (empty for an unknown one).
pub fn node_type_specific(family: &str) -> &'static [NodeTypeSpecificParameter] {
    PARAMETERS
        .node_type_specific
        .get(family)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether `name` is a real engine configuration directive that may be passed
/// to a running Redis/Valkey with `CONFIG SET name value`. False for
/// ElastiCache-only parameters (`reserved-memory-percent`,
/// `close-on-replica-write`, `rename-commands`, the split
/// `client-output-buffer-limit-*` forms, …) and for Memcached's
/// ElastiCache-only knobs.
pub fn is_engine_directive(name: &str) -> bool {
    !NAME_SETS.elasticache_only.contains(name)
}

/// Whether a real directive can only be set at engine start (not with
/// `CONFIG SET` on a running engine), e.g. `databases`, `cluster-enabled`.
pub fn is_startup_only(name: &str) -> bool {
    NAME_SETS.startup_only.contains(name)
}

/// Every engine version ElastiCache offers, oldest first per engine.
pub fn engine_versions() -> &'static [EngineVersion] {
    &ENGINE_VERSIONS
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// Resolves a requested engine version the way ElastiCache accepts it: an
/// exact listed version (`7.1`, `6.2`, `5.0.6`, `1.6.22`) or a major wildcard
/// (`6.x`: the newest `6.*`). The engine name is case-insensitive.
pub fn find_engine_version(engine: &str, version: &str) -> Option<&'static EngineVersion> {
    let engine = engine.to_ascii_lowercase();
    let version = version.trim();
    let of_engine = || engine_versions().iter().filter(|v| v.engine == engine);
    if let Some(found) = of_engine().find(|v| v.engine_version == version) {
        return Some(found);
    }
    let major = version
        .strip_suffix(".x")
        .or_else(|| version.strip_suffix(".X"))?;
    if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    of_engine()
        .filter(|v| v.engine_version.split('.').next() == Some(major))
        .max_by_key(|v| version_key(&v.engine_version))
}

/// The default (newest) version of an engine. Panics for an engine not in the
/// catalog; use [`engines`] to validate engine names first.
pub fn default_version(engine: &str) -> &'static EngineVersion {
    let engine = engine.to_ascii_lowercase();
    engine_versions()
        .iter()
        .find(|v| v.engine == engine && v.default)
        .unwrap_or_else(|| panic!("no default version for engine {engine}"))
}

/// The engines in the catalog (`memcached`, `redis`, `valkey`).
pub fn engines() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in engine_versions() {
        if !out.contains(&v.engine.as_str()) {
            out.push(v.engine.as_str());
        }
    }
    out
}

/// The parameter-group family of an engine version (any form
/// [`find_engine_version`] accepts).
pub fn family_for(engine: &str, version: &str) -> Option<&'static str> {
    find_engine_version(engine, version).map(|v| v.cache_parameter_group_family.as_str())
}

/// The engine of a parameter-group family (`redis6.x` → `redis`).
pub fn engine_of_family(family: &str) -> Option<&'static str> {
    ["memcached", "redis", "valkey"]
        .into_iter()
        .find(|e| family.starts_with(e) && families().contains(&family))
}

/// Every node type in the catalog.
pub fn node_types() -> &'static [NodeType] {
    &NODE_TYPES
}

/// A node type by name (`cache.t3.micro`).
pub fn node_type(name: &str) -> Option<&'static NodeType> {
    node_types().iter().find(|n| n.name == name)
}

/// Whether a family has a cluster-mode-enabled default group
/// (`default.<family>.cluster.on`): Redis 3.2 and later, and Valkey.
pub fn has_cluster_on_group(family: &str) -> bool {
    matches!(
        family,
        "redis3.2" | "redis4.0" | "redis5.0" | "redis6.x" | "redis7"
    ) || (family.starts_with("valkey") && families().contains(&family))
}

/// Names of the default parameter groups AWS provides for a family:
/// `default.<family>`, plus `default.<family>.cluster.on` for Redis 3.2+ and
/// Valkey families.
pub fn default_parameter_group_names(family: &str) -> Vec<String> {
    let mut out = vec![format!("default.{family}")];
    if has_cluster_on_group(family) {
        out.push(format!("default.{family}.cluster.on"));
    }
    out
}

/// The parameters of a default parameter group by name: the family defaults,
/// with `cluster-enabled` = `yes` for a `.cluster.on` group. `None` for a name
/// that is not a default group.
pub fn default_parameter_group(name: &str) -> Option<(&'static str, Vec<Parameter>)> {
    let rest = name.strip_prefix("default.")?;
    let (family, cluster_on) = match rest.strip_suffix(".cluster.on") {
        Some(f) if has_cluster_on_group(f) => (f, true),
        Some(_) => return None,
        None => (rest, false),
    };
    let family = *families().iter().find(|f| **f == family)?;
    let mut params = parameters(family)?.to_vec();
    if cluster_on {
        for p in &mut params {
            if p.parameter_name == "cluster-enabled" {
                p.parameter_value = Some("yes".to_string());
            }
        }
    }
    Some((family, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_loads_with_well_formed_parameters() {
        for family in families() {
            let params = parameters(family).expect(family);
            assert!(!params.is_empty(), "{family} has no parameters");
            let mut seen = HashSet::new();
            for p in params {
                assert!(
                    seen.insert(&p.parameter_name),
                    "{family}: duplicate {}",
                    p.parameter_name
                );
                let dt = p.data_type.as_deref().unwrap_or_default();
                assert!(
                    ["string", "integer", "boolean", "float"].contains(&dt),
                    "{family}: {} has DataType {dt:?}",
                    p.parameter_name
                );
                let ct = p.change_type.as_deref().unwrap_or_default();
                assert!(
                    ["immediate", "requires-reboot"].contains(&ct),
                    "{family}: {} has ChangeType {ct:?}",
                    p.parameter_name
                );
                assert_eq!(p.source.as_deref(), Some("system"));
                assert!(p.is_modifiable.is_some() && p.minimum_engine_version.is_some());
            }
            assert!(!node_type_specific(family).is_empty(), "{family}");
        }
        assert!(parameters("redis9").is_none());
        assert!(node_type_specific("redis9").is_empty());
    }

    #[test]
    fn known_defaults() {
        let p = parameter("redis7", "maxmemory-policy").unwrap();
        assert_eq!(p.parameter_value.as_deref(), Some("volatile-lru"));
        assert_eq!(
            p.allowed_values.as_deref(),
            Some("volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,volatile-ttl,noeviction")
        );
        let db = parameter("redis7", "databases").unwrap();
        assert_eq!(db.parameter_value.as_deref(), Some("16"));
        assert!(db.requires_reboot());
        assert_eq!(
            parameter("redis7", "reserved-memory-percent")
                .unwrap()
                .parameter_value
                .as_deref(),
            Some("25")
        );
        assert_eq!(
            parameter("redis2.6", "maxmemory-policy")
                .unwrap()
                .allowed_values
                .as_deref(),
            Some("volatile-lru,allkeys-lru,volatile-random,allkeys-random,volatile-ttl,noeviction")
        );
        assert!(parameter("redis7", "hash-max-ziplist-entries").is_none());
        assert!(parameter("redis7", "hash-max-listpack-entries").is_some());
        assert!(parameter("redis5.0", "close-on-replica-write").is_some());
        assert!(parameter("redis5.0", "close-on-slave-write").is_none());
        assert_eq!(
            parameter("memcached1.6", "max_item_size")
                .unwrap()
                .parameter_value
                .as_deref(),
            Some("1048576")
        );
        assert!(parameter("memcached1.6", "no_modern").is_some());
        assert!(parameter("memcached1.4", "no_modern").is_none());
        assert_eq!(
            parameter("valkey8", "repl-backlog-size")
                .unwrap()
                .parameter_value
                .as_deref(),
            Some("10485760")
        );
        assert_eq!(
            parameters("valkey7").unwrap().len(),
            parameters("redis7").unwrap().len()
        );
    }

    #[test]
    fn node_type_specific_values() {
        let maxmemory = node_type_specific("redis7")
            .iter()
            .find(|p| p.parameter_name == "maxmemory")
            .unwrap();
        assert_eq!(maxmemory.value_for("cache.t3.micro"), Some("536870912"));
        let mc = node_type_specific("memcached1.6")
            .iter()
            .find(|p| p.parameter_name == "max_cache_memory")
            .unwrap();
        assert_eq!(mc.value_for("cache.m5.large"), Some("6537"));
        for family in families() {
            for p in node_type_specific(family) {
                for v in &p.cache_node_type_specific_values {
                    assert!(
                        node_type(&v.cache_node_type).is_some(),
                        "{}",
                        v.cache_node_type
                    );
                    assert!(v.value.parse::<u64>().is_ok(), "{}", v.value);
                }
            }
        }
    }

    #[test]
    fn engine_directives() {
        assert!(!is_engine_directive("reserved-memory-percent"));
        assert!(!is_engine_directive("close-on-replica-write"));
        assert!(!is_engine_directive(
            "client-output-buffer-limit-normal-hard-limit"
        ));
        assert!(is_engine_directive("maxmemory-policy"));
        assert!(is_engine_directive("cluster-enabled"));
        assert!(is_startup_only("cluster-enabled"));
        assert!(!is_startup_only("timeout"));
    }

    #[test]
    fn engine_versions_resolve() {
        assert_eq!(
            find_engine_version("redis", "6.x").unwrap().engine_version,
            "6.2"
        );
        assert_eq!(
            find_engine_version("Redis", "7.1").unwrap().engine_version,
            "7.1"
        );
        assert_eq!(
            find_engine_version("redis", "5.x").unwrap().engine_version,
            "5.0.6"
        );
        assert_eq!(
            find_engine_version("memcached", "1.6.x").map(|v| v.engine_version.as_str()),
            None
        );
        assert_eq!(
            find_engine_version("memcached", "1.x")
                .unwrap()
                .engine_version,
            "1.6.22"
        );
        assert!(find_engine_version("redis", "7.9").is_none());
        assert!(find_engine_version("redis", "x").is_none());
        assert_eq!(default_version("redis").engine_version, "7.1");
        assert_eq!(default_version("valkey").engine_version, "8.1");
        assert_eq!(default_version("memcached").engine_version, "1.6.22");
        for e in engines() {
            assert_eq!(
                engine_versions()
                    .iter()
                    .filter(|v| v.engine == e && v.default)
                    .count(),
                1
            );
        }
        for v in engine_versions() {
            assert!(
                parameters(&v.cache_parameter_group_family).is_some(),
                "{v:?}"
            );
        }
        let cases = [
            ("redis", "2.6.13", "redis2.6"),
            ("redis", "2.8.24", "redis2.8"),
            ("redis", "3.2.10", "redis3.2"),
            ("redis", "4.0.10", "redis4.0"),
            ("redis", "5.0.6", "redis5.0"),
            ("redis", "6.0", "redis6.x"),
            ("redis", "6.2", "redis6.x"),
            ("redis", "7.0", "redis7"),
            ("redis", "7.1", "redis7"),
            ("valkey", "7.2", "valkey7"),
            ("valkey", "8.0", "valkey8"),
            ("valkey", "8.1", "valkey8"),
            ("memcached", "1.4.34", "memcached1.4"),
            ("memcached", "1.5.16", "memcached1.5"),
            ("memcached", "1.6.22", "memcached1.6"),
        ];
        for (engine, version, family) in cases {
            assert_eq!(
                family_for(engine, version),
                Some(family),
                "{engine} {version}"
            );
        }
        assert_eq!(engine_of_family("redis6.x"), Some("redis"));
        assert_eq!(engine_of_family("valkey8"), Some("valkey"));
        assert_eq!(engine_of_family("redis9"), None);
    }

    #[test]
    fn node_types_and_memory() {
        let t3 = node_type("cache.t3.micro").unwrap();
        assert_eq!(t3.memory_gib, 0.5);
        assert_eq!(t3.memory_bytes(), 512 * 1024 * 1024);
        assert_eq!(t3.family, "t3");
        assert_eq!(node_type("cache.r6g.large").unwrap().memory_gib, 13.07);
        assert_eq!(node_type("cache.m5.large").unwrap().memory_gib, 6.38);
        assert!(node_type("cache.nope.large").is_none());
        let mut names = HashSet::new();
        for n in node_types() {
            assert!(names.insert(&n.name), "duplicate {}", n.name);
            assert!(n.name.starts_with(&format!("cache.{}.", n.family)));
            assert!(n.memory_gib > 0.0 && n.vcpu > 0);
        }
    }

    #[test]
    fn default_groups() {
        assert_eq!(
            default_parameter_group_names("redis2.8"),
            vec!["default.redis2.8"]
        );
        assert_eq!(
            default_parameter_group_names("redis7"),
            vec!["default.redis7", "default.redis7.cluster.on"]
        );
        assert_eq!(
            default_parameter_group_names("valkey8"),
            vec!["default.valkey8", "default.valkey8.cluster.on"]
        );
        assert_eq!(
            default_parameter_group_names("memcached1.6"),
            vec!["default.memcached1.6"]
        );
        let (family, params) = default_parameter_group("default.redis3.2.cluster.on").unwrap();
        assert_eq!(family, "redis3.2");
        let ce = params
            .iter()
            .find(|p| p.parameter_name == "cluster-enabled")
            .unwrap();
        assert_eq!(ce.parameter_value.as_deref(), Some("yes"));
        let (_, params) = default_parameter_group("default.redis7").unwrap();
        let ce = params
            .iter()
            .find(|p| p.parameter_name == "cluster-enabled")
            .unwrap();
        assert_eq!(ce.parameter_value.as_deref(), Some("no"));
        assert!(default_parameter_group("default.redis2.8.cluster.on").is_none());
        assert!(default_parameter_group("custom").is_none());
    }

    #[test]
    fn serializes_like_the_api_model() {
        let v = serde_json::to_value(parameter("redis7", "timeout").unwrap()).unwrap();
        assert_eq!(v["ParameterName"], "timeout");
        assert_eq!(v["ChangeType"], "immediate");
        let v =
            serde_json::to_value(parameter("redis2.8", "notify-keyspace-events").unwrap()).unwrap();
        assert!(v.get("AllowedValues").is_none());
        let v = serde_json::to_value(default_version("redis")).unwrap();
        assert_eq!(v["CacheParameterGroupFamily"], "redis7");
    }
}
