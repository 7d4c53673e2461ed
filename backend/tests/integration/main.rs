//! Integration tests for elasticache-local.

mod engine;
