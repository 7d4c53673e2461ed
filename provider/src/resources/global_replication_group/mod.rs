//! `aws_elasticache_global_replication_group`, as HashiCorp's provider 6.69.1
//! has it.
//!
//! * Schema: HashiCorp's (SDKv2) attributes, `timeouts` (create 60m, update
//!   60m, delete 20m), `region` (6.x). `id` is the datastore's ID (the
//!   region prefix AWS puts before the suffix).
//! * Replacement: `global_replication_group_id_suffix`,
//!   `primary_replication_group_id`, `region`.
//! * Create: CreateGlobalReplicationGroup, wait for `available` /
//!   `primary-only`; then, as HashiCorp does, what the configuration asks
//!   for that differs from what the datastore took over from its primary:
//!   `automatic_failover_enabled`, `cache_node_type`, `engine_version` (an
//!   upgrade only; a major one needs `parameter_group_name`, a minor one
//!   refuses it), `num_node_groups` — one ModifyGlobalReplicationGroup (or
//!   Increase/DecreaseNodeGroups…) each, waiting for the datastore after each.
//! * Update: the same calls for what changed, plus the description and the
//!   engine (sent with the version and parameter group).
//! * A downgrade of `engine_version`, or a `parameter_group_name` change
//!   without a major upgrade, is refused while planning.
//! * Delete: DeleteGlobalReplicationGroup with
//!   RetainPrimaryReplicationGroup=true, retried while the datastore is busy
//!   (a secondary still leaving), then wait until it is gone. Secondaries are
//!   the user's to remove first (their `aws_elasticache_replication_group`).
//! * Import by ID (or `id@region`).

mod find;
mod flex;
mod state;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::operation::modify_global_replication_group::builders::ModifyGlobalReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::GlobalReplicationGroup;
use aws_sdk_elasticache::Client;
use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, AttributePath, Diagnostic, Diagnostics,
    Imported, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Schema, UpgradeRequest, Value,
};

use crate::client::{Meta, SharedConn};
use crate::resources::cluster::{get_bool, get_i64, is_downgrade, parse_version, timeout};
use crate::state::str_of;
use crate::{diag, region, wait};
pub(crate) use find::find_global;
use find::{retry_busy, wait_available, DELETE_PENDING, NOT_FOUND};
use flex::{automatic_failover, node_group_number, read_state};
use state::{schema, TIMEOUT_CREATE, TIMEOUT_DELETE, TIMEOUT_UPDATE};

pub(super) const WHAT: &str = "Global Replication Group";

pub struct GlobalReplicationGroupResource {
    conn: SharedConn,
}

impl GlobalReplicationGroupResource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn err_at(attr: &str, summary: impl Into<String>) -> Diagnostic {
    Diagnostic::error(summary, String::new()).at(AttributePath::attr(attr))
}

fn same(a: &Value, b: &Value, name: &str) -> bool {
    a.get(name)
        .unwrap_or(&Value::Null)
        .same_as(b.get(name).unwrap_or(&Value::Null))
}

/// A change the plan asks for: the planned value is known, set, and differs.
fn changed(prior: &Value, planned: &Value, name: &str) -> bool {
    let n = planned.get(name).unwrap_or(&Value::Null);
    n.is_wholly_known() && !n.is_null() && !same(prior, planned, name)
}

#[async_trait]
impl tfplugin::Resource for GlobalReplicationGroupResource {
    fn type_name(&self) -> String {
        "aws_elasticache_global_replication_group".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, cfg: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(e) = str_of(cfg, "engine") {
            if !["redis", "valkey"].contains(&e.as_str()) {
                d.push(err_at(
                    "engine",
                    format!("expected engine to be one of [\"redis\" \"valkey\"], got {e}"),
                ));
            }
        }
        if let Some(v) = str_of(cfg, "engine_version") {
            if parse_version(&v).is_none() {
                d.push(err_at(
                    "engine_version",
                    format!("engine_version: {v} is invalid. Use <major>.<minor>."),
                ));
            }
        }
        if let Some(n) = get_i64(cfg, "num_node_groups") {
            if n < 1 {
                d.push(err_at(
                    "num_node_groups",
                    format!("expected num_node_groups to be at least (1), got {n}"),
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
        region::plan_into(
            meta,
            &prior,
            &config,
            &mut resp.planned_state,
            &mut resp.requires_replace,
        );
        if prior.is_null() {
            return resp;
        }
        for a in [
            "global_replication_group_id_suffix",
            "primary_replication_group_id",
        ] {
            if !same(&prior, &resp.planned_state, a) {
                resp.requires_replace.push(AttributePath::attr(a));
            }
        }
        let planned = &mut resp.planned_state;
        // HashiCorp's CustomizeDiff: no downgrade, and a parameter group
        // only with a major upgrade.
        let mut major_upgrade = false;
        if changed(&prior, planned, "engine_version") {
            let old = str_of(&prior, "engine_version").unwrap_or_default();
            let new = str_of(planned, "engine_version").unwrap_or_default();
            let actual = str_of(&prior, "engine_version_actual").unwrap_or_default();
            match is_downgrade(&old, &new, &actual) {
                Ok(true) => resp.diagnostics.push(err_at(
                    "engine_version",
                    format!(
                        "Downgrading ElastiCache Global Replication Group ({}) engine version requires replacement of the Global Replication Group and all Replication Group members. The provider cannot do this itself: use the \"-replace\" option of terraform plan and apply.",
                        str_of(&prior, "id").unwrap_or_default()
                    ),
                )),
                Ok(false) => {}
                Err(e) => resp.diagnostics.push(err_at("engine_version", e)),
            }
            major_upgrade = parse_version(&new)
                .zip(parse_version(&actual))
                .is_some_and(|(n, a)| n[0] > a[0]);
            planned.set_attr("engine_version_actual", Value::unknown());
        }
        if !same(&prior, planned, "parameter_group_name")
            && str_of(planned, "parameter_group_name").is_some()
            && !major_upgrade
        {
            resp.diagnostics.push(err_at(
                "parameter_group_name",
                "cannot change parameter group name without upgrading major engine version",
            ));
        }
        if changed(&prior, planned, "engine") {
            planned.set_attr("engine_version_actual", Value::unknown());
            if config.get("engine_version").is_none_or(Value::is_null) {
                planned.set_attr("engine_version", Value::unknown());
            }
        }
        if changed(&prior, planned, "num_node_groups") {
            planned.set_attr("global_node_groups", Value::unknown());
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
            let id = state_id(&req.prior_state);
            let t = timeout(&req.prior_state, "delete", TIMEOUT_DELETE);
            return match delete(client, &id, t).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        let planned = &req.planned_state;
        let id;
        if req.is_create() {
            id = match create(client, planned).await {
                Ok(id) => id,
                Err(d) => return ApplyResponse::error(Value::Null, d),
            };
            let t = timeout(planned, "create", TIMEOUT_CREATE);
            let r = match wait_available(client, &id, t).await {
                Ok(g) => after_create(client, &id, &g, planned, t).await,
                Err(e) => Err(diag::error(
                    "waiting for",
                    WHAT,
                    &id,
                    format!("create: {e}"),
                )),
            };
            if let Err(d) = r {
                return after_error(meta, &id, planned, d).await;
            }
        } else {
            id = state_id(&req.prior_state);
            let t = timeout(planned, "update", TIMEOUT_UPDATE);
            if let Err(d) = update(client, &id, &req.prior_state, planned, t).await {
                return after_error(meta, &id, planned, d).await;
            }
        }
        match read_state(meta, &id, planned).await {
            Ok(Some(st)) => ApplyResponse::ok(crate::state::fill_unknowns(planned, &st)),
            Ok(None) => ApplyResponse::error(
                Value::Null,
                diag::error("reading", WHAT, &id, "not found after write"),
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
        let id = state_id(&req.current_state);
        match read_state(meta, &id, &req.current_state).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!(
                    "ElastiCache Global Replication Group ({id}) not found, removing from state"
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
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        region::upgrade(&self.conn, &schema(), req.version, &req.raw)
    }
}

/// The datastore's ID in state (`id`, else `global_replication_group_id`).
fn state_id(st: &Value) -> String {
    str_of(st, "id")
        .filter(|s| !s.is_empty())
        .or_else(|| str_of(st, "global_replication_group_id"))
        .unwrap_or_default()
}

/// A failed step after the datastore exists: the state as far as it is
/// known (Terraform marks a new one tainted).
async fn after_error(meta: &Meta, id: &str, planned: &Value, d: Diagnostic) -> ApplyResponse {
    match read_state(meta, id, planned).await {
        Ok(Some(st)) => ApplyResponse::error(crate::state::fill_unknowns(planned, &st), d),
        _ => ApplyResponse::error(Value::Null, d),
    }
}

async fn create(client: &Client, planned: &Value) -> Result<String, Diagnostic> {
    let suffix = str_of(planned, "global_replication_group_id_suffix").unwrap_or_default();
    let out = client
        .create_global_replication_group()
        .global_replication_group_id_suffix(&suffix)
        .primary_replication_group_id(
            str_of(planned, "primary_replication_group_id").unwrap_or_default(),
        )
        .set_global_replication_group_description(
            str_of(planned, "global_replication_group_description").filter(|d| !d.is_empty()),
        )
        .send()
        .await
        .map_err(|e| diag::api_error("creating", WHAT, &suffix, &e))?;
    out.global_replication_group()
        .and_then(GlobalReplicationGroup::global_replication_group_id)
        .map(str::to_owned)
        .ok_or_else(|| diag::error("creating", WHAT, &suffix, "no ID in the answer"))
}

/// What the configuration asks for beyond what the datastore took over from
/// its primary (HashiCorp's create).
async fn after_create(
    client: &Client,
    id: &str,
    g: &GlobalReplicationGroup,
    planned: &Value,
    t: Duration,
) -> Result<(), Diagnostic> {
    if let Some(af) = get_bool(planned, "automatic_failover_enabled") {
        if af != automatic_failover(g) {
            let req = modify(client, id).automatic_failover_enabled(af);
            modify_and_wait(client, id, req, t).await?;
        }
    }
    if let Some(nt) = str_of(planned, "cache_node_type") {
        if Some(nt.as_str()) != g.cache_node_type() {
            let req = modify(client, id).cache_node_type(nt);
            modify_and_wait(client, id, req, t).await?;
        }
    }
    if let Some(v) = str_of(planned, "engine_version") {
        let current = g.engine_version().unwrap_or_default();
        let (want, have) = (
            parse_version(&v).unwrap_or_default(),
            parse_version(current).unwrap_or_default(),
        );
        let pg = str_of(planned, "parameter_group_name");
        let fail = |m: String| {
            Err(diag::error(
                "updating",
                WHAT,
                id,
                format!("engine version on creation: {m}"),
            ))
        };
        if want[0] < have[0] || (want[0] == have[0] && want[1] < have[1]) {
            return fail(format!(
                "cannot downgrade version when creating, is {current}, want {v}"
            ));
        }
        if want[0] > have[0] {
            if pg.is_none() {
                return fail(format!("cannot change major engine version without parameter_group_name, upgrading from {current} to {v}"));
            }
            let req = modify(client, id)
                .engine_version(&v)
                .set_cache_parameter_group_name(pg);
            modify_and_wait(client, id, req, t).await?;
        } else if want[1] > have[1] {
            if pg.is_some() {
                return fail(format!("cannot change parameter group name on minor engine version upgrade, upgrading from {current} to {v}"));
            }
            let req = modify(client, id).engine_version(&v);
            modify_and_wait(client, id, req, t).await?;
        }
    }
    if let Some(n) = get_i64(planned, "num_node_groups") {
        let have = i64::try_from(g.global_node_groups().len()).unwrap_or(0);
        if n != have {
            resize(client, id, have, n, t).await?;
        }
    }
    Ok(())
}

/// HashiCorp's update: one request per changed setting, in its order,
/// waiting for the datastore after each.
async fn update(
    client: &Client,
    id: &str,
    prior: &Value,
    planned: &Value,
    t: Duration,
) -> Result<(), Diagnostic> {
    if changed(prior, planned, "cache_node_type") {
        let req = modify(client, id)
            .cache_node_type(str_of(planned, "cache_node_type").unwrap_or_default());
        modify_and_wait(client, id, req, t).await?;
    }
    if changed(prior, planned, "automatic_failover_enabled") {
        let req = modify(client, id).automatic_failover_enabled(
            get_bool(planned, "automatic_failover_enabled").unwrap_or(false),
        );
        modify_and_wait(client, id, req, t).await?;
    }
    let engine = changed(prior, planned, "engine");
    if engine || changed(prior, planned, "engine_version") {
        let new = str_of(planned, "engine_version");
        let actual = str_of(prior, "engine_version_actual").unwrap_or_default();
        let (n, a) = (
            new.as_deref().and_then(parse_version).unwrap_or_default(),
            parse_version(&actual).unwrap_or_default(),
        );
        let major = n[0] > a[0];
        let upgrade = major || (n[0] == a[0] && n[1] > a[1]);
        if engine || upgrade {
            let req = modify(client, id)
                .set_engine(engine.then(|| str_of(planned, "engine")).flatten())
                .set_engine_version(new.filter(|_| upgrade || engine))
                .set_cache_parameter_group_name(
                    str_of(planned, "parameter_group_name").filter(|_| major || engine),
                );
            modify_and_wait(client, id, req, t).await?;
        }
    }
    if !same(prior, planned, "global_replication_group_description") {
        let req = modify(client, id).global_replication_group_description(
            str_of(planned, "global_replication_group_description").unwrap_or_default(),
        );
        modify_and_wait(client, id, req, t).await?;
    }
    if changed(prior, planned, "num_node_groups") {
        let have = get_i64(prior, "num_node_groups").unwrap_or(0);
        let want = get_i64(planned, "num_node_groups").unwrap_or(0);
        resize(client, id, have, want, t).await?;
    }
    Ok(())
}

fn modify(client: &Client, id: &str) -> ModifyGlobalReplicationGroupFluentBuilder {
    client
        .modify_global_replication_group()
        .global_replication_group_id(id)
        .apply_immediately(true)
}

/// Send `req`, retried while the datastore is busy, then wait for it.
async fn modify_and_wait(
    client: &Client,
    id: &str,
    req: ModifyGlobalReplicationGroupFluentBuilder,
    t: Duration,
) -> Result<(), Diagnostic> {
    retry_busy(t, || req.clone().send())
        .await
        .map_err(|e| diag::api_error("updating", WHAT, id, &e))?;
    wait_available(client, id, t)
        .await
        .map(|_| ())
        .map_err(|e| diag::error("waiting for", WHAT, id, format!("update: {e}")))
}

/// `num_node_groups` from `have` to `want`: an increase, or a decrease that
/// keeps the lowest-numbered global node groups (HashiCorp's choice).
async fn resize(
    client: &Client,
    id: &str,
    have: i64,
    want: i64,
    t: Duration,
) -> Result<(), Diagnostic> {
    let count = i32::try_from(want).unwrap_or(i32::MAX);
    if want > have {
        retry_busy(t, || {
            client
                .increase_node_groups_in_global_replication_group()
                .global_replication_group_id(id)
                .node_group_count(count)
                .apply_immediately(true)
                .send()
        })
        .await
        .map_err(|e| diag::api_error("increasing node groups of", WHAT, id, &e))?;
    } else {
        let g = find_global(client, id)
            .await
            .map_err(|e| diag::error("reading", WHAT, id, e))?
            .ok_or_else(|| diag::error("reading", WHAT, id, "not found"))?;
        let mut ids: Vec<String> = g
            .global_node_groups()
            .iter()
            .filter_map(|n| n.global_node_group_id().map(str::to_owned))
            .collect();
        ids.sort_by_key(|i| node_group_number(i));
        ids.truncate(usize::try_from(want).unwrap_or(0));
        retry_busy(t, || {
            client
                .decrease_node_groups_in_global_replication_group()
                .global_replication_group_id(id)
                .node_group_count(count)
                .set_global_node_groups_to_retain(Some(ids.clone()))
                .apply_immediately(true)
                .send()
        })
        .await
        .map_err(|e| diag::api_error("decreasing node groups of", WHAT, id, &e))?;
    }
    wait_available(client, id, t)
        .await
        .map(|_| ())
        .map_err(|e| diag::error("waiting for", WHAT, id, format!("update: {e}")))
}

/// Take replication group `member` (of `region`) out of datastore `id`
/// before deleting it, as HashiCorp's replication group does: AWS refuses
/// to delete a group that is still a member. A datastore that is gone, or
/// a group that is no longer a member, is no error. Waits until the
/// datastore no longer lists the group.
pub(crate) async fn disassociate_member(
    client: &Client,
    id: &str,
    member: &str,
    region: &str,
    t: Duration,
) -> Result<(), String> {
    let r = retry_busy(t, || {
        client
            .disassociate_global_replication_group()
            .global_replication_group_id(id)
            .replication_group_id(member)
            .replication_group_region(region)
            .send()
    })
    .await;
    match r {
        Ok(_) => {}
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
        Err(e)
            if e.code() == Some("InvalidParameterValue")
                && e.message().is_some_and(|m| {
                    m.contains("is not associated") || m.contains("is not a member")
                }) =>
        {
            return Ok(());
        }
        Err(e) => return Err(crate::resources::cluster::sdk_cause(&e)),
    }
    wait::wait_for(&[], &["detached"], t, || async {
        let g = find_global(client, id).await?;
        let listed = g.is_some_and(|g| {
            g.members()
                .iter()
                .any(|m| m.replication_group_id() == Some(member))
        });
        Ok::<_, String>(Some(
            if listed { "associated" } else { "detached" }.to_owned(),
        ))
    })
    .await
    .map(|_| ())
}

async fn delete(client: &Client, id: &str, t: Duration) -> Result<(), Diagnostic> {
    let r = retry_busy(t, || {
        client
            .delete_global_replication_group()
            .global_replication_group_id(id)
            .retain_primary_replication_group(true)
            .send()
    })
    .await;
    match r {
        Ok(_) => {}
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
        Err(e) => return Err(diag::api_error("deleting", WHAT, id, &e)),
    }
    wait::wait_for(DELETE_PENDING, &[], t, || async {
        find_global(client, id)
            .await
            .map(|g| g.and_then(|g| g.status().map(str::to_owned)))
    })
    .await
    .map(|_| ())
    .map_err(|e| diag::error("waiting for", WHAT, id, format!("delete: {e}")))
}
