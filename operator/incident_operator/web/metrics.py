"""``GET /metrics``: the operator's own figures in the Prometheus text format.

The endpoint only serialises; what is counted lives behind the OperatorMetrics port, and the
exposition comes from the adapter that owns the registry, so this module needs no
prometheus-client import and tests can hand it any source.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

PATH = "/metrics"


class Exposition(Protocol):
    def exposition(self) -> tuple[bytes, str]:
        """The metrics as bytes and the Content-Type they are written in."""
        ...


class MetricsEndpoint:
    def __init__(self, source: Exposition) -> None:
        self._source = source

    async def handle(self, _: web.Request) -> web.Response:
        body, content_type = self._source.exposition()
        # Set verbatim: aiohttp's content_type= would drop the version parameter Prometheus
        # uses to pick the parser.
        return web.Response(body=body, headers={"Content-Type": content_type})
