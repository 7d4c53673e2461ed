//! HashiCorp's Terraform AWS provider (5.100.0) against the backend: real
//! `terraform` init/apply/plan/import/destroy of parameter groups, subnet groups
//! and Redis and Memcached clusters, checked on the engines and with the SDK.
//!
//! Needs `terraform` on PATH and a filesystem mirror holding
//! `registry.terraform.io/hashicorp/aws` (env `TF_PLUGIN_MIRROR`, else found under
//! `/`, e.g. `/opt/tf-plugins`); without them the test prints SKIP and passes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{name, one_runtime, runtimes, Backend};

mod global;
mod groups;
mod security;
mod serverless;

const TEMPLATE: &str = include_str!("terraform_aws/main.tf");
const TF_TIMEOUT: Duration = Duration::from_secs(600);

/// The plugin mirror with the AWS provider, if any.
fn plugin_mirror() -> Option<PathBuf> {
    let has_aws = |p: &Path| p.join("registry.terraform.io/hashicorp/aws").is_dir();
    if let Ok(p) = std::env::var("TF_PLUGIN_MIRROR") {
        let p = PathBuf::from(p);
        return has_aws(&p).then_some(p);
    }
    let out = Command::new("find")
        .args(["/", "-maxdepth", "3", "-type", "d", "-name", "tf-plugins"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .find(|p| has_aws(p))
}

/// Run `scenario(runtime, mirror)` on one runtime (HashiCorp's provider is a
/// client of the API, which is the same on every runtime; `terraform_aws_provider`
/// runs on every runtime to show that); prints SKIP and returns when Terraform or
/// the plugin mirror is missing.
fn on_one_runtime(test: &str, scenario: fn(&str, &Path)) {
    on_runtimes(test, one_runtime(), scenario)
}

/// Run `scenario` on each of `rts` at once (each has a backend of its own;
/// HashiCorp's waiters sleep nearly all the time, so side by side they take
/// as long as the slowest).
fn on_runtimes(test: &str, rts: Vec<String>, scenario: fn(&str, &Path)) {
    if !terraform_available() {
        println!("SKIP {test}: terraform not found on PATH");
        return;
    }
    let Some(mirror) = plugin_mirror() else {
        println!(
            "SKIP {test}: no plugin mirror with registry.terraform.io/hashicorp/aws (set TF_PLUGIN_MIRROR)"
        );
        return;
    };
    std::thread::scope(|s| {
        let runs: Vec<_> = rts
            .into_iter()
            .map(|rt| {
                let mirror = &mirror;
                s.spawn(move || scenario(&rt, mirror))
            })
            .collect();
        for r in runs {
            if let Err(e) = r.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}

fn terraform_available() -> bool {
    Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Result of one terraform run.
struct Run {
    code: i32,
    out: String,
    ms: u128,
}

/// One terraform working directory with its own CLI config, data dir and log.
struct Tf {
    dir: tempfile::TempDir,
    cli_config: PathBuf,
}

impl Tf {
    fn new(mirror: &Path, main_tf: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("ec-tf-").tempdir().unwrap();
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        Self { dir, cli_config }
    }

    /// Replace the configuration (the next plan or apply takes it).
    fn write_main(&self, main_tf: &str) {
        std::fs::write(self.dir.path().join("main.tf"), main_tf).unwrap();
    }

    /// Run `terraform <args>` in its own process group; kill the group on timeout.
    fn run(&self, args: &[&str]) -> Run {
        let log = self.dir.path().join("out.log");
        let f = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let mut child = Command::new("terraform")
            .args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_DATA_DIR", self.dir.path().join(".terraform"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_LOG", "DEBUG")
            .env("TF_LOG_PATH", self.dir.path().join("tf-debug.log"))
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .process_group(0)
            .spawn()
            .expect("spawn terraform");
        let pid = i32::try_from(child.id()).unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if started.elapsed() > TF_TIMEOUT {
                if let Some(pgid) = rustix::process::Pid::from_raw(pid) {
                    let _ =
                        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let ms = started.elapsed().as_millis();
        let mut out = std::fs::read_to_string(&log).unwrap_or_default();
        let code = match status {
            Some(s) => s.code().unwrap_or(-1),
            None => {
                out.push_str(&format!("\n[terraform timed out after {TF_TIMEOUT:?}]"));
                -1
            }
        };
        Run { code, out, ms }
    }

    /// Run and require exit code `want`; on failure, show the output and the
    /// tail of the debug log (requests and raw answers).
    fn expect(&self, args: &[&str], want: i32, be: &Backend) -> Run {
        let r = self.run(args);
        if r.code != want {
            let debug =
                std::fs::read_to_string(self.dir.path().join("tf-debug.log")).unwrap_or_default();
            let tail: String = debug
                .lines()
                .filter(|l| {
                    l.contains("http.request.body")
                        || l.contains("http.response.body")
                        || l.contains("[ERROR]")
                })
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            // Keep the full debug log for inspection after the temp dir is gone.
            let kept = std::env::temp_dir().join(format!(
                "ec-tf-debug-{}.log",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ));
            let _ = std::fs::write(&kept, &debug);
            eprintln!("full terraform debug log: {}", kept.display());
            panic!(
                "terraform {args:?} exited {} (want {want}) on runtime {}\n--- output ---\n{}\n--- debug log (requests, answers, errors) ---\n{tail}\n--- backend log (tail) ---\n{}",
                r.code,
                be.runtime,
                r.out,
                tail_lines(&be.log_text(), 40)
            );
        }
        r
    }

    fn output(&self, be: &Backend) -> serde_json::Value {
        let r = self.expect(&["output", "-json"], 0, be);
        serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("output -json: {e}: {}", r.out))
    }
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn out_str(o: &serde_json::Value, k: &str) -> String {
    match &o[k]["value"] {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `config get cluster` on a Memcached configuration endpoint `host:port`:
/// the node list (`host|ip|port` entries).
fn memcached_cluster_nodes(endpoint: &str) -> Vec<String> {
    let mut s = std::net::TcpStream::connect(endpoint)
        .unwrap_or_else(|e| panic!("connect configuration endpoint {endpoint}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"config get cluster\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap() == 0 {
            break;
        }
        let l = l.trim_end().to_owned();
        if l == "END" || l.contains("ERROR") {
            lines.push(l);
            break;
        }
        lines.push(l);
    }
    // CONFIG cluster 0 <len> / <version> / <nodes> / END
    assert!(
        lines.len() >= 4 && lines[0].starts_with("CONFIG cluster"),
        "unexpected config get cluster answer: {lines:?}"
    );
    lines[2].split(' ').map(str::to_owned).collect()
}

fn redis_config_get(addr: &str, port: &str, param: &str) -> String {
    let client = redis::Client::open(format!("redis://{addr}:{port}/")).unwrap();
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect redis {addr}:{port}: {e}"));
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(param)
        .query(&mut conn)
        .unwrap();
    v.get(1).cloned().unwrap_or_default()
}

#[test]
fn terraform_aws_provider() {
    on_runtimes("terraform_aws_provider", runtimes(), terraform_on);
}

fn terraform_on(rt: &str, mirror: &Path) {
    let be = Backend::start(rt);
    let suffix = name(rt);
    let main_tf = TEMPLATE
        .replace("@ENDPOINT@", &be.endpoint())
        .replace("@SUFFIX@", &suffix);
    let tf = Tf::new(mirror, &main_tf);

    tf.expect(&["init", "-no-color"], 0, &be);

    // Create everything.
    let apply = tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);

    // The engines are real: PING the Redis node, read the custom parameter,
    // ask the Memcached configuration endpoint for its nodes.
    let o = tf.output(&be);
    let (addr, port) = (out_str(&o, "redis_address"), out_str(&o, "redis_port"));
    assert_eq!(
        redis_config_get(&addr, &port, "maxmemory-policy"),
        "allkeys-lru"
    );
    assert_eq!(redis_config_get(&addr, &port, "timeout"), "300");
    let cfg = out_str(&o, "memcached_configuration_endpoint");
    assert_eq!(memcached_cluster_nodes(&cfg).len(), 3, "memcached nodes");

    // A second plan is clean.
    let plan = tf.expect(
        &["plan", "-detailed-exitcode", "-no-color", "-input=false"],
        0,
        &be,
    );

    // Import everything into a fresh state with the same configuration: the
    // plan after import must be clean too.
    let imp = Tf::new(mirror, &main_tf);
    imp.expect(&["init", "-no-color"], 0, &be);
    for (addr, id) in [
        (
            "aws_elasticache_parameter_group.redis",
            format!("tf-redis7-{suffix}"),
        ),
        (
            "aws_elasticache_subnet_group.main",
            format!("tf-subnets-{suffix}"),
        ),
        (
            "aws_elasticache_cluster.redis",
            format!("tf-redis-{suffix}"),
        ),
        (
            "aws_elasticache_cluster.memcached",
            format!("tf-mc-{suffix}"),
        ),
    ] {
        imp.expect(&["import", "-no-color", addr, &id], 0, &be);
    }
    imp.expect(
        &["plan", "-detailed-exitcode", "-no-color", "-input=false"],
        0,
        &be,
    );
    drop(imp);

    // In-place update: a tag and a parameter value.
    let vars = [
        "-var",
        "env_tag=two",
        "-var",
        "maxmemory_policy=volatile-lru",
    ];
    let mut args = vec!["plan", "-detailed-exitcode", "-no-color", "-input=false"];
    args.extend(vars);
    let p = tf.expect(&args, 2, &be);
    assert!(
        p.out.contains("updated in-place") && !p.out.contains("must be replaced"),
        "update must be in place:\n{}",
        p.out
    );
    let mut args = vec!["apply", "-auto-approve", "-no-color"];
    args.extend(vars);
    tf.expect(&args, 0, &be);
    assert_eq!(
        redis_config_get(&addr, &port, "maxmemory-policy"),
        "volatile-lru"
    );
    let mut args = vec!["plan", "-detailed-exitcode", "-no-color", "-input=false"];
    args.extend(vars);
    tf.expect(&args, 0, &be);

    // Memcached 3 -> 2 nodes, applied immediately.
    let vars2 = [
        "-var",
        "env_tag=two",
        "-var",
        "maxmemory_policy=volatile-lru",
        "-var",
        "memcached_nodes=2",
        "-var",
        "apply_immediately=true",
    ];
    let mut args = vec!["apply", "-auto-approve", "-no-color"];
    args.extend(vars2);
    let r = tf.expect(&args, 0, &be);
    assert!(
        !r.out.contains("must be replaced")
            && r.out.contains("0 to add, 1 to change, 0 to destroy"),
        "node count change must be in place:\n{}",
        r.out
    );
    assert_eq!(memcached_cluster_nodes(&cfg).len(), 2, "memcached nodes");
    let mut args = vec!["plan", "-detailed-exitcode", "-no-color", "-input=false"];
    args.extend(vars2);
    tf.expect(&args, 0, &be);

    // Destroy, and check with the SDK that nothing is left.
    let mut args = vec!["destroy", "-auto-approve", "-no-color"];
    args.extend(vars2);
    let destroy = tf.expect(&args, 0, &be);

    let rt_tokio = tokio::runtime::Runtime::new().unwrap();
    rt_tokio.block_on(async {
        let c = be.client();
        let clusters = c.describe_cache_clusters().send().await.unwrap();
        assert!(
            clusters.cache_clusters().is_empty(),
            "clusters left: {clusters:?}"
        );
        let pg = c
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(format!("tf-redis7-{suffix}"))
            .send()
            .await;
        assert!(
            pg.as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_cache_parameter_group_not_found_fault()),
            "parameter group left: {pg:?}"
        );
        let sg = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(format!("tf-subnets-{suffix}"))
            .send()
            .await;
        assert!(
            sg.as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_cache_subnet_group_not_found_fault()),
            "subnet group left: {sg:?}"
        );
    });

    println!(
        "TIMING runtime={rt} tf_apply_ms={} tf_plan_ms={} tf_destroy_ms={}",
        apply.ms, plan.ms, destroy.ms
    );
}
