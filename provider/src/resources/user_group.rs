//! `aws_elasticache_user_group`, as HashiCorp's provider 6.69.1 has it.
//!
//! * `user_group_id` forces replacement; `engine` (`redis`/`valkey`, any
//!   case) and `user_ids` change in place (ModifyUserGroup with the users to
//!   add and remove, then wait for `active`); tags; `region` (6.x).
//! * Removing a user that is no longer a member ("is not a member of user
//!   group", 6.14) is no error.
//! * A user added or removed behind Terraform's back (or by an
//!   `aws_elasticache_user_group_association`) shows in `user_ids` as drift.
//! * Fixed timeouts (no `timeouts` block): 10 minutes each.
//! * Import by user group ID (or `id@region`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_elasticache::types::UserGroup;
use aws_sdk_elasticache::Client;
use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, Attribute, AttributePath, Block,
    Diagnostic, Diagnostics, Imported, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
    Schema, Type, UpgradeRequest, Value,
};

use crate::client::{Meta, SharedConn};
use crate::state::{str_of, string_set, strings};
use crate::{diag, region, tags, wait};

const WHAT: &str = "User Group";
pub(crate) const NOT_FOUND: &str = "UserGroupNotFound";
pub(crate) const TIMEOUT: Duration = Duration::from_secs(600);

pub struct UserGroupResource {
    conn: SharedConn,
}

impl UserGroupResource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String)
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(s("arn").computed())
            .attribute(s("engine").required())
            .attribute(s("id").optional().computed())
            .attribute(region::attribute())
            .attribute(tags::tags_attribute())
            .attribute(tags::tags_all_attribute())
            .attribute(s("user_group_id").required().force_new())
            .attribute(Attribute::new("user_ids", Type::set(Type::String)).optional()),
    )
}

#[async_trait]
impl tfplugin::Resource for UserGroupResource {
    fn type_name(&self) -> String {
        "aws_elasticache_user_group".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, cfg: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(e) = str_of(cfg, "engine") {
            if !["redis", "valkey"].contains(&e.to_ascii_lowercase().as_str()) {
                d.push(
                    Diagnostic::error(
                        format!("expected engine to be one of [\"redis\" \"valkey\"], got {e}"),
                        "",
                    )
                    .at(AttributePath::attr("engine")),
                );
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
            if let Some(id) = str_of(&config, "user_group_id") {
                planned.set_attr("id", Value::from(id));
            }
            return resp;
        }
        if let (Some(p), Some(n)) = (str_of(&prior, "engine"), str_of(planned, "engine")) {
            if p.eq_ignore_ascii_case(&n) {
                planned.set_attr("engine", Value::from(p));
            }
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
            let id = str_of(&req.prior_state, "id").unwrap_or_default();
            return match delete(client, &id).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        let planned = &req.planned_state;
        let id = str_of(planned, "user_group_id").unwrap_or_default();
        if req.is_create() {
            let users = strings(planned.get("user_ids"));
            let r = client
                .create_user_group()
                .user_group_id(&id)
                .engine(str_of(planned, "engine").unwrap_or_default())
                .set_user_ids((!users.is_empty()).then_some(users))
                .set_tags(tags::to_sdk(
                    planned.get("tags_all").unwrap_or(&Value::Null),
                ))
                .send()
                .await;
            if let Err(e) = r {
                return ApplyResponse::error(
                    Value::Null,
                    diag::api_error("creating", WHAT, &id, &e),
                );
            }
            if let Err(e) = wait_active(client, &id).await {
                let mut st = planned.clone();
                st.set_attr("arn", Value::Null);
                return ApplyResponse::error(
                    st,
                    diag::error("waiting for", WHAT, &id, format!("create: {e}")),
                );
            }
        } else {
            let prior = &req.prior_state;
            let old = strings(prior.get("user_ids"));
            let new = strings(planned.get("user_ids"));
            let add: Vec<String> = new.iter().filter(|u| !old.contains(u)).cloned().collect();
            let del: Vec<String> = old.iter().filter(|u| !new.contains(u)).cloned().collect();
            let engine_changed = !prior
                .get("engine")
                .unwrap_or(&Value::Null)
                .same_as(planned.get("engine").unwrap_or(&Value::Null));
            if !add.is_empty() || !del.is_empty() || engine_changed {
                if let Err(d) = modify(
                    client,
                    &id,
                    add,
                    del,
                    engine_changed.then(|| str_of(planned, "engine").unwrap_or_default()),
                )
                .await
                {
                    return ApplyResponse::error(prior.clone(), d);
                }
            }
            if !prior
                .get("tags_all")
                .unwrap_or(&Value::Null)
                .same_as(planned.get("tags_all").unwrap_or(&Value::Null))
            {
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
                        diag::error("updating tags for", WHAT, &id, e),
                    );
                }
            }
        }
        match read_state(meta, &id, planned).await {
            Ok(Some(st)) => ApplyResponse::ok(crate::state::fill_unknowns(planned, &st)),
            Ok(None) => ApplyResponse::error(
                Value::Null,
                diag::error("reading", WHAT, &id, "not found after write"),
            ),
            Err(d) => {
                let mut st = planned.clone();
                st.set_attr("arn", Value::Null);
                ApplyResponse::error(st, d)
            }
        }
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let meta = &region::meta_for(meta, &req.current_state);
        let id = str_of(&req.current_state, "id").unwrap_or_default();
        match read_state(meta, &id, &req.current_state).await {
            Ok(Some(st)) => ReadResponse {
                new_state: st,
                private: req.private,
                diagnostics: Diagnostics::new(),
            },
            Ok(None) => {
                tracing::warn!("ElastiCache User Group ({id}) not found, removing from state");
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

/// ModifyUserGroup, retried while the group is busy (`modifying`), then
/// wait for `active`. A user to remove that is no longer a member is
/// dropped from the request.
pub(crate) async fn modify(
    client: &Client,
    id: &str,
    add: Vec<String>,
    mut del: Vec<String>,
    engine: Option<String>,
) -> Result<(), Diagnostic> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut delay = wait::FIRST_DELAY;
    loop {
        if add.is_empty() && del.is_empty() && engine.is_none() {
            return Ok(());
        }
        let r = client
            .modify_user_group()
            .user_group_id(id)
            .set_user_ids_to_add((!add.is_empty()).then(|| add.clone()))
            .set_user_ids_to_remove((!del.is_empty()).then(|| del.clone()))
            .set_engine(engine.clone())
            .send()
            .await;
        match r {
            Ok(_) => break,
            Err(e) => {
                use aws_sdk_elasticache::error::ProvideErrorMetadata;
                let msg = e.message().unwrap_or_default().to_owned();
                if e.code() == Some("InvalidUserGroupState") && std::time::Instant::now() < deadline
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 3 / 2).min(wait::MAX_DELAY);
                    continue;
                }
                if msg.contains("is not a member of user group") {
                    let before = del.len();
                    del.retain(|u| !msg.contains(u.as_str()));
                    if del.len() < before {
                        continue;
                    }
                }
                return Err(diag::api_error("modifying", WHAT, id, &e));
            }
        }
    }
    wait_active(client, id)
        .await
        .map(|_| ())
        .map_err(|e| diag::error("waiting for", WHAT, id, format!("update: {e}")))
}

pub(crate) async fn find_user_group(
    client: &Client,
    id: &str,
) -> Result<Option<UserGroup>, String> {
    match client.describe_user_groups().user_group_id(id).send().await {
        Ok(o) => Ok(o.user_groups.and_then(|mut v| v.pop())),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(crate::resources::cluster::sdk_cause(&e)),
    }
}

pub(crate) async fn wait_active(client: &Client, id: &str) -> Result<wait::Status, String> {
    wait::wait_for(&["creating", "modifying"], &["active"], TIMEOUT, || async {
        find_user_group(client, id)
            .await
            .map(|g| g.and_then(|g| g.status))
    })
    .await
}

async fn delete(client: &Client, id: &str) -> Result<(), Diagnostic> {
    match client.delete_user_group().user_group_id(id).send().await {
        Ok(_) => {}
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => return Ok(()),
        Err(e) => return Err(diag::api_error("deleting", WHAT, id, &e)),
    }
    wait::wait_for(&["deleting"], &[], TIMEOUT, || async {
        find_user_group(client, id)
            .await
            .map(|g| g.and_then(|g| g.status))
    })
    .await
    .map(|_| ())
    .map_err(|e| diag::error("waiting for", WHAT, id, format!("delete: {e}")))
}

async fn read_state(meta: &Meta, id: &str, prior: &Value) -> Result<Option<Value>, Diagnostic> {
    let Some(g) = find_user_group(&meta.client, id)
        .await
        .map_err(|e| diag::error("reading", WHAT, id, e))?
    else {
        return Ok(None);
    };
    let arn = g.arn.clone().unwrap_or_default();
    let remote = tags::list_tags(&meta.client, &arn)
        .await
        .map_err(|e| diag::error("listing tags for", WHAT, id, e))?;
    let (t, t_all) = tags::flatten_tags(meta, &remote, prior.get("tags").unwrap_or(&Value::Null));
    let engine = g.engine().unwrap_or_default();
    let engine = match str_of(prior, "engine") {
        Some(p) if p.eq_ignore_ascii_case(engine) => p,
        _ => engine.to_owned(),
    };
    let users = g.user_ids();
    // HashiCorp stores an empty set as null when none is configured.
    let user_ids = if users.is_empty() && prior.get("user_ids").is_none_or(Value::is_null) {
        Value::Null
    } else {
        string_set(users.iter().cloned())
    };
    let gid = g.user_group_id().unwrap_or(id).to_owned();
    Ok(Some(Value::object([
        ("arn", Value::from(arn.as_str())),
        ("engine", Value::from(engine)),
        ("id", Value::from(gid.as_str())),
        ("region", Value::from(meta.region.as_str())),
        ("tags", t),
        ("tags_all", t_all),
        ("user_group_id", Value::from(gid.as_str())),
        ("user_ids", user_ids),
    ])))
}
