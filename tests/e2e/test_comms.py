"""Chat and paging follow an incident, end to end: real operator, real API server, SaaS fakes.

The Slack Web API and PagerDuty Events v2 fakes (tests/fakes/) run on real ports and follow
the real contracts; the operator reaches them with its real adapters (slack_sdk, httpx),
configured from secret files exactly as a mounted Secret would provide them. The story:
declared with the plugin → channel with the commander invited, pinned live status, the
announcement in #incidents, a PagerDuty trigger → ``/incident ack`` from Slack (signed; a
forged request changes nothing) acknowledges the page → Slack throttles and the note still
arrives once → resolving updates the pinned status and resolves the page → the secrets never
appear in the operator's log.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.domain.slack_requests import sign
from tests.cluster.controlplane import free_port
from tests.e2e.test_incident_lifecycle import plugin
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import Threaded, serving
from tests.kube import (
    Cluster,
    create_custom,
    delete_namespace,
    get_custom,
    temporary_severity,
    wait_for,
)
from tests.operator_process import OperatorProcess, running_operator

TOKEN = "xoxb-e2e-" + uuid.uuid4().hex
SIGNING_SECRET = "signing-" + uuid.uuid4().hex
ROUTING_KEY = uuid.uuid4().hex  # 32 characters, like a real integration key
EXAMPLE = Path(__file__).parents[2] / "examples" / "20-oncallrotation.yaml"


class World:
    def __init__(
        self,
        slack: FakeSlack,
        threads: tuple[Threaded, Threaded],
        pd: FakePagerDuty,
        op: OperatorProcess,
        args: tuple[str, ...],
    ) -> None:
        self.slack, self.pd, self.op, self.args = slack, pd, op, args
        self.slack_t, self.pd_t = threads
        self.port = int(args[0].rsplit(":", 1)[1])


@pytest.fixture
def world(crds: Cluster, tmp_path: Path) -> Iterator[World]:
    slack = FakeSlack(TOKEN)
    pd = FakePagerDuty([ROUTING_KEY])
    with (
        serving(slack, slack.start) as (slack_url, slack_t),
        serving(pd, pd.start) as (_, pd_t),
    ):
        slack_t.call(slack.add_channel, "incidents")
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        for name, value in (
            ("slack-token", TOKEN),
            ("slack-signing-secret", SIGNING_SECRET),
            ("routing-key", ROUTING_KEY),
        ):
            (secrets / name).write_text(value + "\n")
        args = (
            f"--http-listen=127.0.0.1:{free_port()}",
            f"--slack-token-file={secrets / 'slack-token'}",
            f"--slack-signing-secret-file={secrets / 'slack-signing-secret'}",
            f"--slack-api-url={slack_url}",
            f"--pagerduty-routing-key-file={secrets / 'routing-key'}",
            f"--pagerduty-url={pd.url}",
            "--bridge-url-template=https://meet.example.com/{namespace}-{name}",
        )
        with running_operator(crds, tmp_path / "operator.log", *args) as op:
            yield World(slack, (slack_t, pd_t), pd, op, args)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient, namespace: str) -> Iterator[str]:
    rotation = yaml.safe_load(EXAMPLE.read_text())
    rotation["metadata"]["namespace"] = namespace
    create_custom(api, rotation, namespace)
    with temporary_severity(
        api,
        "sev-comms",
        {
            "level": 2,
            "displayName": "SEV-2 (Major)",
            "paging": {"page": True},
            "chat": {"createChannel": True, "announceChannels": ["#incidents"]},
            "rotationRef": rotation["metadata"]["name"],
        },
    ) as name:
        yield name


def slash(port: int, text: str, channel: str, *, secret: str = SIGNING_SECRET) -> tuple[int, str]:
    form = {
        "command": "/incident",
        "text": text,
        "channel_id": channel,
        "user_id": "U0BBBBBBB",
        "user_name": "bob",
        "trigger_id": uuid.uuid4().hex,
    }
    body = urllib.parse.urlencode(form).encode()
    ts = str(int(time.time()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/commands",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret.encode(), ts, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def reaction(port: int, channel: str, ts: str, emoji: str = "pushpin") -> int:
    """A signed Events API ``reaction_added`` on the message ``ts``, delivered as Slack does:
    an answer other than 2xx is retried (up to 3 times, with ``X-Slack-Retry-Num``) with the
    same event id. The last HTTP status."""
    payload = {
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event": {
            "type": "reaction_added",
            "user": "U0BBBBBBB",
            "reaction": emoji,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": ts,
        },
    }
    body = json.dumps(payload).encode()
    status = 0
    for retry in range(4):
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(SIGNING_SECRET.encode(), stamp, body),
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
            time.sleep(1.0)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            if exc.headers.get("X-Slack-No-Retry") == "1":
                return status
    return status


def texts(slack: FakeSlack, channel_id: str) -> list[str]:
    return [str(m.get("text", "")) for m in slack.channels[channel_id].messages]


def test_chat_and_paging_follow_the_incident(
    world: World, crds: Cluster, api: client.ApiClient, namespace: str, severity: str
) -> None:
    name = "payments-down"
    declared = plugin(
        crds, namespace, "declare", "Payments down", "--service", "payments",
        "--severity", severity, "--name", name,
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", name, namespace)

    def delivered() -> dict[str, Any] | None:
        found = incident()
        status = found.get("status") or {}
        chat, pager = status.get("chat") or {}, status.get("pager") or {}
        ok = chat.get("pinned") and pager.get("state") == "triggered" and chat.get("announced")
        return found if ok and not status.get("outbox") else None

    body = wait_for("channel, pinned status, announcement and page", delivered, timeout=90)
    chat = body["status"]["chat"]
    channel = world.slack.channels[chat["channelId"]]
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert channel.name == f"inc-{today}-payments-down"
    assert "sre.dev/chat-channel" not in (body["metadata"].get("labels") or {}), "status only"
    commander = body["status"]["roles"]["commander"]
    ids = {
        p["name"]: p["slackUserId"]
        for p in yaml.safe_load(EXAMPLE.read_text())["spec"]["participants"]
    }
    assert ids[commander] in channel.members
    assert f"https://meet.example.com/{namespace}-{name}" in channel.topic
    assert chat["statusMessageTs"] in channel.pins
    (announcement,) = texts(world.slack, next(
        c.id for c in world.slack.channels.values() if c.name == "incidents"
    ))  # fmt: skip
    assert f"<#{channel.id}>" in announcement
    assert "Payments down" in announcement
    alert = world.pd.open_alert(f"incident-operator/{namespace}/{name}")
    assert alert is not None
    assert alert.severity == "error"
    assert alert.routing_key == ROUTING_KEY

    # A forged request is refused and changes nothing; a signed /incident ack acknowledges.
    assert slash(world.port, "ack", channel.id, secret="wrong")[0] == 401
    status, reply = slash(world.port, "ack", channel.id)
    assert status == 200, reply
    wait_for(
        "page acknowledged",
        lambda: (incident()["status"].get("pager") or {}).get("state") == "acknowledged",
        timeout=60,
    )
    assert incident()["status"]["timestamps"].get("acknowledged")

    # Slack throttles the next two calls: the note still arrives, once.
    world.slack_t.call(world.slack.throttle_next, 2, 1)
    noted = plugin(crds, namespace, "note", name, "Failing over the payments database")
    assert noted.returncode == 0, noted.stderr
    wait_for(
        "the note in the channel",
        lambda: any(
            "Failing over the payments database" in t for t in texts(world.slack, channel.id)
        ),
        timeout=60,
    )
    assert sum("Failing over" in t for t in texts(world.slack, channel.id)) == 1
    assert any(c.status == 429 for c in world.slack.calls)

    resolved = plugin(crds, namespace, "resolve", name)
    assert resolved.returncode == 0, resolved.stderr
    wait_for(
        "page resolved",
        lambda: (incident()["status"].get("pager") or {}).get("state") == "resolved",
        timeout=60,
    )
    pinned = next(m for m in channel.messages if m["ts"] == chat["statusMessageTs"])
    wait_for("pinned status says resolved", lambda: "resolved" in str(pinned), timeout=60)
    assert world.pd.alerts_for(alert.dedup_key)[-1].state == "resolved"
    assert len(world.pd.alerts_for(alert.dedup_key)) == 1  # one page, whatever the retries

    log = world.op.log.read_text(errors="replace")
    for secret in (TOKEN, SIGNING_SECRET, ROUTING_KEY):
        assert secret not in log


def test_a_failure_storm_and_a_restart_lose_nothing_and_duplicate_nothing(
    world: World,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    tmp_path: Path,
) -> None:
    """Slack answers 500 and 429, PagerDuty 503, and the operator restarts in the middle."""
    name = "search-down"
    world.slack_t.call(world.slack.fail_next, 2, 500)
    world.slack_t.call(world.slack.throttle_next, 2, 1)
    world.pd_t.call(world.pd.fail_next, 2, 503)
    declared = plugin(
        crds, namespace, "declare", "Search down", "--service", "search",
        "--severity", severity, "--name", name,
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", name, namespace)

    wait_for("a failed delivery in the outbox", lambda: incident()["status"].get("outbox"), 60)
    assert world.op.stop() == 0  # a rolling restart in the middle of the storm
    with running_operator(crds, tmp_path / "operator-2.log", *world.args):

        def settled() -> dict[str, Any] | None:
            status = incident().get("status") or {}
            chat, pager = status.get("chat") or {}, status.get("pager") or {}
            done = chat.get("pinned") and chat.get("announced") and pager.get("state")
            return status if done and not status.get("outbox") else None

        # Up to five failures can land on one operation (the attempt cut by the restart, two
        # 429s, two 500s): its backoff then grows to 5 s * 2^4 plus a quarter, ~100 s.
        status = wait_for("everything delivered after the storm", settled, timeout=240)
    today = datetime.now(UTC).strftime("%Y%m%d")
    channels = [c for c in world.slack.channels.values() if "search-down" in c.name]
    assert [c.name for c in channels] == [f"inc-{today}-search-down"]
    (channel,) = channels
    assert channel.id == status["chat"]["channelId"]
    posted_status = [
        m
        for m in channel.messages
        if ((m.get("metadata") or {}).get("event_payload") or {})
        .get("key", "")
        .endswith(f"{namespace}/{name}/status")
    ]
    assert len(posted_status) == 1
    assert channel.pins == {status["chat"]["statusMessageTs"]}
    incidents_channel = next(c for c in world.slack.channels.values() if c.name == "incidents")
    assert sum("Search down" in t for t in texts(world.slack, incidents_channel.id)) == 1
    assert len(world.pd.alerts_for(f"incident-operator/{namespace}/{name}")) == 1
    assert status["pager"]["state"] == "triggered"
    errors = [c.status for c in world.slack.calls if c.status >= 429]
    assert 500 in errors
    assert 429 in errors


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    """A second tenant's namespace."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    delete_namespace(api, name)


def test_another_namespace_cannot_capture_a_channel_and_private_stays_unannounced(
    world: World,
    api: client.ApiClient,
    namespace: str,
    other_namespace: str,
    severity: str,
) -> None:
    """Tenant B labels a private Incident with tenant A's channel id (the old routing key):
    A's /incident commands and 📌 messages still reach only A's incident, and B's private
    incident is not announced in the shared #incidents (its own channel is private)."""

    def incident(ns: str, name: str) -> dict[str, Any]:
        return get_custom(api, "Incident", name, ns)

    def settled(ns: str, name: str) -> dict[str, Any] | None:
        found = incident(ns, name)
        status = found.get("status") or {}
        pinned = (status.get("chat") or {}).get("pinned")
        return found if pinned and not status.get("outbox") else None

    def create(ns: str, name: str, labels: dict[str, str], **spec: Any) -> None:
        metadata = {"name": name, "labels": labels}
        body = {"apiVersion": "sre.dev/v1alpha1", "kind": "Incident", "metadata": metadata}
        create_custom(api, {**body, "spec": {"severityRef": severity, **spec}}, ns)

    create(namespace, "checkout-down", {}, title="Checkout down", service="checkout")
    ours = wait_for("A's channel", lambda: settled(namespace, "checkout-down"), timeout=90)
    channel = ours["status"]["chat"]["channelId"]

    # The label is what once routed a channel to an incident, in any namespace.
    create(
        other_namespace,
        "capture",
        {"sre.dev/chat-channel": channel},
        title="Secret breach at acme",
        service="vault",
        private=True,
    )
    theirs = wait_for("B's own channel", lambda: settled(other_namespace, "capture"), timeout=90)
    assert theirs["status"]["chat"]["channelId"] != channel
    assert world.slack.channels[theirs["status"]["chat"]["channelId"]].is_private
    assert theirs["status"]["chat"]["announced"] == []

    status, reply = slash(world.port, "ack", channel)
    assert status == 200, reply
    assert f"{namespace}/checkout-down" in reply, reply
    assert other_namespace not in reply
    wait_for(
        "A acknowledged",
        lambda: incident(namespace, "checkout-down")["status"]["timestamps"].get("acknowledged"),
        timeout=60,
    )
    ts = world.slack_t.call(world.slack.add_message, channel, "Rolled back checkout to v41")
    assert reaction(world.port, channel, ts) == 200

    def pinned() -> bool:
        timeline = incident(namespace, "checkout-down")["status"].get("timeline") or []
        return any(e.get("type") == "chat-pin" for e in timeline)

    wait_for("A's pin in A's timeline", pinned, timeout=60)
    b = incident(other_namespace, "capture")
    assert b["spec"]["state"] == "triage"
    assert not b["status"]["timestamps"].get("acknowledged")
    assert not [
        e for e in b["status"].get("timeline") or []
        if e.get("type") in ("chat-pin", "chat-command") or "v41" in str(e.get("message"))
    ]  # fmt: skip

    shared = texts(world.slack, world.slack.by_name("incidents").id)
    assert len(shared) == 1, shared
    assert "Checkout down" in shared[0]
    assert not [t for t in shared if "breach" in t or "vault" in t]


def test_escalation_repeats_messages_and_pages_the_person_until_acknowledged(
    world: World, crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    """Issue 19 item 2: a one-step chain (dave after 20 s) repeated twice. Each run pages on
    its own dedup key and sends dave a direct message; an acknowledgement from the Slack
    channel stops the chain and acknowledges every escalation page; resolving resolves them."""
    rotation = yaml.safe_load(EXAMPLE.read_text())
    rotation["metadata"].update(namespace=namespace, name="escalating")
    rotation["spec"]["escalation"] = [{"after": "20s", "notify": "person/dave"}]
    rotation["spec"]["escalationRepeats"] = 2
    create_custom(api, rotation, namespace)
    dave = next(p["slackUserId"] for p in rotation["spec"]["participants"] if p["name"] == "dave")
    name = "orders-down"
    base = f"incident-operator/{namespace}/{name}"
    policy = {
        "level": 1,
        "displayName": "SEV-1 (escalation)",
        "paging": {"page": True},
        "chat": {"createChannel": True},
        "response": {"ackWithin": "10s", "updateEvery": "1h"},
        "rotationRef": "escalating",
    }
    with temporary_severity(api, "sev-escalating", policy) as severity:
        declared = plugin(
            crds, namespace, "declare", "Orders down", "--service", "orders",
            "--severity", severity, "--name", name,
        )  # fmt: skip
        assert declared.returncode == 0, declared.stderr

        def status() -> dict[str, Any]:
            return dict(get_custom(api, "Incident", name, namespace).get("status") or {})

        # Level 2 is the chain's first repeat (the chain has one step).
        wait_for("the repeat's page", lambda: world.pd.open_alert(f"{base}/escalation/2"), 150)
        channel = status()["chat"]["channelId"]
        code, reply = slash(world.port, "ack", channel)
        assert code == 200, reply

        def all_acknowledged() -> dict[str, Any] | None:
            found = status()
            pages = (found.get("pager") or {}).get("escalationPages") or []
            ok = found["timestamps"].get("acknowledged") and pages and not found.get("outbox")
            return found if ok and {p["state"] for p in pages} == {"acknowledged"} else None

        acked = wait_for("every escalation page acknowledged", all_acknowledged, timeout=90)
        acknowledged = datetime.fromisoformat(acked["timestamps"]["acknowledged"])
        runs = acked["response"]["escalations"] if acked.get("response") else []
        levels = [r["level"] for r in runs]
        assert levels[:2] == [1, 2]
        assert levels == list(range(1, len(levels) + 1))
        assert {r["person"] for r in runs} == {"dave"}
        assert all(datetime.fromisoformat(r["at"]) < acknowledged for r in runs)
        for level in levels:
            (alert,) = world.pd.alerts_for(f"{base}/escalation/{level}")
            assert alert.state == "acknowledged"
            assert "[escalation" in alert.summary
        messages = [str(m.get("text", "")) for m in world.slack.direct_messages(dave)]
        assert len(messages) == len(levels), "one direct message per step, none twice"
        assert all(f"<#{channel}>" in m and "/incident ack" in m for m in messages)

        time.sleep(25)  # longer than a round: nothing runs after the acknowledgement
        assert [r["level"] for r in status()["response"]["escalations"]] == levels
        assert world.pd.alerts_for(f"{base}/escalation/{len(levels) + 1}") == []
        assert len(world.slack.direct_messages(dave)) == len(levels)

        resolved = plugin(crds, namespace, "resolve", name)
        assert resolved.returncode == 0, resolved.stderr

        def all_resolved() -> bool:
            pages = (status().get("pager") or {}).get("escalationPages") or []
            return bool(pages) and {p["state"] for p in pages} == {"resolved"}

        wait_for("every escalation page resolved", all_resolved, timeout=90)
        for level in levels:
            assert [a.state for a in world.pd.alerts_for(f"{base}/escalation/{level}")] == [
                "resolved"
            ]
