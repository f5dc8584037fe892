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
