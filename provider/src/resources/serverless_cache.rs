//! `aws_elasticache_serverless_cache`, as HashiCorp's provider 6.69.1 has it.
//!
//! * Schema: HashiCorp's (framework) attributes, `cache_usage_limits` as a
//!   block (`data_storage` {`maximum`, `minimum`, `unit`}, `ecpu_per_second`
//!   {`maximum`, `minimum`}), `endpoint` / `reader_endpoint` as computed lists
//!   of {`address`, `port`}, `timeouts` (create 40m, update 80m, delete 40m),
//!   tags, `region` (6.x).
//! * Replacement: `name`, `kms_key_id`, `network_type`, `subnet_ids`,
//!   `snapshot_arns_to_restore`, `region`, and `engine` except redis →
//!   valkey, which is an update (ModifyServerlessCache `Engine` with
//!   `MajorEngineVersion`). What the API answers to that is what the user
//!   sees.
//! * Update: ModifyServerlessCache with what changed (`description`,
//!   `cache_usage_limits`, `daily_snapshot_time`, `security_group_ids`,
//!   `snapshot_retention_limit`, `user_group_id`, removing it with
//!   `RemoveUserGroup`), retried while the cache is busy, then wait for
//!   `available`; tags through the tagging API.
//! * `snapshot_arns_to_restore` is never returned by the API: kept from the
//!   configuration.
//! * Import by name (or `name@region`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{
    CacheUsageLimits, DataStorage, DataStorageUnit, EcpuPerSecond, Endpoint, NetworkType,
    ServerlessCache,
};
use aws_sdk_elasticache::Client;
use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block,
    Diagnostic, Diagnostics, Imported, Nesting, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Schema, Type, UpgradeRequest, Value,
};

use crate::client::{Meta, SharedConn};
use crate::resources::cluster::{get_i64, timeout};
use crate::resources::reserved_cache_node::rfc3339;
use crate::state::{str_of, string_set, strings};
use crate::{diag, region, tags, wait};

const WHAT: &str = "Serverless Cache";
pub(crate) const NOT_FOUND: &str = "ServerlessCacheNotFoundFault";
const BUSY: &str = "InvalidServerlessCacheStateFault";

/// HashiCorp's default timeouts (create 40m, update 80m, delete 40m).
pub const TIMEOUT_CREATE: Duration = Duration::from_secs(40 * 60);
pub const TIMEOUT_UPDATE: Duration = Duration::from_secs(80 * 60);
pub const TIMEOUT_DELETE: Duration = Duration::from_secs(40 * 60);

const ENGINES: &[&str] = &["memcached", "redis", "valkey"];

pub struct ServerlessCacheResource {
    conn: SharedConn,
}

impl ServerlessCacheResource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String)
}
fn n(name: &str) -> Attribute {
    Attribute::new(name, Type::Number)
}

/// `{address, port}`, the element of `endpoint` and `reader_endpoint`.
pub(crate) fn endpoint_type() -> Type {
    Type::object([("address", Type::String), ("port", Type::Number)])
}

fn schema() -> Schema {
    let set_s = |name: &str| Attribute::new(name, Type::set(Type::String));
    let block = Block::new()
        .attribute(s("arn").computed())
        .attribute(s("create_time").computed())
        .attribute(s("daily_snapshot_time").optional().computed())
        .attribute(s("description").optional().computed())
        .attribute(Attribute::new("endpoint", Type::list(endpoint_type())).computed())
        .attribute(s("engine").required())
        .attribute(s("full_engine_version").computed())
        .attribute(s("id").computed())
        .attribute(s("kms_key_id").optional().force_new())
        .attribute(s("major_engine_version").optional().computed())
        .attribute(s("name").required().force_new())
        .attribute(s("network_type").optional().computed().force_new())
        .attribute(Attribute::new("reader_endpoint", Type::list(endpoint_type())).computed())
        .attribute(region::attribute())
        .attribute(set_s("security_group_ids").optional().computed())
        .attribute(
            Attribute::new("snapshot_arns_to_restore", Type::list(Type::String))
                .optional()
                .force_new(),
        )
        .attribute(n("snapshot_retention_limit").optional().computed())
        .attribute(s("status").computed())
        .attribute(set_s("subnet_ids").optional().computed().force_new())
        .attribute(tags::tags_attribute())
        // A framework resource: `tags_all` is computed only.
        .attribute(Attribute::new("tags_all", Type::map(Type::String)).computed())
        .attribute(s("user_group_id").optional())
        .block(
            "cache_usage_limits",
            Nesting::List,
            Block::new()
                .block(
                    "data_storage",
                    Nesting::List,
                    Block::new()
                        .attribute(n("maximum").optional().computed())
                        .attribute(n("minimum").optional().computed())
                        .attribute(s("unit").required()),
                )
                .block(
                    "ecpu_per_second",
                    Nesting::List,
                    Block::new()
                        .attribute(n("maximum").optional().computed())
                        .attribute(n("minimum").optional().computed()),
                ),
        )
        .block("timeouts", Nesting::Single, timeouts_block());
    Schema::new(block)
}

/// HashiCorp's framework `timeouts` block (create, update, delete).
fn timeouts_block() -> Block {
    const D: &str = "A string that can be [parsed as a duration](https://pkg.go.dev/time#ParseDuration) consisting of numbers and unit suffixes, such as \"30s\" or \"2h45m\". Valid time units are \"s\" (seconds), \"m\" (minutes), \"h\" (hours).";
    Block::new()
        .attribute(s("create").optional().description(D))
        .attribute(s("delete").optional().description(format!(
            "{D} Setting a timeout for a Delete operation is only applicable if changes are saved into state before the destroy operation occurs."
        )))
        .attribute(s("update").optional().description(D))
}

fn err_at(attr: &str, summary: impl Into<String>) -> Diagnostic {
    Diagnostic::error(summary, String::new()).at(AttributePath::attr(attr))
}

#[async_trait]
impl tfplugin::Resource for ServerlessCacheResource {
    fn type_name(&self) -> String {
        "aws_elasticache_serverless_cache".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, cfg: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(e) = str_of(cfg, "engine") {
            if !ENGINES.contains(&e.as_str()) {
                d.push(err_at(
                    "engine",
                    format!(
                        "Attribute engine value must be one of: [\"memcached\" \"redis\" \"valkey\"], got: \"{e}\""
                    ),
                ));
            }
        }
        if let Some(t) = str_of(cfg, "network_type") {
            if !["ipv4", "ipv6", "dual_stack"].contains(&t.as_str()) {
                d.push(err_at(
                    "network_type",
                    format!(
                        "Attribute network_type value must be one of: [\"ipv4\" \"ipv6\" \"dual_stack\"], got: \"{t}\""
                    ),
                ));
            }
        }
        d
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        let prior = req.prior_state.clone();
        let config = req.config.clone();
        let mut resp = default_plan(&schema(), req);
        if resp.planned_state.is_null() {
            return resp;
        }
        let meta = self.conn.get().ok();
        let planned = &mut resp.planned_state;
        match meta {
            Some(m) => tags::set_planned_tags_all(m, &config, planned),
            None => planned.set_attr("tags_all", Value::unknown()),
        }
        region::plan_into(meta, &prior, &config, planned, &mut resp.requires_replace);
        let planned = &mut resp.planned_state;
        if prior.is_null() {
            if let Some(name) = str_of(&config, "name") {
                planned.set_attr("id", Value::from(name));
            }
            return resp;
        }
        // `engine`: redis → valkey is an update, any other change replaces.
        let (old, new) = (str_of(&prior, "engine"), planned.get("engine").cloned());
        let engine_changed = !new
            .as_ref()
            .is_some_and(|v| v.same_as(prior.get("engine").unwrap_or(&Value::Null)));
        if engine_changed {
            let in_place = old.as_deref() == Some("redis")
                && new.as_ref().and_then(Value::as_str) == Some("valkey");
            if !in_place {
                resp.requires_replace.push(AttributePath::attr("engine"));
            }
        }
        let planned = &mut resp.planned_state;
        let major_changed = !planned
            .get("major_engine_version")
            .unwrap_or(&Value::Null)
            .same_as(prior.get("major_engine_version").unwrap_or(&Value::Null));
        if engine_changed || major_changed {
            planned.set_attr("full_engine_version", Value::unknown());
            if engine_changed
                && config
                    .get("major_engine_version")
                    .is_none_or(Value::is_null)
            {
                planned.set_attr("major_engine_version", Value::unknown());
            }
        }
        if planned_differs(&prior, planned) {
            planned.set_attr("status", Value::unknown());
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
        let client = &meta.client;
        if req.is_delete() {
            let name = str_of(&req.prior_state, "name").unwrap_or_default();
            let t = timeout(&req.prior_state, "delete", TIMEOUT_DELETE);
            return match delete(client, &name, t).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        let planned = &req.planned_state;
        let name = str_of(planned, "name").unwrap_or_default();
        if req.is_create() {
            if let Err(d) = create(client, &name, planned).await {
                return ApplyResponse::error(Value::Null, d);
            }
            let t = timeout(planned, "create", TIMEOUT_CREATE);
            if let Err(e) = wait_available(client, &name, t).await {
                let d = diag::error("waiting for", WHAT, &name, format!("create: {e}"));
                return after_error(meta, &name, planned, d).await;
            }
        } else {
            let prior = &req.prior_state;
            let t = timeout(planned, "update", TIMEOUT_UPDATE);
            if let Err(d) = update(client, &name, prior, planned, t).await {
                return ApplyResponse::error(prior.clone(), d);
            }
            if !same(prior, planned, "tags_all") {
                let arn = str_of(prior, "arn").unwrap_or_default();
                if let Err(e) = tags::update_tags(
                    client,
                    &arn,
                    prior.get("tags_all").unwrap_or(&Value::Null),
                    planned.get("tags_all").unwrap_or(&Value::Null),
                )
                .await
                {
                    return ApplyResponse::error(
                        prior.clone(),
                        diag::error("updating tags for", WHAT, &name, e),
                    );
                }
            }
        }
        match read_state(meta, &name, planned).await {
            Ok(Some(st)) => ApplyResponse::ok(crate::state::fill_unknowns(planned, &st)),
            Ok(None) => ApplyResponse::error(
                Value::Null,
                diag::error("reading", WHAT, &name, "not found after write"),
            ),
            Err(d) => ApplyResponse::error(req.prior_state.clone(), d),
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let meta = &region::meta_for(meta, &req.current_state);
        let name = str_of(&req.current_state, "name")
            .or_else(|| str_of(&req.current_state, "id"))
            .unwrap_or_default();
        match read_state(meta, &name, &req.current_state).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!(
                    "ElastiCache Serverless Cache ({name}) not found, removing from state"
                );
                ReadResponse::default()
            }
            Err(d) => ReadResponse::unchanged(req.current_state, req.private, d),
        }
    }

    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let (id, region) = region::split_import_id(id);
        let mut st = Value::null_object(&schema().value_type());
        st.set_attr("id", Value::from(id));
        st.set_attr("name", Value::from(id));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        region::upgrade(&self.conn, &schema(), req.version, &req.raw)
    }
}

fn same(a: &Value, b: &Value, name: &str) -> bool {
    a.get(name)
        .unwrap_or(&Value::Null)
        .same_as(b.get(name).unwrap_or(&Value::Null))
}

/// The attributes an update sends (tags and timeouts aside).
const UPDATABLE: &[&str] = &[
    "cache_usage_limits",
    "daily_snapshot_time",
    "description",
    "engine",
    "major_engine_version",
    "security_group_ids",
    "snapshot_retention_limit",
    "user_group_id",
];

fn planned_differs(prior: &Value, planned: &Value) -> bool {
    UPDATABLE.iter().any(|a| !same(prior, planned, a))
}

/// A failed wait after the cache was created: the state as far as it is
/// known (Terraform marks it tainted).
async fn after_error(meta: &Meta, name: &str, planned: &Value, d: Diagnostic) -> ApplyResponse {
    match read_state(meta, name, planned).await {
        Ok(Some(st)) => ApplyResponse::error(crate::state::fill_unknowns(planned, &st), d),
        _ => ApplyResponse::error(Value::Null, d),
    }
}

fn num(v: &Value, name: &str) -> Option<i32> {
    get_i64(v, name).and_then(|n| i32::try_from(n).ok())
}

fn first<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name)
        .and_then(Value::elements)
        .and_then(<[Value]>::first)
}

/// `cache_usage_limits` → the API's `CacheUsageLimits` (None when unset).
pub(crate) fn expand_limits(v: &Value) -> Option<CacheUsageLimits> {
    let l = first(v, "cache_usage_limits")?;
    let data = first(l, "data_storage").map(|d| {
        DataStorage::builder()
            .set_maximum(num(d, "maximum"))
            .set_minimum(num(d, "minimum"))
            .set_unit(str_of(d, "unit").map(|u| DataStorageUnit::from(u.as_str())))
            .build()
    });
    let ecpu = first(l, "ecpu_per_second").map(|e| {
        EcpuPerSecond::builder()
            .set_maximum(num(e, "maximum"))
            .set_minimum(num(e, "minimum"))
            .build()
    });
    Some(
        CacheUsageLimits::builder()
            .set_data_storage(data)
            .set_ecpu_per_second(ecpu)
            .build(),
    )
}

fn opt_i32(n: Option<i32>) -> Value {
    n.map_or(Value::Null, |n| Value::from(i64::from(n)))
}

/// The API's `CacheUsageLimits` → the `cache_usage_limits` block list.
fn flatten_limits(l: Option<&CacheUsageLimits>) -> Value {
    let Some(l) = l else {
        return Value::List(Vec::new());
    };
    let data = l.data_storage().map_or(Vec::new(), |d| {
        vec![Value::object([
            ("maximum", opt_i32(d.maximum())),
            ("minimum", opt_i32(d.minimum())),
            (
                "unit",
                d.unit().map_or(Value::Null, |u| Value::from(u.as_str())),
            ),
        ])]
    });
    let ecpu = l.ecpu_per_second().map_or(Vec::new(), |e| {
        vec![Value::object([
            ("maximum", opt_i32(e.maximum())),
            ("minimum", opt_i32(e.minimum())),
        ])]
    });
    Value::List(vec![Value::object([
        ("data_storage", Value::List(data)),
        ("ecpu_per_second", Value::List(ecpu)),
    ])])
}

/// An endpoint as the one-element list of the resource (empty when none).
fn flatten_endpoint_list(e: Option<&Endpoint>) -> Value {
    Value::List(e.map(flatten_endpoint).into_iter().collect())
}

/// An endpoint as `{address, port}`.
pub(crate) fn flatten_endpoint(e: &Endpoint) -> Value {
    Value::object([
        ("address", e.address().map_or(Value::Null, Value::from)),
        ("port", Value::from(i64::from(e.port().unwrap_or(0)))),
    ])
}

fn opt_strings(v: &Value, name: &str) -> Option<Vec<String>> {
    let s = strings(v.get(name));
    (!s.is_empty()).then_some(s)
}

async fn create(client: &Client, name: &str, planned: &Value) -> Result<(), Diagnostic> {
    let r = client
        .create_serverless_cache()
        .serverless_cache_name(name)
        .engine(str_of(planned, "engine").unwrap_or_default())
        .set_description(str_of(planned, "description"))
        .set_major_engine_version(str_of(planned, "major_engine_version"))
        .set_cache_usage_limits(expand_limits(planned))
        .set_daily_snapshot_time(str_of(planned, "daily_snapshot_time"))
        .set_kms_key_id(str_of(planned, "kms_key_id"))
        .set_network_type(str_of(planned, "network_type").map(|t| NetworkType::from(t.as_str())))
        .set_security_group_ids(opt_strings(planned, "security_group_ids"))
        .set_snapshot_arns_to_restore(opt_strings(planned, "snapshot_arns_to_restore"))
        .set_snapshot_retention_limit(num(planned, "snapshot_retention_limit"))
        .set_subnet_ids(opt_strings(planned, "subnet_ids"))
        .set_user_group_id(str_of(planned, "user_group_id"))
        .set_tags(tags::to_sdk(
            planned.get("tags_all").unwrap_or(&Value::Null),
        ))
        .send()
        .await;
    r.map(|_| ())
        .map_err(|e| diag::api_error("creating", WHAT, name, &e))
}

/// ModifyServerlessCache with what changed, retried while the cache is
/// busy, then wait for `available`.
async fn update(
    client: &Client,
    name: &str,
    prior: &Value,
    planned: &Value,
    t: Duration,
) -> Result<(), Diagnostic> {
    if !planned_differs(prior, planned) {
        return Ok(());
    }
    let changed = |a: &str| !same(prior, planned, a);
    let engine_changed = changed("engine");
    let mut req = client.modify_serverless_cache().serverless_cache_name(name);
    if changed("description") {
        req = req.description(str_of(planned, "description").unwrap_or_default());
    }
    if changed("cache_usage_limits") {
        req = req.set_cache_usage_limits(expand_limits(planned));
    }
    if changed("daily_snapshot_time") {
        req = req.set_daily_snapshot_time(str_of(planned, "daily_snapshot_time"));
    }
    if changed("security_group_ids") {
        req = req.set_security_group_ids(Some(strings(planned.get("security_group_ids"))));
    }
    if changed("snapshot_retention_limit") {
        req = req.set_snapshot_retention_limit(num(planned, "snapshot_retention_limit"));
    }
    if changed("user_group_id") {
        match str_of(planned, "user_group_id").filter(|g| !g.is_empty()) {
            Some(g) => req = req.user_group_id(g),
            None => req = req.remove_user_group(true),
        }
    }
    if engine_changed || changed("major_engine_version") {
        req = req
            .set_engine(engine_changed.then(|| str_of(planned, "engine").unwrap_or_default()))
            .set_major_engine_version(str_of(planned, "major_engine_version"));
    }
    let deadline = Instant::now() + t;
    let mut delay = wait::FIRST_DELAY;
    loop {
        match req.clone().send().await {
            Ok(_) => break,
            Err(e) if e.code() == Some(BUSY) && Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 3 / 2).min(wait::MAX_DELAY);
            }
            Err(e) => return Err(diag::api_error("updating", WHAT, name, &e)),
        }
    }
    wait_available(client, name, t)
        .await
        .map(|_| ())
        .map_err(|e| diag::error("waiting for", WHAT, name, format!("update: {e}")))
}

pub(crate) async fn find_serverless_cache(
    client: &Client,
    name: &str,
) -> Result<Option<ServerlessCache>, String> {
    match client
        .describe_serverless_caches()
        .serverless_cache_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .serverless_caches
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.serverless_cache_name() == Some(name))),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(crate::resources::cluster::sdk_cause(&e)),
    }
}

/// HashiCorp's waiter: `creating` / `modifying` until `available`.
async fn wait_available(client: &Client, name: &str, t: Duration) -> Result<wait::Status, String> {
    wait::wait_for(&["creating", "modifying"], &["available"], t, || async {
        find_serverless_cache(client, name)
            .await
            .map(|c| c.and_then(|c| c.status))
    })
    .await
}

async fn delete(client: &Client, name: &str, t: Duration) -> Result<(), Diagnostic> {
    let deadline = Instant::now() + t;
    let mut delay = wait::FIRST_DELAY;
    loop {
        match client
            .delete_serverless_cache()
            .serverless_cache_name(name)
            .send()
            .await
        {
            Ok(_) => break,
            Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
            Err(e) if e.code() == Some(BUSY) && Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 3 / 2).min(wait::MAX_DELAY);
            }
            Err(e) => return Err(diag::api_error("deleting", WHAT, name, &e)),
        }
    }
    wait::wait_for(&["deleting"], &[], t, || async {
        find_serverless_cache(client, name)
            .await
            .map(|c| c.and_then(|c| c.status))
    })
    .await
    .map(|_| ())
    .map_err(|e| diag::error("waiting for", WHAT, name, format!("delete: {e}")))
}

async fn read_state(meta: &Meta, name: &str, prior: &Value) -> Result<Option<Value>, Diagnostic> {
    let Some(c) = find_serverless_cache(&meta.client, name)
        .await
        .map_err(|e| diag::error("reading", WHAT, name, e))?
    else {
        return Ok(None);
    };
    let arn = c.arn().unwrap_or_default().to_owned();
    let remote = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, name, e))?;
    let (t, t_all) = tags::flatten_tags(meta, &remote, prior.get("tags").unwrap_or(&Value::Null));
    let opt = |s: Option<&str>| s.map_or(Value::Null, Value::from);
    let keep = |a: &str| prior.get(a).cloned().unwrap_or(Value::Null);
    Ok(Some(Value::object([
        ("arn", Value::from(arn.as_str())),
        ("cache_usage_limits", flatten_limits(c.cache_usage_limits())),
        ("create_time", c.create_time().map_or(Value::Null, rfc3339)),
        ("daily_snapshot_time", opt(c.daily_snapshot_time())),
        ("description", opt(c.description())),
        ("endpoint", flatten_endpoint_list(c.endpoint())),
        ("engine", opt(c.engine())),
        ("full_engine_version", opt(c.full_engine_version())),
        ("id", Value::from(name)),
        ("kms_key_id", opt(c.kms_key_id())),
        ("major_engine_version", opt(c.major_engine_version())),
        ("name", Value::from(name)),
        (
            "network_type",
            opt(c.network_type().map(NetworkType::as_str)),
        ),
        (
            "reader_endpoint",
            flatten_endpoint_list(c.reader_endpoint()),
        ),
        ("region", Value::from(meta.region.as_str())),
        (
            "security_group_ids",
            string_set(c.security_group_ids().iter().cloned()),
        ),
        ("snapshot_arns_to_restore", keep("snapshot_arns_to_restore")),
        (
            "snapshot_retention_limit",
            opt_i32(c.snapshot_retention_limit()),
        ),
        ("status", opt(c.status())),
        ("subnet_ids", string_set(c.subnet_ids().iter().cloned())),
        ("tags", t),
        ("tags_all", t_all),
        ("timeouts", keep("timeouts")),
        ("user_group_id", opt(c.user_group_id())),
    ])))
}
