"""A sev-1 whose Severity requires a person's word before anything is public, end to end.

The operator runs with the Slack fake (tests/e2e/test_comms.py's ``world``). The incident is
declared with its internal title; its Severity (``statusPage: {publish, accept}``) keeps it
off the status page until the communications lead, in the incident's Slack channel, asks for
the suggested wording (``/incident update --public draft``, which publishes nothing) and then
writes a public update. The page then lists the incident under public words only — the
Severity's drafted title, never the internal one — and a private incident of the same
Severity with a public update in its manifest never appears.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.domain import status_page
from tests.e2e.test_comms import EXAMPLE, World, slash, world  # noqa: F401
from tests.e2e.test_incident_lifecycle import plugin
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for

INTERNAL = "payments: SLO payments-availability is burning its error budget"


@pytest.fixture
def sev1(crds: Cluster, api: client.ApiClient, namespace: str) -> Iterator[str]:
    rotation = yaml.safe_load(EXAMPLE.read_text())
    rotation["metadata"]["namespace"] = namespace
    create_custom(api, rotation, namespace)
    with temporary_severity(
        api,
        "sev-public",
        {
            "level": 1,
            "displayName": "SEV-1 (Critical)",
            "chat": {"createChannel": True},
            "rotationRef": rotation["metadata"]["name"],
            "statusPage": {"publish": True, "impact": "critical", "accept": True},
        },
    ) as name:
        yield name


def summary(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/summary.json", timeout=5) as r:
        body: dict[str, Any] = json.loads(r.read().decode())
    return body


def page(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as response:
        return str(response.read().decode())


def test_nothing_is_public_until_the_comms_lead_publishes_from_slack(
    world: World,  # noqa: F811
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    sev1: str,
) -> None:
    name = "payments-burn"
    declared = plugin(
        crds, namespace, "declare", INTERNAL, "--service", "payments", "--severity", sev1,
        "--name", name,
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "card-data-exposure"},
            "spec": {
                "title": "Card data exposure",
                "service": "payments",
                "severityRef": sev1,
                "private": True,
                "public": {
                    "title": "Embargoed",
                    "updates": [
                        {"at": "2026-12-07T00:00:00Z", "status": "investigating", "text": "x"}
                    ],
                },
            },
        },
        namespace,
    )

    def channel() -> str | None:
        chat = (get_custom(api, "Incident", name, namespace).get("status") or {}).get("chat")
        return str(chat["channelId"]) if chat and chat.get("channelId") else None

    channel_id = wait_for("the incident's channel", channel, timeout=90)
    uid = get_custom(api, "Incident", name, namespace)["metadata"]["uid"]
    public_id = status_page.public_id(b"", namespace, name, uid)
    # The operator has seen the incident (it opened its channel): still nothing public.
    assert summary(world.port)["incidents"] == []
    assert summary(world.port)["status"]["indicator"] == "none"

    status, reply = slash(world.port, "update --public draft", channel_id)
    assert status == 200, reply
    assert "payments: major outage" in reply
    assert "We are investigating major outage of payments." in reply
    assert "public" not in get_custom(api, "Incident", name, namespace)["spec"]

    status, reply = slash(
        world.port, 'update --public "Some card payments fail; we are on it."', channel_id
    )
    assert status == 200, reply
    assert "public update published (investigating)" in reply

    def listed() -> dict[str, Any] | None:
        got = summary(world.port)
        mine = [i for i in got["incidents"] if i["id"] == public_id]
        return mine[0] if mine else None

    shown = wait_for("the incident on summary.json once published", listed)
    assert [u["body"] for u in shown["incident_updates"]] == [
        "Some card payments fail; we are on it."
    ]
    assert shown["impact"] == "critical"
    spec = get_custom(api, "Incident", name, namespace)["spec"]
    assert spec["public"]["updates"][0]["author"] == "bob"
    html = page(world.port)
    everything = json.dumps(summary(world.port)) + html
    assert "Some card payments fail; we are on it." in html
    assert shown["name"] == "payments: major outage", "the drafted title, not the internal one"
    for hidden in (INTERNAL, "Card data exposure", "Embargoed", "card-data-exposure", "bob"):
        assert hidden not in everything
    assert [i["id"] for i in summary(world.port)["incidents"]] == [public_id]
