//! Integration tests for elasticache-local: one binary, real engines, real clients.

mod answers;
mod cli;
mod cluster_mode;
mod common;
mod dashboard;
mod engine;
mod global;
mod image;
mod migration;
mod rbac;
mod replication;
mod reserved;
mod restart;
mod sdk_clusters;
mod sdk_groups;
mod serverless;
mod snapshots;
mod terraform_aws;
mod timing;
mod tls;
mod transit;
mod updates;
mod users;
