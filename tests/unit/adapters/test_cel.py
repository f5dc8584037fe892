"""The CEL adapter: its library's errors become ours, with the compiler's message."""

from __future__ import annotations

import pytest

from incident_operator.adapters.cel import CelExpressions
from incident_operator.errors import ExpressionError

CEL = CelExpressions()
INCIDENT = {"incident": {"severity": "sev-1", "labels": {"tier": "1"}, "phase": "triage"}}


def test_a_syntax_error_is_reported_with_line_and_column() -> None:
    problem = CEL.problem("incident.severity ==")
    assert problem is not None
    assert "1:21: Syntax error" in problem
    assert "<input>" not in problem


def test_an_undeclared_variable_is_refused_like_a_checker_would() -> None:
    assert CEL.problem("sevrity.level == 1") == (
        "undeclared reference to sevrity (use incident, severity, trigger)"
    )


def test_macro_variables_are_bound_by_the_expression() -> None:
    assert CEL.problem("incident.labels.exists(k, k == 'tier')") is None
    assert CEL.evaluate("incident.labels.exists(k, k == 'tier')", INCIDENT) is True


def test_conditions_over_the_incident() -> None:
    rule = (
        "incident.severity == 'sev-1' && 'tier' in incident.labels && incident.labels.tier == '1'"
    )
    assert CEL.problem(rule) is None
    assert CEL.evaluate(rule, INCIDENT) is True
    other = {"incident": {"severity": "sev-2", "labels": {}, "phase": "triage"}}
    assert CEL.evaluate(rule, other) is False


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("incident.labels['team'] == 'a'", "no such key"),
        ("incident.severity + 1 == 2", "Unsupported operation: string"),
        ("incident.severity", "not a bool"),
        ("incident.severity ==", "Syntax error"),
    ],
)
def test_evaluation_errors_are_expression_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        CEL.evaluate(source, INCIDENT)
