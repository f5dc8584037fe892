"""Keep native memory small: few malloc arenas, freed pages handed back (glibc only).

Parsing one batched query of a thousand SLOs makes promql-parser's Rust allocator (the C
heap) hold ~70 MB for a moment. The parse tree is freed at once, but glibc keeps the free
pages in its arena, so the operator's resident memory stayed ~70-100 MB higher for good.
``malloc_trim`` returns whole free pages; it changes no object and costs a few milliseconds.

glibc also gives each thread that allocates its own arena, up to eight per core, and each
arena keeps its own free pages. The blocking Kubernetes client runs in a pool of 24 threads,
so the operator held ~23 MB more with 1,000 SLOs than with two arenas (264 vs 241 MB,
``benchmarks.scale --mode raw --slos 1000``, ``MALLOC_ARENA_MAX=2``). Two arenas is what
``MALLOC_ARENA_MAX=2`` sets; a value from the environment wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before threads start); True if the cap was set.

    ``MALLOC_ARENA_MAX`` in the environment, read by glibc itself, is left to stand.
    """
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = libc.mallopt
    except AttributeError:  # not glibc
        return False
    return bool(mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    if libc is None:
        return None
    try:
        trim: Callable[[int], int] = libc.malloc_trim
    except AttributeError:  # not glibc (musl, macOS)
        return None
    return trim


def release_free_memory() -> None:
    """Return the C heap's free pages to the operating system, where the libc can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
