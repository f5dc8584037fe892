"""Invariants of the schedule engine over generated rotations and instants (hypothesis).

Zones are the two with the DST changes the worked examples pin (plus UTC as a control);
instants span 2026 so both changes of each zone are inside the drawn range.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from incident_operator.domain.rotation import (
    Layer,
    Override,
    Restriction,
    Rotation,
    RotationKind,
    on_call,
    shifts,
)

FAST = settings(max_examples=150, deadline=None)
ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "UTC"])
PEOPLE = st.sampled_from(["ann", "ben", "cat", "dan"])
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(0, 364 * 24 * 60).map(lambda m: YEAR_START + timedelta(minutes=m))
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
starts = st.builds(
    lambda days, t: datetime.combine(datetime(2025, 12, 1) + timedelta(days=days), t),
    st.integers(0, 30),
    wall_times,
)


@st.composite
def layers(draw: st.DrawFn, restricted: bool | None = None) -> Layer:
    kind = draw(st.sampled_from(list(RotationKind)))
    has_restrictions = draw(st.booleans()) if restricted is None else restricted
    restrictions = (
        tuple(
            Restriction(
                frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
                draw(wall_times),
                draw(wall_times),
            )
            for _ in range(draw(st.integers(1, 2)))
        )
        if has_restrictions
        else ()
    )
    restrictions = tuple(r for r in restrictions if r.start != r.end)  # as the API requires
    return Layer(
        name=draw(st.sampled_from(["a", "b", "c"])),
        members=tuple(draw(st.lists(PEOPLE, min_size=1, max_size=4))),
        kind=kind,
        start=draw(starts),
        handoff=draw(wall_times),
        length=(
            timedelta(hours=draw(st.integers(1, 100))) if kind is RotationKind.CUSTOM else None
        ),
        restrictions=restrictions,
    )


@st.composite
def overrides(draw: st.DrawFn, layer: str) -> Override:
    start = draw(instants)
    return Override(
        layer, draw(PEOPLE), start, start + timedelta(minutes=draw(st.integers(1, 5000)))
    )


@FAST
@given(ZONES, layers(restricted=False), instants)
def test_each_unrestricted_layer_has_exactly_one_person(
    zone: str, layer: Layer, at: datetime
) -> None:
    """After its start, an unrestricted layer always names one of its members."""
    # Starts are local wall times up to 2025-12-31 23:45: in New York that is after the first
    # instants of 2026 in UTC, when nobody is on call yet (hypothesis found it).
    assume(at >= layer.start.replace(tzinfo=ZoneInfo(zone)))
    (entry,) = on_call(Rotation(zone, (layer,)), at)
    assert entry.person in layer.members


@FAST
@given(ZONES, layers(), st.data())
def test_an_override_always_wins_in_its_interval(
    zone: str, layer: Layer, data: st.DataObject
) -> None:
    """The last-declared override names its person anywhere in [start, end), whatever the
    rotation, its restrictions or earlier (overlapping) overrides say."""
    earlier = data.draw(st.lists(overrides(layer.name), min_size=1, max_size=3))
    first = earlier[0]
    # the last one starts inside the first, so overlaps are the common case, not luck
    span = int((first.end - first.start).total_seconds()) // 60
    start = first.start + timedelta(minutes=data.draw(st.integers(0, span - 1)))
    person = data.draw(PEOPLE.filter(lambda p: p != first.person))
    last = Override(
        layer.name, person, start, start + timedelta(minutes=data.draw(st.integers(1, 3000)))
    )
    rotation = Rotation(zone, (layer,), (*earlier, last))
    length = (last.end - last.start) // timedelta(microseconds=1)
    at = last.start + timedelta(microseconds=data.draw(st.integers(0, length - 1)))
    assert on_call(rotation, at)[0].person == last.person
    assert on_call(rotation, last.start)[0].person == last.person


@FAST
@given(
    ZONES,
    st.lists(layers(), min_size=1, max_size=3, unique_by=lambda layer: layer.name),
    instants,
    st.integers(1, 21 * 24 * 60),
    st.data(),
)
def test_shifts_tile_the_window_without_gap_or_overlap(
    zone: str, drawn: list[Layer], start: datetime, minutes: int, data: st.DataObject
) -> None:
    """Per layer the shifts cover [start, end) exactly, agree with on_call at their starts
    and just before their ends, and adjacent shifts differ in person."""
    extra = data.draw(st.lists(overrides(drawn[0].name), max_size=2))
    rotation = Rotation(zone, tuple(drawn), tuple(extra))
    end = start + timedelta(minutes=minutes)
    result = shifts(rotation, start, end)
    for index, layer in enumerate(rotation.layers):
        mine = [s for s in result if s.layer == layer.name]
        assert mine[0].start == start
        assert mine[-1].end == end
        for before, after in pairwise(mine):
            assert before.end == after.start
            assert before.person != after.person
        for shift in mine:
            assert shift.end is not None
            assert shift.start < shift.end
            assert on_call(rotation, shift.start)[index].person == shift.person
            last_moment = shift.end - timedelta(microseconds=1)
            assert on_call(rotation, last_moment)[index].person == shift.person


@FAST
@given(
    st.sampled_from(["Europe/Berlin", "America/New_York"]),
    st.sampled_from([RotationKind.DAILY, RotationKind.WEEKLY]),
    st.builds(time, st.integers(4, 23), st.sampled_from([0, 30])),
    st.integers(0, 6),
)
def test_dst_days_keep_the_local_handoff_time(
    zone: str, kind: RotationKind, handoff: time, offset_days: int
) -> None:
    """Every handoff in the weeks around both 2026 DST changes happens at ``handoff`` local."""
    tz = ZoneInfo(zone)
    changes = {
        "Europe/Berlin": (datetime(2026, 3, 29), datetime(2026, 10, 25)),
        "America/New_York": (datetime(2026, 3, 8), datetime(2026, 11, 1)),
    }[zone]
    for change in changes:
        start = datetime.combine((change - timedelta(days=14 + offset_days)).date(), handoff)
        layer = Layer("p", ("ann", "ben"), kind, start, handoff)
        rotation = Rotation(zone, (layer,))
        window = shifts(
            rotation,
            (change - timedelta(days=8)).replace(tzinfo=tz),
            (change + timedelta(days=8)).replace(tzinfo=tz),
        )
        handoffs = [s.start for s in window[1:]]
        assert handoffs, "a daily or weekly layer hands off within 16 days"
        for instant in handoffs:
            local = instant.astimezone(tz)
            assert (local.hour, local.minute) == (handoff.hour, handoff.minute)
