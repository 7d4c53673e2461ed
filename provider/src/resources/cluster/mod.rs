//! `aws_elasticache_cluster`, as HashiCorp's provider 5.100.0 has it.
//!
//! * `state.rs` — schema, `FORCE_NEW`, timeouts, configuration checks;
//! * `find.rs` — finders, status, waiters;
//! * `flex.rs` — expand/flatten and engine-version rules.
//!
//! Our protocol layer keeps Terraform's strict consistency rules (no legacy
//! type system), so where HashiCorp's SDK lowers or rewrites a configured
//! value (`maintenance_window` case, `engine_version` `7.1` vs `7.1.0`) the
//! state keeps the configured spelling when the API's value means the same.

mod find;
mod flex;
mod state;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{AzMode, CacheCluster, IpDiscovery, NetworkType, OutpostMode};
use tfplugin::{
    async_trait, provider::mark_computed_unknown, ApplyRequest, ApplyResponse, AttributePath,
    Diagnostic, Diagnostics, Imported, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
    Schema, Value,
};

use crate::client::{Meta, SharedConn};
use crate::{diag, region, tags};
pub(crate) use find::find_cluster as find_cache_cluster;
pub(crate) use find::FindError as FindClusterError;
use find::{find_cluster, FindError};
pub(crate) use flex::{common as flatten_common, flatten_log_delivery};
pub(crate) use flex::{get_bool, get_i64, get_ok_str, get_str, get_strs, int_or_null, str_or_null};
pub(crate) use state::cache_node_type;
// Shared with `aws_elasticache_replication_group` (same rules in HashiCorp's provider).
pub(crate) use find::cause as sdk_cause;
pub(crate) use flex::{
    engine_versions, expand_empty_log_delivery, expand_log_delivery, is_downgrade, parse_version,
    validate_engine_version,
};
pub(crate) use state::{timeout, valid_daily_window, valid_weekly_window};

const WHAT: &str = "Cache Cluster";

pub struct Cluster {
    conn: SharedConn,
}

impl Cluster {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Cluster { conn: conn.clone() })
    }
}

fn changed(prior: &Value, planned: &Value, name: &str) -> bool {
    let p = prior.get(name).unwrap_or(&Value::Null);
    let n = planned.get(name).unwrap_or(&Value::Null);
    !p.same_as(n)
}

/// The cluster's id in state (`id`, else `cluster_id`).
fn state_id(st: &Value) -> String {
    get_ok_str(st, "id")
        .or_else(|| get_str(st, "cluster_id"))
        .unwrap_or_default()
}

#[async_trait]
impl tfplugin::Resource for Cluster {
    fn type_name(&self) -> String {
        "aws_elasticache_cluster".into()
    }

    fn schema(&self) -> Schema {
        state::schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        state::validate(config)
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let schema = state::schema();
        let mut resp = PlanResponse {
            planned_state: req.proposed_new_state.clone(),
            planned_private: req.prior_private.clone(),
            ..Default::default()
        };
        if req.proposed_new_state.is_null() {
            return resp;
        }
        let prior = &req.prior_state;
        let config = &req.config;
        let create = prior.is_null();
        let planned = &mut resp.planned_state;
        if create {
            mark_computed_unknown(&schema.block, planned, config);
        }
        if config.get("tags_all").is_none_or(Value::is_null) {
            match self.conn.get() {
                Ok(meta) => tags::set_planned_tags_all(meta, config, planned),
                Err(_) => planned.set_attr("tags_all", Value::unknown()),
            }
        }
        region::plan_into(
            self.conn.get().ok(),
            prior,
            config,
            planned,
            &mut resp.requires_replace,
        );
        let planned = &mut resp.planned_state;
        resp.diagnostics.extend(state::validate_plan(planned));
        if create {
            return resp;
        }
        // Replacements decided from values (HashiCorp's CustomizeDiff).
        if changed(prior, planned, "engine_version") {
            if let (Some(o), Some(n)) = (
                get_str(prior, "engine_version"),
                get_str(planned, "engine_version"),
            ) {
                let actual = get_str(prior, "engine_version_actual").unwrap_or_default();
                match flex::is_downgrade(&o, &n, &actual) {
                    Ok(true) => resp
                        .requires_replace
                        .push(AttributePath::attr("engine_version")),
                    Ok(false) => {}
                    Err(e) => resp
                        .diagnostics
                        .push(Diagnostic::error(e, "").at(AttributePath::attr("engine_version"))),
                }
            }
            planned.set_attr("engine_version_actual", Value::unknown());
        }
        if changed(prior, planned, "node_type")
            && get_str(planned, "engine").as_deref() == Some(state::ENGINE_MEMCACHED)
        {
            resp.requires_replace.push(AttributePath::attr("node_type"));
        }
        if changed(prior, planned, "num_cache_nodes") {
            planned.set_attr("cache_nodes", Value::unknown());
        }
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ApplyResponse::error(req.prior_state, d),
        };
        let meta = &region::meta_for(
            meta,
            if req.is_delete() {
                &req.prior_state
            } else {
                &req.planned_state
            },
        );
        if req.is_delete() {
            return match delete(meta, &req.prior_state).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        if req.is_create() {
            return create(meta, &req.planned_state).await;
        }
        update(meta, &req.prior_state, &req.planned_state).await
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let meta = &region::meta_for(meta, &req.current_state);
        let id = state_id(&req.current_state);
        match read_state(meta, &id, &req.current_state).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!("ElastiCache Cache Cluster ({id}) not found, removing from state");
                ReadResponse::default()
            }
            Err(d) => ReadResponse {
                new_state: Value::Null,
                private: req.private,
                diagnostics: d.into(),
            },
        }
    }

    /// `terraform import`: the cluster id, or `id@region` (6.x).
    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let (id, region) = region::split_import_id(id);
        let mut st = Value::null_object(&state::schema().value_type());
        st.set_attr("id", Value::from(id));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(&self, req: tfplugin::UpgradeRequest) -> Result<Value, Diagnostics> {
        region::upgrade(&self.conn, &state::schema(), req.version, &req.raw)
    }
}

/// Build the state of cluster `id` from the API; `prior` (state or plan)
/// supplies what the API does not report. `None` when the cluster is gone.
async fn read_state(meta: &Meta, id: &str, prior: &Value) -> Result<Option<Value>, Diagnostic> {
    let c = match find_cluster(&meta.client, id, true).await {
        Ok(c) => c,
        Err(FindError::NotFound) => return Ok(None),
        Err(FindError::Api(e)) => return Err(diag::error("reading", WHAT, id, e)),
    };
    let arn = c.arn().unwrap_or_default().to_owned();
    let remote = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    Ok(Some(flatten(meta, &c, prior, &remote)))
}

/// The resource's state from an API cluster.
fn flatten(meta: &Meta, c: &CacheCluster, prior: &Value, remote: &tags::Tags) -> Value {
    let ty = state::schema().value_type();
    let mut st = if prior.is_null() {
        Value::null_object(&ty)
    } else {
        prior.clone()
    };
    let cm = flatten_common(c);
    let id = c.cache_cluster_id().unwrap_or_default();
    let engine = c.engine().unwrap_or_default();
    let set = |st: &mut Value, k: &str, v: Value| st.set_attr(k, v);
    set(&mut st, "id", Value::from(id));
    set(&mut st, "cluster_id", Value::from(id));
    set(&mut st, "region", Value::from(meta.region.as_str()));
    set(&mut st, "node_type", str_or_null(c.cache_node_type()));
    set(&mut st, "engine", Value::from(engine));
    let prior_ev = get_str(prior, "engine_version");
    let (ev, actual) = flex::engine_versions(
        engine,
        c.engine_version().unwrap_or_default(),
        prior_ev.as_deref(),
    );
    set(&mut st, "engine_version", Value::from(ev));
    set(&mut st, "engine_version_actual", Value::from(actual));
    // HashiCorp's `Default: "true"` cannot be planned for an attribute that
    // is not computed: null stands for "true" here.
    let amvu = c.auto_minor_version_upgrade().unwrap_or(false);
    let prior_amvu = prior.get("auto_minor_version_upgrade");
    if amvu && prior_amvu.is_none_or(|v| v.is_null() || v.is_unknown()) {
        set(&mut st, "auto_minor_version_upgrade", Value::Null);
    } else if prior_amvu
        .and_then(Value::as_str)
        .and_then(parse_nullable_bool)
        != Some(amvu)
    {
        set(
            &mut st,
            "auto_minor_version_upgrade",
            Value::from(amvu.to_string()),
        );
    }
    set(
        &mut st,
        "subnet_group_name",
        str_or_null(c.cache_subnet_group_name()),
    );
    set(&mut st, "security_group_ids", cm.security_group_ids);
    if !cm.parameter_group_name.is_null() {
        set(&mut st, "parameter_group_name", cm.parameter_group_name);
    }
    // HashiCorp lowers the window; we keep the configured spelling.
    let mw = c.preferred_maintenance_window().unwrap_or_default();
    if !get_str(prior, "maintenance_window").is_some_and(|p| p.eq_ignore_ascii_case(mw)) {
        set(
            &mut st,
            "maintenance_window",
            str_or_null(c.preferred_maintenance_window()),
        );
    }
    set(
        &mut st,
        "log_delivery_configuration",
        flatten_log_delivery(c.log_delivery_configurations()),
    );
    set(&mut st, "snapshot_window", str_or_null(c.snapshot_window()));
    // Optional, not computed: an unset limit stays null while AWS reports 0.
    let srl = c.snapshot_retention_limit().unwrap_or(0);
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
    set(&mut st, "num_cache_nodes", int_or_null(c.num_cache_nodes()));
    // The port is immutable (ForceNew): once known it stays as requested.
    // (AWS reports it back unchanged; a local backend reports each node's
    // host port instead.)
    if prior
        .get("port")
        .is_none_or(|p| p.is_null() || p.is_unknown())
    {
        set(&mut st, "port", cm.port);
    }
    set(&mut st, "configuration_endpoint", cm.configuration_endpoint);
    set(&mut st, "cluster_address", cm.cluster_address);
    set(
        &mut st,
        "replication_group_id",
        str_or_null(c.replication_group_id()),
    );
    if !cm.notification_topic_arn.is_null() {
        set(&mut st, "notification_topic_arn", cm.notification_topic_arn);
    }
    set(
        &mut st,
        "availability_zone",
        str_or_null(c.preferred_availability_zone()),
    );
    set(
        &mut st,
        "az_mode",
        Value::from(if c.preferred_availability_zone() == Some("Multiple") {
            "cross-az"
        } else {
            "single-az"
        }),
    );
    set(&mut st, "cache_nodes", cm.cache_nodes);
    set(&mut st, "arn", str_or_null(c.arn()));
    set(
        &mut st,
        "ip_discovery",
        str_or_null(c.ip_discovery().map(|v| v.as_str())),
    );
    set(
        &mut st,
        "network_type",
        str_or_null(c.network_type().map(|v| v.as_str())),
    );
    set(
        &mut st,
        "preferred_outpost_arn",
        str_or_null(c.preferred_outpost_arn()),
    );
    set(
        &mut st,
        "transit_encryption_enabled",
        c.transit_encryption_enabled()
            .map_or(Value::Null, Value::from),
    );
    let prior_tags = prior.get("tags").cloned().unwrap_or(Value::Null);
    let prior_tags = if prior_tags.is_unknown() {
        Value::Null
    } else {
        prior_tags
    };
    let (tags, tags_all) = tags::flatten_tags(meta, remote, &prior_tags);
    set(&mut st, "tags", tags);
    set(&mut st, "tags_all", tags_all);
    // What the API does not report keeps its planned/prior value; anything
    // still unknown (e.g. `apply_immediately` never set) becomes null.
    if let Value::Object(m) = &mut st {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    st
}

async fn create(meta: &Meta, planned: &Value) -> ApplyResponse {
    let id = get_str(planned, "cluster_id").unwrap_or_default();
    let mut input = meta
        .client
        .create_cache_cluster()
        .cache_cluster_id(&id)
        .set_tags(tags::to_sdk(
            planned.get("tags_all").unwrap_or(&Value::Null),
        ));
    if let Some(rg) = get_ok_str(planned, "replication_group_id") {
        input = input.replication_group_id(rg);
    } else if let Some(sgs) = get_strs(planned, "security_group_ids").filter(|v| !v.is_empty()) {
        input = input.set_security_group_ids(Some(sgs));
    }
    if let Some(v) = get_ok_str(planned, "node_type") {
        input = input.cache_node_type(v);
    }
    if let Some(v) = get_i64(planned, "num_cache_nodes").filter(|n| *n != 0) {
        input = input.num_cache_nodes(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "outpost_mode") {
        input = input.outpost_mode(OutpostMode::from(v.as_str()));
    }
    if let Some(v) = get_ok_str(planned, "preferred_outpost_arn") {
        input = input.preferred_outpost_arn(v);
    }
    if let Some(v) = get_ok_str(planned, "engine") {
        input = input.engine(v);
    }
    if let Some(v) = get_ok_str(planned, "engine_version") {
        input = input.engine_version(v);
    }
    if let Some(v) = get_ok_str(planned, "auto_minor_version_upgrade") {
        if let Some(b) = parse_nullable_bool(&v) {
            input = input.auto_minor_version_upgrade(b);
        }
    }
    if let Some(v) = get_i64(planned, "port").filter(|n| *n != 0) {
        input = input.port(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "subnet_group_name") {
        input = input.cache_subnet_group_name(v);
    }
    if let Some(v) = get_ok_str(planned, "parameter_group_name") {
        input = input.cache_parameter_group_name(v);
    }
    if let Some(v) = get_i64(planned, "snapshot_retention_limit").filter(|n| *n != 0) {
        input = input.snapshot_retention_limit(v as i32);
    }
    if let Some(v) = get_ok_str(planned, "snapshot_window") {
        input = input.snapshot_window(v);
    }
    if let Some(logs) = planned
        .get("log_delivery_configuration")
        .and_then(Value::elements)
        .filter(|l| !l.is_empty())
    {
        input = input.set_log_delivery_configurations(Some(
            logs.iter().map(flex::expand_log_delivery).collect(),
        ));
    }
    if let Some(v) = get_ok_str(planned, "maintenance_window") {
        input = input.preferred_maintenance_window(v);
    }
    if let Some(v) = get_ok_str(planned, "notification_topic_arn") {
        input = input.notification_topic_arn(v);
    }
    if let Some(v) = get_strs(planned, "snapshot_arns").filter(|v| !v.is_empty()) {
        input = input.set_snapshot_arns(Some(v));
    }
    if let Some(v) = get_ok_str(planned, "snapshot_name") {
        input = input.snapshot_name(v);
    }
    if get_bool(planned, "transit_encryption_enabled") == Some(true) {
        input = input.transit_encryption_enabled(true);
    }
    if let Some(v) = get_ok_str(planned, "az_mode") {
        input = input.az_mode(AzMode::from(v.as_str()));
    }
    if let Some(v) = get_ok_str(planned, "availability_zone") {
        input = input.preferred_availability_zone(v);
    }
    if let Some(v) = get_strs(planned, "preferred_availability_zones").filter(|v| !v.is_empty()) {
        input = input.set_preferred_availability_zones(Some(v));
    }
    if let Some(v) = get_ok_str(planned, "ip_discovery") {
        input = input.ip_discovery(IpDiscovery::from(v.as_str()));
    }
    if let Some(v) = get_ok_str(planned, "network_type") {
        input = input.network_type(NetworkType::from(v.as_str()));
    }
    let out = match input.send().await {
        Ok(o) => o,
        Err(e) => {
            let d = diag::error("creating", WHAT, &id, find::cause(&e));
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
    // ElastiCache keeps ids in lower case.
    let id = out
        .cache_cluster()
        .and_then(|c| c.cache_cluster_id())
        .unwrap_or(&id)
        .to_ascii_lowercase();
    let timeout = state::timeout(planned, "create", state::TIMEOUT_CREATE);
    // From here on the cluster exists: every failure keeps it in state.
    let mut partial = planned.clone();
    partial.set_attr("id", Value::from(id.as_str()));
    if let Err(e) = find::wait_available(&meta.client, &id, timeout).await {
        return ApplyResponse::error(known_or_null(partial), waiter_msg(&id, "create", &e));
    }
    finish(meta, &id, planned, "creating").await
}

/// HashiCorp's wording: `waiting for ElastiCache Cache Cluster (id) create: …`.
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
    match read_state(meta, id, planned).await {
        Ok(Some(st)) => ApplyResponse::ok(crate::state::fill_unknowns(planned, &st)),
        Ok(None) => ApplyResponse::error(
            known_or_null(planned.clone()),
            diag::error(verb, WHAT, id, "couldn't find resource after write"),
        ),
        Err(d) => ApplyResponse::error(known_or_null(planned.clone()), d),
    }
}

/// HashiCorp's `nullable.TypeNullableBool`: "" is null.
pub(crate) fn parse_nullable_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// HashiCorp's `getCacheNodesToRemove`: the highest-numbered node ids.
fn nodes_to_remove(old: i64, remove: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = old;
    while i > old - remove && i > 0 {
        out.push(format!("{i:04}"));
        i -= 1;
    }
    out
}

const NOT_MODIFIED: &[&str] = &["tags", "tags_all", "timeouts"];

async fn update(meta: &Meta, prior: &Value, planned: &Value) -> ApplyResponse {
    let id = state_id(prior);
    let ch = |n: &str| changed(prior, planned, n);
    let has_other = state::schema()
        .block
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .chain(["log_delivery_configuration"])
        .any(|n| !NOT_MODIFIED.contains(&n) && ch(n));
    if has_other {
        let mut input = meta
            .client
            .modify_cache_cluster()
            .cache_cluster_id(&id)
            .apply_immediately(get_bool(planned, "apply_immediately").unwrap_or(false));
        let mut request = false;
        if ch("security_group_ids") {
            if let Some(sgs) = get_strs(planned, "security_group_ids").filter(|v| !v.is_empty()) {
                input = input.set_security_group_ids(Some(sgs));
                request = true;
            }
        }
        if ch("parameter_group_name") {
            input = input.cache_parameter_group_name(
                get_str(planned, "parameter_group_name").unwrap_or_default(),
            );
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
            let new = planned
                .get("log_delivery_configuration")
                .and_then(Value::elements)
                .unwrap_or(&[]);
            let old = prior
                .get("log_delivery_configuration")
                .and_then(Value::elements)
                .unwrap_or(&[]);
            let mut reqs: Vec<_> = new.iter().map(flex::expand_log_delivery).collect();
            let kept: Vec<String> = new.iter().filter_map(|v| get_str(v, "log_type")).collect();
            for o in old {
                if !get_str(o, "log_type").is_some_and(|t| kept.contains(&t)) {
                    reqs.push(flex::expand_empty_log_delivery(o));
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
        if ch("notification_topic_arn") {
            let v = get_str(planned, "notification_topic_arn").unwrap_or_default();
            if v.is_empty() {
                input = input.notification_topic_status("inactive");
            }
            input = input.notification_topic_arn(v);
            request = true;
        }
        if ch("engine_version") {
            input = input.engine_version(get_str(planned, "engine_version").unwrap_or_default());
            request = true;
        }
        if ch("auto_minor_version_upgrade") {
            // Unset means HashiCorp's default, "true".
            let v = get_str(planned, "auto_minor_version_upgrade");
            if let Some(b) = v.as_deref().map_or(Some(true), parse_nullable_bool) {
                input = input.auto_minor_version_upgrade(b);
            }
            request = true;
        }
        if ch("snapshot_window") {
            input = input.snapshot_window(get_str(planned, "snapshot_window").unwrap_or_default());
            request = true;
        }
        if ch("node_type") {
            input = input.cache_node_type(get_str(planned, "node_type").unwrap_or_default());
            request = true;
        }
        if ch("snapshot_retention_limit") {
            input = input.snapshot_retention_limit(
                get_i64(planned, "snapshot_retention_limit").unwrap_or(0) as i32,
            );
            request = true;
        }
        if ch("az_mode") {
            input = input.az_mode(AzMode::from(
                get_str(planned, "az_mode").unwrap_or_default().as_str(),
            ));
            request = true;
        }
        if ch("num_cache_nodes") {
            let o = get_i64(prior, "num_cache_nodes").unwrap_or(0);
            let n = get_i64(planned, "num_cache_nodes").unwrap_or(0);
            if n < o {
                input = input.set_cache_node_ids_to_remove(Some(nodes_to_remove(o, o - n)));
            } else if let Some(azs) =
                get_strs(planned, "preferred_availability_zones").filter(|v| !v.is_empty())
            {
                if azs.len() as i64 != n {
                    return ApplyResponse::error(
                        prior.clone(),
                        Diagnostic::error(
                            format!(
                                "length of preferred_availability_zones ({}) must match num_cache_nodes ({n})",
                                azs.len()
                            ),
                            "",
                        )
                        .at(AttributePath::attr("preferred_availability_zones")),
                    );
                }
                input = input.set_new_availability_zones(Some(azs[o as usize..].to_vec()));
            }
            input = input.num_cache_nodes(n as i32);
            request = true;
        }
        if request {
            if let Err(e) = input.send().await {
                return ApplyResponse::error(
                    prior.clone(),
                    diag::error("updating", WHAT, &id, find::cause(&e)),
                );
            }
            let timeout = state::timeout(planned, "update", state::TIMEOUT_UPDATE);
            if let Err(e) = find::wait_available(&meta.client, &id, timeout).await {
                return ApplyResponse::error(prior.clone(), waiter_msg(&id, "update", &e));
            }
        }
    }
    if ch("tags_all") {
        let arn = get_str(prior, "arn").unwrap_or_default();
        if let Err(e) = tags::update_tags(
            &meta.client,
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

async fn delete(meta: &Meta, prior: &Value) -> Result<(), Diagnostic> {
    let id = state_id(prior);
    let final_snapshot = get_ok_str(prior, "final_snapshot_identifier");
    // The cluster may be busy (e.g. snapshotting): retry for up to 5 minutes.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut delay = Duration::from_millis(200);
    loop {
        let r = meta
            .client
            .delete_cache_cluster()
            .cache_cluster_id(&id)
            .set_final_snapshot_identifier(final_snapshot.clone())
            .send()
            .await;
        match r {
            Ok(_) => break,
            Err(e) if e.code() == Some(find::NOT_FOUND) => return Ok(()),
            Err(e)
                if e.code() == Some("InvalidCacheClusterState")
                    && !e.message().is_some_and(|m| {
                        m.contains("serving as primary")
                            || m.contains("only member of a replication group")
                    })
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(diag::error("deleting", WHAT, &id, find::cause(&e))),
        }
    }
    let timeout = state::timeout(prior, "delete", state::TIMEOUT_DELETE);
    find::wait_deleted(&meta.client, &id, timeout)
        .await
        .map_err(|e| waiter_msg(&id, "delete", &e))
}
