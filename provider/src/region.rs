//! HashiCorp 6.x's per-resource `region` (Enhanced Region Support), shared by
//! every type: optional and computed, defaults to the provider's region,
//! a change forces replacement (a null region of a 5.x state becoming known
//! is no change), import takes `id@region`, and the type's calls go to that
//! region's endpoint ([`Meta::in_region`]).

use tfplugin::{Attribute, AttributePath, Diagnostics, RawState, Schema, Type, Value};

use crate::client::{Conn, Meta};

const DESCRIPTION: &str = "Region where this resource will be [managed](https://docs.aws.amazon.com/general/latest/gr/rande.html#regional-endpoints). Defaults to the Region set in the [provider configuration](https://registry.terraform.io/providers/hashicorp/aws/latest/docs#aws-configuration-reference).";

/// `region`: optional + computed, as 6.x gives every type (data sources too).
pub fn attribute() -> Attribute {
    Attribute::new("region", Type::String)
        .optional()
        .computed()
        .description(DESCRIPTION)
}

/// The region named in a state, plan or configuration (null/unknown → None).
pub fn of(v: &Value) -> Option<&str> {
    v.get("region")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The provider's configuration for the object `v` (state, plan or
/// configuration) describes.
pub fn meta_for(meta: &Meta, v: &Value) -> Meta {
    meta.in_region(of(v))
}

/// Plan `region`: the configured one, else the prior one, else the
/// provider's (unknown when the provider is not configured yet). Returns
/// whether the change forces replacement.
pub fn plan(meta: Option<&Meta>, prior: &Value, config: &Value, planned: &mut Value) -> bool {
    if planned.is_null() {
        return false;
    }
    if config.get("region").is_none_or(Value::is_null) {
        let prior_region = prior.get("region").filter(|v| !v.is_null()).cloned();
        let v = match (prior_region, meta) {
            (Some(r), _) => r,
            (None, Some(m)) => Value::from(m.region.as_str()),
            (None, None) => Value::unknown(),
        };
        planned.set_attr("region", v);
    }
    let before = prior.get("region").unwrap_or(&Value::Null);
    let after = planned.get("region").unwrap_or(&Value::Null);
    !prior.is_null() && !before.is_null() && !before.same_as(after)
}

/// [`plan`], adding `region` to `requires_replace` when it changes.
pub fn plan_into(
    meta: Option<&Meta>,
    prior: &Value,
    config: &Value,
    planned: &mut Value,
    requires_replace: &mut Vec<AttributePath>,
) {
    if plan(meta, prior, config, planned) {
        requires_replace.push(AttributePath::attr("region"));
    }
}

/// An import ID: `id` or 6.x's `id@region`.
pub fn split_import_id(id: &str) -> (&str, Option<&str>) {
    match id.rsplit_once('@') {
        Some((i, r)) if !i.is_empty() && !r.is_empty() => (i, Some(r)),
        _ => (id, None),
    }
}

/// A stored state of this schema version (HashiCorp's 5.x wrote none with
/// `region`): decoded, with the provider's region filled in, as HashiCorp's
/// 6.x does, so that a plan with `-refresh=false` shows no change.
pub fn upgrade(
    conn: &Conn,
    schema: &Schema,
    version: i64,
    raw: &RawState,
) -> Result<Value, Diagnostics> {
    if version != schema.version {
        return Err(tfplugin::Diagnostic::error(
            "Unable to upgrade resource state",
            format!(
                "no upgrade from schema version {version} to {}",
                schema.version
            ),
        )
        .into());
    }
    let mut st = raw.decode(&schema.value_type())?;
    if let (Ok(meta), false) = (conn.get(), st.is_null()) {
        if st.get("region").is_none_or(Value::is_null) {
            st.set_attr("region", Value::from(meta.region.as_str()));
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(region: Option<&str>) -> Value {
        Value::object([("region", region.map(Value::from).unwrap_or(Value::Null))])
    }

    #[test]
    fn import_ids() {
        assert_eq!(split_import_id("abc"), ("abc", None));
        assert_eq!(split_import_id("abc@eu-west-1"), ("abc", Some("eu-west-1")));
        assert_eq!(split_import_id("abc@"), ("abc@", None));
        assert_eq!(split_import_id("@eu-west-1"), ("@eu-west-1", None));
    }

    #[test]
    fn plan_defaults_keeps_and_replaces() {
        // Create without a provider: unknown; no replacement.
        let mut p = obj(None);
        assert!(!plan(None, &Value::Null, &obj(None), &mut p));
        assert!(p.get("region").unwrap().is_unknown());
        // A 5.x state (null region) becoming known: no replacement.
        let mut p = obj(None);
        p.set_attr("region", Value::from("us-east-1"));
        assert!(!plan(None, &obj(None), &obj(Some("us-east-1")), &mut p));
        // Unset in config: the prior region stays.
        let mut p = obj(None);
        assert!(!plan(None, &obj(Some("eu-west-1")), &obj(None), &mut p));
        assert_eq!(of(&p), Some("eu-west-1"));
        // Another region configured: replacement.
        let mut p = obj(Some("eu-west-1"));
        assert!(plan(
            None,
            &obj(Some("us-east-1")),
            &obj(Some("eu-west-1")),
            &mut p
        ));
    }
}
