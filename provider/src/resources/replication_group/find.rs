//! Finders, status and waiters (HashiCorp's `findReplicationGroupByID`,
//! `statusReplicationGroup`, `waitReplicationGroup…`).
//!
//! The waiters poll at once and back off from 100 ms to 2 s (`wait.rs`):
//! a local backend settles in tens of milliseconds, AWS in minutes, and
//! HashiCorp's 30 s initial delay would cost every apply half a minute.

use std::time::Duration;

use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticache::types::{CacheCluster, ReplicationGroup};
use aws_sdk_elasticache::Client;

use crate::resources::cluster::sdk_cause as cause;
use crate::wait::{wait_for, Status};

pub const NOT_FOUND: &str = "ReplicationGroupNotFoundFault";
pub const INVALID_STATE: &str = "InvalidReplicationGroupState";

pub const REPLICATION_GROUP_STATUS_AVAILABLE: &str = "available";
pub const REPLICATION_GROUP_STATUS_CREATING: &str = "creating";
pub const REPLICATION_GROUP_STATUS_DELETING: &str = "deleting";
pub const REPLICATION_GROUP_STATUS_MODIFYING: &str = "modifying";
pub const REPLICATION_GROUP_STATUS_SNAPSHOTTING: &str = "snapshotting";

const CACHE_CLUSTER_STATUS_AVAILABLE: &str = "available";
const CACHE_CLUSTER_STATUS_CREATING: &str = "creating";
const CACHE_CLUSTER_STATUS_DELETING: &str = "deleting";
const CACHE_CLUSTER_STATUS_MODIFYING: &str = "modifying";
const CACHE_CLUSTER_STATUS_SNAPSHOTTING: &str = "snapshotting";

/// An API error (as `Code: message`), or the group is not there.
#[derive(Debug)]
pub enum FindError {
    NotFound,
    Api(String),
}

impl FindError {
    fn from_sdk<E>(e: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if e.code() == Some(NOT_FOUND) {
            return FindError::NotFound;
        }
        FindError::Api(cause(&e))
    }
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::NotFound => write!(f, "couldn't find resource"),
            FindError::Api(text) => f.write_str(text),
        }
    }
}

/// One replication group by id.
pub async fn find_replication_group_by_id(
    client: &Client,
    id: &str,
) -> Result<ReplicationGroup, FindError> {
    let out = client
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .map_err(FindError::from_sdk)?;
    let mut groups = out.replication_groups.unwrap_or_default();
    match groups.len() {
        0 => Err(FindError::NotFound),
        1 => Ok(groups.remove(0)),
        n => Err(FindError::Api(format!(
            "too many results: wanted 1, got {n}"
        ))),
    }
}

/// One member cache cluster (with its nodes), `None` when gone.
pub async fn find_member_cluster(
    client: &Client,
    id: &str,
) -> Result<Option<CacheCluster>, String> {
    match client
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(true)
        .send()
        .await
    {
        Ok(o) => Ok(o.cache_clusters.unwrap_or_default().into_iter().next()),
        Err(e) if e.code() == Some("CacheClusterNotFound") => Ok(None),
        Err(e) => Err(cause(&e)),
    }
}

pub async fn status_replication_group(client: &Client, id: &str) -> Result<Status, FindError> {
    match find_replication_group_by_id(client, id).await {
        Ok(g) => Ok(g.status),
        Err(FindError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn wait_replication_group_available(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    wait_for(
        &[
            REPLICATION_GROUP_STATUS_CREATING,
            REPLICATION_GROUP_STATUS_MODIFYING,
            REPLICATION_GROUP_STATUS_SNAPSHOTTING,
        ],
        &[REPLICATION_GROUP_STATUS_AVAILABLE],
        timeout,
        || status_replication_group(client, id),
    )
    .await
    .map(|_| ())
}

pub async fn wait_replication_group_deleted(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    wait_for(
        &[
            REPLICATION_GROUP_STATUS_CREATING,
            REPLICATION_GROUP_STATUS_AVAILABLE,
            REPLICATION_GROUP_STATUS_DELETING,
        ],
        &[],
        timeout,
        || status_replication_group(client, id),
    )
    .await
    .map(|_| ())
}

/// "available", or the first member cluster status that is not
/// (HashiCorp's `statusReplicationGroupMemberClusters`).
async fn status_member_clusters(client: &Client, id: &str) -> Result<Status, String> {
    let g = match find_replication_group_by_id(client, id).await {
        Ok(g) => g,
        Err(FindError::NotFound) => return Ok(None),
        Err(FindError::Api(e)) => return Err(e),
    };
    for m in g.member_clusters() {
        if let Some(c) = find_member_cluster(client, m).await? {
            let st = c.cache_cluster_status().unwrap_or_default();
            if st != CACHE_CLUSTER_STATUS_AVAILABLE {
                return Ok(Some(st.to_owned()));
            }
        }
    }
    Ok(Some(CACHE_CLUSTER_STATUS_AVAILABLE.to_owned()))
}

pub async fn wait_replication_group_member_clusters_available(
    client: &Client,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    wait_for(
        &[
            CACHE_CLUSTER_STATUS_CREATING,
            CACHE_CLUSTER_STATUS_DELETING,
            CACHE_CLUSTER_STATUS_MODIFYING,
            CACHE_CLUSTER_STATUS_SNAPSHOTTING,
        ],
        &[CACHE_CLUSTER_STATUS_AVAILABLE],
        timeout,
        || status_member_clusters(client, id),
    )
    .await
    .map(|_| ())
}
