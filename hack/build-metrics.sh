#!/usr/bin/env bash
# Build a tool the tests run (Prometheus 3, Alertmanager, VictoriaMetrics single-node, Sloth)
# from its Go module into the per-user cache keyed by version, the way
# hack/build-binaries.sh builds the Kubernetes binaries: nothing is rebuilt when the binaries
# are present, and parallel callers wait for one build (flock).
#
#   hack/build-metrics.sh prometheus|alertmanager|victoria-metrics|sloth [build|print-dir]
#
# Each is built inside an unpacked copy of its own module (downloaded and checksum-verified by
# `go mod download`), so its own go.mod and go.sum apply. Web UI assets that the module does
# not ship are replaced by placeholders; the APIs (all the tests use) work without them.
# Versions: PROMETHEUS_VERSION (module v0.3xx.y is Prometheus 3.xx.y), ALERTMANAGER_VERSION,
# VICTORIA_METRICS_VERSION, SLOTH_VERSION. The newest VictoriaMetrics whose go.mod the local Go (1.26) can
# build is v1.151.0 (v1.152.0 and later want Go 1.27).
set -euo pipefail

component="${1:-}"
action="${2:-build}"
case "$component" in
  prometheus)
    version="${PROMETHEUS_VERSION:-v0.316.0}"
    module=github.com/prometheus/prometheus
    packages=(./cmd/prometheus ./cmd/promtool)
    binaries=(prometheus promtool)
    release="3.${version#v0.3}"  # v0.316.0 -> 3.16.0
    pkg=github.com/prometheus/common/version
    ldflags="-X $pkg.Version=$release -X $pkg.Branch=module -X $pkg.Revision=$version"
    ;;
  alertmanager)
    version="${ALERTMANAGER_VERSION:-v0.35.0}"
    module=github.com/prometheus/alertmanager
    packages=(./cmd/alertmanager ./cmd/amtool)
    binaries=(alertmanager amtool)
    pkg=github.com/prometheus/common/version
    ldflags="-X $pkg.Version=${version#v} -X $pkg.Branch=module -X $pkg.Revision=$version"
    ;;
  victoria-metrics)
    version="${VICTORIA_METRICS_VERSION:-v1.151.0}"
    module=github.com/VictoriaMetrics/VictoriaMetrics
    packages=(./app/victoria-metrics)
    binaries=(victoria-metrics)
    ldflags="-X $module/lib/buildinfo.Version=victoria-metrics-module-$version"
    ;;
  sloth)
    # `sloth generate`, for the tests that compare with the rules Sloth itself writes.
    version="${SLOTH_VERSION:-v0.16.0}"
    module=github.com/slok/sloth
    packages=(./cmd/sloth)
    binaries=(sloth)
    ldflags="-X $module/internal/info.Version=$version"
    ;;
  *)
    echo "usage: $0 prometheus|alertmanager|victoria-metrics|sloth [build|print-dir]" >&2
    exit 2
    ;;
esac
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator"
DIR="$CACHE_ROOT/$component-$version"

log() { printf '[build-metrics] %s\n' "$*" >&2; }

case "$action" in
  print-dir) echo "$DIR"; exit 0 ;;
  build) ;;
  *) echo "usage: $0 $component [build|print-dir]" >&2; exit 2 ;;
esac

present() {
  local binary
  for binary in "${binaries[@]}"; do
    [[ -x "$DIR/$binary" ]] || return 1
  done
}

# What the module leaves out and its build needs.
prepare() {
  case "$component" in
    alertmanager)
      # ui/web.go embeds app/dist and serves app/dist/elm and app/dist/mantine, built by npm
      # and not in the module.
      local ui
      for ui in elm mantine; do
        mkdir -p "ui/app/dist/$ui"
        echo "<!doctype html><title>Alertmanager</title><p>UI not built (module build)." \
          >"ui/app/dist/$ui/index.html"
      done
      ;;
  esac
}

if present; then
  log "$component $version present in $DIR"
  exit 0
fi
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.$component-$version.lock"
flock 9
if present; then
  log "$component $version present in $DIR"
  exit 0
fi
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
log "building $component $version in $work"
(
  # GOWORK=off: Prometheus' module carries a go.work of its own tooling modules.
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off
  source_dir="$(go mod download -json "$module@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -n "$source_dir" ]] || { log "go mod download $module@$version failed"; exit 1; }
  cp -r "$source_dir" "$work/src"
  chmod -R u+w "$work/src"
  cd "$work/src"
  prepare
  mkdir -p "$DIR.tmp"
  CGO_ENABLED=0 go build -trimpath -tags netgo -ldflags "-s -w $ldflags" -o "$DIR.tmp/" \
    "${packages[@]}"
)
rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
log "$component binaries in $DIR"
