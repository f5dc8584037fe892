"""What an incident looks like in Slack: channel names, the status message, topic, reminders.

Pure so that the exact text every responder reads is pinned by golden tests, and so that the
adapter (which only moves bytes) and the comms service (which only decides *when*) never have
to know Slack's formatting rules. The limits quoted here are Slack's own:

- channel names: lowercase letters, digits, ``-`` and ``_``, at most 80 characters
  (``conversations.create`` answers ``invalid_name_specials`` / ``invalid_name_maxlength``);
- topic: 250 characters (``conversations.setTopic`` answers ``too_long``);
- Block Kit: header text 150 characters of plain_text, section fields at most 10 of 2000
  characters, buttons' text 75 characters, button URLs 3000 characters.

User-written text (titles, notes) goes into ``mrkdwn`` escaped (``&``, ``<``, ``>``) so a
title like ``<!channel> down`` cannot ping a whole channel or forge a link.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .checklists import TaskLine, open_count
from .comms import IncidentSummary

DEFAULT_CHANNEL_TEMPLATE = "inc-{date}-{slug}"
MAX_CHANNEL_NAME = 80
MAX_TOPIC = 250
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_URL = 3000
MAX_ACTIONS = 25
MAX_TEXT = 3000
"""Slack truncates a message's ``text`` at 40k; a status fallback never needs more than this."""

_ROLE_ORDER = ("commander", "communications", "operations", "scribe")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def escape(text: str) -> str:
    """Slack's three mrkdwn control characters, as its docs require them escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _tidy(name: str) -> str:
    """Slack's channel-name rules applied to any text; never empty, never ends in ``-``."""
    name = _NOT_ALLOWED.sub("-", name.lower())
    name = _DASHES.sub("-", name).strip("-")
    name = name[:MAX_CHANNEL_NAME].rstrip("-")
    return name or "incident"


def slug(title: str) -> str:
    """The title as channel-name words: ``Checkout returns 5xx!`` -> ``checkout-returns-5xx``."""
    return _DASHES.sub("-", _NOT_ALLOWED.sub("-", title.lower().replace("_", "-"))).strip("-")


def channel_name(template: str, summary: IncidentSummary, declared: datetime) -> str:
    """The incident channel's name from a template.

    Placeholders: ``{date}`` (yyyymmdd of the declaration, UTC), ``{slug}`` (from the title),
    ``{name}``, ``{namespace}``, ``{severity}``. Unknown placeholders stay as text (then
    tidied): a typo in the operator's configuration must not crash channel creation. Replaced
    literally rather than with ``str.format`` for the same reason (stray braces).
    """
    at = declared.astimezone(UTC)
    values = {
        "date": f"{at:%Y%m%d}",
        "slug": slug(summary.title),
        "name": summary.name,
        "namespace": summary.namespace,
        "severity": summary.severity,
    }
    name = template or DEFAULT_CHANNEL_TEMPLATE
    for key, value in values.items():
        name = name.replace("{" + key + "}", value)
    return _tidy(name)


def suffixed(name: str, n: int) -> str:
    """``name`` with ``-n`` for the n-th retry after Slack's ``name_taken`` (still <= 80)."""
    suffix = f"-{n}"
    return _tidy(name)[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-") + suffix


def _people(summary: IncidentSummary) -> tuple[str, str]:
    """(commander, the other roles as ``role: name`` text)."""
    commander = summary.roles.get("commander") or "unassigned"
    others = [
        f"{role}: {person}" for role in _ROLE_ORDER[1:] if (person := summary.roles.get(role))
    ]
    others += [
        f"{role}: {person}"
        for role, person in sorted(summary.roles.items())
        if role not in _ROLE_ORDER and person
    ]
    return commander, ", ".join(others) or "none"


def _slack_date(at: datetime) -> str:
    """Slack's date token: shown in each reader's own time zone, ISO text as the fallback."""
    epoch = int(at.timestamp())
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def _links(summary: IncidentSummary) -> list[tuple[str, str]]:
    out = [("Join the bridge", summary.bridge_url)] if summary.bridge_url else []
    out += [(label, url) for label, url in summary.links.items() if url]
    return out


def status_blocks(summary: IncidentSummary) -> list[dict[str, Any]]:
    """The live status message in Block Kit: header, facts as fields, summary, link buttons."""
    commander, others = _people(summary)
    facts = [
        ("Severity", summary.severity_display or summary.severity),
        ("State", summary.phase),
        ("Commander", commander),
        ("Other roles", others),
        ("Service", summary.service or "unknown"),
    ]
    if summary.slo:
        facts.append(("SLO", summary.slo))
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{escape(value)}", MAX_FIELD)}
        for label, value in facts
    ]
    fields.append({"type": "mrkdwn", "text": f"*Last update*\n{_slack_date(summary.updated)}"})
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(summary.title, MAX_HEADER)},
        },
        {"type": "section", "fields": fields},
    ]
    if summary.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(escape(summary.summary), MAX_TEXT)},
            }
        )
    if summary.tasks:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": tasks_text(summary.tasks)}}
        )
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _clip(label, MAX_BUTTON_TEXT)},
            "url": url,
            **({"style": "primary"} if i == 0 and summary.bridge_url else {}),
        }
        for i, (label, url) in enumerate(_links(summary))
        if len(url) <= MAX_BUTTON_URL
    ][:MAX_ACTIONS]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": escape(f"Incident {summary.key}")}],
        }
    )
    return blocks


def task_line(task: TaskLine) -> str:
    """``:white_check_mark: ~3. [commander] text~ (alice)`` or ``:white_large_square: 3. ...``
    (the text escaped: a task cannot mention or link)."""
    body = f"{task.number}. [{task.role}] {escape(task.text)}"
    if task.done:
        who = f" ({escape(task.done_by)})" if task.done_by else ""
        return f":white_check_mark: ~{body}~{who}"
    return f":white_large_square: {body}"


def tasks_text(tasks: tuple[TaskLine, ...]) -> str:
    """The status message's task list: open tasks first, at most what fits one section
    (the rest counted); ``/incident task done N`` ticks one."""
    head = f"*Tasks* ({open_count(tasks)} open of {len(tasks)}; `/incident task done N`)"
    ordered = sorted(tasks, key=lambda t: (t.done, t.number))
    lines: list[str] = [head]
    size = len(head)
    for shown, task in enumerate(ordered):
        line = task_line(task)
        rest = len(ordered) - shown
        if size + len(line) + 1 > MAX_TEXT - 64:
            lines.append(f"… and {rest} more (`kubectl incident show`)")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def status_text(summary: IncidentSummary) -> str:
    """Fallback text (notifications, screen readers, clients without Block Kit)."""
    commander, others = _people(summary)
    lines = [
        f"{summary.severity_display or summary.severity} {summary.title} [{summary.phase}]",
        f"Commander: {commander}; other roles: {others}; service: {summary.service or 'unknown'}",
    ]
    if summary.slo:
        lines.append(f"SLO: {summary.slo}")
    if summary.bridge_url:
        lines.append(f"Bridge: {summary.bridge_url}")
    lines += [f"{label}: {url}" for label, url in summary.links.items() if url]
    if summary.tasks:
        lines.append(f"Tasks: {open_count(summary.tasks)} open of {len(summary.tasks)}")
    lines.append(f"Last update: {summary.updated.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return _clip(escape("\n".join(lines)), MAX_TEXT)


def topic(summary: IncidentSummary) -> str:
    """The channel topic (<= 250): severity, state, commander, bridge, then as much title as fits.

    The title is what gets cut: the bridge URL is useless truncated, the title is on the status
    message anyway.
    """
    commander = summary.roles.get("commander") or "unassigned"
    head = f"{summary.severity_display or summary.severity} | {summary.phase} | IC: {commander}"
    tail = f" | Bridge: {summary.bridge_url}" if summary.bridge_url else ""
    room = MAX_TOPIC - len(head) - len(tail) - len(" | ")
    if room >= 8:
        return f"{head} | {_clip(summary.title, room)}{tail}"
    return _clip(head + tail, MAX_TOPIC)


def timeline_text(entry_type: str, message: str, author: str = "") -> str:
    """One timeline entry as a channel message: ``*note* text — author``."""
    who = f" — {escape(author)}" if author else ""
    return _clip(f"*{escape(entry_type)}* {escape(message)}{who}", MAX_TEXT)


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days}d{hours:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def reminder_text(summary: IncidentSummary, overdue_for: timedelta) -> str:
    """The nudge when the severity's ``updateEvery`` passed without a status update."""
    commander = summary.roles.get("commander")
    whom = f"{escape(commander)}, please" if commander else "Commander unassigned: someone please"
    return (
        f"Update overdue by {_duration(overdue_for)} for {escape(summary.title)} "
        f"({escape(summary.severity_display or summary.severity)}, {escape(summary.phase)}). "
        f"{whom} post a status update (`/incident note ...`)."
    )
