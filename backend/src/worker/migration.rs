//! Online migration on real engines: the group's primary `REPLICAOF` the
//! source while the group reads `migrating`, and `REPLICAOF NO ONE` when the
//! migration completes (or fails to start). Called from the replication loop.

use std::collections::HashMap;
use std::time::Duration;

use super::node::connect;
use super::Reconciler;
use crate::engine::{repl_secret, resp, NodeSpec, REPL_USER, TLS_CA};
use crate::model::migration::Source;
use crate::model::replication_group::ReplicationGroup;
use crate::model::{lifecycle, ControlPlane, Scope};

/// While a migration follows a TLS source: the CA file of the primary (its
/// `tls-ca-cert-file`, relative to its data directory), the backend's CA and
/// the source's certificate. The engine verifies no client against it
/// (`tls-auth-clients no`): it is what its replication link trusts.
const SOURCE_CA: &str = "tls/migration-source-ca.crt";

/// How long the primary may try to reach and sync with the source before the
/// migration is given up (AWS retries a few times, then promotes the primary back).
const GIVE_UP: Duration = Duration::from_secs(30);

async fn command(host: &str, port: u16, args: &[&str]) -> anyhow::Result<resp::Reply> {
    let fut = async {
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{host} has no address"))?;
        let std::net::IpAddr::V4(ip) = addr.ip() else {
            anyhow::bail!("{host} is not an IPv4 address");
        };
        // The source is the user's server, not ours: no admin user there.
        let mut conn = resp::Conn::connect(ip, port).await?;
        conn.cmd(args).await
    };
    tokio::time::timeout(Duration::from_secs(3), fut).await?
}

impl Reconciler {
    /// Where node `from` reaches the source: one of our own nodes by its peer
    /// address, anything else as the runtime routes the host's addresses.
    async fn source_address(&self, from: &NodeSpec, src: &Source) -> (String, u16) {
        let known = {
            let st = self.cp.lock();
            st.regions.iter().find_map(|(scope, r)| {
                r.clusters.values().find_map(|c| {
                    c.nodes
                        .iter()
                        .find(|n| {
                            n.port == src.port
                                && (n.host.to_string() == src.address
                                    || self.cp.settings.endpoint_host(n.host) == src.address)
                        })
                        .map(|n| (scope.clone(), c.clone(), n.clone()))
                })
            })
        };
        // The spec is built outside the lock (it reads the control plane itself).
        if let Some((scope, c, n)) = known {
            let spec = self.spec(&scope, &c, &n);
            if let Ok(a) = self.runtime().peer_address(&spec).await {
                return a;
            }
        }
        self.runtime()
            .outside_address(from, &src.address, src.port)
            .await
    }

    /// `TestMigration`: try the source from the backend, report the outcome as an event.
    pub(super) async fn test_migration(&self, scope: &Scope, g: &ReplicationGroup) {
        let Some(src) = g.migration_test.clone() else {
            return;
        };
        let outcome = match command(&src.address, src.port, &["INFO", "server"]).await {
            Err(e) => Err(format!("cannot reach {src}: {e}")),
            Ok(reply) => match reply.as_text() {
                Some(text) if text.contains("redis_version:") => Ok(()),
                _ => Err(format!(
                    "{src} did not answer INFO as a Redis OSS or Valkey server (it may need AUTH, which online migration does not support)"
                )),
            },
        };
        let id = g.id.as_str();
        let msg = match outcome {
            Ok(()) => format!("Test migration from {src} to replication group {id} succeeded"),
            Err(e) => format!("Test migration from {src} to replication group {id} failed: {e}"),
        };
        self.cp.event(scope, "replication-group", id, msg);
        let _ = self.cp.update_replication_group(scope, id, move |g| {
            if g.migration_test.as_ref() == Some(&src) {
                g.migration_test = None;
            }
            Ok(())
        });
    }

    /// The primary's role while a migration runs; false when there is none
    /// (the primary is then an ordinary master).
    pub(super) async fn migrate_primary(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        primary: &NodeSpec,
        info: &HashMap<String, String>,
        tls: bool,
    ) -> bool {
        let Some(m) = g.migration.clone() else {
            return false;
        };
        let id = g.id.as_str();
        let (host, port) = self.source_address(primary, &m.source).await;
        let role = info.get("role").map_or("", String::as_str);
        let follows = role == "slave"
            && info.get("master_host").map(String::as_str) == Some(host.as_str())
            && info.get("master_port").map(String::as_str) == Some(port.to_string().as_str());
        let link_up = follows
            && info.get("master_link_status").map(String::as_str) == Some("up")
            && info.get("master_sync_in_progress").map(String::as_str) != Some("1");
        let addr = (primary.host, primary.port);
        match m.completing {
            Some(force) if force || link_up => {
                let why = format!(
                    "Migration from {} to replication group {id} completed",
                    m.source
                );
                self.end_migration(scope, id, primary, tls, why, lifecycle::MODIFYING)
                    .await;
                return true;
            }
            _ => {}
        }
        if !m.synced
            && ControlPlane::now()
                .signed_duration_since(m.started)
                .to_std()
                .is_ok_and(|d| d > GIVE_UP)
        {
            let how = if m.source_tls_certificate.is_some() {
                " over TLS, verifying it against the source's certificate"
            } else {
                ""
            };
            let why = format!(
                "Failed to start migration for replication group {id}: the primary could not replicate from {}{how}",
                m.source
            );
            self.end_migration(scope, id, primary, tls, why, lifecycle::AVAILABLE)
                .await;
            return true;
        }
        if !follows {
            let port = port.to_string();
            // The source knows nothing of the backend's admin user: the primary
            // follows it unauthenticated (`end_migration` restores the credentials).
            let _ = self
                .command_on(
                    addr,
                    tls,
                    &["CONFIG", "SET", "masteruser", "", "masterauth", ""],
                )
                .await;
            match (&m.source_tls_certificate, tls) {
                (Some(cert), true) => {
                    // A TLS source: the link is TLS (`tls-replication`, as the
                    // engine starts) and trusts the source's certificate too.
                    if let Err(e) = self.trust_source(addr, primary, cert).await {
                        tracing::warn!(group = id, error = %e, "trusting the migration source's certificate failed");
                    }
                }
                (Some(_), false) => {
                    tracing::warn!(group = id, "a TLS source needs a primary that serves TLS");
                }
                (None, true) => {
                    // A TLS node (a serverless cache's) follows the plaintext source.
                    let _ = self
                        .command_on(addr, tls, &["CONFIG", "SET", "tls-replication", "no"])
                        .await;
                }
                (None, false) => {}
            }
            match self
                .command_on(addr, tls, &["REPLICAOF", &host, &port])
                .await
            {
                Ok(_) => {
                    tracing::info!(group = id, %host, %port, "primary replicates from the migration source")
                }
                Err(e) => {
                    tracing::warn!(group = id, error = %e, "REPLICAOF the migration source failed")
                }
            }
        } else if link_up && !m.synced {
            let _ = self.cp.update_replication_group(scope, id, |g| {
                if let Some(m) = g.migration.as_mut() {
                    m.synced = true;
                }
                Ok(())
            });
            self.cp.event(
                scope,
                "replication-group",
                id,
                format!(
                    "Data from {} is replicating to replication group {id}",
                    m.source
                ),
            );
        }
        true
    }

    /// Have the primary trust `cert` (the source's, PEM) besides the backend's
    /// CA for its replication link, over TLS.
    async fn trust_source(
        &self,
        addr: (std::net::Ipv4Addr, u16),
        primary: &NodeSpec,
        cert: &str,
    ) -> anyhow::Result<()> {
        let bundle = format!("{}\n{cert}", self.ca.ca_pem().trim_end());
        std::fs::write(primary.data_dir.join(SOURCE_CA), bundle)?;
        self.command_on(
            addr,
            true,
            &[
                "CONFIG",
                "SET",
                "tls-ca-cert-file",
                SOURCE_CA,
                "tls-replication",
                "yes",
            ],
        )
        .await?;
        Ok(())
    }

    /// Promote the primary back and forget the migration.
    async fn end_migration(
        &self,
        scope: &Scope,
        id: &str,
        primary: &NodeSpec,
        tls: bool,
        why: String,
        status: &str,
    ) {
        let addr = (primary.host, primary.port);
        if let Err(e) = self
            .command_on(addr, tls, &["REPLICAOF", "NO", "ONE"])
            .await
        {
            tracing::warn!(group = id, error = %e, "promoting the primary back failed");
            return;
        }
        let _ = self
            .command_on(
                addr,
                tls,
                &[
                    "CONFIG",
                    "SET",
                    "masteruser",
                    REPL_USER,
                    "masterauth",
                    &repl_secret(),
                ],
            )
            .await;
        if tls {
            let _ = self
                .command_on(
                    addr,
                    tls,
                    &[
                        "CONFIG",
                        "SET",
                        "tls-replication",
                        "yes",
                        "tls-ca-cert-file",
                        TLS_CA,
                    ],
                )
                .await;
            let _ = std::fs::remove_file(primary.data_dir.join(SOURCE_CA));
        }
        let ended = self.cp.update_replication_group(scope, id, |g| {
            g.migration = None;
            g.status = status.to_owned();
            Ok(())
        });
        if ended.is_ok() {
            self.cp.event(scope, "replication-group", id, why);
        }
    }

    async fn command_on(
        &self,
        addr: (std::net::Ipv4Addr, u16),
        tls: bool,
        args: &[&str],
    ) -> anyhow::Result<resp::Reply> {
        let mut conn = connect(addr.0, addr.1, tls).await?;
        tokio::time::timeout(Duration::from_secs(5), conn.cmd(args)).await?
    }
}
