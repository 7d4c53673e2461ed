//! `terraform-provider-aws`: HashiCorp-compatible `aws_elasticache_*` resources,
//! served over tfplugin6. Terraform starts it; run by hand it explains itself.

mod client;
mod companions;
mod data_sources;
mod diag;
mod endpoints;
mod provider;
mod region;
mod resources;
mod state;
mod tags;
mod wait;

/// The address users put in `required_providers { aws = { source = … } }`.
pub const SOURCE: &str = "registry.terraform.io/elasticache-local/aws";

#[tokio::main]
async fn main() {
    // Terraform reads the provider's stderr as its log (TF_LOG / TF_LOG_PROVIDER).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TF_LOG_PROVIDER_RUST")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
    tfplugin::serve(SOURCE, provider::Aws::default()).await;
}
