"""The Grafana dashboard shipped with the chart queries only metrics the operator exports.

A renamed metric would otherwise leave a dashboard of empty panels that nobody notices until
an incident, which is exactly when it is looked at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from incident_operator.adapters.operator_metrics import METRIC_NAMES

DASHBOARD = Path(__file__).parents[3] / "charts/incident-operator/dashboards/incident-operator.json"
METRIC = re.compile(r"\bincident_operator_[a-z_]+\b")
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def family(series: str) -> str:
    """``x_seconds_bucket`` -> ``x_seconds`` for histograms; other names stay as they are."""
    for suffix in HISTOGRAM_SERIES:
        base = series.removesuffix(suffix)
        if base != series and base in METRIC_NAMES:
            return base
    return series


def load() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def test_every_query_names_only_exported_metrics() -> None:
    queried = 0
    for panel in panels(load()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            names = METRIC.findall(target["expr"])
            assert names, f"{panel['title']!r}: {target['expr']} queries no operator metric"
            unknown = {n for n in names if family(n) not in METRIC_NAMES}
            assert not unknown, f"{panel['title']!r} queries unknown metrics {unknown}"
            queried += 1
    assert queried >= 10


def test_the_promised_panels_are_there_and_every_exported_metric_is_shown() -> None:
    document = load()
    titles = " | ".join(p["title"] for p in panels(document["panels"]))
    for wanted in (
        "Open incidents by severity",
        "Transitions",
        "Time to acknowledge",
        "Time to mitigate",
        "Time to resolve",
        "SLO evaluation cycle time",
        "SLO queries",
        "Reconcile errors",
    ):
        assert wanted in titles
    shown = {
        family(n)
        for p in panels(document["panels"])
        for t in p.get("targets", [])
        for n in METRIC.findall(t["expr"])
    }
    # Detection time is set by the source, not by responders; the rest must be on the board.
    assert METRIC_NAMES - shown == {"incident_operator_time_to_detect_seconds"}


def test_panel_ids_are_unique_and_queries_use_the_datasource_variable() -> None:
    document = load()
    ids = [p["id"] for p in panels(document["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(document["panels"]):
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"


def unknown_keys(ours: Any, grafanas: Any, path: str = "") -> Iterator[str]:
    """Paths of ours that Grafana's model dropped (misspelt or not in its schema) or changed."""
    if isinstance(ours, dict) and isinstance(grafanas, dict):
        for key, value in ours.items():
            if key not in grafanas:
                yield f"{path}/{key}"
            else:
                yield from unknown_keys(value, grafanas[key], f"{path}/{key}")
    elif isinstance(ours, list) and isinstance(grafanas, list) and len(ours) == len(grafanas):
        for i, (mine, theirs) in enumerate(zip(ours, grafanas, strict=True)):
            yield from unknown_keys(mine, theirs, f"{path}[{i}]")
    elif ours != grafanas:
        yield f"{path}: {ours!r} became {grafanas!r}"


def test_grafana_s_own_dashboard_model_keeps_every_field() -> None:
    """Read by Grafana's Foundation SDK (models generated from Grafana's dashboard schema, with
    the panel plugins' option models), written back, nothing of ours may be lost or changed."""
    register_default_plugins()
    ours = load()
    model = Dashboard.from_json(ours)
    grafanas = json.loads(JSONEncoder(sort_keys=True).encode(model))
    assert list(unknown_keys(ours, grafanas)) == []
    assert [p.type_val for p in model.panels or []] == [p["type"] for p in ours["panels"]]


def test_the_schema_check_catches_a_misspelt_field() -> None:
    register_default_plugins()
    ours = load()
    ours["panels"][1]["options"]["colourMode"] = "value"
    ours["refesh"] = "30s"
    grafanas = json.loads(JSONEncoder(sort_keys=True).encode(Dashboard.from_json(ours)))
    assert set(unknown_keys(ours, grafanas)) == {"/refesh", "/panels[1]/options/colourMode"}
