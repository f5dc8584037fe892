#!/usr/bin/env bash
# Node tools the tests use, outside the clone: axe-core (the accessibility rules the status
# page browser test injects into headless Chromium, tests/integration/test_status_page_browser.py).
# Installed from the npm registry into ${XDG_CACHE_HOME:-~/.cache}/incident-operator/node/<name>
# once per pinned version, so every clone on the machine (CI's included) shares it and a
# cached machine never reaches the registry again (offline-tolerant). Prints the directory.
set -euo pipefail
AXE_CORE_VERSION=4.14.1
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator/node"
dest="$CACHE_ROOT/axe-core-$AXE_CORE_VERSION"
marker="$dest/node_modules/axe-core/axe.min.js"
if [[ -f "$marker" && -f "$dest/.installed" ]]; then
  echo "$dest"
  exit 0
fi
command -v npm >/dev/null || { echo "[install-node-tools] npm not found: run hack/install-deps.sh" >&2; exit 1; }
mkdir -p "$CACHE_ROOT"
tmp=$(mktemp -d "$CACHE_ROOT/.axe-core-$AXE_CORE_VERSION.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "[install-node-tools] installing axe-core@$AXE_CORE_VERSION into $dest" >&2
printf '{"name":"incident-operator-node-tools","private":true}\n' >"$tmp/package.json"
npm install --prefix "$tmp" --save-exact --no-audit --no-fund --ignore-scripts --loglevel=error \
  "axe-core@$AXE_CORE_VERSION" >&2
test -f "$tmp/node_modules/axe-core/axe.min.js"
touch "$tmp/.installed"
rm -rf "$dest"
mv "$tmp" "$dest"  # atomic: a half-finished install is never taken for a cached one
trap - EXIT
echo "$dest"
