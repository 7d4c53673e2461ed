//! CreateReplicationGroup, DescribeReplicationGroups, ModifyReplicationGroup,
//! DeleteReplicationGroup, TestFailover, IncreaseReplicaCount, DecreaseReplicaCount
//! (cluster mode disabled).

use super::{enabled, endpoint, not_blank, page, tags_in, Ctx};
use crate::dto::{
    self, ConfigureShard, CreateReplicationGroupInput, CreateReplicationGroupOutput,
    DecreaseReplicaCountInput, DecreaseReplicaCountOutput, DeleteReplicationGroupInput,
    DeleteReplicationGroupOutput, DescribeReplicationGroupsInput, DescribeReplicationGroupsOutput,
    IncreaseReplicaCountInput, IncreaseReplicaCountOutput, ModifyReplicationGroupInput,
    ModifyReplicationGroupOutput, ModifyReplicationGroupShardConfigurationInput,
    ModifyReplicationGroupShardConfigurationOutput, NodeGroupMember,
    ReplicationGroupPendingModifiedValues, TestFailoverInput, TestFailoverOutput,
};
use crate::model::cluster::{parse_engine, CreateCluster, ModifyCluster};
use crate::model::replication_group::{
    CreateReplicationGroup, ModifyReplicationGroup, ReplicationGroup, NODE_GROUP_ID,
};
use crate::model::shards::{self, NodeGroupSpec, ShardConfiguration, ShardReplicas};
use crate::model::{lifecycle, Error};

/// `ReplicaConfiguration` (`ConfigureShard` entries).
fn replica_configuration(c: Option<Vec<ConfigureShard>>) -> Vec<ShardReplicas> {
    c.unwrap_or_default()
        .into_iter()
        .map(|c| ShardReplicas {
            node_group_id: c.node_group_id,
            new_replica_count: c.new_replica_count,
            azs: c.preferred_availability_zones.unwrap_or_default(),
        })
        .collect()
}

pub(super) fn create(
    ctx: &Ctx<'_>,
    input: CreateReplicationGroupInput,
) -> Result<CreateReplicationGroupOutput, Error> {
    let CreateReplicationGroupInput {
        replication_group_id,
        replication_group_description,
        global_replication_group_id,
        primary_cluster_id,
        automatic_failover_enabled,
        multi_az_enabled,
        num_cache_clusters,
        preferred_cache_cluster_azs,
        num_node_groups,
        replicas_per_node_group,
        node_group_configuration,
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
        transit_encryption_enabled,
        at_rest_encryption_enabled,
        kms_key_id,
        user_group_ids,
        log_delivery_configurations: _,
        data_tiering_enabled,
        network_type,
        ip_discovery,
        transit_encryption_mode,
        cluster_mode,
        serverless_cache_snapshot_name,
        durability,
    } = input;
    let cluster = CreateCluster {
        id: String::new(),
        engine,
        engine_version,
        node_type: cache_node_type,
        num_cache_nodes: None,
        parameter_group: cache_parameter_group_name,
        subnet_group: cache_subnet_group_name,
        security_group_ids: security_group_ids.unwrap_or_default(),
        security_group_names: cache_security_group_names.unwrap_or_default(),
        az_mode: None,
        preferred_az: None,
        preferred_azs: Vec::new(),
        maintenance_window: preferred_maintenance_window,
        snapshot_window,
        snapshot_retention_limit,
        // A serverless cache's snapshot restores as the hidden snapshot it is.
        snapshot_name: match (snapshot_name, serverless_cache_snapshot_name) {
            (Some(_), Some(_)) => {
                return Err(Error::combination(
                    "Only one of SnapshotName or ServerlessCacheSnapshotName may be specified.",
                ))
            }
            (n, None) => n,
            (None, Some(s)) => Some(ctx.cp.find_serverless_snapshot(&ctx.scope, &s)?.name),
        },
        snapshot_arns: snapshot_arns.unwrap_or_default(),
        notification_topic_arn,
        auto_minor_version_upgrade,
        transit_encryption: transit_encryption_enabled,
        transit_mode: transit_encryption_mode.map(String::from),
        auth_token,
        port,
        network_type: network_type.map(String::from),
        ip_discovery: ip_discovery.map(String::from),
        replication_group_id: None,
        tags: tags_in(tags),
    };
    let ngc = node_group_configuration.unwrap_or_default();
    let req = CreateReplicationGroup {
        id: not_blank(replication_group_id, "ReplicationGroupId")?,
        description: not_blank(replication_group_description, "ReplicationGroupDescription")?,
        primary_cluster_id,
        automatic_failover: automatic_failover_enabled,
        multi_az: multi_az_enabled,
        num_cache_clusters,
        preferred_azs: preferred_cache_cluster_azs.unwrap_or_default(),
        num_node_groups,
        replicas_per_node_group,
        node_group_configuration: ngc.len(),
        node_groups: ngc
            .into_iter()
            .map(|c| NodeGroupSpec {
                id: c.node_group_id,
                slots: c.slots,
                replica_count: c.replica_count,
                primary_az: c.primary_availability_zone,
                replica_azs: c.replica_availability_zones.unwrap_or_default(),
            })
            .collect(),
        cluster_mode: cluster_mode.map(String::from),
        global_replication_group_id,
        user_group_ids: user_group_ids.unwrap_or_default(),
        at_rest_encryption: at_rest_encryption_enabled,
        kms_key_id,
        data_tiering: data_tiering_enabled,
        durability: durability.map(String::from),
        cluster,
    };
    let g = ctx.cp.create_replication_group(&ctx.scope, req)?;
    Ok(CreateReplicationGroupOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn describe(
    ctx: &Ctx<'_>,
    input: DescribeReplicationGroupsInput,
) -> Result<DescribeReplicationGroupsOutput, Error> {
    let DescribeReplicationGroupsInput {
        replication_group_id,
        max_records,
        marker,
    } = input;
    let (groups, marker) = match replication_group_id {
        Some(id) => {
            let g = ctx.cp.find_replication_group(&ctx.scope, &id)?;
            let found: Vec<_> = std::iter::once(g).filter(|g| super::shown(&g.id)).collect();
            page(found, max_records, marker.as_deref(), 20, 100)?
        }
        None => {
            let (start, size) = super::page_bounds(max_records, marker.as_deref(), 20, 100)?;
            let (page, total) =
                ctx.cp
                    .replication_groups_page(&ctx.scope, |g| super::shown(&g.id), start, size);
            let next = super::next_marker(start, page.len(), total, marker.as_deref())?;
            (page, next)
        }
    };
    let items = groups.iter().map(|g| flatten(ctx, g)).collect();
    Ok(DescribeReplicationGroupsOutput {
        marker,
        replication_groups: Some(items),
    })
}

pub(super) fn modify(
    ctx: &Ctx<'_>,
    input: ModifyReplicationGroupInput,
) -> Result<ModifyReplicationGroupOutput, Error> {
    let ModifyReplicationGroupInput {
        replication_group_id,
        replication_group_description,
        primary_cluster_id,
        snapshotting_cluster_id,
        automatic_failover_enabled,
        multi_az_enabled,
        node_group_id,
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
        user_group_ids_to_add,
        user_group_ids_to_remove,
        remove_user_groups: _,
        log_delivery_configurations: _,
        ip_discovery,
        transit_encryption_enabled,
        transit_encryption_mode,
        cluster_mode,
        durability,
    } = input;
    if !cache_security_group_names.unwrap_or_default().is_empty() {
        return Err(Error::invalid(
            "Use of cache security groups is not permitted in this API version for your account.",
        ));
    }
    let cluster = ModifyCluster {
        id: String::new(),
        security_group_ids,
        maintenance_window: preferred_maintenance_window,
        notification_topic_arn,
        notification_topic_status,
        parameter_group: cache_parameter_group_name,
        apply_immediately: apply_immediately.unwrap_or(false),
        engine_version,
        auto_minor_version_upgrade,
        snapshot_retention_limit,
        snapshot_window,
        node_type: cache_node_type,
        auth_token,
        auth_token_update_strategy: auth_token_update_strategy.map(String::from),
        ip_discovery: ip_discovery.map(String::from),
        ..ModifyCluster::default()
    };
    let req = ModifyReplicationGroup {
        id: not_blank(replication_group_id, "ReplicationGroupId")?,
        description: replication_group_description,
        primary_cluster_id,
        snapshotting_cluster_id,
        automatic_failover: automatic_failover_enabled,
        multi_az: multi_az_enabled,
        node_group_id,
        cluster_mode: cluster_mode.map(String::from),
        user_groups_to_add: user_group_ids_to_add.unwrap_or_default(),
        user_groups_to_remove: user_group_ids_to_remove.unwrap_or_default(),
        durability: durability.map(String::from),
        transit_enabled: transit_encryption_enabled,
        transit_mode: transit_encryption_mode.map(String::from),
        engine: engine
            .filter(|e| !e.is_empty())
            .map(|e| parse_engine(&e))
            .transpose()?,
        cluster,
    };
    ctx.cp
        .check_member_change(&ctx.scope, &req.id, Some(&req))?;
    let g = ctx.cp.modify_replication_group(&ctx.scope, req)?;
    Ok(ModifyReplicationGroupOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn delete(
    ctx: &Ctx<'_>,
    input: DeleteReplicationGroupInput,
) -> Result<DeleteReplicationGroupOutput, Error> {
    let DeleteReplicationGroupInput {
        replication_group_id,
        retain_primary_cluster,
        final_snapshot_identifier,
    } = input;
    let g = ctx.cp.delete_replication_group(
        &ctx.scope,
        &not_blank(replication_group_id, "ReplicationGroupId")?,
        retain_primary_cluster.unwrap_or(false),
        final_snapshot_identifier.as_deref(),
    )?;
    Ok(DeleteReplicationGroupOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn test_failover(
    ctx: &Ctx<'_>,
    input: TestFailoverInput,
) -> Result<TestFailoverOutput, Error> {
    let TestFailoverInput {
        replication_group_id,
        node_group_id,
    } = input;
    let g = ctx.cp.test_failover(
        &ctx.scope,
        &not_blank(replication_group_id, "ReplicationGroupId")?,
        &not_blank(node_group_id, "NodeGroupId")?,
    )?;
    Ok(TestFailoverOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn increase_replicas(
    ctx: &Ctx<'_>,
    input: IncreaseReplicaCountInput,
) -> Result<IncreaseReplicaCountOutput, Error> {
    let IncreaseReplicaCountInput {
        replication_group_id,
        new_replica_count,
        replica_configuration,
        apply_immediately,
    } = input;
    let g = ctx.cp.increase_replica_count(
        &ctx.scope,
        &not_blank(replication_group_id, "ReplicationGroupId")?,
        new_replica_count,
        &self::replica_configuration(replica_configuration),
        apply_immediately,
    )?;
    Ok(IncreaseReplicaCountOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn decrease_replicas(
    ctx: &Ctx<'_>,
    input: DecreaseReplicaCountInput,
) -> Result<DecreaseReplicaCountOutput, Error> {
    let DecreaseReplicaCountInput {
        replication_group_id,
        new_replica_count,
        replica_configuration,
        replicas_to_remove,
        apply_immediately,
    } = input;
    let g = ctx.cp.decrease_replica_count(
        &ctx.scope,
        &not_blank(replication_group_id, "ReplicationGroupId")?,
        new_replica_count,
        &self::replica_configuration(replica_configuration),
        &replicas_to_remove.unwrap_or_default(),
        apply_immediately,
    )?;
    Ok(DecreaseReplicaCountOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

pub(super) fn modify_shards(
    ctx: &Ctx<'_>,
    input: ModifyReplicationGroupShardConfigurationInput,
) -> Result<ModifyReplicationGroupShardConfigurationOutput, Error> {
    let ModifyReplicationGroupShardConfigurationInput {
        replication_group_id,
        node_group_count,
        apply_immediately,
        resharding_configuration,
        node_groups_to_remove,
        node_groups_to_retain,
    } = input;
    let req = ShardConfiguration {
        id: not_blank(replication_group_id, "ReplicationGroupId")?,
        node_group_count,
        apply_immediately,
        resharding: resharding_configuration
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| {
                Some((
                    c.node_group_id?,
                    c.preferred_availability_zones.unwrap_or_default(),
                ))
            })
            .collect(),
        to_remove: node_groups_to_remove.unwrap_or_default(),
        to_retain: node_groups_to_retain.unwrap_or_default(),
    };
    ctx.cp.check_member_change(&ctx.scope, &req.id, None)?;
    let g = ctx.cp.modify_shard_configuration(&ctx.scope, req)?;
    Ok(ModifyReplicationGroupShardConfigurationOutput {
        replication_group: Some(flatten(ctx, &g)),
    })
}

/// The node groups of a cluster-mode group: no per-shard endpoints and no
/// member roles (AWS shows neither with cluster mode enabled).
fn sharded_node_groups(
    g: &ReplicationGroup,
    members: &[crate::model::cluster::CacheCluster],
) -> Vec<dto::NodeGroup> {
    let ng_status = |removing: bool| {
        if g.status == lifecycle::AVAILABLE {
            lifecycle::AVAILABLE
        } else if g.status == lifecycle::MODIFYING && removing {
            lifecycle::DELETING
        } else {
            g.status.as_str()
        }
    };
    g.node_groups
        .iter()
        .map(|ng| {
            let nm: Vec<NodeGroupMember> = ng
                .members
                .iter()
                .filter_map(|m| members.iter().find(|c| c.id == *m))
                .filter(|c| c.status != lifecycle::DELETING)
                .map(|c| NodeGroupMember {
                    cache_cluster_id: Some(c.id.clone()),
                    cache_node_id: Some(
                        c.nodes.first().map_or("0001", |n| n.id.as_str()).to_owned(),
                    ),
                    preferred_availability_zone: Some(c.preferred_az.clone()),
                    ..NodeGroupMember::default()
                })
                .collect();
            dto::NodeGroup {
                node_group_id: Some(ng.id.clone()),
                status: Some(ng_status(ng.removing).to_owned()),
                slots: Some(shards::format_slots(&ng.slots)),
                node_group_members: Some(nm),
                ..dto::NodeGroup::default()
            }
        })
        .collect()
}

/// A replication group as the API shows it, true to its members.
pub(super) fn flatten(ctx: &Ctx<'_>, g: &ReplicationGroup) -> dto::ReplicationGroup {
    let settings = &ctx.cp.settings;
    let (primary_host, primary_port) = g.primary_endpoint();
    let (reader_host, reader_port) = g.reader_endpoint();
    let members = ctx.cp.replication_group_view(&ctx.scope, g);
    let primary = members.iter().find(|c| c.id == g.primary);
    let mut m = dto::ReplicationGroup {
        replication_group_id: Some(g.id.clone()),
        description: Some(g.description.clone()),
        status: Some(g.status.clone()),
        ..dto::ReplicationGroup::default()
    };
    let mut pending = ReplicationGroupPendingModifiedValues::default();
    if let Some(p) = &g.failover_to {
        if !g.failover_test {
            pending.primary_cluster_id = Some(p.clone());
        }
    }
    m.pending_modified_values = Some(pending);
    m.member_clusters = Some(g.members.clone());
    let node_members: Vec<NodeGroupMember> = members
        .iter()
        .filter(|c| c.status != lifecycle::DELETING)
        .map(|c| {
            let mut v = NodeGroupMember {
                cache_cluster_id: Some(c.id.clone()),
                cache_node_id: Some(c.nodes.first().map_or("0001", |n| n.id.as_str()).to_owned()),
                preferred_availability_zone: Some(c.preferred_az.clone()),
                current_role: Some(
                    if c.id == g.primary {
                        "primary"
                    } else {
                        "replica"
                    }
                    .into(),
                ),
                ..NodeGroupMember::default()
            };
            if let Some(n) = c.nodes.first() {
                if n.status != lifecycle::NODE_CREATING {
                    v.read_endpoint = Some(endpoint(&settings.endpoint_host(n.host), n.port));
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
        m.node_groups = Some(sharded_node_groups(g, &members));
        if let Some((h, p)) = g.config_endpoint() {
            m.configuration_endpoint = Some(endpoint(&settings.endpoint_host(h), p));
        }
    } else {
        m.node_groups = Some(vec![dto::NodeGroup {
            node_group_id: Some(NODE_GROUP_ID.to_owned()),
            status: Some(ng_status.to_owned()),
            primary_endpoint: Some(endpoint(
                &settings.endpoint_host(primary_host),
                primary_port,
            )),
            reader_endpoint: Some(endpoint(&settings.endpoint_host(reader_host), reader_port)),
            node_group_members: Some(node_members),
            ..dto::NodeGroup::default()
        }]);
    }
    m.snapshotting_cluster_id
        .clone_from(&g.snapshotting_cluster);
    m.automatic_failover = Some(enabled(g.automatic_failover).into());
    m.multi_az = Some(enabled(g.multi_az).into());
    m.snapshot_retention_limit = Some(g.snapshot_retention_limit);
    m.snapshot_window = Some(g.snapshot_window.clone());
    m.cluster_enabled = Some(g.cluster_enabled());
    m.cache_node_type = primary.map(|c| c.node_type.clone());
    m.auth_token_enabled = Some(primary.is_some_and(|c| c.auth.enabled()));
    m.auth_token_last_modified_date = primary.and_then(|c| c.auth_token_last_modified);
    m.transit_encryption_enabled = Some(primary.is_some_and(|c| c.transit_encryption));
    m.transit_encryption_mode = primary.and_then(|c| c.transit_mode.clone().map(Into::into));
    let at_rest = primary.is_some_and(|c| c.at_rest_encryption);
    m.at_rest_encryption_enabled = Some(at_rest);
    m.kms_key_id = primary.and_then(|c| c.kms_key_id.clone());
    m.storage_encryption_type = Some(match (at_rest, &m.kms_key_id) {
        (false, _) => dto::StorageEncryptionType::NONE,
        (true, None) => dto::StorageEncryptionType::SSE_ELASTICACHE,
        (true, Some(_)) => dto::StorageEncryptionType::SSE_KMS,
    });
    m.durability = Some(g.durability().to_owned().into());
    m.effective_durability = Some(g.effective_durability().to_owned().into());
    m.arn = Some(g.arn(&ctx.scope));
    m.user_group_ids = Some(g.user_group_ids.clone());
    m.log_delivery_configurations = Some(vec![]);
    m.replication_group_create_time = Some(g.created);
    m.data_tiering = Some(dto::DataTieringStatus::DISABLED);
    m.auto_minor_version_upgrade = Some(g.auto_minor_version_upgrade);
    m.network_type = Some(g.network_type.clone().into());
    m.ip_discovery = Some(g.ip_discovery.clone().into());
    m.cluster_mode = Some(
        g.cluster_mode
            .clone()
            .unwrap_or_else(|| "disabled".into())
            .into(),
    );
    m.engine = Some(g.engine.as_str().to_owned());
    if let Some((gid, role)) = ctx.cp.global_info(&ctx.scope, g) {
        m.global_replication_group_info = Some(dto::GlobalReplicationGroupInfo {
            global_replication_group_id: Some(gid),
            global_replication_group_member_role: Some(role),
        });
    }
    m
}
