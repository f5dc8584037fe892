"""domain.timeline.entry: the one way a writer builds a timeline entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from incident_operator.api.v1alpha1.incident import TimelineEntry
from incident_operator.domain import timeline

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_every_field_as_stored_at_in_utc() -> None:
    berlin = AT.astimezone(timezone(timedelta(hours=1)))
    assert timeline.entry(berlin, "note", "hi", author="ana", source="kubectl", key="k1") == {
        "at": "2026-03-01T10:00:00Z",
        "type": "note",
        "message": "hi",
        "author": "ana",
        "source": "kubectl",
        "key": "k1",
    }


def test_an_empty_key_or_author_is_left_out() -> None:
    assert timeline.entry(AT, "declared", "d", source="operator") == {
        "at": "2026-03-01T10:00:00Z",
        "type": "declared",
        "message": "d",
        "source": "operator",
    }


def test_every_text_is_cut_to_the_schema_and_the_result_validates() -> None:
    made = timeline.entry(
        AT, "t" * 100, "m" * 5000, author="a" * 300, source="s" * 100, key="k" * 300
    )
    assert {k: len(v) for k, v in made.items() if k != "at"} == {
        "type": timeline.TYPE_MAX,
        "message": timeline.MESSAGE_MAX,
        "author": timeline.AUTHOR_MAX,
        "source": timeline.SOURCE_MAX,
        "key": timeline.KEY_MAX,
    }
    TimelineEntry.model_validate(made)
