//! Catalog reads: engine versions, reservations and service updates.
//!
//! A local backend sells no reservations and ships no service updates: the
//! describes answer empty lists, and acting on an offering or update that
//! does not exist answers the fault AWS answers for an unknown one.

use serde_json::{json, Value};

use super::{page, Ctx, Input};
use crate::catalog;
use crate::model::{Error, Fault};

pub(super) fn engine_versions(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let engine = i.str("Engine").map(|e| e.to_ascii_lowercase());
    let version = i.str("EngineVersion");
    let family = i.str("CacheParameterGroupFamily");
    if let Some(f) = &family {
        if catalog::parameters(f).is_none() {
            return Err(Error::invalid(format!(
                "Invalid parameter group family: {f}"
            )));
        }
    }
    let default_only = i.bool("DefaultOnly").unwrap_or(false);
    let items = catalog::engine_versions()
        .iter()
        .filter(|v| engine.as_ref().is_none_or(|e| &v.engine == e))
        .filter(|v| version.as_ref().is_none_or(|x| &v.engine_version == x))
        .filter(|v| {
            family
                .as_ref()
                .is_none_or(|f| &v.cache_parameter_group_family == f)
        })
        .filter(|v| !default_only || v.default)
        .map(|v| {
            json!({
                "Engine": v.engine,
                "EngineVersion": v.engine_version,
                "CacheParameterGroupFamily": v.cache_parameter_group_family,
                "CacheEngineDescription": v.cache_engine_description,
                "CacheEngineVersionDescription": v.cache_engine_version_description,
            })
        })
        .collect();
    let (items, marker) = page(&i, items, 20, 100)?;
    Ok(json!({ "Marker": marker, "CacheEngineVersions": items }))
}

pub(super) fn reserved_offerings(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    if let Some(id) = i.str("ReservedCacheNodesOfferingId") {
        return Err(Error::new(
            Fault::ReservedCacheNodesOfferingNotFound,
            format!("Reserved cache nodes offering {id} not found."),
        ));
    }
    let (items, marker) = page(&i, Vec::<Value>::new(), 20, 100)?;
    Ok(json!({ "Marker": marker, "ReservedCacheNodesOfferings": items }))
}

pub(super) fn reserved_nodes(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    if let Some(id) = i.str("ReservedCacheNodeId") {
        return Err(Error::new(
            Fault::ReservedCacheNodeNotFound,
            format!("Reserved cache node {id} not found."),
        ));
    }
    let (items, marker) = page(&i, Vec::<Value>::new(), 20, 100)?;
    Ok(json!({ "Marker": marker, "ReservedCacheNodes": items }))
}

pub(super) fn purchase_reserved(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let id = i.req("ReservedCacheNodesOfferingId")?;
    Err(Error::new(
        Fault::ReservedCacheNodesOfferingNotFound,
        format!("Reserved cache nodes offering {id} not found."),
    ))
}

pub(super) fn service_updates(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    if let Some(n) = i.str("ServiceUpdateName") {
        return Err(Error::new(
            Fault::ServiceUpdateNotFoundFault,
            format!("Service update {n} not found."),
        ));
    }
    let (items, marker) = page(&i, Vec::<Value>::new(), 20, 100)?;
    Ok(json!({ "Marker": marker, "ServiceUpdates": items }))
}

pub(super) fn update_actions(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let (items, marker) = page(&i, Vec::<Value>::new(), 20, 100)?;
    Ok(json!({ "Marker": marker, "UpdateActions": items }))
}

pub(super) fn batch_update_action(_ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let n = i.req("ServiceUpdateName")?;
    Err(Error::new(
        Fault::ServiceUpdateNotFoundFault,
        format!("Service update {n} not found."),
    ))
}
