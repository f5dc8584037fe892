"""The outbox planner: what is owed for each delivered state, and how long to wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain import outbox
from incident_operator.domain.lifecycle import Phase

AT = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def wanted(phase: Phase = Phase.TRIAGE, **changes: object) -> outbox.Wanted:
    base = outbox.Wanted(
        phase=phase,
        acknowledged=phase is not Phase.TRIAGE,
        chat=True,
        channel_name="inc-x",
        announce=("#incidents",),
        invite=frozenset({"U1"}),
        topic="t",
        status_render="s",
        entries=(outbox.Entry("k1", "note", "m", "a", AT),),
        archive_on_close=True,
        page=True,
        notifiers=("teams",),
        declared=AT,
    )
    return outbox.Wanted(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def kinds(ops: tuple[outbox.Op, ...]) -> list[str]:
    return [op.kind.value for op in ops]


def test_a_new_incident_needs_its_channel_first() -> None:
    ops = outbox.owed(wanted(), outbox.Delivered(), "sev-2")
    assert kinds(ops) == ["create-channel", "page-trigger", "notify"]


def test_with_a_channel_everything_else_follows_in_order() -> None:
    done = outbox.Delivered(channel_id="C1")
    ops = outbox.owed(wanted(), done, "sev-2")
    assert kinds(ops)[:6] == ["announce", "invite", "post-status", "topic", "post-entry",
                              "page-trigger"]  # fmt: skip


def test_nothing_is_owed_once_delivered() -> None:
    w = wanted()
    done = outbox.Delivered(
        channel_id="C1",
        status_ts="1.1",
        status_digest=outbox.digest(w.status_render),
        topic_digest=outbox.digest(w.topic),
        invited=frozenset({"U1"}),
        pinned=True,
        announced=frozenset({"#incidents"}),
        posted=frozenset(e.id for e in w.entries),
        page_state="triggered",
        notified={"teams": outbox.notify_event(Phase.TRIAGE, "sev-2")},
    )
    assert outbox.owed(w, done, "sev-2") == ()


@pytest.mark.parametrize(
    ("phase", "state", "expected"),
    [
        (Phase.TRIAGE, "", ["page-trigger"]),
        (Phase.INVESTIGATING, "triggered", ["page-acknowledge"]),
        (Phase.INVESTIGATING, "acknowledged", []),
        (Phase.RESOLVED, "acknowledged", ["page-resolve"]),
        (Phase.CLOSED, "triggered", ["page-resolve"]),
        (Phase.INVESTIGATING, "resolved", []),  # reopened: humans are on it, no second page
    ],
)
def test_page_follows_the_phase(phase: Phase, state: str, expected: list[str]) -> None:
    w = wanted(phase, chat=False, announce=(), notifiers=())
    assert kinds(outbox.owed(w, outbox.Delivered(page_state=state))) == expected


def test_backoff_honours_retry_after_and_spreads_a_crowd() -> None:
    waits = {outbox.backoff(1, retry_after=30, rejected=False, key=f"k{i}") for i in range(20)}
    assert all(timedelta(seconds=30) <= w <= timedelta(seconds=37.5) for w in waits)
    assert len(waits) > 10
    assert outbox.backoff(1, retry_after=None, rejected=False) == timedelta(seconds=5)
    assert outbox.backoff(3, retry_after=None, rejected=False) == timedelta(seconds=20)
    assert outbox.backoff(20, retry_after=None, rejected=False) == outbox.BACKOFF_MAX
    assert outbox.backoff(1, retry_after=None, rejected=True) == outbox.REJECTED_RETRY


def test_due_skips_operations_still_waiting() -> None:
    ops = (outbox.Op("a", outbox.OpKind.TOPIC), outbox.Op("b", outbox.OpKind.PIN_STATUS))
    attempts = {"a": outbox.Attempt(outbox.OpKind.TOPIC, 1, AT + timedelta(seconds=10))}
    assert [o.key for o in outbox.due(ops, attempts, AT)] == ["b"]
    assert [o.key for o in outbox.due(ops, attempts, AT + timedelta(seconds=10))] == ["a", "b"]
