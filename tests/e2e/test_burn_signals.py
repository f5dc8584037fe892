"""Signals that never say "recovered" while data is missing, on a real control plane.

1. An SLO burn declared from a real Prometheus; then the service's series vanish (its exporter
   goes away). The declaring pair's short window has no data while the slower pair is below
   its threshold: the incident (autoResolve on) must stay open past the hold-down, and the SLO
   must report itself Blind after ``noDataAfter``, with a Warning Event and an entry on the
   incident.
2. A real Alertmanager with ``max_alerts: 2`` groups three alerts; two resolve, the third still
   fires. Alertmanager sends ``status: resolved, truncatedAlerts: 1``: the incident (operator
   started with auto-resolve) must stay open until the third alert is seen resolved.
"""

from __future__ import annotations

import secrets
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.services.incidents import requested_state
from tests.cluster.controlplane import free_port
from tests.kube import Cluster, as_dict, create_custom, get_custom, wait_for
from tests.operator_process import running_operator
from tests.services.alertmanager import AlertmanagerServer, webhook_config
from tests.services.burn import Burn, burning_prometheus
from tests.services.prometheus import PrometheusServer, openmetrics

HOLD_DOWN = 60
NO_DATA_AFTER = 20


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def condition(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)


def timeline_types(incident: dict[str, Any]) -> list[str]:
    return [e["type"] for e in (incident.get("status") or {}).get("timeline") or []]


# --- 1. series vanish mid-burn ----------------------------------------------------------------


@pytest.fixture
def vanishing_burn(tmp_path: Path) -> Iterator[Burn]:
    """Four healthy days, every request failing for the last ten minutes, scraped live; its
    own per test (the test stops the exporter)."""
    (tmp_path / "prometheus").mkdir()
    with burning_prometheus(tmp_path / "prometheus", "vanishing") as burn:
        yield burn


def vanishing_slo() -> dict[str, Any]:
    """Two pairs. After ten minutes of 100 % errors, 14.4x over 1h/1m fires; 100x over 6h/30m
    does not (the 6h window holds 600 s of errors in 21600 s: 2.8 % < 10 %)."""
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "vanishing"},
        "spec": {
            "service": "vanishing",
            "target": 99.9,
            "indicator": {
                "ratio": {
                    "errors": 'rate(http_requests_total{job="vanishing",code="500"}[{{window}}])',
                    "total": 'rate(http_requests_total{job="vanishing"}[{{window}}])',
                }
            },
            "alerting": {
                "windows": [
                    {"long": "1h", "short": "1m", "factor": 14.4, "severity": "sev-2"},
                    {"long": "6h", "short": "30m", "factor": 100, "severity": "sev-3"},
                ],
                "holdDown": f"{HOLD_DOWN}s",
                "noDataAfter": f"{NO_DATA_AFTER}s",
            },
            "declare": {"enabled": True, "autoResolve": True},
        },
    }


def slo_incidents(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    found = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", label_selector="sre.dev/slo=vanishing"
    )
    return list(as_dict(found)["items"])


def test_series_vanishing_mid_burn_keeps_the_incident_open_and_the_slo_says_blind(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    vanishing_burn: Burn,
    tmp_path: Path,
) -> None:
    prometheus, exporter, _ = vanishing_burn
    create_custom(api, vanishing_slo(), namespace)
    log = tmp_path / "operator.log"
    with running_operator(
        crds,
        log,
        f"--prometheus-url={prometheus.url}",
        "--evaluation-interval=2s",
    ):
        (incident,) = wait_for(
            "the declared incident", lambda: slo_incidents(api, namespace), timeout=90
        )
        name = incident["metadata"]["name"]
        assert incident["spec"]["severityRef"] == "sev-2"

        exporter.stop()  # the service and its series are gone
        vanished = datetime.now(UTC)

        def blind() -> dict[str, Any] | None:
            slo = get_custom(api, "ServiceLevelObjective", "vanishing", namespace)
            found = condition(slo, "Blind")
            return slo if found and found["status"] == "True" else None

        slo = wait_for("the SLO to report itself Blind", blind, timeout=180)
        blind_condition = condition(slo, "Blind")
        assert blind_condition is not None
        assert blind_condition["reason"] == "NoDataForWindows"
        assert "1m" in blind_condition["message"]
        since = parse_time(slo["status"]["noDataSince"])
        assert since >= vanished - timedelta(seconds=5)
        assert parse_time(blind_condition["lastTransitionTime"]) - since >= timedelta(
            seconds=NO_DATA_AFTER
        ), "Blind only after noDataAfter"
        healthy = condition(slo, "Healthy")
        assert healthy is not None
        assert healthy["status"] == "False"

        # Wait until the hold-down since the last firing has passed several times over: the
        # old engine resolved the incident here (1m window empty, 6h/30m below threshold).
        last_firing = parse_time(slo["status"]["episode"]["lastFiringAt"])
        deadline = last_firing + timedelta(seconds=HOLD_DOWN + 20)
        wait_for(
            "the hold-down to pass with the window still blind",
            lambda: datetime.now(UTC) >= deadline,
            timeout=HOLD_DOWN + 60,
        )
        cycles = log.read_text().count("SLO cycle")
        wait_for(
            "two more evaluation cycles",
            lambda: log.read_text().count("SLO cycle") >= cycles + 2,
            timeout=60,
        )
        incident = get_custom(api, "Incident", name, namespace)
        assert requested_state(incident) == "triage", "never resolved while blind"
        types = timeline_types(incident)
        assert "burn-stopped" not in types
        assert types.count("slo-blind") == 1
        slo = get_custom(api, "ServiceLevelObjective", "vanishing", namespace)
        assert slo["status"]["activeIncident"] == name
        assert "stoppedAt" not in slo["status"]["episode"]
        events = client.EventsV1Api(api).list_namespaced_event(namespace).items
        warnings = [e for e in events if e.reason == "SloBlind"]
        assert len(warnings) == 1
        assert warnings[0].type == "Warning"
        assert warnings[0].regarding is not None
        assert warnings[0].regarding.name == "vanishing"


# --- 2. a truncated Alertmanager group --------------------------------------------------------


def three_alerts(namespace: str, firing: tuple[str, ...]) -> str:
    """One alert per instance in ``firing`` (vector(1) relabelled), all in one group."""
    terms = (
        " or ".join(f'label_replace(vector(1), "instance", "{i}", "", "")' for i in firing)
        or "vector(1) == 2"
    )
    return f"""groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: ShardDown
        expr: {terms}
        labels:
          severity: critical
          namespace: {namespace}
          service: shards
        annotations:
          summary: A shard is down
"""


def reload(prometheus: PrometheusServer) -> None:
    urllib.request.urlopen(
        urllib.request.Request(f"{prometheus.url}/-/reload", method="POST"), timeout=10
    ).close()


def hidden_entries(incident: dict[str, Any]) -> int:
    """Timeline entries saying a resolved notification hid alerts (truncatedAlerts)."""
    timeline = (incident.get("status") or {}).get("timeline") or []
    return sum("were not shown (truncatedAlerts)" in (e.get("message") or "") for e in timeline)


def last_alert_resolves(
    api: client.ApiClient,
    alertmanager: AlertmanagerServer,
    prometheus: PrometheusServer,
    rule_file: Path,
    namespace: str,
    name: str,
) -> None:
    # c stops too. Whether Alertmanager's last notification shows c depends on a race
    # we do not control: Prometheus re-sends the resolved a and b (resend-delay 1s) and
    # Alertmanager puts them back into the group, so the all-resolved notification may
    # again show a, b and hide c (truncatedAlerts 1) — and Alertmanager sends nothing
    # more after it (nothing changed). Either way the incident must follow what the
    # operator could see: resolved once c was shown resolved, open while it was hidden.
    # A third outcome: the last notification shows c resolved but hides a or b
    # (truncatedAlerts 1): the operator rightly stays open and says why in a new entry.
    sent = alertmanager.metric("alertmanager_notifications_total", integration="webhook")
    hidden_before = hidden_entries(get_custom(api, "Incident", name, namespace))
    rule_file.write_text(three_alerts(namespace, ()))
    reload(prometheus)

    def settled() -> dict[str, Any] | None:
        i = get_custom(api, "Incident", name, namespace)
        if i and requested_state(i) == "resolved":
            return i
        memory = ((i or {}).get("status") or {}).get("alertmanager") or {}
        seen = {s["status"] for s in (memory.get("alerts") or {}).values()}
        notified = alertmanager.metric("alertmanager_notifications_total", integration="webhook")
        if notified > sent and seen == {"resolved"}:
            return i  # c shown resolved: the next assertion wants it resolved
        return None

    try:
        done = wait_for("the incident resolved once every alert is", settled, timeout=60)
    except AssertionError:
        # Never shown c resolved: the last notification hid it. Still open, and the
        # operator's memory says c was last seen firing.
        current = get_custom(api, "Incident", name, namespace)
        assert requested_state(current) == "triage"
        memory = current["status"]["alertmanager"]["alerts"]
        assert [s["status"] for s in memory.values()].count("firing") == 1
        assert (
            alertmanager.metric("alertmanager_notifications_total", integration="webhook") > sent
        ), "Alertmanager notified after c stopped"
    else:

        def judged() -> dict[str, Any] | None:
            i = get_custom(api, "Incident", name, namespace)
            if requested_state(i) == "resolved" or hidden_entries(i) > hidden_before:
                return i
            return None

        # The memory is written just before the state: give the state its write.
        done = wait_for("the operator's verdict on the last notification", judged, timeout=20)
        if requested_state(done) != "resolved":
            assert requested_state(done) == "triage"  # c shown resolved, another hidden
        remembered = done["status"]["alertmanager"]["alerts"]
        assert len(remembered) == 3
        assert {s["status"] for s in remembered.values()} == {"resolved"}


def test_a_truncated_resolved_group_does_not_resolve_the_incident(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "alertmanager-token"
    token_file.write_text(token)
    http_port = free_port()
    webhook = f"http://127.0.0.1:{http_port}/alertmanager"
    for sub in ("am", "prom"):
        (tmp_path / sub).mkdir()
    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--http-listen=127.0.0.1:{http_port}",
        f"--alertmanager-token-file={token_file}",
        "--alertmanager-auto-resolve",
    ):
        alertmanager = AlertmanagerServer(
            tmp_path / "am", webhook_config(webhook, token, max_alerts=2)
        )
        rule_file = tmp_path / "prom" / "rules.yml"
        rule_file.write_text(three_alerts(namespace, ("a", "b", "c")))
        prometheus = None
        try:
            prometheus = PrometheusServer(
                tmp_path / "prom",
                openmetrics([], [], 0),
                evaluation_interval="1s",
                extra_args=["--rules.alert.resend-delay=1s"],
                extra_config=(
                    f"rule_files: ['{rule_file}']\n"
                    "alerting:\n  alertmanagers:\n"
                    f"    - static_configs: [{{targets: ['127.0.0.1:{alertmanager.port}']}}]\n"
                ),
            )

            def incident() -> dict[str, Any] | None:
                found = as_dict(
                    client.CustomObjectsApi(api).list_namespaced_custom_object(
                        "sre.dev", "v1alpha1", namespace, "incidents"
                    )
                )["items"]
                return found[0] if len(found) == 1 else None

            created = wait_for("the group's incident", incident, timeout=60)
            name = created["metadata"]["name"]

            def firing_seen() -> dict[str, Any] | None:
                body = get_custom(api, "Incident", name, namespace)
                alerts = ((body.get("status") or {}).get("alertmanager") or {}).get("alerts")
                firing = [f for f, s in (alerts or {}).items() if s["status"] == "firing"]
                return body if len(firing) == 2 else None

            # While all three fire, Alertmanager shows the first two by instance (a, b) and
            # says one more was cut: the incident remembers a and b.
            wait_for("two firing alerts in the incident's memory", firing_seen, timeout=30)

            # a and b stop; c still fires. Alertmanager: status resolved, truncatedAlerts 1.
            rule_file.write_text(three_alerts(namespace, ("c",)))
            reload(prometheus)

            def truncation_said() -> dict[str, Any] | None:
                i = get_custom(api, "Incident", name, namespace)
                if (
                    i
                    and "alerts-truncated" in timeline_types(i)
                    and any(e["type"] == "alerts-resolved" for e in i["status"]["timeline"])
                ):
                    return i
                return None

            truncated = wait_for(
                "the truncated resolved notification in the timeline", truncation_said, timeout=60
            )
            assert requested_state(truncated) == "triage"
            (said,) = [e for e in truncated["status"]["timeline"] if e["type"] == "alerts-resolved"]
            assert "were not shown (truncatedAlerts)" in said["message"]
            sent = alertmanager.metric("alertmanager_notifications_total", integration="webhook")
            wait_for(
                "three more deliveries",
                lambda: (
                    alertmanager.metric("alertmanager_notifications_total", integration="webhook")
                    >= sent + 3
                ),
                timeout=30,
            )
            current = get_custom(api, "Incident", name, namespace)
            assert requested_state(current) == "triage", "c still fires"
            assert timeline_types(current).count("alerts-truncated") == timeline_types(
                truncated
            ).count("alerts-truncated"), "redeliveries add no truncation entry"

            last_alert_resolves(api, alertmanager, prometheus, rule_file, namespace, name)
        finally:
            if prometheus is not None:
                prometheus.stop()
            alertmanager.stop()
            sys.stdout.write(alertmanager.process.log_path.read_text(errors="replace")[-3000:])
