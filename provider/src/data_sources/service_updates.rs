//! `data "aws_elasticache_service_updates"`, as HashiCorp's provider 6.x
//! (added in 6.55): every service update (all pages), optionally only those of
//! the statuses in `status`; `region` (6.x).

use std::sync::Arc;

use aws_sdk_elasticache::types::ServiceUpdateStatus;
use tfplugin::{async_trait, Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};

use crate::client::SharedConn;
use crate::resources::reserved_cache_node::{opt, rfc3339};
use crate::state::strings;

pub struct ServiceUpdatesData {
    conn: SharedConn,
}

impl ServiceUpdatesData {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

fn update_type() -> Type {
    Type::object([
        ("auto_update_after_recommended_apply_by_date", Type::Bool),
        ("description", Type::String),
        ("end_date", Type::String),
        ("engine", Type::String),
        ("engine_version", Type::String),
        ("estimated_update_time", Type::String),
        ("name", Type::String),
        ("recommended_apply_by_date", Type::String),
        ("release_date", Type::String),
        ("severity", Type::String),
        ("status", Type::String),
        ("type", Type::String),
    ])
}

fn date(t: Option<&aws_sdk_elasticache::primitives::DateTime>) -> Value {
    t.map_or(Value::Null, rfc3339)
}

#[async_trait]
impl tfplugin::DataSource for ServiceUpdatesData {
    fn type_name(&self) -> String {
        "aws_elasticache_service_updates".into()
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(crate::region::attribute())
                .attribute(Attribute::new("service_updates", Type::list(update_type())).computed())
                .attribute(Attribute::new("status", Type::set(Type::String)).optional()),
        )
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &crate::region::meta_for(self.conn.get()?, &config);
        let statuses: Vec<ServiceUpdateStatus> = strings(config.get("status"))
            .iter()
            .map(|s| ServiceUpdateStatus::from(s.as_str()))
            .collect();
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = meta
                .client
                .describe_service_updates()
                .set_service_update_status((!statuses.is_empty()).then(|| statuses.clone()))
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| -> Diagnostics {
                    Diagnostic::error(
                        crate::diag::api_error("reading", "Service Updates", "", &e).summary,
                        "",
                    )
                    .into()
                })?;
            for u in out.service_updates() {
                items.push(Value::object([
                    (
                        "auto_update_after_recommended_apply_by_date",
                        u.auto_update_after_recommended_apply_by_date
                            .map_or(Value::Null, Value::from),
                    ),
                    ("description", opt(u.service_update_description())),
                    ("end_date", date(u.service_update_end_date())),
                    ("engine", opt(u.engine())),
                    ("engine_version", opt(u.engine_version())),
                    ("estimated_update_time", opt(u.estimated_update_time())),
                    ("name", opt(u.service_update_name())),
                    (
                        "recommended_apply_by_date",
                        date(u.service_update_recommended_apply_by_date()),
                    ),
                    ("release_date", date(u.service_update_release_date())),
                    (
                        "severity",
                        opt(u.service_update_severity().map(|s| s.as_str())),
                    ),
                    ("status", opt(u.service_update_status().map(|s| s.as_str()))),
                    ("type", opt(u.service_update_type().map(|s| s.as_str()))),
                ]));
            }
            marker = out.marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                break;
            }
        }
        let mut st = config.clone();
        st.set_attr("service_updates", Value::List(items));
        st.set_attr("region", Value::from(meta.region.as_str()));
        Ok(st)
    }
}
