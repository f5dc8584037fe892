"""Burn episodes: when a burning SLO declares, escalates, and calls the burn stopped.

One episode = one incident. The state lives in the SLO's status, so a restarted operator
continues the episode instead of declaring it again. Missing data never calms anything down:
we neither declare on it nor end an episode, nor lower its severity, while any window the
decision depends on lacks data (``BurnEvaluation.unsettled``), and the hold-downs count
from the last moment data was missing as well as from the last firing.

Severity follows the burn both ways. Up at once, when a faster pair fires; down with
hysteresis: when the decisive pair stops firing while a slower one still fires, the episode
moves to the slower pair only after the faster one has stayed below its threshold (with data)
for the hold-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .burn import BurnEvaluation
from .names import LABEL_MAX, bounded
from .slo import Objective, WindowPair


@dataclass(frozen=True)
class Episode:
    incident: str
    """Name of the incident declared for this episode."""
    started_at: datetime
    """When the burn began, as seen in Prometheus."""
    last_firing_at: datetime
    severity: str
    pair: str
    """The decisive pair, long/short as written, e.g. 1h/5m."""
    stopped_at: datetime | None = None
    """When the burn-stopped entry was recorded (hold-down elapsed)."""
    pair_firing_at: datetime | None = None
    """When ``pair`` itself last fired (None: as ``last_firing_at``, an older status)."""
    blind_at: datetime | None = None
    """When a pair was last not known to be calm during this episode: a window without data,
    or above threshold on too few requests (``BurnEvaluation.unsettled``)."""

    @property
    def pair_last_fired(self) -> datetime:
        return self.pair_firing_at or self.last_firing_at

    def calm_since(self, fired: datetime) -> datetime:
        """Since when the burn is known to be calmer than at ``fired``: with data throughout."""
        return max(fired, self.blind_at) if self.blind_at is not None else fired


class Action(StrEnum):
    NONE = "none"
    DECLARE = "declare"
    RAISE_SEVERITY = "raise-severity"
    LOWER_SEVERITY = "lower-severity"
    BURN_STOPPED = "burn-stopped"
    BURN_RESUMED = "burn-resumed"


@dataclass(frozen=True)
class Decision:
    action: Action
    episode: Episode | None
    """The episode after this decision (None: no episode)."""
    pair: WindowPair | None = None
    resolve: bool = False
    """Burn stopped and the SLO opted into auto-resolve."""


def pair_name(pair: WindowPair) -> str:
    return f"{pair.long_text}/{pair.short_text}"


def incident_name(slo: str, started_at: datetime) -> str:
    """Deterministic per episode, so a retry after a crash finds the same object.

    At most 63 characters, so the name is also a valid label value and DNS label wherever a
    derived object refers to it (a long SLO name is cut and gets a hash of the whole name).
    """
    return bounded(slo, LABEL_MAX, suffix=f"-{started_at:%Y%m%d-%H%M}")


def _rank(objective: Objective, pair_text: str) -> int:
    names = [pair_name(p) for p in objective.by_speed]
    return names.index(pair_text) if pair_text in names else len(names)


def decide(
    *,
    slo: str,
    objective: Objective,
    episode: Episode | None,
    evaluation: BurnEvaluation | None,
    now: datetime,
    burn_began: datetime | None,
    hold_down: timedelta,
    declare: bool,
    auto_resolve: bool,
    incident_open: bool,
) -> Decision:
    """The next step of the episode. ``evaluation`` None means the metrics were unavailable."""
    if evaluation is None:
        return Decision(Action.NONE, episode)
    if episode is not None and episode.stopped_at is None and evaluation.unsettled:
        episode = replace(episode, blind_at=now)
    if evaluation.no_data:
        return Decision(Action.NONE, episode)
    decisive = evaluation.decisive
    if decisive is not None:
        return _firing(
            slo=slo,
            objective=objective,
            episode=episode,
            decisive=decisive,
            now=now,
            burn_began=burn_began,
            hold_down=hold_down,
            declare=declare,
            incident_open=incident_open,
        )
    if (
        episode is not None
        and episode.stopped_at is None
        and now - episode.calm_since(episode.last_firing_at) >= hold_down
    ):
        stopped = replace(episode, stopped_at=now)
        return Decision(Action.BURN_STOPPED, stopped, resolve=auto_resolve)
    return Decision(Action.NONE, episode)


def _firing(
    *,
    slo: str,
    objective: Objective,
    episode: Episode | None,
    decisive: WindowPair,
    now: datetime,
    burn_began: datetime | None,
    hold_down: timedelta,
    declare: bool,
    incident_open: bool,
) -> Decision:
    name = pair_name(decisive)
    if episode is None or (episode.stopped_at is not None and not incident_open):
        if not declare:
            return Decision(Action.NONE, None, decisive)
        started = burn_began if burn_began is not None and burn_began <= now else now
        fresh = Episode(
            incident_name(slo, started), started, now, decisive.severity, name, pair_firing_at=now
        )
        return Decision(Action.DECLARE, fresh, decisive)
    if episode.stopped_at is not None:  # the burn came back while its incident is still open
        resumed = replace(episode, stopped_at=None, last_firing_at=now, blind_at=None)
        if name == episode.pair:
            resumed = replace(resumed, pair_firing_at=now)
        return Decision(Action.BURN_RESUMED, resumed, decisive)
    rank, current = _rank(objective, name), _rank(objective, episode.pair)
    if rank < current:
        faster = replace(
            episode, last_firing_at=now, severity=decisive.severity, pair=name, pair_firing_at=now
        )
        action = Action.RAISE_SEVERITY if decisive.severity != episode.severity else Action.NONE
        return Decision(action, faster, decisive)
    if rank == current:
        return Decision(Action.NONE, replace(episode, last_firing_at=now, pair_firing_at=now))
    # A slower pair decides now: calmer, but only believed after the hold-down, with data.
    kept = replace(episode, last_firing_at=now, pair_firing_at=episode.pair_last_fired)
    if episode.blind_at == now or now - episode.calm_since(episode.pair_last_fired) < hold_down:
        return Decision(Action.NONE, kept, decisive)
    slower = replace(kept, severity=decisive.severity, pair=name, pair_firing_at=now)
    action = Action.LOWER_SEVERITY if decisive.severity != episode.severity else Action.NONE
    return Decision(action, slower, decisive)


def burn_began(samples: Sequence[tuple[datetime, float]], threshold: float) -> datetime | None:
    """Start of the latest uninterrupted run of ``samples`` above ``threshold``.

    Fed with the short window's error ratio over the long window and threshold = the error
    budget (burn rate 1): the moment the service started spending budget faster than it may.
    """
    began = None
    for at, value in sorted(samples, reverse=True):
        if value > threshold:
            began = at
        else:
            break
    return began
