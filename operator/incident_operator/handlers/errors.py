"""Our exceptions onto kopf's retry semantics, in exactly one place.

Also where reconcile errors are counted: every handler already passes through here, and the
kind (temporary / permanent / unexpected) is known only at this point. The metrics come
from the operator context in kopf's ``memo`` (handlers/context.py), which kopf hands every
handler.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import kopf

from incident_operator.adapters.ports import OperatorMetrics
from incident_operator.errors import PermanentError, TemporaryError

from .context import context_of

P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_RETRY_DELAY = 30.0


def _count(kwargs: Mapping[str, Any], handler: str, kind: str) -> None:
    memo = kwargs.get("memo")
    metrics: OperatorMetrics | None = (
        context_of(memo).operator_metrics if memo is not None else None
    )
    if metrics is not None:
        metrics.reconcile_error(handler, kind)


def translated(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Temporary errors retry after their own delay; permanent ones stop retrying."""

    name = getattr(handler, "__name__", "handler")

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except TemporaryError as exc:
            _count(kwargs, name, "temporary")
            delay = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_DELAY
            raise kopf.TemporaryError(str(exc), delay=delay) from exc
        except PermanentError as exc:
            _count(kwargs, name, "permanent")
            raise kopf.PermanentError(str(exc)) from exc
        except (kopf.TemporaryError, kopf.PermanentError):
            raise  # a handler's own deliberate retry decision, not an error to count
        except Exception:
            _count(kwargs, name, "unexpected")
            raise

    return wrapper
