//! The backend as a container image (backend/image/): built FROM scratch here,
//! run on the host's network with the Docker socket mounted and endpoints
//! advertised at the Docker bridge's gateway (where the host and other
//! containers reach it), driven with the AWS CLI; the node answers PING at the
//! endpoint the API gives; and run on a user-defined bridge network instead
//! (as a GitHub Actions service container runs), its engines in its network
//! namespace, endpoints at its address on the network, reached from the host
//! and from another container there. Runs with the Docker runtime under test
//! only.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common;

const TAG: &str = "elasticache-local:itest";

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn aws(port: u16, args: &[&str]) -> String {
    text(&run(Command::new("aws")
        .args([
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
            "--output",
            "text",
        ])
        .arg("elasticache")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")))
}

/// Wait until the backend in container `name` answers `GET /_health` on
/// `port` (30 s at most; its log otherwise).
fn wait_served(port: u16, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/_health")])
            .output()
            .is_ok_and(|o| o.status.success());
        if up {
            return;
        }
        let logs = Command::new("docker")
            .args(["logs", name])
            .output()
            .unwrap();
        assert!(
            Instant::now() < deadline,
            "the container did not serve: {}",
            String::from_utf8_lossy(&logs.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Create a one-node Redis cluster `id` through the AWS CLI.
fn create_redis(port: u16, id: &str) {
    aws(
        port,
        &[
            "create-cache-cluster",
            "--cache-cluster-id",
            id,
            "--engine",
            "redis",
            "--cache-node-type",
            "cache.t3.micro",
            "--num-cache-nodes",
            "1",
        ],
    );
}

/// Removes the backend's container and any engine container left behind.
struct Cleanup {
    name: String,
    dir: tempfile::TempDir,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
        common::cleanup_engines(self.dir.path());
    }
}

fn images_json() -> String {
    let v = std::env::var("ELASTICACHE_IMAGES").unwrap_or_default();
    if Path::new(&v).is_file() {
        std::fs::read_to_string(&v).unwrap()
    } else {
        v
    }
}

/// The image, built once for the tests of this file.
fn build_image() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        run(Command::new(root.join("image/build.sh"))
            .arg(env!("CARGO_BIN_EXE_elasticache-local"))
            .arg(TAG));
    });
}

#[test]
fn backend_image_runs_with_the_docker_runtime_and_serves_reachable_endpoints() {
    if !common::runtimes().iter().any(|r| r == "docker") {
        eprintln!("skipped: the Docker runtime is not under test (ELASTICACHE_TEST_RUNTIMES)");
        return;
    }
    build_image();
    // The bridge's gateway; a daemon that assigned it itself lists only the
    // subnet, whose first address the gateway then is (172.17.0.1).
    let ipam = text(&run(Command::new("docker").args([
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}} {{(index .IPAM.Config 0).Subnet}}",
    ])));
    let gateway = ipam
        .split_whitespace()
        .find(|t| t.parse::<std::net::Ipv4Addr>().is_ok())
        .map(str::to_owned)
        .or_else(|| {
            let subnet = ipam.split_whitespace().find(|t| t.contains('/'))?;
            let net: std::net::Ipv4Addr = subnet.split('/').next()?.parse().ok()?;
            Some(std::net::Ipv4Addr::from(u32::from(net) + 1).to_string())
        })
        .unwrap_or_else(|| panic!("bridge IPAM: {ipam}"));
    assert!(gateway.parse::<std::net::Ipv4Addr>().is_ok(), "{gateway}");

    // The data directory at the same path inside and outside: engines are
    // sibling containers that bind-mount their node directories from the host.
    let dir = tempfile::Builder::new()
        .prefix("ec-image-")
        .tempdir_in("/tmp")
        .unwrap();
    let data = dir.path().display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("ec-image-{port}");
    let guard = Cleanup {
        name: name.clone(),
        dir,
    };
    run(Command::new("docker")
        .args(["run", "-d", "--name", &name, "--network", "host"])
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args(["-v", &format!("{data}:{data}")])
        .args(["-e", &format!("ELASTICACHE_DATA_DIR={data}")])
        .args(["-e", &format!("ELASTICACHE_LISTEN=127.0.0.1:{port}")])
        .args(["-e", &format!("ELASTICACHE_IMAGES={}", images_json())])
        .arg(TAG)
        .args(["--advertise-host", &gateway]));
    wait_served(port, &name);

    let id = common::name("img");
    create_redis(port, &id);
    aws(
        port,
        &["wait", "cache-cluster-available", "--cache-cluster-id", &id],
    );
    let ep = aws(
        port,
        &[
            "describe-cache-clusters",
            "--cache-cluster-id",
            &id,
            "--show-cache-node-info",
            "--query",
            "CacheClusters[0].CacheNodes[0].Endpoint.[Address,Port]",
        ],
    );
    let (addr, node_port) = ep.split_once(char::is_whitespace).unwrap();
    assert_eq!(addr, gateway, "the endpoint is at the advertised host");
    let pong = text(&run(Command::new("redis-cli").args([
        "-h",
        addr,
        "-p",
        node_port.trim(),
        "PING",
    ])));
    assert_eq!(pong, "PONG");

    aws(port, &["delete-cache-cluster", "--cache-cluster-id", &id]);
    aws(
        port,
        &["wait", "cache-cluster-deleted", "--cache-cluster-id", &id],
    );
    let left = text(&run(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("name=elasticache-local-000000000000-us-east-1-{id}"),
    ])));
    assert!(left.is_empty(), "engine containers left: {left}");
    drop(guard);
}

/// A node whose image is not on the machine: the cluster's events say that
/// the image is being pulled before the node starts (and, where it cannot be
/// pulled, why the node failed).
#[tokio::test]
async fn a_missing_image_is_announced_as_pulled_in_the_events() {
    if !common::runtimes().iter().any(|r| r == "docker") {
        eprintln!("skipped: the Docker runtime is not under test (ELASTICACHE_TEST_RUNTIMES)");
        return;
    }
    let image = "localhost:1/elasticache-local-missing:0";
    let b = common::Backend::start_with(
        "docker",
        &[(
            "ELASTICACHE_IMAGES",
            &format!(r#"{{"memcached":"{image}"}}"#),
        )],
    );
    let c = b.client();
    let id = common::name("pull");
    c.create_cache_cluster()
        .cache_cluster_id(&id)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await
        .unwrap();
    let messages = common::eventually(
        "the pull in the events",
        Duration::from_secs(60),
        || async {
            let evs = c
                .describe_events()
                .source_type(aws_sdk_elasticache::types::SourceType::CacheCluster)
                .source_identifier(&id)
                .send()
                .await
                .ok()?;
            let msgs: Vec<String> = evs
                .events()
                .iter()
                .filter_map(|e| e.message().map(str::to_owned))
                .collect();
            (msgs
                .iter()
                .any(|m| m.contains(&format!("pulling image {image}")))
                && msgs.iter().any(|m| m.contains("cannot pull image")))
            .then_some(msgs)
        },
    )
    .await;
    assert!(!messages.is_empty());
}

/// Removes the backend's container, its engines' and the network.
struct BridgeCleanup {
    name: String,
    network: String,
    dir: tempfile::TempDir,
}

impl Drop for BridgeCleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
        common::cleanup_engines(self.dir.path());
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// An endpoint as `address port` (`--output text`).
fn endpoint(text: &str) -> (String, String) {
    let (a, p) = text.trim().split_once(char::is_whitespace).unwrap();
    (a.to_owned(), p.trim().to_owned())
}

fn redis_cli(addr: &str, port: &str, args: &[&str]) -> String {
    text(&run(Command::new("redis-cli")
        .args(["-h", addr, "-p", port])
        .args(args)))
}

/// Issue 14: the image on a user-defined bridge network (no host networking,
/// as GitHub Actions runs a service container), the API's port published.
/// Engines share the backend's network namespace; every endpoint is at the
/// backend's address on the network, which the host routes to and the
/// network's other containers reach.
#[test]
fn backend_image_on_a_bridge_network_serves_the_host_and_other_containers() {
    if !common::runtimes().iter().any(|r| r == "docker") {
        eprintln!("skipped: the Docker runtime is not under test (ELASTICACHE_TEST_RUNTIMES)");
        return;
    }
    build_image();
    let dir = tempfile::Builder::new()
        .prefix("ec-bridge-")
        .tempdir_in("/tmp")
        .unwrap();
    let data = dir.path().display().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = format!("ec-bridge-{port}");
    let network = format!("ec-bridge-net-{port}");
    let guard = BridgeCleanup {
        name: name.clone(),
        network: network.clone(),
        dir,
    };
    run(Command::new("docker").args(["network", "create", &network]));
    run(Command::new("docker")
        .args(["run", "-d", "--name", &name, "--network", &network])
        .args(["-p", &format!("127.0.0.1:{port}:4566")])
        .args(["-v", "/var/run/docker.sock:/var/run/docker.sock"])
        .args(["-v", &format!("{data}:{data}")])
        .args(["-e", &format!("ELASTICACHE_DATA_DIR={data}")])
        .args(["-e", &format!("ELASTICACHE_IMAGES={}", images_json())])
        .arg(TAG));
    let backend_ip = text(&run(Command::new("docker").args([
        "inspect",
        &name,
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
    ])));
    assert!(
        backend_ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "{backend_ip}"
    );
    wait_served(port, &name);

    let id = common::name("brc");
    let rg = common::name("brg");
    create_redis(port, &id);
    aws(
        port,
        &[
            "create-replication-group",
            "--replication-group-id",
            &rg,
            "--replication-group-description",
            "bridge",
            "--engine",
            "redis",
            "--cache-node-type",
            "cache.t3.micro",
            "--num-cache-clusters",
            "3",
        ],
    );
    aws(
        port,
        &["wait", "cache-cluster-available", "--cache-cluster-id", &id],
    );
    aws(
        port,
        &[
            "wait",
            "replication-group-available",
            "--replication-group-id",
            &rg,
        ],
    );

    // From the host: the node's endpoint and the group's primary endpoint.
    let (node_addr, node_port) = endpoint(&aws(
        port,
        &[
            "describe-cache-clusters",
            "--cache-cluster-id",
            &id,
            "--show-cache-node-info",
            "--query",
            "CacheClusters[0].CacheNodes[0].Endpoint.[Address,Port]",
        ],
    ));
    assert_eq!(
        node_addr, backend_ip,
        "the node is at the backend's address"
    );
    assert_eq!(redis_cli(&node_addr, &node_port, &["PING"]), "PONG");
    let (primary_addr, primary_port) = endpoint(&aws(
        port,
        &[
            "describe-replication-groups",
            "--replication-group-id",
            &rg,
            "--query",
            "ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint.[Address,Port]",
        ],
    ));
    assert_eq!(primary_addr, backend_ip);
    assert_eq!(redis_cli(&primary_addr, &primary_port, &["PING"]), "PONG");
    assert_eq!(
        redis_cli(&primary_addr, &primary_port, &["SET", "k", "bridged"]),
        "OK"
    );
    // The replicas have the primary's data.
    let members = aws(
        port,
        &[
            "describe-replication-groups",
            "--replication-group-id",
            &rg,
            "--query",
            "ReplicationGroups[0].NodeGroups[0].NodeGroupMembers[?CurrentRole=='replica'].ReadEndpoint.[Address,Port]",
        ],
    );
    let replicas: Vec<(String, String)> = members.lines().map(endpoint).collect();
    assert_eq!(replicas.len(), 2, "{members}");
    for (a, p) in &replicas {
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis_cli(a, p, &["GET", "k"]) != "bridged" {
            assert!(Instant::now() < deadline, "replica {a}:{p} lacks the key");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // From another container on the network: the engine image runs
    // redis-cli (its own, or the host's mounted when it has none, as the
    // images of tests/images/build.sh, made from the same Debian binaries).
    let image = serde_json::from_str::<serde_json::Value>(&images_json())
        .ok()
        .and_then(|v| v.get("redis").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "redis:7.2-alpine".to_owned());
    let own_cli = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "redis-cli",
            &image,
            "--version",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    let host_cli = String::from_utf8(
        run(Command::new("sh").args(["-c", "readlink -f \"$(command -v redis-cli)\""])).stdout,
    )
    .unwrap();
    let in_container = |addr: &str, port: &str, args: &[&str]| {
        let mut cmd = Command::new("docker");
        cmd.args(["run", "--rm", "--network", &network]);
        if own_cli {
            cmd.args(["--entrypoint", "redis-cli"]);
        } else {
            cmd.args(["-v", &format!("{}:/usr/bin/redis-cli:ro", host_cli.trim())])
                .args(["--entrypoint", "/usr/bin/redis-cli"]);
        }
        text(&run(cmd
            .arg(&image)
            .args(["-h", addr, "-p", port])
            .args(args)))
    };
    assert_eq!(in_container(&node_addr, &node_port, &["PING"]), "PONG");
    assert_eq!(
        in_container(&primary_addr, &primary_port, &["GET", "k"]),
        "bridged"
    );

    aws(port, &["delete-cache-cluster", "--cache-cluster-id", &id]);
    aws(
        port,
        &["delete-replication-group", "--replication-group-id", &rg],
    );
    aws(
        port,
        &["wait", "cache-cluster-deleted", "--cache-cluster-id", &id],
    );
    aws(
        port,
        &[
            "wait",
            "replication-group-deleted",
            "--replication-group-id",
            &rg,
        ],
    );
    assert!(
        common::containers_of(guard.dir.path(), None).is_empty(),
        "engine containers left behind"
    );
    drop(guard);
}
