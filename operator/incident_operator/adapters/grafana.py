"""Annotations on Grafana's HTTP API: ``POST /api/annotations`` with a service account token.

Body: ``time`` (epoch milliseconds), ``tags``, ``text`` and, when configured, ``dashboardUID``
(else an organisation annotation, shown wherever a dashboard queries the tags). Answer:
``{"message": "Annotation added", "id": 1}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from .ports import TokenSource
from .tracker_http import call


class GrafanaAnnotations:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        token: TokenSource | None,
        *,
        dashboard_uid: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._url = url.rstrip("/")
        self._token = token
        self._dashboard = dashboard_uid
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"GrafanaAnnotations(url={self._url!r})"

    async def annotate(self, at: datetime, text: str, tags: tuple[str, ...]) -> str:
        body: dict[str, Any] = {
            "time": int(at.timestamp() * 1000),
            "tags": list(tags),
            "text": text,
        }
        if self._dashboard:
            body["dashboardUID"] = self._dashboard
        token = self._token.current() if self._token is not None else None
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token.decode()}"
        response = await call(
            "Grafana",
            "adding an annotation",
            lambda: self._client.post(
                f"{self._url}/api/annotations", json=body, headers=headers, timeout=self._timeout
            ),
        )
        return str(response.json().get("id", ""))
