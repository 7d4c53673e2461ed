//! TLS in transit: the backend's certificate authority, as clients fetch it.

use std::io::{Read, Write};

use crate::common::Backend;

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
