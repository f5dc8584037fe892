"""Change freeze: which GitOps object provably manages a target, and how to share its freeze.

Pure planner for services/freeze.py. Three rules:

1. **Guard first.** Only a target that passed the mitigation guard (the incident's own
   namespace, the opt-in annotation) is looked at; :func:`plan_hold` returns nothing otherwise.
2. **Proof, not labels.** Labels and annotations on the target (Flux's
   ``kustomize.toolkit.fluxcd.io/name|namespace``, ``helm.toolkit.fluxcd.io/name|namespace``,
   Argo CD's ``argocd.argoproj.io/tracking-id`` / ``instance``) only name *candidates*: anyone
   who can edit the target can set them. A candidate is frozen only when

   * it lives in a namespace the freeze may act in (the incident's own, the Severity's
     ``mitigation.freezeNamespaces`` written by a cluster admin, and within the operator's
     watched namespaces when it is namespaced), and
   * what its controller wrote into its status lists the target: Flux Kustomization and
     HelmRelease ``status.inventory.entries[].id`` of the form
     ``<namespace>_<name>_<group>_<Kind>`` (core group empty: ``shop_flags__ConfigMap``);
     Argo CD Application ``status.resources[]`` with ``group``/``kind``/``namespace``/``name``.

3. **Shared by reference.** The freeze is recorded on the GitOps object itself, in the
   annotation :data:`HOLD_ANNOTATION`: the original setting (``spec.suspend`` for Flux,
   ``spec.syncPolicy.automated`` for Argo CD, as JSON) and the incidents holding it. The first
   holder records the original and freezes; later holders add themselves; a holder leaving
   removes itself; the last one puts the original back and deletes the annotation. Every write
   carries the object's ``resourceVersion`` (a precondition), so two incidents racing never
   lose a holder: the loser re-reads and re-plans.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .mitigation import Target

FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
FLUX_HELM_RELEASE = ("helm.toolkit.fluxcd.io/v2", "HelmRelease")
ARGO_APPLICATION = ("argoproj.io/v1alpha1", "Application")
ARGOCD_NAMESPACE = "argocd"
HOLD_ANNOTATION = "sre.dev/change-freeze"
"""On a frozen GitOps object: ``{"previous": <JSON of the original setting>, "holders": [...]}``."""
MAX_HOLDERS = 64
"""Incidents sharing one freeze; one more is refused (the annotation stays small)."""


def candidates(
    body: Mapping[str, Any], *, argocd_namespace: str = ARGOCD_NAMESPACE
) -> list[Target]:
    """GitOps objects the target's labels *claim* apply it: hints to check, never proof."""
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
    return list(dict.fromkeys(found))


def is_argo(target: Target) -> bool:
    return (target.api_version, target.kind) == ARGO_APPLICATION


def group_of(target: Target) -> str:
    return target.api_version.split("/", 1)[0] if "/" in target.api_version else ""


def inventory_id(target: Target) -> str:
    """Flux's id of an applied object: ``<namespace>_<name>_<group>_<Kind>``."""
    return f"{target.namespace}_{target.name}_{group_of(target)}_{target.kind}"


def manages(owner: Target, owner_body: Mapping[str, Any], target: Target) -> bool:
    """Does the owner's controller-written status list ``target`` among what it applies?"""
    status = owner_body.get("status") or {}
    if is_argo(owner):
        return any(
            isinstance(r, Mapping)
            and (r.get("group") or "") == group_of(target)
            and r.get("kind") == target.kind
            and (r.get("namespace") or "") == target.namespace
            and r.get("name") == target.name
            for r in status.get("resources") or []
        )
    wanted = inventory_id(target)
    entries = (status.get("inventory") or {}).get("entries") or []
    return any(isinstance(e, Mapping) and e.get("id") == wanted for e in entries)


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
class Scope:
    """Where a freeze may act, and on whose word."""

    incident_namespace: str
    allowed: frozenset[str] = frozenset()
    """Other namespaces the Severity (cluster admin) lets a freeze reach: flux-system, argocd."""
    operator_namespaces: frozenset[str] = frozenset()
    """The operator's watched namespaces; empty: cluster-wide."""

    def refuses(self, owner: Target) -> str:
        """Why the freeze may not act on ``owner`` ("" when it may)."""
        ns = owner.namespace
        if self.operator_namespaces and ns not in self.operator_namespaces:
            return f"namespace {ns} is outside the namespaces the operator watches"
        if ns != self.incident_namespace and ns not in self.allowed:
            return (
                f"namespace {ns} is neither the incident's ({self.incident_namespace}) nor "
                "listed in the Severity's mitigation.freezeNamespaces"
            )
        return ""


class Verdict(StrEnum):
    PROVEN = "proven"
    OUT_OF_SCOPE = "out-of-scope"
    NOT_FOUND = "not-found"
    NOT_LISTED = "not-listed"


@dataclass(frozen=True)
class OwnerCheck:
    owner: Target
    verdict: Verdict
    reason: str = ""


def describe(target: Target) -> str:
    return f"{target.kind} {target.namespace}/{target.name}"


def check_owner(
    owner: Target, body: Mapping[str, Any] | None, target: Target, scope: Scope
) -> OwnerCheck:
    """Judge one candidate; ``body`` None: not read (out of scope) or not found."""
    if reason := scope.refuses(owner):
        return OwnerCheck(owner, Verdict.OUT_OF_SCOPE, f"{describe(owner)}: {reason}")
    if body is None:
        return OwnerCheck(owner, Verdict.NOT_FOUND, f"{describe(owner)} does not exist")
    if not manages(owner, body, target):
        where = "status.resources" if is_argo(owner) else "status.inventory"
        return OwnerCheck(
            owner,
            Verdict.NOT_LISTED,
            f"{describe(owner)} does not list {target.kind} {target.namespace}/{target.name} "
            f"in its {where}",
        )
    return OwnerCheck(owner, Verdict.PROVEN)


@dataclass(frozen=True)
class HoldPlan:
    hold: tuple[Target, ...] = ()
    """Owners proven to manage the target, in scope: to hold a freeze on."""
    refusal: str = ""
    """Why the target cannot be frozen safely (a candidate failed); "" when it can."""


def plan_hold(*, guard_passed: bool, enabled: bool, checks: Collection[OwnerCheck]) -> HoldPlan:
    """Which owners to freeze for one mitigation target.

    Nothing unless the target passed the guard and the Severity freezes. Any candidate that is
    not proven refuses the whole freeze (the target claims GitOps management that cannot be
    checked, so a mitigation could be reverted, or the labels point somewhere they must not).
    """
    if not guard_passed or not enabled:
        return HoldPlan()
    failed = [c.reason for c in checks if c.verdict is not Verdict.PROVEN]
    if failed:
        return HoldPlan(refusal="nothing frozen: " + "; ".join(failed))
    return HoldPlan(hold=tuple(c.owner for c in checks))


@dataclass(frozen=True)
class Hold:
    """The shared freeze recorded on a GitOps object."""

    previous: str
    """The original setting as JSON ("null": it was not set)."""
    holders: tuple[str, ...]


def holder_id(namespace: str, name: str, uid: str) -> str:
    return f"{namespace}/{name}/{uid}"


class Unreadable(ValueError):
    """The hold annotation is not ours to parse: refuse rather than guess the original."""


def read_hold(body: Mapping[str, Any]) -> Hold | None:
    raw = ((body.get("metadata") or {}).get("annotations") or {}).get(HOLD_ANNOTATION)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        previous = json.dumps(data["previous"])
        holders = tuple(str(h) for h in data["holders"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"annotation {HOLD_ANNOTATION} is unreadable: {exc}") from exc
    return Hold(previous, holders) if holders else None


def hold_annotation(hold: Hold) -> str:
    return json.dumps(
        {"previous": json.loads(hold.previous), "holders": list(hold.holders)},
        sort_keys=True,
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Write:
    """One conditional merge patch of the GitOps object."""

    patch: dict[str, Any]
    previous: str
    """The original setting the shared hold records."""
    restored: bool = False
    """The last holder left: the original setting is back."""
    joined: bool = False
    """Another incident already held the freeze; this one shares it."""


def _versioned(body: Mapping[str, Any], patch: dict[str, Any], annotation: str | None) -> None:
    meta = patch.setdefault("metadata", {})
    meta["resourceVersion"] = (body.get("metadata") or {}).get("resourceVersion")
    meta["annotations"] = {HOLD_ANNOTATION: annotation}


def plan_acquire(owner: Target, body: Mapping[str, Any], holder: str) -> Write:
    """Join (or start) the freeze of ``owner``; an empty patch: already held and frozen.

    Raises Unreadable for a hold annotation we cannot parse, ValueError when full.
    """
    hold = read_hold(body)
    if hold is not None and holder in hold.holders and is_frozen(owner, body):
        return Write({}, hold.previous, joined=len(hold.holders) > 1)
    if hold is None:
        hold = Hold(json.dumps(current_setting(owner, body)), (holder,))
        joined = False
    else:
        joined = any(h != holder for h in hold.holders)
        if holder not in hold.holders:
            if len(hold.holders) >= MAX_HOLDERS:
                raise ValueError(f"{describe(owner)} already has {MAX_HOLDERS} freeze holders")
            hold = Hold(hold.previous, (*hold.holders, holder))
    patch = freeze_patch(owner)
    _versioned(body, patch, hold_annotation(hold))
    return Write(patch, hold.previous, joined=joined)


def plan_release(owner: Target, body: Mapping[str, Any], holder: str) -> Write | None:
    """Leave the freeze of ``owner``; None: ``holder`` does not hold it (nothing to do).

    The last holder restores the original setting and removes the annotation.
    """
    hold = read_hold(body)
    if hold is None or holder not in hold.holders:
        return None
    rest = tuple(h for h in hold.holders if h != holder)
    if rest:
        patch: dict[str, Any] = {}
        _versioned(body, patch, hold_annotation(Hold(hold.previous, rest)))
        return Write(patch, hold.previous)
    patch = restore_patch(owner, hold.previous) or {}
    _versioned(body, patch, None)
    return Write(patch, hold.previous, restored=True)
