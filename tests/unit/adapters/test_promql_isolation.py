"""One SLO's PromQL cannot reach another's: parsing, refusal, and the batch parsed back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident_operator.adapters import promql
from incident_operator.domain.sli import TERM_LABEL, LatencySli, Part, RatioSli, batch_plan
from incident_operator.errors import InvalidIndicator

FIVE = timedelta(minutes=5)
GOOD_TOTAL = 'rate(http_requests_total{job="a"}[{{window}}])'


def ratio(errors: str, total: str = GOOD_TOTAL) -> RatioSli:
    return RatioSli(errors=errors, total=total)


REFUSED = [
    # (indicator, words the refusal must contain)
    (ratio("rate(x[{{window}}]"), "unclosed left parenthesis"),
    (ratio("sum(rate(x[{{window}}])) by ("), "parse error"),
    # Breaking out of the sum(...) the operator wraps it in: parses only inside the wrapper.
    (
        ratio(
            'rate(x[{{window}}])) or label_replace(vector(1), "__incident_operator_term",'
            ' "e0", "", "") or sum(rate(y[{{window}}])'
        ),
        "parse error",
    ),
    # Forging the label that tells SLOs apart, plainly or escaped.
    (
        ratio(f'label_replace(rate(x[{{{{window}}}}]), "{TERM_LABEL}", "e1", "", "")'),
        "reserved label",
    ),
    (
        ratio('label_replace(rate(x[{{window}}]), "\\x5f_incident_operator_term", "e1", "", "")'),
        "reserved label",
    ),
    (ratio(f'rate(x{{{TERM_LABEL}="e1"}}[{{{{window}}}}])'), "reserved label"),
    (ratio(f"sum by ({TERM_LABEL}) (rate(x[{{{{window}}}}]))"), "reserved label"),
    (ratio('label_join(rate(x[{{window}}]), "__incident_operator_term", ",", "job")'), "reserved"),
    # Too big for anyone's shared query.
    (ratio("rate(x[{{window}}])" + " + rate(x[{{window}}])" * 150), "syntax nodes"),
    (ratio("(" * 300 + "rate(x[{{window}}])" + ")" * 300), "parentheses"),
    (ratio('rate(x{job="' + "a" * 9000 + '"}[{{window}}])'), "characters"),
    (ratio("rate(max_over_time(x[30d:1s])[{{window}}:])"), "subquery"),
    # Type errors the parser knows: a scalar where events are counted.
    (ratio("1"), "expected type vector"),
    # A latency selector must be matchers only.
    (LatencySli("lat", 0.5, 'job="a"}[5m])) or vector(1) or sum(rate(lat_count{a="b"'), "selector"),
    (LatencySli("lat", 0.5, 'job="a"} offset 1h'), "selector"),
]


@pytest.mark.parametrize(("sli", "words"), REFUSED)
def test_hostile_or_broken_indicators_are_refused_with_the_reason(
    sli: RatioSli | LatencySli, words: str
) -> None:
    with pytest.raises(InvalidIndicator, match=words):
        promql.check(sli, FIVE, counted=True)


ACCEPTED = [
    ratio('sum(rate(http_requests_total{job="a",code=~"5.."}[{{window}}]))'),
    ratio("rate(x[{{window}}] offset 1m)", "rate(y[{{window}}]) or vector(0)"),
    ratio('sum without (instance) (rate(x{job!="b"}[{{window}}]))'),
    LatencySli("http_request_duration_seconds", 0.3, 'job="checkout",route=~"/pay.*"'),
    LatencySli("http_request_duration_seconds", 0.3),
]


@pytest.mark.parametrize("sli", ACCEPTED)
@pytest.mark.parametrize("counted", [True, False])
def test_ordinary_indicators_are_batched_in_canonical_form(
    sli: RatioSli | LatencySli, counted: bool
) -> None:
    checked = promql.check(sli, FIVE, counted=counted)
    assert checked.batchable
    assert set(checked.parts) == ({Part.ERRORS, Part.TOTAL} if counted else {Part.RATIO})
    for text in checked.parts.values():
        assert "[5m]" in text
        assert promql.canonical(promql.parse(text, "again")) == text, "a fixed point"


def test_text_the_parser_cannot_print_back_is_measured_alone() -> None:
    # promql-parser prints string values unescaped: x{a="q\"b"} would print as x{a="q"b"}.
    checked = promql.check(ratio('rate(x{a="q\\"b"}[{{window}}])'), FIVE, counted=True)
    assert not checked.batchable
    assert checked.parts[Part.ERRORS] == 'sum(rate(x{a="q\\"b"}[5m]))', "sent as written"


def test_comments_and_layout_do_not_reach_the_batch() -> None:
    checked = promql.check(
        ratio('sum(\n  rate(x{job="a"}[{{window}}])  # the errors\n)'), FIVE, counted=False
    )
    assert checked.batchable
    assert "#" not in checked.parts[Part.RATIO]
    assert "\n" not in checked.parts[Part.RATIO]


def plan_for(**slis: RatioSli) -> tuple[dict[str, str], str]:
    parts = {slo: promql.check(sli, FIVE, counted=True).parts for slo, sli in slis.items()}
    plan = batch_plan(parts, {}, FIVE)
    return plan.expressions, plan.query


def test_a_planned_batch_parses_back_to_exactly_its_leaves() -> None:
    expressions, query = plan_for(
        **{f"s{i}": ratio(f'rate(e{{job="{i}"}}[{{{{window}}}}])') for i in range(9)}
    )
    assert promql.batch_leaves(query) == expressions


FORGED = [
    # A batch whose text does not parse back to one tagged leaf per term is never sent.
    'label_replace(a, "__incident_operator_term", "e0", "", "") or vector(1)',
    'label_replace(a, "__incident_operator_term", "e0", "", "") or '
    'label_replace(b, "__incident_operator_term", "e0", "", "")',
    'label_replace(a, "other", "e0", "", "")',
    'label_replace(a, "__incident_operator_term", "e0", "job", "(.*)")',
    'label_replace(a, "__incident_operator_term", "e0", "", "") or on() '
    'label_replace(b, "__incident_operator_term", "e1", "", "")',
    'label_replace(a, "__incident_operator_term", "e0", "", "") and '
    'label_replace(b, "__incident_operator_term", "e1", "", "")',
    "sum(",
]


@pytest.mark.parametrize("query", FORGED)
def test_batches_that_are_not_a_plain_tree_of_tagged_leaves_are_refused(query: str) -> None:
    assert promql.batch_leaves(query) is None
