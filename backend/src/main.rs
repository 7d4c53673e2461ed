use clap::Parser;

/// Exit code when the backend cannot start or stops on an error (its message
/// is the last line of its standard error).
const FAILED: i32 = 1;

/// glibc's malloc tunable that stops resident memory from ratcheting up.
///
/// glibc serves an allocation of 128 KiB or more with its own mapping, given
/// back when freed, but raises that threshold to the size of every such
/// block freed (up to 32 MiB): from then on those blocks come from the
/// arenas, whose pages stay resident. In the soak (drill 4) resident memory
/// grew by steps of 1.3–1.8 MiB, ~12 MiB an hour, while the live heap stayed
/// under 6 MiB; with the threshold fixed it stayed flat (+0.16 MiB over the
/// 120 cycles where it had grown by 2.1 MiB). A tunable is read only when a
/// process starts, hence [`with_malloc_tunables`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: &str = "glibc.malloc.mmap_threshold=131072";

/// glibc's tunable for how many arenas threads share.
///
/// Every request runs on tokio's blocking pool, whose threads come and go
/// with the load; glibc gives each new thread an arena of its own until
/// there are eight per core, and an arena's touched pages stay resident. In
/// the soak the last growth came in steps with each new pool thread (13 → 17
/// threads while other work loaded the machine). Two arenas per core bound
/// that; the pool's threads share them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn arena_max() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("glibc.malloc.arena_max={}", 2 * cores)
}

/// Start again (same pid, same arguments) with [`MMAP_THRESHOLD`] and
/// [`arena_max`] in `GLIBC_TUNABLES` when they are not there yet; a user's
/// own tunables are kept (one of theirs for the same name wins). If the exec
/// fails, go on as is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_malloc_tunables() {
    use std::os::unix::process::CommandExt;
    // Once only, whatever glibc makes of the variable.
    const DONE: &str = "ELASTICACHE_MALLOC_TUNED";
    if std::env::var_os(DONE).is_some() {
        return;
    }
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    let mut tunables: Vec<String> = current
        .split(':')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let theirs = tunables.len();
    let name = |t: &str| t.split('=').next().unwrap_or_default().to_owned();
    for ours in [MMAP_THRESHOLD.to_owned(), arena_max()] {
        if !tunables[..theirs].iter().any(|t| name(t) == name(&ours)) {
            tunables.push(ours);
        }
    }
    if tunables.len() == theirs {
        return;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_default();
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables.join(":"))
        .env(DONE, "1")
        .exec();
    eprintln!(
        "elasticache-local: could not set glibc's malloc tunables ({err}); going on without them"
    );
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    with_malloc_tunables();
    serve();
}

#[tokio::main]
async fn serve() {
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
