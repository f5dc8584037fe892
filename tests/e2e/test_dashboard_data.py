"""Every panel of the chart's Grafana dashboard shows data from a real operator.

Prometheus scrapes the running operator's ``/metrics`` every second while the operator
evaluates an SLO against that same Prometheus and one incident goes triage -> investigating
-> mitigated -> resolved (another stays in triage). Then each panel's queries are run the way
Grafana runs them (template variables substituted as Grafana does, a range query over the
run) and each must return at least one series with a number in it: a panel of "No data" or
NaN on a board that is only opened during an incident is a broken panel. The severity
variable's own query must offer the incident's severity.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import REPO, Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import running_operator
from tests.services.prometheus import Gauge, PrometheusServer, openmetrics

DASHBOARD = REPO / "charts/incident-operator/dashboards/incident-operator.json"
SCRAPE_SECONDS = 1
# Grafana: $__rate_interval = max($__interval + scrape interval, 4 * scrape interval).
VARIABLES = {
    "$__rate_interval": f"{4 * SCRAPE_SECONDS}s",
    "$mttx_window": "1d",
    "$severity": ".*",  # the variable's "All" (allValue)
    "$team": ".*",
}


def targets(items: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for panel in items:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
        yield from targets(panel.get("panels", []))


def as_grafana_runs_it(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    leftover = re.findall(r"\$\w+", expr)
    assert not leftover, f"unknown dashboard variables {leftover} in {expr}"
    return expr


@pytest.fixture
def prometheus_and_port(tmp_path: Path) -> Iterator[tuple[PrometheusServer, int]]:
    port = free_port()
    end = int(time.time())
    (tmp_path / "prometheus").mkdir()
    server = PrometheusServer(
        tmp_path / "prometheus",
        openmetrics([], [Gauge("dashboard_test_backfill", {"job": "none"}, 1.0, 120)], end),
        scrape={"incident-operator": f"127.0.0.1:{port}"},
        scrape_interval=f"{SCRAPE_SECONDS}s",
    )
    try:
        yield server, port
    finally:
        server.stop()


def query_range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{url}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": SCRAPE_SECONDS},
        timeout=10,
    )
    assert response.status_code == 200, f"{expr}: {response.text}"
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def instant(url: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_every_panel_shows_data_from_a_running_operator(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    prometheus_and_port: tuple[PrometheusServer, int],
    tmp_path: Path,
) -> None:
    prometheus, port = prometheus_and_port
    dashboard = json.loads(DASHBOARD.read_text())
    custom = client.CustomObjectsApi(api)
    started = time.time()
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": "search"},
            "spec": {
                "service": "search",
                "target": 99.9,
                "indicator": {
                    "ratio": {
                        "errors": 'rate(http_requests_total{job="search",code="500"}[{{window}}])',
                        "total": 'rate(http_requests_total{job="search"}[{{window}}])',
                    }
                },
            },
        },
        namespace,
    )
    with (
        temporary_severity(api, "sev-dash", {"level": 3, "displayName": "SEV-3 (dash)"}) as sev,
        running_operator(
            crds,
            tmp_path / "operator.log",
            f"--http-listen=127.0.0.1:{port}",
            f"--prometheus-url={prometheus.url}",
            "--evaluation-interval=2s",
        ),
    ):

        def scraped(expr: str) -> bool:
            return bool(instant(prometheus.url, expr))

        def incident(name: str, title: str) -> None:
            create_custom(
                api,
                {
                    "apiVersion": "sre.dev/v1alpha1",
                    "kind": "Incident",
                    "metadata": {"name": name},
                    "spec": {
                        "title": title,
                        "service": "search",
                        "severityRef": sev,
                        "roles": {"commander": "alice"},
                    },
                },
                namespace,
            )

        def move(name: str, state: str) -> None:
            custom.patch_namespaced_custom_object(
                "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": {"state": state}}
            )
            wait_for(
                f"{name} {state}",
                lambda: (
                    (get_custom(api, "Incident", name, namespace).get("status") or {}).get("phase")
                    == state
                ),
            )

        incident("search-slow", "Search is slow")
        incident("search-errors", "Search returns errors")  # stays in triage
        # The severity's series exist at 0 before anything is observed in them.
        wait_for(
            "the severity's series scraped at zero",
            lambda: scraped(f'incident_operator_escalations_total{{severity="{sev}"}} == 0'),
        )
        for state in ("investigating", "mitigated", "resolved"):
            move("search-slow", state)
        wait_for(
            "the resolution scraped",
            lambda: scraped(
                f'incident_operator_time_to_resolve_seconds_count{{severity="{sev}"}} == 1'
            ),
        )
        time.sleep(3 * SCRAPE_SECONDS)  # a few scrapes after the last change
        end = time.time()

        offered = httpx.get(
            f"{prometheus.url}/api/v1/label/severity/values",
            params={"match[]": "incident_operator_open_incidents"},
            timeout=10,
        ).json()["data"]
        assert sev in offered, "the $severity variable must offer the incident's severity"

        empty = []
        checked = 0
        for title, expr in targets(dashboard["panels"]):
            series = query_range(prometheus.url, as_grafana_runs_it(expr), started, end)
            numbers = [
                float(v)
                for s in series
                for _, v in s["values"]
                if not math.isnan(float(v)) and not math.isinf(float(v))
            ]
            checked += 1
            if not numbers:
                empty.append(f"{title}: {expr} -> {len(series)} series, no number")
        assert checked >= 10
        assert empty == []
