"""Every node of the generated CRDs is described, so `kubectl explain` documents the whole tree.

A node is an object, a property, a list's items or a map's values; `kubectl explain` prints
``DESCRIPTION: <empty>`` for one without a description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
import yaml
from pydantic import Field

from incident_operator.api.v1alpha1.common import ApiModel
from incident_operator.api.v1alpha1.kinds import KINDS, KindInfo
from incident_operator.crdgen.descriptions import describe, element_shape, reflow
from incident_operator.crdgen.generate import crd
from incident_operator.crdgen.structural import to_structural
from tests.kube import REPO

EXEMPT = {".metadata"}
"""The API server refuses a CRD whose metadata schema says anything but its type, a
description included; it publishes ObjectMeta there, which `kubectl explain` documents."""


def undescribed(node: dict[str, Any], path: str = "") -> list[str]:
    """Paths of the nodes at and below ``node`` without a description ("" is the root)."""
    missing = [] if node.get("description") or path in EXEMPT else [path or "<root>"]
    for name, sub in node.get("properties", {}).items():
        missing += undescribed(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        missing += undescribed(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        missing += undescribed(node["additionalProperties"], f"{path}{{}}")
    return missing


def openapi(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {
                "type": "object",
                "description": "D.",
                "properties": {"a": {"type": "string", "description": "A."}},
            },
            [],
        ),
        ({"type": "string"}, ["<root>"]),
        (
            {"type": "object", "description": "D.", "properties": {"a": {"type": "string"}}},
            [".a"],
        ),
        (
            {
                "type": "array",
                "description": "D.",
                "items": {"type": "object", "properties": {"b": {"type": "string"}}},
            },
            ["[]", "[].b"],
        ),
        (
            {
                "type": "object",
                "description": "D.",
                "additionalProperties": {"type": "string", "description": ""},
            },
            ["{}"],
        ),
        (
            {
                "type": "object",
                "description": "D.",
                "properties": {"metadata": {"type": "object"}, "spec": {"type": "object"}},
            },
            [".spec"],
        ),
    ],
    ids=["described", "root", "property", "list-items", "map-values", "metadata-exempt"],
)
def test_the_check_finds_every_undescribed_node(
    schema: dict[str, Any], expected: list[str]
) -> None:
    assert undescribed(schema) == expected


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_every_generated_node_is_described(info: KindInfo) -> None:
    missing = undescribed(openapi(crd(info)))
    assert not missing, (
        f"{info.kind}: {len(missing)} node(s) without a description (add a docstring to the "
        f"field or its class in api/v1alpha1, then run `make crds`): {', '.join(missing)}"
    )


def test_every_committed_node_is_described() -> None:
    paths = sorted((REPO / "crds").glob("sre.dev_*.yaml"))
    assert len(paths) == len(KINDS)
    for path in paths:
        missing = undescribed(openapi(yaml.safe_load(path.read_text())))
        assert not missing, f"{path.name}: run `make crds`; undescribed: {', '.join(missing)}"


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_spec_status_and_the_kind_carry_their_class_docstrings(info: KindInfo) -> None:
    schema = openapi(crd(info))
    fields = info.model.model_fields
    spec, status = fields["spec"].annotation, fields["status"].annotation
    assert spec is not None
    assert status is not None
    assert schema["description"] == reflow(info.model.__doc__ or "")
    assert schema["properties"]["spec"]["description"] == reflow(spec.__doc__ or "")
    assert schema["properties"]["status"]["description"] == reflow(status.__doc__ or "")


class _Part(ApiModel):
    """A part
    (class docstring)."""

    size: int = 0
    """How big."""


class _Whole(ApiModel):
    plain: _Part
    documented: _Part
    """The field's own words."""
    optional: _Part | None = None
    defaulted: _Part = _Part()
    parts: list[_Part] = []
    """Parts in order."""
    by_name: dict[str, _Part] = {}
    """Parts by name."""
    names: list[Annotated[str, Field(min_length=1, max_length=9)]] = []
    """Names of the parts."""
    weights: dict[str, Annotated[int, Field(ge=0, le=10)]] = {}
    """Weight per part."""
    days: list[Literal["Mon", "Tue"]] = []
    """Days."""


def whole() -> dict[str, Any]:
    properties: dict[str, Any] = describe(to_structural(_Whole.model_json_schema()))["properties"]
    return properties


def test_a_class_docstring_lands_wherever_the_class_is_used_unless_the_field_has_its_own() -> None:
    properties = whole()
    for name in ("plain", "optional", "defaulted"):
        assert properties[name]["description"] == "A part (class docstring).", name
    assert properties["documented"]["description"] == "The field's own words."
    assert properties["parts"]["items"]["description"] == "A part (class docstring)."
    assert properties["byName"]["additionalProperties"]["description"] == (
        "A part (class docstring)."
    )
    assert properties["plain"]["properties"]["size"]["description"] == "How big."


def test_scalar_elements_say_what_one_entry_looks_like() -> None:
    properties = whole()
    assert properties["names"]["items"]["description"] == (
        "An entry of names: a string of 1 to 9 characters."
    )
    assert properties["weights"]["additionalProperties"]["description"] == (
        "A value in weights: an integer from 0 to 10."
    )
    assert properties["days"]["items"]["description"] == "An entry of days: one of Mon, Tue."


class _Bare(ApiModel):
    x: int = 0
    """An x."""


class _Holder(ApiModel):
    """Holds bare ones."""

    bare: list[_Bare] = []
    """Bare ones."""


def test_a_class_without_a_docstring_is_reported_where_it_is_used() -> None:
    schema = describe(to_structural(_Holder.model_json_schema()))
    assert undescribed(schema) == [".bare[]"]


def test_elements_keep_their_own_description_and_objects_are_left_to_their_class() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "days": {
                "type": "array",
                "description": "Days.",
                "items": {"type": "string", "description": "A weekday."},
            },
            "things": {
                "type": "array",
                "description": "Things.",
                "items": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        },
    }
    out = describe(schema)["properties"]
    assert out["days"]["items"]["description"] == "A weekday."
    assert "description" not in out["things"]["items"]  # the check above reports it


@pytest.mark.parametrize(
    ("element", "shape"),
    [
        ({"type": "string"}, "a string"),
        ({"type": "string", "maxLength": 8}, "a string of at most 8 characters"),
        (
            {"type": "string", "minLength": 1, "maxLength": 63, "pattern": "^[a-z]+$"},
            "a string of 1 to 63 characters matching ^[a-z]+$",
        ),
        ({"type": "integer", "minimum": 0}, "an integer at least 0"),
        ({"type": "number", "maximum": 1}, "a number at most 1"),
        ({"type": "string", "format": "date-time"}, "a string in date-time format"),
        ({"type": "string", "enum": ["a", "b"]}, "one of a, b"),
    ],
)
def test_element_shape(element: dict[str, Any], shape: str) -> None:
    assert element_shape(element) == shape


def test_docstring_line_breaks_are_removed_and_paragraphs_kept() -> None:
    assert reflow("  One\n    line.\n\n    Second\n    paragraph.\n") == (
        "One line.\n\nSecond paragraph."
    )
