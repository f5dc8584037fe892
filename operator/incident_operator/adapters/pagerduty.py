"""Pager on PagerDuty's Events API v2 over an injected ``httpx.AsyncClient``.

The client is injected (built once at start-up, closed at cleanup) so tests can point it at the
local fake over real HTTP, or use ``httpx.MockTransport``. The routing key is a secret: it is
only ever put into the request body, never into a log line, an exception or ``repr``; text the
service sends back is scrubbed of it before it reaches an exception.

Response handling follows PagerDuty's table: 202 accepted; 400 invalid event (do not retry →
``DeliveryRejected``); 429 (retry later → ``DeliveryThrottled``); 5xx and network errors (retry
later → ``DeliveryUnavailable``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.paging import (
    DEFAULT_THROTTLE_SECONDS,
    EventAction,
    event_payload,
    follow_up,
    retry_after_seconds,
)
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
REDACTED = "[redacted]"

log = logging.getLogger(__name__)


class PagerDutyEvents:
    """Trigger/acknowledge/resolve alerts; each call is one POST and safe to repeat."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        routing_key: str,
        *,
        url: str = DEFAULT_URL,
        timeout: float = 10.0,
        default_retry_after: float = DEFAULT_THROTTLE_SECONDS,
    ) -> None:
        self._client = client
        self._routing_key = routing_key
        self._url = url
        self._timeout = timeout
        self._default_retry_after = default_retry_after

    def __repr__(self) -> str:
        return f"PagerDutyEvents(url={self._url!r}, routing_key={REDACTED})"

    async def trigger(self, summary: IncidentSummary, *, dedup_key: str, urgency: str) -> None:
        await self._send(event_payload(summary, dedup_key=dedup_key, urgency=urgency))

    async def acknowledge(self, dedup_key: str) -> None:
        await self._send(follow_up(EventAction.ACKNOWLEDGE, dedup_key))

    async def resolve(self, dedup_key: str) -> None:
        await self._send(follow_up(EventAction.RESOLVE, dedup_key))

    async def _send(self, event: dict[str, Any]) -> None:
        action, key = event["event_action"], event["dedup_key"]
        body = {"routing_key": self._routing_key, **event}
        try:
            response = await self._client.post(self._url, json=body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            log.warning("PagerDuty %s for %s failed: %s", action, key, type(exc).__name__)
            raise DeliveryUnavailable(
                f"PagerDuty {action} failed: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        status = response.status_code
        log.info("PagerDuty %s for %s: HTTP %d", action, key, status)
        if 200 <= status < 300:
            return
        if status == 429:
            wait = retry_after_seconds(
                response.headers.get("Retry-After"),
                now=datetime.now(UTC),
                default=self._default_retry_after,
            )
            raise DeliveryThrottled(f"PagerDuty throttled the {action} event", retry_after=wait)
        if status >= 500:
            raise DeliveryUnavailable(f"PagerDuty answered HTTP {status} to the {action} event")
        code, detail = self._error(response)
        raise DeliveryRejected(
            f"PagerDuty rejected the {action} event (HTTP {status}, {code}): {detail}", code=code
        )

    def _error(self, response: httpx.Response) -> tuple[str, str]:
        """``status`` (e.g. ``invalid event``) and the ``errors`` list of a refusal, scrubbed."""
        try:
            data = response.json()
        except ValueError:
            return f"http {response.status_code}", self._scrub(response.text[:200])
        if not isinstance(data, dict):
            return f"http {response.status_code}", ""
        code = str(data.get("status") or f"http {response.status_code}")
        errors = data.get("errors")
        parts = [str(e) for e in errors] if isinstance(errors, list) else []
        detail = "; ".join(parts) or str(data.get("message", ""))
        return self._scrub(code), self._scrub(detail)

    def _scrub(self, text: str) -> str:
        return text.replace(self._routing_key, REDACTED) if self._routing_key else text
