"""Resolve an auto-declared incident -> a Postmortem drafts itself, on a real control plane.

Real Prometheus holds four days of 100 req/s for the demo service, 10 % of them failing since
twenty minutes ago (backfilled, then scraped live every second). The SLO declares the incident
by itself; a responder resolves it; the operator creates the Postmortem with the timeline and
impact figures of exactly that series, keeps human edits through regeneration, refuses to close
the incident until the postmortem is published, and renders Markdown, JSON and a PNG chart that
`kubectl incident postmortem` prints and saves.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain.simulation import Trace
from tests.fakes.threaded import Threaded, serving
from tests.fakes.trackers import FakeGrafana, FakeJira
from tests.kube import (
    Cluster,
    as_dict,
    create_custom,
    get_custom,
    temporary_severity,
    wait_for,
)
from tests.operator_process import running_operator
from tests.services.burn import Burn, burning_prometheus

DAY = 86400
OUTAGE_AGO = 1200
ROWS = ((4 * DAY, 100.0, 0.0), (OUTAGE_AGO, 100.0, 10.0))
TARGET = 0.999
JIRA_TOKEN = "ATATT3xJiraSecretToken0123"
GRAFANA_TOKEN = "glsa_GrafanaSecret0123"
FINE_STEP = 5
"""Backfill resolution: rate x window misses at most one sample interval at the window's start
(the SLO engine's burn start falls between samples), so 5 s keeps the figures within 0.5 %."""


@pytest.fixture(scope="module")
def slow_burn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Burn]:
    """10% of pmdemo's requests failing for twenty minutes. Continuous: the impact figures
    are checked against the trace, so the scraped series must continue the backfilled one
    (a backfill ending earlier would be the trace shifted, the counter jumping back)."""
    directory = tmp_path_factory.mktemp("prometheus")
    with burning_prometheus(directory, "pmdemo", ROWS, step=FINE_STEP, continuous=True) as burn:
        yield burn


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-pm",
        {
            "level": 2,
            "displayName": "SEV-2 (postmortem test)",
            "response": {"requiredRoles": ["commander"]},
            "postmortem": {"required": True, "dueWithin": "5d"},
        },
    ) as name:
        yield name


def slo_manifest(severity: str) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout"},
        "spec": {
            "service": "checkout",
            "target": TARGET * 100,
            "indicator": {
                "ratio": {
                    "errors": 'rate(http_requests_total{job="pmdemo",code="500"}[{{window}}])',
                    "total": 'rate(http_requests_total{job="pmdemo"}[{{window}}])',
                }
            },
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


def parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def patch(api: client.ApiClient, plural: str, namespace: str, name: str, body: Any) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, plural, name, body
    )


def plugin(cluster: Cluster, namespace: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "kubectl-incident"), *argv, "-n", namespace],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
        timeout=60,
        check=False,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG after checking its signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append(kind)
        offset += 12 + length
    assert chunks[0] == b"IHDR"
    assert chunks[-1] == b"IEND"
    assert b"IDAT" in chunks
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_draft(
    pm: dict[str, Any], status: dict[str, Any], trace: Trace, name: str
) -> tuple[dict[str, Any], float]:
    """Links, due date, key times, impact figures against the trace, and the timeline."""
    # Linked both ways, owned by the commander, due five days after resolution.
    assert status["phase"] == "resolved"
    assert status["postmortemRef"] == name
    assert pm["spec"]["incidentRef"] == name
    assert pm["spec"]["owner"] == "alice"
    assert pm["spec"]["state"] == "draft"
    assert parse(pm["status"]["due"]) - parse(status["timestamps"]["resolved"]) == 5 * DAY
    assert pm["status"]["reason"] == "SeverityRequires"

    # Key times and MTTx are the incident's.
    key_times = pm["status"]["keyTimes"]
    assert key_times["detected"] == status["timestamps"]["detected"]
    assert key_times["declared"] == status["timestamps"]["declared"]
    assert key_times["resolved"] == status["timestamps"]["resolved"]
    assert pm["status"]["durations"]["timeToResolve"] == pytest.approx(
        status["durations"]["timeToResolve"]
    )

    # Impact: the series' integral over the incident window (within 1 %, see FINE_STEP).
    (impact,) = pm["status"]["impact"]
    start, end = parse(impact["start"]), parse(impact["end"])
    assert start == parse(status["timestamps"]["detected"])
    assert end == parse(status["timestamps"]["resolved"])
    total_end, failed_end = trace.integral(end)
    total_start, failed_start = trace.integral(start)
    expected_total, expected_failed = total_end - total_start, failed_end - failed_start
    assert impact["totalRequests"] == pytest.approx(expected_total, rel=0.01)
    assert impact["failedRequests"] == pytest.approx(expected_failed, rel=0.01)
    # The 30d window at resolution holds the whole series (four days and a bit).
    slo_total, slo_failed = trace.integral(end)
    budget = (1 - TARGET) * (slo_total - trace.integral(trace.rows[0].time)[0])
    assert impact["errorBudgetConsumed"] == pytest.approx(expected_failed / budget, rel=0.01)
    assert impact["errorBudgetRemaining"] == pytest.approx(1 - slo_failed / budget, rel=0.01)
    assert impact["durationSeconds"] == pytest.approx(end - start, abs=1)
    assert conditions(pm)["ImpactMeasured"]["status"] == "True"

    # Timeline: the incident's own entries and the Kubernetes Events, once each, in order.
    timeline = pm["status"]["timeline"]
    types = [e["type"] for e in timeline]
    assert "declared" in types
    assert "state-changed" in types
    assert "event" in types, types
    instants = [parse(e["at"]) for e in timeline]
    assert instants == sorted(instants)
    keys = [e["key"] for e in timeline if e.get("key")]
    assert len(keys) == len(set(keys))

    return impact, expected_failed


def check_followups(
    api: client.ApiClient,
    namespace: str,
    name: str,
    tracker: tuple[FakeJira, str, Threaded],
    grafana: FakeGrafana,
) -> None:
    """The action item's Jira ticket and the Grafana marks of the incident's milestones."""
    jira, jira_url, jira_thread = tracker
    # The action item got its Jira ticket (once), linked in status, shown in the document.
    ticket = wait_for(
        "the action item's ticket",
        lambda: (get_custom(api, "Postmortem", name, namespace)["status"].get("tickets") or [None])[
            0
        ],
    )
    # What the tracker saw, in order: enough to tell a second process from a missed look-up.
    seen = [
        (method, path, (body.get("fields") or {}).get("labels"))
        for method, path, body in list(jira.requests)
    ] + [("SEARCH", s.get("jql")) for s in list(jira.searches)]
    assert (ticket["tracker"], ticket["ref"], ticket["status"]) == ("jira", "OPS-1", "open"), seen
    assert ticket["url"] == f"{jira_url}/browse/OPS-1"
    assert list(jira.issues) == ["OPS-1"], seen
    assert jira.issues["OPS-1"]["fields"]["summary"] == "Add a canary for checkout"
    jira_thread.call(jira.set_category, "OPS-1", "done")

    # Grafana marks declared and resolved at their own instants.
    marks = wait_for(
        "the declared and resolved marks",
        lambda: (
            {a["tags"][-1]: a["time"] for a in grafana.annotations}
            if {"declared", "resolved"} <= {a["tags"][-1] for a in grafana.annotations}
            else None
        ),
    )
    stamps = get_custom(api, "Incident", name, namespace)["status"]["timestamps"]
    assert marks["declared"] == int(parse(stamps["declared"]) * 1000)
    assert marks["resolved"] == int(parse(stamps["resolved"]) * 1000)
    assert len(grafana.annotations) == len(marks)


def check_plugin(
    cluster: Cluster, namespace: str, name: str, tmp_path: Path, expected: tuple[float, Any]
) -> None:
    """`kubectl incident postmortem`: Markdown, JSON and a valid PNG chart."""
    expected_failed, summary = expected
    # The plugin prints the document and saves a valid PNG chart.
    chart = tmp_path / "chart.png"
    shown = plugin(cluster, namespace, "postmortem", name, "--chart", str(chart))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("# Postmortem: ")
    assert "![Error ratio and remaining error budget" in shown.stdout
    width, height = png_size(chart.read_bytes())
    assert (width, height) == (800, 480)
    as_json = plugin(cluster, namespace, "postmortem", name, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["impact"][0]["failedRequests"] == pytest.approx(expected_failed, rel=0.01)
    assert document["summary"] == summary


def test_resolved_incident_drafts_its_postmortem(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    slow_burn: Burn,
    tmp_path: Path,
) -> None:
    prometheus, _, trace = slow_burn
    create_custom(api, slo_manifest(severity), namespace)
    (tmp_path / "jira-token").write_text(JIRA_TOKEN + "\n")
    (tmp_path / "grafana-token").write_text(GRAFANA_TOKEN + "\n")
    jira, grafana = FakeJira("sre@example.com", JIRA_TOKEN), FakeGrafana(GRAFANA_TOKEN)
    with (
        serving(jira, jira.start) as (jira_url, jira_thread),
        serving(grafana, grafana.start) as (grafana_url, _),
        running_operator(
            crds,
            tmp_path / "operator.log",
            f"--prometheus-url={prometheus.url}",
            "--evaluation-interval=2s",
            # Only this test's namespace: earlier tests leave Postmortems behind in namespaces
            # still terminating (their finalizers wait for an operator), and a cluster-wide
            # operator rightly syncs their action items into this test's Jira too (that
            # was the "duplicate ticket": OPS-1 belonged to the examples' Postmortem).
            f"--namespace={namespace}",
            f"--jira-url={jira_url}",
            "--jira-project=OPS",
            "--jira-email=sre@example.com",
            f"--jira-token-file={tmp_path / 'jira-token'}",
            f"--grafana-url={grafana_url}",
            f"--grafana-token-file={tmp_path / 'grafana-token'}",
        ),
    ):
        incident = wait_for(
            "the declared incident",
            lambda: next(
                iter(
                    as_dict(
                        client.CustomObjectsApi(api).list_namespaced_custom_object(
                            "sre.dev",
                            "v1alpha1",
                            namespace,
                            "incidents",
                            label_selector="sre.dev/slo=checkout",
                        )
                    )["items"]
                ),
                None,
            ),
            timeout=90,
        )
        name = incident["metadata"]["name"]
        wait_for(
            "the declaration's timeline",
            lambda: (
                "timeline" in (get_custom(api, "Incident", name, namespace).get("status") or {})
            ),
        )
        patch(
            api,
            "incidents",
            namespace,
            name,
            {"spec": {"state": "resolved", "roles": {"commander": "alice"}}},
        )

        def drafted() -> dict[str, Any] | None:
            try:
                pm = get_custom(api, "Postmortem", name, namespace)
            except client.ApiException:
                return None
            return pm if (pm.get("status") or {}).get("impact") else None

        pm = wait_for("the drafted postmortem with its impact", drafted, timeout=90)
        status = get_custom(api, "Incident", name, namespace)["status"]
        impact, expected_failed = check_draft(pm, status, trace, name)
        # Human edits survive regeneration.
        human: dict[str, Any] = {
            "summary": "The checkout service returned errors for 10% of requests.",
            "wentWell": ["The SLO burn alert declared the incident by itself."],
            "actionItems": [{"title": "Add a canary for checkout", "owner": "bob"}],
        }
        patch(api, "postmortems", namespace, name, {"spec": human})
        cm_name = f"{name}-postmortem"

        def rendered_with_summary() -> dict[str, str] | None:
            try:
                cm = client.CoreV1Api(api).read_namespaced_config_map(cm_name, namespace)
            except client.ApiException:
                return None
            data: dict[str, str] = cm.data or {}
            return data if human["summary"] in data.get("postmortem.md", "") else None

        data = wait_for("the re-rendered document with the human summary", rendered_with_summary)
        regenerated = get_custom(api, "Postmortem", name, namespace)
        for key, value in human.items():
            assert regenerated["spec"][key] == value or key == "actionItems"
        assert regenerated["spec"]["actionItems"][0]["title"] == "Add a canary for checkout"
        assert regenerated["status"]["impact"][0]["failedRequests"] == impact["failedRequests"]
        assert f"{impact['errorBudgetConsumed']:.2%}" in data["postmortem.md"]

        check_followups(api, namespace, name, (jira, jira_url, jira_thread), grafana)

        # Closing before publishing is refused, with the reason.
        patch(api, "incidents", namespace, name, {"spec": {"state": "closed"}})
        refused = wait_for(
            "the refused close",
            lambda: (
                c
                if (
                    c := conditions(get_custom(api, "Incident", name, namespace)).get(
                        "TransitionRefused"
                    )
                )
                and c["status"] == "True"
                else None
            ),
        )
        assert refused["reason"] == "PostmortemNotPublished"
        assert f"postmortem {name} is draft" in refused["message"]
        assert get_custom(api, "Incident", name, namespace)["status"]["phase"] == "resolved"

        check_plugin(crds, namespace, name, tmp_path, (expected_failed, human["summary"]))

        # Publishing lets the refused close through.
        patch(api, "postmortems", namespace, name, {"spec": {"state": "published"}})
        closed = wait_for(
            "the incident to close once published",
            lambda: (
                i
                if (i := get_custom(api, "Incident", name, namespace))["status"].get("phase")
                == "closed"
                else None
            ),
        )
        assert conditions(closed)["TransitionRefused"]["status"] == "False"
        # Publishing regenerated the document: the ticket's state was read back from Jira.
        published = wait_for(
            "the ticket's state read back",
            lambda: (
                pm
                if (pm := get_custom(api, "Postmortem", name, namespace))["status"]["tickets"][0][
                    "status"
                ]
                == "done"
                else None
            ),
        )
        assert published["spec"]["actionItems"] == [
            {"title": "Add a canary for checkout", "owner": "bob", "status": "open"}
        ]
        assert list(jira.issues) == ["OPS-1"]
        log = (tmp_path / "operator.log").read_text()
        assert JIRA_TOKEN not in log
        assert GRAFANA_TOKEN not in log
