"""Our exported rules beside the rules Sloth itself generated for the same SLO.

``tests/data/sloth/getting-started.gen.yml`` is Sloth's output for its own
``getting-started.yml`` (copied from Sloth's repository, see the NOTICE there). The same SLO
written as ours must give the same series names and labels, the same alert terms (Sloth's
``max(<window> > (factor * budget)) without (sloth_window)``) and the same
``sloth_severity`` for each window pair, which is what Sloth's UI reads from ``ALERTS``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from incident_operator.domain.rules import SloIdentity, rule_groups
from incident_operator.domain.sli import RatioSli
from incident_operator.domain.slo import WORKBOOK_PAIRS, Objective

DATA = Path(__file__).parents[2] / "data" / "sloth"
SLOTH_ONLY_LABELS = {"sloth_id", "sloth_service", "sloth_slo", "sloth_window", "sloth_severity"}
# max(slo:sli_error:ratio_rate5m{...} > (14.4 * 0.0009999999999999432)) without (sloth_window)
TERM = re.compile(
    r"max\((slo:sli_error:ratio_rate\w+)(\{[^}]*\}) > \(([0-9.]+) \* [0-9.e-]+\)\)"
    r" without \((\w+)\)"
)


def sloth() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    spec = yaml.safe_load((DATA / "getting-started.yml").read_text())
    generated = yaml.safe_load((DATA / "getting-started.gen.yml").read_text())
    return spec, generated["groups"]


def ours() -> list[dict[str, Any]]:
    """Sloth's getting-started SLO written as ours (the Workbook pairs are Sloth's defaults)."""
    spec, _ = sloth()
    slo = spec["slos"][0]
    events = slo["sli"]["events"]
    sli = RatioSli(
        errors=events["error_query"].replace("{{.window}}", "{{window}}"),
        total=events["total_query"].replace("{{.window}}", "{{window}}"),
    )
    objective = Objective(target=slo["objective"] / 100, window=timedelta(days=30))
    return rule_groups(  # type: ignore[return-value]
        SloIdentity(service=spec["service"], name=slo["name"]), objective, sli
    )


def by_kind(groups: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        rule for g in groups if g["name"].startswith(f"sloth-slo-{kind}-") for rule in g["rules"]
    ]


def sloth_labels(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k in SLOTH_ONLY_LABELS}


def test_group_names_are_sloths() -> None:
    _, theirs = sloth()
    assert [g["name"] for g in ours()] == [g["name"] for g in theirs]


def test_sli_recordings_have_sloths_names_and_identity_labels() -> None:
    _, theirs = sloth()
    expected = [(r["record"], sloth_labels(r["labels"])) for r in by_kind(theirs, "sli-recordings")]
    got = [(r["record"], sloth_labels(r["labels"])) for r in by_kind(ours(), "sli-recordings")]
    assert got == expected


def test_meta_recordings_have_sloths_names() -> None:
    _, theirs = sloth()
    assert [r["record"] for r in by_kind(ours(), "meta-recordings")] == [
        r["record"] for r in by_kind(theirs, "meta-recordings")
    ]


def alert_terms(rule: dict[str, Any]) -> list[tuple[str, str, float, str]]:
    return [(m, sel, float(f), without) for m, sel, f, without in TERM.findall(rule["expr"])]


def test_alerts_use_sloths_terms_and_severity_per_window_pair() -> None:
    _, theirs = sloth()
    sloth_alerts = by_kind(theirs, "alerts")
    our_alerts = [r for r in by_kind(ours(), "alerts") if "window_pair" in r["labels"]]
    # Sloth: one alert per sloth_severity ORing two pairs; ours: one alert per pair.
    expected = {
        (rule["labels"]["sloth_severity"], tuple(alert_terms(rule)[i : i + 2]))
        for rule in sloth_alerts
        for i in (0, 2)
    }
    got = {(rule["labels"]["sloth_severity"], tuple(alert_terms(rule))) for rule in our_alerts}
    assert len(expected) == len(WORKBOOK_PAIRS) == len(got)
    assert got == expected


def test_alert_labels_leave_no_window_label_and_keep_ours_apart() -> None:
    for rule in by_kind(ours(), "alerts"):
        # ``sloth_window`` neither on the rule nor inherited: every term drops it.
        assert "sloth_window" not in rule["labels"]
        for term in alert_terms(rule):
            assert term[3] == "sloth_window"
        assert {"sloth_id", "sloth_service", "sloth_slo"} <= rule["labels"].keys()
    # Our own labels use names Sloth leaves to users (Sloth's own example sets severity).
    _, theirs = sloth()
    assert {r["labels"]["severity"] for r in by_kind(theirs, "alerts")} == {"pageteam", "slack"}
