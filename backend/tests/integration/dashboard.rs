//! The dashboard and the introspection API under it (`/_elasticache/...`), as a
//! person and a script use them: real engines, a real HTTP client (curl), the
//! page in a real browser (headless Debian `chromium`: `--dump-dom` of the
//! server-rendered page, then a live session through `chromedriver` in which
//! the page's own button sends TestFailover). The screenshot is kept at
//! `$TEST_WORK/dashboard/dashboard.png` (else under `CARGO_TARGET_TMPDIR`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{eventually, name, wait_cluster, Backend};

const AUTH_TOKEN: &str = "dashboard-token-0123456789";
const PASSWORD: &str = "dashboard-password-0123456789";

/// `GET path` with curl: the status and the body.
fn get(b: &Backend, path: &str, accept: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}"]);
    if let Some(a) = accept {
        cmd.args(["-H", &format!("Accept: {a}")]);
    }
    let out = cmd.arg(format!("{}{path}", b.endpoint())).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap(), body.to_owned())
}

fn json(b: &Backend, path: &str) -> Value {
    let (status, body) = get(b, path, None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Where this test keeps what a person would look at (the screenshot).
fn output_dir() -> PathBuf {
    let root = std::env::var_os("TEST_WORK")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    let dir = root.join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium with a fresh profile: `--dump-dom` of `url`, or a
/// screenshot into `shot`.
fn chromium(url: &str, profile: &Path, shot: Option<&Path>) -> String {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "90",
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1300",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match shot {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(url)
        .output()
        .expect("chromium (Debian package `chromium`)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The role the page shows for node `cluster/0001`.
fn shown_role(dom: &str, cluster: &str) -> Option<String> {
    let key = format!(r#"data-node="{cluster}/0001" data-role=""#);
    let at = dom.find(&key)? + key.len();
    Some(dom[at..].split('"').next()?.to_owned())
}

async fn wait_group(c: &aws_sdk_elasticache::Client, id: &str) {
    eventually(
        &format!("{id} available"),
        Duration::from_secs(120),
        || async {
            let r = c
                .describe_replication_groups()
                .replication_group_id(id)
                .send()
                .await
                .ok()?;
            (r.replication_groups()[0].status() == Some("available")).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn dashboard_shows_topology_figures_and_failovers_in_a_browser() {
    let b = Backend::start("process");
    let c = b.client();
    let (cm, mc, tls) = (name("dash"), name("dmc"), name("dtls"));
    // A 3×(1+2) cluster-mode group, a Memcached cluster, and a group and a user
    // with secrets that must never show.
    c.create_replication_group()
        .replication_group_id(&cm)
        .replication_group_description("dashboard")
        .engine("redis")
        .cache_node_type("cache.t3.micro")
        .cache_parameter_group_name("default.redis7.cluster.on")
        .num_node_groups(3)
        .replicas_per_node_group(2)
        .automatic_failover_enabled(true)
        .send()
        .await
        .unwrap();
    c.create_cache_cluster()
        .cache_cluster_id(&mc)
        .engine("memcached")
        .cache_node_type("cache.t3.micro")
        .num_cache_nodes(2)
        .send()
        .await
        .unwrap();
    c.create_replication_group()
        .replication_group_id(&tls)
        .replication_group_description("secret")
        .engine("redis")
        .cache_node_type("cache.m5.large")
        .num_cache_clusters(2)
        .automatic_failover_enabled(true)
        .transit_encryption_enabled(true)
        .auth_token(AUTH_TOKEN)
        .send()
        .await
        .unwrap();
    c.create_user()
        .user_id("dash-user")
        .user_name("dash-user")
        .engine("redis")
        .access_string("on ~* +@all")
        .passwords(PASSWORD)
        .send()
        .await
        .unwrap();
    wait_group(&c, &cm).await;
    wait_group(&c, &tls).await;
    wait_cluster(&c, &mc, "available").await;
    // The TLS group as a global datastore's primary.
    c.create_global_replication_group()
        .global_replication_group_id_suffix("dash")
        .primary_replication_group_id(&tls)
        .send()
        .await
        .unwrap();

    // The JSON API: every account and region, then one in full.
    let overview = json(&b, "/_elasticache/regions");
    let regions = overview["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 1, "{overview}");
    assert_eq!(regions[0]["replication_groups"], 2);
    assert_eq!(regions[0]["cache_clusters"], 1);
    let (status, body) = get(&b, "/_elasticache/regions/000000000000/eu-west-3", None);
    assert_eq!(status, 404, "{body}");

    let region = eventually(
        "every node's figures and links",
        Duration::from_secs(120),
        || async {
            let r = json(&b, "/_elasticache/regions/000000000000/us-east-1");
            let g = r["replication_groups"]
                .as_array()?
                .iter()
                .find(|g| g["id"] == cm.as_str())?
                .clone();
            let settled = g["shards"].as_array()?.iter().all(|s| {
                s["members"].as_array().is_some_and(|ms| {
                    ms.iter().all(|m| {
                        m["figures"]["answering"] == true
                            && (m["role"] == "primary" || m["figures"]["link_status"] == "up")
                    })
                })
            });
            settled.then_some(r)
        },
    )
    .await;
    let text = region.to_string();
    assert!(!text.contains(AUTH_TOKEN), "a token in the JSON: {text}");
    assert!(!text.contains(PASSWORD), "a password in the JSON");
    assert!(!text.contains("sls--"), "a hidden resource in the JSON");
    let group = region["replication_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == cm.as_str())
        .unwrap();
    assert_eq!(group["cluster_mode"], true);
    assert!(group["configuration_endpoint"]["port"].is_u64());
    let shards = group["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    let slots: Vec<&str> = shards
        .iter()
        .map(|s| s["slots"].as_str().unwrap())
        .collect();
    assert_eq!(slots, ["0-5461", "5462-10922", "10923-16383"]);
    for s in shards {
        let members = s["members"].as_array().unwrap();
        assert_eq!(members.len(), 3, "{s}");
        assert_eq!(members[0]["role"], "primary");
        assert_eq!(members[0]["figures"]["engine_role"], "master");
        assert_eq!(members[0]["cache_cluster_id"], s["primary"]);
        for m in &members[1..] {
            assert_eq!(m["role"], "replica");
            assert_eq!(m["figures"]["engine_role"], "slave");
            assert!(m["lag_bytes"].is_u64(), "{m}");
        }
        for m in members {
            let f = &m["figures"];
            assert!(
                f["ops_per_sec"].is_number() && f["keys"].is_u64() && f["clients"].is_u64(),
                "{m}"
            );
            assert!(f["used_memory_bytes"].as_u64().unwrap() > 0);
            assert_eq!(
                f["maxmemory_bytes"], 536_870_912,
                "cache.t3.micro's maxmemory"
            );
        }
    }
    let memcached = &region["cache_clusters"][0];
    assert_eq!(memcached["id"], mc.as_str());
    assert!(memcached["configuration_endpoint"]["port"].is_u64());
    assert_eq!(memcached["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(memcached["nodes"][0]["figures"]["answering"], true);
    let tls_group = region["replication_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == tls.as_str())
        .unwrap();
    assert_eq!(tls_group["auth_token_enabled"], true);
    assert_eq!(
        tls_group["shards"][0]["members"][0]["figures"]["answering"], true,
        "read over TLS"
    );
    assert_eq!(
        region["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["id"] == "dash-user")
            .count(),
        1
    );
    assert!(region["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["source_id"] == cm.as_str()));
    let global = &region["global_datastores"][0];
    assert!(
        global["id"].as_str().unwrap().ends_with("-dash"),
        "{global}"
    );
    assert_eq!(global["members"][0]["role"], "PRIMARY");
    assert_eq!(global["members"][0]["replication_group_id"], tls.as_str());

    // Events: after a sequence number, and live as server-sent events.
    let events = json(&b, "/_elasticache/events?after=0");
    let last = events.as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    let newer = json(&b, &format!("/_elasticache/events?after={last}"));
    assert_eq!(newer.as_array().unwrap().len(), 0, "{newer}");
    let out = Command::new("curl")
        .args(["-sN", "--max-time", "2"])
        .arg(format!("{}/_elasticache/events/stream", b.endpoint()))
        .output()
        .unwrap();
    let stream = String::from_utf8_lossy(&out.stdout);
    assert!(
        stream.contains("id: 1\n") && stream.contains(&format!("\"source_id\":\"{cm}\"")),
        "{stream}"
    );

    // A browser: `/` is the page, every node with its role, the figures.
    let (status, html) = get(&b, "/", Some("text/html,application/xhtml+xml"));
    assert_eq!(status, 200);
    assert!(html.contains("/_elasticache/dashboard.js"));
    assert!(!html.contains(AUTH_TOKEN) && !html.contains(PASSWORD));
    let (status, script) = get(&b, "/_elasticache/dashboard.js", None);
    assert!(status == 200 && script.contains("EventSource"));
    let (status, xml) = get(&b, "/?Action=DescribeCacheClusters", None);
    assert!(
        status == 200 && xml.contains("<DescribeCacheClustersResponse"),
        "{xml}"
    );

    let out_dir = output_dir();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/", b.endpoint());
    let dom = chromium(&url, profile.path(), None);
    for shard in 1..=3 {
        for member in 1..=3 {
            let id = format!("{cm}-000{shard}-00{member}");
            let want = if member == 1 { "primary" } else { "replica" };
            assert_eq!(
                shown_role(&dom, &id).as_deref(),
                Some(want),
                "{id} in the page"
            );
        }
    }
    for node in ["0001", "0002"] {
        assert!(
            dom.contains(&format!(r#"data-node="{mc}/{node}" data-role="node""#)),
            "{mc}/{node}"
        );
    }
    assert!(
        dom.contains("5462-10922") && dom.contains("512.0 MiB") && dom.contains("test failover")
    );
    assert!(dom.contains("global datastore") && dom.contains(&format!("primary <b>{tls}</b>")));

    // The page live, driven through WebDriver (chromedriver): a person clicks
    // "test failover" on shard 0002 and confirms; the page's own script sends
    // TestFailover, then shows the new primary and the failover's events.
    let driver = Driver::start(profile.path());
    driver.go(&url);
    eventually(
        "the events stream open",
        Duration::from_secs(120),
        || async {
            (driver.script("return document.getElementById('stream-state').textContent") == "live")
                .then_some(())
        },
    )
    .await;
    let events_before =
        driver.script("return String(document.querySelectorAll('#events li').length)");
    driver.click(r#"tr[data-node$="-0002-001/0001"] button[data-action="TestFailover"]"#);
    driver.accept_alert();
    let old = format!("{cm}-0002-001");
    let roles = eventually("the new primary in the live page", Duration::from_secs(120), || async {
        let roles = driver.script(
            "return [...document.querySelectorAll('tr.node')].map(r => r.dataset.node + '=' + r.dataset.role).join(' ')",
        );
        let promoted = (2..=3).any(|m| roles.contains(&format!("{cm}-0002-00{m}/0001=primary")));
        (promoted && roles.contains(&format!("{old}/0001=replica"))).then_some(roles)
    })
    .await;
    assert!(
        roles.contains(&format!("{cm}-0001-001/0001=primary")),
        "{roles}"
    );
    let result = driver.script("return document.getElementById('action-result').textContent");
    assert!(result.contains("accepted"), "the action's answer: {result}");
    eventually(
        "the failover's events in the live feed",
        Duration::from_secs(120),
        || async {
            let feed = driver.script("return document.getElementById('events').textContent");
            let n = driver.script("return String(document.querySelectorAll('#events li').length)");
            (feed.contains("Failover") && n != events_before).then_some(())
        },
    )
    .await;
    let shot = out_dir.join("dashboard.png");
    driver.screenshot(&shot);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} ({size} bytes)",
        shot.display()
    );
    eprintln!("dashboard screenshot: {}", shot.display());
}

/// A headless Chromium session through chromedriver's WebDriver HTTP API,
/// spoken with curl.
struct Driver {
    child: std::process::Child,
    base: String,
}

impl Driver {
    fn start(profile: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(profile.join("chromedriver.log")).unwrap();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("chromedriver (Debian package `chromium-driver`)");
        let base = format!("http://127.0.0.1:{port}");
        let mut d = Self { child, base };
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while Self::call("GET", &format!("{}/status", d.base), None).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1600,1300",
                    format!("--user-data-dir={}", profile.join("webdriver").display())]
            }
        }}});
        let v = Self::call("POST", &format!("{}/session", d.base), Some(&caps)).expect("session");
        let id = v["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        d.base = format!("{}/session/{id}", d.base);
        d
    }

    fn call(method: &str, url: &str, body: Option<&Value>) -> Option<Value> {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "-H", "Content-Type: application/json"]);
        if let Some(b) = body {
            cmd.args(["-d", &b.to_string()]);
        }
        let out = cmd.arg(url).output().ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let v = Self::call("POST", &format!("{}{path}", self.base), Some(body)).expect(path);
        assert!(v["value"]["error"].is_null(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.post("/url", &serde_json::json!({ "url": url }));
    }

    fn script(&self, js: &str) -> String {
        let v = self.post(
            "/execute/sync",
            &serde_json::json!({ "script": js, "args": [] }),
        );
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks the element `css` names. The live page redraws its tables, so an
    /// element found a moment ago may be gone ("stale element reference"): find it
    /// again, as a person would look again.
    fn click(&self, css: &str) {
        for _ in 0..20 {
            let e = self.post(
                "/element",
                &serde_json::json!({ "using": "css selector", "value": css }),
            );
            let id = e
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
                .expect("element");
            let path = format!("{}/element/{id}/click", self.base);
            let v = Self::call("POST", &path, Some(&serde_json::json!({}))).expect("click");
            match v["value"]["error"].as_str() {
                None => return,
                Some("stale element reference") => std::thread::sleep(Duration::from_millis(100)),
                Some(_) => panic!("WebDriver click on {css}: {v}"),
            }
        }
        panic!("{css} went stale 20 times in a row");
    }

    fn accept_alert(&self) {
        self.post("/alert/accept", &serde_json::json!({}));
    }

    fn screenshot(&self, to: &Path) {
        let v = Self::call("GET", &format!("{}/screenshot", self.base), None).expect("screenshot");
        let b64 = v["value"].as_str().expect("screenshot data");
        let tmp = to.with_extension("b64");
        std::fs::write(&tmp, b64).unwrap();
        let out = Command::new("base64").arg("-d").arg(&tmp).output().unwrap();
        std::fs::write(to, out.stdout).unwrap();
        let _ = std::fs::remove_file(tmp);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Self::call("DELETE", &self.base, None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
