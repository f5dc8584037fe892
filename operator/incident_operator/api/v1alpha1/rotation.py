"""OnCallRotation: who is on call, layer by layer, in the rotation's own time zone."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from incident_operator.domain import response
from incident_operator.domain import rotation as domain
from incident_operator.domain.durations import parse_duration

from .common import (
    ApiModel,
    CommonStatus,
    Duration,
    LocalDateTime,
    LocalTime,
    Name,
    Resource,
    cel,
    cel_rule,
)

MAP_BY_NAME = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


class Participant(ApiModel):
    """A person who can be on call, and how to reach them."""

    name: Name
    """Name used in layers, overrides and incident roles."""
    slack_user_id: Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,20}$", max_length=21)] | None = (
        None
    )
    """Slack member id (U… or W…): channel invites, mentions, and telling who sent a Slack
    command."""
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    """Email address, for reference (the operator sends no mail)."""
    pager_duty_user_id: (
        Annotated[str, Field(pattern=r"^P[A-Z0-9]{5,12}$", max_length=13)] | None
    ) = None
    """PagerDuty user id (P…), for reference: pages go to a routing key (a PagerDuty
    service), which Events v2 cannot narrow to a person; escalation pages name the person."""


class RotationType(StrEnum):
    """Shift length: daily (one local day), weekly (seven local days) or custom (a fixed
    length)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    CUSTOM = "custom"


class RotationSchedule(ApiModel):
    """When a layer hands off: the first handoff, the shift length and the time of day."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.type == 'custom' ? has(self.length) : !has(self.length)",
                "length is required for type custom and not allowed for daily or weekly",
                field_path=".length",
            )
        )
    }

    type: RotationType
    """daily, weekly, or custom with an explicit length."""
    length: Duration | None = None
    """Shift length for type custom, e.g. 36h."""
    start: LocalDateTime
    """First handoff, local to the rotation's time zone."""
    handoff_time: LocalTime = "09:00"
    """Local time of day handoffs happen; stays put across DST changes."""


class Weekday(StrEnum):
    """A day of the week: Mon, Tue, Wed, Thu, Fri, Sat or Sun."""

    MON = "Mon"
    TUE = "Tue"
    WED = "Wed"
    THU = "Thu"
    FRI = "Fri"
    SAT = "Sat"
    SUN = "Sun"


WEEKDAY_INDEX = {day: i for i, day in enumerate(Weekday)}
"""Weekday -> datetime.weekday() number (Monday 0), the domain's representation."""


class Restriction(ApiModel):
    """This layer only covers these days and hours; layers below fill the gaps."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule("self.from != self.to", "from and to must differ", field_path=".to")
        )
    }

    days: Annotated[
        list[Weekday],
        Field(min_length=1, max_length=7, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ]
    """Days the window starts on."""
    from_: Annotated[LocalTime, Field(alias="from")]
    """Start time, HH:MM local to the rotation's time zone."""
    to: LocalTime
    """End time; earlier than from means the window ends the next day."""


class Layer(ApiModel):
    """One level of the rotation: members taking turns, optionally only at certain times."""

    name: Name
    """Layer name, as overrides and escalation steps (layer/<name>) refer to it."""
    members: Annotated[list[Name], Field(min_length=1, max_length=64)]
    """Participants in rotation order."""
    rotation: RotationSchedule
    restrictions: Annotated[list[Restriction], Field(max_length=14)] = []
    """Weekly windows the layer covers; empty: all the time."""


class Override(ApiModel):
    """Someone else takes a layer's shift for a while, e.g. a swap or a holiday."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule("self.end > self.start", "end must be after start", field_path=".end")
        )
    }

    layer: Name
    """The layer whose person is replaced."""
    person: Name
    """The participant on call instead."""
    start: datetime
    """RFC 3339 instant with offset."""
    end: datetime
    """RFC 3339 instant with offset; the override covers [start, end)."""


class EscalationStep(ApiModel):
    """Whom to notify while an incident stays unacknowledged, and when."""

    after: Duration
    """Time without acknowledgement, counted from the declaration, before this step runs
    (never earlier than the Severity's ackWithin)."""
    notify: Annotated[
        str,
        Field(max_length=128, pattern=r"^(layer|person|team)/[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
    ]
    """layer/<name> (whoever is on call there then), person/<name> (a participant), or
    team/<name> (a Team of the service catalog that admits this namespace: its routing key
    is paged)."""


class OnCallRotationSpec(ApiModel):
    """Who can be on call and how they take turns: layers in the rotation's time zone,
    overrides and the escalation chain. Written by people; the operator reports who is on
    call in status."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.layers.all(l, l.members.all(m, self.participants.exists(p, p.name == m)))",
                "every layer member must be listed in participants",
                field_path=".layers",
            ),
            cel_rule(
                "!has(self.overrides) || self.overrides.all(o, "
                "self.participants.exists(p, p.name == o.person) && "
                "self.layers.exists(l, l.name == o.layer))",
                "an override must name an existing layer and a listed participant",
                field_path=".overrides",
            ),
        )
    }

    time_zone: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")
    ]
    """IANA time zone, e.g. Europe/Berlin; handoffs and restrictions are local to it."""
    effective_from: datetime | None = None
    """When this version of the rotation takes effect; earlier shifts stay as they were."""
    participants: Annotated[
        list[Participant], Field(min_length=1, max_length=64, json_schema_extra=MAP_BY_NAME)
    ]
    """Everyone layers, overrides and incident roles may name."""
    layers: Annotated[list[Layer], Field(min_length=1, max_length=8, json_schema_extra=MAP_BY_NAME)]
    """Ordered from primary down."""
    overrides: Annotated[list[Override], Field(max_length=64)] = []
    """Temporary replacements; where several cover the same time, the last listed wins."""
    escalation: Annotated[list[EscalationStep], Field(max_length=8)] = []
    """Escalation chain for unacknowledged incidents; empty: walk down the layers, one layer
    per the Severity's ackWithin."""
    escalation_repeats: Annotated[int, Field(ge=0, le=9)] = 0
    """Run the whole chain again this many times when nobody acknowledges (as PagerDuty's
    "repeat this policy"): each round follows the previous one's last step by the first
    step's delay."""
    operations_from_next_layer: bool = False
    """Incidents declared from this rotation take their operations lead from the first layer
    below the commander's that has someone else on call (the commander always comes from the
    topmost layer with someone). Kept here, not on each SLO and Severity, because what a layer
    means is part of how the team built its rotation, and one place cannot disagree with itself."""

    def escalation_chain(self) -> tuple[response.Step, ...]:
        """The configured escalation steps as the response policy's values."""
        return tuple(
            response.Step(parse_duration(s.after), response.Target.parse(s.notify))
            for s in self.escalation
        )

    def to_domain(self) -> domain.Rotation:
        """The schedule as the engine's values; the time zone is resolved by the engine, so
        an unknown zone surfaces as ``domain.UnknownTimeZone`` where it is used."""
        return domain.Rotation(
            time_zone=self.time_zone,
            layers=tuple(
                domain.Layer(
                    name=layer.name,
                    members=tuple(layer.members),
                    kind=domain.RotationKind(layer.rotation.type.value),
                    start=datetime.fromisoformat(layer.rotation.start),
                    handoff=time.fromisoformat(layer.rotation.handoff_time),
                    length=(
                        parse_duration(layer.rotation.length) if layer.rotation.length else None
                    ),
                    restrictions=tuple(
                        domain.Restriction(
                            days=frozenset(WEEKDAY_INDEX[d] for d in r.days),
                            start=time.fromisoformat(r.from_),
                            end=time.fromisoformat(r.to),
                        )
                        for r in layer.restrictions
                    ),
                )
                for layer in self.layers
            ),
            overrides=tuple(
                domain.Override(o.layer, o.person, o.start, o.end) for o in self.overrides
            ),
            effective_from=self.effective_from,
        )


class Shift(ApiModel):
    """A person on call in one layer over [start, end)."""

    layer: Name
    """The layer."""
    person: Name
    """The participant on call."""
    start: datetime
    """When the shift starts (a current shift: at the earliest when this version began)."""
    end: datetime | None = None
    """When it ends; empty: no handoff within the schedule's look-ahead."""


MAX_VERSIONS = 5
"""Schedule versions kept in status (the current one included)."""


class RotationVersion(ApiModel):
    """A version of the spec as the operator saw it, kept so that an edit with a future
    ``effectiveFrom`` leaves the previous version in force until then."""

    generation: Annotated[int, Field(ge=0)]
    """The metadata.generation of this version."""
    effective_from: datetime | None = None
    """When it takes effect (its spec.effectiveFrom; empty: from the beginning)."""
    spec: Annotated[
        dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    ]
    """The spec as it was at that generation."""


class OnCallRotationStatus(CommonStatus):
    """Who is on call now and next, refreshed every minute from the version in force, and the
    spec's recent versions. Written only by the operator."""

    versions: Annotated[list[RotationVersion], Field(max_length=MAX_VERSIONS)] = []
    """The schedule's recent versions, oldest first; who is on call at an instant comes from
    the one in force then."""
    on_call: Annotated[list[Shift], Field(max_length=8)] = []
    """Who is on call now, per layer."""
    next_handoff: datetime | None = None
    """The earliest end of a current shift."""
    upcoming_shifts: Annotated[list[Shift], Field(max_length=64)] = []
    """The next 10 shifts, from the version in force now."""


class OnCallRotation(Resource):
    """An on-call schedule: people take turns in layers, in the rotation's own time zone;
    incidents take their roles and escalations from it."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["OnCallRotation"] = "OnCallRotation"
    spec: OnCallRotationSpec
    status: OnCallRotationStatus = OnCallRotationStatus()
