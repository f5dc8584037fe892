"""A real Alertmanager for tests, single node: Debian's prometheus-alertmanager (0.25) or the
current release built from its Go module (hack/build-metrics.sh)."""

from __future__ import annotations

import enum
import shutil
import urllib.request
from pathlib import Path

from tests.cluster.controlplane import free_port
from tests.services.binaries import ALERTMANAGER, cached_binary
from tests.services.process import ServiceProcess


class Release(enum.StrEnum):
    DEBIAN = "debian"
    """Debian's prometheus-alertmanager (`make deps`)."""
    CURRENT = "current"
    """``binaries.ALERTMANAGER`` built from its Go module into the cache."""


def alertmanager_binary(release: Release) -> str:
    if release is Release.CURRENT:
        return cached_binary("alertmanager", ALERTMANAGER, "alertmanager")
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise RuntimeError("Alertmanager is not installed: run `make deps`")
    return binary


def webhook_config(
    webhook: str, token: str, *, repeat_interval: str = "2s", max_alerts: int | None = None
) -> str:
    """A config routing every alert, grouped by alert name and namespace, to the operator's
    webhook with its bearer token; fast groups (1 s) and redelivery every ``repeat_interval``.
    ``max_alerts``: Alertmanager truncates larger groups (``truncatedAlerts``)."""
    truncate = f"        max_alerts: {max_alerts}\n" if max_alerts is not None else ""
    return f"""route:
  receiver: incident-operator
  group_by: [alertname, namespace]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: {repeat_interval}
receivers:
  - name: incident-operator
    webhook_configs:
      - url: {webhook}
        send_resolved: true
{truncate}        http_config:
          authorization:
            credentials: {token}
"""


class AlertmanagerServer:
    def __init__(
        self,
        workdir: Path,
        config: str,
        *,
        port: int | None = None,
        release: Release = Release.DEBIAN,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_file = workdir / "alertmanager.yml"
        config_file.write_text(config)
        self.process = ServiceProcess(
            f"alertmanager ({release})",
            [
                alertmanager_binary(release),
                f"--config.file={config_file}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip: a single, isolated instance
                "--log.level=debug",
            ],
            workdir / "alertmanager.log",
            f"{self.url}/-/ready",
        )

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a counter over the series matching ``labels`` on Alertmanager's /metrics."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            series, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def stop(self) -> None:
        self.process.stop()
