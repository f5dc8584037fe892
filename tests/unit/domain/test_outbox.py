"""The outbox planner: what is owed for each delivered state, and how long to wait."""

from __future__ import annotations

from dataclasses import replace
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
    return outbox.Wanted(**{**base.__dict__, **changes})


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


def test_a_failed_acknowledge_is_dropped_once_the_page_is_to_be_resolved() -> None:
    attempts = {
        "page/acknowledge": outbox.Attempt(outbox.OpKind.PAGE_ACKNOWLEDGE, 1, AT, "HTTP 500"),
        "page/trigger": outbox.Attempt(outbox.OpKind.PAGE_TRIGGER, 1, AT, "HTTP 500"),
    }
    owed = (outbox.Op("page/resolve", outbox.OpKind.PAGE_RESOLVE),)
    assert outbox.superseded(owed, attempts) == ("page/acknowledge",)


def test_an_hour_long_retry_after_is_capped() -> None:
    wait = outbox.backoff(1, retry_after=3600, rejected=False, key="page/trigger")
    assert outbox.RETRY_AFTER_MAX <= wait <= outbox.RETRY_AFTER_MAX * 1.25


def test_a_wait_written_by_a_clock_running_ahead_is_due() -> None:
    """The chaos run's clock jump: a retry time stamped an hour ahead held a page for an hour.
    No wait we schedule is longer than LONGEST_WAIT, so one further ahead is due now."""
    ops = (outbox.Op("p", outbox.OpKind.PAGE_TRIGGER), outbox.Op("c", outbox.OpKind.TOPIC))
    attempts = {
        "p": outbox.Attempt(outbox.OpKind.PAGE_TRIGGER, 1, AT + timedelta(hours=1)),
        "c": outbox.Attempt(outbox.OpKind.TOPIC, 9, AT + outbox.LONGEST_WAIT),
    }
    assert [o.key for o in outbox.due(ops, attempts, AT)] == ["p"]
    longest = max(
        outbox.backoff(n, retry_after=r, rejected=j, key=f"k{n}")
        for n in range(1, 30)
        for r in (None, 1.0, 10**6)
        for j in (False, True)
    )
    assert longest <= outbox.LONGEST_WAIT


FAILED = outbox.Entry(
    "mitigation/rollback-checkout/escalated",
    "escalated",
    "Mitigation rollback-checkout failed; the responders must take over.",
    "incident-operator",
    AT + timedelta(minutes=20),
    "mitigation",
)
NOT_ACKED = outbox.Entry(
    "escalation/1", "escalated", "Not acknowledged ...", "", AT + timedelta(minutes=5), "operator"
)


def paging_only(phase: Phase, *entries: outbox.Entry) -> outbox.Wanted:
    return wanted(phase, chat=False, announce=(), notifiers=(), entries=entries)


@pytest.mark.parametrize("state", ["triggered", "acknowledged"])
def test_a_failed_mitigation_triggers_the_open_page_again_once(state: str) -> None:
    w = paging_only(Phase.INVESTIGATING, FAILED, NOT_ACKED)
    done = outbox.Delivered(page_state=state)
    ops = outbox.owed(w, done)
    repage = [op for op in ops if op.key.startswith("page/trigger/")]
    assert [(op.key, op.kind, op.target) for op in repage] == [
        (f"page/trigger/{FAILED.id}", outbox.OpKind.PAGE_TRIGGER, FAILED.id)
    ], "only the mitigation's escalation re-pages, not the response policy's"
    paged = replace(done, page_escalations=frozenset({FAILED.id}))
    assert not [op for op in outbox.owed(w, paged) if op.key.startswith("page/trigger")]


def test_an_unacknowledged_page_is_acknowledged_and_triggered_again() -> None:
    w = paging_only(Phase.INVESTIGATING, FAILED)
    assert kinds(outbox.owed(w, outbox.Delivered(page_state="triggered"))) == [
        "page-acknowledge",
        "page-trigger",
    ]


@pytest.mark.parametrize(
    ("phase", "state", "expected"),
    [
        (Phase.TRIAGE, "", ["page/trigger"]),  # the first page comes first
        (Phase.INVESTIGATING, "resolved", []),  # a resolved key would open a new PD incident
        (Phase.RESOLVED, "acknowledged", ["page/resolve"]),
    ],
)
def test_no_repage_without_an_open_page(phase: Phase, state: str, expected: list[str]) -> None:
    ops = outbox.owed(paging_only(phase, FAILED), outbox.Delivered(page_state=state))
    assert [op.key for op in ops] == expected


def test_no_repage_without_a_pager_or_for_escalations_before_the_declaration() -> None:
    done = outbox.Delivered(page_state="acknowledged")
    assert outbox.owed(replace(paging_only(Phase.INVESTIGATING, FAILED), page=False), done) == (
        outbox.Op("page/resolve", outbox.OpKind.PAGE_RESOLVE),
    )
    early = replace(FAILED, at=AT - timedelta(minutes=1))
    assert outbox.owed(paging_only(Phase.INVESTIGATING, early), done) == ()


def test_attempts_at_an_older_version_are_superseded() -> None:
    """A status update that failed at version A, then the incident changed: the attempt at A
    is never retried (B is owed), so it must go, or it stays in status.outbox for good."""
    w = wanted()
    done = outbox.Delivered(channel_id="C1", status_ts="1.1", status_digest="old")
    ops = outbox.owed(w, done, "sev-2")
    current = f"status/{outbox.digest(w.status_render)}"
    assert current in {op.key for op in ops}
    attempts = {
        "status/aaaaaaaaaaaa": outbox.Attempt(outbox.OpKind.UPDATE_STATUS, 4, AT, "timeout"),
        current: outbox.Attempt(outbox.OpKind.UPDATE_STATUS, 1, AT, "timeout"),
        "topic/bbbbbbbbbbbb": outbox.Attempt(outbox.OpKind.TOPIC, 1, AT),
        "notify/teams/triage/sev-9": outbox.Attempt(outbox.OpKind.NOTIFY, 1, AT),
        # Not versioned: their record is what makes a retry look up before repeating.
        "channel": outbox.Attempt(outbox.OpKind.CREATE_CHANNEL, 1, AT),
        "page/trigger": outbox.Attempt(outbox.OpKind.PAGE_TRIGGER, 1, AT),
    }
    assert outbox.superseded(ops, attempts) == (
        "notify/teams/triage/sev-9",
        "status/aaaaaaaaaaaa",
        "topic/bbbbbbbbbbbb",
    )
    assert outbox.superseded(ops, {current: attempts[current]}) == ()


@pytest.mark.parametrize(
    ("phase", "expected"),
    [(Phase.INVESTIGATING, ["page/trigger"]), (Phase.RESOLVED, ["page/resolve"])],
)
def test_an_unconfirmed_trigger_is_sent_again_or_resolved(
    phase: Phase, expected: list[str]
) -> None:
    attempts = {"page/trigger": outbox.Attempt(outbox.OpKind.PAGE_TRIGGER, 1)}
    done = outbox.unconfirmed_page(outbox.Delivered(channel_id="C1"), attempts)
    assert done.page_state == outbox.UNCONFIRMED
    pager = [op.key for op in outbox.owed(wanted(phase), done) if op.medium is outbox.Medium.PAGER]
    assert pager == expected
    # Without an attempt on record nothing was sent: nothing to resolve.
    none = outbox.owed(wanted(Phase.RESOLVED), outbox.Delivered(channel_id="C1"))
    assert [op.key for op in none if op.medium is outbox.Medium.PAGER] == []


def test_what_another_configuration_opened_is_owed_nothing_without_its_client() -> None:
    """A page triggered while a pager was configured, a channel opened while chat was: an
    operator configured without them owes no call to a client it does not have."""
    delivered = outbox.Delivered(channel_id="C1", status_ts="1.0", page_state="triggered")
    closing = outbox.winding_down(wanted(Phase.RESOLVED, page=False, chat=False))
    assert {op.medium for op in outbox.owed(closing, delivered, "sev-2")} >= {
        outbox.Medium.PAGER,
        outbox.Medium.CHAT,
    }
    only_webhooks = replace(closing, reachable=frozenset({outbox.Medium.WEBHOOK}))
    assert outbox.owed(only_webhooks, delivered, "sev-2") == ()


# --- escalation that reaches people -----------------------------------------------------------

REACHED = (outbox.Reach(1, "bob", "U0B"), outbox.Reach(2, "", "", "payments"))


def escalation_ops(ops: tuple[outbox.Op, ...]) -> list[tuple[str, str]]:
    return [(op.key, op.target) for op in ops if op.key.startswith(("dm/", "page/escalation/"))]


@pytest.mark.parametrize(
    ("phase", "pages", "expected"),
    [
        # Unacknowledged: each step is messaged (a person with a Slack id) and paged.
        (Phase.TRIAGE, {}, [("dm/1", "U0B"), ("page/escalation/1", "1"),
                            ("page/escalation/2", "2")]),
        # Acknowledged: no message any more; the open escalation pages are acknowledged.
        (Phase.INVESTIGATING, {1: "triggered", 2: "acknowledged"},
         [("page/escalation/1/acknowledge", "1")]),
        (Phase.INVESTIGATING, {}, []),
        # Resolved: every open escalation page is resolved, and only those.
        (Phase.RESOLVED, {1: "acknowledged", 2: "resolved"}, [("page/escalation/1/resolve", "1")]),
    ],
)  # fmt: skip
def test_escalation_steps_are_messaged_and_paged_while_unacknowledged(
    phase: Phase, pages: dict[int, str], expected: list[tuple[str, str]]
) -> None:
    done = outbox.Delivered(channel_id="C1", escalation_pages=pages)
    ops = outbox.owed(wanted(phase, escalations=REACHED), done, "sev-2")
    assert escalation_ops(ops) == expected


def test_escalation_pages_known_only_to_the_pager_are_still_resolved() -> None:
    done = outbox.Delivered(channel_id="C1", escalation_pages={3: "triggered"})
    ops = outbox.owed(wanted(Phase.CLOSED), done, "sev-2")
    assert escalation_ops(ops) == [("page/escalation/3/resolve", "3")]
    gone = outbox.owed(outbox.winding_down(wanted(Phase.TRIAGE)), done, "sev-2")
    assert escalation_ops(gone) == [("page/escalation/3/resolve", "3")]


def test_the_direct_message_waits_for_the_channel_it_links() -> None:
    ops = outbox.owed(wanted(escalations=REACHED), outbox.Delivered(), "sev-2")
    assert [k for k, _ in escalation_ops(ops)] == ["page/escalation/1", "page/escalation/2"]
    unchannelled = outbox.owed(wanted(escalations=REACHED, chat=False), outbox.Delivered())
    assert ("dm/1", "U0B") in escalation_ops(unchannelled)


def test_no_escalation_page_where_the_severity_does_not_page() -> None:
    ops = outbox.owed(wanted(escalations=REACHED, page=False), outbox.Delivered(channel_id="C"))
    assert escalation_ops(ops) == [("dm/1", "U0B")]


def test_an_unconfirmed_escalation_trigger_is_sent_again_then_its_record_goes() -> None:
    attempts = {"page/escalation/1": outbox.Attempt(outbox.OpKind.PAGE_ESCALATE, 1)}
    done = outbox.unconfirmed_page(outbox.Delivered(channel_id="C1"), attempts)
    assert done.escalation_pages == {1: outbox.UNCONFIRMED}
    ops = outbox.owed(wanted(escalations=REACHED[:1]), done, "sev-2")
    assert ("page/escalation/1", "1") in escalation_ops(ops)
    resolved = outbox.owed(wanted(Phase.RESOLVED), done, "sev-2")
    assert escalation_ops(resolved) == [("page/escalation/1/resolve", "1")]
    closed = {1: "resolved"}
    assert outbox.superseded((), attempts, "resolved", closed) == ("page/escalation/1",)
    assert outbox.superseded((), attempts, "resolved", {1: "triggered"}) == ()


def workflow_ops(ops: tuple[outbox.Op, ...]) -> list[tuple[str, str]]:
    return [(op.key, op.target) for op in ops if op.target.startswith(outbox.WORKFLOW_TARGET)]


def test_workflow_pages_are_resolved_when_paging_ends_and_never_acknowledged() -> None:
    done = outbox.Delivered(channel_id="C1", workflow_pages={"a1": "triggered", "b2": "resolved"})
    for phase in (Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED):  # acknowledged or not
        assert workflow_ops(outbox.owed(wanted(phase, team_pages=True), done)) == []
    resolve = [("page/workflow/a1/resolve", "workflow/a1")]
    assert workflow_ops(outbox.owed(wanted(Phase.RESOLVED, team_pages=True), done)) == resolve
    deleted = outbox.winding_down(wanted(Phase.INVESTIGATING, team_pages=True))
    assert workflow_ops(outbox.owed(deleted, done)) == resolve
    # Without a pager for the incident itself (PAGER not reachable) they are still resolved;
    # without team keys there is no way to reach them.
    unpaged = wanted(Phase.RESOLVED, team_pages=True, reachable=frozenset({outbox.Medium.CHAT}))
    assert workflow_ops(outbox.owed(unpaged, done)) == resolve
    assert workflow_ops(outbox.owed(wanted(Phase.RESOLVED), done)) == []


def test_checklist_instructions_are_one_direct_message_while_open() -> None:
    w = wanted(Phase.INVESTIGATING, instructions=(("i1", "U7"),))
    assert not [
        op for op in outbox.owed(w, outbox.Delivered(), "sev-2") if op.key.startswith("dm/")
    ]
    ops = outbox.owed(w, outbox.Delivered(channel_id="C1"), "sev-2")
    (dm,) = [op for op in ops if op.kind is outbox.OpKind.DIRECT_MESSAGE]
    assert (dm.key, dm.target, dm.text) == ("dm/instructions/i1", "U7", "instructions/i1")
    sent = outbox.Delivered(channel_id="C1", instructed=frozenset({"i1"}))
    assert not [op for op in outbox.owed(w, sent, "sev-2") if op.key.startswith("dm/")]
    resolved = wanted(Phase.RESOLVED, instructions=(("i1", "U7"),))
    ops = outbox.owed(resolved, outbox.Delivered(channel_id="C1"), "sev-2")
    assert not [op for op in ops if op.key.startswith("dm/")]
    assert outbox.winding_down(w).instructions == ()


def test_the_status_edit_and_the_acknowledge_lead_together() -> None:
    K = outbox.OpKind
    status, ack = outbox.Op("status/1", K.UPDATE_STATUS), outbox.Op("page/ack", K.PAGE_ACKNOWLEDGE)
    topic = outbox.Op("topic/1", K.TOPIC)
    assert outbox.leading_together((status, ack, topic)) == 2
    assert outbox.leading_together((status, topic, ack)) == 1, "only a prefix: order is kept"
    assert outbox.leading_together((ack, outbox.Op("page/resolve", K.PAGE_RESOLVE))) == 1, (
        "one medium, one at a time"
    )
    assert outbox.leading_together((topic, status)) == 0
    assert outbox.leading_together(()) == 0


def test_a_confirmation_from_the_same_start_is_merged_not_overwritten() -> None:
    base = outbox.Delivered(status_digest="old", page_state="triggered", pinned=True)
    edited = replace(base, status_digest="new")
    acked = replace(base, page_state="acknowledged")
    both = outbox.merged(base, outbox.merged(base, base, edited), acked)
    assert both == replace(base, status_digest="new", page_state="acknowledged")
