//! CreateSnapshot, CopySnapshot, DeleteSnapshot, DescribeSnapshots.

use serde_json::{json, Map, Value};

use super::{page, Ctx, Input};
use crate::model::snapshot::{cache_size, CreateSnapshot, Snapshot, SnapshotQuery};
use crate::model::{iso, Error};

pub(super) fn create(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let req = CreateSnapshot {
        name: i.req("SnapshotName")?,
        cluster_id: i.str("CacheClusterId"),
        replication_group_id: i.str("ReplicationGroupId"),
        kms_key_id: i.str("KmsKeyId"),
        tags: i.tags(),
    };
    let s = ctx.cp.create_snapshot(&ctx.scope, req)?;
    Ok(json!({ "Snapshot": flatten(ctx, &s, false) }))
}

pub(super) fn copy(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let s = ctx.cp.copy_snapshot(
        &ctx.scope,
        &i.req("SourceSnapshotName")?,
        &i.req("TargetSnapshotName")?,
        i.str("TargetBucket").filter(|b| !b.is_empty()).as_deref(),
        i.str("KmsKeyId").as_deref(),
        i.tags(),
    )?;
    Ok(json!({ "Snapshot": flatten(ctx, &s, false) }))
}

pub(super) fn delete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let s = ctx
        .cp
        .delete_snapshot(&ctx.scope, &i.req("SnapshotName")?)?;
    Ok(json!({ "Snapshot": flatten(ctx, &s, false) }))
}

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let q = SnapshotQuery {
        name: i.str("SnapshotName"),
        cluster_id: i.str("CacheClusterId"),
        replication_group_id: i.str("ReplicationGroupId"),
        source: i.str("SnapshotSource"),
    };
    let show = i.bool("ShowNodeGroupConfig").unwrap_or(false);
    let mut snaps = ctx.cp.describe_snapshots(&ctx.scope, &q)?;
    snaps.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    let items = snaps.iter().map(|s| flatten(ctx, s, show)).collect();
    let (items, marker) = page(&i, items, 20, 50)?;
    Ok(json!({ "Marker": marker, "Snapshots": items }))
}

fn enabled(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

/// A snapshot as the API shows it.
fn flatten(ctx: &Ctx<'_>, s: &Snapshot, show_node_groups: bool) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    put("SnapshotName", json!(s.name));
    put("ReplicationGroupId", json!(s.replication_group_id));
    put(
        "ReplicationGroupDescription",
        json!(s.replication_group_description),
    );
    put("CacheClusterId", json!(s.cluster_id));
    put("SnapshotStatus", json!(s.status));
    put("SnapshotSource", json!(s.source));
    put("CacheNodeType", json!(s.node_type));
    put("Engine", json!(s.engine.as_str()));
    put("EngineVersion", json!(s.engine_version));
    put("NumCacheNodes", json!(s.num_cache_nodes));
    put("PreferredAvailabilityZone", json!(s.preferred_az));
    put("CacheClusterCreateTime", json!(iso(&s.cluster_created)));
    put("PreferredMaintenanceWindow", json!(s.maintenance_window));
    put("TopicArn", json!(s.topic_arn));
    put("Port", json!(s.port));
    put("CacheParameterGroupName", json!(s.parameter_group));
    put("CacheSubnetGroupName", json!(s.subnet_group));
    put("VpcId", json!(s.vpc_id));
    put(
        "AutoMinorVersionUpgrade",
        json!(s.auto_minor_version_upgrade),
    );
    put("SnapshotRetentionLimit", json!(s.retention_limit));
    put("SnapshotWindow", json!(s.window));
    put("NumNodeGroups", json!(s.num_node_groups));
    put(
        "AutomaticFailover",
        json!(s.automatic_failover.map(enabled)),
    );
    let nodes: Vec<Value> = s
        .node_snapshots
        .iter()
        .map(|n| {
            let mut v = Map::new();
            v.insert("CacheClusterId".into(), json!(n.cluster_id));
            v.insert("NodeGroupId".into(), json!(n.node_group_id));
            v.insert("CacheNodeId".into(), json!(n.cache_node_id));
            if show_node_groups {
                let mut ng = json!({
                    "NodeGroupId": n.node_group_id,
                    "Slots": n.slots.as_deref().unwrap_or("0-16383"),
                    "ReplicaCount": n.replica_count,
                    "PrimaryAvailabilityZone": n.az,
                });
                if !n.replica_azs.is_empty() {
                    ng["ReplicaAvailabilityZones"] = json!(n.replica_azs);
                }
                v.insert("NodeGroupConfiguration".into(), ng);
            }
            if let Some(b) = n.size_bytes {
                v.insert("CacheSize".into(), json!(cache_size(b)));
            }
            v.insert("CacheNodeCreateTime".into(), json!(iso(&n.node_created)));
            if let Some(t) = &n.snapshot_created {
                v.insert("SnapshotCreateTime".into(), json!(iso(t)));
            }
            Value::Object(v)
        })
        .collect();
    put("NodeSnapshots", Value::Array(nodes));
    put("ARN", json!(s.arn(&ctx.scope)));
    put("DataTiering", json!("disabled"));
    Value::Object(m)
}
