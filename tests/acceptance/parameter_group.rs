//! `aws_elasticache_parameter_group`, HashiCorp's acceptance pattern.

use std::collections::BTreeMap;

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, import_block, name, one_runtime, provider_with};

fn config(be: &Backend, name: &str, family: &str, params: &[(&str, &str)], extra: &str) -> String {
    let mut p = String::new();
    for (n, v) in params {
        p.push_str(&format!(
            "  parameter {{\n    name  = \"{n}\"\n    value = \"{v}\"\n  }}\n"
        ));
    }
    format!(
        r#"{}
resource "aws_elasticache_parameter_group" "test" {{
  name   = "{name}"
  family = "{family}"
{p}{extra}
}}

output "arn" {{ value = aws_elasticache_parameter_group.test.arn }}
output "id" {{ value = aws_elasticache_parameter_group.test.id }}
output "tags_all" {{ value = aws_elasticache_parameter_group.test.tags_all }}
"#,
        be.provider_hcl()
    )
}

/// The group's family and `Source=user` parameters, as the API has them.
fn remote(be: &Backend, name: &str) -> Option<(String, BTreeMap<String, String>)> {
    let c = be.client();
    block(async {
        let g = match c
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
        {
            Ok(o) => o.cache_parameter_groups.unwrap_or_default().pop()?,
            Err(_) => return None,
        };
        let ps = c
            .describe_cache_parameters()
            .cache_parameter_group_name(name)
            .source("user")
            .send()
            .await
            .unwrap();
        Some((
            g.cache_parameter_group_family.unwrap_or_default(),
            ps.parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_name().unwrap_or_default().to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        ))
    })
}

#[test]
fn parameter_group_basic() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("pg");
        let tf = Tf::new();
        tf.config(&config(be, &n, "redis7", &[], ""));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        assert_eq!(out["id"]["value"], n.as_str());
        assert!(out["arn"]["value"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":parametergroup:{n}")));
        let (family, params) = remote(be, &n).expect("group exists");
        assert_eq!(family, "redis7");
        assert!(params.is_empty());
        tf.destroy();
        assert!(remote(be, &n).is_none(), "destroyed");
    });
}

#[test]
fn parameter_group_update() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("pgu");
        let tf = Tf::new();
        tf.config(&config(
            be,
            &n,
            "redis7",
            &[("maxmemory-policy", "allkeys-lru"), ("timeout", "60")],
            "",
        ));
        tf.apply();
        tf.plan_is_clean();
        let arn = tf.outputs()["arn"]["value"].clone();
        let (_, p) = remote(be, &n).unwrap();
        assert_eq!(
            p.get("maxmemory-policy").map(String::as_str),
            Some("allkeys-lru")
        );
        assert_eq!(p.get("timeout").map(String::as_str), Some("60"));

        // In place: change one, remove one (reset), add one.
        tf.config(&config(
            be,
            &n,
            "redis7",
            &[
                ("maxmemory-policy", "volatile-lru"),
                ("activedefrag", "yes"),
            ],
            "",
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(tf.outputs()["arn"]["value"], arn, "same group");
        let (_, p) = remote(be, &n).unwrap();
        assert_eq!(
            p.get("maxmemory-policy").map(String::as_str),
            Some("volatile-lru")
        );
        assert_eq!(p.get("activedefrag").map(String::as_str), Some("yes"));
        assert!(!p.contains_key("timeout"), "timeout was reset: {p:?}");

        // More than 20 parameters: Modify, then Reset, in chunks of 20.
        let many = [
            ("acllog-max-len", "200"),
            ("active-defrag-cycle-max", "50"),
            ("active-defrag-cycle-min", "10"),
            ("active-defrag-max-scan-fields", "500"),
            ("active-defrag-threshold-lower", "20"),
            ("active-defrag-threshold-upper", "90"),
            ("active-expire-effort", "2"),
            ("activedefrag", "yes"),
            ("client-output-buffer-limit-normal-hard-limit", "1"),
            ("client-output-buffer-limit-normal-soft-limit", "1"),
            ("client-output-buffer-limit-normal-soft-seconds", "1"),
            ("client-query-buffer-limit", "2097152"),
            ("close-on-replica-write", "no"),
            ("databases", "32"),
            ("hash-max-listpack-entries", "256"),
            ("hash-max-listpack-value", "128"),
            ("hll-sparse-max-bytes", "4000"),
            ("latency-tracking", "no"),
            ("lazyfree-lazy-eviction", "yes"),
            ("lazyfree-lazy-expire", "yes"),
            ("lazyfree-lazy-server-del", "yes"),
            ("maxmemory-policy", "volatile-lru"),
        ];
        tf.config(&config(be, &n, "redis7", &many, ""));
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote(be, &n).unwrap().1.len(), many.len());

        // Replacing: a new family.
        tf.config(&config(
            be,
            &n,
            "valkey8",
            &[("maxmemory-policy", "volatile-lru")],
            "",
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("must be replaced"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote(be, &n).unwrap().0, "valkey8");

        tf.config(&config(be, &n, "valkey8", &[], ""));
        tf.apply();
        tf.plan_is_clean();
        assert!(remote(be, &n).unwrap().1.is_empty());
        tf.destroy();
    });
}

#[test]
fn parameter_group_disappears() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("pgd");
        let tf = Tf::new();
        tf.config(&config(be, &n, "redis7", &[("timeout", "30")], ""));
        tf.apply();
        block(
            be.client()
                .delete_cache_parameter_group()
                .cache_parameter_group_name(&n)
                .send(),
        )
        .unwrap();
        let plan = tf.plan_has_changes();
        assert!(plan.contains("will be created"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert!(remote(be, &n).is_some());
        tf.destroy();
    });
}

#[test]
fn parameter_group_tags() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("pgt");
        let tf = Tf::new();
        let with_defaults = |cfg: String| {
            cfg.replacen(
                &be.provider_hcl(),
                &provider_with(
                    be,
                    "  default_tags {\n    tags = { env = \"test\", team = \"a\" }\n  }",
                ),
                1,
            )
        };
        tf.config(&with_defaults(config(
            be,
            &n,
            "redis7",
            &[],
            "  tags = { key1 = \"value1\", team = \"b\" }",
        )));
        tf.apply();
        tf.plan_is_clean();
        let all = &tf.outputs()["tags_all"]["value"];
        assert_eq!(
            all,
            &serde_json::json!({"env": "test", "key1": "value1", "team": "b"})
        );
        let arn = tf.outputs()["arn"]["value"].as_str().unwrap().to_owned();
        let remote_tags = || {
            block(
                be.client()
                    .list_tags_for_resource()
                    .resource_name(&arn)
                    .send(),
            )
            .unwrap()
            .tag_list()
            .iter()
            .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
            .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(remote_tags().len(), 3);

        // Update: change one, drop one, add one.
        tf.config(&with_defaults(config(
            be,
            &n,
            "redis7",
            &[],
            "  tags = { key1 = \"value1updated\", key2 = \"value2\" }",
        )));
        tf.apply();
        tf.plan_is_clean();
        let want: BTreeMap<String, String> = [
            ("env", "test"),
            ("key1", "value1updated"),
            ("key2", "value2"),
            ("team", "a"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(remote_tags(), want);

        // No tags and no default tags at all.
        tf.config(&config(be, &n, "redis7", &[], ""));
        tf.apply();
        tf.plan_is_clean();
        assert!(remote_tags().is_empty());
        assert_eq!(tf.outputs()["tags_all"]["value"], serde_json::json!({}));
        tf.destroy();
    });
}

#[test]
fn parameter_group_import() {
    require_terraform!();
    one_runtime(|be| {
        let n = name("pgi");
        let tf = Tf::new();
        tf.config(&config(
            be,
            &n,
            "redis7",
            &[("timeout", "45")],
            "  tags = { a = \"b\" }",
        ));
        tf.apply();
        tf.state_rm("aws_elasticache_parameter_group.test");
        tf.import("aws_elasticache_parameter_group.test", &n);
        tf.plan_is_clean();
        import_block(be, "aws_elasticache_parameter_group.imported", &n);
        tf.destroy();
    });
}
