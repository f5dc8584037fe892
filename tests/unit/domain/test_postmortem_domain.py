"""Postmortem domain: when one is owed, what blocks closing, timeline merge, key times, impact."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incident_operator.domain import lifecycle
from incident_operator.domain import postmortem as pm

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_owed_by_severity_with_due_date_from_resolution() -> None:
    owed = pm.owed(pm.Policy(required=True, due_within=timedelta(days=5)), at(60))
    assert owed is not None
    assert owed.reason is pm.Reason.SEVERITY_REQUIRES
    assert owed.due == at(60) + timedelta(days=5)


def test_owed_by_budget_share_only_above_the_share_and_never_for_unknown() -> None:
    policy = pm.Policy(budget_share=0.05)
    assert pm.owed(policy, at(0), {"checkout": 0.05}) is None
    assert pm.owed(policy, at(0), {"checkout": None}) is None
    owed = pm.owed(policy, at(0), {"checkout": 0.2, "search": None})
    assert owed is not None
    assert owed.reason is pm.Reason.BUDGET_BURNED
    assert "20.0% of SLO checkout" in owed.message
    assert pm.owed(pm.Policy(), at(0), {"checkout": 1.0}) is None


@pytest.mark.parametrize(
    ("required", "ref", "state", "blocked"),
    [
        (False, None, None, None),
        (True, None, None, "not been created"),
        (True, "inc-1", "draft", "is draft; publish it first"),
        (False, "inc-1", "in-review", "is in-review"),
        (True, "inc-1", None, "does not exist"),
        (True, "inc-1", "published", None),
    ],
)
def test_close_blocker(
    required: bool, ref: str | None, state: str | None, blocked: str | None
) -> None:
    reason = pm.close_blocker(required, ref, state)
    if blocked is None:
        assert reason is None
    else:
        assert reason is not None
        assert blocked in reason


def test_closing_is_refused_with_the_postmortem_reason_and_other_moves_are_not() -> None:
    common = {
        "roles": {"commander": "alice"},
        "required_roles": (),
        "timestamps": {},
        "declared": at(0),
        "postmortem_blocking": "its postmortem inc-1 is draft; publish it first",
    }
    refused = lifecycle.decide_transition(
        lifecycle.Phase.RESOLVED,
        lifecycle.Phase.CLOSED,
        at(10),
        **common,  # type: ignore[arg-type]
    )
    assert isinstance(refused, lifecycle.Refused)
    assert refused.reason is lifecycle.RefusalReason.POSTMORTEM_NOT_PUBLISHED
    assert refused.message == "cannot close: its postmortem inc-1 is draft; publish it first"
    reopened = lifecycle.decide_transition(
        lifecycle.Phase.RESOLVED,
        lifecycle.Phase.INVESTIGATING,
        at(10),
        **common,  # type: ignore[arg-type]
    )
    assert isinstance(reopened, lifecycle.Accepted)
    stays = lifecycle.decide_transition(
        lifecycle.Phase.CLOSED,
        lifecycle.Phase.CLOSED,
        at(10),
        **common,  # type: ignore[arg-type]
    )
    assert isinstance(stays, lifecycle.Accepted)


def test_merge_dedups_by_key_and_by_same_message_close_in_time_and_orders() -> None:
    own = [
        pm.Fact(at(0), "declared", "Incident declared", "slo/checkout", "declared"),
        pm.Fact(at(5), "transition-refused", "Refused: cannot close: x", "operator", "r/1"),
        pm.Fact(at(9), "note", "rollback looks good", "chat", "note/1"),
    ]
    mitigations = pm.mitigation_facts(
        [pm.Mitigation("rb", "rollback", "deployment/checkout", "verified", False, at(3), at(4))]
    )
    events = [
        pm.Fact(at(5.5), "event", "Cannot close: x", "event/op", "event/u1"),  # same as r/1
        pm.Fact(at(20), "event", "Cannot close: x", "event/op", "event/u2"),  # later: kept
        pm.Fact(at(1), "event", "SLO burning", "event/op", "event/u3"),
        pm.Fact(at(1), "event", "SLO burning", "event/op", "event/u3"),  # same key
    ]
    merged = pm.merge_facts(own, mitigations, events)
    assert [(f.at, f.key) for f in merged] == [
        (at(0), "declared"),
        (at(1), "event/u3"),
        (at(3), "mitigation/rb/started"),
        (at(4), "mitigation/rb/finished"),
        (at(5), "r/1"),
        (at(9), "note/1"),
        (at(20), "event/u2"),
    ]
    assert merged[3].message == "Mitigation rb verified: rollback of deployment/checkout"


def test_key_times_and_figures_follow_the_incident_conventions() -> None:
    times = pm.key_times(
        {
            "detected": at(0),
            "declared": at(4),
            "acknowledged": at(6),
            "mitigated": at(20),
            "resolved": at(34),
        }
    )
    # The incident's names and meanings: detected = the problem began, declared = known.
    assert (times.detected, times.declared) == (at(0), at(4))
    assert times.figures() == {
        "timeToDetect": 240.0,
        "timeToAcknowledge": 120.0,
        "timeToMitigate": 960.0,
        "timeToResolve": 1800.0,
    }
    assert times.window == (at(0), at(34))
    assert pm.key_times({"declared": at(4)}).window is None
    # No source said when it began: the incident starts at its declaration.
    assert pm.key_times({"declared": at(4), "resolved": at(9)}).window == (at(4), at(9))


def test_impact_from_counts() -> None:
    # 100 req/s for 10 minutes, all failing; 30 days of 100 req/s before.
    during = pm.Counts(total=60_000, failed=60_000)
    window = pm.Counts(total=100 * 86400 * 30, failed=60_000)
    found = pm.impact("checkout", 0.999, at(0), at(10), during=during, slo_window=window)
    budget_events = 0.001 * 100 * 86400 * 30  # 259,200 requests may fail in 30 days
    assert found.budget_consumed == pytest.approx(60_000 / budget_events)
    assert found.budget_remaining == pytest.approx(1 - 60_000 / budget_events)
    assert found.error_ratio == 1.0
    assert found.duration == timedelta(minutes=10)
    assert pm.impact("x", 0.999, at(0), at(1), during=None, slo_window=None).note


def test_impact_from_ratios_is_an_estimate() -> None:
    found = pm.impact_from_ratios(
        "x", 0.999, timedelta(days=30), at(0), at(60), during=0.5, slo_window=0.0005
    )
    assert found.budget_consumed == pytest.approx(0.5 * (1 / (30 * 24)) / 0.001)
    assert found.budget_remaining == pytest.approx(0.5)
    assert "estimated" in found.note


def test_overdue_items_and_keyed_reminders() -> None:
    items = [
        pm.ActionItem("add alert", "bob", date(2026, 12, 1), status="open"),
        pm.ActionItem("fix retry", None, date(2026, 12, 3), status="in-progress"),
        pm.ActionItem("docs", None, date(2026, 11, 30), status="done"),
        pm.ActionItem("today", None, date(2026, 12, 5)),
    ]
    late = pm.overdue(items, date(2026, 12, 5))
    assert [i.title for i in late] == ["add alert", "fix retry"]
    reminders = pm.overdue_reminders(items, date(2026, 12, 5), "inc-1")
    assert reminders[0].key == "postmortem/inc-1/overdue/add alert/2026-12-05"
    assert "owner bob" in reminders[0].message


def test_whole_seconds_rounds_up() -> None:
    assert pm.whole_seconds(at(0), at(0) + timedelta(seconds=10.2)) == timedelta(seconds=11)
    assert pm.whole_seconds(at(0), at(0)) == timedelta(seconds=1)
