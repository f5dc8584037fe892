#!/usr/bin/env bash
# System packages the tests need: Prometheus 2.42 (with promtool) and Alertmanager from
# Debian, Chromium (headless, for the status page browser test), Node and npm (axe-core for
# that test: hack/install-node-tools.sh) and libfaketime (the chaos
# suite jumps the operator's clocks with it: tests/chaos/world.py), zsh (the completion test),
# podman and mmdebstrap (the image, below). Installed only when missing, so warm machines pay nothing.
set -euo pipefail
packages=()
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  packages+=(prometheus)
fi
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v prometheus-alertmanager >/dev/null; then
  packages+=(prometheus-alertmanager)
fi
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v chromium >/dev/null; then
  packages+=(chromium)
fi
# Node's npm installs axe-core for the status page's accessibility check (hack/install-node-tools.sh).
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v faketime >/dev/null; then
  packages+=(faketime)
fi
# zsh runs the plugin's zsh completion script in tests/unit/cli/test_completion.py.
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v zsh >/dev/null; then
  packages+=(zsh)
fi
# podman (with runc and netavark, see hack/image/containers.conf) and mmdebstrap build and run
# the operator's image in tests/e2e/test_image.py (hack/build-image.sh).
if [[ -n "${INSTALL_DEPS_FORCE:-}" ]] || ! command -v podman >/dev/null || ! command -v runc >/dev/null \
  || [[ ! -x /usr/lib/podman/netavark ]] || ! command -v mmdebstrap >/dev/null; then
  packages+=(podman runc netavark mmdebstrap)
fi
[[ ${#packages[@]} -eq 0 ]] && exit 0
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "[install-deps] installing ${packages[*]}" >&2
$sudo apt-get update -qq
# The packages' own services are not started (no init system here); tests start their own.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
