"""Chat, pager and webhooks follow every incident change; a timer retries what failed.

Every watch event (spec *and* status: a new timeline entry is news for the channel) asks
the comms service to sync that incident with the event's body; the service coalesces bursts,
reads fresh only when the body could predate its own last write, and delivers only what is
owed. The
timer only runs for incidents with something in ``status.outbox`` (a failed or unconfirmed
delivery) and is what makes a throttled or failed delivery go out once the service returns.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from incident_operator import GROUP, VERSION
from incident_operator.adapters.watch_cache import slim

from .context import context_of
from .errors import translated

RETRY_INTERVAL = 10.0


@kopf.on.event(GROUP, VERSION, "incidents")
async def sync_comms_on_change(
    body: kopf.Body,
    type: str | None,
    memo: kopf.Memo,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    service = context_of(memo).comms_service
    if service is None:
        return
    namespace, name = body.metadata.namespace or "", body.metadata.name or ""
    if type == "DELETED":
        service.forget(namespace, name)
        return
    # In the background: a slow or throttled chat must not hold kopf's worker for this object
    # (with many incidents changing at once the worker pool would queue the rest behind it).
    # The event's body saves the sync a GET when it is at least as new as the sync's writes.
    # Its own copy, without managedFields and the annotations that repeat the spec (no comms
    # reader uses them): the deep copy was a tenth of the operator's time with 100 incidents
    # changing at once (benchmarks.comms --unlimited, issue 15).
    service.spawn(namespace, name, slim(dict(body)))


@kopf.on.event(GROUP, VERSION, "incidents")
async def index_chat_channels(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Which incident holds which channel (status.chat.channelId), for commands and pins."""
    index = context_of(memo).chat_channels
    if index is not None:
        index.observe(dict(body), deleted=type == "DELETED")


def _owes(status: kopf.Status, **_: Any) -> bool:
    return bool(status.get("outbox"))


@kopf.timer(GROUP, VERSION, "incidents", id="comms-retry", interval=RETRY_INTERVAL, when=_owes)
@translated
async def retry_comms(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).comms_service
    if service is not None:
        await service.sync(
            body.metadata.namespace or "", body.metadata.name or "", slim(dict(body))
        )


@kopf.on.cleanup()
async def stop_comms(memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).comms_service
    if service is not None:
        await service.close()
