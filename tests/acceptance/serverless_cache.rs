//! `aws_elasticache_serverless_cache` and `data "aws_elasticache_serverless_cache"`,
//! HashiCorp's acceptance pattern, on one runtime (normally process), an empty plan
//! after each step:
//!
//! * `serverless_cache_basic_update_import`: `_basic` (Redis with
//!   `cache_usage_limits` and `daily_snapshot_time`, checked on the engine
//!   with redis-cli over TLS), `_update` in place (description, limits,
//!   tags), `_tags` (added, changed, removed), the redis → valkey engine
//!   change in place with the data kept, a Memcached cache, the data source,
//!   `_disappears` (deleted with the SDK, re-created by the next apply),
//!   `_import`, and a destroy that leaves nothing.
//! * `serverless_cache_restore_user_group`: a Redis cache with a
//!   `user_group_id` (a user with a password, the default user off), a
//!   snapshot of it taken with the SDK, and a Valkey cache restored from it
//!   (`snapshot_arns_to_restore`) behind the same user group; the
//!   `user_group_id` removed in place.

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, name, one_runtime};

fn redis_hcl(name: &str, engine: &str, desc: &str, max_gb: u32, tags: &str) -> String {
    // No tags: no `tags` argument (as a user removes them).
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!("tags = {{ {tags} }}")
    };
    format!(
        r#"
resource "aws_elasticache_serverless_cache" "redis" {{
  name                 = "{name}"
  engine               = "{engine}"
  description          = "{desc}"
  daily_snapshot_time  = "03:00"
  snapshot_retention_limit = 1
  cache_usage_limits {{
    data_storage {{
      maximum = {max_gb}
      unit    = "GB"
    }}
    ecpu_per_second {{
      maximum = 5000
    }}
  }}
  {tags}
}}

output "address" {{ value = aws_elasticache_serverless_cache.redis.endpoint[0].address }}
output "port" {{ value = aws_elasticache_serverless_cache.redis.endpoint[0].port }}
output "reader" {{ value = aws_elasticache_serverless_cache.redis.reader_endpoint[0].address }}
output "arn" {{ value = aws_elasticache_serverless_cache.redis.arn }}
output "create_time" {{ value = aws_elasticache_serverless_cache.redis.create_time }}
output "full_engine_version" {{ value = aws_elasticache_serverless_cache.redis.full_engine_version }}
"#
    )
}

fn memcached_hcl(name: &str) -> String {
    format!(
        r#"
resource "aws_elasticache_serverless_cache" "mc" {{
  name   = "{name}"
  engine = "memcached"
}}

output "mc_address" {{ value = aws_elasticache_serverless_cache.mc.endpoint[0].address }}
output "mc_port" {{ value = aws_elasticache_serverless_cache.mc.endpoint[0].port }}
output "mc_readers" {{ value = length(aws_elasticache_serverless_cache.mc.reader_endpoint) }}
"#
    )
}

fn data_hcl(name: &str) -> String {
    format!(
        r#"
data "aws_elasticache_serverless_cache" "test" {{
  name = "{name}"
}}

output "ds_address" {{ value = data.aws_elasticache_serverless_cache.test.endpoint.address }}
output "ds_max" {{ value = data.aws_elasticache_serverless_cache.test.cache_usage_limits.data_storage.maximum }}
output "ds_engine" {{ value = data.aws_elasticache_serverless_cache.test.engine }}
"#
    )
}

/// redis-cli over TLS on `host:port` (as `user` with `pass` when given):
/// its output, stdout then stderr, trimmed.
fn cli(ca: &Path, host: &str, port: u64, auth: Option<(&str, &str)>, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", host, "-p", &port.to_string()]);
    if let Some((user, pass)) = auth {
        cmd.args(["--user", user, "--pass", pass, "--no-auth-warning"]);
    }
    let out = cmd.args(args).output().expect("redis-cli runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_owned()
}

/// `CONFIG GET maxmemory` over TLS on `host:port`.
fn maxmemory(ca: &Path, host: &str, port: u64) -> String {
    cli(ca, host, port, None, &["CONFIG", "GET", "maxmemory"])
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The cache as the API describes it.
fn remote(be: &Backend, name: &str) -> Option<aws_sdk_elasticache::types::ServerlessCache> {
    let c = be.client();
    block(async {
        c.describe_serverless_caches()
            .serverless_cache_name(name)
            .send()
            .await
            .ok()?
            .serverless_caches
            .unwrap_or_default()
            .pop()
    })
}

/// The cache's tags as the tagging API lists them, sorted.
fn remote_tags(be: &Backend, arn: &str) -> Vec<(String, String)> {
    let c = be.client();
    let mut v: Vec<(String, String)> = block(c.list_tags_for_resource().resource_name(arn).send())
        .expect("list tags")
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The names of the serverless caches the backend lists.
fn remote_names(be: &Backend) -> Vec<String> {
    let c = be.client();
    block(async {
        c.describe_serverless_caches()
            .send()
            .await
            .expect("describe")
            .serverless_caches
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.serverless_cache_name)
            .collect()
    })
}

fn out_str(tf: &Tf, k: &str) -> String {
    let o = tf.outputs();
    o[k]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{k}: {o}"))
        .to_owned()
}

#[test]
fn serverless_cache_basic_update_import() {
    require_terraform!();
    one_runtime(|be| {
        let ca = be.data.path().join("tls/ca.pem");
        let (rn, mn) = (name("sls"), name("slsmc"));
        let p = be.provider_hcl();
        let tf = Tf::new();

        // basic: Redis with limits and a daily snapshot time
        tf.config(&format!(
            "{p}{}",
            redis_hcl(&rn, "redis", "first", 2, "team = \"a\"")
        ));
        tf.apply();
        tf.plan_is_clean();
        let (addr, port) = (
            out_str(&tf, "address"),
            tf.outputs()["port"]["value"].as_u64().expect("port"),
        );
        assert_ne!(out_str(&tf, "reader"), addr);
        assert_eq!(maxmemory(&ca, &addr, port), (2u64 << 30).to_string());
        assert_eq!(
            cli(&ca, &addr, port, None, &["SET", "greeting", "hello"]),
            "OK"
        );
        let (arn, created) = (out_str(&tf, "arn"), out_str(&tf, "create_time"));
        let r = remote(be, &rn).expect("the cache is listed");
        assert_eq!(r.daily_snapshot_time(), Some("03:00"));
        assert_eq!(r.status(), Some("available"));
        assert_eq!(remote_tags(be, &arn), pairs(&[("team", "a")]));

        // update in place: description, limits, tags (one changed, one added)
        let tags2 = "team = \"b\", env = \"test\"";
        tf.config(&format!(
            "{p}{}",
            redis_hcl(&rn, "redis", "second", 3, tags2)
        ));
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("0 to add, 1 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(out_str(&tf, "arn"), arn);
        assert_eq!(out_str(&tf, "create_time"), created);
        assert_eq!(out_str(&tf, "address"), addr);
        assert_eq!(maxmemory(&ca, &addr, port), (3u64 << 30).to_string());
        assert_eq!(
            remote_tags(be, &arn),
            pairs(&[("env", "test"), ("team", "b")])
        );

        // _tags: every tag removed in place
        tf.config(&format!("{p}{}", redis_hcl(&rn, "redis", "second", 3, "")));
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("0 to add, 1 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote_tags(be, &arn), pairs(&[]));

        // redis → valkey in place: same cache, same endpoint, data kept
        tf.config(&format!("{p}{}", redis_hcl(&rn, "valkey", "second", 3, "")));
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("0 to add, 1 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(out_str(&tf, "arn"), arn);
        assert_eq!(out_str(&tf, "address"), addr);
        assert!(
            out_str(&tf, "full_engine_version").starts_with('8'),
            "{}",
            out_str(&tf, "full_engine_version")
        );
        let r = remote(be, &rn).expect("the cache is listed");
        assert_eq!(r.engine(), Some("valkey"));
        assert_eq!(cli(&ca, &addr, port, None, &["GET", "greeting"]), "hello");

        // a Memcached cache next to it, and the data source on the Valkey one
        let with_mc = format!(
            "{p}{}{}{}",
            redis_hcl(&rn, "valkey", "second", 3, ""),
            memcached_hcl(&mn),
            data_hcl(&rn)
        );
        tf.config(&with_mc);
        tf.apply();
        tf.plan_is_clean();
        let o = tf.outputs();
        assert_eq!(o["mc_port"]["value"].as_u64(), Some(11211));
        assert_eq!(o["mc_readers"]["value"].as_u64(), Some(0));
        assert_eq!(out_str(&tf, "ds_address"), addr);
        assert_eq!(o["ds_max"]["value"].as_u64(), Some(3));
        assert_eq!(out_str(&tf, "ds_engine"), "valkey");

        // _disappears: the Memcached cache deleted behind Terraform's back
        let c = be.client();
        block(
            c.delete_serverless_cache()
                .serverless_cache_name(&mn)
                .send(),
        )
        .expect("delete the Memcached cache");
        let deadline = Instant::now() + Duration::from_secs(120);
        while remote(be, &mn).is_some() {
            assert!(Instant::now() < deadline, "{mn} was never deleted");
            std::thread::sleep(Duration::from_millis(200));
        }
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("aws_elasticache_serverless_cache.mc will be created")
                && plan.contains("1 to add, 0 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(
            remote(be, &mn).and_then(|c| c.status).as_deref(),
            Some("available")
        );

        // import by name and by name@region
        tf.state_rm("aws_elasticache_serverless_cache.redis");
        tf.import("aws_elasticache_serverless_cache.redis", &rn);
        tf.plan_is_clean();
        tf.state_rm("aws_elasticache_serverless_cache.mc");
        tf.import(
            "aws_elasticache_serverless_cache.mc",
            &format!("{mn}@us-east-1"),
        );
        tf.plan_is_clean();

        // destroy leaves nothing
        tf.destroy();
        let left = remote_names(be);
        assert!(
            !left.contains(&rn) && !left.contains(&mn),
            "still listed: {left:?}"
        );
    });
}

const APP_PASSWORD: &str = "serverless-app-password";

/// Users (the default one off, `app` with a password), their group, a
/// Redis cache `src` (in the group when `src_group`), and when `snapshot`
/// is given a Valkey cache `restored` from it in the same group.
fn restore_hcl(be: &Backend, n: &str, src_group: bool, snapshot: Option<&str>) -> String {
    let group = |on: bool| {
        if on {
            "user_group_id = aws_elasticache_user_group.users.user_group_id"
        } else {
            ""
        }
    };
    let restored = snapshot.map_or_else(String::new, |arn| {
        format!(
            r#"
resource "aws_elasticache_serverless_cache" "restored" {{
  name                     = "{n}-r"
  engine                   = "valkey"
  snapshot_arns_to_restore = ["{arn}"]
  {}
}}

output "restored_address" {{ value = aws_elasticache_serverless_cache.restored.endpoint[0].address }}
output "restored_port" {{ value = aws_elasticache_serverless_cache.restored.endpoint[0].port }}
output "restored_user_group" {{ value = aws_elasticache_serverless_cache.restored.user_group_id }}
"#,
            group(true)
        )
    });
    format!(
        r#"{p}
resource "aws_elasticache_user" "default" {{
  user_id              = "{n}-def"
  user_name            = "default"
  access_string        = "off ~* +@all"
  engine               = "redis"
  no_password_required = true
}}

resource "aws_elasticache_user" "app" {{
  user_id       = "{n}-app"
  user_name     = "app"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["{APP_PASSWORD}"]
}}

resource "aws_elasticache_user_group" "users" {{
  user_group_id = "{n}-ug"
  engine        = "redis"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
}}

resource "aws_elasticache_serverless_cache" "src" {{
  name   = "{n}-s"
  engine = "redis"
  {src}
}}

output "src_address" {{ value = aws_elasticache_serverless_cache.src.endpoint[0].address }}
output "src_port" {{ value = aws_elasticache_serverless_cache.src.endpoint[0].port }}
{restored}"#,
        p = be.provider_hcl(),
        src = group(src_group),
    )
}

#[test]
fn serverless_cache_restore_user_group() {
    require_terraform!();
    one_runtime(|be| {
        let ca = be.data.path().join("tls/ca.pem");
        let n = name("slsr");
        let app = Some(("app", APP_PASSWORD));
        let tf = Tf::new();

        // a Redis cache behind a user group: only `app` gets in
        tf.config(&restore_hcl(be, &n, true, None));
        tf.apply();
        tf.plan_is_clean();
        let (addr, port) = (
            out_str(&tf, "src_address"),
            tf.outputs()["src_port"]["value"].as_u64().expect("port"),
        );
        let anon = cli(&ca, &addr, port, None, &["SET", "k", "v"]);
        assert!(anon.contains("NOAUTH"), "{anon}");
        assert_eq!(
            cli(&ca, &addr, port, app, &["SET", "restored", "yes"]),
            "OK"
        );
        assert_eq!(
            remote(be, &format!("{n}-s")).and_then(|c| c.user_group_id),
            Some(format!("{n}-ug"))
        );

        // a snapshot taken with the SDK
        let c = be.client();
        let snap = format!("{n}-snap");
        let arn = block(
            c.create_serverless_cache_snapshot()
                .serverless_cache_name(format!("{n}-s"))
                .serverless_cache_snapshot_name(&snap)
                .send(),
        )
        .expect("create the snapshot")
        .serverless_cache_snapshot
        .and_then(|s| s.arn)
        .expect("the snapshot's ARN");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let st = block(
                c.describe_serverless_cache_snapshots()
                    .serverless_cache_snapshot_name(&snap)
                    .send(),
            )
            .expect("describe the snapshot")
            .serverless_cache_snapshots
            .unwrap_or_default()
            .pop()
            .and_then(|s| s.status);
            if st.as_deref() == Some("available") {
                break;
            }
            assert!(Instant::now() < deadline, "snapshot {snap}: {st:?}");
            std::thread::sleep(Duration::from_millis(200));
        }

        // a Valkey cache restored from it, in the same user group
        tf.config(&restore_hcl(be, &n, true, Some(&arn)));
        tf.apply();
        tf.plan_is_clean();
        let (raddr, rport) = (
            out_str(&tf, "restored_address"),
            tf.outputs()["restored_port"]["value"]
                .as_u64()
                .expect("port"),
        );
        assert_eq!(out_str(&tf, "restored_user_group"), format!("{n}-ug"));
        assert_eq!(cli(&ca, &raddr, rport, app, &["GET", "restored"]), "yes");
        let anon = cli(&ca, &raddr, rport, None, &["GET", "restored"]);
        assert!(anon.contains("NOAUTH"), "{anon}");
        assert_eq!(
            remote(be, &format!("{n}-r")).and_then(|c| c.engine),
            Some("valkey".to_owned())
        );

        // the user group removed from the Redis cache in place: open again
        tf.config(&restore_hcl(be, &n, false, Some(&arn)));
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("0 to add, 1 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(
            remote(be, &format!("{n}-s")).and_then(|c| c.user_group_id),
            None
        );
        assert_eq!(cli(&ca, &addr, port, None, &["GET", "restored"]), "yes");

        tf.destroy();
        block(
            c.delete_serverless_cache_snapshot()
                .serverless_cache_snapshot_name(&snap)
                .send(),
        )
        .expect("delete the snapshot");
        let left = remote_names(be);
        assert!(
            !left.iter().any(|l| l.starts_with(&n)),
            "still listed: {left:?}"
        );
    });
}
