//! `aws_elasticache_reserved_cache_node` with the offering data source, and
//! the service-update data sources, in HashiCorp's pattern (several steps in
//! one working directory, an empty plan after each). The control plane only:
//! reservations and the catalogs touch no engine (the update actions read
//! here come from a cluster the SDK creates).

use acceptance::{require_terraform, Backend, Tf};

use crate::common::{block, name, one_runtime};

fn config(be: &Backend, id: &str, tags: &str) -> String {
    format!(
        r#"{}
data "aws_elasticache_reserved_cache_node_offering" "test" {{
  cache_node_type     = "cache.t4g.small"
  duration            = "P1Y"
  offering_type       = "No Upfront"
  product_description = "redis"
}}

resource "aws_elasticache_reserved_cache_node" "test" {{
  reserved_cache_nodes_offering_id = data.aws_elasticache_reserved_cache_node_offering.test.offering_id
  id                               = "{id}"
  cache_node_count                 = 2
{tags}
}}

output "arn" {{ value = aws_elasticache_reserved_cache_node.test.arn }}
output "state" {{ value = aws_elasticache_reserved_cache_node.test.state }}
output "duration" {{ value = aws_elasticache_reserved_cache_node.test.duration }}
output "fixed_price" {{ value = aws_elasticache_reserved_cache_node.test.fixed_price }}
output "offering_fixed_price" {{ value = data.aws_elasticache_reserved_cache_node_offering.test.fixed_price }}
output "offering_type" {{ value = aws_elasticache_reserved_cache_node.test.offering_type }}
output "recurring_charges" {{ value = aws_elasticache_reserved_cache_node.test.recurring_charges }}
output "tags_all" {{ value = aws_elasticache_reserved_cache_node.test.tags_all }}
"#,
        be.provider_hcl()
    )
}

/// The reservation's state and tag count as the API has them.
fn remote(be: &Backend, id: &str) -> Option<(String, usize)> {
    let c = be.client();
    block(async {
        let r = c
            .describe_reserved_cache_nodes()
            .reserved_cache_node_id(id)
            .send()
            .await
            .ok()?
            .reserved_cache_nodes
            .unwrap_or_default()
            .pop()?;
        let arn = r.reservation_arn.clone().unwrap_or_default();
        let tags = c
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .ok()?;
        Some((r.state.unwrap_or_default(), tags.tag_list().len()))
    })
}

#[test]
fn reserved_cache_node_purchase_tags_import_destroy() {
    require_terraform!();
    one_runtime(|be| {
        let id = name("rcn");
        let tf = Tf::new();

        // Purchase: active once applied, priced as the offering.
        tf.config(&config(be, &id, "  tags = { Name = \"test\" }"));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        assert_eq!(out["state"]["value"], "active");
        assert_eq!(out["duration"]["value"], "P1Y");
        assert_eq!(out["offering_type"]["value"], "No Upfront");
        assert_eq!(
            out["fixed_price"]["value"],
            out["offering_fixed_price"]["value"]
        );
        assert_eq!(
            out["recurring_charges"]["value"][0]["recurring_charge_frequency"],
            "Hourly"
        );
        assert!(out["arn"]["value"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":reserved-instance:{id}")));
        assert_eq!(remote(be, &id), Some(("active".to_owned(), 1)));

        // Tags change in place.
        tf.config(&config(
            be,
            &id,
            "  tags = { Name = \"test\", Team = \"cache\" }",
        ));
        let plan = tf.plan_has_changes();
        assert!(plan.contains("updated in-place"), "{plan}");
        tf.apply();
        tf.plan_is_clean();
        assert_eq!(remote(be, &id), Some(("active".to_owned(), 2)));

        // Import into a second working directory: the same configuration plans clean.
        let tf2 = Tf::new();
        tf2.config(&config(
            be,
            &id,
            "  tags = { Name = \"test\", Team = \"cache\" }",
        ));
        tf2.import("aws_elasticache_reserved_cache_node.test", &id);
        tf2.plan_is_clean();
        tf2.state_rm("aws_elasticache_reserved_cache_node.test");

        // Destroy: removed from state only, the reservation stays (as on AWS).
        tf.destroy();
        assert_eq!(remote(be, &id), Some(("active".to_owned(), 2)));
    });
}

#[test]
fn service_update_data_sources_read_the_catalog() {
    require_terraform!();
    one_runtime(|be| {
        let cluster = name("su");
        let c = be.client();
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
        let tf = Tf::new();
        tf.config(&format!(
            r#"{}
data "aws_elasticache_service_updates" "all" {{}}

data "aws_elasticache_service_updates" "available" {{
  status = ["available"]
}}

data "aws_elasticache_service_update_actions" "test" {{
  cache_cluster_id = "{cluster}"
}}

output "all" {{ value = data.aws_elasticache_service_updates.all.service_updates }}
output "available" {{ value = data.aws_elasticache_service_updates.available.service_updates }}
output "actions" {{ value = data.aws_elasticache_service_update_actions.test.update_actions }}
"#,
            be.provider_hcl()
        ));
        tf.apply();
        tf.plan_is_clean();
        let out = tf.outputs();
        let all = out["all"]["value"].as_array().unwrap();
        let available = out["available"]["value"].as_array().unwrap();
        let sdk = block(c.describe_service_updates().send()).unwrap();
        assert_eq!(all.len(), sdk.service_updates().len());
        assert!(
            available.len() < all.len(),
            "the catalog has an expired update"
        );
        assert!(available.iter().all(|u| u["status"] == "available"));
        let redis71 = all
            .iter()
            .find(|u| u["engine"] == "redis" && u["engine_version"] == "7.1")
            .expect("an update for redis 7.1");
        assert_eq!(redis71["type"], "security-update");
        assert!(redis71["release_date"].as_str().unwrap().ends_with('Z'));
        let actions = out["actions"]["value"].as_array().unwrap();
        assert!(!actions.is_empty());
        assert!(actions
            .iter()
            .all(|a| a["cache_cluster_id"] == cluster.as_str()));
        let a = actions
            .iter()
            .find(|a| a["service_update_name"] == redis71["name"])
            .expect("the redis 7.1 update's action");
        assert_eq!(a["update_action_status"], "not-applied");
        assert_eq!(a["engine"], "redis");
        block(c.delete_cache_cluster().cache_cluster_id(&cluster).send()).unwrap();
    });
}
