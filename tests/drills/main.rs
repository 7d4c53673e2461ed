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
    let mut failed = Vec::new();
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

/// Drill 2 on `rts`, `kills` kills each.
async fn engines_drill(rts: &[String], kills: usize) {
    for rt in rts {
        let seed = harness::Rng::seed_from_env();
        let f = engines::run(rt, kills, seed).await;
        eprintln!(
            "engines/{rt} (seed {seed}): {} kills, {} writes acknowledged by WAIT, {} lost, worst recovery {:?}, after: {} with {} members, {} engines running ({:?})",
            f.kills,
            f.acked,
            f.lost.len(),
            f.worst_recovery,
            f.status_after,
            f.members_after,
            f.running_after,
            f.settle_after
        );
        assert!(f.acked > 0, "{rt}: no write was acknowledged");
        assert!(
            f.lost.is_empty(),
            "{rt}: acknowledged writes lost: {:?}",
            f.lost
        );
        assert_eq!(
            (f.status_after.as_str(), f.members_after, f.running_after),
            ("available", 3, 3),
            "{rt}"
        );
    }
}

/// Drill 2, short form: engines of a 1+2 group killed under `WAIT 1`
/// writers, on the process runtime (about 25 s; Docker takes minutes: the
/// full form).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engines_killed_under_load_short() {
    engines_drill(&["process".to_owned()], 4).await;
}

/// Drill 2, full form: `DRILL_KILLS` kills (default 20) on every runtime
/// under test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "full form: runs alone (see the module doc)"]
async fn engines_killed_under_load_full() {
    let kills: usize = std::env::var("DRILL_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    engines_drill(&runtimes(), kills).await;
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
