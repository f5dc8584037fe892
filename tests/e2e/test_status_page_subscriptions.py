"""Status page subscribers on the real control plane: a sev-1 public update written from the
Slack fake appears on the page and in the feeds, and reaches a webhook subscriber and an SMTP
mailbox, exactly once each; a private incident's reaches none of them.

The running operator reads its subscriber list from a Secret, delivers the webhook to the
local signature-verifying receiver (whose first answer is a 503: the retry must not make a
second delivery) and the e-mail to aiosmtpd, a real SMTP server. Several more delivery
ticks pass before the counts are checked again, and the unsubscribe link in the e-mail
removes the address from the Secret.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from kubernetes import client

from incident_operator.domain.cards import verify
from tests.cluster.controlplane import free_port
from tests.e2e.test_comms import SIGNING_SECRET, slash
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.fakes.webhooks import FakeWebhookReceiver
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import running_operator
from tests.smtp_mailbox import Mailbox, smtp_server

EXTERNAL = "https://status.example.com/status"
HOOK_SECRET = b"per-subscriber-hook-secret"
SECRET_NAME = "status-subscribers"
PUBLIC_TITLE = "Card payments failing"
INTERNAL_TITLE = "payments-db primary OOMKilled"
PRIVATE_TITLE = "Card data exposure under embargo"
PRIVATE_PUBLIC_TITLE = "Embargoed problem"
UPDATE = "Some card payments fail; we are on it."
TOKEN = "xoxb-subs-" + uuid.uuid4().hex


def fetch(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return str(response.read().decode())


class World:
    def __init__(self, port: int, box: Mailbox, receiver: FakeWebhookReceiver) -> None:
        self.port, self.box, self.receiver = port, box, receiver


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-subs",
        {
            "level": 1,
            "displayName": "SEV-1 (subscriptions test)",
            "chat": {"createChannel": True},
            "statusPage": {"publish": True, "impact": "critical"},
        },
    ) as name:
        yield name


@pytest.fixture
def world(crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path) -> Iterator[World]:
    receiver = FakeWebhookReceiver(secret=HOOK_SECRET)

    async def start() -> str:
        await receiver.start()
        return receiver.url

    slack = FakeSlack(TOKEN)
    with (
        smtp_server() as (box, smtp_port),
        serving(receiver, start) as (hook_url, _),
        serving(slack, slack.start) as (slack_url, _slack_t),
    ):
        since = "2026-01-01T00:00:00Z"
        subscribers = [
            {
                "kind": "webhook",
                "address": hook_url,
                "secret": HOOK_SECRET.decode(),
                "since": since,
            },
            {"kind": "email", "address": "ann@example.com", "since": since},
        ]
        data = {"subscribers.json": base64.b64encode(json.dumps(subscribers).encode()).decode()}
        client.CoreV1Api(api).create_namespaced_secret(
            namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET_NAME), data=data)
        )
        key = tmp_path / "subscriptions-key"
        key.write_text(uuid.uuid4().hex + "\n")
        (tmp_path / "slack-token").write_text(TOKEN + "\n")
        (tmp_path / "slack-signing-secret").write_text(SIGNING_SECRET + "\n")
        port = free_port()
        with running_operator(
            crds,
            tmp_path / "operator.log",
            f"--http-listen=127.0.0.1:{port}",
            f"--status-page-url={EXTERNAL}",
            "--status-page-title=Acme Status",
            f"--subscribers-secret={namespace}/{SECRET_NAME}",
            f"--subscriptions-key-file={key}",
            "--smtp-host=127.0.0.1",
            f"--smtp-port={smtp_port}",
            "--smtp-security=none",
            "--smtp-from=status@example.com",
            f"--slack-token-file={tmp_path / 'slack-token'}",
            f"--slack-signing-secret-file={tmp_path / 'slack-signing-secret'}",
            f"--slack-api-url={slack_url}",
        ):
            yield World(port, box, receiver)


def incident(
    name: str, title: str, public_title: str, severity: str, private: bool, *, written: bool
) -> Any:
    """``written``: the public update is in the manifest (else a person writes it later)."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    updates = [{"at": now, "status": "investigating", "text": f"{public_title}: on it."}]
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": name},
        "spec": {
            "title": title,
            "service": "payments",
            "severityRef": severity,
            "private": private,
            "public": {
                "title": public_title,
                "impact": "Some card payments fail.",
                "updates": updates if written else [],
            },
        },
    }


def test_a_public_update_reaches_each_subscriber_exactly_once(
    world: World, api: client.ApiClient, namespace: str, severity: str
) -> None:
    world.receiver.fail_next(1, status=503)
    # The private one first: by the time the public one is delivered, the operator has seen
    # the private one for several ticks.
    create_custom(
        api,
        incident("embargo", PRIVATE_TITLE, PRIVATE_PUBLIC_TITLE, severity, True, written=True),
        namespace,
    )
    create_custom(
        api,
        incident("payments", INTERNAL_TITLE, PUBLIC_TITLE, severity, False, written=False),
        namespace,
    )

    def channel() -> str | None:
        chat = (get_custom(api, "Incident", "payments", namespace).get("status") or {}).get("chat")
        return str(chat["channelId"]) if chat and chat.get("channelId") else None

    channel_id = wait_for("the incident's channel", channel, timeout=90)
    # The communications lead writes the update in the incident's Slack channel.
    status, reply = slash(world.port, f'update --public "{UPDATE}"', channel_id)
    assert (status, "public update published (investigating)" in reply) == (200, True), reply
    wait_for("the e-mail", lambda: world.box.messages, timeout=90)
    wait_for("the webhook", lambda: world.receiver.deliveries, timeout=90)
    time.sleep(25)  # two more delivery ticks: nothing may be sent again
    assert world.receiver.requests == 2, "one 503, then one delivery"
    assert world.receiver.duplicates == 0
    assert world.receiver.rejected == 0
    [delivery] = world.receiver.deliveries
    [message] = world.box.messages
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    assert verify(
        HOOK_SECRET,
        headers["x-incident-operator-timestamp"],
        delivery.body,
        headers["x-incident-operator-signature"],
        now=datetime.now(UTC),
        tolerance=timedelta(minutes=2),
    )
    payload = json.loads(delivery.body)
    assert payload["incident"]["name"] == PUBLIC_TITLE
    assert payload["update"]["body"] == UPDATE

    # On the page and in the feeds, once each.
    html = fetch(world.port, "/status")
    assert html.count(UPDATE) == 2, "once under open incidents, once in the day's history"
    summary = json.loads(fetch(world.port, "/api/v2/summary.json"))
    (listed,) = summary["incidents"]
    assert [u["body"] for u in listed["incident_updates"]] == [UPDATE]
    for path in ("/status/history.atom", "/status/components/payments/history.atom"):
        feed = feedparser.parse(fetch(world.port, path))
        assert [e.title for e in feed.entries] == [f"{PUBLIC_TITLE} (Investigating)"], path
        assert feed.entries[0].content[0].value.count(UPDATE) == 1, path
    for hidden in (INTERNAL_TITLE, PRIVATE_TITLE, PRIVATE_PUBLIC_TITLE):
        assert hidden not in html + json.dumps(summary)
    assert message["To"] == "ann@example.com"
    assert PUBLIC_TITLE in message["Subject"]
    text = message.get_payload(decode=True)
    assert isinstance(text, bytes)
    for sent in (delivery.body.decode(), str(message)):
        for hidden in (INTERNAL_TITLE, PRIVATE_TITLE, PRIVATE_PUBLIC_TITLE, namespace):
            assert hidden not in sent
    status = get_custom(api, "Incident", "payments", namespace)["status"]
    assert len(status["subscriptions"]["delivered"]) == 2
    assert not [k for k in status.get("outbox") or {} if k.startswith("subscriber/")]
    assert "subscriptions" not in (get_custom(api, "Incident", "embargo", namespace)["status"])

    # The e-mail's unsubscribe link works without login (RFC 8058 one-click POST).
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    assert link.path == "/status/unsubscribe"
    request = urllib.request.Request(
        f"http://127.0.0.1:{world.port}{link.path}?{link.query}",
        data=b"List-Unsubscribe=One-Click",
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    stored = client.CoreV1Api(api).read_namespaced_secret(SECRET_NAME, namespace)
    entries = json.loads(base64.b64decode((stored.data or {})["subscribers.json"]))
    assert [e["kind"] for e in entries] == ["webhook"]
