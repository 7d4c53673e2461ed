//! Catalog reads: engine versions, reservations and service updates.
//!
//! A local backend sells no reservations and ships no service updates: the
//! describes answer empty lists, and acting on an offering or update that
//! does not exist answers the fault AWS answers for an unknown one.

use super::{not_blank, page, Ctx};
use crate::catalog;
use crate::dto::{
    BatchApplyUpdateActionInput, BatchApplyUpdateActionOutput, BatchStopUpdateActionInput,
    BatchStopUpdateActionOutput, CacheEngineVersion, DescribeCacheEngineVersionsInput,
    DescribeCacheEngineVersionsOutput, DescribeReservedCacheNodesInput,
    DescribeReservedCacheNodesOfferingsInput, DescribeReservedCacheNodesOfferingsOutput,
    DescribeReservedCacheNodesOutput, DescribeServiceUpdatesInput, DescribeServiceUpdatesOutput,
    DescribeUpdateActionsInput, DescribeUpdateActionsOutput,
    PurchaseReservedCacheNodesOfferingInput, PurchaseReservedCacheNodesOfferingOutput,
};
use crate::model::{Error, Fault};

pub(super) fn engine_versions(
    _ctx: &Ctx<'_>,
    input: DescribeCacheEngineVersionsInput,
) -> Result<DescribeCacheEngineVersionsOutput, Error> {
    let DescribeCacheEngineVersionsInput {
        engine,
        engine_version,
        cache_parameter_group_family,
        max_records,
        marker,
        default_only,
    } = input;
    let engine = engine.map(|e| e.to_ascii_lowercase());
    let family = cache_parameter_group_family;
    if let Some(f) = &family {
        if catalog::parameters(f).is_none() {
            return Err(Error::invalid(format!(
                "Invalid parameter group family: {f}"
            )));
        }
    }
    let default_only = default_only.unwrap_or(false);
    let items = catalog::engine_versions()
        .iter()
        .filter(|v| engine.as_ref().is_none_or(|e| &v.engine == e))
        .filter(|v| {
            engine_version
                .as_ref()
                .is_none_or(|x| &v.engine_version == x)
        })
        .filter(|v| {
            family
                .as_ref()
                .is_none_or(|f| &v.cache_parameter_group_family == f)
        })
        .filter(|v| !default_only || v.default)
        .map(|v| CacheEngineVersion {
            engine: Some(v.engine.clone()),
            engine_version: Some(v.engine_version.clone()),
            cache_parameter_group_family: Some(v.cache_parameter_group_family.clone()),
            cache_engine_description: Some(v.cache_engine_description.clone()),
            cache_engine_version_description: Some(v.cache_engine_version_description.clone()),
        })
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeCacheEngineVersionsOutput {
        marker,
        cache_engine_versions: Some(items),
    })
}

pub(super) fn reserved_offerings(
    _ctx: &Ctx<'_>,
    input: DescribeReservedCacheNodesOfferingsInput,
) -> Result<DescribeReservedCacheNodesOfferingsOutput, Error> {
    let DescribeReservedCacheNodesOfferingsInput {
        reserved_cache_nodes_offering_id,
        cache_node_type: _,
        duration: _,
        product_description: _,
        offering_type: _,
        max_records,
        marker,
    } = input;
    if let Some(id) = reserved_cache_nodes_offering_id {
        return Err(Error::new(
            Fault::ReservedCacheNodesOfferingNotFound,
            format!("Reserved cache nodes offering {id} not found."),
        ));
    }
    let (items, marker) = page(Vec::new(), max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeReservedCacheNodesOfferingsOutput {
        marker,
        reserved_cache_nodes_offerings: Some(items),
    })
}

pub(super) fn reserved_nodes(
    _ctx: &Ctx<'_>,
    input: DescribeReservedCacheNodesInput,
) -> Result<DescribeReservedCacheNodesOutput, Error> {
    let DescribeReservedCacheNodesInput {
        reserved_cache_node_id,
        reserved_cache_nodes_offering_id: _,
        cache_node_type: _,
        duration: _,
        product_description: _,
        offering_type: _,
        max_records,
        marker,
    } = input;
    if let Some(id) = reserved_cache_node_id {
        return Err(Error::new(
            Fault::ReservedCacheNodeNotFound,
            format!("Reserved cache node {id} not found."),
        ));
    }
    let (items, marker) = page(Vec::new(), max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeReservedCacheNodesOutput {
        marker,
        reserved_cache_nodes: Some(items),
    })
}

pub(super) fn purchase_reserved(
    _ctx: &Ctx<'_>,
    input: PurchaseReservedCacheNodesOfferingInput,
) -> Result<PurchaseReservedCacheNodesOfferingOutput, Error> {
    let PurchaseReservedCacheNodesOfferingInput {
        reserved_cache_nodes_offering_id,
        reserved_cache_node_id: _,
        cache_node_count: _,
        tags: _,
    } = input;
    let id = not_blank(
        reserved_cache_nodes_offering_id,
        "ReservedCacheNodesOfferingId",
    )?;
    Err(Error::new(
        Fault::ReservedCacheNodesOfferingNotFound,
        format!("Reserved cache nodes offering {id} not found."),
    ))
}

pub(super) fn service_updates(
    _ctx: &Ctx<'_>,
    input: DescribeServiceUpdatesInput,
) -> Result<DescribeServiceUpdatesOutput, Error> {
    let DescribeServiceUpdatesInput {
        service_update_name,
        service_update_status: _,
        max_records,
        marker,
    } = input;
    if let Some(n) = service_update_name {
        return Err(Error::new(
            Fault::ServiceUpdateNotFoundFault,
            format!("Service update {n} not found."),
        ));
    }
    let (items, marker) = page(Vec::new(), max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeServiceUpdatesOutput {
        marker,
        service_updates: Some(items),
    })
}

pub(super) fn update_actions(
    _ctx: &Ctx<'_>,
    input: DescribeUpdateActionsInput,
) -> Result<DescribeUpdateActionsOutput, Error> {
    let DescribeUpdateActionsInput {
        service_update_name: _,
        replication_group_ids: _,
        cache_cluster_ids: _,
        engine: _,
        service_update_status: _,
        service_update_time_range: _,
        update_action_status: _,
        show_node_level_update_status: _,
        max_records,
        marker,
    } = input;
    let (items, marker) = page(Vec::new(), max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeUpdateActionsOutput {
        marker,
        update_actions: Some(items),
    })
}

fn service_update_not_found<T>(name: String) -> Result<T, Error> {
    let n = not_blank(name, "ServiceUpdateName")?;
    Err(Error::new(
        Fault::ServiceUpdateNotFoundFault,
        format!("Service update {n} not found."),
    ))
}

pub(super) fn batch_apply_update_action(
    _ctx: &Ctx<'_>,
    input: BatchApplyUpdateActionInput,
) -> Result<BatchApplyUpdateActionOutput, Error> {
    let BatchApplyUpdateActionInput {
        replication_group_ids: _,
        cache_cluster_ids: _,
        service_update_name,
    } = input;
    service_update_not_found(service_update_name)
}

pub(super) fn batch_stop_update_action(
    _ctx: &Ctx<'_>,
    input: BatchStopUpdateActionInput,
) -> Result<BatchStopUpdateActionOutput, Error> {
    let BatchStopUpdateActionInput {
        replication_group_ids: _,
        cache_cluster_ids: _,
        service_update_name,
    } = input;
    service_update_not_found(service_update_name)
}
