//! A serverless Memcached cache's snapshot: a dump of every item of its node
//! (key, flags, expiry, value), and its load into a new node.
//!
//! Dump: `lru_crawler metadump all` lists the keys, then `mg <key> v f t`
//! reads each item's value, flags and remaining time to live (an item that
//! expires or is evicted in between is left out, as it would be a moment
//! later). The file is text headers and raw values:
//!
//! ```text
//! elasticache-local memcached dump 1\n
//! <key> <flags> <expires-at, unix seconds; 0: never> <bytes>\r\n<value>\r\n
//! ...
//! ```
//!
//! Load: `set` each item with what remains of its time to live (an absolute
//! time when more than 30 days remain, as memcached reads an expiry); items
//! that expired since the dump are not set.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::engine::resp;

const HEADER: &[u8] = b"elasticache-local memcached dump 1\n";
/// Items read or written per round trip.
const BATCH: usize = 200;
/// Memcached reads an expiry above this many seconds as a unix time.
const RELATIVE_MAX: i64 = 60 * 60 * 24 * 30;

/// One item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub flags: u32,
    /// Unix seconds; 0: never.
    pub expires: i64,
    pub value: Vec<u8>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `%xx` decoding of a key as `metadump` prints it.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<String> {
    let mut l = String::new();
    if r.read_line(&mut l).await? == 0 {
        bail!("memcached closed the connection");
    }
    Ok(l.trim_end_matches(['\r', '\n']).to_owned())
}

/// Every item of the node at `host:port`.
pub async fn dump(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<Vec<Item>> {
    let mut s = BufReader::new(resp::open(host, port, tls).await?);
    // The keys (the crawler may be busy with another request for a moment).
    let mut keys = Vec::new();
    let mut tries = 0;
    'crawl: loop {
        s.get_mut()
            .write_all(b"lru_crawler metadump all\r\n")
            .await?;
        loop {
            let l = line(&mut s).await?;
            if l == "END" {
                break 'crawl;
            }
            if l.starts_with("BUSY") && tries < 50 {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue 'crawl;
            }
            if l.starts_with("ERROR") || l.starts_with("CLIENT_ERROR") || l.starts_with("BUSY") {
                bail!("lru_crawler metadump: {l}");
            }
            if let Some(k) = l
                .split(' ')
                .find_map(|f| f.strip_prefix("key="))
                .map(unescape)
            {
                keys.push(k);
            }
        }
    }
    let mut items = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH) {
        let mut req = Vec::new();
        for k in chunk {
            req.extend_from_slice(format!("mg {k} v f t\r\n").as_bytes());
        }
        s.get_mut().write_all(&req).await?;
        let at = now();
        for k in chunk {
            let head = line(&mut s).await?;
            let mut f = head.split(' ');
            match f.next() {
                Some("EN") => continue,
                Some("VA") => {}
                _ => bail!("mg {k}: {head}"),
            }
            let len: usize = f
                .next()
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("mg {k}: {head}"))?;
            let (mut flags, mut ttl) = (0u32, -1i64);
            for x in f {
                if let Some(v) = x.strip_prefix('f') {
                    flags = v.parse().unwrap_or(0);
                } else if let Some(v) = x.strip_prefix('t') {
                    ttl = v.parse().unwrap_or(-1);
                }
            }
            let mut value = vec![0u8; len + 2];
            s.read_exact(&mut value).await?;
            value.truncate(len);
            items.push(Item {
                key: k.clone(),
                flags,
                expires: if ttl < 0 { 0 } else { at + ttl.max(1) },
                value,
            });
        }
    }
    Ok(items)
}

/// The dump file of `items`.
#[must_use]
pub fn encode(items: &[Item]) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    for i in items {
        out.extend_from_slice(
            format!("{} {} {} {}\r\n", i.key, i.flags, i.expires, i.value.len()).as_bytes(),
        );
        out.extend_from_slice(&i.value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The items of a dump file.
pub fn decode(data: &[u8]) -> anyhow::Result<Vec<Item>> {
    let Some(mut rest) = data.strip_prefix(HEADER) else {
        bail!("not a memcached dump of elasticache-local");
    };
    let mut items = Vec::new();
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a truncated dump")?;
        let head = std::str::from_utf8(&rest[..end]).context("a dump header")?;
        let f: Vec<&str> = head.split(' ').collect();
        let [key, flags, expires, len] = f[..] else {
            bail!("a dump header: {head}");
        };
        let len: usize = len.parse()?;
        let start = end + 2;
        if rest.len() < start + len + 2 {
            bail!("a truncated dump");
        }
        items.push(Item {
            key: key.to_owned(),
            flags: flags.parse()?,
            expires: expires.parse()?,
            value: rest[start..start + len].to_vec(),
        });
        rest = &rest[start + len + 2..];
    }
    Ok(items)
}

/// How often a load's progress is logged while it lasts.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Set `items` on the node at `host:port` (`node`, for the log: how far the load
/// is, every `PROGRESS_EVERY` while it lasts); how many were set (those that
/// expired since the dump are not).
pub async fn load(
    host: Ipv4Addr,
    port: u16,
    tls: bool,
    items: &[Item],
    node: &str,
) -> anyhow::Result<usize> {
    let mut s = BufReader::new(resp::open(host, port, tls).await?);
    let at = now();
    let live: Vec<(&Item, i64)> = items
        .iter()
        .filter_map(|i| {
            if i.expires == 0 {
                return Some((i, 0));
            }
            let left = i.expires - at;
            if left <= 0 {
                None
            } else if left > RELATIVE_MAX {
                Some((i, i.expires))
            } else {
                Some((i, left))
            }
        })
        .collect();
    let mut logged = Instant::now();
    for (n, chunk) in live.chunks(BATCH).enumerate() {
        if logged.elapsed() >= PROGRESS_EVERY {
            logged = Instant::now();
            let done = n * BATCH;
            tracing::info!(
                node,
                items = done,
                of = live.len(),
                "restoring a snapshot: {}% of the Memcached dump's items loaded",
                done * 100 / live.len()
            );
        }
        let mut req = Vec::new();
        for (i, exp) in chunk {
            req.extend_from_slice(
                format!("set {} {} {exp} {}\r\n", i.key, i.flags, i.value.len()).as_bytes(),
            );
            req.extend_from_slice(&i.value);
            req.extend_from_slice(b"\r\n");
        }
        s.get_mut().write_all(&req).await?;
        for (i, _) in chunk {
            let r = line(&mut s).await?;
            if r != "STORED" {
                bail!("set {}: {r}", i.key);
            }
        }
    }
    Ok(live.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_files_round_trip() {
        let items = vec![
            Item {
                key: "a".into(),
                flags: 5,
                expires: 0,
                value: b"one\r\ntwo".to_vec(),
            },
            Item {
                key: "b".into(),
                flags: 0,
                expires: 1_900_000_000,
                value: Vec::new(),
            },
        ];
        assert_eq!(decode(&encode(&items)).unwrap(), items);
        assert!(decode(b"nope").is_err());
        assert_eq!(unescape("a%20b%2"), "a b%2");
    }
}
