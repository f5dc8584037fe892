"""Where the postmortem chart starts and ends (never in the future), and that it renders."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.adapters.postmortem_chart import MatplotlibCharts
from incident_operator.domain.postmortem import ChartData, chart_cut_short, chart_range

T = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("length", "now_after_end", "low", "high"),
    [
        # short incident, rendered right at resolution: padded 10 min before, cut at now
        (12 * M, 0 * M, T - 10 * M, T + 12 * M),
        (12 * M, 2 * M, T - 10 * M, T + 14 * M),
        # rendered long after: the full 10 min pad after the end
        (12 * M, 60 * M, T - 10 * M, T + 22 * M),
        # long incident: a quarter of its length on each side
        (4 * 60 * M, 3 * 60 * M, T - 60 * M, T + 5 * 60 * M),
        (4 * 60 * M, 30 * M, T - 60 * M, T + 4 * 60 * M + 30 * M),
        # exactly at the pad: end + pad == now
        (12 * M, 10 * M, T - 10 * M, T + 22 * M),
    ],
)
def test_chart_range_ends_at_the_earlier_of_end_plus_pad_and_now(
    length: timedelta, now_after_end: timedelta, low: datetime, high: datetime
) -> None:
    end = T + length
    assert chart_range(T, end, end + now_after_end) == (low, high)


def test_the_chart_renders_a_png_of_the_requested_range() -> None:
    end = T + 12 * M
    low, high = chart_range(T, end, end + 2 * M)
    points = []
    at = low
    while at < high:
        points.append((at, 0.2 if T <= at < end else 0.001))
        at += timedelta(seconds=15)
    moments = (
        ("detected", T),
        ("declared", T + M),
        ("acknowledged", T + 2 * M),
        ("mitigated", T + 8 * M),
        ("resolved", end),
    )
    png = MatplotlibCharts().render(
        ChartData(
            "checkout", 0.999, T, end, tuple(points), tuple((t, 0.9) for t, _ in points), moments
        )
    )
    assert png is not None
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 480)


@pytest.mark.parametrize(
    ("drawn_after_end", "cut"),
    [(None, False), (0 * M, True), (9 * M, True), (10 * M, False), (3 * 60 * M, False)],
)
def test_a_chart_drawn_before_its_padded_end_counts_as_cut_short(
    drawn_after_end: timedelta | None, cut: bool
) -> None:
    end = T + 12 * M
    drawn = None if drawn_after_end is None else end + drawn_after_end
    assert chart_cut_short(T, end, drawn) is cut
