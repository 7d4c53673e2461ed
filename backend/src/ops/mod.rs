//! API operations: decode → model call → encode, one file per API family.
//! The dispatch table below names every action this backend answers for real;
//! the other actions of the API answer an explicit error naming them.

mod catalogs;
mod clusters;
mod events;
mod migration;
mod parameter_groups;
mod replication_groups;
mod security_groups;
mod snapshots;
mod subnet_groups;
mod tags;

use serde_json::{Map, Value};

use crate::model::{ControlPlane, Error, Fault, Scope, Tag};
use crate::query::WireError;

/// The request's context: who asks, where.
pub struct Ctx<'a> {
    pub cp: &'a ControlPlane,
    pub scope: Scope,
}

type Handler = fn(&Ctx<'_>, Input) -> Result<Value, Error>;

/// Every action answered for real, by name.
const TABLE: &[(&str, Handler)] = &[
    ("CreateCacheCluster", clusters::create),
    ("DescribeCacheClusters", clusters::describe),
    ("ModifyCacheCluster", clusters::modify),
    ("DeleteCacheCluster", clusters::delete),
    ("RebootCacheCluster", clusters::reboot),
    (
        "ListAllowedNodeTypeModifications",
        clusters::allowed_node_types,
    ),
    ("CreateReplicationGroup", replication_groups::create),
    ("DescribeReplicationGroups", replication_groups::describe),
    ("ModifyReplicationGroup", replication_groups::modify),
    ("DeleteReplicationGroup", replication_groups::delete),
    ("TestFailover", replication_groups::test_failover),
    (
        "IncreaseReplicaCount",
        replication_groups::increase_replicas,
    ),
    (
        "DecreaseReplicaCount",
        replication_groups::decrease_replicas,
    ),
    ("TestMigration", migration::test),
    ("StartMigration", migration::start),
    ("CompleteMigration", migration::complete),
    ("CreateSnapshot", snapshots::create),
    ("CopySnapshot", snapshots::copy),
    ("DeleteSnapshot", snapshots::delete),
    ("DescribeSnapshots", snapshots::describe),
    (
        "ModifyReplicationGroupShardConfiguration",
        replication_groups::modify_shards,
    ),
    ("CreateCacheParameterGroup", parameter_groups::create),
    ("DescribeCacheParameterGroups", parameter_groups::describe),
    ("ModifyCacheParameterGroup", parameter_groups::modify),
    ("ResetCacheParameterGroup", parameter_groups::reset),
    ("DeleteCacheParameterGroup", parameter_groups::delete),
    ("DescribeCacheParameters", parameter_groups::parameters),
    (
        "DescribeEngineDefaultParameters",
        parameter_groups::engine_defaults,
    ),
    ("CreateCacheSubnetGroup", subnet_groups::create),
    ("DescribeCacheSubnetGroups", subnet_groups::describe),
    ("ModifyCacheSubnetGroup", subnet_groups::modify),
    ("DeleteCacheSubnetGroup", subnet_groups::delete),
    ("AddTagsToResource", tags::add),
    ("RemoveTagsFromResource", tags::remove),
    ("ListTagsForResource", tags::list),
    ("DescribeEvents", events::describe),
    ("DescribeCacheEngineVersions", catalogs::engine_versions),
    (
        "DescribeReservedCacheNodesOfferings",
        catalogs::reserved_offerings,
    ),
    ("DescribeReservedCacheNodes", catalogs::reserved_nodes),
    (
        "PurchaseReservedCacheNodesOffering",
        catalogs::purchase_reserved,
    ),
    ("DescribeServiceUpdates", catalogs::service_updates),
    ("DescribeUpdateActions", catalogs::update_actions),
    ("BatchApplyUpdateAction", catalogs::batch_update_action),
    ("BatchStopUpdateAction", catalogs::batch_update_action),
    ("CreateCacheSecurityGroup", security_groups::not_permitted),
    ("DescribeCacheSecurityGroups", security_groups::describe),
    (
        "AuthorizeCacheSecurityGroupIngress",
        security_groups::not_permitted,
    ),
    (
        "RevokeCacheSecurityGroupIngress",
        security_groups::not_permitted,
    ),
    ("DeleteCacheSecurityGroup", security_groups::not_permitted),
];

/// Actions this backend answers for real.
#[must_use]
pub fn supported_actions() -> Vec<&'static str> {
    TABLE.iter().map(|(n, _)| *n).collect()
}

/// Run one decoded action.
pub fn dispatch(
    cp: &ControlPlane,
    scope: Scope,
    action: &str,
    input: Value,
) -> Result<Value, Error> {
    let ctx = Ctx { cp, scope };
    let Some((_, handler)) = TABLE.iter().find(|(n, _)| *n == action) else {
        return Err(Error::new(
            Fault::InvalidAction,
            format!("The action {action} is not available yet in elasticache-local (see docs/compatibility.md)."),
        ));
    };
    let Value::Object(map) = input else {
        return Err(Error::internal("decoded input is not an object"));
    };
    handler(&ctx, Input(map))
}

/// Map a domain error to the wire, in one place.
#[must_use]
pub fn to_wire(e: &Error) -> WireError {
    match e.fault {
        Fault::Internal => WireError::internal(e.message.clone()),
        f => WireError::new(f.code(), e.message.clone()),
    }
}

/// A decoded input: accessors by member name (types were checked by the decoder).
pub struct Input(Map<String, Value>);

impl Input {
    fn str(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(Value::as_str).map(str::to_owned)
    }

    fn req(&self, name: &str) -> Result<String, Error> {
        self.str(name).filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::invalid(format!(
                "The parameter {name} must be provided and must not be blank."
            ))
        })
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.0.get(name).and_then(Value::as_i64)
    }

    fn bool(&self, name: &str) -> Option<bool> {
        self.0.get(name).and_then(Value::as_bool)
    }

    fn strs(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn list(&self, name: &str) -> Vec<Map<String, Value>> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect())
            .unwrap_or_default()
    }

    fn tags(&self) -> Vec<Tag> {
        self.list("Tags")
            .into_iter()
            .map(|t| Tag {
                key: t
                    .get("Key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                value: t
                    .get("Value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect()
    }

    fn time(&self, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.str(name)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
    }
}

/// An `Endpoint` as the API shows it.
fn endpoint(host: &str, port: u16) -> Value {
    serde_json::json!({ "Address": host, "Port": port })
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| serde_json::json!({"Key": t.key, "Value": t.value}))
            .collect(),
    )
}

/// One page of `items` after `Marker`, at most `MaxRecords` (min..=max, default `max`).
/// Page the domain objects before flattening them: flattening every stored
/// object to answer with one page made a describe cost grow with the state.
fn page<T: Clone>(
    input: &Input,
    items: Vec<T>,
    min: i64,
    max: i64,
) -> Result<(Vec<T>, Option<String>), Error> {
    let size = input.int("MaxRecords").unwrap_or(max);
    if size < min || size > max {
        return Err(Error::invalid(format!(
            "MaxRecords must be between {min} and {max}."
        )));
    }
    let start = match input.str("Marker").filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| Error::invalid(format!("Invalid marker: {m}")))?,
    };
    let size = usize::try_from(size).unwrap_or(100);
    let end = (start + size).min(items.len());
    let marker = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), marker))
}

#[cfg(test)]
mod tests {
    #[test]
    fn serverless_migrations_answer_not_yet() {
        let tmp = std::env::temp_dir().join(format!("ops-test-{}", std::process::id()));
        let cp = test_control_plane(&tmp);
        for action in ["PrepareMigration", "StopMigration"] {
            let params = vec![
                ("ServerlessCacheName".to_owned(), "s".to_owned()),
                (
                    "CustomerNodeEndpointList.member.1.Address".to_owned(),
                    "10.0.0.1".to_owned(),
                ),
            ];
            let input = crate::query::de::decode(&crate::query::MODEL, action, &params).unwrap();
            let scope = crate::model::Scope::new("000000000000", "us-east-1");
            let e = super::dispatch(&cp, scope, action, input).unwrap_err();
            assert_eq!(e.fault, crate::model::Fault::InvalidAction);
            assert!(e.message.contains("not available yet"), "{}", e.message);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }

    pub(crate) fn test_control_plane(dir: &std::path::Path) -> crate::model::ControlPlane {
        let runtime = std::sync::Arc::new(
            crate::engine::process::ProcessRuntime::new(dir.join("rt")).unwrap(),
        );
        crate::model::ControlPlane::load(
            std::sync::Arc::new(crate::store::MemoryStore::default()),
            runtime,
            crate::model::Settings {
                nodes_dir: dir.join("nodes"),
                advertise_host: "127.0.0.1".into(),
                snapshots_dir: dir.join("snapshots"),
                buckets_dir: dir.join("s3"),
            },
        )
        .unwrap()
    }

    #[test]
    fn compatibility_matrix_matches_the_dispatch_table() {
        let doc = include_str!("../../../docs/compatibility.md");
        for op in crate::query::MODEL.operations.keys() {
            let supported = super::supported_actions().contains(&op.as_str());
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {op} |")))
                .unwrap_or_else(|| panic!("docs/compatibility.md has no row for {op}"));
            let want = if supported { "| yes |" } else { "| not yet |" };
            assert!(
                row.contains(want),
                "docs/compatibility.md row for {op} should say {want}: {row}"
            );
        }
    }
}
