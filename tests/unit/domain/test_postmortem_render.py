"""Postmortem rendering: Markdown and JSON against golden files (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from incident_operator.domain import postmortem as pm
from incident_operator.domain.postmortem_document import (
    HumanSections,
    document_json,
    duration_text,
    render_markdown,
)

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def facts() -> pm.Facts:
    times = pm.key_times(
        {
            "detected": at(0),
            "declared": at(4),
            "acknowledged": at(6),
            "mitigated": at(20),
            "resolved": at(34),
        }
    )
    mitigation = pm.Mitigation(
        "rollback-checkout",
        "rollback",
        "deployment/checkout",
        "verified",
        False,
        at(12),
        at(14),
        "burn stopped within 5m",
        pm.effect_text("checkout", 0.4, 0.0005),
    )
    timeline = pm.merge_facts(
        [
            pm.Fact(at(0), "burn-began", "SLO checkout began burning", "slo/checkout", "b"),
            pm.Fact(at(4), "declared", "Declared by SLO checkout (14.4x over 1h/5m)", "slo", "d"),
            pm.Fact(at(6), "state-changed", "State triage -> investigating", "operator", "s1"),
            pm.Fact(at(30), "change-correlated", "Deployment checkout rolled out v42", "k8s", "c"),
            pm.Fact(
                at(34), "state-changed", "State mitigated -> resolved | done", "operator", "s2"
            ),
        ],
        pm.mitigation_facts([mitigation]),
    )
    impact = pm.impact(
        "checkout",
        0.999,
        at(0),
        at(34),
        during=pm.Counts(204_000, 81_600),
        slo_window=pm.Counts(259_200_000, 90_000),
    )
    return pm.Facts(
        incident="checkout-burn-20261127",
        title="checkout: SLO checkout is burning its error budget",
        service="checkout",
        severity="sev-2",
        key_times=times,
        timeline=timeline,
        impacts=(impact,),
        mitigations=(mitigation,),
        correlated_changes=tuple(f for f in timeline if f.type == "change-correlated"),
        figures=times.figures(),
    )


HUMAN = HumanSections(
    state="in-review",
    owner="alice",
    summary="Checkout returned 5xx for 34 minutes after a config change.",
    contributing_factors=("A retry storm amplified a slow dependency.",),
    went_well=("The burn alert fired within 4 minutes.",),
    action_items=(
        pm.ActionItem("Cap retries in the payment client", "bob", date(2026, 12, 4), None, "open"),
    ),
)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


def test_markdown_golden() -> None:
    check("postmortem.md", render_markdown(facts(), HUMAN, due=at(34) + timedelta(days=5)))


def test_json_golden() -> None:
    document = document_json(facts(), HUMAN, due=at(34) + timedelta(days=5))
    check("postmortem.json", json.dumps(document, indent=2) + "\n")


def test_empty_human_sections_say_so_and_no_chart_drops_the_image() -> None:
    text = render_markdown(facts(), HumanSections(), chart=None)
    assert "## Summary\n\n_To be written._" in text
    assert "![" not in text
    assert "Owner | unassigned" in text


def test_blameless_generated_text_names_no_person() -> None:
    text = render_markdown(facts(), HumanSections(state="draft"))
    # Only the human sections may name people; the generated parts name systems and roles.
    assert "alice" not in text
    assert "bob" not in text


def test_duration_text() -> None:
    assert duration_text(0) == "0s"
    assert duration_text(3903) == "1h 5m 3s"
    assert duration_text(120) == "2m"


def test_effect_text() -> None:
    assert pm.effect_text("checkout", 0.4, 0.0005) == (
        "checkout: error ratio 40.00% before, 0.05% 5m after (-99.9%)"
    )
    assert (
        pm.effect_text("checkout", 0.0, 0.0) == "checkout: error ratio 0.00% before, 0.00% 5m after"
    )
    assert pm.effect_text("checkout", None, 0.1) == ""
