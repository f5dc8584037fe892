"""CEL expressions of the workflows: checked when a workflow is applied, evaluated per incident.

One Protocol for the capability; the real adapter wraps a CEL library (cel.py) and turns its
errors into ours (ExpressionError), so nothing above this layer knows which library it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

VARIABLES: frozenset[str] = frozenset({"incident", "severity", "trigger"})
"""The names a workflow's expressions may use."""


class Expressions(Protocol):
    def problem(self, source: str) -> str | None:
        """Why ``source`` cannot be used (syntax, an undeclared variable); None when it can."""
        ...

    def evaluate(self, source: str, variables: Mapping[str, Any]) -> bool:
        """The expression's value; ExpressionError when it fails or is not a bool."""
        ...
