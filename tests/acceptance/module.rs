//! A module written for `hashicorp/aws` (`fixtures/hashicorp-module`, the
//! shape of terraform-aws-modules/elasticache: a replication group with its
//! subnet and parameter groups, plus a security group with rules and
//! CloudWatch log groups behind switches), run unmodified on ours installed
//! under `registry.terraform.io/hashicorp/aws` (road 1 of
//! docs/guides/hashicorp-aws-modules.md), through `dev_overrides`: with the
//! companions off it applies, re-plans clean and destroys; turning one on
//! fails at plan with an error naming the type. Through a `filesystem_mirror`:
//! `init` installs ours as hashicorp/aws and the module plans. Road 2 (HashiCorp's provider against our backend) is
//! `backend/tests/integration/terraform_aws/`.

use std::path::Path;
use std::time::Duration;

use acceptance::{binaries, require_terraform, Backend, Tf};

use crate::common::name;

const HASHICORP: &str = "registry.terraform.io/hashicorp/aws";

/// A working directory whose CLI configuration installs our build as
/// `hashicorp/aws` (`dev_overrides`), with the fixture module copied to
/// `./modules/elasticache`.
fn working_dir() -> Tf {
    let tf = Tf::with_cli_config(&format!(
        "provider_installation {{\n  dev_overrides {{\n    \"{HASHICORP}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
        binaries().display()
    ));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("acceptance/fixtures/hashicorp-module");
    let dst = tf.work.path().join("modules/elasticache");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    tf
}

fn root(be: &Backend, id: &str, companions: bool) -> String {
    let provider = be.provider_hcl().replace(
        "source = \"elasticache-local/aws\"",
        "source = \"hashicorp/aws\"",
    );
    let switches = if companions {
        r#"  create_security_group = true
  security_group_rules = {
    ingress_vpc = { cidr_ipv4 = "10.0.0.0/16" }
    egress_all  = { type = "egress", cidr_ipv4 = "0.0.0.0/0" }
  }
  log_delivery_configuration = {
    slow-log = { destination_type = "cloudwatch-logs", log_format = "json" }
  }"#
    } else {
        "  create_security_group      = false\n  log_delivery_configuration = {}"
    };
    format!(
        r#"{provider}
module "elasticache" {{
  source = "./modules/elasticache"

  replication_group_id   = "{id}"
  num_cache_clusters     = 2
  subnet_ids             = ["subnet-0123456789abcdef0"]
  create_parameter_group = true
  parameters             = [{{ name = "maxmemory-policy", value = "allkeys-lru" }}]
  tags                   = {{ Module = "hashicorp-shaped" }}

{switches}
}}

output "primary" {{
  value = "${{module.elasticache.replication_group_primary_endpoint_address}}:${{module.elasticache.replication_group_port}}"
}}
"#
    )
}

#[test]
fn hashicorp_module_on_ours_under_the_hashicorp_address() {
    require_terraform!();
    let be = Backend::start("process");
    let tf = working_dir();
    let id = name("mod");
    tf.config(&root(&be, &id, false));
    // `dev_overrides` need no `init` for the provider (and `init` would look
    // for hashicorp/aws in the registry): `get` installs the module.
    let o = tf.run(&["get", "-no-color"]);
    assert_eq!(o.code, 0, "terraform get failed:\n{}", o.text);
    let o = tf.run(&["validate", "-no-color"]);
    assert_eq!(o.code, 0, "terraform validate failed:\n{}", o.text);

    // Companions off: every instance is an ElastiCache type.
    tf.apply();
    tf.plan_is_clean();
    let primary = tf.outputs()["primary"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = redis::Client::open(format!("redis://{primary}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query(&mut c)
        .unwrap();
    assert_eq!(policy, ["maxmemory-policy", "allkeys-lru"]);

    // Companions on: the plan fails, naming each type, before anything
    // changes (the rules, which depend on the security group, are not
    // planned once it failed).
    tf.config(&root(&be, &id, true));
    let o = tf.run(&["plan", "-input=false", "-no-color"]);
    assert_eq!(o.code, 1, "expected a failing plan:\n{}", o.text);
    for t in ["aws_security_group", "aws_cloudwatch_log_group"] {
        assert!(
            o.text
                .contains(&format!("{t}: this provider manages ElastiCache only")),
            "no error naming {t}:\n{}",
            o.text
        );
    }
    assert!(o.text.contains("endpoints"), "{}", o.text);

    tf.config(&root(&be, &id, false));
    tf.plan_is_clean();
    tf.destroy();
    let gone = crate::common::block(
        be.client()
            .describe_replication_groups()
            .replication_group_id(&id)
            .send(),
    );
    assert!(gone.is_err(), "replication group {id} still exists");
}

/// Road 1 with a `filesystem_mirror`: ours in the mirror as hashicorp/aws
/// 6.69.1 (the release whose schema it follows, so that the module's
/// `version = ">= 5.0"` holds); `terraform init` installs it and the
/// unmodified module validates and plans.
#[test]
fn hashicorp_module_installs_ours_from_a_mirror() {
    require_terraform!();
    let be = Backend::start("process");
    let mirror = tempfile::Builder::new()
        .prefix("ec-mirror-")
        .tempdir()
        .unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let dir = mirror
        .path()
        .join("registry.terraform.io/hashicorp/aws/6.69.1")
        .join(format!("{}_{arch}", std::env::consts::OS));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        binaries().join("terraform-provider-aws"),
        dir.join("terraform-provider-aws_v6.69.1"),
    )
    .unwrap();
    let tf = working_dir();
    std::fs::write(
        tf.work.path().join(".terraformrc"),
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{HASHICORP}\"]\n  }}\n  direct {{\n    exclude = [\"{HASHICORP}\"]\n  }}\n}}\n",
            mirror.path().display()
        ),
    )
    .unwrap();
    let id = name("mir");
    tf.config(&root(&be, &id, false));
    let o = tf.run(&["init", "-input=false", "-no-color"]);
    assert_eq!(o.code, 0, "terraform init failed:\n{}", o.text);
    assert!(
        o.text.contains("Installed hashicorp/aws v6.69.1"),
        "{}",
        o.text
    );
    let plan = tf.plan_has_changes();
    assert!(
        plan.contains("3 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
}
