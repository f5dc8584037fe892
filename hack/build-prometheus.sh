#!/usr/bin/env bash
# Build Prometheus 3 (prometheus + promtool) from its Go module into the per-user cache keyed by
# version, the way hack/build-binaries.sh builds the Kubernetes binaries: nothing is rebuilt
# when the binaries are present, and parallel callers wait for one build. Module versions
# v0.3xx.y are Prometheus 3.xx.y. The web UI's assets are not in the module; the API (all the
# tests use) works without them.
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator"
PROM_DIR="$CACHE_ROOT/prometheus-$PROMETHEUS_VERSION"

log() { printf '[build-prometheus] %s\n' "$*" >&2; }

present() { [[ -x "$PROM_DIR/prometheus" && -x "$PROM_DIR/promtool" ]]; }

case "${1:-build}" in
  print-dir) echo "$PROM_DIR"; exit 0 ;;
  build) ;;
  *) echo "usage: $0 [build|print-dir]" >&2; exit 2 ;;
esac

if present; then
  log "prometheus $PROMETHEUS_VERSION present in $PROM_DIR"
  exit 0
fi
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.prometheus-$PROMETHEUS_VERSION.lock"
flock 9
if present; then
  log "prometheus $PROMETHEUS_VERSION present in $PROM_DIR"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "building prometheus $PROMETHEUS_VERSION in $work"
(
  cd "$work"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  go mod init incident-operator.local/prometheus-build >/dev/null 2>&1
  go get "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" >&2
  pkg=github.com/prometheus/common/version
  release="3.${PROMETHEUS_VERSION#v0.3}"  # v0.316.0 -> 3.16.0
  mkdir -p "$PROM_DIR.tmp"
  CGO_ENABLED=0 go build -trimpath -tags netgo \
    -ldflags "-s -w -X $pkg.Version=$release -X $pkg.Branch=module -X $pkg.Revision=$PROMETHEUS_VERSION" \
    -o "$PROM_DIR.tmp/" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
)
rm -rf "$PROM_DIR" && mv "$PROM_DIR.tmp" "$PROM_DIR"
log "prometheus binaries in $PROM_DIR"
