#!/usr/bin/env bash
# Benchmarks (issue 5): our backend and provider next to moto's server,
# HashiCorp's AWS provider and the engines' own start floor, in one run.
#
#   tests/bench.sh            quick mode (the CI smoke run, < 10 min): debug build,
#                             few iterations; report in target/bench/performance-quick.md
#   tests/bench.sh --full     full mode: release build, more iterations; rewrites
#                             docs/performance.md
#   tests/bench.sh [--quick|--full] --only api,lifecycle,provider,footprint,scale
#
# It builds what it needs (elasticache-local, terraform-provider-aws and the `bench`
# binary of the tests crate, side by side), installs moto from PyPI when missing
# (`pip install 'moto[server]'`), builds the Docker test images when Docker answers
# and ELASTICACHE_IMAGES is not set, and runs tests/src/bin/bench. Benchmarks never
# assert times: the exit status is non-zero only when the harness itself breaks.
#
# Env: BENCH_PROFILE=debug|release   override the build profile of the mode
#      ELASTICACHE_TEST_RUNTIMES=process   leave the Docker runtime out
#      BENCH_API_OPS=CreateCacheCluster    measure only the named API operations
#                                    (comma-separated; use with --out, the report is partial)
#      BENCH_KEEP_WORK=1             keep the scratch directory (seeded data dirs) for profiling
#      TF_PLUGIN_MIRROR=DIR          mirror holding hashicorp/aws 5.100.0 (default /opt/tf-plugins)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=--quick
args=()
for a in "$@"; do
  case "$a" in
    --quick|--full) mode=$a ;;
    *) args+=("$a") ;;
  esac
done
profile=${BENCH_PROFILE:-$([ "$mode" = --full ] && echo release || echo debug)}
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/bench
mkdir -p "$work"
say() { printf '\n== bench: %s\n' "$*"; }

say "moto"
if ! python3 -c 'import moto.server, flask' 2>/dev/null; then
  python3 -m pip install -q 'moto[server]' >"$work/pip.log" 2>&1 \
    || echo "could not install moto (see $work/pip.log): the API section runs without it"
fi
python3 -c 'import moto; print("moto", moto.__version__)' 2>/dev/null || true

case ",${ELASTICACHE_TEST_RUNTIMES:-process,docker}," in
  *,docker,*)
    if [ -z "${ELASTICACHE_IMAGES:-}" ] && docker info >/dev/null 2>&1; then
      say "Docker test images"
      tests/images/build.sh "$work/images.json"
      export ELASTICACHE_IMAGES="$work/images.json"
    fi ;;
esac

say "build ($profile)"
flags=()
[ "$profile" = release ] && flags+=(--release)
# The workspace's binaries, the selection the tests build too: features unify the
# same way, so a CI run after `cargo test` reuses what it built.
cargo build "${flags[@]}" --workspace --bins

say "run ($mode)"
out=()
[ "$mode" = --quick ] && out=(--out "$work/performance-quick.md")
start=$(date +%s)
"$target/$profile/bench" "$mode" "${out[@]}" "${args[@]}"
echo "bench: $mode took $(( $(date +%s) - start )) s"
