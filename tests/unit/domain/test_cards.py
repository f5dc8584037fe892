"""Teams Adaptive Card, generic webhook JSON and the HMAC signature receivers verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.domain.cards import (
    ADAPTIVE_CARD,
    sign,
    teams_card,
    timestamp,
    verify,
    webhook_payload,
)
from incident_operator.domain.comms import Impact, IncidentSummary, StakeholderNote

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
SECRET = b"webhook-signing-secret"


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
        "roles": {"scribe": None, "commander": "alice"},
        "summary": "Payments time out for EU users.",
        "slo": "checkout-availability: 1h burn 16.2x",
        "impact": Impact.MAJOR,
        "bridge_url": "https://meet.example.com/inc-1",
        "links": {"Dashboard": "https://grafana.example.com/d/1"},
    }
    values.update(changes)
    return IncidentSummary(**values)  # type: ignore[arg-type]


def texts(card: dict[str, Any]) -> list[str]:
    return [b["text"] for b in card["body"] if b["type"] == "TextBlock"]


def facts(card: dict[str, Any]) -> dict[str, str]:
    (fact_set,) = [b for b in card["body"] if b["type"] == "FactSet"]
    return {f["title"]: f["value"] for f in fact_set["facts"]}


def test_teams_message_wraps_one_adaptive_card() -> None:
    message = teams_card(summary(), "declared")
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    json.dumps(message)  # serialisable as is


def test_teams_card_shows_the_facts() -> None:
    card = teams_card(summary(), "declared")["attachments"][0]["content"]
    assert texts(card)[0] == "Declared: Checkout returns 5xx"
    assert card["body"][1]["color"] == "Attention"
    assert "Payments time out for EU users." in texts(card)
    assert "SLO: checkout-availability: 1h burn 16.2x" in texts(card)
    assert "Bridge: [join](https://meet.example.com/inc-1)" in texts(card)
    shown = facts(card)
    assert shown["Severity"] == "SEV-2 (Major)"
    assert shown["State"] == "investigating"
    assert shown["Service"] == "checkout"
    assert shown["Commander"] == "alice"
    assert shown["Scribe"] == "unassigned"
    assert list(shown).index("Commander") < list(shown).index("Scribe")
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Join bridge", "url": "https://meet.example.com/inc-1"},
        {"type": "Action.OpenUrl", "title": "Dashboard", "url": "https://grafana.example.com/d/1"},
    ]


def test_teams_card_without_links_has_no_actions_or_optional_lines() -> None:
    card = teams_card(
        summary(bridge_url="", links={}, slo="", summary="", severity_level=4), "updated"
    )["attachments"][0]["content"]
    assert "actions" not in card
    assert card["body"][1]["color"] == "Default"
    assert not [t for t in texts(card) if t.startswith(("SLO:", "Bridge:"))]


def test_webhook_payload_is_the_documented_shape() -> None:
    at = T0 + timedelta(minutes=4)
    assert webhook_payload(summary(), "declared", at) == {
        "version": 1,
        "event": "declared",
        "sentAt": "2026-11-27T14:04:00Z",
        "incident": {
            "namespace": "shop",
            "name": "checkout-errors",
            "title": "Checkout returns 5xx",
            "summary": "Payments time out for EU users.",
            "service": "checkout",
            "severity": {"name": "sev-2", "display": "SEV-2 (Major)", "level": 2},
            "phase": "investigating",
            "roles": {"scribe": None, "commander": "alice"},
            "declared": "2026-11-27T14:00:00Z",
            "updated": "2026-11-27T14:03:00Z",
            "private": False,
            "links": {"Dashboard": "https://grafana.example.com/d/1"},
            "bridgeUrl": "https://meet.example.com/inc-1",
            "slo": "checkout-availability: 1h burn 16.2x",
            "impact": "major",
        },
    }


def test_webhook_payload_nulls_for_missing_optionals() -> None:
    incident = webhook_payload(summary(declared=None, bridge_url="", slo=""), "updated", T0)[
        "incident"
    ]
    assert incident["declared"] is None
    assert incident["bridgeUrl"] is None
    assert incident["slo"] is None


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Reference value computed independently:
    # printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac webhook-signing-secret
    signature = sign(SECRET, "1700000000", b'{"a":1}')
    assert signature == "sha256=e3c24b9547cd8e5915d62179ecc593e15ec8d331f2a16489a8b44b7560b589c9"
    assert signature != sign(SECRET, "1700000001", b'{"a":1}')
    assert signature != sign(b"other", "1700000000", b'{"a":1}')


def test_verify_accepts_a_fresh_signature() -> None:
    ts = timestamp(T0)
    body = b'{"event":"declared"}'
    signature = sign(SECRET, ts, body)
    assert verify(SECRET, ts, body, signature, now=T0 + timedelta(seconds=30))
    assert verify(SECRET, ts, body, signature, now=T0 - timedelta(seconds=30))


def test_verify_refuses_tampering_stale_and_garbage() -> None:
    ts = timestamp(T0)
    body = b'{"event":"declared"}'
    signature = sign(SECRET, ts, body)
    assert not verify(SECRET, ts, b'{"event":"resolved"}', signature, now=T0)
    assert not verify(b"wrong-secret", ts, body, signature, now=T0)
    assert not verify(SECRET, timestamp(T0 + timedelta(seconds=1)), body, signature, now=T0)
    assert not verify(SECRET, ts, body, signature, now=T0 + timedelta(minutes=6))
    assert not verify(SECRET, ts, body, signature, now=T0 - timedelta(minutes=6))
    assert verify(
        SECRET, ts, body, signature, now=T0 + timedelta(minutes=6), tolerance=timedelta(minutes=10)
    )
    assert not verify(SECRET, "not-a-number", body, signature, now=T0)
    assert not verify(SECRET, ts, body, "sha256=00", now=T0)
    assert not verify(SECRET, ts, body, "", now=T0)


def test_a_stakeholder_update_rides_beside_the_incident() -> None:
    note = StakeholderNote(2, "*Stakeholder update #2*", T0 + timedelta(minutes=30))
    payload = webhook_payload(summary(stakeholder=note), "stakeholder-update", T0)
    assert payload["stakeholderUpdate"] == {
        "sequence": 2,
        "text": "*Stakeholder update #2*",
        "nextUpdateAt": "2026-11-27T14:30:00Z",
        "final": False,
    }
    assert payload["incident"]["title"] == "Checkout returns 5xx"
    card = teams_card(summary(stakeholder=note), "stakeholder-update")["attachments"][0]["content"]
    assert "*Stakeholder update #2*" in texts(card)
    assert "Payments time out for EU users." not in texts(card)
    assert "stakeholderUpdate" not in webhook_payload(summary(), "declared", T0)
