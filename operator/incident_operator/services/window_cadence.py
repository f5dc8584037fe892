"""Measure each SLO window at a cadence proportional to its length (``domain/cadence``).

``CadencedMetrics`` is a ``MetricsSource`` in front of the real one: every cycle it asks the
source only for the (SLO, window) readings that are too old to decide on, reuses the rest,
and answers exactly as the source would. In the usual cycle that is every SLO over the
short windows; the 1-day, 3-day and 30-day windows, by far the most expensive to compute
from raw samples, are re-read every 2, 6 and 60 minutes.

Isolation is the source's: each fetch goes through its ``measure``, which measures every
SLO's indicator on its own terms; a reading is reused only for the same SLO with the same
indicator, and an SLO that reported a problem keeps no readings (it is measured afresh).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from incident_operator.adapters.ports import IndicatorProblem, Measured
from incident_operator.domain import cadence
from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import Sli

from .slo_evaluation import Metrics


@dataclass(frozen=True, slots=True)  # one per SLO and window, kept between cycles
class _Reading:
    identity: tuple[Sli, bool]
    """The indicator and whether events were counted: a reading serves only its like."""
    at: datetime
    measurement: Measurement | None


class CadencedMetrics:
    def __init__(self, source: Metrics, share: int = cadence.STALENESS_SHARE) -> None:
        self._source = source
        self._share = share
        self._readings: dict[tuple[str, timedelta], _Reading] = {}

    @property
    def queries(self) -> int:
        return self._source.queries

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        return await self._source.ratio_series(sli, window, start, end, step)

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        identity = {slo: (sli, counted is None or slo in counted) for slo, sli in slis.items()}
        self._readings = {
            key: r for key, r in self._readings.items() if identity.get(key[0]) == r.identity
        }
        fetches = cadence.plan(
            slis, windows, {key: r.at for key, r in self._readings.items()}, at, self._share
        )
        # Every fetch finishes before any error is raised: none is left running unheard.
        answers = await asyncio.gather(
            *(
                self._source.measure(
                    {slo: slis[slo] for slo in fetch.slos},
                    fetch.windows,
                    at,
                    counted=None if counted is None else [s for s in fetch.slos if s in counted],
                )
                for fetch in fetches
            ),
            return_exceptions=True,
        )
        problems: dict[str, IndicatorProblem] = {}
        for fetch, answer in zip(fetches, answers, strict=True):
            if isinstance(answer, BaseException):
                raise answer
            problems.update(answer.problems)
            for slo in fetch.slos:
                by_window = answer.values.get(slo)
                if by_window is None:
                    continue
                for window in fetch.windows:
                    self._readings[(slo, window)] = _Reading(
                        identity[slo], at, by_window.get(window)
                    )
        for slo in problems:
            for window in windows:
                self._readings.pop((slo, window), None)
        values = {
            slo: {
                w: (r.measurement if (r := self._readings.get((slo, w))) else None) for w in windows
            }
            for slo in slis
            if slo not in problems
        }
        return Measured(values, problems)
