//! Drill 5: a hostile environment. The data directory read-only or full, an
//! engine binary missing, a port taken by another process, a corrupt database
//! and one a newer release wrote, two backends on one data directory, the
//! Docker daemon restarted under a running backend: each gets a clear error
//! or a recovery, never silent loss or a hang.
//!
//! Every case answers what a user sees (the exact message) and what broke;
//! `docs/reliability.md` quotes them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::Client;

use crate::harness::{self, Backend};

/// What a case saw: lines for the report (what a user sees), and what broke.
#[derive(Default, Debug)]
pub struct Case {
    pub name: &'static str,
    pub seen: Vec<String>,
    pub failures: Vec<String>,
}

impl Case {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    fn see(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("hostile/{}: {s}", self.name);
        self.seen.push(s);
    }

    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            let w = what.into();
            eprintln!("hostile/{}: BROKEN: {w}", self.name);
            self.failures.push(w);
        }
    }
}

/// How long a backend that must refuse to start may take to say so: it must
/// not hang.
const REFUSE_WITHIN: Duration = Duration::from_secs(30);
/// How long a resource may take to settle.
const SETTLE: Duration = Duration::from_secs(120);

/// A backend started on `data_dir` that is expected to refuse: its exit code
/// and its output, or `None` when it was still running after
/// [`REFUSE_WITHIN`] (then killed).
fn start_refused(
    data_dir: &Path,
    listen: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String, Duration) {
    let log = data_dir.with_extension(format!("refused-{}.log", harness::free_port()));
    let out = std::fs::File::create(&log).unwrap();
    let t = Instant::now();
    let mut child = Command::new(harness::backend_binary())
        .arg("--listen")
        .arg(listen)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--runtime")
        .arg("process")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st.code().unwrap_or(-1));
        }
        if t.elapsed() > REFUSE_WITHIN {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (code, text, took)
}

/// The last line of a refused start's output (the error a user reads).
fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn sha(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn create_redis(c: &Client, id: &str) -> Result<(), (u16, String, String)> {
    c.create_cache_cluster()
        .cache_cluster_id(id)
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            (
                status,
                e.code().unwrap_or("?").to_owned(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
}

/// A cluster's status (`None`: not found; `Err`: no answer).
async fn status(c: &Client, id: &str) -> Result<Option<String>, String> {
    match c
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .send()
        .await
    {
        Ok(r) => Ok(r.cache_clusters()[0]
            .cache_cluster_status()
            .map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cache_cluster_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("{e:?}")),
    }
}

/// Wait until `id` reads `available` or `create-failed`; its last status.
async fn settle(c: &Client, id: &str) -> Option<String> {
    let deadline = Instant::now() + SETTLE;
    let mut last = None;
    loop {
        match status(c, id).await {
            Ok(Some(s)) if s == "available" || s == "create-failed" => return Some(s),
            Ok(s) => last = s,
            Err(_) => {}
        }
        if Instant::now() > deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The address of a cluster's first node.
async fn endpoint(c: &Client, id: &str) -> Option<(String, u16)> {
    let r = c
        .describe_cache_clusters()
        .cache_cluster_id(id)
        .show_cache_node_info(true)
        .send()
        .await
        .ok()?;
    let e = r.cache_clusters()[0].cache_nodes().first()?.endpoint()?;
    Some((e.address()?.to_owned(), u16::try_from(e.port()?).ok()?))
}

async fn redis_conn(addr: &(String, u16)) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{}:{}/", addr.0, addr.1)).ok()?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}

async fn set(addr: &(String, u16), k: &str, v: &str) -> bool {
    let Some(mut c) = redis_conn(addr).await else {
        return false;
    };
    redis::cmd("SET")
        .arg(k)
        .arg(v)
        .query_async::<()>(&mut c)
        .await
        .is_ok()
}

async fn get(addr: &(String, u16), k: &str) -> Option<String> {
    let mut c = redis_conn(addr).await?;
    redis::cmd("GET")
        .arg(k)
        .query_async::<Option<String>>(&mut c)
        .await
        .ok()?
}

/// Events of a cluster, oldest first.
async fn events(c: &Client, id: &str) -> Vec<String> {
    c.describe_events()
        .source_identifier(id)
        .source_type(aws_sdk_elasticache::types::SourceType::CacheCluster)
        .duration(60)
        .send()
        .await
        .map(|r| {
            let mut v: Vec<String> = r
                .events()
                .iter()
                .map(|e| e.message().unwrap_or_default().to_owned())
                .collect();
            v.reverse();
            v
        })
        .unwrap_or_default()
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A tmpfs of `size` mounted on `dir` (root only); unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }

    fn remount(&self, opt: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        self.remount("rw");
        harness::kill_engines(&self.0);
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Delete `id` and wait until it is gone.
async fn delete(c: &Client, id: &str) -> bool {
    if c.delete_cache_cluster()
        .cache_cluster_id(id)
        .send()
        .await
        .is_err()
    {
        return false;
    }
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if let Ok(None) = status(c, id).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// The data directory read-only. The kernel refuses to remount a file system
/// read-only while files on it are open for writing (the database, the
/// engines' logs), so a read-only data directory meets a backend at its
/// start: after a run (engines stopped), the tmpfs is remounted read-only.
/// The backend refuses to start, naming the cause, and changes nothing; once
/// the directory is writable again it starts with every record.
pub async fn data_dir_read_only() -> Case {
    let mut case = Case::new("data directory read-only");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    if !is_root() {
        case.see("skipped: needs root to mount a tmpfs");
        return case;
    }
    let Some(fs) = Tmpfs::mount(&data, "48m") else {
        case.see("skipped: cannot mount a tmpfs here");
        return case;
    };
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let c = b.client();
    case.check(create_redis(&c, "kept").await.is_ok(), "create before");
    let s = settle(&c, "kept").await;
    case.check(s.as_deref() == Some("available"), format!("kept: {s:?}"));
    b.kill();
    harness::kill_engines(&data);
    let mut remounted = false;
    for _ in 0..50 {
        if fs.remount("ro") {
            remounted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !remounted {
        case.check(false, "could not remount the tmpfs read-only");
        return case;
    }
    let before = sha(&data.join("state.redb"));
    let (code, out, took) =
        start_refused(&data, &format!("127.0.0.1:{}", harness::free_port()), &[]);
    case.see(format!(
        "exits with {code:?} in {took:.1?}: \"{}\"",
        last_line(&out)
    ));
    case.check(code.is_some_and(|c| c != 0), format!("exit {code:?}"));
    case.check(
        out.contains("Read-only file system"),
        format!("the message does not name the cause: {out}"),
    );
    case.check(
        sha(&data.join("state.redb")) == before,
        "the database changed",
    );
    assert!(fs.remount("rw"), "remount rw");
    b.start();
    let c = b.client();
    let s = settle(&c, "kept").await;
    case.check(
        s.as_deref() == Some("available"),
        format!("once writable: kept reads {s:?}"),
    );
    case.see(format!("once writable again, a start finds kept {s:?}"));
    case.check(delete(&c, "kept").await, "delete kept");
    drop(b);
    drop(fs);
    case
}

/// The data directory full under a running backend (a small tmpfs, filled): a
/// create answers a clear error and records nothing; what was acknowledged
/// before stays; once there is space again the backend works without a
/// restart, and a restart finds exactly what was acknowledged.
pub async fn data_dir_full() -> Case {
    let mut case = Case::new("data directory full");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    if !is_root() {
        case.see("skipped: needs root to mount a tmpfs");
        return case;
    }
    let Some(fs) = Tmpfs::mount(&data, "48m") else {
        case.see("skipped: cannot mount a tmpfs here");
        return case;
    };
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let c = b.client();
    case.check(create_redis(&c, "kept").await.is_ok(), "create before");
    let s = settle(&c, "kept").await;
    case.check(s.as_deref() == Some("available"), format!("kept: {s:?}"));
    let addr = endpoint(&c, "kept").await.unwrap();
    case.check(set(&addr, "k", "before").await, "SET before");

    // Take the disk away.
    let filler = data.join("filler");
    {
        // Fill it: a file until ENOSPC.
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5a_u8; 1 << 20];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        let st = Command::new("df").arg(&data).output().unwrap();
        case.see(format!(
            "filled: {}",
            String::from_utf8_lossy(&st.stdout)
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    let t = Instant::now();
    let refused = create_redis(&c, "refused").await;
    let took = t.elapsed();
    match &refused {
        Ok(()) => {
            case.check(
                false,
                "a create was acknowledged while the disk was unwritable",
            );
            let s = settle(&c, "refused").await;
            case.see(format!(
                "refused settled {s:?}; events {:?}",
                events(&c, "refused").await
            ));
        }
        Err((st, code, msg)) => {
            case.see(format!(
                "CreateCacheCluster answers HTTP {st} {code}: \"{msg}\" (in {took:.1?})"
            ));
            case.check(*st >= 500, format!("status {st} is not a server fault"));
            let cause = "No space left on device";
            case.check(
                msg.contains(cause),
                format!("message does not name the cause: {msg}"),
            );
        }
    }
    case.check(
        matches!(status(&c, "refused").await, Ok(None)),
        "the refused create is described",
    );
    case.check(
        status(&c, "kept").await == Ok(Some("available".into())),
        "kept is not available while the disk is unwritable",
    );
    case.check(
        get(&addr, "k").await.as_deref() == Some("before"),
        "kept's key is not readable while the disk is unwritable",
    );
    // Changes that are not creates (no room check) until the database itself
    // must grow: each answer is a success or a clear error, and every
    // acknowledged one survives a restart.
    let mut acked_pgs = Vec::new();
    let mut refused_pg = None;
    for n in 0..100 {
        let name = format!("pg-full-{n}");
        let r = c
            .create_cache_parameter_group()
            .cache_parameter_group_name(&name)
            .cache_parameter_group_family("redis7")
            .description("d".repeat(255))
            .send()
            .await;
        match r {
            Ok(_) => acked_pgs.push(name),
            Err(e) => {
                let st = e.raw_response().map_or(0, |r| r.status().as_u16());
                refused_pg = Some((
                    name,
                    st,
                    e.code().unwrap_or("?").to_owned(),
                    e.message().unwrap_or_default().to_owned(),
                ));
                break;
            }
        }
    }
    match &refused_pg {
        Some((name, st, code, msg)) => {
            case.see(format!(
                "after {} parameter groups the database had to grow: HTTP {st} {code}: \"{msg}\"",
                acked_pgs.len()
            ));
            case.check(
                *st >= 500 && msg.contains("No space left on device"),
                format!("{name}: {st} {code} {msg}"),
            );
        }
        None => case.see(format!(
            "{} parameter groups were acknowledged: the database never had to grow",
            acked_pgs.len()
        )),
    }

    // Give the disk back: no restart.
    std::fs::remove_file(&filler).unwrap();
    if let Some((name, ..)) = &refused_pg {
        // The database works again (it is reopened after the I/O error).
        let r = c
            .create_cache_parameter_group()
            .cache_parameter_group_name(name)
            .cache_parameter_group_family("redis7")
            .description("again")
            .send()
            .await;
        case.check(
            r.is_ok(),
            format!("{name} once there is space again: {r:?}"),
        );
        if r.is_ok() {
            acked_pgs.push(name.clone());
        }
    }
    let after = create_redis(&c, "after").await;
    case.check(
        after.is_ok(),
        format!("a create once the disk is writable again (no restart): {after:?}"),
    );
    if after.is_ok() {
        let s = settle(&c, "after").await;
        case.check(s.as_deref() == Some("available"), format!("after: {s:?}"));
        case.see(format!(
            "once writable again, without a restart: a create reads {s:?}"
        ));
    }
    // A restart finds exactly what was acknowledged.
    b.kill();
    b.start();
    let c = b.client();
    let kept = status(&c, "kept").await;
    let refused_after = status(&c, "refused").await;
    let after_after = status(&c, "after").await;
    case.check(
        kept == Ok(Some("available".into())),
        format!("after a restart kept reads {kept:?}"),
    );
    case.check(
        refused_after == Ok(None),
        format!("after a restart refused reads {refused_after:?}"),
    );
    if after.is_ok() {
        case.check(
            after_after == Ok(Some("available".into())),
            format!("after a restart after reads {after_after:?}"),
        );
    }
    case.check(
        get(&addr, "k").await.as_deref() == Some("before"),
        "kept's key after a restart",
    );
    let mut lost = Vec::new();
    for name in &acked_pgs {
        if c.describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
            .is_err()
        {
            lost.push(name.clone());
        }
    }
    case.check(
        lost.is_empty(),
        format!("acknowledged parameter groups lost: {lost:?}"),
    );
    case.see(format!(
        "after a restart: {} acknowledged parameter groups, {} lost",
        acked_pgs.len(),
        lost.len()
    ));
    for id in ["kept", "after"] {
        if status(&c, id).await.is_ok_and(|s| s.is_some()) {
            case.check(delete(&c, id).await, format!("delete {id}"));
        }
    }
    drop(b);
    drop(fs);
    case
}

/// Two backends on one data directory: the second refuses at once, the
/// first keeps working and keeps its engines.
pub async fn two_backends() -> Case {
    let mut case = Case::new("two backends on one data directory");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let c = b.client();
    case.check(create_redis(&c, "first").await.is_ok(), "create");
    let s = settle(&c, "first").await;
    case.check(s.as_deref() == Some("available"), format!("first: {s:?}"));
    let addr = endpoint(&c, "first").await.unwrap();
    case.check(set(&addr, "k", "v").await, "SET");
    let engines = harness::engines_under(&data);

    let port = harness::free_port();
    let (code, out, took) = start_refused(&data, &format!("127.0.0.1:{port}"), &[]);
    case.see(format!(
        "the second exits with {code:?} in {took:.1?}: \"{}\"",
        last_line(&out)
    ));
    case.check(
        code.is_some_and(|c| c != 0),
        format!("second backend: exit {code:?}"),
    );
    case.check(
        out.contains("in use by another elasticache-local"),
        format!("second backend's message: {out}"),
    );
    case.check(!harness::port_open("127.0.0.1", port), "the second listens");
    // The first keeps working, with its engines and data.
    case.check(
        harness::engines_under(&data) == engines,
        "the first's engines changed",
    );
    case.check(get(&addr, "k").await.as_deref() == Some("v"), "first's key");
    case.check(
        create_redis(&c, "second").await.is_ok(),
        "create on the first after",
    );
    let s = settle(&c, "second").await;
    case.check(s.as_deref() == Some("available"), format!("second: {s:?}"));
    for id in ["first", "second"] {
        case.check(delete(&c, id).await, format!("delete {id}"));
    }
    // And once the first is gone, a backend starts there (the lock is released
    // even by a SIGKILL).
    b.kill();
    b.start();
    case.check(
        matches!(status(&b.client(), "first").await, Ok(None)),
        "restart after the first",
    );
    case
}

/// The backend's listen port taken by another process: a clear error and a
/// non-zero exit, nothing started.
pub async fn listen_port_taken() -> Case {
    let mut case = Case::new("listen port taken");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = squatter.local_addr().unwrap();
    let (code, out, took) = start_refused(&data, &addr.to_string(), &[]);
    case.see(format!(
        "exits with {code:?} in {took:.1?}: \"{}\"",
        last_line(&out)
    ));
    case.check(code.is_some_and(|c| c != 0), format!("exit {code:?}"));
    case.check(
        out.contains(&addr.to_string()) && out.contains("in use"),
        format!("message does not name the address: {out}"),
    );
    drop(squatter);
    case
}

/// An engine's port on its address taken by another process while its engine
/// is down: the node is not recovered, an event says why, and it recovers once
/// the port is free again.
pub async fn engine_port_taken() -> Case {
    let mut case = Case::new("engine port taken");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let c = b.client();
    case.check(create_redis(&c, "squat").await.is_ok(), "create");
    let s = settle(&c, "squat").await;
    case.check(s.as_deref() == Some("available"), format!("squat: {s:?}"));
    let addr = endpoint(&c, "squat").await.unwrap();
    // Kill the engine and take its port before the backend restarts it.
    let mut squatter = None;
    for _ in 0..20 {
        let Some(e) = harness::engines_under(&data).into_iter().next() else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = Command::new("kill")
            .args(["-9", &e.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(l) = std::net::TcpListener::bind((addr.0.as_str(), addr.1)) {
                squatter = Some(l);
                break;
            }
        }
        if squatter.is_some() {
            break;
        }
    }
    let Some(squatter) = squatter else {
        case.check(false, "could not take the engine's port");
        return case;
    };
    // An event names the cause.
    let deadline = Instant::now() + SETTLE;
    let mut said = None;
    while Instant::now() < deadline && said.is_none() {
        said = events(&c, "squat")
            .await
            .into_iter()
            .find(|e| e.contains("in use"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    case.see(format!("event: {said:?}"));
    case.check(said.is_some(), "no event says the port is taken");
    let st = status(&c, "squat").await;
    case.see(format!("the cluster reads {st:?} while the port is taken"));
    // Free the port: it recovers.
    drop(squatter);
    let deadline = Instant::now() + SETTLE;
    let mut back = false;
    while Instant::now() < deadline && !back {
        back = redis_conn(&addr).await.is_some()
            && events(&c, "squat")
                .await
                .iter()
                .any(|e| e.starts_with("Recovered cache node"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    case.check(back, "not recovered once the port was free");
    case.see(format!("once the port is free: recovered {back}"));
    case.check(delete(&c, "squat").await, "delete");
    case
}

/// An engine binary missing: the backend says so at start, a create of that
/// engine ends `create-failed` with an event naming the binary; no hang.
pub async fn engine_binary_missing() -> Case {
    let mut case = Case::new("engine binary missing");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let missing = tmp.path().join("nowhere/redis-server");
    let missing_s = missing.display().to_string();
    let mut b = Backend::new(
        "process",
        &data,
        &[("ELASTICACHE_REDIS_SERVER", missing_s.as_str())],
    );
    b.start();
    // The backend listens before it is ready (its address is taken first):
    // the log is complete once it has answered.
    let _ = b.client().describe_cache_clusters().send().await;
    let log = std::fs::read_to_string(b.logs.last().unwrap()).unwrap_or_default();
    let warned = log
        .lines()
        .find(|l| l.contains(&missing_s))
        .map(str::to_owned);
    case.see(format!("at start the log says: {warned:?}"));
    case.check(
        warned.is_some(),
        "the start-up log does not name the missing binary",
    );
    let c = b.client();
    let t = Instant::now();
    let r = create_redis(&c, "nobin").await;
    match r {
        Err((st, code, msg)) => {
            case.see(format!(
                "CreateCacheCluster answers HTTP {st} {code}: \"{msg}\""
            ));
            case.check(
                msg.contains("ELASTICACHE_REDIS_SERVER"),
                "message names the variable",
            );
        }
        Ok(()) => {
            let s = settle(&c, "nobin").await;
            let ev = events(&c, "nobin").await;
            case.see(format!(
                "the create is acknowledged, reads {s:?} after {:.1?}; events: {ev:?}",
                t.elapsed()
            ));
            case.check(
                s.as_deref() == Some("create-failed"),
                format!("nobin: {s:?}"),
            );
            case.check(
                ev.iter().any(|e| e.contains(&missing_s)),
                "no event names the missing binary",
            );
            case.check(delete(&c, "nobin").await, "delete");
        }
    }
    // Memcached still works.
    let mc = c
        .create_cache_cluster()
        .cache_cluster_id("mc")
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(1)
        .send()
        .await;
    case.check(mc.is_ok(), "memcached create");
    let s = settle(&c, "mc").await;
    case.check(s.as_deref() == Some("available"), format!("mc: {s:?}"));
    case.check(delete(&c, "mc").await, "delete mc");
    drop(b);

    // No engine at all: the start refuses, naming them.
    let (code, out, took) = start_refused(
        &tmp.path().join("data2"),
        &format!("127.0.0.1:{}", harness::free_port()),
        &[
            ("PATH", "/nonexistent"),
            ("ELASTICACHE_REDIS_SERVER", ""),
            ("ELASTICACHE_VALKEY_SERVER", ""),
            ("ELASTICACHE_MEMCACHED", ""),
        ],
    );
    case.see(format!(
        "with no engine at all: exits with {code:?} in {took:.1?}: \"{}\"",
        last_line(&out)
    ));
    case.check(code.is_some_and(|c| c != 0), format!("exit {code:?}"));
    case.check(out.contains("redis-server"), "message names redis-server");
    case
}

/// A corrupt database and one a newer release wrote: the backend refuses to
/// start with a clear message and a non-zero exit, and leaves the file as it
/// was.
pub async fn bad_database() -> Case {
    let mut case = Case::new("corrupt or newer database");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    // A real database with a record in it.
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let c = b.client();
    case.check(
        c.create_cache_parameter_group()
            .cache_parameter_group_name("pg")
            .cache_parameter_group_family("redis7")
            .description("hostile")
            .send()
            .await
            .is_ok(),
        "create a parameter group",
    );
    drop(b);
    let db = data.join("state.redb");
    let good = std::fs::read(&db).unwrap();
    let listen = || format!("127.0.0.1:{}", harness::free_port());

    let mut try_file = |label: &str, bytes: &[u8]| {
        std::fs::write(&db, bytes).unwrap();
        let before = sha(&db);
        let (code, out, took) = start_refused(&data, &listen(), &[]);
        case.see(format!(
            "{label}: exits with {code:?} in {took:.1?}: \"{}\"",
            last_line(&out)
        ));
        case.check(
            code.is_some_and(|c| c != 0),
            format!("{label}: exit {code:?}"),
        );
        case.check(
            out.contains("state.redb"),
            format!("{label}: the message does not name the file: {out}"),
        );
        case.check(sha(&db) == before, format!("{label}: the file was changed"));
        out
    };
    // Garbage.
    let garbage: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    try_file("a file that is not a database", &garbage);
    // A real database with its pages overwritten past the header.
    let mut torn = good.clone();
    for b in torn.iter_mut().skip(4096) {
        *b = 0xEE;
    }
    try_file("a database whose pages are overwritten", &torn);
    // A database a newer release of the backend wrote (its schema marker).
    std::fs::write(&db, &good).unwrap();
    {
        let d = redb::Database::create(&db).unwrap();
        let tx = d.begin_write().unwrap();
        {
            let mut meta = tx
                .open_table(redb::TableDefinition::<&str, u32>::new("meta"))
                .unwrap();
            meta.insert("schema_version", 99).unwrap();
        }
        tx.commit().unwrap();
    }
    let newer = std::fs::read(&db).unwrap();
    try_file("a database a newer release wrote", &newer);
    // A database a newer redb wrote (its file format).
    let mut newer_format = good.clone();
    // redb's file format version, in both commit slots of its header.
    newer_format[64] = 4;
    newer_format[192] = 4;
    try_file("a database file of a newer format", &newer_format);

    // The good one still opens, with its record.
    std::fs::write(&db, &good).unwrap();
    let mut b = Backend::new("process", &data, &[]);
    b.start();
    let pg = b
        .client()
        .describe_cache_parameter_groups()
        .cache_parameter_group_name("pg")
        .send()
        .await;
    case.check(pg.is_ok(), "the good database opens with its record");
    case
}

/// Every case of the short form, in turn (they share nothing but the
/// machine); `DRILL_HOSTILE=<word>` runs only the cases whose name has it.
pub async fn run_all() -> Vec<Case> {
    let only = std::env::var("DRILL_HOSTILE").unwrap_or_default();
    let want = |name: &str| name.contains(only.as_str());
    let mut out = Vec::new();
    if want("two backends on one data directory") {
        out.push(two_backends().await);
    }
    if want("listen port taken") {
        out.push(listen_port_taken().await);
    }
    if want("corrupt or newer database") {
        out.push(bad_database().await);
    }
    if want("engine binary missing") {
        out.push(engine_binary_missing().await);
    }
    if want("engine port taken") {
        out.push(engine_port_taken().await);
    }
    if want("data directory read-only") {
        out.push(data_dir_read_only().await);
    }
    if want("data directory full") {
        out.push(data_dir_full().await);
    }
    out
}

/// The Docker daemon restarted under a running backend (Docker runtime): the
/// backend keeps answering, its nodes come back (or read a clear failure),
/// nothing acknowledged is lost.
pub async fn docker_restarted() -> Case {
    let mut case = Case::new("Docker daemon restarted");
    let tmp = tempfile::Builder::new()
        .prefix("ec-hostile-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new("docker", &data, &[]);
    b.start();
    let c = b.client();
    case.check(create_redis(&c, "dk").await.is_ok(), "create");
    let s = settle(&c, "dk").await;
    case.check(s.as_deref() == Some("available"), format!("dk: {s:?}"));
    let addr = endpoint(&c, "dk").await.unwrap();
    case.check(set(&addr, "k", "v").await, "SET");
    case.check(get(&addr, "k").await.as_deref() == Some("v"), "GET before");
    let t = Instant::now();
    let restarted = restart_dockerd();
    case.see(format!(
        "dockerd restarted: {restarted:?} in {:.1?}",
        t.elapsed()
    ));
    case.check(
        restarted.is_ok(),
        format!("restarting dockerd: {restarted:?}"),
    );
    // During and after: the API answers.
    let mut answered = 0;
    let deadline = Instant::now() + SETTLE;
    let mut back = false;
    while Instant::now() < deadline {
        if status(&c, "dk").await.is_ok() {
            answered += 1;
        }
        // Back: the node answers at its address and the cluster reads
        // available. (Its data is another matter: below.)
        if redis_conn(&addr).await.is_some()
            && status(&c, "dk").await == Ok(Some("available".into()))
        {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    case.see(format!(
        "node back and available: {back} after {:.1?} ({answered} describes answered meanwhile); events: {:?}",
        t.elapsed(),
        events(&c, "dk").await
    ));
    case.check(back, "the node did not come back");
    // A node without replicas or persistence keeps its data only if its
    // container survives the daemon's restart (live-restore): reported, not
    // asserted (AWS loses it too when it replaces such a node).
    let v = get(&addr, "k").await;
    case.see(format!("the key written before reads {v:?}"));
    case.check(create_redis(&c, "dk2").await.is_ok(), "create after");
    let s = settle(&c, "dk2").await;
    case.check(s.as_deref() == Some("available"), format!("dk2: {s:?}"));
    for id in ["dk", "dk2"] {
        case.check(delete(&c, id).await, format!("delete {id}"));
    }
    case
}

/// Restart the Docker daemon: `DRILL_DOCKER_RESTART` (a shell command) when
/// set; else `SIGTERM` to the daemon of `/var/run/docker.pid`, and the same
/// command line started again, detached (its log in `/tmp`).
fn restart_dockerd() -> Result<(), String> {
    if let Ok(cmd) = std::env::var("DRILL_DOCKER_RESTART") {
        let ok = Command::new("sh")
            .args(["-c", &cmd])
            .status()
            .is_ok_and(|s| s.success());
        return if ok { Ok(()) } else { Err(cmd) };
    }
    let pid = std::fs::read_to_string("/var/run/docker.pid")
        .map_err(|e| format!("/var/run/docker.pid: {e}"))?
        .trim()
        .to_owned();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|e| e.to_string())?;
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if argv.first().is_none_or(|a| !a.ends_with("dockerd")) {
        return Err(format!("pid {pid} is not dockerd: {argv:?}"));
    }
    // Its executable by path: argv[0] may be a bare name, and its
    // environment may have no PATH.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).map_err(|e| e.to_string())?;
    // The same command line and environment (read while it runs: its
    // /proc entry goes with it), started again in a session of its own (it
    // outlives this test). Without them dockerd finds no containerd.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let vars: Vec<(String, String)> = environ
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv).into_owned();
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(90);
    while Path::new(&format!("/proc/{pid}")).exists() {
        if Instant::now() > deadline {
            return Err(format!("dockerd (pid {pid}) did not stop"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = "/tmp/ec-hostile-dockerd.log";
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| e.to_string())?;
    {
        use std::os::unix::process::CommandExt;
        Command::new(&exe)
            .args(&argv[1..])
            .env_clear()
            .envs(vars)
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start {}: {e}", exe.display()))?;
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let up = Command::new("docker")
            .arg("info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if up {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("dockerd did not come back (see {log})"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
