//! Drill 6, secrets: a workload with AUTH tokens and user passwords (and
//! requests refused for a bad token or password), then a search for those
//! secrets in every log the backend and its engines wrote, in the events, the
//! error messages, every describe answer as sent on the wire, the
//! `/_elasticache/` answers and the processes' command lines: 0 hits. Keys and
//! the database are owner-only; everything listens on loopback.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::types::AuthTokenUpdateStrategyType;

use crate::harness::{self, Backend};

/// A raw request on the wire (the backend verifies no signature by default):
/// the answer's status line, headers and body as text.
fn raw(port: u16, method: &str, path: &str, body: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Every file under `dir` whose name ends in `.log`.
fn logs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            logs_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            out.push(p);
        }
    }
}

/// The addresses the process `pid` listens on (TCP, from /proc).
fn listening(pid: u32) -> Vec<String> {
    let mut inodes = std::collections::HashSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(l) = std::fs::read_link(e.path()) {
            let l = l.to_string_lossy().into_owned();
            if let Some(i) = l.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(i.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let (addr, port) = f[1].split_once(':').unwrap();
            let port = u16::from_str_radix(port, 16).unwrap();
            let ip = if v6 {
                format!("[{addr}]")
            } else {
                let n = u32::from_str_radix(addr, 16).unwrap();
                std::net::Ipv4Addr::from(n.swap_bytes()).to_string()
            };
            out.push(format!("{ip}:{port}"));
        }
    }
    out
}

fn is_loopback(addr: &str) -> bool {
    addr.starts_with("127.")
        || addr.starts_with("[00000000000000000000000001000000]")
        || addr.starts_with("[0000000000000000FFFF00000100007F]")
}

pub struct Found {
    /// Where a secret showed up (file or answer, and which secret).
    pub leaks: Vec<String>,
    /// Files that should be owner-only and are not.
    pub modes: Vec<String>,
    /// Listening sockets not on loopback.
    pub exposed: Vec<String>,
    /// How many texts were searched, and their total size.
    pub searched: (usize, usize),
}

pub async fn run(runtime: &str) -> Found {
    let tmp = tempfile::Builder::new()
        .prefix("ec-secrets-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut b = Backend::new(runtime, &data, &[]);
    b.start();
    let c = b.client();
    let tag = format!(
        "{:08x}",
        harness::Rng::new(harness::Rng::seed_from_env()).next() as u32
    );
    let token1 = format!("DrillToken1-{tag}-abcdefgh");
    let token2 = format!("DrillToken2-{tag}-ijklmnop");
    let bad_token = format!("DrillBadToken-{tag}/refused");
    let pw1 = format!("DrillPassword1-{tag}-xyz");
    let pw2 = format!("DrillPassword2-{tag}-uvw");
    let bad_pw = format!("DrillBadPw-{tag}-{}", "x".repeat(130));
    let secrets = [&token1, &token2, &bad_token, &pw1, &pw2, &bad_pw];
    let (g, u, ug) = (
        format!("sec{tag}"),
        format!("secu{tag}"),
        format!("secug{tag}"),
    );
    let mut texts: Vec<(String, String)> = Vec::new();

    c.create_replication_group()
        .replication_group_id(&g)
        .replication_group_description("secrets drill")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .num_cache_clusters(2)
        .transit_encryption_enabled(true)
        .auth_token(&token1)
        .send()
        .await
        .unwrap();
    wait_group(&c, &g).await;
    c.modify_replication_group()
        .replication_group_id(&g)
        .auth_token(&token2)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_group(&c, &g).await;
    c.create_user()
        .user_id(&u)
        .user_name(&u)
        .engine("redis")
        .passwords(&pw1)
        .access_string("on ~* +@all")
        .send()
        .await
        .unwrap();
    c.modify_user()
        .user_id(&u)
        .passwords(&pw2)
        .send()
        .await
        .unwrap();
    c.create_user_group()
        .user_group_id(&ug)
        .engine("redis")
        .user_ids("default")
        .user_ids(&u)
        .send()
        .await
        .unwrap();
    // Refused requests: their error messages must not repeat the secret.
    let e = c
        .create_replication_group()
        .replication_group_id(format!("{g}x"))
        .replication_group_description("bad token")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .transit_encryption_enabled(true)
        .auth_token(&bad_token)
        .send()
        .await
        .expect_err("a token with '/' is refused");
    texts.push(("error (bad token)".into(), format!("{e:?}")));
    let e = c
        .create_user()
        .user_id(format!("{u}x"))
        .user_name(format!("{u}x"))
        .engine("redis")
        .passwords(&bad_pw)
        .access_string("on ~* +@all")
        .send()
        .await
        .expect_err("a password of more than 128 characters is refused");
    texts.push(("error (bad password)".into(), format!("{e:?}")));
    let e = c
        .modify_replication_group()
        .replication_group_id(&g)
        .auth_token(&bad_token)
        .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
        .apply_immediately(true)
        .send()
        .await
        .expect_err("a token with '/' is refused");
    texts.push(("error (bad rotation)".into(), format!("{e:?}")));
    // A snapshot and a crash with a restart: the secrets go through the
    // store, the snapshot and re-adoption too.
    c.create_snapshot()
        .replication_group_id(&g)
        .snapshot_name(format!("{g}-snap"))
        .send()
        .await
        .unwrap();
    wait_group(&c, &g).await;
    b.kill();
    b.start();
    let c = b.client();
    wait_group(&c, &g).await;

    // Every answer as sent on the wire.
    for body in [
        "Action=DescribeReplicationGroups",
        "Action=DescribeCacheClusters&ShowCacheNodeInfo=true",
        "Action=DescribeUsers",
        "Action=DescribeUserGroups",
        "Action=DescribeSnapshots",
        "Action=DescribeEvents&Duration=20160",
        "Action=DescribeEvents&Duration=20160&SourceType=replication-group",
        "Action=DescribeEvents&Duration=20160&SourceType=user",
        "Action=DescribeEvents&Duration=20160&SourceType=cache-cluster",
        &format!("Action=CreateUser&UserId=x{tag}&UserName=x{tag}&Engine=redis&AccessString=on&Passwords.member.1={bad_pw}"),
        &format!("Action=ModifyReplicationGroup&ReplicationGroupId={g}&AuthToken={bad_token}&AuthTokenUpdateStrategy=ROTATE&ApplyImmediately=true"),
    ] {
        texts.push((
            format!("answer to {}", body.split('&').next().unwrap()),
            raw(b.port, "POST", "/", &format!("{body}&Version=2015-02-02")),
        ));
    }
    for path in ["/_elasticache/ca.pem", "/_health"] {
        texts.push((
            format!("answer to GET {path}"),
            raw(b.port, "GET", path, ""),
        ));
    }
    // Command lines of the backend and its engines.
    let mut pids: Vec<u32> = harness::engines_under(&data)
        .iter()
        .map(|e| u32::try_from(e.pid).unwrap())
        .collect();
    pids.extend(b.pid());
    for pid in &pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        texts.push((
            format!("command line of pid {pid}"),
            String::from_utf8_lossy(&cmd).replace('\0', " "),
        ));
    }
    // Listening sockets: loopback only.
    let mut exposed = Vec::new();
    for pid in &pids {
        for a in listening(*pid) {
            if !is_loopback(&a) {
                exposed.push(format!("pid {pid} listens on {a}"));
            }
        }
    }
    b.kill();
    // Every log: the backend's (one per start) and the engines'.
    let mut logs = b.logs.clone();
    logs_under(&data, &mut logs);
    for l in &logs {
        texts.push((
            format!("log {}", l.display()),
            String::from_utf8_lossy(&std::fs::read(l).unwrap_or_default()).into_owned(),
        ));
    }
    // The search is not blind: the logs and answers name what the secrets
    // belong to.
    for (kind, name) in [("log", &g), ("answer to Action=DescribeUsers", &u)] {
        assert!(
            texts
                .iter()
                .any(|(w, t)| w.starts_with(kind) && t.contains(name.as_str())),
            "no {kind} mentions {name}"
        );
    }
    let mut leaks = Vec::new();
    let mut size = 0;
    for (what, text) in &texts {
        size += text.len();
        for (i, s) in secrets.iter().enumerate() {
            if text.contains(s.as_str()) {
                leaks.push(format!("secret #{i} in {what}"));
            }
        }
    }
    // Owner-only: the database, the keys, the secrets' files.
    let mut modes = Vec::new();
    let mut check = |p: &Path, want: u32| {
        if let Ok(m) = std::fs::metadata(p) {
            let mode = m.permissions().mode() & 0o777;
            if mode & !want != 0 {
                modes.push(format!(
                    "{} is {mode:o}, wants at most {want:o}",
                    p.display()
                ));
            }
        }
    };
    check(&data.join("state.redb"), 0o600);
    check(&data.join("admin.secret"), 0o600);
    let mut files = Vec::new();
    all_files(&data, &mut files);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        if name.ends_with(".key") || name == "node.conf" {
            check(f, 0o600);
        }
        // The engine rewrites its ACL file with a mode of its own (`ACL
        // SAVE`): the directory it lies in is what keeps it owner-only.
        if f.parent().is_some_and(|d| d.ends_with("auth")) {
            check(f.parent().unwrap(), 0o700);
        }
    }
    drop(b);
    if runtime == "docker" {
        harness::remove_containers(&g);
    }
    Found {
        leaks,
        modes,
        exposed,
        searched: (texts.len(), size),
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

async fn wait_group(c: &aws_sdk_elasticache::Client, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = c
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            if r.replication_groups()[0].status() == Some("available") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{id} did not become available");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
