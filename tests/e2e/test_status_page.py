"""The running operator's status page follows incidents on the real control plane.

A Severity with ``statusPage: {publish: true, impact: major}`` and two Incidents of one
service, one of them private, plus an Incident whose Severity did not opt in:
``/api/v2/summary.json`` shows the public incident under an opaque id (never its namespace or
name) with indicator major and the service as partial_outage, and nothing of the private or
the unpublished one; a spoofed Host header changes no URL. Resolving the public incident
turns the component operational — the private incident, still open on the same service,
must not hold it down — and ``incidents.json`` lists the incident as resolved.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from kubernetes import client

from incident_operator.domain import status_page
from tests.builders.objects import incident_manifest
from tests.cluster.controlplane import free_port
from tests.e2e.test_incident_lifecycle import plugin
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import running_operator

TITLE = "Acme <Status> Page"
EXTERNAL = "https://status.example.com/status"


@pytest.fixture
def port(crds: Cluster, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with running_operator(
        crds,
        tmp_path / "operator.log",
        f"--http-listen=127.0.0.1:{port}",
        f"--status-page-title={TITLE}",
        f"--status-page-url={EXTERNAL}",
    ):
        yield port


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-status",
        {
            "level": 2,
            "displayName": "SEV-2 (status page test)",
            "statusPage": {"publish": True, "impact": "major"},
        },
    ) as name:
        yield name


@pytest.fixture
def quiet_severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    """Impact critical, but never opted in to the status page."""
    with temporary_severity(
        api,
        "sev-quiet",
        {
            "level": 1,
            "displayName": "SEV-1 (internal)",
            "statusPage": {"impact": "critical"},
        },
    ) as name:
        yield name


def fetch(port: int, path: str, host: str = "") -> tuple[dict[str, str], Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if host:
        request.add_header("Host", host)
        request.add_header("X-Forwarded-Host", host)
    with urllib.request.urlopen(request, timeout=5) as response:
        headers = dict(response.headers)
        body = response.read().decode()
    return headers, (json.loads(body) if path.endswith(".json") else body)


def summary(port: int) -> dict[str, Any]:
    _, body = fetch(port, "/api/v2/summary.json")
    result: dict[str, Any] = body
    return result


def components(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["components"]}


def test_status_page_shows_the_public_incident_until_resolved(
    port: int, api: client.ApiClient, namespace: str, severity: str, quiet_severity: str
) -> None:
    service = f"pay-{uuid.uuid4().hex[:6]}"
    quiet_service = f"ledger-{uuid.uuid4().hex[:6]}"
    # The unpublished and the private incident first: when the public one shows, the
    # operator has seen them too (one watch stream, in order).
    for name, title, private, sev, svc in (
        ("ledger-drift", "Ledger drift", False, quiet_severity, quiet_service),
        ("card-data-exposure", "Card data exposure", True, severity, service),
        ("payments-failing", "Payments are failing", False, severity, service),
    ):
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": name},
                "spec": {
                    "title": title,
                    "service": svc,
                    "severityRef": sev,
                    "private": private,
                },
            },
            namespace,
        )
    uid = get_custom(api, "Incident", "payments-failing", namespace)["metadata"]["uid"]
    public_id = status_page.public_id(b"", namespace, "payments-failing", uid)

    def listed() -> dict[str, Any] | None:
        got = summary(port)
        return got if public_id in {i["id"] for i in got["incidents"]} else None

    shown = wait_for("the public incident on summary.json", listed)
    assert shown["page"]["name"] == TITLE
    assert shown["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert components(shown)[service] == "partial_outage"
    (incident,) = [i for i in shown["incidents"] if i["id"] == public_id]
    assert shown["page"]["url"] == EXTERNAL
    assert incident["shortlink"] == f"{EXTERNAL}#incident-{public_id}"
    assert incident["name"] == "Payments are failing"
    assert (incident["status"], incident["impact"]) == ("investigating", "major")
    assert [c["name"] for c in incident["components"]] == [service]
    headers, page = fetch(port, "/status")
    assert headers["Cache-Control"] == "max-age=30"
    assert "Payments are failing" in page
    assert "Acme &lt;Status&gt; Page" in page
    for where in (json.dumps(shown), json.dumps(fetch(port, "/api/v2/incidents.json")[1]), page):
        for hidden in ("card-data-exposure", "Card data exposure", "Ledger drift", quiet_service):
            assert hidden not in where
        assert namespace not in where, "ids are opaque"
        assert "payments-failing" not in where
    assert "critical" not in json.dumps(shown), "the unpublished incident does not count"
    for path in ("/api/v2/summary.json", "/api/v2/incidents.json"):
        _, spoofed = fetch(port, path, host="evil.example:8443")
        assert "evil.example" not in json.dumps(spoofed), path
        assert spoofed["page"]["url"] == EXTERNAL

    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev",
        "v1alpha1",
        namespace,
        "incidents",
        "payments-failing",
        {"spec": {"state": "resolved", "roles": {"commander": "alice"}}},
    )
    wait_for(
        "phase resolved",
        lambda: (
            (get_custom(api, "Incident", "payments-failing", namespace).get("status") or {}).get(
                "phase"
            )
            == "resolved"
        ),
    )
    after = wait_for(
        "the component operational again",
        lambda: got if components(got := summary(port)).get(service) == "operational" else None,
    )
    assert public_id not in {i["id"] for i in after["incidents"]}, "summary lists open ones"
    assert after["status"]["indicator"] == "none", "the private incident does not count"
    history = fetch(port, "/api/v2/incidents.json")[1]["incidents"]
    (resolved,) = [i for i in history if i["id"] == public_id]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["incident_updates"][0]["status"] == "resolved"
    assert resolved["incident_updates"][0]["body"] == "This incident has been resolved."
    # The same history as Atom, read as a feed reader reads it (issue 20): the resolved
    # incident under its public name, the private and unpublished ones nowhere.
    for path in ("/status/history.atom", f"/status/components/{service}/history.atom"):
        _, atom = fetch(port, path)
        feed = feedparser.parse(atom)
        assert not feed.bozo, path
        (entry,) = [e for e in feed.entries if e.link.endswith(f"#incident-{public_id}")]
        assert entry.title == "Payments are failing (Resolved)"
        assert feed.feed.links[0].href == f"https://status.example.com{path}"
        for hidden in ("card-data-exposure", "Card data exposure", "Ledger drift", namespace):
            assert hidden not in atom, path


def test_a_public_update_from_kubectl_replaces_the_internal_words(
    crds: Cluster, port: int, api: client.ApiClient, namespace: str, severity: str
) -> None:
    internal = "checkout: SLO checkout-availability is burning its error budget"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "checkout-burn"},
            "spec": {"title": internal, "service": "checkout", "severityRef": severity},
        },
        namespace,
    )
    done = plugin(
        crds, namespace, "update", "checkout-burn", "We are investigating failed payments.",
        "--public", "--title", "Card payments fail", "--impact", "Some customers cannot pay.",
        "--status", "identified",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"incident {namespace}/checkout-burn: public update published\n"
    uid = get_custom(api, "Incident", "checkout-burn", namespace)["metadata"]["uid"]
    public_id = status_page.public_id(b"", namespace, "checkout-burn", uid)

    def written() -> dict[str, Any] | None:
        got = summary(port)
        mine = [i for i in got["incidents"] if i["id"] == public_id]
        return mine[0] if mine and mine[0]["name"] == "Card payments fail" else None

    incident = wait_for("the public title on summary.json", written)
    assert incident["status"] == "identified"
    assert [u["body"] for u in incident["incident_updates"]] == [
        "We are investigating failed payments."
    ]
    _, page = fetch(port, "/status")
    assert "Some customers cannot pay." in page
    for where in (json.dumps(summary(port)), page):
        assert internal not in where, "the internal title never leaks"


def test_catalog_components_dependencies_and_maintenance(
    port: int, api: client.ApiClient, namespace: str, severity: str
) -> None:
    """A Team admitting this namespace owns checkout (public, group Shop, showing its
    dependencies, a maintenance running) and gateway (no component): an incident on gateway
    turns Checkout and its group red; a Service whose owner does not admit the namespace puts
    nothing on the page."""
    suffix = uuid.uuid4().hex[:6]
    team, stranger = f"shop-{suffix}", f"stranger-{suffix}"
    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "name": f"Database upgrade {suffix}",
        "start": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "end": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }
    teams = client.CustomObjectsApi(api)
    for name, admits in ((team, [namespace]), (stranger, ["elsewhere"])):
        create_custom(api, custom("Team", name, {"namespaces": admits}), "")
    try:
        checkout, gateway = f"Checkout {suffix}", f"gateway-{suffix}"
        component = {"name": checkout, "group": f"Shop {suffix}", "public": True}
        for name, spec in (
            (
                f"checkout-{suffix}",
                {
                    "owner": team,
                    "dependencies": [gateway],
                    "statusPage": component | {"showDependencies": True, "maintenance": [window]},
                },
            ),
            (gateway, {"owner": team}),
            (
                f"fake-{suffix}",
                {
                    "owner": stranger,
                    "statusPage": {"name": f"Payments {suffix}", "public": True,
                                   "maintenance": [window | {"name": f"Fake {suffix}"}]},
                },
            ),
        ):  # fmt: skip
            create_custom(api, custom("Service", name, spec), namespace)

        def maintained() -> dict[str, Any] | None:
            got = summary(port)
            return got if components(got).get(checkout) == "under_maintenance" else None

        calm = wait_for("Checkout under maintenance on summary.json", maintained)
        (running,) = [m for m in calm["scheduled_maintenances"] if suffix in m["name"]]
        assert (running["name"], running["status"]) == (window["name"], "in_progress")
        assert [c["name"] for c in running["components"]] == [checkout]
        assert f"Payments {suffix}" not in components(calm), "the owner does not admit us"

        create_custom(
            api,
            incident_manifest("gateway-down", title="Gateway down", service=gateway,
                              severityRef=severity),
            namespace,
        )  # fmt: skip

        def red() -> dict[str, Any] | None:
            got = summary(port)
            return got if components(got).get(checkout) == "partial_outage" else None

        shown = wait_for("the dependency's incident on Checkout", red)
        assert components(shown)[f"Shop {suffix}"] == "partial_outage"
        assert gateway not in components(shown)
        (listed,) = [i for i in shown["incidents"] if i["name"] == "Gateway down"]
        assert [c["name"] for c in listed["components"]] == [checkout]
    finally:
        for name in (team, stranger):
            teams.delete_cluster_custom_object("sre.dev", "v1alpha1", "teams", name)


def custom(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }
