//! Users and user groups on the engines: a changed user or group is pushed
//! to every node of every replication group that attaches it (`ACL SETUSER
//! <name> reset …`, `ACL DELUSER` for a user that left), then settles.
//! What a node gets at start comes from the same records (`node::client_users`).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::node;
use super::Reconciler;
use crate::model::user;
use crate::model::Scope;

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
                for rg in self.cp.replication_groups_with_user_group(scope, &g.id) {
                    ok &= node::push_group_users(self.cp.as_ref(), scope, &rg).await;
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
                ok &= node::push_group_users(self.cp.as_ref(), scope, &rg).await;
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
}
