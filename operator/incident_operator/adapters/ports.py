"""The operator's capabilities on the outside world, one Protocol each.

Every port has a real adapter and an in-memory fake; services receive them by injection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...
