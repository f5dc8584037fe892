"""Insights over a seeded history: every figure below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incident_operator.domain import insights
from incident_operator.domain.insights import ActionItemFact, IncidentFact, PostmortemFact, SloFact

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PERIOD = timedelta(days=30)  # 2026-11-01 .. 2026-12-01


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def durations(
    tta: float | None, ttm: float | None, ttr: float | None, ttd: float | None
) -> dict[str, float | None]:
    return {
        "timeToAcknowledge": tta,
        "timeToMitigate": ttm,
        "timeToResolve": ttr,
        "timeToDetect": ttd,
    }


INCIDENTS = [
    IncidentFact("shop", "a1", "checkout", "payments", "sev-1", at("2026-11-05"),
                 durations(120, 600, 1800, 300)),
    IncidentFact("shop", "a2", "checkout", "payments", "sev-2", at("2026-11-20"),
                 durations(300, 1200, 3600, 60)),
    IncidentFact("shop", "a3", "billing", "payments", "sev-2", at("2026-11-25"),
                 durations(60, None, None, None)),  # still open
    IncidentFact("find", "b1", "search", "search", "sev-3", at("2026-11-10"),
                 durations(900, 900, 7200, None)),
    IncidentFact("misc", "x1", "legacy", "", "sev-2", at("2026-11-28"),
                 durations(30, None, None, None)),
    # Before the period: not counted, but its postmortem's overdue work still is.
    IncidentFact("shop", "old", "checkout", "payments", "sev-1", at("2026-10-01"),
                 durations(10, 10, 10, 10)),
]  # fmt: skip
POSTMORTEMS = [
    PostmortemFact("shop", "a1", published=True),
    PostmortemFact("shop", "a2", published=False, action_items=(
        ActionItemFact(date(2026, 11, 25), "open"),          # overdue
        ActionItemFact(date(2026, 12, 5), "open"),           # not due yet
        ActionItemFact(date(2026, 11, 20), "done"),          # done
        ActionItemFact(None, "open"),                        # no due date
    )),
    PostmortemFact("shop", "old", published=True, action_items=(
        ActionItemFact(date(2026, 10, 15), "in-progress"),   # overdue
        ActionItemFact(date(2026, 10, 10), "wont-fix"),      # dropped
    )),
]  # fmt: skip
SLOS = [
    SloFact("shop", "checkout-availability", "checkout", "payments", 0.6),  # spent 0.4
    SloFact("shop", "checkout-latency", "checkout", "payments", -0.2),  # spent 1.2 (overspent)
    SloFact("shop", "billing-availability", "billing", "payments", 0.9),  # spent 0.1
    SloFact("find", "search-availability", "search", "search", None),  # never evaluated
]


def by_name(groups: tuple[insights.Group, ...]) -> dict[str, insights.Group]:
    return {g.name: g for g in groups}


def pct(group: insights.Group, figure: str) -> tuple[float, float] | None:
    found = group.figures.get(figure)
    return (found.percentiles[50], found.percentiles[90]) if found else None


def test_percentiles_are_nearest_rank() -> None:
    assert insights.percentile([60, 120, 300], 50) == 120  # rank ceil(1.5) = 2
    assert insights.percentile([60, 120, 300], 90) == 300  # rank ceil(2.7) = 3
    assert insights.percentile([600, 1200], 50) == 600  # rank ceil(1.0) = 1
    assert insights.percentile([5], 90) == 5


def test_the_report_per_team_matches_the_hand_computed_figures() -> None:
    report = insights.report(INCIDENTS, POSTMORTEMS, SLOS, period=PERIOD, now=NOW)
    teams = by_name(report.teams)
    assert list(teams) == ["(no team)", "payments", "search"]
    payments = teams["payments"]
    assert payments.incidents == 3
    assert payments.by_severity == {"sev-1": 1, "sev-2": 2}
    assert pct(payments, "timeToAcknowledge") == (120, 300)  # of 60, 120, 300
    assert pct(payments, "timeToMitigate") == (600, 1200)  # of 600, 1200 (a3 is open)
    assert pct(payments, "timeToResolve") == (1800, 3600)
    assert pct(payments, "timeToDetect") == (60, 300)
    assert payments.figures["timeToMitigate"].count == 2
    assert (payments.postmortems_owed, payments.postmortems_published) == (2, 1)
    assert payments.postmortem_completion == 0.5
    assert payments.overdue_action_items == 2  # a2's and the older incident's
    assert payments.worst_budget_spent == pytest.approx(1.2)
    search = teams["search"]
    assert (search.incidents, search.by_severity) == (1, {"sev-3": 1})
    assert pct(search, "timeToResolve") == (7200, 7200)
    assert "timeToDetect" not in search.figures, "no value is not zero"
    assert search.postmortem_completion is None
    assert search.worst_budget_spent is None
    assert teams["(no team)"].incidents == 1


def test_the_report_per_service_and_in_total() -> None:
    report = insights.report(INCIDENTS, POSTMORTEMS, SLOS, period=PERIOD, now=NOW)
    services = by_name(report.services)
    assert list(services) == ["billing", "checkout", "legacy", "search"]
    checkout = services["checkout"]
    assert checkout.incidents == 2
    assert checkout.overdue_action_items == 2
    assert checkout.worst_budget_spent == pytest.approx(1.2)
    assert services["billing"].worst_budget_spent == pytest.approx(0.1)
    assert services["billing"].overdue_action_items == 0
    total = report.total
    assert total.incidents == 5
    assert pct(total, "timeToAcknowledge") == (120, 900)  # of 30, 60, 120, 300, 900
    assert (total.postmortems_owed, total.postmortems_published) == (2, 1)
    assert total.overdue_action_items == 2
    assert report.since == datetime(2026, 11, 1, tzinfo=UTC)


def test_one_team_only() -> None:
    report = insights.report(INCIDENTS, POSTMORTEMS, SLOS, period=PERIOD, now=NOW, team="search")
    assert [g.name for g in report.teams] == ["search"]
    assert [g.name for g in report.services] == ["search"]
    assert report.total.incidents == 1
    assert report.total.overdue_action_items == 0


def test_weekly_counts_for_the_trend_chart() -> None:
    starts, counts = insights.weekly_counts(INCIDENTS, period=PERIOD, now=NOW)
    # 30 days -> 5 weekly buckets ending at NOW: from 2026-10-27, 11-03, 11-10, 11-17, 11-24.
    assert [s.date().isoformat() for s in starts] == [
        "2026-10-27", "2026-11-03", "2026-11-10", "2026-11-17", "2026-11-24"
    ]  # fmt: skip
    assert counts == {
        "(no team)": [0, 0, 0, 0, 1],
        "payments": [0, 1, 0, 1, 1],
        "search": [0, 0, 1, 0, 0],
    }
