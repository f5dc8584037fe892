"""A local PagerDuty Events API v2 on a real port, for adapter and end-to-end tests.

Follows the documented contract rather than our adapter's habits: ``POST /v2/enqueue`` with
the routing key in the body; 202 ``{"status":"success","message":"Event processed",
"dedup_key":...}``; 400 ``{"status":"invalid event","message":"Event object is invalid",
"errors":[...]}`` for an unknown routing key or a malformed event; one alert per open dedup
key (repeated triggers add to it, a resolved key opens a new alert on the next trigger,
acknowledge/resolve of an unknown key are accepted and dropped). Fault injection:
``throttle_next`` (429 + Retry-After) and ``fail_next`` (5xx).

Run on its own: ``python -m tests.fakes.pagerduty --port 8081 --routing-key <32 chars>``.
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ENQUEUE_PATH = "/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


@dataclass
class Alert:
    dedup_key: str
    routing_key: str
    summary: str
    severity: str
    state: str = "triggered"
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Fault:
    status: int
    retry_after: float | None = None


class FakePagerDuty:
    def __init__(self, routing_keys: tuple[str, ...] | list[str] = ()) -> None:
        self.routing_keys = set(routing_keys)
        self.events: list[dict[str, Any]] = []
        """Every request body that reached the handler (accepted or not), in order."""
        self.alerts: list[Alert] = []
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- fault injection --------------------------------------------------------------
    def throttle_next(self, n: int = 1, retry_after: float | None = 30) -> None:
        self._faults += [_Fault(429, retry_after) for _ in range(n)]

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._faults += [_Fault(status) for _ in range(n)]

    # -- inspection ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ENQUEUE_PATH}"

    def open_alert(self, dedup_key: str, routing_key: str | None = None) -> Alert | None:
        for alert in reversed(self.alerts):
            if (
                alert.dedup_key == dedup_key
                and alert.state != "resolved"
                and routing_key in (None, alert.routing_key)
            ):
                return alert
        return None

    def alerts_for(self, dedup_key: str) -> list[Alert]:
        return [a for a in self.alerts if a.dedup_key == dedup_key]

    # -- server ----------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(ENQUEUE_PATH, self._enqueue)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _invalid(["Event object is not valid JSON"])
        if not isinstance(body, dict):
            return _invalid(["Event object must be a JSON object"])
        self.events.append(body)
        if self._faults:
            fault = self._faults.pop(0)
            if fault.status == 429:
                headers = (
                    {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                )
                return web.json_response(
                    {
                        "status": "throttle event",
                        "message": "Requests for this service are "
                        "arriving too quickly. Please retry later.",
                    },
                    status=429,
                    headers=headers,
                )
            return web.json_response(
                {"status": "error", "message": "internal error"}, status=fault.status
            )
        errors = self._validate(body)
        if errors:
            return _invalid(errors)
        return self._apply(body)

    def _validate(self, body: dict[str, Any]) -> list[str]:
        errors: list[str] = []
        routing_key = body.get("routing_key")
        if not isinstance(routing_key, str) or not routing_key:
            errors.append("'routing_key' is missing or blank")
        elif routing_key not in self.routing_keys:
            errors.append("Invalid routing key")
        action = body.get("event_action")
        if action not in ACTIONS:
            errors.append(
                "'event_action' is invalid (must be one of trigger, acknowledge, resolve)"
            )
        dedup = body.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > MAX_DEDUP_KEY):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            errors += _trigger_errors(body)
        return errors

    def _apply(self, body: dict[str, Any]) -> web.Response:
        action, routing_key = body["event_action"], body["routing_key"]
        key = body.get("dedup_key") or uuid.uuid4().hex
        alert = self.open_alert(key, routing_key)
        if action == "trigger":
            payload = body["payload"]
            if alert is None:
                alert = Alert(key, routing_key, payload["summary"], payload["severity"])
                self.alerts.append(alert)
            else:
                alert.summary, alert.severity = payload["summary"], payload["severity"]
            alert.events.append(body)
        elif alert is not None:  # ack/resolve of a closed or unknown key: accepted, dropped
            alert.events.append(body)
            alert.state = "acknowledged" if action == "acknowledge" else "resolved"
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )


def _trigger_errors(body: dict[str, Any]) -> list[str]:
    """PD-CEF's required fields and enums, as the real service checks them."""
    errors: list[str] = []
    payload = body.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or blank")
    else:
        summary, source = payload.get("summary"), payload.get("source")
        if not isinstance(summary, str) or not summary:
            errors.append("'payload.summary' is missing or blank")
        elif len(summary) > MAX_SUMMARY:
            errors.append("'payload.summary' is longer than 1024 characters")
        if not isinstance(source, str) or not source:
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in SEVERITIES:
            errors.append(
                "'payload.severity' is invalid (must be one of critical, error, warning, info)"
            )
    links = body.get("links", [])
    if not isinstance(links, list) or any(
        not isinstance(link, dict) or not link.get("href") for link in links
    ):
        errors.append("'links' must be a list of objects with 'href'")
    return errors


def _invalid(errors: list[str]) -> web.Response:
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=400,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--routing-key", action="append", required=True, dest="routing_keys")
    args = parser.parse_args(argv)
    fake = FakePagerDuty(args.routing_keys)
    app = fake.app()
    print(f"fake PagerDuty on http://{args.host}:{args.port}{ENQUEUE_PATH}", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
