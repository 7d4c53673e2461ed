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
mod families;
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

/// The stored state an API cell was measured with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApiState {
    /// The template only (one cluster, one group, one snapshot).
    Small,
    /// Exactly one default page of each paged describe stored.
    Page,
    /// Thousands of each stored.
    Big,
}

impl ApiState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Small => "(small)",
            Self::Page => "(one page stored)",
            Self::Big => "(many stored)",
        }
    }
}

/// One API cell, kept for the targets.
pub struct ApiFigure {
    pub key: String,
    pub op: &'static str,
    pub conc: usize,
    pub state: ApiState,
    pub ours_rps: Option<f64>,
    pub ours_p50: Option<u64>,
    pub moto_rps: Option<f64>,
    pub per_page: (Option<usize>, Option<usize>),
    pub bytes: (usize, usize),
    pub errors: usize,
}

/// One line of "where we stand".
pub struct Goal {
    /// Where it sits in the table: issue 15's order of its targets.
    pub order: u8,
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

    /// A row of "where we stand"; `order` places it (rows of one order keep
    /// the order they were added in).
    pub fn goal(&mut self, order: u8, target: &str, measured: String, met: Option<bool>) {
        self.goals.push(Goal {
            order,
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
    // BENCH_KEEP_WORK=1 keeps the seeded data directories for profiling.
    let keep = std::env::var_os("BENCH_KEEP_WORK").is_some();
    let work = tempfile::Builder::new()
        .prefix("ec-bench-work-")
        .disable_cleanup(keep)
        .tempdir()
        .expect("work dir");
    if keep {
        eprintln!("bench: work directory kept: {}", work.path().display());
    }
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
    api_goals(&mut rep);
    section!("lifecycle", lifecycle::run(args.mode, &mut rep));
    section!("provider", provider::run(args.mode, &mut rep, work.path()));
    section!(
        "footprint",
        footprint::run(args.mode, &mut rep, work.path())
    );
    section!("scale", footprint::scale(args.mode, &mut rep));
    rep.goals.sort_by_key(|g| g.order);

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
    let _ = writeln!(
        md,
        "Issue 15's targets, a row each (\"–\" where the issue sets no threshold: figures to \
         compare). CI wall time (≤ 30 minutes) is not measured here.\n"
    );
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

/// Order of the rows in "where we stand" (issue 15's order).
pub mod order {
    pub const CREATE: u8 = 10;
    pub const FLAT: u8 = 20;
    pub const TERRAFORM: u8 = 30;
    pub const GROUP: u8 = 40;
    pub const FAMILIES: u8 = 50;
    pub const FOOTPRINT: u8 = 60;
}

/// The API targets from section 1's figures.
fn api_goals(rep: &mut Report) {
    if rep.api.is_empty() {
        return;
    }
    let api = std::mem::take(&mut rep.api);
    let find = |op: &str, conc: usize, state: ApiState| {
        api.iter()
            .find(|f| f.op == op && f.conc == conc && f.state == state)
    };
    // Creates: ours ÷ moto's at 1 and 16 clients, small state and many stored.
    let mut rows = Vec::new();
    for (conc, want) in [(16, 5.0), (1, 1.5)] {
        let mut parts = Vec::new();
        let mut worst: Option<f64> = None;
        for (state, label) in [(ApiState::Small, "small"), (ApiState::Big, "2,700 stored")] {
            let Some(f) = find("CreateCacheCluster", conc, state) else {
                continue;
            };
            match (f.ours_rps, f.moto_rps) {
                (Some(o), Some(m)) if m > 0.0 => {
                    let r = o / m;
                    worst = Some(worst.map_or(r, |w: f64| w.min(r)));
                    parts.push(format!("{label}: {o:.0} vs {m:.0} req/s, {r:.2}×"));
                }
                (o, _) => parts.push(format!(
                    "{label}: ours {} req/s, moto absent",
                    o.map_or("–".into(), |o| format!("{o:.0}"))
                )),
            }
        }
        if !parts.is_empty() {
            rows.push((
                format!(
                    "CreateCacheCluster throughput ≥ {want}× moto's at {conc} client{}",
                    if conc == 1 { "" } else { "s" }
                ),
                parts.join("; "),
                worst.map(|w| w >= want),
            ));
        }
    }
    let create_rows = rows;
    // Describe cost flat as state grows: the default page with thousands
    // stored ÷ with one, literally; beside it, thousands ÷ one full page
    // stored (the same answer), to tell the page's size from the count.
    let mut rows = Vec::new();
    for op in [
        "DescribeCacheClusters",
        "DescribeReplicationGroups",
        "DescribeEvents",
        "DescribeSnapshots",
    ] {
        let mut literal = Vec::new();
        let mut same = Vec::new();
        let mut worst: Option<f64> = None;
        for conc in [1, 4, 16] {
            let (Some(s), Some(b)) = (
                find(op, conc, ApiState::Small),
                find(op, conc, ApiState::Big),
            ) else {
                continue;
            };
            let (Some(sr), Some(br)) = (s.ours_rps, b.ours_rps) else {
                continue;
            };
            let r = br / sr;
            worst = Some(worst.map_or(r, |w: f64| w.min(r)));
            literal.push(format!("×{conc} {r:.2}"));
            if let Some(pr) = find(op, conc, ApiState::Page).and_then(|p| p.ours_rps) {
                same.push(format!("×{conc} {:.2}", br / pr));
            }
        }
        if literal.is_empty() {
            continue;
        }
        let items = |st: ApiState| {
            find(op, 1, st)
                .and_then(|f| f.per_page.0)
                .map_or("–".into(), |n| n.to_string())
        };
        rows.push((
            format!("{op} default page: req/s with thousands stored ≥ 0.8× with one (at 1, 4 and 16 clients)"),
            format!(
                "{} (page of {} items ÷ {}); same answer, thousands ÷ one full page stored: {}",
                literal.join(", "),
                items(ApiState::Big),
                items(ApiState::Small),
                if same.is_empty() {
                    "–".to_owned()
                } else {
                    same.join(", ")
                }
            ),
            worst.map(|w| w >= 0.8),
        ));
    }
    for (t, m, met) in create_rows {
        rep.goal(order::CREATE, &t, m, met);
    }
    for (t, m, met) in rows {
        rep.goal(order::FLAT, &t, m, met);
    }
    rep.api = api;
}
