//! Reliability drills (issue 17): a real backend binary, real SIGKILLs, real
//! engines, the official AWS SDK as the client. See docs/reliability.md.
//!
//! Short forms run with the suite (process runtime, about three minutes in
//! all). Full forms are `#[ignore]`d and run alone:
//!
//! ```sh
//! DRILL_ROUNDS=20 ELASTICACHE_TEST_RUNTIMES=process,docker \
//!   cargo test -p acceptance --test drills -- --ignored --nocapture --test-threads 1
//! ```
//!
//! A full run writes its figures to `target/drills/` (Markdown, for
//! docs/reliability.md). `DRILL_SEED` repeats a run's random choices.

mod crash;
mod engines;
mod harness;
mod hostile;
mod secrets;
mod soak;
mod terraform;

use std::path::PathBuf;

use crash::{Drill, Workload};

fn runtimes() -> Vec<String> {
    std::env::var("ELASTICACHE_TEST_RUNTIMES")
        .unwrap_or_else(|_| "process".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Run `rounds` rounds of `w` on `runtime`; the report and what the final
/// clean-up found.
async fn run_crash(runtime: &str, w: Workload, rounds: usize) -> (crash::Report, Vec<String>) {
    let tmp = tempfile::Builder::new()
        .prefix("ec-drill-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let seed = harness::Rng::seed_from_env();
    eprintln!(
        "drill crash/{} on {runtime}: seed {seed} (DRILL_SEED)",
        w.name()
    );
    let mut d = Drill::new(runtime, &data, w, seed);
    d.setup().await;
    for n in 0..rounds {
        d.round(n).await;
    }
    let finish = d.finish().await;
    for f in &finish {
        eprintln!("after the last round: {f}");
    }
    if runtime == "docker" {
        harness::remove_containers(&d.prefix);
    }
    let report = std::mem::take(&mut d.report);
    drop(d);
    if !report.failures.is_empty() || !finish.is_empty() {
        // Kept for a look: the data directory and the backend's logs.
        eprintln!("kept {}", tmp.keep().display());
    }
    (report, finish)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_at_any_point_short() {
    let mut failed = crash::first_start_killed(8, harness::Rng::seed_from_env()).await;
    eprintln!(
        "crash/first start: 8 kills while the database was made, {} broken",
        failed.len()
    );
    for (w, rounds) in [(Workload::Churn, 4), (Workload::Mixed, 3)] {
        let (r, finish) = run_crash("process", w, rounds).await;
        eprintln!(
            "crash/{}: {}/{} rounds survived, {} kills",
            w.name(),
            r.survived,
            r.rounds,
            r.kills
        );
        failed.extend(r.failures);
        failed.extend(finish);
    }
    assert!(
        failed.is_empty(),
        "invariants broken:\n{}",
        failed.join("\n")
    );
}

/// Drill 6: no secret in any log, event, error or answer; owner-only keys and
/// database; loopback only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_stay_secret() {
    // Loopback unless told otherwise: the default the backend documents.
    let help = std::process::Command::new(harness::backend_binary())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("[default: 127.0.0.1:4566]"),
        "the API listens on loopback by default:\n{help}"
    );
    for rt in runtimes() {
        let f = secrets::run(&rt).await;
        eprintln!(
            "secrets/{rt}: searched {} texts ({} bytes): {} hits, {} loose modes, {} non-loopback listeners",
            f.searched.0,
            f.searched.1,
            f.leaks.len(),
            f.modes.len(),
            f.exposed.len()
        );
        let all: Vec<&String> = f.leaks.iter().chain(&f.modes).chain(&f.exposed).collect();
        assert!(all.is_empty(), "{rt}: {all:#?}");
    }
}

/// The two groups of drill 2.
#[derive(Clone, Copy)]
enum EngineGroup {
    /// A 1+2 group (cluster mode off), writers through the primary endpoint.
    Replicated,
    /// A 3×(1+2) cluster-mode group, a cluster-aware writer per shard.
    Cluster,
}

/// Drill 2 on `rts`, `kills` kills each, on `groups`; one table row per
/// (group, runtime), and what broke.
async fn engines_drill(
    rts: &[String],
    groups: &[EngineGroup],
    kills: usize,
) -> (String, Vec<String>) {
    let mut rows = String::new();
    let mut broke = Vec::new();
    for g in groups {
        for rt in rts {
            let seed = harness::Rng::seed_from_env();
            let (name, f, members) = match g {
                EngineGroup::Replicated => ("1+2", engines::run(rt, kills, seed).await, 3),
                EngineGroup::Cluster => ("3×(1+2)", engines::run_cluster(rt, kills, seed).await, 9),
            };
            eprintln!(
                "engines/{name}/{rt} (seed {seed}): {} kills ({} of a primary), {} writes acknowledged by WAIT, {} lost, worst recovery {:?}, after: {} with {} members, {} engines running ({:?})",
                f.kills,
                f.primaries_killed,
                f.acked,
                f.lost.len(),
                f.worst_recovery,
                f.status_after,
                f.members_after,
                f.running_after,
                f.settle_after
            );
            rows.push_str(&format!(
                "| {name} | {rt} | {} ({} primary, {} replica) | {} | {} | {:.2} s | `{}`, {} members, {} engines ({:.1} s after the writers stopped) |\n",
                f.kills,
                f.primaries_killed,
                f.kills - f.primaries_killed,
                f.acked,
                f.lost.len(),
                f.worst_recovery.as_secs_f64(),
                f.status_after,
                f.members_after,
                f.running_after,
                f.settle_after.as_secs_f64()
            ));
            if let Some(t) = f.chase_recovery {
                // The failover waited for a member that died again while it
                // was brought back: the 60 s it is given to answer.
                if t >= std::time::Duration::from_secs(45) {
                    broke.push(format!(
                        "{name}/{rt}: a primary killed while another member was being brought back: {t:?} to the next acknowledged write (the failover waited for that member)"
                    ));
                }
            }
            if f.acked == 0 {
                broke.push(format!("{name}/{rt}: no write was acknowledged"));
            }
            if f.kills == 0 {
                broke.push(format!("{name}/{rt}: no engine was killed"));
            }
            if !f.lost.is_empty() {
                broke.push(format!(
                    "{name}/{rt}: {} acknowledged writes lost: {:?}",
                    f.lost.len(),
                    &f.lost[..f.lost.len().min(20)]
                ));
            }
            if (f.status_after.as_str(), f.members_after, f.running_after)
                != ("available", members, members)
            {
                broke.push(format!(
                    "{name}/{rt}: after the last kill {} with {} members and {} engines running, not available with {members}",
                    f.status_after, f.members_after, f.running_after
                ));
            }
        }
    }
    (rows, broke)
}

const ENGINES_TABLE_HEAD: &str = "| group | runtime | kills | writes acknowledged by `WAIT` | lost | worst time from a kill to the next acknowledged write (to the victim's shard) | after the last kill |\n|---|---|---|---|---|---|---|\n";

/// Drill 2, short form: engines of a 1+2 group killed under `WAIT 1`
/// writers (4 kills, then a kill during a recovery), on the process runtime
/// (about 30 s; Docker: the full form).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engines_killed_under_load_short() {
    let (rows, broke) = engines_drill(&["process".to_owned()], &[EngineGroup::Replicated], 4).await;
    eprintln!("{ENGINES_TABLE_HEAD}{rows}");
    assert!(broke.is_empty(), "{}", broke.join("\n"));
}

/// Drill 2, short form, cluster mode: members of a 3×(1+2) group killed at
/// random (any shard, any role) under a `WAIT 1` writer per shard, on the
/// process runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engines_killed_under_load_cluster_short() {
    let (rows, broke) = engines_drill(&["process".to_owned()], &[EngineGroup::Cluster], 4).await;
    eprintln!("{ENGINES_TABLE_HEAD}{rows}");
    assert!(broke.is_empty(), "{}", broke.join("\n"));
}

/// Drill 2, full form: `DRILL_ENGINE_KILLS` kills (default 20) per group on
/// every runtime under test; the table goes to target/drills/engines.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "full form: runs alone (see the module doc)"]
async fn engines_killed_under_load_full() {
    let kills: usize = std::env::var("DRILL_ENGINE_KILLS")
        .or_else(|_| std::env::var("DRILL_KILLS"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let (rows, broke) = engines_drill(
        &runtimes(),
        &[EngineGroup::Replicated, EngineGroup::Cluster],
        kills,
    )
    .await;
    let table = format!("{ENGINES_TABLE_HEAD}{rows}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/drills");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("engines.md"),
        format!("{table}\n{}\n", broke.join("\n")),
    )
    .unwrap();
    eprintln!("{table}");
    assert!(broke.is_empty(), "{}", broke.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "full form: runs alone (see the module doc)"]
async fn crash_at_any_point_full() {
    let rounds: usize = std::env::var("DRILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut table = String::from(
        "| workload | runtime | rounds survived / run | kills | acknowledged creates | acknowledged deletes | other acknowledged requests | left after the last round |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut notes = String::new();
    let mut failed = 0;
    for rt in runtimes() {
        for w in [Workload::Churn, Workload::Mixed] {
            let (r, finish) = run_crash(&rt, w, rounds).await;
            table.push_str(&crash::summary(&rt, w, &r, &finish));
            for f in r.failures.iter().chain(&finish) {
                notes.push_str(&format!("- {} / {rt}: {f}\n", w.name()));
                failed += 1;
            }
        }
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/drills");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("crash.md"), format!("{table}\n{notes}")).unwrap();
    eprintln!("{table}\n{notes}");
    assert_eq!(failed, 0, "invariants broken:\n{notes}");
}

/// Drill 4: soak `runtime` for `secs`; returns the report and what broke.
async fn soak_drill(runtime: &str, secs: u64) -> (soak::Soak, Vec<String>) {
    let tmp = tempfile::Builder::new()
        .prefix("ec-soak-")
        .tempdir()
        .unwrap();
    let s = soak::run(
        runtime,
        &tmp.path().join("data"),
        std::time::Duration::from_secs(secs),
    )
    .await;
    let mut broke = s.errors.clone();
    if s.cycles == 0 {
        broke.push("no churn cycle completed".into());
    }
    if s.engines_after != 0 {
        broke.push(format!(
            "{} engines still run after the last delete",
            s.engines_after
        ));
    }
    if let (Some(a), Some(z)) = (s.first(), s.last()) {
        // Flat: what a cycle opens, it closes (a little slack for the
        // HTTP connections the clients keep).
        if z.fds > a.fds + 16 {
            broke.push(format!("open fds grew from {} to {}", a.fds, z.fds));
        }
        if z.threads > a.threads + 16 {
            broke.push(format!("threads grew from {} to {}", a.threads, z.threads));
        }
    }
    if !broke.is_empty() {
        eprintln!("kept {}", tmp.keep().display());
    }
    (s, broke)
}

/// Drill 4, short form: three minutes of traffic and churn on the process
/// runtime; nothing leaks (engines, descriptors, threads). Memory and latency
/// are reported, not asserted (the full form measures their growth).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_short() {
    let (s, broke) = soak_drill("process", 180).await;
    eprintln!("{}{}", soak::TABLE_HEAD, soak::summary("process", &s));
    assert!(broke.is_empty(), "soak: {broke:#?}");
}

/// Drill 4, full form: `DRILL_SOAK_SECS` (default 3600) on every runtime
/// under test; the table goes to target/drills/soak.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "full form: runs alone (see the module doc)"]
async fn soak_full() {
    let secs: u64 = std::env::var("DRILL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let mut table = String::from(soak::TABLE_HEAD);
    let mut all = Vec::new();
    for rt in runtimes() {
        let (s, broke) = soak_drill(&rt, secs).await;
        table.push_str(&soak::summary(&rt, &s));
        all.extend(broke.into_iter().map(|b| format!("{rt}: {b}")));
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/drills");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("soak.md"), &table).unwrap();
    eprintln!("{table}");
    assert!(all.is_empty(), "soak: {all:#?}");
}

/// Drill 7 on `p`: `rounds` rounds; the table rows and what broke.
fn terraform_drill(
    p: &terraform::Provider,
    rounds: usize,
    window: (u64, u64),
) -> (String, Vec<String>) {
    let seed = harness::Rng::seed_from_env();
    eprintln!("drill terraform/{}: seed {seed} (DRILL_SEED)", p.name());
    terraform::run(p, rounds, window, seed)
}

/// Drill 7, short form: our provider, two rounds (one interrupted, one
/// killed) at a random moment of the apply.
#[test]
fn terraform_killed_mid_apply_short() {
    if !acceptance::terraform_available() {
        eprintln!("SKIP: terraform not on PATH");
        return;
    }
    let (rows, broke) = terraform_drill(&terraform::Provider::Ours, 2, (150, 2000));
    eprintln!("{}{rows}", terraform::TABLE_HEAD);
    assert!(broke.is_empty(), "{}", broke.join("\n\n"));
}

/// Drill 7, full form: `DRILL_ROUNDS` rounds (default 10) with our provider
/// and, when the machine has it, HashiCorp's 5.100.0 (4 rounds: each takes
/// minutes); the table goes to target/drills/terraform.md.
#[test]
#[ignore = "full form: runs alone (see the module doc)"]
fn terraform_killed_mid_apply_full() {
    let rounds: usize = std::env::var("DRILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut table = String::from(terraform::TABLE_HEAD);
    let mut all = Vec::new();
    let (rows, broke) = terraform_drill(&terraform::Provider::Ours, rounds, (150, 2200));
    table.push_str(&rows);
    all.extend(broke);
    if let Some(m) = terraform::hashicorp_mirror() {
        let (rows, broke) = terraform_drill(&terraform::Provider::HashiCorp(m), 4, (2_000, 90_000));
        table.push_str(&rows);
        all.extend(broke);
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/drills");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("terraform.md"), &table).unwrap();
    eprintln!("{table}");
    assert!(all.is_empty(), "{}", all.join("\n\n"));
}

/// Drill 5, short form: every hostile-environment case on the process runtime
/// (the read-only and full data directory need root, for a tmpfs).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_environment() {
    let cases = hostile::run_all().await;
    let mut failed = Vec::new();
    for c in &cases {
        eprintln!(
            "hostile/{}: {} seen, {} broken",
            c.name,
            c.seen.len(),
            c.failures.len()
        );
        for f in &c.failures {
            failed.push(format!("{}: {f}", c.name));
        }
    }
    assert!(failed.is_empty(), "broken:\n{}", failed.join("\n"));
}

/// Drill 5, the Docker daemon restarted under a running backend (Docker
/// runtime, `ELASTICACHE_IMAGES`). Restarting dockerd stops every container
/// of the machine: it runs only with `DRILL_RESTART_DOCKER=1`, alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "restarts dockerd: runs alone (see the module doc)"]
async fn hostile_docker_restarted() {
    // Not even with `--ignored` alone: it stops every container of the machine.
    if std::env::var_os("DRILL_RESTART_DOCKER").is_none() {
        eprintln!("hostile_docker_restarted: skipped; DRILL_RESTART_DOCKER=1 runs it (it restarts dockerd)");
        return;
    }
    let c = hostile::docker_restarted().await;
    assert!(c.failures.is_empty(), "broken:\n{}", c.failures.join("\n"));
}
