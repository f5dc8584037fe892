#!/usr/bin/env bash
# Build the operator's container image with podman, without Docker and without a container
# registry: the Dockerfile's base (ARG PYTHON_IMAGE, the public python:3.11-slim in release
# builds) is replaced by a minimal Debian bookworm with its python3 (3.11) made here with
# mmdebstrap from Debian's archive. The operator's dependencies come from PyPI in the build
# stage, pinned by constraints.txt.
#
#   hack/build-image.sh [build]   base (if missing) + operator image -> $IMAGE (prints it);
#                                 EXTRAS= builds without the plot extra (no postmortem charts)
#   hack/build-image.sh base      only the base image -> $BASE_IMAGE
#   hack/build-image.sh print-ref the operator image's reference
#
# The base is built once per BASE_REVISION: its tarball is cached under
# ~/.cache/incident-operator (flock'd, shared by every clone) and imported into podman's
# storage (/var/lib/containers) when missing there. The operator image is rebuilt on every
# call, but podman's layer cache makes that cheap unless pyproject.toml/constraints.txt
# changed (then the dependency layer is reinstalled from PyPI).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# Bump when the package list or trimming below changes (Debian updates alone do not rebuild).
BASE_REVISION="${BASE_REVISION:-bookworm-python3.11-r2}"
BASE_IMAGE="localhost/incident-operator-base:$BASE_REVISION"
IMAGE="${IMAGE:-localhost/incident-operator:dev}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator"
BASE_TAR="$CACHE_ROOT/image-base-$BASE_REVISION.tar"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY="${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
# The host's CA bundle, so that pip in the build trusts what pip on the host trusts (a
# TLS-inspecting proxy's CA included).
CA_BUNDLE="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/hack/image/containers.conf}"

log() { printf '[build-image] %s\n' "$*" >&2; }

need_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/podman/netavark ]] || missing+=(netavark)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [[ ${#missing[@]} -eq 0 ]] && return
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    podman runc netavark mmdebstrap >&2
}

# Essential packages + python3 (with venv, which Debian splits off), CA certificates and
# libstdc++ (numpy's wheels link it; python:3.11-slim has it through apt); the merged-usr hook
# avoids the usrmerge package and the 45 MB of perl it pulls in. No apt in the image:
# mmdebstrap installs from outside. Copyright files are kept, other docs dropped.
build_base_tar() {
  [[ -s "$BASE_TAR" ]] && return
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.image-base-$BASE_REVISION.lock"
  flock 8
  if [[ -s "$BASE_TAR" ]]; then exec 8>&-; return; fi
  log "building the base image $BASE_REVISION with mmdebstrap (under a minute)"
  mmdebstrap --quiet --format=tar --variant=essential \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=python3,python3-venv,python-is-python3,ca-certificates,libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/log/*.log "$1"/var/lib/dpkg/*-old' \
    bookworm "$BASE_TAR.tmp" \
    "deb $DEBIAN_MIRROR bookworm main" \
    "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb $DEBIAN_SECURITY bookworm-security main" </dev/null >"$CACHE_ROOT/.image-base.log" 2>&1 \
    || { tail -40 "$CACHE_ROOT/.image-base.log" >&2; exit 1; }
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  exec 8>&-
}

base() {
  if podman image exists "$BASE_IMAGE"; then
    log "base image $BASE_IMAGE present"
    return
  fi
  build_base_tar
  log "importing $BASE_TAR as $BASE_IMAGE"
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

build() {
  base
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$work/pip.conf"
  local previous
  previous="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  log "building $IMAGE from $BASE_IMAGE"
  # --network host: the RUN steps reach PyPI without a CNI bridge; the volumes exist only
  # while a RUN step runs and are not part of any layer.
  podman build --quiet --layers --network host \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" ${EXTRAS+--build-arg "EXTRAS=$EXTRAS"} \
    --volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" \
    --volume "$work/pip.conf:/etc/pip.conf:ro" \
    --tag "$IMAGE" --file "$ROOT/Dockerfile" "$ROOT" >/dev/null
  log "built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
  # The image this tag named before keeps its own copy of the virtualenv layer: drop it (the
  # build stage's layers stay, they are the cache; a container still using it keeps it).
  local current
  current="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
  if [[ -n "$previous" && "$previous" != "$current" ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  echo "$IMAGE"
}

case "${1:-build}" in
  print-ref) echo "$IMAGE" ;;
  base) need_tools; base ;;
  build) need_tools; build ;;
  *) echo "usage: $0 [build|base|print-ref]" >&2; exit 2 ;;
esac
