//! Integration tests for elasticache-local: one binary, real engines, real clients.

mod common;
mod engine;
mod replication;
