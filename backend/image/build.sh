#!/usr/bin/env bash
# Build the backend's container image FROM scratch (backend/image/Dockerfile):
# the binary and every library `ldd` lists, as tests/images/build.sh makes the
# engine images, so that it builds where no base image can be pulled.
#
# Usage: backend/image/build.sh [BINARY] [TAG]
#   BINARY  default: a release build (cargo build --release -p elasticache-local)
#   TAG     default: elasticache-local:dev
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { echo "image/build.sh: $*" >&2; }

bin=${1:-}
tag=${2:-elasticache-local:dev}
if [ -z "$bin" ]; then
  target=${CARGO_TARGET_DIR:-$root/target}
  if [ ! -x "$target/release/elasticache-local" ]; then
    log "building the backend (release; a first build takes about 5-10 minutes on 2 cores)"
  fi
  (cd "$root" && cargo build --release -q -p elasticache-local)
  bin="$target/release/elasticache-local"
fi
[ -x "$bin" ] || { log "no binary at $bin"; exit 1; }
docker version >/dev/null 2>&1 || { log "docker daemon not reachable"; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/tmp/elasticache-local" "$ctx/rootfs/etc"
chmod 1777 "$ctx/rootfs/tmp"
cp "$(readlink -f "$bin")" "$ctx/rootfs/usr/bin/elasticache-local"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  cp -L --parents "$lib" "$ctx/rootfs/"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$ctx/rootfs/etc/group"
cp "$here/Dockerfile" "$ctx/Dockerfile"
log "building $tag from $bin"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx/err" || { cat "$ctx/err" >&2; exit 1; }
log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
