//! Section 2: create→available on each runtime, next to the engines' own
//! floor measured in the same run: a bare engine spawned (process) or created
//! and started through the Docker Engine API (same image), until it answers.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bollard::container::{Config, CreateContainerOptions, RemoveContainerOptions};
use bollard::models::{HostConfig, PortBinding};
use bollard::Docker;
use elasticache_local::engine::images::ImageTable;
use elasticache_local::engine::EngineKind;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::http::{form, xml_value, Target};
use crate::procs::{free_port, Backend};
use crate::stats::{ratio, Series};
use crate::{Mode, Report};

/// What is created.
#[derive(Clone, Copy)]
struct Shape {
    label: &'static str,
    engine: EngineKind,
    /// Nodes started for it (the floor starts as many in parallel).
    nodes: usize,
    group: bool,
    /// Shards of a cluster-mode group (0: none): the process floor is then a
    /// bare Redis Cluster that takes writes (see [`cluster_ok`]).
    shards: usize,
}

const GROUP_1_2: &str = "Replication group, 1+2";

const SHAPES: [Shape; 4] = [
    Shape {
        label: "Redis cluster, 1 node",
        engine: EngineKind::Redis,
        nodes: 1,
        group: false,
        shards: 0,
    },
    Shape {
        label: "Memcached cluster, 3 nodes",
        engine: EngineKind::Memcached,
        nodes: 3,
        group: false,
        shards: 0,
    },
    Shape {
        label: GROUP_1_2,
        engine: EngineKind::Redis,
        nodes: 3,
        group: true,
        shards: 0,
    },
    Shape {
        label: "Cluster-mode group, 3×(1+2)",
        engine: EngineKind::Redis,
        nodes: 9,
        group: true,
        shards: 3,
    },
];

/// Ask an engine on `port` whether it answers (`PING` / `version`).
async fn answers(engine: EngineKind, host: Ipv4Addr, port: u16) -> bool {
    let probe = async {
        let s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let mut s = BufReader::new(s);
        let (req, want): (&[u8], &str) = match engine {
            EngineKind::Memcached => (b"version\r\n", "VERSION"),
            _ => (b"PING\r\n", "+PONG"),
        };
        s.get_mut().write_all(req).await.ok()?;
        let mut line = String::new();
        s.read_line(&mut line).await.ok()?;
        line.starts_with(want).then_some(())
    };
    tokio::time::timeout(Duration::from_secs(1), probe)
        .await
        .ok()
        .flatten()
        .is_some()
}

async fn wait_answers(engine: EngineKind, host: Ipv4Addr, port: u16) -> anyhow::Result<()> {
    let t0 = Instant::now();
    while !answers(engine, host, port).await {
        if t0.elapsed() > Duration::from_secs(20) {
            bail!("engine on {host}:{port} did not answer");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Floor, process runtime: `n` bare engines spawned at once, until all answer
/// (with `shards`, until the bare cluster takes writes: [`cluster_ok`]).
async fn floor_process(engine: EngineKind, n: usize, shards: usize) -> anyhow::Result<Duration> {
    let dirs: Vec<tempfile::TempDir> = (0..n)
        .map(|_| tempfile::tempdir())
        .collect::<Result<_, _>>()?;
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let t0 = Instant::now();
    let mut children = Vec::new();
    for (d, p) in dirs.iter().zip(&ports) {
        let mut cmd = match engine {
            EngineKind::Memcached => {
                let mut c = Command::new("memcached");
                c.args(["-l", "127.0.0.1", "-p", &p.to_string(), "-U", "0"]);
                if rustix::process::geteuid().is_root() {
                    c.args(["-u", "root"]);
                }
                c
            }
            _ => {
                let mut c = Command::new("redis-server");
                c.args([
                    "--port",
                    &p.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                c.arg("--dir").arg(d.path());
                if shards > 0 {
                    c.args(["--cluster-enabled", "yes"]);
                }
                c
            }
        };
        children.push(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    let waits = ports
        .iter()
        .map(|p| wait_answers(engine, Ipv4Addr::LOCALHOST, *p));
    let mut res = futures_join(waits).await;
    if res.is_ok() && shards > 0 {
        res = cluster_ok(&ports, shards).await;
    }
    let dt = t0.elapsed();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    res.map(|()| dt)
}

/// A bare Redis Cluster of `shards` masters (the first port of each equal
/// share of `ports`; the others are its replicas-to-be, left alone): each
/// given its share of the slots, met, until every master reports
/// `cluster_state:ok`. Redis itself holds a new master's state at `fail` for
/// 2 s from its start (`CLUSTER_WRITABLE_DELAY` in `cluster.c`): no
/// cluster-mode create can take writes sooner.
async fn cluster_ok(ports: &[u16], shards: usize) -> anyhow::Result<()> {
    async fn ask(port: u16, cmd: &str) -> anyhow::Result<String> {
        let s = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let mut s = BufReader::new(s);
        s.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await?;
        let mut line = String::new();
        s.read_line(&mut line).await?;
        if line.starts_with('$') {
            // A bulk reply (CLUSTER INFO): its first line is enough.
            line.clear();
            s.read_line(&mut line).await?;
        }
        anyhow::ensure!(!line.starts_with('-'), "{cmd}: {}", line.trim());
        Ok(line)
    }
    let masters: Vec<u16> = ports
        .iter()
        .step_by(ports.len() / shards)
        .copied()
        .collect();
    let per = 16384 / masters.len();
    for (i, p) in masters.iter().enumerate() {
        let last = if i + 1 == masters.len() {
            16383
        } else {
            (i + 1) * per - 1
        };
        ask(*p, &format!("CLUSTER ADDSLOTSRANGE {} {last}", i * per)).await?;
    }
    for p in &masters[1..] {
        ask(masters[0], &format!("CLUSTER MEET 127.0.0.1 {p}")).await?;
    }
    let t0 = Instant::now();
    for p in &masters {
        while !ask(*p, "CLUSTER INFO")
            .await?
            .starts_with("cluster_state:ok")
        {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("the bare cluster's master on port {p} never read cluster_state:ok");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(())
}

/// `reps` floors of `n` bare engines on the process runtime.
pub async fn floor_series(engine: EngineKind, n: usize, reps: usize) -> Series {
    let mut s = Series::default();
    for _ in 0..reps {
        match floor_process(engine, n, 0).await {
            Ok(d) => s.push_dur(d),
            Err(e) => eprintln!("bench: floor: {e:#}"),
        }
    }
    s
}

async fn futures_join<F: std::future::Future<Output = anyhow::Result<()>>>(
    futs: impl Iterator<Item = F>,
) -> anyhow::Result<()> {
    let mut set = Vec::new();
    for f in futs {
        set.push(f);
    }
    for f in set {
        f.await?;
    }
    Ok(())
}

/// Floor, Docker: `n` containers of the backend's image created and started
/// through the Engine API at once, until all answer on their published port.
async fn floor_docker(
    docker: &Docker,
    images: &ImageTable,
    engine: EngineKind,
    n: usize,
) -> anyhow::Result<Duration> {
    let image = images.image_for(
        engine,
        if engine == EngineKind::Memcached {
            "1.6.22"
        } else {
            "7.1"
        },
    );
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let names: Vec<String> = (0..n)
        .map(|i| format!("ec-bench-floor-{}-{i}", std::process::id()))
        .collect();
    let t0 = Instant::now();
    let mut starts = Vec::new();
    for (name, port) in names.iter().zip(&ports) {
        let (cport, cmd) = match engine {
            EngineKind::Memcached => {
                let mut c = vec!["memcached", "-p", "11211", "-U", "0"];
                if rustix::process::geteuid().is_root() {
                    c.extend(["-u", "root"]);
                }
                ("11211/tcp", c)
            }
            _ => (
                "6379/tcp",
                vec![
                    "redis-server",
                    "--port",
                    "6379",
                    "--bind",
                    "0.0.0.0",
                    "--protected-mode",
                    "no",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            ),
        };
        let config = Config {
            image: Some(image.clone()),
            cmd: Some(cmd.into_iter().map(str::to_owned).collect()),
            exposed_ports: Some(HashMap::from([(cport.to_owned(), HashMap::new())])),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    cport.to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(port.to_string()),
                    }]),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let docker = docker.clone();
        let name = name.clone();
        let port = *port;
        starts.push(tokio::spawn(async move {
            docker
                .create_container(
                    Some(CreateContainerOptions {
                        name: name.clone(),
                        platform: None,
                    }),
                    config,
                )
                .await?;
            docker.start_container::<String>(&name, None).await?;
            wait_answers(engine, Ipv4Addr::LOCALHOST, port).await
        }));
    }
    let mut res = Ok(());
    for s in starts {
        match s.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => res = Err(e),
            Err(e) => res = Err(e.into()),
        }
    }
    let dt = t0.elapsed();
    for name in &names {
        let _ = docker
            .remove_container(
                name,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
    }
    res.map(|()| dt)
}

/// Create one of `shape` on the backend and time it to `available`; then
/// delete it and wait until it is gone. `Err` carries the API's refusal.
async fn create_to_available(target: &Target, shape: Shape, id: &str) -> anyhow::Result<Duration> {
    let mut c = target.client();
    let (create, describe, delete, status_tag, gone) = if shape.group {
        let mut p = vec![
            ("ReplicationGroupId", id),
            ("ReplicationGroupDescription", "bench"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
        ];
        if shape.nodes == 3 {
            p.push(("NumCacheClusters", "3"));
        } else {
            p.extend([
                ("NumNodeGroups", "3"),
                ("ReplicasPerNodeGroup", "2"),
                ("CacheParameterGroupName", "default.redis7.cluster.on"),
                ("AutomaticFailoverEnabled", "true"),
            ]);
        }
        (
            form("CreateReplicationGroup", &p),
            form("DescribeReplicationGroups", &[("ReplicationGroupId", id)]),
            form("DeleteReplicationGroup", &[("ReplicationGroupId", id)]),
            "Status",
            "ReplicationGroupNotFoundFault",
        )
    } else {
        let nodes = shape.nodes.to_string();
        (
            form(
                "CreateCacheCluster",
                &[
                    ("CacheClusterId", id),
                    ("Engine", shape.engine.as_str()),
                    ("CacheNodeType", "cache.t3.micro"),
                    ("NumCacheNodes", &nodes),
                ],
            ),
            form("DescribeCacheClusters", &[("CacheClusterId", id)]),
            form("DeleteCacheCluster", &[("CacheClusterId", id)]),
            "CacheClusterStatus",
            "CacheClusterNotFound",
        )
    };
    let t0 = Instant::now();
    let a = c.call(&create).await?;
    if !a.ok() {
        let t = a.text();
        bail!(
            "{}: {}",
            xml_value(&t, "Code").unwrap_or_default(),
            xml_value(&t, "Message").unwrap_or_default()
        );
    }
    let res = loop {
        let a = c.call(&describe).await?;
        let st = xml_value(&a.text(), status_tag).unwrap_or_default();
        if st == "available" {
            break Ok(t0.elapsed());
        }
        if st.contains("fail") || t0.elapsed() > Duration::from_secs(180) {
            break Err(anyhow::anyhow!("status {st} after {:?}", t0.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    c.call(&delete).await?;
    let t1 = Instant::now();
    loop {
        let a = c.call(&describe).await?;
        if a.text().contains(gone) || t1.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    res
}

fn docker_ready() -> bool {
    Command::new("docker")
        .args(["info"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub async fn run(mode: Mode, rep: &mut Report) -> anyhow::Result<()> {
    let (reps, group_reps, floor_reps) = match mode {
        Mode::Quick => (1, 3, 3),
        Mode::Full => (5, 10, 10),
    };
    let mut runtimes = vec!["process"];
    let mut md = String::new();
    let wanted = std::env::var("ELASTICACHE_TEST_RUNTIMES")
        .map_or(true, |v| v.split(',').any(|r| r.trim() == "docker"));
    if !wanted {
        let _ = writeln!(
            md,
            "ELASTICACHE_TEST_RUNTIMES leaves Docker out: the Docker runtime is not measured.\n"
        );
    } else if docker_ready() {
        runtimes.push("docker");
    } else {
        let _ = writeln!(
            md,
            "Docker is not reachable: the Docker runtime is not measured.\n"
        );
    }
    let images = ImageTable::from_env().context("ELASTICACHE_IMAGES")?;
    let _ = writeln!(
        md,
        "Time from the create request to the first `DescribeCacheClusters` / \
         `DescribeReplicationGroups` answer reading `available` (polled every 5 ms), median of {reps} ({group_reps} for the 1+2 group) \
         (spread min–max). The floor is the same engine started bare, as many nodes as the shape has, \
         all at once, until each answers `PING` / `version` (polled every 1 ms), median of {floor_reps}: \
         process runtime — `redis-server` / `memcached` spawned; Docker — container created and started \
         through the Engine API (bollard, as the backend does) from the same image, port published on \
         127.0.0.1. A group's floor does not include its replicas' initial sync. The cluster-mode \
         group's floor on the process runtime is a bare Redis Cluster: its masters given their slots \
         and met, until each reads `cluster_state:ok`, which Redis holds back for 2 s after a master \
         starts (`CLUSTER_WRITABLE_DELAY`); on Docker it is the bare starts only.\n"
    );
    let _ = writeln!(
        md,
        "| shape | runtime | create→available | floor | ratio to floor |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|");
    let docker = Docker::connect_with_local_defaults().ok();
    let mut group: HashMap<&str, (Series, Series)> = HashMap::new();
    let mut per_shape: HashMap<&str, Vec<String>> = HashMap::new();
    let mut one_redis_process = None;
    for rt in &runtimes {
        let be = Backend::start(rt).await?;
        let target = be.target();
        for (si, shape) in SHAPES.iter().enumerate() {
            let mut ours = Series::default();
            let mut refused = None;
            // The 1+2 group is judged on its worst run: more of them.
            let runs = if shape.label == GROUP_1_2 {
                group_reps
            } else {
                reps
            };
            for r in 0..runs {
                let id = format!("bench-{}-{si}-{r}", &rt[..1]);
                match create_to_available(&target, *shape, &id).await {
                    Ok(d) => ours.push_dur(d),
                    Err(e) => {
                        refused = Some(format!("{e:#}"));
                        break;
                    }
                }
            }
            let mut floor = Series::default();
            if refused.is_none() {
                for _ in 0..floor_reps {
                    let d = match *rt {
                        "process" => floor_process(shape.engine, shape.nodes, shape.shards).await,
                        _ => match &docker {
                            Some(d) => floor_docker(d, &images, shape.engine, shape.nodes).await,
                            None => Err(anyhow::anyhow!("no Docker client")),
                        },
                    };
                    match d {
                        Ok(d) => floor.push_dur(d),
                        Err(e) => eprintln!("bench: floor {rt}: {e:#}"),
                    }
                }
            }
            let line = match &refused {
                Some(e) if ours.is_empty() => {
                    format!(
                        "| {} | {rt} | not available: {} | – | – |",
                        shape.label,
                        e.replace('|', "/")
                    )
                }
                _ => {
                    let r = ratio(ours.median(), floor.median());
                    if let (Some(o), Some(f)) = (ours.median(), floor.median()) {
                        if shape.label != GROUP_1_2 {
                            per_shape.entry(rt).or_default().push(format!(
                                "{} {:.2}×",
                                shape.label,
                                o / f
                            ));
                        }
                    }
                    format!(
                        "| {} | {rt} | {} | {} | {r} |",
                        shape.label,
                        ours.fmt_secs(),
                        floor.fmt_secs()
                    )
                }
            };
            eprintln!("bench: lifecycle {line}");
            let _ = writeln!(md, "{line}");
            if *rt == "process" && si == 0 {
                one_redis_process = ours.median();
            }
            if shape.label == GROUP_1_2 {
                group.insert(rt, (ours, floor));
            }
        }
        drop(be);
    }
    let _ = writeln!(md);
    let plain = group.get("process").and_then(|(o, _)| o.median());
    match crate::families::run(mode, rep, plain).await {
        Ok(m) => md.push_str(&m),
        Err(e) => {
            let _ = writeln!(md, "The new families could not run: `{e:#}`\n");
        }
    }
    let _ = writeln!(md);
    for rt in &runtimes {
        if let Some((ours, floor)) = group.get(rt) {
            // Process: every run within 3× (the worst run decides);
            // Docker: the median within 1.5×.
            let (limit, judged) = if *rt == "process" {
                (3.0, ours.max())
            } else {
                (1.5, ours.median())
            };
            let r = judged.zip(floor.median()).map(|(o, f)| o / f);
            rep.goal(
                crate::order::GROUP,
                &if *rt == "process" {
                    "Replication group 1+2, process runtime: create→available ≤ 3× the engine floor every time (worst run)".to_owned()
                } else {
                    format!("Replication group 1+2, {rt} runtime: create→available ≤ 1.5× the engine floor (median)")
                },
                format!(
                    "median {}, worst {} ({} runs), floor {}: median {}, worst {}",
                    ours.median().map_or("–".into(), crate::stats::secs),
                    ours.max().map_or("–".into(), crate::stats::secs),
                    ours.len(),
                    floor.median().map_or("–".into(), crate::stats::secs),
                    ratio(ours.median(), floor.median()),
                    ratio(ours.max(), floor.median()),
                ),
                r.map(|r| r <= limit),
            );
        }
        rep.goal(
            crate::order::GROUP,
            &format!("Other shapes, {rt} runtime: create→available ÷ floor (median; figures)"),
            per_shape.get(rt).map_or("–".into(), |v| v.join(", ")),
            None,
        );
    }
    if let Some(t) = one_redis_process {
        rep.notes.push(format!(
            "One Redis cluster on the process runtime reaches `available` {} after the create request.",
            crate::stats::secs(t)
        ));
    }
    rep.section("2. Create → available, next to the engine floor", md);
    Ok(())
}
