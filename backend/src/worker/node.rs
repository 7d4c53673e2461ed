//! What the reconciler's passes share about one node, below them all: its
//! configuration (start-time directives, `CONFIG SET` parameters, the cluster-mode
//! directives) and spec, connecting to it, pushing parameters, saving before a
//! restart.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::catalog;
use crate::engine::{resp, AclUser, AclUsers, EngineKind, EngineRuntime, NodeSpec, StartInfo};
use crate::model::cluster::{AuthTokens, CacheCluster, CacheNode};
use crate::model::replication_group::ReplicationGroup;
use crate::model::{ControlPlane, Scope};
use crate::tls::Authority;

/// How long a starting node may take to answer.
pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `cluster-node-timeout`: how long a node may be unreachable before the
/// cluster fails it over.
pub(super) const NODE_TIMEOUT_MS: u64 = 2000;

/// The cluster bus port of a node on `port`.
#[must_use]
pub(super) fn bus_port(port: u16) -> u16 {
    if port <= 55535 {
        port + 10000
    } else {
        port - 20000
    }
}

/// Directives every cluster-mode node starts with: a real cluster node that
/// announces its own address (so that clients on the host reach every node
/// at the address `CLUSTER SLOTS` gives), a short node timeout, and shard
/// membership left to the backend (no replica migration).
#[must_use]
pub(super) fn node_config(host: Ipv4Addr, port: u16) -> Vec<(String, String)> {
    let bus = bus_port(port).to_string();
    [
        ("cluster-enabled", "yes".to_owned()),
        ("cluster-config-file", "nodes.conf".to_owned()),
        ("cluster-node-timeout", NODE_TIMEOUT_MS.to_string()),
        ("cluster-announce-ip", host.to_string()),
        ("cluster-announce-port", port.to_string()),
        ("cluster-announce-bus-port", bus.clone()),
        ("cluster-port", bus),
        ("cluster-allow-replica-migration", "no".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The port the engine of a node of a group served by fronts answers on, at
/// the node's own address (its endpoint's port is the front's).
#[must_use]
pub(super) fn fronted_engine_port(port: u16) -> u16 {
    if port <= 35535 {
        port + 30000
    } else {
        port - 30000
    }
}

/// The address a cluster-mode node on `host` announces to clients and peers:
/// the advertised host when it is an IPv4 address and the node is on 127.0.0.1
/// (it then listens on every interface), else its own address.
pub(super) fn announce_ip(cp: &ControlPlane, host: Ipv4Addr) -> Ipv4Addr {
    match cp.settings.advertise_host.parse::<Ipv4Addr>() {
        Ok(ip) if host == Ipv4Addr::LOCALHOST && !ip.is_loopback() => ip,
        _ => host,
    }
}

/// The `hz` a member of a replication group (cluster mode off) starts with.
/// A primary reaps a finished replica sync, and only then starts the next
/// replica's, on its server cron: every 1/hz s, 100 ms at Redis's default 10,
/// which the second replica of a new 1+2 group waited out (create→available
/// bimodal, ~50 or ~125 ms). A changed `hz` takes effect only after the tick
/// already scheduled, so it is said at start, and lowered to [`IDLE_HZ`] once
/// the group has settled (an idle node at 100 costs ~0.4% of a core).
pub(super) const SYNC_HZ: &str = "100";
/// Redis's default `hz`, which settled members go back to.
pub(super) const IDLE_HZ: &str = "10";

/// Remember a node just started (or re-adopted) with [`SYNC_HZ`] in `fast`,
/// the nodes whose `hz` is lowered once their group settles.
pub(super) fn note_fast_cron(
    fast: &std::sync::Mutex<std::collections::HashSet<String>>,
    spec: &NodeSpec,
) {
    if spec.config.iter().any(|(k, v)| k == "hz" && v == SYNC_HZ) {
        fast.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(spec.key.clone());
    }
}

/// How a node of `c` runs: its start-time directives (the backend's cluster
/// directives in cluster mode, not the group's) and where.
pub(super) fn spec(cp: &ControlPlane, scope: &Scope, c: &CacheCluster, n: &CacheNode) -> NodeSpec {
    let mut config = startup_config(cp, scope, c);
    let group = c
        .replication_group_id
        .as_deref()
        .and_then(|rg| cp.find_replication_group(scope, rg).ok());
    let sharded = group
        .as_ref()
        .is_some_and(ReplicationGroup::cluster_enabled);
    let fronted = group.as_ref().is_some_and(|g| g.fronted);
    if !sharded {
        // `cluster-enabled` is said only by the backend (a user's `no` is
        // the default anyway): the runtime reads it (`engine::on_host_network`).
        config.retain(|(k, _)| k != "cluster-enabled");
    }
    if sharded {
        config.retain(|(k, _)| !k.starts_with("cluster-"));
        if fronted {
            // Said outright: the runtime runs it beside cluster nodes
            // (`engine::on_host_network`).
            config.push(("cluster-enabled".to_owned(), "no".to_owned()));
        } else {
            config.extend(node_config(announce_ip(cp, n.host), n.port));
        }
    }
    if group.is_some() && !sharded && c.engine != EngineKind::Memcached {
        config.push(("hz".to_owned(), SYNC_HZ.to_owned()));
    }
    let mut spec = c.node_spec(scope, n, &cp.settings.nodes_dir, config);
    if fronted {
        // The node's endpoint is its front's; the engine answers beside it.
        // In transit encryption mode `preferred` the front is what answers
        // plaintext too (it speaks TLS to its engine).
        spec.port = fronted_engine_port(n.port);
        spec.plain_port = None;
    }
    if c.engine != EngineKind::Memcached {
        spec.users = cluster_users(cp, scope, c);
    }
    spec
}

/// The client ACL users of a Redis/Valkey cluster's nodes: its group's user
/// groups' users when it has any, else its AUTH tokens' `default`.
pub(super) fn cluster_users(cp: &ControlPlane, scope: &Scope, c: &CacheCluster) -> AclUsers {
    let rbac = c
        .replication_group_id
        .as_deref()
        .and_then(|rg| cp.find_replication_group(scope, rg).ok())
        .map(|g| rbac_users(cp, scope, &g))
        .unwrap_or_default();
    client_users(&c.auth, &rbac)
}

/// The ACL users a Redis/Valkey node with AUTH tokens `auth` gives its clients (the backend's
/// own admin user is added by the engine layer, see `engine::write_auth_files`).
///
/// Today the one `default` user with every permission: without AUTH tokens it
/// needs no password (`on nopass ~* &* +@all`); with tokens it takes each of them
/// (`on >tok1 >tok2 ~* &* +@all`); while a `ROTATE` onto a token-less group has
/// not been `SET`, it keeps `nopass` (Redis then accepts the token and
/// unauthenticated clients alike). User groups (RBAC) extend this list: every
/// user of the group by its name, the group's `default`-named user in place
/// of this one.
///
/// With a user group attached (`rbac`, see [`rbac_users`]), the group's users
/// are the node's users and the tokens play no part. Every client user is
/// denied what would let a client undo this (`ACL` writes, `CONFIG SET`), as
/// ElastiCache denies them; the backend works as its own admin user.
#[must_use]
pub(super) fn client_users(auth: &AuthTokens, rbac: &[crate::model::user::User]) -> AclUsers {
    if !rbac.is_empty() {
        let mut users: Vec<AclUser> = rbac
            .iter()
            .map(|u| AclUser {
                name: u.name.clone(),
                rules: with_denials(u.acl_rules()),
            })
            .collect();
        if !users.iter().any(|u| u.name == "default") {
            users.push(AclUser {
                name: "default".to_owned(),
                rules: vec!["off".to_owned()],
            });
        }
        return AclUsers(users);
    }
    let mut rules = vec!["on".to_owned()];
    if auth.tokens.is_empty() || auth.open {
        rules.push("nopass".to_owned());
    } else {
        rules.extend(auth.tokens.iter().map(|t| format!(">{t}")));
    }
    rules.extend(["~*", "&*", "+@all"].map(str::to_owned));
    AclUsers(vec![AclUser {
        name: "default".to_owned(),
        rules: with_denials(rules),
    }])
}

/// Commands no client runs on ElastiCache: they would change users or the
/// engine's configuration behind the service's back.
const DENIED: [&str; 8] = [
    "-acl|setuser",
    "-acl|deluser",
    "-acl|load",
    "-acl|save",
    "-config|set",
    "-config|rewrite",
    "-config|resetstat",
    "-debug",
];

fn with_denials(mut rules: Vec<String>) -> Vec<String> {
    rules.extend(DENIED.iter().map(|d| (*d).to_owned()));
    rules
}

/// Make a running node's client users what `users` says, at once (`ACL SETUSER
/// <name> reset <rules>` for each; users it had beyond them and the admin are
/// deleted), and save them to its ACL file for its next start.
pub(super) async fn push_users(
    host: Ipv4Addr,
    port: u16,
    tls: bool,
    users: &AclUsers,
) -> anyhow::Result<()> {
    let mut conn = connect(host, port, tls).await?;
    for u in &users.0 {
        let mut args: Vec<&str> = vec!["ACL", "SETUSER", &u.name, "reset"];
        args.extend(u.rules.iter().map(String::as_str));
        conn.cmd(&args).await?;
    }
    if let resp::Reply::Array(Some(names)) = conn.cmd(&["ACL", "USERS"]).await? {
        for name in names.iter().filter_map(resp::Reply::as_text) {
            let keep = name == crate::engine::ADMIN_USER
                || name == crate::engine::REPL_USER
                || name == "default"
                || users.0.iter().any(|u| u.name == name);
            if !keep {
                conn.cmd(&["ACL", "DELUSER", &name]).await?;
            }
        }
    }
    conn.cmd(&["ACL", "SAVE"]).await?;
    Ok(())
}

/// The names a TLS node of `c` on `host` is reached by, for its certificate:
/// its own address, its group's primary, reader and configuration endpoint
/// addresses (their proxies pass TLS through to the node), the advertised host
/// name and `localhost`.
pub(super) fn tls_names(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
    host: Ipv4Addr,
) -> Vec<String> {
    let mut ips = vec![host, Ipv4Addr::LOCALHOST];
    if let Some(g) = c
        .replication_group_id
        .as_deref()
        .and_then(|rg| cp.find_replication_group(scope, rg).ok())
    {
        ips.push(g.primary_endpoint().0);
        ips.push(g.reader_endpoint().0);
        ips.extend(g.config_endpoint().map(|e| e.0));
    }
    if let Some(h) = c.config_host {
        ips.push(h);
    }
    let mut names: Vec<String> = Vec::new();
    for n in ips
        .into_iter()
        .map(|ip| ip.to_string())
        .chain([cp.settings.advertise_host.clone(), "localhost".to_owned()])
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Start (or re-adopt) a node: a TLS node first gets a fresh certificate for
/// `names`, its key and the CA in its data directory.
pub(super) async fn start(
    rt: &dyn EngineRuntime,
    ca: &Authority,
    spec: &NodeSpec,
    names: &[String],
) -> anyhow::Result<StartInfo> {
    if spec.tls {
        ca.write_node_files(&spec.data_dir, names)?;
    }
    rt.start(spec).await
}

/// The spec of an engine nobody owns (to remove it).
pub(super) fn orphan_spec(nodes_dir: &std::path::Path, key: &str) -> NodeSpec {
    NodeSpec {
        key: key.to_owned(),
        engine: EngineKind::Redis,
        version: String::new(),
        host: Ipv4Addr::LOCALHOST,
        port: 0,
        memory_bytes: 0,
        config: Vec::new(),
        data_dir: nodes_dir.join(key),
        users: AclUsers::default(),
        tls: false,
        plain_port: None,
    }
}

/// Parameters of the cluster's group that are real engine directives:
/// (name, value, takes effect only at start).
fn engine_params(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
) -> Vec<(String, String, bool)> {
    let Ok(pg) = cp.find_parameter_group(scope, &c.parameter_group) else {
        return Vec::new();
    };
    pg.effective()
        .into_iter()
        .filter(|(p, _, _)| catalog::is_engine_directive(&p.parameter_name))
        .filter_map(|(p, v, source)| {
            let v = v.filter(|v| !v.is_empty())?;
            let at_start = p.change_type.as_deref() == Some("requires-reboot");
            // Defaults that need a restart stay as the engine's own: a default the
            // local binary does not know must not keep a node from starting.
            if at_start && source != "user" {
                return None;
            }
            Some((p.parameter_name.clone(), v, at_start))
        })
        .collect()
}

/// Directives passed at start: the user's values of reboot-only parameters
/// (Redis, Valkey), or memcached options for the user's values (Memcached).
pub(super) fn startup_config(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
) -> Vec<(String, String)> {
    if c.engine == EngineKind::Memcached {
        let Ok(pg) = cp.find_parameter_group(scope, &c.parameter_group) else {
            return Vec::new();
        };
        return pg
            .values
            .iter()
            .filter_map(|(n, v)| memcached_option(n, v))
            .collect();
    }
    engine_params(cp, scope, c)
        .into_iter()
        .filter(|(_, _, s)| *s)
        .map(|(n, v, _)| (n, v))
        .collect()
}

/// An ElastiCache Memcached parameter as a memcached long option, where memcached has one.
fn memcached_option(name: &str, value: &str) -> Option<(String, String)> {
    let on = value == "1";
    let opt = |o: &str, v: &str| Some((o.to_owned(), v.to_owned()));
    let ext = |e: String| Some(("extended".to_owned(), e));
    match name {
        "backlog_queue_limit" => opt("listen-backlog", value),
        "binding_protocol" => opt("protocol", value),
        "cas_disabled" if on => opt("disable-cas", ""),
        "chunk_size" => opt("slab-min-size", value),
        "chunk_size_growth_factor" => opt("slab-growth-factor", value),
        "disable_flush_all" if on => opt("disable-flush-all", ""),
        "error_on_memory_exhausted" if on => opt("disable-evictions", ""),
        "large_memory_pages" if on => opt("enable-largepages", ""),
        "max_item_size" => opt("max-item-size", value),
        "max_simultaneous_connections" => opt("conn-limit", value),
        "hash_algorithm"
        | "idle_timeout"
        | "slab_automove"
        | "slab_chunk_max"
        | "watcher_logbuf_size"
        | "worker_logbuf_size" => ext(format!("{name}={value}")),
        "lru_crawler" | "lru_maintainer" => ext(if on {
            name.to_owned()
        } else {
            format!("no_{name}")
        }),
        "maxconns_fast" | "slab_reassign" | "track_sizes" if on => ext(name.to_owned()),
        _ => None,
    }
}

/// Directives set on running engines with `CONFIG SET`.
pub(super) fn runtime_config(
    cp: &ControlPlane,
    scope: &Scope,
    c: &CacheCluster,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = engine_params(cp, scope, c)
        .into_iter()
        .filter(|(_, _, s)| !*s)
        .map(|(n, v, _)| (n, v))
        .collect();
    if let (Some(bytes), false) = (c.memory_limit, c.engine == EngineKind::Memcached) {
        params.push(("maxmemory".to_owned(), bytes.to_string()));
    }
    params
}

/// A connection to one of the backend's Redis/Valkey nodes, over TLS when the
/// node serves TLS (`tls`), authenticated as the backend's admin user. A node
/// that still runs as before a change of transit encryption (its restart into
/// the new mode is what the connection is for) is reached the other way.
pub(super) async fn connect(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<resp::Conn> {
    match connect_as(host, port, tls).await {
        Ok(c) => Ok(c),
        Err(e) => connect_as(host, port, !tls).await.map_err(|_| e),
    }
}

async fn connect_as(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<resp::Conn> {
    let fut = async {
        let mut conn = resp::Conn::connect_to(host, port, tls).await?;
        conn.cmd(&[
            "AUTH",
            crate::engine::ADMIN_USER,
            crate::engine::admin_secret(),
        ])
        .await
        .map_err(|_| anyhow::anyhow!("{host}:{port} refused the backend's admin user"))?;
        anyhow::Ok(conn)
    };
    tokio::time::timeout(Duration::from_secs(3), fut)
        .await
        .map_err(|_| anyhow::anyhow!("{host}:{port} did not answer"))?
}

/// A node's address: loopback IP and port.
pub(super) type Addr = (Ipv4Addr, u16);

/// `INFO replication` as a map.
pub(super) async fn replication_info(addr: Addr, tls: bool) -> Option<HashMap<String, String>> {
    let fut = async {
        let mut conn = connect(addr.0, addr.1, tls).await.ok()?;
        let text = conn.cmd(&["INFO", "replication"]).await.ok()?.as_text()?;
        Some(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect(),
        )
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .ok()
        .flatten()
}

/// One command on a fresh connection; connecting and answering within 5 s.
pub(super) async fn command(addr: Addr, tls: bool, args: &[&str]) -> anyhow::Result<resp::Reply> {
    let fut = async {
        let mut conn = connect(addr.0, addr.1, tls).await?;
        conn.cmd(args).await
    };
    tokio::time::timeout(Duration::from_secs(5), fut).await?
}

/// `CONFIG SET` each parameter; one the engine refuses is logged and skipped.
pub(super) async fn apply_params(
    host: Ipv4Addr,
    port: u16,
    tls: bool,
    params: &[(String, String)],
) {
    let Ok(mut conn) = connect(host, port, tls).await else {
        tracing::warn!(port, "could not connect to apply parameters");
        return;
    };
    // One round trip for all of them; each `CONFIG SET` still stands alone.
    let cmds: Vec<Vec<Vec<u8>>> = params
        .iter()
        .map(|(name, value)| {
            vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                name.as_bytes().to_vec(),
                value.as_bytes().to_vec(),
            ]
        })
        .collect();
    match conn.pipeline(&cmds).await {
        Ok(replies) => {
            for ((name, value), reply) in params.iter().zip(replies) {
                if let resp::Reply::Error(e) = reply {
                    tracing::debug!(port, %name, %value, error = %e, "engine refused parameter");
                }
            }
        }
        Err(e) => tracing::debug!(port, error = %e, "CONFIG SET failed"),
    }
}

/// `SAVE` before a restart that keeps data.
///
/// At the first of `ports` that answers: a node turning to be served by a
/// front still runs where it ran before.
/// Make the engine at `port` refuse writes from now on (`-NOREPLICAS`:
/// `min-replicas-to-write` out of reach, on every engine version), before a
/// `SAVE` and a stop that must lose no acknowledged write. The engine forgets
/// it when it restarts. Nothing when the engine does not answer.
pub(super) async fn refuse_writes(host: Ipv4Addr, port: u16, tls: bool) {
    if let Ok(mut c) = connect(host, port, tls).await {
        if let Err(e) = c
            .cmd(&["CONFIG", "SET", "min-replicas-to-write", "1000000"])
            .await
        {
            tracing::warn!(port, error = %e, "could not stop writes before a restart");
        }
    }
}

pub(super) async fn save_at(host: Ipv4Addr, ports: &[u16], tls: bool) {
    let mut conn = None;
    let mut last = None;
    for &p in ports {
        match connect(host, p, tls).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let port = ports.first().copied().unwrap_or_default();
    let Some(mut conn) = conn else {
        if let Some(e) = last {
            tracing::warn!(port, error = %e, "could not connect to SAVE before restart");
        }
        return;
    };
    // A background save (a replica's full sync, a snapshot) must end first:
    // the engine refuses SAVE meanwhile, and stopping it then loses data.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match conn.cmd(&["SAVE"]).await {
            Ok(_) => return,
            Err(e) if e.to_string().contains("in progress") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(port, error = %e, "SAVE before restart failed");
                return;
            }
        }
    }
}

/// The users a replication group's nodes have besides the backend's own:
/// those of its user groups (pending changes included: this is what the
/// nodes are being brought to), one per name, users being deleted left out.
/// Empty when no user group is attached.
pub(super) fn rbac_users(
    cp: &ControlPlane,
    scope: &Scope,
    g: &crate::model::replication_group::ReplicationGroup,
) -> Vec<crate::model::user::User> {
    let mut out: Vec<crate::model::user::User> = Vec::new();
    for ug in &g.user_group_ids {
        let Ok(ug) = cp.find_user_group(scope, ug) else {
            continue;
        };
        if ug.status == crate::model::user::DELETING {
            continue;
        }
        for id in ug.target_members() {
            let Ok(u) = cp.find_user(scope, &id) else {
                continue;
            };
            if u.status == crate::model::user::DELETING || out.iter().any(|o| o.name == u.name) {
                continue;
            }
            out.push(u);
        }
    }
    out
}

/// Every node of replication group `rg` gets its client users as the records
/// say now ([`spec`] renders them; users a node had beyond them are deleted,
/// which ends their connections); whether every node took them.
pub(super) async fn push_group_users(cp: &ControlPlane, scope: &Scope, rg: &str) -> bool {
    let Ok(g) = cp.find_replication_group(scope, rg) else {
        return true;
    };
    let mut ok = true;
    for id in &g.members {
        let Ok(c) = cp.find_cluster(scope, id) else {
            continue;
        };
        for n in &c.nodes {
            let spec = spec(cp, scope, &c, n);
            if let Err(e) = push_users(spec.host, spec.port, spec.tls, &spec.users).await {
                tracing::warn!(group = rg, node = %spec.key, error = %e, "could not push users to a node; retrying");
                ok = false;
            }
        }
    }
    ok
}

/// A replication group whose user groups changed (`users_pending`): every
/// node gets its users, then the flag clears and the group settles on its
/// next pass.
pub(super) async fn push_pending_users(cp: &ControlPlane, scope: &Scope, rg: &str) {
    if push_group_users(cp, scope, rg).await {
        cp.users_pushed(scope, rg);
        cp.wake();
    }
}

/// How often a restore's progress is logged while it lasts.
pub(super) const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// `n` bytes in MiB, for the log.
#[must_use]
pub(super) fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// How far an engine is in loading its RDB, from `INFO persistence` (`loading:1`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Loading {
    pub loaded_bytes: u64,
    pub total_bytes: u64,
    pub percent: f64,
    pub eta_seconds: i64,
}

/// What `INFO persistence` says of a load in progress; `None` when none is.
#[must_use]
pub(super) fn loading(info: &str) -> Option<Loading> {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim_end().strip_prefix(name)?.strip_prefix(':'))
    };
    if field("loading") != Some("1") {
        return None;
    }
    Some(Loading {
        loaded_bytes: field("loading_loaded_bytes")?.parse().ok()?,
        total_bytes: field("loading_total_bytes")?.parse().ok()?,
        percent: field("loading_loaded_perc")?.parse().ok()?,
        eta_seconds: field("loading_eta_seconds")?.parse().ok()?,
    })
}

/// Logs, every `PROGRESS_EVERY`, how far the engine of a node being restored is
/// in loading the snapshot's RDB (it answers `-LOADING` meanwhile). It never
/// returns: the caller races it against the node becoming ready.
pub(super) async fn log_loading(spec: &NodeSpec, tls: bool) {
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let Ok(mut conn) = connect(spec.host, spec.port, tls).await else {
            continue; // not listening yet
        };
        let Ok(info) = conn.cmd(&["INFO", "persistence"]).await else {
            continue;
        };
        if let Some(l) = info.as_text().as_deref().and_then(loading) {
            tracing::info!(
                node = %spec.key,
                loaded = %mib(l.loaded_bytes),
                of = %mib(l.total_bytes),
                eta_seconds = l.eta_seconds,
                "restoring a snapshot: the engine has loaded {:.0}% of it",
                l.percent
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_progress_is_read_from_info_persistence() {
        let info = "# Persistence\r\nloading:1\r\nasync_loading:0\r\n\
                    loading_start_time:1700000000\r\nloading_total_bytes:1073741824\r\n\
                    loading_rdb_used_mem:0\r\nloading_loaded_bytes:268435456\r\n\
                    loading_loaded_perc:25.00\r\nloading_eta_seconds:3\r\n";
        assert_eq!(
            loading(info),
            Some(Loading {
                loaded_bytes: 268_435_456,
                total_bytes: 1_073_741_824,
                percent: 25.0,
                eta_seconds: 3,
            })
        );
        assert_eq!(
            loading("# Persistence\r\nloading:0\r\nasync_loading:0\r\n"),
            None
        );
        assert_eq!(mib(268_435_456), "256.0 MiB");
    }

    #[test]
    fn memcached_parameters_become_options() {
        assert_eq!(
            memcached_option("max_item_size", "2097152"),
            Some(("max-item-size".into(), "2097152".into()))
        );
        assert_eq!(
            memcached_option("cas_disabled", "1"),
            Some(("disable-cas".into(), String::new()))
        );
        assert_eq!(memcached_option("cas_disabled", "0"), None);
        assert_eq!(
            memcached_option("lru_crawler", "0"),
            Some(("extended".into(), "no_lru_crawler".into()))
        );
        assert_eq!(
            memcached_option("memcached_connections_overhead", "100"),
            None
        );
    }

    #[test]
    fn client_users_follow_the_tokens() {
        let mut c = AuthTokens::default();
        let rules = |c: &AuthTokens| {
            let r = client_users(c, &[]).0[0].rules.join(" ");
            r.split(" -acl|setuser")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(rules(&c), "on nopass ~* &* +@all");
        c.tokens = vec!["a".repeat(16), "b".repeat(16)];
        assert_eq!(
            rules(&c),
            format!("on >{} >{} ~* &* +@all", "a".repeat(16), "b".repeat(16))
        );
        c.open = true;
        assert_eq!(rules(&c), "on nopass ~* &* +@all");
        assert!(!format!("{:?}", client_users(&c, &[])).contains("aaaa"));
    }

    #[test]
    fn bus_ports() {
        assert_eq!(bus_port(6379), 16379);
        assert_eq!(bus_port(60000), 40000);
    }
}
