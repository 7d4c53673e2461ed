//! Catalog reads: engine versions, reservations and service updates.
//!
//! A local backend sells no reservations and ships no service updates: the
//! describes answer empty lists, and acting on an offering or update that
//! does not exist answers the fault AWS answers for an unknown one.

use super::{not_blank, page, tags_in, Ctx};
use crate::catalog;
use crate::dto::{
    BatchApplyUpdateActionInput, BatchApplyUpdateActionOutput, BatchStopUpdateActionInput,
    BatchStopUpdateActionOutput, CacheEngineVersion, DescribeCacheEngineVersionsInput,
    DescribeCacheEngineVersionsOutput, DescribeReservedCacheNodesInput,
    DescribeReservedCacheNodesOfferingsInput, DescribeReservedCacheNodesOfferingsOutput,
    DescribeReservedCacheNodesOutput, DescribeServiceUpdatesInput, DescribeServiceUpdatesOutput,
    DescribeUpdateActionsInput, DescribeUpdateActionsOutput,
    PurchaseReservedCacheNodesOfferingInput, PurchaseReservedCacheNodesOfferingOutput,
    RecurringCharge, ReservedCacheNode, ReservedCacheNodesOffering,
};
use crate::model::{reserved_node, Error, Fault};

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
        cache_node_type,
        duration,
        product_description,
        offering_type,
        max_records,
        marker,
    } = input;
    let filter = reserved_node::Filter {
        offering_id: reserved_cache_nodes_offering_id,
        cache_node_type,
        duration: reserved_node::parse_duration(duration)?,
        product_description,
        offering_type: reserved_node::check_offering_type(offering_type)?,
    };
    let items = reserved_node::offerings(&filter)?
        .into_iter()
        .map(|o| ReservedCacheNodesOffering {
            reserved_cache_nodes_offering_id: Some(o.id.clone()),
            cache_node_type: Some(o.cache_node_type.clone()),
            duration: Some(o.duration),
            fixed_price: Some(o.fixed_price),
            usage_price: Some(o.usage_price),
            product_description: Some(o.product_description.clone()),
            offering_type: Some(o.offering_type.clone()),
            recurring_charges: Some(recurring(o.hourly_charge)),
        })
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeReservedCacheNodesOfferingsOutput {
        marker,
        reserved_cache_nodes_offerings: Some(items),
    })
}

fn recurring(hourly: f64) -> Vec<RecurringCharge> {
    vec![RecurringCharge {
        recurring_charge_amount: Some(hourly),
        recurring_charge_frequency: Some("Hourly".to_owned()),
    }]
}

fn reserved_node_out(n: &reserved_node::ReservedNode) -> ReservedCacheNode {
    ReservedCacheNode {
        reserved_cache_node_id: Some(n.id.clone()),
        reserved_cache_nodes_offering_id: Some(n.offering_id.clone()),
        cache_node_type: Some(n.cache_node_type.clone()),
        start_time: Some(n.start_time),
        duration: Some(n.duration),
        fixed_price: Some(n.fixed_price),
        usage_price: Some(n.usage_price),
        cache_node_count: Some(n.cache_node_count),
        product_description: Some(n.product_description.clone()),
        offering_type: Some(n.offering_type.clone()),
        state: Some(n.state().to_owned()),
        recurring_charges: Some(recurring(n.hourly_charge)),
        reservation_arn: Some(n.arn.clone()),
    }
}

pub(super) fn reserved_nodes(
    ctx: &Ctx<'_>,
    input: DescribeReservedCacheNodesInput,
) -> Result<DescribeReservedCacheNodesOutput, Error> {
    let DescribeReservedCacheNodesInput {
        reserved_cache_node_id,
        reserved_cache_nodes_offering_id,
        cache_node_type,
        duration,
        product_description,
        offering_type,
        max_records,
        marker,
    } = input;
    let filter = reserved_node::Filter {
        offering_id: reserved_cache_nodes_offering_id,
        cache_node_type,
        duration: reserved_node::parse_duration(duration)?,
        product_description,
        offering_type: reserved_node::check_offering_type(offering_type)?,
    };
    let items = ctx
        .cp
        .describe_reserved_nodes(&ctx.scope, reserved_cache_node_id.as_deref(), &filter)?
        .iter()
        .map(reserved_node_out)
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeReservedCacheNodesOutput {
        marker,
        reserved_cache_nodes: Some(items),
    })
}

pub(super) fn purchase_reserved(
    ctx: &Ctx<'_>,
    input: PurchaseReservedCacheNodesOfferingInput,
) -> Result<PurchaseReservedCacheNodesOfferingOutput, Error> {
    let PurchaseReservedCacheNodesOfferingInput {
        reserved_cache_nodes_offering_id,
        reserved_cache_node_id,
        cache_node_count,
        tags,
    } = input;
    let id = not_blank(
        reserved_cache_nodes_offering_id,
        "ReservedCacheNodesOfferingId",
    )?;
    let n = ctx.cp.purchase_reserved_node(
        &ctx.scope,
        &id,
        reserved_cache_node_id,
        cache_node_count,
        tags_in(tags),
    )?;
    Ok(PurchaseReservedCacheNodesOfferingOutput {
        reserved_cache_node: Some(reserved_node_out(&n)),
    })
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
