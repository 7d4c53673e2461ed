//! Drill 2, engines killed under load (short form): writers `SET` through a
//! 1+2 group's primary endpoint, each write followed by `WAIT 1`, while the
//! engines of the primary and of replicas are `SIGKILL`ed; automatic failover
//! is on. After the last kill: the group is `available` with its three
//! members, and every write `WAIT` acknowledged is there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::Client;

use crate::harness::{self, Backend, Rng};

pub struct Figures {
    pub kills: usize,
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
        let Some(name) = harness::containers_with(&suffix)
            .into_iter()
            .find(|n| n.ends_with(&suffix))
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

/// Engines of group `id` running now.
fn running_engines(runtime: &str, data: &std::path::Path, id: &str) -> usize {
    if runtime == "docker" {
        let out = std::process::Command::new("docker")
            .args([
                "ps",
                "--format",
                "{{.Names}}",
                "--filter",
                "label=elasticache-local.node",
                "--filter",
                "status=running",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        return out
            .lines()
            .filter(|l| l.contains(&format!("-{id}-")))
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
    let last_ack = Arc::new(Mutex::new(Instant::now()));
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
                        *last_ack.lock().unwrap() = Instant::now();
                    }
                    Ok(_) => {}
                    Err(_) => conn = None,
                }
            }
        }));
    }

    // The killer: the primary's engine or a replica's, at random moments.
    let mut worst = Duration::ZERO;
    let mut done = 0;
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
        // Recovered when a write is acknowledged after the kill.
        let deadline = killed_at + Duration::from_secs(90);
        while *last_ack.lock().unwrap() <= killed_at && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worst = worst.max(
            last_ack
                .lock()
                .unwrap()
                .saturating_duration_since(killed_at),
        );
        if *last_ack.lock().unwrap() <= killed_at {
            worst = worst.max(Duration::from_secs(90));
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
    let _ = c
        .delete_replication_group()
        .replication_group_id(&id)
        .send()
        .await;
    drop(b);
    if runtime == "docker" {
        harness::remove_containers(&format!("-{id}-"));
    }
    Figures {
        kills: done,
        acked: acked.len(),
        lost,
        worst_recovery: worst,
        members_after: members.len(),
        status_after: status,
        running_after: running,
        settle_after,
    }
}
