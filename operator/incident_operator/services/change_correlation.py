"""Use case: at declaration, add the recent changes in the service's namespace to the timeline.

load (incident; for an SLO incident the SLO, whose long window at the incident's severity
bounds the look-back) -> the namespace's history (adapter; metadata only for ConfigMaps and
Secrets) -> pick (domain.changes) -> timeline entries with dedup keys, so running twice (a
retry, a restart) adds nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.adapters.workloads_port import ChangeSource, Workloads
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain import changes, timeline
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.mitigation import Target
from incident_operator.domain.times import iso, parse_time

from .incidents import AUTHOR, is_active

log = logging.getLogger(__name__)

IGNORED_CONFIG_MAPS = frozenset({"kube-root-ca.crt"})


def summary_key(incident: str) -> str:
    """The summary entry's dedup key: once it is in the timeline, the changes are recorded."""
    return f"change/{incident}/summary"


def awaits_correlation(incident: Mapping[str, Any]) -> bool:
    """Declared by the lifecycle (it has a phase), still active, and no summary yet.

    Correlation waits for the lifecycle's first status, so it never holds a declaration back,
    and ends with the summary entry, so a restart does not run it again."""
    status = incident.get("status") or {}
    if not status.get("phase") or not is_active(incident):
        return False
    key = summary_key(str(incident["metadata"]["name"]))
    return not any(e.get("key") == key for e in status.get("timeline") or ())


class ChangeCorrelationService:
    def __init__(
        self, store: ResourceStore, history: ChangeSource, workloads: Workloads, clock: Clock
    ) -> None:
        self._store = store
        self._history = history
        self._workloads = workloads
        self._clock = clock

    async def _lookback(self, namespace: str, spec: Body) -> timedelta:
        source = spec.get("source") or {}
        if source.get("type") != "slo" or not source.get("ref"):
            return changes.DEFAULT_LOOKBACK
        body = await self._workloads.get(
            Target("sre.dev/v1alpha1", "ServiceLevelObjective", namespace, str(source["ref"]))
        )
        if body is None:
            return changes.DEFAULT_LOOKBACK
        try:
            slo = ServiceLevelObjective.model_validate(body)
        except ValidationError:
            return changes.DEFAULT_LOOKBACK
        windows = [
            parse_duration(w.long)
            for w in slo.spec.alerting.windows
            if w.severity == spec.get("severityRef")
        ]
        return max(windows) if windows else changes.DEFAULT_LOOKBACK

    async def correlate(self, body: Body) -> list[changes.Change]:
        """Record the recent changes for a new incident; returns them (newest first)."""
        meta, spec = body["metadata"], body.get("spec") or {}
        if not is_active(body):
            return []
        namespace, name = str(meta["namespace"]), str(meta["name"])
        now = self._clock.now()
        detected = (
            parse_time((spec.get("source") or {}).get("detectedAt"))
            or parse_time(meta.get("creationTimestamp"))
            or now
        )
        since = detected - await self._lookback(namespace, spec)
        history = await self._history.namespace_history(namespace)
        found: list[changes.Change | None] = [
            *(changes.replicaset_change(rs, namespace) for rs in history.replicasets),
            *(
                changes.config_change(cm, namespace, "ConfigMap")
                for cm in history.config_maps
                if (cm.get("metadata") or {}).get("name") not in IGNORED_CONFIG_MAPS
            ),
            *(changes.config_change(s, namespace, "Secret") for s in history.secrets),
            *(changes.event_change(e, namespace) for e in history.events),
        ]
        picked = changes.recent([c for c in found if c is not None], since=since, until=now)
        summary = (
            f"{len(picked)} recent change(s) in namespace {namespace} since {iso(since)}"
            f"{' (newest first below)' if picked else ''}."
            if picked
            else f"No recorded changes in namespace {namespace} since {iso(since)}."
        )
        if history.unreadable:
            summary += f" Not read (no permission): {', '.join(history.unreadable)}."
        entries = [
            timeline.entry(
                now,
                "change-correlation",
                summary,
                author=AUTHOR,
                source="change-correlation",
                key=summary_key(name),
            ),
            *changes.timeline_entries(picked, name),
        ]
        await self._store.append_timeline(namespace, name, entries)
        return picked
