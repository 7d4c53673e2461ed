//! Drill 4: soak. Steady API traffic for a while with clusters coming and
//! going, on one backend; every few seconds a sample of what the backend
//! holds (resident memory, open file descriptors, threads), of the engines
//! running under its data directory, and of the latency of the traffic.
//!
//! Traffic: four readers in a loop (`DescribeCacheClusters`,
//! `DescribeReplicationGroups`, `DescribeEvents`, `DescribeCacheParameterGroups`)
//! and one churn loop that creates a Redis cluster, a 2-node Memcached
//! cluster, a parameter group (modified once) and, every other cycle, a 1+1
//! replication group, waits for them to be available, and deletes them all.
//! The figures compare the samples taken at the end of each churn cycle, when
//! nothing of the cycle is left: growth per hour is the least-squares slope
//! over those samples.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::DisplayErrorContext;
use aws_sdk_elasticache::types::ParameterNameValue;
use aws_sdk_elasticache::Client;

use crate::harness::{engines_under, Backend};

/// One sample of the backend and its engines.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the drill started.
    pub at: f64,
    pub rss_kib: u64,
    pub fds: usize,
    pub threads: u64,
    pub engines: usize,
    /// Latency percentiles (ms) of the reads since the previous sample.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub reads: usize,
}

/// What a soak found.
pub struct Soak {
    pub duration: Duration,
    pub cycles: usize,
    pub reads: usize,
    pub errors: Vec<String>,
    /// Samples at the end of each churn cycle (nothing of it left).
    pub at_rest: Vec<Sample>,
    /// Engines still running under the data directory after the last cycle.
    pub engines_after: usize,
}

impl Soak {
    /// Least-squares slope of `f` over the at-rest samples, per hour.
    pub fn per_hour(&self, f: impl Fn(&Sample) -> f64) -> f64 {
        let n = self.at_rest.len() as f64;
        if self.at_rest.len() < 2 {
            return 0.0;
        }
        let mx = self.at_rest.iter().map(|s| s.at).sum::<f64>() / n;
        let my = self.at_rest.iter().map(&f).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for s in &self.at_rest {
            sxy += (s.at - mx) * (f(s) - my);
            sxx += (s.at - mx) * (s.at - mx);
        }
        if sxx == 0.0 {
            0.0
        } else {
            sxy / sxx * 3600.0
        }
    }

    pub fn first(&self) -> Option<&Sample> {
        self.at_rest.first()
    }

    pub fn last(&self) -> Option<&Sample> {
        self.at_rest.last()
    }

    /// The worst p99 among the at-rest samples after the first.
    pub fn worst_p99(&self) -> f64 {
        self.at_rest
            .iter()
            .skip(1)
            .map(|s| s.p99_ms)
            .fold(0.0, f64::max)
    }
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn sample(pid: u32, data_dir: &Path, started: Instant, lat: &Mutex<Vec<Duration>>) -> Sample {
    let mut l = std::mem::take(&mut *lat.lock().unwrap());
    l.sort();
    let pct = |p: f64| {
        if l.is_empty() {
            0.0
        } else {
            let i = ((l.len() as f64 - 1.0) * p).round() as usize;
            l[i].as_secs_f64() * 1000.0
        }
    };
    Sample {
        at: started.elapsed().as_secs_f64(),
        rss_kib: proc_status(pid, "VmRSS:"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0),
        threads: proc_status(pid, "Threads:"),
        engines: engines_under(data_dir).len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        reads: l.len(),
    }
}

async fn wait_for(
    what: &str,
    limit: Duration,
    mut f: impl AsyncFnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if f().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {limit:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn cluster_status(c: &Client, id: &str) -> Option<String> {
    match c
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .send()
        .await
    {
        Ok(o) => o
            .cache_clusters()
            .first()
            .and_then(|x| x.cache_cluster_status().map(str::to_owned)),
        Err(_) => None,
    }
}

async fn group_status(c: &Client, id: &str) -> Option<String> {
    match c
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(o) => o
            .replication_groups()
            .first()
            .and_then(|x| x.status().map(str::to_owned)),
        Err(_) => None,
    }
}

fn failed(what: &str, e: impl std::error::Error) -> String {
    format!("{what}: {}", DisplayErrorContext(e))
}

/// One churn cycle: create, wait available, delete, wait gone.
async fn cycle(c: &Client, n: usize, run: &str) -> Result<(), String> {
    let redis = format!("{run}-r{n}");
    let mc = format!("{run}-m{n}");
    let pg = format!("{run}-pg{n}");
    let rg = n.is_multiple_of(2).then(|| format!("{run}-g{n}"));
    c.create_cache_parameter_group()
        .cache_parameter_group_name(&pg)
        .cache_parameter_group_family("redis7")
        .description("soak")
        .send()
        .await
        .map_err(|x| failed("CreateCacheParameterGroup", x))?;
    c.modify_cache_parameter_group()
        .cache_parameter_group_name(&pg)
        .parameter_name_values(
            ParameterNameValue::builder()
                .parameter_name("maxmemory-policy")
                .parameter_value("allkeys-lru")
                .build(),
        )
        .send()
        .await
        .map_err(|x| failed("ModifyCacheParameterGroup", x))?;
    c.create_cache_cluster()
        .cache_cluster_id(&redis)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name(&pg)
        .send()
        .await
        .map_err(|x| failed("CreateCacheCluster redis", x))?;
    c.create_cache_cluster()
        .cache_cluster_id(&mc)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(2)
        .send()
        .await
        .map_err(|x| failed("CreateCacheCluster memcached", x))?;
    if let Some(rg) = &rg {
        c.create_replication_group()
            .replication_group_id(rg)
            .replication_group_description("soak")
            .engine("redis")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(2)
            .automatic_failover_enabled(true)
            .send()
            .await
            .map_err(|x| failed("CreateReplicationGroup", x))?;
    }
    let limit = Duration::from_secs(120);
    for id in [&redis, &mc] {
        wait_for(&format!("{id} available"), limit, async || {
            cluster_status(c, id).await.as_deref() == Some("available")
        })
        .await?;
    }
    if let Some(rg) = &rg {
        wait_for(&format!("{rg} available"), limit, async || {
            group_status(c, rg).await.as_deref() == Some("available")
        })
        .await?;
        c.delete_replication_group()
            .replication_group_id(rg)
            .send()
            .await
            .map_err(|x| failed("DeleteReplicationGroup", x))?;
    }
    for id in [&redis, &mc] {
        c.delete_cache_cluster()
            .cache_cluster_id(id)
            .send()
            .await
            .map_err(|x| failed("DeleteCacheCluster", x))?;
    }
    for id in [&redis, &mc] {
        wait_for(&format!("{id} gone"), limit, async || {
            cluster_status(c, id).await.is_none()
        })
        .await?;
    }
    if let Some(rg) = &rg {
        wait_for(&format!("{rg} gone"), limit, async || {
            group_status(c, rg).await.is_none()
        })
        .await?;
    }
    c.delete_cache_parameter_group()
        .cache_parameter_group_name(&pg)
        .send()
        .await
        .map_err(|x| failed("DeleteCacheParameterGroup", x))?;
    Ok(())
}

/// Soak `runtime` for `duration`.
pub async fn run(runtime: &str, data_dir: &Path, duration: Duration) -> Soak {
    let mut b = Backend::new(runtime, data_dir, &[]);
    b.start();
    let pid = b.pid().expect("backend pid");
    let c = b.client();
    let run = format!("soak{}", std::process::id() % 10000);
    let started = Instant::now();
    let until = started + duration;
    let lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let mut readers = Vec::new();
    for r in 0..4usize {
        let (c, lat, errors, reads) = (c.clone(), lat.clone(), errors.clone(), reads.clone());
        readers.push(tokio::spawn(async move {
            let mut i = r;
            while Instant::now() < until {
                let t = Instant::now();
                let res = match i % 4 {
                    0 => c
                        .describe_cache_clusters()
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    1 => c
                        .describe_replication_groups()
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    2 => c
                        .describe_events()
                        .max_records(50)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    _ => c
                        .describe_cache_parameter_groups()
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                };
                lat.lock().unwrap().push(t.elapsed());
                reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = res {
                    errors.lock().unwrap().push(format!("read: {e}"));
                }
                i += 1;
            }
        }));
    }

    let mut at_rest = Vec::new();
    let mut cycles = 0;
    while Instant::now() < until {
        if let Err(e) = cycle(&c, cycles, &run).await {
            errors.lock().unwrap().push(format!("cycle {cycles}: {e}"));
            break;
        }
        cycles += 1;
        let s = sample(pid, data_dir, started, &lat);
        eprintln!(
            "soak/{runtime} cycle {cycles} at {:.0} s: rss {} KiB, {} fds, {} threads, {} engines, reads p50 {:.1} ms p99 {:.1} ms ({} reads)",
            s.at, s.rss_kib, s.fds, s.threads, s.engines, s.p50_ms, s.p99_ms, s.reads
        );
        at_rest.push(s);
    }
    for r in readers {
        let _ = r.await;
    }
    // The engines of the last cycle's deletes are gone once the deletes are.
    let engines_after = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = engines_under(data_dir).len();
            if n == 0 || Instant::now() > deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    drop(b);
    let errors = std::mem::take(&mut *errors.lock().unwrap());
    Soak {
        duration: started.elapsed(),
        cycles,
        reads: reads.load(std::sync::atomic::Ordering::Relaxed),
        errors,
        at_rest,
        engines_after,
    }
}

/// The figures as a Markdown table row.
pub fn summary(runtime: &str, s: &Soak) -> String {
    let (Some(a), Some(z)) = (s.first(), s.last()) else {
        return format!(
            "| {runtime} | {:.0} min | {} cycles | no sample | | | | |\n",
            s.duration.as_secs_f64() / 60.0,
            s.cycles
        );
    };
    format!(
        "| {runtime} | {:.0} min | {} | {} | {} → {} KiB ({:+.0} KiB/h) | {} → {} ({:+.1}/h) | {} → {} ({:+.1}/h) | {:.1} → {:.1} ms (worst {:.1}) | {} |\n",
        s.duration.as_secs_f64() / 60.0,
        s.cycles,
        s.reads,
        a.rss_kib,
        z.rss_kib,
        s.per_hour(|x| x.rss_kib as f64),
        a.fds,
        z.fds,
        s.per_hour(|x| x.fds as f64),
        a.threads,
        z.threads,
        s.per_hour(|x| x.threads as f64),
        a.p99_ms,
        z.p99_ms,
        s.worst_p99(),
        s.engines_after,
    )
}

pub const TABLE_HEAD: &str = "| runtime | duration | churn cycles | reads | backend RSS at rest, first → last (growth) | open fds | threads | read p99, first → last | engines left |\n|---|---|---|---|---|---|---|---|---|\n";
