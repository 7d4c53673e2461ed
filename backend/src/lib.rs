//! elasticache-local: the Amazon ElastiCache Query API on real engines.
//!
//! Layers, outermost first: `server` (HTTP) → `query` (the wire: form in, XML
//! out, generated from the API model, into and out of `dto` types) → `ops` (one file per API family) → `model`
//! (state and rules, no HTTP, no Docker) → `store` (persistence) and, through
//! the `worker` reconciler only, `engine` (Docker or processes).

pub mod atrest;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod dashboard;
pub mod dto;
pub mod engine;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod model;
pub mod ops;
pub mod query;
pub mod server;
pub mod store;
pub mod tls;
pub mod worker;
