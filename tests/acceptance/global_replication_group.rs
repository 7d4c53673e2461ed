//! `aws_elasticache_global_replication_group` and the replication group's
//! `global_replication_group_id`, HashiCorp's acceptance pattern in one
//! working directory on one runtime (normally process), an empty plan after each
//! step: a primary group in us-east-1 and a datastore on it (`_basic`); the
//! datastore deleted with the SDK and re-created by the next apply
//! (`_disappears`); a secondary group in us-west-2 through an aliased
//! provider on the same endpoint, a key written with redis-cli on the
//! primary read on the secondary's reader endpoint; a description update;
//! a failover to us-west-2 and back with the SDK (writes follow the
//! primary, Terraform sees the new primary as HashiCorp's provider does); an
//! engine upgrade through the datastore, then Redis OSS → Valkey (both
//! regions' clusters run it);
//! import by ID; a destroy that leaves nothing. The datastore has no tags
//! (neither has HashiCorp's), so there is no `_tags`.

use std::process::Command;
use std::time::{Duration, Instant};

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, client_in, name, one_runtime};

/// The backend's provider block plus an aliased one for us-west-2.
fn providers(be: &Backend) -> String {
    let p = be.provider_hcl();
    let at = p.find("provider \"aws\"").expect("provider block");
    let west = p[at..]
        .replacen("{\n", "{\n  alias                       = \"west\"\n", 1)
        .replace("\"us-east-1\"", "\"us-west-2\"");
    format!("{p}\n{west}")
}

/// The primary group, the datastore on it and, when `secondary` is not
/// empty, a secondary group in us-west-2.
fn hcl(
    be: &Backend,
    primary: &str,
    secondary: &str,
    suffix: &str,
    desc: &str,
    version: &str,
) -> String {
    // "7.1", or "valkey 7.2" for an engine change.
    let version = match version.split_once(' ') {
        _ if version.is_empty() => String::new(),
        Some((engine, v)) => format!("engine = \"{engine}\"\n  engine_version = \"{v}\""),
        None => format!("engine_version = \"{version}\""),
    };
    let secondary = if secondary.is_empty() {
        String::new()
    } else {
        format!(
            r#"
resource "aws_elasticache_replication_group" "secondary" {{
  provider = aws.west

  replication_group_id        = "{secondary}"
  description                 = "secondary region"
  global_replication_group_id = aws_elasticache_global_replication_group.test.global_replication_group_id
  num_cache_clusters          = 2
}}

output "secondary_address" {{ value = aws_elasticache_replication_group.secondary.primary_endpoint_address }}
output "secondary_reader" {{ value = aws_elasticache_replication_group.secondary.reader_endpoint_address }}
output "secondary_port" {{ value = aws_elasticache_replication_group.secondary.port }}
output "secondary_engine" {{ value = aws_elasticache_replication_group.secondary.engine }}
output "secondary_node_type" {{ value = aws_elasticache_replication_group.secondary.node_type }}
output "secondary_version" {{ value = aws_elasticache_replication_group.secondary.engine_version_actual }}
"#
        )
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
    ignore_changes = [engine, engine_version]
  }}
}}

resource "aws_elasticache_global_replication_group" "test" {{
  global_replication_group_id_suffix   = "{suffix}"
  primary_replication_group_id         = aws_elasticache_replication_group.primary.id
  global_replication_group_description = "{desc}"
  {version}
}}

output "global_id" {{ value = aws_elasticache_global_replication_group.test.global_replication_group_id }}
output "arn" {{ value = aws_elasticache_global_replication_group.test.arn }}
output "engine_version_actual" {{ value = aws_elasticache_global_replication_group.test.engine_version_actual }}
output "primary_address" {{ value = aws_elasticache_replication_group.primary.primary_endpoint_address }}
output "primary_port" {{ value = aws_elasticache_replication_group.primary.port }}
output "primary_reader" {{ value = aws_elasticache_replication_group.primary.reader_endpoint_address }}
{secondary}"#,
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

/// Apply `config`, an engine change made through the datastore: one change
/// planned; a refresh then records the secondary's new version (only outputs
/// move), the plan is clean, and every cluster of both regions runs `version`.
fn upgrade_through_datastore(be: &Backend, tf: &Tf, config: &str, version: &str) {
    tf.config(config);
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    let o = tf.run(&[
        "apply",
        "-refresh-only",
        "-auto-approve",
        "-input=false",
        "-no-color",
    ]);
    assert_eq!(o.code, 0, "{}", o.text);
    tf.plan_is_clean();
    assert!(out_str(tf, "secondary_version").starts_with(version));
    for region in ["us-east-1", "us-west-2"] {
        let v = cluster_versions(be, region);
        assert!(
            v.len() == 2 && v.iter().all(|v| v.starts_with(version)),
            "{region}: {v:?}"
        );
    }
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

/// The datastore as the API describes it (with its members), if it exists.
fn remote_global(
    be: &Backend,
    gid: &str,
) -> Option<aws_sdk_elasticache::types::GlobalReplicationGroup> {
    let c = be.client();
    block(async {
        c.describe_global_replication_groups()
            .global_replication_group_id(gid)
            .show_member_info(true)
            .send()
            .await
            .ok()?
            .global_replication_groups
            .unwrap_or_default()
            .pop()
    })
}

/// Wait until the datastore is `available` with `primary` as its primary member.
fn wait_primary(be: &Backend, gid: &str, primary: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let g = remote_global(be, gid).expect("the datastore exists");
        let p = g
            .members()
            .iter()
            .find(|m| m.role() == Some("PRIMARY"))
            .and_then(|m| m.replication_group_id());
        if g.status() == Some("available") && p == Some(primary) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{gid}: status {:?}, primary {p:?}",
            g.status()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// FailoverGlobalReplicationGroup onto `group` of `region`, then wait for it.
fn failover(be: &Backend, gid: &str, region: &str, group: &str) {
    block(
        be.client()
            .failover_global_replication_group()
            .global_replication_group_id(gid)
            .primary_region(region)
            .primary_replication_group_id(group)
            .send(),
    )
    .expect("failover");
    wait_primary(be, gid, group);
}

/// A key written on `(host, port)` read on `(rhost, rport)` within 30 s.
fn replicates(w: (&str, u64), r: (&str, u64), key: &str, value: &str) {
    assert_eq!(redis_cli(w.0, w.1, &["SET", key, value]), "OK");
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis_cli(r.0, r.1, &["GET", key]) != value {
        assert!(
            Instant::now() < deadline,
            "{key} written on {}:{} never reached {}:{}",
            w.0,
            w.1,
            r.0,
            r.1
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn global_replication_group_two_regions() {
    require_terraform!();
    one_runtime(two_regions);
}

fn two_regions(be: &Backend) {
    let (primary, secondary) = (name("gp"), name("gs"));
    let suffix = format!("acc{}", &primary[primary.len() - 6..]);
    let tf = Tf::new();

    // HashiCorp's _basic: the primary group and the datastore on it
    tf.config(&hcl(be, &primary, "", &suffix, "first", ""));
    tf.apply();
    tf.plan_is_clean();
    let gid = out_str(&tf, "global_id");
    assert!(gid.ends_with(&suffix), "{gid}");
    assert_eq!(
        remote_global(be, &gid).and_then(|g| g.status),
        Some("primary-only".to_owned())
    );

    // _disappears: the datastore deleted with the SDK (its primary kept)
    block(
        be.client()
            .delete_global_replication_group()
            .global_replication_group_id(&gid)
            .retain_primary_replication_group(true)
            .send(),
    )
    .expect("delete the datastore");
    let deadline = Instant::now() + Duration::from_secs(60);
    while remote_global(be, &gid).is_some_and(|g| g.status() != Some("deleted")) {
        assert!(Instant::now() < deadline, "{gid} was never deleted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("aws_elasticache_global_replication_group.test will be created")
            && plan.contains("1 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    assert_eq!(out_str(&tf, "global_id"), gid);

    // a secondary in the other region joins
    tf.config(&hcl(be, &primary, &secondary, &suffix, "first", ""));
    let t = Instant::now();
    tf.apply();
    let join_time = t.elapsed();
    tf.plan_is_clean();
    // What the secondary inherits is read back.
    assert_eq!(out_str(&tf, "secondary_engine"), "redis");
    assert_eq!(out_str(&tf, "secondary_node_type"), "cache.m5.large");
    let remote = remote_global(be, &gid).expect("the datastore exists");
    assert_eq!(remote.status(), Some("available"));
    assert_eq!(remote.members().len(), 2);

    // a key written in us-east-1 is read in us-west-2
    let pp = out_port(&tf, "primary_port");
    let (pa, pr) = (
        out_str(&tf, "primary_address"),
        out_str(&tf, "primary_reader"),
    );
    let sp = out_port(&tf, "secondary_port");
    let (sa, sr) = (
        out_str(&tf, "secondary_address"),
        out_str(&tf, "secondary_reader"),
    );
    replicates((&pa, pp), (&sr, sp), "greeting", "from-east");

    // update in place: the description
    tf.config(&hcl(be, &primary, &secondary, &suffix, "second", ""));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    let desc = remote_global(be, &gid).and_then(|g| g.global_replication_group_description);
    assert_eq!(desc.as_deref(), Some("second"));

    // a failover to us-west-2 behind Terraform's back: writes now go to
    // the west and reach the east; Terraform sees the new primary as
    // HashiCorp's does (`primary_replication_group_id` differs, which
    // forces a replacement), so the group fails back before the next step
    failover(be, &gid, "us-west-2", &secondary);
    replicates((&sa, sp), (&pr, pp), "greeting", "from-west");
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains(&format!(
            "\"{secondary}\" -> \"{primary}\" # forces replacement"
        )),
        "{plan}"
    );
    failover(be, &gid, "us-east-1", &primary);
    tf.plan_is_clean();
    replicates((&pa, pp), (&sr, sp), "greeting", "from-east-again");

    // an engine upgrade through the datastore reaches both regions
    upgrade_through_datastore(
        be,
        &tf,
        &hcl(be, &primary, &secondary, &suffix, "second", "7.1"),
        "7.1",
    );
    assert!(out_str(&tf, "engine_version_actual").starts_with("7.1"));
    // The data came through the upgrade.
    assert_eq!(redis_cli(&sr, sp, &["GET", "greeting"]), "from-east-again");

    // Redis OSS -> Valkey through the datastore, the same way
    upgrade_through_datastore(
        be,
        &tf,
        &hcl(be, &primary, &secondary, &suffix, "second", "valkey 7.2"),
        "7.2",
    );
    assert_eq!(out_str(&tf, "secondary_engine"), "valkey");
    assert_eq!(redis_cli(&sr, sp, &["GET", "greeting"]), "from-east-again");

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
    assert_eq!(global_count(be), 0);
    assert_eq!(group_count(be, "us-east-1"), 0);
    assert_eq!(group_count(be, "us-west-2"), 0);
    // The secondary left the datastore before it was deleted (HashiCorp's order).
    let west = client_in(be, "us-west-2");
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
        "two-region global datastore: secondary (2 nodes) joined in {:.1} s, destroy of both groups {:.1} s",
        join_time.as_secs_f64(),
        destroy_time.as_secs_f64()
    );
}
