//! `aws_elasticache_global_replication_group` and the replication group's
//! `global_replication_group_id`, HashiCorp's acceptance pattern in one
//! working directory on the process runtime: a primary group in us-east-1, a
//! datastore on it, a secondary group in us-west-2 through an aliased
//! provider on the same endpoint; a key written with redis-cli on the
//! primary is read on the secondary's reader endpoint; a description update;
//! an engine upgrade through the datastore (both regions' clusters run it);
//! import by ID; a destroy that leaves nothing; an empty plan after each step.

use std::process::Command;
use std::time::{Duration, Instant};

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, client_in, name};

/// The backend's provider block plus an aliased one for us-west-2.
fn providers(be: &Backend) -> String {
    let p = be.provider_hcl();
    let at = p.find("provider \"aws\"").expect("provider block");
    let west = p[at..]
        .replacen("{\n", "{\n  alias                       = \"west\"\n", 1)
        .replace("\"us-east-1\"", "\"us-west-2\"");
    format!("{p}\n{west}")
}

fn hcl(
    be: &Backend,
    primary: &str,
    secondary: &str,
    suffix: &str,
    desc: &str,
    version: &str,
) -> String {
    let version = if version.is_empty() {
        String::new()
    } else {
        format!("engine_version = \"{version}\"")
    };
    format!(
        r#"{p}
resource "aws_elasticache_replication_group" "primary" {{
  replication_group_id = "{primary}"
  description          = "primary region"
  engine               = "redis"
  engine_version       = "7.0"
  node_type            = "cache.m5.large"
  num_cache_clusters   = 2

  # The datastore upgrades its members (HashiCorp's documented pattern).
  lifecycle {{
    ignore_changes = [engine_version]
  }}
}}

resource "aws_elasticache_global_replication_group" "test" {{
  global_replication_group_id_suffix   = "{suffix}"
  primary_replication_group_id         = aws_elasticache_replication_group.primary.id
  global_replication_group_description = "{desc}"
  {version}
}}

resource "aws_elasticache_replication_group" "secondary" {{
  provider = aws.west

  replication_group_id        = "{secondary}"
  description                 = "secondary region"
  global_replication_group_id = aws_elasticache_global_replication_group.test.global_replication_group_id
  num_cache_clusters          = 2
}}

output "global_id" {{ value = aws_elasticache_global_replication_group.test.global_replication_group_id }}
output "arn" {{ value = aws_elasticache_global_replication_group.test.arn }}
output "engine_version_actual" {{ value = aws_elasticache_global_replication_group.test.engine_version_actual }}
output "primary_address" {{ value = aws_elasticache_replication_group.primary.primary_endpoint_address }}
output "primary_port" {{ value = aws_elasticache_replication_group.primary.port }}
output "secondary_reader" {{ value = aws_elasticache_replication_group.secondary.reader_endpoint_address }}
output "secondary_port" {{ value = aws_elasticache_replication_group.secondary.port }}
output "secondary_engine" {{ value = aws_elasticache_replication_group.secondary.engine }}
output "secondary_node_type" {{ value = aws_elasticache_replication_group.secondary.node_type }}
output "secondary_version" {{ value = aws_elasticache_replication_group.secondary.engine_version_actual }}
"#,
        p = providers(be)
    )
}

fn out_str(tf: &Tf, k: &str) -> String {
    let o = tf.outputs();
    o[k]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{k}: {o}"))
        .to_owned()
}

fn out_port(tf: &Tf, k: &str) -> u64 {
    tf.outputs()[k]["value"].as_u64().unwrap_or(6379)
}

fn redis_cli(host: &str, port: u64, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The engine versions of every cache cluster in `region`.
fn cluster_versions(be: &Backend, region: &str) -> Vec<String> {
    let c = client_in(be, region);
    block(async {
        c.describe_cache_clusters()
            .send()
            .await
            .expect("describe cache clusters")
            .cache_clusters
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.engine_version)
            .collect()
    })
}

fn group_count(be: &Backend, region: &str) -> usize {
    let c = client_in(be, region);
    block(async {
        c.describe_replication_groups()
            .send()
            .await
            .expect("describe replication groups")
            .replication_groups
            .unwrap_or_default()
            .len()
    })
}

fn global_count(be: &Backend) -> usize {
    let c = be.client();
    block(async {
        c.describe_global_replication_groups()
            .send()
            .await
            .expect("describe global replication groups")
            .global_replication_groups
            .unwrap_or_default()
            .len()
    })
}

#[test]
fn global_replication_group_two_regions() {
    require_terraform!();
    let be = Backend::start("process");
    let (primary, secondary) = (name("gp"), name("gs"));
    let suffix = format!("acc{}", &primary[primary.len() - 6..]);
    let tf = Tf::new();

    // basic: primary, datastore, secondary in the other region
    tf.config(&hcl(&be, &primary, &secondary, &suffix, "first", ""));
    let t = Instant::now();
    tf.apply();
    let apply_time = t.elapsed();
    tf.plan_is_clean();
    let gid = out_str(&tf, "global_id");
    assert!(gid.ends_with(&suffix), "{gid}");
    // What the secondary inherits is read back.
    assert_eq!(out_str(&tf, "secondary_engine"), "redis");
    assert_eq!(out_str(&tf, "secondary_node_type"), "cache.m5.large");
    let remote = block(async {
        be.client()
            .describe_global_replication_groups()
            .global_replication_group_id(&gid)
            .show_member_info(true)
            .send()
            .await
            .unwrap()
            .global_replication_groups
            .unwrap()
            .pop()
            .unwrap()
    });
    assert_eq!(remote.status(), Some("available"));
    assert_eq!(remote.members().len(), 2);

    // a key written in us-east-1 is read in us-west-2
    let (pa, pp) = (
        out_str(&tf, "primary_address"),
        out_port(&tf, "primary_port"),
    );
    let (sr, sp) = (
        out_str(&tf, "secondary_reader"),
        out_port(&tf, "secondary_port"),
    );
    assert_eq!(redis_cli(&pa, pp, &["SET", "greeting", "from-east"]), "OK");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if redis_cli(&sr, sp, &["GET", "greeting"]) == "from-east" {
            break;
        }
        assert!(Instant::now() < deadline, "the key never reached us-west-2");
        std::thread::sleep(Duration::from_millis(100));
    }

    // update in place: the description
    tf.config(&hcl(&be, &primary, &secondary, &suffix, "second", ""));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    let desc = block(async {
        be.client()
            .describe_global_replication_groups()
            .global_replication_group_id(&gid)
            .send()
            .await
            .unwrap()
            .global_replication_groups
            .unwrap()
            .pop()
            .unwrap()
            .global_replication_group_description
    });
    assert_eq!(desc.as_deref(), Some("second"));

    // an engine upgrade through the datastore reaches both regions
    tf.config(&hcl(&be, &primary, &secondary, &suffix, "second", "7.1"));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    // The secondary's version changed with the datastore: a refresh
    // records it (only outputs move).
    let o = tf.run(&[
        "apply",
        "-refresh-only",
        "-auto-approve",
        "-input=false",
        "-no-color",
    ]);
    assert_eq!(o.code, 0, "{}", o.text);
    tf.plan_is_clean();
    assert!(out_str(&tf, "engine_version_actual").starts_with("7.1"));
    assert!(out_str(&tf, "secondary_version").starts_with("7.1"));
    for region in ["us-east-1", "us-west-2"] {
        let v = cluster_versions(&be, region);
        assert!(
            v.len() == 2 && v.iter().all(|v| v.starts_with("7.1")),
            "{region}: {v:?}"
        );
    }
    // The data came through the upgrade.
    assert_eq!(redis_cli(&sr, sp, &["GET", "greeting"]), "from-east");

    // import by ID
    let arn = out_str(&tf, "arn");
    tf.state_rm("aws_elasticache_global_replication_group.test");
    tf.import("aws_elasticache_global_replication_group.test", &gid);
    tf.plan_is_clean();
    assert_eq!(out_str(&tf, "arn"), arn);

    // destroy leaves nothing in either region
    let t = Instant::now();
    tf.destroy();
    let destroy_time = t.elapsed();
    assert_eq!(global_count(&be), 0);
    assert_eq!(group_count(&be, "us-east-1"), 0);
    assert_eq!(group_count(&be, "us-west-2"), 0);
    // The secondary left the datastore before it was deleted (HashiCorp's order).
    let west = client_in(&be, "us-west-2");
    let events: Vec<String> = block(async {
        west.describe_events()
            .source_identifier(&secondary)
            .source_type(aws_sdk_elasticache::types::SourceType::ReplicationGroup)
            .duration(60)
            .send()
            .await
            .expect("describe events")
            .events
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.message)
            .collect()
    });
    assert!(
        events
            .iter()
            .any(|m| m.contains("disassociated from global replication group")),
        "{events:?}"
    );
    eprintln!(
        "two-region global datastore (2 groups × 2 nodes): apply {:.1} s, destroy {:.1} s",
        apply_time.as_secs_f64(),
        destroy_time.as_secs_f64()
    );
}
