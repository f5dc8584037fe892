"""Follow-up tickets and dashboard marks through the postmortem services (in-memory fakes)."""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.postmortem_ports import MARKS_ANNOTATION
from incident_operator.adapters.tickets_port import TicketRequest
from incident_operator.domain import dashboard_marks, tickets
from incident_operator.domain.postmortem import ActionItem
from incident_operator.errors import DeliveryUnavailable
from incident_operator.services.dashboard_marks import DashboardMarks, pending
from incident_operator.services.postmortems import PostmortemService
from tests.fakes.ports.tickets import FakeAnnotations, FakeTracker
from tests.unit.services.test_postmortem_service import NAME, NS, World


def test_plan_creates_once_reads_known_and_leaves_foreign_links() -> None:
    items = [
        ActionItem("new one"),
        ActionItem("done already", status="done"),
        ActionItem("linked here", ticket="https://jira.example.com/browse/OPS-7"),
        ActionItem("linked elsewhere", ticket="https://linear.app/x/ISS-1"),
        ActionItem("created before"),
    ]
    owns = FakeTracker().owns
    creates, reads = tickets.plan(items, {"created before": "OPS-3"}, owns)
    assert [c.item.title for c in creates] == ["new one"]
    assert reads == [tickets.Read("linked here", "OPS-7"), tickets.Read("created before", "OPS-3")]


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ("open", None, "open"),
        ("closed", "completed", "done"),
        ("closed", "not_planned", "wont-fix"),
    ],
)
def test_github_states(state: str, reason: str | None, expected: str) -> None:
    assert tickets.github_status(state, reason) == expected


def test_jira_categories() -> None:
    assert [tickets.jira_status(c) for c in ("new", "indeterminate", "done", "odd")] == [
        "open",
        "in-progress",
        "done",
        "open",
    ]


async def test_tickets_created_once_status_read_back_into_the_document() -> None:
    world = World(required=True)
    tracker = FakeTracker()
    service = PostmortemService(
        world.store, world.postmortems, world.clock, impact=world.impact, tracker=tracker
    )
    await service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [
        {"title": "Cap retries", "owner": "bob", "due": "2026-11-28"},
        {"title": "Write runbook"},
    ]
    spec_before = copy.deepcopy(pm["spec"])
    world.clock.current = datetime(2026, 11, 30, tzinfo=UTC)
    status = await service.regenerate(pm)
    assert [t.title for t in tracker.created] == ["Cap retries", "Write runbook"]
    assert tracker.created[0].due == date(2026, 11, 28)
    assert [(t["title"], t["ref"], t["status"]) for t in status["tickets"]] == [
        ("Cap retries", "OPS-1", "open"),
        ("Write runbook", "OPS-2", "open"),
    ]
    assert status["overdueActionItems"] == 1
    assert pm["spec"] == spec_before  # links live in status: the human list is untouched
    pm["status"] = {**pm["status"], **status}
    tracker.states["OPS-1"] = "done"
    again = await service.regenerate(pm)
    assert len(tracker.created) == 2  # no duplicates
    assert [t["status"] for t in again["tickets"]] == ["done", "open"]
    assert again["overdueActionItems"] == 0  # done in the tracker: not overdue any more
    markdown = world.postmortems.config_maps[(NS, f"{NAME}-postmortem")][0]["postmortem.md"]
    assert "| Cap retries | bob | 2026-11-28 | done | https://jira.example.com/browse/OPS-1 |" in (
        markdown
    )
    conditions = {c["type"]: c["status"] for c in again["conditions"]}
    assert conditions["TicketsSynced"] == "True"


async def test_tracker_down_keeps_what_was_synced_and_says_so() -> None:
    world = World(required=True)

    class Down(FakeTracker):
        async def get(self, ref: str) -> Any:
            raise DeliveryUnavailable("Jira answered HTTP 503 to reading issue")

    tracker = Down()
    service = PostmortemService(world.store, world.postmortems, world.clock, tracker=tracker)
    await service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [{"title": "Cap retries"}]
    pm["status"]["tickets"] = [
        {"title": "Cap retries", "tracker": "jira", "ref": "OPS-1", "url": "u", "status": "open"}
    ]
    status = await service.regenerate(pm)
    assert "tickets" not in status  # unchanged
    condition = {c["type"]: c for c in status["conditions"]}["TicketsSynced"]
    assert (condition["status"], condition["reason"]) == ("False", "TrackerError")
    assert tracker.created == []


async def test_dashboard_marks_each_milestone_once_at_its_instant() -> None:
    world = World(required=True)
    annotations = FakeAnnotations()
    marks = DashboardMarks(annotations, world.postmortems)
    assert pending(world.incident)
    assert await marks.mark(world.incident) == ["declared", "mitigated", "resolved"]
    assert [(at.minute, tags[-1]) for at, _, tags in annotations.posted] == [
        (4, "declared"),
        (20, "mitigated"),
        (34, "resolved"),
    ]
    assert "incident:checkout-burn" in annotations.posted[0][2]
    assert world.incident["metadata"]["annotations"][MARKS_ANNOTATION] == (
        "declared,mitigated,resolved"
    )
    assert not pending(world.incident)
    assert await marks.mark(world.incident) == []


def test_marks_due_in_order_skipping_done() -> None:
    t = datetime(2026, 11, 27, tzinfo=UTC)
    stamps = {"declared": t, "mitigated": None, "resolved": t + timedelta(hours=1)}
    assert dashboard_marks.marks_due(stamps, {"declared"}) == [("resolved", t + timedelta(hours=1))]


def test_marker_is_deterministic_per_namespace_postmortem_and_item() -> None:
    marker = tickets.marker(NS, NAME, "Cap retries")
    assert marker == tickets.marker(NS, NAME, "Cap retries")
    assert re.fullmatch(r"incident-operator-[0-9a-f]{16}", marker)  # a valid Jira label
    others = {
        tickets.marker("other", NAME, "Cap retries"),
        tickets.marker(NS, "other", "Cap retries"),
        tickets.marker(NS, NAME, "Cap retries "),
    }
    assert marker not in others
    assert len(others) == 3


async def test_ticket_created_but_not_recorded_is_found_not_created_again() -> None:
    world = World(required=True)
    tracker = FakeTracker()
    service = PostmortemService(world.store, world.postmortems, world.clock, tracker=tracker)
    await service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [{"title": "Cap retries"}, {"title": "Write runbook"}]
    first = await service.regenerate(pm)  # the process dies before this status is written
    assert [t["ref"] for t in first["tickets"]] == ["OPS-1", "OPS-2"]
    assert [r.marker for r in tracker.created] == [
        tickets.marker(NS, NAME, "Cap retries"),
        tickets.marker(NS, NAME, "Write runbook"),
    ]
    tracker.states["OPS-1"] = "in-progress"
    again = await service.regenerate(pm)  # the restarted operator: status without tickets
    assert len(tracker.created) == 2
    assert [(t["title"], t["ref"], t["status"]) for t in again["tickets"]] == [
        ("Cap retries", "OPS-1", "in-progress"),
        ("Write runbook", "OPS-2", "open"),
    ]
    pm["status"] = {**pm["status"], **again}
    lookups = len(tracker.lookups)
    await service.regenerate(pm)
    assert len(tracker.lookups) == lookups  # recorded: read back, no more look-ups
    assert len(tracker.created) == 2


async def test_failing_lookup_creates_nothing() -> None:
    world = World(required=True)

    class Blind(FakeTracker):
        async def find(self, request: TicketRequest) -> Any:
            raise DeliveryUnavailable("Jira answered HTTP 503 to searching for an earlier issue")

    tracker = Blind()
    service = PostmortemService(world.store, world.postmortems, world.clock, tracker=tracker)
    await service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [{"title": "Cap retries"}]
    status = await service.regenerate(pm)
    assert tracker.created == []
    condition = {c["type"]: c for c in status["conditions"]}["TicketsSynced"]
    assert (condition["status"], condition["reason"]) == ("False", "TrackerError")
    assert "searching for an earlier issue" in condition["message"]


async def test_concurrent_regenerations_create_one_ticket() -> None:
    """The update handler and the refresh timer at once, both from a status without tickets."""
    world = World(required=True)

    class Slow(FakeTracker):
        async def find(self, request: TicketRequest) -> Any:
            found = await super().find(request)
            await asyncio.sleep(0.01)  # the answer travels back while the other pass asks
            return found

    tracker = Slow()
    service = PostmortemService(world.store, world.postmortems, world.clock, tracker=tracker)
    await service.ensure(world.incident)
    pm = world.postmortems.postmortems[(NS, NAME)]
    pm["spec"]["actionItems"] = [{"title": "Cap retries"}]
    first, second = await asyncio.gather(
        service.regenerate(copy.deepcopy(pm)), service.regenerate(copy.deepcopy(pm))
    )
    assert len(tracker.created) == 1
    assert first["tickets"][0]["ref"] == second["tickets"][0]["ref"] == "OPS-1"
