//! Schema and timeouts of `aws_elasticache_global_replication_group`
//! (HashiCorp 6.69.1, attribute for attribute).

use std::time::Duration;

use tfplugin::{Attribute, Block, Nesting, Schema, Type};

use crate::region;

/// HashiCorp's default timeouts (create 60m, update 60m, delete 20m).
pub(super) const TIMEOUT_CREATE: Duration = Duration::from_secs(60 * 60);
pub(super) const TIMEOUT_UPDATE: Duration = Duration::from_secs(60 * 60);
pub(super) const TIMEOUT_DELETE: Duration = Duration::from_secs(20 * 60);

pub(super) fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String)
}

pub(super) fn b(name: &str) -> Attribute {
    Attribute::new(name, Type::Bool)
}

pub(super) fn global_node_group_type() -> Type {
    Type::object([
        ("global_node_group_id", Type::String),
        ("slots", Type::String),
    ])
}

pub(super) fn schema() -> Schema {
    let block = Block::new()
        .attribute(s("arn").computed())
        .attribute(b("at_rest_encryption_enabled").computed())
        .attribute(b("auth_token_enabled").computed())
        .attribute(b("automatic_failover_enabled").optional().computed())
        .attribute(s("cache_node_type").optional().computed())
        .attribute(b("cluster_enabled").computed())
        .attribute(s("engine").optional().computed())
        .attribute(s("engine_version").optional().computed())
        .attribute(s("engine_version_actual").computed())
        .attribute(
            Attribute::new("global_node_groups", Type::set(global_node_group_type())).computed(),
        )
        .attribute(s("global_replication_group_description").optional())
        .attribute(s("global_replication_group_id").computed())
        .attribute(
            s("global_replication_group_id_suffix")
                .required()
                .force_new(),
        )
        .attribute(s("id").optional().computed())
        .attribute(
            Attribute::new("num_node_groups", Type::Number)
                .optional()
                .computed(),
        )
        .attribute(s("parameter_group_name").optional())
        .attribute(s("primary_replication_group_id").required().force_new())
        .attribute(region::attribute())
        .attribute(b("transit_encryption_enabled").computed())
        .block(
            "timeouts",
            Nesting::Single,
            Block::new()
                .attribute(s("create").optional())
                .attribute(s("delete").optional())
                .attribute(s("update").optional()),
        );
    Schema::new(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_hashicorp_attributes() {
        let s = schema();
        let names: Vec<&str> = s.block.attributes.iter().map(|a| a.name.as_str()).collect();
        assert!(names.contains(&"global_replication_group_id_suffix"));
        assert!(names.contains(&"region"));
        assert_eq!(names.len(), 19);
    }
}
