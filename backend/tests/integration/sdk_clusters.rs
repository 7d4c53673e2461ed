//! Cache clusters through the official SDK, checked with real engine clients.

use std::time::Duration;

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::{ParameterNameValue, SourceType, Tag};

use crate::common::{
    self, code, config_get, delete_cluster, memcached, node_ports, port_open, redis_conn,
    wait_cluster, wait_cluster_gone, wait_port_closed, Backend,
};

fn param(name: &str, value: &str) -> ParameterNameValue {
    ParameterNameValue::builder()
        .parameter_name(name)
        .parameter_value(value)
        .build()
}

async fn set_key(addr: crate::common::Ep, k: &str, v: &str) {
    let mut c = redis_conn(addr).await;
    let _: () = redis::cmd("SET")
        .arg(k)
        .arg(v)
        .query_async(&mut c)
        .await
        .unwrap();
}

async fn get_key(addr: crate::common::Ep, k: &str) -> Option<String> {
    let mut c = redis_conn(addr).await;
    redis::cmd("GET").arg(k).query_async(&mut c).await.unwrap()
}

async fn event_messages(c: &aws_sdk_elasticache::Client, id: &str) -> Vec<String> {
    let r = c
        .describe_events()
        .source_type(SourceType::CacheCluster)
        .source_identifier(id)
        .duration(60)
        .send()
        .await
        .unwrap();
    r.events()
        .iter()
        .map(|e| e.message().unwrap_or_default().to_owned())
        .collect()
}

/// Wait until the cluster's parameter group reports `status`.
async fn wait_pg_status(c: &aws_sdk_elasticache::Client, id: &str, status: &str) {
    common::eventually(
        &format!("{id} parameters {status}"),
        Duration::from_secs(60),
        || async {
            let r = c
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await
                .ok()?;
            let cl = &r.cache_clusters()[0];
            (cl.cache_cluster_status() == Some("available")
                && cl.cache_parameter_group()?.parameter_apply_status() == Some(status))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_lifecycle() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("redis");
        let pg = common::name("pg");
        let sg = common::name("sg");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("redis7")
            .description("itest")
            .send()
            .await
            .unwrap();
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("maxmemory-policy", "allkeys-lru"))
            .send()
            .await
            .unwrap();
        c.create_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .cache_subnet_group_description("itest")
            .subnet_ids("subnet-0123456789abcdef0")
            .subnet_ids("subnet-0fedcba9876543210")
            .send()
            .await
            .unwrap();
        let created = c
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(1)
            .cache_parameter_group_name(&pg)
            .cache_subnet_group_name(&sg)
            .tags(Tag::builder().key("team").value("cache").build())
            .send()
            .await
            .unwrap();
        let created = created.cache_cluster().unwrap();
        assert_eq!(created.cache_cluster_status(), Some("creating"));
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.cache_subnet_group_name(), Some(sg.as_str()));
        assert_eq!(
            cl.cache_parameter_group()
                .unwrap()
                .cache_parameter_group_name(),
            Some(pg.as_str())
        );
        let port = node_ports(&cl)[0];
        // Each node answers on its own loopback address, on the cluster's port.
        assert!(port.ip().is_loopback());
        assert_eq!(port.port(), 6379);
        let mut conn = redis_conn(port).await;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        assert_eq!(pong, "PONG");
        assert_eq!(config_get(port, "maxmemory-policy").await, "allkeys-lru");
        let tags = c
            .list_tags_for_resource()
            .resource_name(cl.arn().unwrap())
            .send()
            .await
            .unwrap();
        assert!(tags
            .tag_list()
            .iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("cache")));
        let events = event_messages(&c, &id).await;
        assert!(
            events.iter().any(|m| m.contains("created")),
            "events: {events:?}"
        );

        // An immediate parameter reaches the running engine.
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("maxmemory-policy", "volatile-lru"))
            .send()
            .await
            .unwrap();
        common::eventually(
            "maxmemory-policy applied",
            Duration::from_secs(30),
            || async {
                (config_get(port, "maxmemory-policy").await == "volatile-lru").then_some(())
            },
        )
        .await;
        wait_pg_status(&c, &id, "in-sync").await;

        // A requires-reboot parameter waits for the reboot.
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("databases", "32"))
            .send()
            .await
            .unwrap();
        wait_pg_status(&c, &id, "pending-reboot").await;
        assert_eq!(config_get(port, "databases").await, "16");
        c.reboot_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_ids_to_reboot("0001")
            .send()
            .await
            .unwrap();
        wait_cluster(&c, &id, "available").await;
        wait_pg_status(&c, &id, "in-sync").await;
        assert_eq!(config_get(port, "databases").await, "32");
        // The immediate parameter is still applied after the restart.
        assert_eq!(config_get(port, "maxmemory-policy").await, "volatile-lru");

        // Node type change keeps data and changes the memory limit.
        set_key(port, "k", "before-scale").await;
        let maxmem = config_get(port, "maxmemory").await;
        let r = c
            .modify_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_type("cache.t3.small")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.cache_cluster().unwrap().cache_cluster_status(),
            Some("modifying")
        );
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.cache_node_type(), Some("cache.t3.small"));
        assert_ne!(config_get(port, "maxmemory").await, maxmem);
        assert_eq!(get_key(port, "k").await.as_deref(), Some("before-scale"));

        // Delete: deleting, then gone, and the engine's port closes.
        let r = c
            .delete_cache_cluster()
            .cache_cluster_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.cache_cluster().unwrap().cache_cluster_status(),
            Some("deleting")
        );
        wait_cluster_gone(&c, &id).await;
        wait_port_closed(port).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        c.delete_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_engine_upgrade_keeps_data() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("upg");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .engine_version("6.2")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(1)
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.engine_version(), Some("6.2"));
        let port = node_ports(&cl)[0];
        set_key(port, "k", "v62").await;

        // Immediately to 7.0: the default group follows the family.
        c.modify_cache_cluster()
            .cache_cluster_id(&id)
            .engine_version("7.0")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.engine_version(), Some("7.0"));
        assert_eq!(
            cl.cache_parameter_group()
                .unwrap()
                .cache_parameter_group_name(),
            Some("default.redis7")
        );
        assert_eq!(get_key(port, "k").await.as_deref(), Some("v62"));

        // Not immediately to 7.1: pending until the reboot.
        let r = c
            .modify_cache_cluster()
            .cache_cluster_id(&id)
            .engine_version("7.1")
            .apply_immediately(false)
            .send()
            .await
            .unwrap();
        let cl = r.cache_cluster().unwrap();
        assert_eq!(cl.engine_version(), Some("7.0"));
        assert_eq!(
            cl.pending_modified_values().unwrap().engine_version(),
            Some("7.1")
        );
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.engine_version(), Some("7.0"));
        assert_eq!(
            cl.pending_modified_values().unwrap().engine_version(),
            Some("7.1")
        );
        c.reboot_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_ids_to_reboot("0001")
            .send()
            .await
            .unwrap();
        let cl = common::eventually("upgrade at reboot", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &id, "available").await;
            (cl.engine_version() == Some("7.1")).then_some(cl)
        })
        .await;
        assert!(cl
            .pending_modified_values()
            .is_none_or(|p| p.engine_version().is_none()));
        assert_eq!(get_key(port, "k").await.as_deref(), Some("v62"));
        delete_cluster(&c, &id).await;
        wait_port_closed(port).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_cluster_nodes_and_discovery() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("mc");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(3)
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(cl.num_cache_nodes(), Some(3));
        let ports = node_ports(&cl);
        assert_eq!(ports.len(), 3);
        for p in &ports {
            let v = memcached(*p, "version\r\n").await;
            assert!(v[0].starts_with("VERSION "), "{v:?}");
        }
        let cfg_port = {
            let e = cl.configuration_endpoint().unwrap();
            crate::common::ep(e.address().unwrap(), e.port().unwrap())
        };
        let (v1, nodes) = config_cluster(cfg_port).await;
        assert_eq!(nodes.len(), 3, "{nodes:?}");
        for p in &ports {
            assert!(
                nodes
                    .iter()
                    .any(|n| *n == format!("{}|{}|{}", p.ip(), p.ip(), p.port())),
                "{nodes:?}"
            );
        }
        let st = memcached(ports[0], "set greeting 0 0 5\r\nhello\r\n").await;
        assert_eq!(st, ["STORED"]);
        let got = memcached(ports[0], "get greeting\r\n").await;
        assert_eq!(got, ["VALUE greeting 0 5", "hello", "END"]);

        // Scale out to 4.
        c.modify_cache_cluster()
            .cache_cluster_id(&id)
            .num_cache_nodes(4)
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        let cl = common::eventually("4 nodes", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &id, "available").await;
            (cl.cache_nodes().len() == 4).then_some(cl)
        })
        .await;
        assert_eq!(cl.num_cache_nodes(), Some(4));
        let ports4 = node_ports(&cl);
        for p in &ports4 {
            assert!(memcached(*p, "version\r\n").await[0].starts_with("VERSION "));
        }
        let (v2, nodes) = config_cluster(cfg_port).await;
        assert_eq!(nodes.len(), 4, "{nodes:?}");
        assert!(v2 > v1, "config version {v1} -> {v2}");

        // Scale in to 2, naming the nodes to remove.
        let ids: Vec<String> = cl
            .cache_nodes()
            .iter()
            .map(|n| n.cache_node_id().unwrap().to_owned())
            .collect();
        c.modify_cache_cluster()
            .cache_cluster_id(&id)
            .num_cache_nodes(2)
            .cache_node_ids_to_remove(&ids[1])
            .cache_node_ids_to_remove(&ids[3])
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        let cl = common::eventually("2 nodes", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &id, "available").await;
            (cl.cache_nodes().len() == 2).then_some(cl)
        })
        .await;
        let left: Vec<&str> = cl
            .cache_nodes()
            .iter()
            .map(|n| n.cache_node_id().unwrap())
            .collect();
        assert_eq!(left, [ids[0].as_str(), ids[2].as_str()]);
        wait_port_closed(ports4[1]).await;
        wait_port_closed(ports4[3]).await;
        let (v3, nodes) = config_cluster(cfg_port).await;
        assert_eq!(nodes.len(), 2, "{nodes:?}");
        assert!(v3 > v2);
        // The first node kept its data.
        let got = memcached(ports[0], "get greeting\r\n").await;
        assert_eq!(got, ["VALUE greeting 0 5", "hello", "END"]);

        delete_cluster(&c, &id).await;
        for p in ports4.iter().chain([&cfg_port]) {
            wait_port_closed(*p).await;
        }
    }
}

/// `config get cluster` on a configuration endpoint: (version, `host|ip|port` entries).
pub async fn config_cluster(addr: crate::common::Ep) -> (u64, Vec<String>) {
    let lines = memcached(addr, "config get cluster\r\n").await;
    assert!(lines[0].starts_with("CONFIG cluster "), "{lines:?}");
    let version = lines[1].trim().parse().unwrap();
    let nodes = lines[2]
        .split_whitespace()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    (version, nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_as_aws() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        // Not found, with HTTP 404.
        let e = c
            .describe_cache_clusters()
            .cache_cluster_id("nope-nope")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 404);
        assert!(e
            .as_service_error()
            .unwrap()
            .is_cache_cluster_not_found_fault());

        let id = common::name("err");
        let mixed = id.replacen("err", "Err", 1);
        let r = c
            .create_cache_cluster()
            .cache_cluster_id(&mixed)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        // Identifiers are stored lower-case.
        assert_eq!(
            r.cache_cluster().unwrap().cache_cluster_id(),
            Some(id.as_str())
        );
        // Modifying a cluster that is still creating (skip if it already became available).
        let st = c
            .modify_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_type("cache.t3.small")
            .apply_immediately(true)
            .send()
            .await;
        match st {
            Err(e) => assert_eq!(
                e.as_service_error().unwrap().code(),
                Some("InvalidCacheClusterState")
            ),
            Ok(_) => eprintln!(
                "NOTICE {rt}: cluster became available before the modify; state check skipped"
            ),
        }
        wait_cluster(&c, &id, "available").await;
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(&id)
                    .engine("redis")
                    .cache_node_type("cache.t3.micro")
                    .send()
                    .await
            ),
            "CacheClusterAlreadyExists"
        );
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(common::name("two"))
                    .engine("redis")
                    .cache_node_type("cache.t3.micro")
                    .num_cache_nodes(2)
                    .send()
                    .await
            ),
            "InvalidParameterValue"
        );
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(common::name("fam"))
                    .engine("redis")
                    .cache_node_type("cache.t3.micro")
                    .cache_parameter_group_name("default.memcached1.6")
                    .send()
                    .await
            ),
            "InvalidParameterCombination"
        );
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(common::name("pg"))
                    .engine("redis")
                    .cache_node_type("cache.t3.micro")
                    .cache_parameter_group_name("no-such-group")
                    .send()
                    .await
            ),
            "CacheParameterGroupNotFound"
        );
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(common::name("sg"))
                    .engine("redis")
                    .cache_node_type("cache.t3.micro")
                    .cache_subnet_group_name("no-such-group")
                    .send()
                    .await
            ),
            "CacheSubnetGroupNotFoundFault"
        );
        // Identifier rules: a letter first, no double or trailing hyphen, at most 50.
        for bad in ["1abc", "a--b", "abc-", &"a".repeat(51)] {
            assert_eq!(
                code(
                    c.create_cache_cluster()
                        .cache_cluster_id(bad)
                        .engine("redis")
                        .cache_node_type("cache.t3.micro")
                        .send()
                        .await
                ),
                "InvalidParameterValue",
                "{bad}"
            );
        }
        assert_eq!(
            code(
                c.create_cache_cluster()
                    .cache_cluster_id(common::name("nt"))
                    .engine("redis")
                    .cache_node_type("cache.x9.huge")
                    .send()
                    .await
            ),
            "InvalidParameterValue"
        );
        // None of the refused creates left a cluster behind.
        let all = c.describe_cache_clusters().send().await.unwrap();
        assert_eq!(all.cache_clusters().len(), 1);

        // On the wire.
        let (status, body) = b
            .raw("Action=DescribeCacheClusters&Version=2015-02-02&CacheClusterId=nope-nope")
            .await;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("<Code>CacheClusterNotFound</Code>"), "{body}");
        let (status, body) = b.raw("Action=CreateCacheCluster&Version=2015-02-02").await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("<Code>MissingParameter</Code>"), "{body}");
        let (status, body) = b.raw("Action=FlyToTheMoon&Version=2015-02-02").await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
        let (status, body) = b.raw("Version=2015-02-02").await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("<Code>MissingAction</Code>")
                || body.contains("<Code>MissingParameter</Code>"),
            "{body}"
        );

        delete_cluster(&c, &id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_regions() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("acct");
        let r = c
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.cache_cluster().unwrap().arn(),
            Some(format!("arn:aws:elasticache:us-east-1:000000000000:cluster:{id}").as_str())
        );
        let west = b.client_in("us-west-2");
        assert_eq!(
            code(
                west.describe_cache_clusters()
                    .cache_cluster_id(&id)
                    .send()
                    .await
            ),
            "CacheClusterNotFound"
        );
        assert!(west
            .describe_cache_clusters()
            .send()
            .await
            .unwrap()
            .cache_clusters()
            .is_empty());
        // A 12-digit access key is that account: it does not see account 000000000000.
        let other = b.client_as("us-east-1", "111111111111");
        assert_eq!(
            code(
                other
                    .describe_cache_clusters()
                    .cache_cluster_id(&id)
                    .send()
                    .await
            ),
            "CacheClusterNotFound"
        );
        let oid = common::name("other");
        let r = other
            .create_cache_cluster()
            .cache_cluster_id(&oid)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.cache_cluster().unwrap().arn(),
            Some(format!("arn:aws:elasticache:us-east-1:111111111111:cluster:{oid}").as_str())
        );
        // Groups are per account and region too; a foreign ARN is refused.
        let pg = common::name("regionpg");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("memcached1.6")
            .description("east")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                west.describe_cache_parameter_groups()
                    .cache_parameter_group_name(&pg)
                    .send()
                    .await
            ),
            "CacheParameterGroupNotFound"
        );
        assert_eq!(
            code(
                other
                    .describe_cache_parameter_groups()
                    .cache_parameter_group_name(&pg)
                    .send()
                    .await
            ),
            "CacheParameterGroupNotFound"
        );
        let east_arn = format!("arn:aws:elasticache:us-east-1:000000000000:cluster:{id}");
        assert_eq!(
            code(
                west.list_tags_for_resource()
                    .resource_name(&east_arn)
                    .send()
                    .await
            ),
            "InvalidARN"
        );
        wait_cluster(&c, &id, "available").await;
        wait_cluster(&other, &oid, "available").await;
        delete_cluster(&c, &id).await;
        delete_cluster(&other, &oid).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_paging_with_markers() {
    let b = Backend::start(&common::runtimes()[0]);
    let c = b.client();
    let all = c
        .describe_cache_engine_versions()
        .max_records(100)
        .send()
        .await
        .unwrap();
    let total = all.cache_engine_versions().len();
    assert!(total > 20, "{total} engine versions");
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let r = c
            .describe_cache_engine_versions()
            .max_records(20)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(r.cache_engine_versions().len() <= 20);
        seen.extend(r.cache_engine_versions().iter().map(|v| {
            format!(
                "{}/{}",
                v.engine().unwrap_or_default(),
                v.engine_version().unwrap_or_default()
            )
        }));
        marker = r.marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), total);
    let dedup: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(dedup.len(), total);

    // Engine default parameters page with the marker inside EngineDefaults.
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = c
            .describe_engine_default_parameters()
            .cache_parameter_group_family("redis7")
            .max_records(20)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let d = r.engine_defaults().unwrap();
        assert_eq!(d.cache_parameter_group_family(), Some("redis7"));
        names.extend(
            d.parameters()
                .iter()
                .map(|p| p.parameter_name().unwrap().to_owned()),
        );
        pages += 1;
        marker = d.marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    assert!(pages > 1, "only {pages} page(s)");
    assert!(names.iter().any(|n| n == "maxmemory-policy"));
    let dedup: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(dedup.len(), names.len());
    // Bad paging parameters.
    assert_eq!(
        code(c.describe_cache_clusters().max_records(5).send().await),
        "InvalidParameterValue"
    );
    assert!(port_open(crate::common::Ep::new(
        std::net::Ipv4Addr::LOCALHOST,
        b.port
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_changes_apply_at_reboot() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let rid = common::name("pend");
        let mid = common::name("pendmc");
        c.create_cache_cluster()
            .cache_cluster_id(&rid)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&mid)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(1)
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &rid, "available").await;
        let port = node_ports(&cl)[0];
        let maxmem = config_get(port, "maxmemory").await;
        wait_cluster(&c, &mid, "available").await;

        // Node type, not immediately: pending, the engine unchanged.
        let r = c
            .modify_cache_cluster()
            .cache_cluster_id(&rid)
            .cache_node_type("cache.t3.small")
            .send()
            .await
            .unwrap();
        let cl = r.cache_cluster().unwrap();
        assert_eq!(cl.cache_node_type(), Some("cache.t3.micro"));
        assert_eq!(
            cl.pending_modified_values().unwrap().cache_node_type(),
            Some("cache.t3.small")
        );
        let cl = wait_cluster(&c, &rid, "available").await;
        assert_eq!(cl.cache_node_type(), Some("cache.t3.micro"));
        assert_eq!(config_get(port, "maxmemory").await, maxmem);
        c.reboot_cache_cluster()
            .cache_cluster_id(&rid)
            .cache_node_ids_to_reboot("0001")
            .send()
            .await
            .unwrap();
        let cl = common::eventually("node type at reboot", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &rid, "available").await;
            (cl.cache_node_type() == Some("cache.t3.small")).then_some(cl)
        })
        .await;
        assert!(cl
            .pending_modified_values()
            .is_none_or(|p| p.cache_node_type().is_none()));
        assert_ne!(config_get(port, "maxmemory").await, maxmem);

        // Node count, not immediately: pending until the reboot.
        let r = c
            .modify_cache_cluster()
            .cache_cluster_id(&mid)
            .num_cache_nodes(2)
            .send()
            .await
            .unwrap();
        let cl = r.cache_cluster().unwrap();
        assert_eq!(cl.num_cache_nodes(), Some(1));
        assert_eq!(
            cl.pending_modified_values().unwrap().num_cache_nodes(),
            Some(2)
        );
        let cl = wait_cluster(&c, &mid, "available").await;
        assert_eq!(cl.cache_nodes().len(), 1);
        c.reboot_cache_cluster()
            .cache_cluster_id(&mid)
            .cache_node_ids_to_reboot("0001")
            .send()
            .await
            .unwrap();
        let cl = common::eventually("2 nodes at reboot", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &mid, "available").await;
            (cl.cache_nodes().len() == 2).then_some(cl)
        })
        .await;
        for p in node_ports(&cl) {
            assert!(memcached(p, "version\r\n").await[0].starts_with("VERSION "));
        }
        delete_cluster(&c, &rid).await;
        delete_cluster(&c, &mid).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_node_is_recovered() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("crash");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        let port = node_ports(&cl)[0];
        let mut conn = redis_conn(port).await;
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query_async(&mut conn)
            .await;
        drop(conn);
        wait_port_closed(port).await;
        common::eventually("node recovered", Duration::from_secs(60), || async {
            if !port_open(port) {
                return None;
            }
            let client = redis::Client::open(format!("redis://{port}/")).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
            (pong == "PONG").then_some(())
        })
        .await;
        common::eventually("recovery event", Duration::from_secs(30), || async {
            event_messages(&c, &id)
                .await
                .iter()
                .any(|m| m.contains("Recovered"))
                .then_some(())
        })
        .await;
        delete_cluster(&c, &id).await;
        wait_port_closed(port).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_cluster_answers() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let id = common::name("valkey");
        let r = c
            .create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("valkey")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        assert_eq!(r.cache_cluster().unwrap().engine(), Some("valkey"));
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(
            cl.cache_parameter_group()
                .unwrap()
                .cache_parameter_group_name(),
            Some(
                format!(
                    "default.{}",
                    family_of(&c, "valkey", cl.engine_version().unwrap()).await
                )
                .as_str()
            )
        );
        let port = node_ports(&cl)[0];
        set_key(port, "k", "v").await;
        assert_eq!(get_key(port, "k").await.as_deref(), Some("v"));
        // Modifying while modifying is refused.
        c.modify_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_type("cache.t3.small")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        match c
            .modify_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_type("cache.t3.medium")
            .apply_immediately(true)
            .send()
            .await
        {
            Err(e) => assert_eq!(
                e.as_service_error().unwrap().code(),
                Some("InvalidCacheClusterState")
            ),
            Ok(_) => eprintln!("NOTICE {rt}: modification finished before the second modify"),
        }
        wait_cluster(&c, &id, "available").await;
        assert_eq!(get_key(port, "k").await.as_deref(), Some("v"));
        delete_cluster(&c, &id).await;
    }
}

async fn family_of(c: &aws_sdk_elasticache::Client, engine: &str, version: &str) -> String {
    let r = c
        .describe_cache_engine_versions()
        .engine(engine)
        .engine_version(version)
        .send()
        .await
        .unwrap();
    r.cache_engine_versions()[0]
        .cache_parameter_group_family()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_parameter_group_change_settles() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let pg = common::name("mcpg");
        let id = common::name("mcparams");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("memcached1.6")
            .description("itest")
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        wait_cluster(&c, &id, "available").await;
        wait_pg_status(&c, &id, "in-sync").await;
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("max_item_size", "2097152"))
            .send()
            .await
            .unwrap();
        // A requires-reboot parameter: pending-reboot, then in-sync after the reboot.
        wait_pg_status(&c, &id, "pending-reboot").await;
        c.reboot_cache_cluster()
            .cache_cluster_id(&id)
            .cache_node_ids_to_reboot("0001")
            .send()
            .await
            .unwrap();
        wait_cluster(&c, &id, "available").await;
        wait_pg_status(&c, &id, "in-sync").await;
        delete_cluster(&c, &id).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_creating_leaves_nothing() {
    for rt in common::runtimes() {
        let b = Backend::start(&rt);
        let c = b.client();
        let rid = common::name("delnow");
        let mid = common::name("delnowmc");
        c.create_cache_cluster()
            .cache_cluster_id(&rid)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&mid)
            .engine("memcached")
            .num_cache_nodes(3)
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        for id in [&rid, &mid] {
            match c.delete_cache_cluster().cache_cluster_id(id).send().await {
                Ok(r) => assert_eq!(
                    r.cache_cluster().unwrap().cache_cluster_status(),
                    Some("deleting")
                ),
                Err(e) => assert_eq!(
                    e.as_service_error().unwrap().code(),
                    Some("InvalidCacheClusterState"),
                    "{e:?}"
                ),
            }
        }
        for id in [&rid, &mid] {
            // If the delete was refused while creating, delete once available.
            if let Ok(r) = c
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await
            {
                if r.cache_clusters()[0].cache_cluster_status() != Some("deleting") {
                    wait_cluster(&c, id, "available").await;
                    c.delete_cache_cluster()
                        .cache_cluster_id(id)
                        .send()
                        .await
                        .unwrap();
                }
            }
            wait_cluster_gone(&c, id).await;
        }
        common::eventually("no node left", Duration::from_secs(30), || async {
            std::fs::read_dir(b.data_dir.join("nodes"))
                .map_or(true, |mut d| d.next().is_none())
                .then_some(())
        })
        .await;
        // And nothing comes back later.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            std::fs::read_dir(b.data_dir.join("nodes")).map_or(true, |mut d| d.next().is_none())
        );
        assert!(c
            .describe_cache_clusters()
            .send()
            .await
            .unwrap()
            .cache_clusters()
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_parameter_group_reaches_the_engine() {
    for rt in common::one_runtime() {
        let b = Backend::start(&rt);
        let c = b.client();
        let pg = common::name("switchpg");
        let id = common::name("switch");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("redis7")
            .description("itest")
            .send()
            .await
            .unwrap();
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(param("maxmemory-policy", "allkeys-lfu"))
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        let port = node_ports(&cl)[0];
        assert_eq!(config_get(port, "maxmemory-policy").await, "volatile-lru");
        c.modify_cache_cluster()
            .cache_cluster_id(&id)
            .cache_parameter_group_name(&pg)
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        common::eventually("new group applied", Duration::from_secs(60), || async {
            (config_get(port, "maxmemory-policy").await == "allkeys-lfu").then_some(())
        })
        .await;
        let cl = wait_cluster(&c, &id, "available").await;
        let g = cl.cache_parameter_group().unwrap();
        assert_eq!(g.cache_parameter_group_name(), Some(pg.as_str()));
        assert_ne!(g.parameter_apply_status(), Some("applying"));
        delete_cluster(&c, &id).await;
        c.delete_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
    }
}
