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

Only objects that exist are kept. The names looked up come from Incidents (``severityRef``),
which namespace tenants write: remembering every 404 would let a tenant grow the operator's
memory without bound by naming Severities that do not exist. A missing name is asked of the
API server each time; the entries are bounded by the Severities a cluster admin created.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .ports import Body

DEFAULT_TTL = 30.0


@dataclass
class _Known:
    body: Body
    at: float


@dataclass
class WatchedObjects:
    ttl: float = DEFAULT_TTL
    now: Callable[[], float] = time.monotonic
    _known: dict[str, _Known] = field(default_factory=dict)
    _changes: dict[str, int] = field(default_factory=dict)

    def observe(self, name: str, body: Body, *, deleted: bool) -> None:
        """A watch event: the object as it is now (or gone: then it is asked for again)."""
        if deleted:
            self._known.pop(name, None)
        else:
            self._known[name] = _Known(copy.deepcopy(body), self.now())
        self._changes[name] = self._changes.get(name, 0) + 1

    def lookup(self, name: str) -> tuple[bool, Body | None]:
        """(known, body): known False means ask the API server."""
        known = self._known.get(name)
        if known is None or self.now() - known.at > self.ttl:
            return False, None
        return True, copy.deepcopy(known.body)

    def version(self, name: str) -> int:
        """Taken before a GET: its answer is kept only if no watch event came meanwhile."""
        return self._changes.get(name, 0)

    def fetched(self, name: str, body: Body | None, version: int) -> None:
        """What a GET returned, unless the watch has since told us more; a 404 (None) is not
        kept (see the module docstring)."""
        if body is not None and self._changes.get(name, 0) == version:
            self._known[name] = _Known(copy.deepcopy(body), self.now())
