"""The workloads a mitigation changes: Deployments, HTTPRoutes, Rollouts, ConfigMaps, SLOs.

One Protocol for the capability, a real adapter over the API server (workloads.py) and an
in-memory fake (tests/fakes/ports/workloads.py). Plans come from the domain; this only
carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from incident_operator.domain.mitigation import Plan, Target

from .ports import Body


class Workloads(Protocol):
    async def get(self, target: Target) -> Body | None:
        """The object; None when it does not exist (or its kind is not installed)."""
        ...

    async def replicasets_of(self, deployment: Body) -> list[Body]:
        """The ReplicaSets the Deployment controls (owner reference with its uid)."""
        ...

    async def apply(self, plan: Plan, *, dry_run: bool) -> Body:
        """Send the plan's patch; with ``dry_run`` the API server runs every stage but
        persists nothing (dryRun=All). Returns the object as it is (or would be) after it.

        Raises Conflict (TemporaryError) when the object changed since it was planned.
        """
        ...

    async def merge_patch(self, target: Target, patch: Body) -> Body:
        """A JSON merge patch of the object (the change freeze's suspend and restore)."""
        ...


@dataclass(frozen=True)
class NamespaceHistory:
    """Raw material for change correlation; ConfigMaps and Secrets as metadata only."""

    replicasets: list[Body] = field(default_factory=list)
    config_maps: list[Body] = field(default_factory=list)
    secrets: list[Body] = field(default_factory=list)
    events: list[Body] = field(default_factory=list)
    """core/v1 Events of the namespace."""
    unreadable: tuple[str, ...] = ()
    """Kinds the operator may not list here (e.g. Secrets with the chart's
    ``rbac.secretMetadata: false``): correlation goes on without them and says so."""


class ChangeSource(Protocol):
    async def namespace_history(self, namespace: str) -> NamespaceHistory:
        """What the namespace's objects say about recent changes (never Secret values)."""
        ...
