//! Online migration: `TestMigration`, `StartMigration`, `CompleteMigration`.

use super::replication_groups::flatten;
use super::{required, Ctx};
use crate::dto::{
    CompleteMigrationInput, CompleteMigrationOutput, CustomerNodeEndpoint, StartMigrationInput,
    StartMigrationOutput, TestMigrationInput, TestMigrationOutput,
};
use crate::model::migration::{self, Source};
use crate::model::Error;

pub(super) fn source(endpoints: Option<Vec<CustomerNodeEndpoint>>) -> Result<Source, Error> {
    let endpoints: Vec<(Option<String>, Option<i64>)> = endpoints
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.address, e.port))
        .collect();
    migration::source(&endpoints)
}

/// The target: a replication group, or a serverless cache (`Err`: its name).
fn target(
    replication_group_id: Option<String>,
    serverless_cache_name: Option<String>,
) -> Result<Result<String, String>, Error> {
    let sls = serverless_cache_name.filter(|n| !n.is_empty());
    match (replication_group_id.filter(|n| !n.is_empty()), sls) {
        (Some(_), Some(_)) => Err(Error::combination(
            "Only one of ReplicationGroupId or ServerlessCacheName may be specified.",
        )),
        (None, Some(n)) => Ok(Err(n)),
        (id, None) => required(id, "ReplicationGroupId").map(Ok),
    }
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
        auto_cutover,
        clear_target_cache_data: _,
    } = input;
    // (`ClearTargetCacheData`: the engines' full sync from the source
    // replaces the target's data whatever it says.)
    let id = match target(replication_group_id, serverless_cache_name)? {
        Ok(id) => id,
        Err(name) => {
            let c = super::serverless::start_migration(
                ctx,
                &name,
                source(customer_node_endpoint_list)?,
                auto_cutover.unwrap_or(false),
            )?;
            return Ok(StartMigrationOutput {
                replication_group: None,
                serverless_cache: Some(c),
            });
        }
    };
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
    let id = match target(replication_group_id, serverless_cache_name)? {
        Ok(id) => id,
        Err(name) => {
            let c = super::serverless::complete_migration(ctx, &name, force.unwrap_or(false))?;
            return Ok(CompleteMigrationOutput {
                replication_group: None,
                serverless_cache: Some(c),
            });
        }
    };
    let g = ctx
        .cp
        .complete_migration(&ctx.scope, &id, force.unwrap_or(false))?;
    Ok(CompleteMigrationOutput {
        replication_group: Some(flatten(ctx, &g)),
        serverless_cache: None,
    })
}
