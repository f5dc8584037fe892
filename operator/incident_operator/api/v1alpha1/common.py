"""Building blocks shared by every kind: base model, constrained scalar types, conditions, CEL.

Why constrained types everywhere: the API server can only estimate the cost of a CEL rule when
strings and lists are bounded, and a bound that lives in the type is written once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from incident_operator.domain.durations import UNITS as UNIT_SECONDS

DURATION_PATTERN = r"^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
LOCAL_DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        min_length=2,  # the pattern's every part is optional; one must be there
        max_length=16,
    ),
]
"""Prometheus' duration spelling: whole numbers of y, w, d, h, m, s, largest unit first, each
at most once (5m, 1h, 30d, and compound ones such as Pyrra's 1h4m or 4d6h51m)."""

_POSITIVE_PART = "[1-9][0-9]{0,7}"
POSITIVE_DURATION_PATTERN = (
    "^" + "".join(f"({_POSITIVE_PART}{unit})?" for unit in ("y", "w", "d", "h", "m", "s")) + "$"
)

PositiveDuration = Annotated[
    str,
    Field(
        pattern=POSITIVE_DURATION_PATTERN,
        min_length=2,
        max_length=24,  # above the longest sensible text so a wrong format reports the pattern
    ),
]
"""A ``Duration`` whose every part is at least one unit and at most eight digits (a
measurement window: 0s or a window longer than any timestamp cannot be measured)."""

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
"""A Kubernetes object name (DNS-1123 label)."""

ObjectName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    ),
]
"""A Kubernetes object name (DNS-1123 subdomain), e.g. a generated incident name."""

ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=16384)]
LocalTime = Annotated[str, Field(pattern=LOCAL_TIME_PATTERN, max_length=5)]
LocalDateTime = Annotated[
    str,
    Field(
        pattern=LOCAL_DATETIME_PATTERN,
        max_length=32,  # above the pattern's 19 so a wrong format reports the pattern
    ),
]
Labels = Annotated[dict[str, Annotated[str, Field(max_length=63)]], Field(max_length=32)]


def cel_seconds(path: str) -> str:
    """CEL expression converting a ``Duration`` at ``path`` (e.g. 1d1h43m) into seconds.

    CEL's own ``duration()`` knows no days or weeks, which SLO windows need; each unit's part
    is found by regex (the pattern allows each unit once) and weighed.
    """
    terms = []
    for unit, size in UNIT_SECONDS.items():
        part = f"{path}.find('[0-9]+{unit}')"
        terms.append(f"({part} == '' ? 0 : int({part}.substring(0, size({part}) - 1)) * {size})")
    return "(" + " + ".join(terms) + ")"


def cel_durations_valid(*paths: str) -> str:
    """CEL guard: only compare durations that passed the pattern (else the rule errors too)."""
    return " && ".join(f"{p}.matches('{DURATION_PATTERN}')" for p in paths)


def cel_rule(
    rule: str, message: str, *, field_path: str | None = None, reason: str | None = None
) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry; the message must say what to fix."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def exactly_one_of(*fields: str) -> str:
    """CEL: exactly one of the optional ``fields`` is set."""
    return " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"


def cel(*rules: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules on a model."""
    return {"x-kubernetes-validations": list(rules)}


class ApiModel(BaseModel):
    """Base of every API struct: camelCase on the wire, docstrings become `kubectl explain`."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=True,
        extra="ignore",
        frozen=True,
    )


class ConditionStatus(StrEnum):
    """Whether a condition holds: True, False or Unknown."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of the object's state as the operator last saw it, e.g. Ready, in the
    metav1.Condition shape: its status, and the reason and message of its last transition."""

    type: Annotated[str, Field(max_length=316, pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9_.-]+$")]
    """Type of the condition in CamelCase, e.g. Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation this condition was set for."""
    last_transition_time: datetime
    """When the condition last changed status."""
    reason: Annotated[
        str, Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    ]
    """Machine-readable CamelCase reason for the last transition."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """Human-readable details of the last transition."""


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class CommonStatus(ApiModel):
    """Fields every kind's status carries."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The .metadata.generation the operator last reconciled."""
    conditions: Conditions = []
    """Standard conditions; Ready summarises the object."""
    last_handled_configuration: str | None = None
    """The operator's own bookkeeping: the spec, labels and annotations as it last handled
    them (JSON), which it compares a change against. Not intent; never set it by hand."""


class Resource(ApiModel):
    """Envelope of a custom resource; ``metadata`` is the API server's business."""

    api_version: str
    kind: str
    metadata: dict[str, Any] = {}
