#!/usr/bin/env bash
# Build Sloth's CLI (`sloth generate`) from its Go module into the per-user cache keyed by
# version (hack/build-go-tool.sh), for the tests that compare with the rules Sloth generates.
#
#   build-sloth.sh [build|print-dir]      (SLOTH_VERSION picks the module version)
set -euo pipefail

SLOTH_VERSION="${SLOTH_VERSION:-v0.16.0}"
case "${1:-build}" in
  build|print-dir) ;;
  *) echo "usage: $0 [build|print-dir]" >&2; exit 2 ;;
esac
exec "$(dirname "$0")/build-go-tool.sh" sloth "$SLOTH_VERSION" github.com/slok/sloth \
  "-s -w -X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" \
  github.com/slok/sloth/cmd/sloth "${1:-build}"
