//! `data "aws_elasticache_replication_group"`: one group by
//! `replication_group_id`, read as the resource reads it.

use std::sync::Arc;

use tfplugin::{async_trait, Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};

use crate::client::SharedConn;
use crate::diag;
use crate::resources::cluster::flatten_log_delivery;
use crate::resources::replication_group::{
    automatic_failover, endpoints, find_replication_group_by_id, flatten_node_groups, multi_az,
    node_group_configuration_type, region_attribute, replicas_per_node_group, FindError,
};

const WHAT: &str = "Replication Group";

pub struct ReplicationGroupDataSource {
    conn: SharedConn,
}

impl ReplicationGroupDataSource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(ReplicationGroupDataSource { conn: conn.clone() })
    }
}

fn schema() -> Schema {
    let s = |n: &str| Attribute::new(n, Type::String).computed();
    let n = |n: &str| Attribute::new(n, Type::Number).computed();
    let b = |n: &str| Attribute::new(n, Type::Bool).computed();
    let log = Type::object([
        ("destination", Type::String),
        ("destination_type", Type::String),
        ("log_format", Type::String),
        ("log_type", Type::String),
    ]);
    Schema::new(
        Block::new()
            .attribute(s("arn"))
            .attribute(b("auth_token_enabled"))
            .attribute(b("automatic_failover_enabled"))
            .attribute(s("cluster_mode"))
            .attribute(s("configuration_endpoint_address"))
            .attribute(s("description"))
            .attribute(s("id").optional())
            .attribute(Attribute::new("log_delivery_configuration", Type::set(log)).computed())
            .attribute(Attribute::new("member_clusters", Type::set(Type::String)).computed())
            .attribute(b("multi_az_enabled"))
            .attribute(
                Attribute::new(
                    "node_group_configuration",
                    Type::set(node_group_configuration_type()),
                )
                .computed(),
            )
            .attribute(s("node_type"))
            .attribute(n("num_cache_clusters"))
            .attribute(n("num_node_groups"))
            .attribute(n("port"))
            .attribute(s("primary_endpoint_address"))
            .attribute(s("reader_endpoint_address"))
            .attribute(region_attribute())
            .attribute(n("replicas_per_node_group"))
            .attribute(Attribute::new("replication_group_id", Type::String).required())
            .attribute(n("snapshot_retention_limit"))
            .attribute(s("snapshot_window")),
    )
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::from)
}

#[async_trait]
impl tfplugin::DataSource for ReplicationGroupDataSource {
    fn type_name(&self) -> String {
        "aws_elasticache_replication_group".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = self.conn.get()?;
        let id = config
            .get("replication_group_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let region = config
            .get("region")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let client = meta.client_in(region.as_deref());
        let g = match find_replication_group_by_id(&client, &id).await {
            Ok(g) => g,
            Err(FindError::NotFound) => {
                return Err(Diagnostic::error(
                    format!("reading ElastiCache {WHAT} ({id}): couldn't find resource"),
                    "",
                )
                .into())
            }
            Err(FindError::Api(e)) => return Err(diag::error("reading", WHAT, &id, e).into()),
        };
        if g.configuration_endpoint().is_none() && g.node_groups().is_empty() {
            return Err(Diagnostic::error(
                format!("ElastiCache {WHAT} ({id}) doesn't have node groups"),
                "",
            )
            .into());
        }
        let (port, config_ep, primary, reader) = endpoints(&g);
        let i = |n: usize| Value::from(n as i64);
        Ok(Value::object([
            ("arn", opt(g.arn())),
            ("auth_token_enabled", opt_bool(g.auth_token_enabled())),
            (
                "automatic_failover_enabled",
                opt_bool(automatic_failover(&g)),
            ),
            ("cluster_mode", opt(g.cluster_mode().map(|m| m.as_str()))),
            ("configuration_endpoint_address", config_ep),
            ("description", opt(g.description())),
            ("id", opt(g.replication_group_id())),
            (
                "log_delivery_configuration",
                flatten_log_delivery(g.log_delivery_configurations()),
            ),
            (
                "member_clusters",
                Value::set(
                    g.member_clusters()
                        .iter()
                        .map(|m| Value::from(m.as_str()))
                        .collect(),
                ),
            ),
            ("multi_az_enabled", opt_bool(multi_az(&g))),
            ("node_group_configuration", flatten_node_groups(&g)),
            ("node_type", opt(g.cache_node_type())),
            ("num_cache_clusters", i(g.member_clusters().len())),
            ("num_node_groups", i(g.node_groups().len())),
            ("port", port),
            ("primary_endpoint_address", primary),
            ("reader_endpoint_address", reader),
            (
                "region",
                Value::from(region.unwrap_or_else(|| meta.region.clone())),
            ),
            ("replicas_per_node_group", replicas_per_node_group(&g)),
            ("replication_group_id", opt(g.replication_group_id())),
            (
                "snapshot_retention_limit",
                g.snapshot_retention_limit()
                    .map_or(Value::Null, |n| Value::from(i64::from(n))),
            ),
            ("snapshot_window", opt(g.snapshot_window())),
        ]))
    }
}
