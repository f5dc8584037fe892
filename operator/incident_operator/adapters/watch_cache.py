"""The latest body of each watched object, as the watch delivered it — fewer GETs per event.

Every reconcile of an Incident (lifecycle, comms, response policy, mitigation, postmortems)
reads its Severity; with 100 incidents changing at once that was one GET per pass, each a
thread and a round trip, for objects that change a few times a year. kopf already watches
Severities, so the store answers from what the watch delivered (``observe``) or from its own
last GET (``fetched``).

A miss is never an answer: the store reads the API server. Entries expire after ``ttl``: a
deletion that happened while the watch was down (kopf re-lists after an outage but does not
report what vanished) is noticed within that time; any change the watch does deliver is seen
at once.

A 404 is remembered too (for ``missing_ttl``), but only for the ``missing_limit``
names most recently found missing. The names looked up come from Incidents (``severityRef``,
``spec.service``), which namespace tenants write: remembering every 404 would let a tenant
grow the operator's memory without bound by naming objects that do not exist, so the oldest
is forgotten first (and asked of the API server again). Not remembering them at all cost
eight GETs per incident per state change in a cluster without a service catalog (816 404s
for 100 incidents, ``benchmarks.comms --unlimited``, issue 15). A watch event for the name
ends its 404 at once: a Service created while an incident waits is seen when it is created.
"""

from __future__ import annotations

import asyncio
import copy
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from incident_operator.api.bookkeeping import DIFF_BASE, DIFF_BASE_FIELD

from .ports import Body

DEFAULT_TTL = 30.0
DEFAULT_MISSING_LIMIT = 1024
DEFAULT_MISSING_TTL = 300.0
"""A 404 is kept longer than a body: what it can miss is a creation, and kopf's re-listing
after a watch outage reports every object that exists (a deletion it does not report, hence
the bodies' shorter ``ttl``). With one Service name per incident and no catalog, the 30 s
``ttl`` still cost one GET per incident per state change."""


@dataclass
class _Known:
    body: Body
    at: float


@dataclass
class WatchedObjects:
    ttl: float = DEFAULT_TTL
    now: Callable[[], float] = time.monotonic
    missing_limit: int = DEFAULT_MISSING_LIMIT
    missing_ttl: float = DEFAULT_MISSING_TTL
    _known: dict[str, _Known] = field(default_factory=dict)
    _changes: dict[str, int] = field(default_factory=dict)
    _missing: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _reading: dict[str, asyncio.Future[Body | None]] = field(default_factory=dict)

    def observe(self, name: str, body: Body, *, deleted: bool) -> None:
        """A watch event: the object as it is now (or gone: then it is asked for again)."""
        self._missing.pop(name, None)
        if deleted:
            self._known.pop(name, None)
        else:
            self._known[name] = _Known(copy.deepcopy(body), self.now())
        self._changes[name] = self._changes.get(name, 0) + 1

    def lookup(self, name: str) -> tuple[bool, Body | None]:
        """(known, body): known False means ask the API server; (True, None): a GET found
        it missing less than ``missing_ttl`` ago."""
        missing_at = self._missing.get(name)
        if missing_at is not None:
            if self.now() - missing_at <= self.missing_ttl:
                return True, None
            del self._missing[name]
        known = self._known.get(name)
        if known is None or self.now() - known.at > self.ttl:
            return False, None
        return True, copy.deepcopy(known.body)

    def __len__(self) -> int:
        """Objects known (the watch delivered them, or a GET found them)."""
        return len(self._known)

    def version(self, name: str) -> int:
        """Taken before a GET: its answer is kept only if no watch event came meanwhile."""
        return self._changes.get(name, 0)

    def fetched(self, name: str, body: Body | None, version: int) -> None:
        """What a GET returned, unless the watch has since told us more; a 404 (None) is kept
        among the ``missing_limit`` newest (see the module docstring)."""
        if self._changes.get(name, 0) != version:
            return
        if body is not None:
            self._missing.pop(name, None)
            self._known[name] = _Known(copy.deepcopy(body), self.now())
            return
        self._known.pop(name, None)
        self._missing[name] = self.now()
        self._missing.move_to_end(name)
        while len(self._missing) > self.missing_limit:
            self._missing.popitem(last=False)

    async def read(self, name: str, fetch: Callable[[], Awaitable[Body | None]]) -> Body | None:
        """The object by ``name``: from the cache, else by ``fetch`` (a GET; None: 404).

        Callers that miss at the same time share one ``fetch``: when a Severity's entry
        expired, every incident's next pass missed at once, and 100 incidents changing state
        together sent 184 GETs of the same Severity (``benchmarks.comms --unlimited``,
        issue 15). Each caller gets its own copy; a failed ``fetch`` fails them all.
        """
        known, body = self.lookup(name)
        if known:
            return body
        pending = self._reading.get(name)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._reading[name] = pending
            version = self.version(name)
            try:
                found = await fetch()
            except Exception as exc:
                pending.set_exception(exc)
                pending.exception()  # retrieved: no "never retrieved" warning without waiters
                raise
            except BaseException:
                pending.cancel()  # the reader was cancelled: the others read for themselves
                raise
            finally:
                self._reading.pop(name, None)
            self.fetched(name, found, version)
            pending.set_result(found)
            return copy.deepcopy(found)
        try:
            found = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this caller was cancelled
            return await self.read(name, fetch)
        return copy.deepcopy(found)


DEFAULT_RESYNC = 300.0

BOOKKEEPING_ANNOTATIONS = frozenset(
    {
        DIFF_BASE,  # kopf's diff base as earlier versions kept it (api/bookkeeping.py)
        "kubectl.kubernetes.io/last-applied-configuration",  # client-side kubectl apply
    }
)
"""Annotations that repeat the whole spec for their writer's own bookkeeping."""


def slim(body: Body, *, share: bool = False) -> Body:
    """A copy of ``body`` without what no reader of a kept collection uses: the
    ``managedFields`` and what repeats the spec (``BOOKKEEPING_ANNOTATIONS``, kopf's diff base
    in ``status.lastHandledConfiguration``).

    Measured on a Sloth-recorded SLO: 6.2 KB of JSON, 32 KB as Python objects, 15 KB slimmed;
    at 10,000 SLOs every kept copy costs 326 MB in full, 152 MB slimmed, 65 MB with its
    strings interned, 23 MB with equal leaves shared too (``_compact_copy``). Leaves are
    shared only with ``share``: for a collection whose readers never write what it hands out
    (``WatchedCollection``); without, the copy is the reader's own to write.
    """
    meta = dict(body.get("metadata") or {})
    meta.pop("managedFields", None)
    annotations = {
        k: v
        for k, v in (meta.pop("annotations", None) or {}).items()
        if k not in BOOKKEEPING_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    slimmed: Body = {**body, "metadata": meta}
    status = body.get("status")
    if isinstance(status, dict) and DIFF_BASE_FIELD in status:
        slimmed["status"] = {k: v for k, v in status.items() if k != DIFF_BASE_FIELD}
    kept: Body = _compact_copy(slimmed, share=share)
    return kept


def slim_shared(body: Body) -> Body:
    """``slim`` with equal leaves shared across bodies: read what it returns, never write."""
    return slim(body, share=True)


LEAVES_KEPT = 8192
"""How many distinct leaves ``_compact_copy`` remembers; beyond, it starts afresh. Leaves
unique to one version of one object (its metadata) pass through it too: the bound keeps
them from being held after the collection has let them go."""

_leaves: dict[tuple[Any, ...], Any] = {}


def _compact_copy(value: Any, *, share: bool) -> Any:
    """A deep copy of decoded JSON in which equal texts and equal leaves are one object.

    Strings, keys and values, are interned; with ``share``, a leaf (a dict or list holding
    only scalars: a burn rate, a condition, a burn window, an empty list) equal to one copied
    before is that one. A JSON decoder shares nothing between documents: 10,000 SLOs held
    412,000 strings of which 93,000 were distinct, and every SLO its own copies of the same
    conditions and windows (issue 15). Shared leaves are for readers that never write
    (``slim_shared``).
    Anything but JSON's types is deep-copied.
    """
    kind = type(value)
    if kind is str:
        return sys.intern(value)
    if kind is dict:
        copied: Any = {
            (sys.intern(k) if type(k) is str else k): _compact_copy(v, share=share)
            for k, v in value.items()
        }
        items: Any = copied.items()
    elif kind is list:
        copied = [_compact_copy(v, share=share) for v in value]
        items = enumerate(copied)
    elif value is None or kind in (bool, int, float):
        return value
    else:
        return copy.deepcopy(value)
    if not share:
        return copied
    # A leaf only if every value is a scalar; True, 1 and 1.0 (and 0.0 and -0.0) stay apart.
    key: tuple[Any, ...] = (
        kind,
        *((k, type(v), v.hex() if type(v) is float else v) for k, v in items),
    )
    if any(t is dict or t is list for _, t, _ in key[1:]):
        return copied
    try:
        shared = _leaves.get(key)
    except TypeError:
        return copied
    if shared is not None:
        return shared
    if len(_leaves) >= LEAVES_KEPT:
        _leaves.clear()
    _leaves[key] = copied
    return copied


@dataclass
class WatchedCollection:
    """Every object of one kind the watch delivered: the SLO cycle's listing without a LIST.

    Listing a thousand SLOs every cycle was a fifth of the operator's time; kopf watches them
    anyway. The collection is an answer only after a real listing (``listed``) and for
    ``resync`` seconds after it: a deletion missed while the watch was down (kopf re-lists
    after an outage without reporting what vanished) is noticed at the next listing, any
    change the watch delivers at once. Bodies handed out are shared: read them, never write.
    They are kept ``slim_shared``: without managedFields and the annotations that repeat the
    spec, equal leaves one object across bodies.
    """

    resync: float = DEFAULT_RESYNC
    now: Callable[[], float] = time.monotonic
    _bodies: dict[str, Body] = field(default_factory=dict)
    _changes: dict[str, int] = field(default_factory=dict)
    _listed_at: float | None = None

    def observe(self, key: str, body: Body, *, deleted: bool) -> None:
        if deleted:
            self._bodies.pop(key, None)
        else:
            self._bodies[key] = slim_shared(body)
        self._changes[key] = self._changes.get(key, 0) + 1

    def snapshot(self) -> list[Body] | None:
        """Every object, or None: never listed, or the listing is older than ``resync``."""
        if self._listed_at is None or self.now() - self._listed_at > self.resync:
            return None
        return list(self._bodies.values())

    def versions(self) -> dict[str, int]:
        """Taken before a LIST: what the watch reports meanwhile is newer than the LIST."""
        return dict(self._changes)

    def listed(self, keyed: dict[str, Body], before: dict[str, int]) -> list[Body]:
        """A LIST's answer (key -> ``slim_shared`` body, handed over: kept as given); objects the
        watch changed meanwhile keep its word. Returns the listing as kept."""
        moved = {k for k, n in self._changes.items() if before.get(k, 0) != n}
        fresh = {k: b for k, b in keyed.items() if k not in moved}
        fresh.update({k: b for k, b in self._bodies.items() if k in moved})
        self._bodies = fresh
        # Counters only matter while a LIST is in flight: forget the objects that are gone,
        # or creating and deleting SLOs would grow them for ever.
        self._changes = {k: n for k, n in self._changes.items() if k in fresh}
        self._listed_at = self.now()
        return list(fresh.values())
