"""The CRD generator: structural conversion rules and freshness of crds/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.crdgen.generate import crd, file_name, generate
from incident_operator.crdgen.structural import SchemaConversionError, to_structural
from tests.kube import REPO


def walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every schema node below ``schema`` (property names are not nodes)."""
    found = [schema]
    for sub in schema.get("properties", {}).values():
        found.extend(walk(sub))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found.extend(walk(schema[key]))
    return found


def schema_of(info: Any) -> dict[str, Any]:
    return dict(crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def test_refs_are_inlined_and_sibling_keys_win() -> None:
    schema = {
        "$defs": {"Thing": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "type": "object",
        "properties": {"thing": {"$ref": "#/$defs/Thing", "description": "why"}},
    }
    out = to_structural(schema)
    assert out["properties"]["thing"] == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "description": "why",
    }


def test_optional_becomes_nullable_and_null_default_is_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}},
    }
    assert to_structural(schema)["properties"]["x"] == {"type": "integer", "nullable": True}


def test_numeric_exclusive_bounds_become_openapi_v3_booleans() -> None:
    out = to_structural({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100})
    assert out == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 100,
        "exclusiveMaximum": True,
    }


def test_titles_and_forbidden_additional_properties_are_removed() -> None:
    out = to_structural(
        {
            "title": "T",
            "type": "object",
            "properties": {"a": {"type": "string", "title": "A"}},
            "additionalProperties": False,
        }
    )
    assert out == {"type": "object", "properties": {"a": {"type": "string"}}}


def test_maps_keep_their_value_schema_and_any_maps_preserve_fields() -> None:
    out = to_structural({"type": "object", "additionalProperties": {"type": "string"}})
    assert out == {"type": "object", "additionalProperties": {"type": "string"}}
    loose = to_structural({"type": "object", "additionalProperties": True})
    assert loose == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_empty_defaults_are_not_written_into_objects() -> None:
    out = to_structural(
        {
            "type": "object",
            "properties": {"s": {"type": "string", "default": ""}},
            "default": {"s": "", "n": None, "keep": 1},
        }
    )
    assert "default" not in out["properties"]["s"]
    assert out["default"] == {"keep": 1}


def test_const_becomes_enum() -> None:
    assert to_structural({"type": "string", "const": "x"}) == {"type": "string", "enum": ["x"]}


def test_real_unions_are_refused() -> None:
    with pytest.raises(SchemaConversionError, match="unions are not structural"):
        to_structural({"anyOf": [{"type": "string"}, {"type": "integer"}]})


def test_untyped_nodes_are_refused() -> None:
    with pytest.raises(SchemaConversionError, match="needs a type"):
        to_structural({"type": "object", "properties": {"x": {"description": "?"}}})


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_generated_crds_are_structural(info: Any) -> None:
    document = crd(info)
    version = document["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    for node in walk(schema):
        assert "$ref" not in node
        assert "anyOf" not in node
        assert "title" not in node
    for prop in ("apiVersion", "kind", "metadata", "spec", "status"):
        assert prop in schema["properties"]
    assert version["subresources"] == {"status": {}}
    assert document["spec"]["names"]["categories"] == ["incident-management"]
    assert document["spec"]["names"]["shortNames"] == list(info.short_names)


def test_every_kind_has_cel_rules_or_bounds() -> None:
    rules = {
        info.kind: [n for n in walk(schema_of(info)) if "x-kubernetes-validations" in n]
        for info in KINDS
    }
    assert rules["ServiceLevelObjective"]
    assert rules["OnCallRotation"]
    assert rules["Incident"]


def test_committed_crds_are_fresh(tmp_path: Path) -> None:
    """Regenerate into a scratch directory; any difference means `make crds` was not run."""
    generate(tmp_path)
    committed = REPO / "crds"
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    on_disk = {p.name: p.read_text() for p in committed.glob("sre.dev_*.yaml")}
    assert sorted(fresh) == sorted(on_disk), "crds/ has missing or extra files: run `make crds`"
    stale = [name for name in fresh if fresh[name] != on_disk[name]]
    assert not stale, f"crds/ is stale for {stale}: run `make crds` and commit the result"


def test_file_names_follow_group_and_plural() -> None:
    assert [file_name(i) for i in KINDS] == [
        "sre.dev_servicelevelobjectives.yaml",
        "sre.dev_severities.yaml",
        "sre.dev_oncallrotations.yaml",
        "sre.dev_incidents.yaml",
        "sre.dev_postmortems.yaml",
        "sre.dev_incidentworkflows.yaml",
        "sre.dev_clusterincidentworkflows.yaml",
        "sre.dev_services.yaml",
        "sre.dev_teams.yaml",
    ]
    for path in (REPO / "crds").glob("*.yaml"):
        assert yaml.safe_load(path.read_text())["kind"] == "CustomResourceDefinition"
