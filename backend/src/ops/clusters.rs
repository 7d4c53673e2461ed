//! CreateCacheCluster, DescribeCacheClusters, ModifyCacheCluster,
//! DeleteCacheCluster, RebootCacheCluster, ListAllowedNodeTypeModifications.

use super::{endpoint, int, not_blank, page, tags_in, Ctx};
use crate::dto::{
    self, CacheNode, CacheParameterGroupStatus, CreateCacheClusterInput, CreateCacheClusterOutput,
    DeleteCacheClusterInput, DeleteCacheClusterOutput, DescribeCacheClustersInput,
    DescribeCacheClustersOutput, ListAllowedNodeTypeModificationsInput,
    ListAllowedNodeTypeModificationsOutput, ModifyCacheClusterInput, ModifyCacheClusterOutput,
    NotificationConfiguration, PendingModifiedValues, RebootCacheClusterInput,
    RebootCacheClusterOutput, SecurityGroupMembership,
};
use crate::engine::EngineKind;
use crate::model::cluster::{CacheCluster, CreateCluster, ModifyCluster};
use crate::model::{lifecycle, Error, Scope};

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateCacheClusterInput,
) -> Result<CreateCacheClusterOutput, Error> {
    let CreateCacheClusterInput {
        cache_cluster_id,
        replication_group_id,
        az_mode,
        preferred_availability_zone,
        preferred_availability_zones,
        num_cache_nodes,
        cache_node_type,
        engine,
        engine_version,
        cache_parameter_group_name,
        cache_subnet_group_name,
        cache_security_group_names,
        security_group_ids,
        tags,
        snapshot_arns,
        snapshot_name,
        preferred_maintenance_window,
        port,
        notification_topic_arn,
        auto_minor_version_upgrade,
        snapshot_retention_limit,
        snapshot_window,
        auth_token,
        outpost_mode: _,
        preferred_outpost_arn: _,
        preferred_outpost_arns: _,
        log_delivery_configurations: _,
        transit_encryption_enabled,
        network_type,
        ip_discovery,
    } = input;
    let req = CreateCluster {
        id: not_blank(cache_cluster_id, "CacheClusterId")?,
        engine,
        engine_version,
        node_type: cache_node_type,
        num_cache_nodes,
        parameter_group: cache_parameter_group_name,
        subnet_group: cache_subnet_group_name,
        security_group_ids: security_group_ids.unwrap_or_default(),
        security_group_names: cache_security_group_names.unwrap_or_default(),
        az_mode: az_mode.map(String::from),
        preferred_az: preferred_availability_zone,
        preferred_azs: preferred_availability_zones.unwrap_or_default(),
        maintenance_window: preferred_maintenance_window,
        snapshot_window,
        snapshot_retention_limit,
        snapshot_name,
        snapshot_arns: snapshot_arns.unwrap_or_default(),
        notification_topic_arn,
        auto_minor_version_upgrade,
        transit_encryption: transit_encryption_enabled,
        transit_mode: None,
        auth_token,
        port,
        network_type: network_type.map(String::from),
        ip_discovery: ip_discovery.map(String::from),
        replication_group_id,
        tags: tags_in(tags),
    };
    let c = ctx.cp.create_cluster(&ctx.scope, req)?;
    Ok(CreateCacheClusterOutput {
        cache_cluster: Some(flatten(ctx, &c, false)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeCacheClustersInput,
) -> Result<DescribeCacheClustersOutput, Error> {
    let DescribeCacheClustersInput {
        cache_cluster_id,
        max_records,
        marker,
        show_cache_node_info,
        show_cache_clusters_not_in_replication_groups,
    } = input;
    let show_nodes = show_cache_node_info.unwrap_or(false);
    let not_in_rg = show_cache_clusters_not_in_replication_groups.unwrap_or(false);
    let keep =
        |c: &CacheCluster| super::shown(&c.id) && (!not_in_rg || c.replication_group_id.is_none());
    let (clusters, marker) = match cache_cluster_id {
        Some(id) => {
            let c = ctx.cp.find_cluster(&ctx.scope, &id)?;
            let found: Vec<CacheCluster> = std::iter::once(c).filter(|c| keep(c)).collect();
            page(found, max_records, marker.as_deref(), 20, 100)?
        }
        None => {
            let (start, size) = super::page_bounds(max_records, marker.as_deref(), 20, 100)?;
            let (page, total) = ctx.cp.clusters_page(&ctx.scope, keep, start, size);
            let next = super::next_marker(start, page.len(), total, marker.as_deref())?;
            (page, next)
        }
    };
    let items = clusters
        .iter()
        .map(|c| flatten(ctx, c, show_nodes))
        .collect();
    Ok(DescribeCacheClustersOutput {
        marker,
        cache_clusters: Some(items),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyCacheClusterInput,
) -> Result<ModifyCacheClusterOutput, Error> {
    let ModifyCacheClusterInput {
        cache_cluster_id,
        num_cache_nodes,
        cache_node_ids_to_remove,
        az_mode,
        new_availability_zones,
        cache_security_group_names,
        security_group_ids,
        preferred_maintenance_window,
        notification_topic_arn,
        cache_parameter_group_name,
        notification_topic_status,
        apply_immediately,
        engine,
        engine_version,
        auto_minor_version_upgrade,
        snapshot_retention_limit,
        snapshot_window,
        cache_node_type,
        auth_token,
        auth_token_update_strategy,
        log_delivery_configurations: _,
        ip_discovery,
        scale_config: _,
    } = input;
    let req = ModifyCluster {
        id: not_blank(cache_cluster_id, "CacheClusterId")?,
        num_cache_nodes,
        node_ids_to_remove: cache_node_ids_to_remove.unwrap_or_default(),
        az_mode: az_mode.map(String::from),
        new_azs: new_availability_zones.unwrap_or_default(),
        security_group_ids,
        maintenance_window: preferred_maintenance_window,
        notification_topic_arn,
        notification_topic_status,
        parameter_group: cache_parameter_group_name,
        apply_immediately: apply_immediately.unwrap_or(false),
        engine: None,
        engine_version,
        auto_minor_version_upgrade,
        snapshot_retention_limit,
        snapshot_window,
        node_type: cache_node_type,
        auth_token,
        auth_token_update_strategy: auth_token_update_strategy.map(String::from),
        ip_discovery: ip_discovery.map(String::from),
        transit: None,
    };
    if let Some(e) = engine.filter(|e| !e.is_empty()) {
        ctx.cp.check_cluster_engine(&ctx.scope, &req.id, &e)?;
    }
    if !cache_security_group_names.unwrap_or_default().is_empty() {
        return Err(Error::invalid(
            "Use of cache security groups is not permitted in this API version for your account.",
        ));
    }
    let c = ctx.cp.modify_cluster(&ctx.scope, req)?;
    Ok(ModifyCacheClusterOutput {
        cache_cluster: Some(flatten(ctx, &c, false)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteCacheClusterInput,
) -> Result<DeleteCacheClusterOutput, Error> {
    let DeleteCacheClusterInput {
        cache_cluster_id,
        final_snapshot_identifier,
    } = input;
    let c = ctx.cp.delete_cluster(
        &ctx.scope,
        &not_blank(cache_cluster_id, "CacheClusterId")?,
        final_snapshot_identifier.as_deref(),
    )?;
    Ok(DeleteCacheClusterOutput {
        cache_cluster: Some(flatten(ctx, &c, false)),
    })
}

pub(super) fn reboot(
    ctx: &Ctx<'_>,
    input: RebootCacheClusterInput,
) -> Result<RebootCacheClusterOutput, Error> {
    let RebootCacheClusterInput {
        cache_cluster_id,
        cache_node_ids_to_reboot,
    } = input;
    let c = ctx.cp.reboot_cluster(
        &ctx.scope,
        &not_blank(cache_cluster_id, "CacheClusterId")?,
        &cache_node_ids_to_reboot,
    )?;
    Ok(RebootCacheClusterOutput {
        cache_cluster: Some(flatten(ctx, &c, false)),
    })
}

pub(super) fn allowed_node_types(
    ctx: &Ctx<'_>,
    input: ListAllowedNodeTypeModificationsInput,
) -> Result<ListAllowedNodeTypeModificationsOutput, Error> {
    let ListAllowedNodeTypeModificationsInput {
        cache_cluster_id,
        replication_group_id,
    } = input;
    let id = match (cache_cluster_id, replication_group_id) {
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
    Ok(ListAllowedNodeTypeModificationsOutput {
        scale_up_modifications: Some(up),
        scale_down_modifications: Some(down),
    })
}

/// A cluster as the API shows it.
pub(super) fn flatten(ctx: &Ctx<'_>, c: &CacheCluster, show_nodes: bool) -> dto::CacheCluster {
    let scope: &Scope = &ctx.scope;
    let mut m = dto::CacheCluster {
        cache_cluster_id: Some(c.id.clone()),
        ..dto::CacheCluster::default()
    };
    if c.engine == EngineKind::Memcached {
        if let Some(p) = c.config_port {
            let h = ctx
                .cp
                .settings
                .endpoint_host(c.config_host.unwrap_or(std::net::Ipv4Addr::LOCALHOST));
            m.configuration_endpoint = Some(endpoint(&h, p));
        }
        m.client_download_landing_page =
            Some("https://console.aws.amazon.com/elasticache/home#client-download:".into());
    } else {
        m.client_download_landing_page =
            Some("https://console.aws.amazon.com/elasticache/home#client-download:".into());
    }
    m.cache_node_type = Some(c.node_type.clone());
    m.engine = Some(c.engine.as_str().to_owned());
    m.engine_version = Some(c.engine_version.clone());
    m.cache_cluster_status = Some(c.status.clone());
    let live = c
        .nodes
        .iter()
        .filter(|n| n.status != lifecycle::NODE_DELETING || c.status == lifecycle::DELETING)
        .count();
    m.num_cache_nodes = Some(int(live));
    m.preferred_availability_zone = Some(c.preferred_az.clone());
    m.cache_cluster_create_time = Some(c.created);
    m.preferred_maintenance_window = Some(c.maintenance_window.clone());
    let mut pending = PendingModifiedValues::default();
    if let Some(n) = c.pending.num_cache_nodes {
        pending.num_cache_nodes = Some(n);
        if !c.pending.node_ids_to_remove.is_empty() {
            pending.cache_node_ids_to_remove = Some(c.pending.node_ids_to_remove.clone());
        }
    }
    if let Some(v) = &c.pending.engine_version {
        pending.engine_version = Some(v.clone());
    }
    if let Some(v) = &c.pending.node_type {
        pending.cache_node_type = Some(v.clone());
    }
    m.pending_modified_values = Some(pending);
    if let Some(t) = &c.notification_topic_arn {
        m.notification_configuration = Some(NotificationConfiguration {
            topic_arn: Some(t.clone()),
            topic_status: Some(
                c.notification_topic_status
                    .clone()
                    .unwrap_or_else(|| "active".into()),
            ),
        });
    }
    let reboot_ids: Vec<String> = if c.parameter_group_status == lifecycle::PG_PENDING_REBOOT {
        c.nodes.iter().map(|n| n.id.clone()).collect()
    } else {
        Vec::new()
    };
    m.cache_parameter_group = Some(CacheParameterGroupStatus {
        cache_parameter_group_name: Some(c.parameter_group.clone()),
        parameter_apply_status: Some(c.parameter_group_status.clone()),
        cache_node_ids_to_reboot: Some(reboot_ids),
    });
    m.cache_subnet_group_name.clone_from(&c.subnet_group);
    if show_nodes {
        let nodes: Vec<CacheNode> = c
            .nodes
            .iter()
            .map(|n| {
                let mut node = CacheNode {
                    cache_node_id: Some(n.id.clone()),
                    cache_node_status: Some(n.status.clone()),
                    cache_node_create_time: Some(n.created),
                    parameter_group_status: Some(c.parameter_group_status.clone()),
                    customer_availability_zone: Some(n.az.clone()),
                    ..CacheNode::default()
                };
                if n.status != lifecycle::NODE_CREATING {
                    node.endpoint = Some(endpoint(&ctx.cp.settings.endpoint_host(n.host), n.port));
                }
                node
            })
            .collect();
        m.cache_nodes = Some(nodes);
    }
    m.auto_minor_version_upgrade = Some(c.auto_minor_version_upgrade);
    m.security_groups = Some(
        c.security_group_ids
            .iter()
            .map(|s| SecurityGroupMembership {
                security_group_id: Some(s.clone()),
                status: Some("active".into()),
            })
            .collect(),
    );
    m.replication_group_id.clone_from(&c.replication_group_id);
    if c.engine != EngineKind::Memcached {
        m.snapshot_retention_limit = Some(c.snapshot_retention_limit);
        m.snapshot_window.clone_from(&c.snapshot_window);
    }
    m.auth_token_enabled = Some(c.auth.enabled());
    if let Some(t) = &c.auth_token_last_modified {
        m.auth_token_last_modified_date = Some(*t);
    }
    m.transit_encryption_enabled = Some(c.transit_encryption);
    m.transit_encryption_mode = c.transit_mode.clone().map(Into::into);
    m.at_rest_encryption_enabled = Some(c.at_rest_encryption);
    m.arn = Some(c.arn(scope));
    m.replication_group_log_delivery_enabled = Some(false);
    m.log_delivery_configurations = Some(vec![]);
    m.network_type = Some(c.network_type.clone().into());
    m.ip_discovery = Some(c.ip_discovery.clone().into());
    m
}
