"""``POST /alertmanager``: Alertmanager's webhook receiver.

Checks run cheapest first and before anything is read or written: configured (503), bearer
token (401), content type (415), body size (413) and read time (408), JSON and its nesting
(400, web/body.py), payload version and shape (422).
Only a notification that passed all of them reaches the service. 4xx answers tell Alertmanager
not to retry (retrying cannot fix them); 5xx answers make it retry, which is what a temporarily
unavailable API server needs. The token is compared in constant time and never logged, echoed
or put into an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from incident_operator.adapters.ports import TokenSource
from incident_operator.errors import IncidentOperatorError, TemporaryError
from incident_operator.services.alertmanager import AlertmanagerService

from .alertmanager_payload import VERSION, WebhookPayload
from .body import BodyRejected, parse_json, read_body

log = logging.getLogger(__name__)

PATH = "/alertmanager"
DEFAULT_MAX_BODY = 1024 * 1024
"""Alertmanager's default max_alerts is unlimited; 1 MiB holds ~1000 alerts of a group."""
MAX_ERRORS_SHOWN = 5
NOT_CONFIGURED = (
    "Alertmanager webhook is not configured: start the operator with "
    "--alertmanager-token-file or INCIDENT_OPERATOR_ALERTMANAGER_TOKEN"
)
MISSING_TOKEN = "missing bearer token: send 'Authorization: Bearer <token>'"
INVALID_TOKEN = "invalid bearer token"


def error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def token_matches(given: bytes, expected: bytes) -> bool:
    """Constant time in the token's content and length: both sides are hashed first, so
    ``compare_digest`` always compares 32 bytes and the timing says nothing about the secret."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else "number"
    )


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(exc: ValidationError) -> str:
    """pydantic's errors as one line with camelCase JSON paths: ``alerts[0].startsAt: ...``."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{_location(e['loc'])}: {e['msg']}" if e["loc"] else str(e["msg"])
        for e in errors[:MAX_ERRORS_SHOWN]
    ]
    more = len(errors) - MAX_ERRORS_SHOWN
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


class AlertmanagerWebhook:
    def __init__(
        self,
        service: AlertmanagerService | None,
        token: TokenSource | None,
        *,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        """``service`` or ``token`` None: the endpoint exists and answers 503 (not configured)."""
        self._service = service
        self._token = token
        self.max_body = max_body

    def _unauthorized(self, request: web.Request, expected: bytes) -> web.Response | None:
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            log.warning("Alertmanager webhook: request from %s without a token", request.remote)
            return error(401, MISSING_TOKEN, **{"WWW-Authenticate": 'Bearer realm="alertmanager"'})
        if not token_matches(given.strip().encode(), expected):
            log.warning("Alertmanager webhook: request from %s with a wrong token", request.remote)
            return error(
                401,
                INVALID_TOKEN,
                **{"WWW-Authenticate": 'Bearer realm="alertmanager", error="invalid_token"'},
            )
        return None

    async def handle(self, request: web.Request) -> web.Response:
        expected = self._token.current() if self._token is not None else None
        if self._service is None or expected is None:
            return error(503, NOT_CONFIGURED)
        if (denied := self._unauthorized(request, expected)) is not None:
            return denied
        if request.content_type != "application/json":
            return error(415, f"Content-Type must be application/json, got {request.content_type}")
        try:
            document = parse_json(await read_body(request, self.max_body))
        except BodyRejected as exc:
            return error(exc.status, exc.message)
        if not isinstance(document, dict):
            return error(422, f"payload must be a JSON object, got {_json_kind(document)}")
        version = document.get("version")
        if version != VERSION:
            got = "none" if version is None else json.dumps(version)[:32]
            return error(
                422, f'payload version must be "{VERSION}" (Alertmanager webhook), got {got}'
            )
        try:
            group = WebhookPayload.model_validate(document).to_domain()
        except ValidationError as exc:
            return error(422, f"invalid payload: {describe(exc)}")
        try:
            outcome = await self._service.receive(group)
        except TemporaryError as exc:
            log.warning("Alertmanager webhook: will be retried: %s", exc)
            headers = {"Retry-After": f"{exc.retry_after:.0f}"} if exc.retry_after else {}
            return error(503, f"could not record the alert group, retry later: {exc}", **headers)
        except IncidentOperatorError as exc:
            log.error("Alertmanager webhook: %s", exc)
            return error(500, f"could not record the alert group: {exc}")
        log.info(
            "Alertmanager group %s (%s, %d alerts) -> %s %s/%s",
            group.group_key,
            group.status,
            len(group.alerts),
            outcome.action,
            outcome.namespace,
            outcome.incident,
        )
        return web.json_response(
            {
                "action": str(outcome.action),
                "namespace": outcome.namespace,
                "incident": outcome.incident,
                **({"reason": outcome.reason} if outcome.reason else {}),
            }
        )
