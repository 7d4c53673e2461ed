//! Catalog reads: engine versions, reservations and service updates.
//!
//! A local backend sells no reservations and ships no service updates: the
//! describes answer empty lists, and acting on an offering or update that
//! does not exist answers the fault AWS answers for an unknown one.

use super::{not_blank, page, tags_in, Ctx};
use crate::catalog;
use crate::catalog::service_updates;
use crate::dto::{
    BatchApplyUpdateActionInput, BatchApplyUpdateActionOutput, BatchStopUpdateActionInput,
    BatchStopUpdateActionOutput, CacheEngineVersion, CacheNodeUpdateStatus,
    DescribeCacheEngineVersionsInput, DescribeCacheEngineVersionsOutput,
    DescribeReservedCacheNodesInput, DescribeReservedCacheNodesOfferingsInput,
    DescribeReservedCacheNodesOfferingsOutput, DescribeReservedCacheNodesOutput,
    DescribeServiceUpdatesInput, DescribeServiceUpdatesOutput, DescribeUpdateActionsInput,
    DescribeUpdateActionsOutput, NodeGroupMemberUpdateStatus, NodeGroupUpdateStatus,
    NodeUpdateInitiatedBy, NodeUpdateStatus, ProcessedUpdateAction,
    PurchaseReservedCacheNodesOfferingInput, PurchaseReservedCacheNodesOfferingOutput,
    RecurringCharge, ReservedCacheNode, ReservedCacheNodesOffering, ServiceUpdate,
    ServiceUpdateSeverity, ServiceUpdateStatus, ServiceUpdateType, SlaMet, UnprocessedUpdateAction,
    UpdateAction, UpdateActionResultsMessage, UpdateActionStatus,
};
use crate::model::{reserved_node, service_update, ControlPlane, Error};

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
        service_update_status,
        max_records,
        marker,
    } = input;
    let statuses: Option<Vec<String>> =
        service_update_status.map(|v| v.into_iter().map(String::from).collect());
    let now = ControlPlane::now();
    let items = service_update::describe_service_updates(
        service_update_name.as_deref(),
        statuses.as_deref(),
    )?
    .into_iter()
    .map(|u| ServiceUpdate {
        service_update_name: Some(u.name.to_owned()),
        service_update_release_date: Some(u.release_date),
        service_update_end_date: Some(u.end_date),
        service_update_severity: Some(ServiceUpdateSeverity::from(u.severity.to_owned())),
        service_update_recommended_apply_by_date: Some(u.recommended_apply_by_date),
        service_update_status: Some(ServiceUpdateStatus::from(u.status_at(now).to_owned())),
        service_update_description: Some(u.description.to_owned()),
        service_update_type: Some(ServiceUpdateType::from(service_updates::TYPE.to_owned())),
        engine: Some(u.engine.to_owned()),
        engine_version: Some(u.engine_version.to_owned()),
        auto_update_after_recommended_apply_by_date: Some(
            u.auto_update_after_recommended_apply_by_date,
        ),
        estimated_update_time: Some(u.estimated_update_time.to_owned()),
    })
    .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeServiceUpdatesOutput {
        marker,
        service_updates: Some(items),
    })
}

fn node_update_status(s: &str) -> Option<NodeUpdateStatus> {
    Some(NodeUpdateStatus::from(s.to_owned()))
}

fn update_action_out(a: &service_update::UpdateAction, node_level: bool) -> UpdateAction {
    let now = ControlPlane::now();
    let initiated_by = |n: &service_update::NodeUpdate| {
        n.initiated
            .map(|_| NodeUpdateInitiatedBy::from("customer".to_owned()))
    };
    let (groups, nodes) = if !node_level {
        (None, None)
    } else if a.replication_group_id.is_some() {
        let mut groups: Vec<NodeGroupUpdateStatus> = Vec::new();
        for n in &a.nodes {
            let m = NodeGroupMemberUpdateStatus {
                cache_cluster_id: Some(n.cluster_id.clone()),
                cache_node_id: Some(n.node_id.clone()),
                node_update_status: node_update_status(&n.status),
                node_deletion_date: None,
                node_update_start_date: n.start,
                node_update_end_date: n.end,
                node_update_initiated_by: initiated_by(n),
                node_update_initiated_date: n.initiated,
                node_update_status_modified_date: n.modified,
            };
            match groups
                .iter_mut()
                .find(|g| g.node_group_id.as_deref() == Some(n.node_group_id.as_str()))
            {
                Some(g) => g
                    .node_group_member_update_status
                    .get_or_insert_with(Vec::new)
                    .push(m),
                None => groups.push(NodeGroupUpdateStatus {
                    node_group_id: Some(n.node_group_id.clone()),
                    node_group_member_update_status: Some(vec![m]),
                }),
            }
        }
        groups.sort_by(|a, b| a.node_group_id.cmp(&b.node_group_id));
        (Some(groups), None)
    } else {
        let nodes = a
            .nodes
            .iter()
            .map(|n| CacheNodeUpdateStatus {
                cache_node_id: Some(n.node_id.clone()),
                node_update_status: node_update_status(&n.status),
                node_deletion_date: None,
                node_update_start_date: n.start,
                node_update_end_date: n.end,
                node_update_initiated_by: initiated_by(n),
                node_update_initiated_date: n.initiated,
                node_update_status_modified_date: n.modified,
            })
            .collect();
        (None, Some(nodes))
    };
    UpdateAction {
        replication_group_id: a.replication_group_id.clone(),
        cache_cluster_id: a.cache_cluster_id.clone(),
        service_update_name: Some(a.update.name.to_owned()),
        service_update_release_date: Some(a.update.release_date),
        service_update_severity: Some(ServiceUpdateSeverity::from(a.update.severity.to_owned())),
        service_update_status: Some(ServiceUpdateStatus::from(
            a.update.status_at(now).to_owned(),
        )),
        service_update_recommended_apply_by_date: Some(a.update.recommended_apply_by_date),
        service_update_type: Some(ServiceUpdateType::from(service_updates::TYPE.to_owned())),
        update_action_available_date: Some(a.available_date),
        update_action_status: Some(UpdateActionStatus::from(a.status.clone())),
        nodes_updated: Some(a.nodes_updated()),
        update_action_status_modified_date: Some(a.modified),
        sla_met: Some(SlaMet::from(a.sla_met().to_owned())),
        node_group_update_status: groups,
        cache_node_update_status: nodes,
        estimated_update_time: Some(a.update.estimated_update_time.to_owned()),
        engine: Some(a.engine.clone()),
    }
}

pub(super) fn update_actions(
    ctx: &Ctx<'_>,
    input: DescribeUpdateActionsInput,
) -> Result<DescribeUpdateActionsOutput, Error> {
    let DescribeUpdateActionsInput {
        service_update_name,
        replication_group_ids,
        cache_cluster_ids,
        engine,
        service_update_status,
        service_update_time_range,
        update_action_status,
        show_node_level_update_status,
        max_records,
        marker,
    } = input;
    let (start, end) = service_update_time_range
        .map(|r| (r.start_time, r.end_time))
        .unwrap_or_default();
    let filter = service_update::ActionFilter {
        service_update_name,
        replication_group_ids,
        cache_cluster_ids,
        engine,
        service_update_status: service_update_status
            .map(|v| v.into_iter().map(String::from).collect()),
        start,
        end,
        update_action_status: update_action_status
            .map(|v| v.into_iter().map(String::from).collect()),
    };
    let node_level = show_node_level_update_status.unwrap_or(false);
    let items = ctx
        .cp
        .describe_update_actions(&ctx.scope, &filter)?
        .iter()
        .map(|a| update_action_out(a, node_level))
        .collect();
    let (items, marker) = page(items, max_records, marker.as_deref(), 20, 100)?;
    Ok(DescribeUpdateActionsOutput {
        marker,
        update_actions: Some(items),
    })
}

fn results(name: &str, outcomes: Vec<service_update::Outcome>) -> UpdateActionResultsMessage {
    let mut processed = Vec::new();
    let mut unprocessed = Vec::new();
    for o in outcomes {
        match o {
            service_update::Outcome::Processed {
                replication_group_id,
                cache_cluster_id,
                status,
            } => processed.push(ProcessedUpdateAction {
                replication_group_id,
                cache_cluster_id,
                service_update_name: Some(name.to_owned()),
                update_action_status: Some(UpdateActionStatus::from(status)),
            }),
            service_update::Outcome::Unprocessed {
                replication_group_id,
                cache_cluster_id,
                error_type,
                message,
            } => unprocessed.push(UnprocessedUpdateAction {
                replication_group_id,
                cache_cluster_id,
                service_update_name: Some(name.to_owned()),
                error_type: Some(error_type),
                error_message: Some(message),
            }),
        }
    }
    UpdateActionResultsMessage {
        processed_update_actions: Some(processed),
        unprocessed_update_actions: Some(unprocessed),
    }
}

pub(super) fn batch_apply_update_action(
    ctx: &Ctx<'_>,
    input: BatchApplyUpdateActionInput,
) -> Result<BatchApplyUpdateActionOutput, Error> {
    let BatchApplyUpdateActionInput {
        replication_group_ids,
        cache_cluster_ids,
        service_update_name,
    } = input;
    let name = not_blank(service_update_name, "ServiceUpdateName")?;
    let outcomes = ctx.cp.apply_update_action(
        &ctx.scope,
        &name,
        &replication_group_ids.unwrap_or_default(),
        &cache_cluster_ids.unwrap_or_default(),
    )?;
    Ok(results(&name, outcomes))
}

pub(super) fn batch_stop_update_action(
    ctx: &Ctx<'_>,
    input: BatchStopUpdateActionInput,
) -> Result<BatchStopUpdateActionOutput, Error> {
    let BatchStopUpdateActionInput {
        replication_group_ids,
        cache_cluster_ids,
        service_update_name,
    } = input;
    let name = not_blank(service_update_name, "ServiceUpdateName")?;
    let outcomes = ctx.cp.stop_update_action(
        &ctx.scope,
        &name,
        &replication_group_ids.unwrap_or_default(),
        &cache_cluster_ids.unwrap_or_default(),
    )?;
    Ok(results(&name, outcomes))
}
