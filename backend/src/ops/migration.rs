//! Online migration: `TestMigration`, `StartMigration`, `CompleteMigration`.

use super::replication_groups::flatten;
use super::{required, Ctx};
use crate::dto::{
    CompleteMigrationInput, CompleteMigrationOutput, CustomerNodeEndpoint, StartMigrationInput,
    StartMigrationOutput, TestMigrationInput, TestMigrationOutput,
};
use crate::model::migration::{self, Source};
use crate::model::Error;

fn source(endpoints: Option<Vec<CustomerNodeEndpoint>>) -> Result<Source, Error> {
    let endpoints: Vec<(Option<String>, Option<i64>)> = endpoints
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.address, e.port))
        .collect();
    migration::source(&endpoints)
}

/// Migrations into serverless caches (`ServerlessCacheName`) are not here yet.
fn replication_group_id(
    replication_group_id: Option<String>,
    serverless_cache_name: Option<&String>,
) -> Result<String, Error> {
    if replication_group_id.is_none() && serverless_cache_name.is_some() {
        return Err(Error::invalid(
            "Online migration into a serverless cache is not available yet in elasticache-local.",
        ));
    }
    required(replication_group_id, "ReplicationGroupId")
}

pub(super) fn test(ctx: &Ctx<'_>, input: TestMigrationInput) -> Result<TestMigrationOutput, Error> {
    let TestMigrationInput {
        replication_group_id,
        customer_node_endpoint_list,
    } = input;
    let id = required(Some(replication_group_id), "ReplicationGroupId")?;
    let g = ctx
        .cp
        .test_migration(&ctx.scope, &id, source(Some(customer_node_endpoint_list))?)?;
    Ok(TestMigrationOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn start(
    ctx: &Ctx<'_>,
    input: StartMigrationInput,
) -> Result<StartMigrationOutput, Error> {
    let StartMigrationInput {
        serverless_cache_name,
        replication_group_id,
        customer_node_endpoint_list,
        auto_cutover: _,
        clear_target_cache_data: _,
    } = input;
    let id = self::replication_group_id(replication_group_id, serverless_cache_name.as_ref())?;
    let g = ctx
        .cp
        .start_migration(&ctx.scope, &id, source(customer_node_endpoint_list)?)?;
    Ok(StartMigrationOutput {
        replication_group: Some(flatten(ctx, &g)),
        serverless_cache: None,
    })
}

pub(super) fn complete(
    ctx: &Ctx<'_>,
    input: CompleteMigrationInput,
) -> Result<CompleteMigrationOutput, Error> {
    let CompleteMigrationInput {
        replication_group_id,
        serverless_cache_name,
        force,
    } = input;
    let id = self::replication_group_id(replication_group_id, serverless_cache_name.as_ref())?;
    let g = ctx
        .cp
        .complete_migration(&ctx.scope, &id, force.unwrap_or(false))?;
    Ok(CompleteMigrationOutput {
        replication_group: Some(flatten(ctx, &g)),
        serverless_cache: None,
    })
}
