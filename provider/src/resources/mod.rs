//! The only registry of resources: one file (or folder) per `aws_elasticache_<name>`.

use std::sync::Arc;

use crate::client::SharedConn;

pub mod cluster;
pub mod global_replication_group;
pub mod parameter_group;
pub mod replication_group;
pub mod reserved_cache_node;
pub mod serverless_cache;
pub mod subnet_group;
pub mod user;
pub mod user_group;
pub mod user_group_association;

pub fn all(conn: &SharedConn) -> Vec<Arc<dyn tfplugin::Resource>> {
    vec![
        cluster::Cluster::new(conn),
        global_replication_group::GlobalReplicationGroupResource::new(conn),
        parameter_group::ParameterGroup::new(conn),
        replication_group::ReplicationGroupResource::new(conn),
        reserved_cache_node::ReservedCacheNodeResource::new(conn),
        serverless_cache::ServerlessCacheResource::new(conn),
        subnet_group::SubnetGroup::new(conn),
        user::UserResource::new(conn),
        user_group::UserGroupResource::new(conn),
        user_group_association::UserGroupAssociation::new(conn),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write-only attributes follow the protocol's rules (not computed, not
    /// inside a set) in every resource schema.
    #[test]
    fn write_only_attributes_are_well_formed() {
        let conn = SharedConn::default();
        for r in all(&conn) {
            let problems = tfplugin::write_only::check_schema(&r.schema().block);
            assert!(problems.is_empty(), "{}: {problems:?}", r.type_name());
        }
    }
}
