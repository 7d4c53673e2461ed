//! Small helpers for building states from plans and API reads.

use tfplugin::{default_plan, AttributePath, PlanRequest, PlanResponse, Schema, Value};

use crate::client::Conn;
use crate::{region, tags};

/// The state after an apply: the planned value, with every top-level
/// attribute the plan left unknown taken from what the API now reports.
/// (Terraform requires known planned values to come back unchanged.)
pub fn fill_unknowns(planned: &Value, read: &Value) -> Value {
    let mut out = planned.clone();
    if let (Value::Object(m), Some(r)) = (&mut out, read.as_map()) {
        for (k, v) in m.iter_mut() {
            if !v.is_wholly_known() {
                *v = r.get(k).cloned().unwrap_or(Value::Null);
            }
        }
    }
    out
}

/// A string attribute of an object value (null/unknown → None).
pub fn str_of(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A set of strings as a value.
pub fn string_set<I: IntoIterator<Item = String>>(items: I) -> Value {
    Value::set(items.into_iter().map(Value::String).collect())
}

/// The strings of a list or set value (unknown or null elements skipped).
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::elements)
        .map(|es| {
            es.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// HashiCorp's `Default: "Managed by Terraform"` for `description`.
///
/// The attribute is optional and not computed (as in HashiCorp's schema),
/// so a plan cannot show the default: the API gets it when the
/// configuration leaves `description` unset, and a read keeps `description`
/// null while the remote value is still the default.
pub const MANAGED_BY_TERRAFORM: &str = "Managed by Terraform";

/// The description to send: the configured one or the default.
pub fn description_or_default(v: &Value) -> String {
    str_of(v, "description").unwrap_or_else(|| MANAGED_BY_TERRAFORM.to_owned())
}

/// The description to store from the remote one (see [`MANAGED_BY_TERRAFORM`]).
pub fn flatten_description(remote: Option<&str>, prior: &Value) -> Value {
    match remote {
        Some(MANAGED_BY_TERRAFORM) if prior.get("description").is_none_or(Value::is_null) => {
            Value::Null
        }
        Some(d) => Value::string(d),
        None => Value::Null,
    }
}

/// Whether two descriptions mean the same (null is the default).
pub fn same_description(a: &Value, b: &Value) -> bool {
    let d = |v: &Value| v.as_str().unwrap_or(MANAGED_BY_TERRAFORM).to_owned();
    !a.is_unknown() && !b.is_unknown() && d(a) == d(b)
}

/// The plan shared by the resources named by `name` (parameter and subnet
/// groups): the default plan, `tags_all`, `region`, `id` = the lower-cased name on
/// create, and a replacement when `name` changes other than in case. Returns
/// the prior state for an update (`None` on create, destroy, or an error), so
/// the caller adds only what is its own.
pub fn plan_named(conn: &Conn, schema: &Schema, req: PlanRequest) -> (PlanResponse, Option<Value>) {
    let prior = req.prior_state.clone();
    let config = req.config.clone();
    let mut resp = default_plan(schema, req);
    if resp.planned_state.is_null() {
        return (resp, None);
    }
    let meta = match conn.get() {
        Ok(m) => m,
        Err(d) => {
            resp.diagnostics = d;
            return (resp, None);
        }
    };
    tags::set_planned_tags_all(meta, &config, &mut resp.planned_state);
    region::plan_into(
        Some(meta),
        &prior,
        &config,
        &mut resp.planned_state,
        &mut resp.requires_replace,
    );
    if prior.is_null() {
        if let Some(name) = str_of(&config, "name") {
            resp.planned_state
                .set_attr("id", Value::string(name.to_lowercase()));
        }
        return (resp, None);
    }
    let (pn, nn) = (
        prior.get("name").cloned().unwrap_or_default(),
        resp.planned_state.get("name").cloned().unwrap_or_default(),
    );
    let name_changed = match (pn.as_str(), nn.as_str()) {
        (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
        _ => !nn.is_wholly_known() || pn != nn,
    };
    if name_changed {
        resp.requires_replace.push(AttributePath::attr("name"));
    }
    (resp, Some(prior))
}
