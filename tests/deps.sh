# shellcheck shell=bash
# Sourced by tests/run.sh and examples/quickstart.sh: installs the Debian packages
# given that are missing, as root or through sudo, saying in one line what it installs.
#   need_packages LOG pkg...
need_packages() {
  local log=$1 p missing=()
  shift
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing Debian packages: ${missing[*]} (log: $log)"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1 || {
    tail -20 "$log"; echo "could not install: ${missing[*]}"; return 1; }
}
