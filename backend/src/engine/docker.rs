//! Nodes as Docker containers, through the Docker Engine API (bollard).
//!
//! One container per node, named `elasticache-local-<key>`, labelled with the key,
//! port and engine, publishing the engine port on `127.0.0.1:<port>` and
//! bind-mounting `spec.data_dir` at `/data`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use async_trait::async_trait;
use bollard::container::{
    Config, CreateContainerOptions, InspectContainerOptions, ListContainersOptions,
    RemoveContainerOptions, RenameContainerOptions, StartContainerOptions, StopContainerOptions,
};
use bollard::errors::Error as DockerError;
use bollard::image::CreateImageOptions;
use bollard::models::{HostConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum};
use bollard::Docker;
use futures_util::StreamExt;

use super::images::{default_image, ImageTable};
use super::process::memcached_mib;
use super::pull::PullProgress;
use super::{probe, EngineKind, EngineRuntime, NodeSpec, NodeStatus, StartInfo};

pub const LABEL_NODE: &str = "elasticache-local.node";
pub const LABEL_PORT: &str = "elasticache-local.port";
pub const LABEL_ENGINE: &str = "elasticache-local.engine";
pub const LABEL_IMAGE: &str = "elasticache-local.image";
/// Shared-network mode: the network namespace (sandbox key) of the backend's
/// container that the node's container joined.
pub const LABEL_NETNS: &str = "elasticache-local.netns";
/// The nodes directory of the backend that made the container (canonical).
pub const LABEL_ROOT: &str = "elasticache-local.root";

/// Container memory limit on top of `maxmemory` (which counts only data).
const MEMORY_HEADROOM: u64 = 64 * 1024 * 1024;
/// Seconds Docker waits after SIGTERM before SIGKILL on `stop`.
const STOP_TIMEOUT_SECS: i64 = 5;

pub struct DockerRuntime {
    docker: Docker,
    images: ImageTable,
    /// The nodes directory of this backend: `list_nodes` only reports
    /// containers whose data lives under it (other backends on the same
    /// daemon own theirs). `None`: every node container.
    root: Option<std::path::PathBuf>,
}

/// Container name for a node key (Docker allows `[a-zA-Z0-9][a-zA-Z0-9_.-]*`),
/// ending in a hash of the backend's nodes directory when it has one: two
/// backends on one Docker daemon may hold groups of the same name in the same
/// account and region (two CI jobs applying the same configuration), and
/// must not take each other's containers.
#[must_use]
pub fn container_name(key: &str, root: Option<&std::path::Path>) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    match root {
        Some(root) => format!("elasticache-local-{safe}-{:08x}", fnv1a(root)),
        None => format!("elasticache-local-{safe}"),
    }
}

/// FNV-1a (32 bits) of a path's bytes: stable across builds and restarts.
fn fnv1a(path: &std::path::Path) -> u32 {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str()
        .as_bytes()
        .iter()
        .fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        })
}

fn is_status(e: &DockerError, code: u16) -> bool {
    matches!(e, DockerError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// The published address as a label: the port alone on 127.0.0.1 (as before
/// per-node addresses), else `host:port`.
fn port_label(spec: &NodeSpec) -> String {
    if spec.host == std::net::Ipv4Addr::LOCALHOST {
        spec.port.to_string()
    } else {
        format!("{}:{}", spec.host, spec.port)
    }
}

fn container_port(engine: EngineKind) -> u16 {
    match engine {
        EngineKind::Memcached => 11211,
        EngineKind::Redis | EngineKind::Valkey => 6379,
    }
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl DockerRuntime {
    /// Connect to the local Docker daemon and check it answers (2 s), so that
    /// `--runtime auto` can fall back to processes.
    pub async fn connect(images: ImageTable) -> anyhow::Result<Self> {
        let docker =
            Docker::connect_with_local_defaults().context("connect to the Docker daemon")?;
        match tokio::time::timeout(Duration::from_secs(2), docker.ping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("Docker daemon does not answer: {e}"),
            Err(_) => bail!("Docker daemon did not answer a ping within 2 s"),
        }
        Ok(Self {
            docker,
            images,
            root: None,
        })
    }

    /// Whether engines must share the backend's network namespace
    /// (shared-network mode, see [`super::Shared`]): `mode` (`--docker-network`)
    /// `host` says never, `backend` always (an error outside a container);
    /// `auto` when the backend runs in a container (`/.dockerenv`, found by its
    /// host name) that is not on the host's network.
    ///
    /// # Errors
    /// `backend` when the backend's container cannot be found, or has no IPv4
    /// address on a network.
    pub async fn detect_shared(&self, mode: &str) -> anyhow::Result<Option<super::Shared>> {
        if mode == "host" {
            return Ok(None);
        }
        let forced = mode == "backend";
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let hostname = hostname.trim();
        if !forced && !std::path::Path::new("/.dockerenv").exists() {
            return Ok(None);
        }
        let me = match self
            .docker
            .inspect_container(hostname, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => info,
            Err(e) if forced => {
                bail!("--docker-network backend: Docker does not know this backend's container by its host name {hostname}: {e}")
            }
            Err(e) => {
                tracing::info!(%hostname, "in a container that Docker does not know by its host name ({e}): engines publish their ports as for a backend on the host");
                return Ok(None);
            }
        };
        let mode = me
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default();
        if mode == "host" && !forced {
            return Ok(None);
        }
        let ns = me.network_settings.unwrap_or_default();
        // Its address on a network other than Docker's default bridge first
        // (a user-defined network's name resolves there too), by name.
        let mut nets: Vec<(String, String)> = ns
            .networks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(n, e)| Some((n, e.ip_address.filter(|ip| !ip.is_empty())?)))
            .collect();
        nets.sort_by_key(|(n, _)| (n == "bridge", n.clone()));
        let Some((network, address)) = nets.into_iter().next() else {
            if forced {
                bail!("--docker-network backend: the backend's container has no address on a Docker network");
            }
            return Ok(None);
        };
        let address: std::net::Ipv4Addr = address
            .parse()
            .with_context(|| format!("the backend's address on {network}: {address}"))?;
        let container = me.id.unwrap_or_else(|| hostname.to_owned());
        let sandbox = ns.sandbox_key.unwrap_or_default();
        tracing::info!(
            %network,
            %address,
            "the backend runs in a container on Docker network {network}: engines share its network \
             namespace, each on a port of its own, and endpoints are at {address}"
        );
        Ok(Some(super::Shared {
            container,
            address,
            sandbox,
        }))
    }

    /// Own only the containers whose data directory is under `nodes`.
    #[must_use]
    pub fn with_root(mut self, nodes: &std::path::Path) -> Self {
        self.root = Some(std::fs::canonicalize(nodes).unwrap_or_else(|_| nodes.to_path_buf()));
        self
    }

    #[must_use]
    pub fn images(&self) -> &ImageTable {
        &self.images
    }

    /// Make sure `image` exists locally; pull it (its progress as bars on a
    /// terminal, log lines otherwise) if not.
    async fn ensure_image(&self, image: &str) -> anyhow::Result<()> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(anyhow!(e).context(format!("inspect image {image}"))),
        }
        tracing::info!(%image, "image not present locally; pulling");
        let opts = CreateImageOptions {
            from_image: image,
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(opts), None, None);
        let mut progress = PullProgress::new(image);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| {
                anyhow!(
                    "cannot pull image {image}: {e} (build local images with tests/images/build.sh \
                     and point ELASTICACHE_IMAGES at them)"
                )
            })?;
            if let Some(err) = info.error {
                bail!("cannot pull image {image}: {err}");
            }
            let Some(layer) = info.id.filter(|_| info.progress_detail.is_some()) else {
                if let Some(status) = info.status {
                    tracing::info!(%image, %status, "pull");
                }
                continue;
            };
            let detail = info.progress_detail.unwrap_or_default();
            progress.update(
                &layer,
                info.status.as_deref().unwrap_or_default(),
                detail.current,
                detail.total,
            );
        }
        progress.finish();
        self.docker
            .inspect_image(image)
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("image {image} still missing after pull: {e}"))
    }

    fn cmd(spec: &NodeSpec, image: &str) -> Vec<String> {
        let s = |v: &str| v.to_string();
        match spec.engine {
            EngineKind::Memcached => {
                // Shared-network mode: on the node's own port, beside the
                // backend's other engines.
                let port = if super::shared().is_some() {
                    spec.port
                } else {
                    11211
                };
                let mut a = vec![
                    s("memcached"),
                    s("-p"),
                    port.to_string(),
                    s("-m"),
                    memcached_mib(spec.memory_bytes).to_string(),
                    s("-U"),
                    s("0"),
                ];
                // The container runs as the host user (see `start`); memcached
                // refuses root without -u.
                if running_as_root() {
                    a.extend([s("-u"), s("root")]);
                }
                a.extend(super::memcached_tls_args(spec));
                a.extend(super::memcached_options(&spec.config));
                a
            }
            EngineKind::Redis | EngineKind::Valkey => {
                let server = if image.contains("valkey") {
                    "valkey-server"
                } else {
                    "redis-server"
                };
                // A cluster node (or a node beside cluster nodes) shares the
                // host's network, and every node shares the backend's in
                // shared-network mode (see `create`).
                let (port, plain, bind) =
                    if super::on_host_network(spec) || super::shared().is_some() {
                        (
                            spec.port,
                            spec.plain_port,
                            super::listen_addr(spec.host).to_string(),
                        )
                    } else {
                        (
                            6379,
                            spec.plain_port.map(|_| super::CONTAINER_PLAIN_PORT),
                            s("0.0.0.0"),
                        )
                    };
                let mut a = vec![s(server), format!("/data/{}", super::NODE_CONF)];
                a.extend(super::redis_listen_args(spec, port, plain));
                a.extend([s("--bind"), bind, s("--dir"), s("/data")]);
                a.extend(super::redis_args(spec));
                a
            }
        }
    }

    async fn create(&self, spec: &NodeSpec, name: &str, image: &str) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&spec.data_dir)
            .await
            .with_context(|| format!("create data dir {}", spec.data_dir.display()))?;
        let data_dir = tokio::fs::canonicalize(&spec.data_dir).await?;
        let cport = format!("{}/tcp", container_port(spec.engine));
        let mut labels = HashMap::from([
            (LABEL_NODE.to_string(), spec.key.clone()),
            (LABEL_PORT.to_string(), port_label(spec)),
            (LABEL_ENGINE.to_string(), spec.engine.as_str().to_string()),
            (LABEL_IMAGE.to_string(), image.to_string()),
        ]);
        if let Some(root) = &self.root {
            labels.insert(LABEL_ROOT.to_string(), root.display().to_string());
        }
        let memory = i64::try_from(spec.memory_bytes.saturating_add(MEMORY_HEADROOM))
            .context("memory limit too large")?;
        // A Redis Cluster node is reached by clients at the address it
        // announces and by its peers (other containers) at the same address,
        // on the client port and the bus port: it runs on the host's network,
        // bound to its own loopback address, instead of publishing ports.
        // So does a node of a group served by fronts, which replicates from
        // cluster nodes at those addresses (`engine::on_host_network`).
        //
        // Shared-network mode (the backend in a container that is not on the
        // host's network): every node runs in the backend's network namespace
        // instead, on its own port, as it would on the host's network.
        let shared = super::shared();
        let cluster = super::on_host_network(spec) || shared.is_some();
        if let Some(sh) = shared {
            labels.insert(LABEL_NETNS.to_string(), sh.sandbox.clone());
        }
        let host_config = HostConfig {
            memory: Some(memory),
            network_mode: match shared {
                Some(sh) => Some(format!("container:{}", sh.container)),
                None => cluster.then(|| "host".to_string()),
            },
            port_bindings: (!cluster).then(|| {
                let mut m = HashMap::from([(
                    cport.clone(),
                    Some(vec![PortBinding {
                        host_ip: Some(super::listen_addr(spec.host).to_string()),
                        host_port: Some(spec.port.to_string()),
                    }]),
                )]);
                // Mode `preferred`: plaintext on a second port.
                if let Some(p) = spec.plain_port {
                    m.insert(
                        format!("{}/tcp", super::CONTAINER_PLAIN_PORT),
                        Some(vec![PortBinding {
                            host_ip: Some(super::listen_addr(spec.host).to_string()),
                            host_port: Some(p.to_string()),
                        }]),
                    );
                }
                m
            }),
            binds: Some(vec![format!("{}:/data", data_dir.display())]),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            ..Default::default()
        };
        // Run as the host user so files in the bind-mounted data dir stay
        // deletable by the backend.
        let user = format!(
            "{}:{}",
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw()
        );
        let config = Config {
            image: Some(image.to_string()),
            cmd: Some(Self::cmd(spec, image)),
            labels: Some(labels),
            exposed_ports: (!cluster).then(|| {
                let mut m = HashMap::from([(cport, HashMap::new())]);
                if spec.plain_port.is_some() {
                    m.insert(
                        format!("{}/tcp", super::CONTAINER_PLAIN_PORT),
                        HashMap::new(),
                    );
                }
                m
            }),
            host_config: Some(host_config),
            user: Some(user),
            working_dir: Some("/data".to_string()),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: name.to_string(),
            platform: None,
        };
        tracing::info!(key = %spec.key, %name, %image, port = spec.port, "creating container");
        match self
            .docker
            .create_container(Some(opts.clone()), config.clone())
            .await
        {
            Ok(_) => return Ok(()),
            // A backend killed while Docker was creating it: the daemon finished
            // the job after all. Same name, same node: replace it with ours.
            Err(e) if is_status(&e, 409) => {
                tracing::info!(key = %spec.key, %name, "container appeared meanwhile; recreating");
                self.force_remove(name).await?;
            }
            Err(e) => {
                return Err(anyhow!(e).context(format!("create container {name} from {image}")))
            }
        }
        self.docker
            .create_container(Some(opts), config)
            .await
            .with_context(|| format!("create container {name} from {image}"))?;
        Ok(())
    }

    async fn start_existing(&self, name: &str) -> anyhow::Result<()> {
        match self
            .docker
            .start_container(name, None::<StartContainerOptions<String>>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) => Ok(()),
            Err(e) => Err(anyhow!(e).context(format!("start container {name}"))),
        }
    }

    /// This backend's container name for node `key`.
    fn name(&self, key: &str) -> String {
        container_name(key, self.root.as_deref())
    }

    /// Whether a container's data directory is under this backend's nodes
    /// directory (every container is, for a backend without one).
    fn ours(&self, mounts: Option<&Vec<bollard::models::MountPoint>>) -> bool {
        self.root.as_ref().is_none_or(|root| {
            mounts.into_iter().flatten().any(|m| {
                m.destination.as_deref() == Some("/data")
                    && m.source
                        .as_deref()
                        .is_some_and(|s| std::path::Path::new(s).starts_with(root))
            })
        })
    }

    /// A node's container from before names ended in the backend's hash
    /// (`elasticache-local-<key>`), when its data is ours, takes its new name
    /// (renamed as it runs: the engine and its data in memory carry on).
    async fn rename_unsuffixed(&self, key: &str, name: &str) -> anyhow::Result<()> {
        if self.root.is_none() {
            return Ok(());
        }
        let old = container_name(key, None);
        match self
            .docker
            .inspect_container(&old, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) if self.ours(info.mounts.as_ref()) => {
                tracing::info!(%key, from = %old, to = %name, "renaming the node's container from an earlier version");
                self.docker
                    .rename_container(
                        &old,
                        RenameContainerOptions {
                            name: name.to_owned(),
                        },
                    )
                    .await
                    .with_context(|| format!("rename container {old} to {name}"))
            }
            _ => Ok(()),
        }
    }

    async fn force_remove(&self, name: &str) -> anyhow::Result<()> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(anyhow!(e).context(format!("remove container {name}"))),
        }
    }
}

#[async_trait]
impl EngineRuntime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn missing_image(&self, spec: &NodeSpec) -> Option<String> {
        let image = self.images.image_for(spec.engine, &spec.version);
        match self.docker.inspect_image(&image).await {
            Err(e) if is_status(&e, 404) => Some(image),
            _ => None,
        }
    }

    async fn start(&self, spec: &NodeSpec) -> anyhow::Result<StartInfo> {
        let image = self.images.image_for(spec.engine, &spec.version);
        let default = default_image(spec.engine, &spec.version);
        let substitution = (image != default).then(|| {
            format!(
                "runs image {image} for requested {} {} (image override; default {default})",
                spec.engine.as_str(),
                spec.version
            )
        });
        let name = self.name(&spec.key);
        // The node's users and the replicas' credentials, in its mounted data
        // directory (not in the container's command or environment).
        tokio::fs::create_dir_all(&spec.data_dir)
            .await
            .with_context(|| format!("create data dir {}", spec.data_dir.display()))?;
        super::write_auth_files(spec, &spec.data_dir, "/data")?;
        self.rename_unsuffixed(&spec.key, &name).await?;

        match self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => {
                let labels = info
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
                // The command carries the memory limit and the start-time
                // parameters: a node type or parameter change needs a new container.
                let cmd = info.config.as_ref().and_then(|c| c.cmd.clone());
                // Shared-network mode: a container that joined another
                // namespace of the backend's (before the backend's container
                // restarted) is unreachable; it is made again.
                let netns = super::shared().map(|sh| &sh.sandbox);
                let same = labels.get(LABEL_PORT) == Some(&port_label(spec))
                    && labels.get(LABEL_NETNS) == netns
                    && labels.get(LABEL_ENGINE).map(String::as_str) == Some(spec.engine.as_str())
                    && labels.get(LABEL_IMAGE) == Some(&image)
                    && cmd.as_ref() == Some(&Self::cmd(spec, &image));
                let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
                if same && running {
                    tracing::info!(key = %spec.key, %name, "re-adopting running container");
                    return Ok(StartInfo { substitution });
                }
                if same {
                    tracing::info!(key = %spec.key, %name, "starting existing container");
                    self.start_existing(&name).await?;
                    return Ok(StartInfo { substitution });
                }
                tracing::info!(key = %spec.key, %name, "container spec changed; recreating (data kept)");
                self.force_remove(&name).await?;
            }
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(anyhow!(e).context(format!("inspect container {name}"))),
        }

        self.ensure_image(&image).await?;
        self.create(spec, &name, &image).await?;
        if let Err(e) = self.start_existing(&name).await {
            // Do not leave a created-but-dead container behind (e.g. port taken).
            let _ = self.force_remove(&name).await;
            return Err(e);
        }
        Ok(StartInfo { substitution })
    }

    async fn status(&self, spec: &NodeSpec) -> NodeStatus {
        let name = self.name(&spec.key);
        let running = match self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
            Err(e) => {
                if !is_status(&e, 404) {
                    tracing::warn!(key = %spec.key, "inspect container: {e}");
                }
                false
            }
        };
        if !running {
            NodeStatus::Stopped
        } else if probe(spec).await {
            NodeStatus::Ready
        } else {
            NodeStatus::Starting
        }
    }

    async fn stop(&self, spec: &NodeSpec) -> anyhow::Result<()> {
        let name = self.name(&spec.key);
        let opts = StopContainerOptions {
            t: STOP_TIMEOUT_SECS,
        };
        match self.docker.stop_container(&name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) || is_status(&e, 304) => Ok(()),
            Err(e) => Err(anyhow!(e).context(format!("stop container {name}"))),
        }
    }

    async fn remove(&self, spec: &NodeSpec) -> anyhow::Result<()> {
        let name = self.name(&spec.key);
        self.force_remove(&name).await?;
        match tokio::fs::remove_dir_all(&spec.data_dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("remove {}", spec.data_dir.display())))
            }
        }
    }

    /// A container's address on its Docker network and the engine's own port:
    /// published ports listen on the host's 127.0.0.1, which other containers
    /// cannot reach.
    async fn peer_address(&self, spec: &NodeSpec) -> anyhow::Result<(String, u16)> {
        if super::on_host_network(spec) || super::shared().is_some() {
            return Ok((spec.host.to_string(), spec.port));
        }
        let name = self.name(&spec.key);
        let info = self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .with_context(|| format!("inspect container {name}"))?;
        let ns = info.network_settings.unwrap_or_default();
        let ip = ns
            .ip_address
            .filter(|ip| !ip.is_empty())
            .or_else(|| {
                ns.networks.and_then(|n| {
                    n.into_values()
                        .filter_map(|e| e.ip_address)
                        .find(|ip| !ip.is_empty())
                })
            })
            .ok_or_else(|| anyhow!("container {name} has no network address"))?;
        Ok((ip, container_port(spec.engine)))
    }

    /// A loopback source is the host itself: containers reach it through their
    /// network's gateway (when the source listens there too).
    async fn outside_address(&self, from: &NodeSpec, host: &str, port: u16) -> (String, u16) {
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            return (host.to_owned(), port);
        }
        let name = self.name(&from.key);
        let gateway = self
            .docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .ok()
            .and_then(|info| info.network_settings)
            .and_then(|ns| {
                ns.gateway.filter(|g| !g.is_empty()).or_else(|| {
                    ns.networks.and_then(|n| {
                        n.into_values()
                            .filter_map(|e| e.gateway)
                            .find(|g| !g.is_empty())
                    })
                })
            });
        (gateway.unwrap_or_else(|| host.to_owned()), port)
    }

    /// Keys of every container carrying our node label, running or stopped
    /// (a stopped orphan container is still something to clean up), whose
    /// data is under this backend's nodes directory when it has one.
    async fn list_nodes(&self) -> anyhow::Result<Vec<String>> {
        let opts = ListContainersOptions::<String> {
            all: true,
            filters: HashMap::from([("label".to_string(), vec![LABEL_NODE.to_string()])]),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .context("list containers")?;
        let mut keys: Vec<String> = list
            .into_iter()
            .filter(|c| self.ours(c.mounts.as_ref()))
            .filter_map(|c| c.labels.and_then(|mut l| l.remove(LABEL_NODE)))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            container_name("000000000000-us-east-1-c1-0001", None),
            "elasticache-local-000000000000-us-east-1-c1-0001"
        );
        assert_eq!(container_name("a/b c", None), "elasticache-local-a-b-c");
        // Two backends' containers of one node key differ; one backend's stay put.
        let a = container_name("k", Some(std::path::Path::new("/srv/a/nodes")));
        let b = container_name("k", Some(std::path::Path::new("/srv/b/nodes")));
        assert_ne!(a, b);
        assert_eq!(
            a,
            container_name("k", Some(std::path::Path::new("/srv/a/nodes")))
        );
        assert!(
            a.starts_with("elasticache-local-k-") && a.len() == "elasticache-local-k-".len() + 8
        );
    }
}
