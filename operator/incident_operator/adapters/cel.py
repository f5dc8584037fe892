"""Workflow conditions in CEL, through the ``common-expression-language`` package.

The package parses at compile time (errors with line and column) but does not type-check; a
reference to a name outside :data:`VARIABLES` is what a checker would catch first, so it is
refused here: a macro's own variables (``labels.exists(k, k == 'tier')``) are bound by the
expression and allowed. Compiled programs are cached by source (expressions are short and
few). Every error the library raises leaves this module as an ExpressionError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from incident_operator.errors import ExpressionError

from .expressions_port import VARIABLES

MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
CACHE = 512


@lru_cache(maxsize=CACHE)
def _compiled(source: str) -> Any:
    # Imported where an expression is first compiled: the package's __init__ imports its own
    # command line (typer, rich, prompt_toolkit), ~12 MB an operator without workflows
    # should not hold (issue 15: 90 MB after imports with it, 78 MB without).
    import cel  # noqa: PLC0415

    try:
        return cel.compile(source)
    except Exception as exc:  # the library raises ValueError and others: all become ours
        raise ExpressionError(_clean(str(exc))) from None


def _clean(message: str) -> str:
    """The library's message without its ``Failed to parse expression '<source>':`` prefix
    (the source is long and the caller names the field it came from)."""
    text = re.sub(r"^Failed to parse expression '.*?': ", "", message, flags=re.DOTALL)
    return text.replace("<input>:", "").strip()


class CelExpressions:
    """The Expressions port over the ``cel`` module."""

    def problem(self, source: str) -> str | None:
        try:
            program = _compiled(source)
        except ExpressionError as exc:
            return str(exc)
        bound = set(MACRO_VARIABLE.findall(source))
        unknown = sorted(set(program.variables()) - VARIABLES - bound)
        if unknown:
            allowed = ", ".join(sorted(VARIABLES))
            return f"undeclared reference to {', '.join(unknown)} (use {allowed})"
        return None

    def evaluate(self, source: str, variables: Mapping[str, Any]) -> bool:
        problem = self.problem(source)
        if problem is not None:
            raise ExpressionError(problem)
        try:
            value = _compiled(source).execute(dict(variables))
        except KeyError as exc:
            raise ExpressionError(f"no such key: {exc}") from None
        except Exception as exc:  # TypeError, ValueError, RuntimeError from the library
            raise ExpressionError(str(exc) or type(exc).__name__) from None
        if not isinstance(value, bool):
            raise ExpressionError(f"evaluated to {type(value).__name__} {value!r}, not a bool")
        return value
