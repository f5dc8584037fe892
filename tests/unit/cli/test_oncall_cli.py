"""`kubectl-incident oncall`: the JSON contract, the table, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from incident_operator.cli.kubectl_plugin import main
from tests.kube import REPO

EXAMPLE = REPO / "examples" / "20-oncallrotation.yaml"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["oncall", "--file", str(EXAMPLE), "--output", "json", *args]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_json_contract_during_the_example_override(capsys: pytest.CaptureFixture[str]) -> None:
    # Wed 2026-04-01 13:00 CEST: carol's override (12:00-18:00) replaces bob on primary.
    assert run_json(capsys, "--at", "2026-04-01T13:00:00+02:00") == {
        "at": "2026-04-01T11:00:00Z",
        "layers": [
            {"name": "primary", "person": "carol"},
            {"name": "secondary", "person": "carol"},
            {"name": "business-hours", "person": "dave"},
        ],
        "onCall": "carol",
        "nextHandoff": "2026-04-01T16:00:00Z",
    }


def test_weekend_restricted_layer_is_null_and_handoff_is_monday_0900_local(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_json(capsys, "--at", "2026-04-04T11:00:00Z")
    assert result["layers"] == [
        {"name": "primary", "person": "bob"},
        {"name": "secondary", "person": "carol"},
        {"name": "business-hours", "person": None},
    ]
    assert result["onCall"] == "bob"
    assert result["nextHandoff"] == "2026-04-06T07:00:00Z"  # Monday 09:00 CEST


def test_before_the_rotation_starts_nobody_is_on_call(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "--at", "2026-03-01T00:00:00Z")
    assert result["onCall"] is None
    assert result["nextHandoff"] == "2026-03-02T08:00:00Z"


def test_at_defaults_to_now(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys)
    assert isinstance(result["at"], str)
    assert result["at"].endswith("Z")
    assert result["onCall"] in {"alice", "bob", "carol"}


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oncall", "--file", str(EXAMPLE), "--at", "2026-04-04T11:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        "LAYER           PERSON",
        "primary         bob",
        "secondary       carol",
        "business-hours  -",
    ]
    assert "on call:      bob" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2026-04-04T11:00:00"], "needs an offset"),
        (["--at", "tomorrow"], "expected RFC 3339"),
        (["--name", "nope"], "no OnCallRotation named 'nope'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["oncall", "--file", str(EXAMPLE), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_unknown_time_zone_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "r.yaml"
    manifest.write_text(EXAMPLE.read_text().replace("Europe/Berlin", "Mars/Olympus"))
    assert main(["oncall", "--file", str(manifest), "--at", "2026-04-04T11:00:00Z"]) == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err


def test_without_file_a_name_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oncall"]) == 2
    assert "--file" in capsys.readouterr().err
