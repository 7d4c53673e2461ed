//! Tags on any resource ARN.

use serde_json::{json, Value};

use super::{tags_json, Ctx, Input};
use crate::model::Error;

pub(super) fn add(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let tags = ctx
        .cp
        .add_tags(&ctx.scope, &i.req("ResourceName")?, i.tags())?;
    Ok(json!({ "TagList": tags_json(&tags) }))
}

pub(super) fn remove(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let tags = ctx
        .cp
        .remove_tags(&ctx.scope, &i.req("ResourceName")?, &i.strs("TagKeys"))?;
    Ok(json!({ "TagList": tags_json(&tags) }))
}

pub(super) fn list(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let tags = ctx.cp.list_tags(&ctx.scope, &i.req("ResourceName")?)?;
    Ok(json!({ "TagList": tags_json(&tags) }))
}
