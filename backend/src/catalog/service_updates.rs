//! Service updates: the engine patch releases ElastiCache applies to running
//! clusters, one per engine and version (`DescribeServiceUpdates`).
//!
//! Modelled on the security updates AWS publishes for each engine line; the
//! names, dates and descriptions are this backend's own (illustrative). The
//! local engines have one binary (or image) per version, so applying one
//! restarts the nodes onto the same binary: the update action's message says
//! so. Recommended apply-by and end dates lie years ahead, so that the
//! catalog stays `available` wherever tests run (one update is `expired`).

use chrono::{DateTime, NaiveDate, Utc};

/// One service update, in the model's `ServiceUpdate` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUpdate {
    pub name: &'static str,
    pub engine: &'static str,
    /// The engine version it patches (clusters running it are affected).
    pub engine_version: &'static str,
    /// `critical`, `important`, `medium` or `low`.
    pub severity: &'static str,
    pub description: &'static str,
    pub release_date: DateTime<Utc>,
    pub recommended_apply_by_date: DateTime<Utc>,
    /// After this date the update is `expired`.
    pub end_date: DateTime<Utc>,
    pub auto_update_after_recommended_apply_by_date: bool,
    pub estimated_update_time: &'static str,
}

/// Every update is a `security-update`, the one type the API knows.
pub const TYPE: &str = "security-update";

fn day(s: &str) -> DateTime<Utc> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .expect("catalog date")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

#[allow(clippy::type_complexity)]
const TABLE: &[(
    &str,
    &str,
    &str,
    &str,
    &str,
    &str,
    &str,
    &str,
    bool,
    &str,
)] = &[
    (
        "elasticache-20261020-001",
        "redis",
        "7.1",
        "important",
        "Redis OSS 7.1 engine patch: fixes for Lua scripting and CLIENT command handling (CVE fixes).",
        "2026-10-20",
        "2029-01-20",
        "2030-10-20",
        false,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261020-002",
        "redis",
        "7.0",
        "important",
        "Redis OSS 7.0 engine patch: fixes for Lua scripting and CLIENT command handling (CVE fixes).",
        "2026-10-20",
        "2029-01-20",
        "2030-10-20",
        false,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261020-003",
        "redis",
        "6.2",
        "critical",
        "Redis OSS 6.2 engine patch: fix for a heap overflow in the protocol parser.",
        "2026-10-20",
        "2028-12-20",
        "2030-10-20",
        true,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261103-001",
        "valkey",
        "8.1",
        "important",
        "Valkey 8.1 engine patch: security and stability fixes.",
        "2026-11-03",
        "2029-02-03",
        "2030-11-03",
        false,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261103-002",
        "valkey",
        "8.0",
        "medium",
        "Valkey 8.0 engine patch: security and stability fixes.",
        "2026-11-03",
        "2029-02-03",
        "2030-11-03",
        false,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261103-003",
        "valkey",
        "7.2",
        "medium",
        "Valkey 7.2 engine patch: security and stability fixes.",
        "2026-11-03",
        "2029-02-03",
        "2030-11-03",
        false,
        "10-15 minutes per node",
    ),
    (
        "elasticache-20261110-001",
        "memcached",
        "1.6.22",
        "low",
        "Memcached 1.6.22 engine patch: stability fixes. Memcached keeps no data across a node restart.",
        "2026-11-10",
        "2029-02-10",
        "2030-11-10",
        false,
        "5-10 minutes per node",
    ),
    (
        "elasticache-20250310-001",
        "redis",
        "6.2",
        "medium",
        "Redis OSS 6.2 engine patch: stability fixes (superseded).",
        "2025-03-10",
        "2025-06-10",
        "2025-12-31",
        false,
        "10-15 minutes per node",
    ),
];

static UPDATES: std::sync::LazyLock<Vec<ServiceUpdate>> = std::sync::LazyLock::new(|| {
    TABLE
        .iter()
        .map(
            |&(name, engine, engine_version, severity, description, rel, rec, end, auto, est)| {
                ServiceUpdate {
                    name,
                    engine,
                    engine_version,
                    severity,
                    description,
                    release_date: day(rel),
                    recommended_apply_by_date: day(rec),
                    end_date: day(end),
                    auto_update_after_recommended_apply_by_date: auto,
                    estimated_update_time: est,
                }
            },
        )
        .collect()
});

/// Every service update, newest first within an engine line.
pub fn all() -> &'static [ServiceUpdate] {
    &UPDATES
}

/// The update with this name.
pub fn find(name: &str) -> Option<&'static ServiceUpdate> {
    UPDATES.iter().find(|u| u.name == name)
}

impl ServiceUpdate {
    /// `available` until its end date, then `expired`.
    #[must_use]
    pub fn status_at(&self, now: DateTime<Utc>) -> &'static str {
        if now >= self.end_date {
            "expired"
        } else {
            "available"
        }
    }

    /// Whether a cluster running `engine` `version` is affected.
    #[must_use]
    pub fn applies_to(&self, engine: &str, version: &str) -> bool {
        self.engine == engine && self.engine_version == version
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_update_names_a_catalog_version() {
        for u in super::all() {
            assert!(
                super::super::find_engine_version(u.engine, u.engine_version).is_some(),
                "{} patches {} {}, not in the catalog",
                u.name,
                u.engine,
                u.engine_version
            );
            assert!(u.release_date < u.recommended_apply_by_date);
            assert!(u.recommended_apply_by_date < u.end_date);
        }
    }
}
