//! Cache parameter groups and the parameter catalogs.

use serde_json::{json, Value};

use super::{page, Ctx, Input};
use crate::catalog;
use crate::model::parameter_group::ParameterGroup;
use crate::model::{Error, Scope};

fn flatten(scope: &Scope, g: &ParameterGroup) -> Value {
    json!({
        "CacheParameterGroupName": g.name,
        "CacheParameterGroupFamily": g.family,
        "Description": g.description,
        "IsGlobal": false,
        "ARN": g.arn(scope),
    })
}

fn parameter(p: &catalog::Parameter, value: Option<&str>, source: &str) -> Value {
    let mut v = json!({ "ParameterName": p.parameter_name });
    if let Some(val) = value {
        v["ParameterValue"] = json!(val);
    }
    if let Some(d) = &p.description {
        v["Description"] = json!(d);
    }
    v["Source"] = json!(source);
    if let Some(d) = &p.data_type {
        v["DataType"] = json!(d);
    }
    if let Some(a) = &p.allowed_values {
        v["AllowedValues"] = json!(a);
    }
    v["IsModifiable"] = json!(p.is_modifiable.unwrap_or(false));
    if let Some(m) = &p.minimum_engine_version {
        v["MinimumEngineVersion"] = json!(m);
    }
    if let Some(c) = &p.change_type {
        v["ChangeType"] = json!(c);
    }
    v
}

fn node_type_specific(family: &str) -> Vec<Value> {
    catalog::node_type_specific(family)
        .iter()
        .map(|p| {
            let mut v = json!({ "ParameterName": p.parameter_name });
            if let Some(d) = &p.description {
                v["Description"] = json!(d);
            }
            if let Some(s) = &p.source {
                v["Source"] = json!(s);
            }
            if let Some(d) = &p.data_type {
                v["DataType"] = json!(d);
            }
            if let Some(a) = &p.allowed_values {
                v["AllowedValues"] = json!(a);
            }
            v["IsModifiable"] = json!(p.is_modifiable.unwrap_or(false));
            if let Some(m) = &p.minimum_engine_version {
                v["MinimumEngineVersion"] = json!(m);
            }
            v["CacheNodeTypeSpecificValues"] = Value::Array(
                p.cache_node_type_specific_values
                    .iter()
                    .map(|x| json!({"CacheNodeType": x.cache_node_type, "Value": x.value}))
                    .collect(),
            );
            if let Some(c) = &p.change_type {
                v["ChangeType"] = json!(c);
            }
            v
        })
        .collect()
}

pub(super) fn create(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.create_parameter_group(
        &ctx.scope,
        &i.req("CacheParameterGroupName")?,
        &i.req("CacheParameterGroupFamily")?,
        &i.str("Description").unwrap_or_default(),
        i.tags(),
    )?;
    Ok(json!({ "CacheParameterGroup": flatten(&ctx.scope, &g) }))
}

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let groups = match i.str("CacheParameterGroupName") {
        Some(n) => vec![ctx.cp.find_parameter_group(&ctx.scope, &n)?],
        None => ctx.cp.list_parameter_groups(&ctx.scope),
    };
    let (groups, marker) = page(&i, groups, 20, 100)?;
    let items: Vec<Value> = groups.iter().map(|g| flatten(&ctx.scope, g)).collect();
    Ok(json!({ "Marker": marker, "CacheParameterGroups": items }))
}

pub(super) fn modify(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let name = i.req("CacheParameterGroupName")?;
    let changes: Vec<(String, Option<String>)> = i
        .list("ParameterNameValues")
        .into_iter()
        .map(|m| {
            let n = m
                .get("ParameterName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let v = m
                .get("ParameterValue")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (n, v)
        })
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
    Ok(json!({ "CacheParameterGroupName": name }))
}

pub(super) fn reset(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let name = i.req("CacheParameterGroupName")?;
    let all = i.bool("ResetAllParameters").unwrap_or(false);
    let names: Vec<(String, Option<String>)> = i
        .list("ParameterNameValues")
        .into_iter()
        .filter_map(|m| {
            m.get("ParameterName")
                .and_then(Value::as_str)
                .map(|n| (n.to_owned(), None))
        })
        .collect();
    if all != names.is_empty() {
        return Err(Error::combination(
            "Specify either ResetAllParameters or a list of ParameterNameValues, but not both.",
        ));
    }
    ctx.cp
        .modify_parameter_group(&ctx.scope, &name, names, all)?;
    Ok(json!({ "CacheParameterGroupName": name }))
}

pub(super) fn delete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    ctx.cp
        .delete_parameter_group(&ctx.scope, &i.req("CacheParameterGroupName")?)?;
    Ok(json!({}))
}

pub(super) fn parameters(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx
        .cp
        .find_parameter_group(&ctx.scope, &i.req("CacheParameterGroupName")?)?;
    let source = i.str("Source");
    if let Some(s) = &source {
        if !["user", "system", "engine-default"].contains(&s.as_str()) {
            return Err(Error::invalid(format!(
                "Invalid value for Source: {s}. Valid values are user, system and engine-default."
            )));
        }
    }
    let items: Vec<Value> = g
        .effective()
        .into_iter()
        .filter(|(_, _, src)| match source.as_deref() {
            Some("user") => *src == "user",
            Some(_) => *src != "user",
            None => true,
        })
        .map(|(p, v, src)| parameter(p, v.as_deref(), src))
        .collect();
    let (items, marker) = page(&i, items, 20, 100)?;
    let specific = if source.as_deref() == Some("user") {
        Vec::new()
    } else {
        node_type_specific(&g.family)
    };
    Ok(
        json!({ "Marker": marker, "Parameters": items, "CacheNodeTypeSpecificParameters": specific }),
    )
}

pub(super) fn engine_defaults(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let family = i.req("CacheParameterGroupFamily")?;
    let params = crate::model::parameter_group::family_parameters(&family)?;
    let items = params
        .iter()
        .map(|p| parameter(p, p.parameter_value.as_deref(), "system"))
        .collect();
    let (items, marker) = page(&i, items, 20, 100)?;
    Ok(json!({ "EngineDefaults": {
        "CacheParameterGroupFamily": family,
        "Marker": marker,
        "Parameters": items,
        "CacheNodeTypeSpecificParameters": node_type_specific(&family),
    }}))
}
