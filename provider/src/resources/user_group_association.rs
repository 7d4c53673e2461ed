//! `aws_elasticache_user_group_association`, as HashiCorp's provider 6.69.1
//! has it: one user in one user group, managed apart from the group's
//! `user_ids`.
//!
//! * `user_group_id` and `user_id` force replacement; `id` is
//!   `user_group_id,user_id` (also the import ID, or with `@region`).
//! * create: ModifyUserGroup with the user to add — retried while the group
//!   is `modifying` (another association, or the group itself, changing it:
//!   HashiCorp's known race) — then wait for the group to be `active`.
//! * read: the user must be a member; a user removed behind Terraform's
//!   back leaves the state, so the plan shows it added again (drift).
//! * delete: ModifyUserGroup with the user to remove (the same retry); a
//!   user or group already gone is no error.
//! * Timeouts: create and delete, 10 minutes each (HashiCorp's).

use std::sync::Arc;

use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic,
    Diagnostics, Imported, Nesting, PlanRequest, PlanResponse, ReadRequest, ReadResponse, Schema,
    Type, UpgradeRequest, Value,
};

use crate::client::SharedConn;
use crate::resources::user_group::{find_user_group, modify};
use crate::state::str_of;
use crate::{diag, region};

const WHAT: &str = "User Group Association";

pub struct UserGroupAssociation {
    conn: SharedConn,
}

impl UserGroupAssociation {
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
            .attribute(s("id").optional().computed())
            .attribute(region::attribute())
            .attribute(s("user_group_id").required().force_new())
            .attribute(s("user_id").required().force_new())
            .block(
                "timeouts",
                Nesting::Single,
                Block::new()
                    .attribute(s("create").optional())
                    .attribute(s("delete").optional()),
            ),
    )
}

fn id_of(group: &str, user: &str) -> String {
    format!("{group},{user}")
}

/// `user_group_id,user_id`.
fn parse_id(id: &str) -> Option<(&str, &str)> {
    match id.split_once(',') {
        Some((g, u)) if !g.is_empty() && !u.is_empty() && !u.contains(',') => Some((g, u)),
        _ => None,
    }
}

#[async_trait]
impl tfplugin::Resource for UserGroupAssociation {
    fn type_name(&self) -> String {
        "aws_elasticache_user_group_association".into()
    }

    fn schema(&self) -> Schema {
        schema()
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
            if let (Some(g), Some(u)) =
                (str_of(&config, "user_group_id"), str_of(&config, "user_id"))
            {
                resp.planned_state
                    .set_attr("id", Value::from(id_of(&g, &u)));
            }
        }
        resp
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ApplyResponse::error(req.prior_state, d),
        };
        let st = if req.is_delete() {
            &req.prior_state
        } else {
            &req.planned_state
        };
        let meta = &region::meta_for(meta, st);
        let group = str_of(st, "user_group_id").unwrap_or_default();
        let user = str_of(st, "user_id").unwrap_or_default();
        let id = id_of(&group, &user);
        if req.is_delete() {
            return match modify(&meta.client, &group, Vec::new(), vec![user.clone()], None).await {
                Ok(()) => ApplyResponse::ok(Value::Null),
                Err(d)
                    if d.summary.contains("UserGroupNotFound")
                        || d.summary.contains("UserNotFound") =>
                {
                    ApplyResponse::ok(Value::Null)
                }
                Err(d) => ApplyResponse::error(req.prior_state, d),
            };
        }
        // Create (every other change replaces).
        if let Err(mut d) = modify(&meta.client, &group, vec![user.clone()], Vec::new(), None).await
        {
            d.summary = d.summary.replacen(
                "modifying ElastiCache User Group",
                "creating ElastiCache User Group Association",
                1,
            );
            return ApplyResponse::error(Value::Null, d);
        }
        let mut out = req.planned_state.clone();
        out.set_attr("id", Value::from(id));
        out.set_attr("region", Value::from(meta.region.as_str()));
        ApplyResponse::ok(out)
    }

    async fn read(&self, req: ReadRequest) -> ReadResponse {
        let meta = match self.conn.get() {
            Ok(m) => m,
            Err(d) => return ReadResponse::unchanged(req.current_state, req.private, d),
        };
        let cur = &req.current_state;
        let meta = &region::meta_for(meta, cur);
        let (group, user) = match (str_of(cur, "user_group_id"), str_of(cur, "user_id")) {
            (Some(g), Some(u)) => (g, u),
            _ => match str_of(cur, "id").as_deref().and_then(parse_id) {
                Some((g, u)) => (g.to_owned(), u.to_owned()),
                None => {
                    let d = Diagnostic::error(
                        format!(
                            "unexpected format for ID ({}), expected user-group-id,user-id",
                            str_of(cur, "id").unwrap_or_default()
                        ),
                        "",
                    );
                    return ReadResponse::unchanged(req.current_state, req.private, d);
                }
            },
        };
        let id = id_of(&group, &user);
        match find_user_group(&meta.client, &group).await {
            Ok(Some(g)) if g.user_ids().contains(&user) => {
                let mut st = cur.clone();
                st.set_attr("id", Value::from(id));
                st.set_attr("user_group_id", Value::from(group));
                st.set_attr("user_id", Value::from(user));
                st.set_attr("region", Value::from(meta.region.as_str()));
                ReadResponse {
                    new_state: st,
                    private: req.private,
                    diagnostics: Diagnostics::new(),
                }
            }
            Ok(_) => {
                tracing::warn!(
                    "ElastiCache User Group Association ({id}) not found, removing from state"
                );
                ReadResponse::default()
            }
            Err(e) => ReadResponse::unchanged(
                req.current_state,
                req.private,
                diag::error("reading", WHAT, &id, e),
            ),
        }
    }

    async fn import(&self, id: &str) -> Result<Vec<Imported>, Diagnostics> {
        let (id, region) = region::split_import_id(id);
        let Some((g, u)) = parse_id(id) else {
            return Err(Diagnostic::error(
                format!("unexpected format for ID ({id}), expected user-group-id,user-id"),
                "",
            )
            .into());
        };
        let mut st = Value::null_object(&schema().value_type());
        st.set_attr("id", Value::from(id));
        st.set_attr("user_group_id", Value::from(g));
        st.set_attr("user_id", Value::from(u));
        if let Some(r) = region {
            st.set_attr("region", Value::from(r));
        }
        Ok(vec![Imported::new(st)])
    }

    async fn upgrade_state(&self, req: UpgradeRequest) -> Result<Value, Diagnostics> {
        region::upgrade(&self.conn, &schema(), req.version, &req.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("g1,u1"), Some(("g1", "u1")));
        assert_eq!(parse_id("g1"), None);
        assert_eq!(parse_id(",u1"), None);
        assert_eq!(parse_id("g,u,x"), None);
        assert_eq!(id_of("g1", "u1"), "g1,u1");
    }
}
