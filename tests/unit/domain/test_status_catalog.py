"""Which components the catalog gives an incident, groups, and maintenance windows by time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from incident_operator.domain.status_catalog import (
    Catalog,
    Entry,
    MaintenanceStatus,
    Window,
    maintenance_id,
    under_maintenance,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
UPGRADE = Window(
    "Database upgrade", "Slow for a while.", NOW + timedelta(hours=1), NOW + timedelta(hours=2)
)


def catalog(*entries: Entry) -> Catalog:
    return Catalog({e.key: e for e in entries})


SHOP = catalog(
    Entry(
        "shop",
        "checkout",
        "Checkout",
        group="Shop",
        dependencies=("gateway",),
        show_dependencies=True,
    ),
    Entry("shop", "gateway", "", dependencies=("db",)),
    Entry("shop", "db", "Database", dependencies=("checkout",)),  # a cycle back to checkout
    Entry("shop", "search", "Search", dependencies=("db",)),  # does not show its dependencies
    Entry("shop", "internal", ""),
)


def test_a_catalogued_service_colours_its_own_component() -> None:
    assert SHOP.components_of("shop", ["search"]) == ("Search",)


def test_a_service_without_a_public_component_colours_nothing() -> None:
    assert SHOP.components_of("shop", ["internal"]) == ()


def test_services_the_catalog_does_not_know_are_left_to_the_page() -> None:
    assert SHOP.components_of("shop", ["unknown"]) is None
    assert SHOP.components_of("other", ["checkout"]) is None, "a Service elsewhere never counts"


def test_a_dependency_shows_on_dependants_that_opted_in_transitively() -> None:
    # gateway has no component of its own, but checkout depends on it and shows dependencies.
    assert SHOP.components_of("shop", ["gateway"]) == ("Checkout",)
    # db -> gateway -> checkout (search depends on db but does not show dependencies).
    assert SHOP.components_of("shop", ["db"]) == ("Checkout", "Database")


def test_a_dependency_cycle_ends() -> None:
    looped = catalog(
        Entry("ns", "a", "A", dependencies=("b",), show_dependencies=True),
        Entry("ns", "b", "B", dependencies=("a",), show_dependencies=True),
    )
    assert looped.components_of("ns", ["a"]) == ("A", "B")


def test_several_services_colour_every_component_once() -> None:
    assert SHOP.components_of("shop", ["search", "db", "unknown"]) == (
        "Checkout",
        "Database",
        "Search",
    )


def test_groups_first_entry_decides_a_shared_name() -> None:
    shared = catalog(
        Entry("a-ns", "checkout", "Checkout", group="Shop"),
        Entry("b-ns", "checkout", "Checkout", group="Elsewhere"),
        Entry("b-ns", "hidden", ""),
    )
    assert shared.groups() == {"Checkout": "Shop"}


def test_a_window_is_scheduled_then_in_progress_then_completed() -> None:
    assert UPGRADE.status(NOW) is MaintenanceStatus.SCHEDULED
    assert UPGRADE.status(UPGRADE.start) is MaintenanceStatus.IN_PROGRESS
    assert UPGRADE.status(UPGRADE.end - timedelta(seconds=1)) is MaintenanceStatus.IN_PROGRESS
    assert UPGRADE.status(UPGRADE.end) is MaintenanceStatus.COMPLETED


def test_the_same_window_on_several_components_is_one_maintenance() -> None:
    other = Window("Network work", "", NOW - timedelta(hours=3), NOW + timedelta(minutes=5))
    two = catalog(
        Entry("shop", "checkout", "Checkout", windows=(UPGRADE,)),
        Entry("shop", "search", "Search", windows=(UPGRADE, other)),
        Entry("shop", "internal", "", windows=(other,)),  # not public: never announced
    )
    first, second = two.maintenances(NOW)
    assert (first.window, first.components, first.status) == (
        other,
        ("Search",),
        MaintenanceStatus.IN_PROGRESS,
    )
    assert (second.window, second.components, second.status) == (
        UPGRADE,
        ("Checkout", "Search"),
        MaintenanceStatus.SCHEDULED,
    )
    assert under_maintenance(two.maintenances(NOW)) == frozenset({"Search"})
    assert under_maintenance(two.maintenances(UPGRADE.start)) == frozenset({"Checkout", "Search"})


def test_completed_windows_stay_90_days() -> None:
    one = catalog(Entry("shop", "checkout", "Checkout", windows=(UPGRADE,)))
    assert (
        one.maintenances(UPGRADE.end + timedelta(days=90))[0].status is MaintenanceStatus.COMPLETED
    )
    assert one.maintenances(UPGRADE.end + timedelta(days=90, seconds=1)) == ()


def test_maintenance_ids_are_opaque_and_follow_the_window() -> None:
    moved = Window(
        UPGRADE.name, UPGRADE.description, UPGRADE.start, UPGRADE.end + timedelta(hours=1)
    )
    assert maintenance_id(UPGRADE) == maintenance_id(
        Window(UPGRADE.name, UPGRADE.description, UPGRADE.start, UPGRADE.end)
    )
    assert maintenance_id(moved) != maintenance_id(UPGRADE)
    assert re.fullmatch(r"[a-z0-9]{20}", maintenance_id(UPGRADE))
