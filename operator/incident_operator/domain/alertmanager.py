"""Alertmanager notifications -> one incident per alert group: the pure decisions.

Alertmanager redelivers: every ``group_interval`` while a group changes, every
``repeat_interval`` while it does not, and again after any failed attempt. Everything here is
therefore a function of the notification alone (never of when it arrived), so a redelivery
yields the same incident name, the same timeline keys and the same severity.

A group is judged per alert, not by its ``status``: Alertmanager computes that after cutting
the payload to ``max_alerts``, so ``status: resolved, truncatedAlerts: 1`` may hide a firing
alert. The incident remembers every alert it has seen (by fingerprint, ``GroupMemory``) and
counts the group over only when all of them are resolved and nothing was cut (``judge``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .times import iso

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
INCIDENT_PREFIX = "am-"
GROUP_ID_LENGTH = 20
"""Hex digits of sha256(groupKey) kept: 80 bits, collision-free at any realistic scale and
short enough for a label value (63) and an incident name with a generation suffix."""
SERVICE_LABELS = ("service", "app", "job")
"""Labels naming the affected service, in order of preference (Prometheus conventions)."""
UNKNOWN_SERVICE = "unknown"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    """None while firing: Alertmanager sends the zero time (0001-01-01) for firing alerts."""
    fingerprint: str
    generator_url: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", self.fingerprint)


@dataclass(frozen=True)
class AlertGroup:
    """One webhook notification (payload version 4): the current state of one alert group."""

    group_key: str
    status: AlertStatus
    """firing while at least one alert fires; resolved once all of them are."""
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status is AlertStatus.FIRING)

    @property
    def detected_at(self) -> datetime:
        """When the problem began as Alertmanager saw it: the earliest startsAt."""
        return min(a.starts_at for a in (self.firing or self.alerts))

    @property
    def resolved_at(self) -> datetime | None:
        """When the last alert of a resolved group ended; None while any alert fires."""
        if self.status is not AlertStatus.RESOLVED:
            return None
        ends = [a.ends_at for a in self.alerts if a.ends_at is not None]
        return max(ends) if ends else max(a.starts_at for a in self.alerts)


# --- identity ----------------------------------------------------------------------------------


def group_id(group_key: str) -> str:
    """A stable, label-safe identity for an alert group (groupKey can be long and has quotes)."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:GROUP_ID_LENGTH]


def generation(name: str, group: str) -> int:
    """1 for ``am-<group>``, n for ``am-<group>-<n>``, 0 for a name we did not derive."""
    base = f"{INCIDENT_PREFIX}{group}"
    if name == base:
        return 1
    suffix = name.removeprefix(f"{base}-")
    return int(suffix) if suffix != name and suffix.isdigit() else 0


def incident_name(group: str, taken: Iterable[str]) -> str:
    """The name of the group's next incident: deterministic given the group's past incidents.

    The first incident of a group is ``am-<id>``; once a responder has closed it and the group
    fires again, the next one is ``am-<id>-2`` and so on. Two concurrent deliveries compute the
    same name, so the API server's name uniqueness makes creation idempotent.
    """
    last = max((generation(n, group) for n in taken), default=0)
    base = f"{INCIDENT_PREFIX}{group}"
    return base if last == 0 else f"{base}-{last + 1}"


def latest(names: Iterable[str], group: str) -> str | None:
    """The most recent of the group's incidents (highest generation, then name)."""
    return max(names, key=lambda n: (generation(n, group), n), default=None)


def target_namespace(group: AlertGroup, label: str, default: str) -> str:
    """Where the group's incident lives: its ``label`` (group labels first) or ``default``.

    Group labels are part of the groupKey, so they cannot change within a group; common labels
    can (a new alert without the label joins), which is why they only come second. A value that
    is not a valid namespace name is ignored rather than failing the whole notification.
    """
    for labels in (group.group_labels, group.common_labels):
        value = labels.get(label, "")
        if DNS_LABEL.match(value) and len(value) <= 63:
            return value
    return default


def service_name(group: AlertGroup) -> str:
    """The affected service as a DNS label, from the group's common labels."""
    for key in SERVICE_LABELS:
        value = re.sub(r"[^a-z0-9-]+", "-", group.common_labels.get(key, "").lower())
        value = value[:63].strip("-")
        if value:
            return value
    return UNKNOWN_SERVICE


# --- severity ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityPolicy:
    """Alert label value -> Severity name; ``mapping`` is ordered from most to least severe."""

    label: str = "severity"
    mapping: tuple[tuple[str, str], ...] = (
        ("critical", "sev-1"),
        ("error", "sev-2"),
        ("warning", "sev-3"),
        ("info", "sev-4"),
    )
    default: str = "sev-3"
    """For alerts without the label or with a value the mapping does not name."""

    def severity_of(self, labels: Mapping[str, str]) -> str:
        value = labels.get(self.label)
        return next((sev for key, sev in self.mapping if key == value), self.default)

    def rank(self, severity: str) -> int:
        """0 is the most severe: the position of the severity's first mention in the mapping.

        Severity levels live in the cluster's Severity objects, which this decision must not
        fetch; the operator's configuration states the order instead.
        """
        order = list(dict.fromkeys([*(sev for _, sev in self.mapping), self.default]))
        return order.index(severity) if severity in order else len(order)

    def worst(self, alerts: Iterable[Alert]) -> str | None:
        """The most severe severity among ``alerts``; None when there are none."""
        severities = [self.severity_of(a.labels) for a in alerts]
        return min(severities, key=self.rank, default=None)


def parse_severity_map(text: str, label: str = "severity") -> SeverityPolicy:
    """``critical=sev-1,warning=sev-3,*=sev-4``: most severe first, ``*`` is the default."""
    mapping: list[tuple[str, str]] = []
    default = SeverityPolicy.default
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        value, sep, severity = (s.strip() for s in item.partition("="))
        if not sep or not value or not severity:
            raise ValueError(f"severity map entry {item!r} is not <label value>=<severity>")
        if not DNS_LABEL.match(severity) or len(severity) > 63:
            raise ValueError(f"severity map entry {item!r}: {severity!r} is not a Severity name")
        if value == "*":
            default = severity
        elif any(value == known for known, _ in mapping):
            raise ValueError(f"severity map names {value!r} twice")
        else:
            mapping.append((value, severity))
    if not mapping:
        raise ValueError(f"severity map {text!r} maps no label value")
    return SeverityPolicy(label=label, mapping=tuple(mapping), default=default)


class SeverityChange(StrEnum):
    RAISE = "raise"
    SUGGEST = "suggest"
    """A responder chose the current severity: say what the alerts suggest, do not override."""


def severity_change(
    policy: SeverityPolicy, current: str, declared: str | None, proposed: str
) -> SeverityChange | None:
    """Whether the group's alerts now call for a more severe incident than ``current``.

    ``declared`` is the severity the operator itself last set; when a human changed it since,
    their choice stands. Severities are never lowered automatically: alerts quieting down is
    not the same as the impact being over.
    """
    if policy.rank(proposed) >= policy.rank(current):
        return None
    if declared is not None and declared != current:
        return SeverityChange.SUGGEST
    return SeverityChange.RAISE


# --- timeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    type: str
    message: str
    key: str


KEY_PREFIX = "alertmanager"


def alert_key(alert: Alert) -> str:
    """Fingerprint + status + the instant that status began: one entry per transition.

    A redelivery repeats the key (no duplicate); the same alert firing again later has a new
    startsAt and therefore a new entry.
    """
    at = alert.starts_at if alert.status is AlertStatus.FIRING else alert.ends_at
    return f"{KEY_PREFIX}/{alert.fingerprint}/{alert.status}/{iso(at or alert.starts_at)}"


def _describe(alert: Alert) -> str:
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    shown = {k: v for k, v in sorted(alert.labels.items()) if k not in {"alertname", "__name__"}}
    labels = ", ".join(f'{k}="{v}"' for k, v in shown.items())
    return (f": {text}" if text else "") + (f" {{{labels}}}" if labels else "")


def alert_entries(group: AlertGroup) -> tuple[TimelineItem, ...]:
    """One entry per alert and status, at the moment the alert started or ended."""
    entries = []
    for alert in group.alerts:
        if alert.status is AlertStatus.FIRING:
            at, verb = alert.starts_at, "firing"
        else:
            at, verb = alert.ends_at or alert.starts_at, "resolved"
        entries.append(
            TimelineItem(
                at,
                f"alert-{verb}",
                f"Alert {alert.name} {verb}{_describe(alert)}"[:4096],
                alert_key(alert),
            )
        )
    return tuple(entries)


def group_resolved_entry(
    group: AlertGroup, verdict: GroupVerdict, *, auto_resolved: bool
) -> TimelineItem | None:
    """The group says resolved; keyed by when the last shown alert ended.

    Says why the incident stays open when the verdict is not ``over``.
    """
    resolved_at = group.resolved_at
    if resolved_at is None:
        return None
    if verdict.over:
        message = f"All {len(verdict.memory.alerts)} alert(s) of the group resolved."
        message += (
            " Resolved the incident automatically (--alertmanager-auto-resolve)."
            if auto_resolved
            else " The incident stays open until a responder resolves it."
        )
    else:
        reasons = []
        if verdict.truncated:
            reasons.append(f"{verdict.truncated} alert(s) were not shown (truncatedAlerts)")
        if verdict.unresolved:
            shown = ", ".join(verdict.unresolved[:5])
            more = len(verdict.unresolved) - 5
            reasons.append(
                f"{len(verdict.unresolved)} alert(s) seen firing were never seen resolved "
                f"({shown}{f' and {more} more' if more > 0 else ''})"
            )
        if verdict.memory.overflow:
            reasons.append(f"the group had more than {MAX_REMEMBERED} alerts to remember")
        message = (
            "Alertmanager reports the group resolved, but "
            + "; ".join(reasons)
            + ". The incident stays open."
        )
    return TimelineItem(
        resolved_at, "alerts-resolved", message, f"{KEY_PREFIX}/group-resolved/{iso(resolved_at)}"
    )


# --- judging the group per alert ----------------------------------------------------------

MAX_REMEMBERED = 500
"""Alerts remembered per incident; beyond that the memory is incomplete and says so."""


@dataclass(frozen=True)
class SeenAlert:
    status: AlertStatus
    at: datetime
    """When that status began: startsAt for firing, endsAt for resolved."""


@dataclass(frozen=True)
class GroupMemory:
    """Every alert of the group the incident has seen, by fingerprint, with its last status."""

    alerts: Mapping[str, SeenAlert]
    overflow: bool = False
    """More than ``MAX_REMEMBERED`` alerts: some were not remembered, so none is over."""


@dataclass(frozen=True)
class GroupVerdict:
    memory: GroupMemory
    """The memory after this notification."""
    unresolved: tuple[str, ...]
    """Fingerprints last seen firing (sorted)."""
    truncated: int
    """Alerts this payload did not show (``truncatedAlerts``)."""
    over: bool
    """Every alert ever seen is resolved, the payload showed them all and none was forgotten."""


def _seen(alert: Alert) -> SeenAlert:
    at = alert.starts_at if alert.status is AlertStatus.FIRING else alert.ends_at
    return SeenAlert(alert.status, at or alert.starts_at)


def judge(group: AlertGroup, memory: GroupMemory) -> GroupVerdict:
    """Fold ``group`` into ``memory`` and say whether the group's problem is over.

    Per fingerprint the later transition wins, so a retried older notification cannot
    resolve an alert that fired again since (on a tie, firing wins).
    """
    alerts = dict(memory.alerts)
    overflow = memory.overflow
    for alert in group.alerts:
        seen, known = _seen(alert), alerts.get(alert.fingerprint)
        if known is None and len(alerts) >= MAX_REMEMBERED:
            overflow = True
            continue
        if (
            known is None
            or seen.at > known.at
            or (seen.at == known.at and seen.status is AlertStatus.FIRING)
        ):
            alerts[alert.fingerprint] = seen
    unresolved = tuple(sorted(f for f, a in alerts.items() if a.status is AlertStatus.FIRING))
    over = (
        group.status is AlertStatus.RESOLVED
        and not group.firing
        and group.truncated_alerts == 0
        and not overflow
        and not unresolved
    )
    return GroupVerdict(GroupMemory(alerts, overflow), unresolved, group.truncated_alerts, over)


def truncated_entry(group: AlertGroup) -> TimelineItem | None:
    """A payload cut by ``max_alerts``: what it hid, once per distinct cut payload."""
    if not group.truncated_alerts:
        return None
    shown = ",".join(sorted(f"{a.fingerprint}:{a.status}" for a in group.alerts))
    digest = hashlib.sha256(shown.encode()).hexdigest()[:12]
    message = (
        f"Alertmanager cut this notification to {len(group.alerts)} alert(s) (max_alerts): "
        f"{group.truncated_alerts} more not shown, so the group's status "
        f"'{group.status}' may hide firing alerts. The incident is not resolved from it."
    )
    return TimelineItem(
        max(a.starts_at for a in group.alerts),
        "alerts-truncated",
        message,
        f"{KEY_PREFIX}/truncated/{group.status}/{group.truncated_alerts}/{digest}",
    )


# --- the incident's text -----------------------------------------------------------------------


def incident_title(group: AlertGroup) -> str:
    name = group.common_labels.get("alertname") or ", ".join(sorted({a.name for a in group.alerts}))
    summary = group.common_annotations.get("summary", "")
    return (f"{name}: {summary}" if summary else f"Alert {name} is firing")[:200]


def incident_summary(group: AlertGroup) -> str:
    lines = [
        group.common_annotations.get("description", "")
        or group.common_annotations.get("summary", ""),
        f"Alertmanager group {group.group_key} (receiver {group.receiver}): "
        f"{len(group.firing)} of {len(group.alerts)} alert(s) firing"
        + (f", {group.truncated_alerts} more not shown" if group.truncated_alerts else "")
        + ".",
    ]
    if group.external_url:
        lines.append(f"Alertmanager: {group.external_url}")
    return "\n".join(line for line in lines if line)[:16384]
