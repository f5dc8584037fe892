"""The operator as users run it: a separate `incident-operator run` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.cluster.controlplane import free_port
from tests.kube import REPO, Cluster, wait_for


class OperatorProcess:
    def __init__(
        self, cluster: Cluster, log: Path, *args: str, env: Mapping[str, str] | None = None
    ) -> None:
        """``env``: extra environment variables (the chaos run's LD_PRELOAD of libfaketime)."""
        self.port = free_port()
        self.log = log
        env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, **(env or {})}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "incident_operator.app",
                "run",
                f"--liveness=http://127.0.0.1:{self.port}/healthz",
                *args,
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return int(r.status)
        except OSError:
            return 0

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@contextmanager
def running_operator(
    cluster: Cluster, log: Path, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[OperatorProcess]:
    """The operator, live; on exit stopped, its log tail printed, a clean exit asserted."""
    process = OperatorProcess(cluster, log, *args, env=env)
    try:
        wait_for("the operator's liveness endpoint", lambda: process.healthz() == 200, timeout=60)
        yield process
    finally:
        code = process.stop()
        sys.stdout.write(process.log.read_text(errors="replace")[-5000:])
        assert code == 0, f"operator exited with {code}"
