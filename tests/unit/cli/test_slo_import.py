"""`kubectl incident slo import` on Sloth's, Pyrra's and OpenSLO's own example files.

Every upstream example (tests/data/<project>/examples, with their licence notices) either
converts into manifests our model accepts or is refused with the stated reason; the mapping
and the listed losses are checked field by field on the examples that show them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.api.v1alpha1.documents import Source
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.api.v1alpha1.slo_import import (
    Conversion,
    ConversionError,
    convert,
)
from incident_operator.cli.kubectl_plugin import main
from incident_operator.cli.manifests import read_sources
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.slo import pyrra_pairs
from tests.kube import REPO

DATA = REPO / "tests" / "data"
EXAMPLES = sorted(
    p for d in ("sloth", "pyrra", "openslo") for p in (DATA / d / "examples").glob("*.y*ml")
)

REFUSED = {
    # Sloth: SLIs without event counts, or Go plugins Sloth runs itself.
    "plugin-getting-started.yml": "slos[0].sli.plugin: SLI plugin 'getting_started_availability'",
    "plugin-k8s-getting-started.yml": "spec.slos[0].sli.plugin: SLI plugin",
    "raw-home-wifi.yml": "slos[0].sli.raw: a raw error-ratio SLI has no event counts",
    # OpenSLO's examples query "Any" source with the placeholder query "Any".
    "budgeting-method-occurences-slo.yaml": "spec.indicator.spec.thresholdMetric: a threshold",
    "budgeting-method-ratio-timeslices.yaml": "metricSource.type: Any: only Prometheus",
    "budgeting-method-timeslices-slo.yaml": "metricSource.type: Any: only Prometheus",
    "treat-low-traffic-as-equally-important-timeslices-slo.yaml": "type: Any: only Prometheus",
}


def convert_file(path: Path, **kwargs: Any) -> Conversion:
    return convert(read_sources([path]), **kwargs)


def test_the_corpus_holds_every_project() -> None:
    names = {p.parent.parent.name for p in EXAMPLES}
    assert names == {"sloth", "pyrra", "openslo"}
    assert len(EXAMPLES) >= 30
    assert set(REFUSED) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_example_converts_or_is_refused_with_the_reason(path: Path) -> None:
    if path.name in REFUSED:
        with pytest.raises(ConversionError) as refused:
            convert_file(path)
        assert REFUSED[path.name] in str(refused.value)
        assert str(path) in str(refused.value)  # names the document
        return
    result = convert_file(path)
    sources = [s for s in read_sources([path]) if s.document.get("kind") != "SLI"]
    assert len(result.manifests) >= len(sources)
    for manifest in result.manifests:
        slo = ServiceLevelObjective.model_validate(manifest)
        slo.spec.to_domain()  # the policy the engine runs (Pyrra pairs etc.) is valid too
        assert manifest["apiVersion"] == "sre.dev/v1alpha1"
        assert "status" not in manifest


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if p.parent.parent.name in ("sloth", "pyrra") and "openslo" not in p.name],
    ids=lambda p: f"{p.parent.parent.name}/{p.name}",
)
def test_every_sloth_and_pyrra_example_imports_as_recorded(path: Path) -> None:
    result = convert_file(path, recorded=True)
    for manifest in result.manifests:
        recorded = manifest["spec"]["indicator"]["recorded"]
        assert recorded["provider"] == path.parent.parent.name
        ServiceLevelObjective.model_validate(manifest).spec.to_domain()


def test_sloth_getting_started_maps_field_by_field() -> None:
    result = convert_file(DATA / "sloth" / "getting-started.yml")
    (manifest,) = result.manifests
    assert manifest["metadata"] == {"name": "requests-availability"}
    spec = manifest["spec"]
    assert spec["service"] == "myservice"
    assert spec["target"] == 99.9
    assert spec["window"] == "30d"
    assert "alerting" not in spec  # Sloth's 30d pairs are our default table
    assert spec["indicator"]["ratio"] == {
        "errors": "sum(rate(http_request_duration_seconds_count"
        '{job="myservice",code=~"(5..|429)"}[{{window}}]))',
        "total": 'sum(rate(http_request_duration_seconds_count{job="myservice"}[{{window}}]))',
    }
    lost = {loss.field for loss in result.losses}
    assert lost == {
        "labels",
        "slos[0].alerting.name",
        "slos[0].alerting.labels",
        "slos[0].alerting.annotations",
        "slos[0].alerting.page_alert.labels",
        "slos[0].alerting.ticket_alert.labels",
    }


def test_the_sloth_crd_converts_like_the_spec_file() -> None:
    spec_file = convert_file(DATA / "sloth" / "getting-started.yml").manifests[0]
    crd = convert_file(DATA / "sloth" / "examples" / "k8s-getting-started.yml").manifests[0]
    assert crd["spec"] == spec_file["spec"]
    assert crd["metadata"] == {"name": "requests-availability", "namespace": "monitoring"}


def test_sloth_disabled_alerts_drop_their_pairs() -> None:
    (manifest,) = convert_file(DATA / "sloth" / "examples" / "no-alerts.yml").manifests
    assert manifest["spec"]["alerting"] == {"windows": []}


def test_sloth_recorded_reads_the_sloth_id() -> None:
    (manifest,) = convert_file(DATA / "sloth" / "getting-started.yml", recorded=True).manifests
    assert manifest["spec"]["indicator"] == {
        "recorded": {"provider": "sloth", "name": "myservice-requests-availability"}
    }


def test_pyrra_ratio_keeps_pyrras_pairs_and_reports_grouping() -> None:
    result = convert_file(DATA / "pyrra" / "examples" / "pyrra-connect-errors.yaml")
    (manifest,) = result.manifests
    spec = manifest["spec"]
    assert spec["window"] == "2w"
    assert spec["target"] == 99.0
    assert spec["indicator"]["ratio"]["errors"].startswith("rate(connect_server_requests_total{")
    assert spec["indicator"]["ratio"]["errors"].endswith("[{{window}}])")
    expected = pyrra_pairs(parse_duration("2w"))
    assert [(w["long"], w["short"], w["factor"]) for w in spec["alerting"]["windows"]] == [
        (p.long_text, p.short_text, p.factor) for p in expected
    ]
    lost = {loss.field: loss.reason for loss in result.losses}
    assert "service, method" in lost["spec.indicator.ratio.grouping"]
    assert "service" in lost


def test_pyrra_histogram_latency_becomes_our_latency_indicator() -> None:
    (manifest,) = convert_file(
        DATA / "pyrra" / "examples" / "caddy-response-latency.yaml"
    ).manifests
    assert manifest["spec"]["indicator"] == {
        "latency": {
            "metric": "caddy_http_response_duration_seconds",
            "threshold": 0.05,
            "selector": 'job="caddy",handler="subroute",code!~"5.."',
        }
    }
    assert manifest["spec"]["window"] == "4w"


def test_pyrra_latency_with_different_selectors_keeps_both_queries() -> None:
    result = convert_file(DATA / "pyrra" / "examples" / "nginx.yaml")
    latency = result.manifests[1]["spec"]["indicator"]["ratio"]
    assert 'status=~"5..",le="1"}[{{window}}]' in latency["errors"]
    assert any("different series" in loss.reason for loss in result.losses)


def test_pyrra_native_histogram_and_bool_gauge() -> None:
    native = convert_file(DATA / "pyrra" / "examples" / "pyrra-connect-latency.yaml")
    ratio = native.manifests[0]["spec"]["indicator"]["ratio"]
    assert "histogram_fraction(0, 0.2, " in ratio["errors"]
    gauge = convert_file(DATA / "pyrra" / "examples" / "prometheus-probe-success.yaml")
    assert gauge.manifests[0]["spec"]["indicator"]["ratio"] == {
        "errors": "count_over_time(probe_success[{{window}}])"
        " - sum_over_time(probe_success[{{window}}])",
        "total": "count_over_time(probe_success[{{window}}])",
    }


def test_openslo_v1alpha_from_sloth_converts() -> None:
    (manifest,) = convert_file(
        DATA / "sloth" / "examples" / "openslo-getting-started.yml"
    ).manifests
    spec = manifest["spec"]
    assert (spec["service"], spec["target"], spec["window"]) == ("my-service", 99.9, "30d")
    assert spec["indicator"]["ratio"]["errors"].startswith("sum(sum(rate(")


OPENSLO_V1 = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: checkout-errors}
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec: {query: 'http_requests_total{job="checkout",code=~"5.."}'}
    total:
      metricSource:
        type: Prometheus
        spec: {query: 'http_requests_total{job="checkout"}'}
---
apiVersion: openslo/v1
kind: Service
metadata: {name: checkout}
spec: {}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout, displayName: Checkout}
spec:
  service: checkout
  indicatorRef: checkout-errors
  timeWindow:
    - duration: 1d
      isRolling: false
      calendar: {startTime: "2022-01-01 00:00:00", timeZone: UTC}
  budgetingMethod: Timeslices
  objectives:
    - displayName: Internal
      target: 0.995
      timeSliceTarget: 0.99
      timeSliceWindow: 1m
    - displayName: SLA
      targetPercent: 99
"""


def test_openslo_v1_indicator_ref_objectives_and_losses(tmp_path: Path) -> None:
    path = tmp_path / "openslo.yaml"
    path.write_text(OPENSLO_V1)
    result = convert_file(path)
    assert [m["metadata"]["name"] for m in result.manifests] == [
        "checkout-internal",
        "checkout-sla",
    ]
    first = result.manifests[0]["spec"]
    assert first["target"] == 99.5
    assert first["window"] == "1d"
    assert first["indicator"]["ratio"] == {
        "errors": 'rate(http_requests_total{job="checkout",code=~"5.."}[{{window}}])',
        "total": 'rate(http_requests_total{job="checkout"}[{{window}}])',
    }
    # The 3d/6h default pair does not fit in 1d.
    assert [w["long"] for w in first["alerting"]["windows"]] == ["1h", "6h", "1d"]
    fields = {loss.field for loss in result.losses}
    assert {
        "spec.budgetingMethod",
        "spec.timeWindow[0]",
        "spec.objectives[0].timeSliceTarget",
        "spec.objectives[0].timeSliceWindow",
        "alerting",
        "metadata.displayName",
    } <= fields
    assert result.skipped == [f"{path}#2 (OpenSLO Service checkout)"]


def test_bad_input_names_the_document_and_field() -> None:
    bad = {"apiVersion": "pyrra.dev/v1alpha1", "kind": "ServiceLevelObjective"}
    with pytest.raises(ConversionError, match=r"^x\.yaml#3 \(Pyrra .*\): spec.target: expected"):
        convert(
            [
                Source(
                    "x.yaml#3",
                    {**bad, "metadata": {"name": "a"}, "spec": {"target": "high", "indicator": {}}},
                )
            ]
        )
    with pytest.raises(ConversionError, match=r"not valid: spec\.target"):
        convert(
            [
                Source(
                    "y.yaml",
                    {
                        "version": "prometheus/v1",
                        "service": "s",
                        "slos": [
                            {
                                "name": "a",
                                "objective": 100,
                                "sli": {
                                    "events": {
                                        "error_query": "e[{{.window}}]",
                                        "total_query": "t[{{.window}}]",
                                    }
                                },
                            }
                        ],
                    },
                )
            ]
        )
    with pytest.raises(ConversionError, match="not an SLO this can import"):
        convert([Source("z.yaml", {"apiVersion": "v1", "kind": "ConfigMap"})])


def test_cli_prints_nothing_when_any_document_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = DATA / "sloth" / "getting-started.yml"
    code = main(
        ["slo", "import", str(good), str(DATA / "sloth" / "examples" / "raw-home-wifi.yml")]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "raw-home-wifi.yml (Sloth spec home-wifi) SLO wifi-client-satisfaction" in err


def test_cli_yaml_and_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    files = [
        str(DATA / "sloth" / "getting-started.yml"),
        str(DATA / "pyrra" / "examples" / "nginx.yaml"),
    ]
    assert main(["slo", "import", *files]) == 0
    out, err = capsys.readouterr()
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(out)] == [
        "requests-availability",
        "nginx-api-errors",
        "nginx-api-latency",
    ]
    assert "not carried over: " in err
    assert "slos[0].alerting.page_alert.labels" in err
    assert main(["slo", "import", "-o", "json", *files]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["kind"] == "List"
    assert len(listed["items"]) == 3


def test_cli_in_a_closed_pipe_has_no_traceback() -> None:
    files = [str(p) for p in EXAMPLES if p.name not in REFUSED] * 20  # more than a pipe buffer
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from incident_operator.cli.kubectl_plugin import main; raise SystemExit(main())",
            "slo",
            "import",
            *files,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader goes away before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait() != 0
    assert "Traceback" not in err, err
    assert "BrokenPipeError" not in err, err
