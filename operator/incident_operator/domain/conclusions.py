"""The operator's conclusions beside a human's intent, so Git and the operator never fight.

Humans (and Git) own an Incident's ``spec``: the state they asked for, the severity they
chose. The operator reaches conclusions of its own — a mitigation verified (mitigated), an
Alertmanager group or an SLO burn over (resolved), a faster burn (a higher severity) — and
keeps them in ``status.conclusions``, never in the spec a GitOps tool would put back.

A conclusion records the intent it was drawn *over*. It holds while that intent stands; the
moment the human's value changes (a Git commit, ``kubectl``, Slack) the human wins and the
conclusion is superseded. Re-applying the same manifest changes nothing, so nothing flips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .times import iso, parse_time


class Subject(StrEnum):
    """What a conclusion is about (the key under ``status.conclusions``)."""

    STATE = "state"
    SEVERITY = "severity"


@dataclass(frozen=True)
class Conclusion:
    value: str
    """What the operator concluded (a phase, a Severity name)."""
    over: str
    """The human's value it was drawn over: it holds only while the spec still says this."""
    reason: str
    """CamelCase, as a condition's reason (``MitigationVerified``, ``AlertsResolved``)."""
    message: str
    at: datetime | None = None


def holds(intent: str, conclusion: Conclusion | None) -> bool:
    """The conclusion still applies: the human's value is the one it was drawn over."""
    return conclusion is not None and conclusion.over == intent


def effective(intent: str, conclusion: Conclusion | None) -> str:
    """The value in force: the operator's conclusion while it holds, else the human's intent."""
    if conclusion is not None and holds(intent, conclusion):
        return conclusion.value
    return intent


def draw(intent: str, value: str, reason: str, message: str, at: datetime) -> Conclusion | None:
    """A conclusion of ``value`` over ``intent``; None when the intent already says so."""
    if value == intent:
        return None
    return Conclusion(value, intent, reason, message, at)


def human_chose(intent: str, declared: str | None) -> bool:
    """The spec's value is not the one its declaring source wrote: someone chose it since.

    ``declared`` is what the source recorded at creation (``sre.dev/declared-severity``).
    """
    return declared is not None and intent != declared


def parse(raw: Any) -> Conclusion | None:
    """A conclusion as stored in status; unreadable counts as none (it is rewritten)."""
    if not isinstance(raw, Mapping):
        return None
    value, over = raw.get("value"), raw.get("over")
    if not isinstance(value, str) or not isinstance(over, str) or not value:
        return None
    reason, message = str(raw.get("reason") or ""), str(raw.get("message") or "")
    return Conclusion(value, over, reason, message, parse_time(raw.get("at")))


def to_status(conclusion: Conclusion) -> dict[str, str]:
    """The shape kept under ``status.conclusions.<subject>``."""
    out = {
        "value": conclusion.value,
        "over": conclusion.over,
        "reason": conclusion.reason,
        "message": conclusion.message[:1024],
    }
    if conclusion.at is not None:
        out["at"] = iso(conclusion.at)
    return out
