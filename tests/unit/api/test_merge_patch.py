"""Merge patches (RFC 7386): composing two into one write keeps the effect of both."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from incident_operator.api.merge_patch import compose, merge_patch

KEYS = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]))
VALUES = st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
PATCH_VALUES = st.recursive(
    st.one_of(SCALARS, st.none()),
    lambda inner: st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=3)
PATCHES = st.dictionaries(KEYS, PATCH_VALUES, max_size=3)


@given(DOCUMENTS, PATCHES, PATCHES)
def test_one_composed_patch_has_the_effect_of_both(
    target: dict[str, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    combined = compose(first, second)
    if combined is not None:
        assert merge_patch(target, combined) == merge_patch(merge_patch(target, first), second)


def test_the_comms_writes_compose() -> None:
    """A confirmed result (its outbox entry deleted) and the next operation's attempt record."""
    result = {"chat": {"pinned": {"ts": "1.2"}}, "outbox": {"status/ab": None}}
    record = {"outbox": {"topic/cd": {"kind": "topic", "attempts": 1}}}
    assert compose(result, record) == {
        "chat": {"pinned": {"ts": "1.2"}},
        "outbox": {"status/ab": None, "topic/cd": {"kind": "topic", "attempts": 1}},
    }


def test_an_object_merged_into_a_deleted_member_cannot_be_one_patch() -> None:
    target = {"chat": {"channelId": "C1", "pinned": {"ts": "1"}}}
    first, second = {"chat": None}, {"chat": {"channelId": "C2"}}
    assert merge_patch(merge_patch(target, first), second) == {"chat": {"channelId": "C2"}}
    assert compose(first, second) is None
