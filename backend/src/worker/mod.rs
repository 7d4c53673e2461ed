//! Background work: the reconciler and the Memcached configuration endpoints.

pub mod cluster_mode;
pub mod discovery;
pub mod proxy;
pub mod reconcile;
pub mod replication;
