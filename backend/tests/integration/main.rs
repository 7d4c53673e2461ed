//! Integration tests for elasticache-local: one binary, real engines, real clients.

mod common;
mod engine;
mod terraform_aws;
