//! Cache subnet groups.

use serde_json::{json, Value};

use super::{page, Ctx, Input};
use crate::model::subnet_group::{vpc_id, SubnetGroup};
use crate::model::{Error, Scope};

fn flatten(scope: &Scope, g: &SubnetGroup) -> Value {
    json!({
        "CacheSubnetGroupName": g.name,
        "CacheSubnetGroupDescription": g.description,
        "VpcId": vpc_id(scope),
        "Subnets": g.subnets(scope).iter().map(|s| json!({
            "SubnetIdentifier": s.id,
            "SubnetAvailabilityZone": {"Name": s.az},
            "SupportedNetworkTypes": ["ipv4"],
        })).collect::<Vec<_>>(),
        "ARN": g.arn(scope),
        "SupportedNetworkTypes": ["ipv4"],
    })
}

pub(super) fn create(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.create_subnet_group(
        &ctx.scope,
        &i.req("CacheSubnetGroupName")?,
        &i.req("CacheSubnetGroupDescription")?,
        i.strs("SubnetIds"),
        i.tags(),
    )?;
    Ok(json!({ "CacheSubnetGroup": flatten(&ctx.scope, &g) }))
}

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let groups = match i.str("CacheSubnetGroupName") {
        Some(n) => vec![ctx.cp.find_subnet_group(&ctx.scope, &n)?],
        None => ctx.cp.list_subnet_groups(&ctx.scope),
    };
    let items = groups.iter().map(|g| flatten(&ctx.scope, g)).collect();
    let (items, marker) = page(&i, items, 20, 100)?;
    Ok(json!({ "Marker": marker, "CacheSubnetGroups": items }))
}

pub(super) fn modify(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.modify_subnet_group(
        &ctx.scope,
        &i.req("CacheSubnetGroupName")?,
        i.str("CacheSubnetGroupDescription"),
        i.has("SubnetIds").then(|| i.strs("SubnetIds")),
    )?;
    Ok(json!({ "CacheSubnetGroup": flatten(&ctx.scope, &g) }))
}

pub(super) fn delete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    ctx.cp
        .delete_subnet_group(&ctx.scope, &i.req("CacheSubnetGroupName")?)?;
    Ok(json!({}))
}
