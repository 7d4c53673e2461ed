//! The acceptance harness: builds the provider and the backend, starts the
//! backend on a free port, and runs real Terraform against both in a temporary
//! directory with its own CLI configuration (`dev_overrides` to the build output),
//! `TF_IN_AUTOMATION=1`, `CHECKPOINT_DISABLE=1`, in its own process group that
//! is killed on timeout.
//!
//! Tests run only when `terraform` is on PATH (they print SKIP otherwise).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};

pub const SOURCE: &str = "registry.terraform.io/elasticache-local/aws";
const TF_TIMEOUT: Duration = Duration::from_secs(600);

pub fn terraform_available() -> bool {
    Command::new("terraform")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skip a test (with a message) when Terraform is missing.
#[macro_export]
macro_rules! require_terraform {
    () => {
        if !$crate::terraform_available() {
            eprintln!("SKIP: terraform is not on PATH");
            return;
        }
    };
}

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .to_path_buf()
}

/// `cargo`, for a build from inside a test, as the suite's own build ran it:
/// without the variables cargo sets for the test process (ring's build script
/// watches `CARGO_MANIFEST_DIR`: inherited, it would rebuild ring and all that
/// sits above it — rustls, the AWS SDK, the backend — on every test run).
#[must_use]
pub fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_EXE_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || matches!(
                k,
                "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            )
        {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Build the workspace binaries once per test process; returns the profile dir.
pub fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = target_dir();
        let mut cmd = cargo();
        // The whole workspace's binaries: features then unify as in
        // `cargo test --workspace`, so a suite run reuses what it built
        // instead of rebuilding the dependencies with other features.
        cmd.args(["build", "--workspace", "--bins"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building provider and backend failed"
        );
        dir
    })
}

/// The runtimes under test: `ELASTICACHE_TEST_RUNTIMES` (default `process`),
/// plus `docker` when `ELASTICACHE_TEST_DOCKER=1`.
pub fn runtimes() -> Vec<String> {
    let mut rts: Vec<String> = std::env::var("ELASTICACHE_TEST_RUNTIMES")
        .unwrap_or_else(|_| "process".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if std::env::var("ELASTICACHE_TEST_DOCKER").as_deref() == Ok("1")
        && !rts.iter().any(|r| r == "docker")
    {
        rts.push("docker".into());
    }
    rts
}

/// The runtime for a test whose subject is the same whatever runs the engines
/// (the provider is a client of the API): the first runtime under test, normally
/// `process`. `ELASTICACHE_TEST_EVERYWHERE=1` gives every runtime.
pub fn one_runtime() -> Vec<String> {
    let all = runtimes();
    if std::env::var("ELASTICACHE_TEST_EVERYWHERE").as_deref() == Ok("1") {
        return all;
    }
    all.into_iter().take(1).collect()
}

/// A running backend; dropping it kills it and removes its engines.
pub struct Backend {
    child: Child,
    pub port: u16,
    pub data: tempfile::TempDir,
}

impl Backend {
    pub fn start(runtime: &str) -> Self {
        let data = tempfile::Builder::new()
            .prefix("ec-acc-")
            .tempdir()
            .expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(data.path().join("backend.log")).unwrap();
        let child = Command::new(binaries().join("elasticache-local"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--runtime",
                runtime,
                "--data-dir",
            ])
            .arg(data.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start backend");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "backend did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, data }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The official SDK pointed at this backend (to check what Terraform did).
    pub fn client(&self) -> aws_sdk_elasticache::Client {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(self.endpoint())
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    }

    /// The provider block a user writes to point at this backend.
    pub fn provider_hcl(&self) -> String {
        format!(
            r#"terraform {{
  required_providers {{
    aws = {{ source = "elasticache-local/aws" }}
  }}
}}

provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {{
    elasticache = "{}"
  }}
}}
"#,
            self.endpoint()
        )
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(rd) = std::fs::read_dir(self.data.path().join("nodes")) {
            for e in rd.flatten() {
                if let Ok(pid) = std::fs::read_to_string(e.path().join("node.pid")) {
                    let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
                }
            }
        }
        remove_containers(self.data.path());
    }
}

/// Remove the Docker containers of the backend whose data directory is
/// `data_dir`, found by their label (a container's name ends in a hash of its
/// backend's nodes directory). Nothing when Docker is missing.
pub fn remove_containers(data_dir: &Path) {
    let Ok(root) = std::fs::canonicalize(data_dir.join("nodes")) else {
        return;
    };
    let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=elasticache-local.root={}", root.display()))
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let ids = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v"])
            .args(&ids)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Send `sig` to the process group `child` leads (it was spawned with
/// `process_group(0)`). Not through `kill(1)`: procps-ng's reads
/// `kill -9 -12345` as process group 1, that is every process there is.
pub fn signal_group(child: &Child, sig: rustix::process::Signal) {
    if let Some(pgid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pgid, sig);
    }
}

/// The result of one terraform command.
pub struct Out {
    pub code: i32,
    pub text: String,
}

/// A Terraform working directory wired to our provider build.
pub struct Tf {
    pub work: tempfile::TempDir,
    cli_config: PathBuf,
}

impl Default for Tf {
    fn default() -> Self {
        Self::new()
    }
}

impl Tf {
    pub fn new() -> Self {
        let work = tempfile::Builder::new()
            .prefix("ec-tf-")
            .tempdir()
            .expect("tempdir");
        let cli_config = work.path().join(".terraformrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"{SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                binaries().display()
            ),
        )
        .unwrap();
        Self { work, cli_config }
    }

    /// A working directory with a CLI configuration of the caller's own
    /// (e.g. a `filesystem_mirror`, as users install providers).
    pub fn with_cli_config(text: &str) -> Self {
        let work = tempfile::Builder::new()
            .prefix("ec-tf-")
            .tempdir()
            .expect("tempdir");
        let cli_config = work.path().join(".terraformrc");
        std::fs::write(&cli_config, text).unwrap();
        Self { work, cli_config }
    }

    /// Write `main.tf` (replacing the previous configuration).
    pub fn config(&self, hcl: &str) {
        std::fs::write(self.work.path().join("main.tf"), hcl).unwrap();
    }

    /// Start terraform in its own process group (its provider plugins in it
    /// too) without waiting; its output goes to `.tf-output.txt`.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let log = self.work.path().join(".tf-output.txt");
        let file = std::fs::File::create(&log).unwrap();
        Command::new("terraform")
            .args(args)
            .current_dir(self.work.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("RUST_LIB_BACKTRACE", "0")
            .env_remove("TF_REATTACH_PROVIDERS")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("run terraform")
    }

    /// What the last terraform command printed.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.work.path().join(".tf-output.txt")).unwrap_or_default()
    }

    /// Run terraform in its own process group; kill the group on timeout.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut child = self.spawn(args);
        let deadline = Instant::now() + TF_TIMEOUT;
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                signal_group(&child, rustix::process::Signal::KILL);
                let _ = child.wait();
                break -2;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Out {
            code,
            text: self.output(),
        }
    }

    /// `terraform apply -auto-approve`, which must succeed.
    pub fn apply(&self) -> Out {
        let o = self.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        assert_eq!(o.code, 0, "terraform apply failed:\n{}", o.text);
        o
    }

    /// A plan that must show no changes.
    pub fn plan_is_clean(&self) {
        let o = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        assert_eq!(o.code, 0, "expected an empty plan:\n{}", o.text);
    }

    /// A plan that must show changes; returns its text.
    pub fn plan_has_changes(&self) -> String {
        let o = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        assert_eq!(o.code, 2, "expected a plan with changes:\n{}", o.text);
        o.text
    }

    pub fn destroy(&self) {
        let o = self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        assert_eq!(o.code, 0, "terraform destroy failed:\n{}", o.text);
    }

    pub fn import(&self, address: &str, id: &str) {
        let o = self.run(&["import", "-input=false", "-no-color", address, id]);
        assert_eq!(o.code, 0, "terraform import failed:\n{}", o.text);
    }

    /// `terraform output -json` as a value.
    pub fn outputs(&self) -> serde_json::Value {
        let o = self.run(&["output", "-json"]);
        assert_eq!(o.code, 0, "terraform output failed:\n{}", o.text);
        serde_json::from_str(&o.text).expect("output JSON")
    }

    /// `terraform state rm` (to test import and disappearance).
    pub fn state_rm(&self, address: &str) {
        let o = self.run(&["state", "rm", "-no-color", address]);
        assert_eq!(o.code, 0, "terraform state rm failed:\n{}", o.text);
    }
}
