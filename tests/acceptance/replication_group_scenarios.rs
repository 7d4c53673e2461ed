//! `aws_elasticache_replication_group` scenarios in HashiCorp's pattern
//! (each step followed by an empty plan), on the process runtime (the
//! Docker runtime's replication is covered by the other tests): a group with
//! `user_group_ids` (RBAC checked with redis-cli), a failover (the primary
//! moved out of band to the member a decrease would remove, then
//! `num_cache_clusters` decreased), a restore from a final snapshot
//! (`snapshot_name`), and a Valkey group.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acceptance::{require_terraform, Backend, Tf};
use serde_json::Value as Json;

use crate::common::{block, name};

fn group(tf: &Tf) -> Json {
    tf.outputs()["group"]["value"].clone()
}

fn group_hcl(id: &str, extra: &str) -> String {
    format!(
        r#"
resource "aws_elasticache_replication_group" "test" {{
  replication_group_id = "{id}"
  description          = "scenario"
  node_type            = "cache.t3.micro"
  apply_immediately    = true
{extra}
}}

output "group" {{
  value     = aws_elasticache_replication_group.test
  sensitive = true
}}
"#
    )
}

fn describe(be: &Backend, id: &str) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
    block(
        be.client()
            .describe_replication_groups()
            .replication_group_id(id)
            .send(),
    )
    .ok()
    .and_then(|o| o.replication_groups().first().cloned())
}

fn wait_available(be: &Backend, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while describe(be, id).and_then(|g| g.status().map(str::to_owned)) != Some("available".into()) {
        assert!(Instant::now() < deadline, "{id} never available");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The member cluster that is primary.
fn primary_member(be: &Backend, id: &str) -> String {
    let g = describe(be, id).unwrap();
    g.node_groups()[0]
        .node_group_members()
        .iter()
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .unwrap()
        .to_owned()
}

fn addr(g: &Json, attr: &str) -> (String, u64) {
    (
        g[attr]
            .as_str()
            .unwrap_or_else(|| panic!("{attr}: {g}"))
            .to_owned(),
        g["port"].as_u64().unwrap_or(6379),
    )
}

/// Each line of `input` sent to one `redis-cli` connection (TLS when `ca`
/// is given; passwords go through stdin, never the command line); its
/// non-empty output lines.
fn cli(ca: Option<&Path>, (host, port): &(String, u64), input: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("redis-cli");
    if let Some(ca) = ca {
        cmd.args(["--tls", "--cacert"]).arg(ca);
    }
    let mut child = cmd
        .args(["-h", host, "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli runs");
    let mut stdin = child.stdin.take().unwrap();
    for l in input {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_destroyed(be: &Backend, id: &str) {
    assert!(describe(be, id).is_none(), "{id} still exists");
}

const ADMIN_PW: &str = "the-default-users-password";
const PW1: &str = "first-app-password-0001";
const PW2: &str = "second-app-password-0002";

/// `user_group_ids`: a user and a user group created in the same
/// configuration as the TLS group that attaches them; the user's password
/// works on the primary endpoint (and a wrong one does not), its access
/// string is enforced, and a password change reaches the engines.
#[test]
fn replication_group_user_group_ids() {
    require_terraform!();
    let be = Backend::start("process");
    let ca = be.data.path().join("tls/ca.pem");
    let (id, ug, u) = (name("rbac"), name("ug"), name("u"));
    let app = format!("{u}-app");
    let hcl = |pw: &str| {
        format!(
            r#"{}
resource "aws_elasticache_user" "default" {{
  user_id       = "{u}-default"
  user_name     = "default"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["{ADMIN_PW}"]
}}

resource "aws_elasticache_user" "app" {{
  user_id       = "{app}"
  user_name     = "{app}"
  access_string = "on ~app:* +@all"
  engine        = "redis"
  passwords     = ["{pw}"]
}}

resource "aws_elasticache_user_group" "test" {{
  user_group_id = "{ug}"
  engine        = "redis"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
}}
{}"#,
            be.provider_hcl(),
            group_hcl(
                &id,
                "  engine                     = \"redis\"\n  engine_version             = \"7.1\"\n  num_cache_clusters         = 2\n  transit_encryption_enabled = true\n  user_group_ids             = [aws_elasticache_user_group.test.id]"
            )
        )
    };
    let tf = Tf::new();
    tf.config(&hcl(PW1));
    let o = tf.apply();
    assert!(!o.text.contains(PW1), "{}", o.text);
    tf.plan_is_clean();
    let g = group(&tf);
    assert_eq!(g["user_group_ids"], serde_json::json!([ug]));
    assert_eq!(g["transit_encryption_enabled"], true);
    let primary = addr(&g, "primary_endpoint_address");
    let auth = |pw: &str| format!("AUTH {app} {pw}");
    let out = cli(
        Some(&ca),
        &primary,
        &[
            "PING",
            &auth(PW1),
            "SET app:k v1",
            "GET app:k",
            "SET other v",
        ],
    );
    assert!(out[0].contains("NOAUTH"), "no password, no access: {out:?}");
    assert_eq!(&out[1..4], ["OK", "OK", "v1"], "{out:?}");
    assert!(out[4].contains("NOPERM"), "key outside ~app:*: {out:?}");
    let out = cli(Some(&ca), &primary, &[&auth("a-wrong-password-000000")]);
    assert!(out[0].contains("WRONGPASS"), "{out:?}");

    // The user's password changes in place; the engines take it.
    tf.config(&hcl(PW2));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cli(Some(&ca), &primary, &[&auth(PW2), "GET app:k"]);
        if out == ["OK", "v1"] {
            break;
        }
        assert!(Instant::now() < deadline, "new password refused: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = cli(Some(&ca), &primary, &[&auth(PW1)]);
    assert!(
        out[0].contains("WRONGPASS"),
        "old password still works: {out:?}"
    );
    tf.destroy();
    check_destroyed(&be, &id);
}

/// HashiCorp's `_NumberCacheClustersFailover_autoFailoverEnabled`: the
/// primary is moved out of band to member 003 (automatic failover off,
/// `PrimaryClusterId`, on again): the plan stays empty; then
/// `num_cache_clusters` 3 → 2 removes replicas only, the data and the
/// primary endpoint stay.
#[test]
fn replication_group_failover() {
    require_terraform!();
    let be = Backend::start("process");
    let id = name("fo");
    let hcl = |n: u32| {
        format!(
            "{}{}",
            be.provider_hcl(),
            group_hcl(
                &id,
                &format!("  engine                     = \"redis\"\n  engine_version             = \"7.1\"\n  num_cache_clusters         = {n}\n  automatic_failover_enabled = true\n  multi_az_enabled           = false")
            )
        )
    };
    let tf = Tf::new();
    tf.config(&hcl(3));
    tf.apply();
    tf.plan_is_clean();
    let g = group(&tf);
    let primary = addr(&g, "primary_endpoint_address");
    assert_eq!(cli(None, &primary, &["SET k before"]), ["OK"]);
    assert_eq!(primary_member(&be, &id), format!("{id}-001"));

    // Out of band, as HashiCorp's test does it.
    let c = be.client();
    let modify = |f: &dyn Fn(
        aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder,
    ) -> aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder| {
        block(
            f(c.modify_replication_group()
                .replication_group_id(&id)
                .apply_immediately(true))
            .send(),
        )
        .unwrap();
        wait_available(&be, &id);
    };
    modify(&|m| m.automatic_failover_enabled(false));
    modify(&|m| m.primary_cluster_id(format!("{id}-003")));
    modify(&|m| m.automatic_failover_enabled(true));
    assert_eq!(primary_member(&be, &id), format!("{id}-003"));
    tf.plan_is_clean();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cli(None, &primary, &["GET k"]) != ["before"] {
        assert!(Instant::now() < deadline, "data lost in the failover");
        std::thread::sleep(Duration::from_millis(100));
    }

    // 3 → 2: a replica goes, never the primary.
    tf.config(&hcl(2));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    let g = group(&tf);
    let members: Vec<&str> = g["member_clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(members.len(), 2, "{g}");
    assert!(members.contains(&format!("{id}-003").as_str()), "{g}");
    assert_eq!(primary_member(&be, &id), format!("{id}-003"));
    assert_eq!(addr(&g, "primary_endpoint_address"), primary);
    assert_eq!(
        cli(None, &primary, &["GET k", "SET k after", "GET k"]),
        ["before", "OK", "after"]
    );
    tf.destroy();
    check_destroyed(&be, &id);
}

/// A restore: keys written to a group, the group destroyed with a
/// `final_snapshot_identifier`, a new group from `snapshot_name` reads them.
#[test]
fn replication_group_snapshot_restore() {
    require_terraform!();
    let be = Backend::start("process");
    let (src, dst, snap) = (name("src"), name("dst"), name("final"));
    let source = group_hcl(
        &src,
        &format!("  engine                    = \"redis\"\n  engine_version            = \"7.1\"\n  num_cache_clusters        = 1\n  final_snapshot_identifier = \"{snap}\""),
    );
    let restored = group_hcl(
        &dst,
        &format!("  engine             = \"redis\"\n  engine_version     = \"7.1\"\n  num_cache_clusters = 2\n  snapshot_name      = \"{snap}\""),
    )
    .replace("\"test\"", "\"restored\"")
    .replace("replication_group.test", "replication_group.restored")
    .replace("\"group\"", "\"restored\"");
    let tf = Tf::new();
    tf.config(&format!("{}{source}", be.provider_hcl()));
    tf.apply();
    tf.plan_is_clean();
    let g = group(&tf);
    let primary = addr(&g, "primary_endpoint_address");
    assert_eq!(
        cli(None, &primary, &["SET k1 one", "SET k2 two"]),
        ["OK", "OK"]
    );

    // The source goes, leaving its final snapshot.
    tf.config(&be.provider_hcl());
    tf.apply();
    tf.plan_is_clean();
    check_destroyed(&be, &src);
    let snaps = block(be.client().describe_snapshots().snapshot_name(&snap).send()).unwrap();
    assert_eq!(snaps.snapshots().len(), 1, "{snaps:?}");

    // A new group from it.
    tf.config(&format!("{}{restored}", be.provider_hcl()));
    tf.apply();
    tf.plan_is_clean();
    let g = tf.outputs()["restored"]["value"].clone();
    assert_eq!(g["snapshot_name"], snap.as_str());
    assert_eq!(g["num_cache_clusters"], 2);
    let (primary, reader) = (
        addr(&g, "primary_endpoint_address"),
        addr(&g, "reader_endpoint_address"),
    );
    assert_eq!(cli(None, &primary, &["GET k1", "GET k2"]), ["one", "two"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while cli(None, &reader, &["GET k2"]) != ["two"] {
        assert!(Instant::now() < deadline, "the replica never had the data");
        std::thread::sleep(Duration::from_millis(100));
    }
    tf.destroy();
    check_destroyed(&be, &dst);
    block(be.client().delete_snapshot().snapshot_name(&snap).send()).unwrap();
}

/// `engine = "valkey"`: a 1+1 group, a replica added in place, each step
/// with an empty plan.
#[test]
fn replication_group_valkey() {
    require_terraform!();
    let be = Backend::start("process");
    let id = name("vk");
    let hcl = |n: u32| {
        format!(
            "{}{}",
            be.provider_hcl(),
            group_hcl(
                &id,
                &format!("  engine             = \"valkey\"\n  engine_version     = \"8.0\"\n  num_cache_clusters = {n}\n  port               = 6379")
            )
        )
    };
    let tf = Tf::new();
    tf.config(&hcl(2));
    tf.apply();
    tf.plan_is_clean();
    let g = group(&tf);
    assert_eq!(g["engine"], "valkey");
    assert_eq!(g["engine_version"], "8.0");
    assert!(
        g["engine_version_actual"]
            .as_str()
            .unwrap()
            .starts_with("8.0"),
        "{g}"
    );
    assert_eq!(
        g["parameter_group_name"], "default.valkey8",
        "the family's default parameter group"
    );
    let remote = describe(&be, &id).unwrap();
    assert_eq!(remote.engine(), Some("valkey"));
    let primary = addr(&g, "primary_endpoint_address");
    assert_eq!(cli(None, &primary, &["SET k v", "GET k"]), ["OK", "v"]);

    tf.config(&hcl(3));
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    tf.apply();
    tf.plan_is_clean();
    let g = group(&tf);
    assert_eq!(g["member_clusters"].as_array().unwrap().len(), 3);
    assert_eq!(addr(&g, "primary_endpoint_address"), primary);
    tf.destroy();
    check_destroyed(&be, &id);
}

/// `import {}` + `terraform plan -generate-config-out` for a replication
/// group with cluster mode off, one with cluster mode on, and a cluster.
/// The generated HCL of a group sets both `num_cache_clusters` and
/// `num_node_groups` / `replicas_per_node_group`, which conflict (as with
/// HashiCorp's provider, whose schema has the same rule): Terraform refuses
/// it naming the conflict, and the documented edit — keep the one that
/// matches the group's mode — applies the import to an empty plan. The
/// cluster's generated HCL applies as generated.
#[test]
fn import_block_generate_config_out() {
    require_terraform!();
    let be = Backend::start("process");
    let (plain, sharded, cluster) = (name("gp"), name("gs"), name("gc"));
    let c = be.client();
    block(
        c.create_replication_group()
            .replication_group_id(&plain)
            .replication_group_description("cluster mode off")
            .engine("redis")
            .engine_version("7.1")
            .cache_node_type("cache.t3.micro")
            .num_cache_clusters(2)
            .automatic_failover_enabled(true)
            .send(),
    )
    .unwrap();
    block(
        c.create_replication_group()
            .replication_group_id(&sharded)
            .replication_group_description("cluster mode on")
            .engine("redis")
            .engine_version("7.1")
            .cache_node_type("cache.t3.micro")
            .cache_parameter_group_name("default.redis7.cluster.on")
            .num_node_groups(2)
            .replicas_per_node_group(0)
            .automatic_failover_enabled(true)
            .send(),
    )
    .unwrap();
    block(
        c.create_cache_cluster()
            .cache_cluster_id(&cluster)
            .engine("redis")
            .engine_version("7.1")
            .cache_node_type("cache.t3.micro")
            .num_cache_nodes(1)
            .send(),
    )
    .unwrap();
    wait_available(&be, &plain);
    wait_available(&be, &sharded);

    let tf = Tf::new();
    tf.config(&format!(
        r#"{}
import {{
  to = aws_elasticache_replication_group.plain
  id = "{plain}"
}}

import {{
  to = aws_elasticache_replication_group.sharded
  id = "{sharded}"
}}

import {{
  to = aws_elasticache_cluster.imported
  id = "{cluster}"
}}
"#,
        be.provider_hcl()
    ));
    let o = tf.run(&[
        "plan",
        "-input=false",
        "-no-color",
        "-generate-config-out=gen.tf",
    ]);
    let gen_path = tf.work.path().join("gen.tf");
    let generated = std::fs::read_to_string(&gen_path).unwrap();
    eprintln!("generated:\n{generated}");
    assert_eq!(o.code, 1, "{}", o.text);
    assert!(
        o.text
            .contains("\"num_cache_clusters\": conflicts with num_node_groups"),
        "{}",
        o.text
    );
    for r in [
        "aws_elasticache_replication_group\" \"plain\"",
        "aws_elasticache_replication_group\" \"sharded\"",
        "aws_elasticache_cluster\" \"imported\"",
    ] {
        assert!(generated.contains(r), "{r} not generated");
    }

    // The edit: per group, keep the arguments of its mode.
    let mut edited = String::new();
    let mut current = "";
    for line in generated.lines() {
        if line.starts_with("resource ") {
            current = if line.contains("\"plain\"") {
                "plain"
            } else if line.contains("\"sharded\"") {
                "sharded"
            } else {
                "other"
            };
        }
        let arg = line.split_whitespace().next().unwrap_or("");
        let drop = match current {
            "plain" => ["num_node_groups", "replicas_per_node_group"].contains(&arg),
            "sharded" => arg == "num_cache_clusters",
            _ => false,
        };
        if !drop {
            edited.push_str(line);
            edited.push('\n');
        }
    }
    std::fs::write(&gen_path, edited).unwrap();
    let o = tf.apply();
    assert!(
        o.text.contains("3 imported, 0 added, 0 changed"),
        "{}",
        o.text
    );
    tf.plan_is_clean();
    tf.destroy();
    check_destroyed(&be, &plain);
    check_destroyed(&be, &sharded);
}
