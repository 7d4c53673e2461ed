//! Endpoint proxies of replication groups: a TCP listener per endpoint that
//! forwards each new connection to one of its current targets (node host ports).
//!
//! The primary endpoint has one target, the current primary; the reader endpoint
//! spreads connections across the replicas. When a connection's target leaves the
//! list (a failover), the connection is closed, as a client of ElastiCache sees
//! its connection drop when the primary's DNS name moves.
//!
//! Transit encryption passes through: TLS goes end to end to the node (whose
//! certificate names the endpoint addresses). In mode `preferred` an endpoint
//! is also the front that lets plaintext and TLS share its port: it routes each
//! connection by its first byte, a TLS ClientHello (0x16) to the node's port
//! and anything else to the node's plaintext port (`engine::plain_port`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::front::{self, Front};

/// Where an endpoint's connections go: its nodes, and whether it routes
/// plaintext to their plaintext ports (mode `preferred`).
#[derive(Clone, PartialEq, Eq)]
struct Targets {
    addrs: Vec<(std::net::Ipv4Addr, u16)>,
    preferred: bool,
}

struct Listener {
    addr: (std::net::Ipv4Addr, u16),
    targets: watch::Sender<Targets>,
    task: JoinHandle<()>,
    /// A front (a serverless cache's endpoint, a node of a group served by
    /// fronts): answers as a cluster.
    front: Option<Arc<Front>>,
}

/// Makes a front for a new listener (only then: it issues a certificate).
pub type MakeFront<'a> = &'a (dyn Fn() -> anyhow::Result<Arc<Front>> + Sync);

/// Every endpoint proxy this backend serves, by key.
#[derive(Default)]
pub struct Proxies {
    listeners: Mutex<HashMap<String, Listener>>,
}

impl Proxies {
    /// Serve (or retarget) the endpoint `key` on `host:port`.
    pub async fn serve(
        &self,
        key: &str,
        host: std::net::Ipv4Addr,
        port: u16,
        targets: Vec<(std::net::Ipv4Addr, u16)>,
        preferred: bool,
    ) -> std::io::Result<()> {
        self.serve_with(key, host, port, targets, preferred, None)
            .await
    }

    /// Serve (or retarget) a front (`worker::front`) as endpoint `key`: a
    /// serverless cache's endpoint, or a node of a group served by fronts.
    /// A running front takes `topology` at once; `make` makes a new one.
    pub async fn serve_front(
        &self,
        key: &str,
        host: std::net::Ipv4Addr,
        port: u16,
        targets: Vec<(std::net::Ipv4Addr, u16)>,
        make: MakeFront<'_>,
        topology: super::front::Topology,
    ) -> std::io::Result<()> {
        if let Some(f) = self
            .listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .and_then(|l| l.front.clone())
        {
            f.set_topology(topology);
        }
        self.serve_with(key, host, port, targets, false, Some(make))
            .await
    }

    /// The keys of the endpoints served now that start with `prefix`.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    async fn serve_with(
        &self,
        key: &str,
        host: std::net::Ipv4Addr,
        port: u16,
        targets: Vec<(std::net::Ipv4Addr, u16)>,
        preferred: bool,
        make: Option<MakeFront<'_>>,
    ) -> std::io::Result<()> {
        let targets = Targets {
            addrs: targets,
            preferred,
        };
        {
            let map = self
                .listeners
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(l) = map.get(key) {
                if l.addr == (host, port)
                    && l.front.is_some() == make.is_some()
                    && !l.task.is_finished()
                {
                    l.targets.send_if_modified(|t| {
                        if *t == targets {
                            false
                        } else {
                            t.clone_from(&targets);
                            true
                        }
                    });
                    return Ok(());
                }
            }
        }
        self.stop(key);
        let front = make
            .map(|m| m().map_err(|e| std::io::Error::other(e.to_string())))
            .transpose()?;
        let listener = TcpListener::bind((crate::engine::listen_addr(host), port)).await?;
        let kept = front.clone();
        let (tx, rx) = watch::channel(targets);
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let rx = rx.clone();
                let next = next.clone();
                let front = front.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward(sock, rx, &next, front).await {
                        tracing::debug!(error = %e, "endpoint connection ended");
                    }
                });
            }
        });
        self.listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                key.to_owned(),
                Listener {
                    addr: (host, port),
                    targets: tx,
                    task,
                    front: kept,
                },
            );
        Ok(())
    }

    pub fn stop(&self, key: &str) {
        if let Some(l) = self
            .listeners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key)
        {
            l.task.abort();
        }
    }
}

/// Relay a front's connection until it ends or its node leaves the targets.
async fn relay_until_moved<C>(
    client: C,
    node: Box<dyn crate::engine::resp::Stream>,
    front: &Front,
    mut rx: watch::Receiver<Targets>,
    target: (std::net::Ipv4Addr, u16),
) -> std::io::Result<()>
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let relay = front::relay(client, node, front);
    tokio::pin!(relay);
    loop {
        tokio::select! {
            r = &mut relay => return r,
            changed = rx.changed() => {
                if changed.is_err() || !rx.borrow_and_update().addrs.contains(&target) {
                    return Ok(());
                }
            }
        }
    }
}

async fn forward(
    mut sock: TcpStream,
    mut rx: watch::Receiver<Targets>,
    next: &AtomicUsize,
    front: Option<Arc<Front>>,
) -> std::io::Result<()> {
    let (target, preferred) = {
        let t = rx.borrow_and_update();
        if t.addrs.is_empty() {
            return Ok(());
        }
        (
            t.addrs[next.fetch_add(1, Ordering::Relaxed) % t.addrs.len()],
            t.preferred,
        )
    };
    if let Some(front) = front {
        let _ = sock.set_nodelay(true);
        let node = crate::engine::resp::open(target.0, target.1, front.node_tls)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        return match &front.acceptor {
            Some(acceptor) => {
                if front.plaintext_too {
                    // Clients speak first (RESP or a TLS ClientHello).
                    let mut first = [0u8; 1];
                    if sock.peek(&mut first).await? == 0 {
                        return Ok(());
                    }
                    if first[0] != 0x16 {
                        return relay_until_moved(sock, node, &front, rx, target).await;
                    }
                }
                let client = acceptor.accept(sock).await?;
                relay_until_moved(client, node, &front, rx, target).await
            }
            None => relay_until_moved(sock, node, &front, rx, target).await,
        };
    }
    let mut to = target;
    if preferred {
        // Clients speak first (RESP or a TLS ClientHello).
        let mut first = [0u8; 1];
        if sock.peek(&mut first).await? == 0 {
            return Ok(());
        }
        if first[0] != 0x16 {
            to = (target.0, crate::engine::plain_port(target.1));
        }
    }
    let mut upstream = TcpStream::connect(to).await?;
    let _ = sock.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let copy = tokio::io::copy_bidirectional(&mut sock, &mut upstream);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            r = &mut copy => return r.map(|_| ()),
            changed = rx.changed() => {
                if changed.is_err() || !rx.borrow_and_update().addrs.contains(&target) {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    const L: std::net::Ipv4Addr = std::net::Ipv4Addr::LOCALHOST;
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server(tag: u8) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1];
                    while s.read_exact(&mut b).await.is_ok() {
                        if s.write_all(&[tag]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    async fn ask(port: u16) -> Option<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"?").await.ok()?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.ok()?;
        Some(b[0])
    }

    #[tokio::test]
    async fn forwards_spreads_and_retargets() {
        let (a, b) = (echo_server(b'a').await, echo_server(b'b').await);
        let p = Proxies::default();
        let port = crate::engine::free_port().unwrap();
        p.serve("k", L, port, vec![(L, a), (L, b)], false)
            .await
            .unwrap();
        let mut seen = vec![ask(port).await.unwrap(), ask(port).await.unwrap()];
        seen.sort_unstable();
        assert_eq!(seen, vec![b'a', b'b']);
        // A connection to a target that leaves the list is closed.
        p.serve("k", L, port, vec![(L, a)], false).await.unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"?").await.unwrap();
        let mut one = [0u8; 1];
        s.read_exact(&mut one).await.unwrap();
        assert_eq!(one[0], b'a');
        p.serve("k", L, port, vec![(L, b)], false).await.unwrap();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(ask(port).await, Some(b'b'));
        p.stop("k");
    }
}
