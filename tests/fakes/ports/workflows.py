"""In-memory WorkflowStore: the tallies each workflow was sent, summed as the adapter does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from incident_operator.adapters.workflow_store import added
from incident_operator.adapters.workflows_port import RunTally
from incident_operator.domain.workflows import WorkflowRef


@dataclass
class FakeWorkflowStore:
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Workflow id -> its status fields as the adapter would write them."""
    tallies: list[tuple[WorkflowRef, RunTally]] = field(default_factory=list)

    async def record(self, ref: WorkflowRef, tally: RunTally) -> None:
        self.tallies.append((ref, tally))
        self.status[ref.id] = added(self.status.get(ref.id, {}), tally)
