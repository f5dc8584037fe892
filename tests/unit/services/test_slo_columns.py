"""The SLO's BUDGET and BURN columns: what people read, computed where the numbers are."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident_operator.services.slo_status import budget_text, burn_text

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("remaining", "shown"),
    [(0.951116, "95.1%"), (1.0, "100.0%"), (0.0, "0.0%"), (-0.1234, "-12.3%"), (None, None)],
)
def test_the_budget_reads_as_a_percentage(remaining: float | None, shown: str | None) -> None:
    assert budget_text(remaining) == shown


def test_the_burn_is_the_shortest_window_with_data() -> None:
    burns = [(60 * MIN, 0.5), (5 * MIN, 0.42123), (MIN, None)]
    assert burn_text(burns) == "0.421x/5m"
    assert burn_text([(5 * MIN, 14.4)]) == "14.4x/5m"
    assert burn_text([(5 * MIN, 12345.6)]) == "12346x/5m"
    assert burn_text([(5 * MIN, None)]) is None, "no data is not a burn of zero"
