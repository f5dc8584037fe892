"""Prometheus rules from an SLO: Sloth's names, our policy's thresholds, the CLI around them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.cli.kubectl_plugin import main
from incident_operator.domain.rules import (
    ALERT_NAME,
    NO_DATA_ALERT_NAME,
    SloIdentity,
    alert_expression,
    rule_groups,
    sli_error_metric,
)
from incident_operator.domain.sli import (
    LatencySli,
    Part,
    Provider,
    RatioSli,
    RecordedSli,
    Sli,
    le_matcher,
    le_spellings,
    ratio_expression,
)
from incident_operator.domain.slo import WORKBOOK_PAIRS, Objective, WindowPair
from tests.kube import REPO

D = timedelta(days=1)
WHO = SloIdentity(service="checkout", name="availability")
ID = "checkout-availability"
SELECTOR = '{sloth_id="checkout-availability", sloth_service="checkout", sloth_slo="availability"}'
SLO = Objective(target=0.999, window=30 * D)
RATIO = RatioSli(
    errors='rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}])',
    total='rate(http_requests_total{job="checkout"}[{{window}}])',
)
IDENTITY_LABELS = {"sloth_id": ID, "sloth_service": "checkout", "sloth_slo": "availability"}


def groups_by_name(groups: list[Any]) -> dict[str, list[dict[str, Any]]]:
    return {g["name"]: g["rules"] for g in groups}


def alerts_of(groups: list[Any]) -> list[dict[str, Any]]:
    """The burn-rate alerts, one per pair."""
    return [r for r in groups_by_name(groups)[f"sloth-slo-alerts-{ID}"] if r["alert"] == ALERT_NAME]


def no_data_alert(groups: list[Any]) -> dict[str, Any]:
    (rule,) = [
        r
        for r in groups_by_name(groups)[f"sloth-slo-alerts-{ID}"]
        if r["alert"] == NO_DATA_ALERT_NAME
    ]
    return rule


def test_workbook_policy_gets_sloths_three_groups() -> None:
    groups = rule_groups(WHO, SLO, RATIO)
    assert [g["name"] for g in groups] == [
        f"sloth-slo-sli-recordings-{ID}",
        f"sloth-slo-meta-recordings-{ID}",
        f"sloth-slo-alerts-{ID}",
    ]


def test_one_sli_recording_per_window_the_policy_needs() -> None:
    sli_rules = groups_by_name(rule_groups(WHO, SLO, RATIO))[f"sloth-slo-sli-recordings-{ID}"]
    assert [r["record"] for r in sli_rules] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    five = sli_rules[0]
    assert five["labels"] == {**IDENTITY_LABELS, "sloth_window": "5m"}
    # The PromQL the operator itself queries for that window.
    assert five["expr"] == (
        '(sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m]))) / '
        '(sum(rate(http_requests_total{job="checkout"}[5m])))'
    )
    # The SLO window is Sloth's optimised mean of the 5m recordings, labelled as Sloth does.
    thirty = sli_rules[-1]
    assert thirty["labels"] == {**IDENTITY_LABELS, "sloth_window": "30d"}
    assert thirty["expr"] == (
        f"sum_over_time(slo:sli_error:ratio_rate5m{SELECTOR}[30d])\n"
        "/ ignoring (sloth_window)\n"
        f"count_over_time(slo:sli_error:ratio_rate5m{SELECTOR}[30d])\n"
    )


def test_metadata_recordings_carry_the_exact_objective_and_budget() -> None:
    meta = groups_by_name(rule_groups(WHO, SLO, RATIO))[f"sloth-slo-meta-recordings-{ID}"]
    by_name = {r["record"]: r for r in meta}
    assert list(by_name) == [
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    ]
    assert by_name["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert by_name["slo:error_budget:ratio"]["expr"] == "vector(0.001)", "not 1-0.999 in floats"
    assert by_name["slo:time_period:days"]["expr"] == "vector(30)"
    assert by_name["slo:current_burn_rate:ratio"]["expr"] == (
        f"slo:sli_error:ratio_rate5m{SELECTOR}\n"
        "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"slo:error_budget:ratio{SELECTOR}\n"
    )
    assert by_name["slo:period_burn_rate:ratio"]["expr"].startswith(
        f"slo:sli_error:ratio_rate30d{SELECTOR}\n"
    )
    assert by_name["slo:period_error_budget_remaining:ratio"]["expr"] == (
        f"1 - slo:period_burn_rate:ratio{SELECTOR}"
    )
    assert all(r["labels"].items() >= IDENTITY_LABELS.items() for r in meta)
    assert by_name["sloth_slo_info"]["labels"]["sloth_objective"] == "99.9"


def test_one_alert_per_workbook_pair_with_its_severity() -> None:
    alerts = alerts_of(rule_groups(WHO, SLO, RATIO))
    assert [(a["labels"]["window_pair"], a["labels"]["severity"]) for a in alerts] == [
        ("1h/5m", "sev-2"),
        ("6h/30m", "sev-2"),
        ("1d/2h", "sev-3"),
        ("3d/6h", "sev-4"),
    ]
    assert {a["alert"] for a in alerts} == {"SLOErrorBudgetBurn"}
    assert all(a["labels"].items() >= IDENTITY_LABELS.items() for a in alerts)
    assert "for" not in alerts[0], "the short window already confirms the burn, as in the domain"
    assert alerts[0]["expr"] == (
        "(\n"
        f"  max(slo:sli_error:ratio_rate5m{SELECTOR} > (14.4 * 0.001)) without (sloth_window)\n"
        "  and\n"
        f"  max(slo:sli_error:ratio_rate1h{SELECTOR} > (14.4 * 0.001)) without (sloth_window)\n"
        ")\n"
    )
    assert [a["labels"]["sloth_severity"] for a in alerts] == ["page", "page", "ticket", "ticket"]
    assert "(6 * 0.001)" in alerts[1]["expr"]
    assert "ratio_rate30m" in alerts[1]["expr"]
    assert "ratio_rate6h" in alerts[1]["expr"]
    assert alerts[0]["annotations"] == {
        "title": "(page) checkout availability SLO error budget burn rate is too fast.",
        "summary": "checkout availability SLO error budget burns over 14.4x the sustainable "
        "rate in both the 1h and the 5m window.",
    }


def test_custom_pairs_and_a_pair_on_the_slo_window() -> None:
    objective = Objective(
        target=0.995,
        window=28 * D,
        pairs=(
            WindowPair.of("2h", "10m", 10, "sev-1"),
            WindowPair.of("28d", "24h", 1, "sev-4"),
        ),
    )
    groups = groups_by_name(rule_groups(WHO, objective, RATIO))
    records = groups[f"sloth-slo-sli-recordings-{ID}"]
    assert [r["record"] for r in records] == [
        sli_error_metric(w) for w in (timedelta(minutes=10), timedelta(hours=2), D, 28 * D)
    ]
    assert [r["record"] for r in records][-1] == "slo:sli_error:ratio_rate4w"
    # A pair alerts on the SLO window, so it is measured exactly, not as a mean of 10m ratios.
    assert records[-1]["expr"] == ratio_expression(RATIO, 28 * D)
    assert records[-1]["labels"]["sloth_id"] == ID
    alerts = [a for a in groups[f"sloth-slo-alerts-{ID}"] if a["alert"] == ALERT_NAME]
    assert [(a["labels"]["window_pair"], a["labels"]["severity"]) for a in alerts] == [
        ("2h/10m", "sev-1"),
        ("28d/24h", "sev-4"),
    ], "the window_pair label keeps the manifest's spelling"
    assert "(10 * 0.005)" in alerts[0]["expr"]
    assert "slo:sli_error:ratio_rate1d" in alerts[1]["expr"], "24h is the 1d series"
    meta = {r["record"]: r["expr"] for r in groups[f"sloth-slo-meta-recordings-{ID}"]}
    assert meta["slo:time_period:days"] == "vector(28)"
    assert meta["slo:current_burn_rate:ratio"].startswith("slo:sli_error:ratio_rate10m")


def test_thresholds_print_exactly_what_the_domain_compares() -> None:
    objective = Objective(
        target=0.9995, window=30 * D, pairs=(WindowPair.of("1h", "5m", 14.4, "sev-2"),)
    )
    expression = alert_expression(WHO, objective, RATIO, objective.pairs[0])
    assert "(14.4 * 0.0005)" in expression
    assert 14.4 * float("0.0005") == objective.threshold(objective.pairs[0])


def test_min_requests_guards_the_long_window_request_count() -> None:
    guarded = Objective(target=0.999, window=30 * D, min_requests=100)
    alerts = alerts_of(rule_groups(WHO, guarded, RATIO))
    assert alerts[0]["expr"].endswith(
        'and on ()\n(sum(rate(http_requests_total{job="checkout"}[1h])) * 3600 >= 100)\n'
    )
    assert "[3d])) * 259200 >= 100)\n" in alerts[3]["expr"]
    unguarded = alerts_of(rule_groups(WHO, SLO, RATIO))
    assert not any("and on ()" in a["expr"] for a in unguarded)


@pytest.mark.parametrize(
    ("bound", "spellings", "matcher"),
    [
        (0.25, ("0.25",), 'le="0.25"'),
        (1.0, ("1", "1.0"), 'le=~"1|1[.]0"'),
        (60, ("60", "60.0"), 'le=~"60|60[.]0"'),
        # Go's %g (Prometheus 3's normal form) turns to e-notation from 1e6 on.
        (1e6, ("1000000.0", "1e+06"), 'le=~"1000000[.]0|1e[+]06"'),
        (1e-05, ("1e-05",), 'le="1e-05"'),
        (0.1234567, ("0.1234567",), 'le="0.1234567"'),  # all digits, not %g's six
    ],
)
def test_bucket_boundaries_match_every_spelling_exporters_and_prometheus_3_use(
    bound: float, spellings: tuple[str, ...], matcher: str
) -> None:
    assert le_spellings(bound) == spellings
    assert le_matcher(bound) == matcher


def test_whole_number_latency_threshold_matches_prometheus_2_and_3_labels() -> None:
    expr = LatencySli("h", 1, 'job="a"').expressions(timedelta(minutes=5))[Part.ERRORS]
    assert 'h_bucket{job="a",le=~"1|1[.]0"}[5m]' in expr


def test_latency_sli_records_slow_over_all_requests() -> None:
    sli = LatencySli("http_request_duration_seconds", 0.3, 'job="checkout"')
    guarded = Objective(target=0.99, window=28 * D, min_requests=50)
    groups = groups_by_name(rule_groups(WHO, guarded, sli))
    five = groups[f"sloth-slo-sli-recordings-{ID}"][0]
    assert five["expr"] == (
        '((sum(rate(http_request_duration_seconds_count{job="checkout"}[5m])) - '
        'sum(rate(http_request_duration_seconds_bucket{job="checkout",le="0.3"}[5m])))) / '
        '(sum(rate(http_request_duration_seconds_count{job="checkout"}[5m])))'
    )
    page = groups[f"sloth-slo-alerts-{ID}"][0]["expr"]
    assert "(14.4 * 0.01)" in page
    assert (
        '(sum(rate(http_request_duration_seconds_count{job="checkout"}[1h])) * 3600 >= 50)' in page
    )


@pytest.mark.parametrize(
    ("sli", "short", "long"),
    [
        (
            RecordedSli(Provider.SLOTH, "checkout-sloth"),
            'max(slo:sli_error:ratio_rate5m{sloth_id="checkout-sloth"})',
            'max(slo:sli_error:ratio_rate1h{sloth_id="checkout-sloth"})',
        ),
        (
            RecordedSli(Provider.PYRRA, "checkout-pyrra"),
            'max({__name__=~".+:burnrate5m",slo="checkout-pyrra"})',
            'max({__name__=~".+:burnrate1h",slo="checkout-pyrra"})',
        ),
    ],
)
def test_recorded_sli_gets_alerts_over_the_existing_series_only(
    sli: RecordedSli, short: str, long: str
) -> None:
    groups = rule_groups(WHO, SLO, sli)
    assert [g["name"] for g in groups] == [f"sloth-slo-alerts-{ID}"]
    page = alerts_of(groups)[0]
    assert page["expr"] == (
        f"(\n  ({short} > (14.4 * 0.001))\n  and on ()\n  ({long} > (14.4 * 0.001))\n)\n"
    )
    # max() keeps no labels, so the SLO's identity comes from the rule.
    assert page["labels"] == {
        **IDENTITY_LABELS,
        "sloth_severity": "page",
        "severity": "sev-2",
        "window_pair": "1h/5m",
    }


@pytest.mark.parametrize(
    ("sli", "five_minutes"),
    [
        (RATIO, f"slo:sli_error:ratio_rate5m{SELECTOR}"),
        (
            RecordedSli(Provider.SLOTH, "legacy"),
            'max(slo:sli_error:ratio_rate5m{sloth_id="legacy"})',
        ),
        (
            RecordedSli(Provider.PYRRA, "p"),
            'max({__name__=~".+:burnrate5m",slo="p"})',
        ),
    ],
)
def test_no_data_alert_covers_every_pair_window_absent_or_nan(sli: Sli, five_minutes: str) -> None:
    groups = rule_groups(WHO, SLO, sli, {"team": "payments"}, no_data_after=timedelta(minutes=7))
    rule = no_data_alert(groups)
    assert rule["for"] == "7m"
    assert rule["labels"] == {**IDENTITY_LABELS, "team": "payments", "severity": "sev-4"}
    assert f"absent({five_minutes})\n  or ({five_minutes} != {five_minutes})" in rule["expr"]
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    assert rule["expr"].count("absent(") == len(windows), "every pair window, not the SLO's 30d"
    assert "30d" not in rule["expr"]
    assert rule["expr"].startswith("count(\n")
    assert rule["expr"].endswith(") > 0\n")


def test_recorded_sli_cannot_take_min_requests() -> None:
    guarded = Objective(target=0.999, window=30 * D, min_requests=10)
    with pytest.raises(ValueError, match="minRequests cannot guard a recorded SLI"):
        rule_groups(WHO, guarded, RecordedSli(Provider.SLOTH, "x"))


def test_extra_labels_reach_every_series_and_alert() -> None:
    groups = rule_groups(WHO, SLO, RATIO, {"team": "payments", "tier": "1"})
    rules = [r for g in groups for r in g["rules"]]
    assert all(r["labels"]["team"] == "payments" and r["labels"]["tier"] == "1" for r in rules), (
        "the 30d mean writes them out as Sloth does, although inherited"
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"sloth_id": "x"}, "label 'sloth_id' is set by the rules themselves"),
        ({"severity": "x"}, "label 'severity' is set by the rules themselves"),
        ({"bad-name": "x"}, "invalid label name 'bad-name'"),
        ({"__name__": "x"}, "invalid label name '__name__'"),
    ],
)
def test_extra_labels_are_checked(labels: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule_groups(WHO, SLO, RATIO, labels)


def test_every_sli_kind_yields_rules_promtool_can_name() -> None:
    slis: list[Sli] = [RATIO, LatencySli("h", 0.5), RecordedSli(Provider.SLOTH, "s")]
    for sli in slis:
        for group in rule_groups(WHO, Objective(0.99, 7 * D, WORKBOOK_PAIRS[:2]), sli):
            for rule in group["rules"]:
                assert isinstance(rule, dict)
                assert set(rule) in (
                    {"record", "expr", "labels"},
                    {"alert", "expr", "labels", "annotations"},
                    {"alert", "expr", "for", "labels", "annotations"},
                )


# --- the CLI -------------------------------------------------------------------------------

SLO_YAML = """\
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: availability, namespace: shop}
spec:
  service: checkout
  target: 99.9
  indicator:
    ratio:
      errors: rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}])
      total: rate(http_requests_total{job="checkout"}[{{window}}])
  alerting:
    minRequests: 100
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(SLO_YAML)
    return path


def test_cli_prints_a_rule_file(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "rules", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Generated by kubectl-incident slo rules from ")
    document = yaml.safe_load(out)
    assert list(document) == ["groups"]
    objective = Objective(target=0.999, window=30 * D, min_requests=100)
    assert document["groups"] == rule_groups(WHO, objective, RATIO)
    assert "expr: |\n" in out, "multi-line PromQL is a block scalar"


def test_cli_json_output(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "rules", str(manifest), "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [g["name"] for g in document["groups"]][-1] == f"sloth-slo-alerts-{ID}"


def test_cli_prometheus_rule(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["slo", "rules", str(manifest), "--prometheus-rule", "--label", "team=payments"]
    assert main(argv) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    assert document["metadata"]["name"] == "sloth-slo-availability"
    assert document["metadata"]["namespace"] == "shop"
    groups = document["spec"]["groups"]
    assert len(groups) == 3
    assert all(a["labels"]["team"] == "payments" for a in groups[2]["rules"])


def test_cli_picks_one_slo_from_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    examples = REPO / "examples" / "30-slo.yaml"
    assert main(["slo", "rules", str(examples), "--name", "checkout-latency"]) == 0
    document = yaml.safe_load(capsys.readouterr().out)
    names = [g["name"] for g in document["groups"]]
    assert names[0] == "sloth-slo-sli-recordings-checkout-checkout-latency"
    records = [r["record"] for r in document["groups"][0]["rules"]]
    assert records[-1] == "slo:sli_error:ratio_rate4w", "28d is four weeks"


def test_cli_slo_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo"]) == 0
    assert "rules" in capsys.readouterr().out


RECORDED_GUARDED = """\
metadata: {name: legacy}
spec:
  service: checkout
  target: 99
  indicator: {recorded: {provider: sloth, name: legacy}}
  alerting: {minRequests: 5}
"""


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("kind: Incident\nspec: {}\n", [], "no ServiceLevelObjective (found Incident)"),
        (SLO_YAML + "---\n" + SLO_YAML, [], "holds 2 ServiceLevelObjectives"),
        (SLO_YAML, ["--name", "other"], "no ServiceLevelObjective named 'other'"),
        ("just text\n", [], "expected a ServiceLevelObjective manifest"),
        ("spec: {service: a, target: 99, indicator: {}}\n", [], "needs metadata.name"),
        (
            "metadata: {name: a}\nspec: {target: 99.9}\n",
            [],
            "spec.service: Field required; spec.indicator: Field required",
        ),
        (
            "metadata: {name: a}\nspec: {service: a, target: 99, indicator: {}}\n",
            [],
            "a: set exactly one of ratio, latency or recorded",
        ),
        (RECORDED_GUARDED, [], "legacy: minRequests cannot guard a recorded SLI"),
        (SLO_YAML, ["--label", "team"], "--label 'team': expected KEY=VALUE"),
        (SLO_YAML, ["--label", "sloth_slo=x"], "label 'sloth_slo' is set by the rules"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    assert main(["slo", "rules", str(path), *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("\n") == 1
    assert captured.out == ""


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo", "rules", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read the manifest" in capsys.readouterr().err
