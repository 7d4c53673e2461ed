//! The update pass: rolls applied service updates through their targets'
//! nodes, one node at a time, replicas first and primaries last, as the
//! rolling changes of node type and engine version do.
//!
//! A node's update is a restart of its engine with its data kept (`SAVE`, then
//! the reconciler's restart; a replica resyncs from its primary, as after any
//! restart). The local engines have one binary (or image) per version, so the
//! node comes back on the same binary: the events say so. The next node starts
//! only once the group (or cluster) is `available` again, i.e. once the
//! restarted node answers and, in a group, its replication link is up.

use crate::model::service_update::{
    self, UpdateActionRecord, COMPLETE, IN_PROGRESS, STOPPED, STOPPING, WAITING,
};
use crate::model::{lifecycle, ControlPlane, Scope};

use super::Reconciler;

impl Reconciler {
    /// One turn of the update pass over every scope (from the reconciler's loop).
    pub(super) fn updates(&self) {
        let scopes: Vec<Scope> = self.cp.lock().regions.keys().cloned().collect();
        for scope in scopes {
            for rec in self.cp.update_actions_in_flight(&scope) {
                if let Err(e) = self.advance_update(&scope, rec) {
                    tracing::warn!(error = %e, "update action could not advance");
                }
            }
        }
    }

    fn advance_update(
        &self,
        scope: &Scope,
        mut rec: UpdateActionRecord,
    ) -> crate::model::Result<()> {
        let now = ControlPlane::now();
        let (kind, source) = service_update::source_of(&rec);
        let group = rec.replication_group_id.clone();
        // Nodes removed since the apply (a replica count lowered) are dropped.
        let before = rec.nodes.len();
        rec.nodes.retain(|n| {
            self.cp
                .find_cluster(scope, &n.cluster_id)
                .is_ok_and(|c| c.nodes.iter().any(|x| x.id == n.node_id))
        });
        if rec.nodes.len() != before {
            self.cp.save_update_action(scope, &rec)?;
        }
        // The node being updated: done once its cluster is available again.
        if let Some(i) = rec
            .nodes
            .iter()
            .position(|n| n.status == IN_PROGRESS || n.status == STOPPING)
        {
            let c = self.cp.find_cluster(scope, &rec.nodes[i].cluster_id)?;
            let settled = c.status == lifecycle::AVAILABLE
                && c.nodes
                    .iter()
                    .all(|n| n.status == lifecycle::NODE_AVAILABLE && !n.restart);
            if !settled {
                return Ok(());
            }
            let n = &mut rec.nodes[i];
            n.status = COMPLETE.to_owned();
            n.end = Some(now);
            n.modified = Some(now);
            let engine = format!("{} {}", c.engine.as_str(), c.engine_version);
            self.cp.event(
                scope,
                kind,
                &source,
                format!(
                    "Service update {} applied to node {} of cache cluster {}: the node restarted on the same local {engine} binary (no patched binary exists locally), data kept",
                    rec.service_update, n.node_id, n.cluster_id
                ),
            );
            rec.modified = now;
            self.cp.save_update_action(scope, &rec)?;
            return Ok(());
        }
        if rec.status == STOPPING {
            for n in rec.nodes.iter_mut().filter(|n| n.status != COMPLETE) {
                n.status = STOPPED.to_owned();
                n.modified = Some(now);
            }
            rec.status = STOPPED.to_owned();
            rec.modified = now;
            self.cp.save_update_action(scope, &rec)?;
            self.cp.event(
                scope,
                kind,
                &source,
                format!("Service update {} stopped", rec.service_update),
            );
            return Ok(());
        }
        let Some(i) = rec.nodes.iter().position(|n| n.status == WAITING) else {
            rec.status = COMPLETE.to_owned();
            rec.modified = now;
            self.cp.save_update_action(scope, &rec)?;
            self.cp.event(
                scope,
                kind,
                &source,
                format!("Service update {} completed", rec.service_update),
            );
            return Ok(());
        };
        // An action just applied waits a moment before its first node (as AWS
        // schedules it): a stop right after the apply touches nothing.
        if rec.status == WAITING
            && now < rec.modified + chrono::Duration::seconds(service_update::START_AFTER_SECONDS)
        {
            return Ok(());
        }
        // The target must be available (a previous node settled, links up).
        let available = match &group {
            Some(g) => self.cp.find_replication_group(scope, g)?.status == lifecycle::AVAILABLE,
            None => true,
        };
        let member = self.cp.find_cluster(scope, &rec.nodes[i].cluster_id)?;
        if !available || member.status != lifecycle::AVAILABLE {
            return Ok(());
        }
        let node_id = rec.nodes[i].node_id.clone();
        self.cp.update_cluster(scope, &member.id, |c| {
            c.status = lifecycle::MODIFYING.to_owned();
            for n in c.nodes.iter_mut().filter(|n| n.id == node_id) {
                n.status = lifecycle::NODE_MODIFYING.to_owned();
                n.restart = true;
                n.keep_data = true;
            }
            Ok(())
        })?;
        if let Some(g) = &group {
            self.cp.update_replication_group(scope, g, |g| {
                g.status = lifecycle::MODIFYING.to_owned();
                Ok(())
            })?;
        }
        let n = &mut rec.nodes[i];
        n.status = IN_PROGRESS.to_owned();
        n.start = Some(now);
        n.modified = Some(now);
        if rec.status != IN_PROGRESS {
            rec.status = IN_PROGRESS.to_owned();
            rec.modified = now;
            self.cp.event(
                scope,
                kind,
                &source,
                format!("Service update {} started", rec.service_update),
            );
        }
        self.cp.event(
            scope,
            kind,
            &source,
            format!(
                "Service update {}: updating node {} of cache cluster {}",
                rec.service_update, n.node_id, n.cluster_id
            ),
        );
        self.cp.save_update_action(scope, &rec)?;
        self.cp.wake();
        Ok(())
    }
}
