//! The only registry of data sources.

use std::sync::Arc;

use crate::client::SharedConn;

pub mod cluster;
pub mod replication_group;
pub mod subnet_group;
pub mod user;

pub fn all(conn: &SharedConn) -> Vec<Arc<dyn tfplugin::DataSource>> {
    vec![
        cluster::ClusterDataSource::new(conn),
        replication_group::ReplicationGroupDataSource::new(conn),
        subnet_group::SubnetGroupData::new(conn),
        user::UserDataSource::new(conn),
    ]
}
