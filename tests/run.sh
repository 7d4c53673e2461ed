#!/usr/bin/env bash
# Runs every test of the project, on a fresh Debian machine with Rust:
#   1. installs what the tests need (Debian docker.io, redis-server, redis-tools,
#      memcached, protobuf-compiler, libprotobuf-dev; PyPI botocore and awscli),
#   2. starts dockerd when none answers (detached, logging to a file; stopped at the end),
#   3. builds the test engine images FROM scratch from the Debian binaries
#      (localtest/redis:7.0, localtest/memcached:1.6: no registry is needed),
#   4. runs `cargo test --workspace` with both runtimes (process and docker),
#   5. runs the shared conformance check (../shared/conformance/check.py, when present)
#      against a backend on each runtime, for the families built so far,
#   6. runs the benchmarks in quick mode (tests/bench.sh --quick: a smoke run that never
#      fails on slowness, only when the harness breaks; report in target/bench/).
#
# Env: ELASTICACHE_TEST_RUNTIMES=process   test the process runtime only (no Docker)
#      TEST_WORK=DIR                       where logs and images.json go (default: target/test-work)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=${TEST_WORK:-$root/target/test-work}
mkdir -p "$work"
say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

runtimes=${ELASTICACHE_TEST_RUNTIMES:-process,docker}
want_docker=0
case ",$runtimes," in *,docker,*) want_docker=1 ;; esac

say "packages"
need=()
pkgs=(redis-server redis-tools memcached protobuf-compiler libprotobuf-dev)
[ "$want_docker" = 1 ] && pkgs+=(docker.io)
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$work/apt.log" 2>&1 || {
    tail -20 "$work/apt.log"; exit 1; }
fi
python3 -c 'import botocore' 2>/dev/null || python3 -m pip install -q botocore
command -v aws >/dev/null 2>&1 || python3 -m pip install -q awscli
echo "ok"

started_dockerd=
cleanup() {
  if [ -n "$started_dockerd" ]; then
    echo "stopping the dockerd this script started (pid $started_dockerd)"
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
  fi
}
trap cleanup EXIT

if [ "$want_docker" = 1 ]; then
  say "docker"
  if ! docker info >/dev/null 2>&1; then
    echo "no Docker daemon answers: starting dockerd (log: $work/dockerd.log)"
    as_root setsid dockerd >"$work/dockerd.log" 2>&1 </dev/null &
    started_dockerd=$!
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; echo "dockerd did not start"; exit 1; }
  fi
  echo "ok"
  say "test engine images"
  tests/images/build.sh "$work/images.json"
  export ELASTICACHE_IMAGES="$work/images.json"
fi
export ELASTICACHE_TEST_RUNTIMES="$runtimes"

say "cargo test (runtimes: $runtimes)"
cargo test --workspace 2>&1 | tee "$work/cargo-test.log"

say "conformance"
tests/conformance.sh "$runtimes"

say "benchmarks (quick mode: never fails on slowness)"
tests/bench.sh --quick 2>&1 | tee "$work/bench.log"
