"""The running operator's uptime bars from an SLO's real history in Prometheus.

Prometheus holds five days of a service's traffic with a burn on a known day
(tests/services/uptime_history.py: 36,000 of 8,640,000 requests failed, 99.583 % computed
by hand). The operator, told that the service is a public component measured in the test's
namespace, serves on ``/status/uptime.json`` and ``/status`` that day's availability, no
data for the days before the service existed, and today's public incident on today's bar
(never the private one). Another tenant's SLO naming the same service from its own
namespace, measuring every request as failed, must not pull the component down.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain import status_page
from tests.cluster.controlplane import free_port
from tests.kube import (
    Cluster,
    create_custom,
    delete_namespace,
    get_custom,
    temporary_severity,
    wait_for,
)
from tests.operator_process import running_operator
from tests.services.prometheus import PrometheusServer, openmetrics
from tests.services.uptime_history import (
    BAD_DAY_AGO,
    BAD_DAY_AVAILABILITY,
    FIRST_DAY_AGO,
    bad_day_scenario,
    data_end,
    today,
)

JOB = "checkout"


def ratio(errors: str, total: str) -> dict[str, Any]:
    return {"ratio": {"errors": errors, "total": total}}


def slo(name: str, service: str, indicator: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name},
        "spec": {"service": service, "target": 99.9, "indicator": indicator},
    }


@pytest.fixture
def end() -> int:
    return data_end()


@pytest.fixture
def prometheus(tmp_path: Path, end: int) -> Iterator[PrometheusServer]:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    server = PrometheusServer(directory, openmetrics([bad_day_scenario(end, JOB)], [], end))
    yield server
    server.stop()


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    yield name
    delete_namespace(api, name)


def fetch(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        body = response.read().decode()
    return json.loads(body) if path.endswith(".json") else body


def test_uptime_bars_show_the_bad_day_computed_by_hand(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    other_namespace: str,
    prometheus: PrometheusServer,
    end: int,
    tmp_path: Path,
) -> None:
    service = f"checkout-{uuid.uuid4().hex[:6]}"
    good = f'http_requests_total{{job="{JOB}"}}'
    errors = f'http_requests_total{{job="{JOB}",code="500"}}'
    create_custom(
        api,
        slo(
            "checkout-availability",
            service,
            ratio(f"rate({errors}[{{{{window}}}}])", f"rate({good}[{{{{window}}}}])"),
        ),
        namespace,
    )
    # Another tenant names the same service and counts every request as failed.
    create_custom(
        api,
        slo(
            "squatter",
            service,
            ratio(f"rate({good}[{{{{window}}}}])", f"rate({good}[{{{{window}}}}])"),
        ),
        other_namespace,
    )
    with temporary_severity(
        api,
        "sev-uptime",
        {"level": 2, "displayName": "SEV-2", "statusPage": {"publish": True, "impact": "major"}},
    ) as severity:
        for name, title, private in (
            ("card-data-exposure", "Card data exposure", True),
            ("checkout-failing", "Checkout is failing", False),
        ):
            create_custom(
                api,
                {
                    "apiVersion": "sre.dev/v1alpha1",
                    "kind": "Incident",
                    "metadata": {"name": name},
                    "spec": {
                        "title": title,
                        "service": service,
                        "severityRef": severity,
                        "private": private,
                    },
                },
                namespace,
            )
        uid = get_custom(api, "Incident", "checkout-failing", namespace)["metadata"]["uid"]
        public_id = status_page.public_id(b"", namespace, "checkout-failing", uid)
        port = free_port()
        with running_operator(
            crds,
            tmp_path / "operator.log",
            f"--http-listen=127.0.0.1:{port}",
            f"--prometheus-url={prometheus.url}",
            f"--status-page-component={service}={namespace}",
        ):

            def shown() -> dict[str, Any] | None:
                body: dict[str, Any] = fetch(port, "/status/uptime.json")
                [component] = body["components"]
                last = component["days"][-1]
                measured = body["period"]["measured_at"] is not None
                return body if measured and last["incidents"] else None

            body = wait_for("the bars with today's incident", shown)
            page = fetch(port, "/status")

    [component] = body["components"]
    assert component["name"] == service
    days = {d["date"]: d for d in component["days"]}
    assert len(days) == 90
    first = (today(end) - timedelta(days=FIRST_DAY_AGO)).isoformat()
    bad = (today(end) - timedelta(days=BAD_DAY_AGO)).isoformat()
    before = (today(end) - timedelta(days=FIRST_DAY_AGO + 1)).isoformat()
    assert days[bad]["availability_percent"] == pytest.approx(
        round(100 * BAD_DAY_AVAILABILITY, 3), abs=0.002
    )
    assert days[bad]["below_objective"] is True
    assert days[first]["availability_percent"] == 100.0
    assert days[before]["availability_percent"] is None, "no data, never 100 %"
    assert component["days_with_data"] == FIRST_DAY_AGO + 1
    assert 99.9 < component["uptime_percent"] < 100, "the squatter's 0 % did not count"
    today_bar = component["days"][-1]
    assert today_bar["partial"] is True
    assert [i["id"] for i in today_bar["incidents"]] == [public_id]
    assert today_bar["incidents"][0]["name"] == "Checkout is failing"
    for where in (json.dumps(body), page):
        assert "Card data exposure" not in where
        assert namespace not in where
        assert other_namespace not in where
    assert "99.583 %" in page or "99.584 %" in page
    assert "Checkout is failing" in page
