from __future__ import annotations

import kopf
import pytest

from incident_operator.errors import InvalidSpecError, TemporaryError
from incident_operator.handlers.errors import DEFAULT_RETRY_DELAY, translated


async def test_temporary_error_retries_after_its_own_delay() -> None:
    @translated
    async def handler() -> None:
        raise TemporaryError("prometheus unavailable", retry_after=7)

    with pytest.raises(kopf.TemporaryError) as raised:
        await handler()
    assert raised.value.delay == 7
    assert str(raised.value) == "prometheus unavailable"


async def test_temporary_error_without_delay_gets_the_default() -> None:
    @translated
    async def handler() -> None:
        raise TemporaryError("slow")

    with pytest.raises(kopf.TemporaryError) as raised:
        await handler()
    assert raised.value.delay == DEFAULT_RETRY_DELAY


async def test_permanent_error_stops_retrying() -> None:
    @translated
    async def handler() -> None:
        raise InvalidSpecError("unknown time zone Mars/Olympus")

    with pytest.raises(kopf.PermanentError, match="Mars/Olympus"):
        await handler()


async def test_results_pass_through() -> None:
    @translated
    async def handler(x: int) -> int:
        return x + 1

    assert await handler(1) == 2
