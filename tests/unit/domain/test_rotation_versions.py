"""Schedule versions: who was on call at T across edits with effectiveFrom (DST-safe)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incident_operator.domain.rotation import (
    Layer,
    Rotation,
    RotationKind,
    on_call_across,
    top,
    version_at,
)

BERLIN = ZoneInfo("Europe/Berlin")


def weekly(members: tuple[str, ...], effective_from: datetime | None = None) -> Rotation:
    return Rotation(
        "Europe/Berlin",
        (Layer("primary", members, RotationKind.WEEKLY, datetime(2026, 3, 2, 9), time(9)),),
        effective_from=effective_from,
    )


OLD = weekly(("alice", "bob"))
# Edited with a future effectiveFrom: carol and dave from Monday 30 March 09:00 Berlin, the
# day after the spring-forward change (UTC+1 -> UTC+2 on Sunday 29 March 2026).
SWITCH = datetime(2026, 3, 30, 9, tzinfo=BERLIN)
NEW = weekly(("carol", "dave"), SWITCH)
LOCAL_SWITCH = weekly(("carol", "dave"), datetime(2026, 3, 30, 9))  # naive: Berlin wall time


@pytest.mark.parametrize(
    ("versions", "at", "person"),
    [
        # the old schedule stays in force until the instant the new one starts
        ((OLD, NEW), datetime(2026, 3, 3, 12, tzinfo=UTC), "alice"),
        ((OLD, NEW), datetime(2026, 3, 10, 12, tzinfo=UTC), "bob"),
        ((OLD, NEW), datetime(2026, 3, 29, 12, tzinfo=UTC), "bob"),  # across the DST change
        ((OLD, NEW), SWITCH - timedelta(seconds=1), "bob"),
        ((OLD, NEW), SWITCH, "carol"),  # 07:00 UTC: 09:00 Berlin in summer time
        ((OLD, NEW), datetime(2026, 3, 30, 7, tzinfo=UTC), "carol"),
        ((OLD, NEW), datetime(2026, 3, 30, 6, 59, tzinfo=UTC), "bob"),
        ((OLD, LOCAL_SWITCH), datetime(2026, 3, 30, 6, 59, tzinfo=UTC), "bob"),
        ((OLD, LOCAL_SWITCH), datetime(2026, 3, 30, 7, tzinfo=UTC), "carol"),
        # the new version alone: nobody before it starts (what happened without history)
        ((NEW,), SWITCH - timedelta(seconds=1), None),
        # a version listed out of order still starts at its own instant
        ((NEW, OLD), SWITCH - timedelta(hours=1), "bob"),
        ((NEW, OLD), SWITCH + timedelta(hours=1), "carol"),
        # before the rotation's own start nobody is on call under any version
        ((OLD, NEW), datetime(2026, 3, 1, tzinfo=UTC), None),
    ],
)
def test_who_was_on_call_at(
    versions: tuple[Rotation, ...], at: datetime, person: str | None
) -> None:
    assert top(on_call_across(versions, at)) == person


def test_of_two_versions_from_the_beginning_the_newer_wins() -> None:
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    newer = weekly(("erin",))
    assert version_at((OLD, newer), at) is newer
    assert top(on_call_across((OLD, newer), at)) == "erin"


def test_no_version_started_is_nobody() -> None:
    assert on_call_across((NEW,), datetime(2026, 3, 1, tzinfo=UTC)) == ()
    assert version_at((), datetime(2026, 3, 1, tzinfo=UTC)) is None
