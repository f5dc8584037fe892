"""The operator's capabilities on the outside world, one Protocol each.

Every port has a real adapter and an in-memory fake (in ``tests/fakes/ports/``, not shipped);
services receive them by injection.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import Sli

WindowMeasurements = dict[timedelta, Measurement | None]


@dataclass(frozen=True)
class IndicatorProblem:
    """Why one SLO was not measured while the others were."""

    reason: str
    """CamelCase: InvalidIndicator (its PromQL was refused) or QueryFailed (Prometheus
    refused the SLO's own query)."""
    message: str


@dataclass
class Measured:
    values: dict[str, WindowMeasurements]
    """Per SLO and window; None where there is no data."""
    problems: dict[str, IndicatorProblem] = field(default_factory=dict)
    """SLOs that could not be measured, and why; they have no entry in ``values``."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class MetricsSource(Protocol):
    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        """Every SLO's measurement for every window at ``at``; None where there is no data.

        An SLO whose own indicator cannot be measured is reported in ``problems``; no SLO's
        indicator can change what another SLO measures.

        Events (request counts) are measured for the SLOs in ``counted`` (None: all); the
        others get ratios only, which is cheaper for Prometheus.

        Raises MetricsUnavailable when the source cannot answer at all (as opposed to: no
        data, or one SLO's query refused).
        """
        ...

    @property
    def queries(self) -> int:
        """Queries sent so far (the cost of a cycle must grow with windows, not SLOs)."""
        ...


class RatioHistory(Protocol):
    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        """The error ratio of ``sli`` over ``window``, sampled from ``start`` to ``end``."""
        ...


Body = dict[str, Any]


class ResourceStore(Protocol):
    """The operator's own objects in the cluster (real: the API server; fake: dicts)."""

    async def list_slos(self) -> list[Body]: ...

    async def get_slo(self, namespace: str, name: str) -> Body | None: ...

    async def patch_slo_status(
        self, namespace: str, name: str, status: Body, *, resource_version: str | None = None
    ) -> None:
        """Merge ``status``; with ``resource_version``, only onto that version (else Conflict)."""
        ...

    async def find_incidents(self, namespace: str, labels: Mapping[str, str]) -> list[Body]:
        """Incidents carrying all ``labels``; ``namespace`` "" searches every namespace."""
        ...

    async def get_incident(self, namespace: str, name: str) -> Body | None: ...

    async def create_incident(self, namespace: str, body: Body) -> Body:
        """Create, or return the existing object of that name (a retry after a crash)."""
        ...

    async def edit_incident(self, namespace: str, name: str, change: Body) -> Body:
        """A person's change (spec/metadata), as ``kubectl edit`` would make it, on their behalf.

        FieldOwnedElsewhere when a field it would alter was applied (server-side apply) by
        another manager — a GitOps tool that will apply it again: reported, never forced.
        The write is an update under the operator's field manager, so it claims no
        declarative ownership a later Git commit or ``kubectl`` would conflict with.
        """
        ...

    async def patch_incident(
        self,
        namespace: str,
        name: str,
        *,
        spec: Body | None = None,
        status: Body | None = None,
        metadata: Body | None = None,
        resource_version: str | None = None,
    ) -> Body:
        """JSON merge patches; ``metadata`` (labels, annotations) goes with ``spec`` atomically.

        ``resource_version`` makes the status patch conditional: Conflict when the incident
        changed since that version was read.
        """
        ...

    async def append_timeline(self, namespace: str, name: str, entries: Sequence[Body]) -> None:
        """Add entries to status.timeline, skipping any whose key is already there."""
        ...

    async def emit_event(
        self, regarding: Body, reason: str, message: str, *, warning: bool = False
    ) -> None: ...

    async def get_severity(self, name: str) -> Body | None:
        """The cluster-scoped Severity; None when it does not exist (yet)."""
        ...

    async def get_rotation(self, namespace: str, name: str) -> Body | None:
        """The OnCallRotation; None when it does not exist (roles then stay unfilled)."""
        ...


class TokenSource(Protocol):
    """A shared secret the operator is started with (a mounted Secret file or an env var)."""

    def current(self) -> bytes | None:
        """The secret now; None when none is configured or it cannot be read."""
        ...


class RuleStore(Protocol):
    """prometheus-operator's PrometheusRule objects, where that CRD is installed."""

    async def prometheus_rules_supported(self) -> bool: ...

    async def apply_prometheus_rule(self, namespace: str, body: Body) -> None:
        """Create or update (server-side apply, our field manager) the rule object."""
        ...


class OperatorMetrics(Protocol):
    """What the operator reports about itself (real: prometheus-client; fake: lists).

    Services call it after the fact, never to decide anything, so a no-op is always a valid
    implementation and every service takes one by default.
    """

    def transition(self, from_phase: str, to_phase: str, severity: str) -> None:
        """An incident's accepted phase moved (``from_phase`` "" for a new incident)."""
        ...

    def duration(
        self, figure: str, seconds: float, severity: str, owner: tuple[str, str] = ("", "")
    ) -> None:
        """An MTTx figure (``timeToAcknowledge`` ...) was first stamped with this value;
        ``owner``: the catalogued (service, team), empty when not catalogued."""
        ...

    def escalation(self, severity: str) -> None: ...

    def reconcile_error(self, handler: str, kind: str) -> None:
        """A handler failed; ``kind`` is temporary, permanent or unexpected."""
        ...

    def slo_cycle(
        self, *, seconds: float, slos: int, queries: int, declared: int, unavailable: bool
    ) -> None: ...

    def set_open_incidents(self, counts: Mapping[tuple[str, str, str, str], int]) -> None:
        """Replace the open incidents, counted by (severity, service, phase, team)."""
        ...

    def watch_delivery(self, resource: str, namespace: str, timestamp: float) -> None:
        """kopf's watch stream of ``resource`` delivered something at Unix time ``timestamp``."""
        ...

    def watch_ended(self, resource: str, namespace: str) -> None:
        """That stream was stopped on purpose; its series ends."""
        ...


class NoOperatorMetrics:
    """Records nothing: the default wherever metrics are optional (services take it when
    none is injected, so it lives beside its Protocol, not with the adapters)."""

    def transition(self, from_phase: str, to_phase: str, severity: str) -> None:
        pass

    def duration(
        self, figure: str, seconds: float, severity: str, owner: tuple[str, str] = ("", "")
    ) -> None:
        pass

    def escalation(self, severity: str) -> None:
        pass

    def reconcile_error(self, handler: str, kind: str) -> None:
        pass

    def slo_cycle(
        self, *, seconds: float, slos: int, queries: int, declared: int, unavailable: bool
    ) -> None:
        pass

    def set_open_incidents(self, counts: Mapping[tuple[str, str, str, str], int]) -> None:
        pass

    def watch_delivery(self, resource: str, namespace: str, timestamp: float) -> None:
        pass

    def watch_ended(self, resource: str, namespace: str) -> None:
        pass
