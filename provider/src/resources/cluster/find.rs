//! Finders, status and waiters (HashiCorp's `findCacheCluster…`,
//! `statusCacheCluster`, `waitCacheCluster…`).

use std::time::Duration;

use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticache::types::CacheCluster;
use aws_sdk_elasticache::Client;

use crate::wait::{wait_for, Status};

pub const NOT_FOUND: &str = "CacheClusterNotFound";

pub const STATUS_AVAILABLE: &str = "available";
pub const STATUS_CREATING: &str = "creating";
pub const STATUS_DELETING: &str = "deleting";
pub const STATUS_INCOMPATIBLE_NETWORK: &str = "incompatible-network";
pub const STATUS_MODIFYING: &str = "modifying";
/// As the API reports it; HashiCorp's constant spells it without "cache".
pub const STATUS_REBOOTING: &str = "rebooting cache cluster nodes";
pub const STATUS_REBOOTING_SHORT: &str = "rebooting cluster nodes";
pub const STATUS_RESTORE_FAILED: &str = "restore-failed";
pub const STATUS_SNAPSHOTTING: &str = "snapshotting";

/// An API error (as `Code: message`), or the cluster is not there.
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

/// One cluster by id, with or without its nodes' endpoints.
pub async fn find_cluster(
    client: &Client,
    id: &str,
    with_nodes: bool,
) -> Result<CacheCluster, FindError> {
    let out = client
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(with_nodes)
        .send()
        .await
        .map_err(FindError::from_sdk)?;
    let mut clusters = out.cache_clusters.unwrap_or_default();
    match clusters.len() {
        0 => Err(FindError::NotFound),
        1 => Ok(clusters.remove(0)),
        n => Err(FindError::Api(format!(
            "too many results: wanted 1, got {n}"
        ))),
    }
}

async fn status(client: &Client, id: &str) -> Result<Status, FindError> {
    match find_cluster(client, id, false).await {
        Ok(c) => Ok(c.cache_cluster_status),
        Err(FindError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn wait_available(client: &Client, id: &str, timeout: Duration) -> Result<(), String> {
    wait_for(
        &[
            STATUS_CREATING,
            STATUS_MODIFYING,
            STATUS_SNAPSHOTTING,
            STATUS_REBOOTING,
            STATUS_REBOOTING_SHORT,
        ],
        &[STATUS_AVAILABLE],
        timeout,
        || status(client, id),
    )
    .await
    .map(|_| ())
}

pub async fn wait_deleted(client: &Client, id: &str, timeout: Duration) -> Result<(), String> {
    wait_for(
        &[
            STATUS_CREATING,
            STATUS_AVAILABLE,
            STATUS_MODIFYING,
            STATUS_DELETING,
            STATUS_INCOMPATIBLE_NETWORK,
            STATUS_RESTORE_FAILED,
            STATUS_SNAPSHOTTING,
        ],
        &[],
        timeout,
        || status(client, id),
    )
    .await
    .map(|_| ())
}

/// `Code: message` of an API error; the chain of causes otherwise
/// (connection refused, timeouts).
pub fn cause<E>(e: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s = format!("{s}: {x}");
                src = x.source();
            }
            s
        }
    }
}
