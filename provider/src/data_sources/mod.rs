//! The only registry of data sources.

use std::sync::Arc;

use crate::client::SharedConn;

pub mod cluster;
pub mod replication_group;
pub mod reserved_cache_node_offering;
pub mod serverless_cache;
pub mod service_update_actions;
pub mod service_updates;
pub mod subnet_group;
pub mod user;

pub fn all(conn: &SharedConn) -> Vec<Arc<dyn tfplugin::DataSource>> {
    vec![
        cluster::ClusterDataSource::new(conn),
        replication_group::ReplicationGroupDataSource::new(conn),
        reserved_cache_node_offering::ReservedCacheNodeOfferingData::new(conn),
        serverless_cache::ServerlessCacheDataSource::new(conn),
        service_update_actions::ServiceUpdateActionsData::new(conn),
        service_updates::ServiceUpdatesData::new(conn),
        subnet_group::SubnetGroupData::new(conn),
        user::UserDataSource::new(conn),
    ]
}
