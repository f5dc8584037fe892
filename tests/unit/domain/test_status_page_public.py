"""The public face of an incident on the status page (domain/status_page.py): the public title
and updates replace the internal title and the page's own sentences; the phase stays the
truth for the status; the page adds its own sentence when the updates lag the phase."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from incident_operator.domain.comms import Impact
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.status_page import (
    IncidentRecord,
    IncidentStatus,
    PublicNote,
    Site,
    Update,
    build_page,
    summary_json,
    with_components,
)

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
DECLARED = NOW - timedelta(hours=1)
SITE = Site("acme", "Acme Status", "https://status.example.com/status")


def record(phase: Phase = Phase.INVESTIGATING, **public: object) -> IncidentRecord:
    base = IncidentRecord(
        id="abc",
        title="checkout: SLO checkout-availability is burning its error budget",
        service="checkout",
        severity="sev-2",
        impact=Impact.MAJOR,
        phase=phase,
        private=False,
        declared=DECLARED,
        updates=(Update(DECLARED + timedelta(minutes=5), Phase.INVESTIGATING),),
        published=True,
    )
    return replace(base, **public)  # type: ignore[arg-type]


def note(minutes: int, status: IncidentStatus, body: str) -> PublicNote:
    return PublicNote(DECLARED + timedelta(minutes=minutes), status, body)


def test_without_a_public_face_the_page_speaks_as_before() -> None:
    [incident] = build_page([record()], NOW).open_incidents
    assert incident.name == record().title
    assert incident.impact_text == ""
    assert [u.body for u in incident.updates] == [
        "We are investigating the problem affecting checkout.",
        "We are aware of a problem affecting checkout and are looking into it.",
    ]


def test_public_title_impact_and_updates_replace_the_internal_ones() -> None:
    written = record(
        public_title="Card payments failing",
        public_impact="Some customers cannot pay by card.",
        public_updates=(
            note(20, IncidentStatus.IDENTIFIED, "We found the cause: a bad deploy."),
            note(10, IncidentStatus.INVESTIGATING, "We are looking into failing payments."),
        ),
    )
    page = build_page([written], NOW)
    [incident] = page.open_incidents
    assert incident.name == "Card payments failing"
    assert incident.impact_text == "Some customers cannot pay by card."
    assert [(u.status, u.body) for u in incident.updates] == [
        (IncidentStatus.IDENTIFIED, "We found the cause: a bad deploy."),
        (IncidentStatus.INVESTIGATING, "We are looking into failing payments."),
    ]
    assert incident.status is IncidentStatus.IDENTIFIED, "a human said the cause is known"
    body = str(summary_json(page, SITE))
    assert "SLO checkout-availability" not in body, "the internal title never leaks"
    assert "We are aware" not in body


def test_a_public_update_cannot_resolve_an_open_incident() -> None:
    early = record(public_updates=(note(10, IncidentStatus.RESOLVED, "All good now."),))
    page = build_page([early], NOW)
    [incident] = page.open_incidents
    assert incident.status is IncidentStatus.INVESTIGATING
    assert incident.unresolved
    assert [u.body for u in incident.updates] == ["All good now."]
    assert [c.status.value for c in page.components] == ["partial_outage"]


def test_the_page_adds_its_sentence_when_the_updates_lag_the_phase() -> None:
    resolved_at = DECLARED + timedelta(minutes=50)
    lagging = record(
        Phase.RESOLVED,
        resolved=resolved_at,
        updates=(
            Update(DECLARED + timedelta(minutes=5), Phase.INVESTIGATING),
            Update(resolved_at, Phase.RESOLVED),
        ),
        public_updates=(note(10, IncidentStatus.MONITORING, "A fix is rolling out."),),
    )
    [incident] = build_page([lagging], NOW).recent_incidents
    assert incident.status is IncidentStatus.RESOLVED
    assert [(u.at, u.status, u.body) for u in incident.updates] == [
        (resolved_at, IncidentStatus.RESOLVED, "This incident has been resolved."),
        (DECLARED + timedelta(minutes=10), IncidentStatus.MONITORING, "A fix is rolling out."),
    ]
    assert incident.resolved == resolved_at


def test_a_written_resolution_is_not_repeated() -> None:
    resolved_at = DECLARED + timedelta(minutes=50)
    done = record(
        Phase.RESOLVED,
        resolved=resolved_at,
        public_updates=(note(55, IncidentStatus.RESOLVED, "Payments work again."),),
    )
    [incident] = build_page([done], NOW).recent_incidents
    assert [u.body for u in incident.updates] == ["Payments work again."]


def test_a_public_update_before_the_declaration_is_shown_at_the_declaration() -> None:
    early = record(public_updates=(note(-30, IncidentStatus.INVESTIGATING, "Looking."),))
    [incident] = build_page([early], NOW).open_incidents
    assert incident.updates[0].at == DECLARED


def test_a_severity_requiring_acceptance_lists_nothing_until_a_person_publishes() -> None:
    waiting = record(needs_acceptance=True)
    page = build_page([waiting], NOW)
    assert (page.open_incidents, page.components) == ((), ())
    accepted = replace(
        waiting, public_updates=(note(10, IncidentStatus.INVESTIGATING, "We are on it."),)
    )
    [incident] = build_page([accepted], NOW).open_incidents
    assert [u.body for u in incident.updates] == ["We are on it."]


def test_with_public_updates_but_no_public_title_the_drafted_title_names_it() -> None:
    drafted = record(
        drafted_title="checkout: partial outage",
        public_updates=(note(10, IncidentStatus.INVESTIGATING, "We are on it."),),
    )
    [incident] = build_page([drafted], NOW).open_incidents
    assert incident.name == "checkout: partial outage"
    [silent] = build_page([record(drafted_title="checkout: partial outage")], NOW).open_incidents
    assert silent.name == record().title, "no public face: the page speaks as before"
    titled = replace(drafted, public_title="Card payments fail")
    assert build_page([titled], NOW).open_incidents[0].name == "Card payments fail"


def test_with_components_adds_the_public_ones_as_operational() -> None:
    page = build_page([record()], NOW)
    merged = with_components(page, ["search", "checkout", "auth"])
    assert [(c.name, c.status.value) for c in merged.components] == [
        ("auth", "operational"),
        ("checkout", "partial_outage"),
        ("search", "operational"),
    ]
    assert with_components(page, ["checkout"]) is page
