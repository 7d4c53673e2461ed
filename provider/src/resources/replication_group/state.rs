//! `aws_elasticache_replication_group`: HashiCorp's schema (6.69.1, version
//! 3), attribute for attribute, and the configuration checks HashiCorp runs
//! before planning (`ValidateFunc`s, `ConflictsWith`, `CustomizeDiff`).

use std::time::Duration;

use tfplugin::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Schema, Type,
    Value,
};

use crate::resources::cluster::{
    get_bool, get_i64, get_str, valid_daily_window, valid_weekly_window, validate_engine_version,
};

pub const ENGINE_REDIS: &str = "redis";
pub const ENGINE_VALKEY: &str = "valkey";
/// The port ElastiCache gives a group created without one.
pub const DEFAULT_REDIS_PORT: i64 = 6379;

/// HashiCorp's schema version (3 since 6.0.0).
pub const SCHEMA_VERSION: i64 = 3;

/// HashiCorp's default timeouts (create 60m, update 40m, delete 45m).
pub const TIMEOUT_CREATE: Duration = Duration::from_secs(60 * 60);
pub const TIMEOUT_UPDATE: Duration = Duration::from_secs(40 * 60);
pub const TIMEOUT_DELETE: Duration = Duration::from_secs(45 * 60);

/// Attributes whose change replaces the group (HashiCorp's `ForceNew`).
/// `region` (not when it only becomes known), `port` (a change other than
/// to/from the default), `engine_version` and
/// `engine` (downgrades), `transit_encryption_enabled` (engines before
/// 7.0.5) and `node_group_configuration` are decided while planning.
pub const FORCE_NEW: &[&str] = &[
    "at_rest_encryption_enabled",
    "data_tiering_enabled",
    "global_replication_group_id",
    "kms_key_id",
    "network_type",
    "replication_group_id",
    "security_group_names",
    "snapshot_arns",
    "snapshot_name",
    "subnet_group_name",
];

/// What `global_replication_group_id` conflicts with.
const GLOBAL_CONFLICTS: &[&str] = &[
    "num_node_groups",
    "parameter_group_name",
    "engine",
    "engine_version",
    "node_type",
    "security_group_names",
    "transit_encryption_enabled",
    "transit_encryption_mode",
    "at_rest_encryption_enabled",
    "snapshot_arns",
    "snapshot_name",
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
fn set_s(name: &str) -> Attribute {
    Attribute::new(name, Type::set(Type::String))
}

/// `region`: optional + computed, as 6.x gives every type.
pub fn region_attribute() -> Attribute {
    crate::region::attribute()
}

/// The element type of `node_group_configuration` (data source attribute).
pub fn node_group_configuration_type() -> Type {
    Type::object([
        ("node_group_id", Type::String),
        ("primary_availability_zone", Type::String),
        ("primary_outpost_arn", Type::String),
        ("replica_availability_zones", Type::list(Type::String)),
        ("replica_count", Type::Number),
        ("replica_outpost_arns", Type::list(Type::String)),
        ("slots", Type::String),
    ])
}

pub fn schema() -> Schema {
    let attrs = vec![
        b("apply_immediately").optional().computed(),
        s("arn").computed(),
        s("at_rest_encryption_enabled").optional().computed(),
        s("auth_token").optional().sensitive(),
        s("auth_token_update_strategy").optional(),
        s("auth_token_wo").optional().sensitive().write_only(),
        n("auth_token_wo_version").optional(),
        s("auto_minor_version_upgrade").optional().computed(),
        b("automatic_failover_enabled").optional(),
        b("cluster_enabled").computed(),
        s("cluster_mode").optional().computed(),
        s("configuration_endpoint_address").computed(),
        b("data_tiering_enabled").optional().computed(),
        s("description").required(),
        s("durability").optional().computed(),
        s("engine").optional().computed(),
        s("engine_version").optional().computed(),
        s("engine_version_actual").computed(),
        s("final_snapshot_identifier").optional(),
        s("global_replication_group_id").optional().computed(),
        s("id").optional().computed(),
        s("ip_discovery").optional().computed(),
        s("kms_key_id").optional(),
        s("maintenance_window").optional().computed(),
        set_s("member_clusters").computed(),
        b("multi_az_enabled").optional(),
        s("network_type").optional().computed(),
        s("node_type").optional().computed(),
        s("notification_topic_arn").optional(),
        n("num_cache_clusters").optional().computed(),
        n("num_node_groups").optional().computed(),
        s("parameter_group_name").optional().computed(),
        n("port").optional(),
        Attribute::new("preferred_cache_cluster_azs", Type::list(Type::String)).optional(),
        s("primary_endpoint_address").computed(),
        s("reader_endpoint_address").computed(),
        region_attribute(),
        n("replicas_per_node_group").optional().computed(),
        s("replication_group_id").required(),
        set_s("security_group_ids").optional().computed(),
        set_s("security_group_names").optional().computed(),
        set_s("snapshot_arns").optional(),
        s("snapshot_name").optional(),
        n("snapshot_retention_limit").optional(),
        s("snapshot_window").optional().computed(),
        s("subnet_group_name").optional().computed(),
        crate::tags::tags_attribute(),
        crate::tags::tags_all_attribute(),
        b("transit_encryption_enabled").optional().computed(),
        s("transit_encryption_mode").optional().computed(),
        set_s("user_group_ids").optional(),
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
    let ngc = Block::new()
        .attribute(s("node_group_id").optional())
        .attribute(s("primary_availability_zone").optional().computed())
        .attribute(s("primary_outpost_arn").optional().computed())
        .attribute(
            Attribute::new("replica_availability_zones", Type::list(Type::String))
                .optional()
                .computed(),
        )
        .attribute(n("replica_count").optional())
        .attribute(
            Attribute::new("replica_outpost_arns", Type::list(Type::String))
                .optional()
                .computed(),
        )
        .attribute(s("slots").optional());
    let block = block
        .nested(NestedBlock::new("log_delivery_configuration", Nesting::Set, log).max_items(2))
        .nested(NestedBlock::new(
            "node_group_configuration",
            Nesting::Set,
            ngc,
        ))
        .block(
            "timeouts",
            Nesting::Single,
            Block::new()
                .attribute(s("create").optional())
                .attribute(s("delete").optional())
                .attribute(s("update").optional()),
        );
    Schema::new(block).version(SCHEMA_VERSION)
}

fn err_at(attr: &str, summary: impl Into<String>) -> Diagnostic {
    Diagnostic::error(summary, String::new()).at(AttributePath::attr(attr))
}

fn known_str<'a>(cfg: &'a Value, name: &str) -> Option<&'a str> {
    cfg.get(name).and_then(Value::as_str)
}

pub fn is_set(cfg: &Value, name: &str) -> bool {
    cfg.get(name).is_some_and(|v| !v.is_null())
}

/// A configured collection with at least one element (or unknown).
fn has_elements(cfg: &Value, name: &str) -> bool {
    match cfg.get(name) {
        None | Some(Value::Null) => false,
        Some(v) => v.elements().is_none_or(|e| !e.is_empty()),
    }
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

/// HashiCorp's `validateReplicationGroupID`.
fn check_id(d: &mut Diagnostics, v: &str) {
    let attr = "replication_group_id";
    if v.is_empty() || v.len() > 40 {
        d.push(err_at(
            attr,
            format!("expected length of {attr} to be in the range (1 - 40), got {v}"),
        ));
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        d.push(err_at(
            attr,
            format!(
                "invalid value for {attr} (must contain only alphanumeric characters and hyphens)"
            ),
        ));
    }
    if !v.starts_with(|c: char| c.is_ascii_alphabetic()) {
        d.push(err_at(
            attr,
            format!("invalid value for {attr} (must begin with a letter)"),
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

fn valid_arn(v: &str) -> bool {
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && !parts[2].is_empty()
}

/// 6.x's nullable bool: `""`, `true` or `false`.
fn nullable_bool(d: &mut Diagnostics, cfg: &Value, attr: &str) {
    if let Some(v) = known_str(cfg, attr) {
        if !["", "true", "false"].contains(&v) {
            d.push(err_at(
                attr,
                format!("{attr}: cannot parse '{v}' as boolean"),
            ));
        }
    }
}

/// HashiCorp's `validReplicationGroupAuthToken`.
fn check_auth_token(d: &mut Diagnostics, v: &str) {
    if v.len() < 16 || v.len() > 128 {
        d.push(err_at(
            "auth_token",
            "\"auth_token\" must contain from 16 to 128 alphanumeric characters or symbols (excluding @, \", and /)",
        ));
    }
    if v.chars()
        .any(|c| c == '@' || c == '"' || c == '/' || !c.is_ascii_graphic())
    {
        d.push(err_at(
            "auth_token",
            "\"auth_token\" must contain only printable ASCII characters other than @, \", and /",
        ));
    }
}

/// Checks of single attributes and combinations (unknown values pass).
pub fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(id) = known_str(cfg, "replication_group_id") {
        check_id(&mut d, id);
    }
    if known_str(cfg, "description") == Some("") {
        d.push(err_at(
            "description",
            "expected \"description\" to not be an empty string",
        ));
    }
    if let Some(e) = known_str(cfg, "engine") {
        let lower = e.to_ascii_lowercase();
        if lower != ENGINE_REDIS && lower != ENGINE_VALKEY {
            d.push(err_at(
                "engine",
                format!("expected engine to be one of [\"redis\" \"valkey\"], got {e}"),
            ));
        } else if lower != e {
            d.push(
                Diagnostic::warning(
                    "Case-insensitive value deprecated",
                    format!("engine {e:?} will have to be lower case ({lower:?}) in v7.0.0"),
                )
                .at(AttributePath::attr("engine")),
            );
        }
    }
    if let Some(v) = known_str(cfg, "engine_version") {
        let redis = validate_engine_version(ENGINE_REDIS, v).is_ok();
        let valkey = validate_engine_version(ENGINE_VALKEY, v).is_ok();
        if !redis && !valkey {
            d.push(err_at(
                "engine_version",
                format!("engine_version: {v} is invalid. For Redis v6 or higher, use <major>.<minor>. For Redis v5 or lower, use <major>.<minor>.<patch>. For Valkey use <major>.<minor>."),
            ));
        }
    }
    nullable_bool(&mut d, cfg, "at_rest_encryption_enabled");
    nullable_bool(&mut d, cfg, "auto_minor_version_upgrade");
    one_of(
        &mut d,
        cfg,
        "auth_token_update_strategy",
        &["SET", "ROTATE", "DELETE"],
    );
    one_of(
        &mut d,
        cfg,
        "cluster_mode",
        &["enabled", "disabled", "compatible"],
    );
    one_of(&mut d, cfg, "ip_discovery", &["ipv4", "ipv6"]);
    one_of(&mut d, cfg, "network_type", &["ipv4", "ipv6", "dual_stack"]);
    one_of(
        &mut d,
        cfg,
        "transit_encryption_mode",
        &["preferred", "required"],
    );
    one_of(
        &mut d,
        cfg,
        "durability",
        &["default", "async", "sync", "disabled"],
    );
    if let Some(v) = known_str(cfg, "auth_token") {
        check_auth_token(&mut d, v);
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
    if let Some(v) = get_i64(cfg, "replicas_per_node_group") {
        if v < 0 {
            d.push(err_at(
                "replicas_per_node_group",
                format!("expected replicas_per_node_group to be at least (0), got {v}"),
            ));
        }
    }
    if let Some(v) = known_str(cfg, "notification_topic_arn") {
        if !valid_arn(v) {
            d.push(err_at(
                "notification_topic_arn",
                format!("\"notification_topic_arn\" ({v}) is an invalid ARN"),
            ));
        }
    }
    if let Some(arns) = cfg.get("snapshot_arns").and_then(Value::elements) {
        for a in arns.iter().filter_map(Value::as_str) {
            if !valid_arn(a) {
                d.push(err_at(
                    "snapshot_arns",
                    format!("\"snapshot_arns\" ({a}) is an invalid ARN"),
                ));
            }
            if a.contains(',') {
                d.push(err_at(
                    "snapshot_arns",
                    format!("expected value of snapshot_arns to not contain any of \",\", got {a}"),
                ));
            }
        }
    }
    if let Some(logs) = cfg
        .get("log_delivery_configuration")
        .and_then(Value::elements)
    {
        for l in logs {
            nested_one_of(
                &mut d,
                l,
                "log_delivery_configuration",
                "destination_type",
                &["cloudwatch-logs", "kinesis-firehose"],
            );
            nested_one_of(
                &mut d,
                l,
                "log_delivery_configuration",
                "log_format",
                &["text", "json"],
            );
            nested_one_of(
                &mut d,
                l,
                "log_delivery_configuration",
                "log_type",
                &["slow-log", "engine-log"],
            );
        }
    }
    if let Some(ngs) = cfg
        .get("node_group_configuration")
        .and_then(Value::elements)
    {
        for ng in ngs {
            if let Some(id) = ng.get("node_group_id").and_then(Value::as_str) {
                if id.is_empty() || id.len() > 4 || !id.chars().all(|c| c.is_ascii_digit()) {
                    d.push(err_at(
                        "node_group_configuration",
                        format!("invalid value for node_group_id ({id}): must be 1-4 digits"),
                    ));
                }
            }
            if let Some(sl) = ng.get("slots").and_then(Value::as_str) {
                if sl.is_empty()
                    || !sl
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
                {
                    d.push(err_at(
                        "node_group_configuration",
                        format!("invalid value for slots ({sl}): must contain only digits, commas, and hyphens"),
                    ));
                }
            }
            if let Some(rc) = get_i64(ng, "replica_count") {
                if rc < 0 {
                    d.push(err_at(
                        "node_group_configuration",
                        format!("expected replica_count to be at least (0), got {rc}"),
                    ));
                }
            }
        }
    }
    // ConflictsWith.
    let conflicts: &[(&str, &[&str])] = &[
        ("auth_token", &["user_group_ids"]),
        (
            "num_cache_clusters",
            &["num_node_groups", "replicas_per_node_group"],
        ),
        ("num_node_groups", &["global_replication_group_id"]),
    ];
    for (a, others) in conflicts {
        if !is_set(cfg, a) {
            continue;
        }
        for o in *others {
            if is_set(cfg, o) {
                d.push(err_at(a, format!("\"{a}\": conflicts with {o}")));
            }
        }
    }
    if is_set(cfg, "global_replication_group_id") {
        for c in GLOBAL_CONFLICTS {
            if is_set(cfg, c) {
                d.push(err_at(
                    "global_replication_group_id",
                    format!("\"global_replication_group_id\": conflicts with {c}"),
                ));
            }
        }
    }
    if has_elements(cfg, "node_group_configuration") && is_set(cfg, "preferred_cache_cluster_azs") {
        d.push(err_at(
            "node_group_configuration",
            "\"node_group_configuration\": conflicts with preferred_cache_cluster_azs",
        ));
    }
    if is_set(cfg, "auth_token_wo") && (is_set(cfg, "auth_token") || is_set(cfg, "user_group_ids"))
    {
        d.push(err_at(
            "auth_token_wo",
            "\"auth_token_wo\": only one of `auth_token,auth_token_wo,user_group_ids` can be specified",
        ));
    }
    if is_set(cfg, "auth_token_wo_version") && !is_set(cfg, "auth_token_wo") {
        d.push(err_at(
            "auth_token_wo_version",
            "\"auth_token_wo_version\": all of `auth_token_wo,auth_token_wo_version` must be specified",
        ));
    }
    // CustomizeDiff checks that read the configuration itself.
    if get_bool(cfg, "multi_az_enabled") == Some(true)
        && get_bool(cfg, "automatic_failover_enabled") != Some(true)
        && !cfg
            .get("automatic_failover_enabled")
            .is_some_and(Value::is_unknown)
    {
        d.push(err_at(
            "multi_az_enabled",
            "automatic_failover_enabled must be true if multi_az_enabled is true",
        ));
    }
    if get_bool(cfg, "automatic_failover_enabled") == Some(true) {
        if let Some(n) = get_i64(cfg, "num_cache_clusters") {
            if n < 2 {
                d.push(err_at(
                    "num_cache_clusters",
                    "\"num_cache_clusters\": must be at least 2 if automatic_failover_enabled is true",
                ));
            }
        }
    }
    let strategy = known_str(cfg, "auth_token_update_strategy");
    let given = |a: &str| is_set(cfg, a) || cfg.get(a).is_some_and(Value::is_unknown);
    // The token may be the write-only `auth_token_wo` (6.62+).
    let token = given("auth_token") || given("auth_token_wo");
    match strategy {
        Some("DELETE") if token => d.push(err_at(
            "auth_token",
            "\"auth_token\" must not be specified when \"auth_token_update_strategy\" is \"DELETE\"",
        )),
        Some("DELETE") | None => {}
        Some(_) if !token => d.push(err_at(
            "auth_token_update_strategy",
            "\"auth_token_update_strategy\": \"auth_token\" must be specified",
        )),
        Some(_) => {}
    }
    d
}

fn nested_one_of(d: &mut Diagnostics, obj: &Value, block: &str, attr: &str, allowed: &[&str]) {
    if let Some(v) = obj.get(attr).and_then(Value::as_str) {
        if !allowed.contains(&v) {
            let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            d.push(err_at(
                block,
                format!("expected {attr} to be one of [{}], got {v}", list.join(" ")),
            ));
        }
    }
}

/// The engine-version format check against the planned engine.
pub fn validate_plan(planned: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let (Some(v), false) = (
        get_str(planned, "engine_version"),
        planned.get("engine").is_some_and(Value::is_unknown),
    ) {
        let engine = get_str(planned, "engine")
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_else(|| ENGINE_REDIS.to_owned());
        if let Err(e) = validate_engine_version(&engine, &v) {
            d.push(err_at("engine_version", e));
        }
    }
    d
}
