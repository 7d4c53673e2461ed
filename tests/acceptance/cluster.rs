//! `aws_elasticache_cluster` (resource and data source), in HashiCorp's
//! pattern: `_basic`, `_memcached`, `_update`, `_replace`, `_disappears`,
//! `_tags`, `_import`; `_basic` on every runtime under test, the rest on one.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use acceptance::{require_terraform, runtimes, Backend, Tf};

use crate::common::{each_runtime, one_runtime};
use serde_json::Value as Json;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The backend's provider block with `extra` inside `provider "aws" {}`.
fn provider_with(be: &Backend, extra: &str) -> String {
    let hcl = be.provider_hcl();
    let at = hcl.rfind('}').expect("provider block");
    format!("{}{extra}\n}}\n", &hcl[..at])
}

fn redis(id: &str, extra: &str) -> String {
    format!(
        r#"
resource "aws_elasticache_cluster" "test" {{
  cluster_id      = "{id}"
  engine          = "redis"
  node_type       = "cache.t3.micro"
  num_cache_nodes = 1
{extra}
}}

output "cluster" {{
  value = aws_elasticache_cluster.test
}}
"#
    )
}

fn memcached(id: &str, extra: &str) -> String {
    format!(
        r#"
resource "aws_elasticache_cluster" "test" {{
  cluster_id = "{id}"
  engine     = "memcached"
  node_type  = "cache.t3.micro"
{extra}
}}

output "cluster" {{
  value = aws_elasticache_cluster.test
}}
"#
    )
}

fn cluster_output(tf: &Tf) -> Json {
    tf.outputs()["cluster"]["value"].clone()
}

async fn ping(host: &str, port: u64) -> String {
    let client = redis::Client::open(format!("redis://{host}:{port}/")).unwrap();
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the node");
    redis::cmd("PING")
        .query_async::<String>(&mut con)
        .await
        .expect("PING")
}

/// `config get cluster` on a Memcached configuration endpoint: the node list.
fn memcached_config_nodes(endpoint: &str) -> Vec<String> {
    let mut s = std::net::TcpStream::connect(endpoint).expect("configuration endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"config get cluster\r\n").unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.ends_with(b"END\r\n") {
        let n = s.read(&mut chunk).expect("read config");
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(buf).unwrap();
    // CONFIG cluster 0 <len>\r\n<version>\n<host|ip|port ...>\n\r\nEND\r\n
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CONFIG cluster"), "{text}");
    lines[2].split_whitespace().map(str::to_owned).collect()
}

#[test]
fn cluster_basic() {
    require_terraform!();
    each_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-basic";
        tf.config(&format!(
            "{}{}{}",
            be.provider_hcl(),
            redis(id, r#"  engine_version = "7.1""#),
            r#"
data "aws_elasticache_cluster" "test" {
  cluster_id = aws_elasticache_cluster.test.cluster_id
}

output "data" {
  value = data.aws_elasticache_cluster.test
}
"#
        ));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        let c = &out["cluster"]["value"];
        assert_eq!(c["id"], id);
        assert_eq!(c["engine"], "redis");
        assert_eq!(c["engine_version"], "7.1");
        assert!(c["engine_version_actual"]
            .as_str()
            .unwrap()
            .starts_with("7.1"));
        assert_eq!(c["az_mode"], "single-az");
        assert_eq!(c["num_cache_nodes"], 1);
        assert!(c["arn"]
            .as_str()
            .unwrap()
            .ends_with(":cluster:tf-acc-basic"));
        assert!(c["configuration_endpoint"].is_null());
        let node = &c["cache_nodes"][0];
        assert_eq!(node["id"], "0001");
        let pong = block_on(ping(
            node["address"].as_str().unwrap(),
            node["port"].as_u64().unwrap(),
        ));
        assert_eq!(pong, "PONG");
        // The data source reads the same cluster back.
        let d = &out["data"]["value"];
        for k in [
            "arn",
            "availability_zone",
            "cache_nodes",
            "cluster_id",
            "engine",
            "maintenance_window",
            "node_type",
            "num_cache_nodes",
            "parameter_group_name",
            "port",
            "snapshot_window",
            "subnet_group_name",
        ] {
            assert_eq!(d[k], c[k], "data source {k}");
        }
        assert!(d["engine_version"].as_str().unwrap().starts_with("7.1"));
        tf.destroy();
        let gone = block_on(
            be.client()
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send(),
        );
        assert!(gone.is_err(), "cluster still there after destroy");
    });
}

#[test]
fn cluster_memcached() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            memcached("tf-acc-mc", "  num_cache_nodes = 3")
        ));
        tf.apply();
        tf.plan_is_clean();
        let c = cluster_output(&tf);
        assert_eq!(c["cache_nodes"].as_array().unwrap().len(), 3);
        let ep = c["configuration_endpoint"].as_str().unwrap().to_owned();
        assert_eq!(
            ep,
            format!("{}:{}", c["cluster_address"].as_str().unwrap(), c["port"])
        );
        let nodes = memcached_config_nodes(&ep);
        assert_eq!(nodes.len(), 3, "config get cluster: {nodes:?}");
        tf.destroy();
    });
}

#[test]
fn cluster_update() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-upd";
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            memcached(id, "  num_cache_nodes = 3")
        ));
        tf.apply();
        let before = cluster_output(&tf);
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            memcached(
                id,
                r#"  num_cache_nodes    = 2
  apply_immediately  = true
  maintenance_window = "Tue:03:00-tue:04:00"
  tags = {
    Name = "updated"
  }"#
            )
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        let c = cluster_output(&tf);
        assert_eq!(c["id"], before["id"]);
        assert_eq!(c["num_cache_nodes"], 2);
        assert_eq!(c["cache_nodes"].as_array().unwrap().len(), 2);
        assert_eq!(c["maintenance_window"], "Tue:03:00-tue:04:00");
        assert_eq!(c["tags_all"]["Name"], "updated");
        let api = block_on(
            be.client()
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send(),
        )
        .unwrap();
        let api = &api.cache_clusters()[0];
        assert_eq!(api.num_cache_nodes(), Some(2));
        assert_eq!(
            api.preferred_maintenance_window(),
            Some("tue:03:00-tue:04:00")
        );
        let nodes = memcached_config_nodes(c["configuration_endpoint"].as_str().unwrap());
        assert_eq!(nodes.len(), 2, "config get cluster: {nodes:?}");
        tf.destroy();
    });
}

#[test]
fn cluster_replace() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-repl";
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            redis(id, r#"  engine_version = "7.1""#)
        ));
        tf.apply();
        let arn_of = |tf: &Tf| {
            let api = block_on(
                be.client()
                    .describe_cache_clusters()
                    .cache_cluster_id(id)
                    .send(),
            )
            .unwrap();
            api.cache_clusters()[0]
                .cache_cluster_create_time()
                .map(|t| t.to_string())
                .unwrap_or_default()
                + &cluster_output(tf)["engine_version_actual"].to_string()
        };
        let first = arn_of(&tf);
        // An engine version downgrade replaces the cluster.
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            redis(id, r#"  engine_version = "7.0""#)
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("forces replacement"), "{plan}");
        assert!(
            plan.contains("1 to add, 0 to change, 1 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(cluster_output(&tf)["engine_version"], "7.0");
        let second = arn_of(&tf);
        assert_ne!(first, second);
        // So does a new port.
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            redis(id, "  engine_version = \"7.0\"\n  port = 6380")
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("# forces replacement"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(cluster_output(&tf)["port"], 6380);
        // An upgrade is in place.
        tf.config(&format!(
            "{}{}",
            be.provider_hcl(),
            redis(
                id,
                "  engine_version = \"7.1\"\n  port = 6380\n  apply_immediately = true"
            )
        ));
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("0 to add, 1 to change, 0 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert!(cluster_output(&tf)["engine_version_actual"]
            .as_str()
            .unwrap()
            .starts_with("7.1"));
        tf.destroy();
    });
}

#[test]
fn cluster_disappears() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-gone";
        tf.config(&format!("{}{}", be.provider_hcl(), redis(id, "")));
        tf.apply();
        let client = be.client();
        block_on(async {
            client
                .delete_cache_cluster()
                .cache_cluster_id(id)
                .send()
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while client
                .describe_cache_clusters()
                .cache_cluster_id(id)
                .send()
                .await
                .is_ok()
            {
                assert!(Instant::now() < deadline, "cluster not deleted");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let plan = tf.plan_has_changes();
        assert!(
            plan.contains("aws_elasticache_cluster.test will be created"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        tf.destroy();
    });
}

#[test]
fn cluster_tags() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-tags";
        let provider = provider_with(
            be,
            "  default_tags {\n    tags = {\n      Env = \"test\"\n      Team = \"a\"\n    }\n  }",
        );
        tf.config(&format!(
            "{provider}{}",
            redis(id, "  tags = {\n    Team = \"b\"\n    Name = \"x\"\n  }")
        ));
        tf.apply();
        tf.plan_is_clean();
        let c = cluster_output(&tf);
        assert_eq!(
            c["tags"],
            serde_json::json!({"Team": "b", "Name": "x"}),
            "{c}"
        );
        assert_eq!(
            c["tags_all"],
            serde_json::json!({"Env": "test", "Team": "b", "Name": "x"})
        );
        let arn = c["arn"].as_str().unwrap().to_owned();
        let remote = |be: &Backend| {
            let out = block_on(
                be.client()
                    .list_tags_for_resource()
                    .resource_name(&arn)
                    .send(),
            )
            .unwrap();
            let mut v: Vec<(String, String)> = out
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or("").to_owned(),
                        t.value().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            remote(be),
            vec![
                ("Env".into(), "test".into()),
                ("Name".into(), "x".into()),
                ("Team".into(), "b".into())
            ]
        );
        // Drop the resource's own tags: the defaults remain.
        tf.config(&format!("{provider}{}", redis(id, "")));
        tf.apply();
        tf.plan_is_clean();
        let c = cluster_output(&tf);
        assert!(c["tags"].is_null(), "{c}");
        assert_eq!(
            c["tags_all"],
            serde_json::json!({"Env": "test", "Team": "a"})
        );
        assert_eq!(
            remote(be),
            vec![("Env".into(), "test".into()), ("Team".into(), "a".into())]
        );
        tf.destroy();
    });
}

#[test]
fn cluster_import() {
    require_terraform!();
    one_runtime(|be| {
        let tf = Tf::new();
        let id = "tf-acc-imp";
        let cfg = format!(
            "{}{}",
            be.provider_hcl(),
            redis(
                id,
                "  engine_version = \"7.1\"\n  maintenance_window = \"Wed:01:00-wed:02:00\"\n  tags = {\n    Name = \"imp\"\n  }"
            )
        );
        tf.config(&cfg);
        tf.apply();
        let before = cluster_output(&tf);
        // terraform import
        tf.state_rm("aws_elasticache_cluster.test");
        tf.import("aws_elasticache_cluster.test", id);
        let o = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        // The window is stored as AWS spells it after an import.
        assert!(o.code == 0 || o.code == 2, "{}", o.text);
        let after = cluster_output(&tf);
        for k in ["arn", "engine_version", "cache_nodes", "port", "tags_all"] {
            assert_eq!(after[k], before[k], "{k}");
        }

        // import {} + -generate-config-out, in a fresh directory.
        let gen = Tf::new();
        gen.config(&format!(
            "{}\nimport {{\n  to = aws_elasticache_cluster.test\n  id = \"{id}\"\n}}\n",
            be.provider_hcl()
        ));
        let o = gen.run(&[
            "plan",
            "-input=false",
            "-no-color",
            "-generate-config-out=gen.tf",
        ]);
        assert_eq!(o.code, 0, "plan -generate-config-out failed:\n{}", o.text);
        let text = std::fs::read_to_string(gen.work.path().join("gen.tf")).unwrap();
        eprintln!("generated:\n{text}");
        assert!(o.text.contains("1 to import"), "{}", o.text);
        let o = gen.apply();
        assert!(o.text.contains("1 imported"), "{}", o.text);
        gen.plan_is_clean();
        gen.state_rm("aws_elasticache_cluster.test");
        tf.destroy();
    });
}

#[test]
fn cluster_validation() {
    require_terraform!();
    let be = Backend::start(&runtimes()[0]);
    let tf = Tf::new();
    let cases = [
        (redis("Bad_Id", ""), "cluster_id"),
        (
            redis("tf-acc-ok", "").replace("num_cache_nodes = 1", "num_cache_nodes = 2"),
            "num_cache_nodes > 1",
        ),
        (
            redis("tf-acc-ok", r#"  engine_version = "7.1.0""#),
            "For Redis v6 or higher, use <major>.<minor>",
        ),
        (
            memcached(
                "tf-acc-ok",
                "  num_cache_nodes = 1\n  az_mode = \"cross-az\"",
            ),
            "az_mode \"cross-az\" is not supported with num_cache_nodes = 1",
        ),
        (
            memcached(
                "tf-acc-ok",
                "  num_cache_nodes = 1\n  final_snapshot_identifier = \"x\"",
            ),
            "does not support final_snapshot_identifier",
        ),
        (
            redis("tf-acc-ok", r#"  maintenance_window = "sun:05:00""#),
            "ddd:hh24:mi-ddd:hh24:mi",
        ),
    ];
    for (hcl, want) in cases {
        tf.config(&format!("{}{hcl}", be.provider_hcl()));
        let o = tf.run(&["plan", "-input=false", "-no-color"]);
        assert_eq!(o.code, 1, "expected an error for {want}:\n{}", o.text);
        assert!(o.text.contains(want), "want {want:?} in:\n{}", o.text);
    }
}

/// `examples/quickstart`: apply, a clean plan, `terraform test`, destroy.
#[test]
fn quickstart() {
    require_terraform!();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/quickstart");
    one_runtime(|be| {
        let tf = Tf::new();
        tf.config(&std::fs::read_to_string(format!("{dir}/main.tf")).unwrap());
        std::fs::copy(
            format!("{dir}/quickstart.tftest.hcl"),
            tf.work.path().join("quickstart.tftest.hcl"),
        )
        .unwrap();
        std::fs::write(
            tf.work.path().join("terraform.tfvars"),
            format!("endpoint = \"{}\"\n", be.endpoint()),
        )
        .unwrap();
        let t = Instant::now();
        let o = tf.run(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
        assert_eq!(o.code, 0, "plan failed:\n{}", o.text);
        let plan_ms = t.elapsed().as_millis();
        let t = Instant::now();
        let o = tf.run(&["apply", "-input=false", "-no-color", "tfplan"]);
        assert_eq!(o.code, 0, "apply failed:\n{}", o.text);
        let apply_ms = t.elapsed().as_millis();
        tf.plan_is_clean();
        let out = tf.outputs();
        let ep = out["memcached_configuration_endpoint"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(memcached_config_nodes(&ep).len(), 3);
        let (host, port) = out["redis_endpoint"]["value"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .map(|(h, p)| (h.to_owned(), p.parse::<u64>().unwrap()))
            .unwrap();
        assert_eq!(block_on(ping(&host, port)), "PONG");
        let t = Instant::now();
        tf.destroy();
        let destroy_ms = t.elapsed().as_millis();
        println!("TIMING quickstart plan_ms={plan_ms} apply_ms={apply_ms} destroy_ms={destroy_ms}");
        eprintln!(
            "TIMING quickstart plan_ms={plan_ms} apply_ms={apply_ms} destroy_ms={destroy_ms}"
        );
        // The example's own `terraform test` (creates and destroys by itself).
        let o = tf.run(&["test", "-no-color"]);
        assert_eq!(o.code, 0, "terraform test failed:\n{}", o.text);
        assert!(o.text.contains("2 passed, 0 failed"), "{}", o.text);
    });
}
