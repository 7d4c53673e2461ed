//! API operations: decode → model call → encode, one file per API family.
//! The dispatch table below names every action this backend answers for real;
//! the other actions of the API answer an explicit error naming them.

mod catalogs;
mod clusters;
mod events;
mod global_datastores;
mod migration;
mod parameter_groups;
mod replication_groups;
mod security_groups;
mod serverless;
mod snapshots;
mod subnet_groups;
mod tags;
mod users;

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
    CreateUser => users::create_user,
    ModifyUser => users::modify_user,
    DeleteUser => users::delete_user,
    DescribeUsers => users::describe_users,
    CreateUserGroup => users::create_user_group,
    ModifyUserGroup => users::modify_user_group,
    DeleteUserGroup => users::delete_user_group,
    DescribeUserGroups => users::describe_user_groups,
    CreateServerlessCache => serverless::create,
    DescribeServerlessCaches => serverless::describe,
    ModifyServerlessCache => serverless::modify,
    DeleteServerlessCache => serverless::delete,
    CreateServerlessCacheSnapshot => serverless::create_snapshot,
    CopyServerlessCacheSnapshot => serverless::copy_snapshot,
    DeleteServerlessCacheSnapshot => serverless::delete_snapshot,
    DescribeServerlessCacheSnapshots => serverless::describe_snapshots,
    ExportServerlessCacheSnapshot => serverless::export_snapshot,
    PrepareMigration => serverless::prepare_migration,
    StopMigration => serverless::stop_migration,
    CreateGlobalReplicationGroup => global_datastores::create,
    DescribeGlobalReplicationGroups => global_datastores::describe,
    ModifyGlobalReplicationGroup => global_datastores::modify,
    DeleteGlobalReplicationGroup => global_datastores::delete,
    DisassociateGlobalReplicationGroup => global_datastores::disassociate,
    FailoverGlobalReplicationGroup => global_datastores::failover,
    IncreaseNodeGroupsInGlobalReplicationGroup => global_datastores::increase_node_groups,
    DecreaseNodeGroupsInGlobalReplicationGroup => global_datastores::decrease_node_groups,
    RebalanceSlotsInGlobalReplicationGroup => global_datastores::rebalance_slots,
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
    if let Some((key, _)) = params.values().into_iter().find(|(k, v)| hidden(k, v)) {
        return Err(to_wire(&Error::invalid(format!(
            "The value of {key} is not a valid identifier."
        ))));
    }
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

/// A parameter naming one of the resources behind serverless caches (see
/// `model::serverless`), which no request may name; descriptions are free text.
fn hidden(key: &str, value: &str) -> bool {
    let prefix = crate::model::validate::INTERNAL_PREFIX;
    let v = value.to_ascii_lowercase();
    !key.ends_with("Description")
        && (v.starts_with(prefix)
            || v.contains(&format!(":{prefix}"))
            || v.contains(&format!(".{prefix}")))
}

/// Whether a record's identifier is one the API never shows.
fn shown(id: &str) -> bool {
    !crate::model::validate::is_internal(id)
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

/// Where a page starts and how long it is: `marker` (`page-N`, what an
/// earlier page answered) and `max_records` (min..=max, default `max`).
fn page_bounds(
    max_records: Option<i64>,
    marker: Option<&str>,
    min: i64,
    max: i64,
) -> Result<(usize, usize), Error> {
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
            .ok_or_else(|| Error::invalid(format!("Invalid marker: {m}")))?,
    };
    Ok((start, usize::try_from(size).unwrap_or(100)))
}

/// The marker after a page of `shown` items from `start`, of `total` (the
/// model cut the page: see [`crate::model::page_of`]); a marker past the
/// end is refused.
fn next_marker(
    start: usize,
    shown: usize,
    total: usize,
    marker: Option<&str>,
) -> Result<Option<String>, Error> {
    if start > total {
        return Err(Error::invalid(format!(
            "Invalid marker: {}",
            marker.unwrap_or_default()
        )));
    }
    let end = start + shown;
    Ok((end < total).then(|| format!("page-{end}")))
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
    let (start, size) = page_bounds(max_records, marker, min, max)?;
    if start > items.len() {
        return Err(Error::invalid(format!(
            "Invalid marker: {}",
            marker.unwrap_or_default()
        )));
    }
    let end = (start + size).min(items.len());
    let marker = (end < items.len()).then(|| format!("page-{end}"));
    Ok((items[start..end].to_vec(), marker))
}

#[cfg(test)]
mod tests {
    use crate::model::test_support::control_plane_on;
    use std::collections::BTreeMap;

    /// The handlers' sources, by module name.
    const SOURCES: &[(&str, &str)] = &[
        ("mod", include_str!("mod.rs")),
        ("catalogs", include_str!("catalogs.rs")),
        ("clusters", include_str!("clusters.rs")),
        ("events", include_str!("events.rs")),
        ("global_datastores", include_str!("global_datastores.rs")),
        ("migration", include_str!("migration.rs")),
        ("parameter_groups", include_str!("parameter_groups.rs")),
        ("replication_groups", include_str!("replication_groups.rs")),
        ("security_groups", include_str!("security_groups.rs")),
        ("serverless", include_str!("serverless.rs")),
        ("snapshots", include_str!("snapshots.rs")),
        ("subnet_groups", include_str!("subnet_groups.rs")),
        ("tags", include_str!("tags.rs")),
        ("users", include_str!("users.rs")),
    ];

    /// What a handler does with its input's members.
    #[derive(Debug)]
    enum Reads {
        /// The handler answers the same whatever the input (`_input`).
        Nothing,
        /// Per member in model order: whether the handler reads it
        /// (`member: _` in its destructuring marks it ignored).
        Members(Vec<(&'static str, bool)>),
    }

    /// The generated table of reads: per supported operation, from its
    /// handler's exhaustive destructuring of `<Op>Input` (which the compiler
    /// keeps complete: a member added to the model does not compile until the
    /// handler reads it or marks it `_`).
    fn reads() -> BTreeMap<&'static str, Reads> {
        let src = |m: &str| {
            SOURCES
                .iter()
                .find(|(n, _)| *n == m)
                .unwrap_or_else(|| panic!("no source for ops::{m}"))
                .1
        };
        let table = src("mod")
            .split("operations! {\n")
            .nth(1)
            .expect("the operations! table")
            .split("\n}")
            .next()
            .unwrap();
        let mut out = BTreeMap::new();
        for line in table.lines() {
            let (op, handler) = line
                .trim()
                .trim_end_matches(',')
                .split_once(" => ")
                .unwrap();
            let (module, func) = handler.split_once("::").unwrap();
            let (op_name, members) = crate::query::generated::INPUT_MEMBERS
                .iter()
                .find(|(n, _)| *n == op)
                .unwrap_or_else(|| panic!("{op} is not an operation of the model"));
            let text = src(module);
            let start = text
                .find(&format!("fn {func}("))
                .unwrap_or_else(|| panic!("no fn {func} in ops::{module}"));
            let body = &text[start..];
            let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
            if body.contains(&format!("_input: {op}Input")) {
                out.insert(*op_name, Reads::Nothing);
                continue;
            }
            let pattern = body
                .split(&format!("let {op}Input {{"))
                .nth(1)
                .unwrap_or_else(|| panic!("{func} in ops::{module} does not destructure {op}Input"))
                .split("} = input;")
                .next()
                .unwrap();
            let mut fields: BTreeMap<String, bool> = BTreeMap::new();
            for entry in pattern.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, ignored) = match entry.split_once(':') {
                    Some((n, b)) => (n.trim(), b.trim() == "_"),
                    None => (entry, false),
                };
                fields.insert(name.trim_start_matches("r#").to_owned(), !ignored);
            }
            let reads: Vec<(&str, bool)> = members
                .iter()
                .map(|(member, field)| {
                    let read = fields.remove(*field).unwrap_or_else(|| {
                        panic!("{func} in ops::{module}: no {field} in its {op}Input pattern")
                    });
                    (*member, read)
                })
                .collect();
            assert!(fields.is_empty(), "{op}: unknown fields {fields:?}");
            out.insert(*op_name, Reads::Members(reads));
        }
        out
    }

    /// The list "Accepted, no effect yet" of docs/compatibility.md.
    fn documented_ignored() -> BTreeMap<String, Vec<String>> {
        let doc = include_str!("../../../docs/compatibility.md");
        let section = doc
            .split("## Accepted, no effect yet\n")
            .nth(1)
            .expect("docs/compatibility.md has a section \"Accepted, no effect yet\"");
        section
            .lines()
            .skip_while(|l| !l.starts_with("| action |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let members = cells[2]
                    .split(", ")
                    .map(|m| m.trim_matches('`').to_owned())
                    .collect();
                (cells[1].to_owned(), members)
            })
            .collect()
    }

    #[test]
    fn ignored_input_members_are_listed_in_compatibility_md() {
        let mut ignored: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (op, reads) in reads() {
            match reads {
                Reads::Nothing => refused.push(op),
                Reads::Members(m) => {
                    let unread: Vec<String> = m
                        .into_iter()
                        .filter(|(_, read)| !read)
                        .map(|(n, _)| n.to_owned())
                        .collect();
                    if !unread.is_empty() {
                        ignored.insert(op.to_owned(), unread);
                    }
                }
            }
        }
        let count: usize = ignored.values().map(Vec::len).sum();
        println!("Input members no handler reads ({count}):");
        for (op, members) in &ignored {
            println!(
                "| {op} | {} |",
                members
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        println!(
            "Answered the same whatever the input: {}",
            refused.join(", ")
        );
        assert_eq!(
            documented_ignored(),
            ignored,
            "the members no handler reads changed: update \"Accepted, no effect yet\" in \
             docs/compatibility.md (the lines printed above)"
        );
        let doc = include_str!("../../../docs/compatibility.md");
        assert!(
            doc.contains(&format!("{count} input members")),
            "docs/compatibility.md should give the count: {count} input members"
        );
    }

    /// The resources behind a serverless cache are never shown, and no
    /// request may name them.
    #[test]
    fn serverless_backing_is_hidden() {
        let tmp = std::env::temp_dir().join(format!("ops-test-{}", std::process::id()));
        let cp = test_control_plane(&tmp);
        let call = |action: &str, params: &[(&str, &str)]| {
            let params: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let params = crate::query::Node::parse(&params);
            let scope = crate::model::Scope::new("000000000000", "us-east-1");
            super::dispatch(&cp, scope, action, &params, "r")
        };
        call(
            "CreateServerlessCache",
            &[("ServerlessCacheName", "sc"), ("Engine", "redis")],
        )
        .unwrap();
        let groups = call("DescribeReplicationGroups", &[]).unwrap();
        assert!(!groups.contains("sls--"), "{groups}");
        let clusters = call("DescribeCacheClusters", &[]).unwrap();
        assert!(!clusters.contains("sls--"), "{clusters}");
        for (action, key, value) in [
            ("DescribeReplicationGroups", "ReplicationGroupId", "sls--sc"),
            ("DeleteCacheCluster", "CacheClusterId", "SLS--sc-001"),
            (
                "ListTagsForResource",
                "ResourceName",
                "arn:aws:elasticache:us-east-1:000000000000:replicationgroup:sls--sc",
            ),
        ] {
            let e = call(action, &[(key, value)]).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{action}");
        }
        let caches = call("DescribeServerlessCaches", &[]).unwrap();
        assert!(caches.contains("<ServerlessCacheName>sc</ServerlessCacheName>"));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    /// A store that fails every write once its budget of writes is spent.
    struct FlakyStore {
        inner: crate::store::MemoryStore,
        writes_left: std::sync::atomic::AtomicI32,
    }

    impl FlakyStore {
        fn spend(&self) -> anyhow::Result<()> {
            let left = self
                .writes_left
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            anyhow::ensure!(left > 0, "disk full");
            Ok(())
        }
    }

    impl crate::store::Store for FlakyStore {
        fn load_all(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
            self.inner.load_all()
        }
        fn range(
            &self,
            from: &str,
            to: &str,
            limit: usize,
        ) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
            self.inner.range(from, to, limit)
        }
        fn put(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
            self.spend()?;
            self.inner.put(key, value)
        }
        fn delete(&self, key: &str) -> anyhow::Result<()> {
            self.spend()?;
            self.inner.delete(key)
        }
        fn write(&self, batch: &[(String, Option<Vec<u8>>)]) -> anyhow::Result<()> {
            self.spend()?;
            self.inner.write(batch)
        }
    }

    /// Issue 17: a change is stored before anyone (the reconciler, which
    /// starts engines) sees it, and a group with its members in one
    /// transaction. A create or delete whose write fails is not there, in
    /// memory or in the store; a crash never keeps half of a group.
    /// Issue 17 (drill 5): a write the data directory refuses answers
    /// `ServiceUnavailable` naming the cause, and the create changed nothing,
    /// in memory either (the drill found a parameter group that "already
    /// existed" after its create was refused, and was gone after a restart).
    #[test]
    fn a_refused_write_changes_nothing_and_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FlakyStore {
            inner: crate::store::MemoryStore::default(),
            writes_left: 0.into(),
        });
        let cp = control_plane_on(tmp.path(), store.clone());
        let scope = crate::model::Scope::new("000000000000", "us-east-1");
        let call = |action: &str, params: &[(&str, &str)]| {
            let params: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let params = crate::query::Node::parse(&params);
            super::dispatch(&cp, scope.clone(), action, &params, "r")
        };
        let creates: [(&str, &[(&str, &str)]); 4] = [
            (
                "CreateCacheParameterGroup",
                &[
                    ("CacheParameterGroupName", "pg"),
                    ("CacheParameterGroupFamily", "redis7"),
                    ("Description", "d"),
                ],
            ),
            (
                "CreateCacheSubnetGroup",
                &[
                    ("CacheSubnetGroupName", "sg"),
                    ("CacheSubnetGroupDescription", "d"),
                    ("SubnetIds.SubnetIdentifier.1", "subnet-0123abcd"),
                ],
            ),
            (
                "CreateUser",
                &[
                    ("UserId", "u1"),
                    ("UserName", "default"),
                    ("Engine", "redis"),
                    ("AccessString", "on ~* +@all"),
                    ("NoPasswordRequired", "true"),
                ],
            ),
            (
                "CreateUserGroup",
                &[
                    ("UserGroupId", "ug"),
                    ("Engine", "redis"),
                    ("UserIds.member.1", "u1"),
                ],
            ),
        ];
        for (action, params) in creates {
            let e = call(action, params).unwrap_err();
            assert_eq!(e.code, "ServiceUnavailable", "{action}");
            assert_eq!(e.status(), 503, "{action}");
            assert!(e.message.contains("disk full"), "{action}: {}", e.message);
            // Nothing changed: the same create succeeds once the store writes.
            store
                .writes_left
                .store(100, std::sync::atomic::Ordering::SeqCst);
            call(action, params).unwrap_or_else(|e| panic!("{action} again: {e:?}"));
            store
                .writes_left
                .store(0, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A control plane on a `FlakyStore` (writes allowed as `writes_left`
    /// says) and a Query call on it, in us-east-1 of the test account.
    fn flaky_call(
        cp: &crate::model::ControlPlane,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String, super::WireError> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let params = crate::query::Node::parse(&params);
        let scope = crate::model::Scope::new("000000000000", "us-east-1");
        super::dispatch(cp, scope, action, &params, "r")
    }

    /// Issue 17 (drill 5's leftovers): a modify or a tag change the store
    /// refuses answers 503 and changes nothing, in memory either (it used to
    /// show until a restart); once the store writes, the same request
    /// changes what a describe shows, and a restart finds it.
    #[test]
    #[allow(clippy::too_many_lines)]
    fn a_refused_modify_or_tag_change_changes_nothing() {
        use std::sync::atomic::Ordering::SeqCst;
        let tmp = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FlakyStore {
            inner: crate::store::MemoryStore::default(),
            writes_left: 1000.into(),
        });
        let cp = control_plane_on(tmp.path(), store.clone());
        let scope = crate::model::Scope::new("000000000000", "us-east-1");
        let ok = |cp: &crate::model::ControlPlane, action: &str, params: &[(&str, &str)]| {
            flaky_call(cp, action, params).unwrap_or_else(|e| panic!("{action}: {e:?}"))
        };
        // One of each family.
        ok(
            &cp,
            "CreateCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "pg"),
                ("CacheParameterGroupFamily", "redis7"),
                ("Description", "d"),
            ],
        );
        ok(
            &cp,
            "CreateCacheSubnetGroup",
            &[
                ("CacheSubnetGroupName", "sg"),
                ("CacheSubnetGroupDescription", "d"),
                ("SubnetIds.SubnetIdentifier.1", "subnet-0123abcd"),
            ],
        );
        for (id, name) in [("u1", "default"), ("u2", "app")] {
            ok(
                &cp,
                "CreateUser",
                &[
                    ("UserId", id),
                    ("UserName", name),
                    ("Engine", "redis"),
                    ("AccessString", "on ~* +@all"),
                    ("NoPasswordRequired", "true"),
                ],
            );
            cp.settle_user(&scope, id, cp.find_user(&scope, id).unwrap().generation)
                .unwrap();
        }
        ok(
            &cp,
            "CreateUserGroup",
            &[
                ("UserGroupId", "ug"),
                ("Engine", "redis"),
                ("UserIds.member.1", "u1"),
            ],
        );
        let ug = cp.find_user_group(&scope, "ug").unwrap();
        cp.settle_user_group(&scope, "ug", ug.generation).unwrap();
        ok(
            &cp,
            "CreateServerlessCache",
            &[("ServerlessCacheName", "sc"), ("Engine", "redis")],
        );
        cp.update_serverless_cache(&scope, "sc", |c| {
            c.status = crate::model::lifecycle::AVAILABLE.to_owned();
            Ok(())
        })
        .unwrap();
        // A global datastore on a group the engines would have made available.
        ok(
            &cp,
            "CreateReplicationGroup",
            &[
                ("ReplicationGroupId", "rg"),
                ("ReplicationGroupDescription", "d"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.r5.large"),
                ("NumCacheClusters", "1"),
            ],
        );
        let available = |cp: &crate::model::ControlPlane| {
            cp.update_replication_group(&scope, "rg", |g| {
                g.status = crate::model::lifecycle::AVAILABLE.to_owned();
                Ok(())
            })
            .unwrap();
            cp.update_cluster(&scope, "rg-001", |c| {
                c.status = crate::model::lifecycle::AVAILABLE.to_owned();
                Ok(())
            })
            .unwrap();
        };
        available(&cp);
        ok(
            &cp,
            "CreateGlobalReplicationGroup",
            &[
                ("GlobalReplicationGroupIdSuffix", "gd"),
                ("PrimaryReplicationGroupId", "rg"),
            ],
        );
        available(&cp);
        cp.settle_global_datastores();
        let arn = |kind: &str, id: &str| {
            format!("arn:aws:elasticache:us-east-1:000000000000:{kind}:{id}")
        };
        let gd_arn = "arn:aws:elasticache::000000000000:globalreplicationgroup:ldgnf-gd".to_owned();
        // (family, the change, its parameters, the describe that shows it, the tagged ARN)
        type Case<'a> = (&'a str, &'a str, Params<'a>, Params<'a>, String);
        type Params<'a> = Vec<(&'a str, &'a str)>;
        let cases: Vec<Case> = vec![
            (
                "parameter group",
                "ModifyCacheParameterGroup",
                vec![
                    ("CacheParameterGroupName", "pg"),
                    (
                        "ParameterNameValues.ParameterNameValue.1.ParameterName",
                        "maxmemory-policy",
                    ),
                    (
                        "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                        "allkeys-lru",
                    ),
                ],
                vec![("CacheParameterGroupName", "pg"), ("Source", "user")],
                arn("parametergroup", "pg"),
            ),
            (
                "subnet group",
                "ModifyCacheSubnetGroup",
                vec![
                    ("CacheSubnetGroupName", "sg"),
                    ("CacheSubnetGroupDescription", "changed"),
                ],
                vec![("CacheSubnetGroupName", "sg")],
                arn("subnetgroup", "sg"),
            ),
            (
                "user",
                "ModifyUser",
                vec![("UserId", "u2"), ("AccessString", "on ~app:* +@read")],
                vec![("UserId", "u2")],
                arn("user", "u2"),
            ),
            (
                "user group",
                "ModifyUserGroup",
                vec![("UserGroupId", "ug"), ("UserIdsToAdd.member.1", "u2")],
                vec![("UserGroupId", "ug")],
                arn("usergroup", "ug"),
            ),
            (
                "serverless cache",
                "ModifyServerlessCache",
                vec![("ServerlessCacheName", "sc"), ("Description", "changed")],
                vec![("ServerlessCacheName", "sc")],
                arn("serverlesscache", "sc"),
            ),
            (
                "global datastore",
                "ModifyGlobalReplicationGroup",
                vec![
                    ("GlobalReplicationGroupId", "ldgnf-gd"),
                    ("ApplyImmediately", "true"),
                    ("GlobalReplicationGroupDescription", "changed"),
                ],
                vec![("GlobalReplicationGroupId", "ldgnf-gd")],
                gd_arn,
            ),
        ];
        let describe_of = |modify: &str| match modify {
            "ModifyCacheParameterGroup" => "DescribeCacheParameters",
            "ModifyCacheSubnetGroup" => "DescribeCacheSubnetGroups",
            "ModifyUser" => "DescribeUsers",
            "ModifyUserGroup" => "DescribeUserGroups",
            "ModifyServerlessCache" => "DescribeServerlessCaches",
            _ => "DescribeGlobalReplicationGroups",
        };
        let tag = [("Tags.Tag.1.Key", "drill"), ("Tags.Tag.1.Value", "5")];
        for (family, modify, params, describe, resource) in &cases {
            let describe_action = describe_of(modify);
            let before = ok(&cp, describe_action, describe);
            let tags_before = ok(&cp, "ListTagsForResource", &[("ResourceName", resource)]);
            store.writes_left.store(0, SeqCst);
            // The modify: refused, with the cause; nothing changed.
            let e = flaky_call(&cp, modify, params).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.status()),
                ("ServiceUnavailable", 503),
                "{family}"
            );
            assert!(e.message.contains("disk full"), "{family}: {}", e.message);
            assert_eq!(
                ok(&cp, describe_action, describe),
                before,
                "{family}: a refused modify shows"
            );
            // The tag change: the same.
            let mut add = vec![("ResourceName", resource.as_str())];
            add.extend(tag);
            let e = flaky_call(&cp, "AddTagsToResource", &add).unwrap_err();
            assert_eq!(
                (e.code.as_str(), e.status()),
                ("ServiceUnavailable", 503),
                "{family} tags"
            );
            // A read writes nothing: it answers on a full disk too.
            let tags = ok(&cp, "ListTagsForResource", &[("ResourceName", resource)]);
            assert_eq!(tags, tags_before, "{family}: a refused tag change shows");
            assert!(!tags.contains("<Key>drill</Key>"), "{family}: {tags}");
            // Once the store writes, the same requests change what shows.
            store.writes_left.store(1000, SeqCst);
            ok(&cp, modify, params);
            let after = ok(&cp, describe_action, describe);
            assert_ne!(after, before, "{family}: the modify changed nothing");
            let tags = ok(&cp, "AddTagsToResource", &add);
            assert!(tags.contains("<Key>drill</Key>"), "{family}: {tags}");
            // Removing it: refused changes nothing either.
            store.writes_left.store(0, SeqCst);
            let remove = [
                ("ResourceName", resource.as_str()),
                ("TagKeys.member.1", "drill"),
            ];
            let e = flaky_call(&cp, "RemoveTagsFromResource", &remove).unwrap_err();
            assert_eq!(e.code, "ServiceUnavailable", "{family} untag");
            let tags = ok(&cp, "ListTagsForResource", &[("ResourceName", resource)]);
            assert!(
                tags.contains("<Key>drill</Key>"),
                "{family}: a refused untag shows"
            );
            store.writes_left.store(1000, SeqCst);
            // After a restart the store holds what was acknowledged.
            let again = control_plane_on(tmp.path(), store.clone());
            assert_eq!(
                ok(&again, describe_action, describe),
                after,
                "{family} after a restart"
            );
            let tags = ok(&again, "ListTagsForResource", &[("ResourceName", resource)]);
            assert!(
                tags.contains("<Key>drill</Key>"),
                "{family} after a restart: {tags}"
            );
        }
    }

    #[test]
    fn changes_are_durable_before_they_are_visible() {
        let tmp = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FlakyStore {
            inner: crate::store::MemoryStore::default(),
            writes_left: 0.into(),
        });
        let cp = control_plane_on(tmp.path(), store.clone());
        let call = |cp: &crate::model::ControlPlane, action: &str, params: &[(&str, &str)]| {
            let params: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let params = crate::query::Node::parse(&params);
            let scope = crate::model::Scope::new("000000000000", "us-east-1");
            super::dispatch(cp, scope, action, &params, "r")
        };
        let scope = crate::model::Scope::new("000000000000", "us-east-1");
        // The store refuses every write: nothing is created, nothing shows.
        let create = [
            ("CacheClusterId", "c1"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
        ];
        assert!(call(&cp, "CreateCacheCluster", &create).is_err());
        assert!(
            cp.find_cluster(&scope, "c1").is_err(),
            "visible, not stored"
        );
        let group = [
            ("ReplicationGroupId", "g1"),
            ("ReplicationGroupDescription", "d"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
            ("NumCacheClusters", "2"),
        ];
        assert!(call(&cp, "CreateReplicationGroup", &group).is_err());
        assert!(cp.find_replication_group(&scope, "g1").is_err());
        assert!(cp.find_cluster(&scope, "g1-001").is_err());
        // One write for a group and its members: it is all there.
        store
            .writes_left
            .store(1, std::sync::atomic::Ordering::SeqCst);
        call(&cp, "CreateReplicationGroup", &group).unwrap();
        let again = control_plane_on(tmp.path(), store.clone());
        assert!(again.find_replication_group(&scope, "g1").is_ok());
        assert!(again.find_cluster(&scope, "g1-001").is_ok());
        assert!(again.find_cluster(&scope, "g1-002").is_ok());
        // A delete whose write fails leaves the group as it was, in memory too.
        store
            .writes_left
            .store(0, std::sync::atomic::Ordering::SeqCst);
        assert!(call(
            &again,
            "DeleteReplicationGroup",
            &[("ReplicationGroupId", "g1")]
        )
        .is_err());
        assert_ne!(
            again.find_replication_group(&scope, "g1").unwrap().status,
            crate::model::lifecycle::DELETING
        );
        for m in ["g1-001", "g1-002"] {
            assert_ne!(
                again.find_cluster(&scope, m).unwrap().status,
                crate::model::lifecycle::DELETING,
                "{m}"
            );
        }
        // And one write marks the group and its members deleted together.
        store
            .writes_left
            .store(1, std::sync::atomic::Ordering::SeqCst);
        call(
            &again,
            "DeleteReplicationGroup",
            &[("ReplicationGroupId", "g1")],
        )
        .unwrap();
        let third = control_plane_on(tmp.path(), store);
        assert_eq!(
            third.find_replication_group(&scope, "g1").unwrap().status,
            crate::model::lifecycle::DELETING
        );
        for m in ["g1-001", "g1-002"] {
            assert_eq!(
                third.find_cluster(&scope, m).unwrap().status,
                crate::model::lifecycle::DELETING,
                "{m}"
            );
        }
    }

    /// Issue 15: creates store their records outside the state lock (so that
    /// concurrent ones share a commit), their ids taken meanwhile. Of
    /// concurrent creates of one id exactly one succeeds; every create that
    /// answered is in the database (a restart finds it), and none other is.
    #[test]
    fn concurrent_creates_share_commits_and_keep_ids_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let open = || {
            let store = std::sync::Arc::new(crate::store::RedbStore::open(tmp.path()).unwrap());
            let runtime = std::sync::Arc::new(
                crate::engine::process::ProcessRuntime::new(tmp.path().join("rt")).unwrap(),
            );
            crate::model::ControlPlane::load(
                store,
                runtime,
                crate::model::Settings {
                    nodes_dir: tmp.path().join("nodes"),
                    advertise_host: "127.0.0.1".into(),
                    snapshots_dir: tmp.path().join("snapshots"),
                    buckets_dir: tmp.path().join("s3"),
                    keys_dir: tmp.path().join("kms"),
                },
            )
            .unwrap()
        };
        let cp = std::sync::Arc::new(open());
        let scope = crate::model::Scope::new("000000000000", "us-east-1");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let cp = cp.clone();
                std::thread::spawn(move || {
                    let mut answers = Vec::new();
                    for id in [
                        format!("own-{t}-a"),
                        "same".to_owned(),
                        format!("own-{t}-b"),
                    ] {
                        let params: Vec<(String, String)> = [
                            ("CacheClusterId", id.as_str()),
                            ("Engine", "memcached"),
                            ("CacheNodeType", "cache.t3.micro"),
                        ]
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                        let params = crate::query::Node::parse(&params);
                        let scope = crate::model::Scope::new("000000000000", "us-east-1");
                        let r = super::dispatch(&cp, scope, "CreateCacheCluster", &params, "r");
                        answers.push((id, r.map_err(|e| e.code)));
                    }
                    answers
                })
            })
            .collect();
        let answers: Vec<(String, Result<String, String>)> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let same: Vec<_> = answers.iter().filter(|(id, _)| id == "same").collect();
        assert_eq!(same.iter().filter(|(_, r)| r.is_ok()).count(), 1);
        for (_, r) in same.iter().filter(|(_, r)| r.is_err()) {
            assert_eq!(r.as_ref().unwrap_err(), "CacheClusterAlreadyExists");
        }
        for (id, r) in answers.iter().filter(|(id, _)| id != "same") {
            assert!(r.is_ok(), "{id}: {r:?}");
        }
        let listed = cp.list_clusters(&scope).len();
        assert_eq!(listed, 8 * 2 + 1);
        drop(cp);
        let again = open();
        let mut ids: Vec<String> = again
            .list_clusters(&scope)
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        let mut want: Vec<String> = answers
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(id, _)| id.clone())
            .collect();
        want.sort();
        assert_eq!(ids, want);
    }

    fn test_control_plane(dir: &std::path::Path) -> crate::model::ControlPlane {
        control_plane_on(
            dir,
            std::sync::Arc::new(crate::store::MemoryStore::default()),
        )
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
