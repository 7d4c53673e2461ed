//! Events: every lifecycle change writes one, `DescribeEvents` reads them.
//! AWS keeps 14 days of events; so do we, in the store. Memory holds the
//! newest [`IN_MEMORY`] of each region (what describes and the dashboard read
//! most); a window reaching further back reads the older ones from the store,
//! so a long-running backend's memory does not grow with its history.

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

/// Events of one region kept in memory, the newest.
pub const IN_MEMORY: usize = 5_000;

/// At most this many stored events past the retention are removed with one
/// new event (the rest with the next ones).
const EXPIRE_BATCH: usize = 256;

/// Stored events a describe reads at a time.
const STORE_BATCH: usize = 256;

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
    /// When stored events past the retention were looked up: the date of
    /// the oldest stored event not in memory after their removal.
    older: Option<Option<DateTime<Utc>>>,
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
        &self,
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
        let mut expired: Vec<String> = region.events[..expired].iter().map(event_id).collect();
        // Stored events older than memory's, past the retention: looked up
        // in the store (only while there are any).
        let mut older = None;
        if region.older_events.is_some_and(|d| d < cutoff) {
            let (from, to) = (event_key(scope, ""), event_key(scope, &millis(cutoff)));
            let found = self
                .store
                .range(&from, &to, EXPIRE_BATCH)
                .map_err(super::Error::storage)?;
            let ids: Vec<String> = found.iter().filter_map(|(k, _)| id_of(k)).collect();
            older = Some(if ids.len() == EXPIRE_BATCH {
                ids.last().and_then(|id| date_of(id))
            } else {
                let front = region.events.first().map(event_id);
                let next = self
                    .store
                    .range(&to, &event_key(scope, "~"), 1)
                    .map_err(super::Error::storage)?;
                next.first()
                    .and_then(|(k, _)| id_of(k))
                    .filter(|id| front.as_ref().is_none_or(|f| id < f))
                    .and_then(|id| date_of(&id))
            });
            expired.extend(ids);
        }
        Ok(StagedEvent {
            scope: scope.clone(),
            id: event_id(&ev),
            bytes: Self::encode(&ev)?,
            expired,
            cutoff,
            older,
            ev,
        })
    }

    /// Show a staged event (`DescribeEvents`, the dashboard), under the
    /// same lock as it was staged (events of one hold are shown in the order
    /// they were staged), and drop from memory those it outlives and those
    /// past the newest [`IN_MEMORY`].
    pub(crate) fn show_event(st: &mut State, staged: &StagedEvent) {
        let ev = &staged.ev;
        tracing::info!(source = %ev.source_id, kind = %ev.source_type, message = %ev.message, "event");
        let region = st.region(&staged.scope);
        if let Some(older) = staged.older {
            region.older_events = older;
        }
        region.events.push(ev.clone());
        let expired = region.events.partition_point(|e| e.date < staged.cutoff);
        region.events.drain(..expired);
        let over = region.events.len().saturating_sub(IN_MEMORY);
        if over > 0 {
            if region.older_events.is_none() {
                region.older_events = Some(region.events[0].date);
            }
            region.events.drain(..over);
        }
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
            let Ok(staged) = self.stage_event(&mut st, scope, source_type, source_id, message)
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
    /// `size`; with the number of matching events, counted up to one past the
    /// page. Only the page is cloned, and the time window is found by
    /// bisection (events are kept in date order): a describe costs the same
    /// whatever else is stored.
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
        let wanted = |e: &Event| {
            q.source_type.as_ref().is_none_or(|t| &e.source_type == t)
                && q.source_id.as_ref().is_none_or(|s| &e.source_id == s)
                && !super::validate::is_internal(&e.source_id)
        };
        // Older than memory's: from the store (a window reaching back past
        // the newest IN_MEMORY events of a busy region), read in batches and
        // only as far as the page needs (as `page_of` counts: one past it).
        let front = region.events.first();
        let mut stored = Vec::new();
        if region.older_events.is_some_and(|d| d <= end) && front.is_none_or(|f| start < f.date) {
            let to =
                front.map_or_else(|| event_key(scope, "~"), |f| event_key(scope, &event_id(f)));
            let need = skip.saturating_add(size).saturating_add(1);
            let mut from = event_key(scope, &millis(start));
            'read: loop {
                let batch = self
                    .store
                    .range(&from, &to, STORE_BATCH)
                    .map_err(super::Error::storage)?;
                let full = batch.len() == STORE_BATCH;
                for (key, bytes) in batch {
                    let ev: Event = super::record::decode(&bytes).map_err(super::Error::storage)?;
                    if ev.date >= start && ev.date <= end && wanted(&ev) {
                        stored.push(ev);
                        if stored.len() >= need {
                            break 'read;
                        }
                    }
                    // The next key after this one.
                    from = key + "\0";
                }
                if !full {
                    break;
                }
            }
        }
        let from = region.events.partition_point(|e| e.date < start);
        let to = region.events.partition_point(|e| e.date <= end).max(from);
        let matching = stored
            .iter()
            .chain(region.events[from..to].iter().filter(|e| wanted(e)));
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
    format!("{}-{:012}", millis(e.date), e.seq)
}

/// A date as the start of event ids: ids sort by date.
fn millis(d: DateTime<Utc>) -> String {
    format!("{:020}", d.timestamp_millis())
}

/// The store key of the event `id` of `scope` (or of where ids starting
/// with `id` begin).
fn event_key(scope: &Scope, id: &str) -> String {
    super::record::key("event", scope, id)
}

/// The event id of a store key.
fn id_of(key: &str) -> Option<String> {
    key.splitn(4, '/').nth(3).map(str::to_owned)
}

/// The date an event id begins with (to the millisecond).
pub(crate) fn date_of(id: &str) -> Option<DateTime<Utc>> {
    let ms = id.split_once('-')?.0.parse().ok()?;
    DateTime::from_timestamp_millis(ms)
}

/// The number an event id ends with.
pub(crate) fn seq_of(id: &str) -> Option<u64> {
    id.split_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{MemoryStore, Store};

    fn load(dir: &std::path::Path, store: Arc<MemoryStore>) -> ControlPlane {
        crate::model::test_support::control_plane_on(dir, store)
    }

    fn stored(store: &MemoryStore, scope: &Scope, date: DateTime<Utc>, seq: u64) {
        let ev = Event {
            source_id: format!("c{seq}"),
            source_type: "cache-cluster".into(),
            message: format!("Cache cluster c{seq} created"),
            date,
            seq,
        };
        let key = event_key(scope, &event_id(&ev));
        store
            .put(&key, &super::super::record::encode(&ev).unwrap())
            .unwrap();
    }

    fn all(cp: &ControlPlane, scope: &Scope, minutes: i64) -> (Vec<u64>, usize) {
        let q = EventQuery {
            duration_minutes: Some(minutes),
            ..EventQuery::default()
        };
        let (page, total) = cp.events_page(scope, &q, 0, usize::MAX).unwrap();
        (page.iter().map(|e| e.seq).collect(), total)
    }

    /// Issue 17 (soak): memory holds the newest events of a region; older
    /// ones are read from the store for a window that reaches them, and
    /// those past the retention leave the store as new ones come.
    #[test]
    fn older_events_stay_in_the_store_and_expire_there() {
        let dir = tempfile::tempdir().unwrap();
        let scope = Scope::new("000000000000", "us-east-1");
        let store = Arc::new(MemoryStore::default());
        let now = ControlPlane::now();
        // 10 past the retention, then IN_MEMORY + 300 within the last day.
        for seq in 1..=10 {
            stored(
                &store,
                &scope,
                now - Duration::days(RETENTION_DAYS + 1),
                seq,
            );
        }
        let n = IN_MEMORY as u64 + 300;
        for seq in 11..=10 + n {
            let back = Duration::milliseconds(((10 + n - seq) * 10) as i64 + 1000);
            stored(&store, &scope, now - back, seq);
        }
        let cp = load(dir.path(), store.clone());
        {
            let st = cp.lock();
            let r = &st.regions[&scope];
            assert_eq!(r.events.len(), IN_MEMORY);
            assert_eq!(r.events[0].seq, 311);
            assert!(r.older_events.is_some());
        }
        // A day back: 300 from the store, then memory's, in order.
        let (seqs, total) = all(&cp, &scope, 24 * 60);
        assert_eq!(total, n as usize);
        assert_eq!(seqs, (11..=10 + n).collect::<Vec<_>>());
        // A page across the two reads only as far as it needs.
        let q = EventQuery {
            duration_minutes: Some(24 * 60),
            ..EventQuery::default()
        };
        let (page, counted) = cp.events_page(&scope, &q, 295, 10).unwrap();
        let seqs_of = |p: &[Event]| p.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs_of(&page), (306..316).collect::<Vec<_>>());
        assert_eq!(counted, 306);
        let (page, counted) = cp.events_page(&scope, &q, 0, 100).unwrap();
        assert_eq!(seqs_of(&page), (11..111).collect::<Vec<_>>());
        assert_eq!(counted, 101);
        // A new event removes the 10 past the retention from the store.
        cp.event(&scope, "cache-cluster", "new", "Cache cluster new created");
        let left = store
            .range(&event_key(&scope, ""), &event_key(&scope, "~"), usize::MAX)
            .unwrap();
        assert_eq!(left.len(), n as usize + 1);
        let (seqs, _) = all(&cp, &scope, 15 * 24 * 60);
        assert_eq!(seqs.len(), n as usize + 1);
        assert_eq!(seqs[0], 11);
        {
            let st = cp.lock();
            let r = &st.regions[&scope];
            assert_eq!(r.events.len(), IN_MEMORY);
            assert_eq!(r.events.last().unwrap().seq, 11 + n);
        }
        // After a restart, the same answer.
        drop(cp);
        let cp = load(dir.path(), store);
        let (seqs2, _) = all(&cp, &scope, 15 * 24 * 60);
        assert_eq!(seqs2, seqs);
    }
}
