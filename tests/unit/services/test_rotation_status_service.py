"""The OnCallRotation status the operator writes: on call now, next handoff, upcoming shifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from incident_operator.api.v1alpha1 import BY_KIND
from incident_operator.domain.status_diff import changed
from incident_operator.services.rotation_status import rotation_status
from incident_operator.services.status import observed_status
from tests.kube import REPO

NOW = datetime(2026, 4, 1, 11, 0, tzinfo=UTC)  # Wed 13:00 CEST, during the example override


def body(**spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (REPO / "examples" / "20-oncallrotation.yaml").read_text()
    )
    document["metadata"]["generation"] = 3
    document["spec"].update(spec)
    return document


def test_status_names_who_is_on_call_since_and_until() -> None:
    status = rotation_status(body(), NOW)
    assert status["onCall"] == [
        {
            "layer": "primary",
            "person": "carol",
            "start": "2026-04-01T10:00:00Z",
            "end": "2026-04-01T16:00:00Z",
        },
        {
            "layer": "secondary",
            "person": "carol",
            "start": "2026-03-30T07:00:00Z",
            "end": "2026-04-06T07:00:00Z",
        },
        {
            "layer": "business-hours",
            "person": "dave",
            "start": "2026-04-01T07:00:00Z",
            "end": "2026-04-01T16:00:00Z",
        },
    ]
    assert status["nextHandoff"] == "2026-04-01T16:00:00Z"
    upcoming = status["upcomingShifts"]
    assert len(upcoming) == 10
    assert upcoming[0] == {
        "layer": "primary",
        "person": "bob",
        "start": "2026-04-01T16:00:00Z",
        "end": "2026-04-06T07:00:00Z",
    }
    assert [s["start"] for s in upcoming] == sorted(s["start"] for s in upcoming)
    assert status["observedGeneration"] == 3
    assert status["conditions"][0]["status"] == "True"


def test_unknown_time_zone_is_ready_false_and_clears_the_schedule() -> None:
    previous = rotation_status(body(), NOW)
    broken = body(timeZone="Mars/Olympus")
    broken["status"] = previous
    status = rotation_status(broken, NOW)
    (ready,) = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "InvalidSpec")
    assert "unknown time zone 'Mars/Olympus'" in ready["message"]
    assert status["onCall"] == []
    assert status["upcomingShifts"] == []
    assert status["nextHandoff"] is None  # merge-patch null: the stale value goes away
    # the generic status handler says the same, so the two writers never flip-flop
    generic = observed_status(BY_KIND["OnCallRotation"], broken, NOW)
    assert generic["conditions"] == status["conditions"]


def test_an_unchanged_status_is_not_patched() -> None:
    first = rotation_status(body(), NOW)
    again = body()
    again["status"] = {k: v for k, v in first.items() if v is not None}
    assert changed(again["status"], rotation_status(again, NOW)) == {}


def test_a_future_effective_from_keeps_the_previous_version_on_call_until_it_starts() -> None:
    from incident_operator.services.roles import answer  # noqa: PLC0415 - beside its use

    old = body()
    old["metadata"]["generation"] = 2
    recorded = rotation_status(old, NOW)
    assert [v["generation"] for v in recorded["versions"]] == [2]
    switch = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    edited = body(
        effectiveFrom="2026-04-02T09:00:00Z",
        layers=[
            {
                "name": "primary",
                "members": ["dave"],
                "rotation": {"type": "weekly", "start": "2026-03-02T09:00:00"},
            }
        ],
        overrides=[],
    )
    edited["status"] = recorded
    status = rotation_status(edited, NOW)
    assert [v["generation"] for v in status["versions"]] == [2, 3]
    assert status["onCall"][0]["person"] == "carol", "the previous version is still in force"
    before = answer(edited, "shop/checkout-oncall", switch - timedelta(seconds=1))
    after = answer(edited, "shop/checkout-oncall", switch)
    assert before.roles is not None
    assert after.roles is not None
    assert before.roles.commander != "dave"
    assert after.roles.commander == "dave"
    later = rotation_status({**edited, "status": status}, switch + timedelta(hours=1))
    assert [s["person"] for s in later["onCall"]] == ["dave"]
    # Without the history (before this change) nobody was on call until the switch.
    alone = dict(edited, status={})
    assert answer(alone, "x", switch - timedelta(seconds=1)).roles.commander is None  # type: ignore[union-attr]


def test_versions_are_bounded() -> None:
    status: dict[str, Any] = {}
    for generation in range(1, 12):
        current = body()
        current["metadata"]["generation"] = generation
        current["status"] = status
        status = rotation_status(current, NOW)
    assert [v["generation"] for v in status["versions"]] == [7, 8, 9, 10, 11]
