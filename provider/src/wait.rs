//! A generic waiter: poll a status until it reaches a target, as HashiCorp's
//! `retry.StateChangeConf` does (pending set, target set, timeout).

use std::future::Future;
use std::time::{Duration, Instant};

/// What a status function reports: `None` when the object is gone.
pub type Status = Option<String>;

/// Poll `status` until it returns one of `target` (or `None` when `target`
/// is empty, i.e. waiting for deletion). A status outside `pending` and
/// `target` is an error, as is the timeout.
pub async fn wait_for<F, Fut, E>(
    pending: &[&str],
    target: &[&str],
    timeout: Duration,
    mut status: F,
) -> Result<Status, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Status, E>>,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        match status().await {
            Err(e) => return Err(e.to_string()),
            Ok(None) if target.is_empty() => return Ok(None),
            Ok(None) => {}
            Ok(Some(s)) if target.contains(&s.as_str()) => return Ok(Some(s)),
            Ok(Some(s)) if !pending.is_empty() && !pending.contains(&s.as_str()) => {
                return Err(format!(
                    "unexpected state '{s}', wanted target '{}'",
                    target.join(", ")
                ));
            }
            Ok(Some(_)) => {}
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timeout while waiting for state to become '{}' ({timeout:?})",
                target.join(", ")
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
