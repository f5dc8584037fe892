"""Generated rules under the real promtool: they load, they fire, they agree with the domain.

`promtool check rules` validates every generated file; `promtool test rules` evaluates them
over designed input series (the simulator's piecewise-constant traces written as counters).
The equivalence test derives the expected alerts from `burn.evaluate` on the same traces' exact
window ratios, so promtool passing means Prometheus and the operator reach the same verdicts.
Both Prometheus 2.42's promtool and Prometheus 3's evaluate them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.slo_rules import load_slo
from incident_operator.domain.burn import Measurement, evaluate
from incident_operator.domain.durations import format_duration
from incident_operator.domain.simulation import Trace, TraceRow
from incident_operator.domain.slo import Objective
from tests.kube import REPO
from tests.services.binaries import PROMETHEUS_3, cached_binary
from tests.services.prometheus import Backend

MINUTE, DAY = 60, 86400
SERVICE = "shop"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(Backend.PROMETHEUS_2, id="prometheus-2"),
        pytest.param(Backend.PROMETHEUS_3, id="prometheus-3", marks=pytest.mark.matrix),
    ],
)
def promtool(request: pytest.FixtureRequest) -> str:
    """Debian's promtool (Prometheus 2.42), and Prometheus 3's built from its module."""
    if request.param is Backend.PROMETHEUS_3:
        return cached_binary("prometheus", PROMETHEUS_3, "promtool")
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make deps` (Debian's prometheus package)")
    return path


def generate(manifest: Path, *argv: str) -> str:
    """What `kubectl-incident slo rules` prints (run in-process, same code path)."""
    args = build_parser().parse_args(["slo", "rules", str(manifest), *argv])
    out = io.StringIO()
    assert args.run(args, out=out) == 0
    return out.getvalue()


def run_promtool(promtool: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


# --- promtool check rules -----------------------------------------------------------------

CHECKED = """\
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: sloth-recorded}
spec:
  service: shop
  target: 99.9
  indicator: {recorded: {provider: sloth, name: shop-legacy}}
---
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: pyrra-recorded}
spec:
  service: shop
  target: 99.5
  window: 28d
  indicator: {recorded: {provider: pyrra, name: shop-pyrra}}
---
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: custom}
spec:
  service: shop
  target: 99.5
  window: 7d
  indicator:
    latency: {metric: http_request_duration_seconds, threshold: 0.25, selector: job="shop"}
  alerting:
    minRequests: 1000
    windows:
      - {long: 2h, short: 10m, factor: 5, severity: sev-1}
      - {long: 7d, short: 24h, factor: 1, severity: sev-4}
"""


@pytest.mark.parametrize(
    ("source", "name", "extra"),
    [
        ("examples", "checkout-availability", []),
        ("examples", "checkout-latency", ["--label", "team=payments"]),
        ("checked", "sloth-recorded", []),
        ("checked", "pyrra-recorded", []),
        ("checked", "custom", []),
        ("checked", "custom", ["--prometheus-rule"]),
    ],
)
def test_generated_rules_pass_promtool_check(
    promtool: str, tmp_path: Path, source: str, name: str, extra: list[str]
) -> None:
    manifest = REPO / "examples" / "30-slo.yaml"
    if source == "checked":
        manifest = tmp_path / "slos.yaml"
        manifest.write_text(CHECKED)
    document = yaml.safe_load(generate(manifest, "--name", name, *extra))
    if "--prometheus-rule" in extra:
        assert document["kind"] == "PrometheusRule"
        document = document["spec"]  # what prometheus-operator hands to Prometheus
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(document, sort_keys=False))
    count = sum(len(g["rules"]) for g in document["groups"])
    out = run_promtool(promtool, "check", "rules", str(rules), cwd=tmp_path)
    assert f"SUCCESS: {count} rules found" in out


# --- a small hand-written promtool test ---------------------------------------------------

SMALL_SLOS = """\
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: outage}
spec:
  service: shop
  target: 99.9
  indicator:
    ratio:
      errors: rate(http_requests_total{job="outage",code="500"}[{{window}}])
      total: rate(http_requests_total{job="outage"}[{{window}}])
---
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: healthy}
spec:
  service: shop
  target: 99.9
  indicator:
    ratio:
      errors: rate(http_requests_total{job="healthy",code="500"}[{{window}}])
      total: rate(http_requests_total{job="healthy"}[{{window}}])
"""

SMALL_TEST = """\
rule_files: [outage.yaml, healthy.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # 10 requests/s, every one fails.
      - {series: 'http_requests_total{job="outage",code="500"}', values: '0+600x10'}
      # 10 requests/s, none fails.
      - {series: 'http_requests_total{job="healthy",code="200"}', values: '0+600x10'}
      - {series: 'http_requests_total{job="healthy",code="500"}', values: '0x10'}
    alert_rule_test:
      - eval_time: 0m   # one sample: no rate yet, no alert
        alertname: SLOErrorBudgetBurn
        exp_alerts: []
      - eval_time: 10m  # 100 % errors in every window: every pair fires, the page pair first
        alertname: SLOErrorBudgetBurn
        exp_alerts:
          - exp_labels: {sloth_severity: page,
                         severity: sev-2, window_pair: 1h/5m, <<outage-labels>>}
            exp_annotations:
              title: (page) shop outage SLO error budget burn rate is too fast.
              summary: >-
                shop outage SLO error budget burns over 14.4x the sustainable rate in both
                the 1h and the 5m window.
          - exp_labels: {sloth_severity: page,
                         severity: sev-2, window_pair: 6h/30m, <<outage-labels>>}
            exp_annotations:
              title: (page) shop outage SLO error budget burn rate is too fast.
              summary: >-
                shop outage SLO error budget burns over 6x the sustainable rate in both
                the 6h and the 30m window.
          - exp_labels: {sloth_severity: ticket,
                         severity: sev-3, window_pair: 1d/2h, <<outage-labels>>}
            exp_annotations:
              title: (ticket) shop outage SLO error budget burn rate is too fast.
              summary: >-
                shop outage SLO error budget burns over 3x the sustainable rate in both
                the 1d and the 2h window.
          - exp_labels: {sloth_severity: ticket,
                         severity: sev-4, window_pair: 3d/6h, <<outage-labels>>}
            exp_annotations:
              title: (ticket) shop outage SLO error budget burn rate is too fast.
              summary: >-
                shop outage SLO error budget burns over 1x the sustainable rate in both
                the 3d and the 6h window.
    promql_expr_test:
      - expr: slo:current_burn_rate:ratio
        eval_time: 10m
        exp_samples:
          # 100 % errors at a 99.9 % target burns 1000x; the healthy service 0x.
          - labels: 'slo:current_burn_rate:ratio{sloth_window="5m", <<outage>>}'
            value: 1000
          - labels: 'slo:current_burn_rate:ratio{sloth_window="5m", <<healthy>>}'
            value: 0
      - expr: slo:error_budget:ratio{sloth_slo="healthy"}
        eval_time: 10m
        exp_samples:
          - {labels: 'slo:error_budget:ratio{<<healthy>>}', value: 0.001}
"""


def identity(name: str) -> dict[str, str]:
    return {"sloth_id": f"{SERVICE}-{name}", "sloth_service": SERVICE, "sloth_slo": name}


def matchers(labels: dict[str, str]) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in labels.items())


def test_page_alert_fires_for_an_outage_and_not_for_a_healthy_service(
    promtool: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "slos.yaml"
    manifest.write_text(SMALL_SLOS)
    for name in ("outage", "healthy"):
        (tmp_path / f"{name}.yaml").write_text(generate(manifest, "--name", name))
    test = (
        SMALL_TEST.replace("<<outage>>", matchers(identity("outage")))
        .replace("<<healthy>>", matchers(identity("healthy")))
        .replace(
            "<<outage-labels>>", "sloth_id: shop-outage, sloth_service: shop, sloth_slo: outage"
        )
    )
    (tmp_path / "test.yaml").write_text(test)
    out = run_promtool(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert "SUCCESS" in out


# --- SLONoData: the exported twin of the operator's Blind condition -----------------------

BLIND_SLO = """\
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: NAME}
spec:
  service: shop
  target: 99.9
  alerting: {noDataAfter: 7m}
  indicator:
    ratio:
      errors: rate(http_requests_total{job="NAME",code="500"}[{{window}}])
      total: rate(http_requests_total{job="NAME"}[{{window}}])
"""
BLIND_SLOS = "---\n".join(BLIND_SLO.replace("NAME", n) for n in ("vanished", "idle", "steady"))


def test_no_data_alert_fires_after_no_data_after_when_series_vanish_or_traffic_stops(
    promtool: str, tmp_path: Path
) -> None:
    """10 requests/s for ten minutes; then ``vanished`` loses its series and ``idle`` keeps
    them flat (0/0 = NaN); ``steady`` goes on. The 5m window is empty from minute 16, so the
    alert is pending from then and fires 7 minutes later, for the first two only."""
    manifest = tmp_path / "slos.yaml"
    manifest.write_text(BLIND_SLOS)
    rules: dict[str, dict[str, Any]] = {}
    for name in ("vanished", "idle", "steady"):
        text = generate(manifest, "--name", name)
        (tmp_path / f"{name}.yaml").write_text(text)
        (rules[name],) = [
            r for r in yaml.safe_load(text)["groups"][-1]["rules"] if r["alert"] == "SLONoData"
        ]
        assert rules[name]["for"] == "7m"
    series = [
        {"series": 'http_requests_total{job="vanished",code="200"}', "values": "0+600x10 _x30"},
        {"series": 'http_requests_total{job="vanished",code="500"}', "values": "0x10 _x30"},
        {"series": 'http_requests_total{job="idle",code="200"}', "values": "0+600x10 6000x30"},
        {"series": 'http_requests_total{job="idle",code="500"}', "values": "0x40"},
        {"series": 'http_requests_total{job="steady",code="200"}', "values": "0+600x40"},
        {"series": 'http_requests_total{job="steady",code="500"}', "values": "0x40"},
    ]

    def alerts(*names: str) -> list[dict[str, Any]]:
        return [
            {"exp_labels": rules[n]["labels"], "exp_annotations": rules[n]["annotations"]}
            for n in names
        ]

    test = {
        "rule_files": ["vanished.yaml", "idle.yaml", "steady.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": f"{minute}m", "alertname": "SLONoData", "exp_alerts": expected}
                    for minute, expected in (
                        (10, []),  # every window has data
                        (20, []),  # 5m empty since minute 16: pending, not yet for 7m
                        (24, alerts("vanished", "idle")),
                        (40, alerts("vanished", "idle")),
                    )
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    out = run_promtool(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert "SUCCESS" in out


# --- equivalence with the domain ----------------------------------------------------------

END_MINUTES = 3 * 1440 + 30
"""Three days of history (the longest alert window), then half an hour more."""
EVAL_MINUTES = (3 * 1440, 3 * 1440 + 15, 3 * 1440 + 30)
OUTAGE_AT = 3 * 1440 + 14
"""The outage starts one minute before the second evaluation."""
PAGE, SLOW, TICKET, LATE = "1h/5m", "6h/30m", "1d/2h", "3d/6h"


@dataclass(frozen=True)
class Job:
    """One SLO over one service's traffic (counters) or over recorded ratios (gauges)."""

    name: str
    spec: str
    """The manifest's spec (indicator, target, alerting) as YAML."""
    rows: tuple[tuple[int, float, float], ...] = ()
    """(start minute, requests/s, errors/s): a piecewise-constant trace from minute 0."""
    latency: bool = False
    """Write the trace as a histogram (_count and the le bucket) instead of status codes."""
    gauges: tuple[tuple[str, float], ...] = ()
    """Recorded error ratios by window, as Sloth or Pyrra would have written them."""
    expected: tuple[frozenset[str], ...] = ()
    """Firing pairs at each of EVAL_MINUTES, worked out by hand from the Workbook table."""

    def trace(self) -> Trace:
        return Trace(tuple(TraceRow(m * MINUTE, total, errors) for m, total, errors in self.rows))


def ratio(job: str) -> str:
    return textwrap.dedent(f"""\
        indicator:
          ratio:
            errors: rate(http_requests_total{{job="{job}",code="500"}}[{{{{window}}}}])
            total: rate(http_requests_total{{job="{job}"}}[{{{{window}}}}])
        """)


def always(*pairs: str) -> tuple[frozenset[str], ...]:
    return (frozenset(pairs),) * len(EVAL_MINUTES)


JOBS = (
    Job("healthy", "target: 99.9\n" + ratio("healthy"), ((0, 10, 0),), expected=always()),
    # Three healthy days, then every request fails: after one minute only the page pair has
    # seen enough (1/60 of its hour > 14.4 x 0.1 %); after 16 minutes every pair fires.
    Job(
        "outage",
        "target: 99.9\n" + ratio("outage"),
        ((0, 10, 0), (OUTAGE_AT, 10, 10)),
        expected=(frozenset(), frozenset({PAGE}), frozenset({PAGE, SLOW, TICKET, LATE})),
    ),
    # 0.2 % errors: 2x burn, only the 1x (3d/6h) pair.
    Job(
        "slow-burn", "target: 99.9\n" + ratio("slow-burn"), ((0, 10, 0.02),), expected=always(LATE)
    ),
    # One request a minute, all failing: the hour saw 60 < 100 requests, six hours saw 360.
    Job(
        "low-traffic",
        "target: 99.9\nalerting: {minRequests: 100}\n" + ratio("low-traffic"),
        ((0, 1 / 60, 1 / 60),),
        expected=always(SLOW, TICKET, LATE),
    ),
    # 5 % of requests slower than 300 ms at a 99 % target: 5x burn fires 3x and 1x.
    Job(
        "latency",
        textwrap.dedent("""\
            target: 99
            indicator:
              latency:
                metric: http_request_duration_seconds
                threshold: 0.3
                selector: job="latency"
            """),
        ((0, 20, 1),),
        latency=True,
        expected=always(TICKET, LATE),
    ),
    # Custom pairs, one on the SLO window itself (recorded from raw PromQL, not the 10m mean).
    Job(
        "custom",
        "target: 99.5\nwindow: 7d\n"
        + ratio("custom")
        + textwrap.dedent("""\
            alerting:
              windows:
                - {long: 2h, short: 10m, factor: 5, severity: sev-1}
                - {long: 7d, short: 1d, factor: 1, severity: sev-4}
                - {long: 6h, short: 30m, factor: 7, severity: sev-2}
            """),
        ((0, 10, 0.3),),
        expected=always("2h/10m", "7d/1d"),
    ),
    Job(
        "sloth",
        "target: 99.9\nindicator: {recorded: {provider: sloth, name: shop-legacy}}\n",
        gauges=(("5m", 0.5), ("1h", 0.02), ("30m", 0.5), ("6h", 0.001)),
        expected=always(PAGE),
    ),
    Job(
        "pyrra",
        # 28d: Pyrra's own pairs (14x 1h/5m, 7x 6h/30m, 2x 1d/2h, 1x 4d/6h), its series names.
        "target: 99.9\nwindow: 28d\nindicator: {recorded: {provider: pyrra, name: shop-pyrra}}\n",
        gauges=(("5m", 0.01), ("1h", 0.5), ("30m", 0.1), ("6h", 0.1), ("2h", 0.004), ("1d", 0.004)),
        expected=always(TICKET, SLOW),
    ),
)


def manifest_text() -> str:
    return "---\n".join(
        "apiVersion: sre.dev/v1alpha1\nkind: ServiceLevelObjective\n"
        f"metadata: {{name: {job.name}}}\nspec:\n  service: {SERVICE}\n"
        + textwrap.indent(job.spec, "  ")
        for job in JOBS
    )


def input_series(job: Job) -> list[dict[str, str]]:
    if job.gauges:
        name = {"sloth": "slo:sli_error:ratio_rate{}", "pyrra": "http_requests:burnrate{}"}
        label = {"sloth": 'sloth_id="shop-legacy"', "pyrra": 'slo="shop-pyrra"'}
        return [
            {
                "series": f"{name[job.name].format(window)}{{{label[job.name]}}}",
                "values": f"{value!r}x{END_MINUTES}",
            }
            for window, value in job.gauges
        ]
    trace = job.trace()
    counts = [trace.integral(m * MINUTE) for m in range(END_MINUTES + 1)]
    errors = " ".join(repr(e) for _, e in counts)
    good = " ".join(repr(t - e) for t, e in counts)
    total = " ".join(repr(t) for t, _ in counts)
    if job.latency:
        metric = "http_request_duration_seconds"
        return [
            {"series": f'{metric}_count{{job="{job.name}"}}', "values": total},
            {"series": f'{metric}_bucket{{job="{job.name}",le="0.3"}}', "values": good},
        ]
    return [
        {"series": f'http_requests_total{{job="{job.name}",code="200"}}', "values": good},
        {"series": f'http_requests_total{{job="{job.name}",code="500"}}', "values": errors},
    ]


def measurements(
    job: Job, objective: Objective, minute: int
) -> dict[timedelta, Measurement | None]:
    """What the operator would measure at ``minute``: exact window integrals of the trace."""
    if job.gauges:
        recorded = dict(job.gauges)
        return {
            w: Measurement(recorded[format_duration(w)])
            for w in objective.windows
            if format_duration(w) in recorded
        }
    trace, end = job.trace(), minute * MINUTE
    return {w: trace.measure(end - w.total_seconds(), end) for w in objective.windows}


def firing_pairs(job: Job, objective: Objective, minute: int) -> frozenset[str]:
    verdict = evaluate(objective, measurements(job, objective, minute))
    return frozenset(f"{s.pair.long_text}/{s.pair.short_text}" for s in verdict.pairs if s.firing)


def expected_alert(rule: dict[str, Any]) -> dict[str, Any]:
    """The alert promtool should report for ``rule``: exactly its labels (no ``sloth_window``
    left over from the recorded series, as with Sloth's own alerts) and its annotations."""
    return {"exp_labels": dict(rule["labels"]), "exp_annotations": rule["annotations"]}


def test_alerts_fire_exactly_when_the_domain_says_so(promtool: str, tmp_path: Path) -> None:
    manifest = tmp_path / "slos.yaml"
    manifest.write_text(manifest_text())
    objectives: dict[str, Objective] = {}
    alert_rules: dict[str, list[dict[str, Any]]] = {}
    for job in JOBS:
        text = generate(manifest, "--name", job.name)
        (tmp_path / f"{job.name}.yaml").write_text(text)
        groups = yaml.safe_load(text)["groups"]
        alert_rules[job.name] = [
            r for r in groups[-1]["rules"] if r["alert"] == "SLOErrorBudgetBurn"
        ]
        objectives[job.name] = load_slo(manifest, job.name).spec.to_domain()

    # The domain's verdicts are the hand-worked ones: the scenarios test what they claim.
    verdicts = {
        (job.name, minute): firing_pairs(job, objectives[job.name], minute)
        for job in JOBS
        for minute in EVAL_MINUTES
    }
    assert verdicts == {
        (job.name, minute): job.expected[i] for job in JOBS for i, minute in enumerate(EVAL_MINUTES)
    }

    alert_tests = []
    for minute in EVAL_MINUTES:
        expected = [
            expected_alert(rule)
            for job in JOBS
            for rule in alert_rules[job.name]
            if rule["labels"]["window_pair"] in verdicts[(job.name, minute)]
        ]
        alert_tests.append(
            {"eval_time": f"{minute}m", "alertname": "SLOErrorBudgetBurn", "exp_alerts": expected}
        )
    outage = identity("outage")
    test = {
        "rule_files": [f"{job.name}.yaml" for job in JOBS],
        "evaluation_interval": "15m",
        # Prometheus evaluates groups independently, each within the 5m lookback of the
        # other at its default 1m interval; at 15m steps the recordings must come first.
        "group_eval_order": [
            f"sloth-slo-{kind}-{SERVICE}-{job.name}"
            for job in JOBS
            if not job.gauges
            for kind in ("sli-recordings", "meta-recordings", "alerts")
        ],
        "tests": [
            {
                "interval": "1m",
                "input_series": [s for job in JOBS for s in input_series(job)],
                "alert_rule_test": alert_tests,
                "promql_expr_test": [
                    {
                        "expr": 'slo:period_error_budget_remaining:ratio{sloth_slo="healthy"}',
                        "eval_time": f"{EVAL_MINUTES[0]}m",
                        "exp_samples": [
                            {
                                "labels": "slo:period_error_budget_remaining:ratio"
                                f'{{{matchers(identity("healthy"))}, sloth_window="30d"}}',
                                "value": 1,
                            }
                        ],
                    },
                    {
                        "expr": 'slo:sli_error:ratio_rate5m{sloth_slo="outage"}',
                        "eval_time": f"{EVAL_MINUTES[2]}m",
                        "exp_samples": [
                            {
                                "labels": "slo:sli_error:ratio_rate5m"
                                f'{{{matchers(outage)}, sloth_window="5m"}}',
                                "value": 1,
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False, width=1 << 20))
    out = run_promtool(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert "SUCCESS" in out
