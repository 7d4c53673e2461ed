//! Module companions: the non-ElastiCache types that popular ElastiCache
//! modules declare (terraform-aws-modules/elasticache, cloudposse's), with
//! HashiCorp's schema exactly (hashicorp/aws 5.100.0, plus 6.x's `region`).
//!
//! Terraform checks the type of every resource block of a module, even one
//! with `count = 0`, so without these a module written for `hashicorp/aws`
//! fails before planning anything. They manage nothing: a resource block
//! with no instance plans fine, and planning an instance answers an error
//! that names the type, says that this provider manages ElastiCache only and
//! points to the two roads (turn the instance off, or use HashiCorp's
//! provider with `endpoints { elasticache = … }` for this configuration).
//! Never a fake success.
//!
//! The schemas are one data file, `hashicorp-aws-5.100.0.json` (the
//! `resource_schemas` of `terraform providers schema -json` of HashiCorp's
//! provider, as `../shared/terraform/hashicorp-aws-5.100.0-module-companions.json`
//! holds them; a unit test keeps the two equal).

use std::sync::Arc;

use serde_json::Value as Json;
use tfplugin::{
    async_trait, default_plan, ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic,
    Diagnostics, Imported, NestedBlock, Nesting, PlanRequest, PlanResponse, ReadRequest,
    ReadResponse, Schema, Type,
};

use crate::region;

const SCHEMAS: &str = include_str!("hashicorp-aws-5.100.0.json");

/// Where the guide to the two roads lives.
const GUIDE: &str = "docs/guides/hashicorp-aws-modules.md";

/// One companion type: HashiCorp's schema, no behaviour.
pub struct Companion {
    type_name: String,
    schema: Schema,
}

/// Every companion type, in name order.
pub fn all() -> Vec<Arc<dyn tfplugin::Resource>> {
    schemas()
        .into_iter()
        .map(|(type_name, schema)| Arc::new(Companion { type_name, schema }) as _)
        .collect()
}

/// The data file's schemas, each with 6.x's `region` added.
fn schemas() -> Vec<(String, Schema)> {
    let doc: Json = serde_json::from_str(SCHEMAS).expect("companion schemas are JSON");
    doc["resource_schemas"]
        .as_object()
        .expect("resource_schemas")
        .iter()
        .map(|(name, s)| {
            let block = block_from_json(&s["block"], name).attribute(region::attribute());
            let version = s["version"].as_i64().unwrap_or(0);
            (name.clone(), Schema::new(block).version(version))
        })
        .collect()
}

/// A block as `terraform providers schema -json` writes it.
fn block_from_json(j: &Json, path: &str) -> Block {
    let mut b = Block::new();
    if let Some(attrs) = j["attributes"].as_object() {
        for (name, a) in attrs {
            assert!(
                a.get("nested_type").is_none(),
                "{path}.{name}: nested attribute types are not supported here"
            );
            let ty = Type::from_json(&a["type"]).unwrap_or_else(|e| panic!("{path}.{name}: {e:?}"));
            let mut attr = Attribute::new(name.as_str(), ty);
            let flag = |f: &str| a[f].as_bool().unwrap_or(false);
            attr.required = flag("required");
            attr.optional = flag("optional");
            attr.computed = flag("computed");
            attr.sensitive = flag("sensitive");
            attr.deprecated = flag("deprecated");
            b = b.attribute(attr);
        }
    }
    if let Some(blocks) = j["block_types"].as_object() {
        for (name, nb) in blocks {
            let nesting = match nb["nesting_mode"].as_str() {
                Some("single") => Nesting::Single,
                Some("group") => Nesting::Group,
                Some("list") => Nesting::List,
                Some("set") => Nesting::Set,
                Some("map") => Nesting::Map,
                other => panic!("{path}.{name}: nesting mode {other:?}"),
            };
            let inner = block_from_json(&nb["block"], &format!("{path}.{name}"));
            b = b.nested(
                NestedBlock::new(name.as_str(), nesting, inner)
                    .min_items(nb["min_items"].as_i64().unwrap_or(0))
                    .max_items(nb["max_items"].as_i64().unwrap_or(0)),
            );
        }
    }
    b
}

/// The error of an instance of a companion type.
fn not_managed(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("{type_name}: this provider manages ElastiCache only"),
        format!(
            "This provider (elasticache-local) declares {type_name} with HashiCorp's schema so that \
             modules written for hashicorp/aws load and plan, but it manages Amazon ElastiCache \
             types only and cannot create, read or delete a {type_name}. Two roads:\n\
             1. Turn this instance off in the module (e.g. `count = 0`; for \
             terraform-aws-modules/elasticache, `create_security_group = false` and no log \
             delivery to CloudWatch), so that every instance is an aws_elasticache_* type, and \
             keep this provider installed under registry.terraform.io/hashicorp/aws.\n\
             2. Use HashiCorp's provider (hashicorp/aws) for this configuration, with \
             `endpoints {{ elasticache = \"http://127.0.0.1:4566\" }}` pointing its ElastiCache \
             calls at the elasticache-local backend, for modules that also create other AWS \
             resources.\n\
             See {GUIDE} (\"Using it with an existing hashicorp/aws module\")."
        ),
    )
}

#[async_trait]
impl tfplugin::Resource for Companion {
    fn type_name(&self) -> String {
        self.type_name.clone()
    }

    fn schema(&self) -> Schema {
        self.schema.clone()
    }

    /// An instance (non-null proposed state) is an error; a destroy of
    /// nothing plans as usual.
    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        if req.proposed_new_state.is_null() {
            return default_plan(&self.schema, req);
        }
        PlanResponse {
            planned_state: req.proposed_new_state,
            diagnostics: not_managed(&self.type_name).into(),
            ..Default::default()
        }
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        ApplyResponse::error(req.prior_state, not_managed(&self.type_name))
    }

    /// Nothing to refresh: a state (e.g. moved over from HashiCorp's
    /// provider) is kept as it is, and planning it answers the error.
    async fn read(&self, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: req.current_state,
            private: req.private,
            diagnostics: Diagnostics::default(),
        }
    }

    async fn import(&self, _id: &str) -> Result<Vec<Imported>, Diagnostics> {
        Err(not_managed(&self.type_name).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::Value;

    /// A block back in `terraform providers schema -json`'s form (the
    /// members the reference carries).
    fn block_to_json(b: &Block) -> Json {
        let mut out = serde_json::Map::new();
        let mut attrs = serde_json::Map::new();
        for a in &b.attributes {
            let mut m = serde_json::Map::new();
            m.insert("description_kind".into(), "plain".into());
            m.insert("type".into(), a.ty.to_json());
            for (f, on) in [
                ("required", a.required),
                ("optional", a.optional),
                ("computed", a.computed),
                ("sensitive", a.sensitive),
                ("deprecated", a.deprecated),
            ] {
                if on {
                    m.insert(f.into(), true.into());
                }
            }
            attrs.insert(a.name.clone(), Json::Object(m));
        }
        if !attrs.is_empty() {
            out.insert("attributes".into(), Json::Object(attrs));
        }
        let mut blocks = serde_json::Map::new();
        for nb in &b.blocks {
            let mut m = serde_json::Map::new();
            m.insert("block".into(), block_to_json(&nb.block));
            let mode = match nb.nesting {
                Nesting::Single => "single",
                Nesting::Group => "group",
                Nesting::List => "list",
                Nesting::Set => "set",
                Nesting::Map => "map",
            };
            m.insert("nesting_mode".into(), mode.into());
            if nb.min_items != 0 {
                m.insert("min_items".into(), nb.min_items.into());
            }
            if nb.max_items != 0 {
                m.insert("max_items".into(), nb.max_items.into());
            }
            blocks.insert(nb.type_name.clone(), Json::Object(m));
        }
        if !blocks.is_empty() {
            out.insert("block_types".into(), Json::Object(blocks));
        }
        out.insert("description_kind".into(), "plain".into());
        Json::Object(out)
    }

    /// The checked-in data file still equals the shared reference (when the
    /// reference is there: it lives beside the repository).
    #[test]
    fn data_file_equals_the_reference() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/terraform/hashicorp-aws-5.100.0-module-companions.json");
        let Ok(text) = std::fs::read_to_string(&reference) else {
            eprintln!("SKIP: {} not found", reference.display());
            return;
        };
        let reference: Json = serde_json::from_str(&text).unwrap();
        let ours: Json = serde_json::from_str(SCHEMAS).unwrap();
        assert_eq!(ours["resource_schemas"], reference["resource_schemas"]);
    }

    /// Each schema is the data file's, attribute for attribute and block for
    /// block, plus `region` (optional + computed).
    #[test]
    fn schemas_are_hashicorps_plus_region() {
        let doc: Json = serde_json::from_str(SCHEMAS).unwrap();
        let all = all();
        let names: Vec<String> = all.iter().map(|r| r.type_name()).collect();
        assert_eq!(
            names,
            [
                "aws_cloudwatch_log_group",
                "aws_cloudwatch_metric_alarm",
                "aws_kms_key",
                "aws_route53_record",
                "aws_security_group",
                "aws_security_group_rule",
                "aws_vpc_security_group_egress_rule",
                "aws_vpc_security_group_ingress_rule",
            ]
        );
        for r in all {
            let name = r.type_name();
            let schema = r.schema();
            let mut want = doc["resource_schemas"][&name].clone();
            want["block"]["attributes"]["region"] = serde_json::json!({
                "computed": true, "description_kind": "plain", "optional": true, "type": "string"
            });
            assert_eq!(block_to_json(&schema.block), want["block"], "{name}");
            assert_eq!(Json::from(schema.version), want["version"], "{name}");
        }
    }

    fn plan_request(proposed: Value) -> PlanRequest {
        PlanRequest {
            prior_state: Value::Null,
            proposed_new_state: proposed,
            config: Value::Null,
            prior_private: Vec::new(),
            provider_meta: Value::Null,
        }
    }

    /// Planning an instance is an error that names the type and the roads;
    /// planning no instance (a destroy of nothing) is not.
    #[tokio::test]
    async fn an_instance_is_an_error_naming_the_type() {
        let sg = all()
            .into_iter()
            .find(|r| r.type_name() == "aws_security_group")
            .unwrap();
        let proposed = Value::null_object(&sg.schema().value_type());
        let resp = sg.plan(plan_request(proposed)).await;
        assert!(resp.diagnostics.has_errors());
        let text = format!("{:?}", resp.diagnostics);
        assert!(text.contains("aws_security_group"), "{text}");
        assert!(text.contains("ElastiCache only"), "{text}");
        assert!(text.contains("endpoints"), "{text}");
        let resp = sg.plan(plan_request(Value::Null)).await;
        assert!(!resp.diagnostics.has_errors());
        assert!(sg.import("sg-0123").await.is_err());
    }
}
