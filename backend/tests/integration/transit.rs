//! TLS in transit and AUTH tokens through the API, enforced by the engines and
//! checked with real clients (`redis-cli --tls --cacert`, the AWS SDK): a TLS +
//! AUTH group with failover and a token rotation, a cluster-mode TLS group that
//! reshards keeping its keys, `preferred` → `required`, a Memcached TLS cluster,
//! and the bad input AWS refuses.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::types::ReplicationGroup;
use aws_sdk_elasticache::Client;

use crate::common::{
    self, cli, cli_with, code, describe_group, eventually, fetch_ca, name, plain, Backend, Ep,
};

async fn wait_available(c: &Client, id: &str) -> ReplicationGroup {
    eventually(
        &format!("{id} available"),
        Duration::from_secs(180),
        || async {
            let g = describe_group(c, id).await?;
            (g.status() == Some("available")).then_some(g)
        },
    )
    .await
}

fn primary_ep(g: &ReplicationGroup) -> Ep {
    let e = g.node_groups()[0].primary_endpoint().unwrap();
    common::ep(e.address().unwrap(), e.port().unwrap())
}

fn reader_ep(g: &ReplicationGroup) -> Ep {
    let e = g.node_groups()[0].reader_endpoint().unwrap();
    common::ep(e.address().unwrap(), e.port().unwrap())
}

fn member_eps(g: &ReplicationGroup) -> Vec<Ep> {
    g.node_groups()
        .iter()
        .flat_map(|ng| ng.node_group_members())
        .filter_map(|m| m.read_endpoint())
        .map(|e| common::ep(e.address().unwrap(), e.port().unwrap()))
        .collect()
}

const TOK1: &str = "Token-one-0123456789";
const TOK2: &str = "Token-two-0123456789";

/// A 1+2 group with TLS and an AUTH token: every node enforces the token over
/// TLS; data replicates; a failover keeps the primary endpoint; a ROTATE
/// accepts both tokens, a SET only the new one, on every node. No token in the
/// backend's log or the engines' command lines.
async fn tls_auth_group(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let id = name("ta");
    let started = Instant::now();
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("tls auth")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(3)
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .auth_token(TOK1)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    println!(
        "TIMING runtime={runtime} rg_tls_auth_1p2r_create_to_available_ms={}",
        started.elapsed().as_millis()
    );
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(
        g.transit_encryption_mode().map(|m| m.as_str()),
        Some("required")
    );
    assert_eq!(g.auth_token_enabled(), Some(true));
    assert!(g.auth_token_last_modified_date().is_some());
    let (pe, re) = (primary_ep(&g), reader_ep(&g));

    // The token is required, over TLS only, on the endpoints and every node.
    assert!(cli(&ca, pe, None, &["PING"]).contains("NOAUTH"));
    assert_eq!(cli(&ca, pe, Some(TOK1), &["PING"]), "PONG");
    assert!(!plain(pe, &["PING"]).contains("PONG"));
    assert_eq!(cli(&ca, pe, Some(TOK1), &["SET", "k", "v1"]), "OK");
    for m in member_eps(&g) {
        assert!(cli(&ca, m, None, &["PING"]).contains("NOAUTH"), "{m}");
        let got = eventually("the key on every node", Duration::from_secs(20), || async {
            let v = cli(&ca, m, Some(TOK1), &["GET", "k"]);
            (v == "v1").then_some(v)
        })
        .await;
        assert_eq!(got, "v1");
    }
    assert_eq!(cli(&ca, re, Some(TOK1), &["GET", "k"]), "v1");

    // A failover: the primary endpoint follows, over TLS, with the data.
    let primary = g.node_groups()[0]
        .node_group_members()
        .iter()
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .unwrap()
        .to_owned();
    c.test_failover()
        .replication_group_id(&id)
        .node_group_id("0001")
        .send()
        .await
        .unwrap();
    eventually("a new primary", Duration::from_secs(120), || async {
        let g = describe_group(&c, &id).await?;
        let p = g.node_groups()[0]
            .node_group_members()
            .iter()
            .find(|m| m.current_role() == Some("primary"))?
            .cache_cluster_id()?
            .to_owned();
        (g.status() == Some("available") && p != primary).then_some(g)
    })
    .await;
    eventually(
        "writes after the failover",
        Duration::from_secs(30),
        || async { (cli(&ca, pe, Some(TOK1), &["SET", "k2", "v2"]) == "OK").then_some(()) },
    )
    .await;
    assert_eq!(cli(&ca, pe, Some(TOK1), &["GET", "k"]), "v1");

    // SET before any ROTATE is refused, as on AWS.
    let set_first = c
        .modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOK2)
        .auth_token_update_strategy("SET".into())
        .apply_immediately(true)
        .send()
        .await;
    assert_eq!(code(set_first), "InvalidParameterCombination");

    // ROTATE: both tokens work, on every node.
    c.modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOK2)
        .auth_token_update_strategy("ROTATE".into())
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    for m in member_eps(&g).into_iter().chain([pe, re]) {
        eventually("both tokens", Duration::from_secs(30), || async {
            (cli(&ca, m, Some(TOK1), &["PING"]) == "PONG"
                && cli(&ca, m, Some(TOK2), &["PING"]) == "PONG")
                .then_some(())
        })
        .await;
    }
    // SET: only the new one.
    c.modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOK2)
        .auth_token_update_strategy("SET".into())
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    for m in member_eps(&g).into_iter().chain([pe, re]) {
        eventually("only the new token", Duration::from_secs(30), || async {
            (cli(&ca, m, Some(TOK1), &["PING"]).contains("WRONGPASS")
                && cli(&ca, m, Some(TOK2), &["PING"]) == "PONG"
                && cli(&ca, m, None, &["PING"]).contains("NOAUTH"))
            .then_some(())
        })
        .await;
    }
    // DELETE needs a move to RBAC (user groups).
    let delete = c
        .modify_replication_group()
        .replication_group_id(&id)
        .auth_token_update_strategy("DELETE".into())
        .apply_immediately(true)
        .send()
        .await;
    assert_eq!(code(delete), "InvalidParameterCombination");

    // The tokens never reach the log, the answers or a command line.
    let log = b.log_text();
    for t in [TOK1, TOK2] {
        assert!(!log.contains(t), "token in the backend's log");
    }
    if runtime == "docker" {
        let out = std::process::Command::new("docker")
            .args(["ps", "-q", "--no-trunc"])
            .output()
            .unwrap();
        for cid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let inspect = std::process::Command::new("docker")
                .args(["inspect", cid])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&inspect.stdout);
            for t in [TOK1, TOK2] {
                assert!(!text.contains(t), "token in docker inspect");
            }
        }
    }

    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group gone", Duration::from_secs(60), || async {
        describe_group(&c, &id).await.is_none().then_some(())
    })
    .await;
}

/// A cluster-mode group with TLS: a cluster client (`redis-cli -c --tls`)
/// through the configuration endpoint; adding a shard moves slots and keys
/// over the TLS bus, and every key is still there.
async fn tls_cluster_mode(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let id = name("tc");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("tls cluster")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .num_node_groups(2)
        .replicas_per_node_group(1)
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .auth_token(TOK1)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    let e = g.configuration_endpoint().unwrap();
    let cfg = common::ep(e.address().unwrap(), e.port().unwrap());
    let keys: Vec<String> = (0..40).map(|i| format!("key-{i}")).collect();
    for k in &keys {
        let r = cli_with(&ca, cfg, Some(TOK1), true, &["SET", k, k]);
        assert_eq!(r, "OK", "SET {k}: {r}");
    }
    c.modify_replication_group_shard_configuration()
        .replication_group_id(&id)
        .node_group_count(3)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = eventually("3 shards", Duration::from_secs(180), || async {
        let g = describe_group(&c, &id).await?;
        (g.status() == Some("available") && g.node_groups().len() == 3).then_some(g)
    })
    .await;
    for k in &keys {
        let r = cli_with(&ca, cfg, Some(TOK1), true, &["GET", k]);
        assert_eq!(&r, k, "GET {k} after resharding");
    }
    // The keys are spread over the 3 primaries: slots moved with their keys.
    assert_eq!(g.node_groups().len(), 3);
    let nodes = cli(&ca, cfg, Some(TOK1), &["CLUSTER", "NODES"]);
    let mut total = 0;
    let mut primaries = 0;
    for line in nodes.lines().filter(|l| l.contains("master")) {
        let addr = line.split_whitespace().nth(1).unwrap();
        let addr: Ep = addr.split('@').next().unwrap().parse().unwrap();
        let n: usize = cli(&ca, addr, Some(TOK1), &["DBSIZE"]).parse().unwrap();
        total += n;
        primaries += 1;
    }
    assert_eq!(primaries, 3, "{nodes}");
    assert_eq!(total, keys.len());
    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group gone", Duration::from_secs(60), || async {
        describe_group(&c, &id).await.is_none().then_some(())
    })
    .await;
}

/// `preferred` accepts plaintext and TLS on the same endpoint port; then
/// `required` refuses plaintext and keeps the data.
async fn preferred_then_required(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let ca = fetch_ca(&b).await;
    let id = name("tp");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("preferred")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    assert_eq!(g.transit_encryption_enabled(), Some(false));
    let pe = primary_ep(&g);
    assert_eq!(plain(pe, &["SET", "k", "v"]), "OK");
    // Straight to `required` is refused: TLS goes on as `preferred` first.
    let direct = c
        .modify_replication_group()
        .replication_group_id(&id)
        .transit_encryption_enabled(true)
        .transit_encryption_mode("required".into())
        .apply_immediately(true)
        .send()
        .await;
    assert_eq!(code(direct), "InvalidParameterCombination");
    c.modify_replication_group()
        .replication_group_id(&id)
        .transit_encryption_enabled(true)
        .transit_encryption_mode("preferred".into())
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    assert_eq!(
        g.transit_encryption_mode().map(|m| m.as_str()),
        Some("preferred")
    );
    for ep in [primary_ep(&g), reader_ep(&g)] {
        eventually("plaintext and TLS", Duration::from_secs(30), || async {
            (plain(ep, &["GET", "k"]) == "v" && cli(&ca, ep, None, &["GET", "k"]) == "v")
                .then_some(())
        })
        .await;
    }
    c.modify_replication_group()
        .replication_group_id(&id)
        .transit_encryption_mode("required".into())
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    assert_eq!(
        g.transit_encryption_mode().map(|m| m.as_str()),
        Some("required")
    );
    for ep in [primary_ep(&g), reader_ep(&g)] {
        eventually("TLS only", Duration::from_secs(30), || async {
            (plain(ep, &["GET", "k"]) != "v" && cli(&ca, ep, None, &["GET", "k"]) == "v")
                .then_some(())
        })
        .await;
    }
    // A ROTATE onto the token-less group: the token (as `AUTH default <token>`,
    // see docs/compatibility.md) and unauthenticated clients are both accepted
    // until a SET; then only the token.
    c.modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOK1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    assert_eq!(g.auth_token_enabled(), Some(true));
    let pe = primary_ep(&g);
    eventually("token and no token", Duration::from_secs(30), || async {
        (cli(&ca, pe, Some(TOK1), &["--user", "default", "GET", "k"]) == "v"
            && cli(&ca, pe, None, &["GET", "k"]) == "v")
            .then_some(())
    })
    .await;
    c.modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOK1)
        .auth_token_update_strategy("SET".into())
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_available(&c, &id).await;
    eventually("the token only", Duration::from_secs(30), || async {
        (cli(&ca, pe, Some(TOK1), &["GET", "k"]) == "v"
            && cli(&ca, pe, None, &["GET", "k"]).contains("NOAUTH"))
        .then_some(())
    })
    .await;
    c.delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap();
    eventually("group gone", Duration::from_secs(60), || async {
        describe_group(&c, &id).await.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_auth_tokens_on_every_runtime() {
    let mut tasks = Vec::new();
    for rt in common::runtimes() {
        tasks.push(tokio::spawn(async move {
            tls_auth_group(&rt).await;
            preferred_then_required(&rt).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cluster_mode_reshards() {
    let mut tasks = Vec::new();
    for rt in common::one_runtime() {
        tasks.push(tokio::spawn(async move { tls_cluster_mode(&rt).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// What AWS refuses, with its codes; and a Memcached TLS cluster.
#[tokio::test]
async fn tls_and_auth_rules() {
    let b = Backend::start("process");
    let c = b.client();
    let rg = |id: &str| {
        c.create_replication_group()
            .replication_group_id(id)
            .replication_group_description("rules")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(1)
    };
    // A short token; a token without TLS; a mode without TLS; a bad mode;
    // a token with `preferred`.
    let short = rg("r1")
        .transit_encryption_enabled(true)
        .auth_token("short")
        .send()
        .await;
    assert_eq!(code(short), "InvalidParameterValue");
    let bad_chars = rg("r1")
        .transit_encryption_enabled(true)
        .auth_token("has/a/slash-0123456789")
        .send()
        .await;
    assert_eq!(code(bad_chars), "InvalidParameterValue");
    let no_tls = rg("r1").auth_token(TOK1).send().await;
    assert_eq!(code(no_tls), "InvalidParameterCombination");
    let mode_alone = rg("r1")
        .transit_encryption_mode("required".into())
        .send()
        .await;
    assert_eq!(code(mode_alone), "InvalidParameterCombination");
    let preferred_auth = rg("r1")
        .transit_encryption_enabled(true)
        .transit_encryption_mode("preferred".into())
        .auth_token(TOK1)
        .send()
        .await;
    assert_eq!(code(preferred_auth), "InvalidParameterCombination");
    // Redis cache clusters take no TLS (a replication group does).
    let redis_cc = c
        .create_cache_cluster()
        .cache_cluster_id("r2")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .transit_encryption_enabled(true)
        .send()
        .await;
    assert_eq!(code(redis_cc), "InvalidParameterCombination");
    // Nothing was made.
    assert!(describe_group(&c, "r1").await.is_none());

    // Memcached with TLS: version over TLS, plaintext refused.
    let id = name("mt");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .transit_encryption_enabled(true)
        .send()
        .await
        .unwrap();
    let cc = common::wait_cluster(&c, &id, "available").await;
    assert_eq!(cc.transit_encryption_enabled(), Some(true));
    let node = common::node_ports(&cc)[0];
    let ca = fetch_ca(&b).await;
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile"])
        .arg(&ca)
        .args(["-connect", &node.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin.take().unwrap().write_all(b"version\r\nquit\r\n")?;
            ch.wait_with_output()
        })
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("VERSION "),
        "{out:?}"
    );
    let plain_answer = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(node).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"version\r\n");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(!plain_answer.starts_with("VERSION"), "{plain_answer}");
    common::delete_cluster(&c, &id).await;
}

/// Encryption at rest: a group's snapshot is written encrypted under the
/// backend's key store (no plaintext value in the file), and a group restored
/// from it has the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rest_encryption_of_backups_on_every_runtime() {
    for rt in common::runtimes() {
        at_rest(&rt).await;
    }
}

async fn at_rest(runtime: &str) {
    let b = Backend::start(runtime);
    let c = b.client();
    let id = name("ar");
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("at rest")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .at_rest_encryption_enabled(true)
        .send()
        .await
        .unwrap();
    let g = wait_available(&c, &id).await;
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(
        g.storage_encryption_type().map(|t| t.as_str()),
        Some("sse-elasticache")
    );
    let secret = "at-rest-plaintext-value-4711";
    assert_eq!(plain(primary_ep(&g), &["SET", "k", secret]), "OK");
    let snap = name("ars");
    c.create_snapshot()
        .replication_group_id(&id)
        .snapshot_name(&snap)
        .send()
        .await
        .unwrap();
    eventually("snapshot available", Duration::from_secs(90), || async {
        let s = c
            .describe_snapshots()
            .snapshot_name(&snap)
            .send()
            .await
            .ok()?;
        (s.snapshots().first()?.snapshot_status() == Some("available")).then_some(())
    })
    .await;
    let files: Vec<PathBuf> = walk(&b.data_dir.join("snapshots"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rdb"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    assert!(bytes.starts_with(elasticache_local::atrest::MAGIC));
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "plaintext in the snapshot file"
    );
    // A group restored from it has the data.
    let id2 = name("arr");
    c.create_replication_group()
        .replication_group_id(&id2)
        .replication_group_description("restored")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .snapshot_name(&snap)
        .send()
        .await
        .unwrap();
    let g2 = wait_available(&c, &id2).await;
    assert_eq!(plain(primary_ep(&g2), &["GET", "k"]), secret);
    // KmsKeyId needs at-rest encryption.
    let r = c
        .create_replication_group()
        .replication_group_id(name("kms-alone"))
        .replication_group_description("kms")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(1)
        .kms_key_id("alias/mine")
        .send()
        .await;
    assert_eq!(code(r), "InvalidParameterCombination");
    for g in [&id, &id2] {
        c.delete_replication_group()
            .replication_group_id(g)
            .send()
            .await
            .unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
