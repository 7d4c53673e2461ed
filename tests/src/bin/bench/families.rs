//! Section 2, continued: the families issue 15 adds, on the process runtime,
//! each next to its engine floor: a TLS + AUTH 1+2 group, a user group's
//! change reaching every node, a serverless cache per engine and a
//! two-region global datastore (create, then replication lag).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use elasticache_local::engine::EngineKind;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::http::{form, xml_value, xml_values, Target};
use crate::procs::{wait_status, Backend};
use crate::stats::{ratio, secs, Series};
use crate::{Mode, Report};

const LIMIT: Duration = Duration::from_secs(180);
const TOKEN: &str = "a-bench-auth-token-0123";
const PW: &str = "a-bench-user-password-1";

/// Call and fail on anything but 200, with the API's code and message.
async fn call(target: &Target, body: &str) -> anyhow::Result<String> {
    let a = target.client().call(body).await?;
    let t = a.text();
    if !a.ok() {
        bail!(
            "{}: {}",
            xml_value(&t, "Code").unwrap_or_default(),
            xml_value(&t, "Message").unwrap_or_default()
        );
    }
    Ok(t)
}

/// Poll `body` until its answer holds `gone` (a not-found fault).
async fn wait_gone(target: &Target, body: &str, gone: &str) {
    let t0 = Instant::now();
    let mut c = target.client();
    while t0.elapsed() < Duration::from_secs(120) {
        match c.call(body).await {
            Ok(a) if a.text().contains(gone) => return,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn describe_group(id: &str) -> String {
    form("DescribeReplicationGroups", &[("ReplicationGroupId", id)])
}

async fn delete_group(target: &Target, id: &str) {
    let _ = call(
        target,
        &form("DeleteReplicationGroup", &[("ReplicationGroupId", id)]),
    )
    .await;
    wait_gone(target, &describe_group(id), "ReplicationGroupNotFoundFault").await;
}

/// A 1+2 group (optionally TLS with an AUTH token, or a user group), timed
/// from the create request to `available`.
async fn group_1_2(target: &Target, id: &str, extra: &[(&str, &str)]) -> anyhow::Result<Duration> {
    let mut p = vec![
        ("ReplicationGroupId", id),
        ("ReplicationGroupDescription", "bench"),
        ("Engine", "redis"),
        ("CacheNodeType", "cache.t3.micro"),
        ("NumCacheClusters", "3"),
    ];
    p.extend_from_slice(extra);
    let t0 = Instant::now();
    call(target, &form("CreateReplicationGroup", &p)).await?;
    wait_status(target, &describe_group(id), "Status", "available", LIMIT).await?;
    Ok(t0.elapsed())
}

/// Every node's (host, port) of a group, from its member clusters.
async fn node_endpoints(target: &Target, group: &str) -> anyhow::Result<Vec<(String, String)>> {
    let t = call(target, &describe_group(group)).await?;
    let members = xml_values(&t, "ClusterId");
    let mut out = Vec::new();
    for m in members {
        let t = call(
            target,
            &form(
                "DescribeCacheClusters",
                &[("CacheClusterId", &m), ("ShowCacheNodeInfo", "true")],
            ),
        )
        .await?;
        let nodes = t.find("<CacheNodes>").map_or("", |i| &t[i..]);
        let ep = nodes.find("<Endpoint>").map_or("", |i| &nodes[i..]);
        out.push((
            xml_value(ep, "Address").context("node address")?,
            xml_value(ep, "Port").context("node port")?,
        ));
    }
    if out.is_empty() {
        bail!("no member clusters in {group}");
    }
    Ok(out)
}

/// `AUTH user password` over TLS with `redis-cli`; true on `OK`.
fn auth_tls(ca: &Path, host: &str, port: &str, user: &str) -> bool {
    let Ok(mut child) = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", host, "-p", port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    if let Some(mut i) = child.stdin.take() {
        let _ = writeln!(i, "AUTH {user} {PW}");
    }
    child
        .wait_with_output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "OK")
}

/// One RESP command over plain TCP; the first line of its reply.
async fn resp(addr: SocketAddr, args: &[&str]) -> anyhow::Result<String> {
    let s = tokio::net::TcpStream::connect(addr).await?;
    let mut s = BufReader::new(s);
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        let _ = write!(req, "${}\r\n{a}\r\n", a.len());
    }
    s.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    s.read_line(&mut line).await?;
    if line.starts_with('$') && !line.starts_with("$-1") {
        let mut v = String::new();
        s.read_line(&mut v).await?;
        return Ok(v.trim_end().to_owned());
    }
    Ok(line.trim_end().to_owned())
}

/// A group's node group endpoint (`PrimaryEndpoint` or `ReaderEndpoint`).
fn endpoint(xml: &str, which: &str) -> anyhow::Result<SocketAddr> {
    let at = xml
        .find(&format!("<{which}>"))
        .with_context(|| format!("no {which}"))?;
    let e = &xml[at..];
    let host = xml_value(e, "Address").context("address")?;
    let port = xml_value(e, "Port").context("port")?;
    let ip = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    Ok(format!("{ip}:{port}").parse()?)
}

struct Out {
    md: String,
    goals: Vec<(String, String)>,
}

impl Out {
    fn row(&mut self, what: &str, ours: &Series, floor: Option<&Series>, note: &str) {
        let f = floor.map_or("–".to_owned(), Series::fmt_secs);
        let r = floor.map_or("–".to_owned(), |f| ratio(ours.median(), f.median()));
        let line = format!("| {what} | {} | {f} | {r} | {note} |", ours.fmt_secs());
        eprintln!("bench: families {line}");
        let _ = writeln!(self.md, "{line}");
    }

    fn failed(&mut self, what: &str, e: &anyhow::Error) {
        let line = format!(
            "| {what} | failed: {} | – | – | |",
            format!("{e:#}").replace('|', "/")
        );
        eprintln!("bench: families {line}");
        let _ = writeln!(self.md, "{line}");
        self.goals.push((what.to_owned(), format!("failed: {e:#}")));
    }
}

/// The families on the process runtime; `plain` is the plain 1+2 group's
/// create→available (section 2's row) and `floor` the floor of `n` Redis
/// nodes, both for the comparisons.
pub async fn run(mode: Mode, rep: &mut Report, plain: Option<f64>) -> anyhow::Result<String> {
    let (reps, floor_reps) = match mode {
        Mode::Quick => (1, 3),
        Mode::Full => (5, 10),
    };
    let floor = |kind: EngineKind, n: usize| crate::lifecycle::floor_series(kind, n, floor_reps);
    let be = Backend::start("process").await?;
    let east = be.target();
    let ca = be.data.join("tls/ca.pem");
    let mut out = Out {
        md: String::new(),
        goals: Vec::new(),
    };
    let _ = writeln!(
        out.md,
        "\n#### New families (issue 15)\n\nProcess runtime only (median of {reps}, spread min–max; the \
         Docker runtime is not measured for them). Floors as above: as many bare engines as the \
         resource runs, spawned at once, until each answers (`redis-server` for Valkey too).\n"
    );
    let _ = writeln!(out.md, "| family | ours | floor | ratio to floor | note |");
    let _ = writeln!(out.md, "|---|---:|---:|---:|---|");

    // (a) TLS + AUTH 1+2 group.
    let what = "TLS + AUTH group 1+2: create→available";
    let mut tls = Series::default();
    let mut err = None;
    for r in 0..reps {
        let id = format!("bench-tls-{r}");
        match group_1_2(
            &east,
            &id,
            &[("TransitEncryptionEnabled", "true"), ("AuthToken", TOKEN)],
        )
        .await
        {
            Ok(d) => tls.push_dur(d),
            Err(e) => err = Some(e),
        }
        delete_group(&east, &id).await;
    }
    if let (true, Some(e)) = (tls.is_empty(), &err) {
        out.failed(what, e);
    } else {
        let fl = floor(EngineKind::Redis, 3).await;
        let per_node = tls.median().zip(plain).map(|(t, p)| (t - p) / 3.0);
        let note = format!(
            "TLS cost per node, (this − the plain 1+2 group's {}) ÷ 3: {}",
            plain.map_or("–".into(), secs),
            per_node.map_or("–".into(), |d| {
                if d < 0.0 {
                    format!("−{}", secs(-d))
                } else {
                    secs(d)
                }
            })
        );
        out.row(what, &tls, Some(&fl), &note);
        out.goals.push((
            what.to_owned(),
            format!(
                "{} (floor {}: {}); {note}",
                tls.fmt_secs(),
                fl.median().map_or("–".into(), secs),
                ratio(tls.median(), fl.median())
            ),
        ));
    }

    // (b) A user added to a user group, until it can AUTH on every node of a 1+2 group.
    let what =
        "User group change (ModifyUserGroup adding a user) → AUTH on every node of a 1+2 group";
    match user_group_change(&east, &ca, reps).await {
        Ok(s) => {
            out.row(what, &s, None, "TLS group; `redis-cli --tls` on each node");
            out.goals.push((what.to_owned(), s.fmt_secs()));
        }
        Err(e) => out.failed(what, &e),
    }

    // (c) A serverless cache per engine.
    for engine in ["redis", "valkey", "memcached"] {
        let what = format!("Serverless cache ({engine}): CreateServerlessCache → available");
        let mut s = Series::default();
        let mut err = None;
        for r in 0..reps {
            let name = format!("bench-sls-{engine}-{r}");
            let t0 = Instant::now();
            let res = async {
                call(
                    &east,
                    &form(
                        "CreateServerlessCache",
                        &[("ServerlessCacheName", &name), ("Engine", engine)],
                    ),
                )
                .await?;
                wait_status(
                    &east,
                    &form(
                        "DescribeServerlessCaches",
                        &[("ServerlessCacheName", &name)],
                    ),
                    "Status",
                    "available",
                    LIMIT,
                )
                .await
            }
            .await;
            match res {
                Ok(_) => s.push_dur(t0.elapsed()),
                Err(e) => err = Some(e),
            }
            let _ = call(
                &east,
                &form("DeleteServerlessCache", &[("ServerlessCacheName", &name)]),
            )
            .await;
            wait_gone(
                &east,
                &form(
                    "DescribeServerlessCaches",
                    &[("ServerlessCacheName", &name)],
                ),
                "ServerlessCacheNotFoundFault",
            )
            .await;
        }
        if let (true, Some(e)) = (s.is_empty(), &err) {
            out.failed(&what, e);
            continue;
        }
        // A Redis or Valkey cache runs a primary and a replica, Memcached one node.
        let (kind, nodes) = if engine == "memcached" {
            (EngineKind::Memcached, 1)
        } else {
            (EngineKind::Redis, 2)
        };
        let fl = floor(kind, nodes).await;
        out.row(&what, &s, Some(&fl), &format!("{nodes} engine(s)"));
        out.goals.push((
            what.clone(),
            format!(
                "{} (floor {}: {})",
                s.fmt_secs(),
                fl.median().map_or("–".into(), secs),
                ratio(s.median(), fl.median())
            ),
        ));
    }

    // (d) A two-region global datastore.
    let what = "Global datastore, 2 regions: create → both groups available";
    match global(&east, reps).await {
        Ok((create, lag)) => {
            let fl = floor(EngineKind::Redis, 4).await;
            out.row(
                what,
                &create,
                Some(&fl),
                "a 1+1 primary group in us-east-1 (made first, not timed), CreateGlobalReplicationGroup, \
                 then the secondary 1+1 group in us-west-2",
            );
            out.row(
                "Global datastore: replication lag, primary endpoint → secondary reader endpoint",
                &lag,
                None,
                "a key SET, then GET every 1 ms until it reads; median over the keys",
            );
            out.goals.push((
                what.to_owned(),
                format!(
                    "{} (floor of 4 nodes {}: {})",
                    create.fmt_secs(),
                    fl.median().map_or("–".into(), secs),
                    ratio(create.median(), fl.median())
                ),
            ));
            out.goals.push((
                "Global datastore: cross-region replication lag (median over keys)".to_owned(),
                lag.fmt_secs(),
            ));
        }
        Err(e) => out.failed(what, &e),
    }
    drop(be);
    for (t, m) in out.goals {
        rep.goal(crate::order::FAMILIES, &t, m, None);
    }
    Ok(out.md)
}

async fn user_group_change(target: &Target, ca: &Path, reps: usize) -> anyhow::Result<Series> {
    let user = |id: &str, name: &str, access: &str| {
        form(
            "CreateUser",
            &[
                ("UserId", id),
                ("UserName", name),
                ("Engine", "redis"),
                ("AccessString", access),
                ("Passwords.member.1", PW),
            ],
        )
    };
    call(target, &user("bench-dflt", "default", "on ~* +@all")).await?;
    call(target, &user("bench-app", "bench-app", "on ~* +@all")).await?;
    call(
        target,
        &form(
            "CreateUserGroup",
            &[
                ("UserGroupId", "bench-ug"),
                ("Engine", "redis"),
                ("UserIds.member.1", "bench-dflt"),
                ("UserIds.member.2", "bench-app"),
            ],
        ),
    )
    .await?;
    let ug = form("DescribeUserGroups", &[("UserGroupId", "bench-ug")]);
    wait_status(target, &ug, "Status", "active", LIMIT).await?;
    group_1_2(
        target,
        "bench-rbac",
        &[
            ("TransitEncryptionEnabled", "true"),
            ("UserGroupIds.member.1", "bench-ug"),
        ],
    )
    .await?;
    let nodes = node_endpoints(target, "bench-rbac").await?;
    let mut s = Series::default();
    for r in 0..reps {
        let id = format!("bench-new-{r}");
        call(target, &user(&id, &id, "on ~* +@all")).await?;
        wait_status(
            target,
            &form("DescribeUsers", &[("UserId", &id)]),
            "Status",
            "active",
            LIMIT,
        )
        .await?;
        let t0 = Instant::now();
        call(
            target,
            &form(
                "ModifyUserGroup",
                &[("UserGroupId", "bench-ug"), ("UserIdsToAdd.member.1", &id)],
            ),
        )
        .await?;
        let mut left: Vec<&(String, String)> = nodes.iter().collect();
        while !left.is_empty() {
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("{id} could not AUTH on {} node(s) after 60 s", left.len());
            }
            let (ca, id2) = (ca.to_path_buf(), id.clone());
            let todo: Vec<(String, String)> = left.iter().map(|n| (*n).clone()).collect();
            let ok = tokio::task::spawn_blocking(move || {
                todo.iter()
                    .map(|(h, p)| auth_tls(&ca, h, p, &id2))
                    .collect::<Vec<_>>()
            })
            .await?;
            left = left
                .into_iter()
                .zip(ok)
                .filter(|(_, ok)| !ok)
                .map(|(n, _)| n)
                .collect();
        }
        s.push_dur(t0.elapsed());
        wait_status(target, &ug, "Status", "active", LIMIT).await?;
    }
    delete_group(target, "bench-rbac").await;
    Ok(s)
}

/// Create→both available, and the replication lag over several keys.
async fn global(east: &Target, reps: usize) -> anyhow::Result<(Series, Series)> {
    let west = east.in_region("us-west-2");
    let mut create = Series::default();
    let mut lag = Series::default();
    for r in 0..reps {
        let (p, s) = (format!("bench-gp-{r}"), format!("bench-gs-{r}"));
        call(
            east,
            &form(
                "CreateReplicationGroup",
                &[
                    ("ReplicationGroupId", &p),
                    ("ReplicationGroupDescription", "bench"),
                    ("Engine", "redis"),
                    ("CacheNodeType", "cache.m5.large"),
                    ("NumCacheClusters", "2"),
                    ("AutomaticFailoverEnabled", "true"),
                ],
            ),
        )
        .await?;
        wait_status(east, &describe_group(&p), "Status", "available", LIMIT).await?;
        let t0 = Instant::now();
        let t = call(
            east,
            &form(
                "CreateGlobalReplicationGroup",
                &[
                    ("GlobalReplicationGroupIdSuffix", &format!("bench{r}")),
                    ("PrimaryReplicationGroupId", &p),
                ],
            ),
        )
        .await?;
        let gid = xml_value(&t, "GlobalReplicationGroupId").context("global id")?;
        let dg = form(
            "DescribeGlobalReplicationGroups",
            &[("GlobalReplicationGroupId", &gid)],
        );
        wait_status(east, &dg, "Status", "primary-only", LIMIT).await?;
        call(
            &west,
            &form(
                "CreateReplicationGroup",
                &[
                    ("ReplicationGroupId", &s),
                    ("ReplicationGroupDescription", "bench"),
                    ("GlobalReplicationGroupId", &gid),
                ],
            ),
        )
        .await?;
        wait_status(&west, &describe_group(&s), "Status", "available", LIMIT).await?;
        wait_status(east, &describe_group(&p), "Status", "available", LIMIT).await?;
        create.push_dur(t0.elapsed());

        let pt = call(east, &describe_group(&p)).await?;
        let st = call(&west, &describe_group(&s)).await?;
        let (primary, reader) = (
            endpoint(&pt, "PrimaryEndpoint")?,
            endpoint(&st, "ReaderEndpoint")?,
        );
        for k in 0..10 {
            let key = format!("bench:{r}:{k}");
            let val = format!("v{k}");
            let t0 = Instant::now();
            let ok = resp(primary, &["SET", &key, &val]).await?;
            if ok != "+OK" {
                bail!("SET on the primary: {ok}");
            }
            loop {
                if resp(reader, &["GET", &key]).await.is_ok_and(|v| v == val) {
                    lag.push_dur(t0.elapsed());
                    break;
                }
                if t0.elapsed() > Duration::from_secs(30) {
                    bail!("{key} did not reach the secondary in 30 s");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // Leave: the secondary first, then the datastore, then the primary.
        let _ = call(
            east,
            &form(
                "DisassociateGlobalReplicationGroup",
                &[
                    ("GlobalReplicationGroupId", &gid),
                    ("ReplicationGroupId", &s),
                    ("ReplicationGroupRegion", "us-west-2"),
                ],
            ),
        )
        .await;
        wait_status(east, &dg, "Status", "primary-only", LIMIT)
            .await
            .ok();
        delete_group(&west, &s).await;
        let _ = call(
            east,
            &form(
                "DeleteGlobalReplicationGroup",
                &[
                    ("GlobalReplicationGroupId", &gid),
                    ("RetainPrimaryReplicationGroup", "false"),
                ],
            ),
        )
        .await;
        wait_gone(east, &dg, "GlobalReplicationGroupNotFoundFault").await;
        delete_group(east, &p).await;
    }
    Ok((create, lag))
}
