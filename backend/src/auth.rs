//! SigV4 verification of API requests (`--auth strict`).
//!
//! In the default permissive mode a request's credential scope only names its
//! region (and a 12-digit access key its account), as before. In strict mode
//! every request must carry a valid AWS Signature Version 4 in its
//! `Authorization` header, made with a secret this backend knows; each access
//! key belongs to one account, which sees only its own resources. The signing
//! key and signature come from the `aws-sigv4` crate; the canonical request is
//! built here from the request as received.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use chrono::{NaiveDateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::query::{Caller, WireError};

/// How far a request's `X-Amz-Date` may be from the backend's clock.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Whether requests must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum AuthMode {
    /// Signatures are not checked (the credential scope still picks the region).
    #[default]
    Permissive,
    /// Every request must carry a valid SigV4 signature of a known access key.
    Strict,
}

/// Known access keys: secret and account of each.
#[derive(Clone, Default)]
pub struct Credentials {
    keys: HashMap<String, (String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.keys()).finish()
    }
}

impl Credentials {
    /// Read a credentials file: one key per line, `ACCESS_KEY_ID SECRET_ACCESS_KEY
    /// [ACCOUNT_ID]` (whitespace or commas between; account `000000000000` when
    /// absent; `#` starts a comment).
    ///
    /// # Errors
    /// The file cannot be read, or a line does not have two or three fields.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read credentials file {}: {e}", path.display()))?;
        let mut c = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line
                .split([' ', '\t', ','])
                .filter(|x| !x.is_empty())
                .collect();
            match f.as_slice() {
                [k, s] => c.add(k, s, "000000000000"),
                [k, s, a] => c.add(k, s, a),
                _ => anyhow::bail!(
                    "credentials file {} line {}: expected ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]",
                    path.display(),
                    n + 1
                ),
            }
        }
        Ok(c)
    }

    pub fn add(&mut self, key: &str, secret: &str, account: &str) {
        self.keys
            .insert(key.to_owned(), (secret.to_owned(), account.to_owned()));
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Parsed<'a> {
    key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(what: &str) -> WireError {
    WireError::new(
        "IncompleteSignature",
        format!("The request signature does not conform to AWS standards: {what}."),
    )
}

fn parse(h: &str) -> Result<Parsed<'_>, WireError> {
    let rest = h
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| incomplete("only AWS4-HMAC-SHA256 signatures are accepted"))?;
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let cred = cred.ok_or_else(|| incomplete("Credential is missing"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders is missing"))?;
    let signature = sig.ok_or_else(|| incomplete("Signature is missing"))?;
    let c: Vec<&str> = cred.split('/').collect();
    let [key, date, region, service, "aws4_request"] = c.as_slice() else {
        return Err(incomplete(
            "Credential must be ACCESS_KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Parsed {
        key,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// AWS's URI encoding: unreserved characters kept, everything else `%XX`.
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request as received, for verification.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Verify a request's signature; the caller (account of the key, region of
/// the scope) when it holds.
///
/// # Errors
/// AWS's authentication errors: `MissingAuthenticationToken`,
/// `IncompleteSignature`, `InvalidClientTokenId`, `RequestExpired`,
/// `SignatureDoesNotMatch`.
pub fn verify(
    creds: &Credentials,
    req: &Request<'_>,
    now: SystemTime,
) -> Result<Caller, WireError> {
    let Some(h) = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(WireError::new(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    };
    let p = parse(h)?;
    let amz_date = req
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| incomplete("the X-Amz-Date header is missing"))?;
    let t = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| incomplete("X-Amz-Date is not in the form YYYYMMDDTHHMMSSZ"))?;
    let t = Utc.from_utc_datetime(&t);
    if !amz_date.starts_with(p.date) {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP",
        ));
    }
    let signed_at: SystemTime = t.into();
    let skew = now
        .duration_since(signed_at)
        .or_else(|_| signed_at.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(WireError::new(
            "RequestExpired",
            format!("Request has expired: signed at {amz_date}, more than 15 minutes from the server's time."),
        ));
    }
    let Some((secret, account)) = creds.keys.get(p.key) else {
        return Err(WireError::new(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ));
    };
    if !p.signed_headers.contains(&"host") {
        return Err(incomplete("the host header must be signed"));
    }

    // The canonical request, as the client built it.
    let mut query: Vec<(String, String)> = req
        .query
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (uri_encode(&dec(k)), uri_encode(&dec(v)))
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in &p.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| hex_sha256(req.body), str::to_owned);
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical = format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{}\n{payload}",
        req.method,
        p.signed_headers.join(";")
    );
    let scope = format!("{}/{}/{}/aws4_request", p.date, p.region, p.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let key = aws_sigv4::sign::v4::generate_signing_key(secret, signed_at, p.region, p.service);
    let want = aws_sigv4::sign::v4::calculate_signature(key, to_sign.as_bytes());
    let same = want.len() == p.signature.len()
        && want
            .bytes()
            .zip(p.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(WireError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(Caller {
        account: account.clone(),
        region: p.region.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rust SDK's own signer signs; we verify.
    #[test]
    fn verifies_what_the_sdk_signer_signs_and_refuses_the_rest() {
        use aws_credential_types::Credentials as AwsCreds;
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;

        let body = b"Action=DescribeCacheClusters&Version=2015-02-02";
        let now = SystemTime::now();
        let identity = AwsCreds::new("AKIDTEST", "secret-key", None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("elasticache")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("host", "127.0.0.1:4566"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ];
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:4566/",
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(k, v.parse().unwrap());
        }
        for (k, v) in instructions.headers() {
            let name = axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            map.insert(name, v.parse().unwrap());
        }
        let mut creds = Credentials::default();
        creds.add("AKIDTEST", "secret-key", "123456789012");
        let req = |h: &HeaderMap, b: &'static [u8]| -> Result<Caller, WireError> {
            verify(
                &creds,
                &Request {
                    method: "POST",
                    path: "/",
                    query: None,
                    headers: h,
                    body: b,
                },
                now,
            )
        };
        let c = req(&map, body).unwrap();
        assert_eq!(
            (c.account.as_str(), c.region.as_str()),
            ("123456789012", "eu-west-1")
        );
        assert_eq!(
            req(&map, b"Action=DeleteCacheCluster").unwrap_err().code,
            "SignatureDoesNotMatch"
        );
        let mut other = Credentials::default();
        other.add("AKIDOTHER", "x", "1");
        let e = verify(
            &other,
            &Request {
                method: "POST",
                path: "/",
                query: None,
                headers: &map,
                body,
            },
            now,
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidClientTokenId");
        assert_eq!(e.status(), 403);
        let late = verify(
            &creds,
            &Request {
                method: "POST",
                path: "/",
                query: None,
                headers: &map,
                body,
            },
            now + Duration::from_secs(3600),
        )
        .unwrap_err();
        assert_eq!((late.code.as_str(), late.status()), ("RequestExpired", 400));
        let e = req(&HeaderMap::new(), body).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.status()),
            ("MissingAuthenticationToken", 403)
        );
        let mut bad = map.clone();
        bad.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Signature=abc".parse().unwrap(),
        );
        assert_eq!(req(&bad, body).unwrap_err().code, "IncompleteSignature");
    }
}
