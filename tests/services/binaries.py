"""Metrics backends (and Sloth) built from their Go modules into the version-keyed cache.

``hack/build-metrics.sh`` builds each once per machine (the first test that needs it waits for
the build; parallel callers wait on its lock) and afterwards only finds it in
``~/.cache/incident-operator/<component>-<version>/``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.kube import REPO

BUILD = REPO / "hack" / "build-metrics.sh"

PROMETHEUS_3 = "v0.316.0"
"""Module version of Prometheus 3.16.0."""
ALERTMANAGER = "v0.35.0"
VICTORIA_METRICS = "v1.151.0"
"""The newest release whose go.mod the local Go 1.26 builds (v1.152.0 wants Go 1.27)."""
SLOTH = "v0.16.0"

_VERSION_ENV = {
    "prometheus": "PROMETHEUS_VERSION",
    "alertmanager": "ALERTMANAGER_VERSION",
    "victoria-metrics": "VICTORIA_METRICS_VERSION",
    "sloth": "SLOTH_VERSION",
}


def cached_binary(component: str, version: str, binary: str) -> str:
    """The path of ``binary`` of ``component`` at ``version``, built first if missing."""
    env = {**os.environ, _VERSION_ENV[component]: version}
    build = subprocess.run(
        [str(BUILD), component], check=False, env=env, capture_output=True, text=True, timeout=3600
    )
    if build.returncode != 0:
        raise RuntimeError(f"{BUILD.name} {component} {version} failed:\n{build.stderr[-3000:]}")
    directory = subprocess.run(
        [str(BUILD), component, "print-dir"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    return str(Path(directory) / binary)
