"""Mitigation actions an SLO or an incident may request; shared by both kinds."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from incident_operator.domain import mitigation as domain
from incident_operator.domain.durations import parse_duration

from .common import ApiModel, Duration, Name, cel, cel_rule, exactly_one_of


class RollbackAction(ApiModel):
    """Roll a Deployment back, like `kubectl rollout undo`."""

    deployment: Name
    """The Deployment, in the object's namespace, opted in with `sre.dev/mitigation: allowed`."""
    to_revision: Annotated[int, Field(ge=1)] | None = None
    """Revision to return to; omitted means the previous one."""


class BackendWeight(ApiModel):
    """The weight to give one backendRef of the HTTPRoute."""

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
    """The Rollout, in the object's namespace, opted in with `sre.dev/mitigation: allowed`."""


class ScaleKind(StrEnum):
    """Kind of workload to scale: Deployment or StatefulSet."""

    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


class ScaleAction(ApiModel):
    """Scale a Deployment or StatefulSet to a fixed replica count."""

    kind: ScaleKind = ScaleKind.DEPLOYMENT
    """Deployment (the default) or StatefulSet."""
    name: Name
    """The workload, in the object's namespace, opted in with `sre.dev/mitigation: allowed`."""
    replicas: Annotated[int, Field(ge=0, le=10000)]
    """Replica count to set."""


class PatchConfigMapAction(ApiModel):
    """Set one key of an allow-listed ConfigMap, e.g. turn a feature flag off."""

    config_map: Name
    """The ConfigMap, in the object's namespace, opted in with `sre.dev/mitigation: allowed`."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """The data key to set; the ConfigMap's sre.dev/mitigation-keys annotation must list it."""
    value: Annotated[str, Field(max_length=4096)]
    """The value to set it to, e.g. "false"."""


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
    dry_run: bool = False
    """Only plan and record this action with server-side dry run (kubectl incident mitigate
    --dry-run); the policy's dryRun does the same for every action."""

    def to_domain(self, namespace: str, source: domain.Source) -> domain.Request:
        """The request in ``namespace`` (the incident's: targets never leave it)."""

        def target(kind: tuple[str, str], name: str) -> domain.Target:
            return domain.Target(kind[0], kind[1], namespace, name)

        def named(default: str) -> str:
            return self.name or default[:63].rstrip("-")

        if self.rollback is not None:
            return domain.Request(
                named(f"rollback-{self.rollback.deployment}"),
                domain.ActionKind.ROLLBACK,
                target(domain.DEPLOYMENT, self.rollback.deployment),
                source,
                to_revision=self.rollback.to_revision,
                dry_run=self.dry_run,
            )
        if self.shift_traffic is not None:
            return domain.Request(
                named(f"shift-{self.shift_traffic.http_route}"),
                domain.ActionKind.SHIFT_TRAFFIC,
                target(domain.HTTP_ROUTE, self.shift_traffic.http_route),
                source,
                weights=tuple((w.backend, w.weight) for w in self.shift_traffic.weights),
                dry_run=self.dry_run,
            )
        if self.abort_rollout is not None:
            return domain.Request(
                named(f"abort-{self.abort_rollout.rollout}"),
                domain.ActionKind.ABORT_ROLLOUT,
                target(domain.ROLLOUT, self.abort_rollout.rollout),
                source,
                dry_run=self.dry_run,
            )
        if self.scale is not None:
            kind = (
                domain.STATEFUL_SET
                if self.scale.kind is ScaleKind.STATEFUL_SET
                else domain.DEPLOYMENT
            )
            return domain.Request(
                named(f"scale-{self.scale.name}"),
                domain.ActionKind.SCALE,
                target(kind, self.scale.name),
                source,
                replicas=self.scale.replicas,
                dry_run=self.dry_run,
            )
        if self.patch_config_map is not None:
            return domain.Request(
                named(f"patch-{self.patch_config_map.config_map}"),
                domain.ActionKind.PATCH_CONFIG_MAP,
                target(domain.CONFIG_MAP, self.patch_config_map.config_map),
                source,
                key=self.patch_config_map.key,
                value=self.patch_config_map.value,
                dry_run=self.dry_run,
            )
        raise ValueError("set exactly one of the action fields")

    @classmethod
    def from_domain(cls, request: domain.Request) -> Mitigation:
        """The API form of a request (to record an undo in status and run it later)."""
        name = request.target.name
        fields: dict[str, object] = {"name": request.name, "dry_run": request.dry_run}
        if request.action is domain.ActionKind.ROLLBACK:
            fields["rollback"] = RollbackAction(deployment=name, to_revision=request.to_revision)
        elif request.action is domain.ActionKind.SHIFT_TRAFFIC:
            fields["shift_traffic"] = ShiftTrafficAction(
                http_route=name,
                weights=[BackendWeight(backend=b, weight=w) for b, w in request.weights],
            )
        elif request.action is domain.ActionKind.ABORT_ROLLOUT:
            fields["abort_rollout"] = AbortRolloutAction(rollout=name)
        elif request.action is domain.ActionKind.SCALE:
            kind = ScaleKind(request.target.kind)
            fields["scale"] = ScaleAction(kind=kind, name=name, replicas=request.replicas or 0)
        else:
            fields["patch_config_map"] = PatchConfigMapAction(
                config_map=name, key=request.key, value=request.value
            )
        return cls.model_validate(fields)


Mitigations = Annotated[list[Mitigation], Field(max_length=8)]


class MitigationMode(StrEnum):
    """auto runs mitigations, suggest waits for the commander's approval, off never runs them."""

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
    revert_on_failure: bool = False
    """Undo an action whose verification failed (rollback back to the revision it left,
    scale and shiftTraffic back to the previous count and weights), then escalate."""

    def to_domain(self, *, auto_allowed: bool) -> domain.Policy:
        return domain.Policy(
            mode=domain.Mode(self.mode.value),
            cooldown=parse_duration(self.cooldown),
            max_actions=self.max_actions,
            verify_within=parse_duration(self.verify_within),
            dry_run=self.dry_run,
            auto_allowed=auto_allowed,
            revert_on_failure=self.revert_on_failure,
        )
