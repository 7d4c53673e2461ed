//! Service updates and their update actions: which clusters and replication
//! groups run an engine version a service update of `catalog::service_updates`
//! patches, and the progress of applying it.
//!
//! An update action is computed for every (service update, target) whose
//! target — a replication group, or a cache cluster outside any group — runs
//! the affected engine version; it is `not-applied` until
//! `BatchApplyUpdateAction` records it (stored, kind `updateaction`). Applying
//! is `waiting-to-start` → `in-progress` → `complete`, node by node (replicas
//! first, primaries last, the first [`START_AFTER_SECONDS`] after the apply),
//! rolled by the reconciler's update pass
//! (`worker/updates.rs`); `BatchStopUpdateAction` makes it `stopping` (the node
//! being updated finishes) → `stopped`, and applying again resumes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::replication_group::NODE_GROUP_ID;
use super::{lifecycle, validate, ControlPlane, Error, Fault, Result, Scope};
use crate::catalog::service_updates::{self, ServiceUpdate};

pub const NOT_APPLIED: &str = "not-applied";
pub const WAITING: &str = "waiting-to-start";
pub const IN_PROGRESS: &str = "in-progress";
pub const STOPPING: &str = "stopping";
pub const STOPPED: &str = "stopped";
pub const COMPLETE: &str = "complete";

/// Seconds an applied action stays `waiting-to-start` before its first node.
pub const START_AFTER_SECONDS: i64 = 3;

/// The progress of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUpdate {
    pub node_group_id: String,
    pub cluster_id: String,
    pub node_id: String,
    /// Updated last (a group's primary).
    pub primary: bool,
    pub status: String,
    pub initiated: Option<DateTime<Utc>>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub modified: Option<DateTime<Utc>>,
}

/// An update action that was applied (or stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateActionRecord {
    pub service_update: String,
    pub replication_group_id: Option<String>,
    pub cache_cluster_id: Option<String>,
    pub status: String,
    pub modified: DateTime<Utc>,
    pub nodes: Vec<NodeUpdate>,
}

impl UpdateActionRecord {
    /// The store key: service update and target.
    #[must_use]
    pub fn key(&self) -> String {
        key(
            &self.service_update,
            self.replication_group_id.as_deref(),
            self.cache_cluster_id.as_deref(),
        )
    }
}

fn key(update: &str, rg: Option<&str>, cc: Option<&str>) -> String {
    match (rg, cc) {
        (Some(g), _) => format!("{update}|replicationgroup|{g}"),
        (None, Some(c)) => format!("{update}|cluster|{c}"),
        (None, None) => format!("{update}|"),
    }
}

/// A replication group or a cluster outside any group, as update actions see it.
#[derive(Debug, Clone)]
pub struct Target {
    pub replication_group_id: Option<String>,
    pub cache_cluster_id: Option<String>,
    pub engine: String,
    pub engine_version: String,
    pub created: DateTime<Utc>,
    /// Status of the group or cluster.
    pub status: String,
    /// Its nodes, in the order they are updated.
    pub nodes: Vec<NodeUpdate>,
}

/// One update action as described.
#[derive(Debug, Clone)]
pub struct UpdateAction {
    pub update: &'static ServiceUpdate,
    pub replication_group_id: Option<String>,
    pub cache_cluster_id: Option<String>,
    pub engine: String,
    pub available_date: DateTime<Utc>,
    pub status: String,
    pub modified: DateTime<Utc>,
    pub nodes: Vec<NodeUpdate>,
}

impl UpdateAction {
    /// `NodesUpdated`: complete nodes out of all, e.g. `1/2`.
    #[must_use]
    pub fn nodes_updated(&self) -> String {
        let done = self.nodes.iter().filter(|n| n.status == COMPLETE).count();
        format!("{done}/{}", self.nodes.len())
    }

    /// `SlaMet`: whether it completed by the recommended apply-by date.
    #[must_use]
    pub fn sla_met(&self) -> &'static str {
        if self.status != COMPLETE {
            return "n/a";
        }
        if self.modified <= self.update.recommended_apply_by_date {
            "yes"
        } else {
            "no"
        }
    }
}

/// What `DescribeUpdateActions` filters on.
#[derive(Debug, Default, Clone)]
pub struct ActionFilter {
    pub service_update_name: Option<String>,
    pub replication_group_ids: Option<Vec<String>>,
    pub cache_cluster_ids: Option<Vec<String>>,
    pub engine: Option<String>,
    pub service_update_status: Option<Vec<String>>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub update_action_status: Option<Vec<String>>,
}

/// A target of `BatchApplyUpdateAction` / `BatchStopUpdateAction` and what came of it.
#[derive(Debug, Clone)]
pub enum Outcome {
    Processed {
        replication_group_id: Option<String>,
        cache_cluster_id: Option<String>,
        status: String,
    },
    Unprocessed {
        replication_group_id: Option<String>,
        cache_cluster_id: Option<String>,
        error_type: String,
        message: String,
    },
}

/// `DescribeServiceUpdates`: updates by name and status.
pub fn describe_service_updates(
    name: Option<&str>,
    statuses: Option<&[String]>,
) -> Result<Vec<&'static ServiceUpdate>> {
    if let Some(n) = name {
        if service_updates::find(n).is_none() {
            return Err(update_not_found(n));
        }
    }
    if let Some(ss) = statuses {
        check_values(
            "ServiceUpdateStatus",
            ss,
            &["available", "cancelled", "expired"],
        )?;
    }
    let now = ControlPlane::now();
    Ok(service_updates::all()
        .iter()
        .filter(|u| name.is_none_or(|n| u.name == n))
        .filter(|u| statuses.is_none_or(|ss| ss.iter().any(|s| s == u.status_at(now))))
        .collect())
}

/// Each value must be one the API lists.
pub fn check_values(what: &str, values: &[String], allowed: &[&str]) -> Result<()> {
    if let Some(v) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
        return Err(Error::invalid(format!(
            "Invalid {what} {v}: valid values are {}.",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// What a `BatchApplyUpdateAction` / `BatchStopUpdateAction` names: the
/// update, and each target asked for as `(group, cluster)`, lower-cased.
#[allow(clippy::type_complexity)]
fn batch_request(
    name: &str,
    rg_ids: &[String],
    cc_ids: &[String],
) -> Result<(
    &'static ServiceUpdate,
    Vec<(Option<String>, Option<String>)>,
)> {
    let u = service_updates::find(name).ok_or_else(|| update_not_found(name))?;
    if rg_ids.is_empty() && cc_ids.is_empty() {
        return Err(Error::invalid(
            "Either ReplicationGroupIds or CacheClusterIds must be given.",
        ));
    }
    let asked = rg_ids
        .iter()
        .map(|g| (Some(g.to_ascii_lowercase()), None))
        .chain(cc_ids.iter().map(|c| (None, Some(c.to_ascii_lowercase()))))
        .collect();
    Ok((u, asked))
}

fn update_not_found(name: &str) -> Error {
    Error::new(
        Fault::ServiceUpdateNotFoundFault,
        format!("Service update {name} not found."),
    )
}

impl ControlPlane {
    /// Every replication group and every cluster outside a group, with its nodes.
    pub fn update_targets(&self, scope: &Scope) -> Vec<Target> {
        let st = self.lock();
        let Some(r) = st.regions.get(scope) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // The hidden resources behind serverless caches are no targets.
        let hidden = |id: &str| id.starts_with(validate::INTERNAL_PREFIX);
        for g in r.replication_groups.values() {
            if g.status == lifecycle::DELETING || hidden(&g.id) {
                continue;
            }
            let Some(first) = r
                .clusters
                .get(&g.primary)
                .or_else(|| g.members.iter().find_map(|m| r.clusters.get(m)))
            else {
                continue;
            };
            let primaries: Vec<&str> = if g.cluster_enabled() {
                g.node_groups.iter().map(|ng| ng.primary.as_str()).collect()
            } else {
                vec![g.primary.as_str()]
            };
            let mut nodes: Vec<NodeUpdate> = g
                .members
                .iter()
                .filter_map(|m| r.clusters.get(m))
                .flat_map(|c| {
                    let ng = g
                        .node_group_of(&c.id)
                        .map_or_else(|| NODE_GROUP_ID.to_owned(), |ng| ng.id.clone());
                    let primary = primaries.contains(&c.id.as_str());
                    c.nodes.iter().map(move |n| NodeUpdate {
                        node_group_id: ng.clone(),
                        cluster_id: c.id.clone(),
                        node_id: n.id.clone(),
                        primary,
                        status: NOT_APPLIED.to_owned(),
                        initiated: None,
                        start: None,
                        end: None,
                        modified: None,
                    })
                })
                .collect();
            nodes.sort_by_key(|n| n.primary);
            out.push(Target {
                replication_group_id: Some(g.id.clone()),
                cache_cluster_id: None,
                engine: g.engine.as_str().to_owned(),
                engine_version: first.engine_version.clone(),
                created: g.created,
                status: g.status.clone(),
                nodes,
            });
        }
        for c in r.clusters.values() {
            if c.replication_group_id.is_some() || c.status == lifecycle::DELETING || hidden(&c.id)
            {
                continue;
            }
            out.push(Target {
                replication_group_id: None,
                cache_cluster_id: Some(c.id.clone()),
                engine: c.engine.as_str().to_owned(),
                engine_version: c.engine_version.clone(),
                created: c.created,
                status: c.status.clone(),
                nodes: c
                    .nodes
                    .iter()
                    .map(|n| NodeUpdate {
                        node_group_id: String::new(),
                        cluster_id: c.id.clone(),
                        node_id: n.id.clone(),
                        primary: false,
                        status: NOT_APPLIED.to_owned(),
                        initiated: None,
                        start: None,
                        end: None,
                        modified: None,
                    })
                    .collect(),
            });
        }
        out
    }

    /// The stored record of an update action, if it was ever applied.
    pub fn update_action_record(
        &self,
        scope: &Scope,
        update: &str,
        rg: Option<&str>,
        cc: Option<&str>,
    ) -> Option<UpdateActionRecord> {
        let st = self.lock();
        st.regions
            .get(scope)?
            .update_actions
            .get(&key(update, rg, cc))
            .cloned()
    }

    /// Store an update action's record.
    pub fn save_update_action(&self, scope: &Scope, rec: &UpdateActionRecord) -> Result<()> {
        let k = rec.key();
        self.lock()
            .region(scope)
            .update_actions
            .insert(k.clone(), rec.clone());
        self.persist("updateaction", scope, &k, Some(rec))
    }

    /// Records of actions being applied or stopped (for the update pass),
    /// with those of targets gone removed.
    pub fn update_actions_in_flight(&self, scope: &Scope) -> Vec<UpdateActionRecord> {
        // The update pass asks on every wake of the reconciler (each create):
        // with no action stored, no target list (a copy of every cluster's
        // nodes, under the lock) is made.
        if self
            .lock()
            .regions
            .get(scope)
            .is_none_or(|r| r.update_actions.is_empty())
        {
            return Vec::new();
        }
        let targets = self.update_targets(scope);
        let (live, gone): (Vec<_>, Vec<_>) = {
            let st = self.lock();
            st.regions
                .get(scope)
                .map(|r| r.update_actions.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .partition(|a| {
                    targets.iter().any(|t| {
                        t.replication_group_id == a.replication_group_id
                            && t.cache_cluster_id == a.cache_cluster_id
                    })
                })
        };
        for a in gone {
            let k = a.key();
            self.lock().region(scope).update_actions.remove(&k);
            let _ = self.persist::<UpdateActionRecord>("updateaction", scope, &k, None);
        }
        live.into_iter()
            .filter(|a| [WAITING, IN_PROGRESS, STOPPING].contains(&a.status.as_str()))
            .collect()
    }

    /// `DescribeUpdateActions`.
    pub fn describe_update_actions(
        &self,
        scope: &Scope,
        f: &ActionFilter,
    ) -> Result<Vec<UpdateAction>> {
        if let Some(ss) = &f.service_update_status {
            check_values(
                "ServiceUpdateStatus",
                ss,
                &["available", "cancelled", "expired"],
            )?;
        }
        if let Some(ss) = &f.update_action_status {
            check_values(
                "UpdateActionStatus",
                ss,
                &[
                    NOT_APPLIED,
                    WAITING,
                    IN_PROGRESS,
                    STOPPING,
                    STOPPED,
                    COMPLETE,
                    "scheduling",
                    "scheduled",
                    "not-applicable",
                ],
            )?;
        }
        if f.replication_group_ids.is_some() && f.cache_cluster_ids.is_some() {
            return Err(Error::combination(
                "Only one of ReplicationGroupIds and CacheClusterIds may be given.",
            ));
        }
        let now = Self::now();
        let targets = self.update_targets(scope);
        let mut out = Vec::new();
        for u in service_updates::all() {
            if f.service_update_name
                .as_deref()
                .is_some_and(|n| n != u.name)
                || f.engine
                    .as_deref()
                    .is_some_and(|e| !e.eq_ignore_ascii_case(u.engine))
                || f.service_update_status
                    .as_ref()
                    .is_some_and(|ss| !ss.iter().any(|s| s == u.status_at(now)))
                || f.start.is_some_and(|s| u.release_date < s)
                || f.end.is_some_and(|e| u.release_date > e)
            {
                continue;
            }
            for t in &targets {
                if let Some(ids) = &f.replication_group_ids {
                    if !t
                        .replication_group_id
                        .as_ref()
                        .is_some_and(|g| ids.iter().any(|i| i.eq_ignore_ascii_case(g)))
                    {
                        continue;
                    }
                }
                if let Some(ids) = &f.cache_cluster_ids {
                    if !t
                        .cache_cluster_id
                        .as_ref()
                        .is_some_and(|c| ids.iter().any(|i| i.eq_ignore_ascii_case(c)))
                    {
                        continue;
                    }
                }
                let rec = self.update_action_record(
                    scope,
                    u.name,
                    t.replication_group_id.as_deref(),
                    t.cache_cluster_id.as_deref(),
                );
                // A target that no longer runs the version keeps the action it completed.
                if !u.applies_to(&t.engine, &t.engine_version) && rec.is_none() {
                    continue;
                }
                let available = u.release_date.max(t.created);
                let a = match rec {
                    Some(r) => UpdateAction {
                        update: u,
                        replication_group_id: r.replication_group_id,
                        cache_cluster_id: r.cache_cluster_id,
                        engine: t.engine.clone(),
                        available_date: available,
                        status: r.status,
                        modified: r.modified,
                        nodes: r.nodes,
                    },
                    None => UpdateAction {
                        update: u,
                        replication_group_id: t.replication_group_id.clone(),
                        cache_cluster_id: t.cache_cluster_id.clone(),
                        engine: t.engine.clone(),
                        available_date: available,
                        status: NOT_APPLIED.to_owned(),
                        modified: available,
                        nodes: t.nodes.clone(),
                    },
                };
                if f.update_action_status
                    .as_ref()
                    .is_some_and(|ss| !ss.contains(&a.status))
                {
                    continue;
                }
                out.push(a);
            }
        }
        Ok(out)
    }

    /// `BatchApplyUpdateAction`: one outcome per target asked for.
    pub fn apply_update_action(
        &self,
        scope: &Scope,
        name: &str,
        rg_ids: &[String],
        cc_ids: &[String],
    ) -> Result<Vec<Outcome>> {
        let (u, asked) = batch_request(name, rg_ids, cc_ids)?;
        let now = Self::now();
        let targets = self.update_targets(scope);
        let mut out = Vec::new();
        for (rg, cc) in asked {
            let unprocessed = |error_type: &str, message: String| Outcome::Unprocessed {
                replication_group_id: rg.clone(),
                cache_cluster_id: cc.clone(),
                error_type: error_type.to_owned(),
                message,
            };
            let Some(t) = targets
                .iter()
                .find(|t| t.replication_group_id == rg && t.cache_cluster_id == cc)
            else {
                out.push(self.missing_target(scope, rg.as_deref(), cc.as_deref(), unprocessed));
                continue;
            };
            if u.status_at(now) != "available" {
                out.push(unprocessed(
                    "InvalidParameterValue",
                    format!("The service update {} is {}.", u.name, u.status_at(now)),
                ));
                continue;
            }
            let rec = self.update_action_record(scope, u.name, rg.as_deref(), cc.as_deref());
            if !u.applies_to(&t.engine, &t.engine_version) && rec.is_none() {
                out.push(unprocessed(
                    "InvalidParameterValue",
                    format!(
                        "The service update {} patches {} {}; the target runs {} {}.",
                        u.name, u.engine, u.engine_version, t.engine, t.engine_version
                    ),
                ));
                continue;
            }
            let rec = match rec {
                Some(r) if [WAITING, IN_PROGRESS, COMPLETE].contains(&r.status.as_str()) => {
                    out.push(Outcome::Processed {
                        replication_group_id: rg.clone(),
                        cache_cluster_id: cc.clone(),
                        status: r.status,
                    });
                    continue;
                }
                Some(r) if r.status == STOPPING => {
                    out.push(unprocessed(
                        "InvalidParameterValue",
                        format!("The update action of {} is stopping.", u.name),
                    ));
                    continue;
                }
                // Stopped: resume where it stopped.
                Some(mut r) => {
                    for n in r.nodes.iter_mut().filter(|n| n.status != COMPLETE) {
                        n.status = WAITING.to_owned();
                        n.initiated = Some(now);
                        n.modified = Some(now);
                    }
                    r.status = WAITING.to_owned();
                    r.modified = now;
                    r
                }
                None => UpdateActionRecord {
                    service_update: u.name.to_owned(),
                    replication_group_id: rg.clone(),
                    cache_cluster_id: cc.clone(),
                    status: WAITING.to_owned(),
                    modified: now,
                    nodes: t
                        .nodes
                        .iter()
                        .cloned()
                        .map(|mut n| {
                            n.status = WAITING.to_owned();
                            n.initiated = Some(now);
                            n.modified = Some(now);
                            n
                        })
                        .collect(),
                },
            };
            self.save_update_action(scope, &rec)?;
            let (kind, id) = source_of(&rec);
            self.event(
                scope,
                kind,
                &id,
                format!("Service update {} requested", u.name),
            );
            out.push(Outcome::Processed {
                replication_group_id: rg.clone(),
                cache_cluster_id: cc.clone(),
                status: rec.status,
            });
        }
        self.wake();
        Ok(out)
    }

    /// `BatchStopUpdateAction`: one outcome per target asked for.
    pub fn stop_update_action(
        &self,
        scope: &Scope,
        name: &str,
        rg_ids: &[String],
        cc_ids: &[String],
    ) -> Result<Vec<Outcome>> {
        let (u, asked) = batch_request(name, rg_ids, cc_ids)?;
        let now = Self::now();
        let targets = self.update_targets(scope);
        let mut out = Vec::new();
        for (rg, cc) in asked {
            let unprocessed = |error_type: &str, message: String| Outcome::Unprocessed {
                replication_group_id: rg.clone(),
                cache_cluster_id: cc.clone(),
                error_type: error_type.to_owned(),
                message,
            };
            if !targets
                .iter()
                .any(|t| t.replication_group_id == rg && t.cache_cluster_id == cc)
            {
                out.push(self.missing_target(scope, rg.as_deref(), cc.as_deref(), unprocessed));
                continue;
            }
            let Some(mut rec) =
                self.update_action_record(scope, u.name, rg.as_deref(), cc.as_deref())
            else {
                out.push(unprocessed(
                    "InvalidParameterValue",
                    format!("The update action of {} was not applied.", u.name),
                ));
                continue;
            };
            match rec.status.as_str() {
                WAITING | IN_PROGRESS => {
                    rec.status = STOPPING.to_owned();
                    rec.modified = now;
                    for n in rec.nodes.iter_mut() {
                        match n.status.as_str() {
                            IN_PROGRESS => n.status = STOPPING.to_owned(),
                            WAITING => n.status = STOPPED.to_owned(),
                            _ => continue,
                        }
                        n.modified = Some(now);
                    }
                    self.save_update_action(scope, &rec)?;
                    let (kind, id) = source_of(&rec);
                    self.event(
                        scope,
                        kind,
                        &id,
                        format!("Service update {} stop requested", u.name),
                    );
                }
                STOPPING | STOPPED => {}
                other => {
                    out.push(unprocessed(
                        "InvalidParameterValue",
                        format!(
                            "The update action of {} is {other}: nothing to stop.",
                            u.name
                        ),
                    ));
                    continue;
                }
            }
            out.push(Outcome::Processed {
                replication_group_id: rg.clone(),
                cache_cluster_id: cc.clone(),
                status: rec.status,
            });
        }
        self.wake();
        Ok(out)
    }

    /// Why a target asked for is not one: unknown, or a group's member.
    fn missing_target(
        &self,
        scope: &Scope,
        rg: Option<&str>,
        cc: Option<&str>,
        unprocessed: impl Fn(&str, String) -> Outcome,
    ) -> Outcome {
        if let Some(g) = rg {
            return unprocessed(
                "ReplicationGroupNotFoundFault",
                format!("Replication group {g} not found."),
            );
        }
        let c = cc.unwrap_or_default();
        let found = if c.starts_with(validate::INTERNAL_PREFIX) {
            Err(Error::invalid(String::new()))
        } else {
            self.find_cluster(scope, c)
        };
        match found {
            Ok(cl) => match cl.replication_group_id {
                Some(g) => unprocessed(
                    "InvalidParameterCombination",
                    format!(
                        "Cache cluster {c} is a member of replication group {g}: apply the update to the group."
                    ),
                ),
                None => unprocessed(
                    "InvalidCacheClusterState",
                    format!("Cache cluster {c} is being deleted."),
                ),
            },
            Err(_) => unprocessed(
                "CacheClusterNotFound",
                format!("Cache cluster {c} not found."),
            ),
        }
    }
}

/// The event source of an action: its group or its cluster.
#[must_use]
pub fn source_of(rec: &UpdateActionRecord) -> (&'static str, String) {
    match (&rec.replication_group_id, &rec.cache_cluster_id) {
        (Some(g), _) => ("replication-group", g.clone()),
        (None, Some(c)) => ("cache-cluster", c.clone()),
        (None, None) => ("cache-cluster", String::new()),
    }
}
