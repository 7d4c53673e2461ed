//! Users and user groups on the engines: a changed user or group is pushed
//! to every node of every replication group that attaches it (`ACL SETUSER
//! <name> reset …`, `ACL DELUSER` for a user that left), then settles.
//! What a node gets at start comes from the same records (`node::client_users`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::node::{self, connect};
use super::Reconciler;
use crate::model::user::{self, User};
use crate::model::Scope;

/// What to change on a node: users to (re)define, with their rules, and users to drop.
#[derive(Debug, Default)]
pub(super) struct AclChange {
    pub set: Vec<(String, Vec<String>)>,
    pub drop: Vec<String>,
}

/// Apply a change on one node, in one round trip.
async fn push(
    host: Ipv4Addr,
    port: u16,
    auth: Option<&str>,
    change: &AclChange,
) -> anyhow::Result<()> {
    let mut conn = connect(host, port, auth).await?;
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for (name, rules) in &change.set {
        let mut c: Vec<Vec<u8>> = ["ACL", "SETUSER", name.as_str(), "reset"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        c.extend(rules.iter().map(|r| r.as_bytes().to_vec()));
        cmds.push(c);
    }
    for name in &change.drop {
        // Deleting a user also ends its connections.
        cmds.push(vec![
            b"ACL".to_vec(),
            b"DELUSER".to_vec(),
            name.as_bytes().to_vec(),
        ]);
    }
    if cmds.is_empty() {
        return Ok(());
    }
    let replies = conn.pipeline(&cmds).await?;
    if let Some(crate::engine::resp::Reply::Error(e)) = replies
        .iter()
        .find(|r| matches!(r, crate::engine::resp::Reply::Error(_)))
    {
        anyhow::bail!("ACL change refused: {e}");
    }
    Ok(())
}

impl Reconciler {
    /// Settle users and user groups whose change is not on the engines yet.
    pub(super) fn users(self: &Arc<Self>) {
        let work: Vec<Scope> = {
            let st = self.cp.lock();
            st.regions
                .iter()
                .filter(|(_, r)| {
                    r.users.values().any(|u| u.status != user::ACTIVE)
                        || r.user_groups.values().any(|g| g.status != user::ACTIVE)
                })
                .map(|(s, _)| s.clone())
                .collect()
        };
        for scope in work {
            if !self
                .users_inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(scope.clone())
            {
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                me.users_work(&scope).await;
                me.users_inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&scope);
            });
        }
    }

    async fn users_work(&self, scope: &Scope) {
        let (users, groups) = {
            let st = self.cp.lock();
            let Some(r) = st.regions.get(scope) else {
                return;
            };
            (
                r.users.values().cloned().collect::<Vec<_>>(),
                r.user_groups.values().cloned().collect::<Vec<_>>(),
            )
        };
        let mut changed = false;
        for g in groups.iter().filter(|g| g.status != user::ACTIVE) {
            let mut ok = true;
            if g.status != user::DELETING {
                let removed: Vec<String> = g
                    .pending_remove
                    .iter()
                    .filter_map(|id| users.iter().find(|u| u.id == *id))
                    .map(|u| u.name.clone())
                    .collect();
                for rg in self.cp.replication_groups_with_user_group(scope, &g.id) {
                    ok &= self.push_group_users(scope, &rg, &removed).await;
                }
            }
            if ok {
                let _ = self.cp.settle_user_group(scope, &g.id, g.generation);
                changed = true;
            }
        }
        for u in users.iter().filter(|u| u.status != user::ACTIVE) {
            if u.status == user::DELETING {
                // Gone once no group holds it any more.
                let held = groups
                    .iter()
                    .any(|g| g.user_ids.contains(&u.id) || g.pending_add.contains(&u.id));
                if !held {
                    let _ = self.cp.settle_user(scope, &u.id, u.generation);
                    changed = true;
                }
                continue;
            }
            let mut ok = true;
            let rgs: BTreeSet<String> = groups
                .iter()
                .filter(|g| g.user_ids.contains(&u.id))
                .flat_map(|g| self.cp.replication_groups_with_user_group(scope, &g.id))
                .collect();
            for rg in rgs {
                ok &= self.push_group_users(scope, &rg, &[]).await;
            }
            if ok {
                let _ = self.cp.settle_user(scope, &u.id, u.generation);
                changed = true;
            }
        }
        if changed {
            self.cp.wake();
        }
    }

    /// Every node of a replication group gets its users as the records say
    /// now (and loses `removed`); whether every node took it.
    pub(super) async fn push_group_users(
        &self,
        scope: &Scope,
        rg: &str,
        removed: &[String],
    ) -> bool {
        let Ok(g) = self.cp.find_replication_group(scope, rg) else {
            return true;
        };
        let users: Vec<User> = node::client_users(self.cp.as_ref(), scope, &g);
        let mut change = AclChange {
            set: users
                .iter()
                .map(|u| (u.name.clone(), u.acl_rules()))
                .collect(),
            drop: Vec::new(),
        };
        for name in removed {
            if name != user::DEFAULT_USER && !users.iter().any(|u| u.name == *name) {
                change.drop.push(name.clone());
            }
        }
        let mut ok = true;
        for id in &g.members {
            let Ok(c) = self.cp.find_cluster(scope, id) else {
                continue;
            };
            let auth = c.auth_token.clone();
            for n in &c.nodes {
                let spec = self.spec(scope, &c, n);
                if let Err(e) = push(spec.host, spec.port, auth.as_deref(), &change).await {
                    tracing::warn!(group = rg, node = %spec.key, error = %e, "could not push users to a node; retrying");
                    ok = false;
                }
            }
        }
        ok
    }
}
