"""The uptime bars over HTTP: ``/status/uptime.json`` and the HTML section, from an
UptimeService on a fake daily history and the watch-fed StatusPageIndex (private incidents
stay off the hover text), the reader's period, escaping, and no Prometheus on page views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain.sli import RatioSli
from incident_operator.domain.uptime import DayMeasure, UptimeComponent
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.services.uptime import UptimeService
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from incident_operator.web.status_page_html import UPTIME_PATH
from tests.builders import objects
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.uptime import FakeDailyHistory

NOW = datetime(2026, 12, 7, 3, 20, tzinfo=UTC)
TODAY = date(2026, 12, 7)
BAD_DAY = date(2026, 12, 5)
EVIL = '<script>alert("x")</script>'
SLI = RatioSli(
    errors='rate(http_requests_total{job="checkout",code="500"}[{{window}}])',
    total='rate(http_requests_total{job="checkout"}[{{window}}])',
)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def slo_body() -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout-availability", "namespace": "shop"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": SLI.errors, "total": SLI.total}},
        },
    }


def incident(name: str, title: str, declared: datetime, *, private: bool = False) -> Any:
    return objects.incident(
        name,
        created=iso(declared),
        metadata={"uid": f"uid-{name}"},
        status={
            "phase": "resolved",
            "timestamps": {
                "declared": iso(declared),
                "resolved": iso(declared + timedelta(hours=2)),
            },
        },
        title=title,
        service="checkout",
        severityRef="sev-2",
        state="resolved",
        private=private,
    )


@pytest.fixture
def history() -> FakeDailyHistory:
    history = FakeDailyHistory()
    history.days[SLI] = {
        BAD_DAY: DayMeasure(36_000 / 8_640_000, 8_640_000),
        date(2026, 12, 6): DayMeasure(0.0, 8_640_000),
        TODAY: DayMeasure(0.0, 1_200_000),
    }
    return history


@pytest.fixture
async def client(history: FakeDailyHistory) -> AsyncIterator[TestClient[Any, Any]]:
    index = StatusPageIndex()
    index.observe_severity(
        objects.severity("sev-2", statusPage={"impact": "major", "publish": True})
    )
    morning = datetime(2026, 12, 5, 10, tzinfo=UTC)
    index.observe_incident(incident("checkout-errors", f"Checkout errors {EVIL}", morning))
    index.observe_incident(incident("breach", "Secret breach", morning, private=True))
    store = FakeStore()
    store.slos[("shop", "checkout-availability")] = slo_body()
    clock = FakeClock(NOW)
    components = (UptimeComponent("checkout", ("shop",)),)
    uptime = UptimeService(store.list_slos, history, clock, components)
    endpoints = StatusPageEndpoints(
        index, clock, StatusPageSettings(title="Acme Status", page_id="acme"), uptime=uptime
    )
    webhook = AlertmanagerWebhook(None, StaticToken("t"))
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(alertmanager=webhook, status_page=endpoints))
    )
    await client.start_server()
    yield client
    await client.close()


async def test_uptime_json(client: TestClient[Any, Any], history: FakeDailyHistory) -> None:
    response = await client.get(UPTIME_PATH)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = await response.json()
    assert body["page"]["id"] == "acme"
    assert body["period"]["days"] == 90
    assert body["period"]["end"] == "2026-12-07"
    assert body["period"]["measured_at"] == "2026-12-07T03:20:00Z"
    [component] = body["components"]
    assert component["name"] == "checkout"
    days = {d["date"]: d for d in component["days"]}
    assert len(days) == 90
    assert days["2026-12-05"]["availability_percent"] == 99.583
    assert days["2026-12-05"]["below_objective"] is True
    assert [i["name"] for i in days["2026-12-05"]["incidents"]] == [f"Checkout errors {EVIL}"]
    assert "Secret breach" not in str(body), "private incidents are on no day"
    assert "shop" not in str(body), "no namespace anywhere"
    assert days["2026-12-04"]["availability_percent"] is None, "no data, not 100 %"
    assert days["2026-12-07"]["partial"] is True
    # (36,000 errors) / (8,640,000 x 2 + 1,200,000 events) over the three days with data.
    assert component["uptime_percent"] == round(100 * (1 - 36_000 / 18_480_000), 3)
    assert component["days_with_data"] == 3
    assert len(history.calls) == 1


async def test_the_readers_period(client: TestClient[Any, Any]) -> None:
    body = await (await client.get(UPTIME_PATH, params={"days": "2"})).json()
    [component] = body["components"]
    assert [d["date"] for d in component["days"]] == ["2026-12-06", "2026-12-07"]
    assert component["uptime_percent"] == 100.0
    for bad in ("0", "91", "x", "-1", "1.5"):
        response = await client.get(UPTIME_PATH, params={"days": bad})
        assert response.status == 400


async def test_page_views_do_not_query_prometheus(
    client: TestClient[Any, Any], history: FakeDailyHistory
) -> None:
    for _ in range(5):
        assert (await client.get(UPTIME_PATH)).status == 200
        assert (await client.get("/status")).status == 200
        assert (await client.get("/status", params={"days": "30"})).status == 200
    assert len(history.calls) == 1


async def test_html_bars(client: TestClient[Any, Any]) -> None:
    response = await client.get("/status")
    assert response.status == 200
    text = await response.text()
    assert '<section aria-labelledby="uptime">' in text
    assert text.count('<li class="bar ') == 90
    assert text.count('<li class="bar nodata"') == 87
    assert text.count('<li class="bar below"') == 1
    assert "99.583 %" in text
    assert "Dec 05, 2026 · 99.583 % · below objective · Checkout errors" in text
    assert EVIL not in text, "incident titles are escaped in the hover text"
    assert "&lt;script&gt;" in text
    assert "Secret breach" not in text
    assert "Dec 07, 2026 (today, so far) · 100 %" in text
    assert "99.805 % uptime" in text  # 1 - 36,000 / 18,480,000
    assert f'<a href="{UPTIME_PATH}">uptime</a>' in text
    short = await (await client.get("/status", params={"days": "7"})).text()
    assert short.count('<li class="bar ') == 7
    assert "last 7 days" in short
    assert "<span>6 days ago</span><span>Today</span>" in short, "the oldest bar's day"


async def test_without_components_there_is_no_uptime() -> None:
    index = StatusPageIndex()
    store = FakeStore()
    uptime = UptimeService(store.list_slos, FakeDailyHistory(), FakeClock(NOW), ())
    endpoints = StatusPageEndpoints(index, FakeClock(NOW), uptime=uptime)
    webhook = AlertmanagerWebhook(None, StaticToken("t"))
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(alertmanager=webhook, status_page=endpoints))
    )
    await client.start_server()
    try:
        assert (await client.get(UPTIME_PATH)).status == 404
        text = await (await client.get("/status")).text()
        assert "Uptime" not in text
    finally:
        await client.close()


async def test_public_components_are_listed_without_incidents() -> None:
    index = StatusPageIndex()
    index.observe_severity(
        objects.severity("sev-2", statusPage={"impact": "major", "publish": True})
    )
    index.observe_incident(
        objects.incident(
            "search-slow",
            created=iso(NOW - timedelta(hours=1)),
            metadata={"uid": "uid-search"},
            status={"phase": "investigating", "timestamps": {"declared": iso(NOW)}},
            title="Search is slow",
            service="search",
            severityRef="sev-2",
            state="investigating",
        )
    )
    store = FakeStore()
    components = (UptimeComponent("checkout", ("shop",)), UptimeComponent("search", ("search",)))
    uptime = UptimeService(store.list_slos, FakeDailyHistory(), FakeClock(NOW), components)
    endpoints = StatusPageEndpoints(index, FakeClock(NOW), uptime=uptime)
    webhook = AlertmanagerWebhook(None, StaticToken("t"))
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(alertmanager=webhook, status_page=endpoints))
    )
    await client.start_server()
    try:
        summary = await (await client.get("/api/v2/summary.json")).json()
        assert {c["name"]: c["status"] for c in summary["components"]} == {
            "checkout": "operational",
            "search": "partial_outage",
        }
        listed = await (await client.get("/api/v2/components.json")).json()
        assert [c["name"] for c in listed["components"]] == ["checkout", "search"]
        text = await (await client.get("/status")).text()
        assert "No components have had incidents." not in text
        assert "<span>checkout</span>" in text
    finally:
        await client.close()
