//! The front of an endpoint that presents engines as a Redis Cluster.
//!
//! Two users: a serverless cache's Redis/Valkey endpoints, as ElastiCache
//! Serverless has them (the front ends the client's TLS with a certificate
//! from the backend's CA naming the endpoint addresses and speaks TLS on to
//! the node; the cache looks like a cluster whose one shard owns all 16384
//! slots with the `Endpoint` as its primary and the `ReaderEndpoint` as its
//! replica), and every node of a replication group whose cluster mode is
//! served by fronts (a cluster-mode secondary of a global datastore, see
//! `worker/fronted.rs`: its engines run with cluster mode off, each shard a
//! primary and replicas, and the front at each node's endpoint presents the
//! group's shards, answering `-MOVED` for a key another shard owns).
//!
//! The front answers what a cluster-aware client asks of a cluster itself:
//! `CLUSTER SLOTS`, `CLUSTER SHARDS`, `CLUSTER NODES`, `CLUSTER INFO`,
//! `CLUSTER MYID`, `CLUSTER MYSHARDID`, `CLUSTER KEYSLOT`, and `READONLY` /
//! `READWRITE` / `ASKING` (`OK`). With redirects on, a keyed command (key
//! positions from the engine's own `COMMAND` table) whose slot this node's
//! shard does not own answers `-MOVED <slot> <host>:<port>`, keys of several
//! slots `-CROSSSLOT`, and a replica sends keyed commands on to its shard's
//! primary unless the connection said `READONLY` (and the command only reads),
//! as a cluster node does. Every other command goes to the node as sent.
//!
//! Replies keep their order without the front parsing the node's replies: an
//! answered command goes to the node as `ECHO <marker>` (a marker random per
//! connection, numbered), and the node's echo of the marker is replaced by the
//! answer on its way back. So an answer waits behind the replies of commands
//! sent before it, inside `MULTI` it is `QUEUED` like any command, and a client
//! that may not run commands yet (`NOAUTH`) gets the node's refusal.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

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

/// One shard as presented: the slots it owns, its primary and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: String,
    /// Inclusive ranges.
    pub slots: Vec<(u16, u16)>,
    pub primary: Node,
    pub replicas: Vec<Node>,
}

/// Where a command's keys are, from the engine's `COMMAND` table: first and
/// last argument index (negative: from the end), the step, and whether it
/// writes. Commands whose keys move (`movablekeys`) other than the scripts'
/// and functions' are not listed: they go to the node as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub first: i64,
    pub last: i64,
    pub step: i64,
    pub write: bool,
    /// `EVAL`-like: the key count is argument 2, the keys follow it.
    pub numkeys: bool,
}

/// Command name (lower case) → its keys.
pub type KeyTable = HashMap<String, KeySpec>;

/// Parse `COMMAND`'s reply into a key table.
#[must_use]
pub fn key_table(reply: &crate::engine::resp::Reply) -> KeyTable {
    use crate::engine::resp::Reply;
    let mut out = KeyTable::new();
    let Reply::Array(Some(cmds)) = reply else {
        return out;
    };
    for c in cmds {
        let Reply::Array(Some(f)) = c else { continue };
        let (Some(name), Some(Reply::Array(Some(flags))), Some(Reply::Int(first))) =
            (f.first().and_then(Reply::as_text), f.get(2), f.get(3))
        else {
            continue;
        };
        let (Some(Reply::Int(last)), Some(Reply::Int(step))) = (f.get(4), f.get(5)) else {
            continue;
        };
        let flags: Vec<String> = flags.iter().filter_map(Reply::as_text).collect();
        let name = name.to_ascii_lowercase();
        let write = flags.iter().any(|x| x == "write");
        let numkeys = matches!(
            name.as_str(),
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
        );
        if flags.iter().any(|x| x == "movablekeys") && !numkeys {
            continue;
        }
        if *first == 0 && !numkeys {
            continue;
        }
        out.insert(
            name,
            KeySpec {
                first: *first,
                last: *last,
                step: *step,
                write,
                numkeys,
            },
        );
    }
    out
}

/// What an endpoint presents: the shards, which node this endpoint is, and
/// whether keyed commands are redirected to their shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub shards: Vec<Shard>,
    /// This endpoint's node id.
    pub me: String,
    /// Answer `-MOVED` for keys of other shards (needs `keys`).
    pub redirect: bool,
    /// Where keys are, per command (with `redirect`).
    pub keys: Arc<KeyTable>,
    /// Named in the refusal of `CLUSTER` subcommands it does not answer.
    pub what: &'static str,
}

impl Topology {
    /// A serverless cache's endpoint: one shard of all slots, the `Endpoint`
    /// as its primary and the `ReaderEndpoint` as its replica.
    #[must_use]
    pub fn one_shard(primary: Node, replica: Node, shard_id: String, me_primary: bool) -> Self {
        let me = if me_primary {
            primary.id.clone()
        } else {
            replica.id.clone()
        };
        Self {
            shards: vec![Shard {
                id: shard_id,
                slots: vec![(0, SLOTS - 1)],
                primary,
                replicas: vec![replica],
            }],
            me,
            redirect: false,
            keys: Arc::new(KeyTable::new()),
            what: "a serverless cache's endpoint",
        }
    }
}

/// An endpoint's front: the TLS it ends (if any), whether it speaks TLS to
/// the node, and the cluster it presents (which changes as the group does).
pub struct Front {
    pub acceptor: Option<TlsAcceptor>,
    pub node_tls: bool,
    /// Transit encryption mode `preferred`: a connection that does not open
    /// with a TLS ClientHello is served in plaintext (the front still speaks
    /// TLS to its node).
    pub plaintext_too: bool,
    topology: RwLock<Arc<Topology>>,
}

impl Front {
    /// A front whose certificate (from the backend's CA) names `names`; it
    /// speaks TLS to its node.
    pub fn new(
        ca: &crate::tls::Authority,
        names: &[String],
        topology: Topology,
    ) -> anyhow::Result<Arc<Self>> {
        Self::with_tls(ca, names, topology, false)
    }

    /// A front in transit encryption mode `preferred`: TLS and plaintext on
    /// the same port, told apart by the connection's first byte.
    pub fn preferred(
        ca: &crate::tls::Authority,
        names: &[String],
        topology: Topology,
    ) -> anyhow::Result<Arc<Self>> {
        Self::with_tls(ca, names, topology, true)
    }

    fn with_tls(
        ca: &crate::tls::Authority,
        names: &[String],
        topology: Topology,
        plaintext_too: bool,
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
            acceptor: Some(TlsAcceptor::from(Arc::new(config))),
            node_tls: true,
            plaintext_too,
            topology: RwLock::new(Arc::new(topology)),
        }))
    }

    /// A plaintext front before a plaintext node.
    #[must_use]
    pub fn plain(topology: Topology) -> Arc<Self> {
        Arc::new(Self {
            acceptor: None,
            node_tls: false,
            plaintext_too: false,
            topology: RwLock::new(Arc::new(topology)),
        })
    }

    /// The cluster it presents now.
    #[must_use]
    pub fn topology(&self) -> Arc<Topology> {
        self.topology
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Present `t` from now on (connections take it at their next command).
    pub fn set_topology(&self, t: Topology) {
        let mut cur = self
            .topology
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if **cur != t {
            *cur = Arc::new(t);
        }
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

/// What a connection said that changes how its commands are routed.
#[derive(Debug, Clone, Copy, Default)]
struct ConnState {
    resp3: bool,
    readonly: bool,
}

impl Topology {
    fn me(&self) -> Option<(&Shard, &Node)> {
        self.shards.iter().find_map(|s| {
            std::iter::once(&s.primary)
                .chain(&s.replicas)
                .find(|n| n.id == self.me)
                .map(|n| (s, n))
        })
    }

    fn all_nodes(&self) -> impl Iterator<Item = &Node> {
        self.shards
            .iter()
            .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
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
        let mut out = Vec::new();
        for s in &self.shards {
            for (a, b) in &s.slots {
                let mut entry = vec![V::Int(i64::from(*a)), V::Int(i64::from(*b))];
                entry.push(node(&s.primary));
                entry.extend(s.replicas.iter().map(node));
                out.push(V::Arr(entry));
            }
        }
        V::Arr(out)
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
        V::Arr(
            self.shards
                .iter()
                .map(|s| {
                    let mut nodes = vec![node(&s.primary, "master")];
                    nodes.extend(s.replicas.iter().map(|r| node(r, "replica")));
                    V::Map(vec![
                        (
                            "slots",
                            V::Arr(
                                s.slots
                                    .iter()
                                    .flat_map(|(a, b)| {
                                        [V::Int(i64::from(*a)), V::Int(i64::from(*b))]
                                    })
                                    .collect(),
                            ),
                        ),
                        ("nodes", V::Arr(nodes)),
                    ])
                })
                .collect(),
        )
    }

    fn nodes(&self) -> String {
        let mut out = String::new();
        for (k, s) in self.shards.iter().enumerate() {
            let epoch = k + 1;
            let line = |n: &Node, primary: bool| {
                let me = if n.id == self.me { "myself," } else { "" };
                let (flags, of, slots) = if primary {
                    let slots: String = s
                        .slots
                        .iter()
                        .map(|(a, b)| {
                            if a == b {
                                format!(" {a}")
                            } else {
                                format!(" {a}-{b}")
                            }
                        })
                        .collect();
                    ("master", "-".to_owned(), slots)
                } else {
                    ("slave", s.primary.id.clone(), String::new())
                };
                format!(
                    "{} {}:{}@{},{} {me}{flags} {of} 0 0 {epoch} connected{slots}\n",
                    n.id,
                    n.host,
                    n.port,
                    u32::from(n.port) + 10000,
                    n.host
                )
            };
            out.push_str(&line(&s.primary, true));
            for r in &s.replicas {
                out.push_str(&line(r, false));
            }
        }
        out
    }

    fn info(&self) -> String {
        let assigned: usize = self
            .shards
            .iter()
            .flat_map(|s| &s.slots)
            .map(|(a, b)| usize::from(b - a) + 1)
            .sum();
        let state = if assigned == usize::from(SLOTS) {
            "ok"
        } else {
            "fail"
        };
        let shards = self.shards.len();
        [
            "cluster_enabled:1".to_owned(),
            format!("cluster_state:{state}"),
            format!("cluster_slots_assigned:{assigned}"),
            format!("cluster_slots_ok:{assigned}"),
            "cluster_slots_pfail:0".to_owned(),
            "cluster_slots_fail:0".to_owned(),
            format!("cluster_known_nodes:{}", self.all_nodes().count()),
            format!("cluster_size:{shards}"),
            format!("cluster_current_epoch:{shards}"),
            format!(
                "cluster_my_epoch:{}",
                self.me()
                    .and_then(|(s, _)| self.shards.iter().position(|x| x.id == s.id))
                    .map_or(0, |i| i + 1)
            ),
            String::new(),
        ]
        .join("\r\n")
    }

    /// The shard owning `slot`.
    fn owner(&self, slot: u16) -> Option<&Shard> {
        self.shards
            .iter()
            .find(|s| s.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
    }

    /// The keys of a command, by the key table (none: not keyed, or unknown).
    fn keys_of<'a>(&self, args: &[&'a [u8]]) -> Option<(Vec<&'a [u8]>, bool)> {
        let name = String::from_utf8_lossy(args.first()?).to_ascii_lowercase();
        let spec = self.keys.get(&name)?;
        let argc = i64::try_from(args.len()).ok()?;
        let (first, last) = if spec.numkeys {
            let n: i64 = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
            if n <= 0 {
                return None;
            }
            (3, 2 + n)
        } else {
            let last = if spec.last < 0 {
                argc + spec.last
            } else {
                spec.last
            };
            (spec.first, last)
        };
        let step = spec.step.max(1);
        let mut keys = Vec::new();
        let mut i = first;
        while i <= last && i < argc {
            keys.push(*args.get(usize::try_from(i).ok()?)?);
            i += step;
        }
        (!keys.is_empty()).then_some((keys, spec.write))
    }

    /// A redirect (or refusal) for a keyed command this node must not run.
    fn route(&self, args: &[&[u8]], conn: ConnState) -> Option<Vec<u8>> {
        if !self.redirect {
            return None;
        }
        let (keys, write) = self.keys_of(args)?;
        let slot = key_slot(keys[0]);
        if keys.iter().any(|k| key_slot(k) != slot) {
            return Some(error(
                "CROSSSLOT Keys in request don't hash to the same slot",
            ));
        }
        let Some(owner) = self.owner(slot) else {
            return Some(error("CLUSTERDOWN Hash slot not served"));
        };
        let mine = owner.primary.id == self.me;
        let my_replica = owner.replicas.iter().any(|r| r.id == self.me);
        if mine || (my_replica && conn.readonly && !write) {
            return None;
        }
        let p = &owner.primary;
        Some(error(&format!("MOVED {slot} {}:{}", p.host, p.port)))
    }

    /// The front's own answer to a command, if it answers it.
    fn answer(&self, args: &[&[u8]], conn: ConnState) -> Option<Vec<u8>> {
        let resp3 = conn.resp3;
        let name = String::from_utf8_lossy(args.first()?).to_ascii_uppercase();
        match name.as_str() {
            "READONLY" | "READWRITE" | "ASKING" => Some(b"+OK\r\n".to_vec()),
            // As a cluster node: one database. A group's engines must hold
            // nothing elsewhere (a group served by fronts turns into a Redis
            // Cluster again before it reshards, and a cluster node with keys
            // in another database does not start).
            "SELECT" if self.redirect && args.get(1).is_some_and(|d| *d != b"0") => {
                Some(error("ERR SELECT is not allowed in cluster mode"))
            }
            "MOVE" | "SWAPDB" if self.redirect => {
                Some(error(&format!("ERR {name} is not allowed in cluster mode")))
            }
            "CLUSTER" => {
                let sub = String::from_utf8_lossy(args.get(1)?).to_ascii_uppercase();
                let argc = args.len();
                Some(match (sub.as_str(), argc) {
                    ("SLOTS", 2) => self.slots().bytes(resp3),
                    ("SHARDS", 2) => self.shards().bytes(resp3),
                    ("NODES", 2) => V::Bulk(self.nodes()).bytes(resp3),
                    ("INFO", 2) => V::Bulk(self.info()).bytes(resp3),
                    ("MYID", 2) => V::Bulk(self.me.clone()).bytes(resp3),
                    ("MYSHARDID", 2) => {
                        V::Bulk(self.me().map(|(s, _)| s.id.clone()).unwrap_or_default())
                            .bytes(resp3)
                    }
                    ("KEYSLOT", 3) => V::Int(i64::from(key_slot(args[2]))).bytes(resp3),
                    (
                        "SLOTS" | "SHARDS" | "NODES" | "INFO" | "MYID" | "MYSHARDID" | "KEYSLOT",
                        _,
                    ) => error(&format!(
                        "ERR wrong number of arguments for 'cluster|{}' command",
                        sub.to_ascii_lowercase()
                    )),
                    _ => error(&format!(
                        "ERR CLUSTER {sub} is not supported on {}",
                        self.what
                    )),
                })
            }
            _ => self.route(args, conn),
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
    conn: ConnState,
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

/// Relay one client connection (TLS already ended) to its node, presenting
/// `front`'s topology as it is at each command.
pub async fn relay<C, N>(client: C, node: N, front: &Front) -> std::io::Result<()>
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
                            let first = args.first().copied().unwrap_or_default();
                            if first.eq_ignore_ascii_case(b"HELLO") {
                                match args.get(1).map(|v| &v[..]) {
                                    Some(b"3") => sh.conn.resp3 = true,
                                    Some(b"2") => sh.conn.resp3 = false,
                                    _ => {}
                                }
                            } else if first.eq_ignore_ascii_case(b"READONLY") {
                                sh.conn.readonly = true;
                            } else if first.eq_ignore_ascii_case(b"READWRITE") {
                                sh.conn.readonly = false;
                            }
                            let answer = front.topology().answer(&args, sh.conn);
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
        Topology::one_shard(
            Node {
                host: "127.0.0.9".into(),
                port: 6379,
                id: node_id("p"),
            },
            Node {
                host: "127.0.0.10".into(),
                port: 6379,
                id: node_id("r"),
            },
            node_id("s"),
            true,
        )
    }

    fn two_shards(me: &str) -> Topology {
        let n = |id: &str, port: u16| Node {
            host: "127.0.0.9".into(),
            port,
            id: node_id(id),
        };
        let mut keys = KeyTable::new();
        for (name, first, last, step, write) in [
            ("get", 1, 1, 1, false),
            ("set", 1, 1, 1, true),
            ("mget", 1, -1, 1, false),
        ] {
            keys.insert(
                name.to_owned(),
                KeySpec {
                    first,
                    last,
                    step,
                    write,
                    numkeys: false,
                },
            );
        }
        keys.insert(
            "eval".to_owned(),
            KeySpec {
                first: 0,
                last: 0,
                step: 0,
                write: true,
                numkeys: true,
            },
        );
        Topology {
            shards: vec![
                Shard {
                    id: node_id("s1"),
                    slots: vec![(0, 8191)],
                    primary: n("a", 7001),
                    replicas: vec![n("a2", 7002)],
                },
                Shard {
                    id: node_id("s2"),
                    slots: vec![(8192, 16383)],
                    primary: n("b", 7003),
                    replicas: vec![n("b2", 7004)],
                },
            ],
            me: node_id(me),
            redirect: true,
            keys: Arc::new(keys),
            what: "this node",
        }
    }

    #[test]
    fn keys_of_other_shards_are_moved() {
        let rw = ConnState::default();
        let ro = ConnState {
            readonly: true,
            ..ConnState::default()
        };
        let text = |r: Option<Vec<u8>>| r.map(|b| String::from_utf8_lossy(&b).into_owned());
        // foo: slot 12182 (shard 2); bar: slot 5061 (shard 1).
        let a = two_shards("a");
        assert_eq!(text(a.answer(&[b"GET", b"bar"], rw)), None);
        assert_eq!(
            text(a.answer(&[b"GET", b"foo"], rw)).as_deref(),
            Some("-MOVED 12182 127.0.0.9:7003\r\n")
        );
        assert!(text(a.answer(&[b"MGET", b"foo", b"bar"], rw))
            .is_some_and(|r| r.starts_with("-CROSSSLOT")));
        assert_eq!(
            text(a.answer(&[b"EVAL", b"return 1", b"1", b"foo"], rw)).as_deref(),
            Some("-MOVED 12182 127.0.0.9:7003\r\n")
        );
        assert_eq!(text(a.answer(&[b"EVAL", b"return 1", b"0"], rw)), None);
        assert_eq!(text(a.answer(&[b"PING"], rw)), None);
        // A replica reads with READONLY, sends writes and plain reads on.
        let a2 = two_shards("a2");
        assert_eq!(text(a2.answer(&[b"GET", b"bar"], ro)), None);
        assert_eq!(
            text(a2.answer(&[b"GET", b"bar"], rw)).as_deref(),
            Some("-MOVED 5061 127.0.0.9:7001\r\n")
        );
        assert_eq!(
            text(a2.answer(&[b"SET", b"bar", b"1"], ro)).as_deref(),
            Some("-MOVED 5061 127.0.0.9:7001\r\n")
        );
        // One database, as on a cluster node.
        assert_eq!(text(a.answer(&[b"SELECT", b"0"], rw)), None);
        assert_eq!(
            text(a.answer(&[b"SELECT", b"1"], rw)).as_deref(),
            Some("-ERR SELECT is not allowed in cluster mode\r\n")
        );
        assert!(text(a.answer(&[b"SWAPDB", b"0", b"1"], rw))
            .is_some_and(|r| r.starts_with("-ERR SWAPDB is not allowed")));
        assert!(a.nodes().contains("myself,master - 0 0 1 connected 0-8191"));
        assert!(a.info().contains("cluster_size:2"));
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
        let t = Front::plain(topo());
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
