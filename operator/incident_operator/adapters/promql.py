"""User PromQL through a real parser before it goes anywhere near another SLO's query.

Every expression an SLO contributes to a batched query must, on its own:
- parse as one complete expression (so nothing in it can close the wrapper it is put in);
- not name the label the batch uses to tell SLOs apart (``TERM_LABEL``), not even escaped;
- stay within ``MAX_LENGTH`` characters and ``MAX_NODES`` syntax nodes, and no subquery may
  ask for more than ``MAX_SUBQUERY_STEPS`` steps;
- print back (the parser's canonical form, comments and layout gone) to text that parses to
  the same canonical form. That printed text is what the batch carries.

Expressions failing one of the first three checks are refused (``InvalidIndicator`` with the
parser's message). One failing only the last (the parser does not escape every string when
printing) is measured in a query of its own instead of being batched.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import promql_parser

from incident_operator.domain.durations import format_duration
from incident_operator.domain.sli import (
    TERM_LABEL,
    WINDOW_PLACEHOLDER,
    LatencySli,
    Part,
    RatioSli,
    parts_for,
)
from incident_operator.errors import InvalidIndicator

MAX_LENGTH = 8192
MAX_NODES = 400
MAX_PARENTHESES = 200
MAX_SUBQUERY_STEPS = 11_000
"""Prometheus' own limit on the points of one range query."""


@dataclass(frozen=True)
class Checked:
    parts: dict[Part, str]
    """The expressions to measure, canonical when ``batchable``, else as rendered."""
    batchable: bool


def parse(text: str, what: str) -> promql_parser.Expr:
    """The parse tree of ``text``; InvalidIndicator with the parser's message if it is not
    one bounded PromQL expression free of the reserved label."""
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"{what}: {len(text)} characters, at most {MAX_LENGTH}")
    if text.count("(") > MAX_PARENTHESES:  # the parser's time grows fast with nesting
        raise InvalidIndicator(f"{what}: more than {MAX_PARENTHESES} parentheses")
    try:
        tree = promql_parser.parse(text)
    except (ValueError, TypeError) as exc:
        raise InvalidIndicator(f"{what}: PromQL parse error: {exc}") from None
    problems: list[str] = []
    nodes = 0
    for node in _nodes(tree):
        nodes += 1
        if nodes > MAX_NODES:
            break
        problems.extend(_node_problems(node))
    if TERM_LABEL in str(tree):  # grouping labels, label_join/label_replace targets...
        problems.append(f"uses the reserved label {TERM_LABEL}")
    if nodes > MAX_NODES:
        problems.append(f"more than {MAX_NODES} syntax nodes")
    if problems:
        raise InvalidIndicator(f"{what}: {problems[0]}")
    return tree


def _node_problems(node: promql_parser.Expr) -> Iterator[str]:
    """What is wrong with this one node: the reserved label, or a subquery too fine."""
    if isinstance(node, promql_parser.StringLiteral) and TERM_LABEL in node.val:
        yield f"uses the reserved label {TERM_LABEL}"
    if isinstance(node, promql_parser.VectorSelector) and any(
        TERM_LABEL in (m.name + m.value) for m in _matchers(node)
    ):
        yield f"uses the reserved label {TERM_LABEL}"
    if isinstance(node, promql_parser.SubqueryExpr) and node.step and node.range:
        steps = node.range / node.step
        if steps > MAX_SUBQUERY_STEPS:
            yield f"a subquery of {steps:.0f} steps (at most {MAX_SUBQUERY_STEPS})"


def _nodes(tree: promql_parser.Expr) -> Iterator[promql_parser.Expr]:
    """Every node, depth first. Not ``promql_parser.walk``: it copies the subtree below each
    node it visits (minutes for a few hundred nodes in a chain)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, promql_parser.BinaryExpr):
            stack.extend((node.lhs, node.rhs))
        elif isinstance(
            node, (promql_parser.ParenExpr, promql_parser.UnaryExpr, promql_parser.SubqueryExpr)
        ):
            stack.append(node.expr)
        elif isinstance(node, promql_parser.AggregateExpr):
            stack.append(node.expr)
            if node.param is not None:
                stack.append(node.param)
        elif isinstance(node, promql_parser.Call):
            stack.extend(node.args)
        elif isinstance(node, promql_parser.MatrixSelector):
            stack.append(node.vector_selector)


def _matchers(node: promql_parser.VectorSelector) -> list[promql_parser.Matcher]:
    found = list(node.matchers.matchers)
    for group in node.matchers.or_matchers:
        found.extend(group)
    return found


def canonical(tree: promql_parser.Expr) -> str | None:
    """The tree printed, if that text parses back to the same printed form; else None."""
    printed = str(tree)
    try:
        again = str(promql_parser.parse(printed))
    except (ValueError, TypeError):
        return None
    return printed if again == printed else None


@functools.lru_cache(maxsize=8192)
def problem(sli: RatioSli | LatencySli) -> str | None:
    """What makes the user's own text unacceptable, whatever the window; None: nothing."""
    try:
        if isinstance(sli, RatioSli):
            # The user's texts alone: "x) or vector(1) or sum(y" parses only inside sum(...).
            for name, text in (("errors", sli.errors), ("total", sli.total)):
                parse(text.replace(WINDOW_PLACEHOLDER, "1m"), f"indicator.ratio.{name}")
        else:
            tree = parse(f"{sli.metric}_count{{{sli.selector}}}", "indicator.latency.selector")
            if not isinstance(tree, promql_parser.VectorSelector) or tree.offset or tree.at:
                return 'indicator.latency.selector: label matchers only, e.g. job="checkout"'
    except InvalidIndicator as exc:
        return str(exc)
    return None


def check(sli: RatioSli | LatencySli, window: timedelta, counted: bool) -> Checked:
    """What to query for ``sli`` over ``window``, or InvalidIndicator saying why not."""
    refused = problem(sli)
    if refused is not None:
        raise InvalidIndicator(refused)
    rendered = parts_for(sli, window, counted)
    out: dict[Part, str] = {}
    batchable = True
    for part, text in rendered.items():
        try:  # the checks above hold for the rendered text; it must still parse as a whole
            tree = promql_parser.parse(text)
        except (ValueError, TypeError) as exc:
            raise InvalidIndicator(
                f"{part.value} expression over {format_duration(window)}: PromQL parse error: {exc}"
            ) from None
        printed = canonical(tree)
        if printed is None:
            batchable = False
        else:
            out[part] = printed
    return Checked(out if batchable else rendered, batchable)


def batch_leaves(query: str) -> dict[str, str] | None:
    """Term id -> printed expression of each ``tag``-ged leaf of an ``or`` tree, parsed back
    from the exact text sent; None when the text is not such a tree (then do not send it)."""
    try:
        tree = promql_parser.parse(query)
    except (ValueError, TypeError):
        return None
    out: dict[str, str] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, promql_parser.ParenExpr):
            stack.append(node.expr)
        elif (
            isinstance(node, promql_parser.BinaryExpr)
            and str(node.op) == "or"
            and (node.modifier is None or node.modifier.matching is None)
        ):
            stack.extend((node.lhs, node.rhs))
        elif (
            isinstance(node, promql_parser.Call)
            and node.func.name == "label_replace"
            and len(node.args) == 5
            and all(isinstance(a, promql_parser.StringLiteral) for a in node.args[1:])
        ):
            # label_replace(v, target, replacement, source, regex): "" matches the absent
            # source label of every series, so each one gets target=replacement.
            target, term, source, regex = (
                a.val for a in node.args[1:] if isinstance(a, promql_parser.StringLiteral)
            )
            if target != TERM_LABEL or source or regex or term in out:
                return None
            out[term] = str(node.args[0])
        else:
            return None
    return out
