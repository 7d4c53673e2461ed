//! CreateSnapshot, CopySnapshot, DeleteSnapshot, DescribeSnapshots.

use super::{enabled, not_blank, tags_in, Ctx};
use crate::dto::{
    self, CopySnapshotInput, CopySnapshotOutput, CreateSnapshotInput, CreateSnapshotOutput,
    DeleteSnapshotInput, DeleteSnapshotOutput, DescribeSnapshotsInput, DescribeSnapshotsOutput,
    NodeGroupConfiguration, NodeSnapshot,
};
use crate::model::snapshot::{cache_size, CreateSnapshot, Snapshot, SnapshotQuery};
use crate::model::Error;

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateSnapshotInput,
) -> Result<CreateSnapshotOutput, Error> {
    let CreateSnapshotInput {
        replication_group_id,
        cache_cluster_id,
        snapshot_name,
        kms_key_id,
        tags,
    } = input;
    let req = CreateSnapshot {
        name: not_blank(snapshot_name, "SnapshotName")?,
        cluster_id: cache_cluster_id,
        replication_group_id,
        kms_key_id,
        tags: tags_in(tags),
    };
    let s = ctx.cp.create_snapshot(&ctx.scope, req)?;
    Ok(CreateSnapshotOutput {
        snapshot: Some(flatten(ctx, &s, false)),
    })
}

pub(super) fn copy(ctx: &Ctx<'_>, input: CopySnapshotInput) -> Result<CopySnapshotOutput, Error> {
    let CopySnapshotInput {
        source_snapshot_name,
        target_snapshot_name,
        target_bucket,
        kms_key_id,
        tags,
    } = input;
    let s = ctx.cp.copy_snapshot(
        &ctx.scope,
        &not_blank(source_snapshot_name, "SourceSnapshotName")?,
        &not_blank(target_snapshot_name, "TargetSnapshotName")?,
        target_bucket.filter(|b| !b.is_empty()).as_deref(),
        kms_key_id.as_deref(),
        tags_in(tags),
    )?;
    Ok(CopySnapshotOutput {
        snapshot: Some(flatten(ctx, &s, false)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteSnapshotInput,
) -> Result<DeleteSnapshotOutput, Error> {
    let DeleteSnapshotInput { snapshot_name } = input;
    let s = ctx
        .cp
        .delete_snapshot(&ctx.scope, &not_blank(snapshot_name, "SnapshotName")?)?;
    Ok(DeleteSnapshotOutput {
        snapshot: Some(flatten(ctx, &s, false)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeSnapshotsInput,
) -> Result<DescribeSnapshotsOutput, Error> {
    let DescribeSnapshotsInput {
        replication_group_id,
        cache_cluster_id,
        snapshot_name,
        snapshot_source,
        marker,
        max_records,
        show_node_group_config,
    } = input;
    let q = SnapshotQuery {
        name: snapshot_name,
        cluster_id: cache_cluster_id,
        replication_group_id,
        source: snapshot_source,
    };
    let show = show_node_group_config.unwrap_or(false);
    let (start, size) = super::page_bounds(max_records, marker.as_deref(), 20, 50)?;
    let (snaps, total) = ctx.cp.describe_snapshots(
        &ctx.scope,
        &q,
        |s| !crate::model::serverless::is_serverless_snapshot(s),
        start,
        size,
    )?;
    let marker = super::next_marker(start, snaps.len(), total, marker.as_deref())?;
    let items = snaps.iter().map(|s| flatten(ctx, s, show)).collect();
    Ok(DescribeSnapshotsOutput {
        marker,
        snapshots: Some(items),
    })
}

/// A snapshot as the API shows it.
fn flatten(ctx: &Ctx<'_>, s: &Snapshot, show_node_groups: bool) -> dto::Snapshot {
    let nodes = s
        .node_snapshots
        .iter()
        .map(|n| NodeSnapshot {
            cache_cluster_id: Some(n.cluster_id.clone()),
            node_group_id: Some(n.node_group_id.clone()),
            cache_node_id: Some(n.cache_node_id.clone()),
            node_group_configuration: show_node_groups.then(|| NodeGroupConfiguration {
                node_group_id: Some(n.node_group_id.clone()),
                slots: Some(n.slots.clone().unwrap_or_else(|| "0-16383".into())),
                replica_count: Some(n.replica_count),
                primary_availability_zone: Some(n.az.clone()),
                replica_availability_zones: (!n.replica_azs.is_empty())
                    .then(|| n.replica_azs.clone()),
                ..NodeGroupConfiguration::default()
            }),
            cache_size: n.size_bytes.map(cache_size),
            cache_node_create_time: Some(n.node_created),
            snapshot_create_time: n.snapshot_created,
        })
        .collect();
    dto::Snapshot {
        snapshot_name: Some(s.name.clone()),
        replication_group_id: s.replication_group_id.clone(),
        replication_group_description: s.replication_group_description.clone(),
        cache_cluster_id: s.cluster_id.clone(),
        snapshot_status: Some(s.status.clone()),
        snapshot_source: Some(s.source.clone()),
        cache_node_type: Some(s.node_type.clone()),
        engine: Some(s.engine.as_str().to_owned()),
        engine_version: Some(s.engine_version.clone()),
        num_cache_nodes: s.num_cache_nodes,
        preferred_availability_zone: s.preferred_az.clone(),
        cache_cluster_create_time: Some(s.cluster_created),
        preferred_maintenance_window: Some(s.maintenance_window.clone()),
        topic_arn: s.topic_arn.clone(),
        port: Some(i64::from(s.port)),
        cache_parameter_group_name: Some(s.parameter_group.clone()),
        cache_subnet_group_name: s.subnet_group.clone(),
        vpc_id: Some(s.vpc_id.clone()),
        auto_minor_version_upgrade: Some(s.auto_minor_version_upgrade),
        snapshot_retention_limit: Some(s.retention_limit),
        snapshot_window: Some(s.window.clone()),
        num_node_groups: Some(s.num_node_groups),
        automatic_failover: s.automatic_failover.map(|b| enabled(b).into()),
        node_snapshots: Some(nodes),
        arn: Some(s.arn(&ctx.scope)),
        data_tiering: Some(dto::DataTieringStatus::DISABLED),
        // The group's EffectiveDurability, which is always disabled here.
        durability: Some(dto::Durability::DISABLED),
        ..dto::Snapshot::default()
    }
}
