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

impl Meta {
    /// The client for a resource's `region` (6.x's per-resource region):
    /// the provider's own client unless another region is named.
    pub fn client_in(&self, region: Option<&str>) -> aws_sdk_elasticache::Client {
        match region {
            Some(r) if !r.is_empty() && r != self.region => {
                let conf = self
                    .client
                    .config()
                    .to_builder()
                    .region(aws_sdk_elasticache::config::Region::new(r.to_owned()))
                    .build();
                aws_sdk_elasticache::Client::from_conf(conf)
            }
            _ => self.client.clone(),
        }
    }

    /// This provider's configuration for a resource in `region` (6.x's
    /// per-resource region): the same, with the client and `region` of
    /// that region when another is named.
    pub fn in_region(&self, region: Option<&str>) -> Meta {
        match region {
            Some(r) if !r.is_empty() && r != self.region => Meta {
                client: self.client_in(Some(r)),
                region: r.to_owned(),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }
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

/// The single (first) element of a list block, if any.
fn first_block<'a>(config: &'a Value, name: &str) -> Option<&'a Value> {
    config
        .get(name)
        .and_then(Value::elements)
        .and_then(<[Value]>::first)
        .filter(|v| !v.is_null())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::elements)
        .map(|es| {
            es.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Parse HashiCorp's `duration` ("1h", "15m", "900s", "1h30m").
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    Some(std::time::Duration::from_secs(total))
}

/// Build the ElastiCache client from the provider block: what applies to
/// ElastiCache is honoured through `aws-config` (region, static keys,
/// profile, shared config/credentials files, `assume_role`,
/// `assume_role_with_web_identity`, `endpoints { elasticache }` /
/// `AWS_ENDPOINT_URL_ELASTICACHE`, `max_retries`, `retry_mode`); the rest
/// is accepted and ignored. STS is never called except to assume a role.
// aws-config's ProfileFiles aliases are deprecated for aws-runtime's names;
// the aliases keep aws-runtime out of our dependencies.
#[allow(deprecated)]
pub async fn configure(config: &Value) -> Result<Meta, tfplugin::Diagnostic> {
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    use aws_config::retry::{RetryConfig, RetryMode};
    use aws_config::{BehaviorVersion, Region};

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = attr_str(config, "region") {
        loader = loader.region(Region::new(region));
    }
    if let Some(profile) = attr_str(config, "profile") {
        loader = loader.profile_name(profile);
    }
    let cfg_files = strings(config.get("shared_config_files"));
    let cred_files = strings(config.get("shared_credentials_files"));
    if !cfg_files.is_empty() || !cred_files.is_empty() {
        let mut files = ProfileFiles::builder()
            .include_default_config_file(cfg_files.is_empty())
            .include_default_credentials_file(cred_files.is_empty());
        for f in cfg_files {
            files = files.with_file(ProfileFileKind::Config, expand_home(&f));
        }
        for f in cred_files {
            files = files.with_file(ProfileFileKind::Credentials, expand_home(&f));
        }
        loader = loader.profile_files(files.build());
    }
    if let (Some(ak), Some(sk)) = (
        attr_str(config, "access_key"),
        attr_str(config, "secret_key"),
    ) {
        let creds = aws_credential_types::Credentials::new(
            ak,
            sk,
            attr_str(config, "token"),
            None,
            "terraform-provider-block",
        );
        loader = loader.credentials_provider(creds);
    }
    // HashiCorp's default is 25 retries; `max_retries` counts retries, the
    // SDK counts attempts.
    let retries = config
        .get("max_retries")
        .and_then(Value::as_number)
        .and_then(tfplugin::Number::as_u64)
        .unwrap_or(25);
    let mode = match attr_str(config, "retry_mode").as_deref() {
        Some("adaptive") => RetryMode::Adaptive,
        _ => RetryMode::Standard,
    };
    loader = loader.retry_config(
        RetryConfig::standard()
            .with_retry_mode(mode)
            .with_max_attempts(u32::try_from(retries).unwrap_or(25).saturating_add(1)),
    );
    let mut sdk = loader.load().await;

    let sts_region = attr_str(config, "sts_region").map(Region::new);
    if let Some(ar) = first_block(config, "assume_role") {
        if let Some(role) = attr_str(ar, "role_arn") {
            let mut b = aws_config::sts::AssumeRoleProvider::builder(role).session_name(
                attr_str(ar, "session_name").unwrap_or_else(|| {
                    format!("terraform-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"))
                }),
            );
            if let Some(id) = attr_str(ar, "external_id") {
                b = b.external_id(id);
            }
            if let Some(p) = attr_str(ar, "policy") {
                b = b.policy(p);
            }
            let arns = strings(ar.get("policy_arns"));
            if !arns.is_empty() {
                b = b.policy_arns(arns);
            }
            if let Some(d) = attr_str(ar, "duration").as_deref().and_then(parse_duration) {
                b = b.session_length(d);
            }
            if let Some(tags) = ar.get("tags").and_then(crate::tags::from_value) {
                if !tags.is_empty() {
                    b = b.tags(tags);
                }
            }
            if let Some(r) = sts_region.clone().or_else(|| sdk.region().cloned()) {
                b = b.region(r);
            }
            let provider = b.configure(&sdk).build().await;
            tracing::info!("assuming role from assume_role block");
            sdk = sdk
                .into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                )
                .build();
        }
    }
    if let Some(wi) = first_block(config, "assume_role_with_web_identity") {
        if let (Some(role), Some(file)) = (
            attr_str(wi, "role_arn"),
            attr_str(wi, "web_identity_token_file"),
        ) {
            use aws_config::web_identity_token::{
                StaticConfiguration, WebIdentityTokenCredentialsProvider,
            };
            let pc = aws_config::provider_config::ProviderConfig::default()
                .with_region(sts_region.clone().or_else(|| sdk.region().cloned()));
            let provider = WebIdentityTokenCredentialsProvider::builder()
                .configure(&pc)
                .static_configuration(StaticConfiguration {
                    web_identity_token_file: expand_home(&file).into(),
                    role_arn: role,
                    session_name: attr_str(wi, "session_name")
                        .unwrap_or_else(|| "terraform-provider-aws".into()),
                })
                .build();
            sdk = sdk
                .into_builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                )
                .build();
        }
    }

    let Some(region) = sdk.region().map(|r| r.as_ref().to_owned()) else {
        return Err(tfplugin::Diagnostic::error(
            "Invalid provider configuration",
            "The AWS provider needs a region: set `region` in the provider block, \
             or AWS_REGION / AWS_DEFAULT_REGION, or a region in the shared config profile.",
        ));
    };

    let mut ec = aws_sdk_elasticache::config::Builder::from(&sdk);
    let endpoint = first_block(config, "endpoints")
        .and_then(|e| attr_str(e, "elasticache"))
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_ELASTICACHE").ok())
        .filter(|s| !s.is_empty());
    if let Some(url) = &endpoint {
        ec = ec.endpoint_url(url);
    }
    if config.get("use_fips_endpoint").and_then(Value::as_bool) == Some(true) {
        ec = ec.use_fips(true);
    }
    if config
        .get("use_dualstack_endpoint")
        .and_then(Value::as_bool)
        == Some(true)
    {
        ec = ec.use_dual_stack(true);
    }
    tracing::info!(%region, endpoint = endpoint.as_deref().unwrap_or("(AWS)"), "configured ElastiCache client");

    let (default_tags, default_tags_unknown) = match first_block(config, "default_tags") {
        None => (Vec::new(), false),
        Some(dt) => match dt.get("tags") {
            None | Some(Value::Null) => (Vec::new(), false),
            Some(v) => match crate::tags::from_value(v) {
                Some(t) => (t.into_iter().collect(), false),
                None => (Vec::new(), true),
            },
        },
    };
    let it = first_block(config, "ignore_tags");
    Ok(Meta {
        client: aws_sdk_elasticache::Client::from_conf(ec.build()),
        region,
        default_tags,
        default_tags_unknown,
        ignore_tag_keys: strings(it.and_then(|v| v.get("keys"))),
        ignore_tag_prefixes: strings(it.and_then(|v| v.get("key_prefixes"))),
    })
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_owned(),
    }
}
