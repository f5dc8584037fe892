"""Cards, bridges and Team webhooks of workflows: rendered, escaped, bounded, authorised."""

from __future__ import annotations

import pytest

from incident_operator.domain.catalog import SecretRef, TeamEntry, TeamWebhook
from incident_operator.domain.workflow_actions import (
    Card,
    CardButton,
    CardField,
    card_blocks,
    card_of,
    card_record,
    conference_url,
    render_card,
    webhook_target,
)

VALUES = {"name": "db-down", "namespace": "shop", "title": "Checkout <!channel> & co"}


def test_a_card_renders_placeholders_and_escapes_every_text() -> None:
    card = Card(
        "${title}",
        (CardField("Who <@U123>", "${title}"),),
        (CardButton("Open ${name}", "https://grafana.example.com/d/${name}?t=${title}"),),
    )
    rendered = render_card(card, VALUES)
    assert isinstance(rendered, Card)
    assert rendered.buttons[0].url == (
        "https://grafana.example.com/d/db-down?t=Checkout%20%3C%21channel%3E%20%26%20co"
    )
    blocks = card_blocks(card_of(card_record(rendered)), "*workflow-message* hi")
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "Checkout <!channel> & co",  # plain_text: shown as typed, never a mention
        "emoji": False,
    }
    assert blocks[2]["fields"][0]["text"] == (
        "*Who &lt;@U123&gt;*\nCheckout &lt;!channel&gt; &amp; co"
    )
    (button,) = blocks[3]["elements"]
    assert button["text"]["text"] == "Open db-down"


def test_a_card_is_clipped_to_block_kits_limits() -> None:
    card = Card(
        "t" * 400,
        tuple(CardField(f"l{i}", "v" * 3000) for i in range(12)),
        tuple(CardButton("b" * 100, f"https://x.example.com/{i}") for i in range(7)),
    )
    rendered = render_card(card, {})
    assert isinstance(rendered, Card)
    header, fields, actions = card_blocks(rendered, "")
    assert len(header["text"]["text"]) == 150
    assert len(fields["fields"]) == 10
    assert all(len(f["text"]) <= 2000 for f in fields["fields"])
    assert len(actions["elements"]) == 5
    assert all(len(b["text"]["text"]) <= 75 for b in actions["elements"])
    ids = [b["action_id"] for b in actions["elements"]]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://grafana.example.com/", "is not an https URL"),
        ("https://x.example.com/" + "a" * 3001, "longer than 3000"),
        ("https://x.example.com/${nope}", "unknown placeholder"),
    ],
)
def test_a_card_button_must_render_to_a_short_https_url(url: str, why: str) -> None:
    problem = render_card(Card(buttons=(CardButton("x", url),)), VALUES)
    assert isinstance(problem, str)
    assert why in problem


def test_a_recorded_button_that_is_not_https_is_left_out() -> None:
    blocks = card_blocks(Card("t", (), (CardButton("x", "javascript:alert(1)"),)), "")
    assert [b["type"] for b in blocks] == ["header"]


def test_a_bridge_url_encodes_values_and_keeps_the_templates_host() -> None:
    url = conference_url("https://meet.example.com/inc-${namespace}-${name}", VALUES)
    assert url == "https://meet.example.com/inc-shop-db-down"
    hostile = {"name": "x@evil.example.com/#", "title": "a/b?c"}
    url = conference_url("https://meet.example.com/${name}?t=${title}", hostile)
    assert url == "https://meet.example.com/x%40evil.example.com%2F%23?t=a%2Fb%3Fc"


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("https://${name}.example.com/x", "host holds no placeholder"),
        ("http://meet.example.com/${name}", "https URL"),
        ("https://meet.example.com/${unknown}", "unknown placeholder"),
    ],
)
def test_a_bridge_template_that_could_leave_its_host_or_https_is_refused(
    template: str, why: str
) -> None:
    problem = conference_url(template, VALUES)
    assert isinstance(problem, tuple)
    assert why in problem[0]


HOOK = TeamWebhook("payments", "erp", "https://hooks.example.com/x", SecretRef("s", "k"))
PAYMENTS = TeamEntry("payments", frozenset({"shop"}), webhooks={"erp": HOOK})


def test_a_namespaced_workflow_uses_only_webhooks_of_a_team_admitting_its_namespace() -> None:
    assert (
        webhook_target(
            PAYMENTS, "payments", "erp", namespaced=True, namespace="shop", private=False
        )
        == HOOK
    )
    refused = webhook_target(
        PAYMENTS, "payments", "erp", namespaced=True, namespace="other", private=False
    )
    assert isinstance(refused, str)
    assert "does not admit namespace other" in refused
    assert (
        webhook_target(
            PAYMENTS, "payments", "erp", namespaced=False, namespace="other", private=False
        )
        == HOOK
    )


def test_a_webhook_must_exist_and_take_private_incidents_to_get_one() -> None:
    assert (
        webhook_target(None, "ghost", "erp", namespaced=False, namespace="shop", private=False)
        == "team ghost does not exist"
    )
    missing = webhook_target(
        PAYMENTS, "payments", "crm", namespaced=False, namespace="shop", private=False
    )
    assert missing == "team payments declares no webhook crm (its spec.webhooks)"
    private = webhook_target(
        PAYMENTS, "payments", "erp", namespaced=False, namespace="shop", private=True
    )
    assert isinstance(private, str)
    assert "includePrivate" in private
