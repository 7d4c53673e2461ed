//! Write-only attributes (protocol 6.8+, Terraform ≥ 1.11): Terraform sends
//! their values in the configuration of validate, plan and apply, and never
//! stores them — a provider must answer null for them in every planned,
//! applied, read, imported and upgraded value (Terraform rejects anything
//! else). [`crate::ProviderServer`] does that for every resource, so a
//! resource reads them from `config` and never has to clear them itself.
//!
//! A client that does not declare `write_only_attributes_allowed` (Terraform
//! before 1.11) gets an error for a configured write-only value instead of
//! a silent loss.

use crate::path::{AttributePath, Diagnostic, Diagnostics};
use crate::schema::{Attribute, Block, Nesting};
use crate::value::Value;

/// Whether `block` declares any write-only attribute, at any depth.
pub fn has_write_only(block: &Block) -> bool {
    fn attr(a: &Attribute) -> bool {
        a.write_only
            || a.nested
                .as_ref()
                .is_some_and(|n| n.attributes.iter().any(attr))
    }
    block.attributes.iter().any(attr) || block.blocks.iter().any(|b| has_write_only(&b.block))
}

/// Set every write-only attribute of `v` (a value of `block`) to null.
pub fn nullify(block: &Block, v: &mut Value) {
    let Value::Object(m) = v else { return };
    for a in &block.attributes {
        let Some(x) = m.get_mut(&a.name) else {
            continue;
        };
        if a.write_only {
            *x = Value::Null;
        } else if let Some(n) = &a.nested {
            let inner = Block {
                attributes: n.attributes.clone(),
                ..Block::default()
            };
            each_element(n.nesting, x, |e| nullify(&inner, e));
        }
    }
    for nb in &block.blocks {
        if let Some(x) = m.get_mut(&nb.type_name) {
            each_element(nb.nesting, x, |e| nullify(&nb.block, e));
        }
    }
}

fn each_element(nesting: Nesting, v: &mut Value, mut f: impl FnMut(&mut Value)) {
    match (nesting, v) {
        (Nesting::Single | Nesting::Group, v) => f(v),
        (_, Value::List(es) | Value::Set(es) | Value::Tuple(es)) => es.iter_mut().for_each(f),
        (_, Value::Map(es) | Value::Object(es)) => es.values_mut().for_each(f),
        _ => {}
    }
}

/// The paths of write-only attributes that have a value (not null) in
/// `config`. Unknown counts as a value (it will be one at apply).
pub fn configured(block: &Block, config: &Value) -> Vec<AttributePath> {
    let mut out = Vec::new();
    walk(block, config, &AttributePath::root(), &mut out);
    out
}

fn walk(block: &Block, v: &Value, path: &AttributePath, out: &mut Vec<AttributePath>) {
    let Value::Object(m) = v else { return };
    for a in &block.attributes {
        let Some(x) = m.get(&a.name) else { continue };
        let p = path.clone().then_attr(a.name.clone());
        if a.write_only {
            if !x.is_null() {
                out.push(p);
            }
        } else if let Some(n) = &a.nested {
            let inner = Block {
                attributes: n.attributes.clone(),
                ..Block::default()
            };
            elements(n.nesting, x, &p, |e, ep| walk(&inner, e, &ep, out));
        }
    }
    for nb in &block.blocks {
        if let Some(x) = m.get(&nb.type_name) {
            let p = path.clone().then_attr(nb.type_name.clone());
            elements(nb.nesting, x, &p, |e, ep| walk(&nb.block, e, &ep, out));
        }
    }
}

fn elements(
    nesting: Nesting,
    v: &Value,
    path: &AttributePath,
    mut f: impl FnMut(&Value, AttributePath),
) {
    match (nesting, v) {
        (Nesting::Single | Nesting::Group, v) => f(v, path.clone()),
        (_, Value::List(es) | Value::Tuple(es)) => {
            for (i, e) in es.iter().enumerate() {
                f(e, path.clone().then_index(i as i64));
            }
        }
        // A set element has no path of its own: the set's.
        (_, Value::Set(es)) => es.iter().for_each(|e| f(e, path.clone())),
        (_, Value::Map(es) | Value::Object(es)) => {
            for (k, e) in es {
                f(e, path.clone().then_key(k.clone()));
            }
        }
        _ => {}
    }
}

/// The error for each configured write-only value when the client (Terraform
/// before 1.11) cannot take write-only attributes.
pub fn not_allowed(block: &Block, config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for p in configured(block, config) {
        d.push(
            Diagnostic::error(
                "Write-only Attribute Not Allowed",
                format!(
                    "The resource contains a non-null value for write-only attribute \"{p}\". \
                     Write-only attributes are only supported in Terraform 1.11 and later."
                ),
            )
            .at(p),
        );
    }
    d
}

/// Schema rules for write-only attributes (as HashiCorp's SDKs check them):
/// not computed, not required-with-default semantics we cannot keep, and
/// not inside a set (a set element's identity is its whole value, which
/// Terraform would not have). Returns one message per violation.
pub fn check_schema(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    check(block, "", false, &mut out);
    out
}

fn check(block: &Block, prefix: &str, in_set: bool, out: &mut Vec<String>) {
    fn attr(a: &Attribute, prefix: &str, in_set: bool, out: &mut Vec<String>) {
        let name = format!("{prefix}{}", a.name);
        if a.write_only {
            if a.computed {
                out.push(format!("{name}: a write-only attribute cannot be computed"));
            }
            if in_set {
                out.push(format!(
                    "{name}: a write-only attribute cannot be inside a set"
                ));
            }
        }
        if let Some(n) = &a.nested {
            let set = in_set || n.nesting == Nesting::Set;
            for c in &n.attributes {
                attr(c, &format!("{name}."), set, out);
            }
        }
    }
    for a in &block.attributes {
        attr(a, prefix, in_set, out);
    }
    for nb in &block.blocks {
        let set = in_set || nb.nesting == Nesting::Set;
        check(&nb.block, &format!("{prefix}{}.", nb.type_name), set, out);
    }
}
