//! Start slots: how many creates may be starting engines at once.
//!
//! An engine's start is mostly CPU (the exec, the dynamic linker, the
//! engine's own start, the node's files: ~10 ms of CPU for a Memcached node
//! on the benchmark machine), so a burst of creates that started every engine
//! at once left the API's requests a sliver of the cores. The slots bound
//! that: one per two cores. A slot is held from the spawn until the engine
//! answers, at most [`SLOT_HOLD`].
//!
//! One slot serves one *create*, not one engine: the nodes of a cluster, and
//! the members of a replication group (every shard of a cluster-mode group),
//! share the slot the first of them took, and start together. A group is
//! ready when its last member is, so members started in turns cost the group
//! the sum of their starts instead of the longest one; a burst of creates
//! still starts one create at a time per slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest an engine holds its start slot: one that is slow to answer (a
/// container image, an engine that fails) lets the next start go after this.
pub(crate) const SLOT_HOLD: Duration = Duration::from_millis(250);

/// A held start slot; the slot is free again once every sharer dropped it.
pub(crate) type Slot = Arc<OwnedSemaphorePermit>;

/// A gate per create: the first sharer takes the slot behind it, the others
/// wait for it there and share it.
type Gate = Arc<tokio::sync::Mutex<Weak<OwnedSemaphorePermit>>>;

pub(crate) struct StartSlots {
    free: Arc<Semaphore>,
    gates: Mutex<HashMap<String, Gate>>,
}

impl StartSlots {
    /// One slot per two cores (at least one).
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self::with(cores / 2)
    }

    pub(crate) fn with(slots: usize) -> Self {
        Self {
            free: Arc::new(Semaphore::new(slots.max(1))),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for a start of the create named `share` (see [`share_key`]):
    /// the one a sharer holds now, or a free one (in the order asked).
    /// `None` only if the slots were closed.
    pub(crate) async fn take(&self, share: &str) -> Option<Slot> {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
            // Gates nobody waits at and whose slot is free again go.
            gates.retain(|_, g| {
                Arc::strong_count(g) > 1
                    || g.try_lock().map_or(true, |held| held.strong_count() > 0)
            });
            gates.entry(share.to_owned()).or_default().clone()
        };
        let mut held = gate.lock().await;
        if let Some(slot) = held.upgrade() {
            return Some(slot);
        }
        let slot = Arc::new(self.free.clone().acquire_owned().await.ok()?);
        *held = Arc::downgrade(&slot);
        Some(slot)
    }
}

/// The create a node's start belongs to: its replication group when it is a
/// member of one, its cluster otherwise.
pub(crate) fn share_key(scope: &crate::model::Scope, cluster: &str, group: Option<&str>) -> String {
    match group {
        Some(g) => format!("{}/{}/group/{g}", scope.account, scope.region),
        None => format!("{}/{}/cluster/{cluster}", scope.account, scope.region),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `f` is still waiting 50 ms on.
    async fn still_waiting<F: std::future::Future + Unpin>(f: &mut F) -> bool {
        tokio::time::timeout(Duration::from_millis(50), f)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn sharers_start_together_and_others_wait_their_turn() {
        let slots = StartSlots::with(1);
        let a = slots.take("g1").await.expect("a slot");
        // A member of the same create shares it at once.
        let b = tokio::time::timeout(Duration::from_millis(100), slots.take("g1"))
            .await
            .expect("a sharer does not wait")
            .expect("a slot");
        assert!(Arc::ptr_eq(&a, &b));
        // Another create waits until every sharer is done.
        let other = slots.take("g2");
        tokio::pin!(other);
        assert!(still_waiting(&mut other).await);
        drop(a);
        assert!(still_waiting(&mut other).await);
        drop(b);
        let c = tokio::time::timeout(Duration::from_millis(100), &mut other)
            .await
            .expect("the slot is free again")
            .expect("a slot");
        // A later start of the first create takes a slot of its own again.
        let again = slots.take("g1");
        tokio::pin!(again);
        assert!(still_waiting(&mut again).await);
        drop(c);
        assert!(tokio::time::timeout(Duration::from_millis(100), &mut again)
            .await
            .is_ok());
        assert!(slots.gates.lock().unwrap().len() <= 2);
    }
}
