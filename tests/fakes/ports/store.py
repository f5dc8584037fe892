"""In-memory ResourceStore: the API server's object semantics that the services rely on."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from incident_operator.adapters.ports import Body
from incident_operator.api.merge_patch import merge_patch
from incident_operator.api.v1alpha1.convert import merge_timeline
from incident_operator.domain import ownership
from incident_operator.errors import Conflict, FieldOwnedElsewhere, TemporaryError

_versions = itertools.count(1)


@dataclass
class FakeStore:
    slos: dict[tuple[str, str], Body] = field(default_factory=dict)
    incidents: dict[tuple[str, str], Body] = field(default_factory=dict)
    severities: dict[str, Body] = field(default_factory=dict)
    rotations: dict[tuple[str, str], Body] = field(default_factory=dict)
    events: list[tuple[str, str, str, bool]] = field(default_factory=list)
    """(object name, reason, message, warning)."""
    fail_create_after_store: bool = False
    """Simulate a crash right after the API server stored a new incident."""
    fail_next_timeline: bool = False
    """Simulate a timeline write that fails (a conflict out of retries, the process killed)."""
    applied_elsewhere: dict[str, str] = field(default_factory=dict)
    """Field path (``.spec.state``) -> the manager that applied it (a GitOps tool)."""
    edits: list[tuple[str, Body]] = field(default_factory=list)
    """(incident name, change) for every edit on a person's behalf that went through."""

    def add_slo(self, body: Body) -> None:
        meta = body.setdefault("metadata", {})
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(_versions))
        self.slos[(meta["namespace"], meta["name"])] = copy.deepcopy(body)

    async def list_slos(self) -> list[Body]:
        return [copy.deepcopy(b) for b in self.slos.values()]

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        found = self.slos.get((namespace, name))
        return copy.deepcopy(found) if found else None

    async def patch_slo_status(
        self, namespace: str, name: str, status: Body, *, resource_version: str | None = None
    ) -> None:
        body = self.slos[(namespace, name)]
        _check_version(body, resource_version)
        body["status"] = merge_patch(body.get("status") or {}, status)
        _bump(body)

    async def find_incidents(self, namespace: str, labels: Mapping[str, str]) -> list[Body]:
        return [
            copy.deepcopy(b)
            for (ns, _), b in self.incidents.items()
            if namespace in ("", ns)
            and all(b["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
        ]

    async def get_incident(self, namespace: str, name: str) -> Body | None:
        found = self.incidents.get((namespace, name))
        return copy.deepcopy(found) if found else None

    async def create_incident(self, namespace: str, body: Body) -> Body:
        key = (namespace, body["metadata"]["name"])
        if key in self.incidents:
            return copy.deepcopy(self.incidents[key])
        stored = copy.deepcopy(body)
        stored["metadata"].update(namespace=namespace, generation=1, uid=f"uid-{key[1]}")
        _bump(stored)
        stored.pop("status", None)  # the status subresource ignores status on create
        self.incidents[key] = stored
        if self.fail_create_after_store:
            self.fail_create_after_store = False
            raise TemporaryError("create incident: connection reset after the write (fake)")
        return copy.deepcopy(stored)

    async def patch_incident(
        self,
        namespace: str,
        name: str,
        *,
        spec: Body | None = None,
        status: Body | None = None,
        metadata: Body | None = None,
        resource_version: str | None = None,
    ) -> Body:
        body = self.incidents[(namespace, name)]
        if status is not None:
            _check_version(body, resource_version)
        if metadata is not None:
            _check_version(body, metadata.get("resourceVersion"))  # as the API server does
            body["metadata"] = merge_patch(body["metadata"], metadata)
        if spec is not None:
            body["spec"] = merge_patch(body.get("spec") or {}, spec)
            body["metadata"]["generation"] += 1
        if status is not None:
            body["status"] = merge_patch(body.get("status") or {}, status)
        _bump(body)
        return copy.deepcopy(body)

    async def edit_incident(self, namespace: str, name: str, change: Body) -> Body:
        """Like the real adapter: a field another manager applied is refused, not forced."""
        body = self.incidents[(namespace, name)]
        fields = {
            f: self.applied_elsewhere[f]
            for path, value in ownership.leaves(change)
            if (f := "." + ".".join(path)) in self.applied_elsewhere
            and ownership.value_at(body, path) != value
        }
        if fields:
            raise FieldOwnedElsewhere(f"{', '.join(fields)} applied elsewhere", fields=fields)
        self.edits.append((name, copy.deepcopy(change)))
        return await self.patch_incident(
            namespace, name, spec=change.get("spec"), metadata=change.get("metadata")
        )

    def accept_state(self, namespace: str, name: str, state: str) -> None:
        """A requested state the lifecycle accepted: ``spec.state`` and ``status.phase``, for
        services tested without the lifecycle (they decide on the accepted phase)."""
        body = self.incidents[(namespace, name)]
        body["spec"]["state"] = state
        body.setdefault("status", {})["phase"] = state
        _bump(body)

    async def append_timeline(self, namespace: str, name: str, entries: Sequence[Body]) -> None:
        if self.fail_next_timeline:
            self.fail_next_timeline = False
            raise TemporaryError("append timeline: conflict, out of retries (fake)")
        body = self.incidents[(namespace, name)]
        status = body.setdefault("status", {})
        merged = merge_timeline(status, entries)
        if merged is not None:
            status.update(merged)
            _bump(body)

    async def emit_event(
        self, regarding: Body, reason: str, message: str, *, warning: bool = False
    ) -> None:
        self.events.append((regarding["metadata"]["name"], reason, message, warning))

    async def get_severity(self, name: str) -> Body | None:
        found = self.severities.get(name)
        return copy.deepcopy(found) if found else None

    async def get_rotation(self, namespace: str, name: str) -> Body | None:
        found = self.rotations.get((namespace, name))
        return copy.deepcopy(found) if found else None

    def timeline(self, namespace: str, name: str) -> list[Body]:
        return list((self.incidents[(namespace, name)].get("status") or {}).get("timeline", []))


def _bump(body: Body) -> None:
    body["metadata"]["resourceVersion"] = str(next(_versions))  # as the API server does


def _check_version(body: Body, resource_version: str | None) -> None:
    """A precondition as the API server checks it: 409 when the object moved on."""
    current = body["metadata"].get("resourceVersion")
    if resource_version is not None and resource_version != current:
        raise Conflict(f"resourceVersion {resource_version} is stale (now {current}) (fake)")
