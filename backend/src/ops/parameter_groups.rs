//! Cache parameter groups and the parameter catalogs.

use super::{not_blank, page, tags_in, Ctx};
use crate::catalog;
use crate::dto::{
    self, CacheNodeTypeSpecificParameter, CacheNodeTypeSpecificValue,
    CreateCacheParameterGroupInput, CreateCacheParameterGroupOutput,
    DeleteCacheParameterGroupInput, DeleteCacheParameterGroupOutput,
    DescribeCacheParameterGroupsInput, DescribeCacheParameterGroupsOutput,
    DescribeCacheParametersInput, DescribeCacheParametersOutput,
    DescribeEngineDefaultParametersInput, DescribeEngineDefaultParametersOutput, EngineDefaults,
    ModifyCacheParameterGroupInput, ModifyCacheParameterGroupOutput, ResetCacheParameterGroupInput,
    ResetCacheParameterGroupOutput,
};
use crate::model::parameter_group::ParameterGroup;
use crate::model::{Error, Scope};

fn flatten(scope: &Scope, g: &ParameterGroup) -> dto::CacheParameterGroup {
    dto::CacheParameterGroup {
        cache_parameter_group_name: Some(g.name.clone()),
        cache_parameter_group_family: Some(g.family.clone()),
        description: Some(g.description.clone()),
        is_global: Some(false),
        arn: Some(g.arn(scope)),
    }
}

fn parameter(p: &catalog::Parameter, value: Option<&str>, source: &str) -> dto::Parameter {
    dto::Parameter {
        parameter_name: Some(p.parameter_name.clone()),
        parameter_value: value.map(str::to_owned),
        description: p.description.clone(),
        source: Some(source.to_owned()),
        data_type: p.data_type.clone(),
        allowed_values: p.allowed_values.clone(),
        is_modifiable: Some(p.is_modifiable.unwrap_or(false)),
        minimum_engine_version: p.minimum_engine_version.clone(),
        change_type: p.change_type.clone().map(Into::into),
    }
}

fn node_type_specific(family: &str) -> Vec<CacheNodeTypeSpecificParameter> {
    catalog::node_type_specific(family)
        .iter()
        .map(|p| CacheNodeTypeSpecificParameter {
            parameter_name: Some(p.parameter_name.clone()),
            description: p.description.clone(),
            source: p.source.clone(),
            data_type: p.data_type.clone(),
            allowed_values: p.allowed_values.clone(),
            is_modifiable: Some(p.is_modifiable.unwrap_or(false)),
            minimum_engine_version: p.minimum_engine_version.clone(),
            cache_node_type_specific_values: Some(
                p.cache_node_type_specific_values
                    .iter()
                    .map(|x| CacheNodeTypeSpecificValue {
                        cache_node_type: Some(x.cache_node_type.clone()),
                        value: Some(x.value.clone()),
                    })
                    .collect(),
            ),
            change_type: p.change_type.clone().map(Into::into),
        })
        .collect()
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateCacheParameterGroupInput,
) -> Result<CreateCacheParameterGroupOutput, Error> {
    let CreateCacheParameterGroupInput {
        cache_parameter_group_name,
        cache_parameter_group_family,
        description,
        tags,
    } = input;
    let g = ctx.cp.create_parameter_group(
        &ctx.scope,
        &not_blank(cache_parameter_group_name, "CacheParameterGroupName")?,
        &not_blank(cache_parameter_group_family, "CacheParameterGroupFamily")?,
        &description,
        tags_in(tags),
    )?;
    Ok(CreateCacheParameterGroupOutput {
        cache_parameter_group: Some(flatten(&ctx.scope, &g)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeCacheParameterGroupsInput,
) -> Result<DescribeCacheParameterGroupsOutput, Error> {
    let DescribeCacheParameterGroupsInput {
        cache_parameter_group_name,
        max_records,
        marker,
    } = input;
    let groups = match cache_parameter_group_name {
        Some(n) => vec![ctx.cp.find_parameter_group(&ctx.scope, &n)?],
        None => ctx.cp.list_parameter_groups(&ctx.scope),
    };
    let (groups, marker) = page(groups, max_records, marker.as_deref(), 20, 100)?;
    let items = groups.iter().map(|g| flatten(&ctx.scope, g)).collect();
    Ok(DescribeCacheParameterGroupsOutput {
        marker,
        cache_parameter_groups: Some(items),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyCacheParameterGroupInput,
) -> Result<ModifyCacheParameterGroupOutput, Error> {
    let ModifyCacheParameterGroupInput {
        cache_parameter_group_name,
        parameter_name_values,
    } = input;
    let name = not_blank(cache_parameter_group_name, "CacheParameterGroupName")?;
    let changes: Vec<(String, Option<String>)> = parameter_name_values
        .into_iter()
        .map(|p| (p.parameter_name.unwrap_or_default(), p.parameter_value))
        .collect();
    if changes.is_empty() {
        return Err(Error::invalid(
            "The parameter ParameterNameValues must contain at least one parameter.",
        ));
    }
    for (n, v) in &changes {
        if n.is_empty() || v.is_none() {
            return Err(Error::invalid(
                "Each ParameterNameValue needs a ParameterName and a ParameterValue.",
            ));
        }
    }
    ctx.cp
        .modify_parameter_group(&ctx.scope, &name, changes, false)?;
    Ok(ModifyCacheParameterGroupOutput {
        cache_parameter_group_name: Some(name),
    })
}

pub(super) fn reset(
    ctx: &Ctx<'_>,
    input: ResetCacheParameterGroupInput,
) -> Result<ResetCacheParameterGroupOutput, Error> {
    let ResetCacheParameterGroupInput {
        cache_parameter_group_name,
        reset_all_parameters,
        parameter_name_values,
    } = input;
    let name = not_blank(cache_parameter_group_name, "CacheParameterGroupName")?;
    let all = reset_all_parameters.unwrap_or(false);
    let names: Vec<(String, Option<String>)> = parameter_name_values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.parameter_name.map(|n| (n, None)))
        .collect();
    if all != names.is_empty() {
        return Err(Error::combination(
            "Specify either ResetAllParameters or a list of ParameterNameValues, but not both.",
        ));
    }
    ctx.cp
        .modify_parameter_group(&ctx.scope, &name, names, all)?;
    Ok(ResetCacheParameterGroupOutput {
        cache_parameter_group_name: Some(name),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteCacheParameterGroupInput,
) -> Result<DeleteCacheParameterGroupOutput, Error> {
    let DeleteCacheParameterGroupInput {
        cache_parameter_group_name,
    } = input;
    ctx.cp.delete_parameter_group(
        &ctx.scope,
        &not_blank(cache_parameter_group_name, "CacheParameterGroupName")?,
    )?;
    Ok(())
}

pub(super) fn parameters(
    ctx: &Ctx<'_>,
    input: DescribeCacheParametersInput,
) -> Result<DescribeCacheParametersOutput, Error> {
    let DescribeCacheParametersInput {
        cache_parameter_group_name,
        source,
        max_records,
        marker,
    } = input;
    let g = ctx.cp.find_parameter_group(
        &ctx.scope,
        &not_blank(cache_parameter_group_name, "CacheParameterGroupName")?,
    )?;
    if let Some(s) = &source {
        if !["user", "system", "engine-default"].contains(&s.as_str()) {
            return Err(Error::invalid(format!(
                "Invalid value for Source: {s}. Valid values are user, system and engine-default."
            )));
        }
    }
    let items: Vec<dto::Parameter> = g
        .effective()
        .into_iter()
        .filter(|(_, _, src)| match source.as_deref() {
            Some("user") => *src == "user",
            Some(_) => *src != "user",
            None => true,
        })
        .map(|(p, v, src)| parameter(p, v.as_deref(), src))
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    let specific = if source.as_deref() == Some("user") {
        Vec::new()
    } else {
        node_type_specific(&g.family)
    };
    Ok(DescribeCacheParametersOutput {
        marker,
        parameters: Some(items),
        cache_node_type_specific_parameters: Some(specific),
    })
}

pub(super) fn engine_defaults(
    _ctx: &Ctx<'_>,
    input: DescribeEngineDefaultParametersInput,
) -> Result<DescribeEngineDefaultParametersOutput, Error> {
    let DescribeEngineDefaultParametersInput {
        cache_parameter_group_family,
        max_records,
        marker,
    } = input;
    let family = not_blank(cache_parameter_group_family, "CacheParameterGroupFamily")?;
    let params = crate::model::parameter_group::family_parameters(&family)?;
    let items = params
        .iter()
        .map(|p| parameter(p, p.parameter_value.as_deref(), "system"))
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeEngineDefaultParametersOutput {
        engine_defaults: Some(EngineDefaults {
            cache_node_type_specific_parameters: Some(node_type_specific(&family)),
            cache_parameter_group_family: Some(family),
            marker,
            parameters: Some(items),
        }),
    })
}
