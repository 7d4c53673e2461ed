//! Tags on any resource ARN.

use super::{not_blank, tags_in, tags_out, Ctx};
use crate::dto::{
    AddTagsToResourceInput, AddTagsToResourceOutput, ListTagsForResourceInput,
    ListTagsForResourceOutput, RemoveTagsFromResourceInput, RemoveTagsFromResourceOutput,
};
use crate::model::Error;

pub(super) fn add(
    ctx: &Ctx<'_>,
    input: AddTagsToResourceInput,
) -> Result<AddTagsToResourceOutput, Error> {
    let AddTagsToResourceInput {
        resource_name,
        tags,
    } = input;
    let tags = ctx.cp.add_tags(
        &ctx.scope,
        &not_blank(resource_name, "ResourceName")?,
        tags_in(Some(tags)),
    )?;
    Ok(AddTagsToResourceOutput {
        tag_list: Some(tags_out(&tags)),
    })
}

pub(super) fn remove(
    ctx: &Ctx<'_>,
    input: RemoveTagsFromResourceInput,
) -> Result<RemoveTagsFromResourceOutput, Error> {
    let RemoveTagsFromResourceInput {
        resource_name,
        tag_keys,
    } = input;
    let tags = ctx.cp.remove_tags(
        &ctx.scope,
        &not_blank(resource_name, "ResourceName")?,
        &tag_keys,
    )?;
    Ok(RemoveTagsFromResourceOutput {
        tag_list: Some(tags_out(&tags)),
    })
}

pub(super) fn list(
    ctx: &Ctx<'_>,
    input: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, Error> {
    let ListTagsForResourceInput { resource_name } = input;
    let tags = ctx
        .cp
        .list_tags(&ctx.scope, &not_blank(resource_name, "ResourceName")?)?;
    Ok(ListTagsForResourceOutput {
        tag_list: Some(tags_out(&tags)),
    })
}
