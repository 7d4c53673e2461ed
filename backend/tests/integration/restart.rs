//! Persistence: the backend is killed and started again on the same data
//! directory; resources and engines survive, deleted ones leave nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_elasticache::types::ParameterNameValue;

use crate::common::{
    self, cleanup_engines, config_get, delete_cluster, memcached, node_ports, port_open,
    redis_conn, wait_cluster, wait_port_closed, Backend,
};

/// Removes every engine under a data directory, even when the test fails.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        cleanup_engines(&self.0);
    }
}

/// How many engines serve `addr`: processes (by their title or arguments) or
/// containers (by the published-address label).
fn engines_on_port(runtime: &str, addr: crate::common::Ep) -> usize {
    let (ip, port) = (addr.ip().to_string(), addr.port().to_string());
    if runtime == "docker" {
        let label = if addr.ip().is_loopback() && ip == "127.0.0.1" {
            port.clone()
        } else {
            addr.to_string()
        };
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=elasticache-local.port={label}"),
            ])
            .output()
            .unwrap();
        return String::from_utf8_lossy(&out.stdout).lines().count();
    }
    let out = Command::new("ps").args(["-eo", "args="]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("redis-server") || l.contains("memcached"))
        .filter(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            let flag = |names: &[&str], want: &str| {
                toks.windows(2)
                    .any(|w| names.contains(&w[0]) && w[1] == want)
            };
            toks.iter().any(|t| *t == addr.to_string())
                || (flag(&["--port", "-p"], &port) && flag(&["--bind", "-l"], &ip))
        })
        .count()
}

/// Containers labelled as nodes whose key mentions `id`.
fn containers_of(id: &str) -> usize {
    let Ok(out) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            r#"{{.Label "elasticache-local.node"}}"#,
            "--filter",
            "label=elasticache-local.node",
        ])
        .output()
    else {
        return 0;
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(id))
        .count()
}

fn node_dirs(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("nodes"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_resources_and_readopts_engines() {
    for rt in common::runtimes() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-restart-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = Backend::start_in(&rt, &dir, port);
        let c = b.client();
        let pg = common::name("rpg");
        let sg = common::name("rsg");
        let rid = common::name("rredis");
        let mid = common::name("rmc");
        let gone = common::name("rgone");
        c.create_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .cache_parameter_group_family("redis7")
            .description("survives")
            .send()
            .await
            .unwrap();
        c.modify_cache_parameter_group()
            .cache_parameter_group_name(&pg)
            .parameter_name_values(
                ParameterNameValue::builder()
                    .parameter_name("maxmemory-policy")
                    .parameter_value("allkeys-lfu")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        c.create_cache_subnet_group()
            .cache_subnet_group_name(&sg)
            .cache_subnet_group_description("survives")
            .subnet_ids("subnet-0aaaaaaaaaaaaaaa1")
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&rid)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .cache_parameter_group_name(&pg)
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&mid)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(2)
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&gone)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        let redis_before = wait_cluster(&c, &rid, "available").await;
        let mc_before = wait_cluster(&c, &mid, "available").await;
        let gone_cl = wait_cluster(&c, &gone, "available").await;
        let gone_port = node_ports(&gone_cl)[0];
        delete_cluster(&c, &gone).await;
        wait_port_closed(gone_port).await;
        let rport = node_ports(&redis_before)[0];
        let mut conn = redis_conn(rport).await;
        let _: () = redis::cmd("SET")
            .arg("survivor")
            .arg("yes")
            .query_async(&mut conn)
            .await
            .unwrap();
        drop(conn);
        let mc_ports = node_ports(&mc_before);
        assert_eq!(
            memcached(mc_ports[0], "set m 0 0 2\r\nok\r\n").await,
            ["STORED"]
        );
        let cfg_port = {
            let e = mc_before.configuration_endpoint().unwrap();
            crate::common::ep(e.address().unwrap(), e.port().unwrap())
        };
        let pg_before = c
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(&pg)
            .send()
            .await
            .unwrap();
        let sg_before = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&sg)
            .send()
            .await
            .unwrap();

        // Crash, and start again on the same data directory.
        b.kill();
        let port2 = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let b = Backend::start_in(&rt, &dir, port2);
        let c = b.client();
        let redis_after = wait_cluster(&c, &rid, "available").await;
        let mc_after = wait_cluster(&c, &mid, "available").await;
        for (before, after) in [(&redis_before, &redis_after), (&mc_before, &mc_after)] {
            assert_eq!(before.arn(), after.arn());
            assert_eq!(before.engine_version(), after.engine_version());
            assert_eq!(before.cache_node_type(), after.cache_node_type());
            assert_eq!(before.num_cache_nodes(), after.num_cache_nodes());
            assert_eq!(
                before.cache_cluster_create_time(),
                after.cache_cluster_create_time()
            );
            assert_eq!(
                before.cache_subnet_group_name(),
                after.cache_subnet_group_name()
            );
            assert_eq!(
                before
                    .cache_parameter_group()
                    .unwrap()
                    .cache_parameter_group_name(),
                after
                    .cache_parameter_group()
                    .unwrap()
                    .cache_parameter_group_name()
            );
            assert_eq!(node_ports(before), node_ports(after));
            assert_eq!(
                before.configuration_endpoint(),
                after.configuration_endpoint()
            );
        }
        assert_eq!(
            pg_before.cache_parameter_groups(),
            c.describe_cache_parameter_groups()
                .cache_parameter_group_name(&pg)
                .send()
                .await
                .unwrap()
                .cache_parameter_groups()
        );
        assert_eq!(
            sg_before.cache_subnet_groups(),
            c.describe_cache_subnet_groups()
                .cache_subnet_group_name(&sg)
                .send()
                .await
                .unwrap()
                .cache_subnet_groups()
        );
        assert_eq!(
            common::code(
                c.describe_cache_clusters()
                    .cache_cluster_id(&gone)
                    .send()
                    .await
            ),
            "CacheClusterNotFound"
        );

        // Events survived too.
        let events = c
            .describe_events()
            .source_type(aws_sdk_elasticache::types::SourceType::CacheCluster)
            .source_identifier(&rid)
            .send()
            .await
            .unwrap();
        assert!(
            events
                .events()
                .iter()
                .any(|e| e.message().unwrap_or_default().contains("created")),
            "{:?}",
            events.events()
        );

        // The Redis engine was re-adopted: same port, same data, one engine.
        let mut conn = redis_conn(rport).await;
        let v: Option<String> = redis::cmd("GET")
            .arg("survivor")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("yes"));
        drop(conn);
        assert_eq!(config_get(rport, "maxmemory-policy").await, "allkeys-lfu");
        assert_eq!(engines_on_port(&rt, rport), 1, "engines on {rport}");
        for p in &mc_ports {
            assert_eq!(engines_on_port(&rt, *p), 1, "engines on {p}");
        }
        assert_eq!(
            memcached(mc_ports[0], "get m\r\n").await,
            ["VALUE m 0 2", "ok", "END"]
        );
        // The configuration endpoint answers again.
        common::eventually("config endpoint", Duration::from_secs(30), || async {
            port_open(cfg_port).then_some(())
        })
        .await;
        let (_, nodes) = crate::sdk_clusters::config_cluster(cfg_port).await;
        assert_eq!(nodes.len(), 2, "{nodes:?}");

        // The deleted cluster left nothing.
        assert!(!port_open(gone_port));
        assert!(
            !node_dirs(&dir).iter().any(|d| d.contains(&gone)),
            "{:?}",
            node_dirs(&dir)
        );
        assert_eq!(containers_of(&gone), 0);

        // Delete everything: nothing is left.
        delete_cluster(&c, &rid).await;
        delete_cluster(&c, &mid).await;
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
        wait_port_closed(rport).await;
        for p in mc_ports.iter().chain([&cfg_port]) {
            wait_port_closed(*p).await;
        }
        assert_eq!(engines_on_port(&rt, rport), 0);
        assert_eq!(containers_of(&rid) + containers_of(&mid), 0);
        common::eventually("nodes/ empty", Duration::from_secs(30), || async {
            node_dirs(&dir).is_empty().then_some(())
        })
        .await;
        drop(b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_interrupted_by_a_crash_completes_after_restart() {
    for rt in common::runtimes() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-restart-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let mut b = Backend::start_in(&rt, &dir, free());
        let c = b.client();
        let id = common::name("crashdel");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        let port = node_ports(&cl)[0];
        c.delete_cache_cluster()
            .cache_cluster_id(&id)
            .send()
            .await
            .unwrap();
        // Crash right away: the deletion may or may not have finished.
        b.kill();
        let b = Backend::start_in(&rt, &dir, free());
        let c = b.client();
        common::wait_cluster_gone(&c, &id).await;
        wait_port_closed(port).await;
        assert_eq!(containers_of(&id), 0);
        common::eventually("nodes/ empty", Duration::from_secs(30), || async {
            node_dirs(&dir).is_empty().then_some(())
        })
        .await;
        drop(b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_operation_and_dead_engine_recover_after_restart() {
    for rt in common::runtimes() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-restart-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let mut b = Backend::start_in(&rt, &dir, free());
        let c = b.client();
        let modified = common::name("crashmod");
        let dead = common::name("crashdead");
        let fresh = common::name("crashnew");
        for id in [&modified, &dead] {
            c.create_cache_cluster()
                .cache_cluster_id(id)
                .engine("redis")
                .cache_node_type("cache.t3.micro")
                .send()
                .await
                .unwrap();
        }
        let cl = wait_cluster(&c, &modified, "available").await;
        let mport = node_ports(&cl)[0];
        let mut conn = redis_conn(mport).await;
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("kept")
            .query_async(&mut conn)
            .await
            .unwrap();
        drop(conn);
        let cl = wait_cluster(&c, &dead, "available").await;
        let dport = node_ports(&cl)[0];
        // A modification and a creation in flight when the backend dies.
        c.modify_cache_cluster()
            .cache_cluster_id(&modified)
            .cache_node_type("cache.t3.small")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        c.create_cache_cluster()
            .cache_cluster_id(&fresh)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(2)
            .send()
            .await
            .unwrap();
        b.kill();
        // An engine dies while the backend is down.
        let mut conn = redis_conn(dport).await;
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query_async(&mut conn)
            .await;
        drop(conn);
        wait_port_closed(dport).await;

        let b = Backend::start_in(&rt, &dir, free());
        let c = b.client();
        let cl = common::eventually("modification resumed", Duration::from_secs(90), || async {
            let cl = wait_cluster(&c, &modified, "available").await;
            (cl.cache_node_type() == Some("cache.t3.small")).then_some(cl)
        })
        .await;
        assert_eq!(node_ports(&cl), [mport]);
        let mut conn = redis_conn(mport).await;
        let v: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("kept"));
        drop(conn);
        assert_eq!(engines_on_port(&rt, mport), 1);
        let cl = wait_cluster(&c, &fresh, "available").await;
        assert_eq!(cl.cache_nodes().len(), 2);
        for p in node_ports(&cl) {
            assert!(memcached(p, "version\r\n").await[0].starts_with("VERSION "));
        }
        wait_cluster(&c, &dead, "available").await;
        common::eventually("dead engine restarted", Duration::from_secs(60), || async {
            port_open(dport).then_some(())
        })
        .await;
        assert_eq!(engines_on_port(&rt, dport), 1);

        for id in [&modified, &dead, &fresh] {
            delete_cluster(&c, id).await;
        }
        common::eventually("nodes/ empty", Duration::from_secs(30), || async {
            node_dirs(&dir).is_empty().then_some(())
        })
        .await;
        drop(b);
    }
}

/// Issue 17: a node directory nobody owns (its record was never stored, or its
/// cluster's deletion was cut off after the engine stopped), with or without
/// an engine still running in it, is removed when the backend starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_directories_nobody_owns_are_removed_at_start() {
    let tmp = tempfile::Builder::new()
        .prefix("ec-restart-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let _guard = Guard(dir.clone());
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    // One empty directory, one with the files a start writes first, one with a
    // live engine that was never recorded (no node.json, no pid file).
    let nodes = dir.join("nodes");
    let empty = "000000000000-us-east-1-neverstored-0001";
    let files = "000000000000-us-east-1-halfstarted-0001";
    let running = "000000000000-us-east-1-unrecorded-0001";
    for d in [empty, files, running] {
        std::fs::create_dir_all(nodes.join(d)).unwrap();
    }
    std::fs::write(nodes.join(files).join("node.conf"), "# nothing\n").unwrap();
    let port = free();
    /// Kills the test's own engine, even when the test fails.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut engine = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .current_dir(nodes.join(running))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(Child)
        .unwrap();
    common::eventually("engine up", Duration::from_secs(10), || async {
        port_open(crate::common::ep("127.0.0.1", i32::from(port))).then_some(())
    })
    .await;
    let b = Backend::start_in("process", &dir, free());
    common::eventually(
        "orphaned node directories removed",
        Duration::from_secs(30),
        || async { node_dirs(&dir).is_empty().then_some(()) },
    )
    .await;
    // The unrecorded engine was stopped with its directory.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while engine.0.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the unrecorded engine still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(b);
}

/// Issue 17: the backend killed between starting an engine and recording it
/// (no `node.json`, no pid file): the next start still finds that engine in
/// the node's directory, adopts or replaces it, and a delete stops it.
/// (Debian's `redis-server` runs as the executable `redis-check-rdb`: the
/// engine is known by the name it runs as.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_started_but_not_recorded_is_adopted_and_deleted() {
    let tmp = tempfile::Builder::new()
        .prefix("ec-restart-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let _guard = Guard(dir.clone());
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let mut b = Backend::start_in("process", &dir, free());
    let c = b.client();
    let id = common::name("unrec");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .unwrap();
    let cl = wait_cluster(&c, &id, "available").await;
    let port = node_ports(&cl)[0];
    b.kill();
    let node = node_dirs(&dir)
        .into_iter()
        .find(|d| d.contains(&id))
        .unwrap();
    for f in ["node.json", "node.pid"] {
        std::fs::remove_file(dir.join("nodes").join(&node).join(f)).unwrap();
    }
    let b = Backend::start_in("process", &dir, free());
    let c = b.client();
    wait_cluster(&c, &id, "available").await;
    // Adopted, or stopped and started again: one engine serves the node.
    common::eventually(
        "one engine on the node's port",
        Duration::from_secs(30),
        || async { (engines_on_port("process", port) == 1 && port_open(port)).then_some(()) },
    )
    .await;
    delete_cluster(&c, &id).await;
    common::wait_cluster_gone(&c, &id).await;
    wait_port_closed(port).await;
    drop(b);
}

/// A stop by SIGTERM (Ctrl-C, `docker stop`, systemd) exits 0 at once, says
/// so, and loses nothing: the next start has the cluster, its engine still
/// answering with the data it held, and takes changes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_by_sigterm_exits_cleanly_and_keeps_everything() {
    for rt in common::one_runtime() {
        let tmp = tempfile::Builder::new()
            .prefix("ec-stop-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let _guard = Guard(dir.clone());
        let port = common::free_port();
        let mut b = Backend::start_in(&rt, &dir, port);
        let c = b.client();
        let id = common::name("stopped");
        c.create_cache_cluster()
            .cache_cluster_id(&id)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        let cl = wait_cluster(&c, &id, "available").await;
        let node = node_ports(&cl)[0];
        let stored = memcached(node, "set k 0 0 5\r\nhello\r\n").await;
        assert_eq!(stored, vec!["STORED"]);

        let status = b.stop();
        assert!(status.success(), "exit status after SIGTERM: {status}");
        assert!(
            b.log_text().contains("stopped: the database is closed"),
            "{}",
            b.log_text()
        );

        let b = Backend::start_in(&rt, &dir, port);
        let c = b.client();
        let cl = wait_cluster(&c, &id, "available").await;
        assert_eq!(node_ports(&cl), vec![node]);
        assert_eq!(
            memcached(node, "get k\r\n").await,
            vec!["VALUE k 0 5", "hello", "END"]
        );
        let other = common::name("after");
        c.create_cache_cluster()
            .cache_cluster_id(&other)
            .engine("memcached")
            .cache_node_type("cache.t3.micro")
            .send()
            .await
            .unwrap();
        wait_cluster(&c, &other, "available").await;
        drop(b);
    }
}
