"""helm for the chart tests: built from the helm.sh/helm/v4 Go module once per machine.

``hack/build-binaries.sh helm`` caches it next to the Kubernetes binaries
(``~/.cache/incident-operator/helm-<version>/helm``); nothing is rebuilt when it is there.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.kube import REPO

CHART = REPO / "charts" / "incident-operator"
BUILD_SCRIPT = REPO / "hack" / "build-binaries.sh"


@functools.cache
def helm_binary() -> Path:
    subprocess.run([str(BUILD_SCRIPT), "helm"], check=True)
    dirs = subprocess.run(
        [str(BUILD_SCRIPT), "print-dirs"], check=True, capture_output=True, text=True
    ).stdout.split()
    return Path(dirs[2]) / "helm"


def helm(
    *args: str, kubeconfig: str | None = None, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run helm with its state (cache, config, repositories) kept out of the user's home."""
    state = REPO / ".cluster" / "helm"
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(state / "cache"),
        "HELM_CONFIG_HOME": str(state / "config"),
        "HELM_DATA_HOME": str(state / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = kubeconfig
    result = subprocess.run(
        [str(helm_binary()), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def set_args(values: Mapping[str, Any]) -> list[str]:
    """Values as `--set-json key=json` arguments (exact types, no string guessing)."""
    return [
        arg for key, value in values.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


def template(
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = "incident-operator",
    release: str = "incident-operator",
    include_crds: bool = False,
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The rendered manifests, parsed."""
    args = ["template", release, str(CHART), "--namespace", namespace, *set_args(values or {})]
    if include_crds:
        args.append("--include-crds")
    out = helm(*args, *extra).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: Sequence[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"{len(matches)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return matches[0]


def dump(docs: Sequence[dict[str, Any]], path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path
