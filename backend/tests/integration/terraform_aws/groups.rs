//! HashiCorp's Terraform AWS provider (5.100.0) against the backend with
//! replication groups, as an application configured from Terraform outputs
//! meets them: a 1+2 group with automatic failover and Multi-AZ, a cluster-mode
//! group of 2 shards with a replica each, and a group scaled from 2 to 4 members
//! and back. Every endpoint the state gives answers on the group's `port`
//! (writes on the primary, reads on the reader, a cluster client on the
//! configuration endpoint); a second plan is clean; an import reads back what
//! the apply wrote; destroy leaves nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{on_one_runtime, Tf};
use crate::common::{name, Backend};

const TEMPLATE: &str = include_str!("groups.tf");
const PLAN: &[&str] = &["plan", "-detailed-exitcode", "-no-color", "-input=false"];
/// Arguments that only steer an apply and are never read back (HashiCorp's
/// own import tests ignore them too).
const NOT_READ_BACK: &[&str] = &["apply_immediately", "auth_token_update_strategy"];

#[test]
fn terraform_aws_replication_groups() {
    on_one_runtime("terraform_aws_replication_groups", groups_on);
}

fn groups_on(rt: &str, mirror: &Path) {
    let be = Backend::start(rt);
    let suffix = name(rt);
    let main_tf = TEMPLATE
        .replace("@ENDPOINT@", &be.endpoint())
        .replace("@SUFFIX@", &suffix);
    let tf = Tf::new(mirror, &main_tf);
    tf.expect(&["init", "-no-color"], 0, &be);
    let apply = tf.expect(&["apply", "-auto-approve", "-no-color"], 0, &be);

    let o = tf.output(&be);
    let groups = &o["groups"]["value"];
    for k in ["replicas", "sharded", "scaled"] {
        assert_eq!(groups[k]["port"], 6379, "{k}: port on {rt}: {groups}");
    }
    let replicas = Endpoints::of(&groups["replicas"]);
    let scaled = Endpoints::of(&groups["scaled"]);
    let sharded = &groups["sharded"];
    replicas.write_then_read(&format!("replicas-{rt}"));
    scaled.write_then_read(&format!("scaled-{rt}"));
    let config = format!(
        "{}:6379",
        str_of(&sharded["configuration_endpoint_address"])
    );
    assert_eq!(ping(&config), "PONG", "configuration endpoint {config}");
    cluster_write_read(&config);

    // The data source reads what the resource reads: the same port and
    // endpoints, and every other attribute the two share.
    let state = state_values(&tf, &be);
    for k in ["replicas", "sharded"] {
        let ds = &state[&format!("data.aws_elasticache_replication_group.{k}")];
        let res = &state[&format!("aws_elasticache_replication_group.{k}")];
        let differ: Vec<String> = ds
            .iter()
            .filter_map(|(f, v)| {
                let r = res.get(f)?;
                (empty_as_null(r) != empty_as_null(v))
                    .then(|| format!("{f}: data source {v}, resource {r}"))
            })
            .collect();
        assert!(
            differ.is_empty(),
            "data source {k} on {rt}:\n{}",
            differ.join("\n")
        );
    }

    let plan = tf.expect(PLAN, 0, &be);

    // Import each group into a fresh state: it reads back what the apply wrote.
    let imp = Tf::new(mirror, &main_tf);
    imp.expect(&["init", "-no-color"], 0, &be);
    for (k, id) in [
        ("replicas", format!("tf-rg-{suffix}")),
        ("sharded", format!("tf-cm-{suffix}")),
        ("scaled", format!("tf-sc-{suffix}")),
    ] {
        let addr = format!("aws_elasticache_replication_group.{k}");
        imp.expect(&["import", "-no-color", &addr, &id], 0, &be);
    }
    let (applied, imported) = (state_values(&tf, &be), state_values(&imp, &be));
    for (addr, got) in imported.iter().filter(|(a, _)| !a.starts_with("data.")) {
        let want = &applied[addr];
        let diff: Vec<String> = want
            .iter()
            .filter(|(k, _)| !NOT_READ_BACK.contains(&k.as_str()))
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
            "{addr} imported differently on {rt}:\n{}",
            diff.join("\n")
        );
    }
    drop(imp);

    // Scale out to 4 members and back to 2, in place; endpoints keep answering.
    for n in ["4", "2"] {
        let var = format!("scaled_members={n}");
        let r = tf.expect(
            &["apply", "-auto-approve", "-no-color", "-var", &var],
            0,
            &be,
        );
        assert!(
            r.out.contains("0 to add, 1 to change, 0 to destroy"),
            "scaling to {n} must be one in-place change on {rt}:\n{}",
            r.out
        );
        let o = tf.output(&be);
        let g = &o["groups"]["value"]["scaled"];
        assert_eq!(g["member_clusters"].to_string(), n, "members on {rt}: {g}");
        assert_eq!(Endpoints::of(g), scaled, "scaled endpoints moved on {rt}");
        scaled.write_then_read(&format!("scaled-{n}-{rt}"));
        tf.expect(&[PLAN, &["-var", &var]].concat(), 0, &be);
    }

    let destroy = tf.expect(&["destroy", "-auto-approve", "-no-color"], 0, &be);
    let rt_tokio = tokio::runtime::Runtime::new().unwrap();
    rt_tokio.block_on(async {
        let left = be
            .client()
            .describe_replication_groups()
            .send()
            .await
            .unwrap();
        assert!(
            left.replication_groups().is_empty(),
            "groups left on {rt}: {left:?}"
        );
    });
    println!(
        "TIMING runtime={rt} tf_groups_apply_ms={} tf_groups_plan_ms={} tf_groups_destroy_ms={}",
        apply.ms, plan.ms, destroy.ms
    );
}

/// A cluster-mode-disabled group's endpoints, as the state gives them.
#[derive(Debug, PartialEq)]
struct Endpoints {
    primary: String,
    reader: String,
}

impl Endpoints {
    fn of(g: &Value) -> Self {
        let port = g["port"].as_u64().expect("port");
        Self {
            primary: format!("{}:{port}", str_of(&g["primary_endpoint_address"])),
            reader: format!("{}:{port}", str_of(&g["reader_endpoint_address"])),
        }
    }

    /// SET on the primary endpoint; the value is read back on the reader endpoint.
    fn write_then_read(&self, value: &str) {
        assert_eq!(
            ping(&self.primary),
            "PONG",
            "primary endpoint {}",
            self.primary
        );
        assert_eq!(
            ping(&self.reader),
            "PONG",
            "reader endpoint {}",
            self.reader
        );
        let mut w = conn(&self.primary);
        let _: () = redis::cmd("SET")
            .arg("tf-key")
            .arg(value)
            .query(&mut w)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got: Option<String> = redis::cmd("GET")
                .arg("tf-key")
                .query(&mut conn(&self.reader))
                .unwrap();
            if got.as_deref() == Some(value) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "reader {} never read {value:?} written on {} (last {got:?})",
                self.reader,
                self.primary
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// A state value with "" and empty collections read as absent, as HashiCorp's
/// own import checks (`ImportStateVerify`) read them.
pub(super) fn empty_as_null(v: &Value) -> Value {
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        Value::Object(o) if o.is_empty() => Value::Null,
        v => v.clone(),
    }
}

fn conn(addr: &str) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

fn ping(addr: &str) -> String {
    redis::cmd("PING").query(&mut conn(addr)).unwrap()
}

/// A cluster client seeded with the configuration endpoint writes and reads
/// keys on both shards.
fn cluster_write_read(config: &str) {
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://{config}/")]).unwrap();
    let mut c = client
        .get_connection()
        .unwrap_or_else(|e| panic!("cluster client on {config}: {e}"));
    for k in ["{a}k", "{b}k", "{c}k", "{d}k"] {
        let _: () = redis::cmd("SET").arg(k).arg(k).query(&mut c).unwrap();
        let v: String = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert_eq!(v, k);
    }
}

/// The resources and data sources of a state: address → attribute values.
pub(super) fn state_values(
    tf: &Tf,
    be: &Backend,
) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let r = tf.expect(&["show", "-json", "-no-color"], 0, be);
    let v: Value = serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("show -json: {e}"));
    v["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                str_of(&r["address"]).to_owned(),
                r["values"].as_object().cloned().unwrap_or_default(),
            )
        })
        .collect()
}
