"""Use case: act on an SLO's burn decision — declare its incident, then follow the burn.

``declare`` adopts the SLO's open incident if one exists (a crash after create), else
creates it with roles from the rotation, and records the detection and declaration on it;
``follow_up`` raises or lowers its severity (unless a human chose it), and notes when the
burn stopped (resolving it when ``declare.autoResolve``) or resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from incident_operator.adapters.ports import Body, ResourceStore
from incident_operator.domain import roles as domain_roles
from incident_operator.domain import timeline
from incident_operator.domain.burn import BurnEvaluation
from incident_operator.domain.conclusions import Subject, human_chose
from incident_operator.domain.episodes import Action, Decision, Episode
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.names import label_value
from incident_operator.domain.slo import Objective, WindowPair
from incident_operator.domain.times import iso
from incident_operator.errors import IncidentOperatorError

from .incidents import (
    AUTHOR,
    DECLARED_SEVERITY,
    SERVICE_LABEL,
    Concluder,
    intent_of,
    is_active,
    severity_of,
)
from .roles import UNFILLED, RotationAnswer, ask_rotation
from .slo_records import SloRecord
from .slo_status import warn

log = logging.getLogger(__name__)


SLO_LABEL = "sre.dev/slo"


def burn_summary(objective: Objective, pair: WindowPair, evaluation: BurnEvaluation | None) -> str:
    rates = {w.window: w.burn_rate for w in evaluation.windows} if evaluation else {}
    long, short = rates.get(pair.long), rates.get(pair.short)
    return (
        f"burn rate {long or 0:.1f}x over {pair.long_text} and {short or 0:.1f}x over "
        f"{pair.short_text} (threshold {pair.factor:g}x of a "
        f"{objective.target * 100:g}% objective)"
    )


def timeline_entry(record: SloRecord, kind: str, at: datetime, message: str, *, key: str) -> Body:
    return timeline.entry(
        at, kind, message, author=AUTHOR, source=f"slo/{record.name}", key=f"{record.name}/{key}"
    )


def incident_body(
    record: SloRecord,
    episode: Episode,
    pair: WindowPair,
    evaluation: BurnEvaluation | None,
    *,
    roles: Mapping[str, str] | None = None,
) -> Body:
    """The Incident to create; ``roles`` (from the rotation) go into ``spec.roles``.

    In the spec, not only the status: an automatic declaration has no human to pick the
    commander, so the operator does it as the declarer, and the plugin's ``assign`` edits the
    same field a human would have set.
    """
    labels = {
        **record.labels,
        SLO_LABEL: label_value(record.name),
        SERVICE_LABEL: record.service,
    }
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": episode.incident,
            "namespace": record.namespace,
            "labels": labels,
            "annotations": {DECLARED_SEVERITY: pair.severity},
        },
        "spec": {
            "title": f"{record.service}: SLO {record.name} is burning its error budget"[:200],
            "summary": burn_summary(record.objective, pair, evaluation),
            "service": record.service,
            "severityRef": pair.severity,
            "state": "triage",
            "source": {"type": "slo", "ref": record.name, "detectedAt": iso(episode.started_at)},
            **({"roles": dict(roles)} if roles else {}),
            # Escalations ask the same rotation the roles came from.
            **({"rotationRef": record.rotation_ref} if record.rotation_ref else {}),
        },
    }


class SloIncidents:
    """Acts on a burn decision: declares (or adopts) the SLO's incident, follows it up."""

    def __init__(self, store: ResourceStore, lifecycle: Concluder) -> None:
        self._store = store
        self._lifecycle = lifecycle

    async def declare(
        self,
        record: SloRecord,
        decision: Decision,
        evaluation: BurnEvaluation | None,
        now: datetime,
    ) -> Decision:
        """Adopt the SLO's open incident if one exists (a crash after create), else create it."""
        assert decision.episode is not None
        assert decision.pair is not None
        episode, pair = decision.episode, decision.pair
        existing = [
            i
            for i in await self._store.find_incidents(
                record.namespace, {SLO_LABEL: label_value(record.name)}
            )
            # The label is a (hashed) selector; the relationship is the incident's source.
            if (i["spec"].get("source") or {}).get("ref") == record.name and is_active(i)
        ]
        if existing:
            adopted = sorted(existing, key=lambda i: i["metadata"]["name"])[-1]
            started = (adopted["spec"].get("source") or {}).get("detectedAt")
            episode = Episode(
                incident=adopted["metadata"]["name"],
                started_at=datetime.fromisoformat(started) if started else episode.started_at,
                last_firing_at=now,
                severity=severity_of(adopted) or episode.severity,
                pair=episode.pair,
            )
            log.info("SLO %s: adopting open incident %s", record.key, episode.incident)
            await self._record_declaration(record, episode, pair, evaluation, now)
            return Decision(Action.NONE, episode, pair)
        assigned, role_timeline = await self._declared_roles(record, pair.severity, now)
        incident = await self._store.create_incident(
            record.namespace, incident_body(record, episode, pair, evaluation, roles=assigned)
        )
        await self._record_declaration(record, episode, pair, evaluation, now, extra=role_timeline)
        try:
            severity_missing = await self._store.get_severity(pair.severity) is None
        except IncidentOperatorError:
            severity_missing = False  # unknown, not missing: say nothing
        if severity_missing:
            await warn(
                self._store,
                record,
                "SeverityNotFound",
                f"Declared {incident['metadata']['name']} at severity {pair.severity}, which "
                "does not exist: no paging, chat or postmortem policy applies. Create the "
                "Severity or correct alerting.windows.",
            )
        try:  # an Event is a courtesy to kubectl describe; losing one must not stop the episode
            await self._store.emit_event(
                record.body,
                "IncidentDeclared",
                f"Declared incident {incident['metadata']['name']} ({pair.severity}): "
                f"{burn_summary(record.objective, pair, evaluation)}",
            )
        except IncidentOperatorError as exc:
            log.warning("SLO %s: could not record the IncidentDeclared event: %s", record.key, exc)
        return decision

    async def _record_declaration(
        self,
        record: SloRecord,
        episode: Episode,
        pair: WindowPair,
        evaluation: BurnEvaluation | None,
        now: datetime,
        *,
        extra: tuple[Body, ...] = (),
    ) -> None:
        """Timestamps and the declaration timeline entry (plus ``extra``); idempotent by key."""
        await self._store.patch_incident(
            record.namespace,
            episode.incident,
            status={
                "timestamps": {"detected": iso(episode.started_at), "declared": iso(now)},
                "durations": {"timeToDetect": (now - episode.started_at).total_seconds()},
                "severity": episode.severity,
            },
        )
        await self._store.append_timeline(
            record.namespace,
            episode.incident,
            [
                timeline_entry(
                    record,
                    "burn-began",
                    episode.started_at,
                    f"Error budget burn began ({record.objective.target:.4g} target).",
                    key=f"burn-began/{iso(episode.started_at)}",
                ),
                timeline_entry(
                    record,
                    "declared",
                    now,
                    f"Declared by SLO {record.name} at {pair.severity}: "
                    f"{burn_summary(record.objective, pair, evaluation)}",
                    key=f"declared/{record.name}",
                ),
                *extra,
            ],
        )

    async def _declared_roles(
        self, record: SloRecord, severity: str, now: datetime
    ) -> tuple[dict[str, str], tuple[Body, ...]]:
        """Roles for the new incident from its rotation at ``now``, and their timeline entries.

        The rotation is ``declare.rotationRef``, else the severity's ``rotationRef``. Nothing
        here may stop the declaration: a rotation that cannot answer gives no roles and one
        entry saying why (a responder reading the timeline learns nobody was assigned).
        """
        ref = record.rotation_ref
        answer: RotationAnswer | None = None
        try:
            if ref is None:
                found = await self._store.get_severity(severity)
                value = ((found or {}).get("spec") or {}).get("rotationRef")
                ref = value if isinstance(value, str) and value else None
            if ref is None:
                return {}, ()
            answer = await ask_rotation(self._store, record.namespace, ref, now)
        except IncidentOperatorError as exc:
            problem: str | None = f"OnCallRotation {record.namespace}/{ref} unreadable ({exc})"
        else:
            problem = answer.problem
        assignment = domain_roles.effective_roles({}, answer.roles if answer else None)
        entries: list[Body] = [
            {**timeline_entry(record, e.type, now, e.message, key=""), "key": e.key}
            for e in domain_roles.role_entries(
                {}, assignment.roles, from_rotation=assignment.from_rotation, version="1"
            )
        ]
        if problem is not None:
            entries.append(timeline_entry(record, UNFILLED, now, problem, key="roles-unfilled"))
            await warn(self._store, record, "RotationUnavailable", problem)
        return assignment.roles, tuple(entries)

    async def follow_up(self, record: SloRecord, decision: Decision, now: datetime) -> None:
        episode = decision.episode
        assert episode is not None
        incident = await self._store.get_incident(record.namespace, episode.incident)
        if incident is None:
            log.warning("SLO %s: incident %s is gone", record.key, episode.incident)
            return
        stamp = iso(now)
        if decision.action in (Action.RAISE_SEVERITY, Action.LOWER_SEVERITY) and decision.pair:
            await self._change_severity(record, incident, decision, now)
        elif decision.action is Action.BURN_STOPPED:
            message = f"Burn stopped: no window pair fired since {iso(episode.last_firing_at)}."
            if decision.resolve and is_active(incident):
                await self._lifecycle.conclude(
                    record.namespace,
                    episode.incident,
                    Subject.STATE,
                    Phase.RESOLVED.value,
                    reason="BurnStopped",
                    message=f"SLO {record.key} stopped burning (declare.autoResolve)",
                )
                message += " Resolved automatically (declare.autoResolve)."
            await self._store.append_timeline(
                record.namespace,
                episode.incident,
                [timeline_entry(record, "burn-stopped", now, message, key=f"burn-stopped/{stamp}")],
            )
        elif decision.action is Action.BURN_RESUMED:
            await self._store.append_timeline(
                record.namespace,
                episode.incident,
                [
                    timeline_entry(
                        record,
                        "burn-resumed",
                        now,
                        "The burn resumed.",
                        key=f"burn-resumed/{stamp}",
                    )
                ],
            )

    async def _change_severity(
        self, record: SloRecord, incident: Body, decision: Decision, now: datetime
    ) -> None:
        """Follow the burn up or down, unless a human chose the incident's severity.

        The declaring source's severity is the declared-severity annotation: a spec value other
        than that is someone's choice. The operator's own moves are conclusions in status.
        """
        episode, pair = decision.episode, decision.pair
        assert episode is not None
        assert pair is not None
        declared = incident["metadata"].get("annotations", {}).get(DECLARED_SEVERITY)
        current = severity_of(incident)
        raised = decision.action is Action.RAISE_SEVERITY
        why = (
            f"Faster burn ({pair.long_text}/{pair.short_text} x{pair.factor:g})"
            if raised
            else f"Calmer burn (only {pair.long_text}/{pair.short_text} x{pair.factor:g} fires; "
            f"faster pairs below threshold for {record.hold_down})"
        )
        kind = "severity-raised" if raised else "severity-lowered"
        if not human_chose(intent_of(incident, Subject.SEVERITY), declared):
            # A conclusion in status: the spec (a human's, or Git's) is never rewritten.
            await self._lifecycle.conclude(
                record.namespace,
                episode.incident,
                Subject.SEVERITY,
                episode.severity,
                reason="FasterBurn" if raised else "CalmerBurn",
                message=f"{why}: {current} -> {episode.severity}",
            )
            entry = f"{why}: severity {'raised' if raised else 'lowered'} {current} -> "
            entry += f"{episode.severity}."
        else:  # a human chose the severity; say so instead of overriding them
            entry = f"{why} suggests {episode.severity}; kept {current}."
            kind = kind if raised else "severity-suggested"
        await self._store.append_timeline(
            record.namespace,
            episode.incident,
            [timeline_entry(record, kind, now, entry, key=f"severity/{episode.pair}/{iso(now)}")],
        )
