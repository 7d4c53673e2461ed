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

use crate::dto;
use crate::model::{ControlPlane, Error, Fault, Scope, Tag};
use crate::query::{self, op, Node, Operation, WireError};

/// The request's context: who asks, where.
pub struct Ctx<'a> {
    pub cp: &'a ControlPlane,
    pub scope: Scope,
}

/// A handler: typed input in, typed output (or a domain error) out.
type Handler<O> = fn(&Ctx<'_>, <O as Operation>::Input) -> Result<<O as Operation>::Output, Error>;

/// The dispatch table: every action answered for real, each with its handler
/// (whose input and output types the compiler checks against the operation's).
macro_rules! operations {
    ($($op:ident => $handler:path,)*) => {
        /// Actions this backend answers for real.
        const SUPPORTED: &[&str] = &[$(stringify!($op)),*];

        fn route(
            ctx: &Ctx<'_>,
            action: &str,
            params: &Node,
            request_id: &str,
        ) -> Option<Result<String, WireError>> {
            Some(match action {
                $(stringify!($op) => run::<op::$op>(ctx, params, request_id, $handler),)*
                _ => return None,
            })
        }
    };
}

operations! {
    CreateCacheCluster => clusters::create,
    DescribeCacheClusters => clusters::describe,
    ModifyCacheCluster => clusters::modify,
    DeleteCacheCluster => clusters::delete,
    RebootCacheCluster => clusters::reboot,
    ListAllowedNodeTypeModifications => clusters::allowed_node_types,
    CreateReplicationGroup => replication_groups::create,
    DescribeReplicationGroups => replication_groups::describe,
    ModifyReplicationGroup => replication_groups::modify,
    DeleteReplicationGroup => replication_groups::delete,
    TestFailover => replication_groups::test_failover,
    IncreaseReplicaCount => replication_groups::increase_replicas,
    DecreaseReplicaCount => replication_groups::decrease_replicas,
    TestMigration => migration::test,
    StartMigration => migration::start,
    CompleteMigration => migration::complete,
    CreateSnapshot => snapshots::create,
    CopySnapshot => snapshots::copy,
    DeleteSnapshot => snapshots::delete,
    DescribeSnapshots => snapshots::describe,
    ModifyReplicationGroupShardConfiguration => replication_groups::modify_shards,
    CreateCacheParameterGroup => parameter_groups::create,
    DescribeCacheParameterGroups => parameter_groups::describe,
    ModifyCacheParameterGroup => parameter_groups::modify,
    ResetCacheParameterGroup => parameter_groups::reset,
    DeleteCacheParameterGroup => parameter_groups::delete,
    DescribeCacheParameters => parameter_groups::parameters,
    DescribeEngineDefaultParameters => parameter_groups::engine_defaults,
    CreateCacheSubnetGroup => subnet_groups::create,
    DescribeCacheSubnetGroups => subnet_groups::describe,
    ModifyCacheSubnetGroup => subnet_groups::modify,
    DeleteCacheSubnetGroup => subnet_groups::delete,
    AddTagsToResource => tags::add,
    RemoveTagsFromResource => tags::remove,
    ListTagsForResource => tags::list,
    DescribeEvents => events::describe,
    DescribeCacheEngineVersions => catalogs::engine_versions,
    DescribeReservedCacheNodesOfferings => catalogs::reserved_offerings,
    DescribeReservedCacheNodes => catalogs::reserved_nodes,
    PurchaseReservedCacheNodesOffering => catalogs::purchase_reserved,
    DescribeServiceUpdates => catalogs::service_updates,
    DescribeUpdateActions => catalogs::update_actions,
    BatchApplyUpdateAction => catalogs::batch_apply_update_action,
    BatchStopUpdateAction => catalogs::batch_stop_update_action,
    CreateCacheSecurityGroup => security_groups::create,
    DescribeCacheSecurityGroups => security_groups::describe,
    AuthorizeCacheSecurityGroupIngress => security_groups::authorize_ingress,
    RevokeCacheSecurityGroupIngress => security_groups::revoke_ingress,
    DeleteCacheSecurityGroup => security_groups::delete,
}

/// Actions this backend answers for real.
#[must_use]
pub fn supported_actions() -> Vec<&'static str> {
    SUPPORTED.to_vec()
}

/// Decode, handle, encode one action of the API; the XML answer.
///
/// # Errors
/// The wire error to answer: a shape error of the input, `InvalidAction` for
/// an action the model does not have or no handler answers yet, or the
/// handler's domain error.
pub fn dispatch(
    cp: &ControlPlane,
    scope: Scope,
    action: &str,
    params: &Node,
    request_id: &str,
) -> Result<String, WireError> {
    let ctx = Ctx { cp, scope };
    if let Some(answer) = route(&ctx, action, params, request_id) {
        return answer;
    }
    // Known to the model but not here yet: the input is still checked first.
    query::generated::validate(action, params)?;
    Err(to_wire(&Error::new(
        Fault::InvalidAction,
        format!("The action {action} is not available yet in elasticache-local (see docs/compatibility.md)."),
    )))
}

fn run<O: Operation>(
    ctx: &Ctx<'_>,
    params: &Node,
    request_id: &str,
    handler: Handler<O>,
) -> Result<String, WireError> {
    let input = query::de::decode::<O::Input>(params)?;
    let output = handler(ctx, input).map_err(|e| to_wire(&e))?;
    Ok(query::ser::encode::<O>(&output, request_id))
}

/// Map a domain error to the wire, in one place.
#[must_use]
pub fn to_wire(e: &Error) -> WireError {
    match e.fault {
        Fault::Internal => WireError::internal(e.message.clone()),
        f => WireError::new(f.code(), e.message.clone()),
    }
}

/// A member the handler needs non-blank (the model may require it, but an
/// empty value is still sent as `X=`).
fn not_blank(value: String, name: &str) -> Result<String, Error> {
    if value.is_empty() {
        Err(Error::invalid(format!(
            "The parameter {name} must be provided and must not be blank."
        )))
    } else {
        Ok(value)
    }
}

/// An optional member the handler needs present and non-blank.
fn required(value: Option<String>, name: &str) -> Result<String, Error> {
    not_blank(value.unwrap_or_default(), name)
}

/// `Tags` of an input, as the domain keeps them.
fn tags_in(tags: Option<Vec<dto::Tag>>) -> Vec<Tag> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect()
}

/// Tags as the API shows them.
fn tags_out(tags: &[Tag]) -> Vec<dto::Tag> {
    tags.iter()
        .map(|t| dto::Tag {
            key: Some(t.key.clone()),
            value: Some(t.value.clone()),
        })
        .collect()
}

/// An `Endpoint` as the API shows it.
fn endpoint(host: &str, port: u16) -> dto::Endpoint {
    dto::Endpoint {
        address: Some(host.to_owned()),
        port: Some(i64::from(port)),
    }
}

/// A count as the API's integers carry it.
fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `enabled` / `disabled`.
fn enabled(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

/// One page of `items` after `marker`, at most `max_records` (min..=max, default `max`).
/// Page the domain objects before flattening them: flattening every stored
/// object to answer with one page made a describe cost grow with the state.
fn page<T: Clone>(
    items: Vec<T>,
    max_records: Option<i64>,
    marker: Option<&str>,
    min: i64,
    max: i64,
) -> Result<(Vec<T>, Option<String>), Error> {
    let size = max_records.unwrap_or(max);
    if size < min || size > max {
        return Err(Error::invalid(format!(
            "MaxRecords must be between {min} and {max}."
        )));
    }
    let start = match marker.filter(|m| !m.is_empty()) {
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
            let params = crate::query::Node::parse(&params);
            let scope = crate::model::Scope::new("000000000000", "us-east-1");
            let e = super::dispatch(&cp, scope, action, &params, "r").unwrap_err();
            assert_eq!(e.code, "InvalidAction");
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
