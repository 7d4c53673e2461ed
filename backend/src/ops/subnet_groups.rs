//! Cache subnet groups.

use super::{not_blank, page, tags_in, Ctx};
use crate::dto::{
    AvailabilityZone, CacheSubnetGroup, CreateCacheSubnetGroupInput, CreateCacheSubnetGroupOutput,
    DeleteCacheSubnetGroupInput, DeleteCacheSubnetGroupOutput, DescribeCacheSubnetGroupsInput,
    DescribeCacheSubnetGroupsOutput, ModifyCacheSubnetGroupInput, ModifyCacheSubnetGroupOutput,
    NetworkType, Subnet,
};
use crate::model::subnet_group::{vpc_id, SubnetGroup};
use crate::model::{Error, Scope};

fn flatten(scope: &Scope, g: &SubnetGroup) -> CacheSubnetGroup {
    CacheSubnetGroup {
        cache_subnet_group_name: Some(g.name.clone()),
        cache_subnet_group_description: Some(g.description.clone()),
        vpc_id: Some(vpc_id(scope)),
        subnets: Some(
            g.subnets(scope)
                .iter()
                .map(|s| Subnet {
                    subnet_identifier: Some(s.id.clone()),
                    subnet_availability_zone: Some(AvailabilityZone {
                        name: Some(s.az.clone()),
                    }),
                    supported_network_types: Some(vec![NetworkType::IPV4]),
                    ..Subnet::default()
                })
                .collect(),
        ),
        arn: Some(g.arn(scope)),
        supported_network_types: Some(vec![NetworkType::IPV4]),
    }
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateCacheSubnetGroupInput,
) -> Result<CreateCacheSubnetGroupOutput, Error> {
    let CreateCacheSubnetGroupInput {
        cache_subnet_group_name,
        cache_subnet_group_description,
        subnet_ids,
        tags,
    } = input;
    let g = ctx.cp.create_subnet_group(
        &ctx.scope,
        &not_blank(cache_subnet_group_name, "CacheSubnetGroupName")?,
        &not_blank(
            cache_subnet_group_description,
            "CacheSubnetGroupDescription",
        )?,
        subnet_ids,
        tags_in(tags),
    )?;
    Ok(CreateCacheSubnetGroupOutput {
        cache_subnet_group: Some(flatten(&ctx.scope, &g)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeCacheSubnetGroupsInput,
) -> Result<DescribeCacheSubnetGroupsOutput, Error> {
    let DescribeCacheSubnetGroupsInput {
        cache_subnet_group_name,
        max_records,
        marker,
    } = input;
    let groups = match cache_subnet_group_name {
        Some(n) => vec![ctx.cp.find_subnet_group(&ctx.scope, &n)?],
        None => ctx.cp.list_subnet_groups(&ctx.scope),
    };
    let items = groups.iter().map(|g| flatten(&ctx.scope, g)).collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeCacheSubnetGroupsOutput {
        marker,
        cache_subnet_groups: Some(items),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyCacheSubnetGroupInput,
) -> Result<ModifyCacheSubnetGroupOutput, Error> {
    let ModifyCacheSubnetGroupInput {
        cache_subnet_group_name,
        cache_subnet_group_description,
        subnet_ids,
    } = input;
    let g = ctx.cp.modify_subnet_group(
        &ctx.scope,
        &not_blank(cache_subnet_group_name, "CacheSubnetGroupName")?,
        cache_subnet_group_description,
        subnet_ids,
    )?;
    Ok(ModifyCacheSubnetGroupOutput {
        cache_subnet_group: Some(flatten(&ctx.scope, &g)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteCacheSubnetGroupInput,
) -> Result<DeleteCacheSubnetGroupOutput, Error> {
    let DeleteCacheSubnetGroupInput {
        cache_subnet_group_name,
    } = input;
    ctx.cp.delete_subnet_group(
        &ctx.scope,
        &not_blank(cache_subnet_group_name, "CacheSubnetGroupName")?,
    )?;
    Ok(())
}
