"""PagerDuty Events API v2 bodies for an incident, built from the shared :class:`IncidentSummary`.

Pure: the adapter adds the routing key (a secret read from a Kubernetes Secret by the caller)
and does the HTTP. Keeping the body here lets the unit tests pin the exact event PagerDuty
receives without a network, and keeps the routing key out of every value this module returns.

Contract (developer.pagerduty.com, "Send an Alert Event"): ``dedup_key`` at most 255 characters,
``payload.summary`` at most 1024, ``payload.severity`` one of critical|error|warning|info,
``payload.source`` required; acknowledge/resolve carry only the action and the dedup key.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

from .comms import IncidentSummary
from .times import iso

DEDUP_PREFIX = "incident-operator"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
EVENT_CLASS = "incident"
DEFAULT_THROTTLE_SECONDS = 30.0
"""PagerDuty's rate-limit page suggests retrying a 429 "3 times with each request being 30
seconds apart"; used when the response carries no Retry-After."""


class EventAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class PdSeverity(StrEnum):
    """The four PD-CEF severities; PagerDuty's dynamic notifications page high urgency for the
    first two, so the mapping below decides who gets woken up."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


def dedup_key(namespace: str, name: str, uid: str = "") -> str:
    """``incident-operator/<ns>/<name>[/<uid>]``, at most 255 characters.

    Deterministic on purpose: the outbox delivers at least once, so a restart that re-sends a
    trigger must land on the same PagerDuty alert instead of opening a second page, and a later
    acknowledge/resolve must find it without any stored state. The uid (when given) keeps a
    deleted-and-recreated incident with the same name from reusing the old alert. Names that
    would overflow the limit are cut and suffixed with a hash of the full key, so two long
    names never collide.
    """
    key = "/".join(part for part in (DEDUP_PREFIX, namespace, name, uid) if part)
    if len(key) <= MAX_DEDUP_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_DEDUP_KEY - len(digest) - 1]}-{digest}"


def escalation_dedup_key(namespace: str, name: str, level: int) -> str:
    """``incident-operator/<ns>/<name>/escalation/<level>``: an escalation step's own alert
    (a new key, so PagerDuty notifies again), as deterministic as the incident's."""
    return dedup_key(namespace, f"{name}/escalation/{level}")


def pd_severity(level: int) -> PdSeverity:
    """Severity level (1 = worst) to PagerDuty severity: 1 critical, 2 error, 3 warning, 4+ info.

    Levels outside 1..5 are clamped rather than refused: a page with a coarse severity is
    better than no page for a cluster whose Severity objects use an unusual scale.
    """
    if level <= 1:
        return PdSeverity.CRITICAL
    if level == 2:
        return PdSeverity.ERROR
    if level == 3:
        return PdSeverity.WARNING
    return PdSeverity.INFO


def truncate(text: str, limit: int) -> str:
    """Cut to ``limit`` characters with an ellipsis, so the service never refuses a long title."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_summary(summary: IncidentSummary) -> str:
    """The alert title responders see on their phone: severity, title, service."""
    service = f" ({summary.service})" if summary.service else ""
    return truncate(f"[{summary.severity_display}] {summary.title}{service}", MAX_SUMMARY)


def links(summary: IncidentSummary) -> list[dict[str, str]]:
    """Bridge first (the thing a paged responder needs), then the summary's labelled links."""
    out = [{"href": summary.bridge_url, "text": "Bridge"}] if summary.bridge_url else []
    out += [{"href": url, "text": label} for label, url in summary.links.items() if url]
    return out


def event_payload(
    summary: IncidentSummary,
    *,
    dedup_key: str,
    urgency: str = Urgency.HIGH,
    action: EventAction = EventAction.TRIGGER,
) -> dict[str, Any]:
    """The Events v2 body without ``routing_key`` (the adapter adds it just before sending).

    A trigger carries the full PD-CEF payload; acknowledge and resolve carry only the action
    and the dedup key, as the API documents. Events v2 has no urgency field (urgency is a
    service setting, or derived from severity by dynamic notifications), so the requested
    urgency travels in ``custom_details`` for event rules to act on.
    """
    if action is not EventAction.TRIGGER:
        return follow_up(action, dedup_key)
    details: dict[str, Any] = {
        "incident": summary.key,
        "phase": summary.phase,
        "severity": summary.severity,
        "severity_level": summary.severity_level,
        "urgency": str(urgency),
        "roles": {role: who for role, who in summary.roles.items() if who},
        "updated": iso(summary.updated),
    }
    if summary.declared is not None:
        details["declared"] = iso(summary.declared)
    if summary.summary:
        details["summary"] = summary.summary
    if summary.slo:
        details["slo"] = summary.slo
    if summary.bridge_url:
        details["bridge"] = summary.bridge_url
    if summary.private:
        details["private"] = True
    return {
        "event_action": str(EventAction.TRIGGER),
        "dedup_key": dedup_key,
        "payload": {
            "summary": alert_summary(summary),
            "source": summary.service or summary.key,
            "severity": str(pd_severity(summary.severity_level)),
            "timestamp": iso(summary.updated),
            "component": summary.service or summary.name,
            "group": summary.namespace,
            "class": EVENT_CLASS,
            "custom_details": details,
        },
        "links": links(summary),
    }


def follow_up(action: EventAction, dedup_key: str) -> dict[str, Any]:
    """Acknowledge or resolve: only the action and the key (plus the routing key, added later)."""
    return {"event_action": str(action), "dedup_key": dedup_key}


def retry_after_seconds(value: str | None, *, now: datetime, default: float) -> float:
    """A Retry-After header (delta seconds or HTTP date) as seconds to wait, never negative.

    Shared by the PagerDuty and webhook adapters; a missing or unreadable header gives the
    caller's ``default`` so a throttled delivery always waits *some* time.
    """
    if not value:
        return default
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        return default
    return max(0.0, (when - now).total_seconds())
