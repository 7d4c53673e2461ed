//! Reserved cache node offerings: one per product (`redis`, `valkey`,
//! `memcached`), node type of the catalog, term (1 or 3 years) and offering
//! type (`No Upfront`, `Partial Upfront`, `All Upfront`).
//!
//! Where the figures come from: [`ON_DEMAND_HOURLY`] is AWS's public
//! on-demand price list for ElastiCache in us-east-1 (USD per node-hour, Redis
//! OSS / Memcached), rounded to three decimals; Valkey is priced 20% below it,
//! as AWS prices Valkey. A reservation takes the usual reservation discounts
//! off the on-demand rate ([`DISCOUNTS`]): the effective hourly rate over the
//! term is the on-demand rate less the discount; `All Upfront` pays it all at
//! purchase (`FixedPrice`), `Partial Upfront` pays half at purchase and half
//! hourly, `No Upfront` pays it hourly (`RecurringCharges`). The figures are
//! illustrative — close to what AWS charges, not a quote — and are the same in
//! every region.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// Products a reservation can be bought for (`ProductDescription`).
pub const PRODUCTS: &[&str] = &["redis", "valkey", "memcached"];

/// Terms in seconds: 1 year and 3 years (365-day years, as AWS counts them).
pub const ONE_YEAR: i64 = 31_536_000;
pub const THREE_YEARS: i64 = 94_608_000;
pub const DURATIONS: &[i64] = &[ONE_YEAR, THREE_YEARS];

/// Offering types sold today.
pub const NO_UPFRONT: &str = "No Upfront";
pub const PARTIAL_UPFRONT: &str = "Partial Upfront";
pub const ALL_UPFRONT: &str = "All Upfront";
pub const OFFERING_TYPES: &[&str] = &[NO_UPFRONT, PARTIAL_UPFRONT, ALL_UPFRONT];
/// Older offering types AWS still accepts as filter values (none are sold here).
pub const LEGACY_OFFERING_TYPES: &[&str] = &[
    "Light Utilization",
    "Medium Utilization",
    "Heavy Utilization",
];

/// Discount off the on-demand rate per (term, offering type), in percent.
pub const DISCOUNTS: &[(i64, &str, u32)] = &[
    (ONE_YEAR, NO_UPFRONT, 30),
    (ONE_YEAR, PARTIAL_UPFRONT, 35),
    (ONE_YEAR, ALL_UPFRONT, 38),
    (THREE_YEARS, NO_UPFRONT, 48),
    (THREE_YEARS, PARTIAL_UPFRONT, 53),
    (THREE_YEARS, ALL_UPFRONT, 55),
];

/// Valkey's price relative to Redis OSS, in percent.
const VALKEY_PERCENT: f64 = 80.0;

/// On-demand USD per node-hour in us-east-1 (Redis OSS and Memcached).
pub const ON_DEMAND_HOURLY: &[(&str, f64)] = &[
    ("cache.t4g.micro", 0.016),
    ("cache.t4g.small", 0.032),
    ("cache.t4g.medium", 0.065),
    ("cache.t3.micro", 0.017),
    ("cache.t3.small", 0.034),
    ("cache.t3.medium", 0.068),
    ("cache.t2.micro", 0.017),
    ("cache.t2.small", 0.034),
    ("cache.t2.medium", 0.068),
    ("cache.m7g.large", 0.158),
    ("cache.m7g.xlarge", 0.315),
    ("cache.m7g.2xlarge", 0.632),
    ("cache.m7g.4xlarge", 1.265),
    ("cache.m7g.8xlarge", 2.529),
    ("cache.m7g.12xlarge", 3.794),
    ("cache.m7g.16xlarge", 5.058),
    ("cache.m6g.large", 0.149),
    ("cache.m6g.xlarge", 0.297),
    ("cache.m6g.2xlarge", 0.595),
    ("cache.m6g.4xlarge", 1.189),
    ("cache.m6g.8xlarge", 2.378),
    ("cache.m6g.12xlarge", 3.568),
    ("cache.m6g.16xlarge", 4.757),
    ("cache.m5.large", 0.156),
    ("cache.m5.xlarge", 0.311),
    ("cache.m5.2xlarge", 0.623),
    ("cache.m5.4xlarge", 1.245),
    ("cache.m5.12xlarge", 3.736),
    ("cache.m5.24xlarge", 7.471),
    ("cache.m4.large", 0.156),
    ("cache.m4.xlarge", 0.311),
    ("cache.m4.2xlarge", 0.623),
    ("cache.m4.4xlarge", 1.245),
    ("cache.m4.10xlarge", 3.112),
    ("cache.r7g.large", 0.219),
    ("cache.r7g.xlarge", 0.437),
    ("cache.r7g.2xlarge", 0.873),
    ("cache.r7g.4xlarge", 1.745),
    ("cache.r7g.8xlarge", 3.490),
    ("cache.r7g.12xlarge", 5.235),
    ("cache.r7g.16xlarge", 6.980),
    ("cache.r6g.large", 0.206),
    ("cache.r6g.xlarge", 0.411),
    ("cache.r6g.2xlarge", 0.821),
    ("cache.r6g.4xlarge", 1.642),
    ("cache.r6g.8xlarge", 3.284),
    ("cache.r6g.12xlarge", 4.926),
    ("cache.r6g.16xlarge", 6.568),
    ("cache.r6gd.xlarge", 0.781),
    ("cache.r6gd.2xlarge", 1.562),
    ("cache.r6gd.4xlarge", 3.123),
    ("cache.r6gd.8xlarge", 6.247),
    ("cache.r6gd.12xlarge", 9.370),
    ("cache.r6gd.16xlarge", 12.493),
    ("cache.r5.large", 0.216),
    ("cache.r5.xlarge", 0.431),
    ("cache.r5.2xlarge", 0.862),
    ("cache.r5.4xlarge", 1.724),
    ("cache.r5.12xlarge", 5.184),
    ("cache.r5.24xlarge", 10.368),
    ("cache.r4.large", 0.228),
    ("cache.r4.xlarge", 0.455),
    ("cache.r4.2xlarge", 0.910),
    ("cache.r4.4xlarge", 1.820),
    ("cache.r4.8xlarge", 3.640),
    ("cache.r4.16xlarge", 7.280),
    ("cache.c7gn.large", 0.255),
    ("cache.c7gn.xlarge", 0.510),
    ("cache.c7gn.2xlarge", 1.021),
    ("cache.c7gn.4xlarge", 2.042),
    ("cache.c7gn.8xlarge", 4.084),
    ("cache.c7gn.12xlarge", 6.125),
    ("cache.c7gn.16xlarge", 8.167),
    ("cache.m3.medium", 0.090),
    ("cache.m3.large", 0.182),
    ("cache.m3.xlarge", 0.364),
    ("cache.m3.2xlarge", 0.728),
    ("cache.r3.large", 0.228),
    ("cache.r3.xlarge", 0.455),
    ("cache.r3.2xlarge", 0.910),
    ("cache.r3.4xlarge", 1.820),
    ("cache.r3.8xlarge", 3.640),
    ("cache.m1.small", 0.041),
    ("cache.m1.medium", 0.082),
    ("cache.m1.large", 0.164),
    ("cache.m1.xlarge", 0.329),
    ("cache.m2.xlarge", 0.230),
    ("cache.m2.2xlarge", 0.455),
    ("cache.m2.4xlarge", 0.910),
    ("cache.c1.xlarge", 0.330),
    ("cache.t1.micro", 0.020),
];

/// One offering, in the model's `ReservedCacheNodesOffering` terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Offering {
    pub id: String,
    pub cache_node_type: String,
    /// Seconds.
    pub duration: i64,
    /// USD paid at purchase, per node.
    pub fixed_price: f64,
    /// USD per hour charged on use (0 for every type sold today: the hourly
    /// part is a recurring charge).
    pub usage_price: f64,
    pub product_description: String,
    pub offering_type: String,
    /// USD per hour, charged hourly for the whole term, per node.
    pub hourly_charge: f64,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// A stable, UUID-shaped offering ID from what the offering is.
fn offering_id(product: &str, node_type: &str, duration: i64, offering_type: &str) -> String {
    let d = Sha256::digest(format!(
        "elasticache-local/offering/{product}/{node_type}/{duration}/{offering_type}"
    ));
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

static OFFERINGS: LazyLock<Vec<Offering>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for product in PRODUCTS {
        for (node_type, on_demand) in ON_DEMAND_HOURLY {
            let on_demand = if *product == "valkey" {
                on_demand * VALKEY_PERCENT / 100.0
            } else {
                *on_demand
            };
            for (duration, offering_type, discount) in DISCOUNTS {
                let hours = (*duration / 3600) as f64;
                let effective = on_demand * f64::from(100 - discount) / 100.0;
                let (fixed, hourly) = match *offering_type {
                    ALL_UPFRONT => (effective * hours, 0.0),
                    PARTIAL_UPFRONT => (effective * hours / 2.0, effective / 2.0),
                    _ => (0.0, effective),
                };
                out.push(Offering {
                    id: offering_id(product, node_type, *duration, offering_type),
                    cache_node_type: (*node_type).to_owned(),
                    duration: *duration,
                    fixed_price: round(fixed, 0),
                    usage_price: 0.0,
                    product_description: (*product).to_owned(),
                    offering_type: (*offering_type).to_owned(),
                    hourly_charge: round(hourly, 3),
                });
            }
        }
    }
    out
});

/// Every offering, by product, node type, term and offering type.
pub fn offerings() -> &'static [Offering] {
    &OFFERINGS
}

/// The offering with this ID.
pub fn offering(id: &str) -> Option<&'static Offering> {
    OFFERINGS.iter().find(|o| o.id == id)
}

/// A `Duration` filter value in years (`1`, `3`), seconds, or as an ISO 8601
/// duration (`P1Y`, `P3Y`: what HashiCorp's provider sends, and AWS takes), as
/// seconds.
pub fn duration_seconds(value: &str) -> Option<i64> {
    match value.trim().to_ascii_uppercase().as_str() {
        "1" | "31536000" | "P1Y" => Some(ONE_YEAR),
        "3" | "94608000" | "P3Y" => Some(THREE_YEARS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_type_of_the_catalog_has_a_price() {
        for t in super::super::node_types() {
            assert!(
                ON_DEMAND_HOURLY.iter().any(|(n, _)| *n == t.name),
                "no price for {}",
                t.name
            );
        }
        assert_eq!(ON_DEMAND_HOURLY.len(), super::super::node_types().len());
    }

    #[test]
    fn offerings_are_stable_and_distinct() {
        let all = offerings();
        assert_eq!(all.len(), 3 * ON_DEMAND_HOURLY.len() * 6);
        let ids: std::collections::HashSet<_> = all.iter().map(|o| &o.id).collect();
        assert_eq!(ids.len(), all.len());
        let o = all
            .iter()
            .find(|o| {
                o.cache_node_type == "cache.t3.micro"
                    && o.product_description == "redis"
                    && o.duration == ONE_YEAR
                    && o.offering_type == ALL_UPFRONT
            })
            .unwrap();
        assert_eq!(
            o.id,
            offering_id("redis", "cache.t3.micro", ONE_YEAR, ALL_UPFRONT)
        );
        assert_eq!(o.id.len(), 36);
        // 0.017 × 0.62 × 8760 h ≈ 92
        assert!((o.fixed_price - 92.0).abs() < 1.0, "{}", o.fixed_price);
        assert_eq!(duration_seconds("3"), Some(THREE_YEARS));
        assert_eq!(duration_seconds("2"), None);
        assert_eq!(duration_seconds("P1Y"), Some(ONE_YEAR));
    }
}
