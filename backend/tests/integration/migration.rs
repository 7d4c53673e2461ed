//! Online migration on every runtime under test: a Redis server outside the
//! backend (a plain `redis-server` the test starts) is migrated into a
//! replication group for real, with live writes while `migrating`.

use std::time::Duration;

use aws_sdk_elasticache::types::{CustomerNodeEndpoint, ReplicationGroup};
use aws_sdk_elasticache::Client;

use crate::common::{self, code, ep, eventually, name, Backend, Ep};

async fn describe(c: &Client, id: &str) -> ReplicationGroup {
    c.describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .unwrap()
        .replication_groups()[0]
        .clone()
}

async fn wait_status(c: &Client, id: &str, status: &str) -> ReplicationGroup {
    eventually(
        &format!("{id} {status}"),
        Duration::from_secs(120),
        || async {
            let g = describe(c, id).await;
            (g.status() == Some(status)).then_some(g)
        },
    )
    .await
}

async fn events_of(c: &Client, id: &str) -> Vec<String> {
    c.describe_events()
        .source_identifier(id)
        .source_type(aws_sdk_elasticache::types::SourceType::ReplicationGroup)
        .duration(60)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect()
}

async fn wait_event(c: &Client, id: &str, needle: &str) -> String {
    eventually(
        &format!("event '{needle}'"),
        Duration::from_secs(60),
        || async {
            events_of(c, id)
                .await
                .into_iter()
                .find(|m| m.contains(needle))
        },
    )
    .await
}

async fn redis(addr: Ep, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut conn = common::redis_conn(addr).await;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(&mut conn).await
}

async fn get(addr: Ep, key: &str) -> Option<String> {
    let mut conn = redis::Client::open(format!("redis://{addr}/"))
        .ok()?
        .get_multiplexed_async_connection()
        .await
        .ok()?;
    redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .ok()?
}

fn primary_endpoint(g: &ReplicationGroup) -> Ep {
    let e = g.node_groups()[0].primary_endpoint().unwrap();
    ep(e.address().unwrap(), e.port().unwrap())
}

fn member_endpoints(g: &ReplicationGroup) -> Vec<Ep> {
    g.node_groups()[0]
        .node_group_members()
        .iter()
        .map(|m| {
            let e = m.read_endpoint().unwrap();
            ep(e.address().unwrap(), e.port().unwrap())
        })
        .collect()
}

async fn scenario(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let src = common::SourceRedis::plain();
    {
        let mut conn = common::redis_conn(src.addr()).await;
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await.unwrap();
    }
    let id = name("mig");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("migration target")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap();

    // Rules, before and while.
    assert_eq!(
        code(
            c.complete_migration()
                .replication_group_id(&id)
                .send()
                .await
        ),
        "ReplicationGroupNotUnderMigrationFault"
    );
    assert_eq!(
        code(
            c.start_migration()
                .replication_group_id("no-such-group")
                .customer_node_endpoint_list(src.endpoint())
                .send()
                .await
        ),
        "ReplicationGroupNotFoundFault"
    );
    assert_eq!(
        code(
            c.start_migration()
                .replication_group_id(&id)
                .customer_node_endpoint_list(src.endpoint())
                .send()
                .await
        ),
        "InvalidReplicationGroupState",
        "a group still creating cannot be migrated into"
    );
    let g = wait_status(&c, &id, "available").await;
    assert_eq!(
        code(
            c.start_migration()
                .replication_group_id(&id)
                .customer_node_endpoint_list(src.endpoint())
                .customer_node_endpoint_list(src.endpoint())
                .send()
                .await
        ),
        "InvalidParameterValue"
    );

    // TestMigration tries the source and says so in an event.
    c.test_migration()
        .replication_group_id(&id)
        .customer_node_endpoint_list(src.endpoint())
        .send()
        .await
        .unwrap();
    wait_event(&c, &id, "succeeded").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    c.test_migration()
        .replication_group_id(&id)
        .customer_node_endpoint_list(
            CustomerNodeEndpoint::builder()
                .address("127.0.0.1")
                .port(i32::from(closed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_event(&c, &id, "failed").await;

    // StartMigration: the group replicates from the source while migrating.
    let r = c
        .start_migration()
        .replication_group_id(&id)
        .customer_node_endpoint_list(src.endpoint())
        .send()
        .await
        .unwrap();
    assert_eq!(r.replication_group().unwrap().status(), Some("migrating"));
    assert_eq!(
        code(
            c.start_migration()
                .replication_group_id(&id)
                .customer_node_endpoint_list(src.endpoint())
                .send()
                .await
        ),
        "ReplicationGroupAlreadyUnderMigrationFault"
    );
    let pe = primary_endpoint(&g);
    for m in member_endpoints(&g) {
        eventually(
            "migrated keys on every member",
            Duration::from_secs(60),
            || async { (get(m, "k999").await.as_deref() == Some("999")).then_some(()) },
        )
        .await;
    }
    wait_event(&c, &id, "is replicating").await;
    // Live: a write at the source reaches the group; the group refuses writes.
    redis(src.addr(), &["SET", "live", "yes"]).await.unwrap();
    eventually("live write migrated", Duration::from_secs(20), || async {
        (get(pe, "live").await.as_deref() == Some("yes")).then_some(())
    })
    .await;
    let refused = redis(pe, &["SET", "mine", "1"]).await.unwrap_err();
    assert!(
        refused.to_string().to_lowercase().contains("read only"),
        "writes to a migrating group: {refused}"
    );
    assert_eq!(describe(&c, &id).await.status(), Some("migrating"));

    // CompleteMigration: the primary is promoted back, data kept.
    c.complete_migration()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    let g = wait_status(&c, &id, "available").await;
    wait_event(&c, &id, "completed").await;
    let _: redis::Value = redis(primary_endpoint(&g), &["SET", "mine", "1"])
        .await
        .unwrap();
    assert_eq!(get(primary_endpoint(&g), "k0").await.as_deref(), Some("0"));
    assert_eq!(
        get(primary_endpoint(&g), "live").await.as_deref(),
        Some("yes")
    );
    for m in member_endpoints(&g) {
        eventually(
            "group's own write replicated",
            Duration::from_secs(20),
            || async { (get(m, "mine").await.as_deref() == Some("1")).then_some(()) },
        )
        .await;
    }
    // The source is untouched by the group's writes.
    assert_eq!(get(src.addr(), "mine").await, None);

    // A source that is one of the backend's own clusters works too (a
    // container reaches it by its peer address), and Force completes at once.
    let own = name("migsrc");
    c.create_cache_cluster()
        .cache_cluster_id(&own)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .unwrap();
    let cl = common::wait_cluster(&c, &own, "available").await;
    let own_ep = common::node_ports(&cl)[0];
    redis(own_ep, &["SET", "from-own", "1"]).await.unwrap();
    c.start_migration()
        .replication_group_id(&id)
        .customer_node_endpoint_list(
            CustomerNodeEndpoint::builder()
                .address(own_ep.ip().to_string())
                .port(i32::from(own_ep.port()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    eventually(
        "own cluster's key migrated",
        Duration::from_secs(60),
        || async {
            (get(primary_endpoint(&g), "from-own").await.as_deref() == Some("1")).then_some(())
        },
    )
    .await;
    c.complete_migration()
        .replication_group_id(&id)
        .force(true)
        .send()
        .await
        .unwrap();
    let g = wait_status(&c, &id, "available").await;
    let _: redis::Value = redis(primary_endpoint(&g), &["SET", "after", "1"])
        .await
        .unwrap();
    common::delete_cluster(&c, &own).await;

    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group gone", Duration::from_secs(60), || async {
        c.describe_replication_groups()
            .replication_group_id(&id)
            .send()
            .await
            .is_err()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_migration_copies_data_on_every_runtime() {
    for rt in common::runtimes() {
        scenario(&rt).await;
    }
}
