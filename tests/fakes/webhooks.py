"""Local webhook endpoints on real ports: a Teams incoming webhook and a signed-JSON receiver.

``FakeTeams`` behaves like the classic Teams incoming webhook: the URL path carries the token
(unknown token → 404), a valid message with an Adaptive Card attachment → ``200`` body ``1``,
anything else → ``400 Bad payload received by generic incoming webhook.``; it can also answer
the way Teams reports channel-side failures — ``200`` with "Webhook message delivery failed
with error: Microsoft Teams endpoint returned HTTP error <code> ..." (``fail_delivery_next``).

``FakeWebhookReceiver`` is what a user's receiver should do with our generic webhook: verify
``X-Incident-Operator-Signature`` over the raw body with :func:`domain.cards.verify`
(401 when wrong or stale), drop repeats of an ``Idempotency-Key`` (200, not recorded twice),
and record deliveries.

Both: ``throttle_next(n, retry_after)`` (429 + Retry-After), ``fail_next(n, status)``, and
``start()``/``stop()`` on 127.0.0.1 with port 0 by default.
Run on their own: ``python -m tests.fakes.webhooks --port 8082 --teams-token T --secret S``.
"""

from __future__ import annotations

import argparse
import json
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from incident_operator.domain.cards import ADAPTIVE_CARD, verify

TEAMS_PREFIX = "/webhookb2/"
RECEIVER_PATH = "/hooks/incident"
BAD_PAYLOAD = "Bad payload received by generic incoming webhook."


@dataclass
class _Fault:
    status: int
    retry_after: float | None = None
    embedded: bool = False


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Endpoint:
    """Faults, recording and the AppRunner shared by both fakes."""

    deliveries: list[Delivery] = field(default_factory=list)
    requests: int = 0
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    """Serve https with this context (a URL that must be https, e.g. a Team's webhook)."""
    _faults: list[_Fault] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def throttle_next(self, n: int = 1, retry_after: float | None = 30) -> None:
        self._faults += [_Fault(429, retry_after) for _ in range(n)]

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._faults += [_Fault(status) for _ in range(n)]

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=self.ssl_context).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _fault_response(self) -> web.Response | None:
        if not self._faults:
            return None
        fault = self._faults.pop(0)
        if fault.embedded:
            return web.Response(
                status=200,
                text="Webhook message delivery failed with error: Microsoft Teams endpoint "
                f"returned HTTP error {fault.status} with ContextId tcid=0,server=fake,cv=x",
            )
        headers = {}
        if fault.status == 429 and fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        return web.Response(status=fault.status, text="fault injected", headers=headers)


@dataclass
class FakeTeams(_Endpoint):
    token: str = "fake-teams-token"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{TEAMS_PREFIX}{self.token}"

    def fail_delivery_next(self, n: int = 1, status: int = 429) -> None:
        """Teams' own way: HTTP 200 whose text says the channel side returned ``status``."""
        self._faults += [_Fault(status, embedded=True) for _ in range(n)]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(TEAMS_PREFIX + "{token}", self._post)
        return app

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [d.json["attachments"][0]["content"] for d in self.deliveries]

    async def _post(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.match_info["token"] != self.token:
            return web.Response(status=404, text="Not Found")
        fault = self._fault_response()
        if fault is not None:
            return fault
        body = await request.read()
        if not _is_teams_message(body):
            return web.Response(status=400, text=BAD_PAYLOAD)
        self.deliveries.append(Delivery(dict(request.headers), body))
        return web.Response(status=200, text="1")


def _is_teams_message(body: bytes) -> bool:
    try:
        message = json.loads(body)
    except ValueError:
        return False
    if not isinstance(message, dict) or message.get("type") != "message":
        return False
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return False
    return all(
        isinstance(a, dict)
        and a.get("contentType") == ADAPTIVE_CARD
        and isinstance(a.get("content"), dict)
        and a["content"].get("type") == "AdaptiveCard"
        and isinstance(a["content"].get("body"), list)
        for a in attachments
    )


@dataclass
class FakeWebhookReceiver(_Endpoint):
    secret: bytes = b"fake-webhook-secret"
    rejected: int = 0
    duplicates: int = 0
    _seen: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{RECEIVER_PATH}"

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [d.json for d in self.deliveries]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(RECEIVER_PATH, self._post)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        self.requests += 1
        fault = self._fault_response()
        if fault is not None:
            return fault
        body = await request.read()
        timestamp = request.headers.get("X-Incident-Operator-Timestamp", "")
        signature = request.headers.get("X-Incident-Operator-Signature", "")
        if not verify(self.secret, timestamp, body, signature, now=datetime.now(UTC)):
            self.rejected += 1
            return web.json_response({"error": "invalid signature"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        if key and key in self._seen:
            self.duplicates += 1
            return web.json_response({"ok": True, "duplicate": True})
        if key:
            self._seen.add(key)
        self.deliveries.append(Delivery(dict(request.headers), body))
        return web.json_response({"ok": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--teams-token", default="fake-teams-token")
    parser.add_argument("--secret", default="fake-webhook-secret")
    args = parser.parse_args(argv)
    teams = FakeTeams(token=args.teams_token)
    receiver = FakeWebhookReceiver(secret=args.secret.encode())
    app = web.Application()
    app.router.add_post(TEAMS_PREFIX + "{token}", teams._post)
    app.router.add_post(RECEIVER_PATH, receiver._post)
    base = f"http://{args.host}:{args.port}"
    print(
        f"fake Teams on {base}{TEAMS_PREFIX}<token>, receiver on {base}{RECEIVER_PATH}", flush=True
    )
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
