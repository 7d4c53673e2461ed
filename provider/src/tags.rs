//! `tags` / `tags_all`, as HashiCorp's provider does them (every resource
//! with tags uses exactly this; `aws_elasticache_cluster` too).
//!
//! Schema: `tags` is `map(string)` optional, `tags_all` is `map(string)`
//! optional + computed ([`tags_attribute`], [`tags_all_attribute`]).
//!
//! * **plan** — [`plan_tags_all`]`(meta, config_tags)`: provider
//!   `default_tags` merged with the resource's `tags` (the resource wins),
//!   keys matched by `ignore_tags` (and `aws:*`) removed. Unknown when the
//!   resource's tags or the provider's default tags are not yet known.
//!   [`set_planned_tags_all`] writes it into a planned state.
//! * **create** — [`to_sdk`]`(tags_all)`: the `Tags` of a `Create*` call.
//! * **update** — [`update_tags`]`(client, arn, old_all, new_all)`:
//!   RemoveTagsFromResource for keys gone, AddTagsToResource for keys new
//!   or changed; nothing when equal. The error is `Code: message`.
//! * **read** — [`list_tags`]`(client, arn)` then
//!   [`flatten_tags`]`(meta, remote, prior_tags)` → `(tags, tags_all)`:
//!   `tags_all` = remote minus ignored; `tags` = that minus the default
//!   tags whose value is unchanged. An empty `tags` is null when the prior
//!   state's `tags` was null (a configuration without `tags` stays clean).
//! * data sources: [`flatten_tags_plain`] (remote minus ignored, no defaults).

use std::collections::BTreeMap;

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use aws_sdk_elasticache::types::Tag;
use tfplugin::{Attribute, Type, Value};

use crate::client::Meta;

/// A tag map (the API's tag list, keyed).
pub type Tags = BTreeMap<String, String>;

/// `tags`: `map(string)`, optional.
pub fn tags_attribute() -> Attribute {
    Attribute::new("tags", Type::map(Type::String)).optional()
}

/// `tags_all`: `map(string)`, optional + computed (as in HashiCorp's schema).
pub fn tags_all_attribute() -> Attribute {
    Attribute::new("tags_all", Type::map(Type::String))
        .optional()
        .computed()
}

/// Whether a key is left alone: `aws:*` system tags and `ignore_tags`.
pub fn is_ignored(meta: &Meta, key: &str) -> bool {
    key.starts_with("aws:")
        || meta.ignore_tag_keys.iter().any(|k| k == key)
        || meta
            .ignore_tag_prefixes
            .iter()
            .any(|p| key.starts_with(p.as_str()))
}

/// A known `map(string)` value as tags (`None` when unknown anywhere;
/// null is empty; null elements are dropped).
pub fn from_value(v: &Value) -> Option<Tags> {
    match v {
        Value::Null => Some(Tags::new()),
        Value::Map(m) | Value::Object(m) => {
            let mut out = Tags::new();
            for (k, e) in m {
                match e {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    Value::Null => {}
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Tags as a `map(string)` value.
pub fn to_value(tags: &Tags) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::string(v)))
            .collect(),
    )
}

/// The planned `tags_all` for a resource whose configuration has `config_tags`.
pub fn plan_tags_all(meta: &Meta, config_tags: &Value) -> Value {
    if meta.default_tags_unknown {
        return Value::unknown();
    }
    let Some(own) = from_value(config_tags) else {
        return Value::unknown();
    };
    let mut all: Tags = meta.default_tags.iter().cloned().collect();
    all.extend(own);
    all.retain(|k, _| !is_ignored(meta, k));
    to_value(&all)
}

/// Set `tags_all` of a planned (non-null) state from its configuration.
pub fn set_planned_tags_all(meta: &Meta, config: &Value, planned: &mut Value) {
    if planned.is_null() {
        return;
    }
    let cfg = config.get("tags").cloned().unwrap_or(Value::Null);
    planned.set_attr("tags_all", plan_tags_all(meta, &cfg));
}

/// The `Tags` of a create call.
pub fn to_sdk(tags_all: &Value) -> Option<Vec<Tag>> {
    let tags = from_value(tags_all)?;
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

fn cause<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E) -> String {
    match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => format!("{err:?}"),
    }
}

/// Bring the tags of `arn` from `old_all` to `new_all` (both `tags_all`).
pub async fn update_tags(
    client: &aws_sdk_elasticache::Client,
    arn: &str,
    old_all: &Value,
    new_all: &Value,
) -> Result<(), String> {
    let old = from_value(old_all).unwrap_or_default();
    let new = from_value(new_all).unwrap_or_default();
    let removed: Vec<String> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let changed: Vec<Tag> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if !removed.is_empty() {
        tracing::debug!(arn, ?removed, "RemoveTagsFromResource");
        client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(|e| cause(&e))?;
    }
    if !changed.is_empty() {
        tracing::debug!(arn, n = changed.len(), "AddTagsToResource");
        client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(changed))
            .send()
            .await
            .map_err(|e| cause(&e))?;
    }
    Ok(())
}

/// The tags of `arn` as the API has them.
pub async fn list_tags(client: &aws_sdk_elasticache::Client, arn: &str) -> Result<Tags, String> {
    let out = client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| cause(&e))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
        .collect())
}

/// `(tags, tags_all)` for a resource's state from its remote tags.
pub fn flatten_tags(meta: &Meta, remote: &Tags, prior_tags: &Value) -> (Value, Value) {
    let mut all = remote.clone();
    all.retain(|k, _| !is_ignored(meta, k));
    let mut own = all.clone();
    if !meta.default_tags_unknown {
        for (k, v) in &meta.default_tags {
            if own.get(k) == Some(v) {
                // Keep a default the configuration repeats with the same value.
                let in_config =
                    from_value(prior_tags).is_some_and(|p| p.get(k).is_some_and(|pv| pv == v));
                if !in_config {
                    own.remove(k);
                }
            }
        }
    }
    let tags = if own.is_empty() && prior_tags.is_null() {
        Value::Null
    } else {
        to_value(&own)
    };
    (tags, to_value(&all))
}

/// Data sources: remote tags minus ignored ones.
pub fn flatten_tags_plain(meta: &Meta, remote: &Tags) -> Value {
    let mut all = remote.clone();
    all.retain(|k, _| !is_ignored(meta, k));
    to_value(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(defaults: &[(&str, &str)], ignore: &[&str]) -> Meta {
        let conf = aws_sdk_elasticache::Config::builder()
            .behavior_version(aws_sdk_elasticache::config::BehaviorVersion::latest())
            .build();
        Meta {
            client: aws_sdk_elasticache::Client::from_conf(conf),
            region: "us-east-1".into(),
            default_tags: defaults
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            default_tags_unknown: false,
            ignore_tag_keys: ignore.iter().map(|s| s.to_string()).collect(),
            ignore_tag_prefixes: vec![],
        }
    }

    fn map(kv: &[(&str, &str)]) -> Value {
        Value::Map(
            kv.iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        )
    }

    #[test]
    fn plan_merges_defaults_resource_wins_and_ignores() {
        let m = meta(&[("env", "dev"), ("team", "a")], &["skip"]);
        let got = plan_tags_all(&m, &map(&[("team", "b"), ("skip", "x")]));
        assert_eq!(got, map(&[("env", "dev"), ("team", "b")]));
        assert_eq!(
            plan_tags_all(&m, &Value::Null),
            map(&[("env", "dev"), ("team", "a")])
        );
        assert!(plan_tags_all(&m, &Value::unknown()).is_unknown());
    }

    #[test]
    fn flatten_removes_defaults_from_tags() {
        let m = meta(&[("env", "dev")], &[]);
        let remote: Tags = [("env", "dev"), ("a", "1"), ("aws:x", "y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (tags, all) = flatten_tags(&m, &remote, &map(&[("a", "1")]));
        assert_eq!(tags, map(&[("a", "1")]));
        assert_eq!(all, map(&[("env", "dev"), ("a", "1")]));
        let (tags, _) = flatten_tags(
            &m,
            &[("env".to_string(), "dev".to_string())].into(),
            &Value::Null,
        );
        assert_eq!(tags, Value::Null);
    }
}
