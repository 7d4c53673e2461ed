//! The only registry of data sources: one file per `aws_elasticache_<name>`.

use std::sync::Arc;

use crate::client::SharedConn;

pub mod subnet_group;

pub fn all(conn: &SharedConn) -> Vec<Arc<dyn tfplugin::DataSource>> {
    vec![subnet_group::SubnetGroupData::new(conn)]
}
