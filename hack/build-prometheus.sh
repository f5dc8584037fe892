#!/usr/bin/env bash
# Kept for callers of the old name: hack/build-metrics.sh builds Prometheus 3 and the others.
exec "$(dirname "$0")/build-metrics.sh" prometheus "$@"
