"""Golden tests of what responders read in Slack, and Slack's naming and length limits."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain import chat_render as render
from incident_operator.domain.comms import IncidentSummary

DECLARED = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
SUMMARY = IncidentSummary(
    namespace="shop",
    name="checkout-errors",
    title="Checkout returns 5xx <for EU>",
    service="checkout",
    severity="sev-2",
    severity_display="SEV-2 (Major)",
    severity_level=2,
    phase="investigating",
    declared=DECLARED,
    updated=datetime(2026, 11, 27, 14, 20, tzinfo=UTC),
    roles={"commander": "alice", "communications": "bob", "scribe": None},
    summary="Card payments fail & retry",
    slo="checkout-availability: 1h burn 16.2x",
    bridge_url="https://meet.example.com/inc-1",
    links={"Dashboard": "https://grafana.example.com/d/checkout"},
)
SLACK_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")


def test_channel_name_default_template() -> None:
    name = render.channel_name(render.DEFAULT_CHANNEL_TEMPLATE, SUMMARY, DECLARED)
    assert name == "inc-20261127-checkout-returns-5xx-for-eu"


def test_channel_name_other_placeholders_and_unknown_ones() -> None:
    name = render.channel_name("{severity}_{namespace}-{name}-{oops}", SUMMARY, DECLARED)
    assert name == "sev-2_shop-checkout-errors-oops"


def test_channel_name_date_is_utc() -> None:
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC).astimezone()
    assert render.channel_name("inc-{date}", SUMMARY, late) == "inc-20261127"


@pytest.mark.parametrize(
    "title",
    [
        "x" * 200,
        "Ünïcödé 🔥 outage in ZÜRICH!!!",
        "a" * 74 + " " + "b" * 20,
        "---",
        "",
        "end-with-dash-" + "-" * 100,
    ],
)
def test_channel_name_obeys_slack_rules(title: str) -> None:
    name = render.channel_name(
        render.DEFAULT_CHANNEL_TEMPLATE, replace(SUMMARY, title=title), DECLARED
    )
    assert SLACK_NAME.match(name), name
    assert not name.endswith("-")
    for n in (2, 10, 999):
        again = render.suffixed(name, n)
        assert SLACK_NAME.match(again), again
        assert again.endswith(f"-{n}")


def test_channel_name_is_cut_at_80_without_a_trailing_dash() -> None:
    title = "a" * 66 + " b"  # "inc-20261127-" is 13: the cut falls right after the space
    name = render.channel_name(
        render.DEFAULT_CHANNEL_TEMPLATE, replace(SUMMARY, title=title), DECLARED
    )
    assert name == "inc-20261127-" + "a" * 66
    assert render.suffixed("a" * 80, 3) == "a" * 78 + "-3"
    assert render.suffixed("a" * 77 + "-bb", 12) == "a" * 77 + "-12"


def test_status_blocks_golden() -> None:
    assert render.status_blocks(SUMMARY) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Checkout returns 5xx <for EU>"},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Severity*\nSEV-2 (Major)"},
                {"type": "mrkdwn", "text": "*State*\ninvestigating"},
                {"type": "mrkdwn", "text": "*Commander*\nalice"},
                {"type": "mrkdwn", "text": "*Other roles*\ncommunications: bob"},
                {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                {"type": "mrkdwn", "text": "*SLO*\ncheckout-availability: 1h burn 16.2x"},
                {
                    "type": "mrkdwn",
                    "text": "*Last update*\n"
                    "<!date^1795789200^{date_short_pretty} {time}|2026-11-27 14:20 UTC>",
                },
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "Card payments fail &amp; retry"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Join the bridge"},
                    "url": "https://meet.example.com/inc-1",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Dashboard"},
                    "url": "https://grafana.example.com/d/checkout",
                },
            ],
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Incident shop/checkout-errors"}],
        },
    ]


def test_status_blocks_minimal_incident() -> None:
    bare = replace(SUMMARY, roles={}, summary="", slo="", bridge_url="", links={}, title="t" * 300)
    blocks = render.status_blocks(bare)
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert len(blocks[0]["text"]["text"]) == render.MAX_HEADER
    texts = [f["text"] for f in blocks[1]["fields"]]
    assert "*Commander*\nunassigned" in texts
    assert "*Other roles*\nnone" in texts
    assert len(texts) <= 10


def test_status_text_golden() -> None:
    assert render.status_text(SUMMARY) == (
        "SEV-2 (Major) Checkout returns 5xx &lt;for EU&gt; [investigating]\n"
        "Commander: alice; other roles: communications: bob; service: checkout\n"
        "SLO: checkout-availability: 1h burn 16.2x\n"
        "Bridge: https://meet.example.com/inc-1\n"
        "Dashboard: https://grafana.example.com/d/checkout\n"
        "Last update: 2026-11-27 14:20 UTC"
    )


def test_mrkdwn_cannot_ping_or_forge_links() -> None:
    nasty = replace(SUMMARY, title="<!channel> <https://evil|click>", summary="<@U123>")
    text = render.status_text(nasty) + str(render.status_blocks(nasty)[1:])
    assert "<!channel>" not in text
    assert "<https://evil" not in text
    assert "<@U123>" not in text


def test_topic_golden_and_bounded_keeping_the_bridge() -> None:
    assert render.topic(SUMMARY) == (
        "SEV-2 (Major) | investigating | IC: alice | Checkout returns 5xx <for EU> | "
        "Bridge: https://meet.example.com/inc-1"
    )
    long = replace(SUMMARY, title="x" * 400)
    topic = render.topic(long)
    assert len(topic) == render.MAX_TOPIC
    assert topic.endswith("| Bridge: https://meet.example.com/inc-1")
    assert "…" in topic
    assert render.topic(replace(SUMMARY, bridge_url="", roles={})) == (
        "SEV-2 (Major) | investigating | IC: unassigned | Checkout returns 5xx <for EU>"
    )
    huge_bridge = replace(SUMMARY, bridge_url="https://x/" + "y" * 300)
    assert len(render.topic(huge_bridge)) <= render.MAX_TOPIC


def test_timeline_text() -> None:
    assert render.timeline_text("note", "rolled <back> v42 & v41", "alice") == (
        "*note* rolled &lt;back&gt; v42 &amp; v41 — alice"
    )
    assert render.timeline_text("state-changed", "State triage -> investigating") == (
        "*state-changed* State triage -&gt; investigating"
    )


@pytest.mark.parametrize(
    ("overdue", "shown"),
    [
        (timedelta(minutes=35), "35m"),
        (timedelta(hours=1, minutes=5), "1h05m"),
        (timedelta(days=2, hours=3), "2d03h"),
        (timedelta(seconds=-5), "0m"),
    ],
)
def test_reminder_text(overdue: timedelta, shown: str) -> None:
    assert render.reminder_text(SUMMARY, overdue) == (
        f"Update overdue by {shown} for Checkout returns 5xx &lt;for EU&gt; "
        "(SEV-2 (Major), investigating). alice, please post a status update "
        "(`/incident note ...`)."
    )


def test_reminder_without_commander() -> None:
    text = render.reminder_text(replace(SUMMARY, roles={}), timedelta(minutes=1))
    assert "Commander unassigned: someone please post" in text
