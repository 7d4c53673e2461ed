//! Which container image runs which engine version.
//!
//! Defaults are the official images; an override table (env `ELASTICACHE_IMAGES`,
//! a JSON file path or inline JSON) maps `engine`, `engine:major.minor` or
//! `engine:version` to another image, e.g. the `FROM scratch` images built by
//! `tests/images/build.sh` on machines that cannot pull.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;

use super::EngineKind;

/// Env var naming the override table (a path, or inline JSON starting with `{`).
pub const IMAGES_ENV: &str = "ELASTICACHE_IMAGES";

/// `major.minor` of a version string (`7.1` -> `7.1`, `6.x` -> `6.x`,
/// `1.6.22` -> `1.6`, `5` -> `5`).
fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The official image for an engine version.
#[must_use]
pub fn default_image(engine: EngineKind, version: &str) -> String {
    let mm = major_minor(version.trim());
    match engine {
        EngineKind::Redis => {
            let tag = match mm.as_str() {
                // ElastiCache "7.1" is Redis OSS 7.2-compatible (AWS's 7.1 line is
                // built on Redis 7.2), so the closest official image is 7.2.
                "7.1" | "7.2" | "7" | "7.x" | "" => "7.2",
                "7.0" => "7.0",
                "6.x" | "6" | "6.2" => "6.2",
                "6.0" => "6.0",
                "5.0" | "5" => "5.0",
                "4.0" | "4" => "4.0",
                "3.2" | "3" => "3.2",
                other => return format!("redis:{other}-alpine"),
            };
            format!("redis:{tag}-alpine")
        }
        EngineKind::Valkey => {
            let tag = match mm.as_str() {
                "7.2" | "7" => "7.2",
                "8.0" => "8.0",
                "8.1" | "8" | "" => "8.1",
                other => return format!("valkey/valkey:{other}-alpine"),
            };
            format!("valkey/valkey:{tag}-alpine")
        }
        EngineKind::Memcached => {
            let tag = match mm.as_str() {
                "1.6" | "1" | "" => "1.6",
                "1.5" => "1.5",
                "1.4" => "1.4",
                other => return format!("memcached:{other}-alpine"),
            };
            format!("memcached:{tag}-alpine")
        }
    }
}

/// Defaults plus overrides; most specific override key wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageTable {
    overrides: HashMap<String, String>,
}

impl ImageTable {
    /// Only the official defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse a JSON object of `key -> image`.
    pub fn from_json(json: &str) -> anyhow::Result<Self> {
        let overrides: HashMap<String, String> =
            serde_json::from_str(json).context("image table must be a JSON object of strings")?;
        Ok(Self { overrides })
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read image table {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("parse image table {}", path.display()))
    }

    /// From `ELASTICACHE_IMAGES` (path or inline JSON); defaults when unset or empty.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var(IMAGES_ENV) {
            Ok(v) if v.trim().starts_with('{') => Self::from_json(&v),
            Ok(v) if !v.trim().is_empty() => Self::from_file(Path::new(v.trim())),
            _ => Ok(Self::new()),
        }
    }

    /// Add or replace one override (`redis`, `redis:6.2`, `redis:6.2.6`).
    pub fn set(&mut self, key: impl Into<String>, image: impl Into<String>) {
        self.overrides.insert(key.into(), image.into());
    }

    /// The image to run for this engine version.
    #[must_use]
    pub fn image_for(&self, engine: EngineKind, version: &str) -> String {
        let e = engine.as_str();
        let version = version.trim();
        let candidates = [
            format!("{e}:{version}"),
            format!("{e}:{}", major_minor(version)),
            e.to_string(),
        ];
        candidates
            .iter()
            .find_map(|k| self.overrides.get(k).cloned())
            .unwrap_or_else(|| default_image(engine, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        use EngineKind::*;
        assert_eq!(default_image(Redis, "7.1"), "redis:7.2-alpine");
        assert_eq!(default_image(Redis, "7.0"), "redis:7.0-alpine");
        assert_eq!(default_image(Redis, "6.2"), "redis:6.2-alpine");
        assert_eq!(default_image(Redis, "6.x"), "redis:6.2-alpine");
        assert_eq!(default_image(Redis, "6.0"), "redis:6.0-alpine");
        assert_eq!(default_image(Redis, "5.0.6"), "redis:5.0-alpine");
        assert_eq!(default_image(Valkey, "7.2"), "valkey/valkey:7.2-alpine");
        assert_eq!(default_image(Valkey, "8.0"), "valkey/valkey:8.0-alpine");
        assert_eq!(default_image(Valkey, "8.1"), "valkey/valkey:8.1-alpine");
        assert_eq!(default_image(Memcached, "1.6.22"), "memcached:1.6-alpine");
        assert_eq!(default_image(Memcached, "1.5.16"), "memcached:1.5-alpine");
    }

    #[test]
    fn overrides_most_specific_wins() {
        let t = ImageTable::from_json(
            r#"{"redis":"localtest/redis:7.0","redis:6.2":"r62","redis:6.2.6":"r626",
                "memcached":"localtest/memcached:1.6"}"#,
        )
        .unwrap();
        use EngineKind::*;
        assert_eq!(t.image_for(Redis, "7.1"), "localtest/redis:7.0");
        assert_eq!(t.image_for(Redis, "6.2"), "r62");
        assert_eq!(t.image_for(Redis, "6.2.4"), "r62");
        assert_eq!(t.image_for(Redis, "6.2.6"), "r626");
        assert_eq!(t.image_for(Memcached, "1.6.22"), "localtest/memcached:1.6");
        assert_eq!(t.image_for(Valkey, "8.0"), "valkey/valkey:8.0-alpine");
    }

    #[test]
    fn from_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("images.json");
        std::fs::write(&p, r#"{"valkey":"localtest/redis:7.0"}"#).unwrap();
        let t = ImageTable::from_file(&p).unwrap();
        assert_eq!(
            t.image_for(EngineKind::Valkey, "8.1"),
            "localtest/redis:7.0"
        );
        assert!(ImageTable::from_json("[1]").is_err());
        assert!(ImageTable::from_file(&dir.path().join("missing.json")).is_err());
    }
}
