"""The status page's decisions (domain/status_page.py): indicator, components, privacy, the
90-day window, phase -> Statuspage status, update wording and the /api/v2 shapes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from incident_operator.domain.comms import Impact
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.status_page import (
    ComponentStatus,
    IncidentRecord,
    IncidentStatus,
    Site,
    Update,
    build_page,
    incidents_json,
    public_id,
    shown,
    status_json,
    summary_json,
)

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
SITE = Site("acme", "Acme Status", "https://status.example.com/status")


def record(
    name: str = "checkout-errors",
    *,
    service: str = "checkout",
    impact: Impact = Impact.MAJOR,
    phase: Phase = Phase.INVESTIGATING,
    private: bool = False,
    declared: datetime | None = NOW - timedelta(hours=1),
    resolved: datetime | None = None,
    closed: datetime | None = None,
    updates: tuple[Update, ...] = (),
    published: bool = True,
) -> IncidentRecord:
    return IncidentRecord(
        id=name,
        title=f"{name} title",
        service=service,
        severity="sev-2",
        impact=impact,
        phase=phase,
        private=private,
        declared=declared,
        resolved=resolved,
        closed=closed,
        updates=updates,
        published=published,
    )


def statuses(records: list[IncidentRecord]) -> dict[str, ComponentStatus]:
    return {c.name: c.status for c in build_page(records, NOW).components}


def test_nothing_open_is_all_systems_operational() -> None:
    page = build_page([], NOW)
    assert (page.indicator, page.description) == (Impact.NONE, "All Systems Operational")
    assert (page.components, page.open_incidents, page.recent_incidents) == ((), (), ())
    assert page.updated == NOW


@pytest.mark.parametrize(
    ("impacts", "indicator", "description"),
    [
        ([Impact.MINOR], Impact.MINOR, "Minor Service Outage"),
        ([Impact.MINOR, Impact.MAJOR], Impact.MAJOR, "Partial System Outage"),
        ([Impact.CRITICAL, Impact.MINOR, Impact.MAJOR], Impact.CRITICAL, "Major System Outage"),
        ([Impact.NONE], Impact.NONE, "All Systems Operational"),
    ],
)
def test_indicator_is_the_worst_impact_among_open_incidents(
    impacts: list[Impact], indicator: Impact, description: str
) -> None:
    page = build_page([record(f"i{n}", impact=i) for n, i in enumerate(impacts)], NOW)
    assert (page.indicator, page.description) == (indicator, description)
    assert status_json(page, SITE)["status"] == {
        "indicator": indicator.value,
        "description": description,
    }


def test_resolved_and_closed_incidents_do_not_count_for_the_indicator() -> None:
    records = [
        record("a", impact=Impact.CRITICAL, phase=Phase.RESOLVED, resolved=NOW),
        record("b", impact=Impact.CRITICAL, phase=Phase.CLOSED, closed=NOW),
        record("c", impact=Impact.MINOR, phase=Phase.MITIGATED),
    ]
    assert build_page(records, NOW).indicator is Impact.MINOR


@pytest.mark.parametrize(
    ("impact", "status"),
    [
        (Impact.NONE, ComponentStatus.OPERATIONAL),
        (Impact.MINOR, ComponentStatus.DEGRADED_PERFORMANCE),
        (Impact.MAJOR, ComponentStatus.PARTIAL_OUTAGE),
        (Impact.CRITICAL, ComponentStatus.MAJOR_OUTAGE),
    ],
)
def test_component_status_follows_the_impact(impact: Impact, status: ComponentStatus) -> None:
    assert statuses([record(impact=impact)]) == {"checkout": status}


def test_component_takes_the_worst_open_incident_and_resolved_ones_leave_it_operational() -> None:
    records = [
        record("a", service="checkout", impact=Impact.MINOR),
        record("b", service="checkout", impact=Impact.CRITICAL),
        record("c", service="checkout", impact=Impact.MAJOR, phase=Phase.MITIGATED),
        record("d", service="search", impact=Impact.CRITICAL, phase=Phase.RESOLVED),
    ]
    assert statuses(records) == {
        "checkout": ComponentStatus.MAJOR_OUTAGE,
        "search": ComponentStatus.OPERATIONAL,
    }
    # Order of the records does not matter (the worst wins, not the latest).
    assert statuses(records[::-1]) == statuses(records)


def test_private_incidents_appear_nowhere_not_even_in_component_status() -> None:
    secret = record("breach", service="auth", impact=Impact.CRITICAL, private=True)
    public = record("slow", service="checkout", impact=Impact.MINOR)
    secret_on_shared = record("embargo", service="checkout", impact=Impact.CRITICAL, private=True)
    page = build_page([secret, public, secret_on_shared], NOW)
    assert page.indicator is Impact.MINOR
    assert {c.name: c.status for c in page.components} == {
        "checkout": ComponentStatus.DEGRADED_PERFORMANCE
    }
    assert [i.name for i in page.open_incidents] == ["slow title"]
    assert [i.name for i in page.recent_incidents] == ["slow title"]
    text = str(summary_json(page, SITE)) + str(incidents_json(page, SITE))
    for hidden in ("breach", "embargo", "auth"):
        assert hidden not in text


def test_only_incidents_of_a_publishing_severity_are_shown() -> None:
    """Public is opt-in: a non-private incident whose Severity did not opt in is nowhere,
    not even in component status or the indicator."""
    quiet = record("internal", service="billing", impact=Impact.CRITICAL, published=False)
    public = record("slow", service="checkout", impact=Impact.MINOR)
    page = build_page([quiet, public], NOW)
    assert page.indicator is Impact.MINOR
    assert [c.name for c in page.components] == ["checkout"]
    assert [i.name for i in page.recent_incidents] == ["slow title"]
    text = str(summary_json(page, SITE)) + str(incidents_json(page, SITE))
    assert "internal" not in text
    assert "billing" not in text
    assert shown(public)
    assert not shown(quiet)
    assert not shown(replace(public, private=True))


def test_public_ids_are_opaque_stable_and_keyed() -> None:
    one = public_id(b"k1", "team-a", "checkout-errors", "0b7e-uid")
    assert one == public_id(b"k1", "team-a", "checkout-errors", "0b7e-uid")  # restarts
    assert len(one) == 20
    assert all(c in "0123456789abcdef" for c in one)
    for part in ("team-a", "checkout", "errors", "0b7e"):
        assert part not in one
    others = {
        public_id(b"k2", "team-a", "checkout-errors", "0b7e-uid"),
        public_id(b"k1", "team-b", "checkout-errors", "0b7e-uid"),
        public_id(b"k1", "team-a", "checkout-errors", "re-created"),
        public_id(b"k1", "team-a-checkout", "errors", "0b7e-uid"),  # no ambiguity at "/"
    }
    assert one not in others
    assert len(others) == 4


def test_declined_and_merged_incidents_are_left_out() -> None:
    page = build_page(
        [
            record("declined", phase=Phase.DECLINED, closed=NOW),
            record("merged", phase=Phase.MERGED, closed=NOW),
        ],
        NOW,
    )
    assert (page.recent_incidents, page.components) == ((), ())


def test_the_history_holds_ninety_days_by_the_end_of_the_incident() -> None:
    day = timedelta(days=1)
    records = [
        record("inside", phase=Phase.RESOLVED, declared=NOW - 89 * day, resolved=NOW - 89 * day),
        record("edge", phase=Phase.CLOSED, declared=NOW - 95 * day, closed=NOW - 90 * day),
        record("gone", phase=Phase.RESOLVED, declared=NOW - 91 * day, resolved=NOW - 91 * day),
        record(
            "ended-inside", phase=Phase.RESOLVED, declared=NOW - 100 * day, resolved=NOW - 80 * day
        ),
        record("still-open", phase=Phase.INVESTIGATING, declared=NOW - 200 * day),
    ]
    page = build_page(records, NOW)
    names = [i.id for i in page.recent_incidents]
    assert names == ["inside", "edge", "ended-inside", "still-open"]
    assert [i.id for i in page.open_incidents] == ["still-open"]
    assert len(incidents_json(page, SITE)["incidents"]) == 4


def test_history_is_grouped_by_declaration_day_newest_first() -> None:
    records = [
        record("a", phase=Phase.RESOLVED, declared=datetime(2026, 11, 20, 9, tzinfo=UTC)),
        record("b", phase=Phase.RESOLVED, declared=datetime(2026, 11, 25, 23, tzinfo=UTC)),
        record("c", phase=Phase.RESOLVED, declared=datetime(2026, 11, 25, 1, tzinfo=UTC)),
    ]
    days = build_page(records, NOW).days()
    assert [(d, [i.id for i in items]) for d, items in days] == [
        (date(2026, 11, 25), ["b", "c"]),
        (date(2026, 11, 20), ["a"]),
    ]


@pytest.mark.parametrize(
    ("phase", "status"),
    [
        (Phase.TRIAGE, IncidentStatus.INVESTIGATING),
        (Phase.INVESTIGATING, IncidentStatus.INVESTIGATING),
        (Phase.MITIGATED, IncidentStatus.MONITORING),
        (Phase.RESOLVED, IncidentStatus.RESOLVED),
        (Phase.CLOSED, IncidentStatus.RESOLVED),
    ],
)
def test_phase_maps_to_statuspage_status(phase: Phase, status: IncidentStatus) -> None:
    (incident,) = build_page([record(phase=phase, resolved=NOW)], NOW).recent_incidents
    assert incident.status is status
    assert incident.latest.status is status, "the latest update states where it stands"
    assert (incident.resolved is not None) == (status is IncidentStatus.RESOLVED)


def test_updates_come_from_state_changes_newest_first_worded_by_the_page() -> None:
    declared = NOW - timedelta(hours=3)
    at = [declared + timedelta(minutes=m) for m in (10, 50, 90, 95)]
    incident = record(
        phase=Phase.CLOSED,
        declared=declared,
        resolved=at[2],
        closed=at[3],
        updates=(
            Update(at[3], Phase.CLOSED),
            Update(at[0], Phase.INVESTIGATING),
            Update(at[2], Phase.RESOLVED),
            Update(at[1], Phase.MITIGATED),
        ),
    )
    (shown,) = build_page([incident], NOW).recent_incidents
    assert [(u.at, u.status) for u in shown.updates] == [
        (at[2], IncidentStatus.RESOLVED),  # closing after resolving tells customers nothing new
        (at[1], IncidentStatus.MONITORING),
        (at[0], IncidentStatus.INVESTIGATING),
        (declared, IncidentStatus.INVESTIGATING),
    ]
    assert shown.updates[-1].body == (
        "We are aware of a problem affecting checkout and are looking into it."
    )
    assert shown.updates[0].body == "This incident has been resolved."
    assert (shown.created, shown.updated, shown.resolved) == (declared, at[2], at[2])


def test_a_phase_the_timeline_lost_is_still_stated() -> None:
    resolved_at = NOW - timedelta(minutes=5)
    (shown,) = build_page(
        [record(phase=Phase.RESOLVED, resolved=resolved_at)], NOW
    ).recent_incidents
    assert (shown.latest.at, shown.latest.status) == (resolved_at, IncidentStatus.RESOLVED)


def test_an_undeclared_incident_counts_as_declared_now() -> None:
    (shown,) = build_page([record(declared=None)], NOW).recent_incidents
    assert shown.created == NOW


def test_summary_json_has_statuspage_shape() -> None:
    declared = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    mitigated = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
    page = build_page(
        [
            record(
                phase=Phase.MITIGATED,
                declared=declared,
                updates=(Update(mitigated, Phase.MITIGATED),),
            ),
            record(
                "old",
                service="search",
                phase=Phase.RESOLVED,
                declared=declared - timedelta(hours=2),
                resolved=declared,
            ),
        ],
        NOW,
    )
    summary = summary_json(page, SITE)
    assert set(summary) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert summary["page"] == {
        "id": "acme",
        "name": "Acme Status",
        "url": "https://status.example.com/status",
        "time_zone": "Etc/UTC",
        "updated_at": "2026-11-27T13:30:00Z",
    }
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert [(c["id"], c["name"], c["status"], c["position"]) for c in summary["components"]] == [
        ("checkout", "checkout", "partial_outage", 1),
        ("search", "search", "operational", 2),
    ]
    (incident,) = summary["incidents"]
    assert {k: incident[k] for k in ("id", "name", "status", "impact")} == {
        "id": "checkout-errors",
        "name": "checkout-errors title",
        "status": "monitoring",
        "impact": "major",
    }
    assert incident["created_at"] == "2026-11-27T13:00:00Z"
    assert incident["updated_at"] == incident["monitoring_at"] == "2026-11-27T13:30:00Z"
    assert incident["resolved_at"] is None
    assert incident["shortlink"] == "https://status.example.com/status#incident-checkout-errors"
    assert [u["status"] for u in incident["incident_updates"]] == ["monitoring", "investigating"]
    assert incident["incident_updates"][0]["incident_id"] == "checkout-errors"
    assert [c["status"] for c in incident["components"]] == ["partial_outage"]
    assert set(status_json(page, SITE)) == {"page", "status"}
    history = incidents_json(page, SITE)["incidents"]
    assert [(i["id"], i["status"]) for i in history] == [
        ("checkout-errors", "monitoring"),
        ("old", "resolved"),
    ]
    assert history[1]["resolved_at"] == "2026-11-27T13:00:00Z"


def test_the_impact_of_a_record_is_what_the_page_shows() -> None:
    base = record(impact=Impact.MINOR)
    assert build_page([replace(base, impact=Impact.CRITICAL)], NOW).indicator is Impact.CRITICAL
