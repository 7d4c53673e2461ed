//! Flatten: the API's `GlobalReplicationGroup` → state.

use aws_sdk_elasticache::types::GlobalReplicationGroup;
use tfplugin::{Diagnostic, Value};

use super::find::find_global;
use super::WHAT;
use crate::client::Meta;
use crate::diag;
use crate::resources::cluster::engine_versions;
use crate::resources::replication_group::full_version;
use crate::state::str_of;

/// Whether the members have automatic failover (HashiCorp reads the first).
pub(super) fn automatic_failover(g: &GlobalReplicationGroup) -> bool {
    g.members()
        .first()
        .and_then(|m| m.automatic_failover())
        .is_some_and(|a| a.as_str() == "enabled")
}

/// The number of a global node group ID's last segment (`…-0003` → 3).
pub(super) fn node_group_number(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(super) async fn read_state(
    meta: &Meta,
    id: &str,
    prior: &Value,
) -> Result<Option<Value>, Diagnostic> {
    let Some(g) = find_global(&meta.client, id)
        .await
        .map_err(|e| diag::error("reading", WHAT, id, e))?
    else {
        return Ok(None);
    };
    if matches!(g.status(), Some("deleting" | "deleted")) {
        tracing::warn!(
            "ElastiCache Global Replication Group ({id}) is {}, removing from state",
            g.status().unwrap_or_default()
        );
        return Ok(None);
    }
    let opt = |s: Option<&str>| s.map_or(Value::Null, Value::from);
    let flag = |b: Option<bool>| Value::from(b.unwrap_or(false));
    let keep = |a: &str| prior.get(a).cloned().unwrap_or(Value::Null);
    let engine = g.engine().unwrap_or("redis").to_ascii_lowercase();
    let prior_ev = str_of(prior, "engine_version");
    let (ev, actual) = engine_versions(
        &engine,
        g.engine_version().unwrap_or_default(),
        prior_ev.as_deref(),
    );
    let description = match g.global_replication_group_description() {
        Some("") | None
            if prior
                .get("global_replication_group_description")
                .is_none_or(Value::is_null) =>
        {
            Value::Null
        }
        d => opt(d),
    };
    let primary = g
        .members()
        .iter()
        .find(|m| m.role() == Some("PRIMARY"))
        .and_then(|m| m.replication_group_id());
    let node_groups: Vec<Value> = g
        .global_node_groups()
        .iter()
        .map(|n| {
            Value::object([
                ("global_node_group_id", opt(n.global_node_group_id())),
                ("slots", opt(n.slots())),
            ])
        })
        .collect();
    let count = i64::try_from(node_groups.len()).unwrap_or(0);
    Ok(Some(Value::object([
        ("arn", opt(g.arn())),
        (
            "at_rest_encryption_enabled",
            flag(g.at_rest_encryption_enabled()),
        ),
        ("auth_token_enabled", flag(g.auth_token_enabled())),
        (
            "automatic_failover_enabled",
            Value::from(automatic_failover(&g)),
        ),
        ("cache_node_type", opt(g.cache_node_type())),
        ("cluster_enabled", flag(g.cluster_enabled())),
        ("engine", Value::from(engine.as_str())),
        ("engine_version", Value::from(ev)),
        ("engine_version_actual", Value::from(full_version(&actual))),
        ("global_node_groups", Value::set(node_groups)),
        ("global_replication_group_description", description),
        ("global_replication_group_id", Value::from(id)),
        (
            "global_replication_group_id_suffix",
            match prior.get("global_replication_group_id_suffix") {
                Some(v) if !v.is_null() && v.is_wholly_known() => v.clone(),
                // Import: what follows the region prefix.
                _ => Value::from(id.split_once('-').map_or(id, |(_, s)| s)),
            },
        ),
        ("id", Value::from(id)),
        ("num_node_groups", Value::from(count)),
        ("parameter_group_name", keep("parameter_group_name")),
        ("primary_replication_group_id", opt(primary)),
        ("region", Value::from(meta.region.as_str())),
        ("timeouts", keep("timeouts")),
        (
            "transit_encryption_enabled",
            flag(g.transit_encryption_enabled()),
        ),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrease_keeps_the_lowest_numbers() {
        let mut ids = vec!["ldgnf-x-0010", "ldgnf-x-0002", "ldgnf-x-0001"];
        ids.sort_by_key(|i| node_group_number(i));
        assert_eq!(ids, ["ldgnf-x-0001", "ldgnf-x-0002", "ldgnf-x-0010"]);
    }
}
