"""Service level indicators and the PromQL that measures them over a window.

Rendering PromQL is pure string work, so it lives here and is tested without Prometheus.
Each indicator yields, per window, an ``errors`` and a ``total`` rate expression (both
per-second), or, for SLIs already recorded by Sloth or Pyrra, a ready ``ratio`` expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
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
        fast = f"sum(rate({self.metric}_bucket{{{sel}{le_matcher(self.threshold)}}}[{w}]))"
        return {Part.ERRORS: f"({total} - {fast})", Part.TOTAL: total}


def le_spellings(bound: float) -> tuple[str, ...]:
    """Every way a bucket boundary is written in an ``le`` label, sorted.

    Exporters write boundaries as they like (Go's client ``1``, Python's ``1.0``) and
    Prometheus 2 stores them as scraped; Prometheus 3 normalises classic histograms' ``le``
    on ingestion to Go's shortest ``%g`` with ``.0`` added to whole numbers (``1.0``, but
    ``1e+06``). A selector on one spelling sees no data on the other server, so the
    boundary is matched in all of them.
    """
    shortest = repr(float(bound))  # Python's shortest round-trip digits, 1.0 / 0.25 / 1e-05
    digits, exponent = _digits(shortest)
    decimal_point = len(digits) + exponent
    if decimal_point - 1 < -4 or decimal_point - 1 >= 6:  # Go's %g switch to e-notation
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = decimal_point - 1
        go = f"{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    else:
        go = format(Decimal(shortest).normalize(), "f")
    spellings = {go, shortest}
    if float(bound).is_integer() and "e" not in go:
        spellings.add(f"{go}.0")
    return tuple(sorted(spellings))


def le_matcher(bound: float) -> str:
    """``le="0.25"``, or a regex over every spelling of the bound (``le=~"1|1[.]0"``).

    The regex escapes with character classes, not backslashes: the PromQL parser prints
    ``\\.`` back as an escape it then refuses, which would keep the SLO out of batches.
    """
    spellings = le_spellings(bound)
    if len(spellings) == 1:
        return f'le="{spellings[0]}"'
    return 'le=~"' + "|".join(s.replace(".", "[.]").replace("+", "[+]") for s in spellings) + '"'


def _digits(text: str) -> tuple[str, int]:
    """Significant digits and exponent of a positive decimal: 0.25 -> ("25", -2)."""
    sign, digits, exponent = Decimal(text).normalize().as_tuple()
    if sign or not isinstance(exponent, int):
        raise ValueError(f"bucket boundary must be a positive finite number, got {text}")
    return "".join(map(str, digits)), exponent


class Provider(StrEnum):
    SLOTH = "sloth"
    PYRRA = "pyrra"


@dataclass(frozen=True)
class RecordedSli:
    """Error ratios already recorded by Sloth or Pyrra; their series, not raw PromQL.

    Sloth records ``slo:sli_error:ratio_rate<window>{sloth_id="..."}``; Pyrra records
    ``<metric>:burnrate<window>{slo="..."}`` (an error ratio despite the name) for its own
    windows only, and, over the SLO window (``slo_window``), availability in its generic
    rules' ``pyrra_availability{slo="..."}``, whose complement is the error ratio. Neither
    records event counts, so ``minRequests`` cannot be applied to recorded SLIs.
    """

    provider: Provider
    name: str
    slo_window: timedelta | None = None
    """The SLO's window, which Pyrra records as availability rather than as a burn rate."""

    def expressions(self, window: timedelta) -> dict[Part, str]:
        w = format_duration(window)
        name = _escape(self.name)
        if self.provider is Provider.SLOTH:
            return {Part.RATIO: f'max(slo:sli_error:ratio_rate{w}{{sloth_id="{name}"}})'}
        if window == self.slo_window:
            return {Part.RATIO: f'(1 - max({PYRRA_AVAILABILITY}{{slo="{name}"}}))'}
        return {Part.RATIO: f'max({{__name__=~".+:burnrate{w}",slo="{name}"}})'}


PYRRA_AVAILABILITY = "pyrra_availability"


Sli = RatioSli | LatencySli | RecordedSli


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class BatchPlan:
    """One query for many SLOs over one window, and how to read its answer back.

    Identical expressions (two SLOs on the same SLI with different targets) are queried
    once; SLIs recorded by Sloth or Pyrra cost one selector per provider, whatever their
    number; the rest are combined with a balanced ``or`` tree. Prometheus' cost for one
    expression grows faster than linearly with its size, so every term saved counts.
    """

    query: str
    terms: dict[str, tuple[tuple[str, Part], ...]]
    """Term id -> the (SLO, part) pairs it answers."""
    recorded: dict[tuple[Provider, str], tuple[str, ...]]
    """(provider, recorded name) -> the SLOs reading it."""
    expressions: dict[str, str]
    """Term id -> the expression it labels."""
    availability: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Pyrra SLO name -> the SLOs reading its SLO-window availability in this window."""

    def decode(
        self, series: Sequence[tuple[Mapping[str, str], float]]
    ) -> dict[str, dict[Part, float]]:
        """Values per SLO and part from (labels, value) pairs of the query's result."""
        out: dict[str, dict[Part, float]] = {}
        for labels, value in series:
            term = labels.get(TERM_LABEL)
            if term in self.terms:
                for slo, part in self.terms[term]:
                    out.setdefault(slo, {})[part] = value
            elif term == PYRRA_WINDOW_TERM:
                for slo in self.availability.get(labels.get("slo", ""), ()):
                    out.setdefault(slo, {})[Part.RATIO] = value
            elif term in _PROVIDER_TERMS:
                provider = _PROVIDER_TERMS[term]
                name = labels.get(_RECORDED_ID[provider], "")
                for slo in self.recorded.get((provider, name), ()):
                    out.setdefault(slo, {})[Part.RATIO] = value
        return out


TERM_LABEL = "__incident_operator_term"
_RECORDED_ID = {Provider.SLOTH: "sloth_id", Provider.PYRRA: "slo"}
_PROVIDER_TERMS = {"sloth": Provider.SLOTH, "pyrra": Provider.PYRRA}
PYRRA_WINDOW_TERM = "pyrra-window"


def tag(expression: str, term: str) -> str:
    """``expression``'s every result series labelled as answering ``term``, whatever labels
    the expression itself produced (label_replace overwrites the label)."""
    return f'label_replace({expression}, "{TERM_LABEL}", "{term}", "", "")'


def _balanced_or(terms: Sequence[str]) -> str:
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_balanced_or(terms[:middle])}) or ({_balanced_or(terms[middle:])})"


def parts_for(sli: RatioSli | LatencySli, window: timedelta, counted: bool) -> dict[Part, str]:
    """The expressions that measure ``sli``: errors and total when its events are counted,
    else one ratio term (Prometheus' cost grows about with the square of the number of
    terms in one query, so halving them makes it ~4x cheaper)."""
    if counted:
        return sli.expressions(window)
    return {Part.RATIO: ratio_expression(sli, window)}


def batch_plan(
    parts: Mapping[str, Mapping[Part, str]],
    recorded: Mapping[str, RecordedSli],
    window: timedelta,
) -> BatchPlan:
    """Plan the single query that measures these SLOs over ``window``.

    ``parts`` are each SLO's expressions (``parts_for``), checked by the caller: every one is
    a complete expression on its own, so the label set on its result names its SLO and only
    its SLO. ``recorded`` SLOs are read through one selector per provider.
    """
    w = format_duration(window)
    by_expression: dict[str, list[tuple[str, Part]]] = {}
    for slo, expressions in sorted(parts.items()):
        for part, expression in expressions.items():
            by_expression.setdefault(expression, []).append((slo, part))
    by_name: dict[tuple[Provider, str], list[str]] = {}
    availability: dict[str, list[str]] = {}
    for slo, sli in sorted(recorded.items()):
        if sli.provider is Provider.PYRRA and sli.slo_window == window:
            availability.setdefault(sli.name, []).append(slo)
        else:
            by_name.setdefault((sli.provider, sli.name), []).append(slo)
    terms = {f"e{i}": tuple(users) for i, users in enumerate(by_expression.values())}
    texts = [tag(expression, f"e{i}") for i, expression in enumerate(by_expression)]
    providers = {provider for provider, _ in by_name}
    if Provider.SLOTH in providers:
        texts.append(tag(f"max by (sloth_id) (slo:sli_error:ratio_rate{w})", "sloth"))
    if Provider.PYRRA in providers:
        texts.append(tag(f'max by (slo) ({{__name__=~".+:burnrate{w}"}})', "pyrra"))
    if availability:
        texts.append(tag(f"1 - max by (slo) ({PYRRA_AVAILABILITY})", PYRRA_WINDOW_TERM))
    return BatchPlan(
        query=_balanced_or(texts) if texts else "vector(0) == 1",
        terms=terms,
        recorded={key: tuple(users) for key, users in by_name.items()},
        availability={name: tuple(users) for name, users in availability.items()},
        expressions={f"e{i}": expression for i, expression in enumerate(by_expression)},
    )


def ratio_expression(sli: Sli, window: timedelta) -> str:
    """The SLI's error ratio over ``window`` as one expression (for range queries)."""
    parts = sli.expressions(window)
    if Part.RATIO in parts:
        return parts[Part.RATIO]
    return f"({parts[Part.ERRORS]}) / ({parts[Part.TOTAL]})"
