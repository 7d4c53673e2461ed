//! `data "aws_elasticache_cluster"`: one cluster by `cluster_id`.

use std::sync::Arc;

use tfplugin::{async_trait, Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};

use crate::client::SharedConn;
use crate::resources::cluster::{
    cache_node_type, find_cache_cluster, flatten_common, flatten_log_delivery, FindClusterError,
};
use crate::{diag, tags};

pub struct ClusterDataSource {
    conn: SharedConn,
}

impl ClusterDataSource {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(ClusterDataSource { conn: conn.clone() })
    }
}

fn schema() -> Schema {
    let s = |n: &str| Attribute::new(n, Type::String).computed();
    let n = |n: &str| Attribute::new(n, Type::Number).computed();
    let log = Type::object([
        ("destination", Type::String),
        ("destination_type", Type::String),
        ("log_format", Type::String),
        ("log_type", Type::String),
    ]);
    Schema::new(
        Block::new()
            .attribute(s("arn"))
            .attribute(s("availability_zone"))
            .attribute(Attribute::new("cache_nodes", Type::list(cache_node_type())).computed())
            .attribute(s("cluster_address"))
            .attribute(Attribute::new("cluster_id", Type::String).required())
            .attribute(s("configuration_endpoint"))
            .attribute(s("engine"))
            .attribute(s("engine_version"))
            .attribute(s("id").optional())
            .attribute(s("ip_discovery"))
            .attribute(Attribute::new("log_delivery_configuration", Type::set(log)).computed())
            .attribute(s("maintenance_window"))
            .attribute(s("network_type"))
            .attribute(s("node_type"))
            .attribute(s("notification_topic_arn"))
            .attribute(n("num_cache_nodes"))
            .attribute(s("parameter_group_name"))
            .attribute(n("port"))
            .attribute(s("preferred_outpost_arn"))
            .attribute(crate::region::attribute())
            .attribute(s("replication_group_id"))
            .attribute(Attribute::new("security_group_ids", Type::set(Type::String)).computed())
            .attribute(n("snapshot_retention_limit"))
            .attribute(s("snapshot_window"))
            .attribute(s("subnet_group_name"))
            .attribute(
                Attribute::new("tags", Type::map(Type::String))
                    .optional()
                    .computed(),
            ),
    )
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

#[async_trait]
impl tfplugin::DataSource for ClusterDataSource {
    fn type_name(&self) -> String {
        "aws_elasticache_cluster".into()
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let meta = &crate::region::meta_for(self.conn.get()?, &config);
        // ElastiCache keeps ids in lower case (HashiCorp's StateFunc).
        let id = config
            .get("cluster_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let c = match find_cache_cluster(&meta.client, &id, true).await {
            Ok(c) => c,
            Err(FindClusterError::NotFound) => return Err(Diagnostic::error(
                "Your query returned no results. Please change your search criteria and try again",
                "",
            )
            .into()),
            Err(FindClusterError::Api(e)) => {
                return Err(diag::error("reading", "Cache Cluster", &id, e).into())
            }
        };
        let arn = c.arn().unwrap_or_default();
        let remote = tags::list_tags(&meta.client, arn)
            .await
            .map_err(|e| diag::error("listing tags for", "Cache Cluster", &id, e))?;
        let cm = flatten_common(&c);
        let i32v = |n: Option<i32>| n.map_or(Value::Null, |n| Value::from(i64::from(n)));
        Ok(Value::object([
            ("arn", opt(c.arn())),
            ("availability_zone", opt(c.preferred_availability_zone())),
            ("cache_nodes", cm.cache_nodes),
            ("cluster_address", cm.cluster_address),
            ("cluster_id", opt(c.cache_cluster_id())),
            ("configuration_endpoint", cm.configuration_endpoint),
            ("engine", opt(c.engine())),
            ("engine_version", opt(c.engine_version())),
            ("id", opt(c.cache_cluster_id())),
            ("ip_discovery", opt(c.ip_discovery().map(|v| v.as_str()))),
            (
                "log_delivery_configuration",
                flatten_log_delivery(c.log_delivery_configurations()),
            ),
            ("maintenance_window", opt(c.preferred_maintenance_window())),
            ("network_type", opt(c.network_type().map(|v| v.as_str()))),
            ("node_type", opt(c.cache_node_type())),
            ("notification_topic_arn", cm.notification_topic_arn),
            ("num_cache_nodes", i32v(c.num_cache_nodes())),
            ("parameter_group_name", cm.parameter_group_name),
            ("port", cm.port),
            ("preferred_outpost_arn", opt(c.preferred_outpost_arn())),
            ("region", Value::from(meta.region.as_str())),
            ("replication_group_id", opt(c.replication_group_id())),
            ("security_group_ids", cm.security_group_ids),
            (
                "snapshot_retention_limit",
                i32v(c.snapshot_retention_limit()),
            ),
            ("snapshot_window", opt(c.snapshot_window())),
            ("subnet_group_name", opt(c.cache_subnet_group_name())),
            ("tags", tags::flatten_tags_plain(meta, &remote)),
        ]))
    }
}
