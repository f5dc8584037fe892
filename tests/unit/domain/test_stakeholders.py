"""Stakeholder updates: due times, catching up after a restart, early sends, keys, text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.stakeholders import (
    Cadence,
    Facts,
    Sent,
    decide,
    doing_text,
    impact_text,
    render,
    stale_attempts,
    target_key,
    update_key,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=30)
CADENCE = Cadence(EVERY, timedelta(minutes=5))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_no_cadence_no_updates() -> None:
    decision = decide(
        Phase.INVESTIGATING, declared=T0, cadence=None, sent=Sent(), requested_at=None, now=at(90)
    )
    assert decision.update is None
    assert decision.next_due is None
    assert decision.reminder is None


def test_first_update_is_due_at_the_declaration() -> None:
    decision = decide(
        Phase.TRIAGE, declared=T0, cadence=CADENCE, sent=Sent(), requested_at=None, now=at(0.1)
    )
    assert decision.update is not None
    assert (decision.update.sequence, decision.update.anchor) == (1, T0)
    assert decision.next_due == at(30)


@pytest.mark.parametrize("minutes", [0.5, 10, 24.9])
def test_nothing_is_due_between_updates(minutes: float) -> None:
    sent = Sent(1, T0, "investigating")
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=sent,
        requested_at=None,
        now=at(minutes),
    )
    assert decision.update is None
    assert decision.reminder is None
    assert decision.next_due == at(30)


def test_a_late_tick_keeps_the_schedule() -> None:
    """Sent 20 s late, the update is still anchored at its due time: no drift."""
    sent = Sent(1, T0, "investigating")
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=sent,
        requested_at=None,
        now=at(30) + timedelta(seconds=20),
    )
    assert decision.update is not None
    assert (decision.update.sequence, decision.update.anchor) == (2, at(30))
    assert decision.next_due == at(60)


def test_across_a_restart_the_status_alone_decides() -> None:
    """The same status and instant give the same update (and key) whoever looks."""
    sent = Sent(2, at(30), "investigating")
    first = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(61)
    )
    again = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(61)
    )
    assert first == again
    assert first.update is not None
    assert first.update.sequence == 3
    # Once recorded as sent, the same instant owes nothing more.
    after = Sent(3, first.update.anchor, "investigating")
    done = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=after, requested_at=None, now=at(61)
    )
    assert done.update is None
    assert done.next_due == at(90)


def test_missed_slots_are_skipped_not_sent_as_a_backlog() -> None:
    """Down for two hours: one update now, the cadence restarts from now."""
    sent = Sent(1, T0, "investigating")
    decision = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(125)
    )
    assert decision.update is not None
    assert (decision.update.sequence, decision.update.anchor) == (2, at(125))
    assert decision.next_due == at(155)


def test_reminder_before_the_update_is_due_once_per_update() -> None:
    sent = Sent(1, T0, "investigating")
    early = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(24)
    )
    assert early.reminder is None
    reminded = decide(
        Phase.INVESTIGATING, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(26)
    )
    assert reminded.reminder is not None
    assert (reminded.reminder.sequence, reminded.reminder.due) == (2, at(30))
    assert reminded.reminder.at == at(25)
    assert reminded.reminder.key == "stakeholder-reminder/2"


def test_no_reminder_without_lead_time() -> None:
    sent = Sent(1, T0, "investigating")
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=Cadence(EVERY),
        sent=sent,
        requested_at=None,
        now=at(29),
    )
    assert decision.reminder is None


def test_an_early_request_sends_now_and_resets_the_cadence() -> None:
    sent = Sent(1, T0, "investigating")
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=sent,
        requested_at=at(10),
        now=at(10.1),
    )
    assert decision.update is not None
    assert decision.update.early
    assert (decision.update.sequence, decision.update.anchor) == (2, at(10.1))
    assert decision.next_due == at(40.1)
    # Answered (recorded as handled): no second early update, the cadence runs from it.
    answered = Sent(2, at(10.1), "investigating", handled_request=at(10))
    later = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=answered,
        requested_at=at(10),
        now=at(30),
    )
    assert later.update is None
    assert later.next_due == at(40.1)


def test_a_request_from_a_clock_ahead_is_answered_once() -> None:
    """A requestedAt later than the update sent for it is still answered only once."""
    answered = Sent(2, at(10), "investigating", handled_request=at(11))
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=answered,
        requested_at=at(11),
        now=at(10.5),
    )
    assert decision.update is None


def test_an_old_request_asks_nothing() -> None:
    sent = Sent(2, at(30), "investigating")
    decision = decide(
        Phase.INVESTIGATING,
        declared=T0,
        cadence=CADENCE,
        sent=sent,
        requested_at=at(10),
        now=at(31),
    )
    assert decision.update is None


def test_one_final_update_when_resolved() -> None:
    sent = Sent(2, at(30), "investigating")
    final = decide(
        Phase.RESOLVED, declared=T0, cadence=CADENCE, sent=sent, requested_at=None, now=at(40)
    )
    assert final.update is not None
    assert final.update.final
    assert final.update.sequence == 3
    assert final.next_due is None
    done = decide(
        Phase.RESOLVED,
        declared=T0,
        cadence=CADENCE,
        sent=Sent(3, at(40), "resolved"),
        requested_at=None,
        now=at(100),
    )
    assert done.update is None
    assert done.next_due is None


def test_no_final_update_for_an_incident_stakeholders_never_heard_of() -> None:
    decision = decide(
        Phase.RESOLVED, declared=T0, cadence=CADENCE, sent=Sent(), requested_at=None, now=at(1)
    )
    assert decision.update is None


@pytest.mark.parametrize("phase", [Phase.DECLINED, Phase.MERGED])
def test_nothing_for_declined_or_merged(phase: Phase) -> None:
    decision = decide(
        phase, declared=T0, cadence=CADENCE, sent=Sent(), requested_at=None, now=at(1)
    )
    assert decision.update is None
    assert decision.next_due is None


def test_keys_come_from_uid_and_sequence() -> None:
    assert update_key("uid-1", 3) == "stakeholder-update/uid-1/3"
    assert target_key(3, "#exec") == "stakeholder/3/#exec"
    keys = ["stakeholder/2/#exec", "stakeholder/3/#exec", "page/trigger", "stakeholder/1/webhook"]
    assert stale_attempts(keys, 3) == ["stakeholder/1/webhook", "stakeholder/2/#exec"]


def test_impact_prefers_the_public_impact() -> None:
    assert impact_text("Some card payments fail", "major", "checkout") == "Some card payments fail"
    assert impact_text("", "major", "checkout") == "major impact on checkout"
    assert impact_text("", "none", "checkout") == "checkout is affected"


def test_doing_prefers_the_leads_words_then_the_latest_note() -> None:
    entries = [
        ("note", at(1), "rolled back"),
        ("status-update", at(5), "traffic shifted"),
        ("escalated", at(6), "x"),
    ]
    assert doing_text("Fix deploying", entries, "investigating") == "Fix deploying"
    assert doing_text("", entries, "investigating") == "traffic shifted"
    assert doing_text("", [], "investigating") == "Responders are investigating."


def test_render_names_phase_impact_work_and_next_update() -> None:
    facts = Facts(
        "shop/checkout-errors",
        "Checkout returns 5xx",
        "SEV-1",
        "investigating",
        "Some card payments fail",
        "Rolling back",
        2,
        at(60),
    )
    text = render(facts)
    assert text.splitlines() == [
        "*Stakeholder update #2: Checkout returns 5xx* (SEV-1, shop/checkout-errors)",
        "Phase: investigating",
        "Impact: Some card payments fail",
        "What is being done: Rolling back",
        "Next update: by 2026-12-07T10:00:00Z",
    ]
    long = render(Facts("a/b", "t", "s", "p", "i", "x" * 5000, 1, None))
    assert len(long) == 4096
