//! Section 1: API throughput and latency, ours next to moto's, with a small
//! state and with thousands of clusters stored.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use elasticache_local::store::{RedbStore, Store};

use crate::http::{form, load, Answer, Form, Run, Stop, Target};
use crate::procs::{wait_clusters, Backend, Moto};
use crate::stats::{pct, ratio, us, Series};
use crate::{Mode, Report};

/// The operations measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    DescribeCacheClusters,
    DescribeOneCacheCluster,
    DescribeCacheParameters,
    CreateCacheCluster,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::DescribeCacheClusters => "DescribeCacheClusters",
            Self::DescribeOneCacheCluster => "DescribeCacheClusters(id)",
            Self::DescribeCacheParameters => "DescribeCacheParameters",
            Self::CreateCacheCluster => "CreateCacheCluster",
        }
    }
}

const OPS: [Op; 4] = [
    Op::DescribeCacheClusters,
    Op::DescribeOneCacheCluster,
    Op::DescribeCacheParameters,
    Op::CreateCacheCluster,
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
) -> Vec<((Op, usize), Cell)> {
    let mut out = Vec::new();
    for op in OPS.into_iter().filter(|op| wanted(*op)) {
        if op == Op::DescribeCacheParameters {
            // moto does not implement it: one probe decides.
            let a = target
                .client()
                .call(&form(
                    op.name(),
                    &[("CacheParameterGroupName", "default.redis7")],
                ))
                .await;
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
                    let body = match op {
                        Op::DescribeCacheClusters => form(op.name(), &[]),
                        Op::DescribeOneCacheCluster => form(
                            "DescribeCacheClusters",
                            &[("CacheClusterId", "bench-template")],
                        ),
                        _ => form(op.name(), &[("CacheParameterGroupName", "default.redis7")]),
                    };
                    let probe = target.client().call(&body).await;
                    if let Ok(a) = &probe {
                        let t = a.text();
                        cell.per_page = Some(match op {
                            Op::DescribeCacheClusters | Op::DescribeOneCacheCluster => {
                                crate::http::xml_values(&t, "CacheClusterId").len()
                            }
                            _ => crate::http::xml_values(&t, "ParameterName").len(),
                        });
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
/// value, a subnet group and a Redis cluster.
pub async fn template(target: &Target) -> anyhow::Result<()> {
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
    ] {
        // moto lacks parameter groups: what it refuses is skipped.
        let _ = c.call(&body).await?;
    }
    Ok(())
}

/// Copy the records of `from` (a stopped backend's data dir) into a new data
/// dir `to`, with `clusters` copies of its Redis cluster record and
/// `groups` copies each of its parameter and subnet group records. The copies
/// read `create-failed` with nodes never started, so the backend loads them
/// without starting (or adopting) a single engine: the API serves their
/// records exactly as for running clusters, only the status differs.
pub fn seed(from: &Path, to: &Path, clusters: usize, groups: usize) -> anyhow::Result<()> {
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
    let scope = ckey.rsplit_once('/').map_or("", |(s, _)| s).to_owned();
    let store = RedbStore::open(to)?;
    let mut cluster: serde_json::Value = serde_json::from_slice(&cval)?;
    cluster["data"]["status"] = "create-failed".into();
    if let Some(nodes) = cluster["data"]["nodes"].as_array_mut() {
        for n in nodes {
            n["status"] = "creating".into();
        }
    }
    // The template's own id too, so that describing it by id works on every state.
    for i in 0..=clusters {
        let id = if i == clusters {
            "bench-template".to_owned()
        } else {
            format!("seed-{i:05}")
        };
        cluster["data"]["id"] = id.clone().into();
        store.put(&format!("{scope}/{id}"), &serde_json::to_vec(&cluster)?)?;
    }
    for (key, val, field) in [(pkey, pval, "name"), (skey, sval, "name")] {
        let kind_scope = key.rsplit_once('/').map_or("", |(s, _)| s).to_owned();
        let mut v: serde_json::Value = serde_json::from_slice(&val)?;
        for i in 0..groups {
            let id = format!("seed-{i:05}");
            v["data"][field] = id.clone().into();
            store.put(&format!("{kind_scope}/{id}"), &serde_json::to_vec(&v)?)?;
        }
    }
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
    wait_clusters(
        &ours.target(),
        &["bench-template".to_owned()],
        Duration::from_secs(60),
    )
    .await?;
    let ours_small = matrix(&ours.target(), &ours.target(), &cfg, "small", true).await;
    ours.stop();
    let moto_small = match &moto {
        Some(m) => {
            template(&m.target()).await?;
            Some(matrix(&m.target(), &m.target(), &cfg, "small", false).await)
        }
        None => None,
    };

    // Many clusters stored, seeded offline from the template's records.
    let big_dir = work.join("api-big");
    let t0 = Instant::now();
    seed(&small_dir, &big_dir, cfg.stored, 1)?;
    let seeded_in = t0.elapsed();
    let mut ours_big_be = Backend::start_in("process", &big_dir).await?;
    let ours_big_start = ours_big_be.started_in;
    // Creates go to another region: 300 clusters is a region's quota.
    let west = ours_big_be.target().in_region("us-west-2");
    let ours_big = matrix(&ours_big_be.target(), &west, &cfg, "big", true).await;
    ours_big_be.stop();
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
            let west = m.target().in_region("us-west-2");
            (
                Some(matrix(&m.target(), &west, &cfg, "big", false).await),
                Some((seed_t, r)),
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
        "The {} stored clusters were written offline into the backend's redb store (copies of a \
         real cluster's record, in `create-failed` so that no engine starts; {} for the seeding), \
         and created through the API on moto ({}). Creates with that state go to `us-west-2`, \
         since a region's quota is 300 clusters.\n",
        cfg.stored,
        crate::stats::secs(seeded_in.as_secs_f64()),
        moto_seed.as_ref().map_or("moto absent".to_owned(), |(t, r)| format!(
            "{} clusters in {}, {:.0} creates/s at 4 clients",
            r.ok,
            crate::stats::secs(t.as_secs_f64()),
            r.ok as f64 / t.as_secs_f64()
        )),
    );
    for (title, ours_m, moto_m) in [
        ("Small state (1 cluster)", ours_small, moto_small),
        (
            &*format!("{} clusters stored", cfg.stored),
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
                big: !title.starts_with("Small"),
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
                if f.big { "(many stored)" } else { "(small)" },
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
        "Backend start with {} clusters stored: {} to the first answer.\n",
        cfg.stored,
        crate::stats::secs(ours_big_start.as_secs_f64())
    );
    rep.section("1. API throughput and latency", md);
    Ok(())
}
