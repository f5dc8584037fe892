"""ServiceLevelObjective: a target over a window and how burning its error budget is alerted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from incident_operator.domain.durations import format_duration, parse_duration
from incident_operator.domain.episodes import Episode
from incident_operator.domain.sli import LatencySli, Provider, RatioSli, RecordedSli, Sli
from incident_operator.domain.slo import (
    Objective,
    WindowPair,
    pyrra_pairs,
    pyrra_recorded_windows,
)

from .common import (
    ApiModel,
    CommonStatus,
    Duration,
    Labels,
    Name,
    ObjectName,
    PositiveDuration,
    Resource,
    ShortText,
    cel,
    cel_durations_valid,
    cel_rule,
    cel_seconds,
    exactly_one_of,
)
from .mitigation import MitigationPolicy, Mitigations

PromQL = Annotated[str, Field(min_length=1, max_length=4096)]


class RatioIndicator(ApiModel):
    """SLI as bad events over all events, PromQL with a `{{window}}` placeholder (Sloth style)."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.errors.contains('{{window}}')",
                "errors must contain the {{window}} placeholder, e.g. [{{window}}] in a rate()",
                field_path=".errors",
            ),
            cel_rule(
                "self.total.contains('{{window}}')",
                "total must contain the {{window}} placeholder, e.g. [{{window}}] in a rate()",
                field_path=".total",
            ),
        )
    }

    errors: PromQL
    """PromQL for the rate of bad events over {{window}}."""
    total: PromQL
    """PromQL for the rate of all events over {{window}}."""


class LatencyIndicator(ApiModel):
    """SLI from a Prometheus histogram: requests slower than the threshold are bad."""

    metric: Annotated[
        str, Field(min_length=1, max_length=256, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    ]
    """Histogram base name, e.g. http_request_duration_seconds (without _bucket)."""
    threshold: Annotated[float, Field(gt=0)]
    """Latency threshold in seconds; must match a bucket boundary (le label). Whole numbers
    match both spellings, le="1" (Prometheus 2, Go exporters) and le="1.0" (Prometheus 3)."""
    selector: Annotated[str, Field(max_length=1024)] = ""
    """Label matchers without braces, e.g. job="checkout",route="/pay"."""


class RecordingRuleProvider(StrEnum):
    """The tool whose recording rules hold the SLI: sloth or pyrra."""

    SLOTH = "sloth"
    PYRRA = "pyrra"


class RecordedIndicator(ApiModel):
    """SLI already recorded by Sloth or Pyrra rules; their series are read instead of raw PromQL."""

    provider: RecordingRuleProvider
    """Which generator wrote the recording rules."""
    name: Annotated[str, Field(min_length=1, max_length=253)]
    """The SLO's id in that tool (Sloth sloth_id, Pyrra slo label)."""


class Indicator(ApiModel):
    """Exactly one way to measure the SLI."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                exactly_one_of("ratio", "latency", "recorded"),
                "set exactly one of ratio, latency or recorded",
            )
        )
    }

    ratio: RatioIndicator | None = None
    latency: LatencyIndicator | None = None
    recorded: RecordedIndicator | None = None

    def to_domain(self) -> Sli:
        if self.ratio is not None:
            return RatioSli(errors=self.ratio.errors, total=self.ratio.total)
        if self.latency is not None:
            return LatencySli(self.latency.metric, self.latency.threshold, self.latency.selector)
        if self.recorded is not None:
            return RecordedSli(Provider(self.recorded.provider.value), self.recorded.name)
        raise ValueError("set exactly one of ratio, latency or recorded")


class BurnWindow(ApiModel):
    """A multiwindow burn-rate alert: fires when both windows burn faster than `factor`."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                f"!({cel_durations_valid('self.short', 'self.long')}) || "
                f"{cel_seconds('self.short')} < {cel_seconds('self.long')}",
                "short window must be shorter than the long window",
                field_path=".short",
            )
        )
    }

    long: PositiveDuration
    """Long window, e.g. 1h."""
    short: PositiveDuration
    """Short window confirming the burn is still going on, e.g. 5m."""
    factor: Annotated[float, Field(gt=0, le=1000)]
    """Burn-rate threshold: 1 spends the budget exactly over the SLO window."""
    severity: Name
    """The Severity an incident declared by this pair gets."""


class Alerting(ApiModel):
    """Burn-rate alerting; the windows default to the SRE Workbook's table."""

    min_requests: Annotated[int, Field(ge=0)] = 0
    """The long window must have seen at least this many events to fire (low-traffic guard)."""
    windows: Annotated[list[BurnWindow], Field(max_length=8)] = [
        BurnWindow(long="1h", short="5m", factor=14.4, severity="sev-2"),
        BurnWindow(long="6h", short="30m", factor=6, severity="sev-2"),
        BurnWindow(long="1d", short="2h", factor=3, severity="sev-3"),
        BurnWindow(long="3d", short="6h", factor=1, severity="sev-4"),
    ]
    """Window pairs; omitted means 14.4x 1h/5m, 6x 6h/30m, 3x 1d/2h, 1x 3d/6h."""
    hold_down: Duration = "15m"
    """How long no pair may fire before the burn counts as stopped, and how long a faster pair
    must stay below its threshold before the severity follows a slower pair down. Time with
    any window lacking data does not count."""
    no_data_after: Duration = "10m"
    """How long a window the pairs need may lack data (series gone, no traffic, 0/0) before
    the SLO reports itself blind: condition Blind, a Warning Event, an entry on the open
    incident, and the exported rules' SLONoData alert."""


class Declare(ApiModel):
    """Whether and how this SLO declares incidents by itself."""

    enabled: bool = False
    """Declare an incident when a window pair fires (one per burn episode); off, the SLO only
    reports its burn in status."""
    rotation_ref: Name | None = None
    """OnCallRotation (same namespace) whose primary layer provides the commander."""
    labels: Labels = {}
    """Labels put on declared incidents."""
    auto_resolve: bool = False
    """Resolve the incident when the burn has stopped for the hold-down period."""


class ObjectivePolicy(ApiModel):
    """The fields the burn-rate math needs (the simulator reads just these from a manifest)."""

    target: Annotated[float, Field(gt=0, lt=100)]
    """Objective in percent of good events, e.g. 99.9; strictly between 0 and 100."""
    window: PositiveDuration = "30d"
    """Compliance window the error budget is computed over."""
    alerting: Alerting = Alerting()

    @model_validator(mode="after")
    def _windows_fit(self) -> ObjectivePolicy:
        """The schema's rules again, for the defaults too (an omitted list gets the table)."""
        window = parse_duration(self.window)
        for w in self.alerting.windows:
            long, short = parse_duration(w.long), parse_duration(w.short)
            if short >= long:
                raise ValueError(f"window pair {w.long}/{w.short}: short must be below long")
            if long > window:
                raise ValueError(
                    f"alerting window {w.long} is longer than the SLO window {self.window}"
                    + ("" if "windows" in self.alerting.model_fields_set else " (default table)")
                )
        return self

    def to_domain(self) -> Objective:
        return Objective(
            target=float(Decimal(repr(self.target)) / 100),
            window=parse_duration(self.window),
            pairs=tuple(
                WindowPair.of(w.long, w.short, w.factor, w.severity) for w in self.alerting.windows
            ),
            min_requests=float(self.alerting.min_requests),
        )


class ServiceLevelObjectiveSpec(ObjectivePolicy):
    """What a service promises and what happens when it breaks the promise: the target over a
    window, how the SLI is measured, burn-rate alerting, incident declaration and mitigations.
    Written by people; the operator evaluates it against Prometheus."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "!has(self.alerting) || !has(self.alerting.windows) || self.alerting.windows.all("
                f"w, !({cel_durations_valid('w.long', 'self.window')}) || "
                f"{cel_seconds('w.long')} <= {cel_seconds('self.window')})",
                "every alerting window must fit inside the SLO window",
                field_path=".alerting.windows",
            ),
        )
    }

    service: Name
    """The service this objective is about."""
    description: ShortText = ""
    """What the objective means for users, e.g. Checkout requests succeed."""
    indicator: Indicator
    """How good and bad events are measured."""
    declare: Declare = Declare()
    mitigations: Mitigations = []
    """Actions the operator may take when this SLO declares an incident."""
    mitigation_policy: MitigationPolicy = MitigationPolicy()

    def sli(self) -> Sli:
        """The indicator as the engine reads it (a Pyrra one knows the SLO window)."""
        sli = self.indicator.to_domain()
        if isinstance(sli, RecordedSli):
            return replace(sli, slo_window=parse_duration(self.window))
        return sli

    def to_domain(self) -> Objective:
        """The policy; a Pyrra-recorded SLI alerts on Pyrra's own window pairs unless the
        windows are given, and refuses pairs whose series Pyrra does not record."""
        objective = super().to_domain()
        recorded = self.indicator.recorded
        if recorded is None or recorded.provider is not RecordingRuleProvider.PYRRA:
            return objective
        if "windows" not in self.alerting.model_fields_set:
            objective = replace(objective, pairs=pyrra_pairs(objective.window))
        available = pyrra_recorded_windows(objective.window)
        for pair in objective.pairs:
            missing = [
                t
                for w, t in ((pair.long, pair.long_text), (pair.short, pair.short_text))
                if w not in available
            ]
            if missing:
                raise ValueError(
                    f"alerting window pair {pair.long_text}/{pair.short_text}: Pyrra records "
                    f"no series for {' and '.join(missing)} on a {self.window} SLO; it records "
                    + ", ".join(format_duration(w) for w in sorted(available))
                    + " (omit alerting.windows to use Pyrra's own pairs)"
                )
        return objective


class WindowBurn(ApiModel):
    """What one window measured: its error ratio and burn rate."""

    window: Duration
    """The window, e.g. 1h."""
    error_ratio: float | None = None
    """Share of bad events over the window; absent when there was no data."""
    burn_rate: float | None = None
    """error_ratio / (1 - target)."""
    requests: float | None = None
    """Events the window saw; absent when unknown."""


class FiringPair(ApiModel):
    """A window pair both of whose windows burn faster than its factor."""

    long: Duration
    """Long window of the pair, e.g. 1h."""
    short: Duration
    """Short window of the pair, e.g. 5m."""
    factor: float
    """The pair's burn-rate threshold."""
    severity: Name
    """The Severity an incident declared by this pair gets."""
    since: datetime | None = None
    """When the pair began firing, where recorded."""


class EpisodeStatus(ApiModel):
    """The current burn episode; it survives operator restarts here, not in memory."""

    incident: ObjectName
    """The Incident declared for this episode."""
    started_at: datetime
    """When the burn began, as seen in Prometheus."""
    last_firing_at: datetime
    """When a window pair last fired."""
    severity: Name
    """The severity the burn called for, from the decisive pair."""
    pair: Annotated[str, Field(max_length=32)]
    """The decisive window pair, long/short, e.g. 1h/5m."""
    stopped_at: datetime | None = None
    """When the hold-down elapsed without firing and the burn was recorded as stopped."""
    pair_firing_at: datetime | None = None
    """When the decisive pair itself last fired (the severity's hold-down counts from it)."""
    blind_at: datetime | None = None
    """When a window the decision depends on last lacked data during this episode."""

    def to_domain(self) -> Episode:
        return Episode(
            incident=self.incident,
            started_at=self.started_at,
            last_firing_at=self.last_firing_at,
            severity=self.severity,
            pair=self.pair,
            stopped_at=self.stopped_at,
            pair_firing_at=self.pair_firing_at,
            blind_at=self.blind_at,
        )

    @classmethod
    def from_domain(cls, episode: Episode) -> EpisodeStatus:
        return cls(
            incident=episode.incident,
            started_at=episode.started_at,
            last_firing_at=episode.last_firing_at,
            severity=episode.severity,
            pair=episode.pair,
            stopped_at=episode.stopped_at,
            pair_firing_at=episode.pair_firing_at,
            blind_at=episode.blind_at,
        )


class ServiceLevelObjectiveStatus(CommonStatus):
    """The operator's latest evaluation against Prometheus: budget left, burn per window,
    firing pairs and the current burn episode. Written only by the operator."""

    last_evaluation_time: datetime | None = None
    """When the operator last evaluated this SLO."""
    error_budget_remaining: float | None = None
    """Share of the window's error budget left, 1 = untouched, negative = overspent."""
    budget_remaining: Annotated[str, Field(max_length=16)] | None = None
    """errorBudgetRemaining as people read it, e.g. 95.1% (negative: overspent); for the
    BUDGET column of kubectl get."""
    burn_now: Annotated[str, Field(max_length=32)] | None = None
    """The burn rate of the shortest window with data, e.g. 0.42x/5m (1x spends the budget
    exactly over the SLO window); for the BURN column of kubectl get."""
    burn_rates: Annotated[list[WindowBurn], Field(max_length=16)] = []
    """Error ratio and burn rate of every window the SLO needs, as last decided on."""
    firing: Annotated[list[FiringPair], Field(max_length=8)] = []
    """Window pairs firing at the last evaluation; the fastest decides the severity."""
    active_incident: ObjectName | None = None
    """The incident declared for the current burn episode."""
    episode: EpisodeStatus | None = None
    no_data_since: datetime | None = None
    """Since when some window the pairs need has had no data (absent: every window has)."""


class ServiceLevelObjective(Resource):
    """A service level objective: a target for good events over a window, measured from
    Prometheus, whose error-budget burn can declare an incident and run mitigations."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["ServiceLevelObjective"] = "ServiceLevelObjective"
    spec: ServiceLevelObjectiveSpec
    status: ServiceLevelObjectiveStatus = ServiceLevelObjectiveStatus()
