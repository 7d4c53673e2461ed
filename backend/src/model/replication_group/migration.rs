//! Online migration into a replication group from a Redis server outside the
//! backend (`TestMigration`, `StartMigration`, `CompleteMigration`).
//!
//! The model records what was asked; the replication loop does it for real:
//! the group's primary replicates from the source while the group reads
//! `migrating`, and is promoted back when the migration completes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ReplicationGroup;
use crate::model::{lifecycle, ControlPlane, Error, Fault, Result, Scope};

pub const MIGRATING: &str = "migrating";
/// The oldest engine version online migration accepts (cluster mode disabled).
const MIN_VERSION: (u32, u32, u32) = (5, 0, 5);

/// The server data is migrated from (`CustomerNodeEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub address: String,
    pub port: u16,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.address, self.port)
    }
}

/// A migration in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    pub source: Source,
    pub started: DateTime<Utc>,
    /// The primary's link to the source came up at least once.
    #[serde(default)]
    pub synced: bool,
    /// `CompleteMigration` was called: `Some(force)`.
    #[serde(default)]
    pub completing: Option<bool>,
    /// The source serves TLS: the PEM certificate(s) it is verified against
    /// (`SourceTlsConfiguration` with `verify-ca`; a serverless cache's only).
    #[serde(default)]
    pub source_tls_certificate: Option<String>,
}

fn not_under_migration(id: &str) -> Error {
    Error::new(
        Fault::ReplicationGroupNotUnderMigrationFault,
        format!("Replication group {id} is not under migration."),
    )
}

fn version_tuple(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// The one endpoint of `CustomerNodeEndpointList`.
pub fn source(endpoints: &[(Option<String>, Option<i64>)]) -> Result<Source> {
    let [(address, port)] = endpoints else {
        return Err(Error::invalid(
            "CustomerNodeEndpointList must have exactly one element.",
        ));
    };
    let address = address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::invalid("The customer node endpoint must have an Address."))?;
    let port = port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            Error::invalid("The customer node endpoint must have a Port between 1 and 65535.")
        })?;
    Ok(Source {
        address: address.to_owned(),
        port,
    })
}

/// The most `SourceTlsCertificate` may hold (a CA bundle, not a data store).
const MAX_CERTIFICATE: usize = 64 * 1024;

/// `SourceTlsConfiguration`: `None` for a plaintext source (no configuration,
/// or `SourceTlsMode` `none`), else the PEM certificate(s) the source is
/// verified against (`verify-ca`). A certificate with mode `none` (or no mode)
/// is refused rather than ignored: it would not be used.
pub fn source_tls(mode: Option<&str>, certificate: Option<&str>) -> Result<Option<String>> {
    let certificate = certificate.map(str::trim).filter(|c| !c.is_empty());
    match mode {
        None | Some("none") => {
            if certificate.is_some() {
                return Err(Error::invalid(
                    "SourceTlsCertificate is only used with SourceTlsMode verify-ca.",
                ));
            }
            Ok(None)
        }
        Some("verify-ca") => {
            let pem = certificate.ok_or_else(|| {
                Error::invalid(
                    "SourceTlsMode verify-ca needs SourceTlsCertificate: the PEM certificate the source is verified against.",
                )
            })?;
            check_certificates(pem)?;
            Ok(Some(format!("{pem}\n")))
        }
        Some(other) => Err(Error::invalid(format!(
            "Invalid SourceTlsMode: {other} (none or verify-ca)."
        ))),
    }
}

/// `pem` holds X.509 certificates and nothing else (in particular no private
/// key, which would be kept with the migration). Messages never quote it.
fn check_certificates(pem: &str) -> Result<()> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let bad = || {
        Error::invalid(
            "SourceTlsCertificate must be one or more PEM-encoded X.509 certificates (CERTIFICATE blocks) and nothing else.",
        )
    };
    if pem.len() > MAX_CERTIFICATE {
        return Err(Error::invalid(format!(
            "SourceTlsCertificate is longer than {MAX_CERTIFICATE} characters."
        )));
    }
    let sections = pem
        .lines()
        .filter(|l| l.trim_start().starts_with("-----BEGIN "))
        .collect::<Vec<_>>();
    if sections.is_empty()
        || sections
            .iter()
            .any(|l| l.trim() != "-----BEGIN CERTIFICATE-----")
    {
        return Err(bad());
    }
    let mut roots = rustls::RootCertStore::empty();
    let mut n = 0;
    for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let c = c.map_err(|_| bad())?;
        roots.add(c).map_err(|_| bad())?;
        n += 1;
    }
    if n != sections.len() {
        return Err(bad());
    }
    Ok(())
}

impl ControlPlane {
    /// What `TestMigration` and `StartMigration` both require of the group.
    fn check_migration_target(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        src: &Source,
    ) -> Result<()> {
        if g.migration.is_some() || g.status == MIGRATING {
            return Err(Error::new(
                Fault::ReplicationGroupAlreadyUnderMigrationFault,
                format!("Replication group {} is already under migration.", g.id),
            ));
        }
        if g.cluster_enabled() {
            return Err(Error::invalid(format!(
                "Online migration into a cluster mode enabled replication group ({}) is not available yet in elasticache-local.",
                g.id
            )));
        }
        if g.status != lifecycle::AVAILABLE {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "Replication group {} is not in available state (it is {}).",
                    g.id, g.status
                ),
            ));
        }
        let members = self.replication_group_view(scope, g);
        if let Some(p) = members.iter().find(|c| c.id == g.primary) {
            // As on AWS: the target of an online migration runs without TLS or AUTH
            // (its primary replicates from a plaintext source); a serverless
            // cache's engines, TLS-only, follow the source in plaintext.
            let serverless = g.id.starts_with(crate::model::validate::INTERNAL_PREFIX);
            if !serverless && (p.transit_encryption || p.auth.enabled()) {
                return Err(Error::invalid(format!(
                    "Online migration needs a target without in-transit encryption or AUTH; replication group {} has them.",
                    g.id
                )));
            }
            if version_tuple(&p.engine_version) < MIN_VERSION {
                return Err(Error::invalid(format!(
                    "Online migration needs engine version 5.0.5 or later; replication group {} runs {}.",
                    g.id, p.engine_version
                )));
            }
        }
        let is_src = |host: std::net::Ipv4Addr, port: u16| {
            port == src.port
                && (host.to_string() == src.address
                    || (host.is_loopback() && src.address == "localhost"))
        };
        let own = members
            .iter()
            .flat_map(|c| &c.nodes)
            .any(|n| is_src(n.host, n.port))
            || [g.primary_endpoint(), g.reader_endpoint()]
                .into_iter()
                .any(|(h, p)| is_src(h, p));
        if own {
            return Err(Error::invalid(format!(
                "The customer node endpoint {src} belongs to replication group {}; migrate from a server outside it.",
                g.id
            )));
        }
        Ok(())
    }

    /// `TestMigration`: validate, and have the worker try the source (the outcome is an event).
    pub fn test_migration(&self, scope: &Scope, id: &str, src: Source) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        self.check_migration_target(scope, &g, &src)?;
        self.update_replication_group(scope, id, move |g| {
            g.migration_test = Some(src);
            Ok(())
        })
    }

    /// `StartMigration`: the primary starts replicating from the source.
    pub fn start_migration(
        &self,
        scope: &Scope,
        id: &str,
        src: Source,
    ) -> Result<ReplicationGroup> {
        self.start_migration_from(scope, id, src, None)
    }

    /// [`Self::start_migration`] from a source that serves TLS when
    /// `tls_certificate` (the PEM it is verified against, see [`source_tls`]).
    pub fn start_migration_from(
        &self,
        scope: &Scope,
        id: &str,
        src: Source,
        tls_certificate: Option<String>,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        self.check_migration_target(scope, &g, &src)?;
        let msg = format!("Migration from {src} to replication group {} started", g.id);
        let g = self.update_replication_group(scope, id, move |g| {
            g.status = MIGRATING.to_owned();
            g.migration = Some(Migration {
                source: src,
                started: Self::now(),
                synced: false,
                completing: None,
                source_tls_certificate: tls_certificate,
            });
            Ok(())
        })?;
        self.event(scope, "replication-group", &g.id, msg);
        Ok(g)
    }

    /// `CompleteMigration`: promote the primary back once in sync (at once with `Force`).
    pub fn complete_migration(
        &self,
        scope: &Scope,
        id: &str,
        force: bool,
    ) -> Result<ReplicationGroup> {
        let g = self.find_replication_group(scope, id)?;
        let Some(m) = &g.migration else {
            return Err(not_under_migration(&g.id));
        };
        if m.completing.is_some() {
            return Err(Error::new(
                Fault::InvalidReplicationGroupState,
                format!(
                    "The migration to replication group {} is already completing.",
                    g.id
                ),
            ));
        }
        self.update_replication_group(scope, id, move |g| {
            if let Some(m) = g.migration.as_mut() {
                m.completing = Some(force);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_endpoint_with_address_and_port() {
        assert!(source(&[]).is_err());
        assert!(source(&[(Some("a".into()), Some(1)), (Some("b".into()), Some(2))]).is_err());
        assert!(source(&[(None, Some(6379))]).is_err());
        assert!(source(&[(Some("10.0.0.1".into()), None)]).is_err());
        assert!(source(&[(Some("10.0.0.1".into()), Some(70000))]).is_err());
        let s = source(&[(Some(" 10.0.0.1 ".into()), Some(6379))]).unwrap();
        assert_eq!(s.to_string(), "10.0.0.1:6379");
    }

    #[test]
    fn source_tls_modes_and_certificates() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        assert_eq!(source_tls(None, None).unwrap(), None);
        assert_eq!(source_tls(Some("none"), Some("  ")).unwrap(), None);
        assert!(source_tls(Some("none"), Some(&cert)).is_err());
        assert!(source_tls(None, Some(&cert)).is_err());
        assert!(source_tls(Some("verify-full"), Some(&cert)).is_err());
        assert!(source_tls(Some("verify-ca"), None).is_err());
        assert!(source_tls(Some("verify-ca"), Some("hello")).is_err());
        let garbage = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        assert!(source_tls(Some("verify-ca"), Some(garbage)).is_err());
        let with_key = format!("{cert}{}", key.serialize_pem());
        let e = source_tls(Some("verify-ca"), Some(&with_key)).unwrap_err();
        assert!(!e.to_string().contains("PRIVATE"), "{e}");
        let kept = source_tls(Some("verify-ca"), Some(&cert)).unwrap().unwrap();
        assert!(kept.contains("BEGIN CERTIFICATE"));
        let bundle = format!("{cert}{cert}");
        assert!(source_tls(Some("verify-ca"), Some(&bundle))
            .unwrap()
            .is_some());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_tuple("5.0.4") < MIN_VERSION);
        assert!(version_tuple("5.0.6") >= MIN_VERSION);
        assert!(version_tuple("7.1") >= MIN_VERSION);
        assert!(version_tuple("10.0.0") >= MIN_VERSION);
    }
}
