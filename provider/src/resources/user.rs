//! `aws_elasticache_user`, as HashiCorp's provider 6.69.1 has it.
//!
//! * `user_id`, `user_name` force replacement; `access_string`,
//!   `authentication_mode`, `engine` (`redis`/`valkey`, any case, a change of
//!   case alone is no change), `no_password_required` (default false),
//!   `passwords` (sensitive, at most 2) change in place (ModifyUser, then
//!   wait for `active`); tags; `region` (6.x).
//! * `passwords_wo` (write-only, 6.41+): sent as the one password on create
//!   and whenever `passwords_wo_version` changes; never stored. It conflicts
//!   with `passwords` and `authentication_mode`.
//! * `authentication_mode`: `type` and the computed `password_count` are read
//!   back while the block is configured; its `passwords` are kept from the
//!   configuration (the API never returns passwords).
//! * Timeouts: 5 minutes each (create, read, update, delete). A read waits
//!   out `modifying` (an out-of-band change would fail tagging calls).
//! * Import by user ID (or `id@region`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticache::types::{AuthenticationMode, InputAuthenticationType, User};
use aws_sdk_elasticache::Client;
use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block,
    Diagnostic, Diagnostics, Imported, NestedBlock, Nesting, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse, Schema, Type, UpgradeRequest, Value,
};

use crate::client::{Meta, SharedConn};
use crate::resources::cluster::timeout;
use crate::state::{str_of, strings};
use crate::{diag, region, tags, wait};

const WHAT: &str = "User";
pub(crate) const NOT_FOUND: &str = "UserNotFound";
const TIMEOUT: Duration = Duration::from_secs(300);

pub struct UserResource {
    conn: SharedConn,
}

impl UserResource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String)
}

pub(crate) fn schema() -> Schema {
    let timeouts = Block::new()
        .attribute(s("create").optional())
        .attribute(s("delete").optional())
        .attribute(s("read").optional())
        .attribute(s("update").optional());
    Schema::new(
        Block::new()
            .attribute(s("access_string").required())
            .attribute(s("arn").computed())
            .attribute(s("engine").required())
            .attribute(s("id").optional().computed())
            .attribute(Attribute::new("no_password_required", Type::Bool).optional())
            .attribute(
                Attribute::new("passwords", Type::set(Type::String))
                    .optional()
                    .sensitive(),
            )
            .attribute(s("passwords_wo").optional().sensitive().write_only())
            .attribute(Attribute::new("passwords_wo_version", Type::Number).optional())
            .attribute(region::attribute())
            .attribute(tags::tags_attribute())
            .attribute(tags::tags_all_attribute())
            .attribute(s("user_id").required().force_new())
            .attribute(s("user_name").required().force_new())
            .nested(
                NestedBlock::new(
                    "authentication_mode",
                    Nesting::List,
                    Block::new()
                        .attribute(Attribute::new("password_count", Type::Number).computed())
                        .attribute(
                            Attribute::new("passwords", Type::set(Type::String))
                                .optional()
                                .sensitive(),
                        )
                        .attribute(s("type").required()),
                )
                .max_items(1),
            )
            .block("timeouts", Nesting::Single, timeouts),
    )
}

fn err_at(attr: &str, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(msg, "").at(AttributePath::attr(attr))
}

fn is_set(v: &Value, name: &str) -> bool {
    v.get(name).is_some_and(|x| !x.is_null())
}

/// The first `authentication_mode` block, if configured.
fn auth_mode(v: &Value) -> Option<&Value> {
    v.get("authentication_mode")
        .and_then(Value::elements)
        .and_then(<[Value]>::first)
        .filter(|b| !b.is_null())
}

/// HashiCorp's validators and conflicts.
pub(crate) fn validate(cfg: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(e) = str_of(cfg, "engine") {
        if !["redis", "valkey"].contains(&e.to_ascii_lowercase().as_str()) {
            d.push(err_at(
                "engine",
                format!("expected engine to be one of [\"redis\" \"valkey\"], got {e}"),
            ));
        }
    }
    if let Some(pws) = cfg.get("passwords").and_then(Value::elements) {
        if pws.len() > 2 {
            d.push(err_at(
                "passwords",
                format!(
                    "Too many list items: attribute supports 2 item maximum, but config has {}",
                    pws.len()
                ),
            ));
        }
        for p in pws.iter().filter_map(Value::as_str) {
            if !(16..=128).contains(&p.len()) {
                d.push(err_at(
                    "passwords",
                    "expected length of passwords to be in the range (16 - 128)",
                ));
            }
        }
    }
    if let Some(t) = auth_mode(cfg).and_then(|b| str_of(b, "type")) {
        if !["password", "no-password-required", "iam"].contains(&t.as_str()) {
            d.push(err_at(
                "authentication_mode",
                format!("authentication_mode.0.type: expected one of password, no-password-required, iam, got {t}"),
            ));
        }
    }
    if is_set(cfg, "passwords_wo") {
        for other in ["passwords", "authentication_mode"] {
            let given = match other {
                "authentication_mode" => auth_mode(cfg).is_some(),
                _ => is_set(cfg, other),
            };
            if given {
                d.push(err_at(
                    "passwords_wo",
                    format!("\"passwords_wo\": conflicts with {other}"),
                ));
            }
        }
    }
    if is_set(cfg, "passwords_wo_version") && !is_set(cfg, "passwords_wo") {
        d.push(err_at(
            "passwords_wo_version",
            "\"passwords_wo_version\": all of `passwords_wo,passwords_wo_version` must be specified",
        ));
    }
    d
}

/// `engine` compares without case.
fn same_engine(a: &Value, b: &Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => a.same_as(b),
    }
}

#[async_trait]
impl tfplugin::Resource for UserResource {
    fn type_name(&self) -> String {
        "aws_elasticache_user".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate(config)
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
            if let Some(id) = str_of(&config, "user_id") {
                planned.set_attr("id", Value::from(id));
            }
            set_unknown_password_count(planned);
            return resp;
        }
        if let (Some(p), Some(n)) = (prior.get("engine"), planned.get("engine")) {
            if same_engine(p, n) {
                let p = p.clone();
                planned.set_attr("engine", p);
            }
        }
        // A new `type` or password set changes the count.
        let pa = prior
            .get("authentication_mode")
            .cloned()
            .unwrap_or_default();
        let na = planned
            .get("authentication_mode")
            .cloned()
            .unwrap_or_default();
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Value::List(es) = &mut v {
                for e in es {
                    e.set_attr("password_count", Value::Null);
                }
            }
            v
        };
        if !strip(&pa).same_as(&strip(&na)) || changed(&prior, planned, "passwords_wo_version") {
            set_unknown_password_count(planned);
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
            return create(meta, &req.planned_state, &req.config).await;
        }
        update(meta, &req.prior_state, &req.planned_state, &req.config).await
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let meta = &region::meta_for(meta, &req.current_state);
        let id = str_of(&req.current_state, "id").unwrap_or_default();
        let t = timeout(&req.current_state, "read", TIMEOUT);
        match read_state(meta, &id, &req.current_state, t).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!("ElastiCache User ({id}) not found, removing from state");
                ReadResponse::default()
            }
            Err(d) => ReadResponse::unchanged(req.current_state, req.private, d),
        }
    }

    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let (id, region) = region::split_import_id(id);
        let mut st = Value::null_object(&schema().value_type());
        st.set_attr("id", Value::from(id));
        st.set_attr("authentication_mode", Value::List(Vec::new()));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        region::upgrade(&self.conn, &schema(), req.version, &req.raw)
    }
}

fn changed(prior: &Value, planned: &Value, name: &str) -> bool {
    let p = prior.get(name).unwrap_or(&Value::Null);
    let n = planned.get(name).unwrap_or(&Value::Null);
    !p.same_as(n)
}

fn set_unknown_password_count(planned: &mut Value) {
    if let Some(Value::List(es)) = planned.get_mut("authentication_mode") {
        for e in es {
            e.set_attr("password_count", Value::unknown());
        }
    }
}

fn expand_auth_mode(b: &Value) -> AuthenticationMode {
    let pws = strings(b.get("passwords"));
    AuthenticationMode::builder()
        .set_type(str_of(b, "type").map(|t| InputAuthenticationType::from(t.as_str())))
        .set_passwords((!pws.is_empty()).then_some(pws))
        .build()
}

/// The passwords to send: `passwords`, else the write-only `passwords_wo`.
fn passwords(planned: &Value, config: &Value) -> Option<Vec<String>> {
    let pws = strings(planned.get("passwords"));
    if !pws.is_empty() {
        return Some(pws);
    }
    str_of(config, "passwords_wo").map(|p| vec![p])
}

async fn create(meta: &Meta, planned: &Value, config: &Value) -> ApplyResponse {
    let id = str_of(planned, "user_id").unwrap_or_default();
    let mut input = meta
        .client
        .create_user()
        .user_id(&id)
        .user_name(str_of(planned, "user_name").unwrap_or_default())
        .engine(str_of(planned, "engine").unwrap_or_default())
        .access_string(str_of(planned, "access_string").unwrap_or_default())
        .no_password_required(
            planned
                .get("no_password_required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
        .set_passwords(passwords(planned, config))
        .set_tags(tags::to_sdk(
            planned.get("tags_all").unwrap_or(&Value::Null),
        ));
    if let Some(b) = auth_mode(planned) {
        input = input.authentication_mode(expand_auth_mode(b));
    }
    if let Err(e) = input.send().await {
        return ApplyResponse::error(Value::Null, diag::api_error("creating", WHAT, &id, &e));
    }
    let t = timeout(planned, "create", TIMEOUT);
    if let Err(e) = wait_status(&meta.client, &id, &["creating"], &["active"], t).await {
        let mut st = planned.clone();
        fill_unknown_null(&mut st);
        return ApplyResponse::error(
            st,
            diag::error("waiting for", WHAT, &id, format!("create: {e}")),
        );
    }
    finish(meta, &id, planned).await
}

fn fill_unknown_null(st: &mut Value) {
    if let Value::Object(m) = st {
        for v in m.values_mut() {
            if !v.is_wholly_known() {
                *v = Value::Null;
            }
        }
    }
    if let Some(Value::List(es)) = st.get_mut("authentication_mode") {
        for e in es {
            if !e.get("password_count").is_some_and(Value::is_wholly_known) {
                e.set_attr("password_count", Value::Null);
            }
        }
    }
}

async fn finish(meta: &Meta, id: &str, planned: &Value) -> ApplyResponse {
    let t = timeout(planned, "read", TIMEOUT);
    match read_state(meta, id, planned, t).await {
        Ok(Some(st)) => ApplyResponse::ok(st),
        Ok(None) => {
            let mut st = planned.clone();
            fill_unknown_null(&mut st);
            ApplyResponse::error(
                st,
                diag::error("reading", WHAT, id, "not found after write"),
            )
        }
        Err(d) => {
            let mut st = planned.clone();
            fill_unknown_null(&mut st);
            ApplyResponse::error(st, d)
        }
    }
}

async fn update(meta: &Meta, prior: &Value, planned: &Value, config: &Value) -> ApplyResponse {
    let id = str_of(prior, "id").unwrap_or_default();
    let ch = |n: &str| changed(prior, planned, n);
    let mut input = meta.client.modify_user().user_id(&id);
    let mut any = false;
    if ch("access_string") {
        input = input.access_string(str_of(planned, "access_string").unwrap_or_default());
        any = true;
    }
    if ch("authentication_mode") {
        if let Some(b) = auth_mode(planned) {
            input = input.authentication_mode(expand_auth_mode(b));
            any = true;
        }
    }
    if ch("engine") {
        input = input.engine(str_of(planned, "engine").unwrap_or_default());
        any = true;
    }
    if ch("no_password_required") {
        input = input.no_password_required(
            planned
                .get("no_password_required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        );
        any = true;
    }
    if ch("passwords") {
        input = input.set_passwords(Some(strings(planned.get("passwords"))));
        any = true;
    }
    if ch("passwords_wo_version") {
        if let Some(p) = str_of(config, "passwords_wo") {
            input = input.passwords(p);
            any = true;
        }
    }
    if any {
        if let Err(e) = input.send().await {
            return ApplyResponse::error(prior.clone(), diag::api_error("updating", WHAT, &id, &e));
        }
        let t = timeout(planned, "update", TIMEOUT);
        if let Err(e) = wait_status(&meta.client, &id, &["modifying"], &["active"], t).await {
            return ApplyResponse::error(
                prior.clone(),
                diag::error("waiting for", WHAT, &id, format!("update: {e}")),
            );
        }
    }
    if ch("tags_all") {
        let arn = str_of(prior, "arn").unwrap_or_default();
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
    finish(meta, &id, planned).await
}

async fn delete(meta: &Meta, prior: &Value) -> Result<(), Diagnostic> {
    let id = str_of(prior, "id").unwrap_or_default();
    match meta.client.delete_user().user_id(&id).send().await {
        Ok(_) => {}
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
        Err(e) => return Err(diag::api_error("deleting", WHAT, &id, &e)),
    }
    let t = timeout(prior, "delete", TIMEOUT);
    wait_status(&meta.client, &id, &["deleting"], &[], t)
        .await
        .map(|_| ())
        .map_err(|e| diag::error("waiting for", WHAT, &id, format!("delete: {e}")))
}

/// The user `id`, or `None` when it does not exist.
pub(crate) async fn find_user(client: &Client, id: &str) -> Result<Option<User>, String> {
    match client.describe_users().user_id(id).send().await {
        Ok(o) => Ok(o.users.and_then(|mut v| v.pop())),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(crate::resources::cluster::sdk_cause(&e)),
    }
}

async fn wait_status(
    client: &Client,
    id: &str,
    pending: &[&str],
    target: &[&str],
    t: Duration,
) -> Result<wait::Status, String> {
    wait::wait_for(pending, target, t, || async {
        find_user(client, id)
            .await
            .map(|u| u.and_then(|u| u.status))
    })
    .await
}

/// The state of user `id`; `prior` keeps what the API cannot tell
/// (passwords, engine case, whether `authentication_mode` is configured).
async fn read_state(
    meta: &Meta,
    id: &str,
    prior: &Value,
    t: Duration,
) -> Result<Option<Value>, Diagnostic> {
    // Wait out an ongoing (out-of-band) modification; a user that is gone
    // is gone at once.
    let deadline = std::time::Instant::now() + t;
    let mut delay = wait::FIRST_DELAY;
    let u = loop {
        let Some(u) = find_user(&meta.client, id)
            .await
            .map_err(|e| diag::error("reading", WHAT, id, e))?
        else {
            return Ok(None);
        };
        if u.status() != Some("modifying") {
            break u;
        }
        if std::time::Instant::now() >= deadline {
            return Err(diag::error("reading", WHAT, id, "still modifying"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(wait::MAX_DELAY);
    };
    let arn = u.arn.clone().unwrap_or_default();
    let remote = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    let (t, t_all) = tags::flatten_tags(meta, &remote, prior.get("tags").unwrap_or(&Value::Null));
    let mut st = if prior.is_null() {
        Value::null_object(&schema().value_type())
    } else {
        prior.clone()
    };
    st.set_attr("id", Value::from(u.user_id().unwrap_or(id)));
    st.set_attr("user_id", Value::from(u.user_id().unwrap_or(id)));
    st.set_attr("user_name", u.user_name().map_or(Value::Null, Value::from));
    st.set_attr(
        "access_string",
        u.access_string().map_or(Value::Null, Value::from),
    );
    st.set_attr("arn", Value::from(arn.as_str()));
    let engine = u.engine().unwrap_or_default();
    match prior.get("engine").and_then(Value::as_str) {
        Some(p) if p.eq_ignore_ascii_case(engine) => {}
        _ => st.set_attr("engine", Value::from(engine)),
    }
    st.set_attr("tags", t);
    st.set_attr("tags_all", t_all);
    st.set_attr("region", Value::from(meta.region.as_str()));
    // `authentication_mode` is read back only where it is configured (a
    // block cannot appear unless written); an import starts without it.
    let auth = u.authentication();
    let modes = match prior.get("authentication_mode").and_then(Value::elements) {
        Some([b, ..]) if !b.is_null() => {
            let mut b = b.clone();
            if let Some(a) = auth {
                if let Some(t) = a.r#type() {
                    b.set_attr("type", Value::from(t.as_str()));
                }
                b.set_attr(
                    "password_count",
                    Value::from(i64::from(a.password_count().unwrap_or(0))),
                );
            }
            Value::List(vec![b])
        }
        _ => Value::List(Vec::new()),
    };
    st.set_attr("authentication_mode", modes);
    // `no_password_required` (HashiCorp's default false) is not reported
    // by the API: it keeps its configured value.
    if let Value::Object(m) = &mut st {
        for v in m.values_mut() {
            if !v.is_wholly_known() && !matches!(v, Value::List(_)) {
                *v = Value::Null;
            }
        }
    }
    Ok(Some(st))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        let mut c = Value::null_object(&schema().value_type());
        c.set_attr("user_id", Value::from("u1"));
        c.set_attr("user_name", Value::from("u1"));
        c.set_attr("engine", Value::from("REDIS"));
        c.set_attr("access_string", Value::from("on ~* +@all"));
        c.set_attr("authentication_mode", Value::List(Vec::new()));
        for (k, v) in pairs {
            c.set_attr(k, v.clone());
        }
        c
    }

    #[test]
    fn validation_follows_hashicorp() {
        assert!(!validate(&cfg(&[])).has_errors());
        assert!(validate(&cfg(&[("engine", Value::from("memcached"))])).has_errors());
        let short = Value::set(vec![Value::from("short")]);
        assert!(validate(&cfg(&[("passwords", short)])).has_errors());
        let wo = cfg(&[
            ("passwords_wo", Value::from("0123456789abcdef")),
            ("passwords_wo_version", Value::from(1)),
        ]);
        assert!(!validate(&wo).has_errors());
        let both = cfg(&[
            ("passwords_wo", Value::from("0123456789abcdef")),
            (
                "passwords",
                Value::set(vec![Value::from("0123456789abcdef")]),
            ),
        ]);
        assert!(validate(&both).has_errors());
        let version_alone = cfg(&[("passwords_wo_version", Value::from(1))]);
        assert!(validate(&version_alone).has_errors());
        // The write-only password is what create sends.
        assert_eq!(
            passwords(&cfg(&[]), &wo),
            Some(vec!["0123456789abcdef".to_owned()])
        );
    }

    #[test]
    fn engine_case_is_no_change() {
        assert!(same_engine(&Value::from("redis"), &Value::from("REDIS")));
        assert!(!same_engine(&Value::from("redis"), &Value::from("valkey")));
    }
}
