"""MetricsSource on Prometheus' HTTP API (``prometheus_http``), off the event loop.

One instant query per window carries every SLO (see ``domain.sli.batch_plan``), so a cycle
costs len(windows) queries whatever the number of SLOs. Isolation between the SLOs sharing
that query:
- every SLO's PromQL is parsed on its own first (``adapters.promql``); what is refused is that
  SLO's ``InvalidIndicator`` problem, and what the parser cannot print back faithfully is
  measured in a query of its own;
- the batch is built from the printed parse trees and parsed back before it is sent: each
  leaf of its ``or`` tree must label exactly one SLO expression with that expression's own term
  id, which ``label_replace`` writes over anything the expression produced;
- when Prometheus refuses the batch (400/422: one expression fails at run time, or hits a
  limit), the batch is split in halves until the refusing SLOs are found; they get their own
  ``QueryFailed`` problem and are queried alone in later cycles while their PromQL is unchanged.
Prometheus being unreachable or failing (5xx, timeout) is everyone's ``MetricsUnavailable``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.domain.burn import Measurement
from incident_operator.domain.sli import (
    PYRRA_WINDOW_TERM,
    BatchPlan,
    LatencySli,
    Part,
    RatioSli,
    RecordedSli,
    Sli,
    batch_plan,
    ratio_expression,
)
from incident_operator.errors import InvalidIndicator, QueryRejected

from . import promql
from .native_memory import release_free_memory
from .ports import IndicatorProblem, Measured
from .prometheus_http import PrometheusHttp

Parts = dict[Part, str]


def measurements_from(
    plan: BatchPlan, results: Sequence[Mapping[str, Any]], window: timedelta
) -> dict[str, Measurement | None]:
    """Turn one window's answer into per-SLO measurements."""
    series = [(r.get("metric", {}), float(r["value"][1])) for r in results]
    return {slo: _measurement(values, window) for slo, values in plan.decode(series).items()}


def _measurement(values: Mapping[Part, float], window: timedelta) -> Measurement | None:
    if Part.RATIO in values:
        ratio = values[Part.RATIO]
        return None if math.isnan(ratio) else Measurement(ratio)
    errors, total = values.get(Part.ERRORS), values.get(Part.TOTAL)
    if errors is None or total is None or math.isnan(errors) or math.isnan(total) or total <= 0:
        return None  # no series, or no requests in the window: no data, not "no errors"
    return Measurement(max(0.0, errors) / total, events=total * window.total_seconds())


class _Window:
    """One window's measurements and failures, filled in by the queries of a cycle."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.found: dict[str, Measurement | None] = {}
        self.failed: dict[str, str] = {}


class PrometheusMetrics:
    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None):
        self._client = PrometheusHttp(url, timeout=timeout, headers=headers)
        self._queries = 0
        self._checked: dict[tuple[Sli, timedelta, bool], promql.Checked | InvalidIndicator] = {}
        self._alone: set[tuple[str, timedelta, tuple[tuple[Part, str], ...]]] = set()
        """SLOs whose own query Prometheus refused: queried alone while their PromQL stays."""
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promql-parse")
        """One thread for parsing: parse trees of big batches in many pool threads left one
        malloc arena each behind (the operator's RSS went from ~240 to ~600 MB)."""
        self._parsed = False
        """``_route`` parsed PromQL it had not checked before (memory to give back)."""
        self._verified: set[str] = set()
        """Batch texts that parsed back to their planned leaves in this cycle..."""
        self._verified_before: set[str] = set()
        """...and in the previous one (unchanged SLOs: nothing to parse again)."""

    @property
    def queries(self) -> int:
        return self._queries

    async def _query(self, query: str, at: datetime) -> list[dict[str, Any]]:
        self._queries += 1
        return await asyncio.to_thread(self._client.query, query, at)

    def _check(
        self, sli: RatioSli | LatencySli, window: timedelta, counted: bool
    ) -> promql.Checked:
        key = (sli, window, counted)
        found = self._checked.get(key)
        if found is None:
            self._parsed = True
            try:
                found = promql.check(sli, window, counted)
            except InvalidIndicator as exc:
                found = exc
            self._checked[key] = found
        if isinstance(found, InvalidIndicator):
            raise found
        return found

    def _route(
        self, slis: Mapping[str, Sli], windows: Sequence[timedelta], counted: Collection[str] | None
    ) -> tuple[
        dict[str, IndicatorProblem],
        dict[str, RecordedSli],
        dict[timedelta, dict[str, Parts]],
        dict[timedelta, dict[str, Parts]],
    ]:
        """Check every SLO's PromQL; split them into refused, recorded, batched and alone."""
        problems: dict[str, IndicatorProblem] = {}
        recorded: dict[str, RecordedSli] = {}
        batched: dict[timedelta, dict[str, Parts]] = {w: {} for w in windows}
        alone: dict[timedelta, dict[str, Parts]] = {w: {} for w in windows}
        alone_keys: set[tuple[str, timedelta, tuple[tuple[Part, str], ...]]] = set()
        for slo, sli in sorted(slis.items()):
            if isinstance(sli, RecordedSli):
                recorded[slo] = sli
                continue
            count = counted is None or slo in counted
            try:
                checks = {w: self._check(sli, w, count) for w in windows}
            except InvalidIndicator as exc:
                problems[slo] = IndicatorProblem("InvalidIndicator", str(exc))
                continue
            for window, checked in checks.items():
                key = (slo, window, tuple(sorted(checked.parts.items())))
                if not checked.batchable or key in self._alone:
                    alone[window][slo] = checked.parts
                    alone_keys.add(key)
                else:
                    batched[window][slo] = checked.parts
        used = {
            (sli, w, counted is None or slo in counted)
            for slo, sli in slis.items()
            for w in windows
        }
        self._checked = {k: v for k, v in self._checked.items() if k in used}
        self._alone &= alone_keys
        if self._parsed:
            self._parsed = False
            release_free_memory()
        return problems, recorded, batched, alone

    async def measure(
        self,
        slis: Mapping[str, Sli],
        windows: Sequence[timedelta],
        at: datetime,
        *,
        counted: Collection[str] | None = None,
    ) -> Measured:
        # Parsing a thousand new SLOs takes a second or two: off the event loop.
        loop = asyncio.get_running_loop()
        problems, recorded, batched, alone = await loop.run_in_executor(
            self._parser, self._route, slis, windows, counted
        )
        self._verified, self._verified_before = set(), self._verified
        if not slis:
            return Measured({})
        results = [_Window(w) for w in windows]
        jobs = [self._batch(batched[r.window], recorded, r, at) for r in results] + [
            self._one(slo, parts, r, at) for r in results for slo, parts in alone[r.window].items()
        ]
        # Wait for every query even when one fails: a query left running after its sibling's
        # error would raise later with nobody listening (and fail the operator's shutdown).
        answers = await asyncio.gather(*jobs, return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        values: dict[str, dict[timedelta, Measurement | None]] = {
            slo: {} for slo in slis if slo not in problems
        }
        for r in results:
            for slo, message in r.failed.items():
                problems.setdefault(slo, IndicatorProblem("QueryFailed", message))
            for slo, by_window in values.items():
                by_window[r.window] = r.found.get(slo)
        for slo in problems:
            values.pop(slo, None)
        return Measured(values, problems)

    async def _batch(
        self,
        parts: dict[str, Parts],
        recorded: Mapping[str, RecordedSli],
        into: _Window,
        at: datetime,
    ) -> None:
        """Measure ``parts`` and ``recorded`` in one query, or in halves if it is refused."""
        if not parts and not recorded:
            return
        plan = batch_plan(parts, recorded, into.window)
        if plan.query in self._verified_before:
            self._verified.add(plan.query)
        elif not await asyncio.get_running_loop().run_in_executor(self._parser, self._verify, plan):
            if len(parts) == 1:  # cannot happen with the parser's own output; never batch it
                [(slo, own)] = parts.items()
                await asyncio.gather(
                    self._one(slo, own, into, at), self._batch({}, recorded, into, at)
                )
                return
            await self._halves(parts, recorded, into, at)
            return
        try:
            answer = await self._query(plan.query, at)
        except QueryRejected as exc:
            if len(parts) + len(recorded) <= 1 or not parts:
                for slo in [*parts, *recorded]:
                    into.failed[slo] = str(exc)
                    self._alone.add((slo, into.window, tuple(sorted(parts.get(slo, {}).items()))))
                return
            await self._halves(parts, recorded, into, at)
            return
        into.found.update(measurements_from(plan, answer, into.window))

    async def _halves(
        self,
        parts: dict[str, Parts],
        recorded: Mapping[str, RecordedSli],
        into: _Window,
        at: datetime,
    ) -> None:
        keys = sorted(parts)
        middle = len(keys) // 2
        first = {k: parts[k] for k in keys[:middle]}
        second = {k: parts[k] for k in keys[middle:]}
        answers = await asyncio.gather(
            self._batch(first, recorded, into, at),
            self._batch(second, {}, into, at),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer

    def _verify(self, plan: BatchPlan) -> bool:
        """The exact text to send parses back to one leaf per term, each labelling exactly
        the expression planned for it (so no expression reaches past its own leaf)."""
        if not plan.expressions:
            return True
        leaves = promql.batch_leaves(plan.query)
        release_free_memory()  # the batch's parse tree: ~70 MB of C heap for 1,000 SLOs
        if leaves is None:
            return False
        providers = set(leaves) - set(plan.expressions)
        if not providers <= {"sloth", "pyrra", PYRRA_WINDOW_TERM}:
            return False
        if any(leaves.get(term) != text for term, text in plan.expressions.items()):
            return False
        self._verified.add(plan.query)
        return True

    async def _one(self, slo: str, parts: Parts, into: _Window, at: datetime) -> None:
        """Measure one SLO with queries of its own: nothing else is in them."""
        values: dict[Part, float] = {}
        try:
            for part, text in parts.items():
                answer = await self._query(text, at)
                if len(answer) > 1:
                    into.failed[slo] = (
                        f"the {part.value} expression returned {len(answer)} series, "
                        "an indicator must aggregate to one"
                    )
                    return
                if answer:
                    values[part] = float(answer[0]["value"][1])
        except QueryRejected as exc:
            into.failed[slo] = str(exc)
            self._alone.add((slo, into.window, tuple(sorted(parts.items()))))
            return
        into.found[slo] = _measurement(values, into.window)

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        self._queries += 1
        result = await asyncio.to_thread(
            self._client.query_range,
            ratio_expression(sli, window),
            start,
            end,
            max(1, int(step.total_seconds())),
        )
        return [
            (datetime.fromtimestamp(float(t), UTC), float(v))
            for series in result[:1]
            for t, v in series.get("values", [])
            if not math.isnan(float(v))
        ]
