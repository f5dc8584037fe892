"""The world a chaos run acts in: Prometheus, Alertmanager, the SaaS fakes, the operator.

Everything is real except the SaaS (Slack, PagerDuty, Jira fakes from tests/fakes). The
operator reaches Prometheus, Slack and PagerDuty through :class:`~tests.chaos.proxy.Proxy`
instances, so the harness can make them down, slow, flapping or hanging without touching the
services themselves; Alertmanager reaches the operator's webhook on a fixed port, which every
restarted operator listens on again.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from incident_operator.domain.simulation import Trace, TraceRow
from tests.chaos.proxy import Proxy
from tests.cluster.controlplane import free_port
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import Threaded, serving
from tests.fakes.trackers import FakeJira
from tests.kube import Cluster, wait_for
from tests.operator_process import OperatorProcess
from tests.services.alertmanager import AlertmanagerServer, webhook_config
from tests.services.exporter import Exporter, MetricsServer
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

HISTORY = 6 * 3600
RATE = 100.0
SEVERITY = "chaos-sev"
JIRA_EMAIL = "sre@example.com"
ALERT_RULES = """groups:
  - name: chaos
    interval: 1s
    rules:
      - alert: ChaosOutage
        expr: chaos_alert_active == 1
        labels:
          severity: critical
          service: chaos
        annotations:
          summary: The chaos service is down
"""


class AlertSwitch(MetricsServer):
    """``chaos_alert_active{namespace=...}`` on /metrics: the harness turns alerts on and off."""

    def __init__(self, port: int) -> None:
        self.active: dict[str, int] = {}
        super().__init__(port, self._render)

    def _render(self) -> str:
        lines = ["# TYPE chaos_alert_active gauge"] + [
            f'chaos_alert_active{{namespace="{ns}"}} {v}' for ns, v in sorted(self.active.items())
        ]
        return "\n".join(lines) + "\n"


class Service:
    """One job's traffic: healthy from the backfill on; ``burn``/``heal`` switch errors."""

    def __init__(self, job: str, end: int) -> None:
        self.job = job
        self.port = free_port()
        self.rows = [TraceRow(end - HISTORY, RATE, 0.0)]
        self.scenario = Scenario(job, ((HISTORY, RATE, 0.0),), instance=f"127.0.0.1:{self.port}")
        self.exporter = Exporter(Trace(tuple(self.rows)), self.port)

    def _switch(self, errors: float) -> None:
        self.rows.append(TraceRow(time.time(), RATE, errors))
        self.exporter.set_trace(Trace(tuple(self.rows)))

    def burn(self) -> None:
        self._switch(RATE)

    def heal(self) -> None:
        self._switch(0.0)


LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


def faketime_env(clock_file: Path) -> dict[str, str]:
    """The environment that runs a process under libfaketime with the offset in ``clock_file``
    (``+<seconds>``), re-read on every clock call."""
    return {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_RESET": "1",
    }


class Supervisor:
    """Keeps one operator process running; ``kill`` is ``kill -9`` and a restart.

    With ``clock_file`` the operator runs under Debian's libfaketime (``LD_PRELOAD``), which
    offsets every ``clock_gettime``/``time`` call of the process — the wall clock and the
    monotonic clock that asyncio's and kopf's timers use — by the offset in that file, re-read
    on every call (``FAKETIME_NO_CACHE``). :meth:`jump` moves the running operator's clocks
    forward; every (re)start begins at the true time again, so no process ever sees its
    monotonic clock go backwards (a restarted node whose clock was corrected).
    """

    def __init__(
        self, cluster: Cluster, log: Path, args: tuple[str, ...], clock_file: Path | None = None
    ) -> None:
        self.cluster, self.log, self.args = cluster, log, args
        self.clock_file = clock_file
        self.offset = 0
        self.lock = threading.Lock()
        self.exits: list[int] = []
        """Exit codes of operators that stopped without being killed."""
        self.process = self._start()

    def _start(self) -> OperatorProcess:
        env: dict[str, str] = {}
        if self.clock_file is not None:
            self.offset = 0
            self.clock_file.write_text("+0\n")
            env = faketime_env(self.clock_file)
        return OperatorProcess(self.cluster, self.log, *self.args, env=env)

    def jump(self, seconds: int) -> int:
        """Move the running operator's clocks forward by ``seconds``; its total offset."""
        if self.clock_file is None:
            raise RuntimeError("the operator does not run under libfaketime")
        with self.lock:
            self.offset += seconds
            self.clock_file.write_text(f"+{self.offset}\n")
            return self.offset

    def kill(self) -> None:
        with self.lock:
            self.process.proc.kill()  # SIGKILL: no cleanup, no final status write
            self.process.proc.wait()
            self.process = self._start()

    def revive(self) -> int | None:
        """Restart an operator that exited on its own; its exit code, or None if it runs."""
        with self.lock:
            code = self.process.proc.poll()
            if code is None:
                return None
            self.exits.append(code)
            self.process = self._start()
            return code

    def wait_live(self, timeout: float = 120) -> None:
        def live() -> bool:
            exited = self.process.proc.poll() is not None and self.log.exists()
            if exited and "error: argument" in self.log.read_text(errors="replace")[-3000:]:
                raise RuntimeError(f"the operator refused its arguments: see {self.log}")
            return self.process.healthz() == 200

        wait_for("the operator's liveness", live, timeout)

    def stop(self) -> int:
        with self.lock:
            return self.process.stop()


class World(contextlib.ExitStack):
    def __init__(self, cluster: Cluster, workdir: Path, jobs: list[str]) -> None:
        super().__init__()
        self.cluster = cluster
        self.workdir = workdir
        self.jobs = jobs

    def __enter__(self) -> World:
        super().__enter__()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        w = self.workdir
        end = int(time.time())
        self.services = {job: Service(job, end) for job in self.jobs}

        def stop_exporters() -> None:
            for s in self.services.values():
                s.exporter.stop()

        self.callback(stop_exporters)
        self.alerts = AlertSwitch(free_port())
        self.callback(self.alerts.stop)

        # The SaaS fakes, each on its own loop thread.
        self.slack_token = "xoxb-chaos-" + uuid.uuid4().hex
        self.routing_key = uuid.uuid4().hex
        self.jira_token = "jira-" + uuid.uuid4().hex
        self.slack = FakeSlack(self.slack_token)
        self.pd = FakePagerDuty([self.routing_key])
        self.jira = FakeJira(JIRA_EMAIL, self.jira_token)
        slack_url, self.slack_t = self.enter_context(serving(self.slack, self.slack.start))
        _, self.pd_t = self.enter_context(serving(self.pd, self.pd.start))
        jira_url, _ = self.enter_context(serving(self.jira, self.jira.start))
        self.slack_t.call(self.slack.add_channel, "incidents")

        # Real Prometheus (history backfilled, the present scraped) and Alertmanager.
        http_port = free_port()
        self.webhook = f"http://127.0.0.1:{http_port}/alertmanager"
        am_token = secrets.token_urlsafe(24)
        (w / "am").mkdir()
        (w / "prom").mkdir()
        self.alertmanager = AlertmanagerServer(
            w / "am", webhook_config(self.webhook, am_token, repeat_interval="5s")
        )
        self.callback(self.alertmanager.stop)
        rule_file = w / "prom" / "rules.yml"
        rule_file.write_text(ALERT_RULES)
        scrape = {s.job: f"127.0.0.1:{s.port}" for s in self.services.values()}
        scrape["chaos-alerts"] = f"127.0.0.1:{self.alerts.port}"
        self.prometheus = PrometheusServer(
            w / "prom",
            openmetrics([s.scenario for s in self.services.values()], [], end - 60),
            scrape=scrape,
            scrape_interval="1s",
            evaluation_interval="1s",
            extra_args=["--rules.alert.resend-delay=1s"],
            extra_config=(
                f"rule_files: ['{rule_file}']\n"
                "alerting:\n  alertmanagers:\n"
                f"    - static_configs: [{{targets: ['127.0.0.1:{self.alertmanager.port}']}}]\n"
            ),
        )
        self.callback(self.prometheus.stop)

        # What the operator talks to goes through switchable proxies.
        self.prom_proxy = Proxy(self.prometheus.port)
        self.slack_proxy = Proxy(self.slack.port)
        self.pd_proxy = Proxy(self.pd.port)
        for proxy in (self.prom_proxy, self.slack_proxy, self.pd_proxy):
            self.callback(proxy.stop)

        files = w / "secrets"
        files.mkdir()
        for name, value in (
            ("slack-token", self.slack_token),
            ("slack-signing-secret", secrets.token_hex(16)),
            ("routing-key", self.routing_key),
            ("alertmanager-token", am_token),
            ("jira-token", self.jira_token),
        ):
            (files / name).write_text(value + "\n")
        slack_api = slack_url.replace(str(self.slack.port), str(self.slack_proxy.port))
        pd_api = self.pd.url.replace(str(self.pd.port), str(self.pd_proxy.port))
        args = (
            f"--prometheus-url={self.prom_proxy.url}",
            "--evaluation-interval=2s",
            "--prometheus-timeout=10s",
            f"--http-listen=127.0.0.1:{http_port}",
            f"--alertmanager-token-file={files / 'alertmanager-token'}",
            f"--alertmanager-severity-map=critical={SEVERITY},*={SEVERITY}",
            f"--slack-token-file={files / 'slack-token'}",
            f"--slack-signing-secret-file={files / 'slack-signing-secret'}",
            f"--slack-api-url={slack_api}",
            f"--pagerduty-routing-key-file={files / 'routing-key'}",
            f"--pagerduty-url={pd_api}",
            f"--jira-url={jira_url}",
            "--jira-project=OPS",
            f"--jira-email={JIRA_EMAIL}",
            f"--jira-token-file={files / 'jira-token'}",
        )
        self.operator_log = w / "operator.log"
        clock = w / "operator-clock" if LIBFAKETIME.exists() else None
        self.operator = Supervisor(self.cluster, self.operator_log, args, clock)
        self.callback(self.operator.stop)
        self.operator.wait_live()

    def on_slack(self) -> Threaded:
        return self.slack_t

    def slack_channels(self) -> list[dict[str, Any]]:
        def view() -> list[dict[str, Any]]:
            return [
                {
                    "id": c.id,
                    "name": c.name,
                    "messages": [
                        {
                            "key": ((m.get("metadata") or {}).get("event_payload") or {}).get(
                                "key", ""
                            ),
                            "text": m.get("text", ""),
                        }
                        for m in c.messages
                    ],
                }
                for c in self.slack.channels.values()
            ]

        return self.slack_t.call(view)

    def pages(self) -> list[dict[str, Any]]:
        def view() -> list[dict[str, Any]]:
            return [
                {
                    "dedup_key": a.dedup_key,
                    "state": a.state,
                    "actions": [e.get("event_action") for e in a.events],
                }
                for a in self.pd.alerts
            ]

        return self.pd_t.call(view)

    def tickets(self) -> list[dict[str, Any]]:
        return [
            {"key": k, "summary": str(i["fields"].get("summary", ""))}
            for k, i in list(self.jira.issues.items())
        ]
