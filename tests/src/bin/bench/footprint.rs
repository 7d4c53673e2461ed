//! Sections 4 and 5: the backend's footprint (idle RSS, RSS with clusters,
//! start with many resources stored) and scale (many clusters created at
//! once, paging over them).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{form, load, xml_value, xml_values, Form, Stop, Target};
use crate::procs::{rss_kib, wait_clusters, Backend, Moto};
use crate::stats::{mib, ratio, secs, Series};
use crate::{Mode, Report};

/// Create `ids` as 1-node `engine` clusters from `conc` clients; returns
/// (time until every answer, errors).
async fn create_many(
    target: &Target,
    ids: &[String],
    engine: &'static str,
    conc: usize,
) -> (Duration, usize, Option<String>) {
    let ids2: Arc<Vec<String>> = Arc::new(ids.to_vec());
    let f: Form = Arc::new(move |i| {
        form(
            "CreateCacheCluster",
            &[
                ("CacheClusterId", &ids2[i]),
                ("Engine", engine),
                ("CacheNodeType", "cache.t3.micro"),
                ("NumCacheNodes", "1"),
            ],
        )
    });
    let t0 = Instant::now();
    let r = load(target, conc, Stop::Count(ids.len()), f, |a| a.ok()).await;
    (t0.elapsed(), r.errors, r.first_error)
}

/// Sum of the engines' RSS (pid files under the data dir), KiB.
fn engines_rss(data: &Path) -> u64 {
    std::fs::read_dir(data.join("nodes"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("node.pid")).ok())
                .filter_map(|p| p.trim().parse::<u32>().ok())
                .filter_map(rss_kib)
                .map(|(r, _)| r)
                .sum()
        })
        .unwrap_or(0)
}

/// The template data dir of section 1, or a new one.
async fn template_dir(work: &Path) -> anyhow::Result<std::path::PathBuf> {
    let dir = work.join("api-small");
    if dir.join("state.redb").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let mut be = Backend::start_in("process", &dir).await?;
    crate::api::template(&be.target()).await?;
    be.stop();
    Ok(dir)
}

pub async fn run(mode: Mode, rep: &mut Report, work: &Path) -> anyhow::Result<()> {
    // 200 clusters: issue 15's per-node target is set at 200.
    let (n, starts) = match mode {
        Mode::Quick => (200, 3),
        Mode::Full => (200, 10),
    };
    let mut md = String::new();

    // Idle, then with n clusters.
    let be = Backend::start("process").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = be.rss_kib();
    let ids: Vec<String> = (0..n).map(|i| format!("fp-{i:03}")).collect();
    let (created_in, errors, first) = create_many(&be.target(), &ids, "redis", 16).await;
    if errors > 0 {
        eprintln!("bench: footprint: {errors} create errors: {first:?}");
    }
    wait_clusters(&be.target(), &ids, Duration::from_secs(300)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_n = be.rss_kib();
    let engines = engines_rss(&be.data);
    drop(be);

    // Start with 10,000 records stored.
    let tpl = template_dir(work).await?;
    let seeded = work.join("footprint-10000");
    let stored = crate::api::Seed {
        clusters: 5000,
        groups: 1000,
        replication_groups: 1000,
        snapshots: 1000,
        events: 1000,
    };
    crate::api::seed(&tpl, &seeded, stored)?;
    let empty = work.join("footprint-empty");
    std::fs::create_dir_all(&empty)?;
    let mut t_empty = Series::default();
    let mut t_many = Series::default();
    let mut t_killed = Series::default();
    let mut rss_many = None;
    // Each start after a stop by SIGTERM (the database closed cleanly), as a
    // user's Ctrl-C, `docker stop` or systemd stops it ...
    for _ in 0..starts {
        let mut b = Backend::start_in("process", &empty).await?;
        t_empty.push_dur(b.started_in);
        b.terminate();
        let mut b = Backend::start_in("process", &seeded).await?;
        t_many.push_dur(b.started_in);
        rss_many = b.rss_kib();
        b.terminate();
    }
    // ... and after a SIGKILL (the database was not closed).
    drop(Backend::start_in("process", &seeded).await?);
    for _ in 0..starts {
        let b = Backend::start_in("process", &seeded).await?;
        t_killed.push_dur(b.started_in);
        drop(b);
    }

    let _ = writeln!(
        md,
        "Process runtime; RSS of the backend process only (engines are processes of their own). \
         Start: from spawning the backend to its first successful `DescribeCacheClusters` answer \
         (polled every 2 ms), median of {starts}.\n"
    );
    let _ = writeln!(md, "| measure | value |");
    let _ = writeln!(md, "|---|---:|");
    let fmt = |r: Option<(u64, u64)>| {
        r.map_or("–".into(), |(r, h)| {
            format!("{} (peak {})", mib(r), mib(h))
        })
    };
    let _ = writeln!(md, "| idle RSS | {} |", fmt(idle));
    let _ = writeln!(
        md,
        "| RSS with {n} Redis clusters available (engines excluded) | {} |",
        fmt(with_n)
    );
    let _ = writeln!(
        md,
        "| the {n} engines' RSS together (for scale) | {} |",
        mib(engines)
    );
    let _ = writeln!(
        md,
        "| {n} creates answered (16 clients) | {} |",
        secs(created_in.as_secs_f64())
    );
    let _ = writeln!(
        md,
        "| start → first answer, empty data dir | {} |",
        t_empty.fmt_secs()
    );
    let per_node = match (idle, with_n) {
        (Some((i, _)), Some((w, _))) => Some(w.saturating_sub(i) as f64 / n as f64 / 1024.0),
        _ => None,
    };
    let _ = writeln!(
        md,
        "| backend RSS per node beyond the engine ((RSS with {n} − idle) ÷ {n}) | {} |",
        per_node.map_or("–".into(), |m| format!("{m:.3} MiB"))
    );
    let _ = writeln!(
        md,
        "| start → first answer, {} records stored ({} clusters, {} parameter groups, {} subnet groups, {} replication groups, {} snapshots, {} events) | {} |",
        crate::stats::thousands(stored.records()),
        stored.clusters + 1,
        stored.groups,
        stored.groups,
        stored.replication_groups,
        stored.snapshots,
        stored.events,
        t_many.fmt_secs()
    );
    let _ = writeln!(
        md,
        "| the same after a `SIGKILL` instead of a stop (the database not closed) | {} |",
        t_killed.fmt_secs()
    );
    let _ = writeln!(md, "| RSS after that start | {} |", fmt(rss_many));
    let _ = writeln!(
        md,
        "\nThe stored records are copies of real records written offline; the clusters and groups read \
         `create-failed` (see section 1), so no engine starts and the start time is the backend's own.\n"
    );
    rep.goal(
        crate::order::FOOTPRINT,
        &format!("Backend RSS per node beyond the engine ≤ 0.1 MiB at {n} clusters"),
        per_node.map_or("not measured".into(), |m| {
            format!(
                "{m:.3} MiB ({} with {n} Redis clusters, {} idle)",
                fmt(with_n),
                fmt(idle)
            )
        }),
        per_node.map(|m| m <= 0.1),
    );
    rep.goal(
        crate::order::FOOTPRINT,
        &format!(
            "Start → first answer with {} records stored ≤ 100 ms",
            crate::stats::thousands(stored.records())
        ),
        format!(
            "{} after a stop by SIGTERM, {} after a SIGKILL (empty data dir: {})",
            t_many.fmt_secs(),
            t_killed.fmt_secs(),
            t_empty.fmt_secs()
        ),
        t_many.median().map(|t| t <= 0.1),
    );
    rep.section("4. Backend footprint", md);
    Ok(())
}

/// Walk every page of `action` with `MaxRecords=size`; returns (items, pages, time).
async fn walk(
    target: &Target,
    action: &str,
    item: &str,
    size: usize,
) -> anyhow::Result<(usize, usize, Duration)> {
    let mut c = target.client();
    let size = size.to_string();
    let mut marker: Option<String> = None;
    let (mut items, mut pages) = (0, 0);
    let t0 = Instant::now();
    loop {
        let mut p = vec![("MaxRecords", size.as_str())];
        if action == "DescribeEvents" {
            p.push(("Duration", "1440"));
        }
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let a = c.call(&form(action, &p)).await?;
        if !a.ok() {
            anyhow::bail!(
                "{action}: HTTP {}: {}",
                a.status,
                xml_value(&a.text(), "Code").unwrap_or_default()
            );
        }
        let t = a.text();
        items += xml_values(&t, item).len();
        pages += 1;
        marker = xml_value(&t, "Marker").filter(|m| !m.is_empty());
        if marker.is_none() || pages > 10_000 {
            return Ok((items, pages, t0.elapsed()));
        }
    }
}

pub async fn scale(mode: Mode, rep: &mut Report) -> anyhow::Result<()> {
    let (n, walks) = match mode {
        Mode::Quick => (100, 3),
        Mode::Full => (200, 10),
    };
    let mut md = String::new();
    let be = Backend::start("process").await?;
    let target = be.target();
    let ids: Vec<String> = (0..n).map(|i| format!("scale-{i:03}")).collect();
    let t0 = Instant::now();
    let (answered, errors, first) = create_many(&target, &ids, "redis", n.min(64)).await;
    let all = wait_clusters(&target, &ids, Duration::from_secs(600)).await;
    let all_available = t0.elapsed();
    if let Err(e) = &all {
        eprintln!("bench: scale: {e:#}");
    }
    let moto = Moto::start_if_available().await;
    if let Some(m) = &moto {
        let _ = create_many(&m.target(), &ids, "redis", 8).await;
    }
    let _ = writeln!(
        md,
        "{n} one-node Redis clusters created at once ({} clients) on the process runtime: every create \
         answered after {}{}, all `available` after {}{}. Then full walks over every page, \
         median of {walks} walks (moto holds the same {n} clusters, created through its API).\n",
        n.min(64),
        secs(answered.as_secs_f64()),
        if errors > 0 {
            format!(" ({errors} errors: {})", first.unwrap_or_default())
        } else {
            String::new()
        },
        secs(all_available.as_secs_f64()),
        if all.is_err() { " (timed out)" } else { "" },
    );
    let _ = writeln!(md, "| walk | pages × items | ours | moto | ratio |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|");
    for (action, item, size) in [
        ("DescribeCacheClusters", "CacheClusterId", 20),
        ("DescribeCacheClusters", "CacheClusterId", 100),
        ("DescribeEvents", "SourceIdentifier", 100),
    ] {
        let mut ours = Series::default();
        let mut theirs = Series::default();
        let mut shape = String::new();
        let mut moto_note = String::new();
        for _ in 0..walks {
            match walk(&target, action, item, size).await {
                Ok((items, pages, t)) => {
                    ours.push_dur(t);
                    shape = format!("{pages} × {items}");
                }
                Err(e) => shape = format!("{e:#}"),
            }
            if let Some(m) = &moto {
                match walk(&m.target(), action, item, size).await {
                    Ok((_, _, t)) => theirs.push_dur(t),
                    Err(e) => moto_note = format!("{e:#}"),
                }
            }
        }
        let _ = writeln!(
            md,
            "| {action} (MaxRecords={size}) | {shape} | {} | {} | {} |",
            ours.fmt_secs(),
            if moto_note.is_empty() {
                theirs.fmt_secs()
            } else {
                "not implemented".to_owned()
            },
            ratio(theirs.median(), ours.median())
        );
    }
    let _ = writeln!(md);
    rep.section("5. Scale", md);
    rep.notes.push(format!(
        "{n} clusters created at once on the process runtime are all `available` after {}.",
        secs(all_available.as_secs_f64())
    ));
    drop(moto);
    drop(be);
    Ok(())
}
