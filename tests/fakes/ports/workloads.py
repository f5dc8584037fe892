"""In-memory Workloads: objects by kind/namespace/name, patches applied as the API server does."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from incident_operator.adapters.ports import Body
from incident_operator.adapters.workloads_port import NamespaceHistory
from incident_operator.api.merge_patch import merge_patch as apply_merge_patch
from incident_operator.domain.mitigation import PatchType, Plan, Target
from incident_operator.errors import Conflict

_versions = itertools.count(100)


def _json_patch(body: Body, ops: list[dict[str, Any]]) -> Body:
    out = copy.deepcopy(body)
    for op in ops:
        *parents, last = op["path"].strip("/").split("/")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        if op["op"] == "test":
            if node.get(last) != op["value"]:
                raise Conflict(f"test of {op['path']} failed (fake)")
        elif op["op"] == "replace":
            node[last] = copy.deepcopy(op["value"])
        else:
            raise ValueError(f"fake supports replace and test only, got {op['op']}")
    return out


@dataclass
class FakeWorkloads:
    objects: dict[tuple[str, str, str], Body] = field(default_factory=dict)
    applied: list[tuple[Plan, bool]] = field(default_factory=list)
    """Every plan sent, with its dry_run flag."""
    history: dict[str, NamespaceHistory] = field(default_factory=dict)

    def add(self, body: Body) -> None:
        meta = body.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta["resourceVersion"] = str(next(_versions))
        self.objects[(body["kind"], meta["namespace"], meta["name"])] = copy.deepcopy(body)

    def object(self, kind: str, namespace: str, name: str) -> Body:
        return copy.deepcopy(self.objects[(kind, namespace, name)])

    async def get(self, target: Target) -> Body | None:
        found = self.objects.get((target.kind, target.namespace, target.name))
        return copy.deepcopy(found) if found else None

    async def replicasets_of(self, deployment: Body) -> list[Body]:
        uid = deployment["metadata"]["uid"]
        return [
            copy.deepcopy(b)
            for (kind, _, _), b in self.objects.items()
            if kind == "ReplicaSet"
            and any(o.get("uid") == uid for o in b["metadata"].get("ownerReferences", []))
        ]

    async def apply(self, plan: Plan, *, dry_run: bool) -> Body:
        target = plan.request.target
        key = (target.kind, target.namespace, target.name)
        current = self.objects[key]
        if plan.patch_type is PatchType.JSON:
            result = _json_patch(current, plan.patch)
        else:
            result = apply_merge_patch(current, plan.patch)
        self.applied.append((plan, dry_run))
        if not dry_run:
            result["metadata"]["resourceVersion"] = str(next(_versions))
            self.objects[key] = result
        return copy.deepcopy(result)

    async def namespace_history(self, namespace: str) -> NamespaceHistory:
        return self.history.get(namespace, NamespaceHistory())

    async def merge_patch(self, target: Target, patch: Body) -> Body:
        key = (target.kind, target.namespace, target.name)
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        current = self.objects[key]["metadata"].get("resourceVersion")
        if wanted is not None and wanted != current:  # as the API server: 409 Conflict
            raise Conflict(f"{target.kind} {target.name}: resourceVersion {wanted} != {current}")
        self.objects[key] = apply_merge_patch(self.objects[key], patch)
        self.objects[key]["metadata"]["resourceVersion"] = str(next(_versions))
        return copy.deepcopy(self.objects[key])
