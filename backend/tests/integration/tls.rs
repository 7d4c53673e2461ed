//! TLS in transit: the backend's certificate authority, as clients fetch it, and
//! engines that serve TLS only.

use std::io::{Read, Write};

use elasticache_local::engine::docker::DockerRuntime;
use elasticache_local::engine::images::ImageTable;
use elasticache_local::engine::process::ProcessRuntime;
use elasticache_local::engine::{
    free_loopback, free_port, resp, wait_ready, EngineKind, EngineRuntime, NodeSpec,
};
use elasticache_local::tls::Authority;

use crate::common::{runtimes, Backend};

/// `GET path` on the backend: status line and body.
fn get(be: &Backend, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", be.port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[test]
fn the_certificate_authority_is_served_and_kept_across_restarts() {
    let mut be = Backend::start("process");
    let (status, pem) = get(&be, "/_elasticache/ca.pem");
    assert!(status.contains("200"), "{status}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let on_disk = std::fs::read_to_string(be.data_dir.join("tls/ca.pem")).unwrap();
    assert_eq!(pem, on_disk);
    let key = std::fs::metadata(be.data_dir.join("tls/ca.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o077,
        0,
        "the CA key is readable by its owner only"
    );
    assert!(!be.log_text().contains("PRIVATE KEY"), "no key in the log");

    be.kill();
    let again = Backend::start_in("process", &be.data_dir, be.port);
    assert_eq!(
        get(&again, "/_elasticache/ca.pem").1,
        pem,
        "same CA after a restart"
    );
}

/// The runtime a test names (`process` or `docker`).
async fn engine_runtime(rt: &str, root: &std::path::Path) -> std::sync::Arc<dyn EngineRuntime> {
    match rt {
        "docker" => std::sync::Arc::new(
            DockerRuntime::connect(ImageTable::from_env().unwrap())
                .await
                .unwrap(),
        ),
        _ => std::sync::Arc::new(ProcessRuntime::new(root.to_path_buf()).unwrap()),
    }
}

/// Nodes with transit encryption serve TLS only, with a certificate from the
/// backend's CA that names the node's address: our client, `redis-cli --tls
/// --cacert` and a memcached `version` over TLS get in; plaintext does not.
#[tokio::test]
async fn tls_nodes_serve_only_tls_with_a_certificate_from_the_backends_ca() {
    let root = tempfile::tempdir().unwrap();
    let ca = Authority::load_or_create(&root.path().join("ca")).unwrap();
    resp::trust(ca.ca_pem()).unwrap();
    let ca_file = root.path().join("ca/ca.pem");
    for rt_name in runtimes() {
        let rt = engine_runtime(&rt_name, root.path()).await;
        for engine in [EngineKind::Redis, EngineKind::Memcached] {
            let port = free_port().unwrap();
            let host = free_loopback(port, &[]).unwrap_or(std::net::Ipv4Addr::LOCALHOST);
            let key = format!(
                "tls-{rt_name}-{}-{}",
                engine.as_str(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            );
            let spec = NodeSpec {
                data_dir: root.path().join(&key),
                key,
                engine,
                version: if engine == EngineKind::Memcached {
                    "1.6.18"
                } else {
                    "7.0"
                }
                .into(),
                host,
                port,
                memory_bytes: 64 << 20,
                config: vec![],
                users: Default::default(),
                tls: true,
                plain_port: None,
            };
            ca.write_node_files(&spec.data_dir, &[host.to_string()])
                .unwrap();
            rt.start(&spec).await.unwrap();
            wait_ready(rt.as_ref(), &spec, std::time::Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("{rt_name} {}: {e:#}", engine.as_str()));
            match engine {
                EngineKind::Memcached => {
                    let v = resp::memcached_version(host, port, true).await.unwrap();
                    assert!(v.starts_with("1."), "{v}");
                    assert!(
                        resp::memcached_version(host, port, false).await.is_err(),
                        "plaintext memcached answered on {rt_name}"
                    );
                }
                _ => {
                    let out = std::process::Command::new("redis-cli")
                        .args(["--tls", "--cacert"])
                        .arg(&ca_file)
                        .args(["-h", &host.to_string(), "-p", &port.to_string(), "PING"])
                        .output()
                        .unwrap();
                    assert_eq!(
                        String::from_utf8_lossy(&out.stdout).trim(),
                        "PONG",
                        "redis-cli --tls on {rt_name}: {out:?}"
                    );
                    let mut plain = resp::Conn::connect(host, port).await.unwrap();
                    assert!(
                        plain.cmd(&["PING"]).await.is_err(),
                        "plaintext PING answered on {rt_name}"
                    );
                }
            }
            rt.remove(&spec).await.unwrap();
        }
    }
}
