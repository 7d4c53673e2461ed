//! Online migration: `TestMigration`, `StartMigration`, `CompleteMigration`.

use serde_json::{json, Value};

use super::replication_groups::flatten;
use super::{Ctx, Input};
use crate::model::migration::{self, Source};
use crate::model::Error;

fn source(i: &Input) -> Result<Source, Error> {
    let endpoints: Vec<(Option<String>, Option<i64>)> = i
        .list("CustomerNodeEndpointList")
        .iter()
        .map(|e| {
            (
                e.get("Address").and_then(Value::as_str).map(str::to_owned),
                e.get("Port").and_then(Value::as_i64),
            )
        })
        .collect();
    migration::source(&endpoints)
}

pub(super) fn test(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let id = i.req("ReplicationGroupId")?;
    let g = ctx.cp.test_migration(&ctx.scope, &id, source(&i)?)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

/// Migrations into serverless caches (`ServerlessCacheName`) are not here yet.
fn replication_group_id(i: &Input) -> Result<String, Error> {
    if i.str("ReplicationGroupId").is_none() && i.str("ServerlessCacheName").is_some() {
        return Err(Error::invalid(
            "Online migration into a serverless cache is not available yet in elasticache-local.",
        ));
    }
    i.req("ReplicationGroupId")
}

pub(super) fn start(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let id = replication_group_id(&i)?;
    let g = ctx.cp.start_migration(&ctx.scope, &id, source(&i)?)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn complete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let id = replication_group_id(&i)?;
    let force = i.bool("Force").unwrap_or(false);
    let g = ctx.cp.complete_migration(&ctx.scope, &id, force)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}
