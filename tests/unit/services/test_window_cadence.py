"""Windows measured at a cadence proportional to their length (issue 15).

The planner (``domain/cadence``), the ``CadencedMetrics`` source in front of the real one,
and the guarantee that matters: the SLO engine decides the same on reused long windows as
on fresh ones, at most one reuse period later.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.ports import IndicatorProblem, Measured
from incident_operator.domain import cadence
from incident_operator.domain.burn import Measurement
from incident_operator.domain.simulation import Trace, TraceRow
from incident_operator.domain.sli import RatioSli, Sli
from incident_operator.errors import MetricsUnavailable
from incident_operator.services.slo_evaluation import SloEvaluationService
from incident_operator.services.window_cadence import CadencedMetrics
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.metrics import FakeMetrics
from tests.fakes.ports.store import FakeStore

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
SHORT, LONG = timedelta(minutes=5), 3 * DAY
SLI_A = RatioSli(errors="a_errors[{{window}}]", total="a_total[{{window}}]")
SLI_B = RatioSli(errors="b_errors[{{window}}]", total="b_total[{{window}}]")


# --- the planner ---------------------------------------------------------------------------


def test_a_window_may_be_reused_for_a_720th_of_its_length() -> None:
    assert cadence.max_age(DAY) == 2 * MIN
    assert cadence.max_age(LONG) == 6 * MIN
    assert cadence.max_age(30 * DAY) == HOUR
    assert cadence.max_age(HOUR) == timedelta(seconds=5)
    assert cadence.fresh(DAY, T0, T0 + 2 * MIN)
    assert not cadence.fresh(DAY, T0, T0 + 2 * MIN + timedelta(seconds=1))
    assert not cadence.fresh(DAY, None, T0)
    assert not cadence.fresh(DAY, T0 + MIN, T0), "a clock that went back reuses nothing"
    assert not cadence.fresh(DAY, T0, T0, share=0), "share 0: the cadence is off"


def test_due_windows_are_fetched_together_and_a_new_slo_alone() -> None:
    windows = (SHORT, DAY, LONG)
    assert cadence.plan(["a"], windows, {}, T0) == (cadence.Fetch(("a",), windows),)
    read = {("a", w): T0 for w in windows}
    later = T0 + 30 * timedelta(seconds=1)
    assert cadence.plan(["a", "b"], windows, read, later) == (
        cadence.Fetch(("a", "b"), (SHORT,)),  # the short window is due for both
        cadence.Fetch(("b",), (DAY, LONG)),  # b is new: its long windows too
    )
    assert cadence.plan(["a"], windows, read, T0 + 3 * MIN) == (
        cadence.Fetch(("a",), (SHORT, DAY)),  # a day may be 2 min old, three days 6
    )


# --- the source ----------------------------------------------------------------------------


class CountingMetrics(FakeMetrics):
    """FakeMetrics that also records what each measure asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[tuple[str, ...], tuple[timedelta, ...], Any]] = []

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        self.asked.append(
            (tuple(sorted(slis)), tuple(windows), None if counted is None else sorted(counted))
        )
        return await super().measure(slis, windows, at, counted=counted)

    def last_asked(self) -> tuple[tuple[str, ...], tuple[timedelta, ...], Any]:
        """The latest request (a call, so a type checker does not carry one assertion's
        narrowing over to the next)."""
        return self.asked[-1]


async def test_only_stale_windows_are_asked_for_and_answers_are_the_same() -> None:
    source = CountingMetrics()
    source.set("a", 0.01)
    cached = CadencedMetrics(source)
    windows = (SHORT, DAY)
    first = await cached.measure({"a": SLI_A}, windows, T0)
    assert first.values == {"a": {SHORT: Measurement(0.01, 1e6), DAY: Measurement(0.01, 1e6)}}
    source.set("a", 0.02)
    second = await cached.measure({"a": SLI_A}, windows, T0 + 30 * timedelta(seconds=1))
    assert source.last_asked() == (("a",), (SHORT,), None)
    assert second.values["a"] == {SHORT: Measurement(0.02, 1e6), DAY: Measurement(0.01, 1e6)}
    await cached.measure({"a": SLI_A}, windows, T0 + 3 * MIN)
    assert source.last_asked() == (("a",), (SHORT, DAY), None)


async def test_a_changed_indicator_or_counting_is_measured_afresh() -> None:
    source = CountingMetrics()
    source.set("a", 0.01)
    cached = CadencedMetrics(source)
    windows = (SHORT, DAY)
    await cached.measure({"a": SLI_A}, windows, T0)
    await cached.measure({"a": SLI_B}, windows, T0 + timedelta(seconds=30))
    assert source.last_asked() == (("a",), windows, None)
    await cached.measure({"a": SLI_B}, windows, T0 + MIN, counted=[])
    assert source.last_asked() == (("a",), windows, [])


async def test_a_problem_keeps_no_reading_and_an_outage_is_not_hidden() -> None:
    source = CountingMetrics()
    source.set("a", 0.01)
    source.set("b", 0.01)
    cached = CadencedMetrics(source)
    windows = (SHORT, DAY)
    source.problems["b"] = IndicatorProblem("QueryFailed", "timeout")
    answer = await cached.measure({"a": SLI_A, "b": SLI_B}, windows, T0)
    assert set(answer.values) == {"a"}
    assert set(answer.problems) == {"b"}
    del source.problems["b"]
    await cached.measure({"a": SLI_A, "b": SLI_B}, windows, T0 + timedelta(seconds=30))
    assert source.last_asked() == (("b",), (DAY,), None)  # b's day window again
    source.available = False
    with pytest.raises(MetricsUnavailable):
        await cached.measure({"a": SLI_A, "b": SLI_B}, windows, T0 + MIN)


# --- the decisions -------------------------------------------------------------------------


class TraceMetrics:
    """Every SLO measures the same traffic trace, exactly (domain/simulation)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.queries = 0

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        self.queries += len(windows)
        end = at.timestamp()
        return Measured(
            {
                slo: {w: self.trace.measure(end - w.total_seconds(), end) for w in windows}
                for slo in slis
            }
        )

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        return []


def slo() -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "u-1"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "declare": {"enabled": True, "autoResolve": True},
        },
    }


async def decisions(
    trace: Trace, share: int, start: datetime, cycles: int
) -> tuple[list[Any], int]:
    """What the engine concluded after each 30 s cycle: (time, burning, incidents), and how
    many window measurements it asked the source for."""
    store = FakeStore()
    for level in (2, 3, 4):
        store.severities[f"sev-{level}"] = {"spec": {"level": level}}
    store.add_slo(slo())
    clock = FakeClock(start)
    metrics = TraceMetrics(trace)
    service = SloEvaluationService(store, CadencedMetrics(metrics, share), clock)
    seen: list[Any] = []
    for _ in range(cycles):
        clock.advance(timedelta(seconds=30))
        await service.cycle()
        status = store.slos[("shop", "checkout")].get("status") or {}
        burning = next(c["status"] for c in status["conditions"] if c["type"] == "Burning")
        incidents = [
            (i["spec"]["severityRef"], i["spec"]["state"]) for i in store.incidents.values()
        ]
        seen.append((clock.now(), burning, tuple(incidents)))
    return seen, metrics.queries


def changes(seen: list[Any]) -> list[tuple[datetime, Any]]:
    out: list[tuple[datetime, Any]] = []
    for at, *state in seen:
        if not out or out[-1][1] != state:
            out.append((at, state))
    return out


async def test_decisions_on_reused_windows_equal_fresh_ones_at_most_one_reuse_later() -> None:
    """A 20-minute outage after four quiet days, then eight hours of recovery: the burn is
    declared, its severity follows the pairs and it resolves itself; with the cadence on,
    every conclusion is the same and comes at most 6 min (three days / 720) later."""
    start = T0 + 4 * DAY
    outage = start + 10 * MIN
    trace = Trace(
        (
            TraceRow(T0.timestamp(), 100.0, 0.0),
            TraceRow(outage.timestamp(), 100.0, 60.0),
            TraceRow((outage + 20 * MIN).timestamp(), 100.0, 0.0),
        )
    )
    cycles = int(8 * HOUR / timedelta(seconds=30))
    fresh_seen, fresh_queries = await decisions(trace, 0, start, cycles)
    reused_seen, reused_queries = await decisions(trace, cadence.STALENESS_SHARE, start, cycles)
    fresh, reused = changes(fresh_seen), changes(reused_seen)
    assert len(fresh) >= 3, f"the scenario must declare and resolve: {fresh}"
    assert [state for _, state in reused] == [state for _, state in fresh]
    for (at_fresh, _), (at_reused, _) in zip(fresh, reused, strict=True):
        assert timedelta(0) <= at_reused - at_fresh <= cadence.max_age(LONG)
    # 5m, 30m, 1h, 2h and 6h every cycle; 1d, 3d and 30d every 2, 6 and 60 minutes.
    assert reused_queries < 0.7 * fresh_queries, (reused_queries, fresh_queries)
