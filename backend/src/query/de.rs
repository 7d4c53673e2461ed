//! Query-protocol decoding: flat form parameters → the operation's typed input.
//!
//! The parameters become a tree of dotted keys (`SubnetIds.SubnetIdentifier.1=a`,
//! `Tags.Tag.1.Key=k`), which the generated `FromQuery` impls
//! (`query/generated.rs`) read member by member, in model order.
//! Only shapes are checked here (required members, integers, booleans, enums,
//! timestamps); every rule about what the values mean lives in the domain model.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::error::WireError;

/// A node of the parameter tree built from dotted keys.
#[derive(Default, Debug)]
pub struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    /// The tree of a request's parameters (everything but `Action`/`Version`).
    #[must_use]
    pub fn parse(params: &[(String, String)]) -> Self {
        let mut root = Self::default();
        for (k, v) in params {
            if k == "Action" || k == "Version" {
                continue;
            }
            let parts: Vec<&str> = k.split('.').collect();
            root.insert(&parts, v.clone());
        }
        root
    }

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

    /// Every value sent, with its dotted key.
    #[must_use]
    pub fn values(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        if let Some(v) = &self.value {
            out.push((String::new(), v.as_str()));
        }
        for (k, child) in &self.children {
            for (sub, v) in child.values() {
                out.push((
                    if sub.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}.{sub}")
                    },
                    v,
                ));
            }
        }
        out
    }

    fn text(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// Member `name` of a structure at `path`, when sent.
    pub fn member<T: FromQuery>(&self, name: &str, path: &str) -> Result<Option<T>, WireError> {
        match self.children.get(name) {
            None => Ok(None),
            Some(child) => T::from_query(child, &join(path, name)).map(Some),
        }
    }

    /// List member `name` (items `name.{item}.N`, or `name.member.N`), when sent.
    /// `name=` (empty) is how an empty list is sent.
    pub fn list<T: FromQuery>(
        &self,
        name: &str,
        item: &str,
        path: &str,
    ) -> Result<Option<Vec<T>>, WireError> {
        let Some(node) = self.children.get(name) else {
            return Ok(None);
        };
        let path = join(path, name);
        let mut out = Vec::new();
        if let Some(items) = node
            .children
            .get(item)
            .or_else(|| node.children.get("member"))
        {
            let mut indexed: Vec<(usize, &Node)> = Vec::with_capacity(items.children.len());
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
                out.push(T::from_query(child, &format!("{path}.{item}.{n}"))?);
            }
        }
        Ok(Some(out))
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// A value decoded from the parameter tree at `path`.
pub trait FromQuery: Sized {
    /// # Errors
    /// `MissingParameter` / `InvalidParameterValue` as the model's shapes say.
    fn from_query(n: &Node, path: &str) -> Result<Self, WireError>;
}

/// Decode a whole input from the request's parameter tree.
///
/// # Errors
/// The first shape error, as [`FromQuery`] says.
pub fn decode<T: FromQuery>(params: &Node) -> Result<T, WireError> {
    T::from_query(params, "")
}

/// The error of a required member that was not sent.
#[must_use]
pub fn missing(path: &str, name: &str) -> WireError {
    WireError::missing_parameter(&join(path, name))
}

/// The text of an enum member, which must be one of `allowed`.
///
/// # Errors
/// `InvalidParameterValue` naming the valid values.
pub fn one_of(n: &Node, path: &str, allowed: &[&str]) -> Result<String, WireError> {
    let text = n.text();
    if allowed.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(WireError::invalid_parameter_value(format!(
            "Invalid value '{text}' for {path}. Valid values are: {}.",
            allowed.join(", ")
        )))
    }
}

impl FromQuery for String {
    fn from_query(n: &Node, _path: &str) -> Result<Self, WireError> {
        Ok(n.text().to_owned())
    }
}

impl FromQuery for i64 {
    fn from_query(n: &Node, path: &str) -> Result<Self, WireError> {
        let text = n.text();
        text.trim().parse().map_err(|_| {
            WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid integer."
            ))
        })
    }
}

impl FromQuery for bool {
    fn from_query(n: &Node, path: &str) -> Result<Self, WireError> {
        let text = n.text();
        match text.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid boolean."
            ))),
        }
    }
}

impl FromQuery for f64 {
    fn from_query(n: &Node, path: &str) -> Result<Self, WireError> {
        let text = n.text();
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| {
                WireError::invalid_parameter_value(format!(
                    "Value '{text}' for {path} is not a number."
                ))
            })
    }
}

impl FromQuery for DateTime<Utc> {
    fn from_query(n: &Node, path: &str) -> Result<Self, WireError> {
        let text = n.text();
        parse_timestamp(text).ok_or_else(|| {
            WireError::invalid_parameter_value(format!(
                "Value '{text}' for {path} is not a valid timestamp."
            ))
        })
    }
}

/// ISO 8601 or epoch seconds, in UTC, to the millisecond (as the API shows them).
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    use chrono::DurationRound as _;
    let t = text.trim();
    let dt = if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        d.with_timezone(&Utc)
    } else if let Ok(secs) = t.parse::<f64>() {
        #[allow(clippy::cast_possible_truncation)]
        DateTime::from_timestamp_millis((secs * 1000.0) as i64)?
    } else if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        n.and_utc()
    } else {
        return None;
    };
    dt.duration_trunc(chrono::TimeDelta::milliseconds(1)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto;
    use crate::query::generated::validate;

    fn p(pairs: &[(&str, &str)]) -> Node {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        Node::parse(&v)
    }

    #[test]
    fn named_list_members_and_tags() {
        let v: dto::CreateCacheSubnetGroupInput = decode(&p(&[
            ("Action", "CreateCacheSubnetGroup"),
            ("CacheSubnetGroupName", "sg"),
            ("CacheSubnetGroupDescription", "d"),
            ("SubnetIds.SubnetIdentifier.2", "b"),
            ("SubnetIds.SubnetIdentifier.1", "a"),
            ("Tags.Tag.1.Key", "k"),
            ("Tags.Tag.1.Value", "v"),
        ]))
        .unwrap();
        assert_eq!(
            v,
            dto::CreateCacheSubnetGroupInput {
                cache_subnet_group_name: "sg".into(),
                cache_subnet_group_description: "d".into(),
                subnet_ids: vec!["a".into(), "b".into()],
                tags: Some(vec![dto::Tag {
                    key: Some("k".into()),
                    value: Some("v".into())
                }]),
            }
        );
    }

    #[test]
    fn parameter_name_values_and_cache_node_ids() {
        let v: dto::ModifyCacheParameterGroupInput = decode(&p(&[
            ("CacheParameterGroupName", "pg"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "maxmemory-policy",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "allkeys-lru",
            ),
        ]))
        .unwrap();
        assert_eq!(
            v.parameter_name_values[0].parameter_value.as_deref(),
            Some("allkeys-lru")
        );
        let v: dto::ModifyCacheClusterInput = decode(&p(&[
            ("CacheClusterId", "m"),
            ("NumCacheNodes", "2"),
            ("ApplyImmediately", "true"),
            ("CacheNodeIdsToRemove.CacheNodeId.1", "0003"),
        ]))
        .unwrap();
        assert_eq!(
            v,
            dto::ModifyCacheClusterInput {
                cache_cluster_id: "m".into(),
                num_cache_nodes: Some(2),
                cache_node_ids_to_remove: Some(vec!["0003".into()]),
                apply_immediately: Some(true),
                ..Default::default()
            }
        );
    }

    #[test]
    fn shape_errors() {
        let e = validate("CreateCacheCluster", &p(&[("Engine", "redis")])).unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert_eq!(
            e.message,
            "The request must contain the parameter CacheClusterId"
        );
        let e = validate(
            "CreateCacheCluster",
            &p(&[("CacheClusterId", "x"), ("NumCacheNodes", "two")]),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert_eq!(
            e.message,
            "Value 'two' for NumCacheNodes is not a valid integer."
        );
        let e = validate(
            "CreateCacheCluster",
            &p(&[("CacheClusterId", "x"), ("AZMode", "both")]),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert_eq!(
            e.message,
            "Invalid value 'both' for AZMode. Valid values are: single-az, cross-az."
        );
        let e = validate(
            "CreateReplicationGroup",
            &p(&[
                ("ReplicationGroupId", "g"),
                ("ReplicationGroupDescription", "d"),
                (
                    "NodeGroupConfiguration.NodeGroupConfiguration.2.ReplicaCount",
                    "x",
                ),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Value 'x' for NodeGroupConfiguration.NodeGroupConfiguration.2.ReplicaCount is not a valid integer."
        );
        let e = validate("NoSuchThing", &Node::default()).unwrap_err();
        assert_eq!(e.code, "InvalidAction");
    }

    #[test]
    fn empty_list_and_timestamps() {
        let v: dto::DescribeEventsInput = decode(&p(&[
            ("StartTime", "2026-01-02T03:04:05.0004Z"),
            ("Duration", "60"),
        ]))
        .unwrap();
        assert_eq!(
            v.start_time.map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05+00:00".to_owned())
        );
        let v: dto::ModifyCacheClusterInput =
            decode(&p(&[("CacheClusterId", "c"), ("SecurityGroupIds", "")])).unwrap();
        assert_eq!(v.security_group_ids, Some(vec![]));
    }

    #[test]
    fn unknown_enum_value_round_trips() {
        let v = dto::AZMode::from("both-ways".to_owned());
        assert_eq!(v.as_str(), "both-ways");
        assert_eq!(dto::AZMode::CROSS_AZ.as_str(), "cross-az");
        assert_eq!(String::from(v), "both-ways");
    }
}
