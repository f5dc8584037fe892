"""The chart's configuration reference, generated from values.schema.json (+ values.yaml defaults).

    python -m hack.values_reference           # print the Markdown table
    python -m hack.values_reference --write   # replace it in the chart's README between the markers

tests/chart/test_chart.py fails when charts/incident-operator/README.md is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "incident-operator"
README = CHART / "README.md"
START, END = "<!-- values-reference:start -->", "<!-- values-reference:end -->"


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type", "")
    text = " \\| ".join(kind) if isinstance(kind, list) else str(kind)
    if "enum" in node:
        text += " (" + ", ".join(f"`{v}`" for v in node["enum"]) + ")"
    return text


def _default(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value)
    return f"`{text}`" if len(text) <= 60 else "see values.yaml"


def _rows(schema: dict[str, Any], defaults: Any, prefix: str) -> list[str]:
    rows = []
    for key, node in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        value = defaults.get(key) if isinstance(defaults, dict) else None
        leaf = node.get("type") != "object" or "properties" not in node or key == "resources"
        if leaf:
            description = node.get("description", "").replace("|", "\\|")
            rows.append(f"| `{path}` | {_type(node)} | {_default(value)} | {description} |")
        else:
            rows.extend(_rows(node, value, f"{path}."))
    return rows


def render(schema: dict[str, Any], chart: Path = CHART) -> str:
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    head = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    return "\n".join(head + _rows(schema, defaults, ""))


def main(argv: list[str]) -> int:
    table = render(json.loads((CHART / "values.schema.json").read_text()))
    if "--write" not in argv:
        print(table)
        return 0
    text = README.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    README.write_text(f"{before}{START}\n{table}\n{END}{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
