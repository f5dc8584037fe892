"""PagerDuty Events v2 bodies from an IncidentSummary: keys, severities, limits, no secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.paging import (
    MAX_DEDUP_KEY,
    MAX_SUMMARY,
    EventAction,
    PdSeverity,
    dedup_key,
    event_payload,
    follow_up,
    pd_severity,
    retry_after_seconds,
)

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def summary(**changes: object) -> IncidentSummary:
    values: dict[str, object] = {
        "namespace": "shop",
        "name": "checkout-errors",
        "title": "Checkout returns 5xx",
        "service": "checkout",
        "severity": "sev-2",
        "severity_display": "SEV-2 (Major)",
        "severity_level": 2,
        "phase": "investigating",
        "declared": T0,
        "updated": T0 + timedelta(minutes=3),
        "roles": {"commander": "alice", "scribe": None},
        "slo": "checkout-availability: 1h burn 16.2x",
        "bridge_url": "https://meet.example.com/inc-1",
        "links": {"Dashboard": "https://grafana.example.com/d/1", "Runbook": ""},
    }
    values.update(changes)
    return IncidentSummary(**values)  # type: ignore[arg-type]


def test_dedup_key_is_deterministic_and_readable() -> None:
    assert dedup_key("shop", "checkout-errors") == "incident-operator/shop/checkout-errors"
    assert dedup_key("shop", "checkout-errors") == dedup_key("shop", "checkout-errors")
    assert dedup_key("shop", "a", "uid-1") == "incident-operator/shop/a/uid-1"
    assert dedup_key("shop", "a", "uid-1") != dedup_key("shop", "a", "uid-2")


def test_dedup_key_stays_within_255_and_distinguishes_long_names() -> None:
    long_a, long_b = "a" * 253, "a" * 252 + "b"
    key_a, key_b = dedup_key("x" * 63, long_a, "u" * 36), dedup_key("x" * 63, long_b, "u" * 36)
    assert len(key_a) == MAX_DEDUP_KEY
    assert len(key_b) == MAX_DEDUP_KEY
    assert key_a != key_b
    assert key_a == dedup_key("x" * 63, long_a, "u" * 36)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (1, PdSeverity.CRITICAL),
        (2, PdSeverity.ERROR),
        (3, PdSeverity.WARNING),
        (4, PdSeverity.INFO),
        (5, PdSeverity.INFO),
        (0, PdSeverity.CRITICAL),
        (9, PdSeverity.INFO),
    ],
)
def test_pd_severity(level: int, expected: PdSeverity) -> None:
    assert pd_severity(level) == expected


def test_trigger_body_follows_pd_cef() -> None:
    body = event_payload(
        summary(), dedup_key="incident-operator/shop/checkout-errors", urgency="high"
    )
    assert "routing_key" not in body
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "incident-operator/shop/checkout-errors"
    payload = body["payload"]
    assert payload["summary"] == "[SEV-2 (Major)] Checkout returns 5xx (checkout)"
    assert payload["source"] == "checkout"
    assert payload["severity"] == "error"
    assert payload["component"] == "checkout"
    assert payload["group"] == "shop"
    assert payload["class"] == "incident"
    assert payload["timestamp"] == "2026-11-27T14:03:00Z"
    details = payload["custom_details"]
    assert details["phase"] == "investigating"
    assert details["roles"] == {"commander": "alice"}
    assert details["urgency"] == "high"
    assert details["slo"] == "checkout-availability: 1h burn 16.2x"
    assert details["declared"] == "2026-11-27T14:00:00Z"
    assert body["links"] == [
        {"href": "https://meet.example.com/inc-1", "text": "Bridge"},
        {"href": "https://grafana.example.com/d/1", "text": "Dashboard"},
    ]


def test_summary_is_cut_to_1024_characters() -> None:
    body = event_payload(summary(title="x" * 5000), dedup_key="k")
    assert len(body["payload"]["summary"]) == MAX_SUMMARY
    assert body["payload"]["summary"].endswith("…")


def test_source_falls_back_to_the_incident_when_no_service() -> None:
    body = event_payload(summary(service=""), dedup_key="k")
    assert body["payload"]["source"] == "shop/checkout-errors"
    assert body["payload"]["summary"] == "[SEV-2 (Major)] Checkout returns 5xx"


@pytest.mark.parametrize("action", [EventAction.ACKNOWLEDGE, EventAction.RESOLVE])
def test_follow_ups_carry_only_action_and_key(action: EventAction) -> None:
    assert follow_up(action, "k") == {"event_action": str(action), "dedup_key": "k"}
    assert event_payload(summary(), dedup_key="k", action=action) == follow_up(action, "k")


def test_retry_after_seconds_reads_both_forms_and_defaults() -> None:
    assert retry_after_seconds("12", now=T0, default=30) == 12
    assert retry_after_seconds(None, now=T0, default=30) == 30
    assert retry_after_seconds("soon", now=T0, default=30) == 30
    assert retry_after_seconds("-5", now=T0, default=30) == 0
    http_date = "Fri, 27 Nov 2026 14:01:30 GMT"
    assert retry_after_seconds(http_date, now=T0, default=30) == 90
