//! Identifier and tag rules as AWS applies them.

use super::{Error, Fault, Result, Tag};

/// Tags a resource may have.
pub const MAX_TAGS: usize = 50;

/// A tag list as AWS accepts it: at most `MAX_TAGS`, keys of 1–128 characters
/// not starting with `aws:`, values of at most 256.
pub fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::new(
            Fault::TagQuotaPerResourceExceeded,
            format!(
                "The request cannot be processed: a resource can have at most {MAX_TAGS} tags."
            ),
        ));
    }
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 || t.key.starts_with("aws:")
        {
            return Err(Error::invalid(format!(
                "Invalid tag key or value: '{}'.",
                t.key
            )));
        }
    }
    Ok(())
}

/// The prefix of the resources behind serverless caches, which the API never
/// shows: no identifier given through the API may have it (`ops` refuses it),
/// and [`identifier`] lets it through for the model's own records.
pub const INTERNAL_PREFIX: &str = "sls--";

/// Whether a record's identifier is an internal one (a serverless cache's
/// hidden group, cluster or snapshot, `automatic.sls--…` included), which
/// nothing a client sees shows.
#[must_use]
pub fn is_internal(id: &str) -> bool {
    id.starts_with(INTERNAL_PREFIX) || id.contains(&format!(".{INTERNAL_PREFIX}"))
}

/// Cluster, replication group and similar identifiers: 1–`max` characters,
/// letters, digits and hyphens, starting with a letter, no trailing hyphen and
/// no two consecutive hyphens. AWS stores them lower-cased.
pub fn identifier(what: &str, param: &str, value: &str, max: usize) -> Result<String> {
    let v = value.to_ascii_lowercase();
    if let Some(rest) = v.strip_prefix(INTERNAL_PREFIX) {
        return identifier(what, param, rest, max).map(|_| v);
    }
    let ok = !v.is_empty()
        && v.len() <= max
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.ends_with('-')
        && !v.contains("--");
    if ok {
        Ok(v)
    } else {
        Err(Error::invalid(format!(
            "The parameter {param} is not a valid identifier. {what} identifiers must begin with a letter; \
             must contain only ASCII letters, digits, and hyphens; must not end with a hyphen or contain \
             two consecutive hyphens; and must be 1 to {max} characters long."
        )))
    }
}

/// Parameter and subnet group names: up to 255 characters, letters, digits,
/// hyphens (and dots for parameter groups), starting with a letter.
pub fn group_name(param: &str, value: &str, allow_dots: bool) -> Result<String> {
    let v = value.to_ascii_lowercase();
    let ok = !v.is_empty()
        && v.len() <= 255
        && v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (allow_dots && c == '.')
        })
        && !v.ends_with('-')
        && !v.contains("--");
    if ok {
        Ok(v)
    } else {
        Err(Error::invalid(format!(
            "The parameter {param} must begin with a letter and contain only ASCII letters, digits, and hyphens, \
             must not end with a hyphen or contain two consecutive hyphens, and must be 1 to 255 characters long."
        )))
    }
}

/// `ddd:hh24:mi-ddd:hh24:mi`, at least 60 minutes (maintenance windows).
pub fn maintenance_window(value: &str) -> Result<String> {
    let v = value.to_ascii_lowercase();
    let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let parse = |s: &str| -> Option<u32> {
        let (d, t) = s.split_once(':')?;
        let day = u32::try_from(days.iter().position(|x| *x == d)?).ok()?;
        let (h, m) = t.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(day * 1440 + h * 60 + m)
    };
    let ok = v
        .split_once('-')
        .and_then(|(a, b)| Some((parse(a)?, parse(b)?)))
        .is_some_and(|(a, b)| {
            let len = (b + 7 * 1440 - a) % (7 * 1440);
            len >= 60
        });
    if ok {
        Ok(v)
    } else {
        Err(Error::invalid(format!(
            "Invalid maintenance window {value}: it must be in the format ddd:hh24:mi-ddd:hh24:mi and at least 60 minutes long."
        )))
    }
}

/// `hh24:mi-hh24:mi`, at least 60 minutes (snapshot windows).
pub fn snapshot_window(value: &str) -> Result<String> {
    let parse = |s: &str| -> Option<u32> {
        let (h, m) = s.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let ok = value
        .split_once('-')
        .and_then(|(a, b)| Some((parse(a)?, parse(b)?)))
        .is_some_and(|(a, b)| (b + 1440 - a) % 1440 >= 60);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(format!(
            "Invalid snapshot window {value}: it must be in the format hh24:mi-hh24:mi and at least 60 minutes long."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(
            identifier("Cluster", "CacheClusterId", "My-Cluster1", 50).unwrap(),
            "my-cluster1"
        );
        for bad in ["", "1abc", "a--b", "abc-", "a_b", &"a".repeat(51)] {
            assert!(
                identifier("Cluster", "CacheClusterId", bad, 50).is_err(),
                "{bad}"
            );
        }
        assert!(group_name("CacheParameterGroupName", "my.pg-1", true).is_ok());
        assert!(group_name("CacheSubnetGroupName", "my.sg", false).is_err());
    }

    #[test]
    fn windows() {
        assert_eq!(
            maintenance_window("Sun:05:00-Sun:06:00").unwrap(),
            "sun:05:00-sun:06:00"
        );
        assert!(maintenance_window("sun:05:00-sun:05:30").is_err());
        assert!(maintenance_window("sat:23:30-sun:00:30").is_ok());
        assert!(snapshot_window("05:00-06:00").is_ok());
        assert!(snapshot_window("05:00-05:10").is_err());
    }
}
