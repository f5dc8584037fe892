"""The status page's components from the service catalog, over HTTP: public Services listed
with their groups, a dependency's incident on its dependants, scheduled maintenances on the
Statuspage API (read by a third-party consumer too), and what a tenant cannot put there."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from statuspage_prometheus_exporter.service_checker import check_service_status

from incident_operator.handlers.status_page import status_page_services
from incident_operator.services.status_page import StatusPageIndex
from tests.fakes.context import operator_memo
from tests.unit.web.test_status_page_web import (
    NOW,
    feed,
    get_json,
    incident,
    iso,
    pid,
    serve,
    severity,
)

UPGRADE = {
    "name": "Database upgrade",
    "description": "Checkout may be slow for up to five minutes.",
    "start": iso(NOW + timedelta(hours=2)),
    "end": iso(NOW + timedelta(hours=3)),
}
RUNNING = {
    "name": "Network work",
    "start": iso(NOW - timedelta(minutes=30)),
    "end": iso(NOW + timedelta(minutes=30)),
}


def service(
    name: str,
    *,
    namespace: str = "shop",
    component: dict[str, Any] | None = None,
    dependencies: tuple[str, ...] = (),
    admitted: bool = True,
) -> dict[str, Any]:
    """A Service as the watch delivers it; ``admitted``: the operator resolved its owner."""
    spec: dict[str, Any] = {"owner": "payments", "dependencies": list(dependencies)}
    if component is not None:
        spec["statusPage"] = component
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": spec,
        "status": {"owner": "payments"} if admitted else {},
    }


def shop() -> StatusPageIndex:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_service(
        service(
            "checkout",
            component={
                "name": "Checkout",
                "group": "Shop",
                "public": True,
                "showDependencies": True,
                "maintenance": [UPGRADE],
            },
            dependencies=("gateway",),
        )
    )
    index.observe_service(
        service("cart", component={"name": "Cart", "group": "Shop", "public": True})
    )
    index.observe_service(
        service("search", component={"name": "Search", "public": True, "maintenance": [RUNNING]})
    )
    index.observe_service(service("gateway"))  # no component: not for customers
    return index


def by_name(components: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in components}


async def test_public_services_are_components_with_their_groups_when_all_is_well() -> None:
    client = await serve(shop())
    try:
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    components = summary["components"]
    assert [c["name"] for c in components] == ["Search", "Shop", "Cart", "Checkout"]
    assert [c["position"] for c in components] == [1, 2, 3, 4]
    named = by_name(components)
    group = named["Shop"]
    assert group["group"] is True
    assert group["components"] == ["Cart", "Checkout"]
    assert group["status"] == "operational"
    assert named["Cart"]["group_id"] == named["Checkout"]["group_id"] == group["id"]
    assert named["Search"]["group_id"] is None
    assert named["Search"]["status"] == "under_maintenance", "a window is running"
    assert summary["status"]["indicator"] == "none"
    assert summary["incidents"] == []


async def test_an_incident_on_a_dependency_shows_on_the_dependant_that_asks_for_it() -> None:
    index = shop()
    index.observe_incident(incident("gw-down", service="gateway"))
    client = await serve(index)
    try:
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    named = by_name(summary["components"])
    assert named["Checkout"]["status"] == "partial_outage"
    assert named["Shop"]["status"] == "partial_outage", "a group shows its worst member"
    assert named["Cart"]["status"] == "operational"
    assert "gateway" not in named, "a catalogued Service without a component is never listed"
    (listed,) = summary["incidents"]
    assert listed["id"] == pid("gw-down")
    assert [c["name"] for c in listed["components"]] == ["Checkout"]


async def test_an_incident_outranks_a_running_maintenance_and_touches_every_service() -> None:
    index = shop()
    index.observe_incident(incident("two", service="search", further=["cart"]))
    client = await serve(index)
    try:
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    named = by_name(summary["components"])
    assert named["Search"]["status"] == "partial_outage"
    assert named["Cart"]["status"] == "partial_outage"
    (listed,) = summary["incidents"]
    assert sorted(c["name"] for c in listed["components"]) == ["Cart", "Search"]


async def test_maintenances_on_the_statuspage_api() -> None:
    client = await serve(shop())
    try:
        every = await get_json(client, "/api/v2/scheduled-maintenances.json")
        upcoming = await get_json(client, "/api/v2/scheduled-maintenances/upcoming.json")
        active = await get_json(client, "/api/v2/scheduled-maintenances/active.json")
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    running, planned = every["scheduled_maintenances"]
    assert (running["name"], running["status"]) == ("Network work", "in_progress")
    assert (planned["name"], planned["status"]) == ("Database upgrade", "scheduled")
    assert planned["scheduled_for"] == UPGRADE["start"]
    assert planned["scheduled_until"] == UPGRADE["end"]
    assert planned["impact"] == "maintenance"
    assert planned["resolved_at"] is None
    assert [c["name"] for c in planned["components"]] == ["Checkout"]
    assert [u["status"] for u in planned["incident_updates"]] == ["scheduled"]
    assert planned["incident_updates"][0]["body"] == UPGRADE["description"]
    assert [u["status"] for u in running["incident_updates"]] == ["in_progress", "scheduled"]
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [planned["id"]]
    assert [m["id"] for m in active["scheduled_maintenances"]] == [running["id"]]
    assert [m["id"] for m in summary["scheduled_maintenances"]] == [running["id"], planned["id"]]
    assert running["id"].isalnum()


async def test_a_completed_maintenance_is_history_not_news() -> None:
    index = StatusPageIndex()
    done = {
        "name": "Old work",
        "start": iso(NOW - timedelta(days=2)),
        "end": iso(NOW - timedelta(days=1)),
    }
    index.observe_service(
        service("search", component={"name": "Search", "public": True, "maintenance": [done]})
    )
    client = await serve(index)
    try:
        every = await get_json(client, "/api/v2/scheduled-maintenances.json")
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    (old,) = every["scheduled_maintenances"]
    assert (old["status"], old["resolved_at"]) == ("completed", done["end"])
    assert [u["status"] for u in old["incident_updates"]] == [
        "completed",
        "in_progress",
        "scheduled",
    ]
    assert summary["scheduled_maintenances"] == []
    assert by_name(summary["components"])["Search"]["status"] == "operational"


async def test_a_service_whose_owner_does_not_admit_its_namespace_puts_nothing_on_the_page() -> (
    None
):
    """A tenant writes Services; without the admin's Team admitting the namespace, neither its
    component nor its maintenance text reaches customers — and its incidents colour nothing."""
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_service(
        service(
            "fake",
            namespace="tenant",
            component={"name": "Payments", "public": True, "maintenance": [RUNNING]},
            admitted=False,
        )
    )
    index.observe_service(service("quiet", component={"name": "Quiet", "public": False}))
    index.observe_incident(
        {
            **incident("spoof", service="fake"),
            "metadata": {"name": "spoof", "namespace": "tenant", "uid": "u"},
        }
    )
    client = await serve(index)
    try:
        summary = await get_json(client, "/api/v2/summary.json")
        every = await get_json(client, "/api/v2/scheduled-maintenances.json")
    finally:
        await client.close()
    assert summary["components"] == []
    assert every["scheduled_maintenances"] == []
    (listed,) = summary["incidents"]
    assert listed["components"] == []


def test_service_events_change_the_page_and_deletion_removes_the_component() -> None:
    index = shop()
    version = index.version
    index.observe_service(
        service("cart", component={"name": "Cart", "group": "Shop", "public": True})
    )
    assert index.version == version, "an unchanged Service is not a change"
    index.observe_service(service("cart"), deleted=True)
    assert index.version == version + 1
    assert "Cart" not in {c.name for c in index.page(NOW).components}
    index.observe_service(
        {"metadata": {"name": "search", "namespace": "shop"}, "spec": {"owner": 3}}
    )
    assert "Search" not in {c.name for c in index.page(NOW).components}, "unreadable: left off"


async def test_the_handler_feeds_the_index_in_memo_and_tolerates_none() -> None:
    body = service("search", component={"name": "Search", "public": True})
    await feed(status_page_services, body=body, type=None, memo=operator_memo())
    index = StatusPageIndex()
    memo = operator_memo(status_page=index)
    await feed(status_page_services, body=body, type=None, memo=memo)
    assert [c.name for c in index.page(NOW).components] == ["Search"]
    await feed(status_page_services, body=body, type="DELETED", memo=memo)
    assert index.page(NOW).components == ()


async def test_a_third_party_consumer_reads_groups_and_maintenances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statuspage-prometheus-exporter (PyPI) reads our summary.json: every component with its
    status and the maintenance under way and upcoming."""
    monkeypatch.chdir(tmp_path)  # it caches answers under ./cache
    client = await serve(shop())
    try:
        url = str(client.make_url("/api/v2/summary.json"))
        seen = await asyncio.to_thread(check_service_status, "acme", {"url": url})
    finally:
        await client.close()
    assert seen["success"] is True
    assert {c["name"]: c["status"] for c in seen["component_metadata"]} == {
        "Search": "under_maintenance",
        "Shop": "operational",
        "Cart": "operational",
        "Checkout": "operational",
    }
    assert [
        (m["name"], m["status"], m["affected_components"]) for m in seen["maintenance_metadata"]
    ] == [
        ("Network work", "in_progress", ["Search"]),
        ("Database upgrade", "scheduled", ["Checkout"]),
    ]


async def test_the_html_shows_groups_maintenance_and_the_dependants_component() -> None:
    index = shop()
    index.observe_incident(incident("gw-down", title="Gateway down", service="gateway"))
    client = await serve(index)
    try:
        response = await client.get("/status")
        page = await response.text()
        summary = await get_json(client, "/api/v2/summary.json")
    finally:
        await client.close()
    assert response.status == 200
    assert '<h3 class="group">Shop <span class="partial_outage">Partial Outage</span></h3>' in page
    assert '<span>Search</span><span class="under_maintenance">Under Maintenance</span>' in page
    assert "Affects Checkout</p>" in page
    assert "gateway" not in page, "the dependency's own name never reaches the page"
    running, planned = summary["scheduled_maintenances"]
    for maintenance in (running, planned):
        assert f'id="maintenance-{maintenance["id"]}"' in page  # the shortlink's anchor
    assert UPGRADE["description"] in page
    assert page.index("Network work") < page.index("Database upgrade")


async def test_a_services_words_on_the_page_stay_text() -> None:
    """Component, group and maintenance words are written by tenants: escaped, never markup."""
    index = StatusPageIndex()
    hostile = "<script>alert(1)</script>"
    window = RUNNING | {"name": f"{hostile} work", "description": f"{hostile} slow"}
    component = {"name": f"{hostile}C", "group": f"{hostile}G", "public": True}
    index.observe_service(service("evil", component=component | {"maintenance": [window]}))
    client = await serve(index)
    try:
        page = await (await client.get("/status")).text()
    finally:
        await client.close()
    assert hostile not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5
