//! Section 3: Terraform with our provider and with HashiCorp's AWS provider
//! (5.100.0, from a local plugin mirror), both pointed at our backend, on the
//! same HCL (`examples/quickstart`, plus one-resource modules: a cluster, a 1+2 group, a 3×(1+2) group): wall time of
//! each command and the provider processes' peak RSS.
//!
//! Peak RSS: each provider binary is reached through a wrapper script that
//! runs it under GNU time (`%M`, the child's maximum resident set size), with
//! `setpriv --pdeathsig KILL` so that the provider never outlives it. The
//! wrapper costs one extra exec per plugin start, the same for both providers.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::procs::{bin_dir, Backend};
use crate::stats::{mib, ratio, secs, Series};
use crate::{Mode, Report};

const QUICKSTART: &str = include_str!("../../../../examples/quickstart/main.tf");
const HASHI: &str = "registry.terraform.io/hashicorp/aws";
const HASHI_VERSION: &str = "5.100.0";
const TF_TIMEOUT: Duration = Duration::from_secs(900);

/// The plugin mirror holding HashiCorp's provider, if any.
fn plugin_mirror() -> Option<PathBuf> {
    let has = |p: &Path| p.join(HASHI).join(HASHI_VERSION).is_dir();
    if let Ok(p) = std::env::var("TF_PLUGIN_MIRROR") {
        let p = PathBuf::from(p);
        return has(&p).then_some(p);
    }
    ["/opt/tf-plugins", "/usr/share/terraform/plugins"]
        .iter()
        .map(PathBuf::from)
        .find(|p| has(p))
}

fn hashi_binary(mirror: &Path) -> Option<PathBuf> {
    let dir = mirror.join(HASHI).join(HASHI_VERSION).join("linux_amd64");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("terraform-provider-aws"))
        })
}

fn can_wrap() -> bool {
    Path::new("/usr/bin/time").exists()
        && Command::new("setpriv")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Write an executable wrapper at `at` that runs `real` under GNU time,
/// appending `rss_kib=<peak>` to `$BENCH_RSS_LOG`.
fn wrapper(at: &Path, real: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(at.parent().context("wrapper dir")?)?;
    std::fs::write(
        at,
        format!(
            "#!/bin/sh\nexec /usr/bin/time -f 'rss_kib=%M' -a -o \"${{BENCH_RSS_LOG:-/dev/null}}\" setpriv --pdeathsig KILL -- '{}' \"$@\"\n",
            real.display()
        ),
    )?;
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// One Terraform working directory with its CLI configuration.
struct Tf {
    dir: PathBuf,
    rc: PathBuf,
}

/// One command's outcome.
struct Ran {
    ok: bool,
    wall: Duration,
    /// Peak RSS of each provider process it started, KiB.
    rss: Vec<u64>,
    tail: String,
}

impl Tf {
    fn new(dir: PathBuf, rc_text: &str, main_tf: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let rc = dir.join("cli.tfrc");
        std::fs::write(&rc, rc_text)?;
        std::fs::write(dir.join("main.tf"), main_tf)?;
        Ok(Self { dir, rc })
    }

    /// Run `terraform args` (its own process group, killed on timeout);
    /// `want` lists the exit codes that mean success.
    fn run(&self, args: &[&str], want: &[i32]) -> Ran {
        let log = self.dir.join("out.log");
        let rss_log = self.dir.join("rss.log");
        let _ = std::fs::remove_file(&rss_log);
        let Ok(out) = std::fs::File::create(&log) else {
            return Ran::failed("cannot write log");
        };
        let t0 = Instant::now();
        let child = Command::new("terraform")
            .args(args)
            .current_dir(&self.dir)
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("BENCH_RSS_LOG", &rss_log)
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return Ran::failed(&format!("terraform: {e}")),
        };
        let code = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break st.code().unwrap_or(-1);
            }
            if t0.elapsed() > TF_TIMEOUT {
                if let Some(p) = i32::try_from(child.id())
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                break -2;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = t0.elapsed();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let rss = std::fs::read_to_string(&rss_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("rss_kib="))
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        Ran {
            ok: want.contains(&code),
            wall,
            rss,
            tail: format!(
                "exit {code}: {}",
                lines[lines.len().saturating_sub(12)..].join("\n")
            ),
        }
    }
}

impl Ran {
    fn failed(why: &str) -> Self {
        Self {
            ok: false,
            wall: Duration::ZERO,
            rss: Vec::new(),
            tail: why.to_owned(),
        }
    }
}

/// Wall times and peak RSS of one command, repeated.
#[derive(Default)]
struct Figure {
    wall: Series,
    rss_kib: Option<u64>,
    starts: usize,
    failure: Option<String>,
}

impl Figure {
    fn add(&mut self, r: Ran) {
        if r.ok {
            self.wall.push_dur(r.wall);
        } else if self.failure.is_none() {
            self.failure = Some(r.tail);
        }
        self.starts = self.starts.max(r.rss.len());
        if let Some(m) = r.rss.iter().max() {
            self.rss_kib = Some(self.rss_kib.unwrap_or(0).max(*m));
        }
    }

    fn cell(&self) -> String {
        match &self.failure {
            Some(_) if self.wall.is_empty() => "failed".to_owned(),
            _ => self.wall.fmt_secs(),
        }
    }

    fn rss(&self) -> String {
        self.rss_kib.map_or("–".into(), |k| {
            format!(
                "{} ({} start{})",
                mib(k),
                self.starts,
                if self.starts == 1 { "" } else { "s" }
            )
        })
    }
}

const COMMANDS: [&str; 12] = [
    "init",
    "providers schema -json",
    "plan (empty state)",
    "apply",
    "plan (applied state)",
    "destroy",
    "apply (one cluster)",
    "destroy (one cluster)",
    "apply (1+2 group)",
    "destroy (1+2 group)",
    "apply (3×(1+2) cluster-mode group)",
    "destroy (3×(1+2) cluster-mode group)",
];

/// The one-resource modules applied and destroyed after the quickstart:
/// their apply is `COMMANDS[6 + 2 * i]`, their destroy the next.
const MODULES: usize = 3;

fn one_cluster(provider_block: &str) -> String {
    format!(
        "{provider_block}\nresource \"aws_elasticache_cluster\" \"one\" {{\n  cluster_id      = \"bench-one\"\n  engine          = \"redis\"\n  node_type       = \"cache.t3.micro\"\n  num_cache_nodes = 1\n}}\n"
    )
}

/// A 1+2 replication group.
fn group_1_2(provider_block: &str) -> String {
    format!(
        "{provider_block}\nresource \"aws_elasticache_replication_group\" \"g\" {{\n  replication_group_id = \"bench-tf-rg\"\n  description          = \"bench\"\n  engine               = \"redis\"\n  node_type            = \"cache.t3.micro\"\n  num_cache_clusters   = 3\n}}\n"
    )
}

/// A cluster-mode group of 3 shards, each 1+2.
fn group_3x(provider_block: &str) -> String {
    format!(
        "{provider_block}\nresource \"aws_elasticache_replication_group\" \"g\" {{\n  replication_group_id       = \"bench-tf-cm\"\n  description                = \"bench\"\n  engine                     = \"redis\"\n  node_type                  = \"cache.t3.micro\"\n  num_node_groups            = 3\n  replicas_per_node_group    = 2\n  parameter_group_name       = \"default.redis7.cluster.on\"\n  automatic_failover_enabled = true\n}}\n"
    )
}

/// The modules of `MODULES`, for one provider block.
fn modules(provider_block: &str) -> [String; MODULES] {
    [
        one_cluster(provider_block),
        group_1_2(provider_block),
        group_3x(provider_block),
    ]
}

fn provider_block(source: &str, version: Option<&str>, endpoint: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    aws = {{\n      source = \"{source}\"\n{}    }}\n  }}\n}}\n\nprovider \"aws\" {{\n  region                      = \"us-east-1\"\n  access_key                  = \"test\"\n  secret_key                  = \"test\"\n  skip_credentials_validation = true\n  skip_requesting_account_id  = true\n  skip_metadata_api_check     = true\n  endpoints {{\n    elasticache = \"{endpoint}\"\n  }}\n}}\n",
        version.map_or(String::new(), |v| format!("      version = \"{v}\"\n"))
    )
}

/// Run every command for one provider; `init` only where it is needed.
fn measure(
    quick: &Tf,
    mods: &[Tf],
    endpoint: &str,
    needs_init: bool,
    cycles: usize,
    mode: Mode,
) -> Vec<Figure> {
    let reps = match mode {
        Mode::Quick => 1,
        Mode::Full => 5,
    };
    let var = format!("endpoint={endpoint}");
    let plan = [
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        "-var",
        &var,
    ];
    let apply = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-var",
        &var,
    ];
    let destroy = [
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-var",
        &var,
    ];
    let mut f: Vec<Figure> = COMMANDS.iter().map(|_| Figure::default()).collect();
    if needs_init {
        for tf in std::iter::once(quick).chain(mods) {
            f[0].add(tf.run(&["init", "-input=false", "-no-color"], &[0]));
        }
    }
    for _ in 0..reps {
        f[1].add(quick.run(&["providers", "schema", "-json"], &[0]));
    }
    for _ in 0..reps {
        f[2].add(quick.run(&plan, &[2]));
    }
    for _ in 0..cycles {
        f[3].add(quick.run(&apply, &[0]));
        for _ in 0..reps.min(3) {
            f[4].add(quick.run(&plan, &[0]));
        }
        f[5].add(quick.run(&destroy, &[0]));
        for (i, m) in mods.iter().enumerate() {
            f[6 + 2 * i].add(m.run(
                &["apply", "-auto-approve", "-input=false", "-no-color"],
                &[0],
            ));
            f[7 + 2 * i].add(m.run(
                &["destroy", "-auto-approve", "-input=false", "-no-color"],
                &[0],
            ));
        }
    }
    f
}

fn file_size(p: &Path) -> String {
    std::fs::metadata(p).map_or("–".into(), |m| {
        format!("{:.1} MiB", m.len() as f64 / (1024.0 * 1024.0))
    })
}

pub async fn run(mode: Mode, rep: &mut Report, work: &Path) -> anyhow::Result<()> {
    let have_tf = Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_tf {
        rep.section(
            "3. Provider",
            "terraform is not on PATH: not measured.\n".into(),
        );
        return Ok(());
    }
    let ours_bin = bin_dir().join("terraform-provider-aws");
    if !ours_bin.exists() {
        bail!(
            "{} is missing (build terraform-provider-elasticache)",
            ours_bin.display()
        );
    }
    let wrap = can_wrap();
    let root = work.join("provider");
    // Our provider through dev_overrides (as examples/quickstart.sh does).
    let ours_dir = if wrap {
        let d = root.join("ours-bin");
        wrapper(&d.join("terraform-provider-aws"), &ours_bin)?;
        d
    } else {
        bin_dir()
    };
    let ours_rc = format!(
        "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/elasticache-local/aws\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
        ours_dir.display()
    );
    let be = Backend::start("process").await?;
    let endpoint = be.endpoint();
    let ours_block = provider_block("elasticache-local/aws", None, &endpoint);
    let ours_q = Tf::new(root.join("ours-quickstart"), &ours_rc, QUICKSTART)?;
    let ours_mods = modules(&ours_block)
        .iter()
        .enumerate()
        .map(|(i, hcl)| Tf::new(root.join(format!("ours-mod{i}")), &ours_rc, hcl))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The terraform CLI's own floor: the same commands with no provider at all.
    let floor = Tf::new(root.join("floor"), &ours_rc, "")?;

    let (reps, cycles) = match mode {
        Mode::Quick => (1, 1),
        Mode::Full => (5, 3),
    };
    let mode2 = mode;
    let ep = endpoint.clone();
    let (ours, floor_fig) = tokio::task::spawn_blocking(move || {
        let ours = measure(&ours_q, &ours_mods, &ep, false, cycles, mode2);
        let mut fl = vec![Figure::default(), Figure::default()];
        for _ in 0..3 {
            fl[0].add(floor.run(&["providers", "schema", "-json"], &[0]));
            fl[1].add(floor.run(&["plan", "-input=false", "-no-color"], &[0]));
        }
        (ours, fl)
    })
    .await?;

    let mirror = plugin_mirror();
    let hashi_bin = mirror.as_deref().and_then(hashi_binary);
    let hashi = match (&mirror, &hashi_bin) {
        (Some(mirror), Some(real)) => {
            let m = if wrap {
                let m = root.join("mirror");
                let name = real.file_name().context("provider file name")?;
                wrapper(
                    &m.join(HASHI)
                        .join(HASHI_VERSION)
                        .join("linux_amd64")
                        .join(name),
                    real,
                )?;
                m
            } else {
                mirror.clone()
            };
            let rc = format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{HASHI}\"]\n  }}\n  direct {{\n    exclude = [\"{HASHI}\"]\n  }}\n}}\n",
                m.display()
            );
            let hcl = QUICKSTART.replace(
                "source = \"elasticache-local/aws\"",
                &format!("source  = \"hashicorp/aws\"\n      version = \"{HASHI_VERSION}\""),
            );
            let q = Tf::new(root.join("hashi-quickstart"), &rc, &hcl)?;
            let mods = modules(&provider_block(
                "hashicorp/aws",
                Some(HASHI_VERSION),
                &endpoint,
            ))
            .iter()
            .enumerate()
            .map(|(i, hcl)| Tf::new(root.join(format!("hashi-mod{i}")), &rc, hcl))
            .collect::<anyhow::Result<Vec<_>>>()?;
            let ep = endpoint.clone();
            // HashiCorp's apply and destroy wait on 30 s-scale poll delays:
            // the quick mode measures its schema and plan only.
            // The full mode gives it one cycle (about four minutes).
            let hc = if mode == Mode::Quick { 0 } else { 1 };
            Some(
                tokio::task::spawn_blocking(move || measure(&q, &mods, &ep, true, hc, mode))
                    .await?,
            )
        }
        _ => None,
    };
    drop(be);

    let mut md = String::new();
    let _ = writeln!(
        md,
        "{} against our backend (process runtime), same HCL for both providers: \
         `examples/quickstart` (a parameter group, a subnet group, a Redis cluster, a 3-node Memcached \
         cluster; only `source` differs) and three one-resource modules, each applied then destroyed: one Redis node, a 1+2 replication group, a 3×(1+2) cluster-mode group. Our provider through \
         `dev_overrides` (no `init` needed), HashiCorp's {HASHI_VERSION} through a filesystem mirror. \
         Median wall time of {reps} run(s) (apply/destroy: {cycles} cycle(s) with ours, {} with HashiCorp's); peak RSS is the largest \
         provider process of the command (and how many provider processes the command started){}.\n",
        crate::sh("terraform version | head -1"),
        if mode == Mode::Quick { "none (quick mode)" } else { "1" },
        if wrap { "" } else { " — not measured: GNU time or setpriv is missing" },
    );
    let _ = writeln!(
        md,
        "| command | ours | HashiCorp | ratio | ours peak RSS | HashiCorp peak RSS |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for (i, cmd) in COMMANDS.iter().enumerate() {
        let o = &ours[i];
        let h = hashi.as_ref().map(|h| &h[i]);
        let _ = writeln!(
            md,
            "| `{cmd}` | {} | {} | {} | {} | {} |",
            if i == 0 {
                "not needed".into()
            } else {
                o.cell()
            },
            h.map_or("–".into(), |h| {
                if h.wall.is_empty() && h.failure.is_none() {
                    "not run (quick mode)".into()
                } else {
                    h.cell()
                }
            }),
            ratio(h.and_then(|h| h.wall.median()), o.wall.median()),
            o.rss(),
            h.map_or("–".into(), Figure::rss),
        );
    }
    let _ = writeln!(
        md,
        "\nThe terraform CLI alone (a configuration without providers): `providers schema -json` {}, \
         `plan` {}. That part is the same for both providers, so it bounds the ratio a provider can \
         reach on these commands.\n",
        floor_fig[0].wall.fmt_secs(),
        floor_fig[1].wall.fmt_secs()
    );
    let mut failures = String::new();
    for (who, figs) in [("ours", Some(&ours)), ("HashiCorp", hashi.as_ref())] {
        for (i, f) in figs.into_iter().flatten().enumerate() {
            if let Some(t) = &f.failure {
                let _ = writeln!(
                    failures,
                    "- {who} `{}`: ```{}```",
                    COMMANDS[i],
                    t.replace('\n', " ⏎ ")
                );
            }
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(md, "Failures:\n\n{failures}");
    }
    let _ = writeln!(
        md,
        "Binary sizes: our provider {} (`{}`), our backend {}, HashiCorp's provider {}.\n",
        file_size(&ours_bin),
        if bin_dir().ends_with("release") {
            "release"
        } else {
            "debug"
        },
        file_size(&bin_dir().join("elasticache-local")),
        hashi_bin.as_deref().map_or("–".into(), file_size),
    );
    if hashi.is_none() {
        let _ = writeln!(
            md,
            "HashiCorp's provider was not found (set `TF_PLUGIN_MIRROR` to a mirror holding {HASHI} {HASHI_VERSION}).\n"
        );
    }

    let floor_of = |i: usize| floor_fig[usize::from(i != 1)].wall.median();
    for (i, what) in [(1, "`providers schema -json`"), (2, "`plan` (empty state)")] {
        let o = ours[i].wall.median();
        let h = hashi.as_ref().and_then(|h| h[i].wall.median());
        let net = match (o, h, floor_of(i)) {
            (Some(o), Some(h), Some(f)) if o > f => format!(
                "; minus the terraform CLI's own {}: {}",
                secs(f),
                ratio(Some(h - f), Some(o - f))
            ),
            _ => String::new(),
        };
        rep.goal(
            crate::order::TERRAFORM,
            &format!("Terraform {what} ≥ 30× faster with our provider than with HashiCorp's"),
            format!(
                "{} vs {}: {}{net}",
                o.map_or("–".into(), secs),
                h.map_or("–".into(), secs),
                ratio(h, o)
            ),
            o.zip(h).map(|(o, h)| h / o >= 30.0),
        );
    }
    for (i, what) in [(8, "a 1+2 group"), (10, "a 3×(1+2) cluster-mode group")] {
        let o = ours[i].wall.median();
        let h = hashi.as_ref().and_then(|h| h[i].wall.median());
        rep.goal(
            crate::order::FAMILIES,
            &format!("Terraform apply of {what} against our backend: our provider vs HashiCorp's"),
            format!(
                "ours {}, HashiCorp's {}{}",
                ours[i].cell(),
                hashi.as_ref().map_or("–".to_owned(), |h| {
                    if h[i].wall.is_empty() && h[i].failure.is_none() {
                        "not run (quick mode)".to_owned()
                    } else {
                        h[i].cell()
                    }
                }),
                if o.is_some() && h.is_some() {
                    format!(": {}", ratio(h, o))
                } else {
                    String::new()
                }
            ),
            None,
        );
    }
    rep.section("3. Provider: Terraform commands", md);
    Ok(())
}
