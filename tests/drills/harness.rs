//! What every drill shares: a real backend binary on a data directory of its
//! own, SIGKILLed and started again on it; the official SDK as the client (no
//! retries: a request the kill cut off has an unknown outcome, never a second
//! try); and the scan of what engines, data directories and ports are left on
//! the machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::config::retry::RetryConfig;
use aws_sdk_elasticache::config::timeout::TimeoutConfig;
use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};

/// The backend binary, built once per test process (only the backend), or
/// `DRILL_BACKEND` (to drill another build, e.g. an older release).
pub fn backend_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("DRILL_BACKEND").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("current exe");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target profile dir")
            .to_path_buf();
        // The selection the suite builds (features unify alike: nothing rebuilds).
        let mut cmd = acceptance::cargo();
        cmd.args(["build", "-q", "--workspace", "--bin", "elasticache-local"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building the backend failed"
        );
        dir.join("elasticache-local")
    })
    .clone()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A backend process on `data_dir`, started and SIGKILLed at will. Its logs
/// (one file per start) stay beside the data directory for the secrets drill.
pub struct Backend {
    child: Option<Child>,
    pub port: u16,
    pub runtime: String,
    pub data_dir: PathBuf,
    pub logs: Vec<PathBuf>,
    env: Vec<(String, String)>,
}

impl Backend {
    pub fn new(runtime: &str, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self {
            child: None,
            port: 0,
            runtime: runtime.to_owned(),
            data_dir: data_dir.to_path_buf(),
            logs: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Start the backend on the data directory (a new port each time) and wait
    /// until it answers.
    pub fn start(&mut self) {
        let log = self.spawn();
        // Until it answers: the port is bound before the database opens, so a
        // connection alone does not say it started (nor that it did not exit).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !health_answers(self.port) {
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "backend exited ({st}) at start; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "backend did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start the backend process without waiting for it; its log file.
    pub fn spawn(&mut self) -> PathBuf {
        assert!(self.child.is_none(), "backend already running");
        self.port = free_port();
        let log = self
            .data_dir
            .with_extension(format!("start{}.log", self.logs.len()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(backend_binary())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--runtime")
            .arg(&self.runtime)
            .env("ELASTICACHE_LOG", "info,elasticache_local=debug")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start elasticache-local");
        self.child = Some(child);
        self.logs.push(log.clone());
        log
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL (engines keep running, as after a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The SDK pointed at this backend, without retries.
    pub fn client(&self) -> aws_sdk_elasticache::Client {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDDRILL", "drill", None, None, "drill"))
            .endpoint_url(format!("http://127.0.0.1:{}", self.port))
            .retry_config(RetryConfig::disabled())
            // A request nobody answers is an error, not a drill that waits forever.
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(120))
                    .build(),
            )
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
        kill_engines(&self.data_dir);
    }
}

/// An engine process found on the machine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Engine {
    pub pid: i32,
    /// Its working directory's name: the node key.
    pub key: String,
    pub exe: String,
}

/// Engine processes whose working directory lies under `data_dir`.
pub fn engines_under(data_dir: &Path) -> Vec<Engine> {
    let Ok(root) = std::fs::canonicalize(data_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) else {
            continue;
        };
        if !cwd.starts_with(&root) {
            continue;
        }
        // By the name it runs as: Debian's redis-server executable is
        // redis-check-rdb, and Redis rewrites its argv[0] to
        // `redis-server <addr>:<port>`.
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let argv0 = String::from_utf8_lossy(cmdline.split(|b| *b == 0).next().unwrap_or_default())
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let exe = Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !["redis-server", "valkey-server", "memcached"].contains(&exe.as_str()) {
            continue;
        }
        // A zombie has no engine left in it.
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if state
            .rfind(')')
            .and_then(|i| state[i + 1..].split_whitespace().next())
            .is_some_and(|s| s == "Z" || s == "X")
        {
            continue;
        }
        out.push(Engine {
            pid,
            key: cwd
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            exe,
        });
    }
    out.sort();
    out
}

/// Node containers whose node key carries `marker` (the drill's run prefix):
/// (container name, node key) each.
pub fn containers_with(marker: &str) -> Vec<(String, String)> {
    let Ok(out) = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--format",
            r#"{{.Names}} {{.Label "elasticache-local.node"}}"#,
            "--filter",
            "label=elasticache-local.node",
        ])
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, key)| key.contains(marker))
        .map(|(name, key)| (name.to_owned(), key.to_owned()))
        .collect()
}

/// Node directories under `<data_dir>/nodes`, and which of them hold a pid file.
pub fn node_dirs(data_dir: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut dirs = BTreeSet::new();
    let mut pids = BTreeSet::new();
    for e in std::fs::read_dir(data_dir.join("nodes"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().join("node.pid").exists() {
            pids.insert(name.clone());
        }
        dirs.insert(name);
    }
    (dirs, pids)
}

/// Kill every engine left under `data_dir` and every container of `marker`
/// (the drill's own cleanup, after it has counted them).
pub fn kill_engines(data_dir: &Path) {
    for e in engines_under(data_dir) {
        let _ = Command::new("kill")
            .arg("-9")
            .arg(e.pid.to_string())
            .status();
    }
}

pub fn remove_containers(marker: &str) {
    for (name, _) in containers_with(marker) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Whether the backend on `port` answers `GET /_health`.
fn health_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = [0u8; 12];
    s.write_all(b"GET /_health HTTP/1.0\r\nHost: drill\r\n\r\n")
        .is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.0 200") | head.starts_with(b"HTTP/1.1 200")
}

/// Whether something accepts connections on `addr:port`.
pub fn port_open(addr: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let Some(sa) = (addr, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(300)).is_ok()
}

/// A small deterministic random source (xorshift), seeded per run so that a
/// failing run can be repeated (`DRILL_SEED`).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn seed_from_env() -> u64 {
        std::env::var("DRILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}
