#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, etcd and helm from their Go modules into a
# per-user cache keyed by version, so every clone on this machine (CI's included) reuses them.
# Nothing is rebuilt when the binaries are already present.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v4.3.1}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator"
K8S_DIR="$CACHE_ROOT/kubernetes-$K8S_VERSION"
ETCD_DIR="$CACHE_ROOT/etcd-$ETCD_VERSION"
HELM_DIR="$CACHE_ROOT/helm-$HELM_VERSION"

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# The k8s.io/kubernetes module refers to its staging modules with ./staging replaces, which
# a consumer cannot use. Pin each of them to the published v0.X.Y matching the release.
build_kubernetes() {
  if [[ -x "$K8S_DIR/kube-apiserver" && -x "$K8S_DIR/kube-controller-manager" ]]; then
    log "kubernetes $K8S_VERSION present in $K8S_DIR"
    return
  fi
  local staging_version="v0.${K8S_VERSION#v1.}"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "building kubernetes $K8S_VERSION (staging $staging_version) in $work"
  (
    cd "$work"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local
    go mod init incident-operator.local/k8s-build >/dev/null 2>&1
    local modfile
    modfile="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    {
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo "replace ("
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$modfile"
      echo ")"
    } >>go.mod
    cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
    go mod tidy >&2
    local ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitTreeState=clean"
      ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    done
    mkdir -p "$K8S_DIR.tmp"
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$K8S_DIR.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  )
  rm -rf "$K8S_DIR" && mv "$K8S_DIR.tmp" "$K8S_DIR"
  log "kubernetes binaries in $K8S_DIR"
}

build_etcd() {
  if [[ -x "$ETCD_DIR/etcd" ]]; then
    log "etcd $ETCD_VERSION present in $ETCD_DIR"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "building etcd $ETCD_VERSION in $work"
  (
    cd "$work"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local
    go mod init incident-operator.local/etcd-build >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
    mkdir -p "$ETCD_DIR.tmp"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ETCD_DIR.tmp/etcd" go.etcd.io/etcd/server/v3
  )
  rm -rf "$ETCD_DIR" && mv "$ETCD_DIR.tmp" "$ETCD_DIR"
  log "etcd binary in $ETCD_DIR"
}

# helm.sh/helm/v4 is a plain module (no replaces): `go install`-style build of ./cmd/helm with
# the version stamped the way helm's own Makefile does it.
build_helm() {
  if [[ -x "$HELM_DIR/helm" ]]; then
    log "helm $HELM_VERSION present in $HELM_DIR"
    return
  fi
  # Parallel callers (a test session and `make demo`) wait for one build instead of racing.
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.helm-$HELM_VERSION.lock"
  flock 9
  if [[ -x "$HELM_DIR/helm" ]]; then
    log "helm $HELM_VERSION present in $HELM_DIR"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "building helm $HELM_VERSION in $work"
  (
    cd "$work"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local
    go mod init incident-operator.local/helm-build >/dev/null 2>&1
    go get "helm.sh/helm/v4@$HELM_VERSION" >&2
    local pkg=helm.sh/helm/v4/internal/version
    mkdir -p "$HELM_DIR.tmp"
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X $pkg.version=$HELM_VERSION -X $pkg.metadata= -X $pkg.gitTreeState=clean" \
      -o "$HELM_DIR.tmp/helm" helm.sh/helm/v4/cmd/helm
  )
  rm -rf "$HELM_DIR" && mv "$HELM_DIR.tmp" "$HELM_DIR"
  log "helm binary in $HELM_DIR"
}

case "${1:-all}" in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  helm) build_helm ;;
  all) build_etcd; build_kubernetes ;;  # what the control plane needs; helm is asked for by name
  print-dirs) printf '%s\n%s\n%s\n' "$K8S_DIR" "$ETCD_DIR" "$HELM_DIR" ;;
  *) echo "usage: $0 [all|kubernetes|etcd|helm|print-dirs]" >&2; exit 2 ;;
esac
