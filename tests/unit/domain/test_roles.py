"""Roles from a rotation's answer, spec overrides, and the timeline entries for changes."""

from __future__ import annotations

from incident_operator.domain.roles import (
    RotationRoles,
    effective_roles,
    role_entries,
    roles_from_layers,
)
from incident_operator.domain.rotation import LayerOnCall

LAYERS = (
    LayerOnCall("primary", None),  # e.g. outside its restriction window
    LayerOnCall("secondary", "bob"),
    LayerOnCall("tertiary", "bob"),
    LayerOnCall("managers", "dave"),
)


def test_commander_is_the_first_layer_with_someone_and_operations_only_when_asked() -> None:
    assert roles_from_layers(LAYERS, operations_from_next_layer=False) == RotationRoles(
        "bob", None, "secondary", None
    )
    # The next layer below has bob again: the same person cannot be both, so dave it is.
    assert roles_from_layers(LAYERS, operations_from_next_layer=True) == RotationRoles(
        "bob", "dave", "secondary", "managers"
    )


def test_nobody_on_call_gives_nobody() -> None:
    empty = (LayerOnCall("primary", None), LayerOnCall("secondary", None))
    assert roles_from_layers(empty, operations_from_next_layer=True) == RotationRoles(
        None, None, None, None
    )
    lone = (LayerOnCall("primary", "alice"),)
    assert roles_from_layers(lone, operations_from_next_layer=True).operations is None


def test_spec_roles_override_the_rotation_and_only_empty_roles_are_filled() -> None:
    offered = RotationRoles("bob", "dave", "secondary", "managers")
    both = effective_roles({"commander": "alice", "scribe": "erin", "operations": None}, offered)
    assert both.roles == {"commander": "alice", "scribe": "erin", "operations": "dave"}
    assert both.from_rotation == frozenset({"operations"})
    none = effective_roles({"commander": None}, None)
    assert none.roles == {}
    assert none.from_rotation == frozenset()


def test_role_entries_are_one_per_changed_role_keyed_by_generation() -> None:
    entries = role_entries(
        {"commander": "bob", "scribe": "erin"},
        {"commander": "alice", "operations": "dave", "scribe": "erin"},
        from_rotation=frozenset({"operations"}),
        version="3",
    )
    assert [(e.type, e.message, e.key) for e in entries] == [
        ("role-changed", "commander: bob -> alice", "role/commander/3"),
        ("role-assigned", "operations: dave (from the on-call rotation)", "role/operations/3"),
    ]
    (cleared,) = role_entries({"scribe": "erin"}, {"scribe": None}, version="4")
    assert (cleared.type, cleared.message) == ("role-changed", "scribe: erin -> (nobody)")
    assert role_entries({"commander": "a"}, {"commander": "a"}, version="5") == ()
