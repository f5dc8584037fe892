"""`make demo`: the whole story on one machine, told as it happens.

Local control plane (etcd, kube-apiserver, kube-controller-manager built from source) →
Prometheus with a day of healthy history → a demo `checkout` service exporting request and
error counters, whose error rate follows the image its Deployment runs → the operator → the
Slack fake (or real Slack when INCIDENT_OPERATOR_SLACK_TOKEN is set) → a bad release →
SLO burn → incident declared with severity → commander from the rotation → channel + pinned
status → automatic rollback → burn stops → mitigated → resolved → postmortem with impact and
chart, written to demo-output/.

    make demo                 # tells the story and cleans up
    make demo DEMO_KEEP=1     # ... then keeps everything running until Ctrl-C
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from incident_operator.domain.simulation import Trace, TraceRow
from tests.cluster import controlplane
from tests.cluster.signals import interrupt_on_termination
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.kube import api_client, as_dict, pod_spec
from tests.services.exporter import Exporter
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".cluster" / "demo"
OUTPUT = REPO / "demo-output"
NS = "shop"
RPS = 50.0
BAD_RATIO = 0.25  # checkout:v2 fails one request in four
DAY = 86400
T = TypeVar("T")
STARTED = time.monotonic()
BOLD, DIM, RED, GREEN, RESET = (
    ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[0m")
    if sys.stdout.isatty()
    else ("", "", "", "", "")
)


def say(text: str, colour: str = "") -> None:
    elapsed = time.monotonic() - STARTED
    wall = time.strftime("%H:%M:%S")
    stamp = f"{wall} +{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}"
    print(f"{DIM}{stamp}{RESET}  {colour}{text}{RESET}")
    sys.stdout.flush()


def detail(text: str) -> None:
    for line in text.splitlines():
        print(f"{' ' * 18}{DIM}{line}{RESET}")
    sys.stdout.flush()


def wait(what: str, probe: Callable[[], T | None], timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(client.ApiException):
            if result := probe():
                return result
        time.sleep(0.5)
    raise SystemExit(f"demo: timed out after {timeout:.0f}s waiting for {what}")


def kubectl(kubeconfig: str, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    return subprocess.run(
        ["kubectl", *args], check=True, capture_output=True, text=True, env=env
    ).stdout


# --- the demo service: its error rate follows the image its Deployment runs -----------------


class DemoService:
    """`checkout`: RPS requests/s; v2 fails BAD_RATIO of them. Watches its Deployment."""

    def __init__(self, apps: client.AppsV1Api, port: int, history: Trace) -> None:
        self.apps = apps
        self.exporter = Exporter(history, port)
        self.image = "checkout:v1"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(0.5):
            with contextlib.suppress(Exception):
                dep = self.apps.read_namespaced_deployment("checkout", NS)
                image = pod_spec(dep).containers[0].image
                if image is not None and image != self.image:
                    self.image = image
                    errors = RPS * BAD_RATIO if image.endswith(":v2") else 0.0
                    rows = (*self.exporter.trace.rows, TraceRow(time.time(), RPS, errors))
                    self.exporter.set_trace(Trace(rows))

    def stop(self) -> None:
        self._stop.set()
        self.exporter.stop()


# --- manifests ----------------------------------------------------------------------------------


def deployment(image: str) -> client.V1Deployment:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": NS,
            # the opt-in a Deployment needs before the operator may roll it back
            "annotations": {"sre.dev/mitigation": "allowed"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "checkout", "image": image}]},
            },
        },
    }
    return client.V1Deployment.model_validate(manifest)


SLO = {
    "apiVersion": "sre.dev/v1alpha1",
    "kind": "ServiceLevelObjective",
    "metadata": {"name": "checkout-availability", "namespace": NS},
    "spec": {
        "service": "checkout",
        "target": 99.9,
        "window": "30d",
        "indicator": {
            "ratio": {
                "errors": 'sum(rate(http_requests_total{job="checkout",code="500"}[{{window}}]))',
                "total": 'sum(rate(http_requests_total{job="checkout"}[{{window}}]))',
            }
        },
        # Demo speed: a 5m/30s pair at the SRE Workbook's 14.4x fires within a minute (the
        # defaults — 1h/5m, 6h/30m, ... — would take longer than anyone wants to watch).
        "alerting": {
            "minRequests": 100,
            "windows": [{"long": "5m", "short": "30s", "factor": 14.4, "severity": "sev-2"}],
        },
        "declare": {"enabled": True, "rotationRef": "checkout-oncall"},
        "mitigations": [{"rollback": {"deployment": "checkout"}}],
        "mitigationPolicy": {
            "mode": "auto",
            "cooldown": "1m",
            "maxActions": 1,
            "verifyWithin": "3m",
        },
    },
}


# --- the story ---------------------------------------------------------------------------------


class Demo:
    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack

    def control_plane(self) -> None:
        say("Starting the local control plane (etcd, kube-apiserver, kube-controller-manager)")
        state = controlplane.up(STATE)
        self.stack.callback(controlplane.down, STATE)
        self.kubeconfig = state.kubeconfig
        self.api = api_client(self.kubeconfig)
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        detail(f"{state.server}   export KUBECONFIG={self.kubeconfig}")
        kubectl(
            self.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds")
        )
        kubectl(
            self.kubeconfig,
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            str(REPO / "crds"),
        )
        for name in ("00-namespace.yaml", "10-severities.yaml", "20-oncallrotation.yaml"):
            kubectl(self.kubeconfig, "apply", "-f", str(REPO / "examples" / name))
        say("CRDs installed; severities sev-1…sev-4 and the rotation shop/checkout-oncall applied")

    def prometheus(self) -> None:
        self.port = controlplane.free_port()
        end = int(time.time())
        rows = ((DAY, RPS, 0.0),)
        history = Trace(tuple(TraceRow(end - ago, total, errors) for ago, total, errors in rows))
        self.apps.create_namespaced_deployment(NS, deployment("checkout:v1"))
        self.service = DemoService(self.apps, self.port, history)
        self.stack.callback(self.service.stop)
        say(f"Demo service checkout:v1 serving {RPS:.0f} req/s, metrics on :{self.port}/metrics")
        (STATE / "prometheus").mkdir(parents=True, exist_ok=True)
        server = PrometheusServer(
            STATE / "prometheus",
            openmetrics(
                [Scenario("checkout", rows, instance=f"127.0.0.1:{self.port}")], [], end - 60
            ),
            scrape={"checkout": f"127.0.0.1:{self.port}"},
            scrape_interval="1s",
        )
        self.stack.callback(server.stop)
        self.prometheus_url = server.url
        say(f"Prometheus {server.url}: a day of healthy history backfilled, scraping every second")

    def slack(self) -> list[str]:
        token_file = STATE / "slack-token"
        real = os.environ.get("INCIDENT_OPERATOR_SLACK_TOKEN", "").strip()
        if real:
            self.fake = None
            token_file.write_text(real)
            say("Slack: the real workspace of INCIDENT_OPERATOR_SLACK_TOKEN")
            return [f"--slack-token-file={token_file}"]
        token = "xoxb-demo-" + os.urandom(8).hex()
        self.fake = FakeSlack(token)
        url, threaded = self.stack.enter_context(serving(self.fake, self.fake.start))
        threaded.call(self.fake.add_channel, "incidents")
        token_file.write_text(token)
        say(f"Slack fake (the Web API contract, on a real port): {url}")
        return [f"--slack-token-file={token_file}", f"--slack-api-url={url}"]

    def operator(self, slack_args: list[str]) -> None:
        self.http = controlplane.free_port()
        log = STATE / "operator.log"
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        proc = subprocess.Popen(
            [
                str(REPO / ".venv" / "bin" / "incident-operator"), "run",
                f"--liveness=http://127.0.0.1:{controlplane.free_port()}/healthz",
                f"--http-listen=127.0.0.1:{self.http}",
                f"--prometheus-url={self.prometheus_url}",
                "--evaluation-interval=2s",
                f"--status-page-url=http://127.0.0.1:{self.http}/status",
                "--status-page-title=Shop status",
                *slack_args,
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip

        def stop() -> None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

        self.stack.callback(stop)
        wait("the operator's HTTP server", lambda: self._get("/healthz") is not None, timeout=60)
        say(f"Operator running (log: {log.relative_to(REPO)})")
        detail(f"status page: http://127.0.0.1:{self.http}/status")

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=2) as r:
                return bytes(r.read())
        except OSError:
            return None

    def slo_status(self) -> dict[str, Any]:
        body = self.custom.get_namespaced_custom_object(
            "sre.dev", "v1alpha1", NS, "servicelevelobjectives", "checkout-availability"
        )
        return dict(as_dict(body).get("status") or {})

    def burn(self, window: str) -> float | None:
        for b in self.slo_status().get("burnRates", []):
            if b["window"] == window:
                rate: float | None = b.get("burnRate")
                return rate
        return None

    def story(self) -> None:
        self.custom.create_namespaced_custom_object(
            "sre.dev", "v1alpha1", NS, "servicelevelobjectives", SLO
        )
        say("SLO shop/checkout-availability: 99.9% of requests succeed over 30d")
        detail("burn-rate pair 5m/30s at 14.4x -> sev-2, declare with rotation checkout-oncall,")
        detail("mitigation: automatic rollback of deployment/checkout (max 1 action)")
        wait("a first evaluation", lambda: self.burn("5m") is not None, timeout=60)
        say(
            f"Healthy: burn rate {self.burn('5m'):.1f}x over 5m, "
            f"{self._budget()} of the error budget left",
            GREEN,
        )

        say("Releasing checkout:v2 — it fails one request in four", RED)
        self.apps.patch_namespaced_deployment(
            "checkout",
            NS,
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "checkout", "image": "checkout:v2"}]}
                    }
                }
            },
        )
        wait("v2 serving", lambda: self.service.image == "checkout:v2", timeout=30)
        firing = wait("the burn to fire", lambda: self.slo_status().get("firing"), timeout=90)
        pair = firing[0]
        say(
            f"SLO burning: {self.burn(pair['short']):.0f}x over {pair['short']}, "
            f"{self.burn(pair['long']):.0f}x over {pair['long']} (threshold {pair['factor']}x)",
            RED,
        )
        incident = wait("the incident", self._incident, timeout=120)
        name = incident["metadata"]["name"]
        spec = incident["spec"]
        say(
            f"Incident {NS}/{name} declared by the SLO engine: {spec['severityRef']}",
            BOLD,
        )
        detail(f"title: {spec['title']}")
        status = wait(
            "the commander",
            lambda: (s := self._status(name)).get("roles", {}).get("commander") and s,
            60,
        )
        say(f"Commander: {status['roles']['commander']} (on call now in rotation checkout-oncall)")
        chat = wait(
            "the channel",
            lambda: (c := self._status(name).get("chat") or {}).get("pinned") and c,
            90,
        )
        if self.fake is not None:
            channel = self.fake.channels[chat["channelId"]]
            say(
                f"Slack: #{channel.name} created, commander invited, live status pinned, "
                "announced in #incidents"
            )
            detail(f"topic: {channel.topic}")
        else:
            say(f"Slack: channel {chat['channelId']} created, live status pinned")

        rollback = wait(
            "the rollback", lambda: self._mitigation(name, {"applied", "verified"}), 120
        )
        say(f"Automatic rollback: {rollback['message']}", BOLD)
        wait("v1 serving again", lambda: self.service.image == "checkout:v1", timeout=30)
        say("checkout:v1 is serving again: errors stop", GREEN)
        wait("mitigated", lambda: self._status(name).get("phase") == "mitigated", timeout=240)
        verified = self._mitigation(name, {"verified"}) or {}
        say("Burn stopped — incident mitigated", GREEN)
        if verified.get("message"):
            detail(verified["message"])

        comms = "bob" if status["roles"]["commander"] != "bob" else "alice"
        say(f"The commander hands communications to {comms}, then resolves (sev-2 needs both):")
        for argv in (["assign", name, "communications", comms], ["resolve", name]):
            detail(f"$ kubectl incident {' '.join(argv)} -n {NS}")
            self.plugin(*argv)
        wait("resolved", lambda: self._status(name).get("phase") == "resolved", timeout=60)
        say("Incident resolved; the pinned status in Slack says so", GREEN)
        self.postmortem(name)

    def plugin(self, *argv: str) -> None:
        """`kubectl incident ...` as a user types it."""
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "kubectl-incident"), *argv, "-n", NS],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "KUBECONFIG": self.kubeconfig},
        )
        if out := (done.stdout + done.stderr).strip():
            detail(out)
        if done.returncode != 0:
            raise SystemExit(f"demo: kubectl incident {argv[0]} failed")

    def postmortem(self, incident: str) -> None:
        pm = wait("the postmortem", lambda: self._status(incident).get("postmortemRef"), timeout=90)
        status = wait(
            "the rendered postmortem",
            lambda: (s := self._pm(pm)).get("renderedConfigMap") and s.get("impact") and s,
            timeout=120,
        )
        owner = as_dict(
            self.custom.get_namespaced_custom_object("sre.dev", "v1alpha1", NS, "postmortems", pm)
        )["spec"].get("owner")
        say(f"Postmortem {NS}/{pm} drafted for {owner}, due {status.get('due', '?')}", BOLD)
        for impact in status.get("impact", []):
            failed, total = impact.get("failedRequests"), impact.get("totalRequests")
            consumed = impact.get("errorBudgetConsumed")
            if failed is not None and total:
                detail(f"impact on {impact['slo']}: {failed:,.0f} of {total:,.0f} requests failed")
            if consumed is not None:
                detail(
                    f"{consumed:.2%} of the 30d error budget burned, "
                    f"{impact.get('errorBudgetRemaining', 0):.2%} left"
                )
        cm = client.CoreV1Api(self.api).read_namespaced_config_map(status["renderedConfigMap"], NS)
        OUTPUT.mkdir(exist_ok=True)
        for key, value in (cm.data or {}).items():
            (OUTPUT / key).write_text(value)
        for key, encoded in (cm.binary_data or {}).items():
            (OUTPUT / key).write_bytes(base64.b64decode(encoded))
        files = sorted(p.name for p in OUTPUT.iterdir())
        say(f"Postmortem written to {OUTPUT.relative_to(REPO)}/: {', '.join(files)}")

    def _incident(self) -> dict[str, Any] | None:
        items = as_dict(
            self.custom.list_namespaced_custom_object("sre.dev", "v1alpha1", NS, "incidents")
        )["items"]
        return items[0] if items else None

    def _status(self, name: str) -> dict[str, Any]:
        body = self.custom.get_namespaced_custom_object(
            "sre.dev", "v1alpha1", NS, "incidents", name
        )
        return dict(as_dict(body).get("status") or {})

    def _pm(self, name: str) -> dict[str, Any]:
        body = self.custom.get_namespaced_custom_object(
            "sre.dev", "v1alpha1", NS, "postmortems", name
        )
        return dict(as_dict(body).get("status") or {})

    def _mitigation(self, name: str, states: set[str]) -> dict[str, Any] | None:
        for result in self._status(name).get("mitigations", []):
            if result.get("state") in states:
                return dict(result)
        return None

    def _budget(self) -> str:
        remaining = self.slo_status().get("errorBudgetRemaining")
        return f"{remaining:.1%}" if remaining is not None else "all"

    def where_to_look(self, keep: bool) -> None:
        say("Where to look")
        detail(kubectl(self.kubeconfig, "get", "inc,pm,slo", "-n", NS))
        incidents = json.loads(self._get("/api/v2/incidents.json") or b"{}").get("incidents", [])
        detail(
            f"status page: http://127.0.0.1:{self.http}/status "
            f"({len(incidents)} incident(s) listed)"
        )
        detail(f"postmortem:  {OUTPUT.relative_to(REPO)}/postmortem.md  (chart: chart.png)")
        detail(f"operator:    {(STATE / 'operator.log').relative_to(REPO)}")
        if keep:
            detail(f"export KUBECONFIG={self.kubeconfig}")
            detail(
                "kubectl get inc -A; kubectl incident show <name> -n shop; "
                "kubectl describe slo -n shop"
            )


def main() -> int:
    interrupt_on_termination()  # a kill or closed terminal stops what we started
    keep = os.environ.get("DEMO_KEEP", "") not in {"", "0"}
    with contextlib.ExitStack() as stack:
        if STATE.exists():
            controlplane.down(STATE)
        demo = Demo(stack)
        demo.control_plane()
        demo.prometheus()
        demo.operator(demo.slack())
        demo.story()
        demo.where_to_look(keep)
        say(f"The whole story took {time.monotonic() - STARTED:.0f}s", BOLD)
        if keep:
            say("Everything keeps running; Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
        say("Cleaning up (make demo DEMO_KEEP=1 keeps it running)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
