"""Documents read for an import, named for messages (Sloth, Pyrra, OpenSLO, Backstage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Source:
    """One parsed document and how to name it in messages (e.g. ``slos.yaml#2``)."""

    where: str
    document: Any
