//! `aws_elasticache_cluster`: HashiCorp's schema (5.100.0), attribute for
//! attribute, and the configuration checks HashiCorp runs before planning.

use std::time::Duration;

use tfplugin::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Schema, Type,
    Value,
};

use super::flex::{get_i64, get_str};

pub const ENGINE_MEMCACHED: &str = "memcached";
pub const ENGINE_REDIS: &str = "redis";
pub const ENGINE_VALKEY: &str = "valkey";

/// HashiCorp's default timeouts (create 40m, update 80m, delete 40m).
pub const TIMEOUT_CREATE: Duration = Duration::from_secs(40 * 60);
pub const TIMEOUT_UPDATE: Duration = Duration::from_secs(80 * 60);
pub const TIMEOUT_DELETE: Duration = Duration::from_secs(40 * 60);

/// Attributes whose change replaces the cluster (HashiCorp's `ForceNew`).
/// `engine_version` (on downgrade) and `node_type` (Memcached) are decided
/// while planning.
pub const FORCE_NEW: &[&str] = &[
    "availability_zone",
    "cluster_id",
    "engine",
    "network_type",
    "outpost_mode",
    "port",
    "preferred_outpost_arn",
    "replication_group_id",
    "snapshot_arns",
    "snapshot_name",
    "subnet_group_name",
    "transit_encryption_enabled",
];

/// Attributes that `replication_group_id` conflicts with.
const RG_CONFLICTS: &[&str] = &[
    "az_mode",
    "engine_version",
    "maintenance_window",
    "node_type",
    "notification_topic_arn",
    "num_cache_nodes",
    "parameter_group_name",
    "port",
    "security_group_ids",
    "snapshot_arns",
    "snapshot_name",
    "snapshot_retention_limit",
    "snapshot_window",
    "subnet_group_name",
];

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String)
}
fn n(name: &str) -> Attribute {
    Attribute::new(name, Type::Number)
}
fn b(name: &str) -> Attribute {
    Attribute::new(name, Type::Bool)
}

/// The element type of `cache_nodes`.
pub fn cache_node_type() -> Type {
    Type::object([
        ("address", Type::String),
        ("availability_zone", Type::String),
        ("id", Type::String),
        ("outpost_arn", Type::String),
        ("port", Type::Number),
    ])
}

pub fn schema() -> Schema {
    let attrs = vec![
        b("apply_immediately").optional().computed(),
        s("arn").computed(),
        s("auto_minor_version_upgrade").optional(),
        s("availability_zone").optional().computed(),
        s("az_mode").optional().computed(),
        Attribute::new("cache_nodes", Type::list(cache_node_type())).computed(),
        s("cluster_address").computed(),
        s("cluster_id").required(),
        s("configuration_endpoint").computed(),
        s("engine").optional().computed(),
        s("engine_version").optional().computed(),
        s("engine_version_actual").computed(),
        s("final_snapshot_identifier").optional(),
        s("id").optional().computed(),
        s("ip_discovery").optional().computed(),
        s("maintenance_window").optional().computed(),
        s("network_type").optional().computed(),
        s("node_type").optional().computed(),
        s("notification_topic_arn").optional(),
        n("num_cache_nodes").optional().computed(),
        s("outpost_mode").optional(),
        s("parameter_group_name").optional().computed(),
        n("port").optional().computed(),
        Attribute::new("preferred_availability_zones", Type::list(Type::String)).optional(),
        s("preferred_outpost_arn").optional().computed(),
        crate::region::attribute(),
        s("replication_group_id").optional().computed(),
        Attribute::new("security_group_ids", Type::set(Type::String))
            .optional()
            .computed(),
        Attribute::new("snapshot_arns", Type::list(Type::String)).optional(),
        s("snapshot_name").optional(),
        n("snapshot_retention_limit").optional(),
        s("snapshot_window").optional().computed(),
        s("subnet_group_name").optional().computed(),
        Attribute::new("tags", Type::map(Type::String)).optional(),
        Attribute::new("tags_all", Type::map(Type::String))
            .optional()
            .computed(),
        b("transit_encryption_enabled").optional().computed(),
    ];
    let mut block = Block::new();
    for a in attrs {
        let fnew = FORCE_NEW.contains(&a.name.as_str());
        block = block.attribute(if fnew { a.force_new() } else { a });
    }
    let log = Block::new()
        .attribute(s("destination").required())
        .attribute(s("destination_type").required())
        .attribute(s("log_format").required())
        .attribute(s("log_type").required());
    let block = block
        .nested(NestedBlock::new("log_delivery_configuration", Nesting::Set, log).max_items(2))
        .block(
            "timeouts",
            Nesting::Single,
            Block::new()
                .attribute(s("create").optional())
                .attribute(s("delete").optional())
                .attribute(s("update").optional()),
        );
    Schema::new(block)
}

/// The configured timeout `which` (create/update/delete), or its default.
pub fn timeout(state: &Value, which: &str, default: Duration) -> Duration {
    state
        .get("timeouts")
        .and_then(|t| t.get(which))
        .and_then(Value::as_str)
        .and_then(parse_go_duration)
        .unwrap_or(default)
}

/// Go's `time.ParseDuration` for the units timeouts use (`1h30m`, `40m`, `90s`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

fn err_at(attr: &str, summary: impl Into<String>) -> Diagnostic {
    Diagnostic::error(summary, String::new()).at(AttributePath::attr(attr))
}

fn known_str<'a>(cfg: &'a Value, name: &str) -> Option<&'a str> {
    cfg.get(name).and_then(Value::as_str)
}

fn is_set(cfg: &Value, name: &str) -> bool {
    cfg.get(name).is_some_and(|v| !v.is_null())
}

fn one_of(d: &mut Diagnostics, cfg: &Value, attr: &str, allowed: &[&str]) {
    if let Some(v) = known_str(cfg, attr) {
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            d.push(err_at(
                attr,
                format!("expected {attr} to be one of [{}], got {v}", list.join(" ")),
            ));
        }
    }
}

/// HashiCorp's rules for cluster and replication group identifiers.
fn check_identifier(d: &mut Diagnostics, attr: &str, v: &str, max: usize) {
    if v.is_empty() || v.len() > max {
        d.push(err_at(
            attr,
            format!("expected length of {attr} to be in the range (1 - {max}), got {v}"),
        ));
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        d.push(err_at(
            attr,
            format!(
                "invalid value for {attr} (must contain only lowercase alphanumeric characters and hyphens)"
            ),
        ));
    }
    if !v.starts_with(|c: char| c.is_ascii_lowercase()) {
        d.push(err_at(
            attr,
            format!("invalid value for {attr} (must begin with a lowercase letter)"),
        ));
    }
    if v.contains("--") {
        d.push(err_at(
            attr,
            format!("invalid value for {attr} (cannot contain two consecutive hyphens)"),
        ));
    }
    if v.ends_with('-') {
        d.push(err_at(
            attr,
            format!("invalid value for {attr} (cannot end with a hyphen)"),
        ));
    }
}

const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hh_mi(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && b[..2].iter().all(u8::is_ascii_digit)
        && s[3..].parse::<u8>().is_ok_and(|m| m < 60)
        && b[3..].iter().all(u8::is_ascii_digit)
}

/// `ddd:hh24:mi-ddd:hh24:mi` (days in any case).
pub fn valid_weekly_window(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let Some((a, b)) = lower.split_once('-') else {
        return false;
    };
    let part = |p: &str| {
        p.len() == 9 && DAYS.contains(&&p[..3]) && p.as_bytes()[3] == b':' && hh_mi(&p[4..])
    };
    part(a) && part(b)
}

/// `hh24:mi-hh24:mi`.
pub fn valid_daily_window(v: &str) -> bool {
    v.split_once('-').is_some_and(|(a, b)| hh_mi(a) && hh_mi(b))
}

fn valid_arn(v: &str) -> bool {
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && !parts[2].is_empty()
}

/// Checks of single attributes (HashiCorp's `ValidateFunc`s, `ExactlyOneOf`,
/// `ConflictsWith`, `RequiredWith`, `MaxItems`); unknown values pass.
pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(id) = known_str(cfg, "cluster_id") {
        check_identifier(&mut d, "cluster_id", id, 50);
    }
    if let Some(id) = known_str(cfg, "replication_group_id") {
        check_identifier(&mut d, "replication_group_id", id, 40);
    }
    one_of(
        &mut d,
        cfg,
        "engine",
        &[ENGINE_MEMCACHED, ENGINE_REDIS, ENGINE_VALKEY],
    );
    one_of(&mut d, cfg, "az_mode", &["single-az", "cross-az"]);
    one_of(&mut d, cfg, "ip_discovery", &["ipv4", "ipv6"]);
    one_of(&mut d, cfg, "network_type", &["ipv4", "ipv6", "dual_stack"]);
    one_of(
        &mut d,
        cfg,
        "outpost_mode",
        &["single-outpost", "cross-outpost"],
    );
    // 6.x: only "", "true" or "false" (5.x also took "1", "t", …).
    if let Some(v) = known_str(cfg, "auto_minor_version_upgrade") {
        if !["true", "false", ""].contains(&v) {
            d.push(err_at(
                "auto_minor_version_upgrade",
                format!("auto_minor_version_upgrade: cannot parse '{v}' as boolean"),
            ));
        }
    }
    if let Some(v) = known_str(cfg, "maintenance_window") {
        if !valid_weekly_window(v) {
            d.push(err_at(
                "maintenance_window",
                format!("{v:?} must satisfy the format of \"ddd:hh24:mi-ddd:hh24:mi\"."),
            ));
        }
    }
    if let Some(v) = known_str(cfg, "snapshot_window") {
        if !valid_daily_window(v) {
            d.push(err_at(
                "snapshot_window",
                format!("{v:?} must satisfy the format of \"hh24:mi-hh24:mi\"."),
            ));
        }
    }
    if let Some(v) = get_i64(cfg, "snapshot_retention_limit") {
        if v > 35 {
            d.push(err_at(
                "snapshot_retention_limit",
                format!("expected snapshot_retention_limit to be at most (35), got {v}"),
            ));
        }
    }
    if let Some(v) = known_str(cfg, "preferred_outpost_arn") {
        if !valid_arn(v) {
            d.push(err_at(
                "preferred_outpost_arn",
                format!("\"preferred_outpost_arn\" ({v}) is an invalid ARN"),
            ));
        }
    }
    if let Some(arns) = cfg.get("snapshot_arns").and_then(Value::elements) {
        if arns.len() > 1 {
            d.push(err_at(
                "snapshot_arns",
                format!(
                    "Too many snapshot_arns items: no more than 1 item is allowed, got {}",
                    arns.len()
                ),
            ));
        }
        for (i, a) in arns.iter().enumerate() {
            let Some(a) = a.as_str() else { continue };
            let path = AttributePath::attr("snapshot_arns").then_index(i as i64);
            if !valid_arn(a) {
                d.push(
                    Diagnostic::error(format!("\"snapshot_arns.{i}\" ({a}) is an invalid ARN"), "")
                        .at(path.clone()),
                );
            }
            if a.contains(',') {
                d.push(
                    Diagnostic::error(
                        format!("expected value of snapshot_arns.{i} to not contain any of \",\", got {a}"),
                        "",
                    )
                    .at(path),
                );
            }
        }
    }
    if let Some(logs) = cfg
        .get("log_delivery_configuration")
        .and_then(Value::elements)
    {
        if logs.len() > 2 {
            d.push(err_at(
                "log_delivery_configuration",
                format!("Too many log_delivery_configuration blocks: No more than 2 \"log_delivery_configuration\" blocks are allowed, got {}", logs.len()),
            ));
        }
        for l in logs {
            one_of_nested(
                &mut d,
                l,
                "destination_type",
                &["cloudwatch-logs", "kinesis-firehose"],
            );
            one_of_nested(&mut d, l, "log_format", &["text", "json"]);
            one_of_nested(&mut d, l, "log_type", &["slow-log", "engine-log"]);
        }
    }
    // ExactlyOneOf engine / replication_group_id.
    let engine = cfg.get("engine").unwrap_or(&Value::Null);
    let rg = cfg.get("replication_group_id").unwrap_or(&Value::Null);
    if engine.is_null() && rg.is_null() {
        d.push(err_at(
            "engine",
            "\"engine\": one of `engine,replication_group_id` must be specified",
        ));
    } else if !engine.is_null() && !rg.is_null() {
        d.push(err_at(
            "engine",
            "\"engine\": only one of `engine,replication_group_id` can be specified, but `engine,replication_group_id` were specified.",
        ));
    }
    if !rg.is_null() {
        for c in RG_CONFLICTS {
            if is_set(cfg, c) {
                d.push(err_at(
                    "replication_group_id",
                    format!("\"replication_group_id\": conflicts with {c}"),
                ));
            }
        }
    } else if cfg.get("node_type").is_some_and(Value::is_null) {
        d.push(err_at(
            "node_type",
            "\"node_type\": required field is not set (node_type must be specified unless replication_group_id is set)",
        ));
    }
    if is_set(cfg, "outpost_mode") && !is_set(cfg, "preferred_outpost_arn") {
        d.push(err_at(
            "outpost_mode",
            "\"outpost_mode\": all of `outpost_mode,preferred_outpost_arn` must be specified",
        ));
    }
    d
}

fn one_of_nested(d: &mut Diagnostics, obj: &Value, attr: &str, allowed: &[&str]) {
    if let Some(v) = obj.get(attr).and_then(Value::as_str) {
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            d.push(
                Diagnostic::error(
                    format!("expected {attr} to be one of [{}], got {v}", list.join(" ")),
                    "",
                )
                .at(AttributePath::attr("log_delivery_configuration")),
            );
        }
    }
}

/// HashiCorp's `CustomizeDiff` checks on the planned values (known ones only).
pub fn validate_plan(planned: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let engine = get_str(planned, "engine");
    let nodes = get_i64(planned, "num_cache_nodes");
    if get_str(planned, "az_mode").as_deref() == Some("cross-az") && nodes == Some(1) {
        d.push(err_at(
            "az_mode",
            "az_mode \"cross-az\" is not supported with num_cache_nodes = 1",
        ));
    }
    if let (Some(v), false) = (
        get_str(planned, "engine_version"),
        planned.get("engine").is_some_and(Value::is_unknown),
    ) {
        if let Err(e) = super::flex::validate_engine_version(engine.as_deref().unwrap_or(""), &v) {
            d.push(err_at("engine_version", e));
        }
    }
    if let Some(e) = engine.as_deref().filter(|e| *e != ENGINE_MEMCACHED) {
        if nodes.is_some_and(|n| n != 1) {
            d.push(err_at(
                "num_cache_nodes",
                format!("engine \"{e}\" does not support num_cache_nodes > 1"),
            ));
        }
    }
    if engine.as_deref() == Some(ENGINE_MEMCACHED)
        && get_str(planned, "final_snapshot_identifier").is_some_and(|s| !s.is_empty())
    {
        d.push(err_at(
            "final_snapshot_identifier",
            "engine \"memcached\" does not support final_snapshot_identifier",
        ));
    }
    d
}
