"""Our exceptions onto kopf's retry semantics, in exactly one place."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import kopf

from incident_operator.errors import PermanentError, TemporaryError

P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_RETRY_DELAY = 30.0


def translated(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Temporary errors retry after their own delay; permanent ones stop retrying."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except TemporaryError as exc:
            delay = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_DELAY
            raise kopf.TemporaryError(str(exc), delay=delay) from exc
        except PermanentError as exc:
            raise kopf.PermanentError(str(exc)) from exc

    return wrapper
