"""Suggested public wording from a Severity's templates (domain/public_draft.py)."""

from __future__ import annotations

import pytest

from incident_operator.api.v1alpha1.severity import PublicDraft, StatusPage
from incident_operator.domain.comms import Impact
from incident_operator.domain.public_draft import Draft, DraftTemplates, draft, fill
from incident_operator.domain.status_page import IncidentStatus

DEFAULTS = StatusPage().draft.to_domain()


@pytest.mark.parametrize(
    ("phase", "text", "status"),
    [
        ("triage", "We are investigating partial outage of checkout.", "investigating"),
        ("investigating", "We are investigating partial outage of checkout.", "investigating"),
        (
            "mitigated",
            "A fix for the partial outage of checkout is in place and we are monitoring the "
            "results.",
            "monitoring",
        ),
        ("resolved", "The partial outage of checkout has been resolved.", "resolved"),
        ("closed", "The partial outage of checkout has been resolved.", "resolved"),
        ("", "We are investigating partial outage of checkout.", "investigating"),
    ],
)
def test_the_default_draft_per_phase(phase: str, text: str, status: str) -> None:
    assert draft(DEFAULTS, "checkout", Impact.MAJOR, phase) == Draft(
        "checkout: partial outage", text, IncidentStatus(status)
    )


def test_impact_words() -> None:
    words = [draft(DEFAULTS, "api", i, "triage").title for i in Impact]
    assert words == ["api: disruption", "api: degraded performance", "api: partial outage",
                     "api: major outage"]  # fmt: skip


def test_a_severitys_own_templates_fill_only_the_three_placeholders() -> None:
    templates = PublicDraft(
        title="{service} is {status}",
        investigating="{service}: {impact}. {service.__class__} {0} {unknown}",
    ).to_domain()
    suggested = draft(templates, "checkout", Impact.CRITICAL, "investigating")
    assert suggested.title == "checkout is investigating"
    assert suggested.text == "checkout: major outage. {service.__class__} {0} {unknown}"
    assert fill("{a}{b}", {"a": "{b}", "b": "x"}) == "{b}x", "a value is never re-read"
    assert fill("{a}", {}) == "{a}"
    assert isinstance(templates, DraftTemplates)
