//! Serverless caches on real engines, checked with real clients: TLS-only
//! endpoints (`redis-cli --tls`, `openssl s_client` for Memcached), plaintext
//! refused, a user group enforced, the `DataStorage` maximum as the engines'
//! `maxmemory` (changed live), snapshots holding the data (create, copy,
//! export, restore into another engine, a final snapshot), online migration
//! into a cache, and the bad input AWS refuses.

use std::path::Path;
use std::time::Duration;

use aws_sdk_elasticache::types::{
    CacheUsageLimits, CustomerNodeEndpoint, DataStorage, DataStorageUnit, EcpuPerSecond,
    SecretManagerAuthConfig, ServerlessCache, SourceAuthenticationConfiguration,
    SourceTlsConfiguration, TlsMode,
};
use aws_sdk_elasticache::Client;

use crate::common::{self, cli, code, eventually, fetch_ca, name, plain, Backend, Ep};

const APP_PW: &str = "serverless-app-password";

async fn describe(c: &Client, name: &str) -> Option<ServerlessCache> {
    c.describe_serverless_caches()
        .serverless_cache_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.serverless_caches().first().cloned())
}

async fn wait_available(c: &Client, name: &str) -> ServerlessCache {
    eventually(
        &format!("serverless cache {name} available"),
        Duration::from_secs(180),
        || async {
            let s = describe(c, name).await?;
            (s.status() == Some("available")).then_some(s)
        },
    )
    .await
}

async fn wait_gone(c: &Client, name: &str) {
    eventually(
        &format!("serverless cache {name} gone"),
        Duration::from_secs(120),
        || async { describe(c, name).await.is_none().then_some(()) },
    )
    .await;
}

async fn wait_snapshot(c: &Client, name: &str) -> String {
    eventually(
        &format!("serverless snapshot {name} available"),
        Duration::from_secs(120),
        || async {
            let o = c
                .describe_serverless_cache_snapshots()
                .serverless_cache_snapshot_name(name)
                .send()
                .await
                .ok()?;
            let s = o.serverless_cache_snapshots().first()?;
            (s.status() == Some("available")).then(|| s.arn().unwrap().to_owned())
        },
    )
    .await
}

fn eps(s: &ServerlessCache) -> (Ep, Option<Ep>) {
    let e = s.endpoint().unwrap();
    let ep = common::ep(e.address().unwrap(), e.port().unwrap());
    let reader = s
        .reader_endpoint()
        .map(|r| common::ep(r.address().unwrap(), r.port().unwrap()));
    (ep, reader)
}

fn limits(max_gb: i32) -> CacheUsageLimits {
    CacheUsageLimits::builder()
        .data_storage(
            DataStorage::builder()
                .maximum(max_gb)
                .unit(DataStorageUnit::Gb)
                .build(),
        )
        .ecpu_per_second(EcpuPerSecond::builder().minimum(1000).maximum(5000).build())
        .build()
}

/// Lines sent to a TLS Memcached endpoint through `openssl s_client`.
fn memcached_tls(ca: &Path, addr: Ep, input: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
        .arg(ca)
        .args(["-connect", &addr.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin
                .take()
                .unwrap()
                .write_all(format!("{input}quit\r\n").as_bytes())?;
            ch.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `redis-cli --tls` as the user `app`.
fn as_app(ca: &Path, addr: Ep, args: &[&str]) -> String {
    let mut all = vec!["--user", "app", "--pass", APP_PW, "--no-auth-warning"];
    all.extend_from_slice(args);
    cli(ca, addr, None, &all)
}

/// `redis-cli -c --tls` as the user `app`.
fn as_app_cluster(ca: &Path, addr: Ep, args: &[&str]) -> String {
    let mut all = vec!["--user", "app", "--pass", APP_PW, "--no-auth-warning"];
    all.extend_from_slice(args);
    common::cli_with(ca, addr, None, true, &all)
}

/// redis-py's `RedisCluster` over TLS as the user `app`: writes keys spread
/// over the slots through `Endpoint`, reads them back, then reads them from the
/// replica (`read_from_replicas`: `READONLY` on the reader endpoint). Prints
/// what it saw.
const REDIS_PY_CLUSTER: &str = r#"
import os, sys, time
from redis.cluster import RedisCluster
kw = dict(host=os.environ["EP_HOST"], port=int(os.environ["EP_PORT"]), ssl=True,
          ssl_ca_certs=os.environ["CA"], username="app", password=os.environ["APP_PW"])
rc = RedisCluster(**kw)
nodes = sorted((n.host, n.port, n.server_type) for n in rc.get_nodes())
print("nodes", nodes)
keys = ["py-%d" % i for i in range(20)]
for k in keys:
    rc.set(k, "v-" + k)
print("slots", len({rc.keyslot(k) for k in keys}))
print("read", all(rc.get(k) == ("v-" + k).encode() for k in keys))
ro = RedisCluster(read_from_replicas=True, **kw)
for _ in range(50):
    if all(ro.get(k) == ("v-" + k).encode() for k in keys):
        print("replica-read", True)
        break
    time.sleep(0.2)
else:
    print("replica-read", False)
"#;

fn redis_py_cluster(ca: &Path, ep: Ep) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", REDIS_PY_CLUSTER])
        .env("EP_HOST", ep.ip().to_string())
        .env("EP_PORT", ep.port().to_string())
        .env("CA", ca)
        .env("APP_PW", APP_PW)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Cluster-aware clients on a Redis/Valkey cache: the endpoint owns all
/// slots, the reader endpoint is its replica.
async fn cluster_clients(ca: &Path, ep: Ep, reader: Ep) {
    let slots = as_app_cluster(ca, ep, &["CLUSTER", "SLOTS"]);
    let lines: Vec<&str> = slots.lines().collect();
    assert_eq!(
        &lines[..2],
        &["0", "16383"],
        "one shard owns every slot: {slots}"
    );
    assert!(
        slots.contains(&ep.ip().to_string()) && slots.contains(&reader.ip().to_string()),
        "{slots}"
    );
    let shards = as_app_cluster(ca, reader, &["CLUSTER", "SHARDS"]);
    assert!(
        shards.contains("master") && shards.contains("replica"),
        "{shards}"
    );
    let nodes = as_app_cluster(ca, ep, &["CLUSTER", "NODES"]);
    assert!(
        nodes.contains("myself,master") && nodes.contains("0-16383"),
        "{nodes}"
    );
    assert_eq!(
        as_app_cluster(ca, ep, &["CLUSTER", "KEYSLOT", "foo"]),
        "12182"
    );
    // Keys in different slots, through `redis-cli -c`.
    for k in ["a", "b", "c", "{user}1", "zz"] {
        assert_eq!(as_app_cluster(ca, ep, &["SET", k, &format!("v{k}")]), "OK");
    }
    for k in ["a", "b", "c", "{user}1", "zz"] {
        assert_eq!(as_app_cluster(ca, ep, &["GET", k]), format!("v{k}"));
    }
    // READONLY on the reader endpoint, then reads from the replica.
    eventually(
        "reads after READONLY on the reader endpoint",
        Duration::from_secs(20),
        || async {
            let out = as_app_cluster(ca, reader, &["READONLY"]);
            (out == "OK" && as_app(ca, reader, &["GET", "zz"]) == "vzz").then_some(())
        },
    )
    .await;
    let py = redis_py_cluster(ca, ep);
    assert!(
        py.contains("read True") && py.contains("replica-read True"),
        "{py}"
    );
    assert!(!py.contains("slots 1\n"), "{py}");
}

/// Redis → Valkey on a running cache: `modifying`, then `available` on
/// Valkey 8 with the data, through the same endpoints; and the changes AWS
/// refuses.
async fn engine_change(c: &Client, ca: &Path, sc: &str, ep: Ep, reader: Ep) {
    assert_eq!(as_app(ca, ep, &["SET", "before-upgrade", "kept"]), "OK");
    assert_eq!(
        code(
            c.modify_serverless_cache()
                .serverless_cache_name(sc)
                .engine("memcached")
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            c.modify_serverless_cache()
                .serverless_cache_name(sc)
                .major_engine_version("6")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    let out = c
        .modify_serverless_cache()
        .serverless_cache_name(sc)
        .engine("valkey")
        .major_engine_version("8")
        .send()
        .await
        .unwrap();
    let s = out.serverless_cache().unwrap();
    assert_eq!(s.status(), Some("modifying"));
    let s = wait_available(c, sc).await;
    assert_eq!(s.engine(), Some("valkey"));
    assert_eq!(s.major_engine_version(), Some("8"));
    assert_eq!(s.full_engine_version(), Some("8.1"));
    assert_eq!(eps(&s), (ep, Some(reader)), "the endpoints stay");
    assert_eq!(as_app(ca, ep, &["GET", "before-upgrade"]), "kept");
    assert_eq!(as_app(ca, ep, &["GET", "k"]), "kept");
    eventually(
        "the replica has the data",
        Duration::from_secs(30),
        || async { (as_app(ca, reader, &["GET", "before-upgrade"]) == "kept").then_some(()) },
    )
    .await;
    let events = c
        .describe_events()
        .source_identifier(sc)
        .source_type(aws_sdk_elasticache::types::SourceType::ServerlessCache)
        .send()
        .await
        .unwrap();
    let msgs: Vec<&str> = events.events().iter().filter_map(|e| e.message()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("upgraded to valkey 8")),
        "{msgs:?}"
    );
    // No way back, and no downgrade.
    for (engine, major, want) in [
        ("redis", "7", "InvalidParameterCombination"),
        ("valkey", "7", "InvalidParameterValue"),
    ] {
        assert_eq!(
            code(
                c.modify_serverless_cache()
                    .serverless_cache_name(sc)
                    .engine(engine)
                    .major_engine_version(major)
                    .send()
                    .await
            ),
            want,
            "{engine} {major}"
        );
    }
}

/// A Memcached cache's snapshots: every item (flags, time to live, value)
/// restores into a new cache; copy and delete as for Redis; export and a
/// restore into Redis refused as AWS refuses them.
async fn memcached_snapshots(b: &Backend, c: &Client, ca: &Path, m: &str, mep: Ep) {
    let big = "x".repeat(3000);
    let out = memcached_tls(
        ca,
        mep,
        &format!(
            "set flagged 42 0 5\r\nhello\r\nset ttl 7 3600 4\r\nsoon\r\nset big 0 0 {}\r\n{big}\r\nset spaced 1 0 9\r\nline\r\ntwo\r\n",
            big.len()
        ),
    );
    assert_eq!(out.matches("STORED").count(), 4, "{out}");
    let snap = name("mcs");
    c.create_serverless_cache_snapshot()
        .serverless_cache_snapshot_name(&snap)
        .serverless_cache_name(m)
        .send()
        .await
        .unwrap();
    let arn = wait_snapshot(c, &snap).await;
    let listed = c
        .describe_serverless_cache_snapshots()
        .serverless_cache_snapshot_name(&snap)
        .send()
        .await
        .unwrap();
    let conf = listed.serverless_cache_snapshots()[0]
        .serverless_cache_configuration()
        .unwrap();
    assert_eq!(conf.engine(), Some("memcached"));
    assert_eq!(conf.major_engine_version(), Some("1.6"));
    let copy = name("mcscopy");
    c.copy_serverless_cache_snapshot()
        .source_serverless_cache_snapshot_name(&snap)
        .target_serverless_cache_snapshot_name(&copy)
        .send()
        .await
        .unwrap();
    let copy_arn = wait_snapshot(c, &copy).await;
    std::fs::create_dir_all(b.data_dir.join("s3/exports")).unwrap();
    assert_eq!(
        code(
            c.export_serverless_cache_snapshot()
                .serverless_cache_snapshot_name(&snap)
                .s3_bucket_name("exports")
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    // Not into Redis or Valkey: nothing is created.
    let wrong = name("mc2r");
    for engine in ["redis", "valkey"] {
        assert_eq!(
            code(
                c.create_serverless_cache()
                    .serverless_cache_name(&wrong)
                    .engine(engine)
                    .snapshot_arns_to_restore(&arn)
                    .send()
                    .await
            ),
            "InvalidParameterCombination"
        );
    }
    assert!(describe(c, &wrong).await.is_none());
    // Restored from the copy: the same items.
    let restored = name("mcr");
    c.create_serverless_cache()
        .serverless_cache_name(&restored)
        .engine("memcached")
        .snapshot_arns_to_restore(&copy_arn)
        .send()
        .await
        .unwrap();
    let r = wait_available(c, &restored).await;
    // The log says when the dump is loading and when it is loaded.
    let log = b.log_text();
    for what in [
        "restoring a snapshot: loading its Memcached dump",
        "restoring a snapshot: done, the Memcached dump is loaded",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(what) && l.contains(&restored)),
            "{what}: {log}"
        );
    }
    let (rep, _) = eps(&r);
    let out = memcached_tls(
        ca,
        rep,
        "get flagged ttl spaced\r\nmg ttl t\r\nmg big s\r\n",
    );
    assert!(out.contains("VALUE flagged 42 5\r\nhello\r\n"), "{out}");
    assert!(out.contains("VALUE ttl 7 4\r\nsoon\r\n"), "{out}");
    assert!(out.contains("VALUE spaced 1 9\r\nline\r\ntwo\r\n"), "{out}");
    let ttl: i64 = out
        .lines()
        .find_map(|l| l.strip_prefix("HD t"))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("a time to live: {out}"));
    assert!(
        (3000..=3600).contains(&ttl),
        "what remained of 3600 s: {ttl}"
    );
    assert!(out.contains(&format!("HD s{}", big.len())), "{out}");
    c.delete_serverless_cache_snapshot()
        .serverless_cache_snapshot_name(&copy)
        .send()
        .await
        .unwrap();
    c.delete_serverless_cache()
        .serverless_cache_name(&restored)
        .send()
        .await
        .unwrap();
    wait_gone(c, &restored).await;
}

/// A Redis cache with a user group and limits: endpoints TLS-only and RBAC
/// enforced, data written on `Endpoint` read on `ReaderEndpoint`, `maxmemory`
/// from the limit and changed live, snapshots with the data (copy, export, a
/// restore into Valkey), a final snapshot on delete. Then a Memcached cache.
async fn scenario(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let sfx = name("x");
    let (default_id, app_id, ug) = (format!("def{sfx}"), format!("app{sfx}"), format!("ug{sfx}"));
    c.create_user()
        .user_id(&default_id)
        .user_name("default")
        .engine("redis")
        .access_string("off ~* +@all")
        .no_password_required(true)
        .send()
        .await
        .unwrap();
    c.create_user()
        .user_id(&app_id)
        .user_name("app")
        .engine("redis")
        .access_string("on ~* +@all")
        .passwords(APP_PW)
        .send()
        .await
        .unwrap();
    c.create_user_group()
        .user_group_id(&ug)
        .engine("redis")
        .user_ids(&default_id)
        .user_ids(&app_id)
        .send()
        .await
        .unwrap();
    eventually("user group active", Duration::from_secs(60), || async {
        let o = c
            .describe_user_groups()
            .user_group_id(&ug)
            .send()
            .await
            .ok()?;
        (o.user_groups()[0].status() == Some("active")).then_some(())
    })
    .await;

    let sc = name("sc");
    let made = c
        .create_serverless_cache()
        .serverless_cache_name(&sc)
        .engine("redis")
        .cache_usage_limits(limits(1))
        .user_group_id(&ug)
        .daily_snapshot_time("04:00")
        .snapshot_retention_limit(1)
        .tags(
            aws_sdk_elasticache::types::Tag::builder()
                .key("team")
                .value("cache")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(made.serverless_cache().unwrap().status(), Some("creating"));
    let s = wait_available(&c, &sc).await;
    assert_eq!(s.major_engine_version(), Some("7"));
    assert_eq!(s.full_engine_version(), Some("7.1"));
    assert_eq!(s.user_group_id(), Some(ug.as_str()));
    assert_eq!(s.daily_snapshot_time(), Some("04:00"));
    let (ep, reader) = eps(&s);
    let reader = reader.expect("a Redis cache has a reader endpoint");
    assert_eq!(ep.port(), 6379);

    // TLS only, RBAC enforced.
    assert_eq!(as_app(&ca, ep, &["PING"]), "PONG");
    assert!(!plain(ep, &["PING"]).contains("PONG"));
    assert!(cli(&ca, ep, None, &["PING"]).contains("NOAUTH"));
    assert_eq!(as_app(&ca, ep, &["SET", "k", "kept"]), "OK");
    eventually(
        "the replica has the key",
        Duration::from_secs(20),
        || async { (as_app(&ca, reader, &["GET", "k"]) == "kept").then_some(()) },
    )
    .await;
    assert!(as_app(&ca, reader, &["SET", "k2", "x"]).contains("READONLY"));
    cluster_clients(&ca, ep, reader).await;
    engine_change(&c, &ca, &sc, ep, reader).await;
    // The DataStorage maximum is maxmemory, live.
    assert!(as_app(&ca, ep, &["CONFIG", "GET", "maxmemory"]).ends_with(&(1u64 << 30).to_string()));
    c.modify_serverless_cache()
        .serverless_cache_name(&sc)
        .cache_usage_limits(limits(2))
        .description("bigger")
        .send()
        .await
        .unwrap();
    let s = wait_available(&c, &sc).await;
    assert_eq!(s.description(), Some("bigger"));
    for e in [ep, reader] {
        assert!(
            as_app(&ca, e, &["CONFIG", "GET", "maxmemory"]).ends_with(&(2u64 << 30).to_string()),
            "maxmemory on {e}"
        );
    }

    // Snapshots hold the data.
    let snap = name("ss");
    c.create_serverless_cache_snapshot()
        .serverless_cache_snapshot_name(&snap)
        .serverless_cache_name(&sc)
        .send()
        .await
        .unwrap();
    let arn = wait_snapshot(&c, &snap).await;
    let copy = name("sscopy");
    c.copy_serverless_cache_snapshot()
        .source_serverless_cache_snapshot_name(&snap)
        .target_serverless_cache_snapshot_name(&copy)
        .send()
        .await
        .unwrap();
    wait_snapshot(&c, &copy).await;
    let listed = c
        .describe_serverless_cache_snapshots()
        .serverless_cache_name(&sc)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.serverless_cache_snapshots().len(), 2);
    // Node-based describes show none of it.
    let node_snaps = c.describe_snapshots().send().await.unwrap();
    assert!(node_snaps.snapshots().is_empty(), "{node_snaps:?}");
    let groups = c.describe_replication_groups().send().await.unwrap();
    assert!(groups.replication_groups().is_empty());
    std::fs::create_dir_all(b.data_dir.join("s3/exports")).unwrap();
    c.export_serverless_cache_snapshot()
        .serverless_cache_snapshot_name(&snap)
        .s3_bucket_name("exports")
        .send()
        .await
        .unwrap();
    wait_snapshot(&c, &snap).await;
    let exported = b.data_dir.join(format!("s3/exports/{snap}-0001.rdb"));
    eventually("the export is written", Duration::from_secs(30), || async {
        exported.exists().then_some(())
    })
    .await;
    c.delete_serverless_cache_snapshot()
        .serverless_cache_snapshot_name(&copy)
        .send()
        .await
        .unwrap();

    // Restored into a Valkey cache (no user group: the default user is open).
    let restored = name("scv");
    c.create_serverless_cache()
        .serverless_cache_name(&restored)
        .engine("valkey")
        .snapshot_arns_to_restore(&arn)
        .send()
        .await
        .unwrap();
    let v = wait_available(&c, &restored).await;
    assert_eq!(v.major_engine_version(), Some("8"));
    let (vep, _) = eps(&v);
    assert_eq!(cli(&ca, vep, None, &["GET", "k"]), "kept");

    // A node-based group restored from the serverless snapshot.
    let rg = name("fromsls");
    c.create_replication_group()
        .replication_group_id(&rg)
        .replication_group_description("from a serverless snapshot")
        .cache_node_type("cache.t3.micro")
        .serverless_cache_snapshot_name(&snap)
        .send()
        .await
        .unwrap();
    let g = eventually(
        "restored group available",
        Duration::from_secs(120),
        || async {
            let g = common::describe_group(&c, &rg).await?;
            (g.status() == Some("available")).then_some(g)
        },
    )
    .await;
    let pe = g.node_groups()[0].primary_endpoint().unwrap();
    let pe = common::ep(pe.address().unwrap(), pe.port().unwrap());
    assert_eq!(plain(pe, &["GET", "k"]), "kept");
    c.delete_replication_group()
        .replication_group_id(&rg)
        .send()
        .await
        .unwrap();

    // Deleting with a final snapshot.
    let fin = name("fin");
    c.delete_serverless_cache()
        .serverless_cache_name(&sc)
        .final_snapshot_name(&fin)
        .send()
        .await
        .unwrap();
    wait_gone(&c, &sc).await;
    wait_snapshot(&c, &fin).await;
    c.delete_serverless_cache()
        .serverless_cache_name(&restored)
        .send()
        .await
        .unwrap();

    // Memcached: TLS only; a Redis snapshot does not restore into it.
    let m = name("scm");
    assert_eq!(
        code(
            c.create_serverless_cache()
                .serverless_cache_name(&m)
                .engine("memcached")
                .snapshot_arns_to_restore(&arn)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    c.create_serverless_cache()
        .serverless_cache_name(&m)
        .engine("memcached")
        .cache_usage_limits(limits(1))
        .send()
        .await
        .unwrap();
    let mc = wait_available(&c, &m).await;
    assert_eq!(mc.major_engine_version(), Some("1.6"));
    let (mep, mreader) = eps(&mc);
    assert!(mreader.is_none());
    let out = memcached_tls(
        &ca,
        mep,
        "set k 5 0 4\r\nkept\r\nget k\r\nstats settings\r\n",
    );
    assert!(
        out.contains("STORED") && out.contains("VALUE k 5 4"),
        "{out}"
    );
    assert!(
        out.contains(&format!("STAT maxbytes {}", 1u64 << 30)),
        "{out}"
    );
    assert!(!plain(mep, &["PING"]).contains("PONG"));
    memcached_snapshots(&b, &c, &ca, &m, mep).await;
    assert_eq!(
        code(
            c.modify_serverless_cache()
                .serverless_cache_name(&m)
                .engine("valkey")
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    // Daily snapshots are settings a Memcached cache takes too; a final
    // snapshot holds its items.
    c.modify_serverless_cache()
        .serverless_cache_name(&m)
        .snapshot_retention_limit(2)
        .daily_snapshot_time("05:00")
        .send()
        .await
        .unwrap();
    let mfin = name("mcfin");
    // The settings reach the engines behind the cache first: until then the
    // delete answers "busy ... try again shortly", and a user tries again.
    eventually(
        "delete with a final snapshot",
        Duration::from_secs(30),
        || async {
            match c
                .delete_serverless_cache()
                .serverless_cache_name(&m)
                .final_snapshot_name(&mfin)
                .send()
                .await
            {
                Ok(_) => Some(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_invalid_serverless_cache_state_fault()) =>
                {
                    None
                }
                Err(e) => panic!("delete: {e:?}"),
            }
        },
    )
    .await;
    wait_gone(&c, &restored).await;
    wait_gone(&c, &m).await;
    wait_snapshot(&c, &mfin).await;
    let fin = c
        .describe_serverless_cache_snapshots()
        .serverless_cache_snapshot_name(&mfin)
        .send()
        .await
        .unwrap();
    assert!(
        fin.serverless_cache_snapshots()[0]
            .bytes_used_for_cache()
            .is_some(),
        "{fin:?}"
    );
    eventually("restored group gone", Duration::from_secs(60), || async {
        common::describe_group(&c, &rg)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        std::fs::read_dir(b.data_dir.join("nodes"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "every engine is gone"
    );
    let log = b.log_text();
    assert!(!log.contains(APP_PW), "a password reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_caches_on_every_runtime() {
    let mut tasks = Vec::new();
    for rt in common::runtimes() {
        tasks.push(tokio::spawn(async move { scenario(&rt).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Online migration into a serverless cache: a node-based cluster stands in
/// for the customer's Redis; its keys arrive in the cache, which keeps them
/// after `StopMigration`. And the bad input AWS refuses, with its codes.
#[tokio::test]
async fn serverless_migration_and_rules() {
    let b = Backend::start("process");
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let src = name("src");
    c.create_cache_cluster()
        .cache_cluster_id(&src)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    let cl = common::wait_cluster(&c, &src, "available").await;
    let node = common::node_ports(&cl)[0];
    assert_eq!(plain(node, &["SET", "migrated", "yes"]), "OK");
    let sc = name("mig");
    c.create_serverless_cache()
        .serverless_cache_name(&sc)
        .engine("valkey")
        .send()
        .await
        .unwrap();
    let s = wait_available(&c, &sc).await;
    let (ep, _) = eps(&s);
    let endpoint = CustomerNodeEndpoint::builder()
        .address(node.ip().to_string())
        .port(i32::from(node.port()))
        .build();
    assert_eq!(
        code(
            c.start_migration()
                .serverless_cache_name(&sc)
                .customer_node_endpoint_list(endpoint.clone())
                .send()
                .await
        ),
        "ServerlessCacheNotUnderMigrationFault"
    );
    let prepared = c
        .prepare_migration()
        .serverless_cache_name(&sc)
        .customer_node_endpoint_list(endpoint.clone())
        .send()
        .await
        .unwrap();
    let m = prepared.serverless_cache().unwrap().migration().unwrap();
    assert_eq!(m.status(), Some("prepared"));
    assert_eq!(
        code(
            c.prepare_migration()
                .serverless_cache_name(&sc)
                .customer_node_endpoint_list(endpoint.clone())
                .send()
                .await
        ),
        "ServerlessCacheAlreadyUnderMigrationFault"
    );
    c.start_migration()
        .serverless_cache_name(&sc)
        .customer_node_endpoint_list(endpoint.clone())
        .auto_cutover(false)
        .send()
        .await
        .unwrap();
    eventually(
        "the source's key arrives",
        Duration::from_secs(60),
        || async { (cli(&ca, ep, None, &["GET", "migrated"]) == "yes").then_some(()) },
    )
    .await;
    c.stop_migration()
        .serverless_cache_name(&sc)
        .send()
        .await
        .unwrap();
    eventually("the migration ends", Duration::from_secs(60), || async {
        let s = describe(&c, &sc).await?;
        (s.status() == Some("available") && s.migration().is_none()).then_some(())
    })
    .await;
    assert_eq!(cli(&ca, ep, None, &["GET", "migrated"]), "yes");
    assert_eq!(cli(&ca, ep, None, &["SET", "own", "write"]), "OK");
    assert_eq!(
        code(c.stop_migration().serverless_cache_name(&sc).send().await),
        "ServerlessCacheNotUnderMigrationFault"
    );

    // Bad input.
    let create = |engine: &str| {
        c.create_serverless_cache()
            .serverless_cache_name(name("bad"))
            .engine(engine)
    };
    assert_eq!(code(create("mysql").send().await), "InvalidParameterValue");
    assert_eq!(
        code(create("redis").major_engine_version("6").send().await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(create("redis").cache_usage_limits(limits(0)).send().await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            create("redis")
                .cache_usage_limits(limits(6000))
                .send()
                .await
        ),
        "InvalidParameterValue"
    );
    let min_above_max = CacheUsageLimits::builder()
        .data_storage(
            DataStorage::builder()
                .minimum(5)
                .maximum(2)
                .unit(DataStorageUnit::Gb)
                .build(),
        )
        .build();
    assert_eq!(
        code(
            create("redis")
                .cache_usage_limits(min_above_max)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    let low_ecpu = CacheUsageLimits::builder()
        .ecpu_per_second(EcpuPerSecond::builder().maximum(10).build())
        .build();
    assert_eq!(
        code(create("redis").cache_usage_limits(low_ecpu).send().await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            create("valkey")
                .connection_type(aws_sdk_elasticache::types::ConnectionType::Public)
                .send()
                .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(create("memcached").user_group_id("nope").send().await),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(create("redis").user_group_id("nope").send().await),
        "UserGroupNotFound"
    );
    assert_eq!(
        code(
            c.create_serverless_cache()
                .serverless_cache_name(&sc)
                .engine("redis")
                .send()
                .await
        ),
        "ServerlessCacheAlreadyExistsFault"
    );
    assert_eq!(
        code(
            c.describe_serverless_caches()
                .serverless_cache_name("nope")
                .send()
                .await
        ),
        "ServerlessCacheNotFoundFault"
    );
    assert_eq!(
        code(
            c.create_serverless_cache_snapshot()
                .serverless_cache_snapshot_name("s")
                .serverless_cache_name("nope")
                .send()
                .await
        ),
        "ServerlessCacheNotFoundFault"
    );
    assert_eq!(
        code(
            c.delete_serverless_cache_snapshot()
                .serverless_cache_snapshot_name("nope")
                .send()
                .await
        ),
        "ServerlessCacheSnapshotNotFoundFault"
    );
    c.delete_serverless_cache()
        .serverless_cache_name(&sc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            c.delete_serverless_cache()
                .serverless_cache_name(&sc)
                .send()
                .await
        ),
        "InvalidServerlessCacheStateFault"
    );
    wait_gone(&c, &sc).await;
    common::delete_cluster(&c, &src).await;
}

fn tls_config(mode: &str, cert: Option<&str>) -> SourceTlsConfiguration {
    SourceTlsConfiguration::builder()
        .source_tls_mode(TlsMode::from(mode))
        .set_source_tls_certificate(cert.map(str::to_owned))
        .build()
}

async fn cache_events(c: &Client, name: &str) -> Vec<String> {
    c.describe_events()
        .source_identifier(name)
        .source_type(aws_sdk_elasticache::types::SourceType::ServerlessCache)
        .duration(60)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect()
}

/// Online migration from a source that serves TLS (`SourceTlsConfiguration`
/// `verify-ca` with the source's CA): its keys arrive in the cache and stay
/// after `CompleteMigration`. With a certificate that does not verify the
/// source nothing is copied and the migration ends in a failure event. And
/// the TLS and AUTH configurations AWS refuses.
#[tokio::test]
async fn serverless_migration_from_a_tls_source() {
    let src = common::SourceRedis::tls();
    assert_eq!(
        cli(&src.ca_path(), src.addr(), None, &["SET", "k1", "over-tls"]),
        "OK"
    );
    assert_eq!(
        cli(&src.ca_path(), src.addr(), None, &["SET", "k2", "too"]),
        "OK"
    );
    let b = Backend::start("process");
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let sc = name("tlsmig");
    c.create_serverless_cache()
        .serverless_cache_name(&sc)
        .engine("valkey")
        .send()
        .await
        .unwrap();
    let s = wait_available(&c, &sc).await;
    let (ep, _) = eps(&s);
    let prepare = || {
        c.prepare_migration()
            .serverless_cache_name(&sc)
            .customer_node_endpoint_list(src.endpoint())
    };

    // What AWS refuses.
    let (_, stranger_cert, stranger_key) = common::own_ca("stranger", &["127.0.0.1"]);
    for bad in [
        tls_config("bogus", Some(&src.ca_pem())),
        tls_config("verify-ca", None),
        tls_config("verify-ca", Some("not a certificate")),
        tls_config(
            "verify-ca",
            Some("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
        ),
        tls_config("verify-ca", Some(&format!("{stranger_cert}{stranger_key}"))),
        tls_config("none", Some(&src.ca_pem())),
    ] {
        let out = prepare().source_tls_configuration(bad.clone()).send().await;
        assert_eq!(code(out), "InvalidParameterValue", "{bad:?}");
    }
    let auth = prepare()
        .source_authentication_configuration(
            SourceAuthenticationConfiguration::builder()
                .secret_manager_config(
                    SecretManagerAuthConfig::builder()
                        .secret_arn("arn:aws:secretsmanager:us-east-1:000000000000:secret:src")
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    let err = auth.unwrap_err();
    let msg = format!("{:?}", err.as_service_error());
    assert!(msg.contains("Secrets Manager"), "{msg}");
    assert!(describe(&c, &sc).await.unwrap().migration().is_none());

    // A certificate that does not verify the source: nothing migrates, and
    // the migration ends with an event saying so.
    let (wrong_ca, _, _) = common::own_ca("not the customer's CA", &["127.0.0.1"]);
    prepare()
        .source_tls_configuration(tls_config("verify-ca", Some(&wrong_ca)))
        .send()
        .await
        .unwrap();
    c.start_migration()
        .serverless_cache_name(&sc)
        .customer_node_endpoint_list(src.endpoint())
        .send()
        .await
        .unwrap();
    let failed = eventually(
        "the migration with the wrong certificate fails",
        Duration::from_secs(120),
        || async {
            let s = describe(&c, &sc).await?;
            if s.migration().is_some() || s.status() != Some("available") {
                return None;
            }
            cache_events(&c, &sc)
                .await
                .into_iter()
                .find(|m| m.contains("Failed to start migration"))
        },
    )
    .await;
    assert!(failed.contains("over TLS"), "{failed}");
    assert!(!failed.contains("BEGIN "), "{failed}");
    assert_eq!(cli(&ca, ep, None, &["GET", "k1"]), "");

    // The source's CA: its keys arrive through the cache's TLS endpoint.
    let prepared = prepare()
        .source_tls_configuration(tls_config("verify-ca", Some(&src.ca_pem())))
        .send()
        .await
        .unwrap();
    let m = prepared.serverless_cache().unwrap().migration().unwrap();
    assert_eq!(m.status(), Some("prepared"));
    c.start_migration()
        .serverless_cache_name(&sc)
        .customer_node_endpoint_list(src.endpoint())
        .send()
        .await
        .unwrap();
    eventually(
        "the source's keys arrive over TLS",
        Duration::from_secs(60),
        || async { (cli(&ca, ep, None, &["GET", "k1"]) == "over-tls").then_some(()) },
    )
    .await;
    eventually("in sync", Duration::from_secs(60), || async {
        let s = describe(&c, &sc).await?;
        (s.migration()?.status() == Some("in-sync")).then_some(())
    })
    .await;
    assert_eq!(
        cli(&src.ca_path(), src.addr(), None, &["SET", "k3", "live"]),
        "OK"
    );
    eventually("a live write follows", Duration::from_secs(60), || async {
        (cli(&ca, ep, None, &["GET", "k3"]) == "live").then_some(())
    })
    .await;
    c.complete_migration()
        .serverless_cache_name(&sc)
        .send()
        .await
        .unwrap();
    eventually(
        "the migration completes",
        Duration::from_secs(60),
        || async {
            let s = describe(&c, &sc).await?;
            (s.status() == Some("available") && s.migration().is_none()).then_some(())
        },
    )
    .await;
    assert_eq!(cli(&ca, ep, None, &["GET", "k2"]), "too");
    assert_eq!(cli(&ca, ep, None, &["SET", "own", "write"]), "OK");
    let log = b.log_text();
    // No certificate body (nor the key sent by mistake) reaches the log.
    let bodies = [src.ca_pem(), wrong_ca, stranger_key];
    let leaked: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("BEGIN ") || bodies.iter().any(|b| l.contains(&b[40..90])))
        .collect();
    assert!(
        leaked.is_empty(),
        "a certificate reached the log: {leaked:?}"
    );

    c.delete_serverless_cache()
        .serverless_cache_name(&sc)
        .send()
        .await
        .unwrap();
    wait_gone(&c, &sc).await;
}
