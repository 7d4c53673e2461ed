//! Fuzzed decoders (issue 17, drill 3): a `DynamicValue` from Terraform, in
//! msgpack or JSON, decoded against a schema type, answers a value or an error
//! diagnostic — never a panic, a hang or a stack overflow. A decoded value
//! encodes again and decodes to itself.
//!
//! The fuzz targets (`provider/tfplugin/fuzz/`, coverage-guided with
//! libFuzzer) call [`msgpack`] and [`json`]; the unit tests below replay the
//! kept corpus and crash files and run a seeded generator, in `cargo test`.

use crate::codec::{self, JsonOptions};
use crate::path::Severity;
use crate::proto::tfplugin6 as pb;
use crate::types::Type;

/// The types an input is decoded against: byte 0 picks one; `0xff` means the
/// type is the input's first line, as cty type JSON.
#[must_use]
pub fn types() -> Vec<Type> {
    let tags = Type::map(Type::String);
    let endpoint = Type::object([("address", Type::String), ("port", Type::Number)]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::set(Type::String),
        tags.clone(),
        Type::tuple(vec![Type::String, Type::Number, Type::Dynamic]),
        Type::list(Type::Dynamic),
        Type::map(Type::Dynamic),
        // The shape of a resource's state: attributes, nested blocks as lists
        // and sets of objects, tags, a dynamic attribute.
        Type::object([
            ("id", Type::String),
            ("arn", Type::String),
            ("num_cache_clusters", Type::Number),
            ("automatic_failover_enabled", Type::Bool),
            ("tags", tags.clone()),
            ("tags_all", tags),
            ("security_group_ids", Type::set(Type::String)),
            ("primary_endpoint", Type::list(endpoint.clone())),
            ("cache_nodes", Type::list(endpoint)),
            (
                "log_delivery_configuration",
                Type::set(Type::object([
                    ("destination", Type::String),
                    ("log_format", Type::String),
                ])),
            ),
            (
                "timeouts",
                Type::object([("create", Type::String), ("delete", Type::String)]),
            ),
            ("extra", Type::Dynamic),
        ]),
    ]
}

/// The type an input names, and the rest of the input (the value).
fn pick(data: &[u8]) -> Option<(Type, &[u8])> {
    let (&b, rest) = data.split_first()?;
    if b == 0xff {
        let nl = rest.iter().position(|&c| c == b'\n')?;
        let ty = Type::from_json_bytes(&rest[..nl]).ok()?;
        return Some((ty, &rest[nl + 1..]));
    }
    let types = types();
    Some((types[usize::from(b) % types.len()].clone(), rest))
}

/// Target `msgpack`: byte 0 picks the type ([`types`]), the rest is
/// `DynamicValue.msgpack`, decoded as the provider server decodes it.
///
/// # Panics
/// When a property fails.
pub fn msgpack(data: &[u8]) {
    let Some((ty, bytes)) = pick(data) else {
        return;
    };
    let dv = pb::DynamicValue {
        msgpack: bytes.to_vec(),
        json: Vec::new(),
    };
    match crate::server::decode(Some(&dv), &ty) {
        Ok(v) => {
            if bytes.is_empty() {
                return;
            }
            let again = codec::to_msgpack(&v, &ty)
                .unwrap_or_else(|e| panic!("decoded value does not encode ({e}): {v:?}"));
            let back = codec::from_msgpack(&again, &ty)
                .unwrap_or_else(|e| panic!("encoded value does not decode ({e}): {v:?}"));
            assert_eq!(back, v, "msgpack round trip");
        }
        Err(d) => check_diagnostics(&d),
    }
}

/// Target `json`: byte 0 picks the type ([`types`]), byte 1's low bit sets
/// `ignore_undefined_attributes`, the rest is cty JSON (`DynamicValue.json`,
/// stored state).
///
/// # Panics
/// When a property fails.
pub fn json(data: &[u8]) {
    let Some((ty, rest)) = pick(data) else {
        return;
    };
    let Some((&flags, bytes)) = rest.split_first() else {
        return;
    };
    let opts = JsonOptions {
        ignore_undefined_attributes: flags & 1 == 1,
    };
    if bytes.is_empty() {
        return;
    }
    let r = if opts.ignore_undefined_attributes {
        codec::from_json(bytes, &ty, opts).map_err(|e| e.to_string())
    } else {
        let dv = pb::DynamicValue {
            msgpack: Vec::new(),
            json: bytes.to_vec(),
        };
        crate::server::decode(Some(&dv), &ty).map_err(|d| {
            check_diagnostics(&d);
            d.0[0].detail.clone()
        })
    };
    match r {
        Ok(v) => {
            let again = codec::to_json(&v, &ty)
                .unwrap_or_else(|e| panic!("decoded value does not encode ({e}): {v:?}"));
            let back = codec::from_json(&again, &ty, JsonOptions::default())
                .unwrap_or_else(|e| panic!("encoded value does not decode ({e}): {v:?}"));
            assert_eq!(back, v, "JSON round trip");
        }
        Err(msg) => assert!(!msg.is_empty()),
    }
}

fn check_diagnostics(d: &crate::path::Diagnostics) {
    assert!(!d.0.is_empty(), "an error without a diagnostic");
    for x in &d.0 {
        assert_eq!(x.severity, Severity::Error);
        assert!(!x.summary.is_empty() && !x.detail.is_empty(), "{x:?}");
    }
}

#[cfg(test)]
mod tests;
