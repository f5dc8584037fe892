"""What postmortems need from the outside world, one Protocol per capability.

Each has a real adapter (``postmortem_store.py`` on the API server, ``prometheus_impact.py``
on Prometheus, ``postmortem_chart.py`` with matplotlib) and an in-memory fake
(``tests/fakes/ports/postmortems.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from incident_operator.domain.postmortem import ChartData, Counts
from incident_operator.domain.sli import Sli

from .ports import Body

STATE_ANNOTATION = "postmortem.sre.dev/state"
"""On the Incident: its postmortem's state, so publishing re-runs the incident's lifecycle
(kopf ignores status and its own ``sre.dev/`` annotations, so this prefix differs)."""
MARKS_ANNOTATION = "postmortem.sre.dev/dashboard-marks"
"""On the Incident: the milestones already marked on the dashboards (declared,mitigated,...)."""


ActionItemAdditions = Callable[[Sequence[Body]], Sequence[Body]]
"""Given a Postmortem's current ``spec.actionItems``, the items to append (may be none)."""


class ActionItems(Protocol):
    """createFollowUp steps: adding action items to an incident's own Postmortem."""

    async def add_action_items(
        self, namespace: str, postmortem: str, additions: ActionItemAdditions
    ) -> bool:
        """Append what ``additions`` asks for to the Postmortem's ``spec.actionItems``, as a
        person's one-off edit on the version read (a concurrent edit is read again, never
        overwritten). False when the Postmortem does not exist. FieldOwnedElsewhere (nothing
        written) when another manager applied ``spec.actionItems`` (Git declares them)."""
        ...


class PostmortemStore(Protocol):
    async def get_postmortem(self, namespace: str, name: str) -> Body | None: ...

    async def create_postmortem(self, namespace: str, body: Body) -> Body:
        """Create, or return the existing object of that name (a retry after a crash)."""
        ...

    async def patch_postmortem_status(self, namespace: str, name: str, status: Body) -> None:
        """JSON merge patch of the status subresource."""
        ...

    async def link_incident(
        self, namespace: str, incident: str, postmortem: str | None, state: str
    ) -> None:
        """``status.postmortemRef`` (unless None) and the :data:`STATE_ANNOTATION`."""
        ...

    async def annotate_incident(
        self, namespace: str, incident: str, annotations: Mapping[str, str]
    ) -> None:
        """Merge ``annotations`` into the Incident's metadata."""
        ...

    async def get_slo(self, namespace: str, name: str) -> Body | None: ...

    async def events_about(self, namespace: str, objects: Sequence[tuple[str, str]]) -> list[Body]:
        """Kubernetes Events regarding (kind, name) objects, as plain dicts:
        ``uid, at (datetime), reason, message, type, kind, name, component``."""
        ...

    async def apply_config_map(
        self,
        namespace: str,
        name: str,
        owner: Body,
        data: Mapping[str, str],
        binary: Mapping[str, bytes],
    ) -> None:
        """Create or replace the ConfigMap, owned by ``owner`` (deleted with it)."""
        ...


class ImpactSource(Protocol):
    async def counts(self, sli: Sli, window: timedelta, at: datetime) -> Counts | None:
        """Total and failed requests in ``(at - window, at]``; None: no data.

        Raises MetricsUnavailable when the source cannot answer.
        """
        ...

    async def mean_ratio(self, sli: Sli, window: timedelta, at: datetime) -> float | None:
        """Mean error ratio over the window (for SLIs without request counts)."""
        ...

    async def ratio_series(
        self, sli: Sli, window: timedelta, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        """The error ratio of ``sli`` over ``window``, sampled from ``start`` to ``end``."""
        ...


class ChartRenderer(Protocol):
    def render(self, chart: ChartData) -> bytes | None:
        """PNG bytes; None when charts are unavailable (matplotlib not installed)."""
        ...
