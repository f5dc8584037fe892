"""Slack request signatures, the /incident grammar and Events API payloads (pure)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain.slack_requests import (
    USAGE,
    Command,
    CommandError,
    Ignored,
    Person,
    ReactionAdded,
    Rejection,
    RequestRejected,
    UrlVerification,
    Verb,
    parse_command,
    parse_event,
    sign,
    verify_signature,
)

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b"token=xyz&team_id=T1&command=%2Fincident&text=status"


def test_sign_matches_slacks_documented_example() -> None:
    """The worked example from api.slack.com/authentication/verifying-requests-from-slack."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert sign(SECRET, "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_valid_signature_passes() -> None:
    verify_signature(SECRET, TS, BODY, sign(SECRET, TS, BODY), NOW)
    manual = "v0=" + hmac.new(SECRET, f"v0:{TS}:".encode() + BODY, hashlib.sha256).hexdigest()
    verify_signature(SECRET, TS, BODY, manual, NOW + timedelta(minutes=4))


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "now", "reason"),
    [
        (TS, BODY + b"&x=1", sign(SECRET, TS, BODY), NOW, Rejection.FORGED),
        (TS, BODY, sign(b"another-secret", TS, BODY), NOW, Rejection.FORGED),
        (TS, BODY, "v1=" + sign(SECRET, TS, BODY)[3:], NOW, Rejection.FORGED),
        (TS, BODY, sign(SECRET, TS, BODY), NOW + timedelta(minutes=5, seconds=1), Rejection.STALE),
        (TS, BODY, sign(SECRET, TS, BODY), NOW - timedelta(minutes=6), Rejection.FUTURE),
        ("", BODY, sign(SECRET, TS, BODY), NOW, Rejection.MISSING),
        (TS, BODY, "", NOW, Rejection.MISSING),
        ("soon", BODY, sign(SECRET, "soon", BODY), NOW, Rejection.MALFORMED),
        ("9" * 30, BODY, sign(SECRET, "9" * 30, BODY), NOW, Rejection.MALFORMED),
    ],
    ids=[
        "body-changed",
        "other-secret",
        "other-version",
        "stale",
        "future",
        "no-timestamp",
        "no-signature",
        "bad-timestamp",
        "huge-timestamp",
    ],
)
def test_rejected(
    timestamp: str, body: bytes, signature: str, now: datetime, reason: Rejection
) -> None:
    with pytest.raises(RequestRejected) as rejected:
        verify_signature(SECRET, timestamp, body, signature, now)
    assert rejected.value.reason is reason
    assert SECRET.decode() not in str(rejected.value)
    assert sign(SECRET, timestamp, body)[3:] not in str(rejected.value)


def test_replayed_old_request_is_refused_even_with_genuine_signature() -> None:
    old = str(int((NOW - timedelta(hours=1)).timestamp()))
    with pytest.raises(RequestRejected) as rejected:
        verify_signature(SECRET, old, BODY, sign(SECRET, old, BODY), NOW)
    assert rejected.value.reason is Rejection.STALE


def test_custom_window() -> None:
    later = NOW + timedelta(minutes=2)
    verify_signature(SECRET, TS, BODY, sign(SECRET, TS, BODY), later)
    with pytest.raises(RequestRejected):
        verify_signature(
            SECRET, TS, BODY, sign(SECRET, TS, BODY), later, window=timedelta(minutes=1)
        )


def test_empty_secret_never_verifies() -> None:
    with pytest.raises(RequestRejected):
        verify_signature(b"", TS, BODY, sign(b"", TS, BODY), NOW)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Command(Verb.HELP)),
        ("help", Command(Verb.HELP)),
        ("status", Command(Verb.STATUS)),
        ("  ACK ", Command(Verb.ACK)),
        ("resolve", Command(Verb.RESOLVE)),
        ("declare Checkout is down", Command(Verb.DECLARE, title="Checkout is down")),
        (
            "declare sev-1 Checkout  is down",
            Command(Verb.DECLARE, title="Checkout  is down", severity="sev-1"),
        ),
        ("declare 2 Payments slow", Command(Verb.DECLARE, title="Payments slow", severity="sev-2")),
        ("declare SEV2 x", Command(Verb.DECLARE, title="x", severity="sev-2")),
        ("declare 500 errors", Command(Verb.DECLARE, title="500 errors")),
        ("declare", Command(Verb.DECLARE)),
        (
            "declare sev-1 --service checkout --private Checkout is down",
            Command(
                Verb.DECLARE,
                title="Checkout is down",
                severity="sev-1",
                service="checkout",
                private=True,
            ),
        ),
        (
            "declare --service shop/Checkout Slow",
            Command(Verb.DECLARE, title="Slow", service="shop/checkout"),
        ),
        ("sev 1", Command(Verb.SEV, severity="sev-1")),
        ("sev sev-3", Command(Verb.SEV, severity="sev-3")),
        ("sev critical", Command(Verb.SEV, severity="critical")),
        (
            "role commander <@U0AAAAAAA|alice>",
            Command(Verb.ROLE, role="commander", person=Person("U0AAAAAAA", "alice")),
        ),
        (
            "role scribe <@U0BBBBBBB>",
            Command(Verb.ROLE, role="scribe", person=Person("U0BBBBBBB", "")),
        ),
        ("role ic carol", Command(Verb.ROLE, role="commander", person=Person(None, "carol"))),
        ("role ops @Bob", Command(Verb.ROLE, role="operations", person=Person(None, "bob"))),
        (
            "note rolled back to v41 <https://x|link>",
            Command(Verb.NOTE, text="rolled back to v41 <https://x|link>"),
        ),
        ("update --public We are on it.", Command(Verb.UPDATE, text="We are on it.")),
        ('update --PUBLIC "We are on it."', Command(Verb.UPDATE, text="We are on it.")),
        ("update --public \u201cCurly quotes\u201d", Command(Verb.UPDATE, text="Curly quotes")),
        (
            "update --public --status Identified 'A bad deploy: rolling back'",
            Command(Verb.UPDATE, text="A bad deploy: rolling back", status="identified"),
        ),
        ('update --public "quoted" then not', Command(Verb.UPDATE, text='"quoted" then not')),
        ("update --public draft", Command(Verb.UPDATE, draft="show")),
        ("update --public", Command(Verb.UPDATE, draft="modal")),
        (
            "update --public --status identified Accept",
            Command(Verb.UPDATE, status="identified", draft="accept"),
        ),
        ('update --public "accept"', Command(Verb.UPDATE, draft="accept")),
        ("mitigate", Command(Verb.MITIGATE)),
        ("mitigate list", Command(Verb.MITIGATE)),
        ("mitigate approve", Command(Verb.MITIGATE, approve=True)),
        (
            "mitigate Approve rollback-checkout",
            Command(Verb.MITIGATE, approve=True, mitigation="rollback-checkout"),
        ),
    ],
)
def test_parse_command(text: str, command: Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("frobnicate", "Unknown subcommand 'frobnicate'"),
        ("declare --service", "Usage: /incident declare [sev-N] TITLE"),
        ("declare --service Bad_Name! x", "Usage: /incident declare [sev-N] TITLE"),
        ("declare --private", "Usage: /incident declare [sev-N] TITLE"),
        ("declare sev-2", "Usage: /incident declare [sev-N] TITLE"),
        ("sev", "Usage: /incident sev LEVEL"),
        ("sev 1 2", "Usage: /incident sev LEVEL"),
        ("sev Bad_Name!", "Usage: /incident sev LEVEL"),
        ("role commander", "Usage: /incident role ROLE @person"),
        ("role boss alice", "Usage: /incident role ROLE @person"),
        ("role commander <#C123|chan>", "Usage: /incident role ROLE @person"),
        ("note", "Usage: /incident note TEXT"),
        ("ack now", "Usage: /incident ack (takes no arguments)"),
        ("mitigate now", "Usage: /incident mitigate [approve [NAME]]"),
        ("mitigate approve a b", "Usage: /incident mitigate [approve [NAME]]"),
        ("mitigate list all", "Usage: /incident mitigate [approve [NAME]]"),
        ("update We are on it.", "Usage: /incident update --public [--status STATUS] TEXT"),
        ('update --public ""', "Usage: /incident update --public [--status STATUS] TEXT"),
        ("update --public --status fixed x", "Usage: /incident update --public"),
        ("update --public --status resolved", "Usage: /incident update --public"),
    ],
)
def test_bad_commands_give_one_line_usage(text: str, usage: str) -> None:
    with pytest.raises(CommandError) as bad:
        parse_command(text)
    assert str(bad.value).startswith(usage)
    assert "\n" not in str(bad.value)


def test_mitigate_approve_refuses_what_cannot_be_a_mitigation_name() -> None:
    with pytest.raises(CommandError) as bad:
        parse_command("mitigate approve <@U0AAAAAAA>")
    assert "is not a mitigation name" in str(bad.value)
    assert "Usage: /incident mitigate [approve [NAME]]" in str(bad.value)
    assert "mitigate [approve [NAME]]" in USAGE


def reaction(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "reaction_added",
        "user": "U0AAAAAAA",
        "reaction": "pushpin",
        "item_user": "U0BBBBBBB",
        "item": {"type": "message", "channel": "C0INCIDENT", "ts": "1700000000.000200"},
        "event_ts": "1700000100.000100",
    }
    event.update(overrides)
    return {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "Ev0PV52K21",
        "event_time": 1700000100,
        "event": event,
    }


def test_parse_events() -> None:
    assert parse_event({"type": "url_verification", "challenge": "3eZbrw1a", "token": "x"}) == (
        UrlVerification("3eZbrw1a")
    )
    assert parse_event(reaction()) == ReactionAdded(
        "Ev0PV52K21", "C0INCIDENT", "1700000000.000200", "U0AAAAAAA", "pushpin"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "url_verification"},
        {"type": "app_rate_limited"},
        {"type": "event_callback"},
        reaction(type="reaction_removed"),
        reaction(item={"type": "file", "file": "F1"}),
        reaction(user=None),
        {**reaction(), "event_id": 7},
    ],
)
def test_other_events_are_ignored(payload: dict[str, Any]) -> None:
    assert isinstance(parse_event(payload), Ignored)
