#!/usr/bin/env bash
# Runs ../shared/conformance/check.py against a fresh backend on each runtime given
# (comma-separated), over the scenario steps whose families are built, and fails
# on any wire-format problem or failed behaviour check. Prints the checker's figure.
# Skips (exit 0) when the shared checker is not beside the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
checker=${CONFORMANCE_CHECK:-$root/../shared/conformance/check.py}
if [ ! -f "$checker" ]; then echo "conformance: SKIP ($checker not found)"; exit 0; fi
work=${TEST_WORK:-$root/target/test-work}
mkdir -p "$work"
steps=catalogs,groups,security_groups,redis_cluster,errors,tags,memcached_cluster,snapshots,replication,sharded,users,auth_token,transit_mode,serverless,updates_and_reservations,migration,teardown
# The checker's global_datastore step builds its datastore on rg2, a cache.t3.micro
# group; AWS (and this backend) refuse global datastores below size large, so that
# step runs on a copy of the checker whose rg2 is cache.r5.large (the one change),
# beside the main run. See docs/global-datastores.md.
global_steps=sharded,global_datastore,teardown
global_checker="$work/check-global-r5.py"
sed 's/CacheNodeType="cache.t3.micro", NumNodeGroups=2/CacheNodeType="cache.r5.large", NumNodeGroups=2/' \
  "$checker" >"$global_checker"
if cmp -s "$checker" "$global_checker"; then
  echo "conformance: the checker's rg2 is no longer cache.t3.micro; run global_datastore in the main run"
  exit 1
fi
bin=${CARGO_TARGET_DIR:-$root/target}/debug/elasticache-local
cargo build -q --workspace --bins  # the selection the tests build: nothing rebuilds
status=0
# The checker's waits (a group reaching available, a datastore settling) give up
# after --timeout seconds: 120, since four backends share CI's two cores here
# (cluster-mode groups on Docker took over 60 s under that load). A ceiling, not a
# speed check: the benchmarks measure speed.
# One backend per runtime, side by side (each with its own data directory and
# port); the figures are judged once both are done.
run_one() {
  local rt=$1 name=$2 check=$3 steps=$4 port data pid rc out
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data=$(mktemp -d "$work/conf-$rt.XXXX")
  # The local S3 bucket the checker exports a serverless snapshot into (a
  # bucket must exist before an export, as on S3).
  mkdir -p "$data/s3/conformance-bucket"
  "$bin" --runtime "$rt" --data-dir "$data" --listen "127.0.0.1:$port" >"$data.log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  rc=0
  out=$(python3 "$check" --endpoint "http://127.0.0.1:$port" --steps "$steps" --timeout 120 2>&1) || rc=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Anything the scenario left running (it deletes what it creates) goes too.
  for d in "$data"/nodes/*/; do
    [ -d "$d" ] || continue
    [ -f "$d/node.pid" ] && kill -9 "$(cat "$d/node.pid")" 2>/dev/null || true
  done
  # Containers by their backend's label (names end in a hash of its nodes directory).
  if [ "$rt" = docker ]; then
    docker ps -aq --filter "label=elasticache-local.root=$(realpath "$data/nodes")" 2>/dev/null \
      | xargs -r docker rm -f >/dev/null 2>&1 || true
  fi
  echo "$out" > "$work/conformance-$name.txt"
  echo "$rc" > "$work/conformance-$name.rc"
}
pids=()
runs=()
for rt in ${1//,/ }; do
  run_one "$rt" "$rt" "$checker" "$steps" &
  pids+=($!)
  run_one "$rt" "$rt-global" "$global_checker" "$global_steps" &
  pids+=($!)
  runs+=("$rt" "$rt-global")
done
for p in "${pids[@]}"; do wait "$p" || true; done
for rt in "${runs[@]}"; do
  out=$(cat "$work/conformance-$rt.txt")
  rc=$(cat "$work/conformance-$rt.rc")
  # 0: all conformant, 1: some operation or probe is not (judged below); anything
  # else (2: botocore too old) means the checker could not run: a failure, not a skip.
  if [ "$rc" -gt 1 ]; then
    echo "conformance on $rt FAILED: the checker could not run (exit $rc):"; echo "$out" | tail -5
    status=1
    continue
  fi
  echo "$out" | grep -E '^(BEHAVES|MISBEHAVES)' || true
  figure=$(echo "$out" | tail -n 1)
  echo "runtime=$rt $figure"
  # Wire problems are failures; answers that are errors because an operation of a
  # later family is not built yet ("answered X, expected ok") are not.
  wire=$(echo "$out" | grep -E '^    ' | grep -vE 'answered [A-Za-z]+, expected' || true)
  if echo "$out" | grep -q '^MISBEHAVES' || [ -n "$wire" ]; then
    echo "conformance on $rt FAILED:"; echo "$wire"; echo "$out" | grep '^MISBEHAVES' || true
    status=1
  fi
done
exit $status
