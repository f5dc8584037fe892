"""The status page's uptime history: each public component's SLOs measured per day, cached.

Which components are public, and which SLOs measure them, is the cluster admin's word
(``--status-page-component SERVICE=NAMESPACE,...``, chart value ``statusPage.components``):
a component's SLOs are those whose ``spec.service`` is its name *in the namespaces listed for
it*. A tenant can label its own SLO with any service name, so the namespace list is what
keeps one tenant's SLO off another tenant's public bars.

A page view never waits on Prometheus except for the very first one: the figures are read at
most every ``refresh`` (5 minutes by default) in the background, and the last good reading is
served meanwhile. When Prometheus cannot answer, the last reading stays (its ``measured_at``
says how old it is); without any, every day has no data. An SLO whose spec cannot be read
or whose PromQL is refused is left out (logged), and its days are no data, never up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock
from incident_operator.adapters.uptime_port import DailyHistory
from incident_operator.api.v1alpha1.slo import ServiceLevelObjectiveSpec
from incident_operator.domain.uptime import DAYS, SloHistory, UptimeComponent, period
from incident_operator.errors import InvalidIndicator, MetricsUnavailable, QueryRejected

log = logging.getLogger(__name__)

REFRESH = timedelta(minutes=5)
"""How often the figures are read again from Prometheus, at most."""
CONCURRENCY = 4
"""SLOs measured at once: a refresh must not flood Prometheus."""


@dataclass(frozen=True)
class UptimeSnapshot:
    measured_at: datetime | None = None
    """When Prometheus answered for these figures; None: never yet."""
    histories: Mapping[str, tuple[SloHistory, ...]] = field(default_factory=dict)
    """Component name -> its SLOs' days (missing: no data)."""


@dataclass(frozen=True)
class _Slo:
    key: str
    component: str
    spec: ServiceLevelObjectiveSpec


class UptimeService:
    def __init__(
        self,
        list_slos: Callable[[], Awaitable[list[Body]]],
        history: DailyHistory,
        clock: Clock,
        components: Sequence[UptimeComponent],
        *,
        refresh: timedelta = REFRESH,
        days: int = DAYS,
    ) -> None:
        self._list_slos = list_slos
        self._history = history
        self._clock = clock
        self.components = tuple(components)
        self._refresh = refresh
        self._days = days
        self._snapshot = UptimeSnapshot()
        self._attempted: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.version = 0
        """Counts readings, so a renderer can keep its output until the figures moved."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted({c.name for c in self.components}))

    async def snapshot(self) -> UptimeSnapshot:
        """The latest figures; starts a reading when the last attempt is ``refresh`` old, and
        waits for it only when there has never been one."""
        now = self._clock.now()
        due = self._attempted is None or now - self._attempted >= self._refresh
        if due and (self._task is None or self._task.done()) and self.components:
            self._attempted = now
            self._task = asyncio.create_task(self.read())
        if self._snapshot.measured_at is None and self._task is not None:
            await asyncio.shield(self._task)
        return self._snapshot

    async def idle(self) -> None:
        """Wait until no reading is running."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def read(self) -> None:
        """Measure every public component's SLOs now; keep the last figures if Prometheus
        (or the SLO listing) cannot answer. Never raises: it runs in the background."""
        try:
            await self._read()
        except MetricsUnavailable as exc:
            log.warning("Uptime not refreshed, Prometheus unavailable: %s", exc)
        except Exception:
            log.exception("Uptime not refreshed")

    async def _read(self) -> None:
        now = self._clock.now()
        days = period(now, self._days)
        slos = self._slos(await self._list_slos())
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(slo: _Slo) -> SloHistory | None:
            async with limit:
                try:
                    measured = await self._history.daily(slo.spec.sli(), days, now)
                except (InvalidIndicator, QueryRejected) as exc:
                    log.warning("Uptime of SLO %s left out: %s", slo.key, exc)
                    return None
            return SloHistory(measured, slo.spec.to_domain().target)

        # Wait for every SLO even when one fails: none is left running unobserved.
        answers = await asyncio.gather(*(one(s) for s in slos), return_exceptions=True)
        found: list[SloHistory | None] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            found.append(answer)
        histories: dict[str, list[SloHistory]] = {name: [] for name in self.names}
        for slo, history in zip(slos, found, strict=True):
            if history is not None:
                histories[slo.component].append(history)
        self._snapshot = UptimeSnapshot(now, {k: tuple(v) for k, v in histories.items()})
        self.version += 1

    def _slos(self, bodies: Sequence[Body]) -> list[_Slo]:
        out: list[_Slo] = []
        for body in bodies:
            meta = body.get("metadata") or {}
            namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
            raw = body.get("spec") or {}
            service = str(raw.get("service") or "") if isinstance(raw, Mapping) else ""
            if not any(c.measures(namespace, service) for c in self.components):
                continue
            try:
                spec = ServiceLevelObjectiveSpec.model_validate(raw)
                spec.to_domain()
            except (ValidationError, ValueError) as exc:
                log.warning("Uptime of SLO %s/%s left out: %s", namespace, name, exc)
                continue
            out.append(_Slo(f"{namespace}/{name}", service, spec))
        return sorted(out, key=lambda s: (s.component, s.key))
