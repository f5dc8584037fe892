"""Descriptions as `kubectl explain` shows them, and for the nodes no docstring reaches.

Fields are described by their attribute docstrings and objects by their class docstrings (the
``$ref`` inlining in structural.py keeps a field's own docstring over its class's, which is
the more specific of the two). Two kinds of node have no docstring of their own: the
envelope's ``apiVersion`` and ``kind`` (see generate.py; ``metadata`` may carry no
description at all), and the elements of lists and maps of scalars, where a ``list[Name]``
has no class whose docstring could describe one name.

`kubectl explain` prints a list's description followed by its element's, so an element
repeating its collection's meaning would say everything twice; a scalar element is described
by what one entry must look like instead (its pattern and bounds, which `kubectl explain`
shows nowhere else).

Docstrings are wrapped to the source's line length; `kubectl explain` wraps again, so the
line breaks inside a paragraph are removed (paragraphs stay apart).
"""

from __future__ import annotations

from typing import Any

from .structural import JsonSchema

ELEMENTS = (("items", "An entry of"), ("additionalProperties", "A value in"))
"""The element keywords and how an element's description introduces it."""
_NOUNS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a flag"}


def reflow(text: str) -> str:
    """``text`` with each paragraph on one line (paragraphs are separated by a blank line)."""
    paragraphs = (" ".join(p.split()) for p in text.strip().split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def _bounds(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"{low} to {high}{unit}"
    if high is not None:
        return f"at most {high}{unit}"
    return "" if low is None else f"at least {low}{unit}"


def element_shape(element: JsonSchema) -> str:
    """What one scalar element must look like, e.g. a string of 1 to 63 characters matching
    ^[a-z]+$."""
    if "enum" in element:
        return "one of " + ", ".join(str(v) for v in element["enum"])
    words = [_NOUNS.get(element.get("type", ""), "a value")]
    if length := _bounds(element.get("minLength"), element.get("maxLength"), " characters"):
        words.append(f"of {length}")
    if size := _bounds(element.get("minimum"), element.get("maximum")):
        words.append(f"from {size}" if " to " in size else size)
    if "format" in element:
        words.append(f"in {element['format']} format")
    if "pattern" in element:
        words.append(f"matching {element['pattern']}")
    return " ".join(words)


def describe(node: JsonSchema, name: str = "") -> JsonSchema:
    """Reflow every description at and below ``node`` and describe each undescribed scalar
    list item and map value (``name``: the field holding ``node``), in place; returns ``node``.

    An element that is an object keeps what it has: its class docstring describes it, and a
    class without one is a gap to fill there, not here.
    """
    if isinstance(node.get("description"), str):
        node["description"] = reflow(node["description"])
    for key, sub in node.get("properties", {}).items():
        describe(sub, key)
    for keyword, introduction in ELEMENTS:
        element = node.get(keyword)
        if not isinstance(element, dict):
            continue
        if not element.get("description") and "properties" not in element:
            element["description"] = f"{introduction} {name}: {element_shape(element)}."
        describe(element, name)
    return node
