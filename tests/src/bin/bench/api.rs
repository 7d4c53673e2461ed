//! Section 1: API throughput and latency, ours next to moto's, with a small
//! state and with thousands of clusters stored.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use elasticache_local::store::{RedbStore, Store};

use crate::http::{form, load, Answer, Form, Run, Stop, Target};
use crate::procs::{wait_clusters, wait_status, Backend, Moto};
use crate::stats::{pct, ratio, us, Series};
use crate::{Mode, Report};

/// The operations measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    DescribeCacheClusters,
    DescribeOneCacheCluster,
    DescribeCacheParameters,
    DescribeReplicationGroups,
    DescribeEvents,
    DescribeSnapshots,
    CreateCacheCluster,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::DescribeCacheClusters => "DescribeCacheClusters",
            Self::DescribeOneCacheCluster => "DescribeCacheClusters(id)",
            Self::DescribeCacheParameters => "DescribeCacheParameters",
            Self::DescribeReplicationGroups => "DescribeReplicationGroups",
            Self::DescribeEvents => "DescribeEvents",
            Self::DescribeSnapshots => "DescribeSnapshots",
            Self::CreateCacheCluster => "CreateCacheCluster",
        }
    }

    /// The request, for a describe.
    fn body(self) -> String {
        match self {
            Self::DescribeOneCacheCluster => form(
                "DescribeCacheClusters",
                &[("CacheClusterId", "bench-template")],
            ),
            Self::DescribeCacheParameters => form(
                self.name(),
                &[("CacheParameterGroupName", "default.redis7")],
            ),
            _ => form(self.name(), &[]),
        }
    }

    /// The tag counted once per item of an answer.
    fn item(self) -> &'static str {
        match self {
            Self::DescribeCacheParameters => "ParameterName",
            Self::DescribeReplicationGroups => "ReplicationGroupId",
            Self::DescribeEvents => "SourceIdentifier",
            Self::DescribeSnapshots => "SnapshotName",
            _ => "CacheClusterId",
        }
    }
}

const OPS: [Op; 7] = [
    Op::DescribeCacheClusters,
    Op::DescribeOneCacheCluster,
    Op::DescribeCacheParameters,
    Op::DescribeReplicationGroups,
    Op::DescribeEvents,
    Op::DescribeSnapshots,
    Op::CreateCacheCluster,
];

/// moto's operations with many stored in the quick mode: not the
/// describes of groups and snapshots, whose thousands moto would have to be
/// given through its API first (half a minute).
const MOTO_QUICK_BIG: [Op; 5] = [
    Op::DescribeCacheClusters,
    Op::DescribeOneCacheCluster,
    Op::DescribeCacheParameters,
    Op::DescribeEvents,
    Op::CreateCacheCluster,
];

/// The describes whose default page grows with the state: measured again
/// with exactly one full page stored.
const PAGED: [Op; 4] = [
    Op::DescribeCacheClusters,
    Op::DescribeReplicationGroups,
    Op::DescribeEvents,
    Op::DescribeSnapshots,
];
const LEVELS: [usize; 3] = [1, 4, 16];

/// Whether `op` is measured: all of them, or those `BENCH_API_OPS` names
/// (comma-separated, e.g. `CreateCacheCluster`), for a narrow run while
/// working on one operation (its report then lacks the other rows).
fn wanted(op: Op) -> bool {
    std::env::var("BENCH_API_OPS").map_or(true, |v| v.split(',').any(|w| w.trim() == op.name()))
}

/// One cell: an op at a concurrency on one server.
#[derive(Default)]
struct Cell {
    rps: Series,
    lat_us: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
    bytes_per_answer: usize,
    /// Clusters in one answer (describe) — shows each server's page size.
    per_page: Option<usize>,
    unsupported: bool,
}

impl Cell {
    fn add(&mut self, r: &Run) {
        self.rps.push(r.rps());
        self.lat_us.extend(&r.lat_us);
        self.errors += r.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&r.first_error);
        }
        if let Some(b) = r.bytes.checked_div(r.ok) {
            self.bytes_per_answer = b;
        }
    }

    fn p(&mut self, p: f64) -> Option<u64> {
        self.lat_us.sort_unstable();
        pct(&self.lat_us, p)
    }
}

struct Cfg {
    run: Duration,
    warmup: Duration,
    reps: usize,
    creates: usize,
    stored: usize,
}

fn ok_describe(a: &Answer) -> bool {
    a.ok()
}

/// A create answer: 200 with the new cluster (ours reads `creating`, moto's
/// already `available`).
fn ok_create(a: &Answer) -> bool {
    a.ok() && a.body.windows(16).any(|w| w == b"<CacheClusterId>")
}

/// Measure every op × level on one server; `prefix` keeps create ids unique.
async fn matrix(
    target: &Target,
    create_target: &Target,
    cfg: &Cfg,
    prefix: &str,
    wait_engines: bool,
    ops: &[Op],
    seeded: bool,
) -> Vec<((Op, usize), Cell)> {
    let mut out = Vec::new();
    for op in ops.iter().copied().filter(|op| wanted(*op)) {
        // Seeded groups and snapshots live in regions of their own (see GROUPS_REGION).
        let region = match op {
            Op::DescribeReplicationGroups if seeded => GROUPS_REGION,
            Op::DescribeSnapshots if seeded => SNAPSHOTS_REGION,
            _ => &target.region,
        };
        let op_target = target.in_region(region);
        let target = &op_target;
        if op != Op::CreateCacheCluster {
            // moto lacks some (DescribeCacheParameters, DescribeEvents): one probe decides.
            let a = target.client().call(&op.body()).await;
            if !a.as_ref().is_ok_and(Answer::ok) {
                for conc in LEVELS {
                    out.push((
                        (op, conc),
                        Cell {
                            unsupported: true,
                            first_error: Some(match &a {
                                Ok(a) => format!(
                                    "HTTP {} {}",
                                    a.status,
                                    crate::http::xml_value(&a.text(), "Code").unwrap_or_default()
                                )
                                .trim()
                                .to_owned(),
                                Err(e) => format!("{e:#}"),
                            }),
                            ..Cell::default()
                        },
                    ));
                }
                continue;
            }
        }
        for conc in LEVELS {
            let mut cell = Cell::default();
            match op {
                Op::CreateCacheCluster => {
                    let p = format!("{prefix}-c{conc}");
                    let ids: Vec<String> = (0..cfg.creates).map(|i| format!("{p}-{i}")).collect();
                    let ids2 = ids.clone();
                    let f: Form = Arc::new(move |i| {
                        form(
                            "CreateCacheCluster",
                            &[
                                ("CacheClusterId", &ids2[i]),
                                ("Engine", "memcached"),
                                ("CacheNodeType", "cache.t3.micro"),
                                ("NumCacheNodes", "1"),
                            ],
                        )
                    });
                    let r = load(create_target, conc, Stop::Count(cfg.creates), f, ok_create).await;
                    cell.add(&r);
                    if wait_engines {
                        // Let the engines of this level settle before the next one.
                        if let Err(e) =
                            wait_clusters(create_target, &ids, Duration::from_secs(180)).await
                        {
                            eprintln!("bench: api: {e:#}");
                        }
                    }
                }
                _ => {
                    let body = op.body();
                    let probe = target.client().call(&body).await;
                    if let Ok(a) = &probe {
                        cell.per_page = Some(crate::http::xml_values(&a.text(), op.item()).len());
                    }
                    for _ in 0..cfg.reps {
                        let b = body.clone();
                        let f: Form = Arc::new(move |_| b.clone());
                        let r = load(
                            target,
                            conc,
                            Stop::Time {
                                warmup: cfg.warmup,
                                run: cfg.run,
                            },
                            f,
                            ok_describe,
                        )
                        .await;
                        cell.add(&r);
                    }
                }
            }
            eprintln!(
                "bench: api {prefix} {} c={conc}: {:.0} req/s{}",
                op.name(),
                cell.rps.median().unwrap_or(0.0),
                if cell.errors > 0 {
                    format!(", {} errors: {:?}", cell.errors, cell.first_error)
                } else {
                    String::new()
                }
            );
            out.push(((op, conc), cell));
        }
    }
    out
}

/// The setup every server gets first: a parameter group with a changed
/// value, a subnet group, a Redis cluster, a one-node replication group and
/// a snapshot of the cluster, each waited for until it is available.
pub async fn template(target: &Target) -> anyhow::Result<()> {
    template_records(target).await?;
    let limit = Duration::from_secs(120);
    wait_clusters(target, &["bench-template".to_owned()], limit).await?;
    let rg = form(
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "bench-rg")],
    );
    // moto's group reads `available` at once, or not at all: not waited for.
    let _ = wait_status(target, &rg, "Status", "available", limit).await;
    let mut c = target.client();
    c.call(&form(
        "CreateSnapshot",
        &[
            ("SnapshotName", "bench-snap"),
            ("CacheClusterId", "bench-template"),
        ],
    ))
    .await?;
    let snap = form("DescribeSnapshots", &[("SnapshotName", "bench-snap")]);
    let _ = wait_status(target, &snap, "SnapshotStatus", "available", limit).await;
    Ok(())
}

async fn template_records(target: &Target) -> anyhow::Result<()> {
    let mut c = target.client();
    for body in [
        form(
            "CreateCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "bench-pg"),
                ("CacheParameterGroupFamily", "redis7"),
                ("Description", "bench"),
            ],
        ),
        form(
            "ModifyCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "bench-pg"),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterName",
                    "maxmemory-policy",
                ),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                    "allkeys-lru",
                ),
            ],
        ),
        form(
            "CreateCacheSubnetGroup",
            &[
                ("CacheSubnetGroupName", "bench-sg"),
                ("CacheSubnetGroupDescription", "bench"),
                ("SubnetIds.SubnetIdentifier.1", "subnet-0123456789abcdef0"),
            ],
        ),
        form(
            "CreateCacheCluster",
            &[
                ("CacheClusterId", "bench-template"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("NumCacheNodes", "1"),
                ("Tags.Tag.1.Key", "Project"),
                ("Tags.Tag.1.Value", "bench"),
            ],
        ),
        form(
            "CreateReplicationGroup",
            &[
                ("ReplicationGroupId", "bench-rg"),
                ("ReplicationGroupDescription", "bench"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("NumCacheClusters", "1"),
            ],
        ),
    ] {
        // moto lacks parameter groups: what it refuses is skipped.
        let _ = c.call(&body).await?;
    }
    Ok(())
}

/// CPU time (user + system) of `pid` over 2 s, as a share of one core.
async fn idle_cpu(pid: u32) -> Option<f64> {
    let ticks = || {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };
    let a = ticks()?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b = ticks()?;
    // USER_HZ is 100 on Linux.
    Some((b - a) as f64 / 100.0 / t0.elapsed().as_secs_f64())
}

/// Where the template lives.
const REGION: &str = "us-east-1";

/// Where [`seed`] writes its replication groups: a region without clusters.
/// The replication loop (every 0.5 s) scans its region's clusters once per
/// group, and the automatic-backup schedule its snapshots once per cluster,
/// so thousands of groups or snapshots beside thousands of clusters kept a
/// core busy and starved the API (debug build); the describes measure the
/// answer's cost, so the copies go where those scans are empty.
pub const GROUPS_REGION: &str = "us-east-2";
/// Where [`seed`] writes its snapshots (see [`GROUPS_REGION`]).
pub const SNAPSHOTS_REGION: &str = "us-west-1";

/// What [`seed`] writes: copies of the template's records.
#[derive(Clone, Copy, Default)]
pub struct Seed {
    /// Copies of the Redis cluster (plus the template's own id).
    pub clusters: usize,
    /// Copies each of the parameter and subnet groups.
    pub groups: usize,
    /// Copies of the replication group.
    pub replication_groups: usize,
    pub snapshots: usize,
    /// Copies of an event, dated now.
    pub events: usize,
}

impl Seed {
    pub fn records(&self) -> usize {
        self.clusters + 2 * self.groups + self.replication_groups + self.snapshots + self.events
    }
}

/// Copy the records of `from` (a stopped backend's data dir, holding the
/// [`template`]) into a new data dir `to`, as many copies of each as `n`
/// says. The cluster copies read `create-failed` with nodes never started,
/// so the backend loads them without starting (or adopting) a single
/// engine: the API serves their records exactly as for running clusters,
/// only the status differs. The replication group copies read
/// `create-failed` too, their members named after clusters that do not
/// exist (so no engine and no endpoint is served for them); the snapshot
/// copies are records only (their files are the template's, unread).
pub fn seed(from: &Path, to: &Path, n: Seed) -> anyhow::Result<()> {
    let records = RedbStore::open(from)?.load_all()?;
    let find = |kind: &str, id: &str| {
        records
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{kind}/")) && k.ends_with(&format!("/{id}")))
            .cloned()
            .with_context(|| format!("no {kind} record {id} to copy"))
    };
    let (ckey, cval) = find("cluster", "bench-template")?;
    let (pkey, pval) = find("parametergroup", "bench-pg")?;
    let (skey, sval) = find("subnetgroup", "bench-sg")?;
    let scope_of = |key: &str| key.rsplit_once('/').map_or("", |(s, _)| s).to_owned();
    let scope = scope_of(&ckey);
    let mut batch = Vec::new();
    let mut cluster: serde_json::Value = serde_json::from_slice(&cval)?;
    cluster["data"]["status"] = "create-failed".into();
    if let Some(nodes) = cluster["data"]["nodes"].as_array_mut() {
        for n in nodes {
            n["status"] = "creating".into();
        }
    }
    // The template's own id too, so that describing it by id works on every state.
    for i in 0..=n.clusters {
        let id = if i == n.clusters {
            "bench-template".to_owned()
        } else {
            format!("seed-{i:05}")
        };
        cluster["data"]["id"] = id.clone().into();
        batch.push((format!("{scope}/{id}"), Some(serde_json::to_vec(&cluster)?)));
    }
    for (key, val, field) in [(pkey, pval, "name"), (skey, sval, "name")] {
        let kind_scope = scope_of(&key);
        let mut v: serde_json::Value = serde_json::from_slice(&val)?;
        for i in 0..n.groups {
            let id = format!("seed-{i:05}");
            v["data"][field] = id.clone().into();
            batch.push((format!("{kind_scope}/{id}"), Some(serde_json::to_vec(&v)?)));
        }
    }
    if n.replication_groups > 0 {
        let (key, val) = find("replicationgroup", "bench-rg")?;
        // In a region of their own (see GROUPS_REGION).
        let kind_scope =
            scope_of(&key).replace(&format!("/{REGION}"), &format!("/{GROUPS_REGION}"));
        let mut v: serde_json::Value = serde_json::from_slice(&val)?;
        v["data"]["status"] = "create-failed".into();
        for i in 0..n.replication_groups {
            let id = format!("seed-rg-{i:05}");
            v["data"]["id"] = id.clone().into();
            v["data"]["primary"] = format!("{id}-001").into();
            v["data"]["members"] = serde_json::json!([format!("{id}-001")]);
            batch.push((format!("{kind_scope}/{id}"), Some(serde_json::to_vec(&v)?)));
        }
    }
    if n.snapshots > 0 {
        let (key, val) = find("snapshot", "bench-snap")?;
        let kind_scope =
            scope_of(&key).replace(&format!("/{REGION}"), &format!("/{SNAPSHOTS_REGION}"));
        let mut v: serde_json::Value = serde_json::from_slice(&val)?;
        for i in 0..n.snapshots {
            let id = format!("seed-snap-{i:05}");
            v["data"]["name"] = id.clone().into();
            batch.push((format!("{kind_scope}/{id}"), Some(serde_json::to_vec(&v)?)));
        }
    }
    if n.events > 0 {
        let ev_prefix = format!("event/{}/", scope.split_once('/').map_or("", |(_, s)| s));
        let (_, val) = records
            .iter()
            .rfind(|(k, _)| k.starts_with(&ev_prefix))
            .context("no event record to copy")?;
        let mut v: serde_json::Value = serde_json::from_slice(val)?;
        let now = chrono::Utc::now();
        let kind_scope = ev_prefix.trim_end_matches('/');
        for i in 0..n.events {
            let seq = 1_000_000 + i as u64;
            v["data"]["seq"] = seq.into();
            v["data"]["date"] = serde_json::to_value(now)?;
            v["data"]["source_id"] = format!("seed-{:05}", i % n.clusters.max(1)).into();
            let id = format!("{:020}-{seq:012}", now.timestamp_millis());
            batch.push((format!("{kind_scope}/{id}"), Some(serde_json::to_vec(&v)?)));
        }
    }
    // One transaction: a commit per record took seconds for thousands.
    RedbStore::open(to)?.write(&batch)?;
    Ok(())
}

pub fn cfg(mode: Mode) -> (Duration, Duration, usize, usize, usize) {
    match mode {
        Mode::Quick => (
            Duration::from_millis(800),
            Duration::from_millis(200),
            1,
            24,
            2700,
        ),
        Mode::Full => (
            Duration::from_secs(2),
            Duration::from_millis(500),
            3,
            80,
            2700,
        ),
    }
}

pub async fn run(mode: Mode, rep: &mut Report, work: &Path) -> anyhow::Result<()> {
    let (run, warmup, reps, creates, stored) = cfg(mode);
    let cfg = Cfg {
        run,
        warmup,
        reps,
        creates,
        stored,
    };
    let moto = Moto::start_if_available().await;

    // Small state: the template objects only.
    let small_dir = work.join("api-small");
    std::fs::create_dir_all(&small_dir)?;
    let mut ours = Backend::start_in("process", &small_dir).await?;
    template(&ours.target()).await?;
    let ours_small = matrix(
        &ours.target(),
        &ours.target(),
        &cfg,
        "small",
        true,
        &OPS,
        false,
    )
    .await;
    ours.stop();
    let moto_small = match &moto {
        Some(m) => {
            template(&m.target()).await?;
            Some(matrix(&m.target(), &m.target(), &cfg, "small", false, &OPS, false).await)
        }
        None => None,
    };

    // Exactly one default page of each stored (snapshots: 50), seeded offline:
    // the same answers as with thousands stored.
    let page_dir = work.join("api-page");
    seed(
        &small_dir,
        &page_dir,
        Seed {
            clusters: 99,
            groups: 1,
            replication_groups: 100,
            snapshots: 50,
            events: 100,
        },
    )?;
    let mut page_be = Backend::start_in("process", &page_dir).await?;
    let ours_page = matrix(
        &page_be.target(),
        &page_be.target(),
        &cfg,
        "page",
        false,
        &PAGED,
        true,
    )
    .await;
    page_be.stop();

    // Many resources stored, seeded offline from the template's records.
    let big_dir = work.join("api-big");
    let t0 = Instant::now();
    let big_seed = Seed {
        clusters: cfg.stored,
        groups: 1,
        replication_groups: 0,
        snapshots: cfg.stored,
        events: cfg.stored,
    };
    seed(&small_dir, &big_dir, big_seed)?;
    // The groups in a backend of their own: the replication loop visits every
    // group every 0.5 s, a load that would weigh on every other row.
    let groups_dir = work.join("api-big-groups");
    seed(
        &small_dir,
        &groups_dir,
        Seed {
            replication_groups: cfg.stored,
            ..Seed::default()
        },
    )?;
    let seeded_in = t0.elapsed();
    let mut ours_big_be = Backend::start_in("process", &big_dir).await?;
    let ours_big_start = ours_big_be.started_in;
    let busy_big = idle_cpu(ours_big_be.pid()).await;
    // Creates go to another region: 300 clusters is a region's quota.
    let west = ours_big_be.target().in_region("us-west-2");
    let no_groups: Vec<Op> = OPS
        .into_iter()
        .filter(|op| *op != Op::DescribeReplicationGroups)
        .collect();
    let mut ours_big = matrix(
        &ours_big_be.target(),
        &west,
        &cfg,
        "big",
        true,
        &no_groups,
        true,
    )
    .await;
    ours_big_be.stop();
    let mut groups_be = Backend::start_in("process", &groups_dir).await?;
    let busy_groups = idle_cpu(groups_be.pid()).await;
    ours_big.extend(
        matrix(
            &groups_be.target(),
            &groups_be.target(),
            &cfg,
            "big",
            false,
            &[Op::DescribeReplicationGroups],
            true,
        )
        .await,
    );
    groups_be.stop();
    ours_big.sort_by_key(|((op, conc), _)| (OPS.iter().position(|o| o == op), *conc));
    let moto_big_ops: &[Op] = if mode == Mode::Quick {
        &MOTO_QUICK_BIG
    } else {
        &OPS
    };
    let (moto_big, moto_seed) = match &moto {
        Some(m) => {
            let t0 = Instant::now();
            let f: Form = Arc::new(|i| {
                form(
                    "CreateCacheCluster",
                    &[
                        ("CacheClusterId", &format!("seed-{i:05}")),
                        ("Engine", "redis"),
                        ("CacheNodeType", "cache.t3.micro"),
                        ("NumCacheNodes", "1"),
                    ],
                )
            });
            let r = load(&m.target(), 4, Stop::Count(cfg.stored), f, ok_create).await;
            let seed_t = t0.elapsed();
            if r.errors > 0 {
                eprintln!(
                    "bench: moto seeding: {} errors: {:?}",
                    r.errors, r.first_error
                );
            }
            // As many groups and snapshots (moto keeps no events); not in
            // the quick mode, whose moto rows leave those two describes out.
            let (g_ok, sn_ok) = if mode == Mode::Quick {
                (0, 0)
            } else {
                // As many groups and snapshots (moto keeps no events).
                let f: Form = Arc::new(|i| {
                    form(
                        "CreateReplicationGroup",
                        &[
                            ("ReplicationGroupId", &format!("seed-rg-{i:05}")),
                            ("ReplicationGroupDescription", "bench"),
                            ("Engine", "redis"),
                            ("CacheNodeType", "cache.t3.micro"),
                            ("NumCacheClusters", "1"),
                        ],
                    )
                });
                let g = load(&m.target(), 4, Stop::Count(cfg.stored), f, |a| a.ok()).await;
                let f: Form = Arc::new(|i| {
                    form(
                        "CreateSnapshot",
                        &[
                            ("SnapshotName", &format!("seed-snap-{i:05}")),
                            ("CacheClusterId", &format!("seed-{i:05}")),
                        ],
                    )
                });
                let sn = load(&m.target(), 4, Stop::Count(cfg.stored), f, |a| a.ok()).await;
                for (what, r) in [("groups", &g), ("snapshots", &sn)] {
                    if r.errors > 0 {
                        eprintln!(
                            "bench: moto seeding {what}: {} errors: {:?}",
                            r.errors, r.first_error
                        );
                    }
                }
                (g.ok, sn.ok)
            };
            let west = m.target().in_region("us-west-2");
            (
                Some(matrix(&m.target(), &west, &cfg, "big", false, moto_big_ops, false).await),
                Some((seed_t, r, g_ok, sn_ok)),
            )
        }
        None => (None, None),
    };
    drop(moto);

    // Report.
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Signed (SigV4) Query requests from {} closed-loop clients, each on its own keep-alive \
         connection (moto's server closes the connection after every answer). Describe calls use \
         the default page (`MaxRecords` absent); `DescribeCacheParameters` reads `default.redis7`. \
         `DescribeCacheClusters(id)` asks for one cluster by `CacheClusterId` (what Terraform \
         polls). `CreateCacheCluster` sends {} creates of a 1-node Memcached cluster per level and times \
         the API answer (`creating`); on our backend the engines then start in the background and \
         the next level waits until they are `available`. Throughput is the median req/s per cell ({} run{} of {} after {} warm-up).\n",
        LEVELS.map(|l| l.to_string()).join("/"),
        cfg.creates,
        cfg.reps,
        if cfg.reps == 1 { "" } else { "s" },
        crate::stats::secs(cfg.run.as_secs_f64()),
        crate::stats::secs(cfg.warmup.as_secs_f64()),
    );
    let _ =
        writeln!(
        md,
        "The small state holds the template: a parameter group, a subnet group, one Redis \
         cluster, one replication group of one node (its member cluster is listed by \
         `DescribeCacheClusters` too), one snapshot of the cluster, and the events of their \
         creation. The {n} stored clusters, {n} replication groups, {n} snapshots and {n} events \
         (dated at the seeding) were written offline into the backend's redb store, copies of \
         the template's records (clusters and groups in `create-failed`, a group's member named \
         after a cluster that does not exist, so that no engine starts; {} for the seeding); \
         our groups are seeded in `us-east-2` and our snapshots in `us-west-1`, regions without \
         clusters, and described there: the replication loop scans its region's clusters once \
         per group every 0.5 s and the automatic-backup schedule its snapshots once per cluster, \
         and thousands of either beside thousands of clusters kept a core busy and the API \
         starved (a cost of its own, not the describe's; measured with a debug build). Moto's are \
         created through its API ({}; moto keeps no events). Creates with that state go to `us-west-2`, \
         since a region's quota is 300 clusters. The one-page state (ours only) holds exactly one \
         default page of each paged describe, seeded the same way: 100 clusters, 100 groups, \
         100 events, 50 snapshots (`DescribeSnapshots` pages by 50): with thousands stored, the \
         same answers.\n",
        crate::stats::secs(seeded_in.as_secs_f64()),
        moto_seed.as_ref().map_or("moto absent".to_owned(), |(t, r, g, sn)| format!(
            "{} clusters in {}, {:.0} creates/s at 4 clients; then {g} groups and {sn} snapshots \
             (none in the quick mode, whose moto rows with many stored leave their describes out)",
            r.ok,
            crate::stats::secs(t.as_secs_f64()),
            r.ok as f64 / t.as_secs_f64()
        )),
        n = cfg.stored,
    );
    for (title, state, ours_m, moto_m) in [
        (
            "Small state (1 cluster)".to_owned(),
            crate::ApiState::Small,
            ours_small,
            moto_small,
        ),
        (
            "One default page stored (ours only)".to_owned(),
            crate::ApiState::Page,
            ours_page,
            None,
        ),
        (
            format!("{} of each stored", cfg.stored),
            crate::ApiState::Big,
            ours_big,
            moto_big,
        ),
    ] {
        let _ = writeln!(md, "#### {title}\n");
        let _ = writeln!(
            md,
            "| operation | clients | ours req/s | ours p50 | ours p99 | moto req/s | moto p50 | moto p99 | throughput ratio | p50 ratio |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut moto_m = moto_m;
        for ((op, conc), mut o) in ours_m {
            let mut m = moto_m
                .as_mut()
                .and_then(|v| v.iter_mut().find(|(k, _)| *k == (op, conc)))
                .map(|(_, c)| std::mem::take(c));
            let o50 = o.p(50.0);
            let o99 = o.p(99.0);
            let (m_rps, m50, m99, m_note) = match m.as_mut() {
                None if state == crate::ApiState::Page => {
                    ("–".to_owned(), None, None, "not measured".to_owned())
                }
                None if moto_m.is_some() => (
                    "–".to_owned(),
                    None,
                    None,
                    "not measured (quick mode)".to_owned(),
                ),
                None => ("–".to_owned(), None, None, "moto absent".to_owned()),
                Some(c) if c.unsupported => (
                    "n/a".to_owned(),
                    None,
                    None,
                    format!(
                        "moto does not implement it ({})",
                        c.first_error.clone().unwrap_or_default()
                    ),
                ),
                Some(c) => (
                    format!("{:.0}", c.rps.median().unwrap_or(0.0)),
                    c.p(50.0),
                    c.p(99.0),
                    String::new(),
                ),
            };
            let thr = ratio(o.rps.median(), m.as_ref().and_then(|c| c.rps.median()));
            if m.as_ref().is_some_and(|c| c.errors > 0) {
                eprintln!(
                    "bench: moto {} ×{conc}: {} errors: {:?}",
                    op.name(),
                    m.as_ref().map_or(0, |c| c.errors),
                    m.as_ref().and_then(|c| c.first_error.clone())
                );
            }
            let p50r = ratio(m50.map(|v| v as f64), o50.map(|v| v as f64));
            let _ = writeln!(
                md,
                "| {} | {conc} | {:.0}{} | {} | {} | {m_rps} | {} | {} | {} | {} |",
                op.name(),
                o.rps.median().unwrap_or(0.0),
                if o.errors > 0 {
                    format!(" ({} errors)", o.errors)
                } else {
                    String::new()
                },
                o50.map_or("–".into(), us),
                o99.map_or("–".into(), us),
                m50.map_or("–".into(), us),
                m99.map_or("–".into(), us),
                if m_note.is_empty() { thr } else { m_note },
                p50r,
            );
            let key = format!("{}@{conc}/{}", op.name(), title);
            rep.api.push(crate::ApiFigure {
                key,
                op: op.name(),
                conc,
                state,
                ours_rps: o.rps.median(),
                ours_p50: o50,
                moto_rps: m.as_ref().and_then(|c| c.rps.median()),
                per_page: (o.per_page, m.as_ref().and_then(|c| c.per_page)),
                bytes: (
                    o.bytes_per_answer,
                    m.as_ref().map_or(0, |c| c.bytes_per_answer),
                ),
                errors: o.errors,
            });
        }
        let _ = writeln!(md);
    }
    let pages: Vec<String> = rep
        .api
        .iter()
        .filter(|f| f.conc == 1 && f.op != "CreateCacheCluster")
        .map(|f| {
            format!(
                "{} {}: ours {} items / {} bytes, moto {} items / {} bytes",
                f.op,
                f.state.label(),
                f.per_page.0.map_or("–".into(), |v| v.to_string()),
                f.bytes.0,
                f.per_page.1.map_or("–".into(), |v| v.to_string()),
                f.bytes.1
            )
        })
        .collect();
    let _ = writeln!(md, "Answer sizes (one answer): {}.\n", pages.join("; "));
    let _ = writeln!(
        md,
        "Backend start with {n} clusters, {n} snapshots and {n} events stored: {} to the first \
         answer. The backend's own CPU while idle (2 s, no request), as a share of one core: \
         {} with those stored, {} with {n} replication groups stored (its \
         replication loop visits every group every 0.5 s; DescribeReplicationGroups with many \
         stored is measured on that second backend).\n",
        crate::stats::secs(ours_big_start.as_secs_f64()),
        busy_big.map_or("–".into(), |c| format!("{:.0} %", c * 100.0)),
        busy_groups.map_or("–".into(), |c| format!("{:.0} %", c * 100.0)),
        n = cfg.stored,
    );
    rep.section("1. API throughput and latency", md);
    Ok(())
}
