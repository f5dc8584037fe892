"""Worked examples of the schedule engine: DST weeks, overrides, midnight windows, 36h shifts.

Every expected instant is written in UTC and was worked out by hand from the local rule, so a
wrong DST treatment (a handoff an hour off) fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.domain.rotation import (
    Layer,
    LayerOnCall,
    Override,
    Restriction,
    Rotation,
    RotationKind,
    Shift,
    UnknownTimeZone,
    current_shifts,
    next_handoff,
    on_call,
    shifts,
    to_instant,
    top,
    upcoming_shifts,
)

EXAMPLE = Path(__file__).parents[3] / "examples" / "20-oncallrotation.yaml"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(name: str, members: list[str], **kwargs: object) -> Layer:
    return Layer(name, tuple(members), RotationKind.WEEKLY, datetime(2026, 3, 2, 9), **kwargs)  # type: ignore[arg-type]


BERLIN = Rotation(
    "Europe/Berlin",
    (weekly("primary", ["alice", "bob", "carol"]), weekly("secondary", ["bob", "carol", "alice"])),
)


def person(rotation: Rotation, at: datetime, layer: int = 0) -> str | None:
    return on_call(rotation, at)[layer].person


# ------------------------------------------------------------------ Europe/Berlin, weekly


def test_weekly_berlin_first_weeks() -> None:
    assert person(BERLIN, utc(2026, 3, 2, 7, 59)) is None  # before start: nobody
    assert person(BERLIN, utc(2026, 3, 2, 8)) == "alice"  # 09:00 CET
    assert person(BERLIN, utc(2026, 3, 9, 8)) == "bob"
    assert person(BERLIN, utc(2026, 3, 16, 8)) == "carol"
    assert on_call(BERLIN, utc(2026, 3, 16, 8)) == (
        LayerOnCall("primary", "carol"),
        LayerOnCall("secondary", "alice"),
    )


def test_weekly_berlin_spring_forward_keeps_0900_local() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: Monday 30th 09:00 is 07:00Z, not 08:00Z.
    assert person(BERLIN, utc(2026, 3, 30, 6, 59)) == "alice"
    assert person(BERLIN, utc(2026, 3, 30, 7)) == "bob"
    assert next_handoff(BERLIN, utc(2026, 3, 29, 12)) == utc(2026, 3, 30, 7)
    current = current_shifts(BERLIN, utc(2026, 3, 29, 12))[0]
    assert current == Shift("primary", "alice", utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))
    assert current.end is not None
    assert current.end - current.start == timedelta(hours=167)


def test_weekly_berlin_fall_back_keeps_0900_local() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: Monday 26th 09:00 is 08:00Z; that week lasts 169h.
    # Oct 19 is 33 weeks after Mar 2: shift 33 -> alice, shift 34 -> bob.
    assert person(BERLIN, utc(2026, 10, 26, 7, 59)) == "alice"
    assert person(BERLIN, utc(2026, 10, 26, 8)) == "bob"
    current = current_shifts(BERLIN, utc(2026, 10, 25, 12))[0]
    assert current == Shift("primary", "alice", utc(2026, 10, 19, 7), utc(2026, 10, 26, 8))
    local = current.end.astimezone(ZoneInfo("Europe/Berlin")) if current.end else None
    assert local is not None
    assert (local.hour, local.minute) == (9, 0)


# ------------------------------------------------------------------ America/New_York, daily

NEW_YORK = Rotation(
    "America/New_York",
    (Layer("primary", ("ann", "ben"), RotationKind.DAILY, datetime(2026, 3, 1, 9)),),
)


def test_daily_new_york_spring_forward() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. Mar 7 (day 6) ann from 14:00Z, Mar 8 (day 7) ben
    # from 13:00Z: a 23-hour shift.
    assert person(NEW_YORK, utc(2026, 3, 7, 14)) == "ann"
    assert person(NEW_YORK, utc(2026, 3, 8, 12, 59)) == "ann"
    assert person(NEW_YORK, utc(2026, 3, 8, 13)) == "ben"
    window = shifts(NEW_YORK, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert window == [
        Shift("primary", "ben", utc(2026, 3, 7, 12), utc(2026, 3, 7, 14)),
        Shift("primary", "ann", utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)),
        Shift("primary", "ben", utc(2026, 3, 8, 13), utc(2026, 3, 9, 12)),
    ]


def test_daily_new_york_fall_back() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST. Oct 31 (day 244) ann from 13:00Z, Nov 1 ben from
    # 14:00Z: a 25-hour shift.
    assert person(NEW_YORK, utc(2026, 11, 1, 13, 59)) == "ann"
    assert person(NEW_YORK, utc(2026, 11, 1, 14)) == "ben"
    assert current_shifts(NEW_YORK, utc(2026, 11, 1, 6))[0] == Shift(
        "primary", "ann", utc(2026, 10, 31, 13), utc(2026, 11, 1, 14)
    )


def test_wall_time_in_the_gap_means_the_first_instant_after_it() -> None:
    zone = ZoneInfo("America/New_York")
    assert to_instant(datetime(2026, 3, 8, 2, 30), zone) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert to_instant(datetime(2026, 11, 1, 1, 30), zone) == utc(2026, 11, 1, 5, 30)  # 1st


def test_handoff_inside_the_gap_happens_when_the_gap_ends() -> None:
    rotation = Rotation(
        "America/New_York",
        (Layer("p", ("ann", "ben"), RotationKind.DAILY, datetime(2026, 3, 1, 2, 30), time(2, 30)),),
    )
    assert next_handoff(rotation, utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7)
    assert next_handoff(rotation, utc(2026, 3, 8, 7)) == utc(2026, 3, 9, 6, 30)


# ------------------------------------------------------------------ overrides


def test_override_across_a_handoff() -> None:
    rotation = Rotation(
        BERLIN.time_zone,
        BERLIN.layers,
        (Override("primary", "carol", utc(2026, 3, 29, 12), utc(2026, 3, 30, 12)),),
    )
    assert person(rotation, utc(2026, 3, 29, 11, 59)) == "alice"
    assert person(rotation, utc(2026, 3, 30, 8)) == "carol"  # the rotation says bob
    assert person(rotation, utc(2026, 3, 30, 12)) == "bob"
    assert person(rotation, utc(2026, 3, 30, 8), layer=1) == "carol"  # other layer untouched
    primary = [
        s for s in shifts(rotation, utc(2026, 3, 29), utc(2026, 3, 31)) if s.layer == "primary"
    ]
    assert primary == [
        Shift("primary", "alice", utc(2026, 3, 29), utc(2026, 3, 29, 12)),
        Shift("primary", "carol", utc(2026, 3, 29, 12), utc(2026, 3, 30, 12)),
        Shift("primary", "bob", utc(2026, 3, 30, 12), utc(2026, 3, 31)),
    ]


def test_latest_declared_override_wins() -> None:
    rotation = Rotation(
        BERLIN.time_zone,
        BERLIN.layers,
        (
            Override("primary", "carol", utc(2026, 3, 29, 12), utc(2026, 3, 30, 12)),
            Override("primary", "bob", utc(2026, 3, 30, 6), utc(2026, 3, 30, 7, 30)),
        ),
    )
    assert person(rotation, utc(2026, 3, 30, 5, 59)) == "carol"
    assert person(rotation, utc(2026, 3, 30, 6)) == "bob"
    assert person(rotation, utc(2026, 3, 30, 7, 30)) == "carol"
    assert next_handoff(rotation, utc(2026, 3, 30, 5)) == utc(2026, 3, 30, 6)


def test_naive_override_is_local_wall_time() -> None:
    rotation = Rotation(
        BERLIN.time_zone,
        BERLIN.layers,
        (Override("primary", "carol", datetime(2026, 4, 1, 12), datetime(2026, 4, 1, 18)),),
    )
    assert person(rotation, utc(2026, 4, 1, 10)) == "carol"  # 12:00 CEST
    assert person(rotation, utc(2026, 4, 1, 9, 59)) == "bob"


# ------------------------------------------------------------------ restrictions

NIGHT = Layer(
    "night",
    ("nora",),
    RotationKind.DAILY,
    datetime(2026, 3, 2, 9),
    restrictions=(Restriction(frozenset({4, 5}), time(22), time(6)),),  # Fri, Sat nights
)


def test_restriction_wraps_past_midnight_and_lower_layers_fill_in() -> None:
    rotation = Rotation("Europe/Berlin", (NIGHT, *BERLIN.layers))
    # Fri 2026-03-06 22:00 CET = 21:00Z until Sat 06:00 CET = 05:00Z.
    assert person(rotation, utc(2026, 3, 6, 20, 59)) is None
    assert top(on_call(rotation, utc(2026, 3, 6, 20, 59))) == "alice"
    assert top(on_call(rotation, utc(2026, 3, 6, 21))) == "nora"
    assert person(rotation, utc(2026, 3, 7, 4, 59)) == "nora"
    assert person(rotation, utc(2026, 3, 7, 5)) is None
    assert top(on_call(rotation, utc(2026, 3, 7, 5))) == "alice"
    assert person(rotation, utc(2026, 3, 5, 22)) is None  # Thursday night is not covered


def test_restriction_window_over_the_spring_forward_night_is_7_hours() -> None:
    rotation = Rotation("Europe/Berlin", (NIGHT,))
    # Sat Mar 28 22:00 CET = 21:00Z until Sun Mar 29 06:00 CEST = 04:00Z.
    night = [s for s in shifts(rotation, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) if s.person]
    assert night == [Shift("night", "nora", utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))]
    assert upcoming_shifts(rotation, utc(2026, 3, 28, 12), 2) == [
        Shift("night", "nora", utc(2026, 3, 28, 21), utc(2026, 3, 29, 4)),
        Shift("night", "nora", utc(2026, 4, 3, 20), utc(2026, 4, 4, 4)),
    ]


# ------------------------------------------------------------------ custom length


def test_custom_36h_counts_elapsed_time_across_dst() -> None:
    rotation = Rotation(
        "Europe/Berlin",
        (
            Layer(
                "p",
                ("x", "y"),
                RotationKind.CUSTOM,
                datetime(2026, 3, 2, 9),
                length=timedelta(hours=36),
            ),
        ),
    )
    assert person(rotation, utc(2026, 3, 3, 19, 59)) == "x"
    assert person(rotation, utc(2026, 3, 3, 20)) == "y"
    # shift 18 starts 648h after 08:00Z Mar 2: Mar 29 08:00Z (10:00 CEST: the wall time drifts)
    assert person(rotation, utc(2026, 3, 29, 7, 59)) == "y"
    assert person(rotation, utc(2026, 3, 29, 8)) == "x"
    assert next_handoff(rotation, utc(2026, 3, 29, 8)) == utc(2026, 3, 30, 20)


# ------------------------------------------------------------------ effectiveFrom, edges


def test_before_effective_from_this_version_names_nobody() -> None:
    rotation = Rotation(BERLIN.time_zone, BERLIN.layers, effective_from=utc(2026, 4, 1))
    assert person(rotation, utc(2026, 3, 31, 23, 59)) is None
    assert person(rotation, utc(2026, 4, 1)) == "bob"  # counted from start, not effectiveFrom
    assert current_shifts(rotation, utc(2026, 4, 2))[0] == Shift(
        "primary", "bob", utc(2026, 4, 1), utc(2026, 4, 6, 7)
    )


def test_single_member_layer_never_hands_off() -> None:
    rotation = Rotation("Europe/Berlin", (weekly("solo", ["sam"]),))
    assert next_handoff(rotation, utc(2026, 6, 1)) is None
    assert current_shifts(rotation, utc(2026, 6, 1)) == (
        Shift("solo", "sam", utc(2026, 3, 2, 8), None),
    )
    assert upcoming_shifts(rotation, utc(2026, 6, 1), 3) == []


def test_unknown_time_zone_is_reported() -> None:
    with pytest.raises(UnknownTimeZone, match="Mars/Olympus"):
        on_call(Rotation("Mars/Olympus", BERLIN.layers), utc(2026, 3, 2))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_call(BERLIN, datetime(2026, 3, 2))


# ------------------------------------------------------------------ API -> domain


def test_example_manifest_converts_to_the_exact_domain_value() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    rotation = OnCallRotation.model_validate(document).spec.to_domain()
    assert rotation == Rotation(
        time_zone="Europe/Berlin",
        layers=(
            weekly("primary", ["alice", "bob", "carol"]),
            weekly("secondary", ["bob", "carol", "alice"]),
            Layer(
                "business-hours",
                ("dave",),
                RotationKind.CUSTOM,
                datetime(2026, 3, 2, 9),
                length=timedelta(hours=36),
                restrictions=(Restriction(frozenset(range(5)), time(9), time(18)),),
            ),
        ),
        overrides=(
            Override(
                "primary",
                "carol",
                datetime.fromisoformat("2026-04-01T12:00:00+02:00"),
                datetime.fromisoformat("2026-04-01T18:00:00+02:00"),
            ),
        ),
        effective_from=None,
    )
    at = utc(2026, 4, 1, 11)  # Wed 13:00 CEST, during the override
    assert on_call(rotation, at) == (
        LayerOnCall("primary", "carol"),
        LayerOnCall("secondary", "carol"),
        LayerOnCall("business-hours", "dave"),
    )
