//! The Query protocol, and nothing else: form parameters in, XML out.
//! It knows the shapes of the API model and none of the rules.

#[cfg(test)]
mod codegen;
pub mod de;
pub mod error;
pub mod generated;
pub mod ser;
pub mod shapes;

pub use de::Node;
pub use error::WireError;
pub use generated::op;
pub use shapes::MODEL;

/// An operation of the API model (markers in [`op`]): its name, the element
/// wrapping its result, and its typed input and output (`crate::dto`).
pub trait Operation {
    const NAME: &'static str;
    const RESULT: Option<&'static str>;
    type Input: de::FromQuery;
    type Output: ser::ToXml;
}

/// The caller as the request names it: account from the access key, region from
/// the SigV4 credential scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub region: String,
}

/// Read the caller from an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, …`
/// header or an `X-Amz-Credential` query parameter. A 12-digit access key names
/// the account; any other key is the default account `000000000000`.
#[must_use]
pub fn caller_from(authorization: Option<&str>, default_region: &str) -> Caller {
    let cred = authorization.and_then(|h| {
        h.split([',', ' '])
            .find_map(|part| part.trim().strip_prefix("Credential="))
            .or_else(|| {
                if h.contains('/') && !h.contains(' ') {
                    Some(h)
                } else {
                    None
                }
            })
    });
    let mut account = "000000000000".to_owned();
    let mut region = default_region.to_owned();
    if let Some(cred) = cred {
        let parts: Vec<&str> = cred.split('/').collect();
        if let Some(key) = parts.first() {
            if key.len() == 12 && key.chars().all(|c| c.is_ascii_digit()) {
                (*key).clone_into(&mut account);
            }
        }
        if let Some(r) = parts.get(2) {
            if !r.is_empty() {
                (*r).clone_into(&mut region);
            }
        }
    }
    Caller { account, region }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_knows_shapes_not_rules() {
        // query/ and dto/ never reach into the domain.
        let sources = [
            ("query/mod.rs", include_str!("mod.rs")),
            ("query/de.rs", include_str!("de.rs")),
            ("query/ser.rs", include_str!("ser.rs")),
            ("query/error.rs", include_str!("error.rs")),
            ("query/shapes.rs", include_str!("shapes.rs")),
            ("query/generated.rs", include_str!("generated.rs")),
            ("dto/mod.rs", include_str!("../dto/mod.rs")),
            ("dto/generated.rs", include_str!("../dto/generated.rs")),
        ];
        for (file, text) in sources {
            for line in text.lines().filter(|l| l.trim_start().starts_with("use ")) {
                for layer in ["model", "ops", "worker", "engine", "store", "server"] {
                    assert!(
                        !line.contains(&format!("crate::{layer}")),
                        "{file} imports {layer}: {line}"
                    );
                }
            }
        }
    }

    #[test]
    fn caller_from_sigv4_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/elasticache/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(
            caller_from(Some(h), "us-east-1"),
            Caller {
                account: "000000000000".into(),
                region: "us-west-2".into()
            }
        );
        let h =
            "AWS4-HMAC-SHA256 Credential=123456789012/20260101/eu-west-1/elasticache/aws4_request";
        assert_eq!(caller_from(Some(h), "us-east-1").account, "123456789012");
        assert_eq!(caller_from(None, "us-east-1").region, "us-east-1");
    }
}
