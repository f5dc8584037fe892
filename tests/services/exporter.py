"""Scrape targets for the real Prometheus: ``/metrics`` rendered by a function at each scrape.

:class:`Exporter` is a demo service's request counters following a trace on the wall clock.
Counter values are the trace's integral at the scrape time, the same function the backfill
uses, so scraped samples continue the backfilled series without a jump.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from incident_operator.domain.simulation import Trace

Clock = Callable[[], float]


class MetricsServer:
    """Serves ``render()`` (Prometheus text format) on ``GET /metrics`` at 127.0.0.1:port."""

    def __init__(self, port: int, render: Callable[[], str]) -> None:
        self.port = port

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                body = render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Exporter(MetricsServer):
    def __init__(self, trace: Trace, port: int, clock: Clock = time.time) -> None:
        self.trace = trace
        self.clock = clock
        super().__init__(port, self._render)

    def _render(self) -> str:
        total, errors = self.trace.integral(self.clock())
        return (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{code="200"}} {total - errors:.6f}\n'
            f'http_requests_total{{code="500"}} {errors:.6f}\n'
        )

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
