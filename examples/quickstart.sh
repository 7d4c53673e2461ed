#!/usr/bin/env bash
# The main job: start elasticache-local with its embedded defaults, create a Redis
# cluster through the ElastiCache Query API, print its endpoint and PING it.
# The backend stays up afterwards (the script prints how to stop it), so the
# cluster can be used; run the script again and it reuses the running backend;
# `examples/quickstart.sh down` deletes the cluster and stops the backend.
#
# Env: ELASTICACHE_RUNTIME (default: process; docker pulls official images),
#      ELASTICACHE_LISTEN (default 127.0.0.1:4566), QUICKSTART_DIR (default ./target/quickstart)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
listen=${ELASTICACHE_LISTEN:-127.0.0.1:4566}
runtime=${ELASTICACHE_RUNTIME:-process}
dir=${QUICKSTART_DIR:-$root/target/quickstart}
url="http://$listen"
mkdir -p "$dir"

for bin in redis-server curl; do
  command -v "$bin" >/dev/null || { echo "quickstart needs $bin (Debian: apt-get install redis-server curl)"; exit 1; }
done

api() { # api Action [Name=Value ...]: POST a Query request, print the XML answer
  local args=(-s -X POST "$url/" --data-urlencode "Action=$1" --data-urlencode "Version=2015-02-02")
  shift
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  curl "${args[@]}"
}
xml() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1; }

if [ "${1:-}" = down ]; then # delete the cluster, then stop the backend
  if curl -sf "$url/_health" >/dev/null 2>&1; then
    api DeleteCacheCluster CacheClusterId=quickstart-redis >/dev/null || true
    for _ in $(seq 1 300); do
      api DescribeCacheClusters CacheClusterId=quickstart-redis | grep -q CacheClusterNotFound && break
      sleep 0.1
    done
  fi
  [ -f "$dir/backend.pid" ] && kill "$(cat "$dir/backend.pid")" 2>/dev/null || true
  rm -f "$dir/backend.pid"
  echo "stopped"
  exit 0
fi

if ! curl -sf "$url/_health" >/dev/null 2>&1; then
  echo "building elasticache-local…"
  cargo build -q -p elasticache-local
  echo "starting elasticache-local on $url (runtime $runtime, data in $dir, log in $dir/backend.log)"
  setsid "${CARGO_TARGET_DIR:-$root/target}/debug/elasticache-local" --listen "$listen" --data-dir "$dir/data" --runtime "$runtime" \
    >"$dir/backend.log" 2>&1 </dev/null &
  echo $! >"$dir/backend.pid"
  for _ in $(seq 1 100); do curl -sf "$url/_health" >/dev/null 2>&1 && break; sleep 0.1; done
fi

id=quickstart-redis
if ! api DescribeCacheClusters CacheClusterId=$id | grep -q "<CacheClusterId>"; then
  echo "creating cache cluster $id"
  api CreateCacheCluster CacheClusterId=$id Engine=redis CacheNodeType=cache.t3.micro NumCacheNodes=1 \
    | grep -q "<CacheClusterStatus>creating</CacheClusterStatus>" || { echo "CreateCacheCluster failed"; exit 1; }
fi
for _ in $(seq 1 600); do
  out=$(api DescribeCacheClusters CacheClusterId=$id ShowCacheNodeInfo=true)
  [ "$(echo "$out" | xml CacheClusterStatus)" = available ] && break
  sleep 0.1
done
host=$(echo "$out" | sed -n 's:.*<Endpoint><Address>\([^<]*\)</Address><Port>\([0-9]*\)</Port>.*:\1:p')
port=$(echo "$out" | sed -n 's:.*<Endpoint><Address>[^<]*</Address><Port>\([0-9]*\)</Port>.*:\1:p')
[ -n "$port" ] || { echo "cluster did not become available:"; echo "$out"; exit 1; }
echo "endpoint: $host:$port"
exec 3<>"/dev/tcp/$host/$port"
printf 'PING\r\n' >&3
IFS= read -r -t 5 pong <&3 || true
exec 3>&-
echo "PING -> ${pong%$'\r'}"
[ "${pong%$'\r'}" = "+PONG" ] || exit 1
if [ -f "$dir/backend.pid" ]; then
  echo "the backend keeps running; tear everything down with: $0 down"
fi
