//! Live figures of one running node, read from its engine for the dashboard and
//! the introspection API (`/_elasticache/...`): Redis/Valkey `INFO` as the
//! backend's admin user, Memcached `stats`. Below the passes, as `node` is; it
//! only reads.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::engine::{resp, EngineKind};

/// How long one node may take to answer before it is shown as not answering.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What one node's engine says about itself right now.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Whether the engine answered.
    pub answering: bool,
    /// Commands per second (Redis `instantaneous_ops_per_sec`; Memcached: the
    /// rate of `cmd_get + cmd_set` since the previous reading).
    pub ops_per_sec: Option<f64>,
    pub used_memory_bytes: Option<u64>,
    /// The memory limit (`maxmemory`, Memcached `limit_maxbytes`); 0 is none.
    pub maxmemory_bytes: Option<u64>,
    pub clients: Option<u64>,
    /// Keys in every database (Memcached: items).
    pub keys: Option<u64>,
    /// The role the engine itself reports: `master` or `slave` (Redis words).
    pub engine_role: Option<String>,
    /// A replica's link to its primary: `up` or `down`.
    pub link_status: Option<String>,
    /// Seconds since the replica last heard from its primary.
    pub link_last_io_seconds: Option<u64>,
    /// Replication offset: a primary's `master_repl_offset`, a replica's
    /// `slave_repl_offset` (the lag is the difference).
    pub repl_offset: Option<u64>,
    /// The primary a replica follows, `host:port`.
    pub primary_address: Option<String>,
    pub uptime_seconds: Option<u64>,
}

/// Read the figures of the node at `host:port`; a node that does not answer
/// gives `answering: false` and nothing else.
pub async fn read(engine: EngineKind, host: Ipv4Addr, port: u16, tls: bool) -> Figures {
    let got = tokio::time::timeout(TIMEOUT, async {
        match engine {
            EngineKind::Memcached => memcached(host, port, tls).await,
            EngineKind::Redis | EngineKind::Valkey => redis(host, port, tls).await,
        }
    })
    .await;
    match got {
        Ok(Ok(f)) => f,
        _ => Figures::default(),
    }
}

async fn redis(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<Figures> {
    let mut conn = super::node::connect(host, port, tls).await?;
    let text = conn
        .cmd(&["INFO"])
        .await?
        .as_text()
        .ok_or_else(|| anyhow::anyhow!("INFO gave no text"))?;
    Ok(from_info(&text))
}

/// Figures from a Redis/Valkey `INFO` reply.
#[must_use]
pub fn from_info(text: &str) -> Figures {
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect();
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<u64>().ok());
    let keys = fields
        .iter()
        .filter(|(k, _)| k.starts_with("db") && k[2..].chars().all(|c| c.is_ascii_digit()))
        .filter_map(|(_, v)| {
            v.split(',')
                .find_map(|kv| kv.strip_prefix("keys="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum();
    let role = fields.get("role").map(|s| (*s).to_owned());
    let replica = role.as_deref() == Some("slave");
    Figures {
        answering: true,
        ops_per_sec: fields
            .get("instantaneous_ops_per_sec")
            .and_then(|v| v.parse().ok()),
        used_memory_bytes: num("used_memory"),
        maxmemory_bytes: num("maxmemory"),
        clients: num("connected_clients"),
        keys: Some(keys),
        link_status: replica
            .then(|| fields.get("master_link_status").map(|s| (*s).to_owned()))
            .flatten(),
        link_last_io_seconds: if replica {
            num("master_last_io_seconds_ago")
        } else {
            None
        },
        repl_offset: if replica {
            num("slave_repl_offset")
        } else {
            num("master_repl_offset")
        },
        primary_address: if replica {
            match (fields.get("master_host"), fields.get("master_port")) {
                (Some(h), Some(p)) => Some(format!("{h}:{p}")),
                _ => None,
            }
        } else {
            None
        },
        uptime_seconds: num("uptime_in_seconds"),
        engine_role: role,
    }
}

/// The previous `cmd_get + cmd_set` of each Memcached node, for its rate.
type OpsSeen = HashMap<(Ipv4Addr, u16), (Instant, u64)>;
static MEMCACHED_OPS: Mutex<Option<OpsSeen>> = Mutex::new(None);

async fn memcached(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<Figures> {
    let stats = resp::memcached_stats(host, port, tls).await?;
    let num = |k: &str| {
        stats
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let ops = num("cmd_get").unwrap_or(0) + num("cmd_set").unwrap_or(0);
    let now = Instant::now();
    let rate = {
        let mut seen = MEMCACHED_OPS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let prev = seen
            .get_or_insert_with(HashMap::new)
            .insert((host, port), (now, ops));
        prev.and_then(|(t, n)| {
            let secs = now.duration_since(t).as_secs_f64();
            #[allow(clippy::cast_precision_loss)]
            (secs > 0.0 && ops >= n).then(|| ((ops - n) as f64 / secs * 10.0).round() / 10.0)
        })
    };
    Ok(Figures {
        answering: true,
        ops_per_sec: Some(rate.unwrap_or(0.0)),
        used_memory_bytes: num("bytes"),
        maxmemory_bytes: num("limit_maxbytes"),
        clients: num("curr_connections"),
        keys: num("curr_items"),
        uptime_seconds: num("uptime"),
        ..Figures::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_of_a_replica() {
        let info = "# Server\r\nuptime_in_seconds:42\r\n# Clients\r\nconnected_clients:3\r\n\
            # Memory\r\nused_memory:1048576\r\nmaxmemory:536870912\r\n# Stats\r\n\
            instantaneous_ops_per_sec:17\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.9\r\n\
            master_port:6379\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:1\r\n\
            slave_repl_offset:1200\r\nmaster_repl_offset:1200\r\n# Keyspace\r\n\
            db0:keys=5,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=1,avg_ttl=9\r\n";
        let f = from_info(info);
        assert!(f.answering);
        assert_eq!(f.ops_per_sec, Some(17.0));
        assert_eq!(f.used_memory_bytes, Some(1_048_576));
        assert_eq!(f.maxmemory_bytes, Some(536_870_912));
        assert_eq!(f.clients, Some(3));
        assert_eq!(f.keys, Some(7));
        assert_eq!(f.engine_role.as_deref(), Some("slave"));
        assert_eq!(f.link_status.as_deref(), Some("up"));
        assert_eq!(f.link_last_io_seconds, Some(1));
        assert_eq!(f.repl_offset, Some(1200));
        assert_eq!(f.primary_address.as_deref(), Some("127.0.0.9:6379"));
    }

    #[test]
    fn info_of_a_primary_has_no_link() {
        let f = from_info("role:master\r\nmaster_repl_offset:99\r\n");
        assert_eq!(f.engine_role.as_deref(), Some("master"));
        assert_eq!(f.link_status, None);
        assert_eq!(f.repl_offset, Some(99));
        assert_eq!(f.keys, Some(0));
    }
}
