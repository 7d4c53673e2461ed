//! Expand configuration into API input, flatten API output into state.
//!
//! Our protocol layer keeps Terraform's strict consistency rules (no legacy
//! type system), so where HashiCorp's SDK fills a `Default` into an
//! optional attribute that is not computed (`port` 6379,
//! `automatic_failover_enabled`/`multi_az_enabled` false,
//! `snapshot_retention_limit` 0), the state keeps null while the remote
//! value is that default and the configuration left the attribute unset.

use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, DataTieringStatus, MultiAzStatus, NodeGroup,
    NodeGroupConfiguration, ReplicationGroup,
};
use tfplugin::Value;

use super::state;
use crate::client::Meta;
use crate::resources::cluster::{
    engine_versions, flatten_common, flatten_log_delivery, get_i64, get_str, int_or_null,
    parse_nullable_bool, str_or_null,
};
use crate::tags;

fn strings_value(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| Value::from(s.as_str())).collect())
}

// ---- expand ----------------------------------------------------------------

/// `node_group_configuration` blocks as the API's `NodeGroupConfiguration`.
pub fn expand_node_group_configurations(v: &Value) -> Vec<NodeGroupConfiguration> {
    v.elements()
        .unwrap_or(&[])
        .iter()
        .map(|m| {
            let list = |k: &str| {
                crate::state::strings(m.get(k))
                    .into_iter()
                    .collect::<Vec<_>>()
            };
            let nonempty = |k: &str| get_str(m, k).filter(|s| !s.is_empty());
            NodeGroupConfiguration::builder()
                .set_node_group_id(nonempty("node_group_id"))
                .set_primary_availability_zone(nonempty("primary_availability_zone"))
                .set_primary_outpost_arn(nonempty("primary_outpost_arn"))
                .set_replica_availability_zones(
                    Some(list("replica_availability_zones")).filter(|l| !l.is_empty()),
                )
                .set_replica_outpost_arns(
                    Some(list("replica_outpost_arns")).filter(|l| !l.is_empty()),
                )
                .set_replica_count(get_i64(m, "replica_count").map(|n| n as i32))
                .set_slots(nonempty("slots"))
                .build()
        })
        .collect()
}

// ---- flatten ---------------------------------------------------------------

/// One node group as a `node_group_configuration` element (HashiCorp's
/// `flattenNodeGroupConfigurations`: the first member is the primary).
pub fn flatten_node_group(ng: &NodeGroup) -> Value {
    let members = ng.node_group_members();
    let az = |m: &aws_sdk_elasticache::types::NodeGroupMember| {
        m.preferred_availability_zone().map(str::to_owned)
    };
    let outpost = |m: &aws_sdk_elasticache::types::NodeGroupMember| {
        m.preferred_outpost_arn().map(str::to_owned)
    };
    let first = members.first();
    let replicas = members.iter().skip(1);
    Value::object([
        ("node_group_id", str_or_null(ng.node_group_id())),
        (
            "primary_availability_zone",
            Value::from(first.and_then(az).unwrap_or_default()),
        ),
        (
            "primary_outpost_arn",
            Value::from(first.and_then(outpost).unwrap_or_default()),
        ),
        (
            "replica_availability_zones",
            strings_value(&replicas.clone().filter_map(az).collect::<Vec<_>>()),
        ),
        (
            "replica_count",
            if members.len() > 1 {
                Value::from((members.len() - 1) as i64)
            } else {
                Value::Null
            },
        ),
        (
            "replica_outpost_arns",
            strings_value(&replicas.filter_map(outpost).collect::<Vec<_>>()),
        ),
        ("slots", str_or_null(ng.slots())),
    ])
}

/// Every node group, for the data source.
pub fn flatten_node_groups(g: &ReplicationGroup) -> Value {
    Value::set(g.node_groups().iter().map(flatten_node_group).collect())
}

/// The configured `node_group_configuration` elements with their computed
/// attributes from the API: an element matches a node group by
/// `node_group_id`, or by position when it names none. What the
/// configuration sets is kept as configured.
fn merge_node_groups(g: &ReplicationGroup, prior: &Value) -> Value {
    let Some(cfg) = prior.elements().filter(|e| !e.is_empty()) else {
        return Value::Set(Vec::new());
    };
    let mut groups: Vec<&NodeGroup> = g.node_groups().iter().collect();
    groups.sort_by(|a, b| a.node_group_id().cmp(&b.node_group_id()));
    let mut used = vec![false; groups.len()];
    let mut out = Vec::new();
    for c in cfg {
        let id = get_str(c, "node_group_id");
        let idx = match &id {
            Some(id) => groups
                .iter()
                .position(|ng| ng.node_group_id() == Some(id.as_str())),
            None => used.iter().position(|u| !u),
        };
        let mut el = c.clone();
        if let Some(i) = idx {
            used[i] = true;
            let api = flatten_node_group(groups[i]);
            for k in [
                "primary_availability_zone",
                "primary_outpost_arn",
                "replica_availability_zones",
                "replica_outpost_arns",
            ] {
                let cur = el.get(k).cloned().unwrap_or(Value::Null);
                if cur.is_null() || !cur.is_wholly_known() {
                    el.set_attr(k, api.get(k).cloned().unwrap_or(Value::Null));
                }
            }
        }
        if let Value::Object(m) = &mut el {
            for v in m.values_mut() {
                if !v.is_wholly_known() {
                    *v = Value::Null;
                }
            }
        }
        out.push(el);
    }
    Value::Set(out)
}

/// `(port, configuration_endpoint_address, primary_endpoint_address,
/// reader_endpoint_address)` as HashiCorp reads them.
pub fn endpoints(g: &ReplicationGroup) -> (Value, Value, Value, Value) {
    if let Some(ep) = g.configuration_endpoint() {
        return (
            int_or_null(ep.port()),
            str_or_null(ep.address()),
            Value::Null,
            Value::Null,
        );
    }
    let Some(ng) = g.node_groups().first() else {
        return (Value::Null, Value::Null, Value::Null, Value::Null);
    };
    let (port, primary) = ng
        .primary_endpoint()
        .map_or((Value::Null, Value::Null), |e| {
            (int_or_null(e.port()), str_or_null(e.address()))
        });
    let reader = ng
        .reader_endpoint()
        .map_or(Value::Null, |e| str_or_null(e.address()));
    (port, Value::Null, primary, reader)
}

pub fn automatic_failover(g: &ReplicationGroup) -> Option<bool> {
    match g.automatic_failover()? {
        AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling => Some(true),
        AutomaticFailoverStatus::Disabled | AutomaticFailoverStatus::Disabling => Some(false),
        _ => None,
    }
}

pub fn multi_az(g: &ReplicationGroup) -> Option<bool> {
    match g.multi_az()? {
        MultiAzStatus::Enabled => Some(true),
        MultiAzStatus::Disabled => Some(false),
        _ => None,
    }
}

/// `replicas_per_node_group`: members of the first node group but the primary.
pub fn replicas_per_node_group(g: &ReplicationGroup) -> Value {
    g.node_groups().first().map_or(Value::Null, |ng| {
        Value::from(ng.node_group_members().len().saturating_sub(1) as i64)
    })
}

fn member_strings(g: &ReplicationGroup) -> Value {
    Value::set(
        g.member_clusters()
            .iter()
            .map(|m| Value::from(m.as_str()))
            .collect(),
    )
}

/// A bool attribute with HashiCorp's `Default: false`, not computed.
fn default_false(remote: Option<bool>, prior: Option<&Value>) -> Value {
    let prior_unset = prior.is_none_or(|v| v.is_null() || v.is_unknown());
    match remote {
        Some(false) | None if prior_unset => Value::Null,
        Some(b) => Value::from(b),
        None => prior.cloned().unwrap_or(Value::Null),
    }
}

/// The prior value when it is known and not null, else `v`.
fn keep_known(prior: &Value, name: &str, v: Value) -> Value {
    match prior.get(name) {
        Some(p) if !p.is_null() && p.is_wholly_known() => p.clone(),
        _ => v,
    }
}

/// The resource's state from the API's group and its first member cluster.
/// `prior` (state or plan) supplies what the API does not report; `import`
/// is the first read after `terraform import` (everything from the API).
pub fn flatten(
    meta: &Meta,
    g: &ReplicationGroup,
    member: Option<&CacheCluster>,
    prior: &Value,
    remote: &tags::Tags,
    import: bool,
) -> Value {
    let ty = state::schema().value_type();
    let mut st = if prior.is_null() {
        Value::null_object(&ty)
    } else {
        prior.clone()
    };
    let set = |st: &mut Value, k: &str, v: Value| st.set_attr(k, v);
    let id = g.replication_group_id().unwrap_or_default();
    set(&mut st, "id", Value::from(id));
    // ElastiCache lowers the id; keep the configured spelling.
    if !get_str(prior, "replication_group_id").is_some_and(|p| p.eq_ignore_ascii_case(id)) {
        set(&mut st, "replication_group_id", Value::from(id));
    }
    set(&mut st, "arn", str_or_null(g.arn()));
    set(&mut st, "description", str_or_null(g.description()));
    let engine = g
        .engine()
        .or_else(|| member.and_then(CacheCluster::engine))
        .unwrap_or(state::ENGINE_REDIS);
    if !get_str(prior, "engine").is_some_and(|p| p.eq_ignore_ascii_case(engine)) {
        set(&mut st, "engine", Value::from(engine));
    }
    set(&mut st, "node_type", str_or_null(g.cache_node_type()));
    set(
        &mut st,
        "num_cache_clusters",
        Value::from(g.member_clusters().len() as i64),
    );
    set(&mut st, "member_clusters", member_strings(g));
    set(
        &mut st,
        "num_node_groups",
        Value::from(g.node_groups().len() as i64),
    );
    if !g.node_groups().is_empty() {
        set(
            &mut st,
            "replicas_per_node_group",
            replicas_per_node_group(g),
        );
    }
    let prior_ngc = prior
        .get("node_group_configuration")
        .cloned()
        .unwrap_or(Value::Null);
    set(
        &mut st,
        "node_group_configuration",
        merge_node_groups(g, &prior_ngc),
    );
    set(
        &mut st,
        "cluster_enabled",
        g.cluster_enabled().map_or(Value::Null, Value::from),
    );
    set(
        &mut st,
        "cluster_mode",
        g.cluster_mode().map_or_else(
            || keep_known(prior, "cluster_mode", Value::Null),
            |m| Value::from(m.as_str()),
        ),
    );
    set(
        &mut st,
        "data_tiering_enabled",
        Value::from(g.data_tiering() == Some(&DataTieringStatus::Enabled)),
    );
    set(
        &mut st,
        "ip_discovery",
        g.ip_discovery().map_or_else(
            || keep_known(prior, "ip_discovery", Value::Null),
            |v| Value::from(v.as_str()),
        ),
    );
    set(
        &mut st,
        "network_type",
        g.network_type().map_or_else(
            || keep_known(prior, "network_type", Value::Null),
            |v| Value::from(v.as_str()),
        ),
    );
    set(
        &mut st,
        "durability",
        g.durability().map_or_else(
            || keep_known(prior, "durability", Value::Null),
            |v| Value::from(v.as_str()),
        ),
    );
    set(
        &mut st,
        "log_delivery_configuration",
        flatten_log_delivery(g.log_delivery_configurations()),
    );
    set(&mut st, "snapshot_window", str_or_null(g.snapshot_window()));
    let srl = g.snapshot_retention_limit().unwrap_or(0);
    let prior_srl = prior.get("snapshot_retention_limit");
    if srl == 0 && prior_srl.is_none_or(|v| v.is_null() || v.is_unknown()) {
        set(&mut st, "snapshot_retention_limit", Value::Null);
    } else {
        set(
            &mut st,
            "snapshot_retention_limit",
            Value::from(i64::from(srl)),
        );
    }
    let (port, config_ep, primary, reader) = endpoints(g);
    set(&mut st, "configuration_endpoint_address", config_ep);
    set(&mut st, "primary_endpoint_address", primary);
    set(&mut st, "reader_endpoint_address", reader);
    // `port` is optional and immutable: it stays as configured; an import
    // reads it (modules set `port = 6379` more often than they leave it
    // out; either way a difference of the default port is no replacement).
    if import {
        set(&mut st, "port", port);
    }
    set(
        &mut st,
        "automatic_failover_enabled",
        default_false(
            automatic_failover(g),
            prior.get("automatic_failover_enabled"),
        ),
    );
    set(
        &mut st,
        "multi_az_enabled",
        default_false(multi_az(g), prior.get("multi_az_enabled")),
    );
    let ugs = g.user_group_ids();
    let prior_ug = prior.get("user_group_ids");
    if ugs.is_empty() && prior_ug.is_none_or(|v| v.is_null() || v.is_unknown()) {
        set(&mut st, "user_group_ids", Value::Null);
    } else {
        set(
            &mut st,
            "user_group_ids",
            Value::set(ugs.iter().map(|u| Value::from(u.as_str())).collect()),
        );
    }
    set(
        &mut st,
        "global_replication_group_id",
        str_or_null(
            g.global_replication_group_info()
                .and_then(|i| i.global_replication_group_id()),
        ),
    );
    set(&mut st, "kms_key_id", str_or_null(g.kms_key_id()));
    if let Some(c) = member {
        flatten_member(&mut st, c, g, prior);
    } else {
        set(
            &mut st,
            "transit_encryption_enabled",
            g.transit_encryption_enabled()
                .map_or(Value::Null, Value::from),
        );
        set(
            &mut st,
            "at_rest_encryption_enabled",
            Value::from(g.at_rest_encryption_enabled().unwrap_or(false).to_string()),
        );
    }
    let region = keep_known(prior, "region", Value::from(meta.region.as_str()));
    set(&mut st, "region", region);
    let prior_tags = prior.get("tags").cloned().unwrap_or(Value::Null);
    let prior_tags = if prior_tags.is_unknown() {
        Value::Null
    } else {
        prior_tags
    };
    let (tags, tags_all) = tags::flatten_tags(meta, remote, &prior_tags);
    set(&mut st, "tags", tags);
    set(&mut st, "tags_all", tags_all);
    if let Value::Object(m) = &mut st {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    st
}

/// `7.1` as `7.1.0`: HashiCorp stores `engine_version_actual` as go-version
/// prints it (AWS itself reports three segments).
pub fn full_version(v: &str) -> String {
    let parts: Vec<&str> = v.split('.').collect();
    if (1..3).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u64>().is_ok()) {
        let mut p = parts.clone();
        p.resize(3, "0");
        p.join(".")
    } else {
        v.to_owned()
    }
}

/// What HashiCorp reads from the group's first member cluster
/// (`setFromCacheCluster` and the encryption settings).
fn flatten_member(st: &mut Value, c: &CacheCluster, g: &ReplicationGroup, prior: &Value) {
    let cm = flatten_common(c);
    let engine = get_str(st, "engine")
        .unwrap_or_else(|| state::ENGINE_REDIS.to_owned())
        .to_ascii_lowercase();
    let prior_ev = get_str(prior, "engine_version");
    let (ev, actual) = engine_versions(
        &engine,
        c.engine_version().unwrap_or_default(),
        prior_ev.as_deref(),
    );
    st.set_attr("engine_version", Value::from(ev));
    st.set_attr("engine_version_actual", Value::from(full_version(&actual)));
    st.set_attr(
        "subnet_group_name",
        str_or_null(c.cache_subnet_group_name()),
    );
    st.set_attr("security_group_ids", cm.security_group_ids);
    st.set_attr(
        "security_group_names",
        Value::set(
            c.cache_security_groups()
                .iter()
                .filter_map(|s| s.cache_security_group_name())
                .map(Value::from)
                .collect(),
        ),
    );
    if !cm.parameter_group_name.is_null() {
        st.set_attr("parameter_group_name", cm.parameter_group_name);
    }
    let mw = c.preferred_maintenance_window().unwrap_or_default();
    if !get_str(prior, "maintenance_window").is_some_and(|p| p.eq_ignore_ascii_case(mw)) {
        st.set_attr(
            "maintenance_window",
            str_or_null(c.preferred_maintenance_window()),
        );
    }
    st.set_attr("notification_topic_arn", cm.notification_topic_arn);
    let amvu = c
        .auto_minor_version_upgrade()
        .or(g.auto_minor_version_upgrade());
    if let Some(amvu) = amvu {
        let same = get_str(prior, "auto_minor_version_upgrade")
            .as_deref()
            .and_then(parse_nullable_bool)
            == Some(amvu);
        if !same {
            st.set_attr("auto_minor_version_upgrade", Value::from(amvu.to_string()));
        }
    }
    let at_rest = c
        .at_rest_encryption_enabled()
        .or(g.at_rest_encryption_enabled())
        .unwrap_or(false);
    let same = get_str(prior, "at_rest_encryption_enabled")
        .as_deref()
        .and_then(parse_nullable_bool)
        == Some(at_rest);
    if !same {
        st.set_attr(
            "at_rest_encryption_enabled",
            Value::from(at_rest.to_string()),
        );
    }
    st.set_attr(
        "transit_encryption_enabled",
        c.transit_encryption_enabled()
            .or(g.transit_encryption_enabled())
            .map_or(Value::Null, Value::from),
    );
    st.set_attr(
        "transit_encryption_mode",
        c.transit_encryption_mode()
            .or(g.transit_encryption_mode())
            .map_or(Value::Null, |m| Value::from(m.as_str())),
    );
    if c.auth_token_enabled() == Some(false) {
        st.set_attr("auth_token", Value::Null);
    }
}
