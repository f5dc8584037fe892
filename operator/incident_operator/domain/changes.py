"""Change correlation: what changed in the service's namespace shortly before the burn.

Pure: the changes observed (from ReplicaSets, ConfigMaps/Secrets' managedFields, Helm
release Secrets, GitOps and autoscaler Events) and the window come in; the "recent change"
timeline entries come out, newest first, each with a command that shows it. Names only:
a ConfigMap's or Secret's values never enter an entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from . import timeline
from .times import iso, parse_time

ENTRY_TYPE = "recent-change"
MAX_ENTRIES = 20
DEFAULT_LOOKBACK = timedelta(hours=1)
HELM_RELEASE_TYPE = "helm.sh/release.v1"
GITOPS_COMPONENTS = frozenset(
    {
        "kustomize-controller",
        "helm-controller",
        "source-controller",
        "argocd-application-controller",
        "argocd-server",
    }
)
SCALING_KINDS = frozenset({"HorizontalPodAutoscaler", "Node"})


class ChangeKind(StrEnum):
    DEPLOYMENT_REVISION = "deployment-revision"
    CONFIG_MAP = "configmap"
    SECRET = "secret"
    HELM_RELEASE = "helm-release"
    GITOPS_SYNC = "gitops-sync"
    SCALING = "scaling"


@dataclass(frozen=True)
class Change:
    at: datetime
    kind: ChangeKind
    name: str
    """The object, e.g. deployment/checkout."""
    detail: str
    link: str
    """A command that shows the change."""
    key: str


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def replicaset_change(rs: Mapping[str, Any], namespace: str) -> Change | None:
    """A Deployment revision: the ReplicaSet the controller created for it."""
    meta = _meta(rs)
    annotations = meta.get("annotations") or {}
    revision = annotations.get("deployment.kubernetes.io/revision")
    owner = next(
        (o.get("name") for o in meta.get("ownerReferences") or [] if o.get("kind") == "Deployment"),
        None,
    )
    at = parse_time(meta.get("creationTimestamp"))
    if revision is None or owner is None or at is None:
        return None
    cause = annotations.get("kubernetes.io/change-cause")
    return Change(
        at,
        ChangeKind.DEPLOYMENT_REVISION,
        f"deployment/{owner}",
        f"revision {revision}" + (f" ({cause})" if cause else ""),
        f"kubectl -n {namespace} rollout history deployment/{owner} --revision={revision}",
        f"deployment/{owner}/{revision}",
    )


def _last_write(meta: Mapping[str, Any]) -> datetime | None:
    times = [t for f in meta.get("managedFields") or [] if (t := parse_time(f.get("time")))]
    return max(times) if times else parse_time(meta.get("creationTimestamp"))


def config_change(body: Mapping[str, Any], namespace: str, kind: str) -> Change | None:
    """A ConfigMap or Secret written (managedFields time); Helm release Secrets by revision."""
    meta = _meta(body)
    at = _last_write(meta)
    name = str(meta.get("name", ""))
    if at is None or not name:
        return None
    labels = meta.get("labels") or {}
    helm = body.get("type") == HELM_RELEASE_TYPE or labels.get("owner") == "helm"
    if kind == "Secret" and helm:
        release, version = labels.get("name", name), labels.get("version", "?")
        status = labels.get("status", "")
        return Change(
            at,
            ChangeKind.HELM_RELEASE,
            f"helm/{release}",
            f"release revision {version}" + (f" ({status})" if status else ""),
            f"helm -n {namespace} history {release}",
            f"helm/{release}/{version}",
        )
    change_kind = ChangeKind.SECRET if kind == "Secret" else ChangeKind.CONFIG_MAP
    who = sorted({str(f.get("manager", "")) for f in meta.get("managedFields") or []} - {""})
    return Change(
        at,
        change_kind,
        f"{kind.lower()}/{name}",
        "updated" + (f" by {', '.join(who)}" if who else ""),
        f"kubectl -n {namespace} get {kind.lower()}/{name} --show-managed-fields -o yaml",
        f"{kind.lower()}/{name}/{iso(at)}",
    )


def event_change(event: Mapping[str, Any], namespace: str) -> Change | None:
    """Flux/Argo CD sync events and autoscaler/node events (core/v1 Event shape)."""
    involved = event.get("involvedObject") or {}
    component = str((event.get("source") or {}).get("component") or "") or str(
        event.get("reportingComponent") or ""
    )
    kind = str(involved.get("kind", ""))
    if component in GITOPS_COMPONENTS:
        change_kind = ChangeKind.GITOPS_SYNC
    elif kind in SCALING_KINDS:
        change_kind = ChangeKind.SCALING
    else:
        return None
    meta = _meta(event)
    at = (
        parse_time(event.get("lastTimestamp"))
        or parse_time(event.get("eventTime"))
        or parse_time(meta.get("creationTimestamp"))
    )
    if at is None:
        return None
    name = f"{kind.lower()}/{involved.get('name', '')}"
    return Change(
        at,
        change_kind,
        name,
        f"{event.get('reason', '')}: {str(event.get('message', ''))[:300]}",
        f"kubectl -n {namespace} describe {name}",
        f"event/{meta.get('name', '')}",
    )


def recent(
    changes: Iterable[Change], *, since: datetime, until: datetime, limit: int = MAX_ENTRIES
) -> list[Change]:
    """Changes inside [since, until], newest first, at most ``limit``; one per key."""
    seen: dict[str, Change] = {}
    for change in changes:
        if since <= change.at <= until and change.key not in seen:
            seen[change.key] = change
    return sorted(seen.values(), key=lambda c: (c.at, c.key), reverse=True)[:limit]


def timeline_entries(changes: Sequence[Change], incident: str) -> list[dict[str, str]]:
    return [
        timeline.entry(
            c.at,
            ENTRY_TYPE,
            f"{c.name}: {c.detail} — {c.link}",
            author="incident-operator",
            source="change-correlation",
            key=f"change/{incident}/{c.key}",
        )
        for c in changes
    ]
