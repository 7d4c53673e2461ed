//! Memcached Auto Discovery: the configuration endpoint of a Memcached cluster.
//!
//! It answers `config get cluster` as ElastiCache does:
//!
//! ```text
//! CONFIG cluster 0 <bytes>\r\n
//! <version>\n
//! host|ip|port host|ip|port\n
//! \r\n
//! END\r\n
//! ```
//!
//! and passes every other command through to the cluster's first node, as a
//! client that uses the configuration endpoint as a plain node expects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the endpoint announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    pub version: u64,
    /// (host, ip, port) of every node.
    pub nodes: Vec<(String, String, u16)>,
}

impl ClusterConfig {
    #[must_use]
    pub fn render(&self) -> String {
        let list: Vec<String> = self
            .nodes
            .iter()
            .map(|(h, ip, p)| format!("{h}|{ip}|{p}"))
            .collect();
        let body = format!("{}\n{}\n", self.version, list.join(" "));
        format!("CONFIG cluster 0 {}\r\n{body}\r\nEND\r\n", body.len())
    }
}

struct Listener {
    port: u16,
    config: Arc<RwLock<ClusterConfig>>,
    task: JoinHandle<()>,
}

/// Every configuration endpoint this backend serves, by cluster key.
#[derive(Default)]
pub struct Discovery {
    listeners: Mutex<HashMap<String, Listener>>,
}

impl Discovery {
    /// Serve (or update) the endpoint of one cluster on `host:port`.
    pub async fn serve(
        &self,
        key: &str,
        host: std::net::Ipv4Addr,
        port: u16,
        config: ClusterConfig,
    ) -> std::io::Result<()> {
        {
            let map = self
                .listeners
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(l) = map.get(key) {
                if l.port == port && !l.task.is_finished() {
                    *l.config
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
                    return Ok(());
                }
            }
        }
        self.stop(key);
        let listener = TcpListener::bind((crate::engine::listen_addr(host), port)).await?;
        let shared = Arc::new(RwLock::new(config));
        let cfg = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                // Answers and proxied bytes go at once (as on the proxies).
                let _ = sock.set_nodelay(true);
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(sock, cfg).await {
                        tracing::debug!(error = %e, "configuration endpoint connection ended");
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
                    port,
                    config: shared,
                    task,
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

async fn handle(sock: TcpStream, cfg: Arc<RwLock<ClusterConfig>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end();
        if cmd.eq_ignore_ascii_case("config get cluster")
            || cmd.eq_ignore_ascii_case("get AmazonElastiCache:cluster")
        {
            let c = cfg
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let text = if cmd.starts_with("get") {
                // Pre-1.4.14 clients read the config as a key.
                let r = c.render();
                let body = r
                    .split_once("\r\n")
                    .map_or("", |(_, b)| b)
                    .trim_end_matches("\r\nEND\r\n")
                    .to_owned();
                format!(
                    "VALUE AmazonElastiCache:cluster 0 {}\r\n{body}\r\nEND\r\n",
                    body.len()
                )
            } else {
                c.render()
            };
            reader.get_mut().write_all(text.as_bytes()).await?;
            continue;
        }
        // Anything else: hand the connection to the first node.
        let first = cfg
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .nodes
            .first()
            .cloned();
        let Some((_, ip, port)) = first else {
            reader
                .get_mut()
                .write_all(b"SERVER_ERROR no nodes\r\n")
                .await?;
            return Ok(());
        };
        let mut upstream = TcpStream::connect((ip.as_str(), port)).await?;
        let _ = upstream.set_nodelay(true);
        upstream.write_all(line.as_bytes()).await?;
        let buffered = reader.buffer().to_vec();
        upstream.write_all(&buffered).await?;
        let mut sock = reader.into_inner();
        tokio::io::copy_bidirectional(&mut sock, &mut upstream).await?;
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_elasticache() {
        let c = ClusterConfig {
            version: 12,
            nodes: vec![
                ("127.0.0.1".into(), "127.0.0.1".into(), 11211),
                ("127.0.0.1".into(), "127.0.0.1".into(), 11212),
            ],
        };
        let body = "12\n127.0.0.1|127.0.0.1|11211 127.0.0.1|127.0.0.1|11212\n";
        assert_eq!(
            c.render(),
            format!("CONFIG cluster 0 {}\r\n{body}\r\nEND\r\n", body.len())
        );
    }
}
