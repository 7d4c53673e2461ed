//! Background work: the reconciler and the Memcached configuration endpoints.

pub mod cluster_mode;
pub mod discovery;
mod migration;
pub mod proxy;
pub mod reconcile;
pub mod replication;
pub mod snapshots;
