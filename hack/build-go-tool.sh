#!/usr/bin/env bash
# Build commands from a Go module into the per-user cache keyed by name and version, the way
# hack/build-binaries.sh builds the Kubernetes binaries: nothing is rebuilt when the binaries
# are present, and parallel callers wait for one build (flock).
#
#   build-go-tool.sh NAME VERSION MODULE LDFLAGS PACKAGE... [-- build|print-dir]
#
# builds `go build -ldflags LDFLAGS PACKAGE...` of MODULE@VERSION into
# $CACHE/NAME-VERSION/ (one binary per package, named after the package's last element).
# The last argument `print-dir` prints that directory instead. Used by build-prometheus.sh
# and build-sloth.sh.
set -euo pipefail

usage() { echo "usage: $0 NAME VERSION MODULE LDFLAGS PACKAGE... [build|print-dir]" >&2; exit 2; }
(( $# >= 5 )) || usage
name="$1" version="$2" module="$3" ldflags="$4"
shift 4
action=build
case "${*: -1}" in
  build|print-dir) action="${*: -1}"; set -- "${@:1:$#-1}" ;;
esac
(( $# >= 1 )) || usage
packages=("$@")

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator"
dir="$CACHE_ROOT/$name-$version"

log() { printf '[build-%s] %s\n' "$name" "$*" >&2; }

present() {
  local p
  for p in "${packages[@]}"; do [[ -x "$dir/${p##*/}" ]] || return 1; done
}

if [[ "$action" == print-dir ]]; then echo "$dir"; exit 0; fi
if present; then
  log "$name $version present in $dir"
  exit 0
fi
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.$name-$version.lock"
flock 9
if present; then
  log "$name $version present in $dir"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work" "$dir.tmp"' EXIT
log "building $name $version ($module) in $work"
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod init "incident-operator.local/$name-build" >/dev/null 2>&1
  go get "$module@$version" >&2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  CGO_ENABLED=0 go build -trimpath -tags netgo -ldflags "$ldflags" -o "$dir.tmp/" "${packages[@]}"
)
rm -rf "$dir" && mv "$dir.tmp" "$dir"
log "$name binaries in $dir"
