//! A tiny async RESP2 client (enough for `PING`, `AUTH`, `CONFIG GET`, `INFO`) and a
//! memcached `version` probe, in plaintext or over TLS (nodes with transit
//! encryption), verifying the node's certificate against the backend's CA.

use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A byte stream to a node: TCP, or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The TLS client of every connection to a TLS node: it trusts the backend's CA.
static TLS: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();

/// Trust `ca_pem` (the backend's CA) for connections to TLS nodes. Once, at start;
/// later calls keep the first CA.
pub fn trust(ca_pem: &str) -> anyhow::Result<()> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.context("parse the CA certificate")?)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let _ = TLS.set(tokio_rustls::TlsConnector::from(Arc::new(config)));
    Ok(())
}

/// Open a stream to `host:port`, over TLS (the certificate must name `host`) when `tls`.
pub async fn open(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<Box<dyn Stream>> {
    let s = TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connect to {host}:{port}"))?;
    s.set_nodelay(true)?;
    if !tls {
        return Ok(Box::new(s));
    }
    let connector = TLS
        .get()
        .ok_or_else(|| anyhow!("TLS to {host}:{port}: no certificate authority is trusted"))?;
    let name = rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(host).into());
    let s = connector
        .connect(name, s)
        .await
        .with_context(|| format!("TLS handshake with {host}:{port}"))?;
    Ok(Box::new(s))
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text, for status and bulk replies.
    #[must_use]
    pub fn as_text(&self) -> Option<String> {
        match self {
            Self::Status(s) => Some(s.clone()),
            Self::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Upper bound on a bulk string or array length we accept (guards against garbage).
const MAX_LEN: i64 = 512 * 1024 * 1024;

/// A connection to a Redis-protocol server.
pub struct Conn {
    stream: BufReader<Box<dyn Stream>>,
}

impl Conn {
    /// A plaintext connection.
    pub async fn connect(host: Ipv4Addr, port: u16) -> anyhow::Result<Self> {
        Self::connect_to(host, port, false).await
    }

    /// A connection over TLS when `tls`, else plaintext.
    pub async fn connect_to(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<Self> {
        Ok(Self {
            stream: BufReader::new(open(host, port, tls).await?),
        })
    }

    /// Send one command and read its reply. An `Error` reply is returned as
    /// `Err` so that callers can use `?`.
    pub async fn cmd(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd_bytes(&raw).await
    }

    /// Send several commands at once and read their replies, in order; error
    /// replies stay `Reply::Error` (one failing command does not hide the others).
    pub async fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> anyhow::Result<Vec<Reply>> {
        let mut buf = Vec::new();
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            buf.extend(encode_bytes(&args));
        }
        self.stream.get_mut().write_all(&buf).await?;
        let mut out = Vec::with_capacity(cmds.len());
        for _ in cmds {
            out.push(read_reply(&mut self.stream).await?);
        }
        Ok(out)
    }

    /// [`Conn::cmd`] with binary-safe arguments (keys moved between nodes).
    pub async fn cmd_bytes(&mut self, args: &[&[u8]]) -> anyhow::Result<Reply> {
        let buf = encode_bytes(args);
        self.stream.get_mut().write_all(&buf).await?;
        match read_reply(&mut self.stream).await? {
            Reply::Error(e) => Err(anyhow!("server error: {e}")),
            r => Ok(r),
        }
    }
}

/// Encode a command as a RESP array of bulk strings.
#[must_use]
pub fn encode(args: &[&str]) -> Vec<u8> {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    encode_bytes(&raw)
}

/// Encode a command of binary arguments as a RESP array of bulk strings.
#[must_use]
pub fn encode_bytes(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).await?;
    if n == 0 {
        bail!("connection closed");
    }
    if !line.ends_with(b"\r\n") {
        bail!("truncated line");
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Read one reply (iteratively for nested arrays, to avoid async recursion).
pub async fn read_reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> anyhow::Result<Reply> {
    // Stack of (expected element count, elements so far) for open arrays.
    let mut stack: Vec<(usize, Vec<Reply>)> = Vec::new();
    loop {
        let line = read_line(r).await?;
        let (tag, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        let mut value = match tag {
            "+" => Reply::Status(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().context("bad integer reply")?),
            "$" => {
                let len: i64 = rest.parse().context("bad bulk length")?;
                if len < 0 {
                    Reply::Bulk(None)
                } else {
                    if len > MAX_LEN {
                        bail!("bulk too large: {len}");
                    }
                    let len = usize::try_from(len)?;
                    let mut data = vec![0u8; len + 2];
                    r.read_exact(&mut data).await?;
                    if &data[len..] != b"\r\n" {
                        bail!("bulk not terminated by CRLF");
                    }
                    data.truncate(len);
                    Reply::Bulk(Some(data))
                }
            }
            "*" => {
                let len: i64 = rest.parse().context("bad array length")?;
                if len < 0 {
                    Reply::Array(None)
                } else if len == 0 {
                    Reply::Array(Some(Vec::new()))
                } else {
                    if len > MAX_LEN {
                        bail!("array too large: {len}");
                    }
                    let len = usize::try_from(len)?;
                    stack.push((len, Vec::with_capacity(len.min(1024))));
                    continue;
                }
            }
            _ => bail!("unexpected reply line: {line:?}"),
        };
        // Attach the finished value to open arrays, closing them as they fill.
        loop {
            match stack.last_mut() {
                None => return Ok(value),
                Some((want, items)) => {
                    items.push(value);
                    if items.len() < *want {
                        break;
                    }
                }
            }
            let (_, items) = stack.pop().ok_or_else(|| anyhow!("array stack empty"))?;
            value = Reply::Array(Some(items));
        }
    }
}

/// Ask memcached on `host:port` for its version (`version` -> `VERSION x`).
pub async fn memcached_version(host: Ipv4Addr, port: u16, tls: bool) -> anyhow::Result<String> {
    let mut s = BufReader::new(open(host, port, tls).await?);
    s.get_mut().write_all(b"version\r\n").await?;
    let line = read_line(&mut s).await?;
    line.strip_prefix("VERSION ")
        .map(str::to_string)
        .ok_or_else(|| anyhow!("unexpected memcached reply: {line:?}"))
}

/// Send one memcached text command line to `host:port`; its one-line reply.
pub async fn memcached_line(
    host: Ipv4Addr,
    port: u16,
    tls: bool,
    line: &str,
) -> anyhow::Result<String> {
    let mut s = BufReader::new(open(host, port, tls).await?);
    s.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await?;
    read_line(&mut s).await
}

/// Memcached `stats`: its `STAT name value` lines, up to `END`.
pub async fn memcached_stats(
    host: Ipv4Addr,
    port: u16,
    tls: bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut s = BufReader::new(open(host, port, tls).await?);
    s.get_mut().write_all(b"stats\r\n").await?;
    let mut out = Vec::new();
    loop {
        let line = read_line(&mut s).await?;
        if line == "END" {
            return Ok(out);
        }
        let Some((name, value)) = line.strip_prefix("STAT ").and_then(|l| l.split_once(' ')) else {
            bail!("unexpected memcached stats line: {line:?}");
        };
        out.push((name.to_owned(), value.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> anyhow::Result<Reply> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn parses_scalars() {
        assert_eq!(
            parse(b"+PONG\r\n").await.unwrap(),
            Reply::Status("PONG".into())
        );
        assert_eq!(
            parse(b"-ERR nope\r\n").await.unwrap(),
            Reply::Error("ERR nope".into())
        );
        assert_eq!(parse(b":-42\r\n").await.unwrap(), Reply::Int(-42));
        assert_eq!(
            parse(b"$5\r\nhe\r\no\r\n").await.unwrap(),
            Reply::Bulk(Some(b"he\r\no".to_vec()))
        );
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Bulk(None));
        assert_eq!(
            parse(b"$0\r\n\r\n").await.unwrap(),
            Reply::Bulk(Some(vec![]))
        );
    }

    #[tokio::test]
    async fn parses_arrays() {
        assert_eq!(parse(b"*-1\r\n").await.unwrap(), Reply::Array(None));
        assert_eq!(parse(b"*0\r\n").await.unwrap(), Reply::Array(Some(vec![])));
        let r = parse(b"*3\r\n$9\r\nmaxmemory\r\n*2\r\n:1\r\n*0\r\n+OK\r\n")
            .await
            .unwrap();
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"maxmemory".to_vec())),
                Reply::Array(Some(vec![Reply::Int(1), Reply::Array(Some(vec![]))])),
                Reply::Status("OK".into()),
            ]))
        );
    }

    #[tokio::test]
    async fn rejects_garbage() {
        assert!(parse(b"").await.is_err());
        assert!(parse(b"?x\r\n").await.is_err());
        assert!(parse(b"$3\r\nab").await.is_err());
        assert!(parse(b":12").await.is_err());
        assert!(parse(b"*2\r\n:1\r\n").await.is_err());
    }

    #[test]
    fn encodes() {
        assert_eq!(
            encode(&["CONFIG", "GET", ""]),
            b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$0\r\n\r\n".to_vec()
        );
    }
}
