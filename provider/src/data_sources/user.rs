//! `data "aws_elasticache_user"`: one user by `user_id`, as HashiCorp's
//! provider 6.69.1 has it: `access_string`, `engine`, `user_name`,
//! `authentication_mode` (`type`, `password_count`), `region` (6.x).
//! `passwords` and `no_password_required` are only what the configuration
//! gives (the API never returns passwords).

use std::sync::Arc;

use tfplugin::{
    async_trait, Attribute, Block, Diagnostic, Diagnostics, Nesting, Schema, Type, Value,
};

use crate::client::SharedConn;
use crate::resources::user::find_user;
use crate::state::str_of;
use crate::{diag, region};

pub struct UserDataSource {
    conn: SharedConn,
}

impl UserDataSource {
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
            .attribute(s("access_string").optional())
            .attribute(s("engine").optional())
            .attribute(s("id").optional().computed())
            .attribute(Attribute::new("no_password_required", Type::Bool).optional())
            .attribute(
                Attribute::new("passwords", Type::set(Type::String))
                    .optional()
                    .sensitive(),
            )
            .attribute(region::attribute())
            .attribute(s("user_id").required())
            .attribute(s("user_name").optional())
            .block(
                "authentication_mode",
                Nesting::List,
                Block::new()
                    .attribute(Attribute::new("password_count", Type::Number).optional())
                    .attribute(s("type").optional()),
            ),
    )
}

#[async_trait]
impl tfplugin::DataSource for UserDataSource {
    fn type_name(&self) -> String {
        "aws_elasticache_user".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &region::meta_for(self.conn.get()?, &config);
        let id = str_of(&config, "user_id").unwrap_or_default();
        let Some(u) = find_user(&meta.client, &id)
            .await
            .map_err(|e| diag::error("reading", "User", &id, e))?
        else {
            return Err(Diagnostic::error(
                format!("reading ElastiCache User ({id}): couldn't find resource"),
                "",
            )
            .into());
        };
        let modes = match u.authentication() {
            Some(a) => Value::List(vec![Value::object([
                (
                    "password_count",
                    Value::from(i64::from(a.password_count().unwrap_or(0))),
                ),
                (
                    "type",
                    a.r#type().map_or(Value::Null, |t| Value::from(t.as_str())),
                ),
            ])]),
            None => Value::List(Vec::new()),
        };
        let keep = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
        let opt = |s: Option<&str>| s.map_or(Value::Null, Value::from);
        Ok(Value::object([
            ("access_string", opt(u.access_string())),
            ("authentication_mode", modes),
            ("engine", opt(u.engine())),
            ("id", opt(u.user_id())),
            ("no_password_required", keep("no_password_required")),
            ("passwords", keep("passwords")),
            ("region", Value::from(meta.region.as_str())),
            ("user_id", opt(u.user_id())),
            ("user_name", opt(u.user_name())),
        ]))
    }
}
