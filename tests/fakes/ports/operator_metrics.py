"""OperatorMetrics that remembers every call, for asserting what services reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingMetrics:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    open_incidents: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    def named(self, name: str) -> list[Any]:
        return [args for call, args in self.calls if call == name]

    def transition(self, from_phase: str, to_phase: str, severity: str) -> None:
        self.calls.append(("transition", (from_phase, to_phase, severity)))

    def duration(
        self, figure: str, seconds: float, severity: str, owner: tuple[str, str] = ("", "")
    ) -> None:
        self.calls.append(("duration", (figure, seconds, severity)))
        self.calls.append(("duration_owner", (figure, owner)))

    def escalation(self, severity: str) -> None:
        self.calls.append(("escalation", severity))

    def reconcile_error(self, handler: str, kind: str) -> None:
        self.calls.append(("reconcile_error", (handler, kind)))

    def slo_cycle(
        self, *, seconds: float, slos: int, queries: int, declared: int, unavailable: bool
    ) -> None:
        self.calls.append(
            (
                "slo_cycle",
                {
                    "seconds": seconds,
                    "slos": slos,
                    "queries": queries,
                    "declared": declared,
                    "unavailable": unavailable,
                },
            )
        )

    def set_open_incidents(self, counts: Mapping[tuple[str, str, str, str], int]) -> None:
        self.open_incidents = dict(counts)
        self.calls.append(("set_open_incidents", dict(counts)))

    def watch_delivery(self, resource: str, namespace: str, timestamp: float) -> None:
        self.calls.append(("watch_delivery", (resource, namespace, timestamp)))

    def watch_ended(self, resource: str, namespace: str) -> None:
        self.calls.append(("watch_ended", (resource, namespace)))
