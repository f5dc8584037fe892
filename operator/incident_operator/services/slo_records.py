"""An SLO as the evaluation engine reads it: parsed once per resourceVersion.

``load`` turns an SLO object into a ``SloRecord`` (its model and domain objective), or None
with a log line when the spec cannot be evaluated (``spec_problem`` says why); ``ParsedSlos``
keeps the parse of every object whose resourceVersion has not moved, since validating a
thousand SLOs each cycle costs about a second and most have not changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective, ServiceLevelObjectiveStatus
from incident_operator.domain.episodes import Episode
from incident_operator.domain.slo import Objective

log = logging.getLogger(__name__)
EVALUATION_STATUS = ("episode", "noDataSince")
"""What the engine reads of an SLO's earlier status as a model (the rest it compares as the
body's dict): the record's model keeps only these. The whole status as pydantic models cost
~14 KB per SLO, kept for every SLO between cycles (issue 15)."""


@dataclass(frozen=True)
class SloRecord:
    body: Body
    model: ServiceLevelObjective
    objective: Objective

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def episode(self) -> Episode | None:
        episode = self.model.status.episode
        return episode.to_domain() if episode else None


def spec_problem(body: Body) -> str | None:
    """Why the engine cannot evaluate this SLO's spec, or None (see ``load``)."""
    try:
        model = ServiceLevelObjective.model_validate(
            {k: v for k, v in body.items() if k != "status"}
        )
        model.spec.to_domain()
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )[:1024]
    except ValueError as exc:
        return str(exc)[:1024]
    return None


def load(body: Body) -> SloRecord | None:
    """The SLO as the engine needs it; None (and a log line) when it cannot be read."""
    meta = body.get("metadata", {})
    try:
        model = ServiceLevelObjective.model_validate(
            {k: v for k, v in body.items() if k != "status"}
        )
        objective = model.spec.to_domain()
    except (ValidationError, ValueError) as exc:
        log.warning("skipping SLO %s/%s: %s", meta.get("namespace"), meta.get("name"), exc)
        return None
    raw = body.get("status") or {}
    try:  # our own earlier observation: unreadable means start afresh, not stop evaluating
        status = ServiceLevelObjectiveStatus.model_validate(
            {k: raw[k] for k in EVALUATION_STATUS if k in raw}
        )
    except ValidationError as exc:
        log.warning(
            "SLO %s/%s: ignoring unreadable status: %s",
            meta.get("namespace"),
            meta.get("name"),
            exc,
        )
        status = ServiceLevelObjectiveStatus()
    return SloRecord(body, model.model_copy(update={"status": status}), objective)


class ParsedSlos:
    """The SLOs as last parsed, by object and resourceVersion."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, SloRecord | None]] = {}

    def load_all(self, bodies: list[Body]) -> list[SloRecord]:
        """Parse the SLOs, reusing the parse of any object whose resourceVersion is unchanged.

        Validating a thousand SLOs costs about a second a cycle; most have not changed.
        """
        cache: dict[str, tuple[str, SloRecord | None]] = {}
        records = []
        for body in bodies:
            meta = body.get("metadata", {})
            key = f"{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid')}"
            version = str(meta.get("resourceVersion", ""))
            cached = self._parsed.get(key)
            record = cached[1] if cached and cached[0] == version and version else load(body)
            cache[key] = (version, record)
            if record is not None:
                records.append(record)
        self._parsed = cache
        return records
