#!/usr/bin/env bash
# System packages the tests need: Prometheus (2.42) and Alertmanager from Debian.
# Installed only when missing, so warm machines pay nothing.
set -euo pipefail
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
[[ ${#missing[@]} -eq 0 ]] && exit 0
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "[install-deps] installing ${missing[*]}" >&2
$sudo apt-get update -qq
# policy-rc.d keeps the packages from starting system services; tests start their own.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "$(printf '%s\n' "${missing[@]}" | sort -u)" >&2
