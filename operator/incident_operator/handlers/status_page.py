"""Feed every Incident, Severity and Service watch event to the status page index
(services/status_page.py)."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION

from .context import context_of


@kopf.on.event(GROUP, VERSION, "incidents")
async def status_page_incidents(
    body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """``type`` None is kopf's initial listing; DELETED takes the incident off the page."""
    index = context_of(memo).status_page
    if index is not None:
        index.observe_incident(dict(body), deleted=type == "DELETED")


@kopf.on.event(GROUP, VERSION, "severities")
async def status_page_severities(
    body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A Severity's impact colours its incidents; DELETED leaves them at impact ``none``."""
    index = context_of(memo).status_page
    if index is not None:
        index.observe_severity(dict(body), deleted=type == "DELETED")


@kopf.on.event(GROUP, VERSION, "services")
async def status_page_services(
    body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """A Service's public component, group and maintenance windows; DELETED removes them."""
    index = context_of(memo).status_page
    if index is not None:
        index.observe_service(dict(body), deleted=type == "DELETED")
