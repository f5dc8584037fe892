"""On-call schedule engine: who is on call, layer by layer, at any instant.

Pure: the rotation and the instants come in, people and shifts come out. Every instant in and
out is an aware datetime and all arithmetic is done in UTC; the rotation's IANA time zone is
only used to turn local wall-clock times (handoff time, start, restrictions) into instants.

Why wall-clock: people agree on "the handoff is Monday 09:00", not "every 168 hours". A
``daily`` shift is one local day and a ``weekly`` shift seven local days, so a 09:00 handoff
stays 09:00 local across DST (the shift around a change is 23 or 25 hours, or 167/169 for
weekly). A ``custom`` shift is a fixed ``length`` of elapsed time from ``start`` (36h stays 36h,
its local handoff time drifts by design, and ``handoff_time`` is ignored).

Wall times that do not exist (inside a spring-forward gap) mean the first instant after the
gap; ambiguous ones (inside a fall-back fold) mean their first occurrence. Both rules keep the
local-to-UTC mapping monotonic, which is what lets shifts tile time without gaps or overlap.

Rules, in the order they apply to a layer at an instant:

1. ``effective_from``: this rotation object describes the schedule from then on only. Before
   it the engine answers *nobody* for every layer (and yields no shifts): the schedule before
   an edit is the previous version's business (Git history, earlier status), and guessing it
   from the new version would rewrite history. Member positions still count from ``start``, so
   an edit that keeps ``start`` continues the same sequence.
2. Overrides: inside ``[start, end)`` of an override for the layer its person is on call, even
   outside restriction windows and before the rotation started (a human asked for it); where
   overrides of one layer overlap, the one declared last wins.
3. Restrictions: a restricted layer only covers its windows (days + local from/to; ``to`` not
   after ``from`` ends the next day); outside them it has nobody and lower layers fill in.
4. Rotation: before ``start`` nobody; afterwards member ``k mod len(members)`` where ``k`` is
   the number of shifts completed since ``start``. The first shift runs from ``start`` to the
   handoff time one period (1 or 7 local days) after the start date.

The final on-call person is the one of the topmost (first-listed) layer that has someone.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEK = timedelta(days=7)
DAY = timedelta(days=1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class RotationKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    CUSTOM = "custom"


class UnknownTimeZone(ValueError):
    """The rotation names a time zone the system's tz database does not know."""


@dataclass(frozen=True)
class Restriction:
    """A weekly window the layer covers: on ``days`` (0 = Monday) from ``start`` local time
    to ``end`` local time, ending the next day when ``end`` is not after ``start``."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class Layer:
    name: str
    members: tuple[str, ...]
    kind: RotationKind
    start: datetime
    """Naive: local wall time in the rotation's time zone."""
    handoff: time = time(9, 0)
    length: timedelta | None = None
    """Only for custom rotations: the fixed elapsed length of each shift."""
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError(f"layer {self.name!r}: at least one member is required")
        if self.start.tzinfo is not None:
            raise ValueError(f"layer {self.name!r}: start is a local wall time without offset")
        if self.kind is RotationKind.CUSTOM and (self.length is None or self.length <= ZERO):
            raise ValueError(f"layer {self.name!r}: a custom rotation needs a positive length")


@dataclass(frozen=True)
class Override:
    layer: str
    person: str
    start: datetime
    """Aware instant; a naive value is read as local wall time in the rotation's zone."""
    end: datetime


@dataclass(frozen=True)
class Rotation:
    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    effective_from: datetime | None = None
    """Aware instant (naive: local wall time); None: the schedule has always been this one."""


@dataclass(frozen=True)
class LayerOnCall:
    layer: str
    person: str | None


@dataclass(frozen=True)
class Shift:
    """One layer's person (None: nobody, lower layers fill in) over ``[start, end)``.

    ``end`` None: the person stays on call for as far as the engine looks ahead (no change
    within the schedule's repeat horizon). ``start`` of a current shift is clipped to when the
    rotation (or this version of it) began.
    """

    layer: str
    person: str | None
    start: datetime
    end: datetime | None


ZERO = timedelta(0)


# ---------------------------------------------------------------- time zone arithmetic


def zone_of(rotation: Rotation) -> ZoneInfo:
    """The rotation's zone; an unknown name is a spec problem, reported, never a crash."""
    try:
        return ZoneInfo(rotation.time_zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimeZone(
            f"unknown time zone {rotation.time_zone!r}: use an IANA name such as Europe/Berlin"
        ) from exc


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"expected an aware datetime, got {at.isoformat()}")
    return at.astimezone(UTC)


def local_wall(at: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of an instant."""
    return _utc(at).astimezone(zone).replace(tzinfo=None)


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant: gap -> first instant after it, fold -> first."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # Inside a gap: fold=0 and fold=1 straddle the transition; bisect to the second.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((first, second))
    offset_after = high.astimezone(zone).utcoffset()
    a, b = int(low.timestamp()), int(high.timestamp())
    while b - a > 1:
        middle = (a + b) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset_after:
            b = middle
        else:
            a = middle
    return datetime.fromtimestamp(b, UTC)


def _instant(value: datetime, zone: ZoneInfo) -> datetime:
    return to_instant(value, zone) if value.tzinfo is None else _utc(value)


# ---------------------------------------------------------------- one layer


def _period_days(layer: Layer) -> int:
    return 7 if layer.kind is RotationKind.WEEKLY else 1


def _boundary(layer: Layer, k: int, zone: ZoneInfo) -> datetime:
    """The instant shift ``k`` starts (k = 0 is ``start``)."""
    if k == 0:
        return to_instant(layer.start, zone)
    if layer.kind is RotationKind.CUSTOM:
        assert layer.length is not None
        return to_instant(layer.start, zone) + k * layer.length
    day = layer.start.date() + timedelta(days=k * _period_days(layer))
    return to_instant(datetime.combine(day, layer.handoff), zone)


def _shift_index(layer: Layer, at: datetime, zone: ZoneInfo) -> int | None:
    """Number of shifts completed since ``start`` at ``at``; None before ``start``."""
    origin = to_instant(layer.start, zone)
    if at < origin:
        return None
    if layer.kind is RotationKind.CUSTOM:
        assert layer.length is not None
        return (at - origin) // layer.length
    days = (local_wall(at, zone).date() - layer.start.date()).days
    k = max(0, days // _period_days(layer) - 1)
    while _boundary(layer, k + 1, zone) <= at:
        k += 1
    while k > 0 and _boundary(layer, k, zone) > at:
        k -= 1
    return k


def _rotation_person(layer: Layer, at: datetime, zone: ZoneInfo) -> str | None:
    k = _shift_index(layer, at, zone)
    return None if k is None else layer.members[k % len(layer.members)]


def _windows(restriction: Restriction, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    end_day = day if restriction.end > restriction.start else day + DAY
    return (
        to_instant(datetime.combine(day, restriction.start), zone),
        to_instant(datetime.combine(end_day, restriction.end), zone),
    )


def _covered(layer: Layer, at: datetime, zone: ZoneInfo) -> bool:
    if not layer.restrictions:
        return True
    today = local_wall(at, zone).date()
    for restriction in layer.restrictions:
        for day in (today - DAY, today):
            if day.weekday() in restriction.days:
                start, end = _windows(restriction, day, zone)
                if start <= at < end:
                    return True
    return False


def _override(rotation: Rotation, layer: str, at: datetime, zone: ZoneInfo) -> str | None:
    for override in reversed(rotation.overrides):  # the latest declared wins
        start, end = _instant(override.start, zone), _instant(override.end, zone)
        if override.layer == layer and start <= at < end:
            return override.person
    return None


def _effective(rotation: Rotation, zone: ZoneInfo) -> datetime | None:
    if rotation.effective_from is None:
        return None
    return _instant(rotation.effective_from, zone)


def _layer_person(rotation: Rotation, layer: Layer, at: datetime, zone: ZoneInfo) -> str | None:
    effective = _effective(rotation, zone)
    if effective is not None and at < effective:
        return None
    overridden = _override(rotation, layer.name, at, zone)
    if overridden is not None:
        return overridden
    if not _covered(layer, at, zone):
        return None
    return _rotation_person(layer, at, zone)


def _change_points(
    rotation: Rotation, layer: Layer, low: datetime, high: datetime, zone: ZoneInfo
) -> list[datetime]:
    """Every instant in ``(low, high)`` where the layer's person may change, sorted."""
    points: set[datetime] = set()
    effective = _effective(rotation, zone)
    if effective is not None:
        points.add(effective)
    points.add(_boundary(layer, 0, zone))
    if len(set(layer.members)) > 1:  # with one distinct member handoffs change nobody
        first = _shift_index(layer, low, zone)
        k = 1 if first is None else first + 1
        while (boundary := _boundary(layer, k, zone)) < high:
            points.add(boundary)
            k += 1
    if layer.restrictions:
        day = local_wall(low, zone).date() - DAY
        last = local_wall(high, zone).date()
        while day <= last:
            for restriction in layer.restrictions:
                if day.weekday() in restriction.days:
                    points.update(_windows(restriction, day, zone))
            day += DAY
    for override in rotation.overrides:
        if override.layer == layer.name:
            points.add(_instant(override.start, zone))
            points.add(_instant(override.end, zone))
    return sorted(p for p in points if low < p < high)


def _segments(
    rotation: Rotation, layer: Layer, low: datetime, high: datetime, zone: ZoneInfo
) -> list[Shift]:
    """The layer's merged shifts tiling ``[low, high)`` (person None included)."""
    edges = [low, *_change_points(rotation, layer, low, high, zone), high]
    result: list[Shift] = []
    for start, end in itertools.pairwise(edges):
        person = _layer_person(rotation, layer, start, zone)
        if result and result[-1].person == person:
            result[-1] = Shift(layer.name, person, result[-1].start, end)
        else:
            result.append(Shift(layer.name, person, start, end))
    return result


def _horizon(rotation: Rotation, layer: Layer) -> timedelta:
    """How far to look for a change: a layer that has not changed within this never will
    (apart from explicit override/start edges, which are looked for separately)."""
    if layer.kind is RotationKind.CUSTOM:
        assert layer.length is not None
        period = layer.length
    else:
        period = timedelta(days=_period_days(layer), hours=2)
    return (len(layer.members) + 1) * period + timedelta(days=8)


def _explicit_edges(rotation: Rotation, layer: Layer, zone: ZoneInfo) -> list[datetime]:
    edges = [_boundary(layer, 0, zone)]
    effective = _effective(rotation, zone)
    if effective is not None:
        edges.append(effective)
    for override in rotation.overrides:
        if override.layer == layer.name:
            edges += [_instant(override.start, zone), _instant(override.end, zone)]
    return edges


def _layer_shift_at(rotation: Rotation, layer: Layer, at: datetime, zone: ZoneInfo) -> Shift:
    """The merged shift of one layer containing ``at``, with since/until.

    Looks one horizon back and one horizon past the last explicit edge ahead: a shift that
    spans a whole horizon after every explicit edge never ends (``end`` None).
    """
    horizon = _horizon(rotation, layer)
    edges = _explicit_edges(rotation, layer, zone)
    origin = min(edges)
    low = max(origin, at - horizon) if at > origin else at
    high = max([at, *(e for e in edges if e > at)]) + horizon
    segments = _segments(rotation, layer, low, high, zone)
    if segments[0].start == low and low > origin and at < (segments[0].end or high):
        segments = _segments(rotation, layer, origin, high, zone)  # unchanged for a horizon
    for segment in segments:
        if segment.start <= at < (segment.end or high):
            end = None if segment.end == high else segment.end
            return Shift(layer.name, segment.person, segment.start, end)
    raise AssertionError("segments tile [low, high), which contains at")


# ---------------------------------------------------------------- the public questions


def on_call(rotation: Rotation, at: datetime) -> tuple[LayerOnCall, ...]:
    """Who each layer has on call at ``at`` (None: nobody, lower layers fill in)."""
    zone = zone_of(rotation)
    instant = _utc(at)
    return tuple(
        LayerOnCall(layer.name, _layer_person(rotation, layer, instant, zone))
        for layer in rotation.layers
    )


def top(layers: Sequence[LayerOnCall]) -> str | None:
    """The person of the topmost layer that has someone: the one who gets paged."""
    return next((entry.person for entry in layers if entry.person is not None), None)


def current_shifts(rotation: Rotation, at: datetime) -> tuple[Shift, ...]:
    """Per layer, the shift containing ``at``: since when and until when its person holds."""
    zone = zone_of(rotation)
    instant = _utc(at)
    return tuple(_layer_shift_at(rotation, layer, instant, zone) for layer in rotation.layers)


def shifts(rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """Every layer's shifts tiling ``[start, end)`` exactly (clipped at both ends).

    Adjacent shifts of one layer always differ in person; ``person`` None marks a stretch a
    layer has nobody (restricted, before its start or before ``effective_from``). Sorted by
    start, then layer order.
    """
    zone = zone_of(rotation)
    low, high = _utc(start), _utc(end)
    if high <= low:
        return []
    order = {layer.name: i for i, layer in enumerate(rotation.layers)}
    result = [
        segment
        for layer in rotation.layers
        for segment in _segments(rotation, layer, low, high, zone)
    ]
    return sorted(result, key=lambda s: (s.start, order[s.layer]))


def next_handoff(rotation: Rotation, at: datetime) -> datetime | None:
    """The first instant after ``at`` at which any layer's person changes; None: never."""
    ends = [s.end for s in current_shifts(rotation, at) if s.end is not None]
    return min(ends) if ends else None


def upcoming_shifts(rotation: Rotation, at: datetime, count: int) -> list[Shift]:
    """The next ``count`` shifts with someone on call that start after ``at``, in time order.

    Shifts are generated lazily per layer and merged, so a short custom length does not make
    the look-ahead expensive.
    """
    zone = zone_of(rotation)
    instant = _utc(at)
    order = {layer.name: i for i, layer in enumerate(rotation.layers)}
    streams = [_future(rotation, layer, instant, zone) for layer in rotation.layers]
    merged = heapq.merge(*streams, key=lambda s: (s.start, order[s.layer]))
    result: list[Shift] = []
    for shift in merged:
        if len(result) >= count:
            break
        if shift.person is not None:
            result.append(shift)
    return result


def _future(rotation: Rotation, layer: Layer, at: datetime, zone: ZoneInfo) -> Iterator[Shift]:
    """The layer's shifts starting after ``at``, one horizon-sized window at a time."""
    current = _layer_shift_at(rotation, layer, at, zone)
    if current.end is None:
        return
    horizon = _horizon(rotation, layer)
    last_edge = max(_explicit_edges(rotation, layer, zone))
    pending: Shift | None = None
    low = current.end
    while True:
        high = low + horizon
        for segment in _segments(rotation, layer, low, high, zone):
            if pending is None:
                pending = segment
            elif pending.person == segment.person:
                pending = Shift(layer.name, pending.person, pending.start, segment.end)
            else:
                yield pending
                pending = segment
        assert pending is not None
        if pending.start <= low and low >= last_edge:
            # Unchanged for a whole horizon after every explicit edge: it stays like this.
            yield Shift(layer.name, pending.person, pending.start, None)
            return
        low = high


# ---------------------------------------------------------------- schedule versions


def version_at(versions: Sequence[Rotation], at: datetime) -> Rotation | None:
    """The version of a schedule in force at ``at``: of those whose ``effective_from`` is not
    after ``at`` (None: in force from the beginning), the one that starts latest; on a tie the
    later-listed (newer) one. None: no version had started yet.

    ``versions`` are the schedule's successive specs (oldest first, e.g. the history kept in
    status followed by the current spec): an edit with a future ``effective_from`` leaves the
    previous version in force until that instant instead of leaving nobody on call.
    """
    instant = _utc(at)
    best: tuple[datetime, int] | None = None
    chosen: Rotation | None = None
    for index, version in enumerate(versions):
        start = _effective(version, zone_of(version))
        key = (start or datetime.min.replace(tzinfo=UTC), index)
        if (start is None or start <= instant) and (best is None or key >= best):
            best, chosen = key, version
    return chosen


def on_call_across(versions: Sequence[Rotation], at: datetime) -> tuple[LayerOnCall, ...]:
    """Who each layer has on call at ``at`` under the version in force then (``version_at``);
    empty when no version had started."""
    version = version_at(versions, at)
    return () if version is None else on_call(version, at)
