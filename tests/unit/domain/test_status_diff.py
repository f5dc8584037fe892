"""domain.status_diff: the one answer to "which status fields would this write change"."""

from __future__ import annotations

from incident_operator.domain.status_diff import (
    changed,
    normalized,
    same_instant,
    same_normalized,
)


def test_only_the_keys_that_differ_and_a_missing_key_is_none() -> None:
    current = {"a": 1, "b": [1, 2], "c": "x"}
    wanted = {"a": 1, "b": [1, 3], "c": "x", "d": None, "e": 0}
    assert changed(current, wanted) == {"b": [1, 3], "e": 0}
    assert changed(current, {}) == {}
    assert changed({}, {"a": None}) == {}


def test_timestamps_compare_as_instants_when_asked() -> None:
    current = {"due": "2026-03-01T10:00:00Z", "who": "ana", "n": 1}
    wanted = {"due": "2026-03-01T10:00:00+00:00", "who": "ana", "n": 1}
    assert changed(current, wanted) == {"due": "2026-03-01T10:00:00+00:00"}
    assert changed(current, wanted, same=same_instant) == {}
    later = {**wanted, "due": "2026-03-01T10:00:01Z"}
    assert changed(current, later, same=same_instant) == {"due": "2026-03-01T10:00:01Z"}


def test_same_instant_compares_other_values_plainly() -> None:
    assert same_instant("ana", "ana")
    assert not same_instant("ana", "bo")
    assert not same_instant(None, "2026-03-01T10:00:00Z")
    assert same_instant(["x"], ["x"])
    assert not same_instant(1, 2)


def test_normalized_values_compare_as_a_json_round_trip_leaves_them() -> None:
    have = {
        "at": "2026-03-01T10:00:00Z",
        "ratio": 0.1 + 0.2,
        "count": 3,
        "gone": None,
        "rows": [{"at": "2026-03-01T10:00:00.000Z", "note": None}],
        "flag": True,
    }
    want = {
        "at": "2026-03-01T10:00:00+00:00",
        "ratio": 0.3,
        "count": 3.0,
        "rows": [{"at": "2026-03-01T10:00:00Z"}],
        "flag": True,
    }
    assert normalized(have) == normalized(want)
    assert changed(have, want, same=same_normalized) == {}
    assert not same_normalized(["Tom"], ["Tim"])
    assert changed({"n": 1.0000001}, {"n": 1.001}, same=same_normalized) == {"n": 1.001}
