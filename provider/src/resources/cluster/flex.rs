//! Expand configuration into API input, flatten API output into state, and
//! HashiCorp's engine-version rules (`engine_version.go`).

use aws_sdk_elasticache::types::{
    CacheCluster, CloudWatchLogsDestinationDetails, DestinationDetails, DestinationType,
    KinesisFirehoseDestinationDetails, LogDeliveryConfiguration, LogDeliveryConfigurationRequest,
    LogFormat, LogType,
};
use tfplugin::Value;

use super::state::{ENGINE_MEMCACHED, ENGINE_REDIS, ENGINE_VALKEY};

// ---- reading values --------------------------------------------------------

pub fn get_str(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A known, non-empty string (HashiCorp's `d.GetOk`).
pub fn get_ok_str(v: &Value, name: &str) -> Option<String> {
    get_str(v, name).filter(|s| !s.is_empty())
}

pub fn get_i64(v: &Value, name: &str) -> Option<i64> {
    v.get(name)
        .and_then(Value::as_number)
        .and_then(tfplugin::Number::as_i64)
}

pub fn get_bool(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

/// Known string elements of a list or set attribute.
pub fn get_strs(v: &Value, name: &str) -> Option<Vec<String>> {
    v.get(name).and_then(Value::elements).map(|e| {
        e.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

pub fn str_or_null(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

pub fn int_or_null(n: Option<i32>) -> Value {
    n.map_or(Value::Null, |n| Value::from(i64::from(n)))
}

// ---- engine versions -------------------------------------------------------

/// `1.2.3` → [1, 2, 3]; `6.x` → [6, MAX, 0] (HashiCorp's normalization).
pub fn parse_version(v: &str) -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    let parts: Vec<&str> = v.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        out[i] = if i == 1 && *p == "x" && parts.len() == 2 {
            u64::MAX
        } else {
            p.parse().ok()?
        };
    }
    Some(out)
}

fn is_major_x(v: &str) -> bool {
    v.len() >= 3 && v.ends_with(".x") && v[..v.len() - 2].chars().all(|c| c.is_ascii_digit())
}

fn matches_memcached(v: &str) -> bool {
    let p: Vec<&str> = v.split('.').collect();
    p.len() == 3
        && p.iter()
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
}

fn matches_major_minor(v: &str, majors: std::ops::RangeInclusive<char>) -> bool {
    let mut it = v.splitn(2, '.');
    let (Some(a), Some(b)) = (it.next(), it.next()) else {
        return false;
    };
    a.len() == 1
        && a.chars().all(|c| majors.contains(&c))
        && !b.is_empty()
        && b.chars().all(|c| c.is_ascii_digit())
}

fn matches_redis(v: &str) -> bool {
    let pre6 = matches_memcached(v)
        && v.starts_with(|c: char| ('1'..='5').contains(&c))
        && v.split('.').next().is_some_and(|m| m.len() == 1);
    pre6 || v == "6.x" || matches_major_minor(v, '6'..='9')
}

/// The `engine_version` format per engine (`customizeDiffValidateClusterEngineVersion`).
pub fn validate_engine_version(engine: &str, v: &str) -> Result<(), String> {
    match engine {
        ENGINE_REDIS if !matches_redis(v) => Err(format!(
            "engine_version: {v} is invalid. For Redis v6 or higher, use <major>.<minor>. For Redis v5 or lower, use <major>.<minor>.<patch>."
        )),
        ENGINE_VALKEY if !matches_major_minor(v, '7'..='9') => Err(format!(
            "engine_version: {v} is invalid. For Valkey use <major>.<minor>."
        )),
        "" | ENGINE_MEMCACHED if !matches_memcached(v) => Err(
            "engine_version: must be a version string matching <major>.<minor>.<patch>".into(),
        ),
        _ => Ok(()),
    }
}

/// Whether `old` → `new` is a downgrade (`engineVersionIsDowngrade`); with
/// `old` of the form `6.x` the running version `actual` is compared.
pub fn is_downgrade(old: &str, new: &str, actual: &str) -> Result<bool, String> {
    let n = parse_version(new)
        .ok_or_else(|| format!("parsing new engine_version: Malformed version: {new}"))?;
    if is_major_x(old) {
        let a = parse_version(actual).ok_or_else(|| {
            format!("parsing current engine_version: Malformed version: {actual}")
        })?;
        if n[0] != a[0] {
            return Ok(n[0] < a[0]);
        }
        return Ok(n[1] < a[1]);
    }
    let o = parse_version(old)
        .ok_or_else(|| format!("parsing old engine_version: Malformed version: {old}"))?;
    Ok(n < o)
}

/// `engine_version` and `engine_version_actual` as HashiCorp stores them,
/// given the API's version and the version in configuration/state.
pub fn engine_versions(engine: &str, api: &str, prior: Option<&str>) -> (String, String) {
    let segs = parse_version(api).unwrap_or([0, 0, 0]);
    let actual = api.to_owned();
    match engine {
        ENGINE_REDIS if segs[0] < 6 => (api.to_owned(), actual),
        ENGINE_REDIS => {
            let x = prior.is_some_and(is_major_x);
            if x {
                (format!("{}.x", segs[0]), actual)
            } else {
                (format!("{}.{}", segs[0], segs[1]), actual)
            }
        }
        ENGINE_VALKEY => (format!("{}.{}", segs[0], segs[1]), actual),
        _ => (api.to_owned(), actual),
    }
}

// ---- log delivery ----------------------------------------------------------

pub fn expand_log_delivery(v: &Value) -> LogDeliveryConfigurationRequest {
    let dest = get_str(v, "destination").unwrap_or_default();
    let dtype = get_str(v, "destination_type").unwrap_or_default();
    let details = if dtype == "cloudwatch-logs" {
        DestinationDetails::builder()
            .cloud_watch_logs_details(
                CloudWatchLogsDestinationDetails::builder()
                    .log_group(dest)
                    .build(),
            )
            .build()
    } else {
        DestinationDetails::builder()
            .kinesis_firehose_details(
                KinesisFirehoseDestinationDetails::builder()
                    .delivery_stream(dest)
                    .build(),
            )
            .build()
    };
    LogDeliveryConfigurationRequest::builder()
        .destination_type(DestinationType::from(dtype.as_str()))
        .destination_details(details)
        .log_format(LogFormat::from(
            get_str(v, "log_format").unwrap_or_default().as_str(),
        ))
        .log_type(LogType::from(
            get_str(v, "log_type").unwrap_or_default().as_str(),
        ))
        .enabled(true)
        .build()
}

/// A request that turns off delivery of a log type no longer configured.
pub fn expand_empty_log_delivery(v: &Value) -> LogDeliveryConfigurationRequest {
    LogDeliveryConfigurationRequest::builder()
        .log_type(LogType::from(
            get_str(v, "log_type").unwrap_or_default().as_str(),
        ))
        .enabled(false)
        .build()
}

pub fn flatten_log_delivery(l: &[LogDeliveryConfiguration]) -> Value {
    Value::set(
        l.iter()
            .filter(|c| c.status().is_some_and(|s| s.as_str() != "disabled"))
            .map(|c| {
                let details = c.destination_details();
                let dest = details
                    .and_then(|d| d.cloud_watch_logs_details())
                    .and_then(|d| d.log_group())
                    .or_else(|| {
                        details
                            .and_then(|d| d.kinesis_firehose_details())
                            .and_then(|d| d.delivery_stream())
                    });
                Value::object([
                    ("destination", str_or_null(dest)),
                    (
                        "destination_type",
                        str_or_null(c.destination_type().map(|t| t.as_str())),
                    ),
                    (
                        "log_format",
                        str_or_null(c.log_format().map(|t| t.as_str())),
                    ),
                    ("log_type", str_or_null(c.log_type().map(|t| t.as_str()))),
                ])
            })
            .collect(),
    )
}

// ---- the cluster as state --------------------------------------------------

/// `cache_nodes`, sorted by node id (HashiCorp's `setCacheNodeData`).
pub fn flatten_cache_nodes(c: &CacheCluster) -> Value {
    let mut nodes: Vec<_> = c.cache_nodes().iter().collect();
    nodes.sort_by(|a, b| a.cache_node_id().cmp(&b.cache_node_id()));
    Value::List(
        nodes
            .into_iter()
            .map(|n| {
                let ep = n.endpoint();
                Value::object([
                    (
                        "address",
                        Value::from(ep.and_then(|e| e.address()).unwrap_or("")),
                    ),
                    (
                        "availability_zone",
                        Value::from(n.customer_availability_zone().unwrap_or("")),
                    ),
                    ("id", Value::from(n.cache_node_id().unwrap_or(""))),
                    (
                        "outpost_arn",
                        Value::from(n.customer_outpost_arn().unwrap_or("")),
                    ),
                    (
                        "port",
                        Value::from(i64::from(ep.and_then(|e| e.port()).unwrap_or(0))),
                    ),
                ])
            })
            .collect(),
    )
}

/// The attributes every reader of a cluster shares (resource and data source).
pub struct Common {
    pub cache_nodes: Value,
    pub cluster_address: Value,
    pub configuration_endpoint: Value,
    pub port: Value,
    pub notification_topic_arn: Value,
    pub parameter_group_name: Value,
    pub security_group_ids: Value,
}

pub fn common(c: &CacheCluster) -> Common {
    let cache_nodes = flatten_cache_nodes(c);
    let (cluster_address, configuration_endpoint, port) = match c.configuration_endpoint() {
        Some(ep) => (
            str_or_null(ep.address()),
            Value::from(format!(
                "{}:{}",
                ep.address().unwrap_or(""),
                ep.port().unwrap_or(0)
            )),
            int_or_null(ep.port()),
        ),
        None => (
            Value::Null,
            Value::Null,
            c.cache_nodes()
                .first()
                .and_then(|n| n.endpoint())
                .map_or(Value::Null, |e| int_or_null(e.port())),
        ),
    };
    let notification_topic_arn = c
        .notification_configuration()
        .filter(|n| n.topic_status() == Some("active"))
        .map_or(Value::Null, |n| str_or_null(n.topic_arn()));
    let parameter_group_name = c
        .cache_parameter_group()
        .map_or(Value::Null, |p| str_or_null(p.cache_parameter_group_name()));
    let security_group_ids = Value::set(
        c.security_groups()
            .iter()
            .filter_map(|s| s.security_group_id())
            .map(Value::from)
            .collect(),
    );
    Common {
        cache_nodes,
        cluster_address,
        configuration_endpoint,
        port,
        notification_topic_arn,
        parameter_group_name,
        security_group_ids,
    }
}
