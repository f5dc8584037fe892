"""The incident timeline: append-only, deduplicated by key, ordered, bounded — pure.

Every writer (SLO engine, lifecycle, response policy, chat, mitigations) appends entries with
a dedup key; this module merges them into what is stored. The bound matters because the
timeline lives in the Incident's status and etcd refuses objects over ~1.5 MiB: a long
incident with chatty chat pins must never make its own status unwritable.

When an append would exceed :data:`MAX_ENTRIES` entries or :data:`MAX_BYTES` of JSON, the
oldest *detail* is folded into a :class:`Summary` (counts by type and the span folded), and
the milestones that tell the story — declaration, state changes, roles, escalations,
severity changes — are folded only if detail alone cannot make room. Once something was
folded, an entry older than the oldest kept one is not added (its key may have been folded
away, so a writer re-sending it must not resurrect it); milestones are kept from the start, so
this floor stays at the declaration unless the milestones themselves overflowed.

Entries are plain mappings with at least ``at`` (RFC 3339 string) and ``type``; ``key`` is
optional. Strings of the same UTC format sort like instants, which is what the writers store.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .times import iso

Entry = Mapping[str, Any]

TYPE_MAX = 64
MESSAGE_MAX = 4096
AUTHOR_MAX = 256
SOURCE_MAX = 64
KEY_MAX = 256
"""The schema's bounds on an entry's fields (api/v1alpha1/incident.TimelineEntry)."""

MAX_ENTRIES = 400
"""Below the schema's 500 so a summary never has to race the API server's own limit."""
MAX_BYTES = 256 * 1024
"""JSON size of the stored timeline: a sixth of etcd's default request limit."""

MILESTONE_TYPES: frozenset[str] = frozenset(
    {
        "declared",
        "state-changed",
        "role-assigned",
        "role-changed",
        "roles-unfilled",
        "escalated",
        "severity-changed",
        "merged",
        "merged-from",
    }
)
"""Types kept longest: the postmortem's key moments come from them."""


@dataclass(frozen=True)
class Summary:
    """What was folded out: how many entries, by type, and the span they covered."""

    entries: int = 0
    by_type: Mapping[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None

    def add(self, folded: Sequence[Entry]) -> Summary:
        if not folded:
            return self
        counts = Counter(dict(self.by_type))
        counts.update(str(e.get("type", "")) for e in folded)
        ats = [str(e.get("at", "")) for e in folded]
        return Summary(
            self.entries + len(folded),
            dict(sorted(counts.items())),
            min([a for a in (self.first, *ats) if a]),
            max([a for a in (self.last, *ats) if a]),
        )


@dataclass(frozen=True)
class Merged:
    entries: list[Entry]
    summary: Summary


def too_long(what: str, text: str, limit: int = MESSAGE_MAX) -> str | None:
    """Why a person's ``text`` does not fit the timeline, or None.

    ``entry`` cuts the operator's own texts to fit; a person's words are refused whole
    instead, never cut short (kubectl and Slack notes).
    """
    if len(text) <= limit:
        return None
    return f"the {what} has {len(text)} characters, the timeline holds at most {limit}"


def entry(
    at: datetime,
    type_: str,
    message: str,
    *,
    source: str,
    key: str = "",
    author: str = "",
) -> dict[str, str]:
    """One entry as the writers store it: ``at`` in UTC (``Z``), every text cut to the
    schema's bound so a long message or name can never make the whole append fail.

    ``key`` (the dedup key) and ``author`` are left out when empty.
    """
    out = {
        "at": iso(at),
        "type": type_[:TYPE_MAX],
        "message": message[:MESSAGE_MAX],
    }
    if author:
        out["author"] = author[:AUTHOR_MAX]
    out["source"] = source[:SOURCE_MAX]
    if key:
        out["key"] = key[:KEY_MAX]
    return out


def _size(entries: Sequence[Entry]) -> int:
    return len(json.dumps(list(entries), separators=(",", ":"), default=str))


def merge(
    existing: Sequence[Entry],
    new: Sequence[Entry],
    summary: Summary | None = None,
    *,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Merged | None:
    """``existing`` plus the entries of ``new`` it lacks, ordered and bounded; None: no change."""
    summary = summary or Summary()
    keys = {e.get("key") for e in existing if e.get("key")}
    floor = min((str(e.get("at", "")) for e in existing), default=None) if summary.entries else None
    fresh: list[Entry] = []
    for e in new:
        key = e.get("key")
        if key and key in keys:
            continue
        if floor is not None and str(e.get("at", "")) < floor:
            continue
        if key:
            keys.add(key)
        fresh.append(e)
    if not fresh:
        return None
    ordered = sorted([*existing, *fresh], key=lambda e: str(e.get("at", "")))
    kept, folded = bound(ordered, max_entries=max_entries, max_bytes=max_bytes)
    return Merged(kept, summary.add(folded))


def bound(
    ordered: Sequence[Entry], *, max_entries: int, max_bytes: int
) -> tuple[list[Entry], list[Entry]]:
    """(kept, folded): fold the oldest detail first, then the oldest milestones, until it fits.

    A fold always takes a prefix in time of its class, so what is kept of each class is its
    newest part, and a summary's span never overlaps a kept detail entry of the same class.
    """
    kept = list(ordered)
    folded: list[Entry] = []
    size = _size(kept)

    def fits() -> bool:
        return len(kept) <= max_entries and size <= max_bytes

    for milestones in (False, True):
        index = 0
        while not fits() and index < len(kept):
            e = kept[index]
            if (str(e.get("type", "")) in MILESTONE_TYPES) == milestones:
                kept.pop(index)
                folded.append(e)
                size -= len(json.dumps(e, separators=(",", ":"), default=str)) + 1
            else:
                index += 1
    return kept, folded
