//! CreateReplicationGroup, DescribeReplicationGroups, ModifyReplicationGroup,
//! DeleteReplicationGroup, TestFailover, IncreaseReplicaCount, DecreaseReplicaCount
//! (cluster mode disabled).

use serde_json::{json, Map, Value};

use super::{endpoint, page, Ctx, Input};
use crate::model::cluster::{CreateCluster, ModifyCluster};
use crate::model::replication_group::{
    CreateReplicationGroup, ModifyReplicationGroup, ReplicationGroup, NODE_GROUP_ID,
};
use crate::model::shards::{self, NodeGroupSpec, ShardConfiguration, ShardReplicas};
use crate::model::{iso, lifecycle, Error};

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn texts(m: &Map<String, Value>, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `ReplicaConfiguration` (`ConfigureShard` entries).
fn replica_configuration(i: &Input) -> Vec<ShardReplicas> {
    i.list("ReplicaConfiguration")
        .iter()
        .map(|c| ShardReplicas {
            node_group_id: text(c, "NodeGroupId").unwrap_or_default(),
            new_replica_count: c
                .get("NewReplicaCount")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            azs: texts(c, "PreferredAvailabilityZones"),
        })
        .collect()
}

pub(super) fn create(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let cluster = CreateCluster {
        id: String::new(),
        engine: i.str("Engine"),
        engine_version: i.str("EngineVersion"),
        node_type: i.str("CacheNodeType"),
        num_cache_nodes: None,
        parameter_group: i.str("CacheParameterGroupName"),
        subnet_group: i.str("CacheSubnetGroupName"),
        security_group_ids: i.strs("SecurityGroupIds"),
        security_group_names: i.strs("CacheSecurityGroupNames"),
        az_mode: None,
        preferred_az: None,
        preferred_azs: Vec::new(),
        maintenance_window: i.str("PreferredMaintenanceWindow"),
        snapshot_window: i.str("SnapshotWindow"),
        snapshot_retention_limit: i.int("SnapshotRetentionLimit"),
        snapshot_name: i.str("SnapshotName"),
        snapshot_arns: i.strs("SnapshotArns"),
        notification_topic_arn: i.str("NotificationTopicArn"),
        auto_minor_version_upgrade: i.bool("AutoMinorVersionUpgrade"),
        transit_encryption: i.bool("TransitEncryptionEnabled"),
        auth_token: i.str("AuthToken"),
        port: i.int("Port"),
        network_type: i.str("NetworkType"),
        ip_discovery: i.str("IpDiscovery"),
        replication_group_id: None,
        tags: i.tags(),
    };
    let ngc = i.list("NodeGroupConfiguration");
    let replicas = i.int("ReplicasPerNodeGroup");
    let req = CreateReplicationGroup {
        id: i.req("ReplicationGroupId")?,
        description: i.req("ReplicationGroupDescription")?,
        primary_cluster_id: i.str("PrimaryClusterId"),
        automatic_failover: i.bool("AutomaticFailoverEnabled"),
        multi_az: i.bool("MultiAZEnabled"),
        num_cache_clusters: i.int("NumCacheClusters"),
        preferred_azs: i.strs("PreferredCacheClusterAZs"),
        num_node_groups: i.int("NumNodeGroups"),
        replicas_per_node_group: replicas,
        node_group_configuration: ngc.len(),
        node_groups: ngc
            .iter()
            .map(|c| NodeGroupSpec {
                id: text(c, "NodeGroupId"),
                slots: text(c, "Slots"),
                replica_count: c.get("ReplicaCount").and_then(Value::as_i64),
                primary_az: text(c, "PrimaryAvailabilityZone"),
                replica_azs: texts(c, "ReplicaAvailabilityZones"),
            })
            .collect(),
        cluster_mode: i.str("ClusterMode"),
        global_replication_group_id: i.str("GlobalReplicationGroupId"),
        user_group_ids: i.strs("UserGroupIds"),
        at_rest_encryption: i.bool("AtRestEncryptionEnabled"),
        data_tiering: i.bool("DataTieringEnabled"),
        cluster,
    };
    let g = ctx.cp.create_replication_group(&ctx.scope, req)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let groups = match i.str("ReplicationGroupId") {
        Some(id) => vec![ctx.cp.find_replication_group(&ctx.scope, &id)?],
        None => ctx.cp.list_replication_groups(&ctx.scope),
    };
    let items = groups.iter().map(|g| flatten(ctx, g)).collect();
    let (items, marker) = page(&i, items, 20, 100)?;
    Ok(json!({ "Marker": marker, "ReplicationGroups": items }))
}

pub(super) fn modify(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    if !i.strs("CacheSecurityGroupNames").is_empty() {
        return Err(Error::invalid(
            "Use of cache security groups is not permitted in this API version for your account.",
        ));
    }
    if i.bool("TransitEncryptionEnabled") == Some(true) {
        return Err(Error::invalid(
            "TransitEncryptionEnabled is not available yet in this backend: engines serve plain TCP.",
        ));
    }
    let cluster = ModifyCluster {
        id: String::new(),
        security_group_ids: i
            .has("SecurityGroupIds")
            .then(|| i.strs("SecurityGroupIds")),
        maintenance_window: i.str("PreferredMaintenanceWindow"),
        notification_topic_arn: i.str("NotificationTopicArn"),
        notification_topic_status: i.str("NotificationTopicStatus"),
        parameter_group: i.str("CacheParameterGroupName"),
        apply_immediately: i.bool("ApplyImmediately").unwrap_or(false),
        engine_version: i.str("EngineVersion"),
        auto_minor_version_upgrade: i.bool("AutoMinorVersionUpgrade"),
        snapshot_retention_limit: i.int("SnapshotRetentionLimit"),
        snapshot_window: i.str("SnapshotWindow"),
        node_type: i.str("CacheNodeType"),
        auth_token: i.str("AuthToken"),
        auth_token_update_strategy: i.str("AuthTokenUpdateStrategy"),
        ip_discovery: i.str("IpDiscovery"),
        ..ModifyCluster::default()
    };
    let req = ModifyReplicationGroup {
        id: i.req("ReplicationGroupId")?,
        description: i.str("ReplicationGroupDescription"),
        primary_cluster_id: i.str("PrimaryClusterId"),
        snapshotting_cluster_id: i.str("SnapshottingClusterId"),
        automatic_failover: i.bool("AutomaticFailoverEnabled"),
        multi_az: i.bool("MultiAZEnabled"),
        node_group_id: i.str("NodeGroupId"),
        cluster_mode: i.str("ClusterMode"),
        user_groups: !i.strs("UserGroupIdsToAdd").is_empty()
            || !i.strs("UserGroupIdsToRemove").is_empty(),
        cluster,
    };
    let g = ctx.cp.modify_replication_group(&ctx.scope, req)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn delete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.delete_replication_group(
        &ctx.scope,
        &i.req("ReplicationGroupId")?,
        i.bool("RetainPrimaryCluster").unwrap_or(false),
        i.str("FinalSnapshotIdentifier").as_deref(),
    )?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn test_failover(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.test_failover(
        &ctx.scope,
        &i.req("ReplicationGroupId")?,
        &i.req("NodeGroupId")?,
    )?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn increase_replicas(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.increase_replica_count(
        &ctx.scope,
        &i.req("ReplicationGroupId")?,
        i.int("NewReplicaCount"),
        &replica_configuration(&i),
        i.bool("ApplyImmediately").unwrap_or(false),
    )?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn decrease_replicas(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let g = ctx.cp.decrease_replica_count(
        &ctx.scope,
        &i.req("ReplicationGroupId")?,
        i.int("NewReplicaCount"),
        &replica_configuration(&i),
        &i.strs("ReplicasToRemove"),
        i.bool("ApplyImmediately").unwrap_or(false),
    )?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

pub(super) fn modify_shards(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let req = ShardConfiguration {
        id: i.req("ReplicationGroupId")?,
        node_group_count: i.int("NodeGroupCount").unwrap_or(0),
        apply_immediately: i.bool("ApplyImmediately").unwrap_or(false),
        resharding: i
            .list("ReshardingConfiguration")
            .iter()
            .filter_map(|c| {
                Some((
                    text(c, "NodeGroupId")?,
                    texts(c, "PreferredAvailabilityZones"),
                ))
            })
            .collect(),
        to_remove: i.strs("NodeGroupsToRemove"),
        to_retain: i.strs("NodeGroupsToRetain"),
    };
    let g = ctx.cp.modify_shard_configuration(&ctx.scope, req)?;
    Ok(json!({ "ReplicationGroup": flatten(ctx, &g) }))
}

/// The node groups of a cluster-mode group: no per-shard endpoints and no
/// member roles (AWS shows neither with cluster mode enabled).
fn sharded_node_groups(
    g: &ReplicationGroup,
    members: &[crate::model::cluster::CacheCluster],
) -> Value {
    let ng_status = |removing: bool| {
        if g.status == lifecycle::AVAILABLE {
            lifecycle::AVAILABLE
        } else if g.status == lifecycle::MODIFYING && removing {
            lifecycle::DELETING
        } else {
            g.status.as_str()
        }
    };
    Value::Array(
        g.node_groups
            .iter()
            .map(|ng| {
                let nm: Vec<Value> = ng
                    .members
                    .iter()
                    .filter_map(|m| members.iter().find(|c| c.id == *m))
                    .filter(|c| c.status != lifecycle::DELETING)
                    .map(|c| {
                        json!({
                            "CacheClusterId": c.id,
                            "CacheNodeId": c.nodes.first().map_or("0001", |n| n.id.as_str()),
                            "PreferredAvailabilityZone": c.preferred_az,
                        })
                    })
                    .collect();
                json!({
                    "NodeGroupId": ng.id,
                    "Status": ng_status(ng.removing),
                    "Slots": shards::format_slots(&ng.slots),
                    "NodeGroupMembers": nm,
                })
            })
            .collect(),
    )
}

/// A replication group as the API shows it, true to its members.
pub(super) fn flatten(ctx: &Ctx<'_>, g: &ReplicationGroup) -> Value {
    let settings = &ctx.cp.settings;
    let (primary_host, primary_port) = g.primary_endpoint();
    let (reader_host, reader_port) = g.reader_endpoint();
    let members = ctx.cp.replication_group_view(&ctx.scope, g);
    let primary = members.iter().find(|c| c.id == g.primary);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    put("ReplicationGroupId", json!(g.id));
    put("Description", json!(g.description));
    put("Status", json!(g.status));
    let mut pending = Map::new();
    if let Some(p) = &g.failover_to {
        if !g.failover_test {
            pending.insert("PrimaryClusterId".into(), json!(p));
        }
    }
    put("PendingModifiedValues", Value::Object(pending));
    put("MemberClusters", json!(g.members));
    let node_members: Vec<Value> = members
        .iter()
        .filter(|c| c.status != lifecycle::DELETING)
        .map(|c| {
            let mut v = json!({
                "CacheClusterId": c.id,
                "CacheNodeId": c.nodes.first().map_or("0001", |n| n.id.as_str()),
                "PreferredAvailabilityZone": c.preferred_az,
                "CurrentRole": if c.id == g.primary { "primary" } else { "replica" },
            });
            if let Some(n) = c.nodes.first() {
                if n.status != lifecycle::NODE_CREATING {
                    v["ReadEndpoint"] = endpoint(&settings.endpoint_host(n.host), n.port);
                }
            }
            v
        })
        .collect();
    let ng_status = if g.status == lifecycle::CREATING {
        lifecycle::CREATING
    } else if g.status == lifecycle::DELETING {
        lifecycle::DELETING
    } else if g.status == lifecycle::MODIFYING {
        lifecycle::MODIFYING
    } else {
        lifecycle::AVAILABLE
    };
    if g.cluster_enabled() {
        put("NodeGroups", sharded_node_groups(g, &members));
        if let Some((h, p)) = g.config_endpoint() {
            put(
                "ConfigurationEndpoint",
                endpoint(&settings.endpoint_host(h), p),
            );
        }
    } else {
        put(
            "NodeGroups",
            json!([{
                "NodeGroupId": NODE_GROUP_ID,
                "Status": ng_status,
                "PrimaryEndpoint": endpoint(&settings.endpoint_host(primary_host), primary_port),
                "ReaderEndpoint": endpoint(&settings.endpoint_host(reader_host), reader_port),
                "NodeGroupMembers": node_members,
            }]),
        );
    }
    put("SnapshottingClusterId", json!(g.snapshotting_cluster));
    put(
        "AutomaticFailover",
        json!(if g.automatic_failover {
            "enabled"
        } else {
            "disabled"
        }),
    );
    put(
        "MultiAZ",
        json!(if g.multi_az { "enabled" } else { "disabled" }),
    );
    put("SnapshotRetentionLimit", json!(g.snapshot_retention_limit));
    put("SnapshotWindow", json!(g.snapshot_window));
    put("ClusterEnabled", json!(g.cluster_enabled()));
    put("CacheNodeType", json!(primary.map(|c| c.node_type.clone())));
    put("AuthTokenEnabled", json!(g.auth_token_enabled));
    if let Some(t) = &g.auth_token_last_modified {
        put("AuthTokenLastModifiedDate", json!(iso(t)));
    }
    put("TransitEncryptionEnabled", json!(false));
    put("AtRestEncryptionEnabled", json!(false));
    put("ARN", json!(g.arn(&ctx.scope)));
    put("UserGroupIds", json!([]));
    put("LogDeliveryConfigurations", json!([]));
    put("ReplicationGroupCreateTime", json!(iso(&g.created)));
    put("DataTiering", json!("disabled"));
    put(
        "AutoMinorVersionUpgrade",
        json!(g.auto_minor_version_upgrade),
    );
    put("NetworkType", json!(g.network_type));
    put("IpDiscovery", json!(g.ip_discovery));
    put(
        "ClusterMode",
        json!(g.cluster_mode.as_deref().unwrap_or("disabled")),
    );
    put("Engine", json!(g.engine.as_str()));
    Value::Object(m)
}
