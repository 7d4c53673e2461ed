//! The JSON views of `/_elasticache/...`: what the model holds, per account and
//! region, read through the same `ControlPlane` calls the Query API uses, with
//! each running node's live figures read from its engine
//! ([`crate::worker::figures`]). No secret is ever part of a view: AUTH tokens,
//! passwords and their hashes are left out, only whether they are set.

use std::net::Ipv4Addr;

use futures_util::future::join_all;
use serde::Serialize;

use crate::engine::EngineKind;
use crate::model::cluster::CacheCluster;
use crate::model::replication_group::ReplicationGroup;
use crate::model::validate::is_internal;
use crate::model::{iso, lifecycle, shards, snapshot, ControlPlane, Scope};
use crate::worker::figures::{self, Figures};

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
}

/// Every account and region that holds anything.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub regions: Vec<RegionSummary>,
}

#[derive(Debug, Serialize)]
pub struct RegionSummary {
    pub account: String,
    pub region: String,
    pub cache_clusters: usize,
    pub replication_groups: usize,
    pub serverless_caches: usize,
    pub user_groups: usize,
    pub snapshots: usize,
}

/// One account and region in full.
#[derive(Debug, Serialize)]
pub struct RegionView {
    pub account: String,
    pub region: String,
    /// Clusters that belong to no replication group (members are shown in
    /// their group's shards).
    pub cache_clusters: Vec<ClusterView>,
    pub replication_groups: Vec<GroupView>,
    pub serverless_caches: Vec<ServerlessView>,
    /// Global datastores with a member in this region.
    pub global_datastores: Vec<GlobalView>,
    pub users: Vec<UserView>,
    pub user_groups: Vec<UserGroupView>,
    pub snapshots: Vec<SnapshotView>,
    /// The newest events of this account and region, oldest first.
    pub events: Vec<EventView>,
}

#[derive(Debug, Serialize)]
pub struct ClusterView {
    pub id: String,
    pub engine: String,
    pub engine_version: String,
    pub node_type: String,
    pub status: String,
    pub transit_encryption: bool,
    pub auth_token_enabled: bool,
    /// Memcached's configuration endpoint (`config get cluster`).
    pub configuration_endpoint: Option<Endpoint>,
    pub nodes: Vec<NodeView>,
}

/// One cache node, with what its engine says right now.
#[derive(Debug, Serialize)]
pub struct NodeView {
    pub cache_cluster_id: String,
    pub cache_node_id: String,
    pub status: String,
    /// In a replication group: `primary` or `replica`, as the API answers it.
    pub role: Option<String>,
    pub endpoint: Endpoint,
    pub availability_zone: String,
    /// A replica's replication lag in bytes (its primary's offset less its own).
    pub lag_bytes: Option<u64>,
    pub figures: Figures,
}

#[derive(Debug, Serialize)]
pub struct GroupView {
    pub id: String,
    pub description: String,
    pub status: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub node_type: Option<String>,
    pub cluster_mode: bool,
    pub automatic_failover: bool,
    pub multi_az: bool,
    pub transit_encryption: bool,
    pub auth_token_enabled: bool,
    pub primary_endpoint: Option<Endpoint>,
    pub reader_endpoint: Option<Endpoint>,
    pub configuration_endpoint: Option<Endpoint>,
    pub user_group_ids: Vec<String>,
    pub shards: Vec<ShardView>,
}

#[derive(Debug, Serialize)]
pub struct ShardView {
    /// `0001`, …
    pub id: String,
    /// Slot ranges (`0-5461`), cluster mode only.
    pub slots: Option<String>,
    /// The primary's cluster id.
    pub primary: String,
    /// The primary first, then its replicas.
    pub members: Vec<NodeView>,
}

#[derive(Debug, Serialize)]
pub struct ServerlessView {
    pub name: String,
    pub engine: String,
    pub version: String,
    pub status: String,
    pub endpoint: Option<Endpoint>,
    pub reader_endpoint: Option<Endpoint>,
    pub data_storage_max_gb: Option<i64>,
    pub ecpu_per_second_max: Option<i64>,
    pub user_group_id: Option<String>,
    /// The engines behind it.
    pub nodes: Vec<NodeView>,
}

#[derive(Debug, Serialize)]
pub struct GlobalView {
    pub id: String,
    pub description: String,
    pub status: String,
    /// The primary first.
    pub members: Vec<GlobalMemberView>,
}

#[derive(Debug, Serialize)]
pub struct GlobalMemberView {
    pub region: String,
    pub replication_group_id: String,
    /// `PRIMARY` or `SECONDARY`.
    pub role: String,
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub engine: String,
    pub status: String,
    pub access_string: String,
    /// `password`, `no-password` or `iam` (never the passwords).
    pub authentication: String,
}

#[derive(Debug, Serialize)]
pub struct UserGroupView {
    pub id: String,
    pub engine: String,
    pub status: String,
    pub user_ids: Vec<String>,
    pub replication_groups: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SnapshotView {
    pub name: String,
    pub status: String,
    /// `manual` or `automated`.
    pub source: String,
    pub cache_cluster_id: Option<String>,
    pub replication_group_id: Option<String>,
    pub engine: String,
    pub engine_version: String,
    pub node_type: String,
    pub shards: usize,
    pub size: Option<String>,
    pub created: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub seq: u64,
    pub account: String,
    pub region: String,
    pub date: String,
    pub source_type: String,
    pub source_id: String,
    pub message: String,
}

/// How many events a region view carries.
const REGION_EVENTS: usize = 50;

#[must_use]
pub fn overview(cp: &ControlPlane) -> Overview {
    let regions = cp
        .scopes()
        .into_iter()
        .map(|scope| RegionSummary {
            cache_clusters: cp
                .list_clusters(&scope)
                .iter()
                .filter(|c| c.replication_group_id.is_none() && !is_internal(&c.id))
                .count(),
            replication_groups: cp
                .list_replication_groups(&scope)
                .iter()
                .filter(|g| !is_internal(&g.id))
                .count(),
            serverless_caches: cp.list_serverless_caches(&scope).len(),
            user_groups: cp.list_user_groups(&scope).len(),
            snapshots: cp
                .list_snapshots(&scope)
                .iter()
                .filter(|s| !is_internal(&s.name))
                .count(),
            account: scope.account,
            region: scope.region,
        })
        .collect();
    Overview { regions }
}

/// An event as the views show it.
#[must_use]
pub fn event(scope: &Scope, e: &crate::model::events::Event) -> EventView {
    EventView {
        seq: e.seq,
        account: scope.account.clone(),
        region: scope.region.clone(),
        date: iso(&e.date),
        source_type: e.source_type.clone(),
        source_id: e.source_id.clone(),
        message: e.message.clone(),
    }
}

/// Events numbered after `seq` in every account and region (hidden resources'
/// events left out), oldest first.
#[must_use]
pub fn events_after(cp: &ControlPlane, seq: u64, limit: usize) -> Vec<EventView> {
    cp.events_after(seq, limit)
        .iter()
        .filter(|(_, e)| !is_internal(&e.source_id))
        .map(|(s, e)| event(s, e))
        .collect()
}

fn endpoint(cp: &ControlPlane, host: Ipv4Addr, port: u16) -> Endpoint {
    Endpoint {
        address: cp.settings.endpoint_host(host),
        port,
    }
}

/// The nodes of `clusters` (one role each, when given), with their figures,
/// read from every engine at once.
async fn nodes(cp: &ControlPlane, clusters: &[(&CacheCluster, Option<&str>)]) -> Vec<NodeView> {
    let mut reads = Vec::new();
    let mut views = Vec::new();
    for (c, role) in clusters {
        for n in &c.nodes {
            let running = n.status != lifecycle::NODE_CREATING && c.status != lifecycle::DELETING;
            let (engine, host, port, tls) = (c.engine, n.host, n.port, c.transit_encryption);
            reads.push(async move {
                if running {
                    figures::read(engine, host, port, tls).await
                } else {
                    Figures::default()
                }
            });
            views.push(NodeView {
                cache_cluster_id: c.id.clone(),
                cache_node_id: n.id.clone(),
                status: n.status.clone(),
                role: role.map(str::to_owned),
                endpoint: endpoint(cp, n.host, n.port),
                availability_zone: n.az.clone(),
                lag_bytes: None,
                figures: Figures::default(),
            });
        }
    }
    for (v, f) in views.iter_mut().zip(join_all(reads).await) {
        v.figures = f;
    }
    views
}

/// A replica's lag: its primary's offset less its own.
fn set_lags(members: &mut [NodeView]) {
    let primary = members
        .iter()
        .find(|m| m.role.as_deref() == Some("primary"))
        .and_then(|m| m.figures.repl_offset);
    for m in members.iter_mut() {
        if m.role.as_deref() == Some("replica") {
            m.lag_bytes = match (primary, m.figures.repl_offset) {
                (Some(p), Some(r)) => Some(p.saturating_sub(r)),
                _ => None,
            };
        }
    }
}

async fn group_view(cp: &ControlPlane, scope: &Scope, g: &ReplicationGroup) -> GroupView {
    let members = cp.replication_group_view(scope, g);
    let first = members
        .iter()
        .find(|c| c.id == g.primary)
        .or(members.first());
    let shard_defs: Vec<(String, Option<String>, String, Vec<String>)> = if g.cluster_enabled() {
        g.node_groups
            .iter()
            .map(|ng| {
                (
                    ng.id.clone(),
                    Some(shards::format_slots(&ng.slots)),
                    ng.primary.clone(),
                    ng.members.clone(),
                )
            })
            .collect()
    } else {
        vec![(
            "0001".to_owned(),
            None,
            g.primary.clone(),
            g.members.clone(),
        )]
    };
    let mut shard_views = Vec::new();
    for (id, slots, primary, ids) in shard_defs {
        let mut ordered: Vec<(&CacheCluster, Option<&str>)> = members
            .iter()
            .filter(|c| ids.contains(&c.id) && c.status != lifecycle::DELETING)
            .map(|c| {
                let role = if c.id == primary {
                    "primary"
                } else {
                    "replica"
                };
                (c, Some(role))
            })
            .collect();
        ordered.sort_by_key(|(c, _)| c.id != primary);
        let mut member_views = nodes(cp, &ordered).await;
        set_lags(&mut member_views);
        shard_views.push(ShardView {
            id,
            slots,
            primary,
            members: member_views,
        });
    }
    let cluster_mode = g.cluster_enabled();
    let (ph, pp) = g.primary_endpoint();
    let (rh, rp) = g.reader_endpoint();
    GroupView {
        id: g.id.clone(),
        description: g.description.clone(),
        status: g.status.clone(),
        engine: g.engine.as_str().to_owned(),
        engine_version: first.map(|c| c.engine_version.clone()),
        node_type: first.map(|c| c.node_type.clone()),
        cluster_mode,
        automatic_failover: g.automatic_failover,
        multi_az: g.multi_az,
        transit_encryption: first.is_some_and(|c| c.transit_encryption),
        auth_token_enabled: first.is_some_and(|c| c.auth.enabled()),
        primary_endpoint: (!cluster_mode).then(|| endpoint(cp, ph, pp)),
        reader_endpoint: (!cluster_mode).then(|| endpoint(cp, rh, rp)),
        configuration_endpoint: g.config_endpoint().map(|(h, p)| endpoint(cp, h, p)),
        user_group_ids: g.user_group_ids.clone(),
        shards: shard_views,
    }
}

async fn cluster_view(cp: &ControlPlane, c: &CacheCluster) -> ClusterView {
    ClusterView {
        id: c.id.clone(),
        engine: c.engine.as_str().to_owned(),
        engine_version: c.engine_version.clone(),
        node_type: c.node_type.clone(),
        status: c.status.clone(),
        transit_encryption: c.transit_encryption,
        auth_token_enabled: c.auth.enabled(),
        configuration_endpoint: c
            .config_port
            .map(|p| endpoint(cp, c.config_host.unwrap_or(Ipv4Addr::LOCALHOST), p)),
        nodes: nodes(cp, &[(c, None)]).await,
    }
}

/// One account and region in full, or `None` when it holds nothing.
pub async fn region(cp: &ControlPlane, scope: &Scope) -> Option<RegionView> {
    if !cp.scopes().contains(scope) {
        return None;
    }
    let clusters: Vec<CacheCluster> = cp
        .list_clusters(scope)
        .into_iter()
        .filter(|c| c.replication_group_id.is_none() && !is_internal(&c.id))
        .collect();
    let mut cache_clusters = Vec::new();
    for c in &clusters {
        cache_clusters.push(cluster_view(cp, c).await);
    }
    let mut replication_groups = Vec::new();
    for g in cp
        .list_replication_groups(scope)
        .iter()
        .filter(|g| !is_internal(&g.id))
    {
        replication_groups.push(group_view(cp, scope, g).await);
    }
    let mut serverless_caches = Vec::new();
    for s in cp.list_serverless_caches(scope) {
        let (ep, reader) = cp.serverless_endpoints(scope, &s);
        let nodes = if s.engine == EngineKind::Memcached {
            match cp.serverless_backing_cluster(scope, &s) {
                Some(c) => nodes(cp, &[(&c, None)]).await,
                None => Vec::new(),
            }
        } else {
            match cp.serverless_backing_group(scope, &s) {
                Some(g) => group_view(cp, scope, &g)
                    .await
                    .shards
                    .into_iter()
                    .flat_map(|sh| sh.members)
                    .collect(),
                None => Vec::new(),
            }
        };
        serverless_caches.push(ServerlessView {
            engine: s.engine.as_str().to_owned(),
            version: s.full_version.clone(),
            status: s.status.clone(),
            endpoint: ep.map(|(address, port)| Endpoint { address, port }),
            reader_endpoint: reader.map(|(address, port)| Endpoint { address, port }),
            data_storage_max_gb: s.limits.data_max,
            ecpu_per_second_max: s.limits.ecpu_max,
            user_group_id: s.user_group_id.clone(),
            nodes,
            name: s.name,
        });
    }
    let global_datastores = cp
        .list_globals(scope)
        .into_iter()
        .filter(|g| g.members.iter().any(|m| m.region == scope.region))
        .map(|g| GlobalView {
            members: g
                .members
                .into_iter()
                .map(|m| GlobalMemberView {
                    region: m.region,
                    replication_group_id: m.replication_group_id,
                    role: m.role,
                    status: m.status,
                })
                .collect(),
            id: g.id,
            description: g.description,
            status: g.status,
        })
        .collect();
    let groups = cp.list_replication_groups(scope);
    let user_groups = cp
        .list_user_groups(scope)
        .into_iter()
        .map(|u| UserGroupView {
            replication_groups: groups
                .iter()
                .filter(|g| !is_internal(&g.id) && g.user_group_ids.contains(&u.id))
                .map(|g| g.id.clone())
                .collect(),
            id: u.id,
            engine: u.engine,
            status: u.status,
            user_ids: u.user_ids,
        })
        .collect();
    let users = cp
        .list_users(scope)
        .into_iter()
        .map(|u| UserView {
            authentication: u.auth.as_str().to_owned(),
            id: u.id,
            name: u.name,
            engine: u.engine,
            status: u.status,
            access_string: u.access_string,
        })
        .collect();
    let snapshots = cp
        .list_snapshots(scope)
        .into_iter()
        .filter(|s| !is_internal(&s.name))
        .map(|s| SnapshotView {
            size: {
                let sizes: Vec<u64> = s
                    .node_snapshots
                    .iter()
                    .filter_map(|n| n.size_bytes)
                    .collect();
                (!sizes.is_empty()).then(|| snapshot::cache_size(sizes.iter().sum()))
            },
            shards: s.node_snapshots.len(),
            created: iso(&s.created),
            name: s.name,
            status: s.status,
            source: s.source,
            cache_cluster_id: s.cluster_id,
            replication_group_id: s.replication_group_id,
            engine: s.engine.as_str().to_owned(),
            engine_version: s.engine_version,
            node_type: s.node_type,
        })
        .collect();
    let events = cp
        .events_after(0, usize::MAX)
        .into_iter()
        .filter(|(s, e)| s == scope && !is_internal(&e.source_id))
        .map(|(s, e)| event(&s, &e))
        .collect::<Vec<_>>();
    let skip = events.len().saturating_sub(REGION_EVENTS);
    Some(RegionView {
        account: scope.account.clone(),
        region: scope.region.clone(),
        cache_clusters,
        replication_groups,
        serverless_caches,
        global_datastores,
        users,
        user_groups,
        snapshots,
        events: events[skip..].to_vec(),
    })
}
