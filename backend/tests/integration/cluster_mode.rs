//! Replication groups with cluster mode enabled, on every runtime under test: a
//! real Redis Cluster that a redis-rs cluster client uses through the
//! `ConfigurationEndpoint`, whose keys survive a scale-out and a failover, and
//! whose `NodeGroups` match what the engines say (`CLUSTER NODES`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::types::{ConfigureShard, NodeGroupConfiguration, ReplicationGroup};
use aws_sdk_elasticache::Client;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

use crate::common::{self, describe_group as describe, eventually, name, Backend, Ep};

const KEYS: usize = 10_000;

async fn wait_available(c: &Client, id: &str, shards: usize) -> ReplicationGroup {
    eventually(
        &format!("{id} available with {shards} shards"),
        Duration::from_secs(120),
        || async {
            let g = describe(c, id).await?;
            (g.status() == Some("available") && g.node_groups().len() == shards).then_some(g)
        },
    )
    .await
}

fn config_endpoint(g: &ReplicationGroup) -> Ep {
    let e = g.configuration_endpoint().expect("ConfigurationEndpoint");
    common::ep(e.address().unwrap(), e.port().unwrap())
}

async fn cluster_conn(g: &ReplicationGroup) -> ClusterConnection {
    let client = ClusterClient::new(vec![format!("redis://{}/", config_endpoint(g))]).unwrap();
    client.get_async_connection().await.unwrap()
}

async fn write_all(conn: &ClusterConnection) {
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let futs = chunk.iter().map(|i| {
            let mut c = conn.clone();
            async move {
                redis::cmd("SET")
                    .arg(format!("key:{i}"))
                    .arg(format!("value-{i}"))
                    .query_async::<()>(&mut c)
                    .await
            }
        });
        for r in futures_util::future::join_all(futs).await {
            r.unwrap();
        }
    }
}

/// Every key reads back its value; returns how many did not (within a minute).
async fn missing(conn: &ClusterConnection) -> usize {
    tokio::time::timeout(Duration::from_secs(60), missing_keys(conn))
        .await
        .expect("reading every key took over a minute")
}

async fn missing_keys(conn: &ClusterConnection) -> usize {
    let mut bad = 0;
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(500) {
        let futs = chunk.iter().map(|i| {
            let mut c = conn.clone();
            async move {
                let v: Option<String> = redis::cmd("GET")
                    .arg(format!("key:{i}"))
                    .query_async(&mut c)
                    .await
                    .unwrap();
                v == Some(format!("value-{i}"))
            }
        });
        bad += futures_util::future::join_all(futs)
            .await
            .into_iter()
            .filter(|ok| !ok)
            .count();
    }
    bad
}

/// A client from before a topology change follows the redirections (one
/// request at a time: redis-rs 0.27 stalls when hundreds of concurrent
/// requests meet `MOVED` at once, so bulk reads use a client made after the
/// change).
async fn follows(conn: &ClusterConnection) {
    let mut old = conn.clone();
    let follow = async {
        for i in (0..KEYS).step_by(97) {
            let v: Option<String> = redis::cmd("GET")
                .arg(format!("key:{i}"))
                .query_async(&mut old)
                .await
                .unwrap();
            assert_eq!(v, Some(format!("value-{i}")));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), follow)
        .await
        .expect("an older client follows the new topology");
}

/// Member cluster → its node's address.
async fn member_addrs(c: &Client, g: &ReplicationGroup) -> HashMap<String, Ep> {
    let mut out = HashMap::new();
    for m in g.member_clusters() {
        let cl = c
            .describe_cache_clusters()
            .cache_cluster_id(m)
            .show_cache_node_info(true)
            .send()
            .await
            .unwrap()
            .cache_clusters()[0]
            .clone();
        out.insert(m.clone(), common::node_ports(&cl)[0]);
    }
    out
}

/// `CLUSTER NODES` of one node: address → (is master, master id / own id, slots).
async fn cluster_nodes(addr: Ep) -> Option<Vec<(String, String, bool, String, Vec<(u16, u16)>)>> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .ok()?;
    let nodes = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = f[1].split('@').next().unwrap().to_owned();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| {
                    let (a, b) = s.split_once('-').unwrap_or((s, s));
                    (a.parse().unwrap(), b.parse().unwrap())
                })
                .collect();
            (
                f[0].to_owned(),
                addr,
                f[2].contains("master"),
                f[3].to_owned(),
                slots,
            )
        })
        .collect();
    Some(nodes)
}

fn parse_slots(s: &str) -> Vec<(u16, u16)> {
    let mut v: Vec<(u16, u16)> = s
        .split(',')
        .map(|p| {
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    v.sort_unstable();
    v
}

/// `NodeGroups` as the engines have it, seen from every node: each shard has
/// one master, which owns exactly the shard's `Slots`, and its other members
/// replicate that master. Returns each shard's primary member.
async fn check_topology(c: &Client, g: &ReplicationGroup) -> HashMap<String, String> {
    let addrs = member_addrs(c, g).await;
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for a in addrs.values() {
            all.push(check_view(g, &addrs, *a).await);
        }
        let first = all[0].clone();
        if first.is_ok() && all.iter().all(|p| *p == first) {
            eprintln!(
                "topology consistent after {} ms",
                started.elapsed().as_millis()
            );
            return first.unwrap_or_default();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the engines do not match NodeGroups: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Like [`check_topology`], waiting up to `within` for the engines to match.
async fn wait_topology(
    c: &Client,
    g: &ReplicationGroup,
    within: Duration,
) -> HashMap<String, String> {
    let addrs = member_addrs(c, g).await;
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for a in addrs.values() {
            all.push(check_view(g, &addrs, *a).await);
        }
        let first = all[0].clone();
        if first.is_ok() && all.iter().all(|p| *p == first) {
            return first.unwrap_or_default();
        }
        assert!(
            started.elapsed() < within,
            "the engines do not match NodeGroups: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One node's `CLUSTER NODES` against `NodeGroups`.
async fn check_view(
    g: &ReplicationGroup,
    addrs: &HashMap<String, Ep>,
    at: Ep,
) -> Result<HashMap<String, String>, String> {
    let Some(nodes) = cluster_nodes(at).await else {
        return Err(format!("{at} does not answer"));
    };
    if nodes.len() != g.member_clusters().len() {
        return Err(format!("{at} knows {nodes:?}"));
    }
    let by_addr: HashMap<String, _> = nodes.iter().map(|n| (n.1.clone(), n)).collect();
    let mut primaries = HashMap::new();
    for ng in g.node_groups() {
        let members: Vec<String> = ng
            .node_group_members()
            .iter()
            .map(|m| m.cache_cluster_id().unwrap().to_owned())
            .collect();
        let masters: Vec<&String> = members
            .iter()
            .filter(|m| by_addr[&addrs[*m].to_string()].2)
            .collect();
        if masters.len() != 1 {
            return Err(format!(
                "shard {:?} seen from {at}: {nodes:?}",
                ng.node_group_id()
            ));
        }
        let master = by_addr[&addrs[masters[0]].to_string()];
        let mut owned = master.4.clone();
        owned.sort_unstable();
        if owned != parse_slots(ng.slots().unwrap()) {
            return Err(format!(
                "slots of shard {:?} seen from {at}: {owned:?}",
                ng.node_group_id()
            ));
        }
        for m in members.iter().filter(|m| *m != masters[0]) {
            if by_addr[&addrs[m].to_string()].3 != master.0 {
                return Err(format!(
                    "{m} does not follow its master, seen from {at}: {nodes:?}"
                ));
            }
        }
        primaries.insert(ng.node_group_id().unwrap().to_owned(), masters[0].clone());
    }
    Ok(primaries)
}

fn kill_engine(b: &Backend, cluster: &str) {
    let key = format!("000000000000-us-east-1-{cluster}-0001");
    let ok = if b.runtime == "docker" {
        std::process::Command::new("docker")
            .arg("kill")
            .args(common::containers_of(&b.data_dir, Some(&key)))
            .status()
            .unwrap()
            .success()
    } else {
        let pid =
            std::fs::read_to_string(b.data_dir.join("nodes").join(&key).join("node.pid")).unwrap();
        std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    };
    assert!(ok, "kill {key}");
}

fn assert_engines_gone(b: &Backend) {
    let left: Vec<_> = std::fs::read_dir(b.data_dir.join("nodes"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "node directories left: {left:?}");
}

#[allow(clippy::too_many_lines)]
async fn scenario(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let id = name("cm");

    let started = Instant::now();
    let g = c
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("itest")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .num_node_groups(3)
        .replicas_per_node_group(2)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap()
        .replication_group()
        .cloned()
        .unwrap();
    assert_eq!(g.status(), Some("creating"));
    assert_eq!(g.member_clusters().len(), 9);
    assert!(g.member_clusters().contains(&format!("{id}-0001-001")));
    assert!(g.member_clusters().contains(&format!("{id}-0003-003")));
    let g = wait_available(&c, &id, 3).await;
    let ms = started.elapsed().as_millis();
    println!("TIMING runtime={runtime} rg_cluster_3x1p2r_create_to_available_ms={ms}");
    eprintln!("TIMING runtime={runtime} rg_cluster_3x1p2r_create_to_available_ms={ms}");
    assert_eq!(g.cluster_enabled(), Some(true));
    assert_eq!(g.cluster_mode().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("enabled"));
    let slots: Vec<&str> = g.node_groups().iter().filter_map(|n| n.slots()).collect();
    assert_eq!(slots, ["0-5461", "5462-10922", "10923-16383"]);
    for ng in g.node_groups() {
        assert_eq!(ng.node_group_members().len(), 3);
        assert!(ng.primary_endpoint().is_none());
        for m in ng.node_group_members() {
            assert!(
                m.current_role().is_none(),
                "AWS gives no roles in cluster mode"
            );
        }
    }
    check_topology(&c, &g).await;

    // A cluster client writes through the configuration endpoint.
    let conn = cluster_conn(&g).await;
    write_all(&conn).await;
    assert_eq!(missing(&conn).await, 0);

    // Scale out to 4 shards: slots (and their keys) move to the new shard.
    let m = c
        .modify_replication_group_shard_configuration()
        .replication_group_id(&id)
        .node_group_count(4)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        m.replication_group().and_then(|g| g.status()),
        Some("modifying")
    );
    let g = wait_available(&c, &id, 4).await;
    assert_eq!(g.member_clusters().len(), 12);
    eprintln!("scaled out");
    let primaries = check_topology(&c, &g).await;
    eprintln!("topology checked");
    let fresh = cluster_conn(&g).await;
    assert_eq!(missing(&fresh).await, 0, "keys lost in the scale-out");
    eprintln!("read with a new client");
    follows(&conn).await;
    eprintln!("read with the first client");

    // TestFailover of shard 0001: a replica takes over.
    let before = primaries["0001"].clone();
    c.test_failover()
        .replication_group_id(&id)
        .node_group_id("0001")
        .send()
        .await
        .unwrap();
    let g = eventually("failover done", Duration::from_secs(60), || async {
        let g = describe(&c, &id).await?;
        (g.status() == Some("available")).then_some(g)
    })
    .await;
    let after = check_topology(&c, &g).await;
    assert_ne!(after["0001"], before, "shard 0001 has a new primary");
    follows(&fresh).await;
    assert_eq!(
        missing(&cluster_conn(&g).await).await,
        0,
        "keys lost in the failover"
    );

    // Scale in to 3 shards: the removed shard's keys move away.
    c.modify_replication_group_shard_configuration()
        .replication_group_id(&id)
        .node_group_count(3)
        .node_groups_to_remove("0002")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id, 3).await;
    assert!(g
        .node_groups()
        .iter()
        .all(|n| n.node_group_id() != Some("0002")));
    assert_eq!(g.member_clusters().len(), 9);
    check_topology(&c, &g).await;
    follows(&fresh).await;
    assert_eq!(
        missing(&cluster_conn(&g).await).await,
        0,
        "keys lost in the scale-in"
    );

    // A shard primary dies: the cluster fails over, the backend brings the
    // dead node back as a replica, and no key is lost.
    let primaries = check_topology(&c, &g).await;
    let victim = primaries["0003"].clone();
    kill_engine(&b, &victim);
    let started = Instant::now();
    let after = eventually(
        "a new primary for shard 0003",
        Duration::from_secs(60),
        || async {
            let p = wait_topology(&c, &g, Duration::from_secs(60)).await;
            (p["0003"] != victim).then_some(p)
        },
    )
    .await;
    eprintln!(
        "shard 0003 failed over to {} and the dead node is back in {} ms",
        after["0003"],
        started.elapsed().as_millis()
    );
    assert_eq!(
        missing(&cluster_conn(&g).await).await,
        0,
        "keys lost when a primary died"
    );

    // Replicas per shard: one more in shard 0001 (ReplicaConfiguration), then
    // that one removed again (ReplicasToRemove).
    c.increase_replica_count()
        .replication_group_id(&id)
        .replica_configuration(
            ConfigureShard::builder()
                .node_group_id("0001")
                .new_replica_count(3)
                .build(),
        )
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually(
        "a fourth member in shard 0001",
        Duration::from_secs(60),
        || async {
            let g = describe(&c, &id).await?;
            (g.status() == Some("available") && g.member_clusters().len() == 10).then_some(g)
        },
    )
    .await;
    let shard = |g: &ReplicationGroup| -> Vec<String> {
        g.node_groups()
            .iter()
            .find(|n| n.node_group_id() == Some("0001"))
            .unwrap()
            .node_group_members()
            .iter()
            .map(|m| m.cache_cluster_id().unwrap().to_owned())
            .collect()
    };
    let added = format!("{id}-0001-004");
    assert!(shard(&g).contains(&added), "{:?}", shard(&g));
    wait_topology(&c, &g, Duration::from_secs(10)).await;
    c.decrease_replica_count()
        .replication_group_id(&id)
        .replicas_to_remove(&added)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually(
        "shard 0001 back to 3 members",
        Duration::from_secs(60),
        || async {
            let g = describe(&c, &id).await?;
            (g.status() == Some("available") && g.member_clusters().len() == 9).then_some(g)
        },
    )
    .await;
    assert!(!shard(&g).contains(&added));
    wait_topology(&c, &g, Duration::from_secs(10)).await;

    // Deleting removes every node.
    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group deleted", Duration::from_secs(60), || async {
        describe(&c, &id).await.is_none().then_some(())
    })
    .await;
    eventually("engines removed", Duration::from_secs(30), || async {
        std::fs::read_dir(b.data_dir.join("nodes"))
            .map_or(true, |mut d| d.next().is_none())
            .then_some(())
    })
    .await;
    assert_engines_gone(&b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_group_on_every_runtime() {
    for rt in common::runtimes() {
        scenario(&rt).await;
    }
}

#[tokio::test]
async fn cluster_mode_rules() {
    let b = Backend::start("process");
    let c = b.client();
    let base = || {
        c.create_replication_group()
            .replication_group_id(name("cmr"))
            .replication_group_description("x")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
    };
    let code = common::code(base().num_node_groups(501).send().await);
    assert_eq!(code, "NodeGroupsPerReplicationGroupQuotaExceeded");
    let code = common::code(
        base()
            .num_node_groups(2)
            .cache_parameter_group_name("default.redis7")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombination");
    let code = common::code(
        base()
            .cache_parameter_group_name("default.redis7.cluster.on")
            .cluster_mode(aws_sdk_elasticache::types::ClusterMode::Disabled)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombination");
    let code = common::code(
        base()
            .num_node_groups(2)
            .automatic_failover_enabled(false)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterCombination");
    let ngc = |slots: &str| {
        NodeGroupConfiguration::builder()
            .slots(slots)
            .replica_count(0)
            .build()
    };
    let code = common::code(
        base()
            .node_group_configuration(ngc("0-9000"))
            .node_group_configuration(ngc("8000-16383"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue", "overlapping slots");
    let code = common::code(
        base()
            .node_group_configuration(ngc("0-8000"))
            .node_group_configuration(ngc("8002-16383"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue", "slot 8001 uncovered");
    assert_engines_gone(&b);

    // Resharding needs ApplyImmediately, and a cluster-mode group.
    let id = name("cmr");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("x")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .send()
        .await
        .unwrap();
    let code = common::code(
        c.modify_replication_group_shard_configuration()
            .replication_group_id(&id)
            .node_group_count(2)
            .apply_immediately(false)
            .send()
            .await,
    );
    assert_eq!(code, "InvalidParameterValue");
    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group deleted", Duration::from_secs(60), || async {
        describe(&c, &id).await.is_none().then_some(())
    })
    .await;
}

async fn create_sharded(
    c: &Client,
    id: &str,
    shards: i32,
    snapshot: Option<&str>,
) -> Result<(), String> {
    c.create_replication_group()
        .replication_group_id(id)
        .replication_group_description("itest sharded snapshot")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .num_node_groups(shards)
        .replicas_per_node_group(1)
        .automatic_failover_enabled(true)
        .set_snapshot_name(snapshot.map(str::to_owned))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| common::code::<_, ()>(Err(e)))
}

async fn snapshot_scenario(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let id = name("cmsnap");
    create_sharded(&c, &id, 2, None).await.unwrap();
    let g = wait_available(&c, &id, 2).await;
    write_all(&cluster_conn(&g).await).await;

    // One RDB per shard, each holding that shard's keys.
    let snap = name("shards");
    c.create_snapshot()
        .replication_group_id(&id)
        .snapshot_name(&snap)
        .send()
        .await
        .unwrap();
    let s = eventually(
        "sharded snapshot available",
        Duration::from_secs(120),
        || async {
            let r = c
                .describe_snapshots()
                .snapshot_name(&snap)
                .show_node_group_config(true)
                .send()
                .await
                .ok()?;
            let s = r.snapshots().first()?.clone();
            (s.snapshot_status() == Some("available")).then_some(s)
        },
    )
    .await;
    assert_eq!(s.num_node_groups(), Some(2));
    let groups: Vec<(&str, &str)> = s
        .node_snapshots()
        .iter()
        .map(|n| {
            (
                n.node_group_id().unwrap(),
                n.node_group_configuration()
                    .and_then(|g| g.slots())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(groups, [("0001", "0-8191"), ("0002", "8192-16383")]);
    for n in s.node_snapshots() {
        assert!(n.cache_size().is_some_and(|s| !s.is_empty()));
    }

    // Another layout is refused, the same layout restores every key.
    let other = name("cmrest");
    assert_eq!(
        create_sharded(&c, &other, 3, Some(&snap))
            .await
            .unwrap_err(),
        "InvalidParameterCombination"
    );
    let restored = name("cmrest");
    create_sharded(&c, &restored, 2, Some(&snap)).await.unwrap();
    let g2 = wait_available(&c, &restored, 2).await;
    assert_eq!(missing(&cluster_conn(&g2).await).await, 0);

    for g in [&id, &restored] {
        c.delete_replication_group()
            .replication_group_id(g.as_str())
            .send()
            .await
            .unwrap();
    }
    for g in [&id, &restored] {
        eventually("group deleted", Duration::from_secs(120), || async {
            describe(&c, g).await.is_none().then_some(())
        })
        .await;
    }
    c.delete_snapshot()
        .snapshot_name(&snap)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_snapshot_restores_every_shard() {
    for rt in common::one_runtime() {
        snapshot_scenario(&rt).await;
    }
}
