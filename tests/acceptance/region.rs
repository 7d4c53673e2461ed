//! HashiCorp 6.x's per-resource `region` on every type, and 5.x provider
//! blocks and configurations that keep working.

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, client_in, name, one_runtime};

fn config(be: &Backend, sg: &str, pg: &str, cl: &str, pg_region: &str) -> String {
    format!(
        r#"{}
resource "aws_elasticache_subnet_group" "west" {{
  name       = "{sg}"
  subnet_ids = ["subnet-0123456789abcdef0"]
  region     = "us-west-2"
}}

resource "aws_elasticache_parameter_group" "moved" {{
  name   = "{pg}"
  family = "redis7"
  region = "{pg_region}"
}}

resource "aws_elasticache_cluster" "west" {{
  cluster_id        = "{cl}"
  engine            = "redis"
  node_type         = "cache.t3.micro"
  num_cache_nodes   = 1
  subnet_group_name = aws_elasticache_subnet_group.west.name
  region            = "us-west-2"
}}

# In the provider's region.
resource "aws_elasticache_subnet_group" "home" {{
  name       = "{sg}-home"
  subnet_ids = ["subnet-0123456789abcdef0"]
}}

data "aws_elasticache_subnet_group" "west" {{
  name   = aws_elasticache_subnet_group.west.name
  region = "us-west-2"
}}

data "aws_elasticache_cluster" "west" {{
  cluster_id = aws_elasticache_cluster.west.cluster_id
  region     = "us-west-2"
}}

output "home_region" {{ value = aws_elasticache_subnet_group.home.region }}
output "ds_arn" {{ value = data.aws_elasticache_subnet_group.west.arn }}
output "ds_cluster_region" {{ value = data.aws_elasticache_cluster.west.region }}
output "ds_cluster_engine" {{ value = data.aws_elasticache_cluster.west.engine }}
"#,
        be.provider_hcl()
    )
}

/// Whether subnet group `name` exists in `region`.
fn subnet_group_in(be: &Backend, region: &str, name: &str) -> bool {
    let c = client_in(be, region);
    block(async {
        c.describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .is_ok()
    })
}

fn parameter_group_in(be: &Backend, region: &str, name: &str) -> bool {
    let c = client_in(be, region);
    block(async {
        c.describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
            .is_ok()
    })
}

fn cluster_in(be: &Backend, region: &str, id: &str) -> bool {
    let c = client_in(be, region);
    block(async {
        c.describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
            .is_ok()
    })
}

/// Resources and data sources in another region than the provider's; a
/// region change replaces; import as `id@region`.
#[test]
fn region_per_resource() {
    require_terraform!();
    one_runtime(|be| {
        let (sg, pg, cl) = (name("rsg"), name("rpg"), name("rcl"));
        let tf = Tf::new();
        tf.config(&config(be, &sg, &pg, &cl, "us-west-2"));
        tf.apply();
        tf.plan_is_clean();
        assert!(subnet_group_in(be, "us-west-2", &sg));
        assert!(!subnet_group_in(be, "us-east-1", &sg));
        assert!(parameter_group_in(be, "us-west-2", &pg));
        assert!(cluster_in(be, "us-west-2", &cl));
        assert!(!cluster_in(be, "us-east-1", &cl));
        assert!(subnet_group_in(be, "us-east-1", &format!("{sg}-home")));
        let out = tf.outputs();
        assert_eq!(out["home_region"]["value"], "us-east-1");
        assert!(out["ds_arn"]["value"]
            .as_str()
            .unwrap()
            .contains(":us-west-2:"));
        assert_eq!(out["ds_cluster_region"]["value"], "us-west-2");
        assert_eq!(out["ds_cluster_engine"]["value"], "redis");

        // Another region replaces.
        tf.config(&config(be, &sg, &pg, &cl, "eu-west-1"));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("forces replacement"), "{plan}");
        assert!(
            plan.contains("1 to add, 0 to change, 1 to destroy"),
            "{plan}"
        );
        tf.apply();
        tf.plan_is_clean();
        assert!(parameter_group_in(be, "eu-west-1", &pg));
        assert!(!parameter_group_in(be, "us-west-2", &pg));

        // Import as id@region, then an empty plan.
        tf.state_rm("aws_elasticache_subnet_group.west");
        tf.import(
            "aws_elasticache_subnet_group.west",
            &format!("{sg}@us-west-2"),
        );
        tf.state_rm("aws_elasticache_cluster.west");
        tf.import("aws_elasticache_cluster.west", &format!("{cl}@us-west-2"));
        tf.plan_is_clean();

        tf.destroy();
        assert!(!subnet_group_in(be, "us-west-2", &sg));
        assert!(!parameter_group_in(be, "eu-west-1", &pg));
        assert!(!cluster_in(be, "us-west-2", &cl));
    });
}

/// A provider block and configuration written for HashiCorp's 5.x: an
/// `endpoints` key 6.x removed (accepted, with a deprecation warning), no
/// `region` arguments; applies, and plans empty.
#[test]
fn provider_5x_config() {
    require_terraform!();
    one_runtime(|be| {
        let sg = name("r5x");
        let hcl = be.provider_hcl().replace(
            "  endpoints {\n",
            "  endpoints {\n    opsworks = \"http://127.0.0.1:1\"\n",
        );
        let tf = Tf::new();
        tf.config(&format!(
            r#"{hcl}
resource "aws_elasticache_subnet_group" "test" {{
  name        = "{sg}"
  description = "5.x"
  subnet_ids  = ["subnet-0123456789abcdef0"]
}}

resource "aws_elasticache_parameter_group" "test" {{
  name   = "{sg}"
  family = "redis7"
  parameter {{
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }}
}}
"#
        ));
        let o = tf.apply();
        assert!(
            o.text.contains("opsworks"),
            "deprecation warning:\n{}",
            o.text
        );
        tf.plan_is_clean();
        assert!(subnet_group_in(be, "us-east-1", &sg));
        tf.destroy();
    });
}
