//! Snapshots on real engines, on every runtime under test: a snapshot holds
//! the data written before it (an RDB from `BGSAVE`), restores into a new
//! cluster and a new replication group bring it back, final snapshots on
//! delete restore too, automatic backups follow the window and the retention
//! limit (with the clock override), and Memcached answers AWS's errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_elasticache::types::{ReplicationGroup, Snapshot, Tag};
use aws_sdk_elasticache::Client;

use crate::common::{
    self, cleanup_engines, code, delete_cluster, ep, eventually, name, node_ports, redis_conn,
    wait_cluster, Backend, Ep,
};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const KEYS: usize = 200;

/// Removes every engine under a data directory, even when the test fails.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        cleanup_engines(&self.0);
    }
}

async fn write_keys(addr: Ep, prefix: &str) {
    let mut c = redis_conn(addr).await;
    let mut cmd = redis::cmd("MSET");
    for i in 0..KEYS {
        cmd.arg(format!("{prefix}:{i}")).arg(format!("value-{i}"));
    }
    let _: () = cmd.query_async(&mut c).await.unwrap();
}

/// Every key `write_keys` wrote is there, with its value.
async fn assert_keys(addr: Ep, prefix: &str) {
    let mut c = redis_conn(addr).await;
    let keys: Vec<String> = (0..KEYS).map(|i| format!("{prefix}:{i}")).collect();
    let got: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut c)
        .await
        .unwrap();
    for (i, v) in got.iter().enumerate() {
        assert_eq!(
            v.as_deref(),
            Some(format!("value-{i}").as_str()),
            "{prefix}:{i} on {addr}"
        );
    }
}

async fn find_snapshot(c: &Client, snap: &str) -> Option<Snapshot> {
    c.describe_snapshots()
        .snapshot_name(snap)
        .show_node_group_config(true)
        .send()
        .await
        .ok()?
        .snapshots()
        .first()
        .cloned()
}

async fn wait_snapshot(c: &Client, snap: &str) -> Snapshot {
    eventually(
        &format!("snapshot {snap} available"),
        Duration::from_secs(90),
        || async {
            find_snapshot(c, snap)
                .await
                .filter(|s| s.snapshot_status() == Some("available"))
        },
    )
    .await
}

async fn wait_snapshot_gone(c: &Client, snap: &str) {
    eventually(
        &format!("snapshot {snap} gone"),
        Duration::from_secs(60),
        || async {
            match c.describe_snapshots().snapshot_name(snap).send().await {
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_snapshot_not_found_fault()) =>
                {
                    Some(())
                }
                _ => None,
            }
        },
    )
    .await;
}

async fn wait_group(c: &Client, id: &str) -> ReplicationGroup {
    eventually(
        &format!("{id} available"),
        Duration::from_secs(120),
        || async {
            let g = c
                .describe_replication_groups()
                .replication_group_id(id)
                .send()
                .await
                .ok()?
                .replication_groups()
                .first()
                .cloned()?;
            (g.status() == Some("available")).then_some(g)
        },
    )
    .await
}

async fn wait_group_gone(c: &Client, id: &str) {
    eventually(
        &format!("{id} deleted"),
        Duration::from_secs(120),
        || async {
            c.describe_replication_groups()
                .replication_group_id(id)
                .send()
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}

fn rdb(data: &Path, snap: &str) -> PathBuf {
    data.join("snapshots")
        .join(ACCOUNT)
        .join(REGION)
        .join(snap)
        .join("0001.rdb")
}

/// `CacheSize` as the backend shows a file of `bytes`.
fn cache_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MB", (bytes + (1 << 19)) >> 20)
    } else {
        format!("{} KB", bytes.div_ceil(1024).max(1))
    }
}

async fn create_redis(c: &Client, id: &str, snapshot: Option<&str>, arn: Option<&str>) -> Ep {
    let mut req = c
        .create_cache_cluster()
        .cache_cluster_id(id)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1);
    if let Some(s) = snapshot {
        req = req.snapshot_name(s);
    }
    if let Some(a) = arn {
        req = req.snapshot_arns(a);
    }
    req.send().await.unwrap();
    node_ports(&wait_cluster(c, id, "available").await)[0]
}

async fn scenario(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let src = name("src");
    let addr = create_redis(&c, &src, None, None).await;
    write_keys(addr, "k").await;

    // A manual snapshot of a cluster, with tags.
    let s1 = name("snap");
    let s = c
        .create_snapshot()
        .cache_cluster_id(&src)
        .snapshot_name(&s1)
        .tags(Tag::builder().key("team").value("cache").build())
        .send()
        .await
        .unwrap()
        .snapshot()
        .cloned()
        .unwrap();
    assert_eq!(s.snapshot_status(), Some("creating"));
    let s = wait_snapshot(&c, &s1).await;
    assert_eq!(s.snapshot_source(), Some("manual"));
    assert_eq!(s.cache_cluster_id(), Some(src.as_str()));
    assert_eq!(s.engine(), Some("redis"));
    assert_eq!(s.num_node_groups(), Some(1));
    assert_eq!(s.cache_node_type(), Some("cache.t3.micro"));
    assert!(s.vpc_id().is_some_and(|v| v.starts_with("vpc-")));
    let file = rdb(&b.data_dir, &s1);
    let size = std::fs::metadata(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .len();
    assert!(size > 1000, "the RDB holds the keys ({size} bytes)");
    let ns = &s.node_snapshots()[0];
    assert_eq!(ns.cache_size(), Some(cache_size(size).as_str()));
    assert_eq!(ns.node_group_id(), Some("0001"));
    assert_eq!(ns.cache_node_id(), Some("0001"));
    assert!(ns.snapshot_create_time().is_some());
    assert_eq!(
        ns.node_group_configuration().and_then(|g| g.slots()),
        Some("0-16383")
    );
    let arn = s.arn().unwrap().to_owned();
    assert!(arn.ends_with(&format!(":snapshot:{s1}")));
    let tags = c
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list()[0].key(), Some("team"));
    assert_eq!(
        code(
            c.create_snapshot()
                .cache_cluster_id(&src)
                .snapshot_name(&s1)
                .send()
                .await
        ),
        "SnapshotAlreadyExistsFault"
    );

    // Copies: a snapshot of its own, and an export into a local bucket.
    let s2 = name("copy");
    c.copy_snapshot()
        .source_snapshot_name(&s1)
        .target_snapshot_name(&s2)
        .send()
        .await
        .unwrap();
    let copy = wait_snapshot(&c, &s2).await;
    assert_eq!(copy.node_snapshots()[0].cache_size(), ns.cache_size());
    let export = |bucket: &str| {
        c.copy_snapshot()
            .source_snapshot_name(&s1)
            .target_snapshot_name("exported")
            .target_bucket(bucket)
            .send()
    };
    assert_eq!(code(export("itest-bucket").await), "InvalidParameterValue");
    std::fs::create_dir_all(b.data_dir.join("s3/itest-bucket")).unwrap();
    export("itest-bucket").await.unwrap();
    wait_snapshot(&c, &s1).await;
    let exported = b.data_dir.join("s3/itest-bucket/exported-0001.rdb");
    assert_eq!(std::fs::metadata(&exported).unwrap().len(), size);
    assert_eq!(
        code(export("itest-bucket").await),
        "SnapshotAlreadyExistsFault"
    );

    // Filters and paging.
    let by_cluster = c
        .describe_snapshots()
        .cache_cluster_id(&src)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cluster.snapshots().len(), 2);
    let page = c.describe_snapshots().max_records(20).send().await.unwrap();
    assert_eq!(page.snapshots().len(), 2);
    assert!(page.marker().is_none());
    let system = c
        .describe_snapshots()
        .snapshot_source("system")
        .send()
        .await
        .unwrap();
    assert!(system.snapshots().is_empty());

    // Restores: a new cluster from the snapshot, one from the exported file.
    let r1 = name("r1");
    let r1_addr = create_redis(&c, &r1, Some(&s1), None).await;
    assert_keys(r1_addr, "k").await;
    // The log says what is restored where, how big it is, and when it is done
    // (a large snapshot's load also says how far it is, every 2 s).
    let log = b.log_text();
    let node = format!("{ACCOUNT}-{REGION}-{r1}-0001");
    let lines = |what: &str| {
        log.lines()
            .filter(|l| l.contains(what) && l.contains(&node))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let copying = lines("restoring a snapshot: copying its RDB");
    assert_eq!(copying.len(), 1, "{log}");
    assert!(
        copying[0].contains(&file.display().to_string()),
        "{copying:?}"
    );
    assert!(copying[0].contains(" MiB"), "{copying:?}");
    assert_eq!(lines("restoring a snapshot: done").len(), 1, "{log}");
    let r2 = name("r2");
    let r2_addr = create_redis(&c, &r2, None, Some("s3://itest-bucket/exported-0001.rdb")).await;
    assert_keys(r2_addr, "k").await;
    let r4 = name("r4");
    let local = format!("file://{}", exported.display());
    let r4_addr = create_redis(&c, &r4, None, Some(&local)).await;
    assert_keys(r4_addr, "k").await;
    delete_cluster(&c, &r4).await;
    assert_eq!(
        code(
            c.create_cache_cluster()
                .cache_cluster_id(name("bad"))
                .engine("redis")
                .cache_node_type("cache.t3.micro")
                .snapshot_arns("s3://itest-bucket/missing.rdb")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );

    // A new replication group from the copy: primary and replica hold the data.
    let g1 = name("g1");
    c.create_replication_group()
        .replication_group_id(&g1)
        .replication_group_description("restored")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .snapshot_name(&s2)
        .send()
        .await
        .unwrap();
    let g = wait_group(&c, &g1).await;
    let pe = g.node_groups()[0].primary_endpoint().unwrap();
    assert_keys(ep(pe.address().unwrap(), pe.port().unwrap()), "k").await;
    for m in g.node_groups()[0].node_group_members() {
        let e = m.read_endpoint().unwrap();
        assert_keys(ep(e.address().unwrap(), e.port().unwrap()), "k").await;
    }

    // A snapshot of the group: from a replica, named by the group.
    let s3 = name("gsnap");
    c.create_snapshot()
        .replication_group_id(&g1)
        .snapshot_name(&s3)
        .send()
        .await
        .unwrap();
    let gs = wait_snapshot(&c, &s3).await;
    assert_eq!(gs.replication_group_id(), Some(g1.as_str()));
    assert_eq!(
        gs.node_snapshots()[0].cache_cluster_id(),
        Some(format!("{g1}-002").as_str())
    );

    // Deleting a snapshot removes its files.
    c.delete_snapshot().snapshot_name(&s2).send().await.unwrap();
    wait_snapshot_gone(&c, &s2).await;
    assert!(!rdb(&b.data_dir, &s2).exists());

    // Final snapshots: the cluster's and the group's data survive them.
    let mut w = redis_conn(r1_addr).await;
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("restore")
        .query_async(&mut w)
        .await
        .unwrap();
    assert_eq!(
        code(
            c.delete_cache_cluster()
                .cache_cluster_id(&r1)
                .final_snapshot_identifier(&s1)
                .send()
                .await
        ),
        "SnapshotAlreadyExistsFault"
    );
    let fin1 = name("fin1");
    c.delete_cache_cluster()
        .cache_cluster_id(&r1)
        .final_snapshot_identifier(&fin1)
        .send()
        .await
        .unwrap();
    common::wait_cluster_gone(&c, &r1).await;
    wait_snapshot(&c, &fin1).await;
    let fin2 = name("fin2");
    c.delete_replication_group()
        .replication_group_id(&g1)
        .final_snapshot_identifier(&fin2)
        .send()
        .await
        .unwrap();
    wait_group_gone(&c, &g1).await;
    let f2 = wait_snapshot(&c, &fin2).await;
    assert_eq!(f2.replication_group_id(), Some(g1.as_str()));
    let r3 = name("r3");
    let r3_addr = create_redis(&c, &r3, Some(&fin1), None).await;
    assert_keys(r3_addr, "k").await;
    let mut r = redis_conn(r3_addr).await;
    let after: Option<String> = redis::cmd("GET")
        .arg("after")
        .query_async(&mut r)
        .await
        .unwrap();
    assert_eq!(after.as_deref(), Some("restore"));

    for id in [&src, &r2, &r3] {
        delete_cluster(&c, id).await;
    }
    for s in [&s1, &s3, &fin1, &fin2] {
        c.delete_snapshot()
            .snapshot_name(s.as_str())
            .send()
            .await
            .unwrap();
    }
    for s in [&s1, &s3, &fin1, &fin2] {
        wait_snapshot_gone(&c, s).await;
    }
    let left: Vec<_> = std::fs::read_dir(b.data_dir.join("nodes"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "node directories left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_hold_data_and_restore_on_every_runtime() {
    for rt in common::runtimes() {
        scenario(&rt).await;
    }
}

/// Seconds from now to the next 06:45:30 UTC, inside the default window
/// 06:30-07:30 (half a minute of slack: the offset is whole seconds and the
/// backend reads its clock a little later).
fn offset_to_window() -> i64 {
    let now = chrono::Utc::now();
    let today = now.date_naive().and_hms_opt(6, 45, 30).unwrap().and_utc();
    let at = if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    };
    (at - now).num_seconds()
}

async fn automatic(c: &Client, id: &str) -> Vec<Snapshot> {
    let mut v = c
        .describe_snapshots()
        .cache_cluster_id(id)
        .snapshot_source("system")
        .send()
        .await
        .unwrap()
        .snapshots()
        .to_vec();
    v.sort_by(|a, b| a.snapshot_name().cmp(&b.snapshot_name()));
    v
}

async fn automatic_scenario(runtime: &str) {
    let tmp = tempfile::Builder::new()
        .prefix("ec-itest-auto-")
        .tempdir()
        .unwrap();
    let _guard = Guard(tmp.path().to_path_buf());
    let offset = offset_to_window();
    let off = offset.to_string();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let mut b = Backend::start_in_with(
        runtime,
        tmp.path(),
        free(),
        &[("ELASTICACHE_CLOCK_OFFSET", off.as_str())],
    );
    let c = b.client();
    let id = name("auto");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .snapshot_retention_limit(1)
        .send()
        .await
        .unwrap();
    let addr = node_ports(&wait_cluster(&c, &id, "available").await)[0];
    write_keys(addr, "a").await;
    let first = eventually("an automatic snapshot", Duration::from_secs(60), || async {
        let v = automatic(&c, &id).await;
        (v.len() == 1 && v[0].snapshot_status() == Some("available")).then(|| v[0].clone())
    })
    .await;
    let first_name = first.snapshot_name().unwrap().to_owned();
    assert!(
        first_name.starts_with(&format!("automatic.{id}-")),
        "{first_name}"
    );
    assert!(first_name.ends_with("-06-45"), "{first_name}");
    assert_eq!(first.snapshot_source(), Some("automated"));
    // One a day: no second one in the same window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(automatic(&c, &id).await.len(), 1);

    // The next day: a new one, and the first goes (retention limit 1).
    b.kill();
    let off = (offset + 86_400).to_string();
    let b = Backend::start_in_with(
        runtime,
        tmp.path(),
        free(),
        &[("ELASTICACHE_CLOCK_OFFSET", off.as_str())],
    );
    let c = b.client();
    let second = eventually(
        "the next day's automatic snapshot, the first pruned",
        Duration::from_secs(60),
        || async {
            let v = automatic(&c, &id).await;
            (v.len() == 1
                && v[0].snapshot_name() != Some(first_name.as_str())
                && v[0].snapshot_status() == Some("available")
                && !rdb(tmp.path(), &first_name).exists())
            .then(|| v[0].clone())
        },
    )
    .await;
    let second_name = second.snapshot_name().unwrap().to_owned();
    // An automatic snapshot restores like any other.
    let r = name("ar");
    let r_addr = create_redis(&c, &r, Some(&second_name), None).await;
    assert_keys(r_addr, "a").await;
    delete_cluster(&c, &r).await;
    // Deleting the cluster deletes its automatic snapshots.
    delete_cluster(&c, &id).await;
    wait_snapshot_gone(&c, &second_name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_snapshots_follow_window_and_retention() {
    for rt in common::one_runtime() {
        automatic_scenario(&rt).await;
    }
}

#[tokio::test]
async fn snapshot_rules_and_memcached_errors() {
    let b = Backend::start("process");
    let c = b.client();
    let m = name("mc");
    c.create_cache_cluster()
        .cache_cluster_id(&m)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            c.create_snapshot()
                .cache_cluster_id(&m)
                .snapshot_name("s")
                .send()
                .await
        ),
        "SnapshotFeatureNotSupportedFault"
    );
    assert_eq!(
        code(
            c.create_cache_cluster()
                .cache_cluster_id(name("mc"))
                .engine("memcached")
                .cache_node_type("cache.t3.micro")
                .snapshot_retention_limit(1)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            c.create_cache_cluster()
                .cache_cluster_id(name("mc"))
                .engine("memcached")
                .cache_node_type("cache.t3.micro")
                .snapshot_arns("s3://bucket/key.rdb")
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    wait_cluster(&c, &m, "available").await;
    assert_eq!(
        code(
            c.delete_cache_cluster()
                .cache_cluster_id(&m)
                .final_snapshot_identifier("final")
                .send()
                .await
        ),
        "SnapshotFeatureNotSupportedFault"
    );
    delete_cluster(&c, &m).await;

    // Faults as AWS names them.
    assert_eq!(
        code(c.describe_snapshots().snapshot_name("nope").send().await),
        "SnapshotNotFoundFault"
    );
    let (status, body) = b
        .raw("Action=DeleteSnapshot&Version=2015-02-02&SnapshotName=nope")
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("SnapshotNotFoundFault"), "{body}");
    assert_eq!(
        code(
            c.create_snapshot()
                .cache_cluster_id("nope")
                .snapshot_name("s")
                .send()
                .await
        ),
        "CacheClusterNotFound"
    );
    assert_eq!(
        code(c.create_snapshot().snapshot_name("s").send().await),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            c.create_snapshot()
                .replication_group_id("nope")
                .snapshot_name("s")
                .send()
                .await
        ),
        "ReplicationGroupNotFoundFault"
    );
    assert_eq!(
        code(
            c.copy_snapshot()
                .source_snapshot_name("nope")
                .target_snapshot_name("t")
                .send()
                .await
        ),
        "SnapshotNotFoundFault"
    );
    assert_eq!(
        code(c.describe_snapshots().cache_cluster_id("nope").send().await),
        "CacheClusterNotFound"
    );
    assert_eq!(
        code(
            c.describe_snapshots()
                .snapshot_source("sometimes")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    // A cluster that is not available yet cannot be snapshotted.
    let r = name("busy");
    c.create_cache_cluster()
        .cache_cluster_id(&r)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            c.create_snapshot()
                .cache_cluster_id(&r)
                .snapshot_name("early")
                .send()
                .await
        ),
        "InvalidCacheClusterState"
    );
    assert_eq!(
        code(
            c.create_snapshot()
                .cache_cluster_id(&r)
                .snapshot_name("automatic.x")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    delete_cluster(&c, &r).await;
}

/// A Valkey snapshot restores into a replication group that names no engine:
/// the group takes the snapshot's engine, version and node type.
async fn valkey_restore(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let v = name("vk");
    c.create_cache_cluster()
        .cache_cluster_id(&v)
        .engine("valkey")
        .cache_node_type("cache.t3.small")
        .send()
        .await
        .unwrap();
    let addr = node_ports(&wait_cluster(&c, &v, "available").await)[0];
    write_keys(addr, "v").await;
    let s = name("vsnap");
    c.create_snapshot()
        .cache_cluster_id(&v)
        .snapshot_name(&s)
        .send()
        .await
        .unwrap();
    let snap = wait_snapshot(&c, &s).await;
    assert_eq!(snap.engine(), Some("valkey"));
    let g = name("vg");
    c.create_replication_group()
        .replication_group_id(&g)
        .replication_group_description("from valkey")
        .snapshot_name(&s)
        .send()
        .await
        .unwrap();
    let rg = wait_group(&c, &g).await;
    assert_eq!(rg.engine(), Some("valkey"));
    assert_eq!(rg.cache_node_type(), Some("cache.t3.small"));
    let pe = rg.node_groups()[0].primary_endpoint().unwrap();
    assert_keys(ep(pe.address().unwrap(), pe.port().unwrap()), "v").await;
    // Valkey data does not go back to Redis.
    assert_eq!(
        code(
            c.create_cache_cluster()
                .cache_cluster_id(name("rd"))
                .engine("redis")
                .cache_node_type("cache.t3.micro")
                .snapshot_name(&s)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    c.delete_replication_group()
        .replication_group_id(&g)
        .send()
        .await
        .unwrap();
    delete_cluster(&c, &v).await;
    wait_group_gone(&c, &g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valkey_snapshot_restores_with_the_snapshots_settings() {
    for rt in common::one_runtime() {
        valkey_restore(&rt).await;
    }
}
