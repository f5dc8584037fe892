"""Service level indicators and the PromQL that measures them over a window.

Rendering PromQL is pure string work, so it lives here and is tested without Prometheus.
Each indicator yields, per window, an ``errors`` and a ``total`` rate expression (both
per-second), or, for SLIs already recorded by Sloth or Pyrra, a ready ``ratio`` expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from .durations import format_duration

WINDOW_PLACEHOLDER = "{{window}}"


class Part(StrEnum):
    ERRORS = "errors"
    TOTAL = "total"
    RATIO = "ratio"


@dataclass(frozen=True)
class RatioSli:
    """Sloth-style: PromQL for bad and all events with a {{window}} placeholder."""

    errors: str
    total: str

    def expressions(self, window: timedelta) -> dict[Part, str]:
        w = format_duration(window)
        return {
            Part.ERRORS: f"sum({self.errors.replace(WINDOW_PLACEHOLDER, w)})",
            Part.TOTAL: f"sum({self.total.replace(WINDOW_PLACEHOLDER, w)})",
        }


@dataclass(frozen=True)
class LatencySli:
    """Requests slower than ``threshold`` seconds (a histogram bucket boundary) are bad."""

    metric: str
    threshold: float
    selector: str = ""

    def expressions(self, window: timedelta) -> dict[Part, str]:
        w = format_duration(window)
        sel = f"{self.selector}," if self.selector else ""
        total = f"sum(rate({self.metric}_count{{{self.selector}}}[{w}]))"
        fast = f'sum(rate({self.metric}_bucket{{{sel}le="{self.threshold:g}"}}[{w}]))'
        return {Part.ERRORS: f"({total} - {fast})", Part.TOTAL: total}


class Provider(StrEnum):
    SLOTH = "sloth"
    PYRRA = "pyrra"


@dataclass(frozen=True)
class RecordedSli:
    """Error ratios already recorded by Sloth or Pyrra; their series, not raw PromQL.

    Sloth records ``slo:sli_error:ratio_rate<window>{sloth_id="..."}``; Pyrra records
    ``<metric>:burnrate<window>{slo="..."}`` (an error ratio despite the name). Neither
    records event counts, so ``minRequests`` cannot be applied to recorded SLIs.
    """

    provider: Provider
    name: str

    def expressions(self, window: timedelta) -> dict[Part, str]:
        w = format_duration(window)
        name = _escape(self.name)
        if self.provider is Provider.SLOTH:
            return {Part.RATIO: f'max(slo:sli_error:ratio_rate{w}{{sloth_id="{name}"}})'}
        return {Part.RATIO: f'max({{__name__=~".+:burnrate{w}",slo="{name}"}})'}


Sli = RatioSli | LatencySli | RecordedSli


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def tagged(expression: str, slo: str, part: Part) -> str:
    """Label a single-series expression with the SLO's identity and the part it measures."""
    return (
        f'label_replace(label_replace({expression}, "slo", "{_escape(slo)}", "", ""), '
        f'"sli", "{part.value}", "", "")'
    )


def batch_query(slis: dict[str, Sli], window: timedelta) -> str:
    """One query for every SLO's parts over ``window``: cost grows with windows, not SLOs."""
    return " or ".join(
        tagged(expression, slo, part)
        for slo, sli in sorted(slis.items())
        for part, expression in sli.expressions(window).items()
    )


def ratio_expression(sli: Sli, window: timedelta) -> str:
    """The SLI's error ratio over ``window`` as one expression (for range queries)."""
    parts = sli.expressions(window)
    if Part.RATIO in parts:
        return parts[Part.RATIO]
    return f"({parts[Part.ERRORS]}) / ({parts[Part.TOTAL]})"
