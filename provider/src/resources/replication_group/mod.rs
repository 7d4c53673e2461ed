//! `aws_elasticache_replication_group`, as HashiCorp's provider 6.69.1 has
//! it (5.100.0 configurations plan and apply unchanged).
//!
//! * `state.rs` — schema (version 3), `FORCE_NEW`, timeouts, configuration checks;
//! * `find.rs` — finders, status, waiters;
//! * `flex.rs` — expand/flatten.
//!
//! Arguments the endpoint does not support (a local backend without TLS,
//! AUTH, global datastores…) are sent as given; its error is the diagnostic.

mod find;
mod flex;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, ClusterMode, Durability, IpDiscovery, NetworkType,
    TransitEncryptionMode,
};
use aws_sdk_elasticache::Client;
use tfplugin::{
    async_trait, provider::mark_computed_unknown, ApplyRequest, ApplyResponse, AttributePath,
    Diagnostic, Diagnostics, Imported, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
    Schema, UpgradeRequest, Value,
};

use crate::client::{Meta, SharedConn};
use crate::resources::cluster::{
    expand_empty_log_delivery, expand_log_delivery, get_bool, get_i64, get_ok_str, get_str,
    get_strs, is_downgrade, parse_nullable_bool, sdk_cause as cause, timeout,
};
use crate::{diag, tags};
pub(crate) use find::{find_member_cluster, find_replication_group_by_id, FindError};
pub(crate) use flex::{
    automatic_failover, endpoints, flatten_node_groups, full_version, multi_az,
    replicas_per_node_group,
};
pub(crate) use state::{node_group_configuration_type, region_attribute};

const WHAT: &str = "Replication Group";
/// Private data of an imported instance until its first read.
const IMPORTED: &[u8] = b"imported";

pub struct ReplicationGroupResource {
    conn: SharedConn,
}

impl ReplicationGroupResource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(ReplicationGroupResource { conn: conn.clone() })
    }
}

/// A change the plan asks for: the planned value is known and differs.
fn changed(prior: &Value, planned: &Value, name: &str) -> bool {
    let p = prior.get(name).unwrap_or(&Value::Null);
    let n = planned.get(name).unwrap_or(&Value::Null);
    n.is_wholly_known() && !p.same_as(n)
}

/// The group's id in state (`id`, else `replication_group_id`), lower case.
fn state_id(st: &Value) -> String {
    get_ok_str(st, "id")
        .or_else(|| get_str(st, "replication_group_id"))
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn client_for(meta: &Meta, st: &Value) -> Client {
    meta.client_in(get_ok_str(st, "region").as_deref())
}

#[async_trait]
impl tfplugin::Resource for ReplicationGroupResource {
    fn type_name(&self) -> String {
        "aws_elasticache_replication_group".into()
    }

    fn schema(&self) -> Schema {
        state::schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        state::validate(config)
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let mut resp = PlanResponse {
            planned_state: req.proposed_new_state.clone(),
            planned_private: req.prior_private.clone(),
            ..Default::default()
        };
        if req.proposed_new_state.is_null() {
            return resp;
        }
        plan(self.conn.get().ok(), &req, &mut resp);
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ApplyResponse::error(req.prior_state, d),
        };
        if req.is_delete() {
            return match delete(meta, &req.prior_state).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        if req.is_create() {
            return create(meta, &req.planned_state, &req.config).await;
        }
        update(meta, &req.prior_state, &req.planned_state, &req.config).await
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let id = state_id(&req.current_state);
        let import = req.private == IMPORTED;
        match read_state(meta, &id, &req.current_state, import).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: if import { Vec::new() } else { req.private },
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!(
                    "ElastiCache Replication Group ({id}) not found, removing from state"
                );
                ReadResponse::default()
            }
            Err(d) => ReadResponse {
                new_state: Value::Null,
                private: req.private,
                diagnostics: d.into(),
            },
        }
    }

    /// `terraform import`: the group id, or `id@region` (6.x).
    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let mut st = Value::null_object(&state::schema().value_type());
        let (id, region) = match id.rsplit_once('@') {
            Some((i, r)) if !r.is_empty() => (i, Some(r)),
            _ => (id, None),
        };
        st.set_attr("id", Value::from(id));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        let mut imp = Imported::new(st);
        imp.private = IMPORTED.to_vec();
        Ok(vec![imp])
    }

    /// States of versions 0–2 (HashiCorp's 5.x, written by its SDK):
    /// see [`upgrade_v2_state`].
    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        let schema = state::schema();
        let st = req.raw.decode(&schema.value_type())?;
        if req.version >= schema.version || st.is_null() {
            return Ok(st);
        }
        let mut st = upgrade_v2_state(&schema, req.version, st);
        // 6.x's `region`: the provider's (HashiCorp's upgrade sets it too).
        if let (Ok(meta), true) = (self.conn.get(), st.get("region").is_none_or(Value::is_null)) {
            st.set_attr("region", Value::from(meta.region.as_str()));
        }
        Ok(st)
    }
}

/// A 5.x state as ours: new attributes start null; HashiCorp's SDK stores
/// zero values (`""`, `0`, `false`, empty collections) for optional
/// arguments left unset, which our strict protocol keeps null; the
/// `auth_token_update_strategy` default 5.x stored without `auth_token`
/// is dropped (HashiCorp's V1→V2→V3 upgraders).
fn upgrade_v2_state(schema: &Schema, version: i64, mut st: Value) -> Value {
    for a in &schema.block.attributes {
        if !a.optional || a.computed {
            continue;
        }
        let zero = match st.get(&a.name) {
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::List(l) | Value::Set(l)) => l.is_empty(),
            Some(Value::Map(m)) => m.is_empty(),
            Some(Value::Bool(false)) => {
                ["automatic_failover_enabled", "multi_az_enabled"].contains(&a.name.as_str())
            }
            Some(Value::Number(n)) => a.name == "snapshot_retention_limit" && n.as_i64() == Some(0),
            _ => false,
        };
        if zero {
            st.set_attr(&a.name, Value::Null);
        }
    }
    if st.get("auth_token").is_none_or(Value::is_null) {
        st.set_attr("auth_token_update_strategy", Value::Null);
    } else if version < 2
        && st
            .get("auth_token_update_strategy")
            .is_none_or(Value::is_null)
    {
        st.set_attr("auth_token_update_strategy", Value::from("ROTATE"));
    }
    for b in ["log_delivery_configuration", "node_group_configuration"] {
        if st.get(b).is_none_or(Value::is_null) {
            st.set_attr(b, Value::Set(Vec::new()));
        }
    }
    st
}

fn replace(resp: &mut PlanResponse, attr: &str) {
    resp.requires_replace.push(AttributePath::attr(attr));
}

/// HashiCorp's `CustomizeDiff`, in our protocol's terms.
fn plan(meta: Option<&Meta>, req: &PlanRequest, resp: &mut PlanResponse) {
    let schema = state::schema();
    let prior = &req.prior_state;
    let config = &req.config;
    let create = prior.is_null();
    let planned = &mut resp.planned_state;
    if create {
        mark_computed_unknown(&schema.block, planned, config);
    }
    if config.get("tags_all").is_none_or(Value::is_null) {
        match meta {
            Some(meta) => tags::set_planned_tags_all(meta, config, planned),
            None => planned.set_attr("tags_all", Value::unknown()),
        }
    }
    // `region` defaults to the provider's; a change forces replacement.
    let region_replaced = crate::region::plan(meta, prior, config, planned);
    resp.diagnostics.extend(state::validate_plan(planned));
    if create {
        return;
    }
    let ch = |p: &Value, n: &str| {
        let a = prior.get(n).unwrap_or(&Value::Null);
        let b = p.get(n).unwrap_or(&Value::Null);
        !a.same_as(b)
    };
    if region_replaced {
        replace(resp, "region");
    }
    let planned = &mut resp.planned_state;
    // HashiCorp suppresses the default port when it is not configured.
    if ch(planned, "port") {
        let p = get_i64(prior, "port");
        let n = get_i64(planned, "port");
        let default = Some(state::DEFAULT_REDIS_PORT);
        if !((p.is_none() && n == default) || (p == default && n.is_none())) {
            resp.requires_replace.push(AttributePath::attr("port"));
        }
    }
    let planned = &mut resp.planned_state;
    if ch(planned, "engine_version") {
        if let (Some(o), Some(n)) = (
            get_str(prior, "engine_version"),
            get_str(planned, "engine_version"),
        ) {
            let actual = get_str(prior, "engine_version_actual").unwrap_or_default();
            match is_downgrade(&o, &n, &actual) {
                Ok(true) => resp
                    .requires_replace
                    .push(AttributePath::attr("engine_version")),
                Ok(false) => {}
                Err(e) => resp
                    .diagnostics
                    .push(Diagnostic::error(e, "").at(AttributePath::attr("engine_version"))),
            }
        }
        resp.planned_state
            .set_attr("engine_version_actual", Value::unknown());
    }
    let planned = &mut resp.planned_state;
    // valkey → redis is a downgrade.
    if ch(planned, "engine") {
        let o = get_str(prior, "engine").map(|e| e.to_ascii_lowercase());
        let n = get_str(planned, "engine").map(|e| e.to_ascii_lowercase());
        if o.as_deref() == Some(state::ENGINE_VALKEY) && n.as_deref() == Some(state::ENGINE_REDIS) {
            resp.requires_replace.push(AttributePath::attr("engine"));
        }
    }
    let planned = &mut resp.planned_state;
    // TLS can be turned on in place from Redis 7.0.5 only.
    if changed(prior, planned, "transit_encryption_enabled") {
        let actual = get_str(prior, "engine_version_actual").unwrap_or_default();
        if crate::resources::cluster::parse_version(&actual).is_none_or(|v| v < [7, 0, 5]) {
            resp.requires_replace
                .push(AttributePath::attr("transit_encryption_enabled"));
        }
    }
    let planned = &mut resp.planned_state;
    if node_groups_replace(prior, planned) {
        resp.requires_replace
            .push(AttributePath::attr("node_group_configuration"));
    }
    // Counts: what follows from a changed count is known after apply.
    let planned = &mut resp.planned_state;
    let counts = [
        "num_cache_clusters",
        "num_node_groups",
        "replicas_per_node_group",
    ];
    if counts.iter().any(|c| ch(planned, c)) {
        planned.set_attr("member_clusters", Value::unknown());
        for c in counts {
            if config.get(c).is_none_or(Value::is_null) {
                planned.set_attr(c, Value::unknown());
            }
        }
        if config
            .get("node_group_configuration")
            .and_then(Value::elements)
            .is_none_or(<[Value]>::is_empty)
        {
            planned.set_attr("node_group_configuration", Value::Set(Vec::new()));
        }
    }
}

/// HashiCorp's `ForceNewIf` on `node_group_configuration`: only an explicit
/// layout that changes meaningfully (ids, replica counts, slots, an AZ
/// that was set) replaces the group.
fn node_groups_replace(prior: &Value, planned: &Value) -> bool {
    let els = |v: &Value| {
        v.get("node_group_configuration")
            .and_then(Value::elements)
            .map(<[Value]>::to_vec)
            .unwrap_or_default()
    };
    let (old, new) = (els(prior), els(planned));
    if old.is_empty() && new.is_empty() {
        return false;
    }
    if old.is_empty() != new.is_empty() || old.len() != new.len() {
        return true;
    }
    let key = |v: &Value| get_str(v, "node_group_id").unwrap_or_default();
    for o in &old {
        let Some(n) = new.iter().find(|n| key(n) == key(o)) else {
            return true;
        };
        for f in ["replica_count", "slots"] {
            let (a, b) = (
                o.get(f).unwrap_or(&Value::Null),
                n.get(f).unwrap_or(&Value::Null),
            );
            if b.is_wholly_known() && !a.same_as(b) {
                return true;
            }
        }
        for f in ["primary_availability_zone", "replica_availability_zones"] {
            let a = o.get(f).unwrap_or(&Value::Null);
            let b = n.get(f).unwrap_or(&Value::Null);
            let set = match a {
                Value::String(s) => !s.is_empty(),
                Value::List(l) => !l.is_empty(),
                _ => false,
            };
            if set && b.is_wholly_known() && !b.is_null() && !a.same_as(b) {
                return true;
            }
        }
    }
    false
}

/// Build the state of group `id` from the API; `prior` (state or plan)
/// supplies what the API does not report. `None` when the group is gone
/// (or being deleted).
async fn read_state(
    meta: &Meta,
    id: &str,
    prior: &Value,
    import: bool,
) -> Result<Option<Value>, Diagnostic> {
    let client = client_for(meta, prior);
    let g = match find_replication_group_by_id(&client, id).await {
        Ok(g) => g,
        Err(FindError::NotFound) => return Ok(None),
        Err(FindError::Api(e)) => return Err(diag::error("reading", WHAT, id, e)),
    };
    if g.status() == Some(find::REPLICATION_GROUP_STATUS_DELETING) {
        tracing::warn!("ElastiCache Replication Group ({id}) is currently in the `deleting` status, removing from state");
        return Ok(None);
    }
    let first = g
        .node_groups()
        .first()
        .and_then(|ng| ng.node_group_members().first())
        .and_then(|m| m.cache_cluster_id())
        .or_else(|| g.member_clusters().first().map(String::as_str));
    let member = match first {
        Some(c) => find_member_cluster(&client, c).await.map_err(|e| {
            diag::error(
                "reading",
                WHAT,
                id,
                format!("reading Cache Cluster ({c}): {e}"),
            )
        })?,
        None => None,
    };
    let arn = g.arn().unwrap_or_default().to_owned();
    let remote = tags::list_tags(&client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    Ok(Some(flex::flatten(
        meta,
        &g,
        member.as_ref(),
        prior,
        &remote,
        import,
    )))
}

/// HashiCorp's wording: `waiting for ElastiCache Replication Group (id) create: …`.
fn waiter_msg(id: &str, op: &str, e: &str) -> Diagnostic {
    Diagnostic::error(
        format!("waiting for ElastiCache {WHAT} ({id}) {op}: {e}"),
        "",
    )
}

fn known_or_null(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for x in m.values_mut() {
            if !x.is_wholly_known() {
                *x = Value::Null;
            }
        }
    }
    v
}

/// Read after write and settle the new state.
async fn finish(meta: &Meta, id: &str, planned: &Value, verb: &str) -> ApplyResponse {
    match read_state(meta, id, planned, false).await {
        Ok(Some(st)) => {
            // `auth_token_wo` is write-only: tfplugin keeps it out of state.
            ApplyResponse::ok(crate::state::fill_unknowns(planned, &st))
        }
        Ok(None) => ApplyResponse::error(
            known_or_null(planned.clone()),
            diag::error(verb, WHAT, id, "couldn't find resource after write"),
        ),
        Err(d) => ApplyResponse::error(known_or_null(planned.clone()), d),
    }
}

/// The AUTH token to send: `auth_token`, else the write-only `auth_token_wo`
/// (from the configuration: Terraform never stores it).
fn auth_token(planned: &Value, config: &Value) -> Option<String> {
    get_ok_str(planned, "auth_token").or_else(|| get_ok_str(config, "auth_token_wo"))
}

async fn create(meta: &Meta, planned: &Value, config: &Value) -> ApplyResponse {
    let id = get_str(planned, "replication_group_id").unwrap_or_default();
    let client = client_for(meta, planned);
    let mut input = client
        .create_replication_group()
        .replication_group_id(&id)
        .set_tags(tags::to_sdk(
            planned.get("tags_all").unwrap_or(&Value::Null),
        ));
    if let Some(v) = get_ok_str(planned, "at_rest_encryption_enabled")
        .as_deref()
        .and_then(parse_nullable_bool)
    {
        input = input.at_rest_encryption_enabled(v);
    }
    if let Some(v) = auth_token(planned, config) {
        input = input.auth_token(v);
    }
    if let Some(v) = get_ok_str(planned, "auto_minor_version_upgrade")
        .as_deref()
        .and_then(parse_nullable_bool)
    {
        input = input.auto_minor_version_upgrade(v);
    }
    if let Some(v) = get_ok_str(planned, "cluster_mode") {
        input = input.cluster_mode(ClusterMode::from(v.as_str()));
    }
    if let Some(v) = get_bool(planned, "data_tiering_enabled") {
        input = input.data_tiering_enabled(v);
    }
    if let Some(v) = get_ok_str(planned, "description") {
        input = input.replication_group_description(v);
    }
    if let Some(v) = get_ok_str(planned, "engine_version") {
        input = input.engine_version(v);
    }
    if let Some(v) = get_ok_str(planned, "global_replication_group_id") {
        input = input.global_replication_group_id(v);
    } else {
        let Some(node_type) = get_ok_str(planned, "node_type") else {
            return ApplyResponse::error(
                Value::Null,
                Diagnostic::error(
                    "\"node_type\" is required unless \"global_replication_group_id\" is set.",
                    "",
                )
                .at(AttributePath::attr("node_type")),
            );
        };
        input = input
            .automatic_failover_enabled(
                get_bool(planned, "automatic_failover_enabled").unwrap_or(false),
            )
            .cache_node_type(node_type)
            .transit_encryption_enabled(
                get_bool(planned, "transit_encryption_enabled").unwrap_or(false),
            )
            .engine(get_ok_str(planned, "engine").unwrap_or_else(|| state::ENGINE_REDIS.into()));
    }
    if let Some(v) = get_ok_str(planned, "ip_discovery") {
        input = input.ip_discovery(IpDiscovery::from(v.as_str()));
    }
    if let Some(v) = get_ok_str(planned, "kms_key_id") {
        input = input.kms_key_id(v);
    }
    if let Some(logs) = planned
        .get("log_delivery_configuration")
        .and_then(Value::elements)
        .filter(|l| !l.is_empty())
    {
        for l in logs {
            input = input.log_delivery_configurations(expand_log_delivery(l));
        }
    }
    if let Some(v) = get_ok_str(planned, "maintenance_window") {
        input = input.preferred_maintenance_window(v);
    }
    if get_bool(planned, "multi_az_enabled") == Some(true) {
        input = input.multi_az_enabled(true);
    }
    if let Some(v) = get_ok_str(planned, "network_type") {
        input = input.network_type(NetworkType::from(v.as_str()));
    }
    if let Some(v) = get_ok_str(planned, "notification_topic_arn") {
        input = input.notification_topic_arn(v);
    }
    if let Some(v) = get_i64(planned, "num_cache_clusters").filter(|n| *n != 0) {
        input = input.num_cache_clusters(v as i32);
    }
    if let Some(v) = get_i64(planned, "num_node_groups").filter(|n| *n != 0) {
        input = input.num_node_groups(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "parameter_group_name") {
        input = input.cache_parameter_group_name(v);
    }
    if let Some(v) = get_i64(planned, "port").filter(|n| *n != 0) {
        input = input.port(v as i32);
    }
    if let Some(v) = get_strs(planned, "preferred_cache_cluster_azs").filter(|v| !v.is_empty()) {
        input = input.set_preferred_cache_cluster_azs(Some(v));
    }
    if let Some(ngc) = planned
        .get("node_group_configuration")
        .filter(|v| v.elements().is_some_and(|e| !e.is_empty()))
    {
        input =
            input.set_node_group_configuration(Some(flex::expand_node_group_configurations(ngc)));
    }
    // Only as configured (HashiCorp reads the raw configuration).
    if let Some(v) = get_i64(config, "replicas_per_node_group") {
        input = input.replicas_per_node_group(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "subnet_group_name") {
        input = input.cache_subnet_group_name(v);
    }
    if let Some(v) = get_strs(planned, "security_group_ids").filter(|v| !v.is_empty()) {
        input = input.set_security_group_ids(Some(v));
    }
    if let Some(v) = get_strs(planned, "security_group_names").filter(|v| !v.is_empty()) {
        input = input.set_cache_security_group_names(Some(v));
    }
    if let Some(v) = get_strs(planned, "snapshot_arns").filter(|v| !v.is_empty()) {
        input = input.set_snapshot_arns(Some(v));
    }
    if let Some(v) = get_ok_str(planned, "snapshot_name") {
        input = input.snapshot_name(v);
    }
    if let Some(v) = get_i64(planned, "snapshot_retention_limit").filter(|n| *n != 0) {
        input = input.snapshot_retention_limit(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "snapshot_window") {
        input = input.snapshot_window(v);
    }
    if let Some(v) = get_ok_str(planned, "transit_encryption_mode") {
        input = input.transit_encryption_mode(TransitEncryptionMode::from(v.as_str()));
    }
    if let Some(v) = get_strs(planned, "user_group_ids").filter(|v| !v.is_empty()) {
        input = input.set_user_group_ids(Some(v));
    }
    if let Some(v) = get_ok_str(planned, "durability") {
        input = input.durability(Durability::from(v.as_str()));
    }
    let out = match input.send().await {
        Ok(o) => o,
        Err(e) => {
            let d = diag::error("creating", WHAT, &id, cause(&e));
            let d = match e.code() {
                Some("CacheSubnetGroupNotFoundFault") => {
                    d.at(AttributePath::attr("subnet_group_name"))
                }
                Some("CacheParameterGroupNotFound") => {
                    d.at(AttributePath::attr("parameter_group_name"))
                }
                _ => d,
            };
            return ApplyResponse::error(Value::Null, d);
        }
    };
    let id = out
        .replication_group()
        .and_then(|g| g.replication_group_id())
        .unwrap_or(&id)
        .to_ascii_lowercase();
    let timeout = timeout(planned, "create", state::TIMEOUT_CREATE);
    // From here on the group exists: every failure keeps it in state.
    let mut partial = planned.clone();
    partial.set_attr("id", Value::from(id.as_str()));
    if let Err(e) = find::wait_replication_group_available(&client, &id, timeout).await {
        return ApplyResponse::error(known_or_null(partial), waiter_msg(&id, "create", &e));
    }
    finish(meta, &id, &partial, "creating").await
}

/// One step of an update: the API call (an error as text).
type Step<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;

#[allow(clippy::too_many_lines)]
async fn update(meta: &Meta, prior: &Value, planned: &Value, config: &Value) -> ApplyResponse {
    let id = state_id(prior);
    let client = client_for(meta, prior);
    let ch = |n: &str| changed(prior, planned, n);
    let timeout = timeout(planned, "update", state::TIMEOUT_UPDATE);
    let mut steps: Vec<Step<'_>> = Vec::new();

    let old_n = get_i64(prior, "num_cache_clusters").unwrap_or(0);
    let new_n = get_i64(planned, "num_cache_clusters");
    // 1. Shard configuration, 2. replica count increases.
    if ch("num_node_groups") || ch("replicas_per_node_group") {
        if ch("num_node_groups") {
            let (client, id) = (client.clone(), id.clone());
            let old = get_i64(prior, "num_node_groups").unwrap_or(0);
            let new = get_i64(planned, "num_node_groups").unwrap_or(0);
            steps.push(Box::pin(async move {
                shard_count(&client, &id, old, new, timeout).await
            }));
        }
        if ch("replicas_per_node_group") {
            let (client, id) = (client.clone(), id.clone());
            let old = get_i64(prior, "replicas_per_node_group").unwrap_or(0);
            let new = get_i64(planned, "replicas_per_node_group").unwrap_or(0);
            steps.push(Box::pin(async move {
                replicas_per_shard(&client, &id, old, new, timeout).await
            }));
        }
    } else if let Some(n) = new_n.filter(|n| *n > old_n && ch("num_cache_clusters")) {
        let (client, id) = (client.clone(), id.clone());
        steps.push(Box::pin(async move {
            client
                .increase_replica_count()
                .replication_group_id(&id)
                .apply_immediately(true)
                .new_replica_count((n - 1) as i32)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "increasing ElastiCache Replication Group ({id}) replica count ({}): {}",
                        n - 1,
                        cause(&e)
                    )
                })?;
            find::wait_replication_group_member_clusters_available(&client, &id, timeout)
                .await
                .map_err(|e| {
                    format!("waiting for ElastiCache Replication Group ({id}) member cluster update: {e}")
                })
        }));
    }

    // 3. Everything ModifyReplicationGroup changes.
    let mut input = client
        .modify_replication_group()
        .replication_group_id(&id)
        .apply_immediately(get_bool(planned, "apply_immediately").unwrap_or(false));
    let mut request = false;
    if ch("auto_minor_version_upgrade") {
        if let Some(b) = get_str(planned, "auto_minor_version_upgrade")
            .as_deref()
            .and_then(parse_nullable_bool)
        {
            input = input.auto_minor_version_upgrade(b);
            request = true;
        }
    }
    if ch("automatic_failover_enabled") {
        input = input.automatic_failover_enabled(
            get_bool(planned, "automatic_failover_enabled").unwrap_or(false),
        );
        request = true;
    }
    if ch("description") {
        input = input
            .replication_group_description(get_str(planned, "description").unwrap_or_default());
        request = true;
    }
    if ch("cluster_mode") {
        input = input.cluster_mode(ClusterMode::from(
            get_str(planned, "cluster_mode")
                .unwrap_or_default()
                .as_str(),
        ));
        request = true;
    }
    let engine = get_str(planned, "engine").map(|e| e.to_ascii_lowercase());
    if ch("engine") && engine.as_deref() == Some(state::ENGINE_VALKEY) {
        if !ch("engine_version") {
            return ApplyResponse::error(
                prior.clone(),
                Diagnostic::error(
                    format!("must explicitly set 'engine_version' attribute for Replication Group ({id}) when updating engine to 'valkey'"),
                    "",
                ),
            );
        }
        input = input.engine(state::ENGINE_VALKEY);
        request = true;
    }
    if ch("engine_version") {
        input = input
            .engine_version(get_str(planned, "engine_version").unwrap_or_default())
            .engine(engine.unwrap_or_else(|| state::ENGINE_REDIS.into()));
        request = true;
    }
    if ch("ip_discovery") {
        input = input.ip_discovery(IpDiscovery::from(
            get_str(planned, "ip_discovery")
                .unwrap_or_default()
                .as_str(),
        ));
        request = true;
    }
    if ch("log_delivery_configuration") {
        let els = |v: &Value| {
            v.get("log_delivery_configuration")
                .and_then(Value::elements)
                .map(<[Value]>::to_vec)
                .unwrap_or_default()
        };
        let new = els(planned);
        let kept: Vec<String> = new.iter().filter_map(|v| get_str(v, "log_type")).collect();
        let mut reqs: Vec<_> = new.iter().map(expand_log_delivery).collect();
        for o in els(prior) {
            if !get_str(&o, "log_type").is_some_and(|t| kept.contains(&t)) {
                reqs.push(expand_empty_log_delivery(&o));
            }
        }
        input = input.set_log_delivery_configurations(Some(reqs));
        request = true;
    }
    if ch("maintenance_window") {
        input = input.preferred_maintenance_window(
            get_str(planned, "maintenance_window").unwrap_or_default(),
        );
        request = true;
    }
    if ch("multi_az_enabled") {
        input = input.multi_az_enabled(get_bool(planned, "multi_az_enabled").unwrap_or(false));
        request = true;
    }
    if ch("node_type") {
        input = input.cache_node_type(get_str(planned, "node_type").unwrap_or_default());
        request = true;
    }
    if ch("notification_topic_arn") {
        let v = get_str(planned, "notification_topic_arn").unwrap_or_default();
        if v.is_empty() {
            input = input.notification_topic_status("inactive");
        }
        input = input.notification_topic_arn(v);
        request = true;
    }
    if ch("parameter_group_name") {
        input = input.cache_parameter_group_name(
            get_str(planned, "parameter_group_name").unwrap_or_default(),
        );
        request = true;
    }
    if ch("security_group_ids") {
        if let Some(v) = get_strs(planned, "security_group_ids").filter(|v| !v.is_empty()) {
            input = input.set_security_group_ids(Some(v));
            request = true;
        }
    }
    if ch("snapshot_retention_limit") {
        if get_i64(prior, "snapshot_retention_limit").unwrap_or(0) == 0 {
            input = input.snapshotting_cluster_id(format!("{id}-001"));
        }
        input = input.snapshot_retention_limit(
            get_i64(planned, "snapshot_retention_limit").unwrap_or(0) as i32,
        );
        request = true;
    }
    if ch("snapshot_window") {
        input = input.snapshot_window(get_str(planned, "snapshot_window").unwrap_or_default());
        request = true;
    }
    if ch("transit_encryption_enabled") {
        input = input.transit_encryption_enabled(
            get_bool(planned, "transit_encryption_enabled").unwrap_or(false),
        );
        request = true;
    }
    if ch("transit_encryption_mode") {
        input = input.transit_encryption_mode(TransitEncryptionMode::from(
            get_str(planned, "transit_encryption_mode")
                .unwrap_or_default()
                .as_str(),
        ));
        request = true;
    }
    if ch("durability") {
        input = input.durability(Durability::from(
            get_str(planned, "durability").unwrap_or_default().as_str(),
        ));
        request = true;
    }
    let strategy = get_str(planned, "auth_token_update_strategy");
    let auth_changed =
        ch("auth_token") || ch("auth_token_update_strategy") || ch("auth_token_wo_version");
    if ch("user_group_ids") {
        let old = get_strs(prior, "user_group_ids").unwrap_or_default();
        let new = get_strs(planned, "user_group_ids").unwrap_or_default();
        let add: Vec<String> = new.iter().filter(|g| !old.contains(g)).cloned().collect();
        let del: Vec<String> = old.iter().filter(|g| !new.contains(g)).cloned().collect();
        if !add.is_empty() {
            if auth_changed && strategy.as_deref() == Some("DELETE") {
                // Moving from AUTH to RBAC.
                input = input.auth_token_update_strategy(AuthTokenUpdateStrategyType::Delete);
            }
            input = input.set_user_group_ids_to_add(Some(add));
            request = true;
        }
        if !del.is_empty() {
            input = input.set_user_group_ids_to_remove(Some(del));
            request = true;
        }
    }
    if request {
        let id = id.clone();
        steps.push(Box::pin(async move {
            match input.send().await {
                Ok(_) => Ok(()),
                // Matching an out-of-band change may leave nothing to do.
                Err(e)
                    if e.message()
                        .is_some_and(|m| m.contains("No modifications were requested")) =>
                {
                    Ok(())
                }
                Err(e) => Err(format!(
                    "modifying ElastiCache Replication Group ({id}): {}",
                    cause(&e)
                )),
            }
        }));
    }
    // 4. AUTH token changes (DELETE only while moving to RBAC, above).
    if auth_changed && strategy.as_deref() != Some("DELETE") {
        let mut auth = client
            .modify_replication_group()
            .replication_group_id(&id)
            .apply_immediately(true)
            .auth_token(auth_token(planned, config).unwrap_or_default());
        if let Some(s) = strategy.as_deref().filter(|s| !s.is_empty()) {
            auth = auth.auth_token_update_strategy(AuthTokenUpdateStrategyType::from(s));
        }
        let id = id.clone();
        steps.push(Box::pin(async move {
            match auth.send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if e.message()
                        .is_some_and(|m| m.contains("No modifications were requested")) =>
                {
                    Ok(())
                }
                Err(e) => Err(format!(
                    "modifying ElastiCache Replication Group ({id}) authentication: {}",
                    cause(&e)
                )),
            }
        }));
    }
    // 5. Replica count decreases, last.
    if let Some(n) = new_n.filter(|n| *n < old_n && ch("num_cache_clusters")) {
        if !(ch("num_node_groups") || ch("replicas_per_node_group")) {
            let (client, id) = (client.clone(), id.clone());
            steps.push(Box::pin(async move {
                client
                    .decrease_replica_count()
                    .replication_group_id(&id)
                    .apply_immediately(true)
                    .new_replica_count((n - 1) as i32)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "decreasing ElastiCache Replication Group ({id}) replica count ({}): {}",
                            n - 1,
                            cause(&e)
                        )
                    })?;
                find::wait_replication_group_member_clusters_available(&client, &id, timeout)
                    .await
                    .map_err(|e| {
                        format!("waiting for ElastiCache Replication Group ({id}) member cluster update: {e}")
                    })
            }));
        }
    }
    for step in steps {
        // Tagging or a previous step may leave the group busy.
        if let Err(e) = find::wait_replication_group_available(&client, &id, timeout).await {
            return ApplyResponse::error(prior.clone(), waiter_msg(&id, "to become available", &e));
        }
        if let Err(e) = step.await {
            return ApplyResponse::error(prior.clone(), Diagnostic::error(e, ""));
        }
        if let Err(e) = find::wait_replication_group_available(&client, &id, timeout).await {
            return ApplyResponse::error(prior.clone(), waiter_msg(&id, "update", &e));
        }
    }
    if changed(prior, planned, "tags_all") {
        let arn = get_str(prior, "arn").unwrap_or_default();
        if let Err(e) = tags::update_tags(
            &client,
            &arn,
            prior.get("tags_all").unwrap_or(&Value::Null),
            planned.get("tags_all").unwrap_or(&Value::Null),
        )
        .await
        {
            return ApplyResponse::error(
                prior.clone(),
                diag::error("updating tags for", WHAT, &id, e),
            );
        }
    }
    finish(meta, &id, planned, "updating").await
}

/// `num_node_groups` (ModifyReplicationGroupShardConfiguration); scaling
/// in removes the highest-numbered live node groups.
async fn shard_count(
    client: &Client,
    id: &str,
    old: i64,
    new: i64,
    timeout: Duration,
) -> Result<(), String> {
    let mut input = client
        .modify_replication_group_shard_configuration()
        .replication_group_id(id)
        .apply_immediately(true)
        .node_group_count(new as i32);
    if new < old {
        let g = find_replication_group_by_id(client, id)
            .await
            .map_err(|e| {
                format!("modifying ElastiCache Replication Group ({id}) shard configuration: {e}")
            })?;
        let mut ids: Vec<String> = g
            .node_groups()
            .iter()
            .filter_map(|ng| ng.node_group_id().map(str::to_owned))
            .collect();
        ids.sort();
        if ids.len() as i64 > new {
            let remove = ids.split_off(new as usize);
            input = input.set_node_groups_to_remove(Some(remove.into_iter().rev().collect()));
        }
    }
    input.send().await.map_err(|e| {
        format!(
            "modifying ElastiCache Replication Group ({id}) shard configuration: {}",
            cause(&e)
        )
    })?;
    find::wait_replication_group_available(client, id, timeout)
        .await
        .map_err(|e| format!("waiting for ElastiCache Replication Group ({id}) update: {e}"))
}

/// `replicas_per_node_group` (IncreaseReplicaCount / DecreaseReplicaCount).
async fn replicas_per_shard(
    client: &Client,
    id: &str,
    old: i64,
    new: i64,
    timeout: Duration,
) -> Result<(), String> {
    if new > old {
        client
            .increase_replica_count()
            .replication_group_id(id)
            .apply_immediately(true)
            .new_replica_count(new as i32)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "increasing ElastiCache Replication Group ({id}) replica count ({new}): {}",
                    cause(&e)
                )
            })?;
    } else if new < old {
        client
            .decrease_replica_count()
            .replication_group_id(id)
            .apply_immediately(true)
            .new_replica_count(new as i32)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "decreasing ElastiCache Replication Group ({id}) replica count ({new}): {}",
                    cause(&e)
                )
            })?;
    } else {
        return Ok(());
    }
    find::wait_replication_group_available(client, id, timeout)
        .await
        .map_err(|e| format!("waiting for ElastiCache Replication Group ({id}) update: {e}"))
}

async fn delete(meta: &Meta, prior: &Value) -> Result<(), Diagnostic> {
    let id = state_id(prior);
    let client = client_for(meta, prior);
    let final_snapshot = get_ok_str(prior, "final_snapshot_identifier");
    // A secondary of a global datastore leaves it first (HashiCorp's order).
    if let Some(gid) = get_ok_str(prior, "global_replication_group_id") {
        let region = get_ok_str(prior, "region").unwrap_or_else(|| meta.region.clone());
        let t = timeout(prior, "delete", state::TIMEOUT_DELETE);
        crate::resources::global_replication_group::disassociate_member(
            &client, &gid, &id, &region, t,
        )
        .await
        .map_err(|e| {
            diag::error(
                "deleting",
                WHAT,
                &id,
                format!("disassociating from ElastiCache Global Replication Group ({gid}): {e}"),
            )
        })?;
    }
    // Members may be creating/deleting or the group snapshotting: retry
    // for up to 10 minutes, as HashiCorp does.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut delay = Duration::from_millis(100);
    loop {
        let r = client
            .delete_replication_group()
            .replication_group_id(&id)
            .set_final_snapshot_identifier(final_snapshot.clone())
            .send()
            .await;
        match r {
            Ok(_) => break,
            Err(e) if e.code() == Some(find::NOT_FOUND) => return Ok(()),
            Err(e) if e.code() == Some(find::INVALID_STATE) && Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(diag::error("deleting", WHAT, &id, cause(&e))),
        }
    }
    let timeout = timeout(prior, "delete", state::TIMEOUT_DELETE);
    find::wait_replication_group_deleted(&client, &id, timeout)
        .await
        .map_err(|e| waiter_msg(&id, "delete", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_from_hashicorp_v2_state() {
        let schema = state::schema();
        let mut st = Value::null_object(&schema.value_type());
        st.set_attr("id", Value::from("rg"));
        st.set_attr("auth_token", Value::from(""));
        st.set_attr("auth_token_update_strategy", Value::from("ROTATE"));
        st.set_attr("automatic_failover_enabled", Value::from(false));
        st.set_attr("multi_az_enabled", Value::from(true));
        st.set_attr("snapshot_retention_limit", Value::from(0));
        st.set_attr("port", Value::from(6379));
        st.set_attr("final_snapshot_identifier", Value::from(""));
        let up = upgrade_v2_state(&schema, 2, st);
        assert!(up.get("auth_token").unwrap().is_null());
        assert!(up.get("auth_token_update_strategy").unwrap().is_null());
        assert!(up.get("automatic_failover_enabled").unwrap().is_null());
        assert_eq!(up.get("multi_az_enabled"), Some(&Value::from(true)));
        assert!(up.get("snapshot_retention_limit").unwrap().is_null());
        assert_eq!(up.get("port"), Some(&Value::from(6379)));
        assert!(up.get("final_snapshot_identifier").unwrap().is_null());
        assert_eq!(
            up.get("node_group_configuration"),
            Some(&Value::Set(Vec::new()))
        );
        // A token keeps its strategy; a version 1 state gets the old default.
        let mut st = Value::null_object(&schema.value_type());
        st.set_attr("auth_token", Value::from("0123456789abcdef"));
        let up = upgrade_v2_state(&schema, 1, st);
        assert_eq!(
            up.get("auth_token_update_strategy"),
            Some(&Value::from("ROTATE"))
        );
    }

    /// 6.62's write-only token: with a strategy, alone; not with
    /// `auth_token` or `user_group_ids`; its version needs it. The token is
    /// what create and update send.
    #[test]
    fn auth_token_wo_rules() {
        let cfg = |pairs: &[(&str, Value)]| {
            let mut c = Value::null_object(&state::schema().value_type());
            c.set_attr("replication_group_id", Value::from("rg"));
            c.set_attr("description", Value::from("d"));
            for (k, v) in pairs {
                c.set_attr(k, v.clone());
            }
            c
        };
        let tok = || Value::from("0123456789abcdefgh");
        let ok = cfg(&[
            ("auth_token_wo", tok()),
            ("auth_token_wo_version", Value::from(1)),
            ("auth_token_update_strategy", Value::from("ROTATE")),
        ]);
        assert!(
            !state::validate(&ok).has_errors(),
            "{:?}",
            state::validate(&ok)
        );
        let both = cfg(&[("auth_token_wo", tok()), ("auth_token", tok())]);
        assert!(state::validate(&both).has_errors());
        let version_alone = cfg(&[("auth_token_wo_version", Value::from(1))]);
        assert!(state::validate(&version_alone).has_errors());
        let strategy_alone = cfg(&[("auth_token_update_strategy", Value::from("ROTATE"))]);
        assert!(state::validate(&strategy_alone).has_errors());
        // Sent from the configuration (the plan never holds it).
        assert_eq!(auth_token(&ok, &ok).as_deref(), Some("0123456789abcdefgh"));
        let mut planned = ok.clone();
        planned.set_attr("auth_token_wo", Value::Null);
        assert_eq!(
            auth_token(&planned, &ok).as_deref(),
            Some("0123456789abcdefgh")
        );
    }

    fn ngc(els: Vec<Value>) -> Value {
        let mut st = Value::null_object(&state::schema().value_type());
        st.set_attr("node_group_configuration", Value::Set(els));
        st
    }

    fn ng(id: &str, replicas: i64, az: Option<&str>) -> Value {
        Value::object([
            ("node_group_id", Value::from(id)),
            ("replica_count", Value::from(replicas)),
            ("slots", Value::Null),
            (
                "primary_availability_zone",
                az.map_or(Value::Null, Value::from),
            ),
            ("primary_outpost_arn", Value::Null),
            ("replica_availability_zones", Value::Null),
            ("replica_outpost_arns", Value::Null),
        ])
    }

    #[test]
    fn node_group_configuration_replaces_only_on_significant_changes() {
        let a = ngc(vec![ng("0001", 1, Some("us-east-1a")), ng("0002", 1, None)]);
        assert!(!node_groups_replace(&ngc(vec![]), &ngc(vec![])));
        assert!(!node_groups_replace(&a, &a));
        assert!(node_groups_replace(&ngc(vec![]), &a));
        assert!(node_groups_replace(&a, &ngc(vec![])));
        let more = ngc(vec![ng("0001", 2, Some("us-east-1a")), ng("0002", 1, None)]);
        assert!(node_groups_replace(&a, &more));
        let az = ngc(vec![ng("0001", 1, Some("us-east-1b")), ng("0002", 1, None)]);
        assert!(node_groups_replace(&a, &az));
        // An AZ the old layout left to AWS may be named without replacing.
        let az2 = ngc(vec![
            ng("0001", 1, Some("us-east-1a")),
            ng("0002", 1, Some("us-east-1c")),
        ]);
        assert!(!node_groups_replace(&a, &az2));
    }

    #[test]
    fn validation_follows_hashicorp() {
        let schema = state::schema();
        let mut cfg = Value::null_object(&schema.value_type());
        cfg.set_attr("replication_group_id", Value::from("Bad--id-"));
        cfg.set_attr("description", Value::from("d"));
        cfg.set_attr("num_cache_clusters", Value::from(1));
        cfg.set_attr("automatic_failover_enabled", Value::from(true));
        cfg.set_attr("num_node_groups", Value::from(2));
        cfg.set_attr("multi_az_enabled", Value::from(true));
        let d = state::validate(&cfg);
        let text = format!("{d:?}");
        assert!(text.contains("two consecutive hyphens"), "{text}");
        assert!(text.contains("cannot end with a hyphen"), "{text}");
        assert!(text.contains("conflicts with num_node_groups"), "{text}");
        assert!(
            text.contains("must be at least 2 if automatic_failover_enabled"),
            "{text}"
        );
        assert!(!text.contains("multi_az_enabled is true"), "{text}");
    }
}
