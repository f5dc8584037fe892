"""Stakeholder updates on the Severity's cadence: which is due, when, what it says — pure.

The Severity (cluster-scoped, admin-written) sets the cadence (``spec.stakeholders``); the
incident's status keeps what was sent (``status.stakeholders``): the latest update's number,
the instant it stands for (its *anchor*) and the phase it reported. Everything else follows
from those and ``now``, so a restart, a late tick or a second look decides the same thing:

* The first update is due at the declaration; update ``n + 1`` one cadence after update
  ``n``'s anchor. An update sent on time is anchored at its due instant (the schedule does not
  drift by the tick's delay); one more than a whole cadence late (the operator was down) is
  anchored at ``now``: missed slots are skipped, never sent as a backlog.
* The communications lead may ask for an update early (``spec.stakeholderUpdate.requestedAt``
  later than the latest anchor, and not answered before): it is due now and the cadence
  restarts from it.
* When the incident resolves (or closes), one final update says so, provided stakeholders
  heard of it at all; then nothing more.
* ``remind_before`` ahead of each due update the lead is reminded once (a timeline entry keyed
  by the update's number, posted to the incident's channel).

Each update's identity is the incident's uid and its number (:func:`update_key`): every target
gets it under the same idempotency key, and a retry looks the message up by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .lifecycle import Phase
from .times import iso

UPDATED_PHASES: frozenset[Phase] = frozenset({Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED})
"""Phases with updates on the cadence."""
FINAL_PHASES: frozenset[Phase] = frozenset({Phase.RESOLVED, Phase.CLOSED})
"""Phases owed one final update (when stakeholders heard of the incident before)."""
DOING_TYPES: tuple[str, ...] = ("status-update", "note")
"""Timeline entries that say what is being done, when the lead wrote no text."""
TEXT_MAX = 4096
"""status.stakeholders.text's maxLength."""


@dataclass(frozen=True)
class Cadence:
    every: timedelta
    remind_before: timedelta = timedelta(0)


@dataclass(frozen=True)
class Sent:
    """What ``status.stakeholders`` says was sent."""

    sequence: int = 0
    anchor: datetime | None = None
    phase: str = ""
    handled_request: datetime | None = None


@dataclass(frozen=True)
class Update:
    """An update to open now."""

    sequence: int
    anchor: datetime
    early: bool = False
    final: bool = False


@dataclass(frozen=True)
class Reminder:
    sequence: int
    at: datetime
    due: datetime

    @property
    def key(self) -> str:
        return f"stakeholder-reminder/{self.sequence}"


@dataclass(frozen=True)
class Decision:
    update: Update | None = None
    next_due: datetime | None = None
    """When the update after the latest one (or after ``update``) is due; None: none is."""
    reminder: Reminder | None = None


def update_key(uid: str, sequence: int) -> str:
    """Idempotency key of update ``sequence`` of the incident with this uid."""
    return f"stakeholder-update/{uid}/{sequence}"


def decide(
    phase: Phase,
    *,
    declared: datetime,
    cadence: Cadence | None,
    sent: Sent,
    requested_at: datetime | None,
    now: datetime,
) -> Decision:
    """The update owed now (if any), when the next one is due, and the reminder owed now."""
    if cadence is None or cadence.every <= timedelta(0):
        return Decision()
    if phase in FINAL_PHASES:
        if sent.sequence > 0 and sent.phase not in {p.value for p in FINAL_PHASES}:
            return Decision(Update(sent.sequence + 1, now, final=True))
        return Decision()
    if phase not in UPDATED_PHASES:
        return Decision()
    update = _due(declared, cadence.every, sent, requested_at, now)
    anchor = update.anchor if update is not None else sent.anchor
    assert anchor is not None  # no update sent yet: the first is due at the declaration
    next_due = anchor + cadence.every
    reminder = None
    if update is None and cadence.remind_before > timedelta(0):
        at = next_due - cadence.remind_before
        if at <= now < next_due:
            reminder = Reminder(sent.sequence + 1, at, next_due)
    return Decision(update, next_due, reminder)


def _due(
    declared: datetime,
    every: timedelta,
    sent: Sent,
    requested_at: datetime | None,
    now: datetime,
) -> Update | None:
    following = sent.sequence + 1
    if (
        requested_at is not None
        and requested_at != sent.handled_request
        and (sent.anchor is None or requested_at > sent.anchor)
    ):
        return Update(following, now, early=True)
    due = declared if sent.anchor is None else sent.anchor + every
    if now < due:
        return None
    return Update(following, due if now - due < every else now)


@dataclass(frozen=True)
class Facts:
    """What one update says."""

    incident: str
    """namespace/name"""
    title: str
    severity: str
    phase: str
    impact: str
    doing: str
    sequence: int
    next_due: datetime | None
    final: bool = False


def impact_text(public_impact: str, severity_impact: str, service: str) -> str:
    """The public impact where the lead wrote one, else the Severity's status-page impact."""
    if public_impact.strip():
        return public_impact.strip()
    if severity_impact and severity_impact != "none":
        return f"{severity_impact} impact on {service}"
    return f"{service} is affected"


def doing_text(lead_text: str, entries: list[tuple[str, datetime, str]], phase: str) -> str:
    """The lead's words, else the latest note or status update, else a phase's default.

    ``entries``: (type, at, message) of the timeline."""
    if lead_text.strip():
        return lead_text.strip()
    latest = max(
        ((at, message) for type_, at, message in entries if type_ in DOING_TYPES and message),
        default=None,
    )
    if latest is not None:
        return latest[1]
    return {
        Phase.MITIGATED.value: "A mitigation is in place; responders are monitoring.",
        Phase.RESOLVED.value: "The incident is resolved.",
        Phase.CLOSED.value: "The incident is resolved.",
    }.get(phase, "Responders are investigating.")


def render(facts: Facts) -> str:
    """The update as posted (plain text with Slack's *bold*), bounded to :data:`TEXT_MAX`."""
    heading = "Final stakeholder update" if facts.final else "Stakeholder update"
    lines = [
        f"*{heading} #{facts.sequence}: {facts.title}* ({facts.severity}, {facts.incident})",
        f"Phase: {facts.phase}",
        f"Impact: {facts.impact}",
        f"What is being done: {facts.doing}",
    ]
    if facts.next_due is not None:
        lines.append(f"Next update: by {iso(facts.next_due)}")
    text = "\n".join(lines)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def reminder_message(reminder: Reminder) -> str:
    return (
        f"Stakeholder update #{reminder.sequence} is due at {iso(reminder.due)}: send it now "
        "with `/incident stakeholder-update --now [TEXT]` (or kubectl incident "
        "stakeholder-update --now), or set its text; otherwise it goes out as drafted."
    )


def target_key(sequence: int, target: str) -> str:
    """The outbox key of delivering update ``sequence`` to ``target``."""
    return f"stakeholder/{sequence}/{target}"


def stale_attempts(keys: list[str], sequence: int) -> list[str]:
    """Outbox keys of older updates' deliveries: superseded by update ``sequence``."""
    prefix = f"stakeholder/{sequence}/"
    return sorted(k for k in keys if k.startswith("stakeholder/") and not k.startswith(prefix))
