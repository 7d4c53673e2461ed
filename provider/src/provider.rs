//! The provider: HashiCorp's AWS provider block (hashicorp/aws 6.69.1,
//! attribute for attribute; the `endpoints` keys 6.x removed are still
//! accepted), and the registries.

use std::sync::Arc;

use tfplugin::{
    async_trait, Attribute, Block, ConfigureRequest, Diagnostic, Diagnostics, Nesting, Schema,
    Type, Value,
};

use crate::client::SharedConn;

#[derive(Default)]
pub struct Aws {
    conn: SharedConn,
}

fn s(name: &str) -> Attribute {
    Attribute::new(name, Type::String).optional()
}
fn b(name: &str) -> Attribute {
    Attribute::new(name, Type::Bool).optional()
}
fn n(name: &str) -> Attribute {
    Attribute::new(name, Type::Number).optional()
}
fn set_s(name: &str) -> Attribute {
    Attribute::new(name, Type::set(Type::String)).optional()
}
fn list_s(name: &str) -> Attribute {
    Attribute::new(name, Type::list(Type::String)).optional()
}
fn map_s(name: &str) -> Attribute {
    Attribute::new(name, Type::map(Type::String)).optional()
}

/// The `provider "aws" {}` block.
pub fn provider_schema() -> Schema {
    let mut root =
        Block::new()
            .attribute(s("access_key").description("The access key for API operations."))
            .attribute(set_s("allowed_account_ids"))
            .attribute(s("custom_ca_bundle"))
            .attribute(s("ec2_metadata_service_endpoint"))
            .attribute(s("ec2_metadata_service_endpoint_mode"))
            .attribute(set_s("forbidden_account_ids"))
            .attribute(s("http_proxy"))
            .attribute(s("https_proxy"))
            .attribute(b("insecure"))
            .attribute(n("max_retries").description(
                "The maximum number of times an AWS API request is retried (default 25).",
            ))
            .attribute(s("no_proxy"))
            .attribute(s("profile").description("The profile for API operations."))
            .attribute(s("region").description("The region where AWS operations will take place."))
            .attribute(s("retry_mode").description("`standard` or `adaptive`."))
            .attribute(s("s3_us_east_1_regional_endpoint"))
            .attribute(b("s3_use_path_style"))
            .attribute(s("secret_key").description("The secret key for API operations."))
            .attribute(list_s("shared_config_files"))
            .attribute(list_s("shared_credentials_files"))
            .attribute(b("skip_credentials_validation"))
            .attribute(s("skip_metadata_api_check"))
            .attribute(b("skip_region_validation"))
            .attribute(b("skip_requesting_account_id"))
            .attribute(s("sts_region"))
            .attribute(s("tag_policy_compliance").description(
                "The severity with which to enforce organizational tagging policies on resources managed by this provider instance. At this time this only includes compliance with required tag keys by resource type. Valid values are \"error\", \"warning\", and \"disabled\". When unset or \"disabled\", tag policy compliance will not be enforced by the provider. Can also be configured with the TF_AWS_TAG_POLICY_COMPLIANCE environment variable.",
            ))
            .attribute(s("token").description("Session token for temporary credentials."))
            .attribute(n("token_bucket_rate_limiter_capacity"))
            .attribute(b("use_dualstack_endpoint"))
            .attribute(list_s("user_agent").description(
                "Product details to append to the User-Agent string sent in all AWS API calls.",
            ))
            .attribute(b("use_fips_endpoint"))
            .block(
                "assume_role",
                Nesting::List,
                Block::new()
                    .attribute(s("duration"))
                    .attribute(s("external_id"))
                    .attribute(s("policy"))
                    .attribute(set_s("policy_arns"))
                    .attribute(s("role_arn"))
                    .attribute(s("session_name"))
                    .attribute(s("source_identity"))
                    .attribute(map_s("tags"))
                    .attribute(set_s("transitive_tag_keys")),
            )
            .block(
                "assume_role_with_web_identity",
                Nesting::List,
                Block::new()
                    .attribute(s("duration"))
                    .attribute(s("policy"))
                    .attribute(set_s("policy_arns"))
                    .attribute(s("role_arn"))
                    .attribute(s("session_name"))
                    .attribute(s("web_identity_token"))
                    .attribute(s("web_identity_token_file")),
            )
            .block(
                "default_tags",
                Nesting::List,
                Block::new().attribute(map_s("tags")),
            )
            .block(
                "ignore_tags",
                Nesting::List,
                Block::new()
                    .attribute(set_s("key_prefixes"))
                    .attribute(set_s("keys")),
            );
    let mut endpoints = Block::new();
    for svc in crate::endpoints::SERVICES {
        endpoints = endpoints.attribute(s(svc));
    }
    for svc in crate::endpoints::REMOVED_IN_6 {
        endpoints = endpoints.attribute(s(svc).deprecated_because(format!(
            "`{svc}` was removed from HashiCorp's AWS provider in 6.x; it is accepted and ignored here"
        )));
    }
    root = root.block("endpoints", Nesting::Set, endpoints);
    Schema::new(root)
}

#[async_trait]
impl tfplugin::Provider for Aws {
    fn schema(&self) -> Schema {
        provider_schema()
    }

    /// The ElastiCache types, then the module companions (which manage
    /// nothing; see `crate::companions`).
    fn resources(&self) -> Vec<Arc<dyn tfplugin::Resource>> {
        let mut all = crate::resources::all(&self.conn);
        all.extend(crate::companions::all());
        all
    }

    fn data_sources(&self) -> Vec<Arc<dyn tfplugin::DataSource>> {
        crate::data_sources::all(&self.conn)
    }

    /// A warning per `endpoints` key that HashiCorp's 6.x removed.
    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        let blocks = config
            .get("endpoints")
            .and_then(Value::elements)
            .unwrap_or_default();
        for svc in crate::endpoints::REMOVED_IN_6 {
            if blocks
                .iter()
                .any(|b| b.get(svc).is_some_and(|v| !v.is_null()))
            {
                d.push(Diagnostic::warning(
                    format!("endpoints.{svc}: removed in HashiCorp's AWS provider 6.x"),
                    format!(
                        "`{svc}` is no longer an `endpoints` argument of hashicorp/aws 6.x. \
                         This provider accepts and ignores it so that 5.x provider blocks keep working."
                    ),
                ));
            }
        }
        d
    }

    async fn configure(&self, req: ConfigureRequest) -> Diagnostics {
        match crate::client::configure(&req.config).await {
            Ok(meta) => {
                self.conn.set(meta);
                Diagnostics::default()
            }
            Err(d) => d.into(),
        }
    }
}
