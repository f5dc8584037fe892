"""Reading and parsing request bodies from outside, with bounds on size, time and nesting.

Every endpoint that takes a body (Alertmanager, Slack) reads it here, so each bound exists
once:

- size: the body is read no further than ``max_bytes`` (a declared Content-Length above it is
  refused before reading anything);
- time: the whole body must arrive within ``timeout`` seconds, so a client trickling bytes
  cannot hold a request (and its memory) open for as long as it likes;
- nesting: ``json.loads`` recurses once per ``[``/``{``; ten thousand of them raise
  ``RecursionError``, which escaped as a 500 — and a 5xx makes Alertmanager retry the same
  poison payload for ever. Both that and any document nested deeper than ``max_depth`` are
  refused as a client error (400).

Idle connections that never complete their request headers are closed by the server's
keep-alive timeout (handlers/web_server.py), which aiohttp arms from the connection's start.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

READ_TIMEOUT = 10.0
"""Seconds the whole body may take to arrive (Alertmanager and Slack send it at once)."""
MAX_DEPTH = 32
"""Deepest nesting of arrays/objects accepted; the payloads we read need 4."""


class BodyRejected(Exception):
    """The body cannot be taken; ``status`` and ``message`` are the answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(
    request: web.Request, max_bytes: int, *, timeout: float = READ_TIMEOUT
) -> bytes:
    """The raw body; BodyRejected 413 when larger than ``max_bytes``, 408 when too slow."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyRejected(413, f"request body exceeds {max_bytes} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise BodyRejected(413, f"request body exceeds {max_bytes} bytes")
    except TimeoutError:
        raise BodyRejected(408, f"request body not received within {timeout:g} s") from None
    return bytes(body)


def json_depth(document: Any) -> int:
    """How deeply arrays/objects nest in a parsed document (a scalar is 0); iterative."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((item, depth + 1) for item in value)
    return deepest


def parse_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document; BodyRejected 400 for malformed, non-UTF JSON or too deep nesting."""
    too_deep = BodyRejected(400, f"malformed JSON: nested deeper than {max_depth} levels")
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BodyRejected(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # the C parser gives up near the interpreter's recursion limit
        raise too_deep from None
    except ValueError:  # not UTF-8/16/32
        raise BodyRejected(400, "malformed JSON: the body is not UTF-8 text") from None
    if json_depth(document) > max_depth:
        raise too_deep
    return document
