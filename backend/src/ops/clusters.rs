//! CreateCacheCluster, DescribeCacheClusters, ModifyCacheCluster,
//! DeleteCacheCluster, RebootCacheCluster, ListAllowedNodeTypeModifications.

use serde_json::{json, Map, Value};

use super::{endpoint, page, Ctx, Input};
use crate::engine::EngineKind;
use crate::model::cluster::{CacheCluster, CreateCluster, ModifyCluster};
use crate::model::{iso, lifecycle, Error, Scope};

pub(super) fn create(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let req = CreateCluster {
        id: i.req("CacheClusterId")?,
        engine: i.str("Engine"),
        engine_version: i.str("EngineVersion"),
        node_type: i.str("CacheNodeType"),
        num_cache_nodes: i.int("NumCacheNodes"),
        parameter_group: i.str("CacheParameterGroupName"),
        subnet_group: i.str("CacheSubnetGroupName"),
        security_group_ids: i.strs("SecurityGroupIds"),
        security_group_names: i.strs("CacheSecurityGroupNames"),
        az_mode: i.str("AZMode"),
        preferred_az: i.str("PreferredAvailabilityZone"),
        preferred_azs: i.strs("PreferredAvailabilityZones"),
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
        replication_group_id: i.str("ReplicationGroupId"),
        tags: i.tags(),
    };
    let c = ctx.cp.create_cluster(&ctx.scope, req)?;
    Ok(json!({ "CacheCluster": flatten(ctx, &c, false) }))
}

pub(super) fn describe(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let show_nodes = i.bool("ShowCacheNodeInfo").unwrap_or(false);
    let clusters = match i.str("CacheClusterId") {
        Some(id) => vec![ctx.cp.find_cluster(&ctx.scope, &id)?],
        None => ctx.cp.list_clusters(&ctx.scope),
    };
    let not_in_rg = i
        .bool("ShowCacheClustersNotInReplicationGroups")
        .unwrap_or(false);
    let clusters: Vec<&CacheCluster> = clusters
        .iter()
        .filter(|c| !not_in_rg || c.replication_group_id.is_none())
        .collect();
    let (clusters, marker) = page(&i, clusters, 20, 100)?;
    let items: Vec<Value> = clusters
        .into_iter()
        .map(|c| flatten(ctx, c, show_nodes))
        .collect();
    Ok(json!({ "Marker": marker, "CacheClusters": items }))
}

pub(super) fn modify(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let req = ModifyCluster {
        id: i.req("CacheClusterId")?,
        num_cache_nodes: i.int("NumCacheNodes"),
        node_ids_to_remove: i.strs("CacheNodeIdsToRemove"),
        az_mode: i.str("AZMode"),
        new_azs: i.strs("NewAvailabilityZones"),
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
    };
    if !i.strs("CacheSecurityGroupNames").is_empty() {
        return Err(Error::invalid(
            "Use of cache security groups is not permitted in this API version for your account.",
        ));
    }
    let c = ctx.cp.modify_cluster(&ctx.scope, req)?;
    Ok(json!({ "CacheCluster": flatten(ctx, &c, false) }))
}

pub(super) fn delete(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let c = ctx.cp.delete_cluster(
        &ctx.scope,
        &i.req("CacheClusterId")?,
        i.str("FinalSnapshotIdentifier").as_deref(),
    )?;
    Ok(json!({ "CacheCluster": flatten(ctx, &c, false) }))
}

pub(super) fn reboot(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let c = ctx.cp.reboot_cluster(
        &ctx.scope,
        &i.req("CacheClusterId")?,
        &i.strs("CacheNodeIdsToReboot"),
    )?;
    Ok(json!({ "CacheCluster": flatten(ctx, &c, false) }))
}

pub(super) fn allowed_node_types(ctx: &Ctx<'_>, i: Input) -> Result<Value, Error> {
    let id = match (i.str("CacheClusterId"), i.str("ReplicationGroupId")) {
        (Some(id), _) => id,
        // A replication group's node type is its primary's.
        (None, Some(rg)) => ctx.cp.find_replication_group(&ctx.scope, &rg)?.primary,
        (None, None) => {
            return Err(Error::combination(
                "One of CacheClusterId or ReplicationGroupId must be specified.",
            ))
        }
    };
    let (up, down) = ctx.cp.allowed_node_types(&ctx.scope, &id)?;
    Ok(json!({ "ScaleUpModifications": up, "ScaleDownModifications": down }))
}

/// A cluster as the API shows it.
pub(super) fn flatten(ctx: &Ctx<'_>, c: &CacheCluster, show_nodes: bool) -> Value {
    let scope: &Scope = &ctx.scope;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    put("CacheClusterId", json!(c.id));
    if c.engine == EngineKind::Memcached {
        if let Some(p) = c.config_port {
            let h = ctx
                .cp
                .settings
                .endpoint_host(c.config_host.unwrap_or(std::net::Ipv4Addr::LOCALHOST));
            put("ConfigurationEndpoint", endpoint(&h, p));
        }
        put(
            "ClientDownloadLandingPage",
            json!("https://console.aws.amazon.com/elasticache/home#client-download:"),
        );
    } else {
        put(
            "ClientDownloadLandingPage",
            json!("https://console.aws.amazon.com/elasticache/home#client-download:"),
        );
    }
    put("CacheNodeType", json!(c.node_type));
    put("Engine", json!(c.engine.as_str()));
    put("EngineVersion", json!(c.engine_version));
    put("CacheClusterStatus", json!(c.status));
    let live = c
        .nodes
        .iter()
        .filter(|n| n.status != lifecycle::NODE_DELETING || c.status == lifecycle::DELETING)
        .count();
    put("NumCacheNodes", json!(live));
    put("PreferredAvailabilityZone", json!(c.preferred_az));
    put("CacheClusterCreateTime", json!(iso(&c.created)));
    put("PreferredMaintenanceWindow", json!(c.maintenance_window));
    let mut pending = Map::new();
    if let Some(n) = c.pending.num_cache_nodes {
        pending.insert("NumCacheNodes".into(), json!(n));
        if !c.pending.node_ids_to_remove.is_empty() {
            pending.insert(
                "CacheNodeIdsToRemove".into(),
                json!(c.pending.node_ids_to_remove),
            );
        }
    }
    if let Some(v) = &c.pending.engine_version {
        pending.insert("EngineVersion".into(), json!(v));
    }
    if let Some(v) = &c.pending.node_type {
        pending.insert("CacheNodeType".into(), json!(v));
    }
    put("PendingModifiedValues", Value::Object(pending));
    if let Some(t) = &c.notification_topic_arn {
        put(
            "NotificationConfiguration",
            json!({"TopicArn": t, "TopicStatus": c.notification_topic_status.clone().unwrap_or_else(|| "active".into())}),
        );
    }
    let reboot_ids: Vec<&str> = if c.parameter_group_status == lifecycle::PG_PENDING_REBOOT {
        c.nodes.iter().map(|n| n.id.as_str()).collect()
    } else {
        Vec::new()
    };
    put(
        "CacheParameterGroup",
        json!({"CacheParameterGroupName": c.parameter_group, "ParameterApplyStatus": c.parameter_group_status, "CacheNodeIdsToReboot": reboot_ids}),
    );
    put("CacheSubnetGroupName", json!(c.subnet_group));
    if show_nodes {
        let nodes: Vec<Value> = c
            .nodes
            .iter()
            .map(|n| {
                let mut node = json!({
                    "CacheNodeId": n.id,
                    "CacheNodeStatus": n.status,
                    "CacheNodeCreateTime": iso(&n.created),
                    "ParameterGroupStatus": c.parameter_group_status,
                    "CustomerAvailabilityZone": n.az,
                });
                if n.status != lifecycle::NODE_CREATING {
                    node["Endpoint"] = endpoint(&ctx.cp.settings.endpoint_host(n.host), n.port);
                }
                node
            })
            .collect();
        put("CacheNodes", Value::Array(nodes));
    }
    put(
        "AutoMinorVersionUpgrade",
        json!(c.auto_minor_version_upgrade),
    );
    put(
        "SecurityGroups",
        Value::Array(
            c.security_group_ids
                .iter()
                .map(|s| json!({"SecurityGroupId": s, "Status": "active"}))
                .collect(),
        ),
    );
    put("ReplicationGroupId", json!(c.replication_group_id));
    if c.engine != EngineKind::Memcached {
        put("SnapshotRetentionLimit", json!(c.snapshot_retention_limit));
        put("SnapshotWindow", json!(c.snapshot_window));
    }
    put("AuthTokenEnabled", json!(c.auth_token.is_some()));
    if let Some(t) = &c.auth_token_last_modified {
        put("AuthTokenLastModifiedDate", json!(iso(t)));
    }
    put("TransitEncryptionEnabled", json!(c.transit_encryption));
    put("AtRestEncryptionEnabled", json!(c.at_rest_encryption));
    put("ARN", json!(c.arn(scope)));
    put("ReplicationGroupLogDeliveryEnabled", json!(false));
    put("LogDeliveryConfigurations", json!([]));
    put("NetworkType", json!(c.network_type));
    put("IpDiscovery", json!(c.ip_discovery));
    Value::Object(m)
}
