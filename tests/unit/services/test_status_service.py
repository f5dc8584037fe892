from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.api.v1alpha1 import BY_KIND
from incident_operator.services.status import observed_status
from tests.builders.objects import severity

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SEVERITY = BY_KIND["Severity"]


def severity_body(
    generation: int, status: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    return severity(metadata={"generation": generation}, status=status or {}, **spec)


def test_valid_object_becomes_ready_at_its_generation() -> None:
    status = observed_status(SEVERITY, severity_body(4), T0)
    assert status == {
        "observedGeneration": 4,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "observedGeneration": 4,
                "lastTransitionTime": "2026-11-27T12:00:00Z",
                "reason": "Reconciled",
                "message": "The operator accepted this object.",
            }
        ],
    }


def test_reconciling_again_does_not_move_the_transition_time() -> None:
    first = observed_status(SEVERITY, severity_body(1), T0)
    second = observed_status(SEVERITY, severity_body(2, status=first), T0 + timedelta(hours=1))
    assert second["observedGeneration"] == 2
    assert second["conditions"][0]["lastTransitionTime"] == "2026-11-27T12:00:00Z"
    assert second["conditions"][0]["observedGeneration"] == 2


def test_spec_the_model_cannot_read_is_not_ready_and_says_why() -> None:
    status = observed_status(SEVERITY, severity_body(1, level=9), T0)
    (ready,) = status["conditions"]
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "spec.level" in ready["message"]
    assert "less than or equal to 5" in ready["message"]


def test_unreadable_existing_status_is_rewritten() -> None:
    body = severity_body(1, status={"conditions": [{"type": "Ready", "status": "Maybe"}]})
    status = observed_status(SEVERITY, body, T0)
    assert [c["status"] for c in status["conditions"]] == ["True"]
