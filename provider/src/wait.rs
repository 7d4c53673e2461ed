//! A generic waiter: poll a status until it reaches a target, as HashiCorp's
//! `retry.StateChangeConf` does (pending set, target set, timeout).
//!
//! HashiCorp waits 30 s before the first poll and then every 10 s or more;
//! a local backend settles in tens of milliseconds. So: poll at once, then
//! after 25 ms, growing by half each time up to HashiCorp's 10 s (ten polls
//! in the first 1.5 s, then the pace AWS is used to).

use std::future::Future;
use std::time::{Duration, Instant};

/// The pause after the first poll.
pub const FIRST_DELAY: Duration = Duration::from_millis(25);
/// The longest pause between polls (HashiCorp's `MinTimeout`).
pub const MAX_DELAY: Duration = Duration::from_secs(10);

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
    let mut delay = FIRST_DELAY;
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
        tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
        delay = (delay * 3 / 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn polls_at_once_then_backs_off() {
        let calls = AtomicUsize::new(0);
        let t = Instant::now();
        let got = wait_for(
            &["creating"],
            &["available"],
            Duration::from_secs(5),
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    Ok::<_, String>(Some(
                        if n < 3 { "creating" } else { "available" }.to_owned(),
                    ))
                }
            },
        )
        .await;
        assert_eq!(got, Ok(Some("available".to_owned())));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // 25 + 37 + 56 ms of pauses.
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn unexpected_state_and_deletion() {
        let r = wait_for(
            &["creating"],
            &["available"],
            Duration::from_secs(1),
            || async { Ok::<_, String>(Some("create-failed".to_owned())) },
        )
        .await;
        assert!(r.unwrap_err().contains("unexpected state 'create-failed'"));
        let r = wait_for(&["deleting"], &[], Duration::from_secs(1), || async {
            Ok::<_, String>(None)
        })
        .await;
        assert_eq!(r, Ok(None));
    }

    #[tokio::test]
    async fn times_out() {
        let r = wait_for(
            &["creating"],
            &["available"],
            Duration::from_millis(200),
            || async { Ok::<_, String>(Some("creating".to_owned())) },
        )
        .await;
        assert!(r.unwrap_err().starts_with("timeout while waiting"));
    }
}
