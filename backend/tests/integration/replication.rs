//! Replication groups (cluster mode disabled) on real engines, on every runtime
//! under test: replicas replicate, endpoints follow failovers, replica counts
//! change, the group survives a backend restart, and deletion leaves nothing.

use std::time::{Duration, Instant};

use aws_sdk_elasticache::types::ReplicationGroup;
use aws_sdk_elasticache::Client;

use crate::common::{self, describe_group as describe, eventually, name, Backend};

use crate::common::Ep;

async fn conn(port: Ep) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// `GET` on a node or endpoint; `None` also when it does not answer (yet).
async fn get(port: Ep, key: &str) -> Option<String> {
    let mut c = redis::Client::open(format!("redis://{port}/"))
        .ok()?
        .get_multiplexed_async_connection()
        .await
        .ok()?;
    redis::cmd("GET").arg(key).query_async(&mut c).await.ok()?
}

async fn set_acked(port: Ep, key: &str, value: &str) -> i64 {
    let mut c = conn(port).await;
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(&mut c)
        .await
        .unwrap();
    redis::cmd("WAIT")
        .arg(1)
        .arg(1000)
        .query_async(&mut c)
        .await
        .unwrap()
}

async fn role(port: Ep) -> String {
    let Ok(client) = redis::Client::open(format!("redis://{port}/")) else {
        return String::new();
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return String::new();
    };
    let Ok(v) = redis::cmd("ROLE")
        .query_async::<Vec<redis::Value>>(&mut c)
        .await
    else {
        return String::new();
    };
    match v.first() {
        Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(redis::Value::SimpleString(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

async fn wait_available(c: &Client, id: &str, members: usize) -> ReplicationGroup {
    eventually(
        &format!("{id} available with {members} members"),
        Duration::from_secs(120),
        || async {
            let g = describe(c, id).await?;
            (g.status() == Some("available") && g.member_clusters().len() == members).then_some(g)
        },
    )
    .await
}

fn primary_of(g: &ReplicationGroup) -> String {
    g.node_groups()[0]
        .node_group_members()
        .iter()
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .unwrap()
        .to_owned()
}

fn ports(g: &ReplicationGroup) -> (Ep, Ep) {
    let ng = &g.node_groups()[0];
    let p = |e: Option<&aws_sdk_elasticache::types::Endpoint>| {
        let e = e.unwrap();
        crate::common::ep(e.address().unwrap(), e.port().unwrap())
    };
    (p(ng.primary_endpoint()), p(ng.reader_endpoint()))
}

fn member_ports(g: &ReplicationGroup) -> Vec<(String, String, Ep)> {
    g.node_groups()[0]
        .node_group_members()
        .iter()
        .map(|m| {
            (
                m.cache_cluster_id().unwrap().to_owned(),
                m.current_role().unwrap().to_owned(),
                {
                    let e = m.read_endpoint().unwrap();
                    crate::common::ep(e.address().unwrap(), e.port().unwrap())
                },
            )
        })
        .collect()
}

/// Every member holds `key` = `value`.
async fn everywhere(g: &ReplicationGroup, key: &str, value: &str) {
    for (id, _, port) in member_ports(g) {
        eventually(
            &format!("{key} on {id}"),
            Duration::from_secs(20),
            || async { (get(port, key).await.as_deref() == Some(value)).then_some(()) },
        )
        .await;
    }
}

fn kill_primary_engine(b: &Backend, cluster: &str) {
    let key = format!("000000000000-us-east-1-{cluster}-0001");
    if b.runtime == "docker" {
        let ok = std::process::Command::new("docker")
            .arg("kill")
            .args(common::containers_of(&b.data_dir, Some(&key)))
            .status()
            .unwrap()
            .success();
        assert!(ok, "docker kill {key}");
    } else {
        let pid =
            std::fs::read_to_string(b.data_dir.join("nodes").join(&key).join("node.pid")).unwrap();
        let ok = std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {key}");
    }
}

#[allow(clippy::too_many_lines)]
async fn scenario(runtime: &str) {
    let mut b = Backend::start(runtime);
    let c = b.client();
    let id = name("rg");

    // A primary and two replicas.
    let started = Instant::now();
    let g = c
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("itest")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(3)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap()
        .replication_group()
        .cloned()
        .unwrap();
    assert_eq!(g.status(), Some("creating"));
    assert_eq!(
        g.member_clusters(),
        [
            format!("{id}-001"),
            format!("{id}-002"),
            format!("{id}-003")
        ]
    );
    let g = wait_available(&c, &id, 3).await;
    // What AWS reports for a group without durability or at-rest encryption.
    assert_eq!(g.durability().map(|d| d.as_str()), Some("default"));
    assert_eq!(
        g.effective_durability().map(|d| d.as_str()),
        Some("disabled")
    );
    assert_eq!(
        g.storage_encryption_type().map(|d| d.as_str()),
        Some("none")
    );
    println!(
        "TIMING runtime={runtime} rg_1p2r_create_to_available_ms={}",
        started.elapsed().as_millis()
    );
    // The members start with a fast server cron for their replicas' first
    // sync; once the group is available every member is back at Redis's
    // default (an idle node at hz 100 costs ~0.4% of a core).
    for (member, _, port) in member_ports(&g) {
        let mut cn = conn(port).await;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut cn)
            .await
            .unwrap();
        assert!(
            info.lines().any(|l| l.trim() == "configured_hz:10"),
            "{member}: {info}"
        );
    }
    assert_eq!(primary_of(&g), format!("{id}-001"));
    assert_eq!(g.cluster_enabled(), Some(false));
    assert_eq!(g.automatic_failover().map(|a| a.as_str()), Some("enabled"));
    let (pport, rport) = ports(&g);
    // As on AWS, each endpoint has an address of its own on the group's port.
    assert_eq!(
        (pport.port(), rport.port()),
        (6379, 6379),
        "endpoints on the group's port"
    );
    assert_ne!(pport.ip(), rport.ip());

    // Writes through the primary endpoint reach the reader endpoint and every replica.
    assert!(set_acked(pport, "k1", "v1").await >= 1);
    eventually("k1 on the reader", Duration::from_secs(10), || async {
        (get(rport, "k1").await.as_deref() == Some("v1")).then_some(())
    })
    .await;
    everywhere(&g, "k1", "v1").await;
    for (_, r, port) in member_ports(&g) {
        let want = if r == "primary" { "master" } else { "slave" };
        assert_eq!(role(port).await, want);
    }

    // TestFailover: another member is primary; the primary endpoint follows.
    c.test_failover()
        .replication_group_id(&id)
        .node_group_id("0001")
        .send()
        .await
        .unwrap();
    let g = eventually("failover done", Duration::from_secs(60), || async {
        let g = describe(&c, &id).await?;
        (g.status() == Some("available") && primary_of(&g) != format!("{id}-001")).then_some(g)
    })
    .await;
    assert_eq!(ports(&g), (pport, rport), "endpoints keep their ports");
    eventually(
        "primary endpoint is master",
        Duration::from_secs(10),
        || async { (role(pport).await == "master").then_some(()) },
    )
    .await;
    assert!(set_acked(pport, "k2", "v2").await >= 1);
    everywhere(&g, "k2", "v2").await;

    // Automatic failover: the primary's engine dies.
    let before = primary_of(&g);
    assert!(set_acked(pport, "k3", "v3").await >= 1);
    kill_primary_engine(&b, &before);
    let killed = Instant::now();
    eventually("automatic failover", Duration::from_secs(30), || async {
        let g = describe(&c, &id).await?;
        (primary_of(&g) != before).then_some(g)
    })
    .await;
    println!(
        "TIMING runtime={runtime} rg_kill_to_promoted_ms={}",
        killed.elapsed().as_millis()
    );
    assert!(killed.elapsed() < Duration::from_secs(15));
    eventually(
        "k3 through the new primary",
        Duration::from_secs(10),
        || async { (get(pport, "k3").await.as_deref() == Some("v3")).then_some(()) },
    )
    .await;
    eventually("new primary is master", Duration::from_secs(10), || async {
        (role(pport).await == "master").then_some(())
    })
    .await;
    // The dead node comes back as a replica of the new primary.
    let g = wait_available(&c, &id, 3).await;
    everywhere(&g, "k3", "v3").await;
    let old = member_ports(&g)
        .into_iter()
        .find(|m| m.0 == before)
        .unwrap();
    assert_eq!(old.1, "replica");
    eventually(
        "old primary replicates",
        Duration::from_secs(20),
        || async { (role(old.2).await == "slave").then_some(()) },
    )
    .await;

    // Replica counts.
    c.increase_replica_count()
        .replication_group_id(&id)
        .new_replica_count(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id, 4).await;
    everywhere(&g, "k3", "v3").await;
    c.decrease_replica_count()
        .replication_group_id(&id)
        .new_replica_count(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id, 2).await;
    assert_eq!(member_ports(&g).len(), 2);

    // A node type change rolls through the members and keeps the data.
    c.modify_replication_group()
        .replication_group_id(&id)
        .cache_node_type("cache.t3.small")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually("node type rolled", Duration::from_secs(120), || async {
        let g = describe(&c, &id).await?;
        (g.status() == Some("available") && g.cache_node_type() == Some("cache.t3.small"))
            .then_some(g)
    })
    .await;
    everywhere(&g, "k3", "v3").await;

    // Redis → Valkey (as `aws elasticache modify-replication-group --engine valkey
    // --engine-version 8.0` does it): rolled the same way, data kept; never back.
    c.modify_replication_group()
        .replication_group_id(&id)
        .engine("valkey")
        .engine_version("8.0")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually("engine changed", Duration::from_secs(120), || async {
        let g = describe(&c, &id).await?;
        (g.status() == Some("available") && g.engine() == Some("valkey")).then_some(g)
    })
    .await;
    let nodes = c.describe_cache_clusters().send().await.unwrap();
    let nodes = nodes
        .cache_clusters()
        .iter()
        .filter(|n| n.replication_group_id() == Some(id.as_str()));
    for n in nodes {
        assert_eq!(n.engine(), Some("valkey"), "{runtime}");
        assert_eq!(n.engine_version(), Some("8.0"), "{runtime}");
        assert_eq!(
            n.cache_parameter_group()
                .and_then(|p| p.cache_parameter_group_name()),
            Some("default.valkey8"),
            "{runtime}"
        );
    }
    everywhere(&g, "k3", "v3").await;
    let err = c
        .modify_replication_group()
        .replication_group_id(&id)
        .engine("redis")
        .engine_version("7.1")
        .apply_immediately(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidParameterCombination"),
        "{runtime}"
    );

    // A backend restart: members re-adopted, endpoints on the same ports, replication on.
    // (`b` stays in scope: it owns the data directory and cleans up at the end.)
    // The primary also dies while the backend is down: the replica takes over.
    let before = primary_of(&g);
    assert!(set_acked(pport, "k5", "v5").await >= 1);
    b.kill();
    kill_primary_engine(&b, &before);
    let b2 = Backend::start_in(runtime, &b.data_dir, b.port);
    let c = b2.client();
    let g = eventually(
        "failover after restart",
        Duration::from_secs(60),
        || async {
            let g = describe(&c, &id).await?;
            (g.status() == Some("available") && primary_of(&g) != before).then_some(g)
        },
    )
    .await;
    assert_eq!(ports(&g), (pport, rport));
    eventually("k5 kept", Duration::from_secs(20), || async {
        (get(pport, "k5").await.as_deref() == Some("v5")).then_some(())
    })
    .await;
    eventually(
        "primary endpoint after restart",
        Duration::from_secs(20),
        || async { (get(pport, "k3").await.as_deref() == Some("v3")).then_some(()) },
    )
    .await;
    // Writes reach a replica again (the surviving one follows the new primary
    // at once; the dead one rejoins once its engine is back).
    eventually(
        "acknowledged by a replica",
        Duration::from_secs(20),
        || async { (set_acked(pport, "k4", "v4").await >= 1).then_some(()) },
    )
    .await;
    everywhere(&g, "k4", "v4").await;

    // The primary member cannot be deleted on its own.
    let err = c
        .delete_cache_cluster()
        .cache_cluster_id(primary_of(&g))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_invalid_cache_cluster_state_fault()));

    // Delete: nothing left.
    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group deleted", Duration::from_secs(60), || async {
        describe(&c, &id).await.is_none().then_some(())
    })
    .await;
    let left = c.describe_cache_clusters().send().await.unwrap();
    assert!(left.cache_clusters().is_empty());
    assert!(tokio::net::TcpStream::connect(pport).await.is_err());
    let nodes: Vec<_> = std::fs::read_dir(b.data_dir.join("nodes"))
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(nodes.is_empty(), "node directories left: {nodes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_group_lifecycle_on_every_runtime() {
    for rt in common::runtimes() {
        scenario(&rt).await;
    }
}

#[tokio::test]
async fn replication_group_rules() {
    let b = Backend::start("process");
    let c = b.client();
    let id = name("rgr");
    // Durability sync/async needs a transactional log that is not run here.
    let err = c
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("x")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .durability(aws_sdk_elasticache::types::Durability::Sync)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidParameterValue")
    );
    assert!(format!("{err:?}").contains("Durability sync"), "{err:?}");
    let err = c
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("x")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidParameterCombination")
    );
    let err = c
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("x")
        .cache_node_type("cache.t3.micro")
        .num_node_groups(2)
        .cache_parameter_group_name("default.redis7")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidParameterCombination"),
        "shards need a cluster-enabled parameter group"
    );
    let err = c
        .describe_replication_groups()
        .replication_group_id("nope")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_replication_group_not_found_fault()));
    // Valkey.
    let vid = name("rgv");
    c.create_replication_group()
        .replication_group_id(&vid)
        .replication_group_description("valkey")
        .engine("valkey")
        .cache_node_type("cache.t3.micro")
        .replicas_per_node_group(1)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &vid, 2).await;
    assert_eq!(g.engine(), Some("valkey"));
    let (pport, rport) = ports(&g);
    assert!(set_acked(pport, "vk", "vv").await >= 1);
    assert_eq!(get(rport, "vk").await.as_deref(), Some("vv"));
    c.delete_replication_group()
        .replication_group_id(&vid)
        .send()
        .await
        .unwrap();
    // A standalone cluster becomes the primary; a read replica joins with CreateCacheCluster.
    let cid = name("solo");
    c.create_cache_cluster()
        .cache_cluster_id(&cid)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .unwrap();
    common::wait_cluster(&c, &cid, "available").await;
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("x")
        .primary_cluster_id(&cid)
        .tags(
            aws_sdk_elasticache::types::Tag::builder()
                .key("team")
                .value("a")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id, 1).await;
    assert_eq!(primary_of(&g), cid);
    let tags = c
        .list_tags_for_resource()
        .resource_name(g.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list()[0].key(), Some("team"));
    let allowed = c
        .list_allowed_node_type_modifications()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!allowed.scale_up_modifications().is_empty());
    let err = c
        .test_failover()
        .replication_group_id(&id)
        .node_group_id("0001")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidReplicationGroupState")
    );
    let rr = name("rr");
    c.create_cache_cluster()
        .cache_cluster_id(&rr)
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id, 2).await;
    let (pport, _) = ports(&g);
    assert!(set_acked(pport, "a", "b").await >= 1);
    everywhere(&g, "a", "b").await;
    // A replica member can be deleted; the primary cannot.
    c.delete_cache_cluster()
        .cache_cluster_id(&rr)
        .send()
        .await
        .unwrap();
    common::wait_cluster_gone(&c, &rr).await;
    // RetainPrimaryCluster keeps the primary as a standalone cluster.
    c.delete_replication_group()
        .replication_group_id(&id)
        .retain_primary_cluster(true)
        .send()
        .await
        .unwrap();
    eventually("group deleted", Duration::from_secs(60), || async {
        describe(&c, &id).await.is_none().then_some(())
    })
    .await;
    let cl = common::wait_cluster(&c, &cid, "available").await;
    assert_eq!(cl.replication_group_id(), None);
}
