"""Status page subscribers on a timer: each incident with public updates, looked at often.

A timer rather than the change handler, so a delivery that failed is retried after its
backoff with no change to the object. Only incidents that have a public update (or still
remember deliveries) are looked at, and the service decides again on a fresh read, so a
second tick, a restart or a re-delivered event sends nothing twice
(services/subscriptions.py).
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator import GROUP, VERSION

from .context import context_of
from .errors import translated

INTERVAL = 10.0
INITIAL_DELAY = 5.0


def _has_public_words(spec: kopf.Spec, status: kopf.Status, **_: Any) -> bool:
    """Public updates on a non-private incident, or delivered keys still to forget."""
    public = spec.get("public") or {}
    delivered = (status.get("subscriptions") or {}).get("delivered")
    return (bool(public.get("updates")) and not spec.get("private")) or bool(delivered)


@kopf.timer(
    GROUP,
    VERSION,
    "incidents",
    id="status-page-subscribers",
    interval=INTERVAL,
    initial_delay=INITIAL_DELAY,
    when=_has_public_words,
)
@translated
async def status_page_subscribers(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    service = context_of(memo).subscription_service
    if service is None:
        return
    meta = body["metadata"]
    await service.tick(str(meta["namespace"]), str(meta["name"]), dict(body))
