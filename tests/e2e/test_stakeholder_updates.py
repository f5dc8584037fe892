"""Stakeholder updates keep their cadence across an operator restart, once each, end to end.

Real operator process and API server; the Slack Web API fake and a signed-webhook receiver
stand in for the SaaS. A Severity with a 30 s stakeholder cadence: update #1 goes out at the
declaration, the operator is stopped and started again, and update #2 goes out at the
declaration + 30 s, to the stakeholder channel and the webhook, exactly once each (the
receiver counts repeats of an Idempotency-Key, and none arrive). The communications lead is
reminded in the incident's channel before #2 is due.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.e2e.test_comms import EXAMPLE, SIGNING_SECRET, TOKEN, texts
from tests.e2e.test_incident_lifecycle import plugin
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import Threaded, serving
from tests.fakes.webhooks import FakeWebhookReceiver
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import running_operator

EVERY = timedelta(seconds=30)
LATE = timedelta(seconds=15)
"""How late an update may land: the 5 s timer, a watch event, the post (restart included)."""
WEBHOOK_SECRET = b"stakeholder-webhook-secret"


class World:
    def __init__(
        self, slack: FakeSlack, slack_t: Threaded, receiver: FakeWebhookReceiver, args: list[str]
    ) -> None:
        self.slack, self.slack_t, self.receiver, self.args = slack, slack_t, receiver, args


async def _started(receiver: FakeWebhookReceiver) -> str:
    await receiver.start()
    return receiver.url


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    slack = FakeSlack(TOKEN)
    receiver = FakeWebhookReceiver(secret=WEBHOOK_SECRET)
    with (
        serving(slack, slack.start) as (slack_url, slack_t),
        serving(receiver, lambda: _started(receiver)) as (_, _receiver_t),
    ):
        slack_t.call(slack.add_channel, "exec-updates")
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        for name, value in (
            ("slack-token", TOKEN),
            ("slack-signing-secret", SIGNING_SECRET),
            ("webhook-secret", WEBHOOK_SECRET.decode()),
        ):
            (secrets / name).write_text(value + "\n")
        args = [
            f"--http-listen=127.0.0.1:{free_port()}",
            f"--slack-token-file={secrets / 'slack-token'}",
            f"--slack-signing-secret-file={secrets / 'slack-signing-secret'}",
            f"--slack-api-url={slack_url}",
            f"--webhook-url={receiver.url}",
            f"--webhook-secret-file={secrets / 'webhook-secret'}",
        ]
        yield World(slack, slack_t, receiver, args)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient, namespace: str) -> Iterator[str]:
    rotation = yaml.safe_load(EXAMPLE.read_text())
    rotation["metadata"]["namespace"] = namespace
    create_custom(api, rotation, namespace)
    with temporary_severity(
        api,
        "sev-stakeholders",
        {
            "level": 1,
            "displayName": "SEV-1 (Critical)",
            "chat": {"createChannel": True},
            "statusPage": {"impact": "critical"},
            "rotationRef": rotation["metadata"]["name"],
            "stakeholders": {
                "updateEvery": "30s",
                "channels": ["#exec-updates"],
                "webhooks": True,
                "remindBefore": "12s",
            },
        },
    ) as name:
        yield name


def test_the_stakeholder_cadence_survives_a_restart_without_duplicates(
    world: World,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    tmp_path: Path,
) -> None:
    name = "orders-down"

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", name, namespace)

    def sent(sequence: int) -> dict[str, Any] | None:
        record = (incident().get("status") or {}).get("stakeholders") or {}
        done = record.get("sequence") == sequence and len(record.get("delivered") or []) == 2
        return record if done else None

    def updates() -> list[str]:
        (channel,) = [c for c in world.slack.channels.values() if c.name == "exec-updates"]
        return [t for t in texts(world.slack, channel.id) if "takeholder update" in t]

    def webhook_updates() -> list[dict[str, Any]]:
        return [p for p in world.receiver.payloads if p["event"] == "stakeholder-update"]

    with running_operator(crds, tmp_path / "operator.log", *world.args):
        declared = plugin(
            crds, namespace, "declare", "Orders down", "--service", "orders",
            "--severity", severity, "--name", name,
        )  # fmt: skip
        assert declared.returncode == 0, declared.stderr
        first = wait_for("stakeholder update #1 delivered", lambda: sent(1), timeout=60)
    at = datetime.fromisoformat(incident()["status"]["timestamps"]["declared"])
    assert datetime.fromisoformat(first["anchor"]) == at
    assert datetime.fromisoformat(first["nextDueAt"]) == at + EVERY

    # The restart: a new process knows nothing but the Incident's status.
    with running_operator(crds, tmp_path / "operator-2.log", *world.args) as op:
        second = wait_for("stakeholder update #2 delivered", lambda: sent(2), timeout=90)
        seen = datetime.now(at.tzinfo)
        time.sleep(7)  # more ticks: nothing more may go out
        assert op.healthz() == 200
    assert datetime.fromisoformat(second["anchor"]) == at + EVERY, "on its due time, no drift"
    sent_at = datetime.fromisoformat(second["lastSentAt"])
    assert at + EVERY <= sent_at <= at + EVERY + LATE
    assert seen <= at + EVERY + LATE + timedelta(seconds=5)

    posted = updates()
    assert len(posted) == 2, posted
    assert posted[0].startswith("*Stakeholder update #1: Orders down*")
    assert posted[1].startswith("*Stakeholder update #2: Orders down*")
    assert "Impact: critical impact on orders" in posted[1]
    assert f"Next update: by {second['nextDueAt'].replace('+00:00', 'Z')}" in posted[1]
    hooks = webhook_updates()
    assert [p["stakeholderUpdate"]["sequence"] for p in hooks] == [1, 2]
    assert hooks[1]["stakeholderUpdate"]["text"] == second["text"]
    assert world.receiver.duplicates == 0
    assert world.receiver.rejected == 0

    status = incident()["status"]
    assert not any(k.startswith("stakeholder/") for k in status.get("outbox") or {})
    reminders = [e for e in status["timeline"] if e["type"] == "stakeholder-reminder"]
    assert [e["key"] for e in reminders] == ["stakeholder-reminder/2"]
    channel = world.slack.channels[status["chat"]["channelId"]]
    assert sum("Stakeholder update #2 is due" in str(m.get("text")) for m in channel.messages) == 1
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    sent_events = [e for e in events if e.reason == "StakeholderUpdateSent"]
    assert sorted(str(e.message) for e in sent_events) == [
        "Stakeholder update #1 sent to #exec-updates, webhook/webhook",
        "Stakeholder update #2 sent to #exec-updates, webhook/webhook",
    ]
