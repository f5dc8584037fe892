"""The simulator: same policy code, measurements integrated exactly from a trace.

Expected numbers are derived by hand in the comments (99.9 % SLO: budget 0.001).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident_operator.domain.simulation import TraceError, parse_trace, simulate
from incident_operator.domain.slo import WORKBOOK_PAIRS, Objective, WindowPair

SLO = Objective(target=0.999, window=timedelta(days=30))
STEP = timedelta(seconds=15)
DAY = 86400
HEALTHY = 3 * DAY  # three healthy days first, so even the 3d window has history


def trace(*rows: tuple[float, float, float]) -> str:
    return "time,total,errors\n" + "\n".join(f"{t},{n},{e}" for t, n, e in rows) + "\n"


def results(text: str, objective: Objective = SLO) -> dict[str, dict[str, object]]:
    sim = simulate(objective, parse_trace(text), STEP)
    return {f"{r.pair.long_text}/{r.pair.short_text}": r.__dict__ for r in sim.pairs}


def test_full_outage_for_an_hour() -> None:
    text = trace((0, 100, 0), (HEALTHY, 100, 100), (HEALTHY + 3600, 100, 0))
    sim = simulate(SLO, parse_trace(text), STEP)
    by = {f"{r.pair.long_text}/{r.pair.short_text}": r for r in sim.pairs}
    # Long window ratio t/window > factor*0.001 after 51.84 s, 129.6 s, 259.2 s, 259.2 s;
    # the next 15 s evaluation detects.
    assert by["1h/5m"].detection_seconds == 60
    assert by["6h/30m"].detection_seconds == 135
    assert by["1d/2h"].detection_seconds == 270
    assert by["3d/6h"].detection_seconds == 270
    assert by["1h/5m"].first_fired_at == HEALTHY + 60
    # 60 s x 100 errors/s against 0.001 x 100 req/s x 30 days of budget.
    assert by["1h/5m"].budget_consumed_at_detection == pytest.approx(6000 / 259200)
    # After recovery the short window empties: (w - x)/w stays above the threshold until
    # x = 295.68 s (5m), 1789.2 s (30m); the 2h window holds the whole hour of errors until
    # 3600 s after recovery, then (7200 - x)/7200 > 0.003 until 7178.4 s; 6h: 21578.4 s.
    assert by["1h/5m"].reset_seconds == 300
    assert by["6h/30m"].reset_seconds == 1800
    assert by["1d/2h"].reset_seconds == 7185
    assert by["3d/6h"].reset_seconds == 21585
    assert sim.first_detection_seconds == 60
    assert sim.severity == "sev-2"


def test_slow_burn_only_reaches_the_ticket_pair() -> None:
    # 0.2 % errors = burn 2: only 1x/3d can fire, once the 3d ratio passes 0.1 %:
    # 0.002 t / 259200 > 0.001 after t = 129600 s.
    sim = simulate(SLO, parse_trace(trace((0, 100, 0), (HEALTHY, 100, 0.2))), STEP)
    fired = {r.pair for r in sim.pairs if r.fired}
    assert fired == {WORKBOOK_PAIRS[3]}
    assert sim.first_detection_seconds == 129615
    assert sim.severity == "sev-4"
    assert next(r for r in sim.pairs if r.fired).reset_seconds is None, "errors never stop"


def test_ten_percent_errors() -> None:
    # Burn 100: 1h ratio 0.1 t / 3600 > 0.0144 after 518.4 s -> 525 s.
    sim = simulate(
        SLO, parse_trace(trace((0, 50, 0), (HEALTHY, 50, 5), (HEALTHY + 7200, 50, 0))), STEP
    )
    assert sim.pairs[0].detection_seconds == 525
    assert sim.severity == "sev-2"


def test_low_traffic_below_min_requests_does_not_page() -> None:
    guarded = Objective(target=0.999, window=timedelta(days=30), min_requests=1000)
    # 0.1 req/s: 360 requests per hour (< 1000), 2160 per 6 h (>= 1000).
    sim = simulate(guarded, parse_trace(trace((0, 0.1, 0), (HEALTHY, 0.1, 0.1))), STEP)
    by = {r.pair: r for r in sim.pairs}
    assert not by[WORKBOOK_PAIRS[0]].fired
    assert by[WORKBOOK_PAIRS[1]].fired
    assert sim.severity == "sev-2"


def test_no_errors_never_fires() -> None:
    sim = simulate(SLO, parse_trace(trace((0, 100, 0), (DAY, 10, 0))), STEP)
    assert not any(r.fired for r in sim.pairs)
    assert sim.first_detection_seconds is None
    assert sim.severity is None


def test_flapping_outage_fires_and_resets_after_the_last_flap() -> None:
    rows = [(0.0, 100.0, 0.0)]
    for i in range(6):  # 5 min bad, 5 min good, six times
        rows += [(HEALTHY + i * 600, 100, 100), (HEALTHY + i * 600 + 300, 100, 0)]
    sim = simulate(SLO, parse_trace(trace(*rows)), STEP)
    fast = sim.pairs[0]
    assert fast.fired
    assert fast.detection_seconds == 60
    # The last flap ends at HEALTHY + 3300; the 5m window is then all bad and empties like
    # after a full outage: it stops firing 300 s later.
    assert fast.reset_seconds == 300


def test_traffic_gap_is_no_data_not_recovery() -> None:
    sim = simulate(SLO, parse_trace(trace((0, 100, 0), (HEALTHY, 0, 0))), STEP, end=HEALTHY + 900)
    _, last = sim.timeline[-1]
    assert last.windows[0].measurement is None, "5m without requests has no ratio"
    assert not last.firing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,total,errors\n0,1,0\n", "line 1: expected the header 'time,total,errors'"),
        ("time,total,errors\n0,1\n", "line 2: expected 3 fields"),
        ("time,total,errors\n0,1,x\n", "line 2: not a number"),
        ("time,total,errors\n0,1,2\n", "line 2: errors (2) exceed total (1)"),
        ("time,total,errors\n5,1,0\n5,1,0\n", "line 3: time 5 is not after"),
        ("time,total,errors\n0,-1,0\n", "must not be negative"),
        ("time,total,errors\n", "the trace has no rows"),
    ],
)
def test_bad_traces_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_trace(text)


def test_custom_pairs_keep_their_spelling() -> None:
    objective = Objective(
        target=0.99, window=timedelta(days=7), pairs=(WindowPair.of("24h", "60m", 2, "sev-3"),)
    )
    sim = simulate(objective, parse_trace(trace((0, 10, 0), (DAY, 10, 10))), timedelta(minutes=1))
    assert (sim.pairs[0].pair.long_text, sim.pairs[0].pair.short_text) == ("24h", "60m")
    # 0.02 threshold on a 24h window: 86400 x 0.02 = 1728 s -> the next minute.
    assert sim.pairs[0].detection_seconds == 1740
