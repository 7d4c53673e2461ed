#!/usr/bin/env bash
# Build minimal `FROM scratch` engine images from this machine's Debian binaries,
# for machines that cannot pull from a registry:
#   localtest/redis:7.0      (redis-server + its libraries)
#   localtest/memcached:1.6  (memcached + its libraries)
# and smoke-test them (docker run with a published port answers PING / version).
#
# Usage: tests/images/build.sh [OUT.json]
# Prints the ELASTICACHE_IMAGES mapping on stdout, or writes it to OUT.json.
# Idempotent: an image is rebuilt only when its tag is missing or the binary
# (or this script) changed (label elasticache-local.binsha).
# Env: REDIS_SERVER, MEMCACHED (binary paths), SKIP_SMOKE=1 (no docker run test).
set -euo pipefail

log() { echo "build.sh: $*" >&2; }

REDIS_BIN=${REDIS_SERVER:-$(command -v redis-server || true)}
MEMCACHED_BIN=${MEMCACHED:-$(command -v memcached || true)}
[ -n "$REDIS_BIN" ] || { log "redis-server not found"; exit 1; }
[ -n "$MEMCACHED_BIN" ] || { log "memcached not found"; exit 1; }
docker version >/dev/null 2>&1 || { log "docker daemon not reachable"; exit 1; }

SCRIPT_SHA=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)

# build_image TAG BINARY NAME_IN_IMAGE
build_image() {
  local tag=$1 bin=$2 name=$3
  local real sha have ctx lib
  real=$(readlink -f "$bin")
  sha=$(cat "$real" <(echo "$SCRIPT_SHA") | sha256sum | cut -c1-64)
  have=$(docker image inspect -f '{{index .Config.Labels "elasticache-local.binsha"}}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$sha" ]; then
    log "$tag is up to date"
    return 0
  fi
  ctx=$(mktemp -d)
  mkdir -p "$ctx/usr/bin" "$ctx/tmp" "$ctx/data" "$ctx/etc"
  chmod 1777 "$ctx/tmp"
  chmod 0777 "$ctx/data"
  cp "$real" "$ctx/usr/bin/$name"
  # Every library ldd lists, plus the dynamic loader, at their absolute paths.
  for lib in $(ldd "$real" | grep -o '/[^ ]*'); do
    cp -L --parents "$lib" "$ctx/"
  done
  # memcached -u root / nobody needs getpwnam (glibc >= 2.34 has nss_files built in).
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$ctx/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$ctx/etc/group"
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY . /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /data
LABEL elasticache-local.binsha="$sha"
CMD ["/usr/bin/$name"]
DOCKERFILE
  echo Dockerfile > "$ctx/.dockerignore"
  log "building $tag from $real"
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx.err" ||
    { cat "$ctx.err" >&2; rm -rf "$ctx" "$ctx.err"; return 1; }
  rm -rf "$ctx" "$ctx.err"
}

# smoke IMAGE CONTAINER_PORT REQUEST EXPECTED_PREFIX CMD...
smoke() {
  local image=$1 cport=$2 req=$3 want=$4
  shift 4
  local cid port line i
  cid=$(docker run -d --rm -p "127.0.0.1::$cport" "$image" "$@")
  port=$(docker port "$cid" "$cport/tcp" | head -1 | sed 's/.*://')
  line=""
  for i in $(seq 1 100); do
    # In a subshell: a failed `exec` redirection would end this script.
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf '%s\r\n' "$req" >&3 &&
             IFS= read -r -t 2 l <&3 && printf '%s' "$l") 2>/dev/null || true)
    [[ "$line" == "$want"* ]] && break
    sleep 0.1
  done
  docker rm -f "$cid" >/dev/null
  if [[ "$line" != "$want"* ]]; then
    log "smoke test of $image failed (got: ${line:-nothing})"
    return 1
  fi
  log "smoke test of $image ok: ${line%$'\r'}"
}

build_image localtest/redis:7.0 "$REDIS_BIN" redis-server
build_image localtest/memcached:1.6 "$MEMCACHED_BIN" memcached

if [ "${SKIP_SMOKE:-0}" != 1 ]; then
  smoke localtest/redis:7.0 6379 PING +PONG \
    redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save ""
  smoke localtest/memcached:1.6 11211 version VERSION \
    memcached -p 11211 -U 0 -u root
fi

JSON='{"redis":"localtest/redis:7.0","valkey":"localtest/redis:7.0","memcached":"localtest/memcached:1.6"}'
if [ $# -ge 1 ]; then
  echo "$JSON" > "$1"
  log "wrote $1"
else
  echo "$JSON"
fi
