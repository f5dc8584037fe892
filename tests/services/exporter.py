"""A demo service's /metrics: request counters following a trace on the wall clock.

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


class Exporter:
    def __init__(self, trace: Trace, port: int, clock: Clock = time.time) -> None:
        self.trace = trace
        self.port = port
        self.clock = clock
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                total, errors = exporter.trace.integral(exporter.clock())
                body = (
                    "# TYPE http_requests_total counter\n"
                    f'http_requests_total{{code="200"}} {total - errors:.6f}\n'
                    f'http_requests_total{{code="500"}} {errors:.6f}\n'
                ).encode()
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

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
