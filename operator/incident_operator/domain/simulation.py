"""Replay a request trace through the burn-rate policy, step by step, as the operator would.

A trace is piecewise constant: each row's per-second ``total`` and ``errors`` rates hold from
its ``time`` until the next row; the last row holds to the end of the simulation. Window
measurements are exact integrals of the trace over [t - window, t], clipped at the trace's
start (like Prometheus, which only has the samples since the service started).
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate, pairwise

from .burn import BurnEvaluation, Measurement, evaluate
from .slo import Objective, WindowPair


class TraceError(ValueError):
    """The trace cannot be read; the message names the line and what to fix."""


@dataclass(frozen=True)
class TraceRow:
    time: float
    total: float
    errors: float


@dataclass(frozen=True)
class Trace:
    rows: tuple[TraceRow, ...]
    _times: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _totals: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _errors: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rows:
            raise TraceError("the trace has no rows")
        times = tuple(r.time for r in self.rows)
        if list(times) != sorted(set(times)):
            raise TraceError("trace times must be strictly increasing")
        spans = [b - a for a, b in pairwise(times)]
        pairs = list(zip(self.rows, spans, strict=False))
        # Integrals up to each row's start, so any window is two lookups, not a loop.
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_totals", (0.0, *accumulate(r.total * s for r, s in pairs)))
        object.__setattr__(self, "_errors", (0.0, *accumulate(r.errors * s for r, s in pairs)))

    def integral(self, t: float) -> tuple[float, float]:
        """Requests and errors from the trace's start up to ``t``."""
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0:
            return 0.0, 0.0
        row, dt = self.rows[i], t - self._times[i]
        return self._totals[i] + row.total * dt, self._errors[i] + row.errors * dt

    def measure(self, start: float, end: float) -> Measurement | None:
        """The window [start, end]; None when it saw no requests (Prometheus: NaN, no data)."""
        t0, e0 = self.integral(max(start, 0.0))
        t1, e1 = self.integral(end)
        total = t1 - t0
        if total <= 0:
            return None
        return Measurement(error_ratio=(e1 - e0) / total, events=total)

    @property
    def first_error(self) -> float | None:
        return next((r.time for r in self.rows if r.errors > 0), None)

    @property
    def recovery(self) -> float | None:
        """When errors returned to zero for good; None when the trace ends with errors."""
        last_bad = max((i for i, r in enumerate(self.rows) if r.errors > 0), default=None)
        if last_bad is None or last_bad == len(self.rows) - 1:
            return None
        return self.rows[last_bad + 1].time


def parse_trace(text: str) -> Trace:
    """Read ``time,total,errors`` CSV (seconds from start; per-second rates)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if header != ["time", "total", "errors"]:
        raise TraceError(
            f"line 1: expected the header 'time,total,errors', got {','.join(header)!r}"
        )
    rows: list[TraceRow] = []
    for line, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != 3:
            raise TraceError(f"line {line}: expected 3 fields time,total,errors, got {len(fields)}")
        try:
            time, total, errors = (float(f) for f in fields)
        except ValueError as exc:
            raise TraceError(f"line {line}: not a number: {exc}") from exc
        if time < 0 or total < 0 or errors < 0:
            raise TraceError(f"line {line}: time, total and errors must not be negative")
        if errors > total:
            raise TraceError(f"line {line}: errors ({errors:g}) exceed total ({total:g})")
        if rows and time <= rows[-1].time:
            raise TraceError(f"line {line}: time {time:g} is not after the previous row's")
        rows.append(TraceRow(time, total, errors))
    return Trace(tuple(rows))


@dataclass(frozen=True)
class PairResult:
    pair: WindowPair
    fired: bool
    first_fired_at: float | None
    detection_seconds: float | None
    budget_consumed_at_detection: float | None
    reset_seconds: float | None


@dataclass(frozen=True)
class SimulationResult:
    pairs: tuple[PairResult, ...]
    first_detection_seconds: float | None
    severity: str | None
    """Severity of the fastest pair that fired: what the incident ends up with."""
    timeline: tuple[tuple[float, BurnEvaluation], ...]


def default_end(objective: Objective, trace: Trace) -> float:
    """Long enough after the last row for every pair to stop firing."""
    longest = max(p.long for p in objective.pairs).total_seconds()
    return trace.rows[-1].time + longest


def simulate(
    objective: Objective, trace: Trace, step: timedelta, end: float | None = None
) -> SimulationResult:
    """Evaluate the policy at step, 2*step, ... up to ``end`` and summarise each pair."""
    step_s = step.total_seconds()
    if step_s <= 0:
        raise ValueError("step must be positive")
    end = default_end(objective, trace) if end is None else end
    timeline: list[tuple[float, BurnEvaluation]] = []
    k = 1
    while (t := k * step_s) <= end + 1e-9:
        measurements = {w: trace.measure(t - w.total_seconds(), t) for w in objective.windows}
        timeline.append((t, evaluate(objective, measurements)))
        k += 1
    results = tuple(_summarise(objective, trace, pair, timeline) for pair in objective.pairs)
    fired = [r for r in results if r.fired]
    detections = [r.detection_seconds for r in fired if r.detection_seconds is not None]
    fastest = next((p for p in objective.by_speed if any(r.pair == p for r in fired)), None)
    return SimulationResult(
        results,
        min(detections) if detections else None,
        fastest.severity if fastest else None,
        tuple(timeline),
    )


def _summarise(
    objective: Objective,
    trace: Trace,
    pair: WindowPair,
    timeline: Sequence[tuple[float, BurnEvaluation]],
) -> PairResult:
    firing = [(t, pair in ev.firing) for t, ev in timeline]
    first = next((t for t, on in firing if on), None)
    if first is None:
        return PairResult(pair, False, None, None, None, None)
    start = trace.first_error
    detection = None if start is None else first - start
    requests, errors = trace.integral(first)
    consumed = None
    if requests > 0:
        mean_rate = requests / first
        consumed = errors / (objective.budget * mean_rate * objective.window.total_seconds())
    return PairResult(pair, True, first, detection, consumed, _reset(firing, trace.recovery))


def _reset(firing: Sequence[tuple[float, bool]], recovery: float | None) -> float | None:
    """Seconds the pair kept firing after errors returned to zero for good.

    Measured to the first evaluation at which it no longer fired; None when errors never
    stopped, or the pair was still firing when the simulation ended.
    """
    if recovery is None:
        return None
    stopped_at = None
    for (_, before), (t, now) in pairwise(firing):
        if before and not now:
            stopped_at = t
    if firing and firing[-1][1]:
        return None
    if stopped_at is None:
        return None
    return max(0.0, stopped_at - recovery)
