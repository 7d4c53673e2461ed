//! Events: every lifecycle change writes one, `DescribeEvents` reads them.
//! AWS keeps 14 days of events; so do we.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{ControlPlane, Result, Scope, State};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub source_id: String,
    /// `cache-cluster`, `cache-parameter-group`, `cache-subnet-group`, …
    pub source_type: String,
    pub message: String,
    pub date: DateTime<Utc>,
    pub seq: u64,
}

pub const RETENTION_DAYS: i64 = 14;

/// What `DescribeEvents` asks for.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    pub source_id: Option<String>,
    pub source_type: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Minutes back from now, when no start is given (AWS's default is 60).
    pub duration_minutes: Option<i64>,
}

/// An event numbered and dated, with the records that store it, not yet in
/// memory: stored in the transaction of the change it reports (one commit
/// for both), then shown with [`ControlPlane::show_event`].
pub(crate) struct StagedEvent {
    scope: Scope,
    ev: Event,
    id: String,
    bytes: Vec<u8>,
    /// Events past the retention, removed with this one.
    expired: Vec<String>,
    /// Events older than this are past the retention.
    cutoff: DateTime<Utc>,
}

impl StagedEvent {
    /// Its records, as [`ControlPlane::persist_all`] takes them: the event,
    /// and the removal of the events it outlives.
    pub(crate) fn items(&self) -> Vec<(&'static str, &str, Option<Vec<u8>>)> {
        let mut items = vec![("event", self.id.as_str(), Some(self.bytes.clone()))];
        items.extend(self.expired.iter().map(|id| ("event", id.as_str(), None)));
        items
    }
}

impl ControlPlane {
    /// Number and date an event under the lock `st` comes from (events
    /// stay in date and number order), for storing with a change.
    pub(crate) fn stage_event(
        st: &mut State,
        scope: &Scope,
        source_type: &str,
        source_id: &str,
        message: impl Into<String>,
    ) -> Result<StagedEvent> {
        st.event_seq += 1;
        let ev = Event {
            source_id: source_id.to_owned(),
            source_type: source_type.to_owned(),
            message: message.into(),
            date: Self::now(),
            seq: st.event_seq,
        };
        let cutoff = ev.date - Duration::days(RETENTION_DAYS);
        let region = st.region(scope);
        // Oldest first: what expired is a prefix (no scan of all events
        // for every new one).
        let expired = region.events.partition_point(|e| e.date < cutoff);
        Ok(StagedEvent {
            scope: scope.clone(),
            id: event_id(&ev),
            bytes: Self::encode(&ev)?,
            expired: region.events[..expired].iter().map(event_id).collect(),
            cutoff,
            ev,
        })
    }

    /// Show a staged event (`DescribeEvents`, the dashboard), under the
    /// same lock as it was staged (events of one hold are shown in the order
    /// they were staged), and drop from memory those it outlives.
    pub(crate) fn show_event(st: &mut State, staged: &StagedEvent) {
        let ev = &staged.ev;
        tracing::info!(source = %ev.source_id, kind = %ev.source_type, message = %ev.message, "event");
        let region = st.region(&staged.scope);
        region.events.push(ev.clone());
        let expired = region.events.partition_point(|e| e.date < staged.cutoff);
        region.events.drain(..expired);
    }

    /// Record an event and persist it (with the removal of the events past
    /// the retention, in one transaction).
    pub fn event(
        &self,
        scope: &Scope,
        source_type: &str,
        source_id: &str,
        message: impl Into<String>,
    ) {
        let staged = {
            let mut st = self.lock();
            let Ok(staged) = Self::stage_event(&mut st, scope, source_type, source_id, message)
            else {
                return;
            };
            Self::show_event(&mut st, &staged);
            staged
        };
        let _ = self.persist_all(scope, &staged.items());
    }

    /// One page of the events of one scope matching `q`, oldest first, the
    /// backend's internal sources left out: after the first `skip`, at most
    /// `size`; with the number of matching events. Only the page is cloned,
    /// and the time window is found by bisection (events are kept in date
    /// order): a describe costs the same whatever else is stored.
    pub fn events_page(
        &self,
        scope: &Scope,
        q: &EventQuery,
        skip: usize,
        size: usize,
    ) -> Result<(Vec<Event>, usize)> {
        if let Some(t) = &q.source_type {
            const TYPES: &[&str] = &[
                "cache-cluster",
                "cache-parameter-group",
                "cache-security-group",
                "cache-subnet-group",
                "replication-group",
                "serverless-cache",
                "serverless-cache-snapshot",
                "user",
                "user-group",
            ];
            if !TYPES.contains(&t.as_str()) {
                return Err(super::Error::invalid(format!("Invalid source type: {t}")));
            }
        }
        if q.source_id.is_some() && q.source_type.is_none() {
            return Err(super::Error::combination(
                "SourceType must be specified when SourceIdentifier is specified.",
            ));
        }
        let now = Self::now();
        let end = q.end.unwrap_or(now);
        let start = match (q.start, q.duration_minutes) {
            (Some(s), _) => s,
            (None, Some(d)) => end - Duration::minutes(d),
            (None, None) => end - Duration::minutes(60),
        };
        let st = self.lock();
        let Some(region) = st.regions.get(scope) else {
            return Ok((Vec::new(), 0));
        };
        let from = region.events.partition_point(|e| e.date < start);
        let to = region.events.partition_point(|e| e.date <= end).max(from);
        let matching = region.events[from..to]
            .iter()
            .filter(|e| q.source_type.as_ref().is_none_or(|t| &e.source_type == t))
            .filter(|e| q.source_id.as_ref().is_none_or(|s| &e.source_id == s))
            .filter(|e| !super::validate::is_internal(&e.source_id));
        Ok(super::page_of(matching, skip, size))
    }
}

impl ControlPlane {
    /// Every scope's events numbered after `seq`, oldest first, at most
    /// `limit` of them (the newest when there are more): the dashboard's feed.
    pub fn events_after(&self, seq: u64, limit: usize) -> Vec<(Scope, Event)> {
        let st = self.lock();
        let mut out: Vec<(Scope, Event)> = st
            .regions
            .iter()
            .flat_map(|(scope, r)| {
                r.events
                    .iter()
                    .filter(|e| e.seq > seq)
                    .map(|e| (scope.clone(), e.clone()))
            })
            .collect();
        out.sort_by_key(|(_, e)| e.seq);
        let skip = out.len().saturating_sub(limit);
        out.split_off(skip)
    }
}

fn event_id(e: &Event) -> String {
    format!("{:020}-{:012}", e.date.timestamp_millis(), e.seq)
}
