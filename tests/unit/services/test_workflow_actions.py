"""The sendWebhook, startConference and card steps: once across restarts, on whose authority."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incident_operator.adapters.comms_ports import Channel
from incident_operator.errors import DeliveryUnavailable, TemporaryError
from incident_operator.services.catalog import CatalogService
from incident_operator.services.comms import CommsService
from incident_operator.services.workflow_actions import WEBHOOK_EVENT
from incident_operator.services.workflows import WorkflowService
from tests.builders.objects import severity
from tests.fakes.ports.catalog import FakeCatalog, FakeTeamWebhooks
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.unit.services.test_workflow_service import (
    CEL,
    NS,
    DiesBeforeTheWorkflowStatus,
    Harness,
    workflow_body,
)

HOOK_URL = "https://hooks.payments.example.com/incidents"


def steps(name: str, namespace: str | None, *actions: dict[str, Any]) -> dict[str, Any]:
    body = workflow_body(name, namespace)
    body["spec"]["actions"] = list(actions)
    return body


def webhook_workflow(namespace: str | None = NS, team: str = "payments") -> dict[str, Any]:
    return steps(
        "hooker",
        namespace,
        {"type": "sendWebhook", "name": "tell-erp", "team": team, "webhook": "erp"},
    )


class Hooks:
    """Team payments (admits namespace payments) and team search (admits search), each with
    a webhook ``erp`` whose signing secret is in the catalog namespace."""

    def __init__(self, *, include_private: bool = False) -> None:
        catalog = FakeCatalog()
        for team in ("payments", "search"):
            hook = {
                "name": "erp",
                "url": f"https://hooks.{team}.example.com/incidents",
                "secretRef": {"name": f"{team}-hooks", "key": "erp"},
                "includePrivate": include_private,
            }
            catalog.add_team(team, namespaces=[team], webhooks=[hook])
        self.webhooks = FakeTeamWebhooks()
        self.payments = self.webhooks.add("payments-hooks", "erp", HOOK_URL)
        self.search = self.webhooks.add(
            "search-hooks", "erp", "https://hooks.search.example.com/incidents"
        )
        self.teams = catalog
        self.catalog = CatalogService(catalog, FakeStore(), FakeClock())


def harness(
    *workflows: dict[str, Any], hooks: Hooks, store: FakeStore | None = None, private: bool = False
) -> Harness:
    h = Harness(*workflows, catalog=hooks.catalog, store=store)
    h.service = WorkflowService(
        h.store,
        h.workflow_store,
        CEL,
        h.clock,
        h.index,
        catalog=hooks.catalog,
        webhooks=hooks.webhooks,
    )
    h.add()
    h.body()["metadata"]["uid"] = "uid-incident"
    h.body()["spec"]["private"] = private
    return h


class DiesBeforeConfirming(FakeStore):
    """Killed after the receiver took the POST, before ``delivered`` was written (once)."""

    dead = False

    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> Any:
        status = kwargs.get("status") or {}
        delivered = (status.get("workflows") or {}).get("webhooks")
        if (
            delivered
            and not self.dead
            and any(v.get("state") == "delivered" for v in delivered.values())
        ):
            self.dead = True
            raise TemporaryError("operator killed before the confirmation (test)")
        return await super().patch_incident(namespace, name, **kwargs)


async def test_a_webhook_is_owed_with_the_done_keys_and_delivered_once_across_restarts() -> None:
    hooks = Hooks()
    store = DiesBeforeTheWorkflowStatus()
    h = harness(webhook_workflow(), hooks=hooks, store=store)
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()  # killed before status.workflows: nothing owed, nothing sent
    assert hooks.payments.attempts == 0
    store.dying = False
    for _ in range(3):
        await h.tick()
    (sent,) = hooks.payments.sent
    assert sent.event == WEBHOOK_EVENT
    assert sent.idempotency_key == "uid-incident/wf/uid-hooker/once/0"
    assert sent.summary.title == "Checkout returns 5xx"
    (record,) = h.body()["status"]["workflows"]["webhooks"].values()
    assert record["state"] == "delivered"
    assert (record["team"], record["webhook"]) == ("payments", "erp")
    assert record["namespaced"] is True
    assert not h.body()["status"].get("outbox")
    assert hooks.payments.attempts == 1
    (entry,) = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-webhook"]
    assert entry["message"].startswith("Webhook erp of team payments owed")


async def test_a_webhook_posted_but_not_confirmed_is_sent_again_on_the_same_key() -> None:
    hooks = Hooks()
    store = DiesBeforeConfirming()
    h = harness(webhook_workflow(), hooks=hooks, store=store)
    await h.tick()
    h.escalate()
    with pytest.raises(TemporaryError):
        await h.tick()
    (attempt,) = h.body()["status"]["outbox"].values()
    assert attempt["kind"] == "workflow-webhook"
    for _ in range(2):
        await h.tick()
    assert hooks.payments.attempts == 2  # the same Idempotency-Key: the receiver drops one
    assert len(hooks.payments.sent) == 1
    (record,) = h.body()["status"]["workflows"]["webhooks"].values()
    assert record["state"] == "delivered"


async def test_a_failed_delivery_backs_off_through_the_outbox_then_succeeds() -> None:
    hooks = Hooks()
    hooks.payments.fail_next(DeliveryUnavailable("webhook answered HTTP 503"))
    h = harness(webhook_workflow(), hooks=hooks)
    await h.tick()
    h.escalate()
    await h.tick()
    (attempt,) = h.body()["status"]["outbox"].values()
    assert attempt["attempts"] == 1
    assert attempt["lastError"] == "webhook answered HTTP 503"
    assert attempt["nextAttemptAt"]
    await h.service.run(dict(h.body()))  # no time passed: still backing off
    assert hooks.payments.attempts == 1
    h.clock.advance(timedelta(seconds=30))
    await h.tick()
    assert len(hooks.payments.sent) == 1
    assert not h.body()["status"].get("outbox")


async def test_a_namespaced_workflow_cannot_call_a_webhook_of_a_team_that_does_not_admit_it() -> (
    None
):
    hooks = Hooks()
    h = harness(webhook_workflow(team="search"), hooks=hooks)
    await h.tick()
    h.escalate()
    for _ in range(2):
        await h.tick()
    assert hooks.search.attempts == 0
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == (
        "tell-erp: team search does not admit namespace payments (its spec.namespaces): "
        "an IncidentWorkflow may call only the webhooks of a Team that admits its namespace"
    )
    assert "webhooks" not in h.body()["status"]["workflows"]


async def test_a_cluster_workflow_may_call_any_teams_webhook() -> None:
    hooks = Hooks()
    h = harness(webhook_workflow(None, team="search"), hooks=hooks)
    await h.tick()
    h.escalate()
    await h.tick()
    assert len(hooks.search.sent) == 1
    (record,) = h.body()["status"]["workflows"]["webhooks"].values()
    assert record["namespaced"] is False


@pytest.mark.parametrize(("include_private", "sent"), [(False, 0), (True, 1)])
async def test_a_private_incident_goes_only_to_a_webhook_that_includes_private(
    include_private: bool, sent: int
) -> None:
    hooks = Hooks(include_private=include_private)
    h = harness(webhook_workflow(), hooks=hooks, private=True)
    await h.tick()
    h.escalate()
    await h.tick()
    assert len(hooks.payments.sent) == sent
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == ("succeeded" if include_private else "failed")


async def test_a_delivery_checks_the_teams_admission_again_when_it_is_sent() -> None:
    """The Team stopped admitting the namespace after the step ran: nothing is POSTed."""
    hooks = Hooks()
    hooks.payments.fail_next(DeliveryUnavailable("webhook answered HTTP 503"))
    h = harness(webhook_workflow(), hooks=hooks)
    await h.tick()
    h.escalate()
    await h.tick()
    team = hooks.teams.teams["payments"]
    team["spec"]["namespaces"] = ["elsewhere"]
    h.clock.advance(timedelta(minutes=1))
    await h.tick()
    assert hooks.payments.sent == []
    (attempt,) = h.body()["status"]["outbox"].values()
    assert "does not admit namespace payments" in attempt["lastError"]


def conference_workflow(template: str) -> dict[str, Any]:
    return steps(
        "bridge",
        NS,
        {"type": "startConference", "name": "bridge", "urlTemplate": template},
        {"type": "startConference", "name": "again", "urlTemplate": template + "-2"},
    )


async def test_a_bridge_is_started_once_recorded_and_shown_to_comms() -> None:
    store = DiesBeforeTheWorkflowStatus()
    h = Harness(
        conference_workflow("https://meet.example.com/inc-${namespace}-${name}?t=${title}"),
        store=store,
    )
    h.add()
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()
    store.dying = False
    for _ in range(2):
        await h.tick()
    url = "https://meet.example.com/inc-payments-db-down?t=Checkout%20returns%205xx"
    conference = h.body()["status"]["conference"]
    assert conference["url"] == url
    assert conference["workflow"] == "IncidentWorkflow payments/bridge bridge"
    entries = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-conference"]
    assert [e["message"] for e in entries] == [f"Conference bridge: {url}"]
    chat = FakeChat()
    with_channels(h)
    for _ in range(3):
        await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    posted = [m.text for m in chat.messages if "Conference bridge" in m.text]
    assert len(posted) == 1
    assert any(b.get("url") == url for m in chat.messages for b in _buttons(m.blocks))


def with_channels(h: Harness) -> Harness:
    """Incidents of sev-1 get a channel of their own (where comms posts the entries)."""
    h.store.severities["sev-1"] = severity("sev-1", 1, chat={"createChannel": True})
    return h


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]


async def test_a_title_cannot_move_the_bridge_to_another_host() -> None:
    h = Harness(conference_workflow("https://meet.example.com/${title}"))
    h.add()
    h.body()["spec"]["title"] = "@evil.example.com/x#"
    await h.tick()
    h.escalate()
    await h.tick()
    url = h.body()["status"]["conference"]["url"]
    assert url == "https://meet.example.com/%40evil.example.com%2Fx%23"


def card_workflow(channel: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "postMessage",
        "name": "card",
        "text": "${title} <!here>",
        "card": {
            "title": "${severity} on ${service}",
            "fields": [{"label": "Runbook <@U1>", "value": "see <https://x|here> & more"}],
            "buttons": [{"text": "Dashboard", "url": "https://grafana.example.com/d/${name}"}],
        },
    }
    if channel:
        action["channel"] = channel
    return steps("carder", NS if not channel else None, action)


async def test_a_card_is_recorded_before_its_post_and_posted_escaped_once() -> None:
    h = Harness(card_workflow())
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (card,) = h.body()["status"]["workflows"]["cards"].values()
    assert card["title"] == "sev-1 on checkout"
    chat = FakeChat()
    with_channels(h)
    for _ in range(3):
        await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    (message,) = [m for m in chat.messages if m.text.startswith("*workflow-message*")]
    assert message.text.startswith("*workflow-message* Checkout returns 5xx &lt;!here&gt;")
    header, text, fields, actions = message.blocks
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "sev-1 on checkout", "emoji": False},
    }
    assert text["text"]["text"] == message.text
    assert fields["fields"] == [
        {"type": "mrkdwn", "text": "*Runbook &lt;@U1&gt;*\nsee &lt;https://x|here&gt; &amp; more"}
    ]
    (button,) = actions["elements"]
    assert button["url"] == "https://grafana.example.com/d/db-down"


async def test_a_card_goes_with_a_post_to_a_named_channel() -> None:
    chat = FakeChat()
    chat.channels["C0EXEC"] = Channel("C0EXEC", "exec")
    h = Harness(card_workflow("#exec"))
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    (message,) = [m for m in chat.messages if m.channel == "C0EXEC"]
    assert [b["type"] for b in message.blocks] == ["header", "section", "section", "actions"]


async def test_a_webhook_step_without_team_webhooks_read_fails_and_says_why() -> None:
    hooks = Hooks()
    h = Harness(webhook_workflow(), catalog=hooks.catalog)  # no catalog Secret namespace
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["message"] == ("tell-erp: Team webhooks are not read (no catalog Secret namespace)")
    assert "webhooks" not in h.body()["status"]["workflows"]
