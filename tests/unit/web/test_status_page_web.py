"""The status page over HTTP (aiohttp's test server) from a StatusPageIndex fed with watch
bodies: JSON shapes and headers, HTML content and escaping, malformed objects, deletion."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from statuspage_prometheus_exporter.service_checker import check_service_status

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain.comms import Impact
from incident_operator.domain.status_page import ComponentStatus, IncidentStatus, Page, public_id
from incident_operator.handlers.status_page import status_page_incidents, status_page_severities
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from incident_operator.web.status_page_html import SCRIPT_HREF, render_html
from tests.builders import objects
from tests.fakes.context import operator_memo
from tests.fakes.ports.clock import FakeClock

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
EVIL = '<script>alert("x")</script> & co'


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def severity(name: str, impact: str | None, *, publish: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"displayName": name}
    if impact is not None:
        spec["statusPage"] = {"impact": impact, "publish": publish}
    return objects.severity(name, **spec)


def pid(name: str, namespace: str = "shop") -> str:
    """The public id of ``incident(name)`` (no id key configured)."""
    return public_id(b"", namespace, name, f"uid-{name}")


def incident(
    name: str,
    *,
    title: str = "Checkout returns 5xx",
    service: str = "checkout",
    sev: str = "sev-2",
    phase: str | None = "investigating",
    private: bool = False,
    declared: datetime = NOW - timedelta(hours=1),
    timeline: list[dict[str, Any]] | None = None,
    stamps: dict[str, str] | None = None,
    further: list[str] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"timestamps": {"declared": iso(declared), **(stamps or {})}}
    if phase is not None:
        status["phase"] = phase
    status["timeline"] = timeline or []
    return objects.incident(
        name,
        created=iso(declared),
        metadata={"uid": f"uid-{name}"},
        status=status,
        title=title,
        service=service,
        severityRef=sev,
        state=phase or "triage",
        private=private,
        services=further or [],
    )


def state_changed(at: datetime, start: str, phase: str) -> dict[str, Any]:
    return {
        "at": iso(at),
        "type": "state-changed",
        "message": f"State {start} -> {phase}",
        "source": "operator",
        "key": f"state/{phase}/2",
    }


async def serve(
    index: StatusPageIndex, settings: StatusPageSettings | None = None
) -> TestClient[Any, Any]:
    webhook = AlertmanagerWebhook(None, StaticToken("t"))
    endpoints = StatusPageEndpoints(index, FakeClock(NOW), settings)
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(alertmanager=webhook, status_page=endpoints))
    )
    await client.start_server()
    return client


async def get_json(client: TestClient[Any, Any], path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "max-age=30"
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    return body


async def test_summary_json(client: TestClient[Any, Any]) -> None:
    summary = await get_json(client, "/api/v2/summary.json")
    assert summary["page"]["id"] == "acme"
    assert summary["page"]["name"] == "Acme Status"
    assert summary["page"]["url"] == "/status", "no URL configured: the path, not the Host"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert {c["name"]: c["status"] for c in summary["components"]} == {
        "checkout": "partial_outage",
        "search": "operational",
    }
    (open_incident,) = summary["incidents"]
    assert open_incident["id"] == pid("checkout-errors")
    assert open_incident["shortlink"] == f"/status#incident-{pid('checkout-errors')}"
    assert "shop" not in str(summary), "no namespace anywhere"
    assert open_incident["status"] == "investigating"
    assert open_incident["impact"] == "major"
    updates = open_incident["incident_updates"]
    assert [(u["status"], u["created_at"]) for u in updates] == [
        ("investigating", iso(NOW - timedelta(minutes=40))),
        ("investigating", iso(NOW - timedelta(hours=1))),
    ]
    assert "db?" not in str(summary), "timeline notes are internal"
    assert summary["scheduled_maintenances"] == []


async def test_status_and_incidents_json(client: TestClient[Any, Any]) -> None:
    status = await get_json(client, "/api/v2/status.json")
    assert set(status) == {"page", "status"}
    assert status["status"]["indicator"] == "major"
    history = await get_json(client, "/api/v2/incidents.json")
    assert [(i["id"], i["status"]) for i in history["incidents"]] == [
        (pid("checkout-errors"), "investigating"),
        (pid("search-slow"), "resolved"),
    ]
    assert history["incidents"][1]["resolved_at"] == iso(NOW - timedelta(days=2, hours=-1))


async def test_a_spoofed_host_header_never_reaches_a_url() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_incident(incident("checkout-errors"))
    configured = StatusPageSettings(url="https://status.example.com/status")
    for settings, base in ((configured, "https://status.example.com/status"), (None, "/status")):
        client = await serve(index, settings)
        try:
            for host in (None, "evil.example", "evil.example:8443"):
                headers = {"Host": host, "X-Forwarded-Host": "evil.example"} if host else {}
                response = await client.get("/api/v2/summary.json", headers=headers)
                text = await response.text()
                summary = json.loads(text)
                assert "evil" not in text
                assert summary["page"]["url"] == base
                (shown,) = summary["incidents"]
                assert shown["shortlink"] == f"{base}#incident-{pid('checkout-errors')}"
        finally:
            await client.close()


async def test_a_severity_that_did_not_opt_in_publishes_nothing() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "critical", publish=False))
    index.observe_incident(incident("checkout-errors", title="Quiet outage"))
    client = await serve(index)
    try:
        for path in (
            "/api/v2/summary.json",
            "/api/v2/incidents.json",
            "/status",
            "/status/history/2026-11",
        ):
            text = await (await client.get(path)).text()
            assert "Quiet outage" not in text, path
            assert "checkout" not in text, path
        summary = await get_json(client, "/api/v2/summary.json")
        assert summary["status"]["indicator"] == "none"
    finally:
        await client.close()
    # The admin opts in: the incident appears; the Severity goes away: it leaves again.
    index.observe_severity(severity("sev-2", "critical"))
    assert [i.name for i in index.page(NOW).open_incidents] == ["Quiet outage"]
    index.observe_severity(severity("sev-2", "critical"), deleted=True)
    assert index.page(NOW).recent_incidents == ()
    index.observe_severity({"metadata": {"name": "sev-2"}, "spec": {"statusPage": "loud"}})
    assert index.page(NOW).recent_incidents == (), "an unreadable opt-in publishes nothing"


def test_ids_depend_on_the_configured_key_only() -> None:
    keyed, again, unkeyed = (
        StatusPageIndex(b"secret"),
        StatusPageIndex(b"secret"),
        StatusPageIndex(),
    )
    for index in (keyed, again, unkeyed):
        index.observe_severity(severity("sev-2", "major"))
        index.observe_incident(incident("checkout-errors"))
    ids = [index.page(NOW).open_incidents[0].id for index in (keyed, again, unkeyed)]
    assert ids[0] == ids[1], "a restart with the same key keeps every id"
    assert ids[0] != ids[2]
    assert ids[0] == public_id(b"secret", "shop", "checkout-errors", "uid-checkout-errors")


async def test_private_incident_is_nowhere(client: TestClient[Any, Any]) -> None:
    for path in (
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/status",
        "/status/history/2026-11",
    ):
        text = await (await client.get(path)).text()
        assert "breach" not in text.lower(), path
        assert "auth" not in text, path


async def test_html_page(client: TestClient[Any, Any]) -> None:
    response = await client.get("/status")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "max-age=30"
    page = await response.text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page
    # One script, from the page's own origin, that only localises times; nothing inline,
    # and the browser is told to run nothing else.
    assert re.findall(r"<script\b[^>]*>[^<]*</script>", page) == [
        f'<script src="{SCRIPT_HREF}" defer></script>'
    ]
    assert page.count("<script") == 1
    assert not re.search(r"\son[a-z]+=|javascript:|<style", page, re.IGNORECASE)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe" not in policy
    assert "default-src 'none'" in policy
    assert '<div class="banner major" role="status">Partial System Outage</div>' in page
    assert "<title>Acme Status</title>" in page
    open_part, past_part = page.split('id="past"')
    assert "Checkout returns 5xx" in open_part
    assert "Major impact" in open_part
    assert "We are investigating the problem affecting checkout." in open_part
    assert "Partial Outage" in open_part
    assert "Search was slow" in past_part
    assert "Nov 25, 2026" in past_part


async def test_html_escapes_titles_and_the_page_name() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "none"))
    index.observe_incident(incident("evil", title=EVIL, service="checkout"))
    client = await serve(index, StatusPageSettings(title=EVIL))
    try:
        page = await (await client.get("/status")).text()
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert summary["incidents"][0]["name"] == EVIL, "JSON carries the text as it is"
    assert summary["page"]["name"] == EVIL


async def test_without_a_status_page_the_routes_are_absent() -> None:
    app = build_app(alertmanager=AlertmanagerWebhook(None, None))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert (await client.get("/status")).status == 404
        assert (await client.get("/api/v2/summary.json")).status == 404
    finally:
        await client.close()


# --- the index --------------------------------------------------------------------------


def test_severity_impact_edits_and_deletions_recolour_the_page(index: StatusPageIndex) -> None:
    index.observe_severity(severity("sev-2", "critical"))
    assert index.page(NOW).indicator is Impact.CRITICAL
    index.observe_severity(severity("sev-2", None))
    assert index.page(NOW).indicator is Impact.NONE
    index.observe_severity(severity("sev-2", "minor"))
    assert index.page(NOW).indicator is Impact.MINOR
    index.observe_severity(severity("sev-2", "minor"), deleted=True)
    assert index.page(NOW).indicator is Impact.NONE


def test_incident_changes_and_deletion(index: StatusPageIndex) -> None:
    resolved = incident(
        "checkout-errors",
        phase="resolved",
        timeline=[state_changed(NOW - timedelta(minutes=5), "investigating", "resolved")],
        stamps={"resolved": iso(NOW - timedelta(minutes=5))},
    )
    index.observe_incident(resolved)
    page = index.page(NOW)
    assert {c.name: c.status for c in page.components}["checkout"] is (ComponentStatus.OPERATIONAL)
    assert page.recent_incidents[0].status is IncidentStatus.RESOLVED
    index.observe_incident(resolved, deleted=True)
    assert pid("checkout-errors") not in {i.id for i in index.page(NOW).recent_incidents}
    made_private = incident("search-slow", service="search", private=True)
    index.observe_incident(made_private)
    assert index.page(NOW).recent_incidents == ()


@pytest.mark.parametrize(
    "broken",
    [
        {"metadata": {"name": "x", "namespace": "shop"}},
        {"metadata": {"name": "x", "namespace": "shop"}, "spec": "nonsense"},
        {"metadata": {"name": "x", "namespace": "shop"}, "spec": {"title": ""}},
        {**incident("x"), "status": {"phase": "exploded"}},
    ],
)
def test_malformed_incidents_are_left_off_without_breaking_the_page(
    index: StatusPageIndex, broken: dict[str, Any]
) -> None:
    before = index.page(NOW)
    index.observe_incident(broken)
    assert index.page(NOW) == before


def test_unreadable_status_fields_count_as_absent(index: StatusPageIndex) -> None:
    body = incident("odd", service="odd")
    body["status"]["timestamps"] = {"declared": "yesterday"}
    body["status"]["timeline"] = ["junk", {"type": "state-changed", "at": "never"}, None]
    body["metadata"]["creationTimestamp"] = iso(NOW - timedelta(minutes=3))
    index.observe_incident(body)
    index.observe_severity({"metadata": {"name": "sev-9"}, "spec": {"statusPage": "loud"}})
    index.observe_severity({"metadata": {"name": "sev-8"}, "spec": None})
    (odd,) = [i for i in index.page(NOW).recent_incidents if i.id == pid("odd")]
    assert odd.created == NOW - timedelta(minutes=3)
    assert odd.status is IncidentStatus.INVESTIGATING


def test_a_thousand_incidents_render_completely() -> None:
    """Every one of 1000 incidents (20 updates each) is on the page (timing: benchmarks/)."""
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    for n in range(1000):
        declared = NOW - timedelta(hours=2 * n)
        index.observe_incident(
            incident(
                f"inc-{n}",
                service=f"svc-{n % 40}",
                phase="resolved" if n % 10 else "investigating",
                declared=declared,
                timeline=[
                    state_changed(declared + timedelta(minutes=m), "investigating", "mitigated")
                    for m in range(20)
                ],
                stamps={"resolved": iso(declared + timedelta(hours=1))},
            )
        )
    page = index.page(NOW)
    html = render_html(page, "Status")
    assert len(page.recent_incidents) == 1000
    assert html.count("<article") == 1000 + len(page.open_incidents)


class CountingSource:
    """Wraps an index and counts how often the page is computed."""

    def __init__(self, index: StatusPageIndex) -> None:
        self.index = index
        self.computed = 0

    @property
    def version(self) -> int:
        return self.index.version

    def page(self, now: datetime) -> Page:
        self.computed += 1
        return self.index.page(now)


async def test_a_rendering_is_reused_until_the_index_changes_or_30s_pass(
    index: StatusPageIndex,
) -> None:
    source = CountingSource(index)
    clock = FakeClock(NOW)
    endpoints = StatusPageEndpoints(source, clock)
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(alertmanager=AlertmanagerWebhook(None, None), status_page=endpoints))
    )
    await client.start_server()
    try:
        first = await (await client.get("/status")).text()
        assert await (await client.get("/status")).text() == first
        assert source.computed == 1
        index.observe_severity(severity("sev-2", "major"))  # no change: same version
        await client.get("/status")
        assert source.computed == 1
        index.observe_severity(severity("sev-2", "critical"))
        assert "Major System Outage" in await (await client.get("/status")).text()
        assert source.computed == 2
        clock.advance(timedelta(seconds=30))
        await client.get("/status")
        assert source.computed == 3
        first_json = await (await client.get("/api/v2/summary.json")).read()
        assert source.computed == 4
        for host in ("elsewhere.example", "evil.example", "a.b.example"):
            response = await client.get("/api/v2/summary.json", headers={"Host": host})
            assert await response.read() == first_json, "the Host header changes nothing"
        assert source.computed == 4, "no rendering per client-chosen Host header"
    finally:
        await client.close()


def test_html_ids_are_unique_and_every_incident_has_its_shortlink_anchor(
    index: StatusPageIndex,
) -> None:
    page = index.page(NOW)
    html = render_html(page, "Status")
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for shown in page.recent_incidents:
        assert f'id="incident-{shown.id}"' in html, shown.id


async def feed(handler: Any, **kwargs: Any) -> None:
    """Call a kopf-decorated handler as kopf would (kopf types it as its own protocol)."""
    await handler(**kwargs, logger=None, patch={})


async def test_handlers_feed_the_index_in_memo_and_tolerate_none() -> None:
    body = incident("checkout-errors")  # kopf passes a Body, a read-only mapping like this
    memo = operator_memo()
    await feed(status_page_incidents, body=body, type=None, memo=memo)  # no index: nothing happens
    index = StatusPageIndex()
    memo = operator_memo(status_page=index)
    await feed(status_page_severities, body=severity("sev-2", "critical"), type=None, memo=memo)
    await feed(status_page_incidents, body=body, type="ADDED", memo=memo)
    assert index.page(NOW).indicator is Impact.CRITICAL
    await feed(status_page_incidents, body=body, type="DELETED", memo=memo)
    assert index.page(NOW).recent_incidents == ()


async def test_every_public_v2_endpoint_answers_in_statuspages_envelope(
    client: TestClient[Any, Any],
) -> None:
    summary = await get_json(client, "/api/v2/summary.json")
    components = await get_json(client, "/api/v2/components.json")
    assert set(components) == {"page", "components"}
    assert components["components"] == summary["components"]
    unresolved = await get_json(client, "/api/v2/incidents/unresolved.json")
    assert set(unresolved) == {"page", "incidents"}
    assert unresolved["incidents"] == summary["incidents"]
    assert [i["status"] for i in unresolved["incidents"]] == ["investigating"]
    for path in (
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
    ):
        body = await get_json(client, path)
        assert body == {"page": summary["page"], "scheduled_maintenances": []}, path
    assert (await client.get("/api/v2/incidents/resolved.json")).status == 404


async def test_every_id_is_opaque_and_safe_in_a_url_path(client: TestClient[Any, Any]) -> None:
    history = await get_json(client, "/api/v2/incidents.json")
    ids = [i["id"] for i in history["incidents"]] + [
        u["id"] for i in history["incidents"] for u in i["incident_updates"]
    ]
    assert len(ids) == 2 + 4, "two incidents, two updates each"
    assert all(re.fullmatch(r"[a-z0-9]+", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_third_party_statuspage_consumer_reads_our_page(
    client: TestClient[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statuspage-prometheus-exporter (PyPI), which polls Atlassian pages' summary.json over
    HTTP with requests, reads ours: the rollup, the open incident and the broken component."""
    monkeypatch.chdir(tmp_path)  # it caches answers under ./cache
    url = str(client.make_url("/api/v2/summary.json"))
    seen = await asyncio.to_thread(check_service_status, "acme", {"url": url})
    assert seen["success"] is True
    assert (seen["raw_status"], seen["status_text"]) == ("major", "Major Outage")
    (incident,) = seen["incident_metadata"]
    assert incident["id"] == pid("checkout-errors")
    assert incident["name"] == "Checkout returns 5xx"
    assert (incident["status"], incident["impact"]) == ("investigating", "major")
    assert incident["affected_components"] == ["checkout"]
    assert incident["shortlink"] == f"/status#incident-{pid('checkout-errors')}"
    assert {c["name"]: c["status"] for c in seen["component_metadata"]} == {
        "checkout": "partial_outage",
        "search": "operational",
    }
    assert seen["maintenance_metadata"] == []


async def test_the_public_face_replaces_the_internal_title_and_wording() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    body = incident(
        "checkout-errors",
        title="checkout: SLO checkout-availability is burning its error budget",
        timeline=[
            {"at": iso(NOW - timedelta(minutes=50)), "type": "note", "message": "alice: db?"},
        ],
    )
    body["spec"]["public"] = {
        "title": f"Card payments fail {EVIL}",
        "impact": "Some customers cannot pay by card.",
        "updates": [
            {
                "at": iso(NOW - timedelta(minutes=30)),
                "status": "identified",
                "text": "A bad deploy; rolling back.",
                "author": "bob",
            }
        ],
    }
    index.observe_incident(body)
    client = await serve(index)
    try:
        summary = await get_json(client, "/api/v2/summary.json")
        (shown,) = summary["incidents"]
        assert shown["name"] == f"Card payments fail {EVIL}"
        assert shown["status"] == "identified"
        assert [(u["status"], u["body"]) for u in shown["incident_updates"]] == [
            ("identified", "A bad deploy; rolling back.")
        ]
        page = await (await client.get("/status")).text()
        assert "Some customers cannot pay by card." in page
        assert "Card payments fail &lt;script&gt;" in page
        for where in (json.dumps(summary), page):
            assert "SLO checkout-availability" not in where, "the internal title never leaks"
            assert "db?" not in where
            assert "bob" not in where, "authors are not shown"
    finally:
        await client.close()


async def test_a_severity_requiring_acceptance_shows_the_incident_once_published() -> None:
    index = StatusPageIndex()
    index.observe_severity(
        objects.severity("sev-2", statusPage={"impact": "major", "publish": True, "accept": True})
    )
    body = incident("checkout-errors")
    index.observe_incident(body)
    assert index.page(NOW).open_incidents == ()
    body["spec"]["public"] = {
        "updates": [{"at": iso(NOW), "status": "investigating", "text": "We are on it."}]
    }
    index.observe_incident(body)
    [shown] = index.page(NOW).open_incidents
    assert shown.latest.body == "We are on it."
