"""The mitigation timer runs only for incidents something may be asked of."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.handlers.mitigation import _open


def ticks(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    return _open(kopf.Spec(kopf.Body({"spec": spec})), kopf.Status(kopf.Body({"status": status})))


def test_an_open_incident_without_mitigations_has_no_timer() -> None:
    assert not ticks({"title": "x"}, {"phase": "investigating"})


def test_an_open_incident_with_mitigations_of_any_origin_ticks() -> None:
    open_ = {"phase": "investigating"}
    assert ticks({"mitigations": [{"name": "rollback"}]}, open_)
    assert ticks({"source": {"type": "slo"}}, open_)
    assert ticks({}, {**open_, "workflows": {"mitigations": [{"name": "m"}]}})


def test_a_resolved_incident_ticks_only_for_a_freeze_to_lift() -> None:
    assert not ticks({"mitigations": [{"name": "rollback"}]}, {"phase": "resolved"})
    assert ticks({}, {"phase": "resolved", "freezes": [{"name": "f"}]})
    assert not ticks({}, {"phase": "resolved", "freezes": [{"name": "f", "restoredAt": "t"}]})
