"""Burn-rate math, checked against the SRE Workbook's worked numbers (chapter 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident_operator.domain.burn import (
    Measurement,
    budget_consumed_at_detection,
    detection_floor,
    evaluate,
)
from incident_operator.domain.durations import format_duration, parse_duration
from incident_operator.domain.slo import WORKBOOK_PAIRS, Objective, WindowPair

H = timedelta(hours=1)
M = timedelta(minutes=1)
SLO = Objective(target=0.999, window=timedelta(days=30))


def measured(**ratios: float | None) -> dict[timedelta, Measurement | None]:
    """Ratios by duration text: measured(**{"1h": 0.02, "5m": 0.03})."""
    return {
        parse_duration(k): None if v is None else Measurement(v, events=1e6)
        for k, v in ratios.items()
    }


def all_windows(ratio: float) -> dict[timedelta, Measurement | None]:
    return {w: Measurement(ratio, events=1e6) for w in SLO.windows}


def test_budget_is_exact() -> None:
    assert SLO.budget == 0.001
    assert Objective(target=0.9999, window=H).budget == 0.0001


@pytest.mark.parametrize(
    ("pair", "consumed", "floor_seconds"),
    [
        # Workbook table 5-8: budget consumed when the alert fires, and the detection time
        # of a 100 % outage for a 99.9 % SLO.
        (WORKBOOK_PAIRS[0], 0.02, 51.84),
        (WORKBOOK_PAIRS[1], 0.05, 129.6),
        (WORKBOOK_PAIRS[2], 0.10, 259.2),
        (WORKBOOK_PAIRS[3], 0.10, 259.2),
    ],
)
def test_workbook_budget_consumption_and_detection(
    pair: WindowPair, consumed: float, floor_seconds: float
) -> None:
    assert budget_consumed_at_detection(SLO, pair) == pytest.approx(consumed)
    assert detection_floor(SLO, pair).total_seconds() == pytest.approx(floor_seconds)


def test_burn_rate_is_ratio_over_budget() -> None:
    # Workbook table 5-4: 1000x burn = 100 % errors at 99.9 %, budget gone in 43.2 minutes.
    evaluation = evaluate(SLO, all_windows(1.0))
    assert {round(w.burn_rate or 0, 6) for w in evaluation.windows} == {1000.0}
    assert SLO.window / 1000 == timedelta(minutes=43, seconds=12)
    evaluation = evaluate(SLO, all_windows(0.002))
    assert {round(w.burn_rate or 0, 6) for w in evaluation.windows} == {2.0}


def test_pair_fires_only_when_both_windows_exceed_the_threshold() -> None:
    # 14.4 x 0.001 = 1.44 % error ratio.
    long_only = evaluate(SLO, measured(**{"1h": 0.02, "5m": 0.01}))
    assert WORKBOOK_PAIRS[0] not in long_only.firing
    short_only = evaluate(SLO, measured(**{"1h": 0.01, "5m": 0.5}))
    assert WORKBOOK_PAIRS[0] not in short_only.firing
    both = evaluate(SLO, measured(**{"1h": 0.0145, "5m": 0.0145}))
    assert WORKBOOK_PAIRS[0] in both.firing
    at_threshold = evaluate(SLO, measured(**{"1h": 0.0144, "5m": 0.5}))
    assert WORKBOOK_PAIRS[0] not in at_threshold.firing, "the threshold itself does not fire"


def test_fastest_firing_pair_decides_and_slower_ones_are_suppressed() -> None:
    evaluation = evaluate(SLO, all_windows(0.05))  # 50x: every pair fires
    assert set(evaluation.firing) == set(WORKBOOK_PAIRS)
    assert evaluation.decisive == WORKBOOK_PAIRS[0]
    slow = evaluate(SLO, all_windows(0.004))  # 4x: only 3x/1d and 1x/3d
    assert set(slow.firing) == {WORKBOOK_PAIRS[2], WORKBOOK_PAIRS[3]}
    assert slow.decisive == WORKBOOK_PAIRS[2]
    assert slow.decisive.severity == "sev-3"


def test_min_requests_guards_low_traffic() -> None:
    guarded = Objective(target=0.999, window=timedelta(days=30), min_requests=100)
    few = {w: Measurement(1.0, events=99) for w in guarded.windows}
    evaluation = evaluate(guarded, few)
    assert evaluation.firing == ()
    assert {s.reason for s in evaluation.pairs} == {"low-traffic"}
    enough = {w: Measurement(1.0, events=100) for w in guarded.windows}
    assert evaluate(guarded, enough).decisive == WORKBOOK_PAIRS[0]
    unknown = {w: Measurement(1.0, events=None) for w in guarded.windows}
    assert evaluate(guarded, unknown).firing == (), "unknown traffic cannot pass the guard"


def test_missing_data_never_fires_and_is_reported() -> None:
    evaluation = evaluate(SLO, {})
    assert evaluation.no_data
    assert evaluation.firing == ()
    assert evaluation.budget_remaining is None
    partial = evaluate(SLO, measured(**{"1h": 0.5, "5m": None}))
    assert WORKBOOK_PAIRS[0] not in partial.firing
    assert partial.pairs[0].reason == "no-data"


def test_budget_remaining_over_the_slo_window() -> None:
    evaluation = evaluate(SLO, measured(**{"30d": 0.00025}))
    assert evaluation.budget_remaining == pytest.approx(0.75)
    overspent = evaluate(SLO, measured(**{"30d": 0.002}))
    assert overspent.budget_remaining == pytest.approx(-1.0)


def test_windows_needed_are_distinct_and_end_with_the_slo_window() -> None:
    assert [format_duration(w) for w in SLO.windows] == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
        "30d",
    ]


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", 5 * M),
        ("6h", 6 * H),
        ("3d", 72 * H),
        ("2w", 336 * H),
        # Prometheus' compound spelling, as Pyrra names its 30d windows.
        ("1h4m", 64 * M),
        ("1d1h43m", 24 * H + 103 * M),
        ("4d6h51m", 102 * H + 51 * M),
        ("1h30m", 90 * M),
        ("4w", 28 * 24 * H),
        ("1y", 365 * 24 * H),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta
    assert format_duration(delta) == text


@pytest.mark.parametrize("bad", ["", "5", "m", "30m1h", "1h1h", "-5m", "1ms", "1.5h", "1h 4m"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)
