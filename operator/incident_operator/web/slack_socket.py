"""Slack Socket Mode: slash commands and events over a WebSocket the operator opens.

For clusters without a public endpoint: instead of Slack POSTing to /slack/commands and
/slack/events, the operator calls ``apps.connections.open`` with an app-level token
(``xapp-…``) and Slack sends the same payloads as envelopes over the WebSocket. Each envelope
is acknowledged with its ``envelope_id`` (a slash command's ephemeral reply rides in the ack),
so the same 3-second rule holds; the work itself is the HTTP path's
(:meth:`SlackEndpoints.answer_command`, :meth:`SlackEndpoints.take_event`), so both transports
behave identically — including event deduplication, which matters because Slack re-sends an
envelope that was not acknowledged. Requests need no signature check here: only Slack can
send on a connection authenticated with our app token.

slack_sdk's aiohttp client reconnects by itself (``auto_reconnect_enabled``); it runs on the
operator's loop, started and stopped with the HTTP application.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from incident_operator.adapters.ports import TokenSource
from incident_operator.services.chat_commands import ChatCommandExecutor

from .slack import EventOutcome, SlackEndpoints

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0


class SlackSocketMode:
    def __init__(
        self,
        endpoints: SlackEndpoints,
        executor: ChatCommandExecutor,
        app_token: TokenSource,
        *,
        api_url: str = "https://slack.com/api/",
    ) -> None:
        self._endpoints = endpoints
        self._executor = executor
        self._token = app_token
        self._api_url = api_url
        self._client: SocketModeClient | None = None
        self.handled = 0
        """Envelopes acknowledged so far (for tests and logs)."""

    def __repr__(self) -> str:
        return f"SlackSocketMode(api_url={self._api_url!r}, app_token=<redacted>)"

    async def start(self, _: web.Application | None = None) -> None:
        token = self._token.current()
        if not token:
            log.error("Slack Socket Mode not started: the app-level token is empty or missing")
            return
        client = SocketModeClient(
            app_token=token.decode(),
            web_client=AsyncWebClient(base_url=self._api_url),
            logger=logging.getLogger("incident_operator.slack_socket_mode"),
        )
        client.socket_mode_request_listeners.append(self._on_request)
        try:
            # slack_sdk's connect() retries a refused token forever (and only logs): ask for the
            # WebSocket URL once ourselves so a wrong token is an error we can report.
            await client.issue_new_wss_url()
            await asyncio.wait_for(client.connect(), CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Not fatal for the operator (chat commands are one input among several), but loud.
            code = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc)
            log.error("Slack Socket Mode not connected: %s", code)
            await client.close()  # type: ignore[no-untyped-call]
            return
        self._client = client
        log.info("Slack Socket Mode connected")

    async def stop(self, _: web.Application | None = None) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    async def _on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        payload: Any = req.payload
        if req.type == "slash_commands":
            form = {str(k): str(v) for k, v in dict(payload or {}).items()}
            reply = await self._endpoints.answer_command(self._executor, form)
            await self._ack(client, req, reply or None)
        elif req.type == "events_api":
            outcome = await self._endpoints.take_event(
                self._executor, dict(payload or {}), str(req.retry_attempt or "")
            )
            if outcome is not EventOutcome.RETRY:  # unacknowledged: Slack sends it again
                await self._ack(client, req)
        elif req.type == "interactive":
            answer = await self._endpoints.answer_interaction(dict(payload or {}))
            await self._ack(client, req, answer)
        else:
            await self._ack(client, req)  # other types: not ours, but never left hanging

    async def _ack(
        self,
        client: AsyncBaseSocketModeClient,
        req: SocketModeRequest,
        payload: dict[str, Any] | None = None,
    ) -> None:
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )
        self.handled += 1
