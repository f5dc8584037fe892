"""HTTP outcomes of issue trackers and Grafana as our errors (secrets never in messages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from incident_operator.domain.paging import retry_after_seconds
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable

DEFAULT_RETRY_AFTER = 30.0


async def call(
    service: str, what: str, send: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response:
    """Send; 2xx returns the response, everything else raises the matching error."""
    try:
        response = await send()
    except httpx.HTTPError as exc:
        raise DeliveryUnavailable(f"{service} {what} failed: {type(exc).__name__}") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    if status == 429:
        wait = retry_after_seconds(
            response.headers.get("Retry-After"), now=datetime.now(UTC), default=DEFAULT_RETRY_AFTER
        )
        raise DeliveryThrottled(f"{service} throttled {what}", retry_after=wait)
    if status >= 500:
        raise DeliveryUnavailable(f"{service} answered HTTP {status} to {what}")
    raise DeliveryRejected(
        f"{service} refused {what} (HTTP {status}): {_detail(response)}", code=f"http {status}"
    )


def _detail(response: httpx.Response) -> str:
    """Jira ``errorMessages``/``errors``, GitHub and Grafana ``message``; bounded."""
    try:
        data: Any = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(data, dict):
        return ""
    parts = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    elif isinstance(errors, list):
        parts += [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    if data.get("message"):
        parts.insert(0, str(data["message"]))
    return "; ".join(parts)[:500]
