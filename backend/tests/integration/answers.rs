//! Every member AWS always sends is in our answers. The API model marks few
//! output members required, so SDKs and Terraform read a missing member as
//! "unset" (HashiCorp's provider then stores an empty `snapshot_retention_limit`
//! or `port` and plans a change forever). This walks every output member of the
//! describes' shapes in the raw XML, for each kind of resource, and fails on a
//! member that is absent unless `MAY_BE_ABSENT` says when AWS leaves it out,
//! and connects to every endpoint the answers give.

use std::collections::BTreeSet;

use aws_sdk_elasticache::types::NodeGroupConfiguration;
use serde_json::Value;

use crate::common::{name, one_runtime, wait_cluster, Backend};

const MODEL: &str = include_str!("../../model/elasticache-2015-02-02.json");

/// `(shape, member)`: members AWS leaves out of an answer, and when.
const MAY_BE_ABSENT: &[(&str, &str, &str)] = &[
    // Paging
    ("*", "Marker", "only when there is a next page"),
    // CacheCluster
    ("CacheCluster", "ConfigurationEndpoint", "Memcached only"),
    ("CacheCluster", "PreferredOutpostArn", "Outposts only"),
    (
        "CacheCluster",
        "NotificationConfiguration",
        "only with a topic",
    ),
    ("CacheCluster", "CacheSecurityGroups", "EC2-Classic only"),
    ("CacheCluster", "CacheNodes", "only with ShowCacheNodeInfo"),
    (
        "CacheCluster",
        "ReplicationGroupId",
        "members of a replication group only",
    ),
    (
        "CacheCluster",
        "SnapshotRetentionLimit",
        "Redis and Valkey only",
    ),
    ("CacheCluster", "SnapshotWindow", "Redis and Valkey only"),
    (
        "CacheCluster",
        "AuthTokenLastModifiedDate",
        "only once a token was set",
    ),
    (
        "CacheCluster",
        "TransitEncryptionMode",
        "only with transit encryption",
    ),
    ("CacheNode", "Endpoint", "not while the node is created"),
    (
        "CacheNode",
        "SourceCacheNodeId",
        "read replicas of the old API only",
    ),
    ("CacheNode", "CustomerOutpostArn", "Outposts only"),
    // PendingModifiedValues: only what is pending.
    ("PendingModifiedValues", "*", "only what is pending"),
    (
        "ReplicationGroupPendingModifiedValues",
        "*",
        "only what is pending",
    ),
    (
        "CacheParameterGroupStatus",
        "CacheNodeIdsToReboot",
        "only nodes waiting for a reboot",
    ),
    // ReplicationGroup
    (
        "ReplicationGroup",
        "GlobalReplicationGroupInfo",
        "members of a global datastore only",
    ),
    (
        "ReplicationGroup",
        "SnapshottingClusterId",
        "only with automatic backups",
    ),
    (
        "ReplicationGroup",
        "ConfigurationEndpoint",
        "cluster mode enabled only",
    ),
    (
        "ReplicationGroup",
        "AuthTokenLastModifiedDate",
        "only once a token was set",
    ),
    (
        "ReplicationGroup",
        "MemberClustersOutpostArns",
        "Outposts only",
    ),
    (
        "ReplicationGroup",
        "KmsKeyId",
        "only with a customer KMS key",
    ),
    (
        "ReplicationGroup",
        "TransitEncryptionMode",
        "only with transit encryption",
    ),
    ("NodeGroup", "PrimaryEndpoint", "cluster mode disabled only"),
    ("NodeGroup", "ReaderEndpoint", "cluster mode disabled only"),
    ("NodeGroup", "Slots", "cluster mode enabled only"),
    (
        "NodeGroupMember",
        "ReadEndpoint",
        "cluster mode disabled only",
    ),
    (
        "NodeGroupMember",
        "CurrentRole",
        "cluster mode disabled only",
    ),
    ("NodeGroupMember", "PreferredOutpostArn", "Outposts only"),
    // Snapshots
    (
        "Snapshot",
        "ReplicationGroupId",
        "snapshots of a replication group only",
    ),
    (
        "Snapshot",
        "ReplicationGroupDescription",
        "snapshots of a replication group only",
    ),
    (
        "Snapshot",
        "CacheClusterId",
        "snapshots of a single cluster only",
    ),
    (
        "Snapshot",
        "PreferredAvailabilityZone",
        "snapshots of a single cluster only",
    ),
    ("Snapshot", "PreferredOutpostArn", "Outposts only"),
    ("Snapshot", "TopicArn", "only with a topic"),
    ("Snapshot", "KmsKeyId", "only with a customer KMS key"),
    (
        "Snapshot",
        "NumNodeGroups",
        "snapshots of a replication group only",
    ),
    (
        "Snapshot",
        "AutomaticFailover",
        "snapshots of a replication group only",
    ),
    (
        "Snapshot",
        "NumCacheNodes",
        "snapshots of a single cluster only",
    ),
    (
        "NodeSnapshot",
        "CacheClusterId",
        "snapshots of a single cluster only",
    ),
    (
        "NodeSnapshot",
        "NodeGroupId",
        "snapshots of a replication group only",
    ),
    (
        "NodeSnapshot",
        "NodeGroupConfiguration",
        "snapshots of a replication group only",
    ),
    (
        "NodeGroupConfiguration",
        "PrimaryOutpostArn",
        "Outposts only",
    ),
    (
        "NodeGroupConfiguration",
        "ReplicaOutpostArns",
        "Outposts only",
    ),
    (
        "NodeGroupConfiguration",
        "ReplicaAvailabilityZones",
        "only with replicas",
    ),
    (
        "NodeGroupConfiguration",
        "Slots",
        "cluster mode enabled only",
    ),
    // Subnet groups
    ("Subnet", "SubnetOutpost", "Outposts only"),
];

fn may_be_absent(shape: &str, member: &str) -> bool {
    MAY_BE_ABSENT
        .iter()
        .any(|(s, m, _)| (*s == shape || *s == "*") && (*m == member || *m == "*"))
}

/// Walk `el` as an instance of `shape`, collecting `shape.member at path` for
/// every member that is absent without a reason.
fn walk(
    model: &Value,
    shape: &str,
    el: roxmltree::Node,
    path: &str,
    missing: &mut BTreeSet<String>,
) {
    let s = &model["shapes"][shape];
    match s["type"].as_str() {
        Some("structure") => {
            for (member, m) in s["members"].as_object().into_iter().flatten() {
                let tag = m["locationName"].as_str().unwrap_or(member);
                let child = el.children().find(|c| c.has_tag_name(tag));
                let target = m["shape"].as_str().unwrap();
                match child {
                    Some(c) => walk(model, target, c, &format!("{path}/{tag}"), missing),
                    None if may_be_absent(shape, member) => {}
                    None => {
                        missing.insert(format!("{shape}.{member} (at {path})"));
                    }
                }
            }
        }
        Some("list") => {
            let item = &s["member"];
            let tag = item["locationName"].as_str().unwrap_or("member");
            let target = item["shape"].as_str().unwrap();
            for (i, c) in el.children().filter(|c| c.has_tag_name(tag)).enumerate() {
                walk(model, target, c, &format!("{path}/{tag}[{i}]"), missing);
            }
        }
        _ => {}
    }
}

/// Describe with `query` and walk the answer against the operation's output shape.
async fn check(be: &Backend, model: &Value, op: &str, query: &str, missing: &mut BTreeSet<String>) {
    let (status, body) = be
        .raw(&format!("Action={op}&Version=2015-02-02{query}"))
        .await;
    assert_eq!(status, 200, "{op}: {body}");
    let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{op}: {e}: {body}"));
    let result = doc
        .root_element()
        .children()
        .find(|c| c.has_tag_name(format!("{op}Result").as_str()))
        .unwrap_or_else(|| panic!("{op}: no {op}Result in {body}"));
    let output = model["operations"][op]["output"]["shape"].as_str().unwrap();
    walk(model, output, result, op, missing);
    reach_every_endpoint(op, result).await;
}

/// Whatever address and port an answer gives, a client reaches the right thing
/// there: a primary endpoint reaches the primary, a reader endpoint a replica,
/// a member's endpoint that member, a Memcached configuration endpoint answers
/// `config get cluster`.
async fn reach_every_endpoint(op: &str, result: roxmltree::Node<'_, '_>) {
    let text = |n: roxmltree::Node, tag: &str| {
        n.children()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .map(str::to_owned)
    };
    for e in result
        .descendants()
        .filter(|n| n.tag_name().name().ends_with("Endpoint"))
    {
        let (Some(addr), Some(port)) = (text(e, "Address"), text(e, "Port")) else {
            continue;
        };
        let at = format!("{addr}:{port}");
        let kind = e.tag_name().name();
        let memcached = e
            .ancestors()
            .find(|a| a.has_tag_name("CacheCluster"))
            .and_then(|c| text(c, "Engine"))
            .is_some_and(|e| e == "memcached");
        let (ask, want) = match (memcached, kind) {
            (true, "ConfigurationEndpoint") => ("config get cluster\r\n", "CONFIG cluster"),
            (true, _) => ("version\r\n", "VERSION"),
            (false, "PrimaryEndpoint") => ("ROLE\r\n", "master"),
            (false, "ReaderEndpoint") => ("ROLE\r\n", "slave"),
            (false, "ReadEndpoint") => {
                match e.parent().and_then(|m| text(m, "CurrentRole")).as_deref() {
                    Some("primary") => ("ROLE\r\n", "master"),
                    Some(_) => ("ROLE\r\n", "slave"),
                    None => ("PING\r\n", "PONG"),
                }
            }
            (false, _) => ("PING\r\n", "PONG"),
        };
        let got = ask_once(&at, ask).await;
        assert!(
            got.contains(want),
            "{op}: {kind} {at} answered {got:?} to {ask:?}, want {want:?}"
        );
    }
}

/// One request on a fresh connection; the first bytes of the answer.
async fn ask_once(at: &str, req: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(at)
        .await
        .unwrap_or_else(|e| panic!("connect {at}: {e}"));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{at}: no answer to {req:?}"))
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn describes_send_every_member_aws_always_sends() {
    let model: Value = serde_json::from_str(MODEL).unwrap();
    for rt in one_runtime() {
        answers_on(&rt, &model).await;
    }
}

async fn answers_on(rt: &str, model: &Value) {
    let be = Backend::start(rt);
    let c = be.client();
    let (redis, mc, rg, cm) = (name("ans-r"), name("ans-m"), name("ans-g"), name("ans-c"));

    c.create_cache_cluster()
        .cache_cluster_id(&redis)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    c.create_cache_cluster()
        .cache_cluster_id(&mc)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(2)
        .send()
        .await
        .unwrap();
    c.create_replication_group()
        .replication_group_id(&rg)
        .replication_group_description("answers")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap();
    let shard = |id: &str, slots: &str| {
        NodeGroupConfiguration::builder()
            .node_group_id(id)
            .slots(slots)
            .replica_count(0)
            .build()
    };
    c.create_replication_group()
        .replication_group_id(&cm)
        .replication_group_description("answers, sharded")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .node_group_configuration(shard("0001", "0-8191"))
        .node_group_configuration(shard("0002", "8192-16383"))
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap();
    wait_cluster(&c, &redis, "available").await;
    wait_cluster(&c, &mc, "available").await;
    for g in [&rg, &cm] {
        crate::common::eventually(
            &format!("{g} available"),
            std::time::Duration::from_secs(120),
            || async {
                let d = crate::common::describe_group(&c, g).await?;
                (d.status() == Some("available")).then_some(())
            },
        )
        .await;
    }
    let (snap_c, snap_g) = (name("ans-sc"), name("ans-sg"));
    c.create_snapshot()
        .cache_cluster_id(&redis)
        .snapshot_name(&snap_c)
        .send()
        .await
        .unwrap();
    c.create_snapshot()
        .replication_group_id(&cm)
        .snapshot_name(&snap_g)
        .send()
        .await
        .unwrap();

    for snap in [&snap_c, &snap_g] {
        crate::common::eventually(
            &format!("snapshot {snap} available"),
            std::time::Duration::from_secs(60),
            || async {
                let r = c
                    .describe_snapshots()
                    .snapshot_name(snap)
                    .send()
                    .await
                    .ok()?;
                (r.snapshots().first()?.snapshot_status() == Some("available")).then_some(())
            },
        )
        .await;
    }

    let mut missing = BTreeSet::new();
    for (op, q) in [
        ("DescribeCacheClusters", "&ShowCacheNodeInfo=true"),
        ("DescribeCacheClusters", ""),
        ("DescribeReplicationGroups", ""),
        ("DescribeSnapshots", ""),
        ("DescribeCacheSubnetGroups", ""),
        ("DescribeCacheParameterGroups", ""),
    ] {
        check(&be, model, op, q, &mut missing).await;
    }
    assert!(
        missing.is_empty(),
        "members AWS always sends are missing on {rt}:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
