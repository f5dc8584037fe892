"""Prometheus' query API as we call it: the query in a POSTed form, errors made ours.

A local HTTP server (stdlib) stands in for Prometheus and records what it was sent; the
integration tests (tests/integration/test_prometheus_burn.py and others) run the same client
against a real Prometheus.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from incident_operator.adapters.prometheus_http import PrometheusHttp
from incident_operator.errors import MetricsUnavailable, QueryRejected

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
VECTOR = [{"metric": {"slo": "a"}, "value": [AT.timestamp(), "0.5"]}]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.status = 200
        self.body: Any = {"status": "success", "data": {"resultType": "vector", "result": VECTOR}}


@pytest.fixture
def prometheus() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            recorder.requests.append((self.command, self.path, form))
            payload = (
                recorder.body if isinstance(recorder.body, bytes) else json.dumps(recorder.body)
            )
            data = payload if isinstance(payload, bytes) else payload.encode()
            self.send_response(recorder.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", recorder
    finally:
        server.shutdown()
        server.server_close()


def test_a_long_query_goes_in_the_form_not_the_url(prometheus: tuple[str, Recorder]) -> None:
    url, recorder = prometheus
    query = "sum(rate(x[5m])) or " * 20_000  # ~400 KB: as a URL, no proxy would pass it
    assert PrometheusHttp(url).query(query, AT) == VECTOR
    ((method, path, form),) = recorder.requests
    assert (method, path) == ("POST", "/api/v1/query")
    assert form == {"query": [query], "time": [f"{AT.timestamp():.3f}"]}


def test_a_range_query_sends_its_bounds_and_step(prometheus: tuple[str, Recorder]) -> None:
    url, recorder = prometheus
    recorder.body = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    assert PrometheusHttp(url).query_range("up", AT, AT, 60) == []
    ((_, path, form),) = recorder.requests
    assert path == "/api/v1/query_range"
    assert form["step"] == ["60s"]
    assert form["start"] == form["end"] == [f"{AT.timestamp():.3f}"]


@pytest.mark.parametrize("status", [400, 422])
def test_a_query_prometheus_will_not_run_is_the_querys_fault(
    prometheus: tuple[str, Recorder], status: int
) -> None:
    url, recorder = prometheus
    recorder.status, recorder.body = status, {"status": "error", "error": "parse error"}
    with pytest.raises(QueryRejected, match=rf"HTTP Status Code {status} .*parse error"):
        PrometheusHttp(url).query("sum(", AT)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (503, {"status": "error"}, "HTTP Status Code 503"),
        (200, b"<html>proxy error</html>", "unreadable answer"),
        (200, {"status": "success", "data": {"result": "nope"}}, "the result is not a list"),
    ],
)
def test_anything_else_is_prometheus_unavailable(
    prometheus: tuple[str, Recorder], status: int, body: Any, message: str
) -> None:
    url, recorder = prometheus
    recorder.status, recorder.body = status, body
    with pytest.raises(MetricsUnavailable, match=message) as info:
        PrometheusHttp(url).query("up", AT)
    assert not isinstance(info.value, QueryRejected)


def test_no_answer_is_unavailable_and_keeps_no_request_alive() -> None:
    with pytest.raises(MetricsUnavailable, match="Prometheus query failed") as info:
        PrometheusHttp("http://127.0.0.1:9", timeout=1).query("up" * 1000, AT)
    # No chained requests exception: it would hold the request, and so the whole query.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
