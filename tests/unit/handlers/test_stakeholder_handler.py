"""The stakeholder-updates timer: thin, fed the watched body, idle without a service."""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.handlers import stakeholders as handler
from incident_operator.services.stakeholders import StakeholderService
from tests.builders.objects import incident
from tests.fakes.context import operator_memo
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

TIMER: Any = handler.stakeholder_updates
"""The registered handler (kopf's types want every kwarg kopf passes)."""


def _body(raw: dict[str, Any]) -> Any:
    return kopf.Body(raw)  # type: ignore[arg-type]


class Recording(StakeholderService):
    def __init__(self) -> None:
        super().__init__(FakeStore(), FakeClock(), chat=FakeChat())
        self.ticks: list[tuple[str, str, Any]] = []

    async def tick(self, namespace: str, name: str, seen: Any = None) -> Any:
        self.ticks.append((namespace, name, seen))


async def test_the_timer_hands_the_watched_body_to_the_service() -> None:
    service = Recording()
    body = incident(status={"phase": "investigating"})
    await TIMER(body=_body(body), memo=operator_memo(stakeholder_service=service))
    assert service.ticks == [("shop", "checkout-errors", body)]


async def test_without_chat_or_webhooks_the_timer_does_nothing() -> None:
    await TIMER(body=_body(incident()), memo=operator_memo())


def test_the_timer_runs_while_the_incident_is_open_resolved_included() -> None:
    def is_wanted(phase: str) -> bool:
        return handler._open(_body(incident(status={"phase": phase})))

    assert is_wanted("investigating")
    assert is_wanted("resolved"), "the final update"
    assert not is_wanted("closed")
