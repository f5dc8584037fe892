"""Subscriber webhooks over HTTP: the same signature scheme as the operator's own signed
webhook (``domain.cards.sign``: ``X-Incident-Operator-Signature: sha256=<HMAC-SHA256(secret,
"<timestamp>." + body)>``), one secret per subscriber.

Each URL is registered with the httpx log filter of ``adapters/webhooks.py`` before it is
called, so neither it nor the secret appears in a log line or an error.
"""

from __future__ import annotations

import httpx

from incident_operator.domain.cards import sign, timestamp

from .clock import SystemClock
from .ports import Clock
from .webhooks import EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from .webhooks import _Sender as Sender


class HttpSubscriberWebhook:
    def __init__(
        self, client: httpx.AsyncClient, *, timeout: float = 10.0, clock: Clock | None = None
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return "HttpSubscriberWebhook()"

    async def post(self, url: str, secret: bytes, body: bytes, *, event: str, key: str) -> None:
        sender = Sender(
            self._client,
            url,
            name="subscriber webhook",
            timeout=self._timeout,
            clock=self._clock,
        )
        ts = timestamp(self._clock.now())
        headers = {
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(secret, ts, body),
            IDEMPOTENCY_HEADER: key,
        }
        response = await sender._post(body, headers, event)
        sender._raise_for(response.status_code, response, "")
