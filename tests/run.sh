#!/usr/bin/env bash
# Runs every test of the project, on a fresh Debian machine with Rust:
#   1. installs what the tests need (Debian docker.io, redis-server, redis-tools,
#      memcached, protobuf-compiler, libprotobuf-dev, chromium and chromium-driver (the dashboard's browser test); PyPI botocore >= 1.44.8, awscli, boto3),
#   2. starts dockerd when none answers (detached, logging to a file; stopped at the end),
#   3. builds the test engine images FROM scratch from the Debian binaries
#      (localtest/redis:7.0, localtest/memcached:1.6: no registry is needed),
#   4. runs every test of the workspace on the process runtime, and on Docker too
#      every test whose subject differs there (containers, their addresses, files,
#      images and restarts; clients of the API, such as both providers, run on one
#      runtime, `ELASTICACHE_TEST_EVERYWHERE=1` runs them on both), in three groups
#      side by side: HashiCorp's provider (terraform_aws::*), our provider's
#      acceptance tests, and everything else,
#      Beside them (mostly network and disk), the README's first command on a clean
#      Debian machine: tests/quickstart-clean.sh runs examples/quickstart.sh and its
#      `down` in a fresh `debootstrap --variant=minbase bookworm` chroot (its log:
#      $TEST_WORK/quickstart-clean.log); it fails the run when the quickstart fails,
#   5. runs examples/quickstart.sh and tears it down again (the README's first command,
#      on this machine: with Terraform when it is on the PATH),
#   6. runs the shared conformance check (../shared/conformance/check.py, when present)
#      against a backend on each runtime, for the families built so far,
#   7. runs the benchmarks in quick mode (tests/bench.sh --quick: a smoke run that never
#      fails on slowness, only when the harness breaks; report in target/bench/).
#
# Env: ELASTICACHE_TEST_RUNTIMES=process   test the process runtime only (no Docker)
#      TEST_WORK=DIR                       where logs and images.json go (default: target/test-work)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=${TEST_WORK:-$root/target/test-work}
mkdir -p "$work"
# Tests keep what a person would look at under it (the dashboard's screenshot).
export TEST_WORK="$work"
say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

runtimes=${ELASTICACHE_TEST_RUNTIMES:-process,docker}
want_docker=0
case ",$runtimes," in *,docker,*) want_docker=1 ;; esac

say "packages"
# shellcheck source=tests/deps.sh
. "$root/tests/deps.sh"
pkgs=(redis-server redis-tools memcached protobuf-compiler libprotobuf-dev chromium chromium-driver)
[ "$want_docker" = 1 ] && pkgs+=(docker.io)
need_packages "$work/apt.log" "${pkgs[@]}"
# The shared conformance checker needs botocore's model of all 77 operations
# (botocore >= 1.44.8); awscli and boto3 pin botocore, so they move with it.
# redis (redis-py) is the cluster-aware client the serverless tests use.
has_model() {
  python3 -c 'import botocore.session as s, sys; sys.exit(len(s.get_session().get_service_model("elasticache").operation_names) < 77)' 2>/dev/null
}
if ! has_model || ! command -v aws >/dev/null 2>&1 || ! python3 -c 'import redis' 2>/dev/null; then
  python3 -m pip install -q --upgrade 'botocore>=1.44.8' awscli boto3 redis >"$work/pip.log" 2>&1 || {
    tail -20 "$work/pip.log"; exit 1; }
  has_model || { echo "botocore >= 1.44.8 did not install (see $work/pip.log)"; exit 1; }
fi
# Nodes and endpoints answer on addresses of their own in 127.0.0.0/8 on the
# cluster's port (6379, 11211); a server on a wildcard address of that port (such as
# the one Debian's package may start) takes the port on every address. Stop it.
for svc in redis-server:6379 memcached:11211; do
  if command -v ss >/dev/null 2>&1 && ss -Hltn "sport = :${svc#*:}" | grep -qE '(0\.0\.0\.0|\*|\[::\]):'; then
    echo "stopping ${svc%%:*}: it listens on a wildcard address of port ${svc#*:}"
    as_root service "${svc%%:*}" stop >/dev/null 2>&1 || as_root pkill -x "${svc%%:*}" || true
  fi
done
echo "ok"

started_dockerd=
clean_pid=
cleanup() {
  # The clean-machine quickstart unmounts its chroot itself: let it finish.
  if [ -n "$clean_pid" ]; then wait "$clean_pid" 2>/dev/null || true; fi
  # A quickstart that failed half-way leaves its backend up: stop it.
  if [ -n "${qdir:-}" ] && [ -f "$qdir/backend.pid" ]; then kill "$(cat "$qdir/backend.pid")" 2>/dev/null || true; fi
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
if [ -d "${CARGO_TARGET_DIR:-$root/target}/debug/deps" ]; then
  echo "building the tests (up to date: seconds)…"
else
  echo "building the tests: the first build takes 5-10 minutes on 2 cores…"
fi
cargo test --workspace --no-run -q 2>&1 | tail -5
# The binaries the acceptance harness and the scripts below start, built with the
# same feature selection (nothing rebuilds afterwards).
cargo build -q --workspace --bins 2>&1 | tail -5
# The quickstart on a clean machine: mostly downloads and package installs, so it
# runs beside the tests (joined below); it shares the build just made.
clean_log="$work/quickstart-clean.log"
tests/quickstart-clean.sh >"$clean_log" 2>&1 </dev/null &
clean_pid=$!
# Three groups run side by side: most tests wait (on Terraform's waiters — HashiCorp's
# sleep 30 s before their first look and 10 s between looks — on engines starting,
# on replication), so on 2 cores three processes finish sooner than one:
#   1. HashiCorp's provider against our backend (terraform_aws::*),
#   2. the acceptance tests of our provider (tests/acceptance),
#   3. everything else: unit tests, the backend's integration tests, the drills, the
#      provider's protocol tests (every other test target of the workspace).
hashicorp_log="$work/cargo-test-hashicorp.log"
acceptance_log="$work/cargo-test-acceptance.log"
# HashiCorp's tests sleep in its waiters nearly all the time: all five at once
# (terraform_aws_provider runs its runtimes side by side too), so the group takes
# as long as its slowest test.
cargo test --workspace --test integration terraform_aws -- --test-threads 5 >"$hashicorp_log" 2>&1 &
hashicorp_pid=$!
cargo test --workspace --test acceptance >"$acceptance_log" 2>&1 &
acceptance_pid=$!
# Every test target but tests/acceptance, named from cargo's own metadata, so
# that a new target joins this group without anyone listing it here.
mapfile -t targets < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "test" in t["kind"] and t["name"] != "acceptance":
            print("--test"); print(t["name"])
')
suite=0
cargo test --workspace --no-fail-fast --lib --bins "${targets[@]}" -- --skip terraform_aws 2>&1 \
  | tee "$work/cargo-test.log" || suite=1
cargo test --workspace --doc -q 2>&1 | tail -3 || suite=1
if [ "$suite" != 0 ]; then echo "cargo test FAILED (log: $work/cargo-test.log)"; fi

# The steps below need no test of the groups still running: they run while
# HashiCorp's and our provider's tests still wait on their waiters, and the
# groups are joined at the end (a failure here is reported after them).
steps=0
say "quickstart (the README's first command, as a newcomer runs it)"
qport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
qdir="$work/quickstart"
rm -rf "$qdir"
ELASTICACHE_LISTEN=127.0.0.1:$qport QUICKSTART_DIR=$qdir examples/quickstart.sh \
  || { echo "quickstart FAILED"; steps=1; }
ELASTICACHE_LISTEN=127.0.0.1:$qport QUICKSTART_DIR=$qdir examples/quickstart.sh down \
  || { echo "quickstart down FAILED"; steps=1; }

say "conformance"
tests/conformance.sh "$runtimes" || { echo "conformance FAILED"; steps=1; }

say "benchmarks (quick mode: never fails on slowness)"
tests/bench.sh --quick 2>&1 | tee "$work/bench.log" || { echo "benchmarks FAILED"; steps=1; }

acceptance=0
wait "$acceptance_pid" || acceptance=1
hashicorp=0
wait "$hashicorp_pid" || hashicorp=1
echo "== acceptance tests of our provider (tests/acceptance, log: $acceptance_log)"
grep -E '^test |^test result' "$acceptance_log" || true
if [ "$acceptance" != 0 ]; then sed -n '/^failures:/,$p' "$acceptance_log" | head -300; fi
echo "== HashiCorp provider tests (terraform_aws::*, log: $hashicorp_log)"
grep -E '^test |^test result' "$hashicorp_log" || true
if [ "$hashicorp" != 0 ]; then tail -150 "$hashicorp_log"; fi
clean=0
wait "$clean_pid" || clean=1
clean_pid=
echo "== the quickstart on a clean Debian machine (tests/quickstart-clean.sh, log: $clean_log)"
if [ "$clean" = 0 ]; then grep '^\[quickstart-clean\]' "$clean_log" || true; else tail -80 "$clean_log"; fi
if [ "$suite" != 0 ] || [ "$hashicorp" != 0 ] || [ "$acceptance" != 0 ]; then
  echo "cargo test FAILED"; exit 1
fi
if [ "$clean" != 0 ]; then echo "the quickstart on a clean machine FAILED"; exit 1; fi
if [ "$steps" != 0 ]; then echo "quickstart, conformance or benchmarks FAILED (above)"; exit 1; fi
