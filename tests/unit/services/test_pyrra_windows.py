"""A Pyrra-recorded SLO alerts on Pyrra's windows and refuses pairs Pyrra does not record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain.durations import format_duration
from incident_operator.domain.sli import TERM_LABEL, Part, Provider, RecordedSli, batch_plan
from incident_operator.domain.slo import pyrra_pairs, pyrra_recorded_windows
from incident_operator.services.slo_records import spec_problem


def body(window: str, windows: str = "", provider: str = "pyrra") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        f"""
        apiVersion: sre.dev/v1alpha1
        kind: ServiceLevelObjective
        metadata: {{name: s, namespace: shop}}
        spec:
          service: api
          target: 99
          window: {window}
          indicator: {{recorded: {{provider: {provider}, name: api-errors}}}}
        """
        + (f"  alerting: {{windows: [{windows}]}}\n" if windows else "")
    )
    return loaded


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("28d", ["5m", "30m", "1h", "2h", "6h", "1d", "4d", "4w"]),
        ("30d", ["5m", "32m", "1h4m", "2h9m", "6h26m", "1d1h43m", "4d6h51m", "30d"]),
    ],
)
def test_pyrra_window_sets(window: str, expected: list[str]) -> None:
    slo = ServiceLevelObjective.model_validate(body(window))
    windows = slo.spec.to_domain().windows
    assert list(windows) == sorted(pyrra_recorded_windows(windows[-1]))
    assert [format_duration(w) for w in windows] == expected


def test_factors_and_severities_follow_pyrra_and_our_table() -> None:
    pairs = pyrra_pairs(timedelta(days=28))
    assert [(p.factor, p.severity) for p in pairs] == [
        (14, "sev-2"),
        (7, "sev-2"),
        (2, "sev-3"),
        (1, "sev-4"),
    ]


def test_a_pair_pyrra_does_not_record_is_refused_on_the_slo() -> None:
    bad = body("28d", "{long: 3d, short: 6h, factor: 1, severity: sev-4}")
    problem = spec_problem(bad)
    assert problem is not None
    assert "3d/6h: Pyrra records no series for 3d on a 28d SLO" in problem
    assert "omit alerting.windows" in problem
    good = body("30d", "{long: 1h4m, short: 5m, factor: 14, severity: sev-2}")
    assert spec_problem(good) is None


def test_sloth_keeps_our_default_pairs() -> None:
    slo = ServiceLevelObjective.model_validate(body("28d", provider="sloth"))
    assert [p.long_text for p in slo.spec.to_domain().pairs] == ["1h", "6h", "1d", "3d"]


def test_the_slo_window_reads_pyrra_availability_in_the_batch() -> None:
    month = timedelta(days=30)
    slis = {
        "a/month": RecordedSli(Provider.PYRRA, "x", month),
        "a/weeks": RecordedSli(Provider.PYRRA, "y", timedelta(days=28)),
    }
    plan = batch_plan({}, slis, month)
    assert "1 - max by (slo) (pyrra_availability)" in plan.query
    assert 'max by (slo) ({__name__=~".+:burnrate30d"})' in plan.query
    decoded = plan.decode(
        [
            ({TERM_LABEL: "pyrra-window", "slo": "x"}, 0.001),
            ({TERM_LABEL: "pyrra", "slo": "y"}, 0.5),
            ({TERM_LABEL: "pyrra", "slo": "x"}, 0.9),  # a burn rate of x's window: not it
        ]
    )
    assert decoded == {"a/month": {Part.RATIO: 0.001}, "a/weeks": {Part.RATIO: 0.5}}
    single = slis["a/month"].expressions(month)[Part.RATIO]
    assert single == '(1 - max(pyrra_availability{slo="x"}))'
