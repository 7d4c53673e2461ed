//! Global datastores on real engines, checked with `redis-cli`: a secondary
//! region replicates the primary region (TLS and the AUTH token carried over),
//! refuses writes, survives a backend restart, takes a failover and back, a
//! node type change rolled through both regions, a disassociation; and the
//! bad input AWS refuses. Cluster mode: the primary region reshards through
//! the datastore.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::types::GlobalReplicationGroup;
use aws_sdk_elasticache::Client;

use crate::common::{
    self, cleanup_engines, cli, cli_with, code, describe_group, eventually, fetch_ca, Backend, Ep,
};

const TOKEN: &str = "global-datastore-token-0123";

struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        cleanup_engines(&self.0);
    }
}

async fn global(c: &Client, id: &str) -> Option<GlobalReplicationGroup> {
    c.describe_global_replication_groups()
        .global_replication_group_id(id)
        .show_member_info(true)
        .send()
        .await
        .ok()?
        .global_replication_groups()
        .first()
        .cloned()
}

async fn wait_global(c: &Client, id: &str, status: &str) -> GlobalReplicationGroup {
    eventually(
        &format!("global datastore {id} {status}"),
        Duration::from_secs(180),
        || async {
            let g = global(c, id).await?;
            (g.status() == Some(status)).then_some(g)
        },
    )
    .await
}

/// Make a global datastore of `primary` (id suffix `suffix`) and wait until
/// it is `primary-only`: its id and what it describes then.
async fn new_global(c: &Client, primary: &str, suffix: &str) -> (String, GlobalReplicationGroup) {
    let g = c
        .create_global_replication_group()
        .global_replication_group_id_suffix(suffix)
        .primary_replication_group_id(primary)
        .send()
        .await
        .unwrap();
    let gid = g
        .global_replication_group()
        .unwrap()
        .global_replication_group_id()
        .unwrap()
        .to_owned();
    let g = wait_global(c, &gid, "primary-only").await;
    (gid, g)
}

async fn wait_group(c: &Client, id: &str) -> aws_sdk_elasticache::types::ReplicationGroup {
    eventually(
        &format!("replication group {id} available"),
        Duration::from_secs(180),
        || async {
            let g = describe_group(c, id).await?;
            (g.status() == Some("available")).then_some(g)
        },
    )
    .await
}

/// (primary endpoint, reader endpoint) of a cluster-mode-disabled group.
fn endpoints(g: &aws_sdk_elasticache::types::ReplicationGroup) -> (Ep, Ep) {
    let ng = &g.node_groups()[0];
    let p = ng.primary_endpoint().unwrap();
    let r = ng.reader_endpoint().unwrap();
    (
        common::ep(p.address().unwrap(), p.port().unwrap()),
        common::ep(r.address().unwrap(), r.port().unwrap()),
    )
}

fn roles(g: &GlobalReplicationGroup) -> Vec<(String, String)> {
    g.members()
        .iter()
        .map(|m| {
            (
                m.replication_group_id().unwrap_or_default().to_owned(),
                m.role().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn until_reply(what: &str, f: impl Fn() -> String, want: impl Fn(&str) -> bool) -> String {
    eventually(what, Duration::from_secs(60), || async {
        let r = f();
        want(&r).then_some(r)
    })
    .await
}

async fn create_primary(c: &Client, id: &str, node_type: &str) -> Result<(), String> {
    c.create_replication_group()
        .replication_group_id(id)
        .replication_group_description("primary region")
        .engine("redis")
        .cache_node_type(node_type)
        .num_cache_clusters(2)
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .auth_token(TOKEN)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_region_replicates_fails_over_and_leaves() {
    for rt in common::runtimes() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-global-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let port = common::free_port();
        let mut b = Backend::start_in(&rt, &dir, port);
        let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
        let ca = fetch_ca(&b).await;
        let (p, s) = (common::name("gp"), common::name("gs"));

        // A node type AWS does not offer global datastores on.
        let small = common::name("gsmall");
        create_primary(&east, &small, "cache.t3.micro")
            .await
            .unwrap();
        wait_group(&east, &small).await;
        let r = east
            .create_global_replication_group()
            .global_replication_group_id_suffix("small")
            .primary_replication_group_id(&small)
            .send()
            .await;
        assert_eq!(code(r), "InvalidParameterValue", "{rt}: t3 node type");
        let r = west
            .create_replication_group()
            .replication_group_id(&s)
            .replication_group_description("x")
            .global_replication_group_id("ldgnf-nothing")
            .send()
            .await;
        assert_eq!(code(r), "GlobalReplicationGroupNotFoundFault", "{rt}");

        create_primary(&east, &p, "cache.m5.large").await.unwrap();
        wait_group(&east, &p).await;
        let g = east
            .create_global_replication_group()
            .global_replication_group_id_suffix("itest")
            .global_replication_group_description("integration")
            .primary_replication_group_id(&p)
            .send()
            .await
            .unwrap();
        let gid = g
            .global_replication_group()
            .unwrap()
            .global_replication_group_id()
            .unwrap()
            .to_owned();
        assert_eq!(gid, "ldgnf-itest", "{rt}: AWS's us-east-1 prefix");
        let g = wait_global(&east, &gid, "primary-only").await;
        assert_eq!(g.transit_encryption_enabled(), Some(true));
        assert_eq!(g.auth_token_enabled(), Some(true));
        assert_eq!(g.cache_node_type(), Some("cache.m5.large"));
        let r = east
            .create_global_replication_group()
            .global_replication_group_id_suffix("itest")
            .primary_replication_group_id(&p)
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidReplicationGroupState",
            "{rt}: already a member"
        );

        // The secondary: settings from the primary; a different version is refused.
        let r = west
            .create_replication_group()
            .replication_group_id(&s)
            .replication_group_description("secondary")
            .global_replication_group_id(&gid)
            .engine_version("6.2")
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidParameterCombination",
            "{rt}: engine version"
        );
        west.create_replication_group()
            .replication_group_id(&s)
            .replication_group_description("secondary")
            .global_replication_group_id(&gid)
            .send()
            .await
            .unwrap();
        let sg = wait_group(&west, &s).await;
        assert_eq!(
            sg.transit_encryption_enabled(),
            Some(true),
            "{rt}: TLS inherited"
        );
        assert_eq!(
            sg.member_clusters().len(),
            2,
            "{rt}: as many nodes as the primary"
        );
        let info = sg.global_replication_group_info().unwrap();
        assert_eq!(
            info.global_replication_group_member_role(),
            Some("SECONDARY")
        );
        let g = wait_global(&east, &gid, "available").await;
        assert_eq!(
            roles(&g),
            vec![
                (p.clone(), "PRIMARY".into()),
                (s.clone(), "SECONDARY".into())
            ]
        );
        assert!(
            global(&west, &gid).await.is_some(),
            "{rt}: seen from the secondary region"
        );
        let r = east
            .create_replication_group()
            .replication_group_id(common::name("gs2"))
            .replication_group_description("same region")
            .global_replication_group_id(&gid)
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidParameterValue",
            "{rt}: one member per region"
        );

        // Writes in the primary region are read in the secondary (same token, TLS).
        let pg = describe_group(&east, &p).await.unwrap();
        let (pe, pr) = endpoints(&pg);
        let (se, sr) = endpoints(&sg);
        assert_eq!(cli(&ca, pe, Some(TOKEN), &["SET", "k", "v1"]), "OK");
        let started = Instant::now();
        until_reply(
            "secondary reader reads v1",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v1",
        )
        .await;
        eprintln!(
            "{rt}: cross-region replication lag (poll) {:?}",
            started.elapsed()
        );
        let ro = cli(&ca, se, Some(TOKEN), &["SET", "k", "x"]);
        assert!(
            ro.starts_with("READONLY"),
            "{rt}: secondary write answered {ro}"
        );
        assert!(
            cli(&ca, se, None, &["GET", "k"]).contains("NOAUTH"),
            "{rt}: token enforced"
        );

        // A restart of the backend keeps the datastore and the link.
        b.kill();
        let mut b = Backend::start_in(&rt, &dir, port);
        let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
        let g = wait_global(&east, &gid, "available").await;
        assert_eq!(roles(&g).len(), 2);
        until_reply(
            "primary endpoint back after restart",
            || cli(&ca, pe, Some(TOKEN), &["SET", "k", "v2"]),
            |r| r == "OK",
        )
        .await;
        until_reply(
            "v2 after restart",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v2",
        )
        .await;

        // Failover to the secondary region, and back.
        west.failover_global_replication_group()
            .global_replication_group_id(&gid)
            .primary_region("us-west-2")
            .primary_replication_group_id(&s)
            .send()
            .await
            .unwrap();
        let g = wait_global(&west, &gid, "available").await;
        assert_eq!(roles(&g)[0], (s.clone(), "PRIMARY".into()), "{rt}");
        until_reply(
            "secondary writable",
            || cli(&ca, se, Some(TOKEN), &["SET", "k", "v3"]),
            |r| r == "OK",
        )
        .await;
        until_reply(
            "old primary read-only",
            || cli(&ca, pe, Some(TOKEN), &["SET", "k", "x"]),
            |r| r.starts_with("READONLY"),
        )
        .await;
        until_reply(
            "old primary follows",
            || cli(&ca, pr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v3",
        )
        .await;
        let info = describe_group(&east, &p).await.unwrap();
        assert_eq!(
            info.global_replication_group_info()
                .unwrap()
                .global_replication_group_member_role(),
            Some("SECONDARY")
        );
        east.failover_global_replication_group()
            .global_replication_group_id(&gid)
            .primary_region("us-east-1")
            .primary_replication_group_id(&p)
            .send()
            .await
            .unwrap();
        wait_global(&east, &gid, "available").await;
        until_reply(
            "primary writable again",
            || cli(&ca, pe, Some(TOKEN), &["SET", "k", "v4"]),
            |r| r == "OK",
        )
        .await;
        until_reply(
            "secondary follows again",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v4",
        )
        .await;

        // A member cannot change its node type by itself (AWS refuses it:
        // the regions would drift); the same value is no change.
        let r = west
            .modify_replication_group()
            .replication_group_id(&s)
            .apply_immediately(true)
            .cache_node_type("cache.m5.xlarge")
            .send()
            .await;
        assert_eq!(code(r), "InvalidParameterValue", "{rt}: member's node type");
        west.modify_replication_group()
            .replication_group_id(&s)
            .apply_immediately(true)
            .cache_node_type(wait_group(&west, &s).await.cache_node_type().unwrap())
            .replication_group_description("secondary")
            .send()
            .await
            .unwrap();
        wait_group(&west, &s).await;

        // A node type change rolls through both regions with the data kept.
        let r = east
            .modify_global_replication_group()
            .global_replication_group_id(&gid)
            .apply_immediately(false)
            .global_replication_group_description("x")
            .send()
            .await;
        assert_eq!(code(r), "InvalidParameterValue", "{rt}: ApplyImmediately");
        east.modify_global_replication_group()
            .global_replication_group_id(&gid)
            .apply_immediately(true)
            .cache_node_type("cache.m5.xlarge")
            .send()
            .await
            .unwrap();
        let g = eventually("node type rolled", Duration::from_secs(240), || async {
            let g = global(&east, &gid).await?;
            (g.status() == Some("available") && g.cache_node_type() == Some("cache.m5.xlarge"))
                .then_some(g)
        })
        .await;
        assert_eq!(g.cache_node_type(), Some("cache.m5.xlarge"));
        let sg = wait_group(&west, &s).await;
        assert_eq!(
            sg.cache_node_type(),
            Some("cache.m5.xlarge"),
            "{rt}: secondary too"
        );
        until_reply(
            "data kept",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v4",
        )
        .await;

        // Redis → Valkey through the datastore: every member, data and link kept.
        let r = east
            .modify_global_replication_group()
            .global_replication_group_id(&gid)
            .apply_immediately(true)
            .engine("valkey")
            .send()
            .await;
        assert_eq!(code(r), "InvalidParameterValue", "{rt}: engine, no version");
        east.modify_global_replication_group()
            .global_replication_group_id(&gid)
            .apply_immediately(true)
            .engine("valkey")
            .engine_version("7.2")
            .send()
            .await
            .unwrap();
        let g = eventually("engine changed", Duration::from_secs(240), || async {
            let g = global(&east, &gid).await?;
            (g.status() == Some("available") && g.engine() == Some("valkey")).then_some(g)
        })
        .await;
        assert_eq!(g.engine_version(), Some("7.2"), "{rt}");
        for (c, id) in [(&east, &p), (&west, &s)] {
            let rg = wait_group(c, id).await;
            assert_eq!(rg.engine(), Some("valkey"), "{rt}: {id}");
            let nodes = c.describe_cache_clusters().send().await.unwrap();
            let nodes = nodes
                .cache_clusters()
                .iter()
                .filter(|n| n.replication_group_id() == Some(id.as_str()));
            for n in nodes {
                assert_eq!(n.engine(), Some("valkey"), "{rt}: {id}");
                assert_eq!(n.engine_version(), Some("7.2"), "{rt}: {id}");
            }
        }
        let r = east
            .modify_global_replication_group()
            .global_replication_group_id(&gid)
            .apply_immediately(true)
            .engine("redis")
            .engine_version("7.1")
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidParameterCombination",
            "{rt}: no way back to redis"
        );
        until_reply(
            "data kept through the engine change",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v4",
        )
        .await;
        assert_eq!(cli(&ca, pe, Some(TOKEN), &["SET", "k", "v5"]), "OK");
        until_reply(
            "the secondary still follows",
            || cli(&ca, sr, Some(TOKEN), &["GET", "k"]),
            |r| r == "v5",
        )
        .await;

        // The secondary leaves: writable on its own; the datastore is primary-only.
        let r = east
            .delete_global_replication_group()
            .global_replication_group_id(&gid)
            .retain_primary_replication_group(true)
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidGlobalReplicationGroupState",
            "{rt}: secondaries first"
        );
        let r = east
            .disassociate_global_replication_group()
            .global_replication_group_id(&gid)
            .replication_group_id(&p)
            .replication_group_region("us-east-1")
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidParameterValue",
            "{rt}: the primary cannot leave"
        );
        east.disassociate_global_replication_group()
            .global_replication_group_id(&gid)
            .replication_group_id(&s)
            .replication_group_region("us-west-2")
            .send()
            .await
            .unwrap();
        wait_global(&east, &gid, "primary-only").await;
        until_reply(
            "disassociated group writable",
            || cli(&ca, se, Some(TOKEN), &["SET", "k", "own"]),
            |r| r == "OK",
        )
        .await;
        assert_eq!(
            cli(&ca, pe, Some(TOKEN), &["GET", "k"]),
            "v5",
            "{rt}: the primary keeps its data"
        );
        let r = east
            .delete_replication_group()
            .replication_group_id(&p)
            .send()
            .await;
        assert_eq!(
            code(r),
            "InvalidReplicationGroupState",
            "{rt}: primary of a datastore"
        );
        east.delete_global_replication_group()
            .global_replication_group_id(&gid)
            .retain_primary_replication_group(true)
            .send()
            .await
            .unwrap();
        eventually("datastore gone", Duration::from_secs(60), || async {
            global(&east, &gid).await.is_none().then_some(())
        })
        .await;
        assert!(describe_group(&east, &p)
            .await
            .unwrap()
            .global_replication_group_info()
            .is_none());
        for (c, id) in [(&east, &p), (&west, &s), (&east, &small)] {
            c.delete_replication_group()
                .replication_group_id(id)
                .send()
                .await
                .unwrap();
        }
        for (c, id) in [(&east, &p), (&west, &s), (&east, &small)] {
            eventually("group gone", Duration::from_secs(120), || async {
                describe_group(c, id).await.is_none().then_some(())
            })
            .await;
        }
        b.kill();
    }
}

/// (host, port) of a cluster-mode group's configuration endpoint.
fn config_ep(g: &aws_sdk_elasticache::types::ReplicationGroup) -> Ep {
    let e = g.configuration_endpoint().expect("ConfigurationEndpoint");
    common::ep(e.address().unwrap(), e.port().unwrap())
}

const KEYS: usize = 100;

/// A cluster client (redis-rs, following `MOVED`) on a configuration endpoint.
async fn cluster_conn(at: Ep) -> redis::cluster_async::ClusterConnection {
    redis::cluster::ClusterClient::new(vec![format!("redis://{at}/")])
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// Keys of `KEYS` that do not read `want(i)` through the configuration endpoint.
async fn unreadable(at: Ep, want: impl Fn(usize) -> String) -> Vec<usize> {
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(10),
        redis::cluster::ClusterClient::new(vec![format!("redis://{at}/")])
            .unwrap()
            .get_async_connection(),
    )
    .await
    else {
        return (0..KEYS).collect();
    };
    let mut bad = Vec::new();
    for i in 0..KEYS {
        let v: Option<String> = redis::cmd("GET")
            .arg(format!("gkey:{i}"))
            .query_async(&mut conn)
            .await
            .unwrap_or(None);
        if v.as_deref() != Some(want(i).as_str()) {
            bad.push(i);
        }
    }
    bad
}

async fn every_key_reads(what: &str, at: Ep, want: impl Fn(usize) -> String + Copy) {
    eventually(what, Duration::from_secs(90), || async {
        unreadable(at, want).await.is_empty().then_some(())
    })
    .await;
}

/// `redis-cli -c` (following `MOVED`): the reply of one command.
fn cli_c(at: Ep, args: &[&str]) -> String {
    let mut all = vec!["-c"];
    all.extend_from_slice(args);
    common::plain(at, &all)
}

/// Engines still running under `dir` (process runtime: live pid files).
fn live_engines(dir: &std::path::Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir.join("nodes")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("node.pid"))
                .is_ok_and(|p| std::path::Path::new(&format!("/proc/{}", p.trim())).exists())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A 3-shard (1 replica each) cluster-mode group `p` in `east`, a datastore
/// on it (`suffix`), and its secondary `s` in `west`, both with their shards.
async fn sharded_pair(
    east: &Client,
    west: &Client,
    p: &str,
    s: &str,
    suffix: &str,
) -> (
    String,
    aws_sdk_elasticache::types::ReplicationGroup,
    aws_sdk_elasticache::types::ReplicationGroup,
) {
    east.create_replication_group()
        .replication_group_id(p)
        .replication_group_description("sharded primary region")
        .engine("redis")
        .cache_node_type("cache.r5.large")
        .num_node_groups(3)
        .replicas_per_node_group(1)
        .cache_parameter_group_name("default.redis7.cluster.on")
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap();
    let pg = wait_shards(east, p, 3).await;
    let (gid, _) = new_global(east, p, suffix).await;
    west.create_replication_group()
        .replication_group_id(s)
        .replication_group_description("sharded secondary region")
        .global_replication_group_id(&gid)
        .send()
        .await
        .unwrap();
    let sg = wait_shards(west, s, 3).await;
    (gid, pg, sg)
}

async fn wait_shards(
    c: &Client,
    id: &str,
    shards: usize,
) -> aws_sdk_elasticache::types::ReplicationGroup {
    eventually(
        &format!("{id} available with {shards} shards"),
        Duration::from_secs(240),
        || async {
            let g = describe_group(c, id).await?;
            (g.status() == Some("available") && g.node_groups().len() == shards).then_some(g)
        },
    )
    .await
}

/// Cluster mode: a secondary region is a cluster of its own (a front at each
/// node presents the shards; each shard's engines replicate the primary
/// region's shard), read by cluster clients through its configuration
/// endpoint, read-only; it follows the datastore's resharding, takes a
/// failover and back, survives a backend restart; the datastore reshards
/// after the failover and back (the primary region, a Redis Cluster before
/// the first failover, becomes one again); the secondary leaves and reshards
/// on its own (a Redis Cluster again too), and no engine is left at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_secondary_replicates_reshards_and_fails_over() {
    for rt in common::runtimes() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-global-cm-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let port = common::free_port();
        let mut b = Backend::start_in(&rt, &dir, port);
        let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
        let (p, s) = (common::name("gcp"), common::name("gcs"));
        let (gid, pg, sg) = sharded_pair(&east, &west, &p, &s, "sharded").await;
        let g = wait_global(&east, &gid, "available").await;
        assert_eq!(g.cluster_enabled(), Some(true), "{rt}");
        assert_eq!(sg.cluster_enabled(), Some(true), "{rt}");
        assert_eq!(
            sg.node_groups()
                .iter()
                .map(|n| (
                    n.node_group_id().unwrap_or_default().to_owned(),
                    n.slots().unwrap_or_default().to_owned(),
                    n.node_group_members().len()
                ))
                .collect::<Vec<_>>(),
            pg.node_groups()
                .iter()
                .map(|n| (
                    n.node_group_id().unwrap_or_default().to_owned(),
                    n.slots().unwrap_or_default().to_owned(),
                    n.node_group_members().len()
                ))
                .collect::<Vec<_>>(),
            "{rt}: the secondary has the primary's shards"
        );
        let (pe, se) = (config_ep(&pg), config_ep(&sg));

        // Writes through the primary region's configuration endpoint are
        // read back through the secondary's, by a cluster client.
        let mut conn = cluster_conn(pe).await;
        for i in 0..KEYS {
            redis::cmd("SET")
                .arg(format!("gkey:{i}"))
                .arg(format!("v1-{i}"))
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        drop(conn);
        every_key_reads("every key on the secondary", se, |i| format!("v1-{i}")).await;
        let r = cli_c(se, &["SET", "gkey:0", "x"]);
        assert!(
            r.contains("READONLY"),
            "{rt}: a write to the secondary: {r}"
        );
        let r = cli_c(se, &["CLUSTER", "INFO"]);
        assert!(r.contains("cluster_state:ok"), "{rt}: {r}");
        let r = cli_c(se, &["MGET", "gkey:1", "gkey:2"]);
        assert!(r.contains("CROSSSLOT"), "{rt}: {r}");

        // Resharding the datastore: the secondary follows, every key stays.
        for (step, shards) in [("increase", 4), ("rebalance", 4), ("decrease", 3)] {
            match step {
                "increase" => {
                    east.increase_node_groups_in_global_replication_group()
                        .global_replication_group_id(&gid)
                        .node_group_count(4)
                        .apply_immediately(true)
                        .send()
                        .await
                        .unwrap();
                }
                "rebalance" => {
                    east.rebalance_slots_in_global_replication_group()
                        .global_replication_group_id(&gid)
                        .apply_immediately(true)
                        .send()
                        .await
                        .unwrap();
                }
                _ => {
                    east.decrease_node_groups_in_global_replication_group()
                        .global_replication_group_id(&gid)
                        .node_group_count(3)
                        .apply_immediately(true)
                        .send()
                        .await
                        .unwrap();
                }
            }
            eventually(
                &format!("{step}: datastore available"),
                Duration::from_secs(240),
                || async {
                    let g = global(&east, &gid).await?;
                    (g.status() == Some("available") && g.global_node_groups().len() == shards)
                        .then_some(())
                },
            )
            .await;
            wait_shards(&east, &p, shards).await;
            wait_shards(&west, &s, shards).await;
            every_key_reads(&format!("{step}: every key on the primary"), pe, |i| {
                format!("v1-{i}")
            })
            .await;
            every_key_reads(&format!("{step}: every key on the secondary"), se, |i| {
                format!("v1-{i}")
            })
            .await;
        }

        // Failover to the secondary region: it takes writes, the old
        // primary region turns read-only and replicates them.
        east.failover_global_replication_group()
            .global_replication_group_id(&gid)
            .primary_region("us-west-2")
            .primary_replication_group_id(&s)
            .send()
            .await
            .unwrap();
        let g = wait_global(&east, &gid, "available").await;
        assert_eq!(roles(&g)[0], (s.clone(), "PRIMARY".to_owned()), "{rt}");
        until_reply(
            "the new primary region writable",
            || cli_c(se, &["SET", "gkey:0", "v2-0"]),
            |r| r == "OK",
        )
        .await;
        until_reply(
            "the old primary region read-only",
            || cli_c(pe, &["SET", "gkey:0", "x"]),
            |r| r.contains("READONLY"),
        )
        .await;
        let mut conn = cluster_conn(se).await;
        for i in 0..KEYS {
            redis::cmd("SET")
                .arg(format!("gkey:{i}"))
                .arg(format!("v2-{i}"))
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        drop(conn);
        every_key_reads("every new value on the old primary region", pe, |i| {
            format!("v2-{i}")
        })
        .await;

        // And back.
        east.failover_global_replication_group()
            .global_replication_group_id(&gid)
            .primary_region("us-east-1")
            .primary_replication_group_id(&p)
            .send()
            .await
            .unwrap();
        let g = wait_global(&east, &gid, "available").await;
        assert_eq!(roles(&g)[0], (p.clone(), "PRIMARY".to_owned()), "{rt}");
        until_reply(
            "the primary region writable again",
            || cli_c(pe, &["SET", "gkey:0", "v3-0"]),
            |r| r == "OK",
        )
        .await;
        until_reply(
            "the secondary read-only again",
            || cli_c(se, &["SET", "gkey:0", "x"]),
            |r| r.contains("READONLY"),
        )
        .await;
        until_reply(
            "the secondary replicates again",
            || cli_c(se, &["GET", "gkey:0"]),
            |r| r == "v3-0",
        )
        .await;
        // A restart of the backend: the engines are adopted, the fronts made
        // again, the links kept.
        b.kill();
        let mut b = Backend::start_in(&rt, &dir, port);
        let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
        wait_global(&east, &gid, "available").await;
        until_reply(
            "the primary region writable after a restart",
            || cli_c(pe, &["SET", "gkey:0", "v4-0"]),
            |r| r == "OK",
        )
        .await;
        every_key_reads("every key on the secondary after a restart", se, |i| {
            if i == 0 {
                "v4-0".to_owned()
            } else {
                format!("v2-{i}")
            }
        })
        .await;
        // Resharding after a failover and back: the primary region, served
        // by fronts since the first failover (and a Redis Cluster before it:
        // its nodes' old cluster files are left behind), becomes a Redis
        // Cluster again with its data, then reshards; the secondary follows.
        east.increase_node_groups_in_global_replication_group()
            .global_replication_group_id(&gid)
            .node_group_count(4)
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        eventually(
            "increase after a failover: datastore available",
            Duration::from_secs(240),
            || async {
                let g = global(&east, &gid).await?;
                (g.status() == Some("available") && g.global_node_groups().len() == 4).then_some(())
            },
        )
        .await;
        wait_shards(&east, &p, 4).await;
        wait_shards(&west, &s, 4).await;
        let want = |i: usize| {
            if i == 0 {
                "v4-0".to_owned()
            } else {
                format!("v2-{i}")
            }
        };
        every_key_reads("every key on the primary after resharding", pe, want).await;
        every_key_reads("every key on the secondary after resharding", se, want).await;

        // The secondary leaves: a cluster of its own, writable.
        east.disassociate_global_replication_group()
            .global_replication_group_id(&gid)
            .replication_group_id(&s)
            .replication_group_region("us-west-2")
            .send()
            .await
            .unwrap();
        wait_global(&east, &gid, "primary-only").await;
        until_reply(
            "the disassociated group writable",
            || cli_c(se, &["SET", "gkey:1", "own"]),
            |r| r == "OK",
        )
        .await;
        // It reshards on its own: a Redis Cluster again first, data kept.
        west.modify_replication_group_shard_configuration()
            .replication_group_id(&s)
            .node_group_count(3)
            .node_groups_to_remove("0004")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        wait_shards(&west, &s, 3).await;
        let r = cli_c(se, &["INFO", "cluster"]);
        assert!(r.contains("cluster_enabled:1"), "{rt}: {r}");
        every_key_reads(
            "every key of the disassociated group after resharding",
            se,
            |i| match i {
                0 => "v4-0".to_owned(),
                1 => "own".to_owned(),
                _ => format!("v2-{i}"),
            },
        )
        .await;
        until_reply(
            "the resharded group writable",
            || cli_c(se, &["SET", "gkey:2", "own"]),
            |r| r == "OK",
        )
        .await;
        east.delete_global_replication_group()
            .global_replication_group_id(&gid)
            .retain_primary_replication_group(true)
            .send()
            .await
            .unwrap();
        eventually("datastore gone", Duration::from_secs(60), || async {
            global(&east, &gid).await.is_none().then_some(())
        })
        .await;
        for (c, id) in [(&east, &p), (&west, &s)] {
            c.delete_replication_group()
                .replication_group_id(id)
                .send()
                .await
                .unwrap();
        }
        for (c, id) in [(&east, &p), (&west, &s)] {
            eventually("group gone", Duration::from_secs(120), || async {
                describe_group(c, id).await.is_none().then_some(())
            })
            .await;
        }
        if rt == "process" {
            eventually("no engine left", Duration::from_secs(30), || async {
                live_engines(&dir).is_empty().then_some(())
            })
            .await;
        }
        b.kill();
    }
}

/// The slot ranges a node answers in `CLUSTER SLOTS` (start, end, how many
/// nodes serve it), sorted: a region's layout, whatever its addresses.
async fn slot_layout(at: Ep) -> Vec<(i64, i64, usize)> {
    let Ok(mut conn) = redis::Client::open(format!("redis://{at}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
    else {
        return Vec::new();
    };
    let Ok(redis::Value::Array(entries)) = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async::<redis::Value>(&mut conn)
        .await
    else {
        return Vec::new();
    };
    let mut out: Vec<(i64, i64, usize)> = entries
        .iter()
        .filter_map(|e| match e {
            redis::Value::Array(f) => match (f.first(), f.get(1)) {
                (Some(redis::Value::Int(a)), Some(redis::Value::Int(b))) => {
                    Some((*a, *b, f.len() - 2))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out
}

async fn events_of(c: &Client, id: &str) -> Vec<String> {
    c.describe_events()
        .source_type(aws_sdk_elasticache::types::SourceType::ReplicationGroup)
        .source_identifier(id)
        .duration(60)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect()
}

/// Cluster mode, resharding after a failover: the new primary region (a
/// former secondary, served by fronts) turns into a Redis Cluster again with
/// its data, then reshards 3 → 4 → rebalance → 3 with the old primary region
/// following; no key is lost in either region, the new primary takes writes,
/// the secondary refuses them, both show the same slot layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_reshards_after_a_failover() {
    for rt in common::runtimes() {
        let started = Instant::now();
        let tmp = tempfile::Builder::new()
            .prefix("ec-global-rs-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let port = common::free_port();
        let mut b = Backend::start_in(&rt, &dir, port);
        let (mut east, mut west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
        let (p, s) = (common::name("grp"), common::name("grs"));
        let (gid, pg, sg) = sharded_pair(&east, &west, &p, &s, "resharded").await;
        wait_global(&east, &gid, "available").await;
        let (pe, se) = (config_ep(&pg), config_ep(&sg));
        let mut conn = cluster_conn(pe).await;
        for i in 0..KEYS {
            redis::cmd("SET")
                .arg(format!("gkey:{i}"))
                .arg(format!("v1-{i}"))
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        drop(conn);
        every_key_reads("every key on the secondary", se, |i| format!("v1-{i}")).await;

        // Failover: us-west-2 is the primary, served by fronts.
        west.failover_global_replication_group()
            .global_replication_group_id(&gid)
            .primary_region("us-west-2")
            .primary_replication_group_id(&s)
            .send()
            .await
            .unwrap();
        let g = wait_global(&west, &gid, "available").await;
        assert_eq!(roles(&g)[0], (s.clone(), "PRIMARY".to_owned()), "{rt}");
        until_reply(
            "the new primary region writable",
            || cli_c(se, &["SET", "gkey:0", "v2-0"]),
            |r| r == "OK",
        )
        .await;
        let want = |i: usize| {
            if i == 0 {
                "v2-0".to_owned()
            } else {
                format!("v1-{i}")
            }
        };
        let t0 = Instant::now();
        // A writer on the new primary region throughout.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let w = tokio::spawn(writer_at_least(Target::Cluster(se), stop.clone(), 1));

        // Resharding the datastore from the new primary region.
        for (step, shards) in [("increase", 4), ("rebalance", 4), ("decrease", 3)] {
            let t = Instant::now();
            let g = match step {
                "increase" => west
                    .increase_node_groups_in_global_replication_group()
                    .global_replication_group_id(&gid)
                    .node_group_count(4)
                    .apply_immediately(true)
                    .send()
                    .await
                    .unwrap()
                    .global_replication_group()
                    .cloned(),
                "rebalance" => west
                    .rebalance_slots_in_global_replication_group()
                    .global_replication_group_id(&gid)
                    .apply_immediately(true)
                    .send()
                    .await
                    .unwrap()
                    .global_replication_group()
                    .cloned(),
                _ => west
                    .decrease_node_groups_in_global_replication_group()
                    .global_replication_group_id(&gid)
                    .node_group_count(3)
                    .apply_immediately(true)
                    .send()
                    .await
                    .unwrap()
                    .global_replication_group()
                    .cloned(),
            };
            assert_eq!(
                g.and_then(|g| g.status().map(str::to_owned)).as_deref(),
                Some("modifying"),
                "{rt}: {step}"
            );
            if step == "increase" {
                // The backend stopped while the nodes restart: the record
                // says what is next, the new backend goes on from there.
                b.kill();
                b = Backend::start_in(&rt, &dir, port);
                (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
                let g = global(&west, &gid).await.unwrap();
                assert_eq!(g.status(), Some("modifying"), "{rt}: after a restart");
            }
            // `modifying` until the reshard is done in both regions.
            eventually(
                &format!("{step}: datastore available"),
                Duration::from_secs(240),
                || async {
                    let g = global(&west, &gid).await?;
                    if g.status() != Some("available") {
                        return None;
                    }
                    let (a, b) = (
                        describe_group(&west, &s).await?,
                        describe_group(&east, &p).await?,
                    );
                    assert_eq!(g.global_node_groups().len(), shards, "{rt}: {step}");
                    assert_eq!(a.node_groups().len(), shards, "{rt}: {step}");
                    assert_eq!(b.node_groups().len(), shards, "{rt}: {step}");
                    Some(())
                },
            )
            .await;
            wait_shards(&west, &s, shards).await;
            wait_shards(&east, &p, shards).await;
            eprintln!(
                "{rt}: {step} after a failover: {:.1} s",
                t.elapsed().as_secs_f64()
            );
            every_key_reads(&format!("{step}: every key on the new primary"), se, want).await;
            every_key_reads(&format!("{step}: every key on the secondary"), pe, want).await;
        }
        eprintln!(
            "{rt}: the three reshards after a failover: {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let w = w.await.unwrap();
        eprintln!(
            "{rt}: writes during the reshards: {} acknowledged, {} refused, {} dropped",
            w.acked.len(),
            w.refused,
            w.dropped
        );
        assert!(!w.acked.is_empty(), "{rt}: {w:?}");
        let lost = missing(Target::Cluster(se), &w.acked).await;
        assert!(lost.is_empty(), "{rt}: acknowledged writes lost: {lost:?}");
        eventually(
            "every acknowledged write on the secondary",
            Duration::from_secs(60),
            || async {
                missing(Target::Cluster(pe), &w.acked)
                    .await
                    .is_empty()
                    .then_some(())
            },
        )
        .await;
        let events = events_of(&west, &s).await;
        assert!(
            events.iter().any(|e| e.contains("Redis Cluster again")),
            "{rt}: {events:?}"
        );
        // A real Redis Cluster now: the engine answers at the endpoint.
        let r = cli_c(se, &["CLUSTER", "INFO"]);
        assert!(r.contains("cluster_state:ok"), "{rt}: {r}");
        assert!(r.contains("cluster_known_nodes:6"), "{rt}: {r}");
        let r = cli_c(se, &["INFO", "cluster"]);
        assert!(r.contains("cluster_enabled:1"), "{rt}: {r}");
        let r = cli_c(pe, &["INFO", "cluster"]);
        assert!(
            r.contains("cluster_enabled:0"),
            "{rt}: the secondary is served by fronts: {r}"
        );
        // Writes on the new primary reach the secondary; the secondary refuses them.
        let mut conn = cluster_conn(se).await;
        for i in 0..KEYS {
            redis::cmd("SET")
                .arg(format!("gkey:{i}"))
                .arg(format!("v3-{i}"))
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        drop(conn);
        every_key_reads("every new value on the secondary", pe, |i| {
            format!("v3-{i}")
        })
        .await;
        let r = cli_c(pe, &["SET", "gkey:1", "x"]);
        assert!(
            r.contains("READONLY"),
            "{rt}: a write to the secondary: {r}"
        );
        let (ls, lp) = (slot_layout(se).await, slot_layout(pe).await);
        assert_eq!(ls.len(), 3, "{rt}: {ls:?}");
        assert_eq!(
            ls.iter().map(|x| x.1 - x.0 + 1).sum::<i64>(),
            16384,
            "{rt}: {ls:?}"
        );
        assert_eq!(ls, lp, "{rt}: the same slot layout in both regions");

        east.disassociate_global_replication_group()
            .global_replication_group_id(&gid)
            .replication_group_id(&p)
            .replication_group_region("us-east-1")
            .send()
            .await
            .unwrap();
        wait_global(&west, &gid, "primary-only").await;
        west.delete_global_replication_group()
            .global_replication_group_id(&gid)
            .retain_primary_replication_group(false)
            .send()
            .await
            .unwrap();
        east.delete_replication_group()
            .replication_group_id(&p)
            .send()
            .await
            .unwrap();
        eventually("groups gone", Duration::from_secs(120), || async {
            (describe_group(&east, &p).await.is_none() && describe_group(&west, &s).await.is_none())
                .then_some(())
        })
        .await;
        if rt == "process" {
            eventually("no engine left", Duration::from_secs(30), || async {
                live_engines(&dir).is_empty().then_some(())
            })
            .await;
        }
        eprintln!(
            "{rt}: cluster_mode_reshards_after_a_failover: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        b.kill();
    }
}

/// Cluster mode with transit encryption: a secondary served over TLS by its
/// fronts, then the datastore reshards its primary region alone. Process runtime only: the
/// resharding itself is covered on both runtimes by `cluster_mode`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_datastore_reshards_its_primary() {
    let b = Backend::start("process");
    let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
    let p = common::name("gcm");
    east.create_replication_group()
        .replication_group_id(&p)
        .replication_group_description("sharded")
        .engine("redis")
        .cache_node_type("cache.r6g.large")
        .num_node_groups(2)
        .replicas_per_node_group(1)
        .cache_parameter_group_name("default.redis7.cluster.on")
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .send()
        .await
        .unwrap();
    wait_group(&east, &p).await;
    let (gid, g) = new_global(&east, &p, "sharded").await;
    assert_eq!(g.cluster_enabled(), Some(true));
    assert_eq!(g.global_node_groups().len(), 2);
    // A secondary over TLS: its fronts end TLS, `redis-cli --tls -c` follows
    // their redirects; then it leaves (deleted) and the primary reshards alone.
    let ca = fetch_ca(&b).await;
    let s = common::name("gcs");
    west.create_replication_group()
        .replication_group_id(&s)
        .replication_group_description("secondary")
        .global_replication_group_id(&gid)
        .send()
        .await
        .unwrap();
    let (pe, se) = (
        config_ep(&wait_group(&east, &p).await),
        config_ep(&wait_group(&west, &s).await),
    );
    wait_global(&east, &gid, "available").await;
    for k in ["a", "b", "c"] {
        assert_eq!(cli_with(&ca, pe, None, true, &["SET", k, "tls"]), "OK");
    }
    for k in ["a", "b", "c"] {
        until_reply(
            "the key over TLS on the secondary",
            || cli_with(&ca, se, None, true, &["GET", k]),
            |r| r == "tls",
        )
        .await;
    }
    let r = cli_with(&ca, se, None, true, &["SET", "a", "x"]);
    assert!(r.contains("READONLY"), "{r}");
    west.delete_replication_group()
        .replication_group_id(&s)
        .send()
        .await
        .unwrap();
    wait_global(&east, &gid, "primary-only").await;
    let r = east
        .increase_node_groups_in_global_replication_group()
        .global_replication_group_id(&gid)
        .node_group_count(2)
        .apply_immediately(true)
        .send()
        .await;
    assert_eq!(code(r), "InvalidParameterValue", "must grow");
    east.increase_node_groups_in_global_replication_group()
        .global_replication_group_id(&gid)
        .node_group_count(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually("3 global node groups", Duration::from_secs(180), || async {
        let g = global(&east, &gid).await?;
        (g.status() == Some("primary-only") && g.global_node_groups().len() == 3).then_some(g)
    })
    .await;
    assert_eq!(
        g.global_node_groups()[0].global_node_group_id(),
        Some(format!("{gid}-0001").as_str())
    );
    let rg = wait_group(&east, &p).await;
    assert_eq!(rg.node_groups().len(), 3, "the primary group resharded");
    east.rebalance_slots_in_global_replication_group()
        .global_replication_group_id(&gid)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_global(&east, &gid, "primary-only").await;
    east.decrease_node_groups_in_global_replication_group()
        .global_replication_group_id(&gid)
        .node_group_count(2)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    eventually("2 global node groups", Duration::from_secs(180), || async {
        let g = global(&east, &gid).await?;
        (g.status() == Some("primary-only") && g.global_node_groups().len() == 2).then_some(())
    })
    .await;
    east.delete_global_replication_group()
        .global_replication_group_id(&gid)
        .retain_primary_replication_group(false)
        .send()
        .await
        .unwrap();
    eventually(
        "datastore and its primary gone",
        Duration::from_secs(120),
        || async {
            (global(&east, &gid).await.is_none() && describe_group(&east, &p).await.is_none())
                .then_some(())
        },
    )
    .await;
}

/// What a writer saw: the numbers whose `SET` was acknowledged (`OK`), and
/// how many writes were refused (`-READONLY` and the like) or lost their
/// connection.
#[derive(Debug, Default)]
struct Written {
    acked: Vec<usize>,
    refused: usize,
    dropped: usize,
}

enum WriteConn {
    Plain(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// Where a writer writes: a primary endpoint, or a configuration endpoint
/// through a cluster client.
#[derive(Clone, Copy)]
enum Target {
    Plain(Ep),
    Cluster(Ep),
}

async fn write_conn(t: Target) -> Option<WriteConn> {
    let fut = async {
        match t {
            Target::Plain(at) => redis::Client::open(format!("redis://{at}/"))
                .ok()?
                .get_multiplexed_async_connection()
                .await
                .ok()
                .map(WriteConn::Plain),
            Target::Cluster(at) => {
                redis::cluster::ClusterClient::new(vec![format!("redis://{at}/")])
                    .ok()?
                    .get_async_connection()
                    .await
                    .ok()
                    .map(WriteConn::Cluster)
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .ok()
        .flatten()
}

/// Writes `fo:<n>` = `n`, n = 0, 1, …, one at a time through `t` until
/// `stop`, reconnecting when the connection goes.
async fn writer(t: Target, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Written {
    writer_at_least(t, stop, 0).await
}

/// [`writer`], going on past `stop` until `min` writes were acknowledged
/// (for at most 60 s more).
async fn writer_at_least(
    t: Target,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    min: usize,
) -> Written {
    use std::sync::atomic::Ordering;
    let mut w = Written::default();
    let mut n = 0usize;
    let mut stopped: Option<Instant> = None;
    let mut done = |w: &Written| {
        if !stop.load(Ordering::Relaxed) {
            return false;
        }
        let at = *stopped.get_or_insert_with(Instant::now);
        w.acked.len() >= min || at.elapsed() > Duration::from_secs(60)
    };
    while !done(&w) {
        let Some(mut conn) = write_conn(t).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while !done(&w) {
            let cmd = redis::cmd("SET").arg(format!("fo:{n}")).arg(n).clone();
            let reply = tokio::time::timeout(Duration::from_secs(60), async {
                match &mut conn {
                    WriteConn::Plain(c) => cmd.query_async::<String>(c).await,
                    WriteConn::Cluster(c) => cmd.query_async::<String>(c).await,
                }
            })
            .await;
            n += 1;
            match reply {
                Ok(Ok(_)) => w.acked.push(n - 1),
                Ok(Err(e)) if e.is_io_error() || e.is_connection_dropped() => {
                    w.dropped += 1;
                    break;
                }
                Ok(Err(_)) => {
                    w.refused += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => {
                    w.dropped += 1;
                    break;
                }
            }
        }
    }
    w
}

/// Acknowledged numbers that do not read back through `t`.
async fn missing(t: Target, acked: &[usize]) -> Vec<usize> {
    let mut conn = eventually("a connection to read back", Duration::from_secs(30), || {
        write_conn(t)
    })
    .await;
    let mut bad = Vec::new();
    for &n in acked {
        let cmd = redis::cmd("GET").arg(format!("fo:{n}")).clone();
        let v: Option<String> = match &mut conn {
            WriteConn::Plain(c) => cmd.query_async(c).await.unwrap_or(None),
            WriteConn::Cluster(c) => cmd.query_async(c).await.unwrap_or(None),
        };
        if v != Some(n.to_string()) {
            bad.push(n);
        }
    }
    bad
}

/// A failover synchronises first: a writer keeps writing to the primary
/// region through the failover until its writes are refused; every write the
/// old primary acknowledged reads back in the new primary region.
async fn failover_under_writes(
    rt: &str,
    east: &Client,
    west: &Client,
    gid: &str,
    (p, s): (&str, &str),
    (from, to): (Target, Target),
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(writer(from, stop.clone()));
    // Some writes before the failover is asked for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    west.failover_global_replication_group()
        .global_replication_group_id(gid)
        .primary_region("us-west-2")
        .primary_replication_group_id(s)
        .send()
        .await
        .unwrap();
    let g = wait_global(east, gid, "available").await;
    assert_eq!(roles(&g)[0], (s.to_owned(), "PRIMARY".into()), "{rt}");
    assert_eq!(roles(&g)[1], (p.to_owned(), "SECONDARY".into()), "{rt}");
    eprintln!("{rt}: failover under writes took {:?}", asked.elapsed());
    // The writer goes on until the old primary region refuses its writes.
    let probe = match from {
        Target::Plain(at) => at,
        Target::Cluster(at) => at,
    };
    until_reply(
        "the old primary region refuses writes",
        || cli_c(probe, &["SET", "fo:probe", "x"]),
        |r| r.contains("READONLY"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let w = task.await.unwrap();
    eprintln!(
        "{rt}: writer: {} acknowledged, {} refused, {} dropped connections",
        w.acked.len(),
        w.refused,
        w.dropped
    );
    assert!(w.acked.len() > 10, "{rt}: the writer wrote: {w:?}");
    let lost = missing(to, &w.acked).await;
    assert!(
        lost.is_empty(),
        "{rt}: {} of {} acknowledged writes missing in the new primary region: {:?}",
        lost.len(),
        w.acked.len(),
        &lost[..lost.len().min(20)]
    );
    // The events say the swap happened after the writes stopped.
    let events = west
        .describe_events()
        .source_type(aws_sdk_elasticache::types::SourceType::ReplicationGroup)
        .source_identifier(s)
        .duration(60)
        .send()
        .await
        .unwrap();
    assert!(
        events.events().iter().any(|e| e
            .message()
            .unwrap_or_default()
            .contains("is now the primary")),
        "{rt}: {:?}",
        events.events()
    );
}

/// Cluster mode disabled, and enabled (a Redis Cluster primary region that
/// restarts behind fronts): no write the old primary acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_every_acknowledged_write() {
    for rt in common::runtimes() {
        for sharded in [false, true] {
            let tmp = tempfile::Builder::new()
                .prefix("ec-global-fo-")
                .tempdir()
                .unwrap();
            let dir = tmp.path().to_path_buf();
            let _guard = Guard(dir.clone());
            let port = common::free_port();
            let b = Backend::start_in(&rt, &dir, port);
            let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
            let (p, s) = (common::name("gfp"), common::name("gfs"));
            let req = east
                .create_replication_group()
                .replication_group_id(&p)
                .replication_group_description("primary region")
                .engine("redis")
                .cache_node_type("cache.r5.large")
                .automatic_failover_enabled(true);
            let req = if sharded {
                req.num_node_groups(2)
                    .replicas_per_node_group(1)
                    .cache_parameter_group_name("default.redis7.cluster.on")
            } else {
                req.num_cache_clusters(2)
            };
            req.send().await.unwrap();
            wait_group(&east, &p).await;
            let (gid, _) = new_global(&east, &p, "fo").await;
            west.create_replication_group()
                .replication_group_id(&s)
                .replication_group_description("secondary region")
                .global_replication_group_id(&gid)
                .send()
                .await
                .unwrap();
            let (pg, sg) = (wait_group(&east, &p).await, wait_group(&west, &s).await);
            wait_global(&east, &gid, "available").await;
            let targets = if sharded {
                (
                    Target::Cluster(config_ep(&pg)),
                    Target::Cluster(config_ep(&sg)),
                )
            } else {
                (
                    Target::Plain(endpoints(&pg).0),
                    Target::Plain(endpoints(&sg).0),
                )
            };
            let rt_name = format!("{rt} sharded={sharded}");
            failover_under_writes(&rt_name, &east, &west, &gid, (&p, &s), targets).await;
            drop(b);
        }
    }
}

/// Cluster mode in transit encryption mode `preferred`: the secondary's
/// fronts answer TLS and plaintext on the same port (told apart by the first
/// byte), as the primary region's Redis Cluster nodes do; after a failover
/// the old primary region's fronts do too. Process runtime only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_datastore_in_transit_mode_preferred() {
    let b = Backend::start("process");
    let (east, west) = (b.client_in("us-east-1"), b.client_in("us-west-2"));
    let ca = fetch_ca(&b).await;
    let (p, s) = (common::name("gpp"), common::name("gps"));
    east.create_replication_group()
        .replication_group_id(&p)
        .replication_group_description("sharded, TLS preferred")
        .engine("redis")
        .cache_node_type("cache.r6g.large")
        .num_node_groups(2)
        .replicas_per_node_group(1)
        .cache_parameter_group_name("default.redis7.cluster.on")
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .transit_encryption_mode("preferred".into())
        .send()
        .await
        .unwrap();
    wait_group(&east, &p).await;
    let (gid, _) = new_global(&east, &p, "preferred").await;
    west.create_replication_group()
        .replication_group_id(&s)
        .replication_group_description("secondary")
        .global_replication_group_id(&gid)
        .send()
        .await
        .unwrap();
    let sg = wait_group(&west, &s).await;
    assert_eq!(
        sg.transit_encryption_mode().map(|m| m.as_str()),
        Some("preferred"),
        "the mode comes from the primary"
    );
    let (pe, se) = (config_ep(&wait_group(&east, &p).await), config_ep(&sg));
    wait_global(&east, &gid, "available").await;
    for k in ["a", "b", "c"] {
        assert_eq!(
            cli_c(pe, &["SET", k, "plain"]),
            "OK",
            "plaintext on the primary"
        );
    }
    for k in ["a", "b", "c"] {
        until_reply(
            "the key in plaintext on the secondary",
            || cli_c(se, &["GET", k]),
            |r| r == "plain",
        )
        .await;
        assert_eq!(
            cli_with(&ca, se, None, true, &["GET", k]),
            "plain",
            "TLS on the same port of the secondary"
        );
    }
    let r = cli_c(se, &["SET", "a", "x"]);
    assert!(r.contains("READONLY"), "{r}");

    // A failover: the old primary region, now behind fronts, answers both too.
    west.failover_global_replication_group()
        .global_replication_group_id(&gid)
        .primary_region("us-west-2")
        .primary_replication_group_id(&s)
        .send()
        .await
        .unwrap();
    wait_global(&east, &gid, "available").await;
    until_reply(
        "the new primary region writable in plaintext",
        || cli_c(se, &["SET", "a", "after"]),
        |r| r == "OK",
    )
    .await;
    until_reply(
        "the old primary region follows, in plaintext",
        || cli_c(pe, &["GET", "a"]),
        |r| r == "after",
    )
    .await;
    assert_eq!(
        cli_with(&ca, pe, None, true, &["GET", "a"]),
        "after",
        "and over TLS"
    );
    let r = cli_with(&ca, pe, None, true, &["SET", "a", "x"]);
    assert!(r.contains("READONLY"), "{r}");

    // Resharding after the failover: the new primary region, over TLS,
    // becomes a Redis Cluster again (its engines saved over TLS), then grows.
    west.increase_node_groups_in_global_replication_group()
        .global_replication_group_id(&gid)
        .node_group_count(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    eventually("3 global node groups", Duration::from_secs(240), || async {
        let g = global(&west, &gid).await?;
        (g.status() == Some("available") && g.global_node_groups().len() == 3).then_some(())
    })
    .await;
    for (k, v) in [("a", "after"), ("b", "plain"), ("c", "plain")] {
        for at in [se, pe] {
            until_reply(
                "the key after resharding, in plaintext",
                || cli_c(at, &["GET", k]),
                |r| r == v,
            )
            .await;
            assert_eq!(
                cli_with(&ca, at, None, true, &["GET", k]),
                v,
                "and over TLS"
            );
        }
    }
    let r = cli_c(se, &["INFO", "cluster"]);
    assert!(r.contains("cluster_enabled:1"), "{r}");
}
