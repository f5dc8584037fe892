"""One query per window: dedup of identical SLIs, one selector per recording-rule provider."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta

from incident_operator.domain.sli import (
    TERM_LABEL,
    BatchPlan,
    Part,
    Provider,
    RatioSli,
    RecordedSli,
    Sli,
    batch_plan,
    parts_for,
)

FIVE = timedelta(minutes=5)


def plan_of(
    slis: Mapping[str, Sli], window: timedelta, counted: Collection[str] | None = None
) -> BatchPlan:
    return batch_plan(
        {
            slo: parts_for(sli, window, counted is None or slo in counted)
            for slo, sli in slis.items()
            if not isinstance(sli, RecordedSli)
        },
        {slo: sli for slo, sli in slis.items() if isinstance(sli, RecordedSli)},
        window,
    )


def ratio(job: str) -> RatioSli:
    return RatioSli(
        errors=f'rate(e{{job="{job}"}}[{{{{window}}}}])',
        total=f'rate(t{{job="{job}"}}[{{{{window}}}}])',
    )


def test_identical_slis_are_queried_once_and_answer_every_slo() -> None:
    plan = plan_of({"a/fast": ratio("x"), "a/slow": ratio("x"), "b/other": ratio("y")}, FIVE)
    assert plan.query.count("label_replace(") == 4, "two distinct SLIs x two parts"
    assert 'rate(e{job="x"}[5m])' in plan.query
    term = next(t for t, users in plan.terms.items() if ("a/fast", Part.ERRORS) in users)
    assert plan.terms[term] == (("a/fast", Part.ERRORS), ("a/slow", Part.ERRORS))
    decoded = plan.decode([({TERM_LABEL: term}, 0.5)])
    assert decoded == {"a/fast": {Part.ERRORS: 0.5}, "a/slow": {Part.ERRORS: 0.5}}


def test_recorded_slis_cost_one_selector_per_provider() -> None:
    slis = {f"ns/s{i}": RecordedSli(Provider.SLOTH, f"id-{i}") for i in range(100)}
    slis["ns/p"] = RecordedSli(Provider.PYRRA, "pyrra-slo")
    slis["ns/twin"] = RecordedSli(Provider.SLOTH, "id-7")
    plan = plan_of(slis, FIVE)
    assert plan.query.count("label_replace(") == 2
    assert "max by (sloth_id) (slo:sli_error:ratio_rate5m)" in plan.query
    assert 'max by (slo) ({__name__=~".+:burnrate5m"})' in plan.query
    decoded = plan.decode(
        [
            ({TERM_LABEL: "sloth", "sloth_id": "id-7"}, 0.25),
            ({TERM_LABEL: "pyrra", "slo": "pyrra-slo"}, 0.5),
            ({TERM_LABEL: "sloth", "sloth_id": "nobody-asked"}, 1.0),
        ]
    )
    assert decoded == {
        "ns/s7": {Part.RATIO: 0.25},
        "ns/twin": {Part.RATIO: 0.25},
        "ns/p": {Part.RATIO: 0.5},
    }


def test_terms_are_combined_as_a_balanced_tree() -> None:
    plan = plan_of({f"ns/s{i}": ratio(f"j{i}") for i in range(8)}, FIVE)
    # 16 terms: depth log2(16) = 4, so no more than 4 opening parentheses before a term.
    assert plan.query.startswith("((((label_replace(")
    assert plan.query.count(" or ") == 15


def test_empty_plan_is_a_valid_query_with_no_answer() -> None:
    plan = plan_of({}, FIVE)
    assert plan.query == "vector(0) == 1"
    assert plan.decode([]) == {}


def test_uncounted_slos_cost_one_ratio_term() -> None:
    slis = {"a/counted": ratio("x"), "a/ratio-only": ratio("y")}
    plan = plan_of(slis, FIVE, counted={"a/counted"})
    assert plan.query.count("label_replace(") == 3
    assert '(sum(rate(e{job="y"}[5m]))) / (sum(rate(t{job="y"}[5m])))' in plan.query
    users = {u for term in plan.terms.values() for u in term}
    assert users == {
        ("a/counted", Part.ERRORS),
        ("a/counted", Part.TOTAL),
        ("a/ratio-only", Part.RATIO),
    }
