//! The provider's documentation and examples, checked against what it serves:
//! every resource and data source has an example under `examples/` that
//! `terraform validate` passes, and every attribute of its schema is named in
//! its page under `docs/` (registry layout).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use acceptance::{require_terraform, Tf};
use serde_json::Value;

const PROVIDER: &str = r#"terraform {
  required_providers {
    aws = { source = "elasticache-local/aws" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}
"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Our provider's schema (`terraform providers schema -json`): its resources
/// and data sources, module companions left out (they have no instances).
fn schema() -> (Value, Value) {
    let tf = Tf::new();
    tf.config(PROVIDER);
    let o = tf.run(&["providers", "schema", "-json"]);
    assert_eq!(o.code, 0, "terraform providers schema failed:\n{}", o.text);
    let start = o.text.find("{\"format_version\"").expect("schema JSON");
    let json: Value = serde_json::Deserializer::from_str(&o.text[start..])
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    let p = json["provider_schemas"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    (
        p["resource_schemas"].clone(),
        p["data_source_schemas"].clone(),
    )
}

fn elasticache(types: &Value) -> Vec<(String, Value)> {
    types
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("aws_elasticache_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every attribute name of a block, nested blocks and nested attribute
/// types included (`timeouts` left out: its keys are the Timeouts section's).
fn attributes(block: &Value, out: &mut BTreeSet<String>) {
    if let Some(attrs) = block["attributes"].as_object() {
        for (name, a) in attrs {
            out.insert(name.clone());
            if let Some(nested) = a.get("nested_type") {
                attributes(nested, out);
            }
            collect_object_keys(&a["type"], out);
        }
    }
    if let Some(blocks) = block["block_types"].as_object() {
        for (name, b) in blocks {
            if name == "timeouts" {
                continue;
            }
            out.insert(name.clone());
            attributes(&b["block"], out);
        }
    }
}

/// Keys of object types (`list(object({...}))`), as a computed list of
/// objects carries them.
fn collect_object_keys(t: &Value, out: &mut BTreeSet<String>) {
    match t {
        Value::Array(a) if a.first() == Some(&Value::String("object".into())) => {
            if let Some(o) = a.get(1).and_then(Value::as_object) {
                for (k, v) in o {
                    out.insert(k.clone());
                    collect_object_keys(v, out);
                }
            }
        }
        Value::Array(a) => {
            for v in a {
                collect_object_keys(v, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_type_has_an_example_that_validates() {
    require_terraform!();
    let (resources, data_sources) = schema();
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    for (kind, types, file) in [
        ("resources", &resources, "resource.tf"),
        ("data-sources", &data_sources, "data-source.tf"),
    ] {
        for (name, _) in elasticache(types) {
            let path = root().join("examples").join(kind).join(&name).join(file);
            let Ok(example) = std::fs::read_to_string(&path) else {
                missing.push(format!("{kind}/{name}/{file}"));
                continue;
            };
            let tf = Tf::new();
            tf.config(&format!("{PROVIDER}\n{example}"));
            let o = tf.run(&["validate", "-no-color"]);
            if o.code != 0 {
                invalid.push(format!("{kind}/{name}: {}", o.text));
            }
        }
    }
    assert!(missing.is_empty(), "types without an example: {missing:?}");
    assert!(
        invalid.is_empty(),
        "examples terraform validate refuses:\n{}",
        invalid.join("\n")
    );
}

#[test]
fn every_schema_attribute_is_documented() {
    require_terraform!();
    let (resources, data_sources) = schema();
    let mut undocumented = Vec::new();
    for (kind, types) in [("resources", &resources), ("data-sources", &data_sources)] {
        for (name, s) in elasticache(types) {
            let page = root()
                .join("docs")
                .join(kind)
                .join(format!("{}.md", name.trim_start_matches("aws_")));
            let Ok(text) = std::fs::read_to_string(&page) else {
                undocumented.push(format!("{kind}/{name}: no page {}", page.display()));
                continue;
            };
            let mut names = BTreeSet::new();
            attributes(&s["block"], &mut names);
            for a in names {
                if !text.contains(&format!("`{a}`")) {
                    undocumented.push(format!("{kind}/{name}: `{a}`"));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "schema attributes no page names:\n{}",
        undocumented.join("\n")
    );
}
