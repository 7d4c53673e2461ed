//! `aws_elasticache_subnet_group` (resource and data source), HashiCorp's
//! acceptance pattern.

use std::collections::BTreeMap;

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, import_block, name, one_runtime, provider_with};

const S1: &str = "subnet-0123456789abcdef0";
const S2: &str = "subnet-0123456789abcdef1";

fn config(be: &Backend, name: &str, subnets: &[&str], extra: &str) -> String {
    let ids: Vec<String> = subnets.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"{}
resource "aws_elasticache_subnet_group" "test" {{
  name       = "{name}"
  subnet_ids = [{}]
{extra}
}}

output "arn" {{ value = aws_elasticache_subnet_group.test.arn }}
output "id" {{ value = aws_elasticache_subnet_group.test.id }}
output "vpc_id" {{ value = aws_elasticache_subnet_group.test.vpc_id }}
output "tags_all" {{ value = aws_elasticache_subnet_group.test.tags_all }}
"#,
        be.provider_hcl(),
        ids.join(", ")
    )
}

/// (description, subnet ids) as the API has them.
fn remote(be: &Backend, name: &str) -> Option<(String, Vec<String>)> {
    let c = be.client();
    block(async {
        let g = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .ok()?
            .cache_subnet_groups
            .unwrap_or_default()
            .pop()?;
        let mut ids: Vec<String> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
            .collect();
        ids.sort();
        Some((g.cache_subnet_group_description.unwrap_or_default(), ids))
    })
}

#[test]
fn subnet_group_basic() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sg");
        let tf = Tf::new();
        tf.config(&config(be, &n, &[S1], ""));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        assert_eq!(out["id"]["value"], n.as_str());
        assert!(out["vpc_id"]["value"].as_str().unwrap().starts_with("vpc-"));
        assert_eq!(
            remote(be, &n).unwrap(),
            ("Managed by Terraform".to_owned(), vec![S1.to_owned()])
        );
        tf.destroy();
        assert!(remote(be, &n).is_none());
    });
}

#[test]
fn subnet_group_update() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sgu");
        let tf = Tf::new();
        tf.config(&config(be, &n, &[S1], ""));
        tf.apply();
        let arn = tf.outputs()["arn"]["value"].clone();

        // In place: description and subnets.
        tf.config(&config(be, &n, &[S1, S2], "  description = \"updated\""));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(tf.outputs()["arn"]["value"], arn);
        assert_eq!(
            remote(be, &n).unwrap(),
            ("updated".to_owned(), vec![S1.to_owned(), S2.to_owned()])
        );

        // Upper case: AWS keeps the name lower case, so the same group. The
        // state follows the configuration (an in-place update that calls
        // no API), never a replacement.
        tf.config(&config(
            be,
            &n.to_uppercase(),
            &[S1, S2],
            "  description = \"updated\"",
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(tf.outputs()["arn"]["value"], arn);

        // Replacing: a new name.
        let n2 = format!("{n}-2");
        tf.config(&config(be, &n2, &[S2], ""));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("must be replaced"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert!(remote(be, &n).is_none());
        assert!(remote(be, &n2).is_some());
        tf.destroy();
    });
}

#[test]
fn subnet_group_uppercase_name() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("SGUC");
        let tf = Tf::new();
        tf.config(&config(be, &n, &[S1], ""));
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(tf.outputs()["id"]["value"], n.to_lowercase().as_str());
        assert!(remote(be, &n.to_lowercase()).is_some());
        tf.destroy();
    });
}

#[test]
fn subnet_group_disappears() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sgd");
        let tf = Tf::new();
        tf.config(&config(be, &n, &[S1], ""));
        tf.apply();
        block(
            be.client()
                .delete_cache_subnet_group()
                .cache_subnet_group_name(&n)
                .send(),
        )
        .unwrap();
        let plan = tf.plan_has_changes();
        assert!(plan.contains("will be created"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        tf.destroy();
    });
}

#[test]
fn subnet_group_tags() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sgt");
        let tf = Tf::new();
        let with_defaults = |cfg: String| {
            cfg.replacen(
                &be.provider_hcl(),
                &provider_with(
                    be,
                    "  default_tags {\n    tags = { env = \"test\" }\n  }\n  ignore_tags {\n    keys = [\"ignored\"]\n  }",
                ),
                1,
            )
        };
        tf.config(&with_defaults(config(
            be,
            &n,
            &[S1],
            "  tags = { key1 = \"value1\" }",
        )));
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(
            tf.outputs()["tags_all"]["value"],
            serde_json::json!({"env": "test", "key1": "value1"})
        );
        let arn = tf.outputs()["arn"]["value"].as_str().unwrap().to_owned();
        let tag = |k: &str, v: &str| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        };
        // A tag added behind Terraform's back under an ignored key: no diff.
        block(
            be.client()
                .add_tags_to_resource()
                .resource_name(&arn)
                .tags(tag("ignored", "x"))
                .send(),
        )
        .unwrap();
        tf.plan_is_clean();

        tf.config(&with_defaults(config(
            be,
            &n,
            &[S1],
            "  tags = { key2 = \"value2\", env = \"override\" }",
        )));
        tf.apply();
        tf.plan_is_clean();
        let remote: BTreeMap<String, String> = block(
            be.client()
                .list_tags_for_resource()
                .resource_name(&arn)
                .send(),
        )
        .unwrap()
        .tag_list()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
        let want: BTreeMap<String, String> =
            [("env", "override"), ("ignored", "x"), ("key2", "value2")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(remote, want);
        tf.destroy();
    });
}

#[test]
fn subnet_group_import() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sgi");
        let tf = Tf::new();
        tf.config(&config(
            be,
            &n,
            &[S1, S2],
            "  description = \"imported\"\n  tags = { a = \"b\" }",
        ));
        tf.apply();
        tf.state_rm("aws_elasticache_subnet_group.test");
        tf.import("aws_elasticache_subnet_group.test", &n);
        tf.plan_is_clean();
        import_block(be, "aws_elasticache_subnet_group.imported", &n);
        tf.destroy();
    });
}

#[test]
fn subnet_group_data_source() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("sgds");
        let tf = Tf::new();
        tf.config(&format!(
            r#"{}
data "aws_elasticache_subnet_group" "test" {{
  name = aws_elasticache_subnet_group.test.name
}}

output "ds" {{ value = data.aws_elasticache_subnet_group.test }}
"#,
            config(
                be,
                &n,
                &[S1, S2],
                "  description = \"ds\"\n  tags = { k = \"v\" }"
            )
        ));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        let ds = &out["ds"]["value"];
        assert_eq!(ds["arn"], out["arn"]["value"]);
        assert_eq!(ds["vpc_id"], out["vpc_id"]["value"]);
        assert_eq!(ds["description"], "ds");
        assert_eq!(ds["id"], n.as_str());
        assert_eq!(ds["tags"], serde_json::json!({"k": "v"}));
        let mut ids: Vec<String> = ds["subnet_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        assert_eq!(ids, vec![S1.to_owned(), S2.to_owned()]);
        tf.destroy();
    });
}
