//! HashiCorp's Terraform AWS provider (5.100.0) with a global datastore: a
//! primary group in us-east-1, `aws_elasticache_global_replication_group`, and
//! a secondary group in us-west-2 through an aliased provider on the same
//! endpoint. Apply; a key written in the primary region is read in the
//! secondary (which refuses writes); a second plan is clean; an engine upgrade
//! through the datastore (6.2 → 7.1) keeps the data and plans clean; a
//! failover to us-west-2 (HashiCorp's `primary_replication_group_id` forces a
//! new datastore, so the failover goes through the API and the configuration
//! then names the new primary) plans clean, and so does the failover back;
//! destroy leaves no engine and no `global-datastore-…` parameter group.
//! Process runtime (the engines on Docker are covered by `global.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{on_one_runtime, Tf};
use crate::common::{ep, eventually, name, plain, Backend, Ep};

const TEMPLATE: &str = include_str!("global.tf");
const PLAN: &[&str] = &["plan", "-detailed-exitcode", "-no-color", "-input=false"];

#[test]
fn terraform_aws_global_datastore() {
    on_one_runtime("terraform_aws_global_datastore", global_on);
}

fn primary_endpoint(g: &Value) -> Ep {
    ep(
        g["primary_endpoint_address"].as_str().unwrap(),
        i32::try_from(g["port"].as_i64().unwrap()).unwrap(),
    )
}

fn reader_endpoint(g: &Value) -> Ep {
    ep(
        g["reader_endpoint_address"].as_str().unwrap(),
        i32::try_from(g["port"].as_i64().unwrap()).unwrap(),
    )
}

fn until(what: &str, f: impl Fn() -> String, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {got}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plan after a change made outside Terraform (a failover) proposes no
/// resource change; once the refreshed state is saved, it is clean.
fn no_resource_changes(tf: &Tf, be: &Backend) {
    let r = tf.run(PLAN);
    assert!(
        (r.code == 0 || r.code == 2) && !r.out.contains("Plan:"),
        "plan proposes changes:\n{}",
        r.out
    );
    tf.expect(
        &["apply", "-refresh-only", "-auto-approve", "-no-color"],
        0,
        be,
    );
    tf.expect(PLAN, 0, be);
}

/// The datastore's primary as the configuration names it.
const PRIMARY_REF: &str = "aws_elasticache_replication_group.primary.id";

fn global_on(rt: &str, mirror: &Path) {
    if rt != "process" {
        return;
    }
    let be = Backend::start(rt);
    let suffix = name("g");
    let render = |primary: &str, settings: &str| {
        TEMPLATE
            .replace("@ENDPOINT@", &be.endpoint())
            .replace("@SUFFIX@", &suffix)
            .replace("@PRIMARY@", primary)
            .replace("@GLOBAL_SETTINGS@", settings)
    };
    let tf = Tf::new(mirror, &render(PRIMARY_REF, ""));
    tf.expect(&["init", "-no-color"], 0, &be);
    tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);
    let o = tf.output(&be);
    let g = &o["global"]["value"];
    let gid = g["global_replication_group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(gid, format!("ldgnf-tf-{suffix}"));
    assert_eq!(g["cache_node_type"], "cache.m5.large");
    assert_eq!(g["cluster_enabled"], false);
    let (p, s) = (&o["primary"]["value"], &o["secondary"]["value"]);
    assert_eq!(s["global_replication_group_id"], gid.as_str());
    assert_eq!(
        s["node_type"], "cache.m5.large",
        "the secondary inherits: {s}"
    );
    // Each member has a parameter group of its own, as AWS gives them (the
    // secondary's state shows it; the primary's is checked through the API).
    let own_group = |m: &Value, id: &str| {
        let pg = m["parameter_group_name"].as_str().unwrap();
        assert!(
            pg.starts_with(&format!("global-datastore-{id}-{suffix}")),
            "{pg}"
        );
    };
    own_group(s, "tf-gs");
    assert_eq!(
        plain(primary_endpoint(p), &["SET", "tf-global", "v1"]),
        "OK"
    );
    until(
        "the secondary reads the primary's write",
        || plain(reader_endpoint(s), &["GET", "tf-global"]),
        "v1",
    );
    assert!(plain(primary_endpoint(s), &["SET", "tf-global", "x"]).starts_with("READONLY"));
    tf.expect(PLAN, 0, &be);

    // An engine upgrade through the datastore reaches both regions, data kept.
    tf.write_main(&render(PRIMARY_REF, "engine_version = \"7.1\""));
    tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);
    // The members' state shows the new version once refreshed.
    tf.expect(
        &["apply", "-refresh-only", "-auto-approve", "-no-color"],
        0,
        &be,
    );
    let o = tf.output(&be);
    let s = &o["secondary"]["value"];
    own_group(s, "tf-gs");
    assert!(
        o["global"]["value"]["engine_version_actual"]
            .as_str()
            .unwrap()
            .starts_with("7.1"),
        "{o}"
    );
    assert!(
        s["engine_version_actual"]
            .as_str()
            .unwrap()
            .starts_with("7.1"),
        "{s}"
    );
    until(
        "the secondary keeps its data through the upgrade",
        || plain(reader_endpoint(s), &["GET", "tf-global"]),
        "v1",
    );
    tf.expect(PLAN, 0, &be);

    // Failover to us-west-2 through the API; the configuration then names the
    // new primary and plans clean; the same back.
    let (p, s) = (
        o["primary"]["value"].clone(),
        o["secondary"]["value"].clone(),
    );
    let settings = "engine_version = \"7.1\"";
    let rt_tokio = tokio::runtime::Runtime::new().unwrap();
    let failover = |region: &str, group: &str| {
        rt_tokio.block_on(async {
            let c = be.client_in(region);
            c.failover_global_replication_group()
                .global_replication_group_id(&gid)
                .primary_region(region)
                .primary_replication_group_id(group)
                .send()
                .await
                .unwrap();
            eventually(
                "datastore available after failover",
                Duration::from_secs(120),
                || {
                    let c = c.clone();
                    let gid = gid.clone();
                    async move {
                        let d = c
                            .describe_global_replication_groups()
                            .global_replication_group_id(&gid)
                            .show_member_info(true)
                            .send()
                            .await
                            .ok()?;
                        let g = d.global_replication_groups().first()?.clone();
                        let primary = g.members().iter().find(|m| m.role() == Some("PRIMARY"))?;
                        (g.status() == Some("available")
                            && primary.replication_group_id() == Some(group))
                        .then_some(())
                    }
                },
            )
            .await;
        });
    };
    rt_tokio.block_on(async {
        let c = be.client_in("us-east-1");
        let d = c
            .describe_cache_clusters()
            .cache_cluster_id(format!("tf-gp-{suffix}-001"))
            .send()
            .await
            .unwrap();
        let pg = d.cache_clusters()[0]
            .cache_parameter_group()
            .and_then(|p| p.cache_parameter_group_name())
            .unwrap_or_default()
            .to_owned();
        assert!(
            pg.starts_with(&format!("global-datastore-tf-gp-{suffix}")),
            "{pg}"
        );
    });
    let west = format!("tf-gs-{suffix}");
    failover("us-west-2", &west);
    until(
        "the new primary region takes writes",
        || plain(primary_endpoint(&s), &["SET", "tf-global", "v2"]),
        "OK",
    );
    until(
        "the old primary region follows",
        || plain(reader_endpoint(&p), &["GET", "tf-global"]),
        "v2",
    );
    assert!(plain(primary_endpoint(&p), &["SET", "tf-global", "x"]).starts_with("READONLY"));
    tf.write_main(&render(&format!("\"{west}\""), settings));
    no_resource_changes(&tf, &be);
    failover("us-east-1", &format!("tf-gp-{suffix}"));
    until(
        "the primary region takes writes again",
        || plain(primary_endpoint(&p), &["SET", "tf-global", "v3"]),
        "OK",
    );
    tf.write_main(&render(PRIMARY_REF, settings));
    no_resource_changes(&tf, &be);

    tf.expect(&["destroy", "-auto-approve", "-no-color"], 0, &be);
    let left = std::fs::read_dir(be.data_dir.join("nodes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "engines left after destroy");
    rt_tokio.block_on(async {
        for region in ["us-east-1", "us-west-2"] {
            let pgs = be
                .client_in(region)
                .describe_cache_parameter_groups()
                .send()
                .await
                .unwrap();
            let left: Vec<_> = pgs
                .cache_parameter_groups()
                .iter()
                .filter_map(|g| g.cache_parameter_group_name())
                .filter(|n| n.starts_with("global-datastore-"))
                .collect();
            assert!(
                left.is_empty(),
                "parameter groups left in {region}: {left:?}"
            );
        }
    });
}
