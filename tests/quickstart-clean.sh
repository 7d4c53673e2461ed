#!/usr/bin/env bash
# The README's first command on a clean Debian machine: a fresh chroot made with
# `debootstrap --variant=minbase bookworm` (Debian's base and nothing else), in which
# `examples/quickstart.sh` runs as a newcomer runs it: it installs what it needs itself
# (redis-server, memcached, curl, protoc, a C compiler), builds, starts the backend,
# creates a Redis cluster and PINGs it; then `examples/quickstart.sh down`. Fails when
# either fails, when no endpoint or PONG is printed, or when a process is left running
# in the chroot after `down`. Prints the wall time of each part.
#
# Shared from the host, each at its own path (so that nothing recompiles) and read-only
# (an overlay: the host's directory is the lower layer, whatever the chroot writes stays
# in the chroot): the Rust toolchain (rustup and cargo homes), the checkout and the
# cargo target dir. The build itself is shared on purpose: a from-scratch build is 5-10
# minutes on 2 cores, and the test command has built everything already; the quickstart
# still runs its own `cargo build`, which finds everything up to date. What the chroot
# proves is the rest of a newcomer's machine: every Debian package the quickstart needs.
#
# There is no terraform in the chroot (a newcomer's fresh machine has none), so the
# quickstart takes its curl path; tests/run.sh runs its Terraform path on the host.
#
# The base is made once and cached as a tarball under $TEST_WORK/quickstart-clean,
# made afresh when 30 days old or with QUICKSTART_CLEAN_REFRESH=1 (the quickstart's
# own `apt-get update` sees today's archive either way); the chroot itself is a tmpfs
# unpacked from it on every run, and everything is unmounted at the end, even on failure.
# Needs root (mounts, chroot), and Debian's packages over the network (deb.debian.org).
#
# Env: TEST_WORK (default target/test-work), CARGO_TARGET_DIR (the built workspace),
#      QUICKSTART_CLEAN_REFRESH=1 (debootstrap again instead of using the cached base)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || exec sudo -E "$0" "$@"
cd "$root"
work=${TEST_WORK:-$root/target/test-work}
target=${CARGO_TARGET_DIR:-$root/target}
target=$(mkdir -p "$target" && cd "$target" && pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cache="$work/quickstart-clean"
base="$cache/bookworm-minbase.tar"
c="$cache/root" # the chroot
mkdir -p "$cache"
say() { printf '[quickstart-clean] %s\n' "$*"; }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
secs() { local d=$(($2 - $1)); printf '%d.%d s' $((d / 1000000)) $((d % 1000000 / 100000)); }

for b in elasticache-local terraform-provider-aws; do
  [ -x "$target/debug/$b" ] || { say "$target/debug/$b is not built: run cargo build --workspace --bins first"; exit 1; }
done

# Every process whose root is the chroot: the quickstart's backend and engines.
in_chroot() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$c" ] && echo "${p#/proc/}"
  done
  return 0
}
cleanup() {
  local pids
  mapfile -t pids < <(in_chroot)
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping what still runs in the chroot: ${pids[*]}"
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do [ -z "$(in_chroot)" ] && break; sleep 0.1; done
    mapfile -t pids < <(in_chroot)
    [ ${#pids[@]} -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  # Everything is mounted under the chroot's tmpfs: one recursive unmount takes it all
  # (nothing is ever deleted under a mount point: the tmpfs simply goes away).
  if mountpoint -q "$c"; then
    umount -R "$c" 2>/dev/null || { sleep 1; umount -R "$c" 2>/dev/null; } || umount -R -l "$c"
  fi
  rmdir "$c" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if mountpoint -q "$c"; then say "a previous run left $c mounted: unmounting it"; cleanup; fi

# 1. The chroot: a fresh tmpfs, Debian's base unpacked into it.
t0=$(now)
mkdir -p "$c"
mount -t tmpfs -o size=4g,mode=755 quickstart-clean "$c"
mount --make-private "$c"
if [ ! -f "$base" ] || [ -n "$(find "$base" -mtime +30)" ] || [ "${QUICKSTART_CLEAN_REFRESH:-0}" = 1 ]; then
  # shellcheck source=tests/deps.sh
  . "$root/tests/deps.sh"
  need_packages "$cache/apt.log" debootstrap
  say "debootstrap --variant=minbase bookworm (log: $cache/debootstrap.log)"
  debootstrap --variant=minbase bookworm "$c" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log"; say "debootstrap failed"; exit 1; }
  # As a fresh machine has it: no downloaded packages, no package lists.
  rm -rf "$c"/var/cache/apt/archives/*.deb "$c"/var/lib/apt/lists/*
  tar -C "$c" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  how="debootstrap, cached in $base"
else
  tar -C "$c" --numeric-owner -xpf "$base"
  how="unpacked from $base"
fi
cp /etc/resolv.conf "$c/etc/resolv.conf"
# Packages' own services (Debian's redis-server and memcached) do not start in the
# chroot: invoke-rc.d already says no in a chroot; this makes it certain.
printf '#!/bin/sh\nexit 101\n' >"$c/usr/sbin/policy-rc.d"
chmod 755 "$c/usr/sbin/policy-rc.d"
mount -t proc proc "$c/proc"
mount --bind /dev "$c/dev"
# The host's directories, read-only under an overlay each, at the same paths.
shared=("$rustup_home" "$cargo_home" "$root")
case "$target/" in "$root"/*) ;; *) shared+=("$target") ;; esac
n=0
for d in "${shared[@]}"; do
  [ -d "$d" ] || continue
  n=$((n + 1))
  mkdir -p "$c/.shared/$n/upper" "$c/.shared/$n/work" "$c$d"
  mount -t overlay "shared$n" -o "lowerdir=$d,upperdir=$c/.shared/$n/upper,workdir=$c/.shared/$n/work" "$c$d"
done
t_made=$(now)
say "chroot made ($how): $(secs "$t0" "$t_made")"

# 2. The quickstart, as a newcomer runs it, on a port of its own (the host's tests
# run beside it); each line of its output is timed, so that the package install
# (up to its "building" line) and the rest are told apart.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
envs=(HOME=/root "PATH=$cargo_home/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  TERM=dumb LANG=C.UTF-8 USER=root "CARGO_HOME=$cargo_home" "RUSTUP_HOME=$rustup_home"
  "CARGO_TARGET_DIR=$target" "ELASTICACHE_LISTEN=127.0.0.1:$port")
quickstart() { # quickstart [down]: run it in the chroot; its output timed, in $qlog
  local line rc
  : >"$qlog"
  set +e
  # shellcheck disable=SC2016 # $1 and $@ are the inner shell's
  env -i "${envs[@]}" chroot "$c" /bin/bash -c 'cd "$1" && shift && exec examples/quickstart.sh "$@"' _ "$root" "$@" 2>&1 |
    while IFS= read -r line; do
      printf '  | %s\n' "$line"
      printf '%s %s\n' "$(now)" "$line" >>"$qlog"
    done
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}
at() { sed -n "s/^\([0-9]*\) $1.*/\1/p" "$qlog" | head -n 1; } # when a line first showed
failed() {
  say "FAILED: $*"
  local log="$c$root/target/quickstart/backend.log"
  if [ -f "$log" ]; then
    cp "$log" "$cache/backend.log"
    say "the backend's log (all of it in $cache/backend.log):"
    tail -30 "$log"
  fi
  exit 1
}

qlog="$cache/quickstart-up.log"
say "examples/quickstart.sh (in the chroot, API on 127.0.0.1:$port)"
quickstart || failed "examples/quickstart.sh exited $? in the chroot"
t_up=$(now)
t_built=$(at building)
grep -q ' redis endpoint: [^ ]*:[0-9][0-9]*$' "$qlog" || failed "the quickstart printed no Redis endpoint"
grep -q ' PING -> +PONG$' "$qlog" || failed "the quickstart printed no PONG"

qlog="$cache/quickstart-down.log"
say "examples/quickstart.sh down"
quickstart down || failed "examples/quickstart.sh down exited $? in the chroot"
t_down=$(now)
grep -q ' stopped$' "$qlog" || failed "examples/quickstart.sh down did not say it stopped"
# The backend (and its engines) stopped with `down`: nothing of the quickstart runs on.
for _ in $(seq 1 100); do [ -z "$(in_chroot)" ] && break; sleep 0.1; done
left=$(in_chroot)
[ -z "$left" ] || failed "still running in the chroot after down: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"

say "wall times: chroot made $(secs "$t0" "$t_made") ($how);" \
  "packages installed by the quickstart $(secs "$t_made" "$t_built");" \
  "quickstart up (build, backend, cluster, PING) $(secs "$t_built" "$t_up");" \
  "down $(secs "$t_up" "$t_down")"
say "ok"
