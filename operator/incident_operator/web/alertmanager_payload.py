"""The Alertmanager webhook payload, version 4, as pydantic models.

Why here and not in ``api/``: ``api/v1alpha1`` is our own contract, the single source of the
CRD schemas users write against. This is a third party's wire format that only the HTTP edge
reads; it is validated here and handed inwards as domain values (``to_domain``), so the
service never sees pydantic or raw JSON.
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from incident_operator.domain.alertmanager import Alert, AlertGroup, AlertStatus

VERSION = "4"
ZERO_TIME_YEAR = 1
"""Go's zero time.Time (0001-01-01T00:00:00Z): Alertmanager's endsAt of a firing alert."""

Labels = dict[str, str]


class _Wire(BaseModel):
    # Unknown fields are ignored: Alertmanager may add some within version 4.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class AlertPayload(_Wire):
    status: AlertStatus
    labels: Labels
    annotations: Labels = {}
    starts_at: Annotated[AwareDatetime, Field(alias="startsAt")]
    ends_at: Annotated[AwareDatetime | None, Field(alias="endsAt")] = None
    generator_url: Annotated[str, Field(alias="generatorURL")] = ""
    fingerprint: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,64}$")]
    """Alertmanager's label hash (16 hex digits); part of every timeline key."""

    def to_domain(self) -> Alert:
        ends_at: datetime | None = self.ends_at
        if ends_at is not None and ends_at.year == ZERO_TIME_YEAR:
            ends_at = None
        return Alert(
            status=self.status,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            starts_at=self.starts_at,
            ends_at=ends_at,
            fingerprint=self.fingerprint,
            generator_url=self.generator_url,
        )


class WebhookPayload(_Wire):
    version: Literal["4"]
    group_key: Annotated[str, Field(alias="groupKey", min_length=1)]
    truncated_alerts: Annotated[int, Field(alias="truncatedAlerts", ge=0)] = 0
    status: AlertStatus
    receiver: str = ""
    group_labels: Annotated[Labels, Field(alias="groupLabels")] = {}
    common_labels: Annotated[Labels, Field(alias="commonLabels")] = {}
    common_annotations: Annotated[Labels, Field(alias="commonAnnotations")] = {}
    external_url: Annotated[str, Field(alias="externalURL")] = ""
    alerts: Annotated[list[AlertPayload], Field(min_length=1)]

    @model_validator(mode="after")
    def _status_matches_alerts(self) -> WebhookPayload:
        """Alertmanager calls a group resolved only when every alert is; anything else is not
        a notification we can trust to decide whether the incident's alerts are over."""
        firing = [i for i, a in enumerate(self.alerts) if a.status is AlertStatus.FIRING]
        if self.status is AlertStatus.RESOLVED and firing:
            raise PydanticCustomError(
                "status_mismatch",
                "status is 'resolved' but alerts[{index}] is firing",
                {"index": firing[0]},
            )
        if self.status is AlertStatus.FIRING and not firing:
            raise PydanticCustomError(
                "status_mismatch", "status is 'firing' but no alert is firing"
            )
        return self

    def to_domain(self) -> AlertGroup:
        return AlertGroup(
            group_key=self.group_key,
            status=self.status,
            receiver=self.receiver,
            group_labels=dict(self.group_labels),
            common_labels=dict(self.common_labels),
            common_annotations=dict(self.common_annotations),
            external_url=self.external_url,
            alerts=tuple(a.to_domain() for a in self.alerts),
            truncated_alerts=self.truncated_alerts,
        )
