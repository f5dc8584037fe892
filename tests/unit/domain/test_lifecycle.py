"""The incident state machine: the transition table, refusals and the MTTx figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    Accepted,
    Duration,
    Milestone,
    Phase,
    RefusalReason,
    Refused,
    decide_transition,
)

DECLARED = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NOW = DECLARED + timedelta(minutes=30)
ALL_ROLES = {"commander": "alice", "communications": "bob"}
REQUIRED = ("commander", "communications")

LEGAL = {
    ("triage", "investigating"),
    ("triage", "mitigated"),
    ("triage", "resolved"),
    ("triage", "closed"),
    ("triage", "declined"),
    ("triage", "merged"),
    ("investigating", "mitigated"),
    ("investigating", "resolved"),
    ("investigating", "closed"),
    ("investigating", "declined"),
    ("investigating", "merged"),
    ("mitigated", "investigating"),
    ("mitigated", "resolved"),
    ("mitigated", "closed"),
    ("mitigated", "merged"),
    ("mitigated", "declined"),  # only when the phase lags a spec the API server let through
    ("resolved", "investigating"),
    ("resolved", "closed"),
    ("resolved", "merged"),
    ("resolved", "declined"),
}


def decide(current: Phase | None, requested: Phase, **kwargs: object) -> Accepted | Refused:
    arguments: dict[str, object] = {
        "roles": ALL_ROLES,
        "required_roles": REQUIRED,
        "timestamps": {},
        "declared": DECLARED,
        "severity": "sev-2",
        "merged_into": "other",
        "name": "this",
    }
    arguments.update(kwargs)
    return decide_transition(current, requested, NOW, **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("current", list(Phase))
@pytest.mark.parametrize("requested", list(Phase))
def test_transition_table(current: Phase, requested: Phase) -> None:
    decision = decide(current, requested)
    if current == requested or (current.value, requested.value) in LEGAL:
        assert isinstance(decision, Accepted), decision
        assert decision.phase is requested
    else:
        assert isinstance(decision, Refused)
        assert decision.reason is RefusalReason.ILLEGAL_TRANSITION
        assert decision.phase is current
        assert f"{current} -> {requested} is not allowed" in decision.message


def test_terminal_states_have_no_way_out_and_every_open_state_can_close() -> None:
    assert {Phase.CLOSED, Phase.DECLINED, Phase.MERGED} == TERMINAL
    for phase in TERMINAL:
        assert TRANSITIONS[phase] == frozenset()
    # The API server keeps closed/merged terminal: the operator must never strand a spec there.
    for phase in set(Phase) - TERMINAL:
        assert {Phase.CLOSED, Phase.MERGED} <= TRANSITIONS[phase]


def test_refusal_of_a_terminal_state_says_so() -> None:
    decision = decide(Phase.CLOSED, Phase.INVESTIGATING)
    assert isinstance(decision, Refused)
    assert decision.message == "closed -> investigating is not allowed (closed is terminal)"


def test_a_new_incident_starts_in_triage() -> None:
    assert decide(None, Phase.TRIAGE) == Accepted(Phase.TRIAGE, None, {}, {})
    refused = decide(None, Phase.DECLINED, timestamps={})
    assert isinstance(refused, Accepted)  # triage -> declined is legal on creation too


def test_acknowledging_stamps_acknowledged_and_time_to_acknowledge() -> None:
    decision = decide(Phase.TRIAGE, Phase.INVESTIGATING)
    assert isinstance(decision, Accepted)
    assert decision.stamps == {Milestone.ACKNOWLEDGED: NOW}
    assert decision.durations == {Duration.TIME_TO_ACKNOWLEDGE: 1800.0}


def test_skipping_to_resolved_stamps_every_milestone_it_passes() -> None:
    decision = decide(Phase.TRIAGE, Phase.RESOLVED)
    assert isinstance(decision, Accepted)
    assert decision.stamps == {
        Milestone.ACKNOWLEDGED: NOW,
        Milestone.MITIGATED: NOW,
        Milestone.RESOLVED: NOW,
    }
    assert decision.durations == {
        Duration.TIME_TO_ACKNOWLEDGE: 1800.0,
        Duration.TIME_TO_MITIGATE: 1800.0,
        Duration.TIME_TO_RESOLVE: 1800.0,
    }


def test_existing_stamps_are_kept() -> None:
    acked = DECLARED + timedelta(minutes=5)
    mitigated = DECLARED + timedelta(minutes=20)
    decision = decide(
        Phase.MITIGATED,
        Phase.RESOLVED,
        timestamps={Milestone.ACKNOWLEDGED: acked, Milestone.MITIGATED: mitigated},
    )
    assert isinstance(decision, Accepted)
    assert decision.stamps == {Milestone.RESOLVED: NOW}
    assert decision.durations == {Duration.TIME_TO_RESOLVE: 1800.0}


def test_time_to_detect_when_the_source_knows_the_start() -> None:
    decision = decide(Phase.TRIAGE, Phase.INVESTIGATING, detected=DECLARED - timedelta(minutes=7))
    assert isinstance(decision, Accepted)
    assert decision.durations[Duration.TIME_TO_DETECT] == 420.0


def test_reopening_clears_what_it_undoes() -> None:
    stamped = {
        Milestone.ACKNOWLEDGED: DECLARED,
        Milestone.MITIGATED: DECLARED,
        Milestone.RESOLVED: DECLARED,
    }
    decision = decide(Phase.RESOLVED, Phase.INVESTIGATING, timestamps=stamped)
    assert isinstance(decision, Accepted)
    assert decision.stamps == {Milestone.MITIGATED: None, Milestone.RESOLVED: None}
    assert decision.durations == {
        Duration.TIME_TO_MITIGATE: None,
        Duration.TIME_TO_RESOLVE: None,
    }


def test_staying_put_stamps_nothing() -> None:
    decision = decide(Phase.INVESTIGATING, Phase.INVESTIGATING)
    assert isinstance(decision, Accepted)
    assert not decision.changed
    assert decision.stamps == {}


@pytest.mark.parametrize("requested", [Phase.RESOLVED, Phase.CLOSED])
def test_resolving_or_closing_needs_the_required_roles(requested: Phase) -> None:
    decision = decide(Phase.INVESTIGATING, requested, roles={"commander": "alice"})
    assert isinstance(decision, Refused)
    assert decision.reason is RefusalReason.REQUIRED_ROLES_UNFILLED
    assert decision.phase is Phase.INVESTIGATING
    assert "communications" in decision.message
    assert "commander" not in decision.message.split("role(s)")[1]


def test_mitigating_does_not_need_the_roles() -> None:
    assert isinstance(decide(Phase.INVESTIGATING, Phase.MITIGATED, roles={}), Accepted)


def test_a_missing_severity_refuses_resolution_only() -> None:
    refused = decide(Phase.INVESTIGATING, Phase.RESOLVED, required_roles=None)
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.SEVERITY_NOT_FOUND
    assert refused.message.startswith("severity sev-2 not found")
    assert isinstance(decide(Phase.TRIAGE, Phase.INVESTIGATING, required_roles=None), Accepted)


def test_merging_needs_another_incident() -> None:
    for target in (None, "this"):
        decision = decide(Phase.INVESTIGATING, Phase.MERGED, merged_into=target)
        assert isinstance(decision, Refused)
        assert decision.reason is RefusalReason.MERGE_TARGET_INVALID
    merged = decide(Phase.INVESTIGATING, Phase.MERGED)
    assert isinstance(merged, Accepted)
    assert merged.stamps == {Milestone.CLOSED: NOW}
