"""Tenants' SLOs share one Prometheus query per window and nothing else, on a real control
plane with a real Prometheus.

Two services: ``iso-healthy`` has served 100 req/s without errors for four days,
``iso-burning`` fails every request since ten minutes ago (history backfilled, the present
scraped live). Tenant B measures both; tenant A writes PromQL that forges the batch's SLO
label, does not parse, fails when Prometheus runs it, or that the parser cannot print back.
B's verdicts must be exactly what B's own series say, and only A's SLOs carry A's faults.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator.domain.names import label_value
from incident_operator.domain.simulation import Trace, TraceRow
from incident_operator.domain.sli import TERM_LABEL
from incident_operator.services.postmortems import config_map_name
from tests.cluster.controlplane import free_port
from tests.kube import (
    Cluster,
    api_error_message,
    as_dict,
    create_custom,
    get_custom,
    temporary_severity,
    wait_for,
)
from tests.operator_process import running_operator
from tests.services.exporter import Exporter
from tests.services.prometheus import PrometheusServer, Scenario, openmetrics

DAY = 86400
OUTAGE_AGO = 600
JOBS = {
    "iso-healthy": ((4 * DAY, 100.0, 0.0),),
    "iso-burning": ((4 * DAY, 100.0, 0.0), (OUTAGE_AGO, 100.0, 100.0)),
}
LONG_NAME = "checkout-availability-of-the-payment-path-in-eu-west-01"
assert len(LONG_NAME) == 55


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    end = int(time.time())
    exporters, scenarios, scrape = [], [], {}
    for job, rows in JOBS.items():
        port = free_port()
        trace = Trace(tuple(TraceRow(end - ago, total, errors) for ago, total, errors in rows))
        exporters.append(Exporter(trace, port))
        scenarios.append(Scenario(job, rows, instance=f"127.0.0.1:{port}"))
        scrape[job] = f"127.0.0.1:{port}"
    data = openmetrics(scenarios, [], end - 60)
    server = PrometheusServer(
        tmp_path_factory.mktemp("prometheus"), data, scrape=scrape, scrape_interval="1s"
    )
    try:
        yield server
    finally:
        server.stop()
        for exporter in exporters:
            exporter.stop()


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"tenant-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-iso",
        {
            "level": 2,
            "displayName": "SEV-2 (isolation test)",
            "response": {"requiredRoles": ["commander"]},
            "postmortem": {"required": True, "dueWithin": "5d"},
        },
    ) as name:
        yield name


def slo(name: str, errors: str, total: str, severity: str = "sev-2") -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": errors, "total": total}},
            "alerting": {
                "minRequests": 100,
                "windows": [
                    {"long": "1h", "short": "5m", "factor": 14.4, "severity": severity},
                    {"long": "6h", "short": "30m", "factor": 6, "severity": severity},
                ],
            },
            "declare": {"enabled": True},
        },
    }


def of_job(name: str, job: str, severity: str = "sev-2") -> dict[str, Any]:
    return slo(
        name,
        f'rate(http_requests_total{{job="{job}",code="500"}}[{{{{window}}}}])',
        f'rate(http_requests_total{{job="{job}"}}[{{{{window}}}}])',
        severity,
    )


def forge(term: str) -> str:
    return f'label_replace(vector(1), "{TERM_LABEL}", "{term}", "", "")'


# Tenant A's attempts, each a complete manifest a user with `edit` may apply.
BREAKOUT = (
    # Closes the sum() the operator wraps errors in, and adds terms claiming to be others.
    'rate(http_requests_total{job="iso-healthy"}[{{window}}])) or '
    + " or ".join(forge(f"e{i}") for i in range(8))
    + " or sum(rate(http_requests_total[{{window}}])"
)
INSIDE = (  # one valid expression claiming every other SLO's label
    'rate(http_requests_total{job="iso-healthy",code="500"}[{{window}}]) or '
    + " or ".join(forge(f"e{i}") for i in range(8))
)
RUNTIME = "rate(http_requests_total[{{window}}]) / on() rate(http_requests_total[{{window}}])"
QUOTED = 'rate(http_requests_total{job="iso-healthy",code="500",x!="q\\"b"}[{{window}}])'
TOTAL = 'rate(http_requests_total{job="iso-healthy"}[{{window}}])'
ATTACKS = {
    "breakout": (slo("breakout", BREAKOUT, TOTAL), "InvalidIndicator", "parse error"),
    "inside": (slo("inside", INSIDE, TOTAL), "InvalidIndicator", "reserved label"),
    "broken": (
        slo("broken", "rate(http_requests_total[{{window}}]", TOTAL),
        "InvalidIndicator",
        "unclosed left parenthesis",
    ),
    "runtime": (slo("runtime", RUNTIME, TOTAL), "QueryFailed", "422"),
}


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def evaluated(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = get_custom(api, "ServiceLevelObjective", name, namespace)
    return found if conditions(found).get("Healthy") else None


def incidents(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    found = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents"
    )
    return list(as_dict(found)["items"])


def warnings(api: client.ApiClient, namespace: str) -> list[tuple[str | None, str | None, str]]:
    events = client.EventsV1Api(api).list_namespaced_event(namespace).items
    return [
        (e.regarding.name, e.reason, e.note or "")
        for e in events
        if e.type == "Warning" and e.regarding is not None
    ]


def test_a_tenants_forged_or_broken_promql_reaches_no_other_slo(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    other_namespace: str,
    severity: str,
    prometheus: PrometheusServer,
    tmp_path: Path,
) -> None:
    tenant_a, tenant_b = namespace, other_namespace
    create_custom(api, of_job("healthy", "iso-healthy", severity), tenant_b)
    create_custom(api, of_job("burning", "iso-burning", severity), tenant_b)
    for manifest, _, _ in ATTACKS.values():
        create_custom(api, manifest, tenant_a)
    create_custom(api, slo("quoted", QUOTED, TOTAL), tenant_a)
    # (c) A zero window never gets in: the API server refuses it before the operator sees it.
    zero = of_job("zero-window", "iso-healthy")
    zero["spec"]["window"] = "0d"
    with pytest.raises(ApiException) as refused:
        create_custom(api, zero, tenant_a)
    assert refused.value.status == 422
    assert 'spec.window: Invalid value: "0d"' in api_error_message(refused.value)

    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--prometheus-url={prometheus.url}",
        "--evaluation-interval=2s",
    ):
        # (b) the healthy tenant keeps being evaluated and declares for its real burn.
        (incident,) = wait_for(
            "tenant B's declaration", lambda: incidents(api, tenant_b), timeout=120
        )
        assert incident["spec"]["source"]["ref"] == "burning"
        for name, (_, reason, words) in ATTACKS.items():
            found = wait_for(f"{name} evaluated", functools.partial(evaluated, api, tenant_a, name))
            invalid = conditions(found)["InvalidIndicator"]
            assert (invalid["status"], invalid["reason"]) == ("True", reason), name
            assert words in invalid["message"], (name, invalid["message"])
            assert conditions(found)["Healthy"]["status"] == "Unknown", name
        quoted = wait_for("quoted evaluated", lambda: evaluated(api, tenant_a, "quoted"))
        assert conditions(quoted)["InvalidIndicator"]["status"] == "False", "measured alone"
        assert conditions(quoted)["Burning"]["status"] == "False"
        healthy = wait_for("healthy evaluated", lambda: evaluated(api, tenant_b, "healthy"))
        # Let a few more cycles pass with the attackers in place.
        time.sleep(10)
        healthy = get_custom(api, "ServiceLevelObjective", "healthy", tenant_b)
        burning = get_custom(api, "ServiceLevelObjective", "burning", tenant_b)

    # (a) B's status holds B's series only: no forged 1.0 ratio, no forged declaration.
    assert conditions(healthy)["Burning"]["status"] == "False"
    assert conditions(healthy)["InvalidIndicator"]["status"] == "False"
    assert all(w.get("errorRatio", 0.0) == 0.0 for w in healthy["status"]["burnRates"]), healthy[
        "status"
    ]["burnRates"]
    assert conditions(burning)["Burning"]["status"] == "True"
    assert [i["spec"]["source"]["ref"] for i in incidents(api, tenant_b)] == ["burning"]
    assert incidents(api, tenant_a) == []
    # Each attacker gets its own Warning; tenant B gets none.
    assert warnings(api, tenant_b) == []
    warned = {(name, reason) for name, reason, _ in warnings(api, tenant_a)}
    assert warned == {(name, reason) for name, (_, reason, _) in ATTACKS.items()}


def test_a_55_character_slo_name_goes_from_declaration_to_close(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    prometheus: PrometheusServer,
    tmp_path: Path,
) -> None:
    create_custom(api, of_job(LONG_NAME, "iso-burning", severity), namespace)
    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--prometheus-url={prometheus.url}",
        "--evaluation-interval=2s",
    ):
        (incident,) = wait_for("the declaration", lambda: incidents(api, namespace), timeout=120)
        name = incident["metadata"]["name"]
        assert len(name) <= 63
        assert incident["spec"]["source"]["ref"] == LONG_NAME
        assert incident["metadata"]["labels"]["sre.dev/slo"] == label_value(LONG_NAME)
        wait_for(
            "the declaration's timeline",
            lambda: (
                "timeline" in (get_custom(api, "Incident", name, namespace).get("status") or {})
            ),
        )
        patch = client.CustomObjectsApi(api).patch_namespaced_custom_object
        patch(
            "sre.dev",
            "v1alpha1",
            namespace,
            "incidents",
            name,
            {"spec": {"state": "resolved", "roles": {"commander": "alice"}}},
        )

        def drafted() -> dict[str, Any] | None:
            try:
                return get_custom(api, "Postmortem", name, namespace)
            except ApiException:
                return None

        postmortem = wait_for("the drafted postmortem", drafted, timeout=90)
        assert postmortem["metadata"]["labels"]["sre.dev/incident"] == label_value(name)
        assert postmortem["spec"]["incidentRef"] == name

        def rendered() -> Any:
            try:
                return client.CoreV1Api(api).read_namespaced_config_map(
                    config_map_name(name), namespace
                )
            except ApiException:
                return None

        wait_for("the rendered document", rendered, timeout=90)
        patch(
            "sre.dev",
            "v1alpha1",
            namespace,
            "postmortems",
            name,
            {"spec": {"state": "published"}},
        )
        patch("sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": {"state": "closed"}})
        wait_for(
            "the incident to close",
            lambda: get_custom(api, "Incident", name, namespace)["status"].get("phase") == "closed",
            timeout=90,
        )
