//! Shared fixtures: a real `elasticache-local` process on a free port, and
//! clients for it (the official AWS SDK, raw Query requests).
//!
//! Runtimes under test come from `ELASTICACHE_TEST_RUNTIMES` (comma-separated,
//! default `process`; `ELASTICACHE_TEST_DOCKER=1` adds `docker`). Docker images
//! come from `ELASTICACHE_IMAGES` (see `tests/images/build.sh`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};

/// The runtimes the suite runs against.
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
/// (the API's rules and answers, the control plane, what a client of the API
/// sees): the first runtime under test, normally `process`. Tests whose subject
/// differs on Docker (containers, their addresses and network, their files,
/// images, restarts) run on every runtime ([`runtimes`]).
/// `ELASTICACHE_TEST_EVERYWHERE=1` runs these on every runtime too.
pub fn one_runtime() -> Vec<String> {
    let all = runtimes();
    if std::env::var("ELASTICACHE_TEST_EVERYWHERE").as_deref() == Ok("1") {
        return all;
    }
    all.into_iter().take(1).collect()
}

/// A running backend. Dropping it kills the backend process (SIGKILL) and
/// removes every engine it started, so no test leaks processes or containers.
pub struct Backend {
    pub child: Option<Child>,
    pub port: u16,
    pub runtime: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: PathBuf,
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Backend {
    /// Start a backend with a fresh data directory.
    pub fn start(runtime: &str) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("ec-itest-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let mut b = Self::start_in(runtime, &dir, free_port());
        b._tmp = Some(tmp);
        b
    }

    /// Start a backend with a fresh data directory and extra environment.
    pub fn start_with(runtime: &str, env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("ec-itest-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().to_path_buf();
        let mut b = Self::start_in_with(runtime, &dir, free_port(), env);
        b._tmp = Some(tmp);
        b
    }

    /// Start a backend on an existing data directory (for restart tests).
    pub fn start_in(runtime: &str, data_dir: &Path, port: u16) -> Self {
        Self::start_in_with(runtime, data_dir, port, &[])
    }

    /// `start_in` with extra environment (e.g. `ELASTICACHE_CLOCK_OFFSET`).
    pub fn start_in_with(runtime: &str, data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        let log = data_dir.with_extension(format!("{}.log", port));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_elasticache-local"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--runtime")
            .arg(runtime)
            .env("ELASTICACHE_LOG", "info,elasticache_local=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start elasticache-local");
        let b = Self {
            child: Some(child),
            port,
            runtime: runtime.to_owned(),
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            log,
        };
        b.wait_serving();
        b
    }

    fn wait_serving(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "backend did not listen; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The official SDK, pointed at this backend, in `region`.
    pub fn client_in(&self, region: &str) -> aws_sdk_elasticache::Client {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(self.endpoint())
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    }

    pub fn client(&self) -> aws_sdk_elasticache::Client {
        self.client_in("us-east-1")
    }

    /// SIGKILL the backend (engines keep running, as after a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop the backend as a user does (SIGTERM) and wait for it to exit
    /// (at most 20 s); its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("backend running");
        let pid = rustix::process::Pid::from_raw(c.id() as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().expect("wait") {
                return st;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("the backend did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // The backend's side of a failed test, for CI logs.
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|l| !l.contains("DEBUG")).collect();
            eprintln!(
                "--- backend log ({}, runtime {}), last lines ---\n{}",
                self.log.display(),
                self.runtime,
                lines[lines.len().saturating_sub(120)..].join("\n")
            );
        }
        if self._tmp.is_some() {
            cleanup_engines(&self.data_dir);
        }
    }
}

/// Remove every engine started under `data_dir`: processes by pid file,
/// containers by label.
pub fn cleanup_engines(data_dir: &Path) {
    let nodes = data_dir.join("nodes");
    if let Ok(rd) = std::fs::read_dir(&nodes) {
        for e in rd.flatten() {
            if let Ok(pid) = std::fs::read_to_string(e.path().join("node.pid")) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
    }
    let names = containers_of(data_dir, None);
    if !names.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v"])
            .args(&names)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The Docker containers of the backend whose data directory is `data_dir`
/// (of its node `key` only, when given), found by their labels: a container's
/// name ends in a hash of its backend's nodes directory.
pub fn containers_of(data_dir: &Path, key: Option<&str>) -> Vec<String> {
    let Ok(root) = std::fs::canonicalize(data_dir.join("nodes")) else {
        return Vec::new();
    };
    let mut cmd = Command::new("docker");
    cmd.args(["ps", "-aq", "--filter"])
        .arg(format!("label=elasticache-local.root={}", root.display()));
    if let Some(key) = key {
        cmd.arg("--filter")
            .arg(format!("label=elasticache-local.node={key}"));
    }
    let Ok(out) = cmd.stderr(Stdio::null()).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Poll `f` until it returns `Some`, or panic after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until a cache cluster reports `status`; returns it with node info.
pub async fn wait_cluster(
    c: &aws_sdk_elasticache::Client,
    id: &str,
    status: &str,
) -> aws_sdk_elasticache::types::CacheCluster {
    eventually(
        &format!("{id} {status}"),
        Duration::from_secs(90),
        || async {
            let r = c
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .show_cache_node_info(true)
                .send()
                .await
                .ok()?;
            let cl = r.cache_clusters()[0].clone();
            (cl.cache_cluster_status() == Some(status)).then_some(cl)
        },
    )
    .await
}

/// Wait until a cluster is gone (`CacheClusterNotFound`).
pub async fn wait_cluster_gone(c: &aws_sdk_elasticache::Client, id: &str) {
    eventually(
        &format!("{id} deleted"),
        Duration::from_secs(90),
        || async {
            match c
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await
            {
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cache_cluster_not_found_fault()) =>
                {
                    Some(())
                }
                _ => None,
            }
        },
    )
    .await;
}

/// A unique, valid identifier.
pub fn name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

impl Backend {
    /// The official SDK with a chosen access key (a 12-digit key is an account).
    pub fn client_as(&self, region: &str, access_key: &str) -> aws_sdk_elasticache::Client {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
            .endpoint_url(self.endpoint())
            .build();
        aws_sdk_elasticache::Client::from_conf(conf)
    }

    /// A raw, unsigned Query request: `body` is the form-encoded body.
    /// Returns the HTTP status and the response body.
    pub async fn raw(&self, body: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

/// An engine endpoint: each node answers on its own loopback address.
pub type Ep = std::net::SocketAddrV4;

/// An endpoint from the API's `Address` and `Port`.
pub fn ep(address: &str, port: i32) -> Ep {
    Ep::new(
        address.parse().expect("IPv4 endpoint address"),
        u16::try_from(port).unwrap(),
    )
}

/// Whether something accepts TCP connections on `addr`.
pub fn port_open(addr: Ep) -> bool {
    std::net::TcpStream::connect_timeout(&addr.into(), Duration::from_millis(500)).is_ok()
}

/// Wait until nothing answers on `addr`.
pub async fn wait_port_closed(addr: Ep) {
    eventually(
        &format!("{addr} closed"),
        Duration::from_secs(30),
        || async { (!port_open(addr)).then_some(()) },
    )
    .await;
}

/// A Redis connection to the node at `addr`.
pub async fn redis_conn(addr: Ep) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// `CONFIG GET name` on the Redis node at `addr`.
pub async fn config_get(addr: Ep, name: &str) -> String {
    let mut c = redis_conn(addr).await;
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(&mut c)
        .await
        .unwrap();
    v.get(1).cloned().unwrap_or_default()
}

/// Send one Memcached text command and read lines until a terminal line.
pub async fn memcached(addr: Ep, req: &str) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = BufReader::new(s);
    s.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if s.read_line(&mut l).await.unwrap() == 0 {
            break;
        }
        let l = l.trim_end().to_string();
        let done = matches!(l.as_str(), "END" | "STORED" | "ERROR")
            || l.starts_with("VERSION")
            || l.starts_with("CLIENT_ERROR")
            || l.starts_with("SERVER_ERROR");
        lines.push(l);
        if done {
            break;
        }
    }
    lines
}

/// The endpoints of a cluster's nodes, in node order.
pub fn node_ports(c: &aws_sdk_elasticache::types::CacheCluster) -> Vec<Ep> {
    c.cache_nodes()
        .iter()
        .map(|n| {
            let e = n.endpoint().unwrap();
            ep(e.address().unwrap(), e.port().unwrap())
        })
        .collect()
}

/// The AWS error code of an SDK error.
pub fn code<E, R>(r: Result<R, aws_sdk_elasticache::error::SdkError<E>>) -> String
where
    E: aws_sdk_elasticache::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .as_service_error()
            .and_then(|s| s.code())
            .unwrap_or_else(|| panic!("not a service error: {e:?}"))
            .to_owned(),
    }
}

/// Delete a cluster (if it exists) and wait until it is gone.
pub async fn delete_cluster(c: &aws_sdk_elasticache::Client, id: &str) {
    let _ = c.delete_cache_cluster().cache_cluster_id(id).send().await;
    wait_cluster_gone(c, id).await;
}

/// A replication group as `DescribeReplicationGroups` gives it; `None` when
/// it is gone (or the call failed).
pub async fn describe_group(
    c: &aws_sdk_elasticache::Client,
    id: &str,
) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
    c.describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .ok()?
        .replication_groups()
        .first()
        .cloned()
}

/// `redis-cli` over TLS (verifying the backend's CA) against `addr`, with an
/// AUTH token when given; stdout and stderr together.
pub fn cli(ca: &Path, addr: Ep, token: Option<&str>, args: &[&str]) -> String {
    cli_with(ca, addr, token, false, args)
}

pub fn cli_with(ca: &Path, addr: Ep, token: Option<&str>, cluster: bool, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new("redis-cli");
    cmd.args(["--tls", "--cacert"]).arg(ca);
    cmd.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()]);
    if cluster {
        cmd.arg("-c");
    }
    if let Some(t) = token {
        // The token through the environment, not the command line.
        cmd.env("REDISCLI_AUTH", t);
    }
    let out = cmd.args(args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

/// Plaintext `redis-cli` (no TLS).
pub fn plain(addr: Ep, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

/// The backend's CA, as a client fetches it.
pub async fn fetch_ca(b: &Backend) -> PathBuf {
    let url = format!("{}/_elasticache/ca.pem", b.endpoint());
    let out = std::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {url}");
    let path = b.data_dir.join("client-ca.pem");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// A Redis server nobody manages: the customer's own, the source of a
/// migration. It listens on every interface, so containers reach it through
/// their network's gateway; with TLS only (`tls`), its certificate from a CA
/// of its own (`ca_path`, `ca_pem`).
pub struct SourceRedis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SourceRedis {
    pub fn plain() -> Self {
        Self::start(false)
    }

    pub fn tls() -> Self {
        Self::start(true)
    }

    fn start(tls: bool) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("redis-server");
        if tls {
            let (ca, cert, key) = own_ca("customer CA", &["127.0.0.1", "localhost"]);
            for (f, pem) in [("ca.pem", &ca), ("server.crt", &cert), ("server.key", &key)] {
                std::fs::write(dir.path().join(f), pem).unwrap();
            }
            cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(dir.path().join("server.crt"))
                .arg("--tls-key-file")
                .arg(dir.path().join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(dir.path().join("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            cmd.args(["--port", &port.to_string()]);
        }
        let child = cmd
            .args(["--bind", "0.0.0.0", "--protected-mode", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let s = Self { child, port, dir };
        for _ in 0..100 {
            if port_open(s.addr()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    pub fn addr(&self) -> Ep {
        Ep::new(std::net::Ipv4Addr::LOCALHOST, self.port)
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_path()).unwrap()
    }

    pub fn endpoint(&self) -> aws_sdk_elasticache::types::CustomerNodeEndpoint {
        aws_sdk_elasticache::types::CustomerNodeEndpoint::builder()
            .address("127.0.0.1")
            .port(i32::from(self.port))
            .build()
    }
}

impl Drop for SourceRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a certificate it signs for `names`: (CA PEM, certificate PEM, key PEM).
pub fn own_ca(cn: &str, names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, cn);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}
