"""Use case: an Alertmanager notification -> the group's one open Incident and its timeline.

find (the group's incidents by label) -> adopt the open one, or create the next one under a
name derived from the groupKey -> record timestamps, severity and timeline entries, all keyed,
so a redelivered notification changes nothing. A resolved group adds a timeline entry and
leaves the incident open unless the operator was started with auto-resolve: the alerts going
quiet is evidence, not a responder's decision. Even then the group is judged per alert: every
alert the incident has seen (``status.alertmanager.alerts``) must be resolved and the payload
must not be truncated, since Alertmanager's group status is computed after truncation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.domain import timeline
from incident_operator.domain.alertmanager import (
    AlertGroup,
    AlertStatus,
    GroupMemory,
    SeenAlert,
    SeverityChange,
    SeverityPolicy,
    TimelineItem,
    alert_entries,
    group_id,
    group_resolved_entry,
    incident_name,
    incident_summary,
    incident_title,
    judge,
    latest,
    service_name,
    severity_change,
    target_namespace,
    truncated_entry,
)
from incident_operator.domain.conclusions import Subject, human_chose
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import IncidentOperatorError, TemporaryError

from .incident_lifecycle import IncidentLifecycleService
from .incidents import (
    AUTHOR,
    DECLARED_SEVERITY,
    SERVICE_LABEL,
    Concluder,
    intent_of,
    is_active,
    severity_of,
)
from .keyed_locks import KeyedLocks

log = logging.getLogger(__name__)

GROUP_LABEL = "sre.dev/alertmanager-group"
SOURCE_REF_LIMIT = 512
"""spec.source.ref's maxLength; the full groupKey's hash is the group_id label."""


@dataclass(frozen=True)
class AlertmanagerConfig:
    severity: SeverityPolicy = field(default_factory=SeverityPolicy)
    default_namespace: str = "default"
    """Where a group's incident lives when its alerts carry no usable ``namespace_label``."""
    namespace_label: str = "namespace"
    auto_resolve: bool = False
    """Set spec.state resolved when the whole group resolves."""


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Outcome:
    action: Action
    namespace: str
    incident: str | None
    reason: str = ""


class AlertmanagerService:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        config: AlertmanagerConfig | None = None,
        *,
        lifecycle: Concluder | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._lifecycle = lifecycle or IncidentLifecycleService(store, clock)
        self.config = config or AlertmanagerConfig()
        # One notification per group at a time in this process (Alertmanager retries
        # overlap); across processes the API server's name uniqueness keeps creation single.
        self._locks = KeyedLocks[str]()

    async def receive(self, group: AlertGroup) -> Outcome:
        gid = group_id(group.group_key)
        namespace = target_namespace(
            group, self.config.namespace_label, self.config.default_namespace
        )
        async with self._locks.hold(gid):
            existing = await self._store.find_incidents(namespace, {GROUP_LABEL: gid})
            by_name = {i["metadata"]["name"]: i for i in existing}
            open_names = [n for n, i in by_name.items() if is_active(i)]
            now = self._clock.now()
            if open_names:
                incident = by_name[latest(open_names, gid) or open_names[0]]
                action = Action.UPDATED
            elif not group.firing:
                last = latest(by_name, gid)
                if last is None:
                    return Outcome(
                        Action.IGNORED,
                        namespace,
                        None,
                        "the group has no incident and none of its alerts fires",
                    )
                incident, action = by_name[last], Action.UPDATED
            else:
                incident = await self._create(namespace, gid, group, set(by_name))
                action = Action.CREATED
            name = incident["metadata"]["name"]
            await self._record(namespace, incident, group, now)
            if action is Action.CREATED:
                await self._announce(incident, group)
            return Outcome(action, namespace, name)

    async def _create(self, namespace: str, gid: str, group: AlertGroup, taken: set[str]) -> Body:
        """Create the group's next incident; a name already used by a closed one moves on."""
        for _attempt in range(5):
            name = incident_name(gid, taken)
            incident = await self._store.create_incident(
                namespace, self._incident_body(namespace, name, gid, group)
            )
            if is_active(incident):
                return incident
            taken.add(name)  # a closed incident without our label holds the name
        raise TemporaryError(f"no free incident name for alert group {gid} in {namespace}")

    def _incident_body(self, namespace: str, name: str, gid: str, group: AlertGroup) -> Body:
        severity = self.config.severity.worst(group.firing) or self.config.severity.default
        service = service_name(group)
        return {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {GROUP_LABEL: gid, SERVICE_LABEL: service},
                "annotations": {DECLARED_SEVERITY: severity},
            },
            "spec": {
                "title": incident_title(group),
                "summary": incident_summary(group),
                "service": service,
                "severityRef": severity,
                "state": "triage",
                "source": {
                    "type": "alertmanager",
                    "ref": group.group_key[:SOURCE_REF_LIMIT],
                    "detectedAt": iso(group.detected_at),
                },
            },
        }

    async def _record(
        self, namespace: str, incident: Body, group: AlertGroup, now: datetime
    ) -> None:
        name = incident["metadata"]["name"]
        status = incident.get("status") or {}
        items: list[TimelineItem] = []
        declared = parse_time((status.get("timestamps") or {}).get("declared"))
        if declared is None:
            # A new incident, or one whose creator crashed before this write: fill it in once.
            detected = group.detected_at
            declared = now
            await self._store.patch_incident(
                namespace,
                name,
                status={
                    "timestamps": {"detected": iso(detected), "declared": iso(now)},
                    "durations": {"timeToDetect": max(0.0, (now - detected).total_seconds())},
                    "severity": incident["spec"].get("severityRef"),
                },
            )
        # Offered on every pass (the key makes it once): a crash or a conflict between the
        # stamp above and the timeline write below must not leave a declaration unrecorded.
        items.append(
            TimelineItem(
                declared,
                "declared",
                f"Declared from Alertmanager (receiver {group.receiver}) at "
                f"{incident['spec'].get('severityRef')}: {len(group.firing)} alert(s) firing.",
                "alertmanager/declared",
            )
        )
        items.extend(await self._severity(namespace, incident, group, now))
        items.extend(alert_entries(group))
        verdict = judge(group, memory_of(incident))
        remembered = memory_status(verdict.memory)
        if remembered != (incident.get("status") or {}).get("alertmanager"):
            await self._store.patch_incident(namespace, name, status={"alertmanager": remembered})
        auto_resolve = verdict.over and self.config.auto_resolve and is_active(incident)
        if auto_resolve:
            await self._lifecycle.conclude(
                namespace,
                name,
                Subject.STATE,
                Phase.RESOLVED.value,
                reason="AlertsResolved",
                message="every alert of the Alertmanager group resolved (autoResolve)",
            )
        if (truncated := truncated_entry(group)) is not None:
            items.append(truncated)
        resolved = group_resolved_entry(group, verdict, auto_resolved=auto_resolve)
        if resolved is not None:
            items.append(resolved)
        await self._store.append_timeline(namespace, name, _bodies(items, group))

    async def _severity(
        self, namespace: str, incident: Body, group: AlertGroup, now: datetime
    ) -> list[TimelineItem]:
        """Raise the severity when more severe alerts joined the group, unless a human chose."""
        policy = self.config.severity
        proposed = policy.worst(group.firing)
        current = severity_of(incident) or policy.default
        if proposed is None or not is_active(incident):
            return []
        declared = (incident["metadata"].get("annotations") or {}).get(DECLARED_SEVERITY)
        chosen = human_chose(intent_of(incident, Subject.SEVERITY), declared)
        change = severity_change(policy, current, declared if chosen else None, proposed)
        if change is None:
            return []
        name = incident["metadata"]["name"]
        if change is SeverityChange.SUGGEST:
            message = f"The group's alerts suggest {proposed}; kept {current} set by a responder."
            key = f"alertmanager/severity-suggested/{proposed}"
            return [TimelineItem(now, "severity-suggested", message, key)]
        # A conclusion in status: the spec (a human's, or Git's) is never rewritten.
        await self._lifecycle.conclude(
            namespace,
            name,
            Subject.SEVERITY,
            proposed,
            reason="MoreSevereAlerts",
            message=f"more severe alerts joined the group: {current} -> {proposed}",
        )
        return [
            TimelineItem(
                now,
                "severity-raised",
                f"More severe alerts joined the group: severity raised {current} -> {proposed}.",
                f"alertmanager/severity/{proposed}",
            )
        ]

    async def _announce(self, incident: Body, group: AlertGroup) -> None:
        try:  # an Event is a courtesy to kubectl describe; losing one must not fail the delivery
            await self._store.emit_event(
                incident,
                "IncidentDeclared",
                f"Declared from Alertmanager group {group.group_key}"[:1024],
            )
        except IncidentOperatorError as exc:
            log.warning(
                "incident %s: could not record the IncidentDeclared event: %s",
                incident["metadata"]["name"],
                exc,
            )


def memory_of(incident: Body) -> GroupMemory:
    """The alerts the incident has seen, from its status.

    An unreadable entry might have been a firing alert: the memory is then incomplete
    (``overflow``) and the group can no longer be judged over without a responder.
    """
    recorded = (incident.get("status") or {}).get("alertmanager") or {}
    alerts: dict[str, SeenAlert] = {}
    incomplete = bool(recorded.get("overflow", False))
    for fingerprint, seen in (recorded.get("alerts") or {}).items():
        try:
            at = datetime.fromisoformat(str(seen["at"]).replace("Z", "+00:00"))
            alerts[str(fingerprint)] = SeenAlert(AlertStatus(seen["status"]), at)
        except (KeyError, TypeError, ValueError):
            log.warning("unreadable alert memory %r: %r", fingerprint, seen)
            incomplete = True
    return GroupMemory(alerts, incomplete)


def memory_status(memory: GroupMemory) -> Body:
    return {
        "alerts": {
            fingerprint: {"status": str(seen.status), "at": iso(seen.at)}
            for fingerprint, seen in sorted(memory.alerts.items())
        },
        "overflow": memory.overflow,
    }


def _bodies(items: Sequence[TimelineItem], group: AlertGroup) -> list[Body]:
    return [
        timeline.entry(
            item.at,
            item.type,
            item.message,
            author=AUTHOR,
            source=f"alertmanager/{group.receiver}",
            key=item.key,
        )
        for item in items
    ]
