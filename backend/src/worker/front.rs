//! The front of a serverless cache's Redis/Valkey endpoints, as ElastiCache
//! Serverless has one: it ends the client's TLS (a certificate from the
//! backend's CA naming the endpoint addresses), speaks TLS on to the node, and
//! answers what a cluster-aware client asks of a cluster itself, so that the
//! cache looks like a cluster whose one shard owns all 16384 slots with the
//! `Endpoint` as its primary and the `ReaderEndpoint` as its replica:
//! `CLUSTER SLOTS`, `CLUSTER SHARDS`, `CLUSTER NODES`, `CLUSTER INFO`,
//! `CLUSTER MYID`, `CLUSTER MYSHARDID`, `CLUSTER KEYSLOT`, and `READONLY` /
//! `READWRITE` / `ASKING` (`OK`). Every other command goes to the node as sent.
//!
//! Replies keep their order without the front parsing the node's replies: an
//! answered command goes to the node as `ECHO <marker>` (a marker random per
//! connection, numbered), and the node's echo of the marker is replaced by the
//! answer on its way back. So an answer waits behind the replies of commands
//! sent before it, inside `MULTI` it is `QUEUED` like any command, and a client
//! that may not run commands yet (`NOAUTH`) gets the node's refusal.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio_rustls::TlsAcceptor;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The slots of a cluster.
const SLOTS: u16 = 16384;

/// A node as cluster clients see it: an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub host: String,
    pub port: u16,
    pub id: String,
}

/// What a serverless cache's endpoints present: the primary (`Endpoint`), the
/// replica (`ReaderEndpoint`), and which of them this endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub primary: Node,
    pub replica: Node,
    pub shard_id: String,
    pub me_primary: bool,
}

/// An endpoint's front: the TLS it ends and the cluster it presents.
pub struct Front {
    pub acceptor: TlsAcceptor,
    pub topology: Topology,
}

impl Front {
    /// A front whose certificate (from the backend's CA) names `names`.
    pub fn new(
        ca: &crate::tls::Authority,
        names: &[String],
        topology: Topology,
    ) -> anyhow::Result<Arc<Self>> {
        use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
        let issued = ca.issue(names)?;
        let certs = CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
            .chain(CertificateDer::pem_slice_iter(ca.ca_pem().as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(Arc::new(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            topology,
        }))
    }
}

/// A stable 40-hex node id from a seed (a cluster node id's shape).
#[must_use]
pub fn node_id(seed: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(seed.as_bytes());
    d.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

/// `CRC16` (XMODEM), the cluster's key hash.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of a key, hash tags (`{...}`) included.
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

/// A reply value, encoded as RESP2 or RESP3.
enum V {
    Int(i64),
    Bulk(String),
    Arr(Vec<V>),
    Map(Vec<(&'static str, V)>),
}

impl V {
    fn encode(&self, resp3: bool, out: &mut Vec<u8>) {
        match self {
            Self::Int(i) => out.extend_from_slice(format!(":{i}\r\n").as_bytes()),
            Self::Bulk(s) => {
                out.extend_from_slice(format!("${}\r\n", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Self::Arr(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for i in items {
                    i.encode(resp3, out);
                }
            }
            Self::Map(pairs) => {
                let head = if resp3 {
                    format!("%{}\r\n", pairs.len())
                } else {
                    format!("*{}\r\n", pairs.len() * 2)
                };
                out.extend_from_slice(head.as_bytes());
                for (k, v) in pairs {
                    Self::Bulk((*k).to_owned()).encode(resp3, out);
                    v.encode(resp3, out);
                }
            }
        }
    }

    fn bytes(&self, resp3: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(resp3, &mut out);
        out
    }
}

fn error(msg: &str) -> Vec<u8> {
    format!("-{msg}\r\n").into_bytes()
}

impl Topology {
    fn me(&self) -> &Node {
        if self.me_primary {
            &self.primary
        } else {
            &self.replica
        }
    }

    fn slots(&self) -> V {
        let node = |n: &Node| {
            V::Arr(vec![
                V::Bulk(n.host.clone()),
                V::Int(i64::from(n.port)),
                V::Bulk(n.id.clone()),
                V::Map(Vec::new()),
            ])
        };
        V::Arr(vec![V::Arr(vec![
            V::Int(0),
            V::Int(i64::from(SLOTS - 1)),
            node(&self.primary),
            node(&self.replica),
        ])])
    }

    fn shards(&self) -> V {
        let node = |n: &Node, role: &str| {
            V::Map(vec![
                ("id", V::Bulk(n.id.clone())),
                ("port", V::Int(i64::from(n.port))),
                ("tls-port", V::Int(i64::from(n.port))),
                ("ip", V::Bulk(n.host.clone())),
                ("endpoint", V::Bulk(n.host.clone())),
                ("hostname", V::Bulk(n.host.clone())),
                ("role", V::Bulk(role.to_owned())),
                ("replication-offset", V::Int(0)),
                ("health", V::Bulk("online".to_owned())),
            ])
        };
        V::Arr(vec![V::Map(vec![
            (
                "slots",
                V::Arr(vec![V::Int(0), V::Int(i64::from(SLOTS - 1))]),
            ),
            (
                "nodes",
                V::Arr(vec![
                    node(&self.primary, "master"),
                    node(&self.replica, "replica"),
                ]),
            ),
        ])])
    }

    fn nodes(&self) -> String {
        let line = |n: &Node, primary: bool| {
            let me = if primary == self.me_primary {
                "myself,"
            } else {
                ""
            };
            let (flags, of, slots) = if primary {
                ("master", "-".to_owned(), format!(" 0-{}", SLOTS - 1))
            } else {
                ("slave", self.primary.id.clone(), String::new())
            };
            format!(
                "{} {}:{}@{},{} {me}{flags} {of} 0 0 1 connected{slots}\n",
                n.id,
                n.host,
                n.port,
                u32::from(n.port) + 10000,
                n.host
            )
        };
        format!(
            "{}{}",
            line(&self.primary, true),
            line(&self.replica, false)
        )
    }

    fn info() -> String {
        [
            "cluster_enabled:1",
            "cluster_state:ok",
            "cluster_slots_assigned:16384",
            "cluster_slots_ok:16384",
            "cluster_slots_pfail:0",
            "cluster_slots_fail:0",
            "cluster_known_nodes:2",
            "cluster_size:1",
            "cluster_current_epoch:1",
            "cluster_my_epoch:1",
            "",
        ]
        .join("\r\n")
    }

    /// The front's own answer to a command, if it answers it.
    fn answer(&self, args: &[&[u8]], resp3: bool) -> Option<Vec<u8>> {
        let name = String::from_utf8_lossy(args.first()?).to_ascii_uppercase();
        match name.as_str() {
            "READONLY" | "READWRITE" | "ASKING" => Some(b"+OK\r\n".to_vec()),
            "CLUSTER" => {
                let sub = String::from_utf8_lossy(args.get(1)?).to_ascii_uppercase();
                let argc = args.len();
                Some(match (sub.as_str(), argc) {
                    ("SLOTS", 2) => self.slots().bytes(resp3),
                    ("SHARDS", 2) => self.shards().bytes(resp3),
                    ("NODES", 2) => V::Bulk(self.nodes()).bytes(resp3),
                    ("INFO", 2) => V::Bulk(Self::info()).bytes(resp3),
                    ("MYID", 2) => V::Bulk(self.me().id.clone()).bytes(resp3),
                    ("MYSHARDID", 2) => V::Bulk(self.shard_id.clone()).bytes(resp3),
                    ("KEYSLOT", 3) => V::Int(i64::from(key_slot(args[2]))).bytes(resp3),
                    (
                        "SLOTS" | "SHARDS" | "NODES" | "INFO" | "MYID" | "MYSHARDID" | "KEYSLOT",
                        _,
                    ) => error(&format!(
                        "ERR wrong number of arguments for 'cluster|{}' command",
                        sub.to_ascii_lowercase()
                    )),
                    _ => error(&format!(
                        "ERR CLUSTER {sub} is not supported on a serverless cache's endpoint"
                    )),
                })
            }
            _ => None,
        }
    }
}

/// One command at the start of `buf`: its length and its arguments' ranges.
enum Parsed {
    Incomplete,
    /// Not RESP as a client sends it: pass everything on as it comes.
    Garbled,
    Command(usize, Vec<(usize, usize)>),
}

fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn number(buf: &[u8], from: usize, to: usize) -> Option<i64> {
    std::str::from_utf8(&buf[from..to]).ok()?.parse().ok()
}

fn parse(buf: &[u8]) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    if first != b'*' {
        // An inline command: one line, arguments split on spaces.
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return if buf.len() > 64 * 1024 {
                Parsed::Garbled
            } else {
                Parsed::Incomplete
            };
        };
        let mut args = Vec::new();
        let mut start = None;
        for (i, &b) in buf[..nl].iter().enumerate() {
            let blank = b == b' ' || b == b'\t' || b == b'\r';
            match (start, blank) {
                (None, false) => start = Some(i),
                (Some(s), true) => {
                    args.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            args.push((s, nl));
        }
        return Parsed::Command(nl + 1, args);
    }
    let Some(end) = line_end(buf, 1) else {
        return Parsed::Incomplete;
    };
    let Some(n) = number(buf, 1, end) else {
        return Parsed::Garbled;
    };
    let mut pos = end + 2;
    let mut args = Vec::new();
    for _ in 0..n.max(0) {
        match buf.get(pos) {
            None => return Parsed::Incomplete,
            Some(b'$') => {}
            Some(_) => return Parsed::Garbled,
        }
        let Some(end) = line_end(buf, pos + 1) else {
            return Parsed::Incomplete;
        };
        let Some(len) = number(buf, pos + 1, end).and_then(|l| usize::try_from(l).ok()) else {
            return Parsed::Garbled;
        };
        let start = end + 2;
        if buf.len() < start + len + 2 {
            return Parsed::Incomplete;
        }
        args.push((start, start + len));
        pos = start + len + 2;
    }
    Parsed::Command(pos, args)
}

/// What the two directions of a connection share: the answers waiting for
/// their markers, by number, and the protocol the client chose (`HELLO`).
#[derive(Default)]
struct Shared {
    waiting: BTreeMap<u32, Vec<u8>>,
    resp3: bool,
}

/// The marker's fixed part, `$<len>\r\n<token>-`; a numbered marker adds
/// eight hex digits and `\r\n`.
struct Marker {
    token: String,
}

impl Marker {
    const SEQ: usize = 8;

    fn new() -> Self {
        Self {
            token: format!("elasticache-local-front-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn body_len(&self) -> usize {
        self.token.len() + 1 + Self::SEQ
    }

    fn prefix(&self) -> Vec<u8> {
        format!("${}\r\n{}-", self.body_len(), self.token).into_bytes()
    }

    fn frame_len(&self) -> usize {
        self.prefix().len() + Self::SEQ + 2
    }

    fn echo(&self, seq: u32) -> Vec<u8> {
        let body = format!("{}-{seq:08x}", self.token);
        format!("*2\r\n$4\r\nECHO\r\n${}\r\n{body}\r\n", body.len()).into_bytes()
    }
}

/// Relay one client connection (TLS already ended) to its node.
pub async fn relay<C, N>(client: C, node: N, topo: &Topology) -> std::io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    N: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut nr, mut nw) = tokio::io::split(node);
    let shared = Mutex::new(Shared::default());
    let marker = Marker::new();
    let up = async {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut out = Vec::new();
        let mut garbled = false;
        let mut seq: u32 = 0;
        loop {
            if cr.read_buf(&mut buf).await? == 0 {
                let _ = nw.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            let mut pos = 0;
            while !garbled && pos < buf.len() {
                match parse(&buf[pos..]) {
                    Parsed::Incomplete => break,
                    Parsed::Garbled => garbled = true,
                    Parsed::Command(len, ranges) => {
                        let frame = &buf[pos..pos + len];
                        let args: Vec<&[u8]> = ranges.iter().map(|&(a, b)| &frame[a..b]).collect();
                        let answer = {
                            let mut sh = shared
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            if args
                                .first()
                                .is_some_and(|a| a.eq_ignore_ascii_case(b"HELLO"))
                            {
                                match args.get(1).map(|v| &v[..]) {
                                    Some(b"3") => sh.resp3 = true,
                                    Some(b"2") => sh.resp3 = false,
                                    _ => {}
                                }
                            }
                            let answer = topo.answer(&args, sh.resp3);
                            if let Some(a) = &answer {
                                seq = seq.wrapping_add(1);
                                sh.waiting.insert(seq, a.clone());
                            }
                            answer.is_some()
                        };
                        if answer {
                            out.extend_from_slice(&marker.echo(seq));
                        } else {
                            out.extend_from_slice(frame);
                        }
                        pos += len;
                    }
                }
            }
            if garbled {
                out.extend_from_slice(&buf[pos..]);
                pos = buf.len();
            }
            buf.drain(..pos);
            if !out.is_empty() {
                nw.write_all(&out).await?;
                nw.flush().await?;
                out.clear();
            }
        }
    };
    let down = async {
        let prefix = marker.prefix();
        let frame_len = marker.frame_len();
        let mut hold: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut out = Vec::new();
        loop {
            if nr.read_buf(&mut hold).await? == 0 {
                let _ = cw.shutdown().await;
                return Ok::<(), std::io::Error>(());
            }
            let mut start = 0;
            loop {
                let mut sh = shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if sh.waiting.is_empty() {
                    out.extend_from_slice(&hold[start..]);
                    start = hold.len();
                    break;
                }
                let rest = &hold[start..];
                if let Some(i) = rest.windows(prefix.len()).position(|w| w == prefix) {
                    if rest.len() < i + frame_len {
                        out.extend_from_slice(&rest[..i]);
                        start += i;
                        break;
                    }
                    out.extend_from_slice(&rest[..i]);
                    let digits = &rest[i + prefix.len()..i + prefix.len() + Marker::SEQ];
                    let n = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| u32::from_str_radix(d, 16).ok());
                    match n.and_then(|n| sh.waiting.remove(&n).map(|a| (n, a))) {
                        Some((n, a)) => {
                            // Earlier answers whose echo the node refused are void.
                            sh.waiting.retain(|&k, _| k > n);
                            out.extend_from_slice(&a);
                        }
                        None => out.extend_from_slice(&rest[i..i + frame_len]),
                    }
                    start += i + frame_len;
                } else {
                    // Keep back what may be the start of a marker.
                    let keep = (1..prefix.len().min(rest.len() + 1))
                        .rev()
                        .find(|&k| rest.ends_with(&prefix[..k]))
                        .unwrap_or(0);
                    out.extend_from_slice(&rest[..rest.len() - keep]);
                    start = hold.len() - keep;
                    break;
                }
            }
            hold.drain(..start);
            if !out.is_empty() {
                cw.write_all(&out).await?;
                cw.flush().await?;
                out.clear();
            }
        }
    };
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        Topology {
            primary: Node {
                host: "127.0.0.9".into(),
                port: 6379,
                id: node_id("p"),
            },
            replica: Node {
                host: "127.0.0.10".into(),
                port: 6379,
                id: node_id("r"),
            },
            shard_id: node_id("s"),
            me_primary: true,
        }
    }

    #[test]
    fn slots_of_keys() {
        // Values from the cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
    }

    #[test]
    fn parses_commands() {
        let Parsed::Command(len, args) = parse(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n*1") else {
            panic!("a command");
        };
        assert_eq!(len, 28);
        assert_eq!(args.len(), 2);
        assert!(matches!(
            parse(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLO"),
            Parsed::Incomplete
        ));
        let Parsed::Command(len, args) = parse(b"cluster  slots\r\nPING") else {
            panic!("inline");
        };
        assert_eq!((len, args), (16, vec![(0, 7), (9, 14)]));
    }

    #[tokio::test]
    async fn answers_in_order_through_a_node() {
        use tokio::io::duplex;
        // The "node": answers PING with +PONG and ECHO with its argument.
        let (client, front_side) = duplex(1 << 16);
        let (node_side, mut node) = duplex(1 << 16);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                let n = node.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Parsed::Command(len, ranges) = parse(&buf) {
                    let args: Vec<Vec<u8>> =
                        ranges.iter().map(|&(a, b)| buf[a..b].to_vec()).collect();
                    let reply = if args[0].eq_ignore_ascii_case(b"ECHO") {
                        let mut r = format!("${}\r\n", args[1].len()).into_bytes();
                        r.extend_from_slice(&args[1]);
                        r.extend_from_slice(b"\r\n");
                        r
                    } else {
                        b"+PONG\r\n".to_vec()
                    };
                    // One byte at a time: markers arrive split.
                    for b in reply {
                        node.write_all(&[b]).await.unwrap();
                    }
                    buf.drain(..len);
                }
            }
        });
        let t = topo();
        tokio::spawn(async move {
            let _ = relay(front_side, node_side, &t).await;
        });
        let (mut r, mut w) = tokio::io::split(client);
        w.write_all(b"PING\r\n*1\r\n$8\r\nREADONLY\r\n*1\r\n$4\r\nPING\r\n*3\r\n$7\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n$3\r\nfoo\r\n")
            .await
            .unwrap();
        let want = b"+PONG\r\n+OK\r\n+PONG\r\n:12182\r\n";
        let mut got = vec![0u8; want.len()];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
        w.write_all(b"CLUSTER SLOTS\r\n").await.unwrap();
        let want = topo().slots().bytes(false);
        let mut got = vec![0u8; want.len()];
        r.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want);
    }
}
