"""The subscriber Secret's format (adapters/subscriber_secret.py): what an admin writes is
read back as written; unreadable entries are skipped, and the log names their position,
never their address or secret."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from incident_operator.adapters.subscriber_secret import dump, parse
from incident_operator.domain.subscriptions import Kind, Subscriber

SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_entries_round_trip() -> None:
    subscribers = [
        Subscriber(Kind.EMAIL, "ann@example.com", SINCE, frozenset({"checkout"})),
        Subscriber(Kind.WEBHOOK, "https://hooks.example.com/x", SINCE, secret="k"),
    ]
    assert parse(dump(subscribers)) == subscribers


def test_what_an_admin_writes_is_read() -> None:
    text = json.dumps(
        [
            {
                "kind": "webhook",
                "address": "https://hooks.example.com/status",
                "since": "2026-12-01T09:00:00Z",
                "secret": "per-subscriber-secret",
                "components": ["checkout"],
            }
        ]
    )
    [hook] = parse(text)
    assert hook.kind is Kind.WEBHOOK
    assert hook.secret == "per-subscriber-secret"
    assert hook.components == frozenset({"checkout"})


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "pigeon", "address": "x", "since": "2026-12-01T09:00:00Z"},
        {"kind": "email", "address": "leak@example.com"},
        {"kind": "webhook", "address": "https://leak.example.com", "since": "2026-12-01T09:00:00Z"},
        {
            "kind": "webhook",
            "address": "ftp://leak",
            "since": "2026-12-01T09:00:00Z",
            "secret": "s",
        },
        "leak@example.com",
        {"kind": "email", "address": "leak@example.com\nBcc: x@y", "since": "2026-12-01T09:00:00Z"},
    ],
    ids=[
        "unknown-kind",
        "no-since",
        "webhook-without-secret",
        "not-http",
        "not-an-object",
        "header-injection",
    ],
)
def test_unreadable_entries_are_skipped_without_naming_them(
    entry: object, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"kind": "email", "address": "ann@example.com", "since": "2026-12-01T09:00:00Z"}
    assert [s.address for s in parse(json.dumps([entry, good]))] == ["ann@example.com"]
    assert "entry 0" in caplog.text
    assert "leak" not in caplog.text


@pytest.mark.parametrize("text", ["", "{not json", '{"a": 1}'])
def test_a_broken_list_is_an_empty_one(text: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert parse(text) == []
