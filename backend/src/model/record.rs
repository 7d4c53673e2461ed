//! Persisted records: JSON inside a versioned envelope, keyed `kind/account/region/id`.
//!
//! Every record carries `v`, the version of its layout. A later release that
//! changes a record adds a `migrate_<kind>` step from the old `v` to the new one
//! here, and `load_state` applies it while loading.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{Scope, State};
use crate::store::Store;

pub const RECORD_VERSION: u32 = 1;

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u32,
    data: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    v: u32,
    data: serde_json::Value,
}

#[must_use]
pub fn key(kind: &str, scope: &Scope, id: &str) -> String {
    format!("{kind}/{}/{}/{id}", scope.account, scope.region)
}

pub fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&EnvelopeOut {
        v: RECORD_VERSION,
        data: value,
    })?)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    let env: EnvelopeIn = serde_json::from_slice(bytes)?;
    if env.v > RECORD_VERSION {
        anyhow::bail!(
            "record version {} is newer than this build's {RECORD_VERSION}",
            env.v
        );
    }
    // v1 is the first layout: nothing to migrate yet.
    Ok(serde_json::from_value(env.data)?)
}

/// Build the in-memory state from every stored record.
pub fn load_state(store: &dyn Store) -> anyhow::Result<State> {
    let mut state = State::default();
    // Events by scope, in key (date) order: only the newest are decoded.
    let mut events: std::collections::BTreeMap<Scope, Vec<(String, Vec<u8>)>> =
        std::collections::BTreeMap::new();
    for (k, bytes) in store.load_all()? {
        let mut parts = k.splitn(4, '/');
        let (Some(kind), Some(account), Some(region), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            tracing::warn!(key = %k, "skipping malformed record key");
            continue;
        };
        let scope = Scope::new(account, region);
        let r = state.region(&scope);
        match kind {
            "cluster" => {
                r.clusters.insert(id.to_owned(), decode(&bytes)?);
            }
            "replicationgroup" => {
                r.replication_groups.insert(id.to_owned(), decode(&bytes)?);
            }
            "parametergroup" => {
                r.parameter_groups.insert(id.to_owned(), decode(&bytes)?);
            }
            "subnetgroup" => {
                r.subnet_groups.insert(id.to_owned(), decode(&bytes)?);
            }
            "snapshot" => {
                r.snapshots.insert(id.to_owned(), decode(&bytes)?);
            }
            "user" => {
                r.users.insert(id.to_owned(), decode(&bytes)?);
            }
            "usergroup" => {
                r.user_groups.insert(id.to_owned(), decode(&bytes)?);
            }
            "reservednode" => {
                r.reserved_nodes.insert(id.to_owned(), decode(&bytes)?);
            }
            "updateaction" => {
                r.update_actions.insert(id.to_owned(), decode(&bytes)?);
            }
            "serverlesscache" => {
                r.serverless_caches.insert(id.to_owned(), decode(&bytes)?);
            }
            "globalreplicationgroup" => {
                r.global_replication_groups
                    .insert(id.to_owned(), decode(&bytes)?);
            }
            "event" => events
                .entry(scope)
                .or_default()
                .push((id.to_owned(), bytes)),
            "defaulttags" => {
                r.default_tags.insert(id.to_owned(), decode(&bytes)?);
            }
            other => tracing::warn!(kind = other, "skipping record of unknown kind"),
        }
    }
    let mut seq = 0;
    for (scope, stored) in events {
        seq = seq.max(
            stored
                .iter()
                .filter_map(|(id, _)| super::events::seq_of(id))
                .max()
                .unwrap_or(0),
        );
        let r = state.region(&scope);
        let keep = stored.len().saturating_sub(super::events::IN_MEMORY);
        r.older_events = stored
            .first()
            .filter(|_| keep > 0)
            .and_then(|(id, _)| super::events::date_of(id));
        for (_, bytes) in &stored[keep..] {
            r.events.push(decode(bytes)?);
        }
        r.events
            .sort_by(|a, b| a.date.cmp(&b.date).then(a.seq.cmp(&b.seq)));
        seq = seq.max(r.events.iter().map(|e| e.seq).max().unwrap_or(0));
    }
    state.event_seq = seq;
    Ok(state)
}
