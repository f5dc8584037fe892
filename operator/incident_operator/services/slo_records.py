"""An SLO as the evaluation engine reads it: parsed once per resourceVersion.

``load`` turns an SLO object into a ``SloRecord`` (what the engine reads of its model), or None
with a log line when the spec cannot be evaluated (``spec_problem`` says why); ``ParsedSlos``
keeps the parse of every object whose resourceVersion has not moved, since validating a
thousand SLOs each cycle costs about a second and most have not changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.slo import (
    ServiceLevelObjective,
    ServiceLevelObjectiveSpec,
    ServiceLevelObjectiveStatus,
)
from incident_operator.domain.episodes import Episode
from incident_operator.domain.sli import Sli
from incident_operator.domain.slo import Objective

log = logging.getLogger(__name__)
EVALUATION_STATUS = ("episode", "noDataSince")
"""What the engine reads of an SLO's earlier status as a model (the rest it compares as the
body's dict): the record keeps only these."""


@dataclass(frozen=True, slots=True)
class SloRecord:
    """What the engine reads of one SLO, taken from its model once (``load``).

    Not the pydantic model itself: its tree of a dozen models, each with a dict and a set of
    the fields given, was ~13 KB per SLO and most of the operator's memory at 10,000 SLOs
    (issue 15). Every field here is what the model gives; the body is the watch's.
    """

    body: Body
    objective: Objective
    sli: Sli
    """``spec.sli()``: the indicator as the engine measures it."""
    service: str
    declare: bool
    """``spec.declare.enabled``."""
    auto_resolve: bool
    rotation_ref: str | None
    """``spec.declare.rotationRef``."""
    labels: Mapping[str, str]
    """``spec.declare.labels``: put on declared incidents."""
    hold_down: str
    """``spec.alerting.holdDown`` as written (e.g. 15m)."""
    no_data_after: str
    episode: Episode | None
    """``status.episode``: the burn episode recorded by an earlier evaluation."""
    no_data_since: datetime | None

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def of(
        cls,
        body: Body,
        spec: ServiceLevelObjectiveSpec,
        status: ServiceLevelObjectiveStatus,
        objective: Objective,
    ) -> SloRecord:
        """The record of a parsed SLO: its spec, the ``EVALUATION_STATUS`` of its status."""
        return cls(
            body=body,
            objective=objective,
            sli=spec.sli(),
            service=spec.service,
            declare=spec.declare.enabled,
            auto_resolve=spec.declare.auto_resolve,
            rotation_ref=spec.declare.rotation_ref,
            labels=spec.declare.labels,
            hold_down=spec.alerting.hold_down,
            no_data_after=spec.alerting.no_data_after,
            episode=status.episode.to_domain() if status.episode else None,
            no_data_since=status.no_data_since,
        )


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
    return SloRecord.of(body, model.spec, status, objective)


class ParsedSlos:
    """The SLOs as last parsed, by object and resourceVersion."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, SloRecord | None]] = {}

    def load_all(self, bodies: list[Body]) -> list[SloRecord]:
        """Parse the SLOs, reusing the parse of any object whose resourceVersion is unchanged.

        Validating a thousand SLOs costs about a second a cycle; most have not changed. SLOs
        with equal objectives share one ``Objective`` (most SLOs keep the default windows:
        ~2 KB each at 10,000 SLOs, issue 15).
        """
        cache: dict[str, tuple[str, SloRecord | None]] = {}
        objectives: dict[Objective, Objective] = {}
        records = []
        for body in bodies:
            meta = body.get("metadata", {})
            key = f"{meta.get('namespace')}/{meta.get('name')}/{meta.get('uid')}"
            version = str(meta.get("resourceVersion", ""))
            cached = self._parsed.get(key)
            record = cached[1] if cached and cached[0] == version and version else load(body)
            if record is not None:
                shared = objectives.setdefault(record.objective, record.objective)
                if shared is not record.objective:
                    record = replace(record, objective=shared)
                records.append(record)
            cache[key] = (version, record)
        self._parsed = cache
        return records
