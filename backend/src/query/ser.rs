//! Query-protocol encoding: a JSON value shaped like the operation's output →
//! `<{Op}Response xmlns=…><{Op}Result>…</{Op}Result><ResponseMetadata>…`.
//!
//! Element order and names come from the model. A key the output shape does not
//! know is an encoding error (caught by tests), never silently dropped.

use std::fmt::Write as _;

use serde_json::Value;

use super::error::WireError;
use super::shapes::{Model, Shape};

/// Encode a successful answer.
pub fn encode(
    model: &Model,
    operation: &str,
    result: &Value,
    request_id: &str,
) -> Result<String, WireError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| WireError::invalid_action(operation))?;
    let mut out = String::with_capacity(512);
    let _ = write!(out, "<{operation}Response xmlns=\"{}\">", model.namespace);
    if let (Some(shape), Some(wrapper)) = (&op.output, &op.result_wrapper) {
        let _ = write!(out, "<{wrapper}>");
        write_members(model, shape, result, &mut out, wrapper)?;
        let _ = write!(out, "</{wrapper}>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
    );
    Ok(out)
}

fn write_members(
    model: &Model,
    shape_name: &str,
    value: &Value,
    out: &mut String,
    path: &str,
) -> Result<(), WireError> {
    let Some(Shape::Structure { members, .. }) = model.shape(shape_name) else {
        return Err(WireError::internal(format!(
            "{path}: {shape_name} is not a structure"
        )));
    };
    let Value::Object(map) = value else {
        return Err(WireError::internal(format!(
            "{path}: expected an object for {shape_name}"
        )));
    };
    for key in map.keys() {
        if !members.iter().any(|(m, _)| m == key) {
            return Err(WireError::internal(format!(
                "{path}: {key} is not a member of {shape_name}"
            )));
        }
    }
    for (name, target) in members {
        match map.get(name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                write_value(model, target, v, out, &format!("{path}/{name}"))?;
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
    Ok(())
}

fn write_value(
    model: &Model,
    shape_name: &str,
    value: &Value,
    out: &mut String,
    path: &str,
) -> Result<(), WireError> {
    let shape = model
        .shape(shape_name)
        .ok_or_else(|| WireError::internal(format!("model has no shape {shape_name}")))?;
    match shape {
        Shape::Structure { .. } => write_members(model, shape_name, value, out, path),
        Shape::List { member, item_name } => {
            let Value::Array(items) = value else {
                return Err(WireError::internal(format!("{path}: expected a list")));
            };
            for item in items {
                let _ = write!(out, "<{item_name}>");
                write_value(model, member, item, out, path)?;
                let _ = write!(out, "</{item_name}>");
            }
            Ok(())
        }
        Shape::String { .. } | Shape::Timestamp => match value {
            Value::String(s) => {
                escape_into(s, out);
                Ok(())
            }
            other => Err(WireError::internal(format!(
                "{path}: expected a string, got {other}"
            ))),
        },
        Shape::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => {
                let _ = write!(out, "{n}");
                Ok(())
            }
            other => Err(WireError::internal(format!(
                "{path}: expected an integer, got {other}"
            ))),
        },
        Shape::Double => match value {
            Value::Number(n) => {
                let _ = write!(out, "{n}");
                Ok(())
            }
            other => Err(WireError::internal(format!(
                "{path}: expected a number, got {other}"
            ))),
        },
        Shape::Boolean => match value {
            Value::Bool(b) => {
                out.push_str(if *b { "true" } else { "false" });
                Ok(())
            }
            other => Err(WireError::internal(format!(
                "{path}: expected a boolean, got {other}"
            ))),
        },
    }
}

/// XML text escaping.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::shapes::MODEL;
    use serde_json::json;

    #[test]
    fn cluster_with_nodes_in_model_order() {
        let v = json!({"CacheCluster": {
            "CacheNodes": [{"CacheNodeId": "0001", "Endpoint": {"Port": 6379, "Address": "127.0.0.1"}}],
            "CacheClusterId": "c1",
            "CacheClusterCreateTime": "2026-01-02T03:04:05.000Z",
            "AuthTokenEnabled": false,
        }});
        let xml = encode(&MODEL, "CreateCacheCluster", &v, "rid").unwrap();
        assert_eq!(
            xml,
            "<CreateCacheClusterResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
<CreateCacheClusterResult><CacheCluster><CacheClusterId>c1</CacheClusterId>\
<CacheClusterCreateTime>2026-01-02T03:04:05.000Z</CacheClusterCreateTime>\
<CacheNodes><CacheNode><CacheNodeId>0001</CacheNodeId><Endpoint><Address>127.0.0.1</Address><Port>6379</Port></Endpoint></CacheNode></CacheNodes>\
<AuthTokenEnabled>false</AuthTokenEnabled></CacheCluster></CreateCacheClusterResult>\
<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></CreateCacheClusterResponse>"
        );
    }

    #[test]
    fn unknown_member_is_an_error_and_text_is_escaped() {
        assert!(encode(
            &MODEL,
            "CreateCacheCluster",
            &json!({"CacheCluster": {"Nope": 1}}),
            "r"
        )
        .is_err());
        let xml = encode(
            &MODEL,
            "ListTagsForResource",
            &json!({"TagList": [{"Key": "a<b", "Value": "x&y"}]}),
            "r",
        )
        .unwrap();
        assert!(xml.contains("<Tag><Key>a&lt;b</Key><Value>x&amp;y</Value></Tag>"));
    }

    #[test]
    fn operation_without_output() {
        let xml = encode(&MODEL, "DeleteCacheSubnetGroup", &json!({}), "r").unwrap();
        assert!(xml.starts_with("<DeleteCacheSubnetGroupResponse"));
        assert!(!xml.contains("Result>"));
    }
}
