//! The benchmark harness (issue 5): measures our backend and provider next to
//! moto's server, HashiCorp's AWS provider and the engines' own start floor,
//! in one run, and writes a markdown report.
//!
//! ```text
//! bench [--quick|--full] [--out FILE] [--only api,lifecycle,provider,footprint,scale]
//! ```
//!
//! Normally run through `tests/bench.sh`, which builds the binaries this one
//! expects next to itself (`elasticache-local`, `terraform-provider-aws`),
//! installs moto when missing and builds the Docker test images. Benchmarks
//! never assert times: a section that cannot run says so in the report, and
//! the exit status is non-zero only when the harness itself breaks.

mod api;
mod footprint;
mod http;
mod lifecycle;
mod procs;
mod provider;
mod stats;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Quick,
    Full,
}

/// One API cell, kept for the targets.
pub struct ApiFigure {
    pub key: String,
    pub op: &'static str,
    pub conc: usize,
    pub big: bool,
    pub ours_rps: Option<f64>,
    pub ours_p50: Option<u64>,
    pub moto_rps: Option<f64>,
    pub per_page: (Option<usize>, Option<usize>),
    pub bytes: (usize, usize),
    pub errors: usize,
}

/// One line of "where we stand".
pub struct Goal {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Report {
    sections: Vec<(String, String)>,
    pub api: Vec<ApiFigure>,
    pub goals: Vec<Goal>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn section(&mut self, title: &str, body: String) {
        self.sections.push((title.to_owned(), body));
    }

    pub fn goal(&mut self, target: &str, measured: String, met: Option<bool>) {
        self.goals.push(Goal {
            target: target.to_owned(),
            measured,
            met,
        });
    }
}

struct Args {
    mode: Mode,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
}

fn args() -> Args {
    let mut a = Args {
        mode: Mode::Quick,
        out: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(s) = it.next() {
        match s.as_str() {
            "--quick" => a.mode = Mode::Quick,
            "--full" => a.mode = Mode::Full,
            "--out" => a.out = it.next().map(PathBuf::from),
            "--only" => {
                a.only = it.next().map(|v| v.split(',').map(str::to_owned).collect());
            }
            "-h" | "--help" => {
                println!(
                    "bench [--quick|--full] [--out FILE] [--only api,lifecycle,provider,footprint,scale]"
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("bench: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn sh(cmd: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", &format!("{cmd} 2>/dev/null")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Machine facts for the report header.
fn machine() -> String {
    let cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
    let mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo");
    let load = sh("cut -d' ' -f1-3 /proc/loadavg");
    format!(
        "- date: {}\n- machine: {} CPU(s), {}, {} RAM, kernel {}\n- load average at start: {}\n- tools: {}; {}; {}; Docker {}; moto {}\n- git: {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        cpu.trim(),
        mem,
        sh("uname -r"),
        load,
        sh("terraform version | head -1"),
        sh("redis-server --version | cut -d' ' -f1-3"),
        sh("memcached -V"),
        sh("docker version -f '{{.Server.Version}}' 2>/dev/null"),
        procs::Moto::version(),
        sh("git rev-parse --short HEAD 2>/dev/null"),
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let started = Instant::now();
    let facts = machine();
    let load_at_start: f64 = sh("cut -d' ' -f1 /proc/loadavg").parse().unwrap_or(0.0);
    let work = tempfile::Builder::new()
        .prefix("ec-bench-work-")
        .tempdir()
        .expect("work dir");
    let mut rep = Report::default();
    let want = |s: &str| args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let mut broken = Vec::new();
    macro_rules! section {
        ($name:literal, $e:expr) => {
            if want($name) {
                let t0 = Instant::now();
                eprintln!("bench: == {}", $name);
                if let Err(e) = $e.await {
                    eprintln!("bench: section {} failed: {e:#}", $name);
                    rep.section(
                        &format!("{} (failed)", $name),
                        format!("The harness failed here: `{e:#}`\n"),
                    );
                    broken.push($name);
                }
                eprintln!("bench: {} took {:.0} s", $name, t0.elapsed().as_secs_f64());
            }
        };
    }
    section!("api", api::run(args.mode, &mut rep, work.path()));
    section!("lifecycle", lifecycle::run(args.mode, &mut rep));
    section!("provider", provider::run(args.mode, &mut rep, work.path()));
    section!(
        "footprint",
        footprint::run(args.mode, &mut rep, work.path())
    );
    section!("scale", footprint::scale(args.mode, &mut rep));
    api_goals(&mut rep);

    let mut md = String::new();
    let _ = writeln!(md, "# Performance\n");
    let _ = writeln!(
        md,
        "<!-- Generated by `tests/bench.sh --full` (tests/src/bin/bench); edit the harness, not this file. -->\n"
    );
    let _ = writeln!(
        md,
        "Regenerate with `tests/bench.sh --full` (writes this file; `--quick` is the CI smoke run, \
         written to `target/bench/performance-quick.md`). Ratios are the headline: absolute times \
         depend on the machine. Benchmarks never assert times.\n"
    );
    let _ = writeln!(
        md,
        "Mode: **{:?}**, binaries from `{}` ({} build), whole run {:.0} s.\n",
        args.mode,
        procs::bin_dir().display(),
        if procs::bin_dir().ends_with("release") {
            "release"
        } else {
            "debug — figures are not representative"
        },
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "{facts}- load average at the end: {}\n",
        sh("cut -d' ' -f1-3 /proc/loadavg")
    );
    let load: f64 = sh("cut -d' ' -f1 /proc/loadavg").parse().unwrap_or(0.0);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if load_at_start.max(load) > cpus as f64 {
        let _ = writeln!(
            md,
            "**Measured on a loaded machine** (load average up to {:.1} on {cpus} CPUs, other work \
             sharing them): absolute figures are noisy; compare ratios, and re-run on a quiet machine \
             before quoting times.\n",
            load_at_start.max(load)
        );
    }
    let _ = writeln!(md, "## Where we stand\n");
    let _ = writeln!(md, "| target | measured | met |");
    let _ = writeln!(md, "|---|---|---|");
    for g in &rep.goals {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            g.target,
            g.measured,
            match g.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            }
        );
    }
    let _ = writeln!(md);
    for n in &rep.notes {
        let _ = writeln!(md, "{n}\n");
    }
    for (title, body) in &rep.sections {
        let _ = writeln!(md, "## {title}\n\n{body}");
    }
    let _ = writeln!(md, "{}", include_str!("analysis.md"));
    let out = args.out.clone().unwrap_or_else(|| match args.mode {
        Mode::Full => PathBuf::from("docs/performance.md"),
        Mode::Quick => PathBuf::from("target/bench/performance-quick.md"),
    });
    if let Some(d) = out.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::write(&out, md.trim_end().to_owned() + "\n").expect("write the report");
    eprintln!(
        "bench: report written to {} ({:.0} s)",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if !broken.is_empty() {
        eprintln!("bench: sections that broke: {broken:?}");
        std::process::exit(1);
    }
}

/// The API targets from section 1's figures.
fn api_goals(rep: &mut Report) {
    if rep.api.is_empty() {
        return;
    }
    // Reads and creates separately: a create writes durably and starts an
    // engine, moto's appends to a dict.
    for (what, reads) in [("reads (Describe*)", true), ("CreateCacheCluster", false)] {
        let mut ratios = Vec::new();
        let mut min_ratio = f64::INFINITY;
        for f in rep
            .api
            .iter()
            .filter(|f| f.op != "DescribeCacheParameters" && f.op.starts_with("Describe") == reads)
        {
            if let (Some(o), Some(m)) = (f.ours_rps, f.moto_rps) {
                let r = o / m;
                min_ratio = min_ratio.min(r);
                ratios.push(format!(
                    "{}{} ×{}: {r:.1}×",
                    f.op,
                    if f.big { " (2,700 stored)" } else { "" },
                    f.conc
                ));
            }
        }
        let target = format!("API ≥ 50× moto's throughput: {what}");
        if ratios.is_empty() {
            rep.goal(&target, "moto absent".into(), None);
        } else {
            rep.goal(
                &target,
                format!("lowest {min_ratio:.2}× ({})", ratios.join(", ")),
                Some(min_ratio >= 50.0),
            );
        }
    }
    let p50s: Vec<(String, u64)> = rep
        .api
        .iter()
        .filter(|f| f.conc == 1)
        .filter_map(|f| {
            f.ours_p50
                .map(|p| (format!("{}{}", f.op, if f.big { " (many)" } else { "" }), p))
        })
        .collect();
    let worst = p50s.iter().map(|(_, p)| *p).max();
    rep.goal(
        "API p50 < 0.5 ms (1 client)",
        p50s.iter()
            .map(|(k, p)| format!("{k} {}", stats::us(*p)))
            .collect::<Vec<_>>()
            .join(", "),
        worst.map(|w| w < 500),
    );
    let mut flat = Vec::new();
    let mut worst_flat = f64::INFINITY;
    // The default page holds 1 cluster in the small state and 100 with many
    // stored: that row compares different answers, so it is left out here.
    for f in rep
        .api
        .iter()
        .filter(|f| !f.big && f.op != "DescribeCacheClusters")
    {
        let Some(b) = rep
            .api
            .iter()
            .find(|g| g.big && g.op == f.op && g.conc == f.conc)
        else {
            continue;
        };
        if let (Some(s), Some(l)) = (f.ours_rps, b.ours_rps) {
            let r = l / s;
            worst_flat = worst_flat.min(r);
            flat.push(format!("{} ×{}: {:.2}", f.op, f.conc, r));
        }
    }
    rep.goal(
        "API cost flat as state grows (req/s with 2,700 clusters ÷ with one, same answer; ≥ 0.8 reads as flat)",
        flat.join(", "),
        (!flat.is_empty()).then_some(worst_flat >= 0.8),
    );
}
