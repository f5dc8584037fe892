"""Timeline merge: dedup by key, order, and the bound that folds old detail into a summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_operator.api.v1alpha1.convert import merge_timeline
from incident_operator.domain import timeline

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def e(minute: int, type_: str = "note", key: str | None = None, size: int = 10) -> dict[str, Any]:
    at = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"at": at, "type": type_, "message": "x" * size, "key": key or f"{type_}/{minute}"}


def test_dedup_by_key_and_time_order() -> None:
    merged = timeline.merge([e(1), e(5)], [e(3), e(5), e(3)])
    assert merged is not None
    assert [x["key"] for x in merged.entries] == ["note/1", "note/3", "note/5"]
    assert timeline.merge([e(1)], [e(1)]) is None


def test_old_detail_is_folded_before_milestones() -> None:
    existing = [e(0, "declared"), *(e(m) for m in range(1, 10)), e(10, "state-changed")]
    merged = timeline.merge(existing, [e(11)], max_entries=5)
    assert merged is not None
    assert [x["type"] for x in merged.entries] == [
        "declared",
        "note",
        "note",
        "state-changed",
        "note",
    ]
    assert [x["key"] for x in merged.entries if x["type"] == "note"] == [
        "note/8",
        "note/9",
        "note/11",
    ]
    assert merged.summary.entries == 7
    assert merged.summary.by_type == {"note": 7}
    assert merged.summary.first == "2026-11-27T09:01:00Z"
    assert merged.summary.last == "2026-11-27T09:07:00Z"


def test_milestones_fold_only_when_detail_cannot_make_room() -> None:
    existing = [e(m, "state-changed") for m in range(6)]
    merged = timeline.merge(existing, [e(6, "escalated")], max_entries=3)
    assert merged is not None
    assert [x["key"] for x in merged.entries] == [
        "state-changed/4",
        "state-changed/5",
        "escalated/6",
    ]
    assert merged.summary.by_type == {"state-changed": 4}


def test_byte_bound_keeps_the_object_small() -> None:
    big = [e(m, size=4000) for m in range(200)]
    merged = timeline.merge([], big, max_bytes=64 * 1024)
    assert merged is not None
    assert len(json.dumps(merged.entries)) <= 64 * 1024
    assert merged.summary.entries + len(merged.entries) == 200
    assert merged.entries[-1]["key"] == "note/199"


def test_summaries_accumulate_and_folded_entries_are_not_resurrected() -> None:
    first = timeline.merge([], [e(m) for m in range(10)], max_entries=4)
    assert first is not None
    second = timeline.merge(first.entries, [e(10), e(2)], first.summary, max_entries=4)
    assert second is not None
    assert second.summary.entries == 7
    assert "note/2" not in {x["key"] for x in second.entries}


def test_the_status_shape_round_trips_through_the_adapter() -> None:
    status: dict[str, Any] = {}
    for minute in range(timeline.MAX_ENTRIES + 50):
        out = merge_timeline(status, [e(minute)])
        assert out is not None
        status.update(out)
    assert len(status["timeline"]) == timeline.MAX_ENTRIES
    assert status["timelineSummary"]["entries"] == 50
    assert status["timelineSummary"]["byType"] == {"note": 50}
    assert merge_timeline(status, [e(3)]) is None  # folded away: not added again
