//! The processes under measurement: our backend and moto's server, each on a
//! free port, killed (with every engine the backend started) when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::http::{form, Target};

/// The profile directory holding `elasticache-local`, `terraform-provider-aws`
/// and this binary (they are built together by `tests/bench.sh`).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Resident set size and its high-water mark of a process, KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Wait until `target` answers a signed `DescribeCacheClusters` with 200.
pub async fn wait_answer(target: &Target, timeout: Duration) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let body = form("DescribeCacheClusters", &[("MaxRecords", "20")]);
    loop {
        let mut c = target.client();
        if let Ok(a) = c.call(&body).await {
            if a.ok() {
                return Ok(t0.elapsed());
            }
        }
        if t0.elapsed() > timeout {
            bail!("{} did not answer within {timeout:?}", target.addr);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Our backend, on its own data directory.
pub struct Backend {
    child: Option<Child>,
    pub port: u16,
    pub runtime: String,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// From spawn to the first successful API answer.
    pub started_in: Duration,
}

impl Backend {
    /// Start on a fresh data directory.
    pub async fn start(runtime: &str) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new().prefix("ec-bench-").tempdir()?;
        let data = tmp.path().to_path_buf();
        let mut b = Self::start_in(runtime, &data).await?;
        b._tmp = Some(tmp);
        Ok(b)
    }

    /// Start on an existing data directory (the caller removes it).
    pub async fn start_in(runtime: &str, data: &Path) -> anyhow::Result<Self> {
        let port = free_port();
        let log = std::fs::File::create(data.with_extension("log"))?;
        let t0 = Instant::now();
        let child = Command::new(bin_dir().join("elasticache-local"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .arg("--runtime")
            .arg(runtime)
            .env("ELASTICACHE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start elasticache-local (built next to this binary?)")?;
        let mut b = Self {
            child: Some(child),
            port,
            runtime: runtime.to_owned(),
            data: data.to_path_buf(),
            _tmp: None,
            started_in: Duration::ZERO,
        };
        wait_answer(&b.target(), Duration::from_secs(60)).await?;
        b.started_in = t0.elapsed();
        Ok(b)
    }

    pub fn target(&self) -> Target {
        Target::new(
            format!("127.0.0.1:{}", self.port).parse().expect("address"),
            "us-east-1",
        )
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn rss_kib(&self) -> Option<(u64, u64)> {
        rss_kib(self.pid())
    }

    /// Stop the backend as a user does (SIGTERM: it closes its database
    /// cleanly and exits), killing it if it is still there after 10 s; then
    /// remove every engine it started.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Some(p) = i32::try_from(c.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
            }
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(10) {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        cleanup_engines(&self.data, self.runtime == "docker");
    }

    /// Kill the backend and every engine it started (processes by pid file,
    /// containers by name); the data directory stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        cleanup_engines(&self.data, self.runtime == "docker");
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Remove every engine started under `data`: processes by pid file,
/// containers by label.
pub fn cleanup_engines(data: &Path, docker: bool) {
    if let Ok(rd) = std::fs::read_dir(data.join("nodes")) {
        for e in rd.flatten() {
            if let Ok(pid) = std::fs::read_to_string(e.path().join("node.pid")) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    if let Some(p) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                    }
                }
            }
        }
    }
    if docker {
        acceptance::remove_containers(data);
    }
}

/// moto's server (`python3 -m moto.server`), when installed.
pub struct Moto {
    child: Child,
    pub port: u16,
    _log: tempfile::NamedTempFile,
}

impl Moto {
    pub fn available() -> bool {
        Command::new("python3")
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn version() -> String {
        Command::new("python3")
            .args(["-c", "import moto; print(moto.__version__)"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Start it when installed; `None` (with the reason on stderr) otherwise,
    /// so that a machine without moto still runs every other measurement.
    pub async fn start_if_available() -> Option<Self> {
        if !Self::available() {
            eprintln!("bench: moto is not installed: measuring without it");
            return None;
        }
        match Self::start().await {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("bench: moto did not start: {e:#}");
                None
            }
        }
    }

    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port();
        let log = tempfile::Builder::new().prefix("moto-").tempfile()?;
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.reopen()?)
            .stderr(log.reopen()?)
            .process_group(0)
            .spawn()
            .context("start moto.server")?;
        let m = Self {
            child,
            port,
            _log: log,
        };
        wait_answer(&m.target(), Duration::from_secs(60)).await?;
        Ok(m)
    }

    pub fn target(&self) -> Target {
        Target::new(
            format!("127.0.0.1:{}", self.port).parse().expect("address"),
            "us-east-1",
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(p) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(p, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `DescribeCacheClusters` until every id in `ids` reads `available`;
/// returns when, or fails after `timeout`.
pub async fn wait_clusters(
    target: &Target,
    ids: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut c = target.client();
    loop {
        let statuses = list_clusters(&mut c).await?;
        let pending = ids
            .iter()
            .filter(|id| {
                statuses
                    .iter()
                    .find(|(i, _)| i == *id)
                    .is_none_or(|(_, s)| s != "available")
            })
            .count();
        if pending == 0 {
            return Ok(());
        }
        if t0.elapsed() > timeout {
            bail!(
                "{pending} of {} clusters not available after {timeout:?}",
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every cluster's (id, status), following `Marker`.
pub async fn list_clusters(c: &mut crate::http::Client) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut p = vec![("MaxRecords", "100")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let a = c.call(&form("DescribeCacheClusters", &p)).await?;
        if !a.ok() {
            bail!("DescribeCacheClusters: HTTP {}: {}", a.status, a.text());
        }
        let t = a.text();
        let ids = crate::http::xml_values(&t, "CacheClusterId");
        let sts = crate::http::xml_values(&t, "CacheClusterStatus");
        out.extend(ids.into_iter().zip(sts));
        marker = crate::http::xml_value(&t, "Marker").filter(|m| !m.is_empty());
        if marker.is_none() {
            return Ok(out);
        }
    }
}

/// Poll `body` until its first `<tag>` reads `want`; returns the time it took
/// and the last answer, or fails on a status holding `fail` or after `timeout`.
pub async fn wait_status(
    target: &Target,
    body: &str,
    tag: &str,
    want: &str,
    timeout: Duration,
) -> anyhow::Result<(Duration, String)> {
    let t0 = Instant::now();
    let mut c = target.client();
    loop {
        let a = c.call(body).await?;
        let t = a.text();
        let st = crate::http::xml_value(&t, tag).unwrap_or_default();
        if st == want {
            return Ok((t0.elapsed(), t));
        }
        if st.contains("fail") || t0.elapsed() > timeout {
            bail!(
                "{tag} {st:?} (not {want}) after {:?}: {}",
                t0.elapsed(),
                crate::http::xml_value(&t, "Message").unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
