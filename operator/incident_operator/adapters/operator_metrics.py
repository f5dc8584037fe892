"""OperatorMetrics on prometheus-client, plus a no-op for services built without metrics.

Each ``PrometheusOperatorMetrics`` owns its ``CollectorRegistry`` instead of the process-wide
default: two instances (two tests, or a test next to a running operator) never see each
other's samples, and ``/metrics`` exposes exactly the operator's figures — no surprise
collectors registered by some library on import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PREFIX = "incident_operator"

# MTTx spans seconds (an ack by a watching engineer) to days (a resolution after a weekend).
MTTX_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800)
# A cycle is one batched query round plus status writes: sub-second normally, the timeout worst.
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

FIGURES = {
    "timeToDetect": "time_to_detect",
    "timeToAcknowledge": "time_to_acknowledge",
    "timeToMitigate": "time_to_mitigate",
    "timeToResolve": "time_to_resolve",
}
"""status.durations names -> metric name stems (``incident_operator_<stem>_seconds``)."""

MAX_OWNERS = 100
"""Distinct (service, team) label pairs the MTTx histograms keep: a tenant can create Services
at will, and every pair costs each histogram its buckets for good. Pairs beyond the first
this many are counted under :data:`OTHER_OWNER`."""
OTHER_OWNER = ("_other", "_other")

METRIC_NAMES = frozenset(
    {
        f"{PREFIX}_open_incidents",
        f"{PREFIX}_incident_transitions_total",
        *(f"{PREFIX}_{stem}_seconds" for stem in FIGURES.values()),
        f"{PREFIX}_escalations_total",
        f"{PREFIX}_reconcile_errors_total",
        f"{PREFIX}_slo_cycle_seconds",
        f"{PREFIX}_slo_cycles_total",
        f"{PREFIX}_slo_cycle_last_success_timestamp_seconds",
        f"{PREFIX}_slo_queries_total",
        f"{PREFIX}_slos",
        f"{PREFIX}_slo_incidents_declared_total",
        f"{PREFIX}_slo_prometheus_unavailable_total",
        f"{PREFIX}_watch_last_activity_timestamp_seconds",
    }
)
"""Every family this adapter exports (the dashboard test checks its PromQL against these)."""


class PrometheusOperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._open = Gauge(
            f"{PREFIX}_open_incidents",
            "Incidents not closed, declined or merged, by severity, service, phase and owning "
            "team (the service catalog's; empty: none resolved).",
            ["severity", "service", "phase", "team"],
            registry=r,
        )
        self._transitions = Counter(
            f"{PREFIX}_incident_transitions",
            "Accepted incident phase changes (from is empty for a new incident).",
            ["from", "to", "severity"],
            registry=r,
        )
        self._figures = {
            figure: Histogram(
                f"{PREFIX}_{stem}_seconds",
                f"{figure} of incidents, observed when the milestone is stamped, by severity "
                "and the catalogued service and its owning team (empty: not catalogued).",
                ["severity", "service", "team"],
                buckets=MTTX_BUCKETS,
                registry=r,
            )
            for figure, stem in FIGURES.items()
        }
        self._escalations = Counter(
            f"{PREFIX}_escalations",
            "Unacknowledged incidents escalated along the rotation's chain.",
            ["severity"],
            registry=r,
        )
        self._errors = Counter(
            f"{PREFIX}_reconcile_errors",
            "Handler failures by handler and kind (temporary, permanent, unexpected).",
            ["handler", "kind"],
            registry=r,
        )
        self._cycle_seconds = Histogram(
            f"{PREFIX}_slo_cycle_seconds",
            "Wall time of one SLO evaluation cycle (all SLOs).",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self._cycles = Counter(f"{PREFIX}_slo_cycles", "SLO evaluation cycles run.", registry=r)
        self._last_success = Gauge(
            f"{PREFIX}_slo_cycle_last_success_timestamp_seconds",
            "Unix time the last SLO evaluation cycle completed (Prometheus unavailable "
            "included: the cycle still decides every SLO); time() minus it is its age.",
            registry=r,
        )
        self._queries = Counter(
            f"{PREFIX}_slo_queries", "Prometheus queries sent by SLO cycles.", registry=r
        )
        self._slos = Gauge(f"{PREFIX}_slos", "SLOs evaluated in the last cycle.", registry=r)
        self._declared = Counter(
            f"{PREFIX}_slo_incidents_declared",
            "Incidents declared by the SLO engine.",
            registry=r,
        )
        self._unavailable = Counter(
            f"{PREFIX}_slo_prometheus_unavailable",
            "SLO cycles in which Prometheus could not answer.",
            registry=r,
        )
        self._watch_activity = Gauge(
            f"{PREFIX}_watch_last_activity_timestamp_seconds",
            "Unix time kopf's watch stream of a resource (namespace empty: cluster-wide) last "
            "delivered an event, a bookmark or a listing; healthy streams deliver at least "
            "once a minute, idle or not (docs/liveness.md).",
            ["resource", "namespace"],
            registry=r,
        )
        self._open_keys: set[tuple[str, str, str, str]] = set()
        self._severities: set[str] = set()
        self._owners: set[tuple[str, str, str]] = set()

    def _seen(self, severity: str, owner: tuple[str, str] = ("", "")) -> None:
        """Start a severity's (and an owner's) series at zero the first time it is seen.

        A labelled series otherwise appears with its first event, already at 1: Prometheus
        never sees it rise, so ``increase()`` over it is 0 (a dashboard's MTTx quantile NaN)
        and "no escalations yet" reads as "no data"."""
        if severity not in self._severities:
            self._severities.add(severity)
            self._escalations.labels(severity)
        if (severity, *owner) in self._owners:
            return
        self._owners.add((severity, *owner))
        for histogram in self._figures.values():
            histogram.labels(severity, *owner)

    def _owner(self, severity: str, owner: tuple[str, str]) -> tuple[str, str]:
        """``owner``, or :data:`OTHER_OWNER` past :data:`MAX_OWNERS` distinct pairs."""
        pairs = {(service, team) for _, service, team in self._owners}
        if owner in pairs or len(pairs) < MAX_OWNERS:
            return owner
        return OTHER_OWNER

    def transition(self, from_phase: str, to_phase: str, severity: str) -> None:
        self._seen(severity)
        self._transitions.labels(from_phase, to_phase, severity).inc()

    def duration(
        self, figure: str, seconds: float, severity: str, owner: tuple[str, str] = ("", "")
    ) -> None:
        owner = self._owner(severity, owner)
        self._seen(severity, owner)
        histogram = self._figures.get(figure)
        if histogram is not None and seconds >= 0:
            histogram.labels(severity, *owner).observe(seconds)

    def escalation(self, severity: str) -> None:
        self._seen(severity)
        self._escalations.labels(severity).inc()

    def reconcile_error(self, handler: str, kind: str) -> None:
        self._errors.labels(handler, kind).inc()

    def slo_cycle(
        self, *, seconds: float, slos: int, queries: int, declared: int, unavailable: bool
    ) -> None:
        self._cycle_seconds.observe(seconds)
        self._cycles.inc()
        self._last_success.set_to_current_time()
        self._queries.inc(queries)
        self._slos.set(slos)
        self._declared.inc(declared)
        if unavailable:
            self._unavailable.inc()

    def set_open_incidents(self, counts: Mapping[tuple[str, str, str, str], int]) -> None:
        """Label sets that dropped to zero are removed, so a deleted service's series ends."""
        for gone in self._open_keys - set(counts):
            self._open.remove(*gone)
        for key, count in counts.items():
            self._open.labels(*key).set(count)
        self._open_keys = set(counts)

    def watch_delivery(self, resource: str, namespace: str, timestamp: float) -> None:
        self._watch_activity.labels(resource, namespace).set(timestamp)

    def watch_ended(self, resource: str, namespace: str) -> None:
        with contextlib.suppress(KeyError):
            self._watch_activity.remove(resource, namespace)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus text format and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
