#!/usr/bin/env bash
# The upstream CRDs of the kinds the operator acts on (Gateway API HTTPRoute, Argo Rollouts
# Rollout, Argo CD Application, Flux Kustomization and HelmRelease, prometheus-operator
# PrometheusRule and ServiceMonitor), taken from their projects' published Go modules at the
# versions pinned here, the one place they are recorded. Each module's zip is fetched from the
# Go module proxy once; only the CRD files and the module's LICENSE are kept, in the per-user
# cache keyed by module and version (like hack/build-prometheus.sh: parallel callers wait for
# one download, nothing is fetched again when present). Licences: tests/data/upstream-crds/NOTICE.
#
#   hack/upstream-crds.sh [fetch]   fetch what is missing
#   hack/upstream-crds.sh paths     fetch what is missing, then print "CRD-NAME PATH" lines
set -euo pipefail

GOPROXY_URL="${GOPROXY_URL:-https://proxy.golang.org}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/incident-operator/upstream-crds"

GATEWAY_API=sigs.k8s.io/gateway-api@v1.7.0
ARGO_ROLLOUTS=github.com/argoproj/argo-rollouts@v1.10.2
ARGO_CD=github.com/argoproj/argo-cd/v3@v3.6.2
FLUX_KUSTOMIZE=github.com/fluxcd/kustomize-controller@v1.10.1
FLUX_HELM=github.com/fluxcd/helm-controller@v1.6.0
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.94.0

# module@version  path in the module  name of the CRD it defines
CRDS=(
  "$GATEWAY_API config/crd/standard/gateway.networking.k8s.io_httproutes.yaml httproutes.gateway.networking.k8s.io"
  "$ARGO_ROLLOUTS manifests/crds/rollout-crd.yaml rollouts.argoproj.io"
  "$ARGO_CD manifests/crds/application-crd.yaml applications.argoproj.io"
  "$FLUX_KUSTOMIZE config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml kustomizations.kustomize.toolkit.fluxcd.io"
  "$FLUX_HELM config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml helmreleases.helm.toolkit.fluxcd.io"
  "$PROMETHEUS_OPERATOR example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml prometheusrules.monitoring.coreos.com"
  "$PROMETHEUS_OPERATOR example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml servicemonitors.monitoring.coreos.com"
)

log() { printf '[upstream-crds] %s\n' "$*" >&2; }

# The cache directory of a module@version (the module path with / as +, as in the mirror).
dir_of() { echo "$CACHE_ROOT/${1//\//+}"; }

# Every file this module@version must provide: its LICENSE and its CRDs.
files_of() {
  echo LICENSE
  local entry
  for entry in "${CRDS[@]}"; do
    read -r mv path _ <<<"$entry"
    if [[ "$mv" == "$1" ]]; then echo "$path"; fi
  done
}

present() {
  local dir path
  dir="$(dir_of "$1")"
  while read -r path; do
    [[ -s "$dir/$path" ]] || return 1
  done < <(files_of "$1")
}

fetch_module() {
  local mv="$1" dir work path
  present "$mv" && return 0
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.${mv//\//+}.lock"
  flock 9
  if present "$mv"; then exec 9>&-; return 0; fi
  dir="$(dir_of "$mv")"
  work="$(mktemp -d)"
  log "fetching $mv"
  # Python's standard library, not curl/unzip: python3 is on every machine the tests run on.
  files_of "$mv" | python3 -c '
import io, pathlib, sys, urllib.request, zipfile
url, prefix, out = sys.argv[1:]
with urllib.request.urlopen(url, timeout=300) as response:
    module = zipfile.ZipFile(io.BytesIO(response.read()))
for path in sys.stdin.read().split():
    target = pathlib.Path(out, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(module.read(f"{prefix}/{path}"))  # KeyError: not in the module
' "$GOPROXY_URL/${mv%@*}/@v/${mv#*@}.zip" "$mv" "$work/out" || {
    log "could not fetch $mv"; rm -rf "$work"; exit 1
  }
  rm -rf "$dir" && mv "$work/out" "$dir" && rm -rf "$work"
  exec 9>&-
  log "$mv in $dir"
}

fetch_all() {
  local entry mv
  for entry in "${CRDS[@]}"; do
    read -r mv _ <<<"$entry"
    fetch_module "$mv"
  done
}

case "${1:-fetch}" in
  fetch) fetch_all ;;
  paths)
    fetch_all
    for entry in "${CRDS[@]}"; do
      read -r mv path name <<<"$entry"
      echo "$name $(dir_of "$mv")/$path"
    done
    ;;
  *) echo "usage: $0 [fetch|paths]" >&2; exit 2 ;;
esac
