"""Prometheus' query API over HTTP: every query POSTed as a form, never put in the URL.

Prometheus takes ``/api/v1/query`` and ``/api/v1/query_range`` as POST with an
``application/x-www-form-urlencoded`` body, made for queries too long for a URL. One batched
query of a thousand SLOs is ~280 KB. prometheus-api-client, used before, put it in the URL
even with ``method="POST"``. There it met two limits: proxies in front of Prometheus (nginx'
default header buffers are 8 KB, Go's 1 MB), and, through requests, the process-wide cache
of ``urllib.parse.urlsplit`` (its last 128 URLs), which kept 18-36 MB of old queries alive
in the operator (a census of its objects at 1,000 raw SLOs found 40-64 of them).

Errors become ours here: a 400/422 answer is the query's fault (``QueryRejected``); any other
answer, a timeout or an unreadable body means Prometheus could not answer
(``MetricsUnavailable``). ``what`` names the call in the message ("query", "range query").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from incident_operator.errors import MetricsUnavailable, QueryRejected

REJECTED = frozenset({400, 422})
"""Prometheus' answers for a query it will not run (bad_data, execution): the query's fault."""
MESSAGE_MAX = 300


class PrometheusHttp:
    """Blocking: call it from a thread (the adapters use ``asyncio.to_thread``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers or {}, timeout=timeout, transport=transport
        )

    def query(self, query: str, at: datetime) -> list[dict[str, Any]]:
        """An instant query's result vector at ``at``."""
        return self._post("query", "/api/v1/query", {"query": query, "time": _ts(at)})

    def query_range(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> list[dict[str, Any]]:
        """A range query's result matrix from ``start`` to ``end``."""
        form = {"query": query, "start": _ts(start), "end": _ts(end), "step": f"{step_seconds}s"}
        return self._post("range query", "/api/v1/query_range", form)

    def _post(self, what: str, path: str, form: dict[str, str]) -> list[dict[str, Any]]:
        # Each failure is raised outside its except block: a chained httpx exception would
        # keep the request, and so the whole query, alive as long as the error is kept.
        failed: str | None = None
        try:
            response = self._http.post(path, data=form)
        except httpx.HTTPError as exc:
            failed = _short(exc)
        if failed is not None:
            raise MetricsUnavailable(f"Prometheus {what} failed: {failed}")
        if response.status_code != 200:
            detail = _short(f"HTTP Status Code {response.status_code} ({response.content!r})")
            if response.status_code in REJECTED:
                raise QueryRejected(f"Prometheus refused the query: {detail}")
            raise MetricsUnavailable(f"Prometheus {what} failed: {detail}")
        result: Any = None
        try:
            result = response.json()["data"]["result"]
        except (ValueError, KeyError, TypeError) as exc:
            failed = f"unreadable answer ({_short(exc)})"
        if failed is None and not isinstance(result, list):
            failed = "the result is not a list"
        if failed is not None:
            raise MetricsUnavailable(f"Prometheus {what} failed: {failed}")
        return list(result)


def _ts(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def _short(text: object) -> str:
    text = str(text)
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX] + "…"
