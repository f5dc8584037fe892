"""Slack with Socket Mode: the Web API fake plus ``apps.connections.open`` and a WebSocket.

Mirrors the real protocol (api.slack.com/apis/socket-mode): ``apps.connections.open`` needs
the *app-level* token (``xapp-…``; the bot token gets ``invalid_auth``) and answers a
``wss://`` URL (``ws://`` here); on connect Slack sends ``{"type": "hello", ...}``; requests
arrive as envelopes ``{"envelope_id", "type": "slash_commands" | "events_api", "payload",
"accepts_response_payload"}``; the app acknowledges with ``{"envelope_id", "payload"?}`` and
an envelope left unacknowledged is delivered again (``retry_attempt`` + 1).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack import Answer, FakeSlack

SOCKET_PATH = "/socket-mode"


class FakeSlackSocketMode(FakeSlack):
    def __init__(self, token: str, app_token: str, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self.app_token = app_token
        self.acks: dict[str, Any] = {}
        """envelope_id -> the ack's payload (None when the ack carried none)."""
        self.connections = 0
        self._sockets: list[web.WebSocketResponse] = []

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get(SOCKET_PATH, self._socket)
        return app

    def _dispatch(self, method: str, params: dict[str, Any], authorization: str) -> Answer:
        if method != "apps.connections.open":
            return super()._dispatch(method, params, authorization)
        token = authorization.partition(" ")[2].strip() or str(params.get("token", ""))
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": f"ws://{self.host}:{self.port}{SOCKET_PATH}?ticket=x"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        self._sockets.append(ws)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0FAKE"}}
        )
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    self.acks[str(ack.get("envelope_id"))] = ack.get("payload")
        finally:
            self._sockets.remove(ws)
        return ws

    async def push(self, type_: str, payload: dict[str, Any]) -> str:
        """Send one envelope to the connected app; returns its envelope id."""
        for _ in range(100):
            if self._sockets:
                break
            await asyncio.sleep(0.1)
        envelope_id = uuid.uuid4().hex
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": type_,
                "payload": payload,
                "accepts_response_payload": type_ == "slash_commands",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id
