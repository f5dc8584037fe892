"""`kubectl-incident simulate`: the file contract, JSON keys, table, plot and errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from incident_operator.cli.kubectl_plugin import main
from tests.kube import REPO

SLO_YAML = """\
apiVersion: sre.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: checkout-availability}
spec:
  target: 99.9
  window: 30d
  alerting:
    minRequests: 100
    windows:
      - {long: 1h, short: 5m, factor: 14.4, severity: sev-2}
      - {long: 1d, short: 2h, factor: 3, severity: sev-3}
"""
# Two healthy hours, then a 100 % outage for 30 minutes, then recovery.
TRACE = "time,total,errors\n0,100,0\n7200,100,100\n9000,100,0\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    slo, trace = tmp_path / "slo.yaml", tmp_path / "trace.csv"
    slo.write_text(SLO_YAML)
    trace.write_text(TRACE)
    return slo, trace


def test_json_output_has_the_contract_keys(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    slo, trace = files
    assert main(["simulate", "--slo", str(slo), "--trace", str(trace), "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"windows", "firstDetectionSeconds", "severity"}
    fast, slow = report["windows"]
    assert set(fast) == {
        "long",
        "short",
        "factor",
        "severity",
        "fired",
        "firstFiredAt",
        "detectionSeconds",
        "budgetConsumedAtDetection",
        "resetSeconds",
    }
    assert (fast["long"], fast["short"], fast["factor"], fast["severity"]) == (
        "1h",
        "5m",
        14.4,
        "sev-2",
    )
    # 1h window over 2h of history: 0.0144 x 3600 = 51.84 s -> the 60 s evaluation.
    assert fast["fired"] is True
    assert fast["firstFiredAt"] == 7260
    assert fast["detectionSeconds"] == 60
    assert fast["budgetConsumedAtDetection"] == pytest.approx(6000 / 259200, abs=1e-6)
    assert fast["resetSeconds"] == 300
    # 1d window only has 2.5 h of history: (t)/(7200 + t) > 0.003 after 21.66 s -> 30 s.
    assert slow["detectionSeconds"] == 30
    assert report["firstDetectionSeconds"] == 30
    assert report["severity"] == "sev-2", "the fastest pair that fired decides"


def test_defaults_apply_without_alerting_windows(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    slo = tmp_path / "bare.yaml"
    slo.write_text("kind: ServiceLevelObjective\nspec: {target: 99.9}\n")
    _, trace = files
    main(["simulate", "--slo", str(slo), "--trace", str(trace), "--output", "json", "--step", "1m"])
    report = json.loads(capsys.readouterr().out)
    assert [(w["long"], w["short"], w["factor"]) for w in report["windows"]] == [
        ("1h", "5m", 14.4),
        ("6h", "30m", 6.0),
        ("1d", "2h", 3.0),
        ("3d", "6h", 1.0),
    ]


def test_table_output(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    slo, trace = files
    assert main(["simulate", "--slo", str(slo), "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "LONG",
        "SHORT",
        "FACTOR",
        "SEVERITY",
        "FIRED",
        "FIRST",
        "DETECT",
        "BUDGET",
        "RESET",
    ]
    assert out.splitlines()[1].split()[:7] == ["1h", "5m", "14.4", "sev-2", "yes", "7260", "60"]
    assert "first detection: 30 s, severity: sev-2" in out


def test_plot_writes_a_png(tmp_path: Path, files: tuple[Path, Path]) -> None:
    slo, trace = files
    png = tmp_path / "burn.png"
    main(
        [
            "simulate",
            "--slo",
            str(slo),
            "--trace",
            str(trace),
            "--plot",
            str(png),
            "--output",
            "json",
        ]
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("slo_text", "trace_text", "extra", "message"),
    [
        ("spec: {target: 100}\n", TRACE, [], "spec.target: Input should be less than 100"),
        ("kind: Incident\nspec: {}\n", TRACE, [], "no ServiceLevelObjective (found Incident)"),
        (SLO_YAML + "---\n" + SLO_YAML, TRACE, [], "holds 2 ServiceLevelObjectives"),
        (SLO_YAML, TRACE, ["--name", "other"], "no ServiceLevelObjective named 'other'"),
        ("just text\n", TRACE, [], "expected a ServiceLevelObjective manifest"),
        (SLO_YAML, "when,total,errors\n", [], "line 1: expected the header"),
        (SLO_YAML, TRACE, ["--step", "fast"], "--step: invalid duration 'fast'"),
        (
            "spec: {target: 99, alerting: {windows: [{long: 1h, short: 5m, factor: 2}]}}\n",
            TRACE,
            [],
            "spec.alerting.windows.0.severity: Field required",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    slo_text: str,
    trace_text: str,
    extra: list[str],
    message: str,
) -> None:
    slo, trace = tmp_path / "slo.yaml", tmp_path / "trace.csv"
    slo.write_text(slo_text)
    trace.write_text(trace_text)
    assert main(["simulate", "--slo", str(slo), "--trace", str(trace), *extra]) == 2
    assert message in capsys.readouterr().err


def test_picks_one_slo_from_a_multi_document_file(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, trace = files
    slos = REPO / "examples" / "30-slo.yaml"
    argv = ["simulate", "--slo", str(slos), "--trace", str(trace), "--output", "json"]
    assert main([*argv, "--name", "checkout-latency"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [w["long"] for w in report["windows"]] == ["1h", "6h", "1d", "3d"]


def test_installed_plugin_runs(files: tuple[Path, Path]) -> None:
    slo, trace = files
    out = subprocess.run(
        [
            str(REPO / ".venv/bin/kubectl-incident"),
            "simulate",
            "--slo",
            str(slo),
            "--trace",
            str(trace),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["severity"] == "sev-2"
