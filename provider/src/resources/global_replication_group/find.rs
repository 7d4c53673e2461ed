//! Finders, waiters and the retry of `aws_elasticache_global_replication_group`.

use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::GlobalReplicationGroup;
use aws_sdk_elasticache::Client;

use crate::{diag, wait};

pub(super) const NOT_FOUND: &str = "GlobalReplicationGroupNotFoundFault";

pub(super) const BUSY: &str = "InvalidGlobalReplicationGroupState";

/// HashiCorp's waiters: pending and target statuses.
pub(super) const AVAILABLE_PENDING: &[&str] = &["creating", "modifying"];
pub(super) const AVAILABLE: &[&str] = &["available", "primary-only"];
pub(super) const DELETE_PENDING: &[&str] = &["available", "primary-only", "modifying", "deleting"];

/// Call `f` until it answers other than "busy" or the time is up.
pub(super) async fn retry_busy<F, Fut, T, E>(t: Duration, mut f: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: ProvideErrorMetadata,
{
    let deadline = Instant::now() + t;
    let mut delay = wait::FIRST_DELAY;
    loop {
        match f().await {
            Err(e) if e.code() == Some(BUSY) && Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 3 / 2).min(wait::MAX_DELAY);
            }
            r => return r,
        }
    }
}

pub(crate) async fn find_global(
    client: &Client,
    id: &str,
) -> Result<Option<GlobalReplicationGroup>, String> {
    match client
        .describe_global_replication_groups()
        .global_replication_group_id(id)
        .show_member_info(true)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .global_replication_groups
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.global_replication_group_id() == Some(id))),
        Err(e) if diag::is_not_found(&e, NOT_FOUND) => Ok(None),
        Err(e) => Err(crate::resources::cluster::sdk_cause(&e)),
    }
}

/// Wait for `available` or `primary-only`; the datastore as it then is.
pub(super) async fn wait_available(
    client: &Client,
    id: &str,
    t: Duration,
) -> Result<GlobalReplicationGroup, String> {
    wait::wait_for(AVAILABLE_PENDING, AVAILABLE, t, || async {
        find_global(client, id)
            .await
            .map(|g| g.and_then(|g| g.status().map(str::to_owned)))
    })
    .await?;
    find_global(client, id)
        .await?
        .ok_or_else(|| "not found".to_owned())
}
