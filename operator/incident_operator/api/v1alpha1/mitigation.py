"""Mitigation actions an SLO or an incident may request; shared by both kinds."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from .common import ApiModel, Duration, Name, cel, cel_rule, exactly_one_of


class RollbackAction(ApiModel):
    """Roll a Deployment back, like `kubectl rollout undo`."""

    deployment: Name
    """The Deployment, in the object's namespace, opted in with `sre.dev/mitigation: allowed`."""
    to_revision: Annotated[int, Field(ge=1)] | None = None
    """Revision to return to; omitted means the previous one."""


class BackendWeight(ApiModel):
    backend: Name
    """Name of a backendRef of the HTTPRoute."""
    weight: Annotated[int, Field(ge=0, le=1000000)]
    """Weight to set on that backendRef."""


class ShiftTrafficAction(ApiModel):
    """Move traffic between the backendRefs of a Gateway API HTTPRoute."""

    http_route: Name
    """The HTTPRoute to change."""
    weights: Annotated[list[BackendWeight], Field(min_length=1, max_length=16)]
    """The weights to set, by backend name."""


class AbortRolloutAction(ApiModel):
    """Abort an Argo Rollouts Rollout (sets status.abort), cooperating with progressive delivery."""

    rollout: Name


class ScaleKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


class ScaleAction(ApiModel):
    """Scale a Deployment or StatefulSet to a fixed replica count."""

    kind: ScaleKind = ScaleKind.DEPLOYMENT
    name: Name
    replicas: Annotated[int, Field(ge=0, le=10000)]


class PatchConfigMapAction(ApiModel):
    """Set one key of an allow-listed ConfigMap, e.g. turn a feature flag off."""

    config_map: Name
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    value: Annotated[str, Field(max_length=4096)]


class Mitigation(ApiModel):
    """One guarded action; exactly one of the action fields is set."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                exactly_one_of(
                    "rollback", "shiftTraffic", "abortRollout", "scale", "patchConfigMap"
                ),
                "set exactly one of rollback, shiftTraffic, abortRollout, scale or patchConfigMap",
            )
        )
    }

    name: Name | None = None
    """Optional name to refer to this mitigation in approvals and status."""
    rollback: RollbackAction | None = None
    shift_traffic: ShiftTrafficAction | None = None
    abort_rollout: AbortRolloutAction | None = None
    scale: ScaleAction | None = None
    patch_config_map: PatchConfigMapAction | None = None


Mitigations = Annotated[list[Mitigation], Field(max_length=8)]


class MitigationMode(StrEnum):
    AUTO = "auto"
    SUGGEST = "suggest"
    OFF = "off"


class MitigationPolicy(ApiModel):
    """How the operator may act on the mitigations listed next to this policy."""

    mode: MitigationMode = MitigationMode.SUGGEST
    """auto runs them, suggest waits for the commander's approval, off never runs them."""
    cooldown: Duration = "15m"
    """Minimum time between two actions for the same incident."""
    max_actions: Annotated[int, Field(ge=0, le=10)] = 1
    """Most actions per incident."""
    verify_within: Duration = "10m"
    """How long the short-window burn has to fall below the threshold after an action."""
    dry_run: bool = False
    """Plan and record actions with server-side dry run; change nothing."""
