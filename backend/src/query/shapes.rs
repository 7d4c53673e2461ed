//! The ElastiCache API model (botocore's `service-2.json`, doc strings stripped),
//! loaded once and interpreted by the decoder and the encoder.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

const MODEL_JSON: &str = include_str!("../../model/elasticache-2015-02-02.json");

/// The parsed model, shared by every request.
pub static MODEL: LazyLock<Model> =
    LazyLock::new(|| Model::parse(MODEL_JSON).expect("bundled API model parses"));

#[derive(Debug)]
pub struct Model {
    pub namespace: String,
    pub api_version: String,
    pub shapes: HashMap<String, Shape>,
    pub operations: HashMap<String, Operation>,
    /// AWS error code -> (HTTP status, sender fault).
    pub errors: HashMap<String, (u16, bool)>,
}

#[derive(Debug)]
pub struct Operation {
    pub name: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub result_wrapper: Option<String>,
    /// Error codes the model lists for this operation.
    pub errors: Vec<String>,
}

#[derive(Debug)]
pub enum Shape {
    Structure {
        /// Members in model order: (member name, target shape).
        members: Vec<(String, String)>,
        required: Vec<String>,
    },
    List {
        member: String,
        /// Element name of each item (`member` unless the model names it).
        item_name: String,
    },
    String {
        enumeration: Option<Vec<String>>,
    },
    Integer,
    Boolean,
    Double,
    Timestamp,
}

#[derive(Deserialize)]
struct RawModel {
    metadata: RawMetadata,
    operations: HashMap<String, RawOperation>,
    shapes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    api_version: String,
    xml_namespace: String,
}

#[derive(Deserialize)]
struct RawOperation {
    input: Option<RawRef>,
    output: Option<RawOutputRef>,
    #[serde(default)]
    errors: Vec<RawRef>,
}

#[derive(Deserialize)]
struct RawRef {
    shape: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOutputRef {
    shape: String,
    result_wrapper: Option<String>,
}

impl Model {
    fn parse(text: &str) -> Result<Self, String> {
        let raw: RawModel = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut shapes = HashMap::new();
        let mut errors = HashMap::new();
        let mut shape_codes = HashMap::new();
        for (name, v) in &raw.shapes {
            let ty = v["type"]
                .as_str()
                .ok_or(format!("shape {name} has no type"))?;
            let shape = match ty {
                "structure" => {
                    let members = v["members"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, r)| {
                                    (
                                        k.clone(),
                                        r["shape"].as_str().unwrap_or("String").to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let required = v["required"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    if let Some(err) = v.get("error") {
                        let code = err["code"].as_str().unwrap_or(name).to_owned();
                        let status = err["httpStatusCode"].as_u64().unwrap_or(400);
                        let sender = err["senderFault"].as_bool().unwrap_or(true);
                        errors.insert(code.clone(), (u16::try_from(status).unwrap_or(400), sender));
                        shape_codes.insert(name.clone(), code);
                    } else if v.get("exception").is_some() {
                        errors.insert(name.clone(), (400, true));
                        shape_codes.insert(name.clone(), name.clone());
                    }
                    Shape::Structure { members, required }
                }
                "list" => Shape::List {
                    member: v["member"]["shape"].as_str().unwrap_or("String").to_owned(),
                    item_name: v["member"]["locationName"]
                        .as_str()
                        .unwrap_or("member")
                        .to_owned(),
                },
                "string" => Shape::String {
                    enumeration: v["enum"].as_array().map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    }),
                },
                "integer" | "long" => Shape::Integer,
                "boolean" => Shape::Boolean,
                "double" | "float" => Shape::Double,
                "timestamp" => Shape::Timestamp,
                other => return Err(format!("shape {name}: unsupported type {other}")),
            };
            shapes.insert(name.clone(), shape);
        }
        let operations = raw
            .operations
            .into_iter()
            .map(|(name, op)| {
                let errs = op
                    .errors
                    .iter()
                    .filter_map(|r| shape_codes.get(&r.shape).cloned())
                    .collect();
                let o = Operation {
                    name: name.clone(),
                    input: op.input.map(|r| r.shape),
                    result_wrapper: op.output.as_ref().and_then(|r| r.result_wrapper.clone()),
                    output: op.output.map(|r| r.shape),
                    errors: errs,
                };
                (name, o)
            })
            .collect();
        Ok(Self {
            namespace: raw.metadata.xml_namespace,
            api_version: raw.metadata.api_version,
            shapes,
            operations,
            errors,
        })
    }

    #[must_use]
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    #[must_use]
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_has_all_77_operations() {
        assert_eq!(MODEL.operations.len(), 77);
        assert_eq!(MODEL.api_version, "2015-02-02");
        assert_eq!(MODEL.errors["CacheClusterNotFound"], (404, true));
        let op = MODEL.operation("CreateCacheCluster").unwrap();
        assert_eq!(
            op.result_wrapper.as_deref(),
            Some("CreateCacheClusterResult")
        );
        assert!(op
            .errors
            .iter()
            .any(|c| c == "CacheSubnetGroupNotFoundFault"));
        match MODEL.shape("SubnetIdentifierList").unwrap() {
            Shape::List { item_name, .. } => assert_eq!(item_name, "SubnetIdentifier"),
            other => panic!("{other:?}"),
        }
    }
}
