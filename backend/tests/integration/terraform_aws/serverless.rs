//! HashiCorp's Terraform AWS provider (5.100.0) with a serverless cache per
//! engine (Redis with usage limits, a daily snapshot time and a user group;
//! Valkey; Memcached): apply, each endpoint the state gives answers over TLS
//! only (the Redis one as the group's user), a second plan is clean, an import
//! reads back what the apply wrote, destroy leaves nothing. Process runtime
//! (the engines on Docker are covered by `serverless.rs`).

use std::path::Path;

use serde_json::Value;

use super::groups::{empty_as_null, state_values};
use super::{on_one_runtime, Tf};
use crate::common::{cli, ep, name, plain, Backend};

const TEMPLATE: &str = include_str!("serverless.tf");
const PLAN: &[&str] = &["plan", "-detailed-exitcode", "-no-color", "-input=false"];

#[test]
fn terraform_aws_serverless_caches() {
    on_one_runtime("terraform_aws_serverless_caches", serverless_on);
}

fn endpoint_of(cache: &Value) -> crate::common::Ep {
    let e = &cache["endpoint"][0];
    ep(
        e["address"].as_str().unwrap(),
        i32::try_from(e["port"].as_i64().unwrap()).unwrap(),
    )
}

fn serverless_on(rt: &str, mirror: &Path) {
    if rt != "process" {
        return;
    }
    let be = Backend::start(rt);
    let suffix = name("s");
    let main_tf = TEMPLATE
        .replace("@ENDPOINT@", &be.endpoint())
        .replace("@SUFFIX@", &suffix);
    let tf = Tf::new(mirror, &main_tf);
    let ca = be.data_dir.join("tls/ca.pem");
    tf.expect(&["init", "-no-color"], 0, &be);
    tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);
    let o = tf.output(&be);
    let caches = &o["caches"]["value"];
    for k in ["redis", "valkey", "memcached"] {
        assert_eq!(caches[k]["status"], "available", "{k}: {}", caches[k]);
    }
    assert_eq!(caches["redis"]["full_engine_version"], "7.1");
    assert_eq!(caches["valkey"]["major_engine_version"], "8");
    let redis = endpoint_of(&caches["redis"]);
    let as_app = |args: &[&str]| {
        let mut all = vec![
            "--user",
            "app",
            "--pass",
            "serverless-app-password",
            "--no-auth-warning",
        ];
        all.extend_from_slice(args);
        cli(&ca, redis, None, &all)
    };
    assert_eq!(as_app(&["SET", "tf", "kept"]), "OK");
    assert!(cli(&ca, redis, None, &["GET", "tf"]).contains("NOAUTH"));
    assert!(as_app(&["CONFIG", "GET", "maxmemory"]).ends_with(&(10u64 << 30).to_string()));
    let valkey = endpoint_of(&caches["valkey"]);
    assert_eq!(cli(&ca, valkey, None, &["PING"]), "PONG");
    assert!(!plain(valkey, &["PING"]).contains("PONG"));
    let reader = &caches["valkey"]["reader_endpoint"][0];
    let reader = ep(reader["address"].as_str().unwrap(), 6379);
    assert_eq!(cli(&ca, reader, None, &["PING"]), "PONG");
    assert_eq!(caches["memcached"]["endpoint"][0]["port"], 11211);

    tf.expect(PLAN, 0, &be);

    // Import each cache into a fresh state: it reads back what the apply wrote.
    let imp = Tf::new(mirror, &main_tf);
    imp.expect(&["init", "-no-color"], 0, &be);
    for (k, id) in [
        ("redis", format!("tf-sr-{suffix}")),
        ("valkey", format!("tf-sv-{suffix}")),
        ("memcached", format!("tf-sm-{suffix}")),
    ] {
        let addr = format!("aws_elasticache_serverless_cache.{k}");
        imp.expect(&["import", "-no-color", &addr, &id], 0, &be);
    }
    let (applied, imported) = (state_values(&tf, &be), state_values(&imp, &be));
    for (addr, got) in imported
        .iter()
        .filter(|(a, _)| a.starts_with("aws_elasticache_serverless_cache"))
    {
        let want = &applied[addr];
        let diff: Vec<String> = want
            .iter()
            .filter(|(k, v)| empty_as_null(got.get(*k).unwrap_or(&Value::Null)) != empty_as_null(v))
            .map(|(k, v)| {
                format!(
                    "{k}: applied {v}, imported {}",
                    got.get(k).unwrap_or(&Value::Null)
                )
            })
            .collect();
        assert!(
            diff.is_empty(),
            "{addr} imported differently:\n{}",
            diff.join("\n")
        );
    }
    drop(imp);

    tf.expect(&["destroy", "-auto-approve", "-no-color"], 0, &be);
    let left = std::fs::read_dir(be.data_dir.join("nodes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "engines left after destroy");
}
