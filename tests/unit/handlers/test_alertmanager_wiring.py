"""The webhook's flags, token sources and the kopf start-up handler that serves it."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import kopf
import pytest

from incident_operator.adapters.secrets import FileToken, StaticToken
from incident_operator.app.composition import WebOptions, web_app
from incident_operator.app.operator_main import alertmanager_token, parse
from incident_operator.domain.alertmanager import SeverityPolicy
from incident_operator.handlers import web_server
from incident_operator.handlers.context import context_of, memo_of
from incident_operator.handlers.runner import RunOptions
from incident_operator.services.alertmanager import AlertmanagerService
from incident_operator.services.status_page import StatusPageIndex
from tests.cluster.controlplane import free_port
from tests.fakes.context import operator_context
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

TOKEN_ENV = "INCIDENT_OPERATOR_ALERTMANAGER_TOKEN"

# The start-up and clean-up handlers as the coroutine functions they are: kopf's decorators
# type them as its handler protocol, which kopf calls with every keyword; here they get only
# the ones they read.
start_web_server = cast(Callable[..., Awaitable[None]], web_server.start_web_server)
stop_web_server = cast(Callable[..., Awaitable[None]], web_server.stop_web_server)


def test_defaults_listen_on_8081_with_the_documented_severity_map() -> None:
    args = parse(["run"])
    assert args.http_listen == ("0.0.0.0", 8081)
    assert args.alertmanager_namespace == "default"
    assert args.alertmanager_severity_label == "severity"
    policy: SeverityPolicy = args.alertmanager_severity_map
    assert policy.severity_of({"severity": "critical"}) == "sev-1"
    assert policy.severity_of({"severity": "warning"}) == "sev-3"
    assert policy.severity_of({}) == "sev-3"
    assert args.alertmanager_auto_resolve is False


def test_flags_are_parsed() -> None:
    args = parse(
        [
            "run",
            "--http-listen=[::1]:9000",
            "--alertmanager-severity-map=P1=sev-1, P2=sev-2, *=sev-4",
            "--alertmanager-namespace=ops",
            "--alertmanager-auto-resolve",
        ]
    )
    assert args.http_listen == ("::1", 9000)
    assert args.alertmanager_severity_map.mapping == (("P1", "sev-1"), ("P2", "sev-2"))
    assert args.alertmanager_severity_map.default == "sev-4"
    assert args.alertmanager_namespace == "ops"
    assert args.alertmanager_auto_resolve is True


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--http-listen=8081", "argument --http-listen: '8081' is not HOST:PORT"),
        ("--http-listen=host:http", "argument --http-listen: 'host:http' is not HOST:PORT"),
        (
            "--alertmanager-severity-map=critical",
            "argument --alertmanager-severity-map: severity map entry 'critical' is not "
            "<label value>=<severity>",
        ),
        (
            "--alertmanager-namespace=Ops_Team",
            "argument --alertmanager-namespace: 'Ops_Team' is not a namespace name",
        ),
    ],
)
def test_bad_flags_are_usage_errors(
    flag: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(["run", flag])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_token_comes_from_the_file_first_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert alertmanager_token(parse(["run"])) is None
    monkeypatch.setenv(TOKEN_ENV, "  ")
    assert alertmanager_token(parse(["run"])) is None
    monkeypatch.setenv(TOKEN_ENV, "from-env\n")
    from_env = alertmanager_token(parse(["run"]))
    assert isinstance(from_env, StaticToken)
    assert from_env.current() == b"from-env"
    assert "from-env" not in repr(from_env)
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    from_file = alertmanager_token(parse(["run", f"--alertmanager-token-file={secret}"]))
    assert isinstance(from_file, FileToken)
    assert from_file.current() == b"from-file"


def served(**fields: Any) -> kopf.Memo:
    """A memo whose context holds the web app composed as the operator composes it, from a
    context with nothing configured (no Alertmanager token: the webhook answers 503)."""
    bare = operator_context(status_page=StatusPageIndex())
    app = web_app(bare, RunOptions(), WebOptions())
    return memo_of(dataclasses.replace(bare, web_app=app, **fields))


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_the_server_starts_with_kopf_and_stops_in_cleanup() -> None:
    port = free_port()
    memo = served(http_listen=("127.0.0.1", port))
    await start_web_server(memo=memo, logger=logging.getLogger("test"))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with session.post(f"http://127.0.0.1:{port}/alertmanager", json={}) as response:
                assert response.status == 503  # started without a token
    finally:
        await stop_web_server(memo=memo)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://127.0.0.1:{port}/healthz")


async def test_a_busy_port_without_a_token_only_costs_the_endpoint(
    busy_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    memo = served(http_listen=("127.0.0.1", busy_port))
    await start_web_server(memo=memo, logger=logging.getLogger("test"))
    assert context_of(memo).state.web_runner is None
    assert f"cannot listen on 127.0.0.1:{busy_port}" in caplog.text


async def test_a_busy_port_with_the_webhook_configured_stops_the_operator(busy_port: int) -> None:
    configured = AlertmanagerService(FakeStore(), FakeClock())
    memo = served(http_listen=("127.0.0.1", busy_port), alertmanager_service=configured)
    with pytest.raises(kopf.PermanentError, match=f"cannot listen on 127.0.0.1:{busy_port}"):
        await start_web_server(memo=memo, logger=logging.getLogger("test"))
