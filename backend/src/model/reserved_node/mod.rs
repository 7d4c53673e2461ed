//! Reserved cache nodes: reservations bought from the offerings of
//! `catalog::reserved`, kept per account and region.
//!
//! A reservation is `payment-pending` for [`PAYMENT_SECONDS`] after its
//! purchase, then `active` until its term ends (`StartTime` + `Duration`), then
//! `retired`; the state follows the control plane's clock
//! ([`ControlPlane::now`], moved by `--clock-offset`), so it is computed when
//! read rather than stored. Quota: at most [`MAX_RESERVED_NODES`] reserved
//! nodes (the sum of `CacheNodeCount`) per account and region among
//! reservations that are not retired.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{arn, validate, ControlPlane, Error, Fault, Result, Scope, Tag};
use crate::catalog::reserved::{self, Offering};

pub const PAYMENT_PENDING: &str = "payment-pending";
pub const ACTIVE: &str = "active";
pub const RETIRED: &str = "retired";

/// Seconds a purchase stays `payment-pending`.
pub const PAYMENT_SECONDS: i64 = 2;
/// Reserved nodes per account and region (sum of `CacheNodeCount`).
pub const MAX_RESERVED_NODES: i64 = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservedNode {
    pub id: String,
    pub offering_id: String,
    pub cache_node_type: String,
    pub duration: i64,
    pub fixed_price: f64,
    pub usage_price: f64,
    pub hourly_charge: f64,
    pub cache_node_count: i64,
    pub product_description: String,
    pub offering_type: String,
    pub start_time: DateTime<Utc>,
    pub arn: String,
    pub tags: Vec<Tag>,
}

impl ReservedNode {
    /// The state at `now`.
    #[must_use]
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        if now >= self.start_time + Duration::seconds(self.duration) {
            RETIRED
        } else if now < self.start_time + Duration::seconds(PAYMENT_SECONDS) {
            PAYMENT_PENDING
        } else {
            ACTIVE
        }
    }

    #[must_use]
    pub fn state(&self) -> &'static str {
        self.state_at(ControlPlane::now())
    }
}

/// What `DescribeReservedCacheNodes` and `DescribeReservedCacheNodesOfferings`
/// filter on (every field optional).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub offering_id: Option<String>,
    pub cache_node_type: Option<String>,
    /// Seconds (see [`parse_duration`]).
    pub duration: Option<i64>,
    pub product_description: Option<String>,
    pub offering_type: Option<String>,
}

/// The `Duration` filter: years (`1`, `3`), seconds (`31536000`, `94608000`)
/// or ISO 8601 (`P1Y`, `P3Y`).
pub fn parse_duration(value: Option<String>) -> Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(v) => reserved::duration_seconds(&v).map(Some).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid duration {v}: valid values are 1, 3, 31536000, 94608000, P1Y and P3Y."
            ))
        }),
    }
}

/// The `OfferingType` filter: one of the types AWS lists.
pub fn check_offering_type(value: Option<String>) -> Result<Option<String>> {
    if let Some(v) = &value {
        if !reserved::OFFERING_TYPES.contains(&v.as_str())
            && !reserved::LEGACY_OFFERING_TYPES.contains(&v.as_str())
        {
            return Err(Error::invalid(format!(
                "Invalid offering type {v}: valid values are No Upfront, Partial Upfront, All Upfront, Light Utilization, Medium Utilization and Heavy Utilization."
            )));
        }
    }
    Ok(value)
}

impl Filter {
    fn matches(
        &self,
        offering_id: &str,
        node_type: &str,
        duration: i64,
        product: &str,
        offering_type: &str,
    ) -> bool {
        self.offering_id.as_deref().is_none_or(|x| x == offering_id)
            && self
                .cache_node_type
                .as_deref()
                .is_none_or(|x| x == node_type)
            && self.duration.is_none_or(|x| x == duration)
            && self
                .product_description
                .as_deref()
                .is_none_or(|x| x.eq_ignore_ascii_case(product))
            && self
                .offering_type
                .as_deref()
                .is_none_or(|x| x == offering_type)
    }
}

/// Offerings matching `f`; an offering ID the catalog does not have is an error.
pub fn offerings(f: &Filter) -> Result<Vec<&'static Offering>> {
    if let Some(id) = &f.offering_id {
        if reserved::offering(id).is_none() {
            return Err(offering_not_found(id));
        }
    }
    Ok(reserved::offerings()
        .iter()
        .filter(|o| {
            f.matches(
                &o.id,
                &o.cache_node_type,
                o.duration,
                &o.product_description,
                &o.offering_type,
            )
        })
        .collect())
}

fn offering_not_found(id: &str) -> Error {
    Error::new(
        Fault::ReservedCacheNodesOfferingNotFound,
        format!("Reserved cache nodes offering {id} not found."),
    )
}

fn not_found(id: &str) -> Error {
    Error::new(
        Fault::ReservedCacheNodeNotFound,
        format!("Reserved cache node {id} not found."),
    )
}

impl ControlPlane {
    /// `PurchaseReservedCacheNodesOffering`.
    pub fn purchase_reserved_node(
        &self,
        scope: &Scope,
        offering_id: &str,
        id: Option<String>,
        count: Option<i64>,
        tags: Vec<Tag>,
    ) -> Result<ReservedNode> {
        let offering =
            reserved::offering(offering_id).ok_or_else(|| offering_not_found(offering_id))?;
        let count = count.unwrap_or(1);
        if count < 1 {
            return Err(Error::invalid(
                "CacheNodeCount must be at least 1.".to_owned(),
            ));
        }
        validate::check_tags(&tags)?;
        let id = match id {
            Some(id) => {
                if id.is_empty() || id.len() > 255 || id.chars().any(char::is_whitespace) {
                    return Err(Error::invalid(format!(
                        "Invalid ReservedCacheNodeId {id:?}: 1 to 255 characters without spaces."
                    )));
                }
                id
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let now = Self::now();
        let node = ReservedNode {
            arn: arn::arn(scope, "reserved-instance", &id),
            id: id.clone(),
            offering_id: offering.id.clone(),
            cache_node_type: offering.cache_node_type.clone(),
            duration: offering.duration,
            fixed_price: offering.fixed_price,
            usage_price: offering.usage_price,
            hourly_charge: offering.hourly_charge,
            cache_node_count: count,
            product_description: offering.product_description.clone(),
            offering_type: offering.offering_type.clone(),
            start_time: now,
            tags,
        };
        {
            let mut st = self.lock();
            let r = st.region(scope);
            if r.reserved_nodes.contains_key(&id) {
                return Err(Error::new(
                    Fault::ReservedCacheNodeAlreadyExists,
                    format!("Reserved cache node {id} already exists."),
                ));
            }
            let held: i64 = r
                .reserved_nodes
                .values()
                .filter(|n| n.state_at(now) != RETIRED)
                .map(|n| n.cache_node_count)
                .sum();
            if held + count > MAX_RESERVED_NODES {
                return Err(Error::new(
                    Fault::ReservedCacheNodeQuotaExceeded,
                    format!(
                        "The request cannot be processed: the quota of {MAX_RESERVED_NODES} reserved cache nodes per region has been reached ({held} held)."
                    ),
                ));
            }
            r.reserved_nodes.insert(id.clone(), node.clone());
        }
        self.persist("reservednode", scope, &id, Some(&node))?;
        Ok(node)
    }

    /// `DescribeReservedCacheNodes`: the reservations matching `f` (and `id`).
    pub fn describe_reserved_nodes(
        &self,
        scope: &Scope,
        id: Option<&str>,
        f: &Filter,
    ) -> Result<Vec<ReservedNode>> {
        let st = self.lock();
        let all: Vec<ReservedNode> = st
            .regions
            .get(scope)
            .map(|r| r.reserved_nodes.values().cloned().collect())
            .unwrap_or_default();
        drop(st);
        if let Some(id) = id {
            if !all.iter().any(|n| n.id == id) {
                return Err(not_found(id));
            }
        }
        Ok(all
            .into_iter()
            .filter(|n| id.is_none_or(|x| x == n.id))
            .filter(|n| {
                f.matches(
                    &n.offering_id,
                    &n.cache_node_type,
                    n.duration,
                    &n.product_description,
                    &n.offering_type,
                )
            })
            .collect())
    }

    /// Apply `f` to the tags of reservation `id` (for `tags.rs`).
    pub(crate) fn with_reserved_node_tags(
        &self,
        scope: &Scope,
        id: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<()>,
    ) -> Result<Vec<Tag>> {
        self.change_tags(
            scope,
            "reservednode",
            id,
            |r| r.reserved_nodes.get_mut(id),
            |n: &mut ReservedNode| &mut n.tags,
            || not_found(id),
            f,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_term() {
        let start = Utc::now();
        let n = ReservedNode {
            id: "r".into(),
            offering_id: "o".into(),
            cache_node_type: "cache.t3.micro".into(),
            duration: reserved::ONE_YEAR,
            fixed_price: 0.0,
            usage_price: 0.0,
            hourly_charge: 0.0,
            cache_node_count: 1,
            product_description: "redis".into(),
            offering_type: "No Upfront".into(),
            start_time: start,
            arn: String::new(),
            tags: vec![],
        };
        assert_eq!(n.state_at(start), PAYMENT_PENDING);
        assert_eq!(n.state_at(start + Duration::seconds(10)), ACTIVE);
        assert_eq!(n.state_at(start + Duration::days(364)), ACTIVE);
        assert_eq!(n.state_at(start + Duration::days(365)), RETIRED);
    }
}
