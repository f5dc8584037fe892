"""Prometheus recording and alerting rules equivalent to an SLO's burn-rate policy.

Teams that page from Prometheus/Alertmanager (or run Sloth's dashboards) want the same verdicts
the operator reaches, without the operator in the loop. So the rules use Sloth's names — series
``slo:sli_error:ratio_rate<window>`` and ``slo:*`` metadata labelled ``sloth_id``,
``sloth_service``, ``sloth_slo``, groups ``sloth-slo-*-<id>`` — but keep our policy's semantics,
which is a little different from Sloth's page/ticket pairs:

- one alert per window pair (Sloth ORs two pairs into one page and one ticket alert), labelled
  with the pair's ``severity`` and ``window_pair``, because every pair names its own Severity
  and the operator reports which pair fired. Each also carries Sloth's ``sloth_severity``
  (``page`` for pairs whose long window is at most 6h, Sloth's page windows, else ``ticket``),
  which Sloth's UI reads from ``ALERTS`` to show an SLO as burning; the pair's windows are
  compared as Sloth does, ``max(...) without (sloth_window)``, so no window label is left on
  the alert;
- a pair fires when both windows' error ratio is strictly above ``factor x (1 - target)``,
  computed from the exact budget the domain uses (0.001, not Sloth's 1-0.999 in floats);
- ``minRequests`` adds ``and`` the long window's requests (total rate x window seconds) ``>=``
  the minimum, the low-traffic guard of ``burn.evaluate``;
- the error ratio of each window is the PromQL the operator itself queries
  (``sli.ratio_expression``), so Prometheus and the operator measure the same thing.

A blind SLO is an alert of its own: ``SLONoData`` fires when a window some pair needs has no
recorded ratio (series gone) or a NaN one (no traffic: 0/0) for ``noDataAfter`` -- the
operator's ``Blind`` condition. It carries the least urgent pair's severity: the SLO cannot
see a burn, which needs a look, not necessarily a page.

Choosing the decisive (fastest) pair among several firing ones is left to Alertmanager (inhibit
rules on ``sloth_id``): rules can only say which pairs fire, as ``PairState.firing`` does.
As with Sloth's rules, an alert reads recordings up to one evaluation interval old, since
Prometheus evaluates the groups independently.

Pure: data in, plain dicts and lists out; serialising them to YAML is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TypedDict

from .durations import format_duration
from .sli import Part, RecordedSli, Sli, ratio_expression
from .slo import Objective, WindowPair

Rule = TypedDict(
    "Rule",
    {
        "record": str,
        "alert": str,
        "expr": str,
        "for": str,
        "labels": dict[str, str],
        "annotations": dict[str, str],
    },
    total=False,
)
"""A Prometheus recording (``record``) or alerting (``alert``) rule, as a plain dict
(functional form: ``for`` is a Python keyword)."""


class Group(TypedDict):
    name: str
    rules: list[Rule]


ALERT_NAME = "SLOErrorBudgetBurn"
"""One alert name for every SLO: Alertmanager routes on labels (sloth_service, severity)."""
NO_DATA_ALERT_NAME = "SLONoData"
"""The SLO cannot see its burn: a window the pairs need has had no data for noDataAfter."""
DEFAULT_NO_DATA_AFTER = timedelta(minutes=10)

SLI_ERROR_METRIC = "slo:sli_error:ratio_rate"
ID_LABEL, SERVICE_LABEL, SLO_LABEL, WINDOW_LABEL = (
    "sloth_id",
    "sloth_service",
    "sloth_slo",
    "sloth_window",
)
SEVERITY_LABEL, PAIR_LABEL = "severity", "window_pair"
SLOTH_SEVERITY_LABEL = "sloth_severity"
"""Sloth's alert class, ``page`` or ``ticket``; its UI shows an SLO as burning from it."""
PAGE, TICKET = "page", "ticket"
PAGE_WINDOW_MAX = timedelta(hours=6)
"""Sloth's (and the SRE Workbook's) page pairs have long windows of 1h and 6h, its ticket
pairs 1d and 3d, for 28d and 30d periods alike."""
RESERVED_LABELS = frozenset(
    {
        ID_LABEL,
        SERVICE_LABEL,
        SLO_LABEL,
        WINDOW_LABEL,
        SEVERITY_LABEL,
        PAIR_LABEL,
        SLOTH_SEVERITY_LABEL,
        "alertname",
    }
)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class SloIdentity:
    """Who the series belong to, spelled as Sloth spells it: ``sloth_id`` is service-name."""

    service: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        return {ID_LABEL: self.id, SERVICE_LABEL: self.service, SLO_LABEL: self.name}

    @property
    def selector(self) -> str:
        """Sloth's metric filter, ``{sloth_id="...", sloth_service="...", sloth_slo="..."}``."""
        matchers = ", ".join(f'{k}="{_quote(v)}"' for k, v in sorted(self.labels.items()))
        return "{" + matchers + "}"


def sli_error_metric(window: timedelta) -> str:
    """``slo:sli_error:ratio_rate5m``; the spelling ``RecordedSli`` (Sloth) reads back."""
    return f"{SLI_ERROR_METRIC}{format_duration(window)}"


def rule_groups(
    identity: SloIdentity,
    objective: Objective,
    sli: Sli,
    labels: Mapping[str, str] | None = None,
    alert_name: str = ALERT_NAME,
    *,
    no_data_after: timedelta = DEFAULT_NO_DATA_AFTER,
) -> list[Group]:
    """Sloth's three groups (SLI recordings, metadata recordings, alerts) for one SLO.

    A ``RecordedSli`` already has its series (written by Sloth or Pyrra), so it gets the alerts
    group only, reading those series exactly as the operator does.
    """
    extra = check_labels(labels or {})
    if isinstance(sli, RecordedSli) and objective.min_requests > 0:
        raise ValueError(
            "minRequests cannot guard a recorded SLI: Sloth and Pyrra record no request "
            "counts, so the operator never fires it; set alerting.minRequests to 0"
        )
    alerts: Group = {
        "name": f"sloth-slo-alerts-{identity.id}",
        "rules": [
            *(
                alert_rule(identity, objective, sli, pair, labels=extra, alert_name=alert_name)
                for pair in objective.pairs
            ),
            no_data_rule(identity, objective, sli, labels=extra, after=no_data_after),
        ],
    }
    if isinstance(sli, RecordedSli):
        return [alerts]
    return [
        {
            "name": f"sloth-slo-sli-recordings-{identity.id}",
            "rules": sli_recording_rules(identity, objective, sli, extra),
        },
        {
            "name": f"sloth-slo-meta-recordings-{identity.id}",
            "rules": meta_recording_rules(identity, objective, extra),
        },
        alerts,
    ]


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Extra labels must be valid Prometheus names and must not overwrite the SLO's identity."""
    for name in labels:
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(f"invalid label name {name!r}: expected [a-zA-Z_][a-zA-Z0-9_]*")
        if name in RESERVED_LABELS:
            raise ValueError(f"label {name!r} is set by the rules themselves")
    return dict(sorted(labels.items()))


def sli_recording_rules(
    identity: SloIdentity, objective: Objective, sli: Sli, labels: Mapping[str, str]
) -> list[Rule]:
    """``slo:sli_error:ratio_rate<w>`` for every window the policy needs, SLO window last.

    The SLO window (30d) is the mean of the shortest window's recordings, as Sloth does: a raw
    30d rate per evaluation is costly and only feeds the budget metadata. That mean is not
    weighted by traffic, so ``slo:period_error_budget_remaining:ratio`` can differ a little from
    the operator's ``status.errorBudgetRemaining``. When a pair alerts on the SLO window
    itself, that window is recorded from raw PromQL so the alert stays exact.
    """
    shortest = objective.windows[0]
    alerted = {p.long for p in objective.pairs} | {p.short for p in objective.pairs}
    rules: list[Rule] = []
    for window in objective.windows:
        if window == objective.window and window not in alerted and window != shortest:
            source = f"{sli_error_metric(shortest)}{identity.selector}[{format_duration(window)}]"
            rules.append(
                {
                    "record": sli_error_metric(window),
                    "expr": (
                        f"sum_over_time({source})\n"
                        f"/ ignoring ({WINDOW_LABEL})\n"
                        f"count_over_time({source})\n"
                    ),
                    # Written out although the source series carry them too, as Sloth does.
                    "labels": {**identity.labels, WINDOW_LABEL: format_duration(window), **labels},
                }
            )
            continue
        rules.append(
            {
                "record": sli_error_metric(window),
                "expr": ratio_expression(sli, window),
                "labels": {
                    **identity.labels,
                    WINDOW_LABEL: format_duration(window),
                    **labels,
                },
            }
        )
    return rules


def meta_recording_rules(
    identity: SloIdentity, objective: Objective, labels: Mapping[str, str]
) -> list[Rule]:
    """Sloth's metadata series, which its Grafana dashboards read."""
    common = {**identity.labels, **labels}
    selector = identity.selector
    on = f"on({ID_LABEL}, {SLO_LABEL}, {SERVICE_LABEL}) group_left"

    def burn_rate(window: timedelta) -> str:
        return f"{sli_error_metric(window)}{selector}\n/ {on}\nslo:error_budget:ratio{selector}\n"

    days = objective.window / timedelta(days=1)
    objective_percent = _number(float(Decimal(repr(objective.target)) * 100))
    rules: list[tuple[str, str, dict[str, str]]] = [
        ("slo:objective:ratio", f"vector({_number(objective.target)})", {}),
        ("slo:error_budget:ratio", f"vector({_number(objective.budget)})", {}),
        ("slo:time_period:days", f"vector({_number(days)})", {}),
        ("slo:current_burn_rate:ratio", burn_rate(objective.windows[0]), {}),
        ("slo:period_burn_rate:ratio", burn_rate(objective.window), {}),
        (
            "slo:period_error_budget_remaining:ratio",
            f"1 - slo:period_burn_rate:ratio{selector}",
            {},
        ),
        (
            "sloth_slo_info",
            "vector(1)",
            {"sloth_objective": objective_percent, "sloth_spec": "sre.dev/v1alpha1"},
        ),
    ]
    return [
        {"record": record, "expr": expr, "labels": {**common, **more}}
        for record, expr, more in rules
    ]


def sloth_severity(pair: WindowPair) -> str:
    """``page`` or ``ticket``, as Sloth would class a pair with these windows."""
    return PAGE if pair.long <= PAGE_WINDOW_MAX else TICKET


def alert_expression(
    identity: SloIdentity, objective: Objective, sli: Sli, pair: WindowPair
) -> str:
    """Fires exactly when ``burn.evaluate`` says ``pair`` fires (short window first, as Sloth)."""
    threshold = f"({_number(pair.factor)} * {_number(objective.budget)})"
    if isinstance(sli, RecordedSli):
        short = sli.expressions(pair.short)[Part.RATIO]
        long = sli.expressions(pair.long)[Part.RATIO]
        # max(...) leaves no labels to match on
        expression = f"(\n  ({short} > {threshold})\n  and on ()\n  ({long} > {threshold})\n)"
    else:
        # Sloth's own shape: each window's identity labels without its window label.
        short = f"{sli_error_metric(pair.short)}{identity.selector}"
        long = f"{sli_error_metric(pair.long)}{identity.selector}"
        expression = (
            f"(\n  max({short} > {threshold}) without ({WINDOW_LABEL})\n  and\n"
            f"  max({long} > {threshold}) without ({WINDOW_LABEL})\n)"
        )
    if objective.min_requests > 0 and not isinstance(sli, RecordedSli):
        total = sli.expressions(pair.long)[Part.TOTAL]
        seconds = _number(pair.long.total_seconds())
        expression += f"\nand on ()\n({total} * {seconds} >= {_number(objective.min_requests)})"
    return expression + "\n"


def alert_rule(
    identity: SloIdentity,
    objective: Objective,
    sli: Sli,
    pair: WindowPair,
    *,
    labels: Mapping[str, str],
    alert_name: str = ALERT_NAME,
) -> Rule:
    """One pair's alert; its labels say which SLO, which pair and which Severity.

    The annotations name the SLO literally rather than through ``$labels`` as Sloth does:
    ``$labels`` holds the expression's labels, and a recorded SLI's ``max(...)`` has none.
    """
    who = f"{identity.service} {identity.name}"
    windows = f"{pair.long_text}/{pair.short_text}"
    urgency = sloth_severity(pair)
    return {
        "alert": alert_name,
        "expr": alert_expression(identity, objective, sli, pair),
        "labels": {
            **identity.labels,
            **labels,
            SLOTH_SEVERITY_LABEL: urgency,
            SEVERITY_LABEL: pair.severity,
            PAIR_LABEL: windows,
        },
        "annotations": {
            "title": f"({urgency}) {who} SLO error budget burn rate is too fast.",
            "summary": (
                f"{who} SLO error budget burns over {_number(pair.factor)}x the sustainable "
                f"rate in both the {pair.long_text} and the {pair.short_text} window."
            ),
        },
    }


def no_data_expression(identity: SloIdentity, objective: Objective, sli: Sli) -> str:
    """One sample while any window a pair needs is absent or NaN, as the operator judges it.

    The recorded ratio is absent when a part of it has no series, and NaN (0/0) when the
    total rate is zero; ``x != x`` keeps exactly the NaN samples. ``count`` folds the terms
    into one label-less sample, so the alert's labels are the rule's own.
    """
    needed = sorted({p.long for p in objective.pairs} | {p.short for p in objective.pairs})
    terms = []
    for window in needed:
        if isinstance(sli, RecordedSli):
            source = sli.expressions(window)[Part.RATIO]
        else:
            source = f"{sli_error_metric(window)}{identity.selector}"
        terms.append(f"absent({source})\n  or ({source} != {source})")
    return "count(\n  " + "\n  or ".join(terms) + "\n) > 0\n"


def no_data_rule(
    identity: SloIdentity,
    objective: Objective,
    sli: Sli,
    *,
    labels: Mapping[str, str],
    after: timedelta = DEFAULT_NO_DATA_AFTER,
) -> Rule:
    """``SLONoData``: the matching alert for the operator's Blind condition."""
    who = f"{identity.service} {identity.name}"
    calm = objective.by_speed[-1]
    return {
        "alert": NO_DATA_ALERT_NAME,
        "expr": no_data_expression(identity, objective, sli),
        "for": format_duration(after),
        "labels": {**identity.labels, **labels, SEVERITY_LABEL: calm.severity},
        "annotations": {
            "title": f"({calm.severity}) {who} SLO is blind: its burn cannot be measured.",
            "summary": (
                f"A window the {who} SLO's burn-rate pairs need has had no data (series "
                f"gone, no traffic or 0/0) for {format_duration(after)}: a burn can be neither "
                "seen nor seen to end."
            ),
        },
    }


def _number(value: float) -> str:
    """Shortest text that parses back to the same double (PromQL reads it exactly)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
