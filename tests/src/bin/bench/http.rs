//! A lean Query API client for load generation: SigV4-signed form POSTs over a
//! raw HTTP/1.1 keep-alive connection (one per simulated client), so that the
//! client's own cost stays small next to the server's on a shared machine.
//! (The official SDK adds its retry, endpoint and XML layers per call, which
//! would dominate the figures of a fast server.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Where requests go and who signs them.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub access_key: String,
    pub region: String,
}

impl Target {
    pub fn new(addr: SocketAddr, region: &str) -> Self {
        Self {
            addr,
            access_key: "AKIDBENCHMARK".to_owned(),
            region: region.to_owned(),
        }
    }

    pub fn in_region(&self, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            ..self.clone()
        }
    }

    pub fn client(&self) -> Client {
        let identity: Identity = aws_credential_types::Credentials::new(
            self.access_key.clone(),
            "benchmark-secret",
            None,
            None,
            "bench",
        )
        .into();
        Client {
            target: self.clone(),
            host: self.addr.to_string(),
            url: format!("http://{}/", self.addr),
            identity,
            stream: None,
        }
    }
}

/// One answer: HTTP status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn ok(&self) -> bool {
        self.status == 200
    }
}

/// One connection of one simulated client.
pub struct Client {
    target: Target,
    host: String,
    url: String,
    identity: Identity,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    fn signed_headers(&self, body: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.target.region)
            .name("elasticache")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let req = SignableRequest::new(
            "POST",
            &self.url,
            [("host", self.host.as_str()), ("content-type", CONTENT_TYPE)].into_iter(),
            SignableBody::Bytes(body),
        )?;
        let (instr, _) = sign(req, &params)?.into_parts();
        Ok(instr
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// POST one form (`Action=…&Version=2015-02-02&…`), signed.
    pub async fn call(&mut self, form: &str) -> anyhow::Result<Answer> {
        let mut head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n",
            self.host,
            form.len()
        );
        for (k, v) in self.signed_headers(form.as_bytes())? {
            head.push_str(&k);
            head.push_str(": ");
            head.push_str(&v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head.push_str(form);
        for attempt in 0..2 {
            let reused = self.stream.is_some();
            if self.stream.is_none() {
                let s = TcpStream::connect(self.target.addr)
                    .await
                    .with_context(|| format!("connect {}", self.target.addr))?;
                s.set_nodelay(true)?;
                self.stream = Some(BufReader::new(s));
            }
            let s = self.stream.as_mut().expect("connected");
            let res = async {
                s.get_mut().write_all(head.as_bytes()).await?;
                read_response(s).await
            }
            .await;
            match res {
                Ok((answer, keep)) => {
                    if !keep {
                        self.stream = None;
                    }
                    return Ok(answer);
                }
                // A kept-alive connection the server closed meanwhile: once more, fresh.
                Err(_) if reused && attempt == 0 => self.stream = None,
                Err(e) => {
                    self.stream = None;
                    return Err(e);
                }
            }
        }
        unreachable!("the second attempt returns")
    }
}

/// Read one response; returns it and whether the connection stays usable.
async fn read_response(s: &mut BufReader<TcpStream>) -> anyhow::Result<(Answer, bool)> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        bail!("connection closed before a response");
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = version == "HTTP/1.1";
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.parse().ok(),
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" => keep = v.eq_ignore_ascii_case("keep-alive"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            s.read_line(&mut line).await?;
            let n = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
            let mut chunk = vec![0; n + 2];
            s.read_exact(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        s.read_exact(&mut body).await?;
    } else {
        s.read_to_end(&mut body).await?;
        keep = false;
    }
    Ok((Answer { status, body }, keep))
}

/// When a load run stops.
#[derive(Clone, Copy)]
pub enum Stop {
    /// Run for this long after the warm-up.
    Time { warmup: Duration, run: Duration },
    /// Send exactly this many requests (no warm-up; for creates).
    Count(usize),
}

/// What a load run measured.
#[derive(Default)]
pub struct Run {
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latencies of the successful requests, microseconds.
    pub lat_us: Vec<u64>,
    pub bytes: usize,
}

impl Run {
    pub fn rps(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.elapsed.as_secs_f64()
        }
    }
}

pub type Form = Arc<dyn Fn(usize) -> String + Send + Sync>;
pub type Check = fn(&Answer) -> bool;

/// A closed loop of `conc` clients, each on its own connection, sending
/// `form(i)` for request number `i`; `check` decides whether an answer counts.
pub async fn load(target: &Target, conc: usize, stop: Stop, form: Form, check: Check) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let (measure_from, until) = match stop {
        Stop::Time { warmup, run } => (start + warmup, Some(start + warmup + run)),
        Stop::Count(_) => (start, None),
    };
    let limit = match stop {
        Stop::Count(n) => n,
        Stop::Time { .. } => usize::MAX,
    };
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let mut client = target.client();
        let next = next.clone();
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            loop {
                let now = Instant::now();
                if until.is_some_and(|u| now >= u) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let body = form(i);
                let t0 = Instant::now();
                let res = client.call(&body).await;
                let dt = t0.elapsed();
                if t0 < measure_from {
                    continue;
                }
                match res {
                    Ok(a) if check(&a) => {
                        run.ok += 1;
                        run.bytes += a.body.len();
                        run.lat_us
                            .push(u64::try_from(dt.as_micros()).unwrap_or(u64::MAX));
                    }
                    Ok(a) => {
                        run.errors += 1;
                        if run.first_error.is_none() {
                            let t = a.text();
                            run.first_error =
                                Some(format!("HTTP {}: {}", a.status, &t[..t.len().min(300)]));
                        }
                    }
                    Err(e) => {
                        run.errors += 1;
                        run.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            run
        }));
    }
    let mut total = Run::default();
    for t in tasks {
        let r = t.await.unwrap_or_default();
        total.ok += r.ok;
        total.errors += r.errors;
        total.bytes += r.bytes;
        total.lat_us.extend(r.lat_us);
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
    }
    total.elapsed = Instant::now().saturating_duration_since(measure_from);
    total.lat_us.sort_unstable();
    total
}

/// Value of the first `<tag>…</tag>` in an XML answer.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let a = xml.find(&open)? + open.len();
    let b = xml[a..].find(&close)? + a;
    Some(xml[a..b].to_owned())
}

/// Every value of `<tag>…</tag>` in an XML answer.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(a) = rest.find(&open) {
        let from = a + open.len();
        let Some(b) = rest[from..].find(&close) else {
            break;
        };
        out.push(rest[from..from + b].to_owned());
        rest = &rest[from + b + close.len()..];
    }
    out
}

/// Percent-encode a form value.
pub fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Query form: `Action`, `Version` and the given parameters.
pub fn form(action: &str, params: &[(&str, &str)]) -> String {
    let mut s = format!("Action={action}&Version=2015-02-02");
    for (k, v) in params {
        s.push('&');
        s.push_str(k);
        s.push('=');
        s.push_str(&enc(v));
    }
    s
}
