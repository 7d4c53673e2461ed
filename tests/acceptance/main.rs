//! Acceptance tests with real Terraform, per resource, in HashiCorp's pattern
//! (`_basic`, `_update`, `_disappears`, `_tags`, `_import`).

mod cluster;
mod common;
mod docs;
mod global_replication_group;
mod install;
mod module;
mod parameter_group;
mod region;
mod replication_group;
mod replication_group_scenarios;
mod reserved_cache_node;
mod schema;
mod serverless_cache;
mod subnet_group;
mod user;
