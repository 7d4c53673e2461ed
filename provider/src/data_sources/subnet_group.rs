//! `data "aws_elasticache_subnet_group"`: a subnet group by name, as
//! HashiCorp's provider 6.x: `region` (6.x), `arn`, `description`, `subnet_ids`,
//! `vpc_id`, `tags` (remote tags minus `ignore_tags`).

use std::sync::Arc;

use tfplugin::{async_trait, Attribute, Block, Diagnostic, Schema, Type, Value};

use crate::client::SharedConn;
use crate::resources::subnet_group::{find, flatten_subnet_ids};
use crate::state::str_of;
use crate::tags;

pub struct SubnetGroupData {
    conn: SharedConn,
}

impl SubnetGroupData {
    pub fn new(conn: &SharedConn) -> Arc<Self> {
        Arc::new(Self { conn: conn.clone() })
    }
}

#[async_trait]
impl tfplugin::DataSource for SubnetGroupData {
    fn type_name(&self) -> String {
        "aws_elasticache_subnet_group".into()
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::new("arn", Type::String).computed())
                .attribute(Attribute::new("description", Type::String).computed())
                .attribute(Attribute::new("id", Type::String).optional().computed())
                .attribute(Attribute::new("name", Type::String).required())
                .attribute(crate::region::attribute())
                .attribute(Attribute::new("subnet_ids", Type::set(Type::String)).computed())
                .attribute(tags::tags_attribute())
                .attribute(Attribute::new("vpc_id", Type::String).computed()),
        )
    }

    async fn read(&self, config: Value) -> Result<Value, tfplugin::Diagnostics> {
        let meta = &crate::region::meta_for(self.conn.get()?, &config);
        let name = str_of(&config, "name").unwrap_or_default();
        let Some(g) = find(meta, &name).await? else {
            return Err(Diagnostic::error(
                format!("reading ElastiCache Subnet Group ({name}): empty result"),
                String::new(),
            )
            .into());
        };
        let arn = g.arn.clone().unwrap_or_default();
        let remote = tags::list_tags(&meta.client, &arn).await.map_err(|e| {
            Diagnostic::error(
                format!("listing tags for ElastiCache Subnet Group ({arn}): {e}"),
                String::new(),
            )
        })?;
        let gname = g.cache_subnet_group_name.clone().unwrap_or_default();
        Ok(Value::object([
            ("arn", Value::string(arn)),
            (
                "description",
                Value::string(g.cache_subnet_group_description.clone().unwrap_or_default()),
            ),
            ("id", Value::string(&gname)),
            (
                "name",
                config.get("name").cloned().unwrap_or(Value::string(gname)),
            ),
            ("region", Value::from(meta.region.as_str())),
            ("subnet_ids", flatten_subnet_ids(&g)),
            ("tags", tags::flatten_tags_plain(meta, &remote)),
            (
                "vpc_id",
                Value::string(g.vpc_id.clone().unwrap_or_default()),
            ),
        ]))
    }
}
