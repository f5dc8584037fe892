"""Run an aiohttp fake on its own event loop in a thread, for synchronous e2e tests.

The e2e tests drive the operator process and poll the API server synchronously; the SaaS
fakes are asyncio servers. A thread with its own loop serves them on a real port while the
test inspects their recorded state (reads of lists/dicts are safe under the GIL) and calls
fault injection through :meth:`Threaded.call`, which runs on the fake's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Startable(Protocol):
    async def stop(self) -> None: ...


class Threaded:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the fake's loop and return its result."""

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)


@contextmanager
def serving(
    fake: Startable, start: Callable[[], Coroutine[Any, Any, str]]
) -> Iterator[tuple[str, Threaded]]:
    """Start ``fake`` (``start()`` returns its URL) in a thread; stop it on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake", daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
        yield url, Threaded(loop)
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
