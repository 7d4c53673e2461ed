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

/// A record of this build's layout, decoded straight into its type.
#[derive(Deserialize)]
struct Current<T> {
    v: u32,
    data: T,
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

/// A stored record as `T`. A record of this build's version decodes in one
/// pass, straight into `T`: every record is decoded before the API answers,
/// and the detour through a `serde_json::Value` was most of a start's time
/// with 10,000 records. Anything else (another version, a record that does
/// not decode) takes the general way below, which migrates or says why.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    match serde_json::from_slice::<Current<T>>(bytes) {
        Ok(rec) if rec.v == RECORD_VERSION => Ok(rec.data),
        _ => decode_checked(bytes),
    }
}

/// The version checked before the data is read as `T`.
fn decode_checked<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
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
                r.put_snapshot(decode(&bytes)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tag;

    /// The one-pass decode gives what the general way gives, and a newer
    /// version or a record that does not decode is refused as before.
    #[test]
    fn records_decode_in_one_pass_as_through_a_value() {
        let tags = vec![Tag {
            key: "k\"é".into(),
            value: "v".into(),
        }];
        let bytes = encode(&tags).unwrap();
        let fast: Vec<Tag> = decode(&bytes).unwrap();
        let general: Vec<Tag> = decode_checked(&bytes).unwrap();
        assert_eq!(fast, tags);
        assert_eq!(general, tags);
        // Fields in another order, an older version: the same record.
        let older = br#"{"data":[{"value":"v","key":"k"}],"v":0}"#;
        let t: Vec<Tag> = decode(older).unwrap();
        assert_eq!(
            t,
            vec![Tag {
                key: "k".into(),
                value: "v".into()
            }]
        );
        let newer = br#"{"v":2,"data":[{"key":"k","value":"v"}]}"#;
        let e = decode::<Vec<Tag>>(newer).unwrap_err().to_string();
        assert!(
            e.contains("record version 2 is newer than this build's 1"),
            "{e}"
        );
        let newer_other = br#"{"v":2,"data":{"another":"layout"}}"#;
        let e = decode::<Vec<Tag>>(newer_other).unwrap_err().to_string();
        assert!(e.contains("record version 2 is newer"), "{e}");
        assert!(decode::<Vec<Tag>>(br#"{"v":1,"data":{"key":1}}"#).is_err());
        assert!(decode::<Vec<Tag>>(b"not json").is_err());
    }
}
