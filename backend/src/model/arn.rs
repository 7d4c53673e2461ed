//! ARNs in AWS's form: `arn:aws:elasticache:<region>:<account>:<type>:<name>`.

use super::{Error, Fault, Result, Scope};

#[must_use]
pub fn arn(scope: &Scope, kind: &str, name: &str) -> String {
    format!(
        "arn:aws:elasticache:{}:{}:{kind}:{name}",
        scope.region, scope.account
    )
}

/// A parsed resource ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub scope: Scope,
    pub kind: String,
    pub name: String,
}

pub fn parse(s: &str) -> Result<Arn> {
    let bad = || Error::new(Fault::InvalidARN, format!("The ARN {s} is not valid."));
    let parts: Vec<&str> = s.splitn(7, ':').collect();
    if parts.len() != 7
        || parts[0] != "arn"
        || parts[2] != "elasticache"
        || parts[5].is_empty()
        || parts[6].is_empty()
    {
        return Err(bad());
    }
    Ok(Arn {
        scope: Scope::new(parts[4], parts[3]),
        kind: parts[5].to_owned(),
        name: parts[6].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = Scope::new("000000000000", "us-east-1");
        let a = arn(&s, "cluster", "c1");
        assert_eq!(a, "arn:aws:elasticache:us-east-1:000000000000:cluster:c1");
        assert_eq!(
            parse(&a).unwrap(),
            Arn {
                scope: s,
                kind: "cluster".into(),
                name: "c1".into()
            }
        );
        assert_eq!(
            parse("arn:aws:s3:::x").unwrap_err().fault,
            Fault::InvalidARN
        );
    }
}
