"""The OnCallRotation status the operator writes: on call now, next handoff, upcoming shifts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from incident_operator.api.v1alpha1 import BY_KIND
from incident_operator.services.rotation_status import changed, rotation_status
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
