//! Fuzzed decoders (issue 17, drill 3): the properties that every input must
//! keep, one function per fuzz target. Each takes arbitrary bytes and panics
//! when a property fails (a panic of the code under test is a failure too).
//!
//! - [`query_form`]: the Query form decoder of every operation (form body or
//!   query string into the operation's typed input) answers `Ok` or a
//!   `MissingParameter` / `InvalidParameterValue` error, 400, as well-formed XML.
//! - [`sigv4`]: the SigV4 `Authorization` header, `X-Amz-Date` and presigned
//!   `X-Amz-Credential` parsing answers the caller or one of AWS's
//!   authentication errors (400/403), as well-formed XML.
//! - [`Harness::request`]: the whole request path (the handler behind `/`,
//!   with an in-memory store, no engines): every answer is 2xx with a
//!   well-formed XML answer (or the dashboard's HTML page) or 4xx with an
//!   AWS-shaped XML error; never 5xx, never a panic.
//!
//! The fuzz targets (`backend/fuzz/`, coverage-guided with libFuzzer) call
//! these; the unit tests below replay the kept corpus and crash files and run
//! a seeded generator, in `cargo test`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::query::{self, WireError, MODEL};

/// Every operation of the API model, sorted.
fn operations() -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = MODEL.operations.keys().map(String::as_str).collect();
    ops.sort_unstable();
    ops
}

/// Check that `xml` is an AWS-shaped Query error: `ErrorResponse` / `Error` with
/// `Type` (`Sender` or `Receiver`), a non-empty `Code` and a `Message`, and a
/// `RequestId`. Returns the code.
///
/// # Panics
/// When it is not.
pub fn check_error_xml(xml: &str) -> String {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("error answer is not well-formed XML ({e}): {xml:?}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "ErrorResponse", "{xml}");
    fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .unwrap_or_else(|| panic!("no {name} in error answer"))
    }
    let error = child(root, "Error");
    let fault = child(error, "Type").text().unwrap_or_default();
    assert!(fault == "Sender" || fault == "Receiver", "{xml}");
    let code = child(error, "Code").text().unwrap_or_default().to_owned();
    assert!(!code.is_empty(), "{xml}");
    child(error, "Message");
    assert!(child(root, "RequestId").text().is_some(), "{xml}");
    code
}

/// Check a wire error as it is answered: a 4xx status and its XML.
fn check_wire_error(e: &WireError, allowed: &[&str]) {
    let status = e.status();
    assert!(
        (400..500).contains(&status),
        "{} answered {status}: {}",
        e.code,
        e.message
    );
    assert!(
        allowed.contains(&e.code.as_str()),
        "unexpected error code {}: {}",
        e.code,
        e.message
    );
    assert_eq!(check_error_xml(&e.to_xml("fuzz")), e.code);
}

/// Target `query_form`: byte 0 picks the operation (of every one in the model),
/// the rest is a form body (`a=b&c.1=d`), decoded as the operation's input.
///
/// # Panics
/// When a property fails.
pub fn query_form(data: &[u8]) {
    let Some((&pick, form)) = data.split_first() else {
        return;
    };
    let ops = operations();
    let op = ops[usize::from(pick) % ops.len()];
    let params: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let node = query::Node::parse(&params);
    if let Err(e) = query::generated::validate(op, &node) {
        check_wire_error(&e, &["MissingParameter", "InvalidParameterValue"]);
    }
    // What the permissive mode reads from a presigned request's credential.
    for (k, v) in &params {
        if k == "X-Amz-Credential" {
            let _ = query::caller_from(Some(v), "us-east-1");
        }
    }
}

/// The key the SigV4 target knows (so that inputs reach the signature check).
pub const FUZZ_KEY: &str = "AKIDFUZZEXAMPLE";
/// Its secret.
pub const FUZZ_SECRET: &str = "fuzz-secret";
/// The clock of the SigV4 target: 2026-01-01T00:00:00Z.
pub const FUZZ_NOW: u64 = 1_767_225_600;

/// Target `sigv4`: lines of `Authorization` value, `X-Amz-Date` value, method,
/// path, query string, then `name: value` headers up to an empty line, then the
/// body. Verified (strict mode) against [`FUZZ_KEY`] at [`FUZZ_NOW`], and read
/// as the permissive mode reads the caller.
///
/// # Panics
/// When a property fails.
pub fn sigv4(data: &[u8]) {
    let mut lines = data.splitn(6, |&b| b == b'\n');
    let auth = lines.next().unwrap_or_default();
    let date = lines.next().unwrap_or_default();
    let method = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let path = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let q = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (mut headers, body) = parse_headers(lines.next().unwrap_or_default());
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(date) {
        headers.insert("x-amz-date", v);
    }
    let mut creds = crate::auth::Credentials::default();
    creds.add(FUZZ_KEY, FUZZ_SECRET, "123456789012");
    let req = crate::auth::Request {
        method: &method,
        path: &path,
        query: Some(&q),
        headers: &headers,
        body,
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(FUZZ_NOW);
    match crate::auth::verify(&creds, &req, now) {
        Ok(caller) => assert_eq!(caller.account, "123456789012"),
        Err(e) => check_wire_error(
            &e,
            &[
                "MissingAuthenticationToken",
                "IncompleteSignature",
                "InvalidClientTokenId",
                "RequestExpired",
                "SignatureDoesNotMatch",
            ],
        ),
    }
    // The permissive mode: the caller from the header, or from a presigned
    // request's X-Amz-Credential.
    let caller = query::caller_from(std::str::from_utf8(auth).ok(), "us-east-1");
    assert!(!caller.account.is_empty() && !caller.region.is_empty());
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if k == "X-Amz-Credential" {
            let _ = query::caller_from(Some(&v), "us-east-1");
        }
    }
}

/// `name: value` lines up to an empty line (or the end), and what follows.
fn parse_headers(data: &[u8]) -> (HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    let mut rest = data;
    loop {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
        if rest.is_empty() {
            break;
        }
    }
    (headers, rest)
}

/// The whole request path, with an in-memory store and no engines.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    runtime: Arc<dyn crate::engine::EngineRuntime>,
    settings: crate::model::Settings,
    ca: Arc<crate::tls::Authority>,
    credentials: Arc<crate::auth::Credentials>,
}

/// Requests of one input, at most (they share one control plane).
const MAX_REQUESTS: usize = 8;

impl Harness {
    /// A harness whose files (CA, node and snapshot directories, which no
    /// request of a fuzz run gets to use) live under a directory of the
    /// process's own in the system's temporary directory.
    ///
    /// # Panics
    /// When that directory or the CA cannot be made.
    #[must_use]
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("elasticache-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz directory");
        let runtime = Arc::new(
            crate::engine::process::ProcessRuntime::new(dir.join("rt")).expect("process runtime"),
        );
        let ca = Arc::new(crate::tls::Authority::load_or_create(&dir.join("ca")).expect("ca"));
        let mut creds = crate::auth::Credentials::default();
        creds.add(FUZZ_KEY, FUZZ_SECRET, "123456789012");
        Self {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            runtime,
            settings: crate::model::Settings {
                nodes_dir: dir.join("nodes"),
                advertise_host: "127.0.0.1".into(),
                snapshots_dir: dir.join("snapshots"),
                buckets_dir: dir.join("s3"),
                keys_dir: dir.join("kms"),
            },
            ca,
            credentials: Arc::new(creds),
        }
    }

    /// Target `request`: an optional first line `!strict` (signatures
    /// verified), then up to eight requests separated by `\n===\n`, each
    /// `METHOD /path?query`, `name: value` header lines, an empty line and the
    /// body. The requests run in order on one fresh control plane.
    ///
    /// # Panics
    /// When a property fails.
    pub fn request(&self, data: &[u8]) {
        let (strict, data) = match data.strip_prefix(b"!strict\n") {
            Some(rest) => (true, rest),
            None => (false, data),
        };
        let cp = Arc::new(
            crate::model::ControlPlane::load(
                Arc::new(crate::store::MemoryStore::default()),
                self.runtime.clone(),
                self.settings.clone(),
            )
            .expect("control plane"),
        );
        let state = crate::server::AppState {
            cp,
            default_region: "us-east-1".into(),
            ca: self.ca.clone(),
            auth: if strict {
                crate::auth::AuthMode::Strict
            } else {
                crate::auth::AuthMode::Permissive
            },
            credentials: self.credentials.clone(),
        };
        for one in split(data, b"\n===\n").take(MAX_REQUESTS) {
            self.one(&state, one);
        }
    }

    fn one(&self, state: &crate::server::AppState, data: &[u8]) {
        let (line, rest) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[data.len()..]),
        };
        let line = String::from_utf8_lossy(line);
        let (method, target) = line.split_once(' ').unwrap_or(("POST", &line));
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::POST);
        let (path, q) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        let (headers, body) = parse_headers(rest);
        let body = Bytes::copy_from_slice(body);
        let response = self.rt.block_on(async {
            let r = crate::server::answer(state.clone(), method, &path, q, headers, body).await;
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .expect("answer body");
            (status, ct, body)
        });
        let (status, ct, body) = response;
        let text = std::str::from_utf8(&body)
            .unwrap_or_else(|e| panic!("answer is not UTF-8 ({e}), status {status}"));
        if (200..300).contains(&status) {
            if ct.starts_with("text/html") {
                return;
            }
            assert_eq!(ct, "text/xml", "status {status}");
            let doc = roxmltree::Document::parse(text)
                .unwrap_or_else(|e| panic!("answer is not well-formed XML ({e}): {text:?}"));
            let root = doc.root_element().tag_name().name().to_owned();
            assert!(root.ends_with("Response"), "answer's root is {root}");
        } else {
            assert!(
                (400..500).contains(&status),
                "status {status} answered: {text}"
            );
            assert_eq!(ct, "text/xml", "status {status}");
            check_error_xml(text);
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// `data` split at every `sep`.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

#[cfg(test)]
mod tests;
