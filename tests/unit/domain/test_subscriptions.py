"""Who gets which public update, under which key, and the subscription tokens
(domain/subscriptions.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain import subscriptions as subs
from incident_operator.domain.comms import Impact
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.status_page import IncidentRecord, IncidentStatus, PublicNote, Site

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DECLARED = NOW - timedelta(hours=1)
SITE = Site("acme", "Acme Status", "https://status.example.com/status")
KEY = b"subscription-key"
INTERNAL_TITLE = "shop/checkout-errors: pod checkout-7f9 OOMKilled in ns shop"


def note(
    minutes: int, text: str, status: IncidentStatus = IncidentStatus.INVESTIGATING
) -> PublicNote:
    return PublicNote(DECLARED + timedelta(minutes=minutes), status, text)


def record(**changes: object) -> IncidentRecord:
    base = IncidentRecord(
        id="pub123",
        title=INTERNAL_TITLE,
        service="checkout",
        severity="sev-1",
        impact=Impact.CRITICAL,
        phase=Phase.INVESTIGATING,
        private=False,
        declared=DECLARED,
        published=True,
        public_title="Card payments failing",
        public_impact="Some card payments fail.",
        public_updates=(note(5, "We are looking into failed card payments."),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def email(address: str = "ann@example.com", **changes: object) -> subs.Subscriber:
    base = subs.Subscriber(subs.Kind.EMAIL, address, since=DECLARED - timedelta(days=1))
    return replace(base, **changes)  # type: ignore[arg-type]


def hook(url: str = "https://hooks.example.com/status", **changes: object) -> subs.Subscriber:
    base = subs.Subscriber(
        subs.Kind.WEBHOOK, url, since=DECLARED - timedelta(days=1), secret="s3cret"
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_each_subscriber_gets_each_public_update_once() -> None:
    incident = record(public_updates=(note(5, "one"), note(20, "two", IncidentStatus.IDENTIFIED)))
    owed = subs.owed(incident, [email(), hook()], [], NOW)
    assert len(owed) == 4
    assert len({n.key for n in owed}) == 4
    assert [n.update.body for n in owed] == ["one", "one", "two", "two"]
    delivered = [owed[0].key, owed[1].key]
    again = subs.owed(incident, [email(), hook()], delivered, NOW)
    assert [n.update.body for n in again] == ["two", "two"]


def test_keys_are_deterministic_and_independent_of_order_and_text_edits() -> None:
    first = subs.owed(record(), [email(), hook()], [], NOW)
    second = subs.owed(record(), [hook(), email()], [], NOW + timedelta(minutes=3))
    assert [n.key for n in first] == [n.key for n in second]
    edited = record(public_updates=(note(5, "We are looking into it (typo fixed)."),))
    assert {n.key for n in subs.owed(edited, [email(), hook()], [], NOW)} == {n.key for n in first}


def test_the_key_differs_per_subscriber_incident_and_update() -> None:
    [a] = subs.owed(record(), [email("a@example.com")], [], NOW)
    [b] = subs.owed(record(), [email("b@example.com")], [], NOW)
    [c] = subs.owed(record(id="other"), [email("a@example.com")], [], NOW)
    [d] = subs.owed(record(public_updates=(note(6, "x"),)), [email("a@example.com")], [], NOW)
    assert len({a.key, b.key, c.key, d.key}) == 4


@pytest.mark.parametrize(
    "changes",
    [
        {"private": True},
        {"published": False},
        {"phase": Phase.DECLINED},
        {"phase": Phase.MERGED},
        {"public_updates": ()},
    ],
    ids=["private", "unpublished", "declined", "merged", "no-public-update"],
)
def test_nothing_for_incidents_the_page_does_not_show(changes: dict[str, object]) -> None:
    assert subs.owed(record(**changes), [email(), hook()], [], NOW) == ()


def test_resolved_incidents_still_send_their_final_update() -> None:
    incident = record(
        phase=Phase.RESOLVED,
        public_updates=(note(50, "Card payments work again.", IncidentStatus.RESOLVED),),
    )
    [n] = subs.owed(incident, [email()], [], NOW)
    assert n.update.status is IncidentStatus.RESOLVED


def test_component_subscribers_get_only_their_components() -> None:
    search = email("s@example.com", components=frozenset({"search"}))
    checkout = email("c@example.com", components=frozenset({"checkout", "search"}))
    owed = subs.owed(record(), [search, checkout, email()], [], NOW)
    assert {n.subscriber.address for n in owed} == {"c@example.com", "ann@example.com"}


def test_nothing_published_before_the_subscription_or_outside_the_window() -> None:
    late = email(since=DECLARED + timedelta(minutes=10))
    assert subs.owed(record(), [late], [], NOW) == ()
    old = record(public_updates=(note(5, "x"),))
    assert subs.owed(old, [email()], [], DECLARED + subs.MAX_AGE + timedelta(minutes=6)) == ()


def test_delivered_keys_are_forgotten_once_they_can_never_be_owed_again() -> None:
    owed = subs.owed(record(), [email(), hook()], [], NOW)
    delivered = [n.key for n in owed] + ["gone-subscriber-or-old-update"]
    now = subs.candidates(record(), [email()], NOW)
    assert subs.still_relevant(delivered, now) == tuple(sorted(n.key for n in now))
    later = subs.candidates(record(), [email()], NOW + subs.MAX_AGE)
    assert subs.still_relevant(delivered, later) == ()


def test_only_public_words_leave() -> None:
    """Neither the internal title nor anything else not meant for customers is in a payload
    or an e-mail, even when no public title was written."""
    untitled = record(public_title="", drafted_title="")
    for incident in (record(), untitled, record(public_title="", drafted_title="Checkout")):
        for n in subs.owed(incident, [email(), hook()], [], NOW):
            payload = subs.webhook_payload(n, SITE, unsubscribe_url="https://u", now=NOW)
            mail = subs.update_email(n, SITE, unsubscribe_url="https://u")
            for text in (json.dumps(payload), mail.subject, mail.text):
                assert INTERNAL_TITLE not in text
                assert "shop/" not in text
                assert "sev-1" not in text
                assert "s3cret" not in text
    [n] = subs.owed(untitled, [email()], [], NOW)
    assert n.incident.title == "Incident affecting checkout"


def test_the_webhook_payload_shape() -> None:
    [n] = subs.owed(record(), [hook()], [], NOW)
    payload = subs.webhook_payload(n, SITE, unsubscribe_url="https://u/x", now=NOW)
    assert payload == {
        "version": 1,
        "event": "incident-update",
        "sentAt": "2026-12-07T12:00:00Z",
        "page": {"id": "acme", "name": "Acme Status", "url": SITE.url},
        "incident": {
            "id": "pub123",
            "name": "Card payments failing",
            "impact": "critical",
            "impactText": "Some card payments fail.",
            "component": "checkout",
            "createdAt": "2026-12-07T11:00:00Z",
            "shortlink": f"{SITE.url}#incident-pub123",
        },
        "update": {
            "id": n.update.id,
            "status": "investigating",
            "body": "We are looking into failed card payments.",
            "createdAt": "2026-12-07T11:05:00Z",
        },
        "unsubscribeUrl": "https://u/x",
    }


def test_the_email_names_the_update_and_how_to_leave() -> None:
    [n] = subs.owed(record(), [email()], [], NOW)
    mail = subs.update_email(n, SITE, unsubscribe_url="https://u/x")
    assert mail.to == "ann@example.com"
    assert mail.subject == "[Acme Status] Card payments failing: Investigating"
    assert "Investigating: We are looking into failed card payments." in mail.text
    assert "Unsubscribe: https://u/x" in mail.text
    assert mail.key == n.key


def test_a_subscriber_never_shows_its_address_or_secret_in_repr() -> None:
    assert "example.com" not in repr(email())
    assert "s3cret" not in repr(hook())
    assert "hooks.example" not in repr(hook())


def test_unsubscribe_tokens_validate_only_for_their_subscriber_and_key() -> None:
    sid = email().id
    token = subs.unsubscribe_token(KEY, sid)
    assert subs.valid_unsubscribe(KEY, sid, token)
    assert not subs.valid_unsubscribe(KEY, email("b@example.com").id, token)
    assert not subs.valid_unsubscribe(b"other-key", sid, token)
    assert not subs.valid_unsubscribe(KEY, sid, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not subs.valid_unsubscribe(KEY, sid, "")
    assert not subs.valid_unsubscribe(b"", sid, subs.unsubscribe_token(b"", sid))


def test_subscriber_ids_ignore_e_mail_case() -> None:
    assert email("Ann@Example.com").id == email("ann@example.com").id
    assert email().id != hook().id


def test_confirm_tokens_round_trip_and_refuse_forgery_and_expiry() -> None:
    request = subs.ConfirmRequest("ann@example.com", ("checkout",), NOW + subs.CONFIRM_VALIDITY)
    token = subs.confirm_token(KEY, request)
    assert subs.read_confirm_token(KEY, token, NOW) == request
    with pytest.raises(subs.TokenInvalid, match="forged"):
        subs.read_confirm_token(b"other", token, NOW)
    widened = subs.confirm_token(b"attacker", replace(request, address="eve@example.com"))
    forged = widened.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(subs.TokenInvalid, match="forged"):
        subs.read_confirm_token(KEY, forged, NOW)
    with pytest.raises(subs.TokenInvalid, match="expired"):
        subs.read_confirm_token(KEY, token, NOW + subs.CONFIRM_VALIDITY + timedelta(seconds=1))
    with pytest.raises(subs.TokenInvalid, match="malformed"):
        subs.read_confirm_token(KEY, "nodot", NOW)
    with pytest.raises(subs.TokenInvalid):
        subs.read_confirm_token(b"", token, NOW)


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("ann@example.com", True),
        ("a.b+tag@sub.example.org", True),
        ("Ann <ann@example.com>", False),
        ("ann@example.com\r\nBcc: x@example.com", False),
        ("no-at-sign", False),
        ("ann@example.com\n", False),
        ("a@" + "b" * 260, False),
    ],
)
def test_e_mail_addresses_are_single_plain_addresses(address: str, valid: bool) -> None:
    assert subs.valid_email(address) is valid
