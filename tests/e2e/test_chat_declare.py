"""Declaring from a Slack form, end to end: the real operator as the chart's ServiceAccount
(installed with ``chat.declareNamespaces`` naming one tenant namespace), the local API server
and the Slack fake.

A signed ``/incident declare`` opens the modal in the fake through ``views.open`` (with the
command's trigger_id, inside its 3 seconds) offering only the Services of the open namespace;
a signed ``view_submission`` picking a Service in a namespace chat may not reach is answered
with ``response_action: errors`` on the service field and creates nothing; picking the open
namespace's Service creates the Incident there, resolved to its owner team; Slack retrying the
same submission creates no second incident. In an incident's channel, ``/incident update
--public`` alone opens a form prefilled with the Severity's drafted wording; the edited text is
published once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.domain.slack_requests import sign
from tests.builders.objects import incident_manifest
from tests.chart.helm import CHART, helm, set_args
from tests.e2e.test_catalog import condition, custom
from tests.e2e.test_rbac_serviceaccount import chart_args, service_account_kubeconfig
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import Threaded, serving
from tests.kube import (
    Cluster,
    create_custom,
    delete_namespace,
    pod_spec,
    temporary_severity,
    token_of,
    wait_for,
)
from tests.operator_process import running_operator

TOKEN = "xoxb-e2e-" + uuid.uuid4().hex
SIGNING_SECRET = "signing-" + uuid.uuid4().hex
USER = "U0BBBBBBB"


class World:
    def __init__(self, slack: FakeSlack, slack_t: Threaded, port: int) -> None:
        self.slack, self.slack_t, self.port = slack, slack_t, port

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        """A request signed as Slack signs it."""
        body = urllib.parse.urlencode(form).encode()
        ts = str(int(time.time()))
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": sign(SIGNING_SECRET.encode(), ts, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def submit(self, payload: dict[str, Any]) -> dict[str, Any]:
        status, text = self.post("/slack/interactivity", {"payload": json.dumps(payload)})
        assert status == 200, text
        return dict(json.loads(text)) if text else {}


@pytest.fixture
def namespaces(api: client.ApiClient) -> Iterator[tuple[str, str, str]]:
    """Open to chat, closed to chat, and the operator's release namespace."""
    core = client.CoreV1Api(api)
    names = tuple(f"chat-{role}-{uuid.uuid4().hex[:6]}" for role in ("open", "closed", "op"))
    for name in names:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield names[0], names[1], names[2]
    finally:
        for name in names:
            delete_namespace(api, name)


@pytest.fixture
def world(
    crds: Cluster, api: client.ApiClient, tmp_path: Path, namespaces: tuple[str, str, str]
) -> Iterator[World]:
    opened, _, release_ns = namespaces
    release = f"chat-{uuid.uuid4().hex[:6]}"
    slack = FakeSlack(TOKEN)
    with serving(slack, slack.start) as (slack_url, slack_t):
        helm(
            "install", release, str(CHART), "--namespace", release_ns,
            *set_args({
                "crds.install": False,
                "slack.tokenSecret.name": "slack",
                "slack.signingSecret.name": "slack",
                "slack.apiUrl": slack_url,
                "chat.declareNamespaces": [opened],
            }),
            kubeconfig=crds.kubeconfig,
        )  # fmt: skip
        try:
            deployment = client.AppsV1Api(api).read_namespaced_deployment(
                f"{release}-incident-operator", release_ns
            )
            sa = pod_spec(deployment).service_account_name
            assert sa is not None
            token = token_of(
                client.CoreV1Api(api).create_namespaced_service_account_token(
                    sa,
                    release_ns,
                    client.AuthenticationV1TokenRequest(spec={"expirationSeconds": 3600}),
                )
            )
            secrets = tmp_path / "secrets"
            secrets.mkdir()
            (secrets / "slack-token").write_text(TOKEN + "\n")
            (secrets / "slack-signing-secret").write_text(SIGNING_SECRET + "\n")
            as_sa = Cluster(
                kubeconfig=str(service_account_kubeconfig(crds, token, tmp_path / "sa.kubeconfig")),
                existing=crds.existing,
            )
            args = chart_args(deployment, secrets)
            assert f"--chat-declare-namespaces={opened}" in args
            port = int(next(a for a in args if a.startswith("--http-listen=")).rsplit(":", 1)[1])
            with running_operator(as_sa, tmp_path / "operator.log", *args) as op:
                wait_for("the operator's HTTP server", lambda: _listening(port))
                yield World(slack, slack_t, port)
                refused = [
                    line
                    for line in op.log.read_text(errors="replace").splitlines()
                    if "Forbidden" in line and any(ns in line for ns in namespaces)
                ]
                assert not refused
        finally:
            helm("uninstall", release, "-n", release_ns, kubeconfig=crds.kubeconfig, check=False)


def _listening(port: int) -> bool | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return None


@pytest.fixture
def team(api: client.ApiClient, namespaces: tuple[str, str, str]) -> Iterator[str]:
    name = f"team-chat-{uuid.uuid4().hex[:6]}"
    create_custom(api, custom("Team", name, {"namespaces": [namespaces[0], namespaces[1]]}), "")
    try:
        yield name
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "teams", name
        )


def incidents_in(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    found: Any = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents"
    )
    return list(found["items"])


def test_declaring_through_the_form_lands_in_the_owning_services_namespace(
    api: client.ApiClient, world: World, namespaces: tuple[str, str, str], team: str
) -> None:
    opened, closed, _ = namespaces
    create_custom(api, custom("Service", "checkout", {"owner": team}), opened)
    create_custom(api, custom("Service", "ledger", {"owner": team}), closed)
    with temporary_severity(api, "sev-chat", {"level": 2, "displayName": "SEV-2"}) as severity:
        # The slash command: an empty 200 (no message), the form opened in the fake.
        trigger = world.slack_t.call(world.slack.trigger)
        status, text = world.post(
            "/slack/commands",
            {"command": "/incident", "text": "declare", "channel_id": "C0GENERAL",
             "user_id": USER, "user_name": "bob", "trigger_id": trigger},
        )  # fmt: skip
        assert (status, text) == (200, "")
        views = world.slack_t.call(lambda: dict(world.slack.views))
        ((view_id, view),) = views.items()
        menu = next(b for b in view["blocks"] if b.get("block_id") == "service")["element"]
        assert [o["value"] for o in menu["options"]] == [f"{opened}/checkout"]

        def submission(service: str) -> dict[str, Any]:
            return world.slack_t.call(
                lambda: world.slack.submission(
                    view_id, USER, title="Checkout is down", service=service, severity=severity
                )
            )

        # A Service in a namespace chat may not reach (a forged value): an error in the form.
        answer = world.submit(submission(f"{closed}/ledger"))
        assert answer["response_action"] == "errors"
        assert f"namespace {closed}" in answer["errors"]["service"]
        assert incidents_in(api, closed) == []
        assert incidents_in(api, opened) == []

        # The open namespace's Service: created there, resolved to its owner team.
        payload = submission(f"{opened}/checkout")
        answer = world.submit(payload)
        assert answer["response_action"] == "update"
        (created,) = incidents_in(api, opened)
        name = created["metadata"]["name"]
        assert f"{opened}/{name}" in json.dumps(answer)
        assert created["spec"]["service"] == "checkout"
        assert created["spec"]["severityRef"] == severity
        assert created["spec"]["source"] == {"type": "chat", "ref": "slack:C0GENERAL"}

        def resolved() -> dict[str, Any] | None:
            (body,) = incidents_in(api, opened)
            found = condition(body, "ServiceResolved")
            return body if found and found["status"] == "True" else None

        body = wait_for("the incident resolved to its team", resolved, timeout=90)
        assert body["status"]["catalog"]["teams"] == [team]
        assert body["status"]["catalog"]["owners"] == [{"service": "checkout", "team": team}]

        # Slack retries the submission (no answer in time): still one incident.
        again = world.submit(payload)
        assert again["response_action"] == "update"
        assert [i["metadata"]["name"] for i in incidents_in(api, opened)] == [name]
        assert incidents_in(api, closed) == []


def test_a_public_update_through_the_form_publishes_the_edited_draft_once(
    api: client.ApiClient, world: World, namespaces: tuple[str, str, str]
) -> None:
    """``/incident update --public`` alone in the incident's channel opens the form prefilled
    with the Severity's drafted wording; what the person submits is published, once."""
    opened = namespaces[0]
    spec = {"level": 1, "displayName": "SEV-1", "chat": {"createChannel": True}}
    with temporary_severity(api, "sev-public", spec) as severity:
        create_custom(
            api,
            incident_manifest("card-payments", service="payments", severityRef=severity),
            opened,
        )

        def channel() -> str | None:
            (body,) = incidents_in(api, opened)
            return ((body.get("status") or {}).get("chat") or {}).get("channelId")

        channel_id = wait_for("the incident channel", channel, timeout=90)
        trigger = world.slack_t.call(world.slack.trigger)
        status, text = world.post(
            "/slack/commands",
            {"command": "/incident", "text": "update --public", "channel_id": channel_id,
             "user_id": USER, "user_name": "bob", "trigger_id": trigger},
        )  # fmt: skip
        assert (status, text) == (200, "")
        ((view_id, view),) = world.slack_t.call(lambda: dict(world.slack.views)).items()
        blocks = {b.get("block_id"): b for b in view["blocks"]}
        assert "payments" in blocks["text"]["element"]["initial_value"]  # the drafted wording
        assert blocks["title"]["element"]["initial_value"]
        payload = world.slack_t.call(
            lambda: world.slack.submission(
                view_id,
                USER,
                text="Card payments fail for some customers; a fix is rolling out.",
                status="identified",
                title="Card payments",
            )
        )
        assert world.submit(payload)["response_action"] == "update"
        again = world.submit(payload)  # Slack's retry
        assert again["response_action"] == "update"
        (body,) = incidents_in(api, opened)
        public = body["spec"]["public"]
        assert public["title"] == "Card payments"
        assert [(u["text"], u["status"]) for u in public["updates"]] == [
            ("Card payments fail for some customers; a fix is rolling out.", "identified")
        ]
