//! Engine runtimes: where cache nodes really run.
//!
//! One trait, [`EngineRuntime`], with two implementations: [`docker::DockerRuntime`]
//! (containers through the Docker Engine API) and [`process::ProcessRuntime`]
//! (redis-server / valkey-server / memcached children). The model never sees which
//! one runs a node; the reconciler hands it a [`NodeSpec`] and gets a [`NodeStatus`].

pub mod docker;
pub mod images;
pub mod process;
pub mod pull;
pub mod resp;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;

/// Which engine binary a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Redis,
    Valkey,
    Memcached,
}

impl EngineKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Valkey => "valkey",
            Self::Memcached => "memcached",
        }
    }
}

/// Everything a runtime needs to start (or re-adopt) one cache node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Globally unique, stable node key, e.g. `000000000000-us-east-1-c1-0001`.
    /// Used for container names, labels, pid files and data directories.
    pub key: String,
    pub engine: EngineKind,
    /// Engine version as the API names it, e.g. `7.1`, `1.6.22`.
    pub version: String,
    /// Loopback address the node answers on: `127.0.0.1`, or another address of
    /// 127.0.0.0/8 so that every node can answer on its cluster's own port (as
    /// AWS nodes do, each under its own DNS name).
    pub host: Ipv4Addr,
    /// Host port the node must answer on.
    pub port: u16,
    /// Memory limit in bytes (container limit and `maxmemory`, or memcached `-m`).
    pub memory_bytes: u64,
    /// Extra engine configuration, applied at start: Redis/Valkey directives as
    /// `(name, value)` (`--name value`), Memcached long options as `(option, value)`
    /// (`--option=value`, or `--option` for an empty value).
    pub config: Vec<(String, String)>,
    /// Directory owned by this node for data (RDB/AOF), logs and pid file.
    pub data_dir: PathBuf,
    /// Redis/Valkey: the node's client-facing ACL users (its `default` user and,
    /// with user groups, the group's users). They go, beside the backend's own
    /// [`ADMIN_USER`], into the node's ACL file (never onto a command line); see
    /// [`write_auth_files`].
    pub users: AclUsers,
    /// Transit encryption: the engine serves TLS only on its port, with the
    /// certificate, key and CA the worker writes under `data_dir` before the
    /// start ([`TLS_CERT`], [`TLS_KEY`], [`TLS_CA`]).
    pub tls: bool,
    /// Transit encryption mode `preferred`: the node also answers plaintext,
    /// on this port of its address ([`plain_port`]); the group's endpoints
    /// route each connection by its first byte to `port` (TLS) or this one.
    pub plain_port: Option<u16>,
}

/// The second port of a node in transit encryption mode `preferred`, where it
/// answers plaintext beside TLS on its own port (each node has an address of
/// its own, so the port is free there).
#[must_use]
pub fn plain_port(port: u16) -> u16 {
    if port <= 45535 {
        port + 20000
    } else {
        port - 40000
    }
}

/// The port a Redis/Valkey container answers plaintext on in mode `preferred`.
pub const CONTAINER_PLAIN_PORT: u16 = 6380;

/// The backend's own ACL user on every Redis/Valkey node: the reconciler
/// connects as it, and replicas authenticate to their primary as it
/// (`masteruser`/`masterauth`). Clients never see it.
pub const ADMIN_USER: &str = "elasticache-local-admin";

/// The user replicas authenticate to their primary as (`masteruser`): it may
/// only replicate (`PSYNC`, `REPLCONF`, `PING`), so that its secret, which a
/// client that may run `CONFIG GET` could read as `masterauth`, gives nothing a
/// client of the node does not have anyway.
pub const REPL_USER: &str = "elasticache-local-replication";

/// The secret of [`REPL_USER`], derived from the admin secret.
#[must_use]
pub fn repl_secret() -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("replication:{}", admin_secret()).as_bytes(),
    );
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A node's start-time configuration file (owner-only, in its data directory):
/// it names the ACL file and holds the replicas' credentials.
pub const NODE_CONF: &str = "node.conf";
/// A node's ACL file, in an owner-only directory of its data directory (the
/// engine rewrites the file on `ACL SAVE` with its own file mode).
pub const USERS_ACL: &str = "auth/users.acl";

static ADMIN_SECRET: OnceLock<String> = OnceLock::new();

/// The secret of [`ADMIN_USER`]: the one [`load_admin_secret`] loaded, or (when
/// nothing was loaded, as in tests) a random one for this process.
#[must_use]
pub fn admin_secret() -> &'static str {
    ADMIN_SECRET.get_or_init(random_secret)
}

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Load the admin secret from `path` (owner-only), or make it there on first
/// start, so that nodes that survive a backend restart still accept it.
pub fn load_admin_secret(path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let secret = match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            let s = random_secret();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("create {}", dir.display()))?;
            }
            crate::tls::write_private(path, &s)?;
            s
        }
    };
    if ADMIN_SECRET.set(secret).is_err() {
        anyhow::bail!("the admin secret was already in use before it was loaded");
    }
    Ok(())
}

/// One ACL user of a node: its name and its rules (`on`, `nopass` or `>password`
/// items, key, channel and command rules), as `ACL SETUSER <name> <rules...>` takes
/// them and as a line `user <name> <rules...>` of an ACL file.
#[derive(Clone, PartialEq, Eq)]
pub struct AclUser {
    pub name: String,
    pub rules: Vec<String>,
}

/// A node's client-facing ACL users. Their rules hold passwords: `Debug` shows
/// the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AclUsers(pub Vec<AclUser>);

impl std::fmt::Debug for AclUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|u| &u.name))
            .finish()
    }
}

/// The admin user as an ACL user.
#[must_use]
pub fn admin_user() -> AclUser {
    AclUser {
        name: ADMIN_USER.to_owned(),
        rules: ["on", &format!(">{}", admin_secret()), "~*", "&*", "+@all"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    }
}

/// The replication user as an ACL user.
#[must_use]
pub fn repl_user() -> AclUser {
    AclUser {
        name: REPL_USER.to_owned(),
        rules: [
            "on",
            &format!(">{}", repl_secret()),
            "-@all",
            "+psync",
            "+sync",
            "+replconf",
            "+ping",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    }
}

/// The text of a node's ACL file: the admin and replication users, then `users`.
#[must_use]
pub fn acl_file(users: &AclUsers) -> String {
    [admin_user(), repl_user()]
        .into_iter()
        .chain(users.0.iter().cloned())
        .map(|u| format!("user {} {}\n", u.name, u.rules.join(" ")))
        .collect()
}

/// Write a Redis/Valkey node's [`NODE_CONF`] and [`USERS_ACL`] (both owner-only)
/// into `data_dir`; the node, which runs there, reads them at start. `dir` is the
/// data directory as the engine sees it (`/data` in a container).
pub fn write_auth_files(
    spec: &NodeSpec,
    data_dir: &std::path::Path,
    dir: &str,
) -> anyhow::Result<()> {
    if spec.engine == EngineKind::Memcached {
        return Ok(());
    }
    let conf = format!(
        "aclfile {dir}/{USERS_ACL}\nmasteruser {REPL_USER}\nmasterauth {}\n",
        repl_secret()
    );
    crate::tls::write_private(&data_dir.join(NODE_CONF), &conf)?;
    let acl = data_dir.join(USERS_ACL);
    if let Some(dir) = acl.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    crate::tls::write_private(&acl, &acl_file(&spec.users))
}

/// A TLS node's certificate, key and CA, relative to its data directory (the
/// engine's working directory on both runtimes).
pub const TLS_CERT: &str = "tls/node.crt";
pub const TLS_KEY: &str = "tls/node.key";
pub const TLS_CA: &str = "tls/ca.crt";

/// What a runtime reports about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    /// The engine answers on its port (`PING` / `version`).
    Ready,
    /// Started (container or process alive) but not answering yet.
    Starting,
    /// Not running (never started, exited, or container gone).
    Stopped,
}

/// Where a node's binary actually came from, reported once at start so that the
/// model can write an event when it differs from the request (e.g. process mode
/// running the local `redis-server` 7.0.15 for a `6.2` request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfo {
    /// Human-readable note when the engine differs from the requested version.
    pub substitution: Option<String>,
}

#[async_trait]
pub trait EngineRuntime: Send + Sync + 'static {
    /// `docker` or `process`.
    fn name(&self) -> &'static str;

    /// Start the node (or re-adopt it if it is already running with this spec's key
    /// and port). Returns once the container/process is launched, not when ready.
    async fn start(&self, spec: &NodeSpec) -> anyhow::Result<StartInfo>;

    /// The image `start` will have to pull first, if any (Docker), so that the
    /// caller can say why this start takes longer.
    async fn missing_image(&self, _spec: &NodeSpec) -> Option<String> {
        None
    }

    /// Current status of the node with this key (checks liveness and the port).
    async fn status(&self, spec: &NodeSpec) -> NodeStatus;

    /// How often [`wait_ready`] looks in a start's first 50 ms. Each look
    /// connects to the engine (refused in microseconds until a process
    /// listens; a container's published port answers through Docker's proxy
    /// first), and asks [`EngineRuntime::status`] once it answers.
    fn first_polls(&self) -> Duration {
        Duration::from_millis(5)
    }

    /// Stop the node and keep its data directory (for reboot / engine replacement).
    async fn stop(&self, spec: &NodeSpec) -> anyhow::Result<()>;

    /// Stop the node and remove every trace of it: container, process, data directory.
    async fn remove(&self, spec: &NodeSpec) -> anyhow::Result<()>;

    /// Where other nodes of this runtime reach this node (a replica's `REPLICAOF`
    /// target): the node's own address for processes; containers override it.
    async fn peer_address(&self, spec: &NodeSpec) -> anyhow::Result<(String, u16)> {
        Ok((spec.host.to_string(), spec.port))
    }

    /// How node `from` reaches `host:port` as the backend's host names it (an
    /// online migration's source): processes share the host's network; containers
    /// override it.
    async fn outside_address(&self, from: &NodeSpec, host: &str, port: u16) -> (String, u16) {
        let _ = from;
        (host.to_owned(), port)
    }

    /// Keys of every node this runtime knows is running (by labels or pid files
    /// under `root`), so the reconciler can remove orphans after a restart.
    async fn list_nodes(&self) -> anyhow::Result<Vec<String>>;
}

/// Poll until the node answers or `timeout` passes.
pub async fn wait_ready(
    rt: &dyn EngineRuntime,
    spec: &NodeSpec,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let mut delay = rt.first_polls();
    loop {
        // The engine's own answer first: until it listens, a refused
        // connection costs microseconds, where the runtime's status reads
        // its records (a file, or a call to the Docker daemon) every time.
        if probe(spec).await && rt.status(spec).await == NodeStatus::Ready {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("node {} did not answer within {timeout:?}", spec.key);
        }
        tokio::time::sleep(delay).await;
        // Engines answer within ~10 ms as processes: look often at first
        // (every millisecond for processes), then back off for slow starts
        // (containers, big restores).
        let waited = started.elapsed();
        if waited > Duration::from_millis(300) {
            delay = (delay * 2).min(Duration::from_millis(100));
        } else if waited > Duration::from_millis(50) {
            delay = Duration::from_millis(5);
        }
    }
}

/// Ask the engine on `host:port` whether it answers: `PING` for Redis and Valkey,
/// `version` for Memcached. A TCP connect alone is not enough: Docker publishes
/// the port before the engine listens.
pub async fn probe(spec: &NodeSpec) -> bool {
    let (host, port) = (spec.host, spec.port);
    let fut = async {
        match spec.engine {
            EngineKind::Memcached => resp::memcached_version(host, port, spec.tls).await.is_ok(),
            EngineKind::Redis | EngineKind::Valkey => {
                let mut c = match resp::Conn::connect_to(host, port, spec.tls).await {
                    Ok(c) => c,
                    Err(_) => return false,
                };
                if c.cmd(&["AUTH", ADMIN_USER, admin_secret()]).await.is_err() {
                    return false;
                }
                matches!(c.cmd(&["PING"]).await, Ok(resp::Reply::Status(s)) if s == "PONG")
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .unwrap_or(false)
}

/// How a Redis/Valkey node listens on `port`: plaintext, or TLS (`tls-port`) and
/// plaintext only on `plain` (mode `preferred`; else `port 0`), with TLS for its
/// replication links and, in a Redis Cluster, its bus.
#[must_use]
pub fn redis_listen_args(spec: &NodeSpec, port: u16, plain: Option<u16>) -> Vec<String> {
    let plain = plain.map_or_else(|| "0".to_owned(), |p| p.to_string());
    let port = port.to_string();
    if !spec.tls {
        return vec!["--port".to_owned(), port];
    }
    let mut a: Vec<String> = [
        "--port",
        &plain,
        "--tls-port",
        &port,
        "--tls-cert-file",
        TLS_CERT,
        "--tls-key-file",
        TLS_KEY,
        "--tls-ca-cert-file",
        TLS_CA,
        "--tls-auth-clients",
        "no",
        "--tls-replication",
        "yes",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if is_cluster_node(spec) {
        a.extend(["--tls-cluster".to_owned(), "yes".to_owned()]);
    }
    a
}

/// Memcached's TLS options (`-Z`, certificate chain, key and CA) for a TLS node.
#[must_use]
pub fn memcached_tls_args(spec: &NodeSpec) -> Vec<String> {
    if !spec.tls {
        return Vec::new();
    }
    vec![
        "-Z".to_owned(),
        "-o".to_owned(),
        format!("ssl_chain_cert={TLS_CERT},ssl_key={TLS_KEY},ssl_ca_cert={TLS_CA}"),
    ]
}

/// What every Redis/Valkey node is started with after its listen address and
/// directory, on either runtime: the memory limit, no automatic persistence
/// (data is saved explicitly before restarts that keep it), immediate diskless
/// replication, then `NodeSpec::config` as `--name value`. (Users and
/// passwords are in the node's files, see [`write_auth_files`].)
#[must_use]
pub fn redis_args(spec: &NodeSpec) -> Vec<String> {
    let mut a: Vec<String> = [
        "--maxmemory",
        &spec.memory_bytes.to_string(),
        "--protected-mode",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--repl-diskless-sync-delay",
        "0",
        "--dbfilename",
        "dump.rdb",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (k, v) in &spec.config {
        a.push(format!("--{}", k.trim_start_matches('-')));
        a.push(v.clone());
    }
    a
}

/// Whether a node is a Redis Cluster node (`cluster-enabled yes`): it must
/// answer and talk to its peers on its own address, which containers then
/// share with the host (host networking) instead of publishing a port.
#[must_use]
pub fn is_cluster_node(spec: &NodeSpec) -> bool {
    spec.config
        .iter()
        .any(|(k, v)| k == "cluster-enabled" && v == "yes")
}

/// Whether a node runs on the host's network under Docker (bound to its own
/// loopback address, no published port): a Redis Cluster node, and a node
/// that says `cluster-enabled no` outright — a node of a group whose cluster
/// mode is served by fronts, which replicates from (and is replicated by)
/// cluster nodes at their loopback addresses.
#[must_use]
pub fn on_host_network(spec: &NodeSpec) -> bool {
    spec.config.iter().any(|(k, _)| k == "cluster-enabled")
}

/// Memcached's long options from `NodeSpec::config`: `(option, value)` becomes
/// `--option=value`, or `--option` when the value is empty.
#[must_use]
pub fn memcached_options(config: &[(String, String)]) -> Vec<String> {
    config
        .iter()
        .map(|(k, v)| {
            let k = k.trim_start_matches('-');
            if v.is_empty() {
                format!("--{k}")
            } else {
                format!("--{k}={v}")
            }
        })
        .collect()
}

/// Whether engines and endpoints listen on every interface: set once at start
/// when `--advertise-host` names an address other than loopback (the backend
/// in a container, its endpoints reached from the host and other containers).
static LISTEN_ALL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Listen on every interface instead of 127.0.0.1 (see [`listen_addr`]).
pub fn set_listen_all(on: bool) {
    LISTEN_ALL.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The address something meant to answer on `host` listens on: `host`
/// itself, or every interface (`0.0.0.0`) for 127.0.0.1 when endpoints are
/// advertised at another host.
#[must_use]
pub fn listen_addr(host: Ipv4Addr) -> Ipv4Addr {
    if host == Ipv4Addr::LOCALHOST && LISTEN_ALL.load(std::sync::atomic::Ordering::Relaxed) {
        Ipv4Addr::UNSPECIFIED
    } else {
        host
    }
}

/// Pick a free TCP port on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Pick a loopback address other than 127.0.0.1 (from 127.0.0.0/8) on which
/// `port` is free and not in `taken`, so that a node can answer on its
/// cluster's port. `None` where such addresses cannot be bound (e.g. macOS,
/// where only 127.0.0.1 is configured): callers then fall back to
/// [`free_port`] on 127.0.0.1.
#[must_use]
pub fn free_loopback(port: u16, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    for _ in 0..32 {
        let r = uuid::Uuid::new_v4();
        let b = r.as_bytes();
        // 127.1.0.1 ..= 127.254.255.254: clear of 127.0.0.x (resolvers and the like).
        let ip = Ipv4Addr::new(127, b[0].clamp(1, 254), b[1], b[2].clamp(1, 254));
        if taken.contains(&ip) {
            continue;
        }
        match std::net::TcpListener::bind((ip, port)) {
            Ok(_) => return Some(ip),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => return None,
            Err(_) => {}
        }
    }
    None
}

/// Shared-network mode of the Docker runtime: the backend runs in a container
/// that is not on the host's network (a GitHub Actions service container, a
/// compose service, `docker run --network NAME`). Its engines then run in its
/// network namespace (`--network container:<backend>`), as they run on the
/// host's network when the backend does: each answers on a port of its own on
/// the backend's address (every interface), the backend reaches them on
/// 127.0.0.1, and endpoints carry the backend's address on its network, where
/// the host and the network's other containers reach it.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The backend's container (its id).
    pub container: String,
    /// The backend's address on its network: the endpoints' address.
    pub address: Ipv4Addr,
    /// The backend container's network namespace (its sandbox key): engines
    /// that joined another one (the backend's container restarted since)
    /// are made again.
    pub sandbox: String,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// Enter shared-network mode (once, at start, before any node starts).
pub fn set_shared(s: Shared) {
    let _ = SHARED.set(s);
}

/// The backend's container whose network engines share, in shared-network mode.
#[must_use]
pub fn shared() -> Option<&'static Shared> {
    SHARED.get()
}
