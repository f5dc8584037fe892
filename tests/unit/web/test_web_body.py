"""Bounds on what outside clients can send: nesting, size and time (web/body.py).

Through the Alertmanager endpoint (the one whose 5xx makes its sender retry for ever) and the
Slack events endpoint, both on aiohttp's test server, plus the pure parts table-driven.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from incident_operator.adapters.secrets import StaticToken
from incident_operator.services.alertmanager import AlertmanagerService
from incident_operator.web import body as web_body
from incident_operator.web.alertmanager import AlertmanagerWebhook
from incident_operator.web.app import build_app
from incident_operator.web.body import MAX_DEPTH, BodyRejected, json_depth, parse_json
from tests.builders.alertmanager import payload
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

TOKEN = "t0ken"
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("document", "depth"),
    [
        (1, 0),
        ("[[[", 0),
        ([], 1),
        ({}, 1),
        ({"a": [1, {"b": "]]]"}]}, 3),
        ([[[[]]], [1]], 4),
        ({"alerts": [{"labels": {"a": "b"}}]}, 4),
    ],
)
def test_json_depth(document: Any, depth: int) -> None:
    assert json_depth(document) == depth


def test_json_depth_of_a_very_deep_document_does_not_recurse() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    assert json_depth(deep) == 100_001


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, f"nested deeper than {MAX_DEPTH} levels"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
        (b"[" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"a": ', "Expecting value"),
        (b"\xff\xfe\xfa", "not UTF-8"),
    ],
)
def test_parse_json_refuses_as_a_client_error(raw: bytes, message: str) -> None:
    with pytest.raises(BodyRejected) as caught:
        parse_json(raw)
    assert caught.value.status == 400
    assert message in caught.value.message


def test_parse_json_takes_nesting_up_to_the_bound() -> None:
    raw = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert json_depth(parse_json(raw)) == MAX_DEPTH


@pytest.fixture
async def alertmanager() -> AsyncIterator[tuple[TestClient[Any, Any], FakeStore]]:
    store = FakeStore()
    service = AlertmanagerService(store, FakeClock(NOW))
    app = build_app(alertmanager=AlertmanagerWebhook(service, StaticToken(TOKEN)))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, store
    finally:
        await client.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 50_000 + b"]" * 50_000,
        json.dumps(payload(padding="x")).replace('"x"', "[" * 20_000 + "]" * 20_000).encode(),
        b'{"version": "4", "x": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}",
    ],
    ids=["bare-array", "inside-a-valid-payload", "inside-an-object"],
)
async def test_deeply_nested_json_to_alertmanager_is_400_not_500(
    alertmanager: tuple[TestClient[Any, Any], FakeStore], raw: bytes
) -> None:
    client, store = alertmanager
    response = await client.post("/alertmanager", data=raw, headers=HEADERS)
    assert response.status == 400, await response.text()
    assert await response.json() == {
        "error": f"malformed JSON: nested deeper than {MAX_DEPTH} levels"
    }
    assert store.incidents == {}
    # The endpoint still works afterwards.
    response = await client.post("/alertmanager", data=json.dumps(payload()), headers=HEADERS)
    assert response.status == 200


async def test_a_body_trickling_in_slower_than_the_read_timeout_is_408(
    alertmanager: tuple[TestClient[Any, Any], FakeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = alertmanager
    monkeypatch.setattr(web_body, "READ_TIMEOUT", 0.3)
    # read_body's default was bound at definition: patch the function's default too.
    monkeypatch.setattr(web_body.read_body, "__kwdefaults__", {"timeout": 0.3})
    sent: list[int] = []

    async def slow() -> AsyncIterator[bytes]:
        yield b'{"version": "4", '
        for _ in range(50):
            await asyncio.sleep(0.1)
            sent.append(1)
            yield b" "
        yield b"}"

    response = await client.post("/alertmanager", data=slow(), headers=HEADERS)
    assert response.status == 408
    assert await response.json() == {"error": "request body not received within 0.3 s"}
    assert len(sent) < 50, "answered before the body ended"
    assert store.incidents == {}


async def test_read_body_takes_a_body_that_arrives_in_time() -> None:
    async def handler(request: web.Request) -> web.Response:
        try:
            return web.Response(body=await web_body.read_body(request, 10, timeout=5))
        except BodyRejected as exc:
            return web.Response(status=exc.status, text=exc.message)

    app = web.Application()
    app.router.add_post("/", handler)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        ok = await client.post("/", data=b"0123456789")
        assert (ok.status, await ok.read()) == (200, b"0123456789")
        big = await client.post("/", data=b"0123456789a")
        assert (big.status, await big.text()) == (413, "request body exceeds 10 bytes")
    finally:
        await client.close()
