"""Teams Adaptive Card and generic webhook JSON for an incident, plus the webhook signature.

Pure: both renderings come from the shared :class:`IncidentSummary`, so Teams, a generic
receiver, Slack and PagerDuty never disagree on the facts. The signature lives here (stdlib
``hmac``) rather than in the adapter so that the sender and every receiver — our fakes, and
anyone writing a receiver from the docs — use the same few lines.

Generic webhook contract (``WEBHOOK_VERSION`` 1; extend, never rename)::

    POST <url>
    Content-Type: application/json
    X-Incident-Operator-Event: declared|updated|resolved|...
    X-Incident-Operator-Timestamp: <unix seconds>
    X-Incident-Operator-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    Idempotency-Key: <key; the same for every retry of one notification>

    {"version": 1, "event": "...", "sentAt": "...Z",
     "incident": {"namespace", "name", "title", "summary", "service",
                  "severity": {"name", "display", "level"}, "phase", "roles", "declared",
                  "updated", "private", "links", "bridgeUrl", "slo", "impact"},
     "stakeholderUpdate": {"sequence", "text", "nextUpdateAt", "final"}}
                         (event stakeholder-update only; the Severity's spec.stakeholders)

Receivers verify the signature over the raw body and refuse timestamps outside a window
(five minutes by default) so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from .comms import IncidentSummary
from .times import iso

WEBHOOK_VERSION = 1
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = timedelta(minutes=5)
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_VERSION = "1.4"
"""Teams renders Adaptive Cards up to 1.5 on desktop; 1.4 keeps mobile clients on board."""

ROLE_ORDER = ("commander", "communications", "operations", "scribe")


def _role_facts(summary: IncidentSummary) -> list[dict[str, str]]:
    named = [r for r in ROLE_ORDER if r in summary.roles]
    named += sorted(r for r in summary.roles if r not in ROLE_ORDER)
    return [
        {"title": role.capitalize(), "value": summary.roles[role] or "unassigned"} for role in named
    ]


def _severity_color(level: int) -> str:
    """Adaptive Card text colour: the worst two levels stand out."""
    return "Attention" if level <= 2 else "Warning" if level == 3 else "Default"


def teams_card(summary: IncidentSummary, event: str) -> dict[str, Any]:
    """A Teams incoming-webhook message carrying one Adaptive Card.

    Shape per Microsoft's "send Adaptive Cards using an incoming webhook": a ``message`` with
    one attachment of content type ``application/vnd.microsoft.card.adaptive``. Links become
    ``Action.OpenUrl`` buttons, the bridge first because it is what responders click.
    """
    facts = [
        {"title": "Severity", "value": summary.severity_display or summary.severity},
        {"title": "State", "value": summary.phase},
        {"title": "Service", "value": summary.service or "-"},
        *_role_facts(summary),
    ]
    if summary.declared is not None:
        facts.append({"title": "Declared", "value": iso(summary.declared)})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{event.capitalize()}: {summary.title}",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": f"{summary.severity_display or summary.severity} · {summary.key}",
            "color": _severity_color(summary.severity_level),
            "weight": "Bolder",
            "spacing": "None",
            "wrap": True,
        },
    ]
    if summary.stakeholder is not None:
        body.append({"type": "TextBlock", "text": summary.stakeholder.text, "wrap": True})
    elif summary.summary:
        body.append({"type": "TextBlock", "text": summary.summary, "wrap": True})
    body.append({"type": "FactSet", "facts": facts})
    if summary.slo:
        body.append({"type": "TextBlock", "text": f"SLO: {summary.slo}", "wrap": True})
    if summary.bridge_url:
        body.append(
            {"type": "TextBlock", "text": f"Bridge: [join]({summary.bridge_url})", "wrap": True}
        )
    actions: list[dict[str, Any]] = []
    if summary.bridge_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "Join bridge", "url": summary.bridge_url}
        )
    actions += [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in summary.links.items()
        if url
    ]
    content: dict[str, Any] = {
        "$schema": ADAPTIVE_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": content}],
    }


def webhook_payload(summary: IncidentSummary, event: str, at: datetime) -> dict[str, Any]:
    """The generic webhook JSON (see the module docstring); ``at`` is the sending instant."""
    payload: dict[str, Any] = {
        "version": WEBHOOK_VERSION,
        "event": event,
        "sentAt": iso(at),
        "incident": {
            "namespace": summary.namespace,
            "name": summary.name,
            "title": summary.title,
            "summary": summary.summary,
            "service": summary.service,
            "severity": {
                "name": summary.severity,
                "display": summary.severity_display,
                "level": summary.severity_level,
            },
            "phase": summary.phase,
            "roles": dict(summary.roles),
            "declared": iso(summary.declared) if summary.declared is not None else None,
            "updated": iso(summary.updated),
            "private": summary.private,
            "links": dict(summary.links),
            "bridgeUrl": summary.bridge_url or None,
            "slo": summary.slo or None,
            "impact": str(summary.impact),
        },
    }
    if summary.stakeholder is not None:
        note = summary.stakeholder
        payload["stakeholderUpdate"] = {
            "sequence": note.sequence,
            "text": note.text,
            "nextUpdateAt": iso(note.next_due) if note.next_due is not None else None,
            "final": note.final,
        }
    return payload


def timestamp(at: datetime) -> str:
    """The ``X-Incident-Operator-Timestamp`` value: whole Unix seconds."""
    return str(int(at.timestamp()))


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC over ``"<timestamp>." + body``.

    The timestamp is inside the MAC so a receiver's freshness check cannot be defeated by
    swapping the header on a captured request (the scheme Stripe and Slack use).
    """
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """True when the signature matches and the timestamp is within ``tolerance`` of ``now``.

    Constant-time comparison; a malformed timestamp or signature is simply not valid.
    """
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
