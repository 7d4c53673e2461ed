//! `aws_elasticache_serverless_cache` and `data "aws_elasticache_serverless_cache"`,
//! HashiCorp's acceptance pattern in one working directory: `_basic` (Redis
//! with `cache_usage_limits` and `daily_snapshot_time`, checked on the
//! engine with redis-cli over TLS), `_update` in place (description,
//! limits, tags), the redis → valkey engine change planned in place and the
//! backend's answer surfaced, a Memcached cache, the data source, `_import`,
//! and a destroy that leaves nothing; an empty plan after each step.

use std::path::Path;
use std::process::Command;

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, name};

fn redis_hcl(name: &str, engine: &str, desc: &str, max_gb: u32, tags: &str) -> String {
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
  tags = {{ {tags} }}
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

/// `CONFIG GET maxmemory` over TLS on `host:port`.
fn maxmemory(ca: &Path, host: &str, port: u64) -> String {
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(ca)
        .args([
            "-h",
            host,
            "-p",
            &port.to_string(),
            "CONFIG",
            "GET",
            "maxmemory",
        ])
        .output()
        .expect("redis-cli runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().nth(1).unwrap_or_default().to_owned()
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
    let be = Backend::start("process");
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
    let (arn, created) = (out_str(&tf, "arn"), out_str(&tf, "create_time"));
    let remote = block(async {
        be.client()
            .describe_serverless_caches()
            .serverless_cache_name(&rn)
            .send()
            .await
            .unwrap()
            .serverless_caches
            .unwrap()
            .pop()
            .unwrap()
    });
    assert_eq!(remote.daily_snapshot_time(), Some("03:00"));
    assert_eq!(remote.status(), Some("available"));

    // update in place: description, limits, tags
    tf.config(&format!(
        "{p}{}",
        redis_hcl(&rn, "redis", "second", 3, "team = \"b\"")
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

    // redis → valkey in place, as AWS allows: same cache, same endpoint
    tf.config(&format!(
        "{p}{}",
        redis_hcl(&rn, "valkey", "second", 3, "team = \"b\"")
    ));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    assert_eq!(out_str(&tf, "arn"), arn);
    assert_eq!(out_str(&tf, "address"), addr);
    assert_ne!(out_str(&tf, "full_engine_version"), "7.1");

    // a Memcached cache next to it, and the data source on the Valkey one
    tf.config(&format!(
        "{p}{}{}{}",
        redis_hcl(&rn, "valkey", "second", 3, "team = \"b\""),
        memcached_hcl(&mn),
        data_hcl(&rn)
    ));
    tf.apply();
    tf.plan_is_clean();
    let o = tf.outputs();
    assert_eq!(o["mc_port"]["value"].as_u64(), Some(11211));
    assert_eq!(o["mc_readers"]["value"].as_u64(), Some(0));
    assert_eq!(out_str(&tf, "ds_address"), addr);
    assert_eq!(o["ds_max"]["value"].as_u64(), Some(3));
    assert_eq!(out_str(&tf, "ds_engine"), "valkey");

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
    let left = remote_names(&be);
    assert!(
        !left.contains(&rn) && !left.contains(&mn),
        "still listed: {left:?}"
    );
}
