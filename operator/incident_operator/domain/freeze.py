"""Change freeze: which GitOps objects manage a target, and how to pause and restore them.

Flux labels the objects it applies with ``kustomize.toolkit.fluxcd.io/name|namespace`` or
``helm.toolkit.fluxcd.io/name|namespace``; pausing is ``spec.suspend: true``. Argo CD marks
them with the tracking annotation ``argocd.argoproj.io/tracking-id`` (``app:group/kind:ns/name``)
or its instance label; pausing is removing ``spec.syncPolicy.automated``. The previous value
is recorded and put back exactly when the incident ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .mitigation import Target

FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
FLUX_HELM_RELEASE = ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
ARGO_APPLICATION = ("argoproj.io/v1alpha1", "Application")
ARGOCD_NAMESPACE = "argocd"


def owners(body: Mapping[str, Any], *, argocd_namespace: str = ARGOCD_NAMESPACE) -> list[Target]:
    """The GitOps objects that apply ``body`` (none: it is not GitOps-managed)."""
    meta = body.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    found: list[Target] = []
    for prefix, kind in (("kustomize", FLUX_KUSTOMIZATION), ("helm", FLUX_HELM_RELEASE)):
        name = labels.get(f"{prefix}.toolkit.fluxcd.io/name")
        if name:
            namespace = labels.get(f"{prefix}.toolkit.fluxcd.io/namespace") or meta.get(
                "namespace", ""
            )
            found.append(Target(*kind, str(namespace), str(name)))
    app = str(annotations.get("argocd.argoproj.io/tracking-id", "")).split(":", 1)[0] or labels.get(
        "argocd.argoproj.io/instance"
    )
    if app:
        # An app in another namespace than Argo CD's is tracked as "<namespace>_<name>".
        namespace, _, name = str(app).rpartition("_")
        found.append(Target(*ARGO_APPLICATION, namespace or argocd_namespace, name))
    return found


def is_argo(target: Target) -> bool:
    return (target.api_version, target.kind) == ARGO_APPLICATION


def current_setting(target: Target, body: Mapping[str, Any]) -> Any:
    spec = body.get("spec") or {}
    if is_argo(target):
        return (spec.get("syncPolicy") or {}).get("automated")
    return spec.get("suspend")


def is_frozen(target: Target, body: Mapping[str, Any]) -> bool:
    setting = current_setting(target, body)
    return setting is None if is_argo(target) else setting is True


def freeze_patch(target: Target) -> dict[str, Any]:
    if is_argo(target):
        return {"spec": {"syncPolicy": {"automated": None}}}
    return {"spec": {"suspend": True}}


def restore_patch(target: Target, previous_json: str) -> dict[str, Any] | None:
    """The merge patch that puts the recorded setting back; None when nothing to change."""
    previous = json.loads(previous_json)
    if is_argo(target):
        return {"spec": {"syncPolicy": {"automated": previous}}} if previous is not None else None
    return {"spec": {"suspend": previous}}


@dataclass(frozen=True)
class FreezeDecision:
    freeze: tuple[Target, ...]
    """Owners to freeze now (not frozen by this incident yet)."""
    restore: tuple[Target, ...]
    """Owners to restore now (the incident ended)."""


def decide(
    *,
    enabled: bool,
    incident_open: bool,
    owners_needed: list[Target],
    frozen: dict[Target, bool],
) -> FreezeDecision:
    """``frozen`` maps the owners this incident froze to whether they were restored."""
    if not incident_open:
        return FreezeDecision((), tuple(t for t, restored in frozen.items() if not restored))
    if not enabled:
        return FreezeDecision((), ())
    todo = tuple(dict.fromkeys(t for t in owners_needed if t not in frozen))
    return FreezeDecision(todo, ())
