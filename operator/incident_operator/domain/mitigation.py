"""Guarded mitigations: what to change (a plan), whether we may (the gate), whether it worked.

Pure: the objects as the API server returned them (JSON-shaped mappings) and ``now`` come in;
plans, refusals and verdicts come out. The service executes a plan with or without
server-side dry run, which is why dry run costs nothing here.

Rollback follows ``kubectl rollout undo``: the Deployment's ReplicaSets carry
``deployment.kubernetes.io/revision``; the previous revision is the second-highest one (or
``toRevision``); its pod template (minus the ``pod-template-hash`` label) and annotations
(minus the rollout bookkeeping ones, which stay as the Deployment has them) replace the
Deployment's; a paused Deployment is refused; a template already equal is a no-op.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

OPT_IN_ANNOTATION = "sre.dev/mitigation"
OPT_IN_VALUE = "allowed"
ALLOWED_KEYS_ANNOTATION = "sre.dev/mitigation-keys"
"""On a ConfigMap: comma-separated keys a patchConfigMap may set (the allow-list)."""
MITIGATED_BY_ANNOTATION = "sre.dev/mitigated-by"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
ROLLBACK_KEEPS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deprecated.deployment.rollback.to",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
    }
)
"""Annotations kubectl keeps from the Deployment instead of copying from the ReplicaSet."""
GITOPS_LABELS = (
    "kustomize.toolkit.fluxcd.io/name",
    "helm.toolkit.fluxcd.io/name",
    "argocd.argoproj.io/instance",
)
GITOPS_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)


class ActionKind(StrEnum):
    ROLLBACK = "rollback"
    SHIFT_TRAFFIC = "shiftTraffic"
    ABORT_ROLLOUT = "abortRollout"
    SCALE = "scale"
    PATCH_CONFIG_MAP = "patchConfigMap"


class State(StrEnum):
    PENDING_APPROVAL = "pending-approval"
    WAITING = "waiting"
    """Cooldown, or another action is being verified."""
    BLOCKED = "blocked"
    """maxActions reached for this incident."""
    REFUSED = "refused"
    RUNNING = "running"
    """Recorded before the API call, so a crash in between re-runs instead of forgetting."""
    DRY_RUN = "dry-run"
    NO_OP = "no-op"
    APPLIED = "applied"
    VERIFIED = "verified"
    FAILED = "failed"


DONE: frozenset[State] = frozenset(
    {State.REFUSED, State.DRY_RUN, State.NO_OP, State.APPLIED, State.VERIFIED, State.FAILED}
)
"""States after which a request is not run again (APPLIED may still be verified)."""
CHANGED: frozenset[State] = frozenset({State.RUNNING, State.APPLIED, State.VERIFIED, State.FAILED})
"""States of actions that changed something: they count for cooldown and maxActions."""


class Mode(StrEnum):
    AUTO = "auto"
    SUGGEST = "suggest"
    OFF = "off"


class Source(StrEnum):
    SLO = "slo"
    """Listed on the SLO: governed by its mitigationPolicy.mode."""
    INCIDENT = "incident"
    """Requested on the incident by a human: that request is the approval (the chart's
    admission policy admits it only from someone allowed to make the change themselves)."""
    WORKFLOW = "workflow"
    """Requested by a workflow's mitigate step: declared in advance like an SLO's (its writer
    checked by the same admission policy), run with nobody asking at that moment. The step is
    its author's ``mode: auto`` for that one mitigation: the Severity's autoAllowed or an
    approval lets it run."""


UNATTENDED = frozenset({Source.SLO, Source.WORKFLOW})
"""Declared in advance and run with nobody asking at that moment: the Severity's autoAllowed
or an approval must let them run (``gate``)."""


class PatchType(StrEnum):
    JSON = "json"
    MERGE = "merge"


@dataclass(frozen=True)
class Target:
    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def text(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


DEPLOYMENT = ("apps/v1", "Deployment")
STATEFUL_SET = ("apps/v1", "StatefulSet")
HTTP_ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
ROLLOUT = ("argoproj.io/v1alpha1", "Rollout")
CONFIG_MAP = ("v1", "ConfigMap")


@dataclass(frozen=True)
class Request:
    """One mitigation as asked for, in the incident's namespace."""

    name: str
    action: ActionKind
    target: Target
    source: Source
    to_revision: int | None = None
    weights: tuple[tuple[str, int], ...] = ()
    replicas: int | None = None
    key: str = ""
    value: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class Plan:
    """The one API request that carries out ``request``."""

    request: Request
    patch_type: PatchType
    patch: Any
    summary: str
    """What it changes, for the timeline and Events (never a ConfigMap value)."""
    subresource: str = ""
    fallback_to_main: bool = False
    """Argo Rollouts: try the status subresource, the main resource when it has none."""


@dataclass(frozen=True)
class Refusal:
    reason: str
    no_op: bool = False
    """Nothing to do: the target is already as the action would leave it."""


@dataclass(frozen=True)
class Policy:
    mode: Mode = Mode.SUGGEST
    cooldown: timedelta = timedelta(minutes=15)
    max_actions: int = 1
    verify_within: timedelta = timedelta(minutes=10)
    dry_run: bool = False
    auto_allowed: bool = False
    """The incident's Severity lets mode auto run without approval."""
    revert_on_failure: bool = False
    """Undo an action whose verification failed (rollback, scale, shiftTraffic)."""


@dataclass(frozen=True)
class Record:
    """What status.mitigations says about one request."""

    name: str
    state: State
    started_at: datetime | None = None
    verify_by: datetime | None = None
    message: str = ""


class GateKind(StrEnum):
    GO = "go"
    OFF = "off"
    PENDING_APPROVAL = "pending-approval"
    WAITING = "waiting"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Gate:
    kind: GateKind
    message: str = ""
    dry_run: bool = False


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _annotations(body: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(body).get("annotations") or {})


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(body).get("labels") or {})


def guard_target(
    request: Request,
    body: Mapping[str, Any],
    incident_namespace: str,
    *,
    gitops_frozen: bool = False,
) -> Refusal | None:
    """The guardrails every target passes before it is touched; None: it may be.

    ``gitops_frozen``: every GitOps object managing the target is suspended by this
    incident's change freeze, so the next sync cannot revert the mitigation.
    """
    where = f"{request.target.text} in {request.target.namespace}"
    if request.target.namespace != incident_namespace:
        return Refusal(f"{where} is outside the incident's namespace {incident_namespace}")
    if _annotations(body).get(OPT_IN_ANNOTATION) != OPT_IN_VALUE:
        return Refusal(
            f"{where} has not opted in: it needs the annotation {OPT_IN_ANNOTATION}: {OPT_IN_VALUE}"
        )
    labels, annotations = _labels(body), _annotations(body)
    managed = [f"label {k}={labels[k]}" for k in GITOPS_LABELS if k in labels] + [
        f"annotation {k}" for k in GITOPS_ANNOTATIONS if k in annotations
    ]
    if managed and not gitops_frozen:
        return Refusal(
            f"{where} is managed by GitOps ({', '.join(managed)}): a change would be reverted "
            "by the next sync; freeze it first (Severity mitigation.freezeChanges) or change it "
            "in Git"
        )
    return None


def revision_of(body: Mapping[str, Any]) -> int | None:
    value = _annotations(body).get(REVISION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(template))
    meta = dict(out.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    out["metadata"] = meta
    return out


def _test_version(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The patch applies only while the spec is the one we planned against.

    A JSON-patch test of metadata.generation, not resourceVersion: controllers rewrite the
    status (and so the resourceVersion) of a Deployment every few seconds, but only a spec
    change moves the generation. The API server answers 422 when the test fails.
    """
    generation = _meta(body).get("generation")
    if generation is None:
        return []
    return [{"op": "test", "path": "/metadata/generation", "value": generation}]


def plan_rollback(
    request: Request,
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    *,
    incident: str,
) -> Plan | Refusal:
    name = request.target.name
    if (deployment.get("spec") or {}).get("paused"):
        return Refusal(
            f"deployment/{name} is paused; resume it first with "
            f"'kubectl rollout resume deployment/{name}'"
        )
    by_revision: dict[int, Mapping[str, Any]] = {}
    for rs in replicasets:
        revision = revision_of(rs)
        if revision is not None:
            by_revision[revision] = rs
    if not by_revision:
        return Refusal(f"no rollout history found for deployment/{name}")
    if request.to_revision is not None:
        chosen = request.to_revision
        if chosen not in by_revision:
            known = ", ".join(str(r) for r in sorted(by_revision))
            return Refusal(
                f"unable to find revision {chosen} of deployment/{name} (history: {known})"
            )
    else:
        ordered = sorted(by_revision)
        if len(ordered) < 2:
            return Refusal(
                f"no previous revision of deployment/{name}: only revision {ordered[0]} exists"
            )
        chosen = ordered[-2]
    rs = by_revision[chosen]
    template = _without_hash((rs.get("spec") or {}).get("template") or {})
    current = _without_hash((deployment.get("spec") or {}).get("template") or {})
    rs_name = _meta(rs).get("name", "")
    if template == current:
        return Refusal(
            f"deployment/{name} already runs the template of revision {chosen} ({rs_name})",
            no_op=True,
        )
    own = _annotations(deployment)
    annotations = {k: v for k, v in own.items() if k in ROLLBACK_KEEPS or k.startswith("sre.dev/")}
    annotations.update({k: v for k, v in _annotations(rs).items() if k not in ROLLBACK_KEEPS})
    annotations[OPT_IN_ANNOTATION] = own.get(OPT_IN_ANNOTATION, OPT_IN_VALUE)
    annotations[MITIGATED_BY_ANNOTATION] = incident
    # The ReplicaSet running the current template is the current revision (as kubectl sees
    # it); the Deployment's own annotation lags a fresh rollout by a controller pass.
    running = [
        r
        for r, owned in by_revision.items()
        if _without_hash((owned.get("spec") or {}).get("template") or {}) == current
    ]
    current_revision = max(running) if running else revision_of(deployment)
    cause = _annotations(rs).get("kubernetes.io/change-cause")
    summary = (
        f"rolled deployment/{name} back from revision {current_revision} to revision {chosen} "
        f"(ReplicaSet {rs_name}" + (f", change-cause: {cause}" if cause else "") + ")"
    )
    return Plan(
        request,
        PatchType.JSON,
        [
            *_test_version(deployment),
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ],
        summary,
    )


def plan_shift_traffic(request: Request, route: Mapping[str, Any]) -> Plan | Refusal:
    rules = copy.deepcopy(list((route.get("spec") or {}).get("rules") or []))
    wanted = dict(request.weights)
    seen: set[str] = set()
    before: dict[str, int] = {}
    for rule in rules:
        for ref in rule.get("backendRefs") or []:
            backend = str(ref.get("name", ""))
            if backend in wanted:
                seen.add(backend)
                before[backend] = int(ref.get("weight", 1))
                ref["weight"] = wanted[backend]
    missing = sorted(set(wanted) - seen)
    if missing:
        names = sorted(
            {str(r.get("name")) for rule in rules for r in rule.get("backendRefs") or []}
        )
        return Refusal(
            f"httproute/{request.target.name} has no backendRef named {', '.join(missing)} "
            f"(it has: {', '.join(names) or 'none'})"
        )
    change = ", ".join(f"{b} {before[b]}->{w}" for b, w in sorted(wanted.items()))
    if all(before[b] == w for b, w in wanted.items()):
        return Refusal(f"httproute/{request.target.name} already has weights {change}", no_op=True)
    return Plan(
        request,
        PatchType.JSON,
        [*_test_version(route), {"op": "replace", "path": "/spec/rules", "value": rules}],
        f"shifted traffic on httproute/{request.target.name}: {change}",
    )


def plan_abort_rollout(request: Request, rollout: Mapping[str, Any]) -> Plan | Refusal:
    name = request.target.name
    if (rollout.get("status") or {}).get("abort"):
        return Refusal(f"rollout/{name} is already aborted", no_op=True)
    return Plan(
        request,
        PatchType.MERGE,
        {"status": {"abort": True}},
        f"aborted rollout/{name}: the stable ReplicaSet serves again",
        subresource="status",
        fallback_to_main=True,
    )


def plan_scale(request: Request, workload: Mapping[str, Any]) -> Plan | Refusal:
    current = (workload.get("spec") or {}).get("replicas", 1)
    target = request.target.text
    if current == request.replicas:
        return Refusal(f"{target} already has {current} replicas", no_op=True)
    return Plan(
        request,
        PatchType.MERGE,
        {"spec": {"replicas": request.replicas}},
        f"scaled {target} from {current} to {request.replicas} replicas",
    )


def plan_patch_config_map(request: Request, config_map: Mapping[str, Any]) -> Plan | Refusal:
    name = request.target.name
    allowed = {
        k.strip()
        for k in _annotations(config_map).get(ALLOWED_KEYS_ANNOTATION, "").split(",")
        if k.strip()
    }
    if request.key not in allowed:
        return Refusal(
            f"configmap/{name}: key {request.key} is not in its allow-list "
            f"({ALLOWED_KEYS_ANNOTATION}: {', '.join(sorted(allowed)) or 'empty'})"
        )
    if (config_map.get("data") or {}).get(request.key) == request.value:
        return Refusal(f"configmap/{name} key {request.key} already has that value", no_op=True)
    # The value may be sensitive to someone: the summary names the key only.
    return Plan(
        request,
        PatchType.MERGE,
        {"data": {request.key: request.value}},
        f"set key {request.key} of configmap/{name}",
    )


def plan(
    request: Request,
    target: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]] = (),
    *,
    incident: str,
) -> Plan | Refusal:
    if request.action is ActionKind.ROLLBACK:
        return plan_rollback(request, target, replicasets, incident=incident)
    if request.action is ActionKind.SHIFT_TRAFFIC:
        return plan_shift_traffic(request, target)
    if request.action is ActionKind.ABORT_ROLLOUT:
        return plan_abort_rollout(request, target)
    if request.action is ActionKind.SCALE:
        return plan_scale(request, target)
    return plan_patch_config_map(request, target)


def undo(request: Request, target: Mapping[str, Any]) -> Request | None:
    """The request that puts ``target`` back as it is now (before ``request`` runs).

    Rollback returns to the revision it leaves (that ReplicaSet keeps its number), scale to
    the current replica count, shiftTraffic to the current weights. Abort and ConfigMap keys
    have no undo here (un-aborting restarts a rollout; a flag's old value is not recorded).
    """
    name = f"{request.name[:56]}-revert"
    if request.action is ActionKind.ROLLBACK:
        revision = revision_of(target)
        if revision is None:
            return None
        return Request(name, request.action, request.target, Source.INCIDENT, to_revision=revision)
    if request.action is ActionKind.SCALE:
        replicas = int((target.get("spec") or {}).get("replicas", 1))
        return Request(name, request.action, request.target, Source.INCIDENT, replicas=replicas)
    if request.action is ActionKind.SHIFT_TRAFFIC:
        wanted = dict(request.weights)
        before = [
            (str(ref.get("name")), int(ref.get("weight", 1)))
            for rule in (target.get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or []
            if ref.get("name") in wanted
        ]
        return Request(name, request.action, request.target, Source.INCIDENT, weights=tuple(before))
    return None


def gate(
    request: Request,
    policy: Policy,
    records: Sequence[Record],
    *,
    approved: bool,
    now: datetime,
) -> Gate:
    """May ``request`` run now? Dry runs change nothing, so only ``mode: off`` stops them."""
    dry_run = policy.dry_run or request.dry_run
    if request.source in UNATTENDED:
        mode = policy.mode if request.source is Source.SLO else Mode.AUTO
        if mode is Mode.OFF:
            return Gate(GateKind.OFF, "mitigationPolicy.mode is off")
        if not approved and not dry_run:
            if mode is Mode.SUGGEST:
                return Gate(
                    GateKind.PENDING_APPROVAL,
                    f"suggested {request.action} of {request.target.text}; waiting for the "
                    f"commander's approval (kubectl incident mitigate INCIDENT --approve "
                    f"{request.name})",
                )
            if not policy.auto_allowed:
                return Gate(
                    GateKind.PENDING_APPROVAL,
                    f"the incident's severity does not allow automatic mitigation; waiting for "
                    f"the commander's approval (kubectl incident mitigate INCIDENT --approve "
                    f"{request.name})",
                )
    if dry_run:
        return Gate(GateKind.GO, dry_run=True)
    others = [r for r in records if r.name != request.name]
    verifying = [r for r in others if r.state is State.APPLIED and r.verify_by is not None]
    if verifying or any(r.state is State.RUNNING for r in others):
        busy = (verifying or [r for r in others if r.state is State.RUNNING])[0]
        return Gate(GateKind.WAITING, f"waiting for {busy.name} to be verified first")
    changed = [r for r in others if r.state in CHANGED]
    if len(changed) >= policy.max_actions:
        return Gate(
            GateKind.BLOCKED,
            f"maxActions {policy.max_actions} reached for this incident "
            f"({', '.join(r.name for r in changed) or 'none allowed'})",
        )
    starts = [r.started_at for r in changed if r.started_at is not None]
    if starts and now < max(starts) + policy.cooldown:
        until = max(starts) + policy.cooldown
        return Gate(
            GateKind.WAITING, f"cooldown: the last action ran at {max(starts)}; next at {until}"
        )
    return Gate(GateKind.GO)


class Verdict(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"


@dataclass(frozen=True)
class Burn:
    """The SLO's latest evaluation of the pair the incident was declared for."""

    pair: str
    """long/short, e.g. 1h/5m."""
    factor: float
    short_burn: float | None
    evaluated_at: datetime | None


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    message: str = ""
    details: tuple[str, ...] = field(default=())


def ahead_by(started_at: datetime | None, now: datetime) -> timedelta:
    """How far an action's start lies after ``now``: written by a clock that ran ahead.

    The chaos run's clock jump: a rollback started during the jump was stamped an hour ahead,
    and its verification waited for an SLO evaluation newer than that stamp — for the clock to
    catch up. The service moves such a record back by this much (start and deadline keep their
    distance), so verification and cooldowns measure from a start that has happened.
    """
    if started_at is None or started_at <= now:
        return timedelta(0)
    return started_at - now


def verify(record: Record, burn: Burn, now: datetime) -> Verification:
    """Success when an evaluation after the action has the short-window burn below the threshold.

    The SLO engine rewrites its status whenever the firing pairs change, so a burn that
    stopped shows up there promptly; a status older than the action says nothing yet.
    """
    fresh = (
        burn.evaluated_at is not None
        and record.started_at is not None
        and burn.evaluated_at >= record.started_at
    )
    short = burn.pair.split("/")[-1]
    if fresh and burn.short_burn is not None and burn.short_burn < burn.factor:
        return Verification(
            Verdict.VERIFIED,
            f"burn over {short} fell to {burn.short_burn:.2f}x, below the {burn.factor:g}x "
            f"threshold of the {burn.pair} pair",
        )
    if record.verify_by is not None and now >= record.verify_by:
        seen = f"{burn.short_burn:.2f}x" if burn.short_burn is not None else "unknown"
        return Verification(
            Verdict.FAILED,
            f"burn over {short} still {seen} (threshold {burn.factor:g}x) at the verifyWithin "
            f"deadline {record.verify_by}",
        )
    return Verification(Verdict.PENDING)
