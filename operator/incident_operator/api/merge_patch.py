"""JSON merge patch (RFC 7386) as the API server applies it to our objects.

Shared by the in-memory store (which must behave like the API server) and the kopf status
writer (which replays a merge patch on the freshest body it knows).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def merge_patch(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` applied: None deletes, objects merge, everything else replaces.

    A new object is merged into an empty one, so it keeps no null members (as stored).
    """
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping):
            current = out.get(key)
            out[key] = merge_patch(current if isinstance(current, Mapping) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def compose(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any] | None:
    """One merge patch with the effect of ``first`` then ``second``; None where there is none.

    Two writes become one request (and one watch event). The one case a single patch cannot
    say: ``first`` replaces or deletes a member that ``second`` then merges an object into
    (applied alone, the object would merge with what the target holds there instead).
    """
    out = copy.deepcopy(dict(first))
    for key, value in second.items():
        if key not in out or not isinstance(value, Mapping):
            out[key] = copy.deepcopy(value)
            continue
        earlier = out[key]
        if not isinstance(earlier, Mapping):
            return None
        nested = compose(earlier, value)
        if nested is None:
            return None
        out[key] = nested
    return out
