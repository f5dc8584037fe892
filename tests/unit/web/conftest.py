"""The status page fixtures shared by its web tests: an index of three incidents (one
private, one resolved two days ago) and a client serving it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from incident_operator.services.status_page import StatusPageIndex
from incident_operator.web.status_page import StatusPageSettings
from tests.unit.web.test_status_page_web import NOW, incident, iso, serve, severity, state_changed


@pytest.fixture
def index() -> StatusPageIndex:
    index = StatusPageIndex()
    index.observe_severity(severity("sev-2", "major"))
    index.observe_severity(severity("sev-3", "minor"))
    index.observe_incident(
        incident(
            "checkout-errors",
            timeline=[
                {"at": iso(NOW - timedelta(minutes=50)), "type": "note", "message": "alice: db?"},
                state_changed(NOW - timedelta(minutes=40), "triage", "investigating"),
            ],
        )
    )
    index.observe_incident(incident("breach", title="Secret breach", service="auth", private=True))
    index.observe_incident(
        incident(
            "search-slow",
            title="Search was slow",
            service="search",
            sev="sev-3",
            phase="resolved",
            declared=NOW - timedelta(days=2),
            stamps={"resolved": iso(NOW - timedelta(days=2) + timedelta(hours=1))},
        )
    )
    return index


@pytest.fixture
async def client(index: StatusPageIndex) -> AsyncIterator[TestClient[Any, Any]]:
    client = await serve(index, StatusPageSettings(title="Acme Status", page_id="acme"))
    yield client
    await client.close()
