"""Turn a pydantic JSON schema into a Kubernetes *structural* OpenAPI v3 schema.

The API server accepts only a subset of JSON Schema (no $ref, no const, boolean
exclusiveMinimum, no additionalProperties next to properties, nullable instead of a null
branch), and it prunes whatever the schema does not declare. Each rule below exists because
the API server rejects or misreads the pydantic form.
"""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]
DROPPED_KEYS = frozenset({"title", "$defs", "definitions", "$schema", "examples"})


class SchemaConversionError(ValueError):
    """The model uses a construct that has no structural equivalent."""


def _resolve(ref: str, defs: JsonSchema) -> JsonSchema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise SchemaConversionError(f"unsupported $ref {ref!r}")
    try:
        resolved: JsonSchema = defs[ref[len(prefix) :]]
    except KeyError as exc:
        raise SchemaConversionError(f"dangling $ref {ref!r}") from exc
    return resolved


def _null_branch(branch: JsonSchema) -> bool:
    return branch.get("type") == "null"


def _prune_empty(value: Any) -> Any:
    """Drop null and empty values from a default.

    Empty strings, lists and nulls are Python conveniences; as CRD defaults the API server
    would write them into every stored object.
    """
    if isinstance(value, dict):
        pruned = {k: p for k, v in value.items() if (p := _prune_empty(v)) is not None}
        return pruned or None
    if isinstance(value, list):
        return value or None
    if value is None or value == "":
        return None
    return value


def _flatten(node: JsonSchema, defs: JsonSchema, path: str) -> JsonSchema:
    """Inline ``$ref``, single ``allOf`` and ``anyOf [X, null]`` into one plain node."""
    while True:
        if "$ref" in node:
            node = dict(node)
            target = _resolve(node.pop("$ref"), defs)
            # Sibling keys (description, default) of the reference override the definition's.
            node = {**target, **node}
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = dict(node)
            node = {**node.pop("allOf")[0], **node}
        elif "anyOf" in node:
            node = dict(node)
            branches = node.pop("anyOf")
            non_null = [b for b in branches if not _null_branch(b)]
            if len(non_null) != 1:
                raise SchemaConversionError(
                    f"{path or '<root>'}: unions are not structural; model them as optional "
                    "fields with an exactly-one-of CEL rule"
                )
            node = {**non_null[0], **node}
            if len(non_null) != len(branches):
                node["nullable"] = True
        else:
            return node


def _convert(key: str, value: Any, defs: JsonSchema, path: str) -> JsonSchema:
    """The structural form of one keyword; empty when the keyword is dropped."""
    if key in DROPPED_KEYS:
        return {}
    if key == "const":
        return {"enum": [value]}
    if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
        return {("minimum" if key == "exclusiveMinimum" else "maximum"): value, key: True}
    if key == "properties":
        return {
            key: {name: to_structural(sub, defs, f"{path}.{name}") for name, sub in value.items()}
        }
    if key == "items":
        return {key: to_structural(value, defs, f"{path}[]")}
    if key == "additionalProperties":
        if isinstance(value, dict):
            return {key: to_structural(value, defs, f"{path}{{}}")}
        # `true` is dict[str, Any]: keep what the user wrote. `false` (extra=forbid) cannot sit
        # next to properties; pruning already drops unknown fields.
        return {"x-kubernetes-preserve-unknown-fields": True} if value is True else {}
    if key == "default":
        default = _prune_empty(value)
        return {} if default is None else {key: default}
    if key == "required":
        return {key: sorted(value)}
    return {key: value}


def to_structural(schema: JsonSchema, defs: JsonSchema | None = None, path: str = "") -> JsonSchema:
    """Return a structural copy of ``schema`` with every ``$ref`` inlined."""
    defs = schema.get("$defs", {}) if defs is None else defs
    out: JsonSchema = {}
    for key, value in _flatten(schema, defs, path).items():
        out.update(_convert(key, value, defs, path))
    if "properties" in out:
        out.setdefault("type", "object")
    declared = ("properties", "additionalProperties", "x-kubernetes-preserve-unknown-fields")
    if out.get("type") == "object" and not any(k in out for k in declared):
        raise SchemaConversionError(f"{path or '<root>'}: object without declared fields")
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        raise SchemaConversionError(f"{path or '<root>'}: every node needs a type")
    return out
