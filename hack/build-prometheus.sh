#!/usr/bin/env bash
# Build Prometheus 3 (prometheus + promtool) from its Go module into the per-user cache keyed by
# version (hack/build-go-tool.sh). Module versions v0.3xx.y are Prometheus 3.xx.y. The web UI's
# assets are not in the module; the API (all the tests use) works without them.
#
#   build-prometheus.sh [build|print-dir]      (PROMETHEUS_VERSION picks the module version)
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
case "${1:-build}" in
  build|print-dir) ;;
  *) echo "usage: $0 [build|print-dir]" >&2; exit 2 ;;
esac
pkg=github.com/prometheus/common/version
release="3.${PROMETHEUS_VERSION#v0.3}"  # v0.316.0 -> 3.16.0
exec "$(dirname "$0")/build-go-tool.sh" prometheus "$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus \
  "-s -w -X $pkg.Version=$release -X $pkg.Branch=module -X $pkg.Revision=$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool \
  "${1:-build}"
