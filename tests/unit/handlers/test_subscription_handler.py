"""The status-page-subscribers timer: runs only for incidents with public words (or delivered
keys to forget), hands the watched body to the service, idles without one."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from incident_operator.handlers import subscriptions as handler
from tests.builders.objects import incident
from tests.fakes.context import operator_memo

TIMER: Any = handler.status_page_subscribers
UPDATE = {"at": "2026-12-07T12:00:00Z", "status": "investigating", "text": "On it."}


@pytest.mark.parametrize(
    ("spec", "status", "runs"),
    [
        ({"public": {"updates": [UPDATE]}}, {}, True),
        ({"public": {"updates": [UPDATE]}, "private": True}, {}, False),
        ({}, {}, False),
        ({"private": True}, {"subscriptions": {"delivered": ["k"]}}, True),
    ],
    ids=["public-update", "private", "no-public-update", "keys-to-forget"],
)
def test_the_timer_runs_for_incidents_with_public_words(
    spec: dict[str, Any], status: dict[str, Any], runs: bool
) -> None:
    assert handler._has_public_words(spec=spec, status=status) is runs  # type: ignore[arg-type]


class Recording:
    def __init__(self) -> None:
        self.ticks: list[tuple[str, str, Any]] = []

    async def tick(self, namespace: str, name: str, seen: Any = None) -> Any:
        self.ticks.append((namespace, name, seen))


async def test_the_timer_hands_the_watched_body_to_the_service() -> None:
    service = Recording()
    body = incident(public={"updates": [UPDATE]})
    await TIMER(body=kopf.Body(body), memo=operator_memo(subscription_service=service))  # type: ignore[arg-type]
    assert service.ticks == [("shop", "checkout-errors", body)]
    await TIMER(body=kopf.Body(body), memo=operator_memo())  # type: ignore[arg-type]
