"""Where a workflow's own status goes: its run counts, last run and last error.

One Protocol for the capability, a real adapter over the API server (workflow_store.py) and
an in-memory fake (tests/fakes/ports/workflows.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from incident_operator.domain.workflows import WorkflowRef


@dataclass(frozen=True)
class RunTally:
    """What one incident's evaluation did with one workflow (added to its status)."""

    runs: int
    actions: int
    errors: int
    at: datetime
    incident: str
    """namespace/name"""
    last_error: str = ""


class WorkflowStore(Protocol):
    async def record(self, ref: WorkflowRef, tally: RunTally) -> None:
        """Add ``tally`` to the workflow's status counts (read, add, write on that version)."""
        ...
