//! Global datastores on real engines: a secondary group's primary `REPLICAOF`
//! the primary region's primary (its replicas follow it as in any group), so
//! every secondary region is a read-only copy; after a failover the roles
//! swap on the next pass. Statuses settle on the members (a model rule).
//! Called from the replication loop (the link) and the reconciler's loop
//! (the statuses).

use std::collections::HashMap;
use std::time::Duration;

use super::node::connect;
use super::Reconciler;
use crate::engine::NodeSpec;
use crate::model::global_datastore::Role;
use crate::model::replication_group::ReplicationGroup;
use crate::model::Scope;

impl Reconciler {
    pub(super) fn global_datastores(&self) {
        self.cp.settle_global_datastores();
    }

    /// The primary's role when its group is a secondary of a global datastore:
    /// it follows the primary region's primary. False when the group is not a
    /// secondary (its primary is then an ordinary master).
    pub(super) async fn follow_global_primary(
        &self,
        scope: &Scope,
        g: &ReplicationGroup,
        primary: &NodeSpec,
        info: &HashMap<String, String>,
        tls: bool,
    ) -> bool {
        let Some(Role::Secondary { primary: (ps, pid) }) = self.cp.global_role(scope, g) else {
            return false;
        };
        let source = self
            .cp
            .find_replication_group(&ps, &pid)
            .ok()
            .and_then(|pg| {
                let c = self.cp.find_cluster(&ps, &pg.primary).ok()?;
                let n = c.nodes.first()?.clone();
                Some(self.spec(&ps, &c, &n))
            });
        // Nothing to follow right now (the primary region's group is busy):
        // stay as is, read-only or not, until it is back.
        let Some(source) = source else { return true };
        let Ok((host, port)) = self.runtime().peer_address(&source).await else {
            return true;
        };
        let port = port.to_string();
        let role = info.get("role").map_or("", String::as_str);
        let follows = role == "slave"
            && info.get("master_host").map(String::as_str) == Some(host.as_str())
            && info.get("master_port").map(String::as_str) == Some(port.as_str());
        if !follows {
            let res = async {
                let mut conn = connect(primary.host, primary.port, tls).await?;
                tokio::time::timeout(
                    Duration::from_secs(5),
                    conn.cmd(&["REPLICAOF", &host, &port]),
                )
                .await?
            }
            .await;
            match res {
                Ok(_) => tracing::info!(group = %g.id, region = %scope.region, %host, %port,
                    "secondary region's primary replicates from the primary region"),
                Err(e) => {
                    tracing::warn!(group = %g.id, error = %e, "REPLICAOF the primary region failed")
                }
            }
        } else if info.get("master_link_status").map(String::as_str) == Some("up")
            && info.get("master_sync_in_progress").map(String::as_str) != Some("1")
        {
            self.cp.global_member_linked(scope, g);
        }
        true
    }
}
