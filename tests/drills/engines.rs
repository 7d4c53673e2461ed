//! Drill 2, engines killed under load. Writers send each write followed by
//! `WAIT 1` (acknowledged when at least one replica has it) while engines
//! are `SIGKILL`ed (processes or containers); automatic failover is on.
//!
//! - `run`: a 1+2 group, writers through the primary endpoint; the primary
//!   and replicas killed in turn, then a kill during a recovery (the primary,
//!   the same member again as soon as its engine is back, the new primary).
//! - `run_cluster`: a 3×(1+2) cluster-mode group, a writer per shard that
//!   follows `MOVED` from the configuration endpoint; any member killed at
//!   random.
//!
//! After the last kill: the group is `available` with all its members
//! running, and every write `WAIT` acknowledged is there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::Client;

use crate::harness::{self, Backend, Rng};

pub struct Figures {
    pub kills: usize,
    /// Of them, kills of a primary (the others: replicas).
    pub primaries_killed: usize,
    pub acked: usize,
    pub lost: Vec<String>,
    /// Longest time from a kill to the next write `WAIT` acknowledged.
    pub worst_recovery: Duration,
    pub members_after: usize,
    pub status_after: String,
    /// Engines running after the last kill, and how long the group took to
    /// be `available` with all of them.
    pub running_after: usize,
    pub settle_after: Duration,
    /// The 1+2 group's last round: the primary killed, then again as soon as
    /// it is restarted (while the backend waits for it), then the new
    /// primary: the time from that last kill to the next acknowledged write.
    pub chase_recovery: Option<Duration>,
}

/// Writes acknowledged by `WAIT`: when each was sent and acknowledged.
#[derive(Default)]
struct AckTimes(Mutex<Vec<(Instant, Instant)>>);

impl AckTimes {
    fn record(&self, sent: Instant) {
        self.0.lock().unwrap().push((sent, Instant::now()));
    }

    /// Time from `t` to the acknowledgement of the first write sent after
    /// `t` (a write in flight at `t` does not count), or `limit` when none
    /// was within it.
    async fn recovery_after(&self, t: Instant, limit: Duration) -> Duration {
        loop {
            let first = self
                .0
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take_while(|(sent, _)| *sent > t)
                .map(|(_, acked)| *acked)
                .min();
            if let Some(a) = first {
                return a.saturating_duration_since(t);
            }
            if t.elapsed() > limit {
                return limit;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The group's primary endpoint and its members' (cluster id, role).
async fn topology(c: &Client, id: &str) -> Option<((String, u16), Vec<(String, String)>, String)> {
    let r = c
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .ok()?;
    let g = r.replication_groups().first()?;
    let ng = g.node_groups().first()?;
    let e = ng.primary_endpoint()?;
    let members = ng
        .node_group_members()
        .iter()
        .map(|m| {
            (
                m.cache_cluster_id().unwrap_or_default().to_owned(),
                m.current_role().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Some((
        (
            e.address().unwrap_or_default().to_owned(),
            u16::try_from(e.port().unwrap_or_default()).unwrap_or_default(),
        ),
        members,
        g.status().unwrap_or_default().to_owned(),
    ))
}

async fn connect(addr: &(String, u16)) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{}:{}/", addr.0, addr.1)).ok()?;
    tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

/// SIGKILL the engine of member `cluster` (its process, or its container).
fn kill_engine(runtime: &str, data: &std::path::Path, cluster: &str) -> bool {
    let suffix = format!("-{cluster}-0001");
    if runtime == "docker" {
        let Some((name, _)) = harness::containers_with(&suffix)
            .into_iter()
            .find(|(_, key)| key.ends_with(&suffix))
        else {
            return false;
        };
        return std::process::Command::new("docker")
            .args(["kill", "--signal", "KILL", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    }
    let Some(e) = harness::engines_under(data)
        .into_iter()
        .find(|e| e.key.ends_with(&suffix))
    else {
        return false;
    };
    std::process::Command::new("kill")
        .args(["-9", &e.pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Node keys of the node containers running now.
fn running_container_keys() -> Vec<String> {
    std::process::Command::new("docker")
        .args([
            "ps",
            "--format",
            r#"{{.Label "elasticache-local.node"}}"#,
            "--filter",
            "label=elasticache-local.node",
            "--filter",
            "status=running",
        ])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the engine of member `cluster` runs now.
fn engine_running(runtime: &str, data: &std::path::Path, cluster: &str) -> bool {
    let suffix = format!("-{cluster}-0001");
    if runtime == "docker" {
        return running_container_keys()
            .iter()
            .any(|k| k.ends_with(&suffix));
    }
    harness::engines_under(data)
        .iter()
        .any(|e| e.key.ends_with(&suffix))
}

/// Engines of group `id` running now.
fn running_engines(runtime: &str, data: &std::path::Path, id: &str) -> usize {
    if runtime == "docker" {
        return running_container_keys()
            .iter()
            .filter(|k| k.contains(&format!("-{id}-")))
            .count();
    }
    harness::engines_under(data).len()
}

pub async fn run(runtime: &str, kills: usize, seed: u64) -> Figures {
    let tmp = tempfile::Builder::new()
        .prefix("ec-enginekill-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new(runtime, &data, &[]);
    b.start();
    let c = b.client();
    let mut rng = Rng::new(seed);
    let id = format!("kill{:x}", rng.next() % 0xffff);
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("engines killed under load")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(3)
        .automatic_failover_enabled(true)
        .multi_az_enabled(true)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (endpoint, _, _) = loop {
        if let Some(t) = topology(&c, &id).await {
            if t.2 == "available" {
                break t;
            }
        }
        assert!(Instant::now() < deadline, "{id} did not become available");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Writers: SET, then WAIT 1 replica; acknowledged when WAIT says >= 1.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let last_ack = Arc::new(AckTimes::default());
    let mut writers = Vec::new();
    for w in 0..2 {
        let (stop, acked, last_ack, endpoint) = (
            stop.clone(),
            acked.clone(),
            last_ack.clone(),
            endpoint.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut conn = None;
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if conn.is_none() {
                    conn = connect(&endpoint).await;
                    if conn.is_none() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                let k = format!("w{w}-{i}");
                let sent = Instant::now();
                i += 1;
                let cn = conn.as_mut().unwrap();
                let set: redis::RedisResult<()> = tokio::time::timeout(
                    Duration::from_secs(2),
                    redis::cmd("SET").arg(&k).arg(&k).query_async(cn),
                )
                .await
                .unwrap_or_else(|_| Err((redis::ErrorKind::IoError, "timeout").into()));
                if set.is_err() {
                    conn = None;
                    continue;
                }
                let n: redis::RedisResult<i64> = tokio::time::timeout(
                    Duration::from_secs(3),
                    redis::cmd("WAIT").arg(1).arg(1000).query_async(cn),
                )
                .await
                .unwrap_or_else(|_| Err((redis::ErrorKind::IoError, "timeout").into()));
                match n {
                    Ok(n) if n >= 1 => {
                        acked.lock().unwrap().push(k);
                        last_ack.record(sent);
                    }
                    Ok(_) => {}
                    Err(_) => conn = None,
                }
            }
        }));
    }

    // The killer: the primary's engine or a replica's, at random moments.
    let mut worst = Duration::ZERO;
    let (mut done, mut primaries) = (0, 0);
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.range(1500, 3000))).await;
        let Some((_, members, _)) = topology(&c, &id).await else {
            continue;
        };
        let want = if k % 2 == 0 { "primary" } else { "replica" };
        let Some((victim, _)) = members.iter().find(|(_, role)| role == want) else {
            continue;
        };
        if !kill_engine(runtime, &data, victim) {
            continue;
        }
        let killed_at = Instant::now();
        done += 1;
        if want == "primary" {
            primaries += 1;
        }
        // Recovered when a write sent after the kill is acknowledged.
        let t = last_ack
            .recovery_after(killed_at, Duration::from_secs(90))
            .await;
        worst = worst.max(t);
        eprintln!(
            "engines/{runtime}: killed {victim} ({want}): next acknowledged write after {t:?}"
        );
    }

    // A kill while the backend brings a member back: the primary, then the
    // same member again as soon as its engine runs (the backend waits for it
    // to answer), then the new primary. The failover of the new primary
    // must not wait for the member that died again (it waited 60 s, the
    // time a recovered member is given to answer: found on Docker).
    let mut chase_recovery = None;
    tokio::time::sleep(Duration::from_millis(rng.range(1500, 3000))).await;
    if let Some((_, members, _)) = topology(&c, &id).await {
        if let Some((p, _)) = members.iter().find(|(_, r)| r == "primary") {
            let p = p.clone();
            if kill_engine(runtime, &data, &p) {
                done += 1;
                primaries += 1;
                // Gone, then back (started by the backend): kill it again.
                let deadline = Instant::now() + Duration::from_secs(60);
                while engine_running(runtime, &data, &p) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                while !engine_running(runtime, &data, &p) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if kill_engine(runtime, &data, &p) {
                    done += 1;
                }
                // The new primary, once the API names it.
                let deadline = Instant::now() + Duration::from_secs(60);
                let new = loop {
                    if let Some((_, m, _)) = topology(&c, &id).await {
                        if let Some((n, _)) = m.iter().find(|(n, r)| r == "primary" && *n != p) {
                            break Some(n.clone());
                        }
                    }
                    if Instant::now() > deadline {
                        break None;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                if let Some(n) = new {
                    if kill_engine(runtime, &data, &n) {
                        let killed_at = Instant::now();
                        done += 1;
                        primaries += 1;
                        let t = last_ack
                            .recovery_after(killed_at, Duration::from_secs(120))
                            .await;
                        eprintln!(
                            "engines/{runtime}: killed {p} (primary), {p} again as it came back, then {n} (the new primary): next acknowledged write after {t:?}"
                        );
                        worst = worst.max(t);
                        chase_recovery = Some(t);
                    }
                }
            }
        }
    }

    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }

    // The group returns to available with its three members running.
    let settle_from = Instant::now();
    let deadline = settle_from + Duration::from_secs(90);
    let (running, (endpoint, members, status)) = loop {
        let t = topology(&c, &id).await;
        let running = running_engines(runtime, &data, &id);
        if let Some(t) = t {
            if (t.2 == "available" && running == 3) || Instant::now() > deadline {
                break (running, t);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let settle_after = settle_from.elapsed();
    let acked = acked.lock().unwrap().clone();
    let mut lost = Vec::new();
    let mut conn = connect(&endpoint).await.expect("primary endpoint answers");
    for k in &acked {
        let v: Option<String> = redis::cmd("GET")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        if v.as_deref() != Some(k.as_str()) {
            lost.push(k.clone());
        }
    }
    let keep = !lost.is_empty() || status != "available";
    tear_down(&c, b, tmp, runtime, &id, keep).await;
    Figures {
        kills: done,
        primaries_killed: primaries,
        acked: acked.len(),
        lost,
        worst_recovery: worst,
        members_after: members.len(),
        status_after: status,
        running_after: running,
        settle_after,
        chase_recovery,
    }
}

// ---------------------------------------------------------------------------
// The 3×(1+2) cluster-mode group: a writer per shard, cluster-aware (it
// follows `MOVED` from the configuration endpoint to the shard's primary and
// sends `WAIT` there, after each write); victims at random across every
// shard and role.

/// CRC16 (XMODEM) as Redis Cluster hashes keys.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for b in data {
        crc ^= u16::from(*b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of a key with hash tag `{tag}`.
fn slot_of_tag(tag: &str) -> u16 {
    crc16(tag.as_bytes()) % 16384
}

/// A hash tag whose slot lies in `ranges`.
fn tag_in(ranges: &[(u16, u16)]) -> String {
    (0u32..)
        .map(|i| format!("s{i}"))
        .find(|t| {
            let s = slot_of_tag(t);
            ranges.iter().any(|(a, b)| (*a..=*b).contains(&s))
        })
        .expect("a tag for every slot range")
}

/// One shard as the API shows it: its slot ranges and members (cluster id,
/// read endpoint).
struct Shard {
    slots: Vec<(u16, u16)>,
    members: Vec<(String, (String, u16))>,
}

/// A cluster-mode group: configuration endpoint, shards, status.
async fn cluster_topology(c: &Client, id: &str) -> Option<((String, u16), Vec<Shard>, String)> {
    let r = c
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .ok()?;
    let g = r.replication_groups().first()?;
    let e = g.configuration_endpoint()?;
    let config = (
        e.address().unwrap_or_default().to_owned(),
        u16::try_from(e.port().unwrap_or_default()).unwrap_or_default(),
    );
    let shards = g
        .node_groups()
        .iter()
        .map(|ng| Shard {
            slots: ng
                .slots()
                .unwrap_or_default()
                .split(',')
                .filter_map(|r| {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
                })
                .collect(),
            members: ng
                .node_group_members()
                .iter()
                .map(|m| {
                    let e = m.read_endpoint();
                    (
                        m.cache_cluster_id().unwrap_or_default().to_owned(),
                        (
                            e.and_then(|e| e.address()).unwrap_or_default().to_owned(),
                            u16::try_from(e.and_then(|e| e.port()).unwrap_or_default())
                                .unwrap_or_default(),
                        ),
                    )
                })
                .collect(),
        })
        .collect();
    Some((config, shards, g.status().unwrap_or_default().to_owned()))
}

/// Each member's node endpoint (`DescribeCacheClusters`, with node info):
/// cluster-mode node group members carry no endpoint of their own.
async fn with_node_endpoints(c: &Client, shards: &mut [Shard]) {
    for (m, addr) in shards.iter_mut().flat_map(|s| s.members.iter_mut()) {
        let Ok(r) = c
            .describe_cache_clusters()
            .cache_cluster_id(m.as_str())
            .show_cache_node_info(true)
            .send()
            .await
        else {
            continue;
        };
        if let Some(e) = r
            .cache_clusters()
            .first()
            .and_then(|cl| cl.cache_nodes().first())
            .and_then(|n| n.endpoint())
        {
            *addr = (
                e.address().unwrap_or_default().to_owned(),
                u16::try_from(e.port().unwrap_or_default()).unwrap_or_default(),
            );
        }
    }
}

/// `ip:port` → whether that node is a master now, as the cluster sees it
/// (`CLUSTER NODES` of the first member that answers).
async fn cluster_roles(shards: &[Shard]) -> std::collections::HashMap<String, bool> {
    for (_, addr) in shards.iter().flat_map(|s| &s.members) {
        let Some(mut conn) = connect(addr).await else {
            continue;
        };
        let Ok(Ok(text)) = tokio::time::timeout(
            Duration::from_secs(2),
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut conn),
        )
        .await
        else {
            continue;
        };
        return text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let addr = f.get(1)?.split('@').next()?.to_owned();
                let flags = f.get(2)?;
                (!flags.contains("fail")).then(|| (addr, flags.contains("master")))
            })
            .collect();
    }
    std::collections::HashMap::new()
}

/// A command on a cluster, following `MOVED`/`ASK` from `start` (at most a
/// few hops): the answer and the connection that gave it (where `WAIT`
/// goes). `None` on an error that is not a redirect.
async fn cluster_cmd<T: redis::FromRedisValue>(
    conn: &mut Option<(redis::aio::MultiplexedConnection, (String, u16))>,
    start: &(String, u16),
    cmd: &redis::Cmd,
) -> Option<T> {
    for _ in 0..4 {
        if conn.is_none() {
            *conn = connect(start).await.map(|c| (c, start.clone()));
        }
        let (cn, _) = conn.as_mut()?;
        let r: redis::RedisResult<T> =
            tokio::time::timeout(Duration::from_secs(2), cmd.query_async(cn))
                .await
                .unwrap_or_else(|_| Err((redis::ErrorKind::IoError, "timeout").into()));
        match r {
            Ok(v) => return Some(v),
            Err(e) => {
                if let Some((host, port)) = e.redirect_node() {
                    let to = (host.to_owned(), port);
                    *conn = connect(&to).await.map(|c| (c, to));
                    continue;
                }
                *conn = None;
                return None;
            }
        }
    }
    None
}

pub async fn run_cluster(runtime: &str, kills: usize, seed: u64) -> Figures {
    let tmp = tempfile::Builder::new()
        .prefix("ec-enginekill-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new(runtime, &data, &[]);
    b.start();
    let c = b.client();
    let mut rng = Rng::new(seed);
    let id = format!("killc{:x}", rng.next() % 0xffff);
    c.create_replication_group()
        .replication_group_id(&id)
        .replication_group_description("engines killed under load, cluster mode")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .num_node_groups(3)
        .replicas_per_node_group(2)
        .automatic_failover_enabled(true)
        .multi_az_enabled(true)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let (config, mut shards, _) = loop {
        if let Some(t) = cluster_topology(&c, &id).await {
            if t.2 == "available" {
                break t;
            }
        }
        assert!(Instant::now() < deadline, "{id} did not become available");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(shards.len(), 3, "{id}: three shards");
    with_node_endpoints(&c, &mut shards).await;
    for (i, sh) in shards.iter().enumerate() {
        eprintln!(
            "engines/cluster/{runtime}: shard {i}: slots {:?}, members {:?}",
            sh.slots, sh.members
        );
    }

    // A writer per shard: keys with a hash tag of the shard's slots.
    let stop = Arc::new(AtomicBool::new(false));
    // (key, the node that acknowledged it, when)
    type Acks = Vec<(String, String, Instant)>;
    let acked: Arc<Mutex<Acks>> = Arc::default();
    let began = Instant::now();
    let last_ack: Arc<Vec<AckTimes>> =
        Arc::new(shards.iter().map(|_| AckTimes::default()).collect());
    let mut writers = Vec::new();
    for (s, shard) in shards.iter().enumerate() {
        let tag = tag_in(&shard.slots);
        let (stop, acked, last_ack, config) = (
            stop.clone(),
            acked.clone(),
            last_ack.clone(),
            config.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut conn = None;
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let k = format!("{{{tag}}}-{i}");
                i += 1;
                let sent = Instant::now();
                let mut set = redis::cmd("SET");
                set.arg(&k).arg(&k);
                if cluster_cmd::<()>(&mut conn, &config, &set).await.is_none() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                let Some((cn, at)) = conn.as_mut() else {
                    continue;
                };
                let at = format!("{}:{}", at.0, at.1);
                let n: redis::RedisResult<i64> = tokio::time::timeout(
                    Duration::from_secs(3),
                    redis::cmd("WAIT").arg(1).arg(1000).query_async(cn),
                )
                .await
                .unwrap_or_else(|_| Err((redis::ErrorKind::IoError, "timeout").into()));
                match n {
                    Ok(n) if n >= 1 => {
                        acked.lock().unwrap().push((k, at, Instant::now()));
                        last_ack[s].record(sent);
                    }
                    Ok(_) => {}
                    Err(_) => conn = None,
                }
            }
        }));
    }

    // The killer: any member of any shard, primary or replica, at random.
    let mut worst = Duration::ZERO;
    let (mut done, mut primaries) = (0, 0);
    let mut kill_log = Vec::new();
    let all: Vec<(usize, String, (String, u16))> = shards
        .iter()
        .enumerate()
        .flat_map(|(s, sh)| {
            sh.members
                .iter()
                .map(move |(m, a)| (s, m.clone(), a.clone()))
        })
        .collect();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.range(1500, 3000))).await;
        let pick =
            usize::try_from(rng.next().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33).unwrap_or(0);
        let (shard, victim, addr) = &all[pick % all.len()];
        let roles = cluster_roles(&shards).await;
        let was_primary = roles.get(&format!("{}:{}", addr.0, addr.1)).copied();
        if !kill_engine(runtime, &data, victim) {
            continue;
        }
        let killed_at = Instant::now();
        kill_log.push(format!(
            "{:.2} s: {victim} ({}:{})",
            killed_at.duration_since(began).as_secs_f64(),
            addr.0,
            addr.1
        ));
        done += 1;
        if was_primary == Some(true) {
            primaries += 1;
        }
        // Recovered when a write to the victim's shard is acknowledged after the kill.
        let t = last_ack[*shard]
            .recovery_after(killed_at, Duration::from_secs(90))
            .await;
        eprintln!(
            "engines/cluster/{runtime}: killed {victim} ({}), shard {shard}: next acknowledged write after {t:?}",
            match was_primary {
                Some(true) => "primary",
                Some(false) => "replica",
                None => "role unknown",
            }
        );
        worst = worst.max(t);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }

    // Back to available with its nine members running.
    let settle_from = Instant::now();
    let deadline = settle_from + Duration::from_secs(120);
    let (running, (config, shards, status)) = loop {
        let t = cluster_topology(&c, &id).await;
        let running = running_engines(runtime, &data, &id);
        if let Some(t) = t {
            let members: usize = t.1.iter().map(|s| s.members.len()).sum();
            if (t.2 == "available" && running == 9 && members == 9) || Instant::now() > deadline {
                break (running, t);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let settle_after = settle_from.elapsed();
    let acked = acked.lock().unwrap().clone();
    let mut lost = Vec::new();
    // A connection per shard (keys carry their shard's hash tag).
    let mut conns = std::collections::HashMap::new();
    for (k, at, when) in &acked {
        let tag = k.split('}').next().unwrap_or_default().to_owned();
        let conn = conns.entry(tag).or_insert(None);
        let mut get = redis::cmd("GET");
        get.arg(k);
        // A read that fails (not a missing key) is tried again.
        let mut v = None;
        for _ in 0..5 {
            v = cluster_cmd::<Option<String>>(conn, &config, &get).await;
            if v.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if v.flatten().as_deref() != Some(k.as_str()) {
            eprintln!(
                "engines/cluster/{runtime}: lost {k}, acknowledged by {at} at {:.2} s; kills: {kill_log:?}",
                when.duration_since(began).as_secs_f64()
            );
            lost.push(k.clone());
        }
    }
    let keep = !lost.is_empty() || status != "available";
    tear_down(&c, b, tmp, runtime, &id, keep).await;
    Figures {
        kills: done,
        primaries_killed: primaries,
        acked: acked.len(),
        lost,
        worst_recovery: worst,
        members_after: shards.iter().map(|s| s.members.len()).sum(),
        status_after: status,
        running_after: running,
        settle_after,
        chase_recovery: None,
    }
}

/// Delete the drill's group, stop the backend and its containers; keep the
/// data directory and logs when something broke (`keep`) or `DRILL_KEEP` is set.
async fn tear_down(
    c: &Client,
    b: Backend,
    tmp: tempfile::TempDir,
    runtime: &str,
    id: &str,
    keep: bool,
) {
    let _ = c
        .delete_replication_group()
        .replication_group_id(id)
        .send()
        .await;
    drop(b);
    if runtime == "docker" {
        harness::remove_containers(&format!("-{id}-"));
    }
    if keep || std::env::var_os("DRILL_KEEP").is_some() {
        eprintln!("kept {}", tmp.keep().display());
    }
}
