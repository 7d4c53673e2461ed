//! Global datastores: Create/Describe/Modify/Delete/Disassociate/Failover
//! GlobalReplicationGroup, Increase/DecreaseNodeGroupsInGlobalReplicationGroup,
//! RebalanceSlotsInGlobalReplicationGroup.

use super::{enabled, not_blank, page, tags_in, Ctx};
use crate::dto::{
    self, CreateGlobalReplicationGroupInput, CreateGlobalReplicationGroupOutput,
    DecreaseNodeGroupsInGlobalReplicationGroupInput,
    DecreaseNodeGroupsInGlobalReplicationGroupOutput, DeleteGlobalReplicationGroupInput,
    DeleteGlobalReplicationGroupOutput, DescribeGlobalReplicationGroupsInput,
    DescribeGlobalReplicationGroupsOutput, DisassociateGlobalReplicationGroupInput,
    DisassociateGlobalReplicationGroupOutput, FailoverGlobalReplicationGroupInput,
    FailoverGlobalReplicationGroupOutput, IncreaseNodeGroupsInGlobalReplicationGroupInput,
    IncreaseNodeGroupsInGlobalReplicationGroupOutput, ModifyGlobalReplicationGroupInput,
    ModifyGlobalReplicationGroupOutput, RebalanceSlotsInGlobalReplicationGroupInput,
    RebalanceSlotsInGlobalReplicationGroupOutput,
};
use crate::model::global_datastore::{GlobalReplicationGroup, GlobalReshard, ModifyGlobal};
use crate::model::Error;

/// A datastore as the API shows it (`Members` only when asked for).
fn flatten(
    ctx: &Ctx<'_>,
    g: &GlobalReplicationGroup,
    members: bool,
) -> dto::GlobalReplicationGroup {
    let v = ctx.cp.global_view(&ctx.scope, g);
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    dto::GlobalReplicationGroup {
        global_replication_group_id: Some(g.id.clone()),
        global_replication_group_description: Some(g.description.clone()),
        status: Some(g.status.clone()),
        cache_node_type: some(&v.node_type),
        engine: some(&v.engine),
        engine_version: some(&v.engine_version),
        members: members.then(|| {
            g.members
                .iter()
                .zip(v.automatic_failover.iter().chain(std::iter::repeat(&false)))
                .map(|(m, af)| dto::GlobalReplicationGroupMember {
                    replication_group_id: Some(m.replication_group_id.clone()),
                    replication_group_region: Some(m.region.clone()),
                    role: Some(m.role.clone()),
                    automatic_failover: Some(enabled(*af).into()),
                    status: Some(m.status.clone()),
                })
                .collect()
        }),
        cluster_enabled: Some(v.cluster_enabled),
        global_node_groups: v.cluster_enabled.then(|| {
            v.node_groups
                .iter()
                .map(|(id, slots)| dto::GlobalNodeGroup {
                    global_node_group_id: Some(id.clone()),
                    slots: Some(slots.clone()),
                })
                .collect()
        }),
        auth_token_enabled: Some(v.auth_token_enabled),
        transit_encryption_enabled: Some(v.transit_encryption),
        at_rest_encryption_enabled: Some(v.at_rest_encryption),
        arn: Some(v.arn),
    }
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateGlobalReplicationGroupInput,
) -> Result<CreateGlobalReplicationGroupOutput, Error> {
    let CreateGlobalReplicationGroupInput {
        global_replication_group_id_suffix,
        global_replication_group_description,
        primary_replication_group_id,
        tags,
    } = input;
    let g = ctx.cp.create_global_replication_group(
        &ctx.scope,
        &not_blank(
            global_replication_group_id_suffix,
            "GlobalReplicationGroupIdSuffix",
        )?,
        global_replication_group_description,
        &not_blank(primary_replication_group_id, "PrimaryReplicationGroupId")?,
        tags_in(tags),
    )?;
    Ok(CreateGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeGlobalReplicationGroupsInput,
) -> Result<DescribeGlobalReplicationGroupsOutput, Error> {
    let DescribeGlobalReplicationGroupsInput {
        global_replication_group_id,
        max_records,
        marker,
        show_member_info,
    } = input;
    let all = match global_replication_group_id.filter(|s| !s.is_empty()) {
        Some(id) => vec![ctx.cp.find_global(&ctx.scope, &id)?.1],
        None => ctx.cp.list_globals(&ctx.scope),
    };
    let (items, marker) = page(all, max_records, marker.as_deref(), 20, 100)?;
    let members = show_member_info.unwrap_or(false);
    Ok(DescribeGlobalReplicationGroupsOutput {
        marker,
        global_replication_groups: Some(items.iter().map(|g| flatten(ctx, g, members)).collect()),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyGlobalReplicationGroupInput,
) -> Result<ModifyGlobalReplicationGroupOutput, Error> {
    let ModifyGlobalReplicationGroupInput {
        global_replication_group_id,
        apply_immediately,
        cache_node_type,
        engine,
        engine_version,
        cache_parameter_group_name,
        global_replication_group_description,
        automatic_failover_enabled,
    } = input;
    let req = ModifyGlobal {
        id: not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        apply_immediately,
        node_type: cache_node_type,
        engine,
        engine_version,
        parameter_group: cache_parameter_group_name,
        description: global_replication_group_description,
        automatic_failover: automatic_failover_enabled,
    };
    let g = ctx.cp.modify_global_replication_group(&ctx.scope, req)?;
    Ok(ModifyGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteGlobalReplicationGroupInput,
) -> Result<DeleteGlobalReplicationGroupOutput, Error> {
    let DeleteGlobalReplicationGroupInput {
        global_replication_group_id,
        retain_primary_replication_group,
    } = input;
    let g = ctx.cp.delete_global_replication_group(
        &ctx.scope,
        &not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        retain_primary_replication_group,
    )?;
    Ok(DeleteGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn disassociate(
    ctx: &Ctx<'_>,
    input: DisassociateGlobalReplicationGroupInput,
) -> Result<DisassociateGlobalReplicationGroupOutput, Error> {
    let DisassociateGlobalReplicationGroupInput {
        global_replication_group_id,
        replication_group_id,
        replication_group_region,
    } = input;
    let g = ctx.cp.disassociate_global_replication_group(
        &ctx.scope,
        &not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        &not_blank(replication_group_id, "ReplicationGroupId")?,
        &not_blank(replication_group_region, "ReplicationGroupRegion")?,
    )?;
    Ok(DisassociateGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn failover(
    ctx: &Ctx<'_>,
    input: FailoverGlobalReplicationGroupInput,
) -> Result<FailoverGlobalReplicationGroupOutput, Error> {
    let FailoverGlobalReplicationGroupInput {
        global_replication_group_id,
        primary_region,
        primary_replication_group_id,
    } = input;
    let g = ctx.cp.failover_global_replication_group(
        &ctx.scope,
        &not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        &not_blank(primary_region, "PrimaryRegion")?,
        &not_blank(primary_replication_group_id, "PrimaryReplicationGroupId")?,
    )?;
    Ok(FailoverGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn increase_node_groups(
    ctx: &Ctx<'_>,
    input: IncreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<IncreaseNodeGroupsInGlobalReplicationGroupOutput, Error> {
    let IncreaseNodeGroupsInGlobalReplicationGroupInput {
        global_replication_group_id,
        node_group_count,
        regional_configurations: _,
        apply_immediately,
    } = input;
    let req = GlobalReshard {
        id: not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        count: node_group_count,
        grow: true,
        to_remove: Vec::new(),
        to_retain: Vec::new(),
        apply_immediately,
    };
    let g = ctx.cp.reshard_global(&ctx.scope, req)?;
    Ok(IncreaseNodeGroupsInGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn decrease_node_groups(
    ctx: &Ctx<'_>,
    input: DecreaseNodeGroupsInGlobalReplicationGroupInput,
) -> Result<DecreaseNodeGroupsInGlobalReplicationGroupOutput, Error> {
    let DecreaseNodeGroupsInGlobalReplicationGroupInput {
        global_replication_group_id,
        node_group_count,
        global_node_groups_to_remove,
        global_node_groups_to_retain,
        apply_immediately,
    } = input;
    let req = GlobalReshard {
        id: not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        count: node_group_count,
        grow: false,
        to_remove: global_node_groups_to_remove.unwrap_or_default(),
        to_retain: global_node_groups_to_retain.unwrap_or_default(),
        apply_immediately,
    };
    let g = ctx.cp.reshard_global(&ctx.scope, req)?;
    Ok(DecreaseNodeGroupsInGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}

pub(super) fn rebalance_slots(
    ctx: &Ctx<'_>,
    input: RebalanceSlotsInGlobalReplicationGroupInput,
) -> Result<RebalanceSlotsInGlobalReplicationGroupOutput, Error> {
    let RebalanceSlotsInGlobalReplicationGroupInput {
        global_replication_group_id,
        apply_immediately,
    } = input;
    let g = ctx.cp.rebalance_global(
        &ctx.scope,
        &not_blank(global_replication_group_id, "GlobalReplicationGroupId")?,
        apply_immediately,
    )?;
    Ok(RebalanceSlotsInGlobalReplicationGroupOutput {
        global_replication_group: Some(flatten(ctx, &g, true)),
    })
}
