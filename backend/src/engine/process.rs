//! Nodes as local child processes (`redis-server`, `valkey-server`, `memcached`).
//!
//! Each node owns `spec.data_dir`, which holds `node.pid`, `node.json` and
//! `engine.log`. Children run in their own process group so that they survive the
//! backend being killed; a restarted backend re-adopts them from the pid files.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

use super::{probe, EngineKind, EngineRuntime, NodeSpec, NodeStatus, StartInfo};

pub const PID_FILE: &str = "node.pid";
pub const NODE_FILE: &str = "node.json";
pub const LOG_FILE: &str = "engine.log";

/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A local engine binary and the version it reports.
#[derive(Debug, Clone)]
pub struct Binary {
    pub path: PathBuf,
    pub version: String,
}

/// What we record next to the pid file (for re-adoption and `list_nodes`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NodeRecord {
    key: String,
    port: u16,
    engine: EngineKind,
    version: String,
    pid: i32,
    binary: PathBuf,
}

pub struct ProcessRuntime {
    root: PathBuf,
    redis: Option<Binary>,
    valkey: Option<Binary>,
    memcached: Option<Binary>,
}

/// Find an executable on `PATH` (or the env override).
fn find_binary(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if !is_executable(&p) {
            tracing::warn!(
                "{}; {name} nodes cannot start",
                missing_override(env).unwrap_or_default()
            );
        }
        return is_executable(&p).then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    })
}

/// `<env> names <path>, which is not an executable file` when the override
/// `env` is set to something that cannot run.
fn missing_override(env: &str) -> Option<String> {
    let p = std::env::var_os(env).filter(|v| !v.is_empty())?;
    let p = PathBuf::from(p);
    (!is_executable(&p)).then(|| {
        format!(
            "{env} names {}, which is not an executable file",
            p.display()
        )
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Version reported by `<bin> --version`: `Redis server v=7.0.15 ...`,
/// `Valkey server v=8.0.1 ...`, `memcached 1.6.18`.
fn binary_version(path: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {} --version", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| anyhow!("cannot parse version from {text:?}"))
}

fn parse_version(text: &str) -> Option<String> {
    if let Some(i) = text.find("v=") {
        return text[i + 2..].split_whitespace().next().map(str::to_string);
    }
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

/// Does the local version satisfy the requested one? Compares every numeric
/// component the request names (`6.2` vs `7.0.15` no, `7.0` vs `7.0.15` yes,
/// `6.x` vs `6.2.14` yes).
fn version_matches(requested: &str, local: &str) -> bool {
    let requested = requested.trim();
    if requested.is_empty() {
        return true;
    }
    let mut local = local.split('.');
    for want in requested.split('.') {
        if want.eq_ignore_ascii_case("x") {
            return true;
        }
        if local.next() != Some(want) {
            return false;
        }
    }
    true
}

/// Is `pid` a live (non-zombie) process whose command line mentions `binary`'s file name?
fn pid_is_engine(pid: i32, binary: &Path) -> bool {
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    if rustix::process::test_kill_process(p).is_err() {
        return false;
    }
    // A zombie still accepts signal 0; treat it as dead.
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        if matches!(state, Some("Z" | "X")) {
            return false;
        }
    }
    let Some(name) = binary.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return true;
    };
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        // Empty while the kernel is still in execve (spawn returns as soon as the
        // exec begins); zombies, the other empty case, were excluded above.
        Ok(cmd) if cmd.is_empty() => true,
        Ok(cmd) => String::from_utf8_lossy(&cmd).contains(&name),
        // No /proc (unusual on Linux): trust the signal test.
        Err(_) => true,
    }
}

/// An engine running in `data_dir` (its working directory) that has no record:
/// the backend died between spawning it and writing `node.json`.
fn unrecorded(data_dir: &Path) -> Option<NodeRecord> {
    let dir = std::fs::canonicalize(data_dir).ok()?;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if std::fs::read_link(e.path().join("cwd")).ok().as_deref() != Some(dir.as_path()) {
            continue;
        }
        let Some(binary) = engine_binary(&e.path()) else {
            continue;
        };
        let Some(name) = binary.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let engine = match name.as_str() {
            "memcached" => EngineKind::Memcached,
            "redis-server" => EngineKind::Redis,
            "valkey-server" => EngineKind::Valkey,
            _ => continue,
        };
        return Some(NodeRecord {
            key: dir.file_name()?.to_string_lossy().into_owned(),
            port: 0,
            engine,
            version: String::new(),
            pid,
            binary,
        });
    }
    None
}

/// The binary a process runs, by the name it was started as (`argv[0]`, which
/// `redis-server` rewrites to `redis-server <addr>:<port>`), else by its
/// executable: Debian's `redis-server` is a link to `redis-check-rdb`, so the
/// executable alone does not tell a Redis engine.
fn engine_binary(proc_dir: &Path) -> Option<PathBuf> {
    let cmdline = std::fs::read(proc_dir.join("cmdline")).ok()?;
    let argv0 = cmdline
        .split(|b| *b == 0)
        .next()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .and_then(|a| a.split_whitespace().next().map(str::to_owned));
    match argv0 {
        Some(a) if !a.is_empty() => Some(PathBuf::from(a)),
        _ => std::fs::read_link(proc_dir.join("exe")).ok(),
    }
}

fn read_record(data_dir: &Path) -> Option<NodeRecord> {
    let Ok(text) = std::fs::read_to_string(data_dir.join(NODE_FILE)) else {
        return unrecorded(data_dir);
    };
    let rec: NodeRecord = serde_json::from_str(&text).ok()?;
    // The pid file is the authority for the pid (node.json may be older).
    let pid = std::fs::read_to_string(data_dir.join(PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(rec.pid);
    Some(NodeRecord { pid, ..rec })
}

/// The record of a node whose recorded process is alive.
fn live_record(data_dir: &Path) -> Option<NodeRecord> {
    read_record(data_dir)
        .filter(|r| pid_is_engine(r.pid, &r.binary))
        // The record may name an earlier, dead process when the backend died
        // between spawning the new one and recording it.
        .or_else(|| unrecorded(data_dir))
}

fn signal(pid: i32, sig: Signal) {
    if let Some(p) = Pid::from_raw(pid) {
        if let Err(e) = rustix::process::kill_process(p, sig) {
            tracing::debug!(pid, ?sig, "kill: {e}");
        }
    }
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Memcached `-m` in MiB (at least 1).
#[must_use]
pub fn memcached_mib(memory_bytes: u64) -> u64 {
    (memory_bytes / (1024 * 1024)).max(1)
}

impl ProcessRuntime {
    /// Locate the engine binaries. Fails only when none of them exists.
    pub fn new(root: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("create process runtime root {}", root.display()))?;
        // Absolute, so that `remove` can tell whether a data dir lies under it.
        let root = std::fs::canonicalize(&root)
            .with_context(|| format!("resolve process runtime root {}", root.display()))?;
        let names = [
            ("ELASTICACHE_REDIS_SERVER", "redis-server"),
            ("ELASTICACHE_VALKEY_SERVER", "valkey-server"),
            ("ELASTICACHE_MEMCACHED", "memcached"),
        ];
        let paths = names.map(|(env, name)| find_binary(env, name));
        // Each binary's `--version` (a process each) at once rather than in
        // turn: they are part of every start's time. Said in the order above.
        let versions = std::thread::scope(|s| {
            paths
                .each_ref()
                .map(|p| p.as_deref().map(|p| s.spawn(move || binary_version(p))))
                .map(|h| {
                    h.map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(anyhow!("the version probe panicked")))
                    })
                })
        });
        let [redis, valkey, memcached] = std::array::from_fn(|i| {
            let name = names[i].1;
            let (path, version) = (paths[i].clone()?, versions[i].as_ref()?);
            match version {
                Ok(version) => {
                    tracing::info!(binary = %path.display(), %version, "found {name}");
                    Some(Binary {
                        path,
                        version: version.clone(),
                    })
                }
                Err(e) => {
                    tracing::warn!(binary = %path.display(), "ignoring {name}: {e:#}");
                    None
                }
            }
        });
        let rt = Self {
            root,
            redis,
            valkey,
            memcached,
        };
        if rt.redis.is_none() && rt.valkey.is_none() && rt.memcached.is_none() {
            bail!(
                "process runtime: none of redis-server, valkey-server, memcached found on PATH \
                 (or via ELASTICACHE_REDIS_SERVER / ELASTICACHE_VALKEY_SERVER / ELASTICACHE_MEMCACHED)"
            );
        }
        Ok(rt)
    }

    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The binary that runs `engine`, plus a substitution note when it is not
    /// the requested engine or version.
    fn binary_for(
        &self,
        engine: EngineKind,
        version: &str,
    ) -> anyhow::Result<(Binary, Option<String>)> {
        let (bin, actual_engine) = match engine {
            EngineKind::Redis => (self.redis.clone(), "redis"),
            EngineKind::Memcached => (self.memcached.clone(), "memcached"),
            EngineKind::Valkey => match &self.valkey {
                Some(b) => (Some(b.clone()), "valkey"),
                None => (self.redis.clone(), "redis"),
            },
        };
        let bin = bin.ok_or_else(|| {
            let env = match actual_engine {
                "valkey" => "ELASTICACHE_VALKEY_SERVER",
                "memcached" => "ELASTICACHE_MEMCACHED",
                _ => "ELASTICACHE_REDIS_SERVER",
            };
            match missing_override(env) {
                Some(why) => anyhow!(
                    "process runtime: no local binary for {}: {why}",
                    engine.as_str()
                ),
                None => anyhow!(
                    "process runtime: no local binary for {} (install it or set {env})",
                    engine.as_str()
                ),
            }
        })?;
        let name = bin.path.file_name().map_or_else(
            || bin.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let note = if actual_engine != engine.as_str() {
            Some(format!(
                "runs local {name} {} (Redis OSS) for requested {} {version}: no valkey-server found",
                bin.version,
                engine.as_str()
            ))
        } else if !version_matches(version, &bin.version) {
            Some(format!(
                "runs local {name} {} for requested {version}",
                bin.version
            ))
        } else {
            None
        };
        Ok((bin, note))
    }

    fn args(spec: &NodeSpec, data_dir: &Path) -> Vec<String> {
        let s = |v: &str| v.to_string();
        match spec.engine {
            EngineKind::Memcached => {
                let mut a = vec![
                    s("-p"),
                    spec.port.to_string(),
                    s("-l"),
                    super::listen_addr(spec.host).to_string(),
                    s("-m"),
                    memcached_mib(spec.memory_bytes).to_string(),
                    s("-U"),
                    s("0"),
                ];
                if running_as_root() {
                    // memcached refuses to run as root without -u.
                    a.extend([s("-u"), s("root")]);
                }
                a.extend(super::memcached_tls_args(spec));
                a.extend(super::memcached_options(&spec.config));
                a
            }
            EngineKind::Redis | EngineKind::Valkey => {
                let dir = data_dir.display().to_string();
                // The configuration file first, as the engine requires.
                let mut a = vec![format!("{dir}/{}", super::NODE_CONF)];
                a.extend(super::redis_listen_args(spec, spec.port, spec.plain_port));
                a.extend([
                    s("--bind"),
                    super::listen_addr(spec.host).to_string(),
                    s("--dir"),
                    dir.clone(),
                    s("--daemonize"),
                    s("no"),
                    s("--logfile"),
                    format!("{dir}/{LOG_FILE}"),
                ]);
                a.extend(super::redis_args(spec));
                a
            }
        }
    }

    /// Signal the recorded process, wait for it to go, escalate to SIGKILL.
    async fn stop_record(rec: &NodeRecord) {
        let pid = rec.pid;
        if !pid_is_engine(pid, &rec.binary) {
            return;
        }
        tracing::info!(key = %rec.key, pid, "stopping node (SIGTERM)");
        signal(pid, Signal::TERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while tokio::time::Instant::now() < deadline {
            if !pid_is_engine(pid, &rec.binary) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(key = %rec.key, pid, "node ignored SIGTERM for {STOP_GRACE:?}; SIGKILL");
        signal(pid, Signal::KILL);
        if let Some(p) = Pid::from_raw(pid) {
            // Also any child it forked (e.g. a BGSAVE child) in its process group.
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while pid_is_engine(pid, &rec.binary) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl EngineRuntime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn start(&self, spec: &NodeSpec) -> anyhow::Result<StartInfo> {
        let (bin, substitution) = self.binary_for(spec.engine, &spec.version)?;
        // A new node's directory: no engine can be running in it, so there is
        // nothing to re-adopt, and no scan of every process for one (which
        // made each create cost as much as the processes on the machine).
        let fresh = !tokio::fs::try_exists(&spec.data_dir).await.unwrap_or(false);
        tokio::fs::create_dir_all(&spec.data_dir)
            .await
            .with_context(|| format!("create data dir {}", spec.data_dir.display()))?;
        // Absolute: the engine gets it as --dir / --logfile.
        let data_dir = tokio::fs::canonicalize(&spec.data_dir).await?;
        // A node started before nodes had the backend's users (no `node.conf`)
        // is restarted rather than re-adopted: the backend could not log in.
        let legacy =
            spec.engine != EngineKind::Memcached && !data_dir.join(super::NODE_CONF).exists();
        super::write_auth_files(spec, &data_dir, &data_dir.display().to_string())?;

        // Re-adoption: a live engine from an earlier run of this node.
        let dd = data_dir.clone();
        let existing = if fresh {
            None
        } else {
            tokio::task::spawn_blocking(move || live_record(&dd)).await?
        };
        if let Some(rec) = existing {
            if !legacy && rec.key == spec.key && rec.port == spec.port && rec.engine == spec.engine
            {
                tracing::info!(key = %spec.key, pid = rec.pid, port = spec.port, "re-adopting running node");
                return Ok(StartInfo { substitution });
            }
            tracing::info!(key = %spec.key, pid = rec.pid, "node spec changed (port/engine); restarting");
            Self::stop_record(&rec).await;
        }
        // Someone else on the port: fail now rather than let the engine exit.
        if tokio::net::TcpStream::connect((spec.host, spec.port))
            .await
            .is_ok()
        {
            bail!(
                "cannot start node {}: port {} on {} is already in use",
                spec.key,
                spec.port,
                spec.host
            );
        }

        let log_path = data_dir.join(LOG_FILE);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let log2 = log.try_clone()?;
        let args = Self::args(spec, &data_dir);
        tracing::info!(key = %spec.key, binary = %bin.path.display(), ?args, "starting node");
        let mut cmd = tokio::process::Command::new(&bin.path);
        cmd.args(&args)
            .current_dir(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            // Own process group: a SIGINT/SIGKILL of the backend's group spares it.
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", bin.path.display()))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| anyhow!("spawned child has no pid"))?;

        let rec = NodeRecord {
            key: spec.key.clone(),
            port: spec.port,
            engine: spec.engine,
            version: spec.version.clone(),
            pid,
            binary: bin.path.clone(),
        };
        let json = serde_json::to_vec_pretty(&rec)?;
        tokio::fs::write(data_dir.join(NODE_FILE), json).await?;
        tokio::fs::write(data_dir.join(PID_FILE), format!("{pid}\n")).await?;

        // Reap the child when it exits (no zombies); if this task is dropped with
        // the runtime, tokio's orphan queue reaps it instead.
        let key = spec.key.clone();
        tokio::spawn(async move {
            match child.wait().await {
                // SIGTERM from `stop` ends redis with 0 and memcached by signal.
                Ok(st) if st.success() || killed_by_stop(&st) => {
                    tracing::info!(%key, pid, "node process exited: {st}");
                }
                Ok(st) => {
                    let tail = tokio::task::spawn_blocking(move || log_tail(&log_path, 10))
                        .await
                        .unwrap_or_default();
                    tracing::warn!(%key, pid, "node process exited: {st}; engine log ends:\n{tail}");
                }
                Err(e) => tracing::warn!(%key, pid, "waiting for node process: {e}"),
            }
        });
        Ok(StartInfo { substitution })
    }

    /// Until a process's engine listens, [`crate::engine::wait_ready`]'s
    /// look is a connect refused in microseconds: each start of a create
    /// waited 2.5 ms more on average at 5 ms.
    fn first_polls(&self) -> Duration {
        Duration::from_millis(1)
    }

    async fn status(&self, spec: &NodeSpec) -> NodeStatus {
        let dd = spec.data_dir.clone();
        let rec = tokio::task::spawn_blocking(move || live_record(&dd))
            .await
            .ok()
            .flatten();
        match rec {
            None => NodeStatus::Stopped,
            Some(_) => {
                if probe(spec).await {
                    NodeStatus::Ready
                } else {
                    NodeStatus::Starting
                }
            }
        }
    }

    async fn stop(&self, spec: &NodeSpec) -> anyhow::Result<()> {
        let dd = spec.data_dir.clone();
        let rec = tokio::task::spawn_blocking(move || read_record(&dd)).await?;
        if let Some(rec) = rec {
            Self::stop_record(&rec).await;
            if pid_is_engine(rec.pid, &rec.binary) {
                bail!("node {} (pid {}) did not stop", spec.key, rec.pid);
            }
        }
        match tokio::fs::remove_file(spec.data_dir.join(PID_FILE)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, spec: &NodeSpec) -> anyhow::Result<()> {
        self.stop(spec).await?;
        let data_dir = match tokio::fs::canonicalize(&spec.data_dir).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if !data_dir.starts_with(&self.root) || data_dir == self.root {
            bail!(
                "refusing to delete {}: not a node directory under {}",
                spec.data_dir.display(),
                self.root.display()
            );
        }
        match tokio::fs::remove_dir_all(&spec.data_dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("remove {}", spec.data_dir.display())))
            }
        }
    }

    async fn list_nodes(&self) -> anyhow::Result<Vec<String>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            scan(&root, 3, &mut keys);
            keys.sort();
            keys.dedup();
            keys
        })
        .await
        .map_err(Into::into)
    }
}

fn killed_by_stop(st: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    st.signal() == Some(libc::SIGTERM) || st.signal() == Some(libc::SIGKILL)
}

/// The last `n` lines of a log file (for error reports).
fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Collect keys of live nodes in `dir` and its subdirectories (up to `depth` levels).
fn scan(dir: &Path, depth: usize, keys: &mut Vec<String>) {
    if let Some(rec) = live_record(dir) {
        keys.push(rec.key);
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            scan(&e.path(), depth - 1, keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0").as_deref(),
            Some("7.0.15")
        );
        assert_eq!(
            parse_version("memcached 1.6.18\n").as_deref(),
            Some("1.6.18")
        );
        assert!(version_matches("7.0", "7.0.15"));
        assert!(version_matches("6.x", "6.2.14"));
        assert!(version_matches("", "6.2.14"));
        assert!(!version_matches("6.2", "7.0.15"));
        assert!(!version_matches("7.1", "7.0.15"));
        assert!(!version_matches("1.6.22", "1.6.18"));
    }
}
