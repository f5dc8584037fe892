"""Burn episodes: when a burning SLO declares, escalates, and calls the burn stopped.

One episode = one incident. The state lives in the SLO's status, so a restarted operator
continues the episode instead of declaring it again. Missing data never changes anything:
we neither declare on it nor end an episode because of it.
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


class Action(StrEnum):
    NONE = "none"
    DECLARE = "declare"
    RAISE_SEVERITY = "raise-severity"
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
    if evaluation is None or evaluation.no_data:
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
            declare=declare,
            incident_open=incident_open,
        )
    if (
        episode is not None
        and episode.stopped_at is None
        and now - episode.last_firing_at >= hold_down
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
    declare: bool,
    incident_open: bool,
) -> Decision:
    name = pair_name(decisive)
    if episode is None or (episode.stopped_at is not None and not incident_open):
        if not declare:
            return Decision(Action.NONE, None, decisive)
        started = burn_began if burn_began is not None and burn_began <= now else now
        fresh = Episode(incident_name(slo, started), started, now, decisive.severity, name)
        return Decision(Action.DECLARE, fresh, decisive)
    if episode.stopped_at is not None:  # the burn came back while its incident is still open
        resumed = replace(episode, stopped_at=None, last_firing_at=now)
        return Decision(Action.BURN_RESUMED, resumed, decisive)
    if _rank(objective, name) < _rank(objective, episode.pair):
        faster = replace(episode, last_firing_at=now, severity=decisive.severity, pair=name)
        action = Action.RAISE_SEVERITY if decisive.severity != episode.severity else Action.NONE
        return Decision(action, faster, decisive)
    return Decision(Action.NONE, replace(episode, last_firing_at=now), decisive)


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
