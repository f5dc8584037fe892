# incident-operator — every target installs what it needs; see README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
STATE_DIR := .cluster
export KUBECONFIG ?= $(CURDIR)/$(STATE_DIR)/kubeconfig
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv deps binaries helm image crds values-reference krew lint test test-unit test-matrix bench chaos cluster-up cluster-down install-crds examples up run demo clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)  ## create .venv with the operator and the dev tools (pinned by constraints.txt)

deps:  ## system packages the tests use (Prometheus, Alertmanager, Chromium, Node: Debian) and axe-core (npm, into ~/.cache/incident-operator/node)
	hack/install-deps.sh
	hack/install-node-tools.sh >/dev/null

binaries:  ## build etcd, kube-apiserver, kube-controller-manager, helm, Prometheus 3, Alertmanager, VictoriaMetrics once into ~/.cache/incident-operator
	hack/build-binaries.sh all
	hack/build-binaries.sh helm
	hack/build-metrics.sh prometheus
	hack/build-metrics.sh alertmanager
	hack/build-metrics.sh victoria-metrics

helm:  ## build helm from the helm.sh/helm/v4 Go module once into ~/.cache/incident-operator
	hack/build-binaries.sh helm

image:  ## build the operator image with podman (no Docker, no registry; base made locally): docs/image.md
	hack/build-image.sh build

crds: venv  ## regenerate crds/ from the pydantic models
	$(BIN)/python -m incident_operator.crdgen crds

values-reference: venv  ## regenerate the chart README's configuration reference from values.schema.json
	$(BIN)/python -m hack.values_reference --write

krew: venv  ## the kubectl plugin's krew manifest and archive in dist/krew (docs/kubectl-plugin.md)
	$(BIN)/python -m hack.krew --out dist/krew

lint: venv  ## ruff, ruff format, mypy --strict, import-linter layer contracts
	$(BIN)/ruff check operator tests hack benchmarks
	$(BIN)/ruff format --check operator tests hack benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: venv  ## the fast tests only (no cluster)
	$(BIN)/pytest -m "not cluster"

test: venv deps binaries lint  ## everything CI runs: lint, then the whole suite (every metrics backend) on a fresh local control plane
	$(BIN)/pytest

test-matrix: venv deps binaries  ## only the further metrics backends: Prometheus 3, VictoriaMetrics, current Alertmanager
	$(BIN)/pytest -m matrix

bench: venv deps binaries  ## every benchmark, each figure beside its reference; writes docs/benchmarks.md (BENCH_ARGS="--base main~1")
	$(BIN)/python -m benchmarks.suite $(BENCH_ARGS)

chaos: venv deps binaries  ## the full chaos suite (not in `make test`; CHAOS_SEED=n replays); writes docs/reliability.md
	$(BIN)/python -m tests.chaos

cluster-up: venv binaries  ## start (or reuse) the local control plane; writes .cluster/kubeconfig
	$(BIN)/python -m tests.cluster.controlplane up --state-dir $(STATE_DIR)

cluster-down:  ## stop the processes cluster-up started
	$(BIN)/python -m tests.cluster.controlplane down --state-dir $(STATE_DIR)

install-crds: venv  ## apply crds/ to the current KUBECONFIG and wait until established
	kubectl apply --server-side --force-conflicts -f crds/
	kubectl wait --for=condition=Established --timeout=60s -f crds/

examples: install-crds  ## apply the quick-start manifests
	kubectl apply -f examples/

run: venv  ## run the operator against the current KUBECONFIG (Ctrl-C stops it)
	$(BIN)/incident-operator run --liveness http://127.0.0.1:8080/healthz

up: cluster-up examples run  ## the quick start: control plane, CRDs, examples, operator

demo: venv deps  ## the whole story in one command: burn -> incident -> Slack -> rollback -> postmortem
	$(BIN)/python -m tests.demo

clean: cluster-down
	rm -rf $(VENV) $(STATE_DIR) .pytest_cache .mypy_cache .ruff_cache demo-output
