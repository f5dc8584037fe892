"""Each chaos invariant holds for a clean history and fails for a fabricated violating one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.chaos import invariants as inv
from tests.chaos.invariants import Expected, History, Observation

NS = "chaos-1-0"
KEY = f"incident-operator/{NS}"


def incident(
    name: str,
    source: dict[str, str] | None,
    phase: str,
    channel: str,
    timeline: list[dict[str, Any]],
    posted: list[str],
) -> dict[str, Any]:
    spec: dict[str, Any] = {"title": name}
    if source:
        spec["source"] = source
    return {
        "metadata": {"namespace": NS, "name": name},
        "spec": spec,
        "status": {
            "phase": phase,
            "timeline": timeline,
            "chat": {"channelId": channel, "posted": posted},
            "pager": {"state": "resolved" if phase in ("resolved", "closed") else "triggered"},
            "mitigations": [{"name": "rollback-checkout", "result": "succeeded"}]
            if source and source["type"] == "slo"
            else [],
        },
    }


def entry(kind: str, key: str, message: str = "") -> dict[str, Any]:
    return {"type": kind, "key": key, "message": message}


def clean() -> History:
    slo_timeline = [
        entry("burn-began", "b1"),
        entry("declared", "d1"),
        entry("mitigation", "m1"),
        entry("state-changed", "s1", "State triage -> investigating"),
        entry("state-changed", "s2", "State investigating -> resolved"),
    ]
    manual_timeline = [
        entry("declared", "d2"),
        entry("state-changed", "s3", "State triage -> investigating"),
        entry("state-changed", "s4", "State investigating -> mitigated"),
        entry("state-changed", "s5", "State mitigated -> resolved (stamped resolved)"),
        entry("state-changed", "s6", "State resolved -> closed"),
    ]
    slo = incident(
        "checkout-abc", {"type": "slo", "ref": "checkout"}, "resolved", "C1", slo_timeline, ["d1"]
    )
    manual = incident("manual-0", None, "closed", "C2", manual_timeline, ["d2", "s6"])
    return History(
        incidents=[slo, manual],
        expected=[
            Expected(
                NS,
                "slo",
                source_type="slo",
                source_ref="checkout",
                states=("investigating", "resolved"),
                final_phase="resolved",
                resolved_by_human_at=100.0,
                postmortem=True,
                mitigation="rollback-checkout",
                timeline=("declared", "mitigation"),
            ),
            Expected(
                NS,
                "kubectl",
                source_ref="manual-0",
                states=("investigating", "mitigated", "resolved", "closed"),
                final_phase="closed",
                resolved_by_human_at=200.0,
                postmortem=True,
                tickets=("Add a canary",),
            ),
            Expected(NS, "calm"),
        ],
        observations=[
            Observation(50.0, NS, "checkout-abc", "triage", "triggered"),
            Observation(101.0, NS, "checkout-abc", "resolved", "resolved"),
            Observation(150.0, NS, "manual-0", "investigating", "triggered"),
            Observation(201.0, NS, "manual-0", "resolved", "resolved"),
        ],
        channels=[
            {
                "id": "C1",
                "name": "inc-20261205-checkout-abc",
                "messages": [
                    {"key": f"{NS}/checkout-abc/status", "text": "SEV-2 x [resolved]"},
                    {"key": f"{NS}/checkout-abc/entry/d1", "text": "declared"},
                ],
            },
            {
                "id": "C2",
                "name": "inc-20261205-manual-0",
                "messages": [
                    {"key": f"{NS}/manual-0/status", "text": "SEV-2 y [closed]"},
                    {"key": f"{NS}/manual-0/entry/d2", "text": "declared"},
                    {"key": f"{NS}/manual-0/entry/s6", "text": "closed"},
                ],
            },
        ],
        pages=[
            {"dedup_key": f"{KEY}/checkout-abc", "state": "resolved", "actions": []},
            {"dedup_key": f"{KEY}/manual-0", "state": "resolved", "actions": []},
        ],
        postmortems=[
            {"metadata": {"namespace": NS, "name": n}, "spec": {"incidentRef": n}}
            for n in ("checkout-abc", "manual-0")
        ],
        tickets=[{"key": "OPS-1", "summary": "Add a canary"}],
        converged=[("kubectl: resolved", 3.0), ("slo: declared", 40.0)],
    )


def test_a_clean_history_has_no_violations() -> None:
    assert inv.check(clean()) == {i.__name__: [] for i in inv.INVARIANTS}


Breaker = Callable[[History], None]


def duplicate_incident(h: History) -> None:
    twin = copy.deepcopy(h.incidents[0])
    twin["metadata"]["name"] = "checkout-def"
    h.incidents.append(twin)


def duplicate_channel(h: History) -> None:
    h.channels.append({"id": "C9", "name": "inc-20261205-manual-0-1a2b3c", "messages": []})


def duplicate_message(h: History) -> None:
    h.channels[1]["messages"].append(dict(h.channels[1]["messages"][2]))


def duplicate_page(h: History) -> None:
    h.pages.append({"dedup_key": f"{KEY}/manual-0", "state": "triggered", "actions": []})


def duplicate_postmortem(h: History) -> None:
    h.postmortems.append(
        {"metadata": {"namespace": NS, "name": "other"}, "spec": {"incidentRef": "manual-0"}}
    )


def duplicate_ticket(h: History) -> None:
    h.tickets.append({"key": "OPS-2", "summary": "Add a canary"})


def missing_incident(h: History) -> None:
    h.incidents.pop(0)


def lost_transition(h: History) -> None:
    timeline = h.incidents[1]["status"]["timeline"]
    timeline[:] = [e for e in timeline if "-> mitigated" not in e["message"]]


def transitions_out_of_order(h: History) -> None:
    timeline = h.incidents[1]["status"]["timeline"]
    timeline[1], timeline[3] = timeline[3], timeline[1]


def lost_timeline_entry(h: History) -> None:
    timeline = h.incidents[0]["status"]["timeline"]
    timeline[:] = [e for e in timeline if e["type"] != "mitigation"]


def repeated_timeline_entry(h: History) -> None:
    h.incidents[0]["status"]["timeline"].append(entry("declared", "d1"))


def lost_chat_message(h: History) -> None:
    h.channels[1]["messages"].pop(2)


def stale_status_message(h: History) -> None:
    h.channels[1]["messages"][0]["text"] = "SEV-2 y [mitigated]"


def page_left_open(h: History) -> None:
    h.pages[1]["state"] = "triggered"


def outbox_not_drained(h: History) -> None:
    h.incidents[1]["status"]["outbox"] = {"page/resolve": {"attempts": 3}}


def false_declaration(h: History) -> None:
    stray = copy.deepcopy(h.incidents[0])
    stray["metadata"]["name"] = "calm-xyz"
    stray["spec"]["source"] = {"type": "slo", "ref": "calm"}
    h.incidents.append(stray)


def false_resolution(h: History) -> None:
    h.observations.insert(1, Observation(60.0, NS, "checkout-abc", "resolved", "resolved"))


def page_resolved_early(h: History) -> None:
    h.observations.insert(1, Observation(60.0, NS, "checkout-abc", "triage", "resolved"))


def wrong_final_phase(h: History) -> None:
    h.incidents[1]["status"]["phase"] = "resolved"


def double_mitigation(h: History) -> None:
    h.incidents[0]["status"]["mitigations"].append({"name": "rollback-checkout"})


def no_postmortem(h: History) -> None:
    h.postmortems.pop(0)


def no_ticket(h: History) -> None:
    h.tickets.clear()


def slow_convergence(h: History) -> None:
    h.converged.append(("slo: resolved", 301.0))


def never_converged(h: History) -> None:
    h.converged.append(("alertmanager: declared", None))


CASES: list[tuple[inv.Invariant, Breaker, str]] = [
    (inv.no_duplicate_incidents, duplicate_incident, "2 incidents"),
    (inv.no_duplicate_channels, duplicate_channel, "has 2 channels"),
    (inv.no_duplicate_chat_messages, duplicate_message, "posted 2 times"),
    (inv.no_duplicate_pages, duplicate_page, "opened 2 times"),
    (inv.no_duplicate_postmortems, duplicate_postmortem, "2 postmortems"),
    (inv.no_duplicate_tickets, duplicate_ticket, "created 2 times"),
    (inv.no_missing_incident, missing_incident, "no incident"),
    (inv.no_lost_transition, lost_transition, "state change to mitigated lost"),
    (inv.no_lost_transition, transitions_out_of_order, "lost"),
    (inv.no_lost_timeline_entry, lost_timeline_entry, "no mitigation entry"),
    (inv.no_lost_timeline_entry, repeated_timeline_entry, "entry d1 2 times"),
    (inv.no_lost_chat_update, lost_chat_message, "posted entry s6 missing"),
    (inv.no_lost_chat_update, stale_status_message, "does not say closed"),
    (inv.no_lost_chat_update, page_left_open, "page is triggered"),
    (inv.no_lost_chat_update, outbox_not_drained, "outbox still owes"),
    (inv.no_false_declaration, false_declaration, "declared without cause"),
    (inv.no_false_resolution, false_resolution, "before anyone resolved it"),
    (inv.no_false_resolution, page_resolved_early, "before anyone resolved it"),
    (inv.converges, wrong_final_phase, "inputs imply closed"),
    (inv.converges, double_mitigation, "rollback-checkout x2"),
    (inv.converges, no_postmortem, "no postmortem"),
    (inv.converges, no_ticket, "no ticket"),
    (inv.converges, slow_convergence, "converged after 301 s > 300 s"),
    (inv.converges, never_converged, "not converged within 300 s"),
]


@pytest.mark.parametrize(
    ("invariant", "breaker", "message"), CASES, ids=[b.__name__ for _, b, _ in CASES]
)
def test_each_invariant_fails_on_a_violating_history(
    invariant: inv.Invariant, breaker: Breaker, message: str
) -> None:
    history = clean()
    assert invariant(history) == []
    breaker(history)
    found = invariant(history)
    assert found, f"{invariant.__name__} missed {breaker.__name__}"
    assert any(message in v for v in found), found


def test_every_invariant_has_a_violating_case() -> None:
    assert {i.__name__ for i, _, _ in CASES} == {i.__name__ for i in inv.INVARIANTS}
