#!/usr/bin/env bash
# The main job: start elasticache-local with its embedded defaults, apply
# examples/quickstart with Terraform and our provider (a parameter group, a subnet
# group, a Redis cluster, a 3-node Memcached cluster), print the endpoints and PING
# Redis. Without terraform on PATH, it creates the Redis cluster through the Query
# API instead (curl). The backend stays up afterwards so the caches can be used;
# `examples/quickstart.sh down` destroys everything and stops the backend.
#
# Env: ELASTICACHE_RUNTIME (default: process; docker pulls official images),
#      ELASTICACHE_LISTEN (default 127.0.0.1:4566), QUICKSTART_DIR (default ./target/quickstart)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
listen=${ELASTICACHE_LISTEN:-127.0.0.1:4566}
runtime=${ELASTICACHE_RUNTIME:-process}
dir=${QUICKSTART_DIR:-$root/target/quickstart}
bin=${CARGO_TARGET_DIR:-$root/target}/debug
url="http://$listen"
tfdir="$dir/terraform"
mkdir -p "$dir"

# What the quickstart needs, installed when missing (Debian packages): engines for
# the process runtime, curl, protoc for the provider's build, and a C compiler (Rust
# links with `cc`, and ring and aws-lc-sys compile C) when the machine has none.
# shellcheck source=tests/deps.sh
. "$root/tests/deps.sh"
pkgs=(redis-server memcached curl protobuf-compiler libprotobuf-dev)
command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
need_packages "$dir/apt.log" "${pkgs[@]}"
use_tf=0
command -v terraform >/dev/null && use_tf=1

api() { # api Action [Name=Value ...]: POST a Query request, print the XML answer
  local args=(-s -X POST "$url/" --data-urlencode "Action=$1" --data-urlencode "Version=2015-02-02")
  shift
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  curl "${args[@]}"
}
xml() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1; }
tfenv() { (cd "$tfdir" && TF_CLI_CONFIG_FILE="$tfdir/.terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 terraform "$@"); }
tf() { tfenv "$@" -no-color -input=false -var "endpoint=$url"; } # apply / destroy
ping() { # ping host port: print what Redis answers to PING
  local pong=""
  exec 3<>"/dev/tcp/$1/$2"
  printf 'PING\r\n' >&3
  IFS= read -r -t 5 pong <&3 || true
  exec 3>&-
  echo "${pong%$'\r'}"
}

if [ "${1:-}" = down ]; then
  if curl -sf "$url/_health" >/dev/null 2>&1; then
    if [ -f "$tfdir/terraform.tfstate" ] && [ "$use_tf" = 1 ]; then
      tf destroy -auto-approve >/dev/null && echo "terraform destroy: done"
    else
      api DeleteCacheCluster CacheClusterId=quickstart-redis >/dev/null || true
      for _ in $(seq 1 300); do
        api DescribeCacheClusters CacheClusterId=quickstart-redis | grep -q CacheClusterNotFound && break
        sleep 0.1
      done
    fi
  fi
  if [ -f "$dir/backend.pid" ]; then kill "$(cat "$dir/backend.pid")" 2>/dev/null || true; fi
  rm -f "$dir/backend.pid"
  echo "stopped"
  exit 0
fi

if [ -x "$bin/elasticache-local" ] && [ -x "$bin/terraform-provider-aws" ]; then
  echo "building elasticache-local and terraform-provider-elasticache (up to date: seconds)…"
else
  echo "building elasticache-local and terraform-provider-elasticache: a first build takes 5-10 minutes on 2 cores (seconds afterwards)…"
fi
cargo build -q --workspace --bins
if ! curl -sf "$url/_health" >/dev/null 2>&1; then
  echo "starting elasticache-local on $url (runtime $runtime, data in $dir/data, log in $dir/backend.log)"
  setsid "$bin/elasticache-local" --listen "$listen" --data-dir "$dir/data" --runtime "$runtime" \
    >"$dir/backend.log" 2>&1 </dev/null &
  echo $! >"$dir/backend.pid"
  for _ in $(seq 1 100); do curl -sf "$url/_health" >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ "$use_tf" = 1 ]; then
  mkdir -p "$tfdir"
  cp examples/quickstart/main.tf "$tfdir/"
  cat >"$tfdir/.terraformrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/elasticache-local/aws" = "$bin"
  }
  direct {}
}
RC
  echo "terraform apply examples/quickstart…"
  tf apply -auto-approve >"$dir/apply.log" 2>&1 || { cat "$dir/apply.log"; exit 1; }
  grep -E "^Apply complete" "$dir/apply.log" || true
  redis=$(tfenv output -raw redis_endpoint)
  echo "redis endpoint: $redis"
  echo "memcached configuration endpoint: $(tfenv output -json memcached_configuration_endpoint)"
  host=${redis%:*}
  port=${redis##*:}
else
  echo "terraform is not on PATH: creating the Redis cluster through the API instead"
  id=quickstart-redis
  if ! api DescribeCacheClusters CacheClusterId=$id | grep -q "<CacheClusterId>"; then
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
  echo "redis endpoint: $host:$port"
fi
pong=$(ping "$host" "$port")
echo "PING -> $pong"
[ "$pong" = "+PONG" ] || exit 1
echo "the backend keeps running; tear everything down with: $0 down"
