//! Query-protocol decoding: flat form parameters → a JSON value shaped like the
//! operation's input, keyed by the model's member names.
//!
//! `SubnetIds.SubnetIdentifier.1=a` becomes `{"SubnetIds": ["a"]}`,
//! `Tags.Tag.1.Key=k&Tags.Tag.1.Value=v` becomes `{"Tags": [{"Key":"k","Value":"v"}]}`.
//! Only shapes are checked here (required members, integers, booleans, enums);
//! every rule about what the values mean lives in the domain model.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::WireError;
use super::shapes::{Model, Shape};

/// A node of the parameter tree built from dotted keys.
#[derive(Default, Debug)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &[&str], value: String) {
        match path.split_first() {
            None => self.value = Some(value),
            Some((head, rest)) => self
                .children
                .entry((*head).to_owned())
                .or_default()
                .insert(rest, value),
        }
    }
}

/// Decode the parameters of `operation` (everything but `Action`/`Version`).
pub fn decode(
    model: &Model,
    operation: &str,
    params: &[(String, String)],
) -> Result<Value, WireError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| WireError::invalid_action(operation))?;
    let mut root = Node::default();
    for (k, v) in params {
        if k == "Action" || k == "Version" {
            continue;
        }
        let parts: Vec<&str> = k.split('.').collect();
        root.insert(&parts, v.clone());
    }
    match &op.input {
        None => Ok(Value::Object(Map::new())),
        Some(shape) => decode_shape(model, shape, &root, ""),
    }
}

fn decode_shape(
    model: &Model,
    shape_name: &str,
    node: &Node,
    path: &str,
) -> Result<Value, WireError> {
    let shape = model
        .shape(shape_name)
        .ok_or_else(|| WireError::internal(format!("model has no shape {shape_name}")))?;
    match shape {
        Shape::Structure { members, required } => {
            let mut out = Map::new();
            for (name, target) in members {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if let Some(child) = node.children.get(name) {
                    out.insert(
                        name.clone(),
                        decode_shape(model, target, child, &child_path)?,
                    );
                }
            }
            for req in required {
                if !out.contains_key(req) {
                    let full = if path.is_empty() {
                        req.clone()
                    } else {
                        format!("{path}.{req}")
                    };
                    return Err(WireError::missing_parameter(&full));
                }
            }
            Ok(Value::Object(out))
        }
        Shape::List { member, item_name } => {
            // `X=` (empty) is how an empty list is sent.
            let items = node
                .children
                .get(item_name)
                .or_else(|| node.children.get("member"));
            let mut out = Vec::new();
            if let Some(items) = items {
                let mut indexed: Vec<(usize, &Node)> = Vec::new();
                for (idx, child) in &items.children {
                    let n: usize = idx.parse().map_err(|_| {
                        WireError::invalid_parameter_value(format!(
                            "Invalid list index '{idx}' in parameter {path}."
                        ))
                    })?;
                    indexed.push((n, child));
                }
                indexed.sort_by_key(|(n, _)| *n);
                for (n, child) in indexed {
                    out.push(decode_shape(
                        model,
                        member,
                        child,
                        &format!("{path}.{item_name}.{n}"),
                    )?);
                }
            }
            Ok(Value::Array(out))
        }
        scalar => {
            let text = node.value.as_deref().unwrap_or("");
            decode_scalar(scalar, text, path)
        }
    }
}

fn decode_scalar(shape: &Shape, text: &str, path: &str) -> Result<Value, WireError> {
    match shape {
        Shape::String { enumeration } => {
            if let Some(allowed) = enumeration {
                if !allowed.iter().any(|a| a == text) {
                    return Err(WireError::invalid_parameter_value(format!(
                        "Invalid value '{text}' for {path}. Valid values are: {}.",
                        allowed.join(", ")
                    )));
                }
            }
            Ok(Value::String(text.to_owned()))
        }
        Shape::Integer => text.trim().parse::<i64>().map(Value::from).map_err(|_| {
            WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid integer."
            ))
        }),
        Shape::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid boolean."
            ))),
        },
        Shape::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| {
                WireError::invalid_parameter_value(format!(
                    "Value '{text}' for {path} is not a number."
                ))
            }),
        Shape::Timestamp => parse_timestamp(text).map(Value::String).ok_or_else(|| {
            WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid timestamp."
            ))
        }),
        Shape::Structure { .. } | Shape::List { .. } => unreachable!("not a scalar"),
    }
}

/// ISO 8601 or epoch seconds, normalised to RFC 3339 UTC with milliseconds.
fn parse_timestamp(text: &str) -> Option<String> {
    let t = text.trim();
    let dt = if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        d.with_timezone(&chrono::Utc)
    } else if let Ok(secs) = t.parse::<f64>() {
        #[allow(clippy::cast_possible_truncation)]
        chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)?
    } else if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        n.and_utc()
    } else {
        return None;
    };
    Some(dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::shapes::MODEL;
    use serde_json::json;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn named_list_members_and_tags() {
        let v = decode(
            &MODEL,
            "CreateCacheSubnetGroup",
            &p(&[
                ("Action", "CreateCacheSubnetGroup"),
                ("CacheSubnetGroupName", "sg"),
                ("CacheSubnetGroupDescription", "d"),
                ("SubnetIds.SubnetIdentifier.2", "b"),
                ("SubnetIds.SubnetIdentifier.1", "a"),
                ("Tags.Tag.1.Key", "k"),
                ("Tags.Tag.1.Value", "v"),
            ]),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"CacheSubnetGroupName":"sg","CacheSubnetGroupDescription":"d","SubnetIds":["a","b"],"Tags":[{"Key":"k","Value":"v"}]})
        );
    }

    #[test]
    fn parameter_name_values_and_cache_node_ids() {
        let v = decode(
            &MODEL,
            "ModifyCacheParameterGroup",
            &p(&[
                ("CacheParameterGroupName", "pg"),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterName",
                    "maxmemory-policy",
                ),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                    "allkeys-lru",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(v["ParameterNameValues"][0]["ParameterValue"], "allkeys-lru");
        let v = decode(
            &MODEL,
            "ModifyCacheCluster",
            &p(&[
                ("CacheClusterId", "m"),
                ("NumCacheNodes", "2"),
                ("ApplyImmediately", "true"),
                ("CacheNodeIdsToRemove.CacheNodeId.1", "0003"),
            ]),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"CacheClusterId":"m","NumCacheNodes":2,"CacheNodeIdsToRemove":["0003"],"ApplyImmediately":true})
        );
    }

    #[test]
    fn shape_errors() {
        let e = decode(&MODEL, "CreateCacheCluster", &p(&[("Engine", "redis")])).unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        let e = decode(
            &MODEL,
            "CreateCacheCluster",
            &p(&[("CacheClusterId", "x"), ("NumCacheNodes", "two")]),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = decode(
            &MODEL,
            "CreateCacheCluster",
            &p(&[("CacheClusterId", "x"), ("AZMode", "both")]),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = decode(&MODEL, "NoSuchThing", &[]).unwrap_err();
        assert_eq!(e.code, "InvalidAction");
    }

    #[test]
    fn empty_list_and_timestamps() {
        let v = decode(
            &MODEL,
            "DescribeEvents",
            &p(&[("StartTime", "2026-01-02T03:04:05Z"), ("Duration", "60")]),
        )
        .unwrap();
        assert_eq!(v["StartTime"], "2026-01-02T03:04:05.000Z");
        let v = decode(
            &MODEL,
            "ModifyCacheCluster",
            &p(&[("CacheClusterId", "c"), ("SecurityGroupIds", "")]),
        )
        .unwrap();
        assert_eq!(v["SecurityGroupIds"], json!([]));
    }
}
