//! The backend's command line and environment, and how it starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, ValueEnum};

use crate::engine::docker::DockerRuntime;
use crate::engine::images::ImageTable;
use crate::engine::process::ProcessRuntime;
use crate::engine::EngineRuntime;
use crate::model::{ControlPlane, Settings};
use crate::server::{app, AppState};
use crate::store::RedbStore;
use crate::worker::Reconciler;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// Docker when its socket answers, else local processes.
    Auto,
    Docker,
    Process,
}

/// Where the Docker runtime's engines are on the network (`--docker-network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DockerNetwork {
    Auto,
    Host,
    Backend,
}

/// A local Amazon ElastiCache: the Query API on real Redis, Valkey and Memcached.
#[derive(Debug, Clone, Parser)]
#[command(name = "elasticache-local", version)]
pub struct Args {
    /// Address to serve the API on.
    #[arg(long, env = "ELASTICACHE_LISTEN", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Directory for the control-plane database and the nodes' data.
    #[arg(
        long,
        env = "ELASTICACHE_DATA_DIR",
        default_value = "./elasticache-data"
    )]
    pub data_dir: PathBuf,
    /// Where engines run.
    #[arg(long, env = "ELASTICACHE_RUNTIME", value_enum, default_value = "auto")]
    pub runtime: RuntimeKind,
    /// Region of requests that carry no SigV4 credential scope.
    #[arg(long, env = "ELASTICACHE_DEFAULT_REGION", default_value = "us-east-1")]
    pub default_region: String,
    /// Address written into endpoints (where clients reach the engines).
    #[arg(long, env = "ELASTICACHE_ADVERTISE_HOST", default_value = "127.0.0.1")]
    pub advertise_host: String,
    /// Docker runtime: where engine containers' network is. `backend`: in the
    /// backend's container's network namespace, each on a port of its own, the
    /// endpoints at the backend's address (a backend in a container that is
    /// not on the host's network, e.g. a GitHub Actions service); `host`: as
    /// for a backend on the host (published ports, cluster nodes on the host's
    /// network); `auto`: `backend` when the backend runs in a container that is
    /// not on the host's network.
    #[arg(
        long,
        env = "ELASTICACHE_DOCKER_NETWORK",
        value_enum,
        default_value = "auto"
    )]
    pub docker_network: DockerNetwork,
    /// Move the control plane's clock (e.g. `1d`, `90m`, `-3600`): automatic
    /// snapshots, maintenance windows and timestamps follow it. For tests.
    #[arg(long, env = "ELASTICACHE_CLOCK_OFFSET", value_parser = crate::model::parse_clock_offset)]
    pub clock_offset: Option<chrono::Duration>,
    /// `strict`: every request must carry a valid SigV4 signature made with a
    /// known access key (see `--credentials-file`, `ELASTICACHE_CREDENTIALS`);
    /// `permissive`: signatures are not checked.
    #[arg(
        long,
        env = "ELASTICACHE_AUTH",
        value_enum,
        default_value = "permissive"
    )]
    pub auth: crate::auth::AuthMode,
    /// Access keys for `--auth strict`: one per line, `ACCESS_KEY_ID
    /// SECRET_ACCESS_KEY [ACCOUNT_ID]`.
    #[arg(long, env = "ELASTICACHE_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Access keys for `--auth strict` from the environment:
    /// `KEY:SECRET[:ACCOUNT]`, comma-separated.
    #[arg(long, env = "ELASTICACHE_CREDENTIALS", hide_env_values = true)]
    pub credentials: Option<String>,
}

/// The access keys `--auth strict` accepts.
///
/// # Errors
/// A credentials file that cannot be read, an entry that is not
/// `KEY:SECRET[:ACCOUNT]`, or strict mode with no key at all.
pub fn credentials(args: &Args) -> anyhow::Result<crate::auth::Credentials> {
    let mut c = match &args.credentials_file {
        Some(p) => crate::auth::Credentials::from_file(p)?,
        None => crate::auth::Credentials::default(),
    };
    for entry in args
        .credentials
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|e| !e.trim().is_empty())
    {
        match entry.trim().split(':').collect::<Vec<_>>().as_slice() {
            [k, s] => c.add(k, s, "000000000000"),
            [k, s, a] => c.add(k, s, a),
            _ => anyhow::bail!(
                "ELASTICACHE_CREDENTIALS: expected KEY:SECRET[:ACCOUNT] entries, comma-separated"
            ),
        }
    }
    if args.auth == crate::auth::AuthMode::Strict && c.is_empty() {
        anyhow::bail!(
            "--auth strict needs access keys: give --credentials-file or ELASTICACHE_CREDENTIALS"
        );
    }
    Ok(c)
}

/// Pick the runtime the arguments ask for.
pub async fn runtime(args: &Args) -> anyhow::Result<Arc<dyn EngineRuntime>> {
    let nodes = args.data_dir.join("nodes");
    std::fs::create_dir_all(&nodes)?;
    let images = ImageTable::from_env()?;
    let net = match args.docker_network {
        DockerNetwork::Auto => "auto",
        DockerNetwork::Host => "host",
        DockerNetwork::Backend => "backend",
    };
    Ok(match args.runtime {
        RuntimeKind::Docker => docker(DockerRuntime::connect(images).await?, net, &nodes).await?,
        RuntimeKind::Process => {
            if args.docker_network == DockerNetwork::Backend {
                anyhow::bail!("--docker-network backend needs the Docker runtime");
            }
            Arc::new(ProcessRuntime::new(nodes)?)
        }
        RuntimeKind::Auto => match DockerRuntime::connect(images).await {
            Ok(d) => docker(d, net, &nodes).await?,
            Err(e) => {
                tracing::info!(reason = %e, "Docker is not reachable; engines run as local processes");
                Arc::new(ProcessRuntime::new(nodes)?)
            }
        },
    })
}

/// The Docker runtime, in shared-network mode when `network` says so or the
/// backend's container is not on the host's network
/// (`DockerRuntime::detect_shared`).
async fn docker(
    d: DockerRuntime,
    network: &str,
    nodes: &std::path::Path,
) -> anyhow::Result<Arc<dyn EngineRuntime>> {
    if let Some(sh) = d.detect_shared(network).await? {
        crate::engine::set_shared(sh);
    }
    Ok(Arc::new(d.with_root(nodes)))
}

/// The lock file of a data directory (`<data-dir>/elasticache-local.lock`).
pub const LOCK_FILE: &str = "elasticache-local.lock";

/// Take the data directory for this process: an exclusive lock on its lock
/// file, held until the process ends (a `SIGKILL` too releases it), the
/// process id written in it. A second backend on the directory refuses at
/// once, naming the first.
///
/// # Errors
/// The directory is in use by another backend, or cannot be written.
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            let pid = pid.trim();
            let by = if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            };
            anyhow::bail!(
                "the data directory {} is in use by another elasticache-local{by}: stop it, or \
                 give this one another --data-dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    // Best effort: the pid is for the message above only.
    let _ = f.set_len(0);
    let _ = f.rewind();
    let _ = writeln!(f, "{}", std::process::id());
    Ok(f)
}

/// Bind the API's address, saying which one when it is taken.
async fn listen(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "cannot listen on {addr}: the address is in use by another process; stop it, or \
                 give another --listen address"
            )
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })
}

/// Start everything and serve until the process ends.
pub async fn serve(args: Args) -> anyhow::Result<()> {
    if let Some(off) = args.clock_offset {
        crate::model::set_clock_offset(off);
        tracing::info!(seconds = off.num_seconds(), "clock offset in effect");
    }
    // One backend per data directory, before anything in it is touched; and
    // the API's address, before anything starts (a taken port ends here).
    let _lock = lock_data_dir(&args.data_dir)?;
    let listener = listen(args.listen).await?;
    // The backend's own identity on its Redis/Valkey nodes (never logged).
    crate::engine::load_admin_secret(&args.data_dir.join("admin.secret"))?;
    let runtime = runtime(&args).await?;
    // Endpoints advertised at another host than loopback (the backend in a
    // container): engines and endpoints listen on every interface. In
    // shared-network mode they are at the backend's address on its network
    // unless another host is named.
    let mut args = args;
    let loopback = |h: &str| {
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    if let Some(sh) = crate::engine::shared() {
        if loopback(&args.advertise_host) {
            args.advertise_host = sh.address.to_string();
        }
    }
    let loopback = loopback(&args.advertise_host);
    crate::engine::set_listen_all(!loopback);
    if !loopback {
        tracing::info!(host = %args.advertise_host, "endpoints advertised at another host: engines and endpoints listen on every interface");
    }
    let store = Arc::new(RedbStore::open(&args.data_dir)?);
    let db = store.clone();
    let settings = Settings {
        nodes_dir: args.data_dir.join("nodes"),
        advertise_host: args.advertise_host.clone(),
        snapshots_dir: args.data_dir.join("snapshots"),
        buckets_dir: args.data_dir.join("s3"),
        keys_dir: args.data_dir.join("kms"),
    };
    let cp = Arc::new(ControlPlane::load(store, runtime.clone(), settings)?);
    let ca = Arc::new(crate::tls::Authority::load_or_create(
        &args.data_dir.join("tls"),
    )?);
    crate::engine::resp::trust(ca.ca_pem())?;
    tracing::info!(path = %ca.ca_path().display(), "certificate authority for TLS in transit (also served at /_elasticache/ca.pem)");
    let addr = listener.local_addr()?;
    tokio::spawn(Reconciler::new(cp.clone(), ca.clone()).run());
    tracing::info!(
        %addr,
        runtime = runtime.name(),
        data_dir = %args.data_dir.display(),
        "elasticache-local ready on http://{addr}"
    );
    let creds = credentials(&args)?;
    if args.auth == crate::auth::AuthMode::Strict {
        tracing::info!("SigV4 signatures are verified (--auth strict)");
    }
    let state = AppState {
        cp,
        default_region: args.default_region.clone(),
        ca,
        auth: args.auth,
        credentials: Arc::new(creds),
    };
    // Answers go out at once: a large page's last partial segment otherwise
    // waits for the client's (possibly delayed) ACK of the one before.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // A stop lets requests under way finish, and gives an open stream (the
    // dashboard's events) a moment, not for ever.
    let stopping = Arc::new(tokio::sync::Notify::new());
    let told = stopping.clone();
    let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        stop_signal().await;
        told.notify_one();
    });
    tokio::select! {
        r = serve => r?,
        () = async {
            stopping.notified().await;
            tokio::time::sleep(STOP_GRACE).await;
        } => tracing::info!("streams still open after {STOP_GRACE:?}: closing them"),
    }
    // Requests under way have been answered; the engines keep running and
    // the next start adopts them, as after a kill. The database is closed.
    db.close();
    tracing::info!("stopped: the database is closed; engines keep running for the next start");
    // The reconciler's tasks are not waited for (an engine may be slow to
    // answer): what they had not committed is redone by the next start.
    std::process::exit(0);
}

/// How long a stop waits for open connections (the dashboard's event stream).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// SIGTERM (`kill`, `docker stop`, systemd) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot handle SIGTERM/SIGINT: a stop will be a kill");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
}

#[cfg(test)]
mod tests {
    /// Issue 17 (drill 5): a second backend on a data directory refuses at
    /// once, naming the first; the lock goes with the first.
    #[test]
    fn a_data_directory_takes_one_backend() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::lock_data_dir(dir.path()).unwrap();
        let err = format!("{:#}", super::lock_data_dir(dir.path()).unwrap_err());
        assert!(
            err.contains("is in use by another elasticache-local")
                && err.contains(&format!("(pid {})", std::process::id()))
                && err.contains(&dir.path().display().to_string()),
            "{err}"
        );
        drop(first);
        super::lock_data_dir(dir.path()).unwrap();
    }
}
