//! `data "aws_elasticache_service_update_actions"`, as HashiCorp's provider
//! 6.x (added in 6.56): the update actions (all pages) of one replication
//! group (`replication_group_id`) or one cluster (`cache_cluster_id`, the two
//! conflict), or of every target, optionally only of service updates in the
//! statuses of `service_update_status`; `region` (6.x).

use std::sync::Arc;

use aws_sdk_elasticache::types::ServiceUpdateStatus;
use tfplugin::{
    async_trait, Attribute, AttributePath, Block, Diagnostic, Diagnostics, Schema, Type, Value,
};

use crate::client::SharedConn;
use crate::resources::reserved_cache_node::{opt, rfc3339};
use crate::state::{str_of, strings};

pub struct ServiceUpdateActionsData {
    conn: SharedConn,
}

impl ServiceUpdateActionsData {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn action_type() -> Type {
    Type::object([
        ("cache_cluster_id", Type::String),
        ("engine", Type::String),
        ("estimated_update_time", Type::String),
        ("recommended_apply_by_date", Type::String),
        ("release_date", Type::String),
        ("replication_group_id", Type::String),
        ("service_update_name", Type::String),
        ("service_update_severity", Type::String),
        ("service_update_status", Type::String),
        ("service_update_type", Type::String),
        ("update_action_status", Type::String),
    ])
}

fn date(t: Option<&aws_sdk_elasticache::primitives::DateTime>) -> Value {
    t.map_or(Value::Null, rfc3339)
}

#[async_trait]
impl tfplugin::DataSource for ServiceUpdateActionsData {
    fn type_name(&self) -> String {
        "aws_elasticache_service_update_actions".into()
    }

    fn schema(&self) -> Schema {
        let s = |n: &str| Attribute::new(n, Type::String);
        Schema::new(
            Block::new()
                .attribute(s("cache_cluster_id").optional())
                .attribute(crate::region::attribute())
                .attribute(s("replication_group_id").optional())
                .attribute(
                    Attribute::new("service_update_status", Type::set(Type::String)).optional(),
                )
                .attribute(Attribute::new("update_actions", Type::list(action_type())).computed()),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let set = |n: &str| config.get(n).is_some_and(|v| !v.is_null());
        if set("cache_cluster_id") && set("replication_group_id") {
            d.push(
                Diagnostic::error(
                    "Invalid Attribute Combination",
                    "These attributes cannot be configured together: [cache_cluster_id,replication_group_id]",
                )
                .at(AttributePath::attr("cache_cluster_id")),
            );
        }
        d
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &crate::region::meta_for(self.conn.get()?, &config);
        let statuses: Vec<ServiceUpdateStatus> = strings(config.get("service_update_status"))
            .iter()
            .map(|s| ServiceUpdateStatus::from(s.as_str()))
            .collect();
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = meta
                .client
                .describe_update_actions()
                .set_cache_cluster_ids(str_of(&config, "cache_cluster_id").map(|c| vec![c]))
                .set_replication_group_ids(str_of(&config, "replication_group_id").map(|g| vec![g]))
                .set_service_update_status((!statuses.is_empty()).then(|| statuses.clone()))
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| -> Diagnostics {
                    Diagnostic::error(
                        crate::diag::api_error("reading", "Service Update Actions", "", &e).summary,
                        "",
                    )
                    .into()
                })?;
            for a in out.update_actions() {
                items.push(Value::object([
                    ("cache_cluster_id", opt(a.cache_cluster_id())),
                    ("engine", opt(a.engine())),
                    ("estimated_update_time", opt(a.estimated_update_time())),
                    (
                        "recommended_apply_by_date",
                        date(a.service_update_recommended_apply_by_date()),
                    ),
                    ("release_date", date(a.service_update_release_date())),
                    ("replication_group_id", opt(a.replication_group_id())),
                    ("service_update_name", opt(a.service_update_name())),
                    (
                        "service_update_severity",
                        opt(a.service_update_severity().map(|s| s.as_str())),
                    ),
                    (
                        "service_update_status",
                        opt(a.service_update_status().map(|s| s.as_str())),
                    ),
                    (
                        "service_update_type",
                        opt(a.service_update_type().map(|s| s.as_str())),
                    ),
                    (
                        "update_action_status",
                        opt(a.update_action_status().map(|s| s.as_str())),
                    ),
                ]));
            }
            marker = out.marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                break;
            }
        }
        let mut st = config.clone();
        st.set_attr("update_actions", Value::List(items));
        st.set_attr("region", Value::from(meta.region.as_str()));
        Ok(st)
    }
}
