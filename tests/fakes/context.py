"""The operator context (handlers/context.py) for handler and web tests, built in one place.

Only what a test names is set; the clock is a FakeClock unless given. Everything else is
None, as in an operator with nothing of it configured.
"""

from __future__ import annotations

from typing import Any

import kopf

from incident_operator.handlers.context import OperatorContext, memo_of
from tests.fakes.ports.clock import FakeClock


def operator_context(**fields: Any) -> OperatorContext:
    fields.setdefault("clock", FakeClock())
    return OperatorContext(**fields)


def operator_memo(**fields: Any) -> kopf.Memo:
    """The memo kopf would hand a handler, holding ``operator_context(**fields)``."""
    return memo_of(operator_context(**fields))
