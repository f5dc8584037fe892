"""What the listing commands print, the way kubectl prints it; and stopping a watch cleanly.

``-o name`` is ``incident.sre.dev/NAME`` one per line; ``-o json|yaml`` a ``v1 List`` (while
watching, one document per object instead); ``-o wide`` more columns. Nothing is coloured, on a
terminal or not, so pipes and ``grep`` see plain text.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any, TextIO

import yaml

from incident_operator import GROUP

RESOURCE = f"incident.{GROUP}"
LIST_FORMATS = ("json", "yaml", "wide", "name")
GAP = "   "


def resource_name(body: Mapping[str, Any]) -> str:
    """``incident.sre.dev/NAME``, as ``kubectl get -o name`` prints it."""
    return f"{RESOURCE}/{body['metadata']['name']}"


def kube_list(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """kubectl's ``-o json`` wrapper around several objects."""
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": list(items),
        "metadata": {"resourceVersion": ""},
    }


def document(value: Any, fmt: str) -> str:
    """One JSON or YAML document, newline-terminated (YAML starts with ``---``)."""
    if fmt == "json":
        return json.dumps(value, indent=2) + "\n"
    return "---\n" + yaml.safe_dump(value, sort_keys=False, width=1 << 20)


def widths(rows: Sequence[Sequence[str]]) -> list[int]:
    return [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]


def aligned(row: Sequence[str], column_widths: Sequence[int]) -> str:
    """A row padded to ``column_widths``; a wider cell pushes the rest right, as kubectl -w."""
    return GAP.join(cell.ljust(w) for cell, w in zip(row, column_widths, strict=True)).rstrip()


def one_line(text: str) -> str:
    """A message as one table cell: line breaks become spaces."""
    return " ".join(str(text).split())


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""What ends a ``--watch``/``--follow`` loop cleanly: Ctrl-C, and SIGTERM from a supervisor."""


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Within: SIGINT and SIGTERM stop like Ctrl-C (KeyboardInterrupt), so a watch ends cleanly.

    SIGINT too, explicitly: a process started with SIGINT ignored (any background job of a
    non-interactive shell, e.g. a CI script's ``cmd &``) inherits that, and Python then leaves
    it ignored, so Ctrl-C's signal sent to the watch was dropped and it ran on (the e2e run
    waited 30 s for it). kubectl's own watches take SIGINT the same way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def stream_until_interrupted(out: TextIO, texts: Iterable[str]) -> None:
    """Flush what was printed so far, then print each of ``texts`` as it comes, until Ctrl-C
    or SIGTERM (or ``texts`` ends): the ``--watch``/``--follow`` loop.

    Both interrupts are handled *before* the first flush: a reader that sees the output and
    stops the process at once (a person, or a test under load) must meet the clean end, not
    the default 130 or death by SIGTERM (the e2e run saw 130 once when the signal landed
    between the flush and the handler)."""
    try:
        with stop_signals_interrupt():
            out.flush()
            for text in texts:
                if text:
                    out.write(text)
                    out.flush()
    except KeyboardInterrupt:
        pass
