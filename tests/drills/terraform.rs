//! Drill 7: Terraform killed mid-apply. A configuration of five resources
//! (parameter group, subnet group, Redis cluster using them, 1+1 replication
//! group, 2-node Memcached cluster) is applied and the apply is stopped at a
//! random moment, in one of two ways:
//!
//! - **interrupt**: `SIGINT` to terraform's whole process group, as Ctrl-C in
//!   a terminal does (and as CI runners do first when a job is cancelled):
//!   Terraform asks its providers to stop and writes what it knows;
//! - **kill**: `SIGKILL` to the group (terraform and its provider plugin), as
//!   an OOM kill or a runner that gives up does: nothing is written after it.
//!
//! Then the user's way back: `terraform apply` again; when it stops on a
//! resource that exists but is missing from the state (created by the killed
//! apply after its last state write), `terraform import` of that address and
//! apply again. After that the plan must be empty, the backend must hold
//! exactly the configured resources (no duplicate, none unknown to the state),
//! and `terraform destroy` must leave nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use acceptance::{signal_group, Backend, Tf};
use rustix::process::Signal;

use crate::harness::Rng;

#[derive(Clone)]
pub enum Provider {
    /// Ours (the build under test, through `dev_overrides`).
    Ours,
    /// HashiCorp's 5.100.0 from this filesystem mirror.
    HashiCorp(PathBuf),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Ours => "ours",
            Provider::HashiCorp(_) => "HashiCorp 5.100.0",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Kill,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupt (SIGINT)",
            Stop::Kill => "kill (SIGKILL)",
        }
    }
}

/// One round's outcome.
#[derive(Default)]
pub struct Round {
    /// Milliseconds after the apply started that it was stopped; `None` when
    /// it had finished first.
    pub stopped_at_ms: Option<u64>,
    /// How long an interrupted terraform took to exit.
    pub exit_after: Option<Duration>,
    /// Addresses the user had to import (created, but missing from the state).
    pub imports: Vec<String>,
    pub failures: Vec<String>,
}

const ADDRESSES: [(&str, &str); 5] = [
    ("aws_elasticache_parameter_group.pg", "pg"),
    ("aws_elasticache_subnet_group.sn", "sn"),
    ("aws_elasticache_cluster.redis", "r"),
    ("aws_elasticache_replication_group.rg", "g"),
    ("aws_elasticache_cluster.memcached", "m"),
];

fn provider_block(be: &Backend, p: &Provider) -> String {
    match p {
        Provider::Ours => be.provider_hcl(),
        Provider::HashiCorp(_) => be
            .provider_hcl()
            .replace(
                r#"source = "elasticache-local/aws""#,
                r#"source = "hashicorp/aws", version = "5.100.0""#,
            )
            .replace(
                "skip_metadata_api_check     = true",
                "skip_metadata_api_check     = true\n  skip_region_validation      = true",
            ),
    }
}

fn config(be: &Backend, p: &Provider, id: &str) -> String {
    format!(
        r#"{provider}
resource "aws_elasticache_parameter_group" "pg" {{
  name   = "{id}-pg"
  family = "redis7"
  parameter {{
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }}
}}

resource "aws_elasticache_subnet_group" "sn" {{
  name       = "{id}-sn"
  subnet_ids = ["subnet-0123456789abcdef0"]
}}

resource "aws_elasticache_cluster" "redis" {{
  cluster_id           = "{id}-r"
  engine               = "redis"
  node_type            = "cache.t3.micro"
  num_cache_nodes      = 1
  parameter_group_name = aws_elasticache_parameter_group.pg.name
  subnet_group_name    = aws_elasticache_subnet_group.sn.name
}}

resource "aws_elasticache_replication_group" "rg" {{
  replication_group_id       = "{id}-g"
  description                = "drill 7"
  engine                     = "redis"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  apply_immediately          = true
}}

resource "aws_elasticache_cluster" "memcached" {{
  cluster_id      = "{id}-m"
  engine          = "memcached"
  node_type       = "cache.t3.micro"
  num_cache_nodes = 2
}}
"#,
        provider = provider_block(be, p)
    )
}

/// The addresses an apply's errors name as already existing.
fn already_existing(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in text.split("Error: ").skip(1) {
        if !block.contains("AlreadyExists") && !block.contains("already exists") {
            continue;
        }
        if let Some(addr) = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("with "))
            .map(|a| a.trim_end_matches(',').to_owned())
        {
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

fn names_with<'a>(it: impl Iterator<Item = Option<&'a str>>, id: &str) -> Vec<String> {
    let mut v: Vec<String> = it
        .flatten()
        .filter(|n| n.starts_with(id))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// What the backend holds of round `id`: clusters (not members of a group),
/// groups, parameter groups, subnet groups.
async fn held(c: &aws_sdk_elasticache::Client, id: &str) -> Vec<String> {
    let mut all = Vec::new();
    if let Ok(o) = c.describe_cache_clusters().max_records(100).send().await {
        all.extend(names_with(
            o.cache_clusters()
                .iter()
                .filter(|x| x.replication_group_id().is_none())
                .map(|x| x.cache_cluster_id()),
            id,
        ));
    }
    if let Ok(o) = c
        .describe_replication_groups()
        .max_records(100)
        .send()
        .await
    {
        all.extend(names_with(
            o.replication_groups()
                .iter()
                .map(|x| x.replication_group_id()),
            id,
        ));
    }
    if let Ok(o) = c
        .describe_cache_parameter_groups()
        .max_records(100)
        .send()
        .await
    {
        all.extend(names_with(
            o.cache_parameter_groups()
                .iter()
                .map(|x| x.cache_parameter_group_name()),
            id,
        ));
    }
    if let Ok(o) = c
        .describe_cache_subnet_groups()
        .max_records(100)
        .send()
        .await
    {
        all.extend(names_with(
            o.cache_subnet_groups()
                .iter()
                .map(|x| x.cache_subnet_group_name()),
            id,
        ));
    }
    all.sort();
    all
}

fn working_dir(p: &Provider) -> Tf {
    match p {
        Provider::Ours => Tf::new(),
        Provider::HashiCorp(mirror) => {
            let hashi = "registry.terraform.io/hashicorp/aws";
            Tf::with_cli_config(&format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{hashi}\"]\n  }}\n  direct {{\n    exclude = [\"{hashi}\"]\n  }}\n}}\n",
                mirror.display()
            ))
        }
    }
}

/// One round: apply, stop it `stop` way after a random moment within
/// `window`, recover as a user would, check, destroy.
pub fn round(
    be: &Backend,
    p: &Provider,
    stop: Stop,
    window: (u64, u64),
    rng: &mut Rng,
    n: usize,
) -> Round {
    let mut r = Round::default();
    let id = format!("tfk{}-{n}", std::process::id() % 10000);
    let tf = working_dir(p);
    tf.config(&config(be, p, &id));
    if matches!(p, Provider::HashiCorp(_)) {
        let o = tf.run(&["init", "-input=false", "-no-color"]);
        if o.code != 0 {
            r.failures.push(format!("init failed:\n{}", o.text));
            return r;
        }
    }
    let apply = ["apply", "-auto-approve", "-input=false", "-no-color"];
    let mut child = tf.spawn(&apply);
    let started = Instant::now();
    let at = Duration::from_millis(rng.range(window.0, window.1));
    while started.elapsed() < at {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if child.try_wait().unwrap().is_none() {
        r.stopped_at_ms = Some(started.elapsed().as_millis() as u64);
        match stop {
            Stop::Kill => {
                signal_group(&child, Signal::KILL);
                let _ = child.wait();
            }
            Stop::Interrupt => {
                let t = Instant::now();
                signal_group(&child, Signal::INT);
                // Terraform waits for what is in flight; a provider that
                // never answers would hang it: give up after 10 minutes.
                let deadline = t + Duration::from_secs(600);
                loop {
                    if child.try_wait().unwrap().is_some() {
                        r.exit_after = Some(t.elapsed());
                        break;
                    }
                    if Instant::now() > deadline {
                        r.failures
                            .push("terraform did not exit within 10 minutes of SIGINT".into());
                        signal_group(&child, Signal::KILL);
                        let _ = child.wait();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    } else {
        let _ = child.wait();
    }
    let stopped_output = tf.output();
    if stopped_output.contains("panic") || stopped_output.contains("plugin crashed") {
        r.failures.push(format!(
            "the stopped apply printed a crash:\n{stopped_output}"
        ));
    }

    // The way back: apply; import what it says exists; apply again.
    let mut converged = false;
    for _ in 0..4 {
        let o = tf.run(&apply);
        if o.code == 0 {
            converged = true;
            break;
        }
        let exist = already_existing(&o.text);
        if exist.is_empty() {
            r.failures
                .push(format!("apply after the stop failed:\n{}", o.text));
            break;
        }
        for addr in exist {
            let Some((_, suffix)) = ADDRESSES.iter().find(|(a, _)| *a == addr) else {
                r.failures.push(format!("unknown address {addr}"));
                continue;
            };
            let import_id = format!("{id}-{suffix}");
            let i = tf.run(&["import", "-input=false", "-no-color", &addr, &import_id]);
            if i.code != 0 {
                r.failures
                    .push(format!("import {addr} {import_id} failed:\n{}", i.text));
            }
            r.imports.push(addr);
        }
    }
    if !converged {
        r.failures.push("apply did not converge".into());
        return r;
    }
    let plan = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    if plan.code != 0 {
        r.failures.push(format!(
            "the plan after recovery is not empty:\n{}",
            plan.text
        ));
    }
    let c = be.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut want: Vec<String> = ADDRESSES.iter().map(|(_, s)| format!("{id}-{s}")).collect();
    want.sort();
    let got = rt.block_on(held(&c, &id));
    if got != want {
        r.failures.push(format!(
            "the backend holds {got:?}, the configuration {want:?}"
        ));
    }
    let state = tf.run(&["state", "list"]);
    let in_state = state.text.lines().filter(|l| !l.trim().is_empty()).count();
    if in_state != ADDRESSES.len() {
        r.failures.push(format!(
            "the state lists {in_state} resources:\n{}",
            state.text
        ));
    }
    let d = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    if d.code != 0 {
        r.failures.push(format!("destroy failed:\n{}", d.text));
    }
    let left = rt.block_on(held(&c, &id));
    if !left.is_empty() {
        r.failures.push(format!("left after destroy: {left:?}"));
    }
    r
}

/// `rounds` rounds alternating interrupt and kill; a table row per stop kind.
pub fn run(p: &Provider, rounds: usize, window: (u64, u64), seed: u64) -> (String, Vec<String>) {
    let be = Backend::start("process");
    let mut rng = Rng::new(seed);
    let mut rows = String::new();
    let mut failures = Vec::new();
    for stop in [Stop::Interrupt, Stop::Kill] {
        let (mut stopped, mut imports, mut ok, mut worst_exit) = (0, 0, 0, Duration::ZERO);
        let mut run_rounds = 0;
        for n in 0..rounds.div_ceil(2) {
            let tag = if stop == Stop::Kill { 1000 + n } else { n };
            let r = round(&be, p, stop, window, &mut rng, tag);
            run_rounds += 1;
            eprintln!(
                "terraform/{}/{}: round {n}: stopped at {:?} ms, exit after {:?}, imports {:?}, {} failures",
                p.name(),
                stop.name(),
                r.stopped_at_ms,
                r.exit_after,
                r.imports,
                r.failures.len()
            );
            stopped += usize::from(r.stopped_at_ms.is_some());
            imports += r.imports.len();
            worst_exit = worst_exit.max(r.exit_after.unwrap_or_default());
            if r.failures.is_empty() {
                ok += 1;
            }
            failures.extend(
                r.failures
                    .into_iter()
                    .map(|f| format!("{} / {} / round {n}: {f}", p.name(), stop.name())),
            );
        }
        rows.push_str(&format!(
            "| {} | {} | {ok}/{run_rounds} | {stopped} | {imports} | {} |\n",
            p.name(),
            stop.name(),
            if stop == Stop::Interrupt {
                format!("{:.1} s", worst_exit.as_secs_f64())
            } else {
                "—".into()
            }
        ));
    }
    (rows, failures)
}

pub const TABLE_HEAD: &str = "| provider | stopped by | rounds converged / run | stopped mid-apply | imports needed | slowest exit after SIGINT |\n|---|---|---|---|---|---|\n";

/// HashiCorp's provider 5.100.0 in a filesystem mirror, if the machine has one.
pub fn hashicorp_mirror() -> Option<PathBuf> {
    let has = |p: &Path| {
        p.join("registry.terraform.io/hashicorp/aws/5.100.0")
            .is_dir()
    };
    if let Ok(p) = std::env::var("TF_PLUGIN_MIRROR") {
        let p = PathBuf::from(p);
        return has(&p).then_some(p);
    }
    let out = Command::new("find")
        .args(["/", "-maxdepth", "3", "-type", "d", "-name", "tf-plugins"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .find(|p| has(p))
}
