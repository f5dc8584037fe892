"""Notifiers over HTTP: a Microsoft Teams incoming webhook and a generic HMAC-signed webhook.

Both take an injected ``httpx.AsyncClient`` (one per operator, closed at cleanup; tests pass one
aimed at the local fakes or built on ``httpx.MockTransport``). Webhook URLs embed their
credentials (a Teams URL *is* the token), so neither the URL nor the signing secret ever
appears in a log line, an exception or ``repr``; httpx errors are replaced (``from None``)
rather than chained because their text and attributes can carry the URL.

Teams quirk (MicrosoftDocs/msteams-docs#400, #4145, #7425): the classic incoming webhook
answers ``200`` with body ``1`` on success but also ``200`` with a text like "Webhook message
delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 ..." when the
channel side fails, so the body is read, not only the status. Workflows-based webhooks answer
``202`` with an empty body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import OrderedDict

import httpx

from incident_operator.domain.cards import sign, teams_card, timestamp, webhook_payload
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.paging import retry_after_seconds
from incident_operator.errors import DeliveryRejected, DeliveryThrottled, DeliveryUnavailable

from .clock import SystemClock
from .ports import Clock

DEFAULT_RETRY_AFTER = 60.0
"""Neither Teams nor an arbitrary receiver promises a Retry-After; a minute is polite."""

EVENT_HEADER = "X-Incident-Operator-Event"
TIMESTAMP_HEADER = "X-Incident-Operator-Timestamp"
SIGNATURE_HEADER = "X-Incident-Operator-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_TEAMS_EMBEDDED = re.compile(r"returned HTTP error (\d{3})")
_REMEMBERED_KEYS = 1024

log = logging.getLogger(__name__)


class _RedactUrls(logging.Filter):
    """Rewrites httpx's own "HTTP Request: POST <url> ..." INFO line, which would otherwise
    print a webhook URL (and so its token) into the operator's log."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.urls:
            return True
        message = record.getMessage()
        redacted = message
        for url in self.urls:
            redacted = redacted.replace(url, "[redacted webhook URL]")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACT = _RedactUrls()
logging.getLogger("httpx").addFilter(_REDACT)


def _hide(url: str) -> None:
    """Register a secret URL (as given and as httpx normalises it) with the log filter."""
    _REDACT.urls.add(url)
    with contextlib.suppress(httpx.InvalidURL):
        _REDACT.urls.add(str(httpx.URL(url)))


class _Sender:
    """POST + translation shared by both notifiers; ``name`` is what errors and logs call it."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, *, name: str, timeout: float, clock: Clock
    ) -> None:
        self._client = client
        self._url = url
        self._name = name
        self._timeout = timeout
        self._clock = clock
        self._sent: OrderedDict[str, None] = OrderedDict()
        _hide(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, url=[redacted])"

    def _already_sent(self, key: str) -> bool:
        """Repeats of a key this process delivered already are dropped (best effort: Teams has
        no idempotency of its own, and a failed status write must not post the card twice)."""
        return bool(key) and key in self._sent

    def _remember(self, key: str) -> None:
        if key:
            self._sent[key] = None
            while len(self._sent) > _REMEMBERED_KEYS:
                self._sent.popitem(last=False)

    async def _post(self, content: bytes, headers: dict[str, str], event: str) -> httpx.Response:
        try:
            response = await self._client.post(
                self._url,
                content=content,
                headers={"Content-Type": "application/json", **headers},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            log.warning("%s %s delivery failed: %s", self._name, event, type(exc).__name__)
            raise DeliveryUnavailable(f"{self._name} unreachable ({type(exc).__name__})") from None
        log.info("%s %s delivery: HTTP %d", self._name, event, response.status_code)
        return response

    def _raise_for(self, status: int, response: httpx.Response, detail: str) -> None:
        if 200 <= status < 300:
            return
        if status == 429:
            wait = retry_after_seconds(
                response.headers.get("Retry-After"),
                now=self._clock.now(),
                default=DEFAULT_RETRY_AFTER,
            )
            raise DeliveryThrottled(f"{self._name} throttled the notification", retry_after=wait)
        if status >= 500 or status == 408:
            raise DeliveryUnavailable(f"{self._name} answered HTTP {status}")
        raise DeliveryRejected(
            f"{self._name} refused the notification (HTTP {status}){detail}", code=f"http {status}"
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._url, "[redacted]")


class TeamsWebhook(_Sender):
    """Notifier posting an Adaptive Card to a Teams incoming webhook (or Workflows webhook)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            client, url, name="Teams webhook", timeout=timeout, clock=clock or SystemClock()
        )

    async def notify(self, summary: IncidentSummary, *, event: str, idempotency_key: str) -> None:
        if self._already_sent(idempotency_key):
            return
        content = json.dumps(teams_card(summary, event)).encode()
        response = await self._post(content, {}, event)
        status, text = response.status_code, response.text.strip()
        if 200 <= status < 300 and text not in ("", "1"):
            embedded = _TEAMS_EMBEDDED.search(text)
            if embedded:
                status = int(embedded.group(1))
            elif text.startswith("Webhook message delivery failed"):
                status = 502  # "Error contacting Microsoft Teams endpoint"
        self._raise_for(status, response, f": {self._scrub(text[:200])}" if text else "")
        self._remember(idempotency_key)


class SignedWebhook(_Sender):
    """Notifier posting the documented JSON (``domain.cards``) signed with HMAC-SHA256."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(client, url, name="webhook", timeout=timeout, clock=clock or SystemClock())
        self._secret = secret

    async def notify(self, summary: IncidentSummary, *, event: str, idempotency_key: str) -> None:
        if self._already_sent(idempotency_key):
            return
        now = self._clock.now()
        content = json.dumps(webhook_payload(summary, event, now), sort_keys=True).encode()
        ts = timestamp(now)
        headers = {
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self._secret, ts, content),
        }
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        response = await self._post(content, headers, event)
        self._raise_for(response.status_code, response, self._detail(response))
        self._remember(idempotency_key)

    def _detail(self, response: httpx.Response) -> str:
        """A short, scrubbed excerpt of a refusal (receivers often say why in the body)."""
        text = response.text.strip()[:200]
        secret = self._secret.decode(errors="ignore")
        if secret:
            text = text.replace(secret, "[redacted]")
        return f": {self._scrub(text)}" if text else ""
