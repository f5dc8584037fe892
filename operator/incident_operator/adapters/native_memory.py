"""Hand freed native memory back to the operating system (glibc only; elsewhere a no-op).

Parsing one batched query of a thousand SLOs makes promql-parser's Rust allocator (the C
heap) hold ~70 MB for a moment. The parse tree is freed at once, but glibc keeps the free
pages in its arena, so the operator's resident memory stayed ~70-100 MB higher for good.
``malloc_trim`` returns whole free pages; it changes no object and costs a few milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    return trim


def release_free_memory() -> None:
    """Return the C heap's free pages to the operating system, where the libc can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
