"""Use case: keep ``status.tasks`` in line with the roles' checklists and the ticks people made.

The one writer of ``status.tasks`` (domain/checklists.py says why one): the Severity in
force's ``spec.checklists`` and the workflows' recorded ``addChecklist`` steps
(``status.workflows.checklists``) are merged in, each task once under its key, and
``spec.tasksDone`` is mirrored as done. The write carries the resourceVersion it was
computed from: a list rebuilt from a stale read must never drop a task another pass added.

Instructions are read here, from where they were written (the Severity, or the workflow
step), when the comms outbox sends the one direct message: they are never copied into the
incident, an Event or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.incident import TaskStatus
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import checklists as cl
from incident_operator.domain import workflows as wf
from incident_operator.domain.times import iso
from incident_operator.errors import Conflict

from .workflows import WorkflowIndex

log = logging.getLogger(__name__)


def tasks_of(status: Mapping[str, Any]) -> tuple[cl.Task, ...]:
    """``status.tasks`` as the domain's tasks (entries that do not validate are kept out)."""
    out = []
    for raw in status.get("tasks") or []:
        try:
            task = TaskStatus.model_validate(raw)
        except ValidationError:
            continue
        out.append(
            cl.Task(
                task.number,
                task.key,
                task.role.value,
                task.text,
                task.source,
                task.instructions,
                task.done,
                task.done_by,
                task.done_at,
            )
        )
    return tuple(out)


def task_status(task: cl.Task) -> Body:
    out: Body = {
        "number": task.number,
        "key": task.key,
        "role": task.role,
        "text": task.text,
        "source": task.source,
        "instructions": task.instructions,
        "done": task.done,
    }
    if task.done_by:
        out["doneBy"] = task.done_by[:256]
    if task.done_at is not None:
        out["doneAt"] = iso(task.done_at)
    return out


def severity_checklists(severity: Body | None) -> tuple[cl.Checklist, ...]:
    """The Severity's checklists (none when it does not validate)."""
    if severity is None:
        return ()
    try:
        model = Severity.model_validate({k: v for k, v in severity.items() if k != "status"})
    except ValidationError:
        return ()
    name = str((severity.get("metadata") or {}).get("name") or "")
    return tuple(
        cl.severity_checklist(name, c.role.value, c.tasks, bool(c.instructions))
        for c in model.spec.checklists
    )


def workflow_checklists(status: Mapping[str, Any]) -> tuple[cl.Checklist, ...]:
    """The workflows' recorded addChecklist steps, by step key."""
    recorded = (status.get("workflows") or {}).get("checklists") or {}
    return tuple(
        cl.Checklist(
            str(key),
            str(record.get("role") or ""),
            tuple(str(t) for t in record.get("tasks") or ()),
            instructions=bool(record.get("instructions")),
        )
        for key, record in sorted(recorded.items())
        if isinstance(record, dict) and record.get("role")
    )


def done_authors(status: Mapping[str, Any]) -> dict[str, str]:
    """``task-done`` timeline entry key -> its author (the newest wins)."""
    return {
        str(e.get("key")): str(e.get("author") or "")
        for e in status.get("timeline") or []
        if isinstance(e, dict) and e.get("type") == cl.DONE_ENTRY and e.get("key")
    }


class ChecklistService:
    def __init__(
        self, store: ResourceStore, clock: Clock, index: WorkflowIndex | None = None
    ) -> None:
        """``index``: the watched workflows, where a workflow checklist's instructions are."""
        self._store = store
        self._clock = clock
        self._index = index

    async def plan(self, body: Mapping[str, Any]) -> tuple[tuple[cl.Task, ...], str] | None:
        """The tasks ``body`` should hold and why some were left out; None when unchanged or
        the incident is not declared yet."""
        status = body.get("status") or {}
        spec = body.get("spec") or {}
        if not status.get("phase") or not (status.get("timestamps") or {}).get("declared"):
            return None
        severity_name = str(status.get("severity") or spec.get("severityRef") or "")
        severity = await self._store.get_severity(severity_name) if severity_name else None
        have = tasks_of(status)
        merged, why = cl.merge(have, (*severity_checklists(severity), *workflow_checklists(status)))
        done = [int(n) for n in spec.get("tasksDone") or [] if isinstance(n, int)]
        ticked = cl.tick(merged, done, done_authors(status), self._clock.now())
        return None if ticked == have else (ticked, why)

    async def reconcile(self, body: Mapping[str, Any]) -> None:
        """Write ``status.tasks`` when it should change (computed again on a fresh read)."""
        if await self.plan(body) is None:
            return
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        fresh = await self._store.get_incident(namespace, name)
        if fresh is None:
            return
        planned = await self.plan(fresh)
        if planned is None:
            return
        tasks, why = planned
        if why:
            log.warning("checklists of %s/%s: %s", namespace, name, why)
        version = str((fresh.get("metadata") or {}).get("resourceVersion") or "") or None
        try:
            await self._store.patch_incident(
                namespace,
                name,
                status={"tasks": [task_status(t) for t in tasks]},
                resource_version=version,
            )
        except Conflict:
            return  # another writer was first: the next pass computes again

    async def instructions(self, checklist: str) -> str:
        """A checklist's private instructions, from its source ("" when gone or none)."""
        severity = cl.severity_source(checklist)
        if severity is not None:
            body = await self._store.get_severity(severity[0])
            if body is None:
                return ""
            try:
                model = Severity.model_validate({k: v for k, v in body.items() if k != "status"})
            except ValidationError:
                return ""
            found = [c.instructions for c in model.spec.checklists if c.role.value == severity[1]]
            return found[0] if found else ""
        step = cl.workflow_step(checklist)
        if step is None or self._index is None:
            return ""
        workflow = self._index.by_id(step[0])
        if workflow is None or step[1] >= len(workflow.actions):
            return ""
        action = workflow.actions[step[1]]
        return action.instructions if action.type is wf.ActionType.ADD_CHECKLIST else ""
