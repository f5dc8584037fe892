"""A workflow posts a Block Kit card, starts a conference bridge and calls a Team's signed
webhook, on the real control plane (docs/workflows.md).

The webhook is the Team's (cluster-admin written: an https URL and a signing Secret in the
operator's catalog Secret namespace); the receiver is a local https endpoint (a CA made for
the test, trusted by the operator through ``SSL_CERT_FILE``) that verifies the HMAC
signature over the raw body and drops a repeated ``Idempotency-Key``. Each effect happens
exactly once however many timer ticks pass.
"""

from __future__ import annotations

import functools
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.cluster.controlplane import free_port, generate_pki
from tests.e2e.test_workflows import CONDITION, TOKEN, ready, severity  # noqa: F401
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.fakes.webhooks import FakeWebhookReceiver
from tests.kube import Cluster, create_custom, delete_namespace, get_custom, wait_for
from tests.operator_process import running_operator

HOOK_SECRET = "hook-" + uuid.uuid4().hex
BRIDGE = "https://meet.example.com/inc-${namespace}-${name}"


def https_receiver(pki: Path) -> FakeWebhookReceiver:
    """A signed-webhook receiver serving https with a certificate for 127.0.0.1 from a CA
    made here (``pki/ca.crt`` is what the operator trusts)."""
    generate_pki(pki)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "apiserver.crt", pki / "apiserver.key")
    return FakeWebhookReceiver(secret=HOOK_SECRET.encode(), ssl_context=context)


async def started(receiver: FakeWebhookReceiver) -> str:
    await receiver.start()
    return receiver.url


def automation(team: str) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": "reach-out"},
        "spec": {
            "triggers": [{"event": "labelChanged", "labels": ["tier"]}],
            "condition": CONDITION,
            "actions": [
                {
                    "type": "postMessage",
                    "name": "card",
                    "text": "${title} <!here>",
                    "card": {
                        "title": "Tier-1: ${title}",
                        "fields": [
                            {"label": "Service", "value": "${service}"},
                            {"label": "Severity", "value": "${severity} <!channel>"},
                        ],
                        "buttons": [
                            {"text": "Runbook", "url": "https://runbooks.example.com/${service}"}
                        ],
                    },
                },
                {"type": "startConference", "name": "bridge", "urlTemplate": BRIDGE},
                {"type": "sendWebhook", "name": "erp", "team": team, "webhook": "erp"},
            ],
        },
    }


def test_a_workflow_posts_a_card_starts_a_bridge_and_calls_a_signed_webhook_once(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    keys = f"wf-hooks-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=keys)))
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="payments-hooks"), string_data={"erp": HOOK_SECRET}
    )
    core.create_namespaced_secret(keys, secret)
    team = f"wf-payments-{uuid.uuid4().hex[:6]}"
    receiver = https_receiver(tmp_path / "pki")
    slack = FakeSlack(TOKEN)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack-token").write_text(TOKEN + "\n")
    try:
        with (
            serving(slack, slack.start) as (slack_url, _slack_thread),
            serving(receiver, functools.partial(started, receiver)) as (_, _receiver_thread),
        ):
            create_custom(
                api,
                {
                    "apiVersion": "sre.dev/v1alpha1",
                    "kind": "Team",
                    "metadata": {"name": team},
                    "spec": {
                        "namespaces": [namespace],
                        "webhooks": [
                            {
                                "name": "erp",
                                "url": receiver.url,
                                "secretRef": {"name": "payments-hooks", "key": "erp"},
                            }
                        ],
                    },
                },
                "",
            )
            args = (
                f"--http-listen=127.0.0.1:{free_port()}",
                f"--namespace={namespace}",
                f"--slack-token-file={secrets / 'slack-token'}",
                f"--slack-api-url={slack_url}",
                f"--catalog-secret-namespace={keys}",
            )
            env = {"SSL_CERT_FILE": str(tmp_path / "pki" / "ca.crt")}
            with running_operator(crds, tmp_path / "operator.log", *args, env=env):
                reach_out(api, custom, namespace, severity, team, slack, receiver)
    finally:
        custom.delete_cluster_custom_object("sre.dev", "v1alpha1", "teams", team)
        delete_namespace(api, keys)


def reach_out(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    severity: str,  # noqa: F811
    team: str,
    slack: FakeSlack,
    receiver: FakeWebhookReceiver,
) -> None:
    create_custom(api, automation(team), namespace)
    wait_for("reach-out Ready", functools.partial(ready, api, "IncidentWorkflow",
                                                  "reach-out", namespace))  # fmt: skip
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "db-down"},
            "spec": {
                "title": "Payments DB down",
                "service": "payments",
                "severityRef": severity,
                "state": "investigating",
            },
        },
        namespace,
    )

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", "db-down", namespace)

    wait_for(
        "the workflows' first look",
        lambda: (incident().get("status") or {}).get("workflows", {}).get("seen"),
        timeout=60,
    )
    custom.patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "db-down",
        {"metadata": {"labels": {"tier": "1"}}},
    )  # fmt: skip
    wait_for("the signed webhook", lambda: receiver.deliveries, 60)
    bridge = f"https://meet.example.com/inc-{namespace}-db-down"

    def messages() -> list[dict[str, Any]]:
        channel = ((incident().get("status") or {}).get("chat") or {}).get("channelId")
        return list(slack.channels[channel].messages) if channel in slack.channels else []

    def cards() -> list[dict[str, Any]]:
        return [m for m in messages() if (m.get("blocks") or [{}])[0].get("text", {}).get(
            "text") == "Tier-1: Payments DB down"]  # fmt: skip

    wait_for("the card", cards, 60)
    wait_for("the bridge posted", lambda: [m for m in messages() if bridge in m["text"]], 60)
    time.sleep(12)  # more than two timer intervals: nothing may run or be sent again
    # The webhook: signed (the receiver verified it), once, on the step's key.
    assert (receiver.requests, receiver.rejected, receiver.duplicates) == (1, 0, 0)
    (delivery,) = receiver.deliveries
    assert delivery.headers["X-Incident-Operator-Event"] == "workflow"
    body = incident()
    uid = body["metadata"]["uid"]
    (record,) = body["status"]["workflows"]["webhooks"].values()
    assert record["state"] == "delivered"
    assert delivery.headers["Idempotency-Key"] == record["key"]
    assert record["key"].startswith(f"{uid}/wf/")
    payload = delivery.json
    assert payload["event"] == "workflow"
    assert (payload["incident"]["namespace"], payload["incident"]["name"]) == (
        namespace,
        "db-down",
    )
    assert payload["incident"]["bridgeUrl"] == bridge
    assert HOOK_SECRET not in str(body)
    assert receiver.url not in str(body)  # the admin's URL stays on the Team
    # The card: once, rendered by the operator, user text escaped.
    (card,) = cards()
    kinds = [b["type"] for b in card["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    fields = card["blocks"][2]["fields"]
    assert fields[1]["text"].endswith("&lt;!channel&gt;")
    assert card["blocks"][3]["elements"][0]["url"] == "https://runbooks.example.com/payments"
    # The bridge: recorded, posted once, and shown as a button on the pinned status message.
    assert body["status"]["conference"]["url"] == bridge
    assert len([m for m in messages() if m["text"].startswith("*workflow-conference*")]) == 1
    status_ts = body["status"]["chat"]["statusMessageTs"]
    (status_message,) = [m for m in messages() if m["ts"] == status_ts]
    buttons = [
        e for b in status_message.get("blocks") or [] if b["type"] == "actions"
        for e in b["elements"]
    ]  # fmt: skip
    assert bridge in [b.get("url") for b in buttons]
    (run,) = body["status"]["workflows"]["runs"]
    assert (run["result"], run["actions"]) == ("succeeded", ["card", "bridge", "erp"])
