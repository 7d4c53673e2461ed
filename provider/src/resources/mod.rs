//! The only registry of resources: one file (or folder) per `aws_elasticache_<name>`.

use std::sync::Arc;

use crate::client::SharedConn;

pub fn all(conn: &SharedConn) -> Vec<Arc<dyn tfplugin::Resource>> {
    let _ = conn;
    vec![]
}
