from __future__ import annotations

import pytest

from incident_operator.app.operator_main import parse
from incident_operator.domain.uptime import UptimeComponent


def test_slo_engine_flags() -> None:
    args = parse(
        [
            "run",
            "--prometheus-url=http://prometheus:9090",
            "--evaluation-interval=15s",
            "--prometheus-timeout=1m",
            "--manage-prometheus-rules",
        ]
    )
    assert args.prometheus_url == "http://prometheus:9090"
    assert args.evaluation_interval == 15
    assert args.prometheus_timeout == 60
    assert args.manage_prometheus_rules is True


def test_defaults() -> None:
    args = parse(["run"])
    assert (args.evaluation_interval, args.prometheus_timeout) == (30, 30)
    assert args.manage_prometheus_rules is False


def test_bad_interval_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["run", "--evaluation-interval=soon"])
    assert "invalid duration 'soon'" in capsys.readouterr().err


def test_status_page_components(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(
        [
            "run",
            "--status-page-component=checkout=shop,shop-eu",
            "--status-page-component=search=search",
        ]
    )
    assert args.status_page_component == [
        UptimeComponent("checkout", ("shop", "shop-eu")),
        UptimeComponent("search", ("search",)),
    ]
    assert parse(["run"]).status_page_component == []
    for bad in ("checkout", "checkout=Not_A_Namespace"):
        with pytest.raises(SystemExit):
            parse(["run", f"--status-page-component={bad}"])
    assert "is not a namespace name" in capsys.readouterr().err


def test_status_page_branding(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(
        [
            "run",
            "--status-page-logo-url=https://cdn.example.com/logo.svg",
            "--status-page-brand-colour=#0B5CAD",
        ]
    )
    assert args.status_page_logo_url == "https://cdn.example.com/logo.svg"
    assert args.status_page_brand_colour == "#0b5cad"
    defaults = parse(["run"])
    assert (defaults.status_page_logo_url, defaults.status_page_brand_colour) == ("", "")
    for bad in (
        "--status-page-logo-url=http://cdn.example.com/logo.svg",
        "--status-page-brand-colour=red",
    ):
        with pytest.raises(SystemExit):
            parse(["run", bad])
    err = capsys.readouterr().err
    assert "logo URL must be an https URL or a /path" in err
    assert "brand colour must be #rrggbb" in err
