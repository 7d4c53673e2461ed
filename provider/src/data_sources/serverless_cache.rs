//! `data "aws_elasticache_serverless_cache"`: one serverless cache by
//! `name`, as HashiCorp's provider 6.69.1 has it. Unlike the resource,
//! `cache_usage_limits`, `endpoint` and `reader_endpoint` are single
//! objects and `security_group_ids` / `subnet_ids` lists; `region` (6.x).

use std::sync::Arc;

use aws_sdk_elasticache::types::CacheUsageLimits;
use tfplugin::{async_trait, Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};

use crate::client::SharedConn;
use crate::resources::reserved_cache_node::rfc3339;
use crate::resources::serverless_cache::{endpoint_type, find_serverless_cache, flatten_endpoint};
use crate::state::str_of;
use crate::{diag, region};

pub struct ServerlessCacheDataSource {
    conn: SharedConn,
}

impl ServerlessCacheDataSource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String).computed()
}

fn limits_type() -> Type {
    Type::object([
        (
            "data_storage",
            Type::object([
                ("maximum", Type::Number),
                ("minimum", Type::Number),
                ("unit", Type::String),
            ]),
        ),
        (
            "ecpu_per_second",
            Type::object([("maximum", Type::Number), ("minimum", Type::Number)]),
        ),
    ])
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(s("arn"))
            .attribute(Attribute::new("cache_usage_limits", limits_type()).computed())
            .attribute(s("create_time"))
            .attribute(s("daily_snapshot_time"))
            .attribute(s("description"))
            .attribute(Attribute::new("endpoint", endpoint_type()).computed())
            .attribute(s("engine"))
            .attribute(s("full_engine_version"))
            .attribute(s("kms_key_id"))
            .attribute(s("major_engine_version"))
            .attribute(Attribute::new("name", Type::String).required())
            .attribute(Attribute::new("reader_endpoint", endpoint_type()).computed())
            .attribute(region::attribute())
            .attribute(Attribute::new("security_group_ids", Type::list(Type::String)).computed())
            .attribute(Attribute::new("snapshot_retention_limit", Type::Number).computed())
            .attribute(s("status"))
            .attribute(Attribute::new("subnet_ids", Type::list(Type::String)).computed())
            .attribute(s("user_group_id")),
    )
}

fn opt_i32(n: Option<i32>) -> Value {
    n.map_or(Value::Null, |n| Value::from(i64::from(n)))
}

fn flatten_limits(l: Option<&CacheUsageLimits>) -> Value {
    let Some(l) = l else { return Value::Null };
    Value::object([
        (
            "data_storage",
            l.data_storage().map_or(Value::Null, |d| {
                Value::object([
                    ("maximum", opt_i32(d.maximum())),
                    ("minimum", opt_i32(d.minimum())),
                    (
                        "unit",
                        d.unit().map_or(Value::Null, |u| Value::from(u.as_str())),
                    ),
                ])
            }),
        ),
        (
            "ecpu_per_second",
            l.ecpu_per_second().map_or(Value::Null, |e| {
                Value::object([
                    ("maximum", opt_i32(e.maximum())),
                    ("minimum", opt_i32(e.minimum())),
                ])
            }),
        ),
    ])
}

fn list(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::from(s.as_str())).collect())
}

#[async_trait]
impl tfplugin::DataSource for ServerlessCacheDataSource {
    fn type_name(&self) -> String {
        "aws_elasticache_serverless_cache".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &region::meta_for(self.conn.get()?, &config);
        let name = str_of(&config, "name").unwrap_or_default();
        let Some(c) = find_serverless_cache(&meta.client, &name)
            .await
            .map_err(|e| diag::error("reading", "Serverless Cache", &name, e))?
        else {
            return Err(Diagnostic::error(
                format!("reading ElastiCache Serverless Cache ({name}): couldn't find resource"),
                "",
            )
            .into());
        };
        let opt = |s: Option<&str>| s.map_or(Value::Null, Value::from);
        Ok(Value::object([
            ("arn", opt(c.arn())),
            ("cache_usage_limits", flatten_limits(c.cache_usage_limits())),
            ("create_time", c.create_time().map_or(Value::Null, rfc3339)),
            ("daily_snapshot_time", opt(c.daily_snapshot_time())),
            ("description", opt(c.description())),
            (
                "endpoint",
                c.endpoint().map_or(Value::Null, flatten_endpoint),
            ),
            ("engine", opt(c.engine())),
            ("full_engine_version", opt(c.full_engine_version())),
            ("kms_key_id", opt(c.kms_key_id())),
            ("major_engine_version", opt(c.major_engine_version())),
            ("name", Value::from(name.as_str())),
            (
                "reader_endpoint",
                c.reader_endpoint().map_or(Value::Null, flatten_endpoint),
            ),
            ("region", Value::from(meta.region.as_str())),
            ("security_group_ids", list(c.security_group_ids())),
            (
                "snapshot_retention_limit",
                opt_i32(c.snapshot_retention_limit()),
            ),
            ("status", opt(c.status())),
            ("subnet_ids", list(c.subnet_ids())),
            ("user_group_id", opt(c.user_group_id())),
        ]))
    }
}
