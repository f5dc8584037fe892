"""The status page's history as Atom, read by feedparser as feed readers read it (issue 20).

feedparser flags any feed that is not well-formed XML or not a recognisable feed (``bozo``);
the fields read back are what a reader shows. Private incidents and internal words never
appear; a component's feed holds only its incidents; an unknown component is a 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import feedparser
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.domain.status_feed import history_atom
from incident_operator.domain.status_page import Site, build_page
from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.status_page import StatusPageEndpoints, StatusPageSettings
from tests.fakes.ports.clock import FakeClock
from tests.unit.web.test_status_page_web import (
    EVIL,
    NOW,
    incident,
    pid,
    serve,
    severity,
    state_changed,
)


async def feed(client: TestClient[Any, Any], path: str) -> Any:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/atom+xml"
    assert response.headers["Cache-Control"] == "max-age=30"
    parsed = feedparser.parse(await response.read())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


async def test_the_history_feed_lists_public_incidents_newest_change_first(
    client: TestClient[Any, Any],
) -> None:
    parsed = await feed(client, "/status/history.atom")
    assert parsed.feed.title == "Acme Status history"
    assert parsed.feed.author == "Acme Status"
    titles = [e.title for e in parsed.entries]
    assert titles == ["Checkout returns 5xx (Investigating)", "Search was slow (Resolved)"]
    checkout = parsed.entries[0]
    assert checkout.link == f"/status#incident-{pid('checkout-errors')}"
    assert checkout.updated == (NOW - timedelta(minutes=40)).isoformat().replace("+00:00", "Z")
    assert checkout.tags[0].term == "checkout"
    assert checkout.id.startswith("urn:uuid:")
    assert "Investigating" in checkout.content[0].value
    text = str(parsed)
    assert "Secret breach" not in text, "a private incident is never in a feed"
    assert "db?" not in text, "timeline notes are internal"
    assert "shop" not in text, "no namespace anywhere"


async def test_ids_are_stable_and_a_component_feed_holds_only_its_incidents(
    client: TestClient[Any, Any],
) -> None:
    everything = await feed(client, "/status/history.atom")
    search = await feed(client, "/status/components/search/history.atom")
    assert [e.title for e in search.entries] == ["Search was slow (Resolved)"]
    assert search.feed.title == "Acme Status: search"
    assert search.entries[0].id == everything.entries[1].id
    assert search.feed.id != everything.feed.id
    again = await feed(client, "/status/history.atom")
    assert [e.id for e in again.entries] == [e.id for e in everything.entries]


async def test_an_unknown_component_is_not_found_and_not_cached(index: StatusPageIndex) -> None:
    endpoints = StatusPageEndpoints(index, FakeClock(NOW))
    webhook = AlertmanagerWebhook(None, StaticToken("t"))
    app = build_app(alertmanager=webhook, status_page=endpoints)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        for name in ("nope", "auth"):  # "auth" is only the private incident's service
            response = await client.get(f"/status/components/{name}/history.atom")
            assert response.status == 404
        await feed(client, "/status/components/search/history.atom")
        assert set(endpoints._cache) == {"/status/components/search/history.atom"}
    finally:
        await client.close()


async def test_text_is_escaped_and_the_self_link_never_comes_from_the_host() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_incident(incident("evil", title=EVIL, service="checkout"))
    configured = StatusPageSettings(url="https://status.example.com/status")
    for settings, self_url in (
        (configured, "https://status.example.com/status/history.atom"),
        (None, "/status/history.atom"),
    ):
        client = await serve(index, settings)
        try:
            response = await client.get("/status/history.atom", headers={"Host": "evil.example"})
            body = await response.read()
            parsed = feedparser.parse(body)
            assert not parsed.bozo
            assert parsed.entries[0].title == f"{EVIL} (Investigating)"
            assert b"<script>" not in body
            (link,) = [x for x in parsed.feed.links if x.rel == "self"]
            assert link.href == self_url
            assert "evil.example" not in body.decode()
        finally:
            await client.close()


def test_an_empty_history_is_still_a_valid_feed() -> None:
    page = build_page([], NOW)
    body = history_atom(page, Site("acme", "Acme", "/status"), self_url="/status/history.atom")
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.entries == []
    assert parsed.feed.updated == NOW.isoformat().replace("+00:00", "Z")


def test_an_incident_with_a_new_update_moves_up_and_changes_its_updated_time() -> None:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_incident(incident("a", title="A", declared=NOW - timedelta(hours=3)))
    index.observe_incident(incident("b", title="B", declared=NOW - timedelta(hours=2)))
    site = Site("acme", "Acme", "/status")
    first = feedparser.parse(history_atom(index.page(NOW), site, self_url="/f"))
    assert [e.title.split(" ")[0] for e in first.entries] == ["B", "A"]
    later = NOW - timedelta(minutes=5)
    index.observe_incident(
        incident(
            "a",
            title="A",
            declared=NOW - timedelta(hours=3),
            timeline=[state_changed(later, "investigating", "mitigated")],
            phase="mitigated",
        )
    )
    second = feedparser.parse(history_atom(index.page(NOW), site, self_url="/f"))
    assert [e.title.split(" ")[0] for e in second.entries] == ["A", "B"]
    assert second.entries[0].updated == later.isoformat().replace("+00:00", "Z")


async def test_the_page_links_its_feed_for_readers_to_discover(
    client: TestClient[Any, Any],
) -> None:
    page = await (await client.get("/status")).text()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="History" '
        'href="/status/history.atom">' in page
    )
    assert '<a href="/status/history.atom">history feed (Atom)</a>' in page
