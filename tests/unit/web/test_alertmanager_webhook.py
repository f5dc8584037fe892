"""POST /alertmanager over HTTP (aiohttp's test server) onto the service and a FakeStore.

Every rejected request is also checked to have created nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.ports import TokenSource
from incident_operator.adapters.secrets import FileToken, StaticToken
from incident_operator.domain.alertmanager import group_id, parse_severity_map
from incident_operator.services.alertmanager import AlertmanagerConfig, AlertmanagerService
from incident_operator.services.incidents import requested_state, severity_of
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from tests.builders.alertmanager import GROUP_KEY, alert, payload, resolved
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

TOKEN = "s3cr3t-t0ken-value"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
MAX_BODY = 64 * 1024
NAME = f"am-{group_id(GROUP_KEY)}"


@dataclass
class World:
    client: TestClient[Any, Any]
    store: FakeStore

    async def post(
        self, body: Any, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        response = await self.client.post(
            "/alertmanager",
            data=data,
            headers={"Content-Type": "application/json", **AUTH, **(headers or {})},
            **kwargs,
        )
        return response.status, await response.json()

    @property
    def incident(self) -> dict[str, Any]:
        (incident,) = self.store.incidents.values()
        return incident


STATIC = StaticToken(TOKEN)


async def start(
    token: TokenSource | None = STATIC, *, service: bool = True, **config: Any
) -> tuple[TestClient[Any, Any], FakeStore]:
    store = FakeStore()
    settings = AlertmanagerConfig(
        severity=parse_severity_map("critical=sev-1,warning=sev-3,*=sev-4"),
        default_namespace="ops",
        **config,
    )
    am = AlertmanagerService(store, FakeClock(NOW), settings) if service else None
    app = build_app(alertmanager=AlertmanagerWebhook(am, token, max_body=MAX_BODY))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client, store


@pytest.fixture
async def world() -> AsyncIterator[World]:
    client, store = await start()
    try:
        yield World(client, store)
    finally:
        await client.close()


@pytest.fixture
async def auto_resolving() -> AsyncIterator[World]:
    client, store = await start(auto_resolve=True)
    try:
        yield World(client, store)
    finally:
        await client.close()


# --- configuration and authentication ----------------------------------------------------------


@pytest.mark.parametrize(("token", "service"), [(None, True), (StaticToken(""), True)])
async def test_without_a_token_the_endpoint_says_it_is_not_configured(
    token: TokenSource | None, service: bool
) -> None:
    client, store = await start(token, service=service)
    try:
        status, body = await World(client, store).post(payload())
        assert status == 503
        assert body == {
            "error": "Alertmanager webhook is not configured: start the operator with "
            "--alertmanager-token-file or INCIDENT_OPERATOR_ALERTMANAGER_TOKEN"
        }
        assert store.incidents == {}
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": ""}, "missing bearer token: send 'Authorization: Bearer <token>'"),
        (
            {"Authorization": "Bearer "},
            "missing bearer token: send 'Authorization: Bearer <token>'",
        ),
        (
            {"Authorization": f"Basic {TOKEN}"},
            "missing bearer token: send 'Authorization: Bearer <token>'",
        ),
        ({"Authorization": "Bearer wrong"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "invalid bearer token"),
    ],
)
async def test_a_missing_or_wrong_token_is_401_and_creates_nothing(
    world: World, headers: dict[str, str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await world.client.post(
        "/alertmanager",
        data=json.dumps(payload()),
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status == 401
    assert await response.json() == {"error": message}
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="alertmanager"')
    assert world.store.incidents == {}
    text = await response.text() + str(dict(response.headers)) + caplog.text
    assert TOKEN not in text
    assert TOKEN[:-1] not in text


async def test_the_scheme_is_case_insensitive_as_rfc_7235_says(world: World) -> None:
    status, _ = await world.post(payload(), {"Authorization": f"bearer {TOKEN}"})
    assert status == 200


async def test_tokens_are_compared_in_constant_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await world.post(payload(), {"Authorization": "Bearer short"})
    await world.post(payload())
    assert len(calls) == 2
    # Fixed-length digests: neither the length nor a prefix of the secret shows in the timing.
    assert all(len(a) == len(b) == 32 for a, b in calls)
    assert calls[0][0] != calls[0][1]
    assert calls[1][0] == calls[1][1]


async def test_a_rotated_token_file_takes_effect_without_a_restart(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("first-token\n")  # kubectl create secret --from-file keeps the newline
    client, store = await start(FileToken(secret))
    world = World(client, store)
    try:
        assert (await world.post(payload(), {"Authorization": "Bearer first-token"}))[0] == 200
        secret.write_text("second-token-longer\n")
        status, body = await world.post(payload(), {"Authorization": "Bearer first-token"})
        assert (status, body) == (401, {"error": "invalid bearer token"})
        assert (await world.post(payload(), {"Authorization": "Bearer second-token-longer"}))[
            0
        ] == 200
        secret.unlink()
        assert (await world.post(payload()))[0] == 503
        assert "token" not in repr(FileToken(secret)).replace(str(secret), "")
        assert "first" not in repr(StaticToken("first-token"))
    finally:
        await client.close()


# --- rejected requests -------------------------------------------------------------------------


async def test_only_json_is_accepted(world: World) -> None:
    status, body = await world.post(json.dumps(payload()), {"Content-Type": "text/plain"})
    assert (status, body) == (
        415,
        {"error": "Content-Type must be application/json, got text/plain"},
    )
    assert world.store.incidents == {}


async def test_a_body_over_the_limit_is_413_with_or_without_content_length(world: World) -> None:
    big = payload(padding="x" * MAX_BODY)
    status, body = await world.post(big)
    assert (status, body) == (413, {"error": f"request body exceeds {MAX_BODY} bytes"})

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the stream is counted
        encoded = json.dumps(big).encode()
        for i in range(0, len(encoded), 4096):
            yield encoded[i : i + 4096]

    response = await world.client.post(
        "/alertmanager",
        data=chunked(),
        headers={"Content-Type": "application/json", **AUTH},
    )
    assert response.status == 413
    assert world.store.incidents == {}


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (
            b'{"version": "4",',
            400,
            "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 17",
        ),
        (b"", 400, "malformed JSON: Expecting value at line 1 column 1"),
        (b"\xff\xfe\xfa", 400, "malformed JSON: the body is not UTF-8 text"),
        (b"[]", 422, "payload must be a JSON object, got array"),
        (b"null", 422, "payload must be a JSON object, got null"),
    ],
)
async def test_malformed_json_is_rejected_with_a_clear_message(
    world: World, raw: bytes, status: int, message: str
) -> None:
    assert await world.post(raw) == (status, {"error": message})
    assert world.store.incidents == {}


@pytest.mark.parametrize(
    ("version", "got"), [("3", '"3"'), (4, "4"), (None, "none"), ("4.0", '"4.0"')]
)
async def test_other_payload_versions_are_rejected(world: World, version: Any, got: str) -> None:
    body = payload()
    if version is None:
        del body["version"]
    else:
        body["version"] = version
    assert await world.post(body) == (
        422,
        {"error": f'payload version must be "4" (Alertmanager webhook), got {got}'},
    )
    assert world.store.incidents == {}


def _without(key: str) -> dict[str, Any]:
    a = alert()
    del a[key]
    return payload(a)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_without("fingerprint"), "alerts[0].fingerprint: Field required"),
        (_without("startsAt"), "alerts[0].startsAt: Field required"),
        (
            payload(alert(starts_at="2026-11-27T14:00:00")),
            "alerts[0].startsAt: Input should have timezone info",
        ),
        (
            payload(alert(starts_at="yesterday")),
            "alerts[0].startsAt: Input should be a valid datetime or date, input is too short",
        ),
        (
            payload(alert(status="pending")),
            "alerts[0].status: Input should be 'firing' or 'resolved'",
        ),
        (
            payload(alert(fingerprint="../../etc")),
            "alerts[0].fingerprint: String should match pattern '^[0-9A-Za-z]{1,64}$'",
        ),
        ({**payload(), "groupKey": ""}, "groupKey: String should have at least 1 character"),
        (
            {**payload(), "alerts": []},
            "alerts: List should have at least 1 item after validation, not 0",
        ),
        (
            payload({**alert(), "labels": {"alertname": "X", "severity": 1}}),
            "alerts[0].labels.severity: Input should be a valid string",
        ),
        (payload(alert(), status="resolved"), "status is 'resolved' but alerts[0] is firing"),
        (
            payload(alert(status="resolved", ends_at="2026-11-27T14:30:00Z"), status="firing"),
            "status is 'firing' but no alert is firing",
        ),
        (
            {k: v for k, v in payload().items() if k not in {"status", "groupKey"}},
            "groupKey: Field required; status: Field required",
        ),
    ],
)
async def test_payloads_failing_validation_are_422_with_the_json_path(
    world: World, body: dict[str, Any], message: str
) -> None:
    assert await world.post(body) == (422, {"error": f"invalid payload: {message}"})
    assert world.store.incidents == {}


# --- incidents ---------------------------------------------------------------------------------


async def test_a_firing_group_creates_one_incident_with_the_mapped_severity(world: World) -> None:
    status, body = await world.post(payload())
    assert (status, body) == (200, {"action": "created", "namespace": "shop", "incident": NAME})
    incident = world.incident
    assert incident["metadata"]["namespace"] == "shop"
    assert incident["metadata"]["labels"] == {
        "sre.dev/alertmanager-group": group_id(GROUP_KEY),
        "sre.dev/service": "checkout",
    }
    assert severity_of(incident) == "sev-1"
    assert incident["spec"]["title"] == "CheckoutErrors: Checkout returns 5xx"
    assert incident["spec"]["service"] == "checkout"
    assert requested_state(incident) == "triage"
    assert incident["spec"]["source"] == {
        "type": "alertmanager",
        "ref": GROUP_KEY,
        "detectedAt": "2026-11-27T14:00:00.123456Z",
    }
    status_ = incident["status"]
    assert status_["timestamps"] == {
        "detected": "2026-11-27T14:00:00.123456Z",
        "declared": "2026-11-27T14:05:00Z",
    }
    assert status_["durations"] == {"timeToDetect": pytest.approx(299.876544)}
    assert status_["severity"] == "sev-1"
    assert [(e["type"], e["key"]) for e in status_["timeline"]] == [
        ("alert-firing", "alertmanager/1a2b3c4d5e6f7a8b/firing/2026-11-27T14:00:00.123456Z"),
        ("declared", "alertmanager/declared"),
    ]
    firing = status_["timeline"][0]
    assert firing["message"] == (
        'Alert CheckoutErrors firing: Checkout returns 5xx {namespace="shop", '
        'service="checkout", severity="critical"}'
    )
    assert firing["source"] == "alertmanager/incident-operator"
    assert world.store.events == [
        (NAME, "IncidentDeclared", f"Declared from Alertmanager group {GROUP_KEY}", False)
    ]


async def test_the_same_notification_twice_is_one_incident_without_duplicate_entries(
    world: World,
) -> None:
    assert (await world.post(payload()))[0] == 200
    before = json.dumps(world.incident, sort_keys=True)
    status, body = await world.post(payload())
    assert (status, body) == (200, {"action": "updated", "namespace": "shop", "incident": NAME})
    assert len(world.store.incidents) == 1
    assert json.dumps(world.incident, sort_keys=True) == before
    assert len(world.store.events) == 1


async def test_concurrent_deliveries_of_a_group_create_one_incident(world: World) -> None:
    results = await asyncio.gather(*(world.post(payload()) for _ in range(5)))
    assert sorted(body["action"] for _, body in results) == ["created"] + ["updated"] * 4
    assert len(world.store.incidents) == 1
    keys = [e["key"] for e in world.incident["status"]["timeline"]]
    assert len(keys) == len(set(keys)) == 2


async def test_new_alerts_of_the_group_are_added_and_old_ones_not_repeated(world: World) -> None:
    await world.post(payload(alert("aaaaaaaaaaaaaaaa", severity="warning")))
    assert severity_of(world.incident) == "sev-3"
    second = alert("bbbbbbbbbbbbbbbb", severity="warning", starts_at="2026-11-27T14:03:00Z")
    await world.post(payload(alert("aaaaaaaaaaaaaaaa", severity="warning"), second))
    types = [e["type"] for e in world.incident["status"]["timeline"]]
    assert types == ["alert-firing", "alert-firing", "declared"]


async def test_a_more_severe_alert_joining_raises_the_severity_once(world: World) -> None:
    warning = alert("aaaaaaaaaaaaaaaa", severity="warning")
    await world.post(payload(warning))
    critical = alert("bbbbbbbbbbbbbbbb", severity="critical", starts_at="2026-11-27T14:04:00Z")
    await world.post(payload(warning, critical))
    await world.post(payload(warning, critical))
    incident = world.incident
    assert severity_of(incident) == "sev-1"
    assert incident["status"]["severity"] == "sev-1"
    # The declaration is untouched (spec and its annotation); the raise is a conclusion.
    assert incident["spec"]["severityRef"] == "sev-3"
    assert incident["metadata"]["annotations"]["sre.dev/declared-severity"] == "sev-3"
    assert incident["status"]["conclusions"]["severity"]["over"] == "sev-3"
    raised = [e for e in incident["status"]["timeline"] if e["type"] == "severity-raised"]
    assert [e["message"] for e in raised] == [
        "More severe alerts joined the group: severity raised sev-3 -> sev-1."
    ]
    # Alerts going quiet does not lower it: impact is a responder's call.
    await world.post(payload(warning))
    assert severity_of(world.incident) == "sev-1"


async def test_a_responders_severity_is_kept_and_the_alerts_suggestion_recorded(
    world: World,
) -> None:
    warning = alert("aaaaaaaaaaaaaaaa", severity="warning")
    await world.post(payload(warning))
    await world.store.patch_incident("shop", NAME, spec={"severityRef": "sev-4"})
    critical = alert("bbbbbbbbbbbbbbbb", severity="critical", starts_at="2026-11-27T14:04:00Z")
    await world.post(payload(warning, critical))
    incident = world.incident
    assert severity_of(incident) == "sev-4"
    (suggested,) = [e for e in incident["status"]["timeline"] if e["type"] == "severity-suggested"]
    assert suggested["message"] == (
        "The group's alerts suggest sev-1; kept sev-4 set by a responder."
    )


async def test_unlabelled_alerts_get_the_default_severity_and_namespace(world: World) -> None:
    bare = alert(severity=None)
    del bare["labels"]["namespace"]
    body = payload(bare, groupLabels={"alertname": "CheckoutErrors"}, commonLabels={})
    status, answer = await world.post(body)
    assert (status, answer["namespace"]) == (200, "ops")
    assert severity_of(world.incident) == "sev-4"
    assert world.incident["spec"]["service"] == "unknown"


async def test_a_resolved_group_is_recorded_and_the_incident_stays_open(world: World) -> None:
    firing = alert()
    await world.post(payload(firing))
    ended = {**firing, "status": "resolved", "endsAt": "2026-11-27T14:30:00Z"}
    for _ in range(2):  # redelivered: still one entry each
        status, body = await world.post(payload(ended))
        assert (status, body["action"]) == (200, "updated")
    incident = world.incident
    assert requested_state(incident) == "triage"
    timeline = incident["status"]["timeline"]
    assert [e["type"] for e in timeline] == [
        "alert-firing",
        "declared",
        "alert-resolved",
        "alerts-resolved",
    ]
    assert timeline[2]["key"] == "alertmanager/1a2b3c4d5e6f7a8b/resolved/2026-11-27T14:30:00Z"
    assert timeline[3] == {
        "at": "2026-11-27T14:30:00Z",
        "type": "alerts-resolved",
        "message": "All 1 alert(s) of the group resolved. "
        "The incident stays open until a responder resolves it.",
        "author": "incident-operator",
        "source": "alertmanager/incident-operator",
        "key": "alertmanager/group-resolved/2026-11-27T14:30:00Z",
    }


async def test_auto_resolve_resolves_the_incident_when_configured(auto_resolving: World) -> None:
    firing = alert()
    await auto_resolving.post(payload(firing))
    await auto_resolving.post(
        payload({**firing, "status": "resolved", "endsAt": "2026-11-27T14:30:00Z"})
    )
    incident = auto_resolving.incident
    assert requested_state(incident) == "resolved"
    assert incident["status"]["timeline"][-1]["message"].endswith(
        "Resolved the incident automatically (--alertmanager-auto-resolve)."
    )


async def test_a_truncated_resolved_group_does_not_auto_resolve(auto_resolving: World) -> None:
    """a, b resolved, c still firing, max_alerts 2: Alertmanager says resolved, truncated 1."""
    a, b, c = alert("aaaaaaaaaaaaaaaa"), alert("bbbbbbbbbbbbbbbb"), alert("cccccccccccccccc")
    await auto_resolving.post(payload(a, b, c))
    cut = payload(resolved(a), resolved(b), truncatedAlerts=1)
    assert cut["status"] == "resolved"
    for _ in range(2):  # redelivered: one truncation entry
        status, _body = await auto_resolving.post(cut)
        assert status == 200
    incident = auto_resolving.incident
    assert requested_state(incident) == "triage"
    types = [e["type"] for e in incident["status"]["timeline"]]
    assert types.count("alerts-truncated") == 1
    (verdict,) = [e for e in incident["status"]["timeline"] if e["type"] == "alerts-resolved"]
    assert "1 alert(s) were not shown" in verdict["message"]
    assert "cccccccccccccccc" in verdict["message"], "seen firing, never seen resolved"
    seen = incident["status"]["alertmanager"]["alerts"]
    assert {f: s["status"] for f, s in seen.items()} == {
        "aaaaaaaaaaaaaaaa": "resolved",
        "bbbbbbbbbbbbbbbb": "resolved",
        "cccccccccccccccc": "firing",
    }
    # Untruncated, but c is still not among the alerts shown: still open.
    await auto_resolving.post(payload(resolved(a), resolved(b)))
    assert requested_state(auto_resolving.incident) == "triage"
    # Only when c, too, is seen resolved and nothing is hidden.
    await auto_resolving.post(payload(resolved(a), resolved(b), resolved(c)))
    assert requested_state(auto_resolving.incident) == "resolved"


async def test_a_resolved_group_without_an_incident_creates_none(world: World) -> None:
    ended = alert(status="resolved", ends_at="2026-11-27T14:30:00Z")
    status, body = await world.post(payload(ended))
    assert (status, body) == (
        200,
        {
            "action": "ignored",
            "namespace": "shop",
            "incident": None,
            "reason": "the group has no incident and none of its alerts fires",
        },
    )
    assert world.store.incidents == {}


async def test_the_group_firing_again_after_its_incident_closed_opens_the_next_one(
    world: World,
) -> None:
    await world.post(payload())
    world.store.accept_state("shop", NAME, "closed")
    again = alert(starts_at="2026-11-28T09:00:00Z")
    status, body = await world.post(payload(again))
    assert (status, body["action"], body["incident"]) == (200, "created", f"{NAME}-2")
    world.store.accept_state("shop", f"{NAME}-2", "resolved")
    # The late resolution of the second episode lands on the latest incident, creating nothing.
    ended = {**again, "status": "resolved", "endsAt": "2026-11-28T10:00:00Z"}
    status, body = await world.post(payload(ended))
    assert (status, body["incident"]) == (200, f"{NAME}-2")
    assert sorted(n for _, n in world.store.incidents) == [NAME, f"{NAME}-2"]


async def test_a_crash_after_create_is_retried_by_alertmanager_and_adopted(world: World) -> None:
    world.store.fail_create_after_store = True
    status, body = await world.post(payload())
    assert status == 503
    assert body == {
        "error": "could not record the alert group, retry later: create incident: "
        "connection reset after the write (fake)"
    }
    status, body = await world.post(payload())  # Alertmanager retries a 5xx
    assert (status, body["action"]) == (200, "updated")
    assert len(world.store.incidents) == 1
    incident = world.incident
    assert incident["status"]["timestamps"]["declared"] == "2026-11-27T14:05:00Z"
    assert [e["type"] for e in incident["status"]["timeline"]] == ["alert-firing", "declared"]


async def test_a_lost_timeline_write_still_records_the_declaration(world: World) -> None:
    """Found by the chaos run: the stamp landed, the timeline write did not, and the next
    delivery saw the stamp and never offered the ``declared`` entry again."""
    world.store.fail_next_timeline = True
    status, _ = await world.post(payload())
    assert status == 503
    assert world.incident["status"]["timestamps"]["declared"] == "2026-11-27T14:05:00Z"
    assert (await world.post(payload()))[0] == 200
    timeline = world.incident["status"]["timeline"]
    assert [e["type"] for e in timeline] == ["alert-firing", "declared"]
    assert timeline[1]["at"] == "2026-11-27T14:05:00Z"
    assert (await world.post(payload()))[0] == 200
    assert len(world.incident["status"]["timeline"]) == 2


async def test_a_long_group_key_is_truncated_in_the_ref_but_identifies_the_group(
    world: World,
) -> None:
    long_key = "{}:{" + ",".join(f'l{i}="{"v" * 20}"' for i in range(40)) + "}"
    await world.post(payload(groupKey=long_key))
    await world.post(payload(groupKey=long_key))
    incident = world.incident
    assert incident["spec"]["source"]["ref"] == long_key[:512]
    assert incident["metadata"]["name"] == f"am-{group_id(long_key)}"
