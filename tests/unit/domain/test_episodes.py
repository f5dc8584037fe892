"""Burn episode decisions, table-driven: partial data never ends or calms a burn.

The SLO is the Workbook's: 99.9 % (budget 0.001), pairs 14.4x 1h/5m and 6x 6h/30m (sev-2),
3x 1d/2h (sev-3), 1x 3d/6h (sev-4); hold-down 15 minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain.burn import Measurement, blindness, evaluate
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.episodes import Action, Episode, decide
from incident_operator.domain.slo import Objective

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
HOLD = timedelta(minutes=15)
OBJECTIVE = Objective(0.999, timedelta(days=30))
LOW_TRAFFIC = Objective(0.999, timedelta(days=30), min_requests=1000)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def windows(
    ratio: float, *, events: float = 1e6, **overrides: float | None
) -> dict[timedelta, Measurement | None]:
    """Every window measures ``ratio``; ``m5=None`` (window 5m) has no data, ``m5=nan`` 0/0."""
    out: dict[timedelta, Measurement | None] = {}
    for text in WINDOWS:
        value = overrides.get(f"m{text}", ratio)
        out[parse_duration(text)] = None if value is None else Measurement(value, events)
    return out


CALM = 0.0
SEV3_BURN = 0.004  # 4x: only 3x 1d/2h and 1x 3d/6h fire
SEV2_SLOW_BURN = 0.01  # 10x: 6x 6h/30m fires, 14.4x 1h/5m does not
FAST_BURN = 0.05  # 50x: every pair fires


def no_data() -> dict[timedelta, Measurement | None]:
    """Every window without data."""
    return {parse_duration(text): None for text in WINDOWS}


def episode(
    pair: str = "1h/5m",
    severity: str = "sev-2",
    *,
    fired: float = 20,
    pair_fired: float | None = None,
    blind: float | None = None,
    stopped: float | None = None,
) -> Episode:
    """An episode whose last firing was ``fired`` minutes ago (its own pair: ``pair_fired``)."""
    return Episode(
        incident="checkout-20261127-1300",
        started_at=ago(60),
        last_firing_at=ago(fired),
        severity=severity,
        pair=pair,
        stopped_at=None if stopped is None else ago(stopped),
        pair_firing_at=ago(fired if pair_fired is None else pair_fired),
        blind_at=None if blind is None else ago(blind),
    )


@dataclass(frozen=True)
class Case:
    id: str
    episode: Episode | None
    measured: dict[timedelta, Measurement | None] | None
    """None: Prometheus unavailable."""
    action: Action
    severity: str | None = None
    pair: str | None = None
    stopped: bool = False
    blind_now: bool = False
    objective: Objective = OBJECTIVE
    incident_open: bool = True
    extra: dict[str, object] = field(default_factory=dict)


CASES = [
    # --- ending a burn -------------------------------------------------------------------
    Case("calm with all data after the hold-down: stopped", episode(), windows(CALM),
         Action.BURN_STOPPED, "sev-2", "1h/5m", stopped=True),
    Case("calm but within the hold-down: still on", episode(fired=5), windows(CALM),
         Action.NONE, "sev-2", "1h/5m"),
    Case("declaring pair's short window vanished, slower pairs calm: still on",
         episode(), windows(CALM, m5m=None), Action.NONE, "sev-2", "1h/5m", blind_now=True),
    Case("short window 0/0 (NaN): still on", episode(), windows(CALM, m5m=math.nan),
         Action.NONE, "sev-2", "1h/5m", blind_now=True),
    Case("a slow pair's long window vanished: still on", episode(), windows(CALM, m3d=None),
         Action.NONE, "sev-2", "1h/5m", blind_now=True),
    Case("every window vanished: still on", episode(), no_data(),
         Action.NONE, "sev-2", "1h/5m", blind_now=True),
    Case("Prometheus unavailable: nothing changes", episode(), None, Action.NONE, "sev-2", "1h/5m"),
    Case("data back, calm, but missing 10 minutes ago: hold-down counts from then",
         episode(blind=10), windows(CALM), Action.NONE, "sev-2", "1h/5m"),
    Case("data back for longer than the hold-down: stopped", episode(blind=16), windows(CALM),
         Action.BURN_STOPPED, "sev-2", "1h/5m", stopped=True),
    Case("only the SLO window (budget) lacks data: stopped (no pair needs it)",
         episode(), windows(CALM, m30d=None), Action.BURN_STOPPED, "sev-2", "1h/5m",
         stopped=True),
    Case("errors above threshold on too few requests: not calm, still on",
         episode(), windows(FAST_BURN, events=10), Action.NONE, "sev-2", "1h/5m",
         blind_now=True, objective=LOW_TRAFFIC),
    Case("too few requests but below threshold: calm, stopped",
         episode(), windows(CALM, events=10), Action.BURN_STOPPED, "sev-2", "1h/5m",
         stopped=True, objective=LOW_TRAFFIC),
    # --- severity down, with hysteresis ----------------------------------------------------
    Case("faster pair below for the hold-down, slower fires: lowered",
         episode(fired=1, pair_fired=20), windows(SEV3_BURN), Action.LOWER_SEVERITY,
         "sev-3", "1d/2h"),
    Case("faster pair below for less than the hold-down: kept",
         episode(fired=1, pair_fired=5), windows(SEV3_BURN), Action.NONE, "sev-2", "1h/5m"),
    Case("faster pair's short window vanished, slower fires: kept",
         episode(fired=1, pair_fired=20), windows(SEV3_BURN, m5m=None), Action.NONE,
         "sev-2", "1h/5m", blind_now=True),
    Case("faster pair NaN, slower fires: kept",
         episode(fired=1, pair_fired=20), windows(SEV3_BURN, m1h=math.nan), Action.NONE,
         "sev-2", "1h/5m", blind_now=True),
    Case("data missing 10 minutes ago: hold-down for lowering counts from then",
         episode(fired=1, pair_fired=20, blind=10), windows(SEV3_BURN), Action.NONE,
         "sev-2", "1h/5m"),
    Case("slower pair of the same severity: pair follows, no severity change",
         episode(fired=1, pair_fired=20), windows(SEV2_SLOW_BURN), Action.NONE, "sev-2",
         "6h/30m"),
    # --- severity up, at once ----------------------------------------------------------
    Case("faster pair fires: raised at once", episode("1d/2h", "sev-3", fired=1),
         windows(FAST_BURN), Action.RAISE_SEVERITY, "sev-2", "1h/5m"),
    Case("faster pair fires while a slow window lacks data: raised all the same",
         episode("1d/2h", "sev-3", fired=1), windows(FAST_BURN, m3d=None),
         Action.RAISE_SEVERITY, "sev-2", "1h/5m", blind_now=True),
    Case("same pair fires: kept", episode(fired=1), windows(FAST_BURN), Action.NONE, "sev-2",
         "1h/5m"),
    # --- declaring ----------------------------------------------------------------------
    Case("no episode, nothing measured: nothing", None,
         no_data(), Action.NONE),
    Case("no episode, a pair with data fires beside a blind one: declared",
         None, windows(SEV3_BURN, m5m=None), Action.DECLARE, "sev-3", "1d/2h"),
    Case("stopped episode, incident open, burn again: resumed",
         episode(stopped=5, fired=25), windows(FAST_BURN), Action.BURN_RESUMED, "sev-2",
         "1h/5m"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_decide(case: Case) -> None:
    evaluation = None if case.measured is None else evaluate(case.objective, case.measured)
    decision = decide(
        slo="checkout",
        objective=case.objective,
        episode=case.episode,
        evaluation=evaluation,
        now=NOW,
        burn_began=None,
        hold_down=HOLD,
        declare=True,
        auto_resolve=True,
        incident_open=case.incident_open,
    )
    assert decision.action is case.action
    if case.severity is None:
        assert decision.episode is None
        return
    assert decision.episode is not None
    assert (decision.episode.severity, decision.episode.pair) == (case.severity, case.pair)
    assert (decision.episode.stopped_at is not None) == case.stopped
    assert decision.resolve == (case.action is Action.BURN_STOPPED)
    if case.episode is not None and case.episode.stopped_at is None:
        assert (decision.episode.blind_at == NOW) == case.blind_now


def test_lowering_waits_out_the_hold_down_cycle_by_cycle() -> None:
    """A sequence: fast burn, then only the slow pair; lowered exactly when 15 min passed."""
    current = episode(fired=0)
    actions = []
    for minute in range(1, 20):
        now = NOW + timedelta(minutes=minute)
        decision = decide(
            slo="checkout",
            objective=OBJECTIVE,
            episode=current,
            evaluation=evaluate(OBJECTIVE, windows(SEV3_BURN)),
            now=now,
            burn_began=None,
            hold_down=HOLD,
            declare=True,
            auto_resolve=False,
            incident_open=True,
        )
        assert decision.episode is not None
        current = decision.episode
        actions.append((minute, decision.action))
    lowered = [m for m, a in actions if a is Action.LOWER_SEVERITY]
    assert lowered == [15]
    assert current.severity == "sev-3"


def test_an_older_status_without_pair_firing_at_still_lowers_after_the_hold_down() -> None:
    current = replace(episode(fired=0), pair_firing_at=None)
    for minute in (1, 10, 16):
        decision = decide(
            slo="checkout",
            objective=OBJECTIVE,
            episode=current,
            evaluation=evaluate(OBJECTIVE, windows(SEV3_BURN)),
            now=NOW + timedelta(minutes=minute),
            burn_began=None,
            hold_down=HOLD,
            declare=True,
            auto_resolve=False,
            incident_open=True,
        )
        assert decision.episode is not None
        current = decision.episode
    assert decision.action is Action.LOWER_SEVERITY


AFTER = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("measured", "since", "expected_since", "blind", "missing"),
    [
        (windows(CALM), None, None, False, ()),
        (windows(CALM), ago(30), None, False, ()),
        (windows(CALM, m5m=None), None, NOW, False, ("5m",)),
        (windows(CALM, m5m=None), ago(5), ago(5), False, ("5m",)),
        (windows(CALM, m5m=None, m1h=None), ago(10), ago(10), True, ("5m", "1h")),
        (windows(CALM, m5m=math.nan), ago(11), ago(11), True, ("5m",)),
        (windows(CALM, m30d=None), ago(60), None, False, ()),
        (windows(CALM, m5m=None), NOW + timedelta(minutes=5), NOW, False, ("5m",)),
    ],
    ids=[
        "data",
        "data back clears",
        "missing starts now",
        "missing shorter than noDataAfter",
        "missing for noDataAfter: blind",
        "NaN for longer: blind",
        "SLO window alone is not needed by a pair",
        "a future since (clock skew) restarts now",
    ],
)
def test_blindness(
    measured: dict[timedelta, Measurement | None],
    since: datetime | None,
    expected_since: datetime | None,
    blind: bool,
    missing: tuple[str, ...],
) -> None:
    result = blindness(evaluate(OBJECTIVE, measured), since, NOW, AFTER)
    assert result.since == expected_since
    assert result.blind is blind
    assert result.windows == tuple(parse_duration(w) for w in missing)
