"""In-memory MetricsSource for fast service tests: set what each SLO measures."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incident_operator.adapters.ports import IndicatorProblem, Measured, WindowMeasurements
from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import Sli
from incident_operator.errors import MetricsUnavailable


@dataclass
class FakeMetrics:
    uniform: dict[str, Measurement] = field(default_factory=dict)
    """Measurement of every window of an SLO; an SLO missing here has no data."""
    per_window: dict[tuple[str, timedelta], Measurement | None] = field(default_factory=dict)
    """Overrides for single windows."""
    history: list[tuple[datetime, float]] = field(default_factory=list)
    """What ratio_series answers, whatever the SLI."""
    problems: dict[str, IndicatorProblem] = field(default_factory=dict)
    """SLOs whose indicator the source refuses, and why."""
    available: bool = True
    calls: list[datetime] = field(default_factory=list)
    queries: int = 0

    def set(self, slo: str, ratio: float | None, events: float | None = 1e6) -> None:
        """Every window of ``slo`` measures ``ratio`` (None: the metric is absent)."""
        if ratio is None:
            self.uniform.pop(slo, None)
        else:
            self.uniform[slo] = Measurement(ratio, events)

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        self.calls.append(at)
        self.queries += len(windows)
        if not self.available:
            raise MetricsUnavailable("Prometheus query failed: connection refused (fake)")
        values: dict[str, WindowMeasurements] = {
            slo: {
                w: self.per_window[(slo, w)]
                if (slo, w) in self.per_window
                else self.uniform.get(slo)
                for w in windows
            }
            for slo in slis
            if slo not in self.problems
        }
        return Measured(values, {k: v for k, v in self.problems.items() if k in slis})

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        self.queries += 1
        if not self.available:
            raise MetricsUnavailable("Prometheus range query failed: connection refused (fake)")
        return [(t, v) for t, v in self.history if start <= t <= end]
