//! The ElastiCache client, built once from the provider block (the only place
//! that reads credentials, region and endpoints).

use std::sync::{Arc, OnceLock};

use tfplugin::Value;

/// What every resource needs once the provider is configured.
#[derive(Clone, Debug)]
pub struct Meta {
    pub client: aws_sdk_elasticache::Client,
    pub region: String,
    /// `default_tags { tags = {…} }` of the provider block.
    pub default_tags: Vec<(String, String)>,
    /// The provider's `default_tags` were not known when it was configured
    /// (then every planned `tags_all` is unknown).
    pub default_tags_unknown: bool,
    /// `ignore_tags { keys, key_prefixes }` of the provider block.
    pub ignore_tag_keys: Vec<String>,
    pub ignore_tag_prefixes: Vec<String>,
}

/// Shared between the provider and every resource: set by `configure`.
#[derive(Default, Debug)]
pub struct Conn(OnceLock<Meta>);

impl Conn {
    pub fn set(&self, meta: Meta) {
        let _ = self.0.set(meta);
    }

    /// The configured client, or the diagnostic Terraform shows when a
    /// resource is used before the provider is configured.
    pub fn get(&self) -> Result<&Meta, tfplugin::Diagnostics> {
        self.0.get().ok_or_else(|| {
            tfplugin::Diagnostic::error(
                "provider not configured",
                "the aws provider block was not configured before use",
            )
            .into()
        })
    }
}

pub type SharedConn = Arc<Conn>;

/// Read a string attribute of the provider block (null or unknown → None).
pub fn attr_str(config: &Value, name: &str) -> Option<String> {
    config.get(name).and_then(Value::as_str).map(str::to_owned)
}
