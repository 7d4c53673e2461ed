//! Engine runtimes against real engines: local processes always, Docker when it
//! is among the runtimes under test (`ELASTICACHE_TEST_RUNTIMES`, or
//! `ELASTICACHE_TEST_DOCKER=1`; images from `ELASTICACHE_IMAGES`, e.g. the JSON
//! written by `tests/images/build.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use elasticache_local::engine::docker::DockerRuntime;
use elasticache_local::engine::images::ImageTable;
use elasticache_local::engine::process::ProcessRuntime;
use elasticache_local::engine::{
    free_port, wait_ready, AclUser, AclUsers, EngineKind, EngineRuntime, NodeSpec, NodeStatus,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MEMORY: u64 = 64 * 1024 * 1024;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn spec(root: &Path, rt: &str, engine: EngineKind, version: &str) -> NodeSpec {
    let key = format!(
        "itest-{rt}-{}-{}",
        engine.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    NodeSpec {
        data_dir: root.join(&key),
        key,
        engine,
        version: version.into(),
        host: std::net::Ipv4Addr::LOCALHOST,
        port: free_port().unwrap(),
        memory_bytes: MEMORY,
        config: match engine {
            // Memcached takes long options (`--max-item-size=…`).
            EngineKind::Memcached => vec![("max-item-size".into(), "2097152".into())],
            _ => vec![("maxmemory-policy".into(), "allkeys-lru".into())],
        },
        users: AclUsers::default(),
        tls: false,
        plain_port: None,
    }
}

/// Send one memcached text command and read lines until `END`/`STORED`/an error.
async fn memcached(port: u16, req: &str) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
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
            || l.starts_with("CLIENT_ERROR")
            || l.starts_with("SERVER_ERROR");
        lines.push(l);
        if done {
            break;
        }
    }
    lines
}

async fn check_engine(spec: &NodeSpec) {
    match spec.engine {
        EngineKind::Redis | EngineKind::Valkey => {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}/", spec.port)).unwrap();
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = redis::cmd("SET")
                .arg("k")
                .arg("v")
                .query_async(&mut c)
                .await
                .unwrap();
            let v: String = redis::cmd("GET")
                .arg("k")
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(v, "v");
            let mm: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("maxmemory")
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(mm, vec!["maxmemory".to_string(), MEMORY.to_string()]);
            let pol: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("maxmemory-policy")
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(pol[1], "allkeys-lru");
        }
        EngineKind::Memcached => {
            assert_eq!(
                memcached(spec.port, "set k 0 0 1\r\nv\r\n").await,
                vec!["STORED"]
            );
            assert_eq!(
                memcached(spec.port, "get k\r\n").await,
                vec!["VALUE k 0 1", "v", "END"]
            );
            let stats = memcached(spec.port, "stats settings\r\n").await;
            assert!(
                stats.contains(&format!("STAT maxbytes {MEMORY}")),
                "memcached maxbytes: {stats:?}"
            );
            assert!(
                stats.contains(&"STAT item_size_max 2097152".to_owned()),
                "memcached option from NodeSpec::config: {stats:?}"
            );
        }
    }
}

async fn key_present(spec: &NodeSpec) -> bool {
    match spec.engine {
        EngineKind::Redis | EngineKind::Valkey => {
            let client = redis::Client::open(format!("redis://127.0.0.1:{}/", spec.port)).unwrap();
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            let v: Option<String> = redis::cmd("GET")
                .arg("k")
                .query_async(&mut c)
                .await
                .unwrap();
            v.as_deref() == Some("v")
        }
        EngineKind::Memcached => memcached(spec.port, "get k\r\n").await.len() == 3,
    }
}

async fn port_closed(port: u16) -> bool {
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn runtime_suite(rt: Arc<dyn EngineRuntime>, root: &Path) {
    let name = rt.name();
    for (engine, version) in [
        (EngineKind::Redis, "7.0"),
        (EngineKind::Valkey, "8.0"),
        (EngineKind::Memcached, "1.6.18"),
    ] {
        let spec = spec(root, name, engine, version);
        let t0 = Instant::now();
        let info = rt.start(&spec).await.unwrap();
        let launched = t0.elapsed();
        wait_ready(rt.as_ref(), &spec, READY_TIMEOUT).await.unwrap();
        eprintln!(
            "[{name}] {} start->Ready: {:?} (start() returned after {launched:?}); substitution: {:?}",
            engine.as_str(),
            t0.elapsed(),
            info.substitution
        );
        check_engine(&spec).await;
        assert!(rt.list_nodes().await.unwrap().contains(&spec.key));

        // A second start re-adopts the running node: the in-memory key survives
        // (nothing is saved, so a restart would have lost it).
        rt.start(&spec).await.unwrap();
        assert_eq!(rt.status(&spec).await, NodeStatus::Ready);
        assert!(key_present(&spec).await, "start re-created a running node");

        rt.stop(&spec).await.unwrap();
        assert_eq!(rt.status(&spec).await, NodeStatus::Stopped);
        assert!(spec.data_dir.exists(), "stop keeps the data dir");

        let t0 = Instant::now();
        rt.start(&spec).await.unwrap();
        wait_ready(rt.as_ref(), &spec, READY_TIMEOUT).await.unwrap();
        eprintln!(
            "[{name}] {} restart->Ready: {:?}",
            engine.as_str(),
            t0.elapsed()
        );
        assert!(rt.list_nodes().await.unwrap().contains(&spec.key));
        check_engine(&spec).await;

        rt.remove(&spec).await.unwrap();
        assert_eq!(rt.status(&spec).await, NodeStatus::Stopped);
        assert!(
            port_closed(spec.port).await,
            "port {} still open",
            spec.port
        );
        assert!(!spec.data_dir.exists(), "data dir left behind");
        assert!(!rt.list_nodes().await.unwrap().contains(&spec.key));
        // Removing twice is fine.
        rt.remove(&spec).await.unwrap();
    }
}

#[tokio::test]
async fn process_runtime_suite() {
    let root = tempfile::tempdir().unwrap();
    let rt = Arc::new(ProcessRuntime::new(root.path().to_path_buf()).unwrap());
    runtime_suite(rt, root.path()).await;
}

#[tokio::test]
async fn docker_runtime_suite() {
    if !crate::common::runtimes().iter().any(|r| r == "docker") {
        eprintln!("skipping docker suite (docker is not among ELASTICACHE_TEST_RUNTIMES)");
        return;
    }
    let images = ImageTable::from_env().unwrap();
    let rt = Arc::new(DockerRuntime::connect(images).await.unwrap());
    let root = tempfile::tempdir().unwrap();
    runtime_suite(rt.clone(), root.path()).await;

    // An image that is neither local nor pullable: a clear error naming it, and
    // no container left behind.
    let mut images = ImageTable::from_env().unwrap();
    images.set("redis", "localtest/no-such-image:0.0");
    let bad_rt = DockerRuntime::connect(images).await.unwrap();
    let spec = spec(root.path(), "docker", EngineKind::Redis, "7.0");
    let err = bad_rt.start(&spec).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("localtest/no-such-image:0.0"),
        "error should name the image: {err:#}"
    );
    eprintln!("[docker] missing image error: {err:#}");
    assert_eq!(bad_rt.status(&spec).await, NodeStatus::Stopped);
    bad_rt.remove(&spec).await.unwrap();

    let left = rt.list_nodes().await.unwrap();
    assert!(
        !left.iter().any(|k| k.starts_with("itest-docker-")),
        "containers left: {left:?}"
    );
}

fn pid_of(spec: &NodeSpec) -> i32 {
    std::fs::read_to_string(spec.data_dir.join("node.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Processes whose command line mentions this node's port.
fn processes_on(port: u16) -> usize {
    let needle = format!(":{port}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test]
async fn process_node_survives_runtime_and_is_readopted() {
    let root = tempfile::tempdir().unwrap();
    let spec = spec(root.path(), "process", EngineKind::Redis, "7.0");
    {
        let rt = ProcessRuntime::new(root.path().to_path_buf()).unwrap();
        rt.start(&spec).await.unwrap();
        wait_ready(&rt, &spec, READY_TIMEOUT).await.unwrap();
    }
    let pid = pid_of(&spec);
    // Own process group, so a signal to the backend's group does not reach it.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let pgid: i32 = after.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(pgid, pid, "node must lead its own process group");

    let rt = ProcessRuntime::new(root.path().to_path_buf()).unwrap();
    assert_eq!(rt.status(&spec).await, NodeStatus::Ready);
    assert_eq!(rt.list_nodes().await.unwrap(), vec![spec.key.clone()]);
    rt.start(&spec).await.unwrap();
    wait_ready(&rt, &spec, READY_TIMEOUT).await.unwrap();
    assert_eq!(pid_of(&spec), pid, "re-adoption must keep the same process");
    assert_eq!(processes_on(spec.port), 1, "no second process");

    rt.remove(&spec).await.unwrap();
    assert!(port_closed(spec.port).await);
    assert!(rt.list_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn process_valkey_substitution_and_auth() {
    let root = tempfile::tempdir().unwrap();
    let rt = ProcessRuntime::new(root.path().to_path_buf()).unwrap();
    let mut spec = spec(root.path(), "process", EngineKind::Valkey, "8.0");
    let token = "s3cret-token-0123456789";
    spec.users = AclUsers(vec![AclUser {
        name: "default".into(),
        rules: ["on", &format!(">{token}"), "~*", "&*", "+@all"]
            .map(String::from)
            .to_vec(),
    }]);
    let info = rt.start(&spec).await.unwrap();
    let note = info
        .substitution
        .expect("valkey on this machine is substituted");
    assert!(note.contains("8.0"), "{note}");
    wait_ready(&rt, &spec, READY_TIMEOUT).await.unwrap();
    // Without the token the engine refuses commands.
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", spec.port)).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let r: redis::RedisResult<String> = redis::cmd("GET").arg("k").query_async(&mut c).await;
    assert!(r.is_err());
    // With it, it answers; the backend's own user too.
    let client = redis::Client::open(format!("redis://:{token}@127.0.0.1:{}/", spec.port)).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut c)
        .await
        .unwrap();
    // No secret on the command line or in the log; the files holding them are owner-only.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid_of(&spec))).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(!cmdline.contains(token), "{cmdline}");
    assert!(
        !cmdline.contains(elasticache_local::engine::admin_secret()),
        "{cmdline}"
    );
    for (f, mode) in [
        ("node.conf", 0o600),
        ("auth", 0o700),
        ("auth/users.acl", 0o600),
    ] {
        let m = std::fs::metadata(spec.data_dir.join(f)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
            mode,
            "{f}"
        );
    }
    rt.remove(&spec).await.unwrap();

    // A version the local binary does not have is reported too.
    let spec = spec_with_version(root.path(), EngineKind::Redis, "6.2");
    let info = rt.start(&spec).await.unwrap();
    let note = info.substitution.expect("6.2 is not the local redis");
    assert!(note.contains("for requested 6.2"), "{note}");
    rt.remove(&spec).await.unwrap();
}

fn spec_with_version(root: &Path, engine: EngineKind, version: &str) -> NodeSpec {
    spec(root, "process", engine, version)
}

const HELPER_ENV: &str = "ELASTICACHE_SIGKILL_HELPER";

/// Not a test on its own: when `ELASTICACHE_SIGKILL_HELPER=<root>|<key>|<port>` is
/// set, plays a backend that starts a node and then hangs until it is SIGKILLed
/// (see `process_node_survives_backend_sigkill`).
#[tokio::test]
async fn sigkill_helper() {
    let Ok(arg) = std::env::var(HELPER_ENV) else {
        return;
    };
    let mut parts = arg.split('|');
    let root = std::path::PathBuf::from(parts.next().unwrap());
    let key = parts.next().unwrap().to_string();
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let spec = NodeSpec {
        data_dir: root.join(&key),
        key,
        engine: EngineKind::Redis,
        version: "7.0".into(),
        host: std::net::Ipv4Addr::LOCALHOST,
        port,
        memory_bytes: MEMORY,
        config: vec![],
        users: AclUsers::default(),
        tls: false,
        plain_port: None,
    };
    // The backend's admin secret survives its restarts (a file under its data dir).
    elasticache_local::engine::load_admin_secret(&root.join("admin.secret")).unwrap();
    let rt = ProcessRuntime::new(root.clone()).unwrap();
    rt.start(&spec).await.unwrap();
    wait_ready(&rt, &spec, READY_TIMEOUT).await.unwrap();
    std::fs::write(root.join("helper-ready"), b"").unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test]
async fn process_node_survives_backend_sigkill() {
    let root = tempfile::tempdir().unwrap();
    let spec = NodeSpec {
        config: vec![],
        ..spec(root.path(), "process", EngineKind::Redis, "7.0")
    };
    // The "backend": this test binary running only `sigkill_helper`, in its own
    // process group so that we can SIGKILL the whole group like a shell would.
    std::fs::write(
        root.path().join("admin.secret"),
        elasticache_local::engine::admin_secret(),
    )
    .unwrap();
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap());
    helper
        .args(["engine::sigkill_helper", "--exact", "--test-threads=1"])
        .env(
            HELPER_ENV,
            format!("{}|{}|{}", root.path().display(), spec.key, spec.port),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut helper, 0);
    let mut helper = helper.spawn().unwrap();
    let marker = root.path().join("helper-ready");
    let deadline = Instant::now() + READY_TIMEOUT;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "helper never got its node ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = pid_of(&spec);
    let hpid = rustix::process::Pid::from_raw(i32::try_from(helper.id()).unwrap()).unwrap();
    rustix::process::kill_process_group(hpid, rustix::process::Signal::KILL).unwrap();
    let status = tokio::task::spawn_blocking(move || helper.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "helper should have been killed");

    // The node outlived its backend and is re-adopted by a new one.
    let rt = ProcessRuntime::new(root.path().to_path_buf()).unwrap();
    assert_eq!(rt.status(&spec).await, NodeStatus::Ready);
    assert_eq!(rt.list_nodes().await.unwrap(), vec![spec.key.clone()]);
    rt.start(&spec).await.unwrap();
    assert_eq!(pid_of(&spec), pid);
    assert_eq!(processes_on(spec.port), 1);
    rt.remove(&spec).await.unwrap();
    assert!(port_closed(spec.port).await);
    assert!(rt.list_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn process_start_failures_are_visible() {
    let root = tempfile::tempdir().unwrap();
    let rt = ProcessRuntime::new(root.path().to_path_buf()).unwrap();

    // Port taken by someone else: a clear error, no process.
    let spec = spec(root.path(), "process", EngineKind::Redis, "7.0");
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", spec.port)).unwrap();
    let err = rt.start(&spec).await.unwrap_err();
    assert!(format!("{err:#}").contains("already in use"), "{err:#}");
    assert_eq!(rt.status(&spec).await, NodeStatus::Stopped);
    rt.remove(&spec).await.unwrap();

    // A directive the engine rejects: the process exits and status says Stopped.
    let mut spec = self::spec(root.path(), "process", EngineKind::Redis, "7.0");
    spec.config = vec![("no-such-directive".into(), "1".into())];
    rt.start(&spec).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.status(&spec).await != NodeStatus::Stopped {
        assert!(
            Instant::now() < deadline,
            "bad config did not stop the engine"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = std::fs::read_to_string(spec.data_dir.join("engine.log")).unwrap();
    assert!(log.contains("no-such-directive"), "{log}");
    rt.remove(&spec).await.unwrap();
    assert!(!spec.data_dir.exists());
}
