use clap::Parser;

/// Exit code when the backend cannot start or stops on an error (its message
/// is the last line of its standard error).
const FAILED: i32 = 1;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ELASTICACHE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = elasticache_local::config::Args::parse();
    if let Err(e) = elasticache_local::config::serve(args).await {
        // One line, the causes after colons: what a user reads.
        eprintln!("elasticache-local: error: {e:#}");
        std::process::exit(FAILED);
    }
}
