"""Names and label values derived from user-chosen names: deterministic and always valid.

A Kubernetes label value and a DNS-1123 label hold at most 63 characters; object names users
choose may hold 253. Where a derived value would not fit, it keeps a readable prefix and ends
with a hash of the whole input, so two long inputs never collide and a retry finds the same
name.
"""

from __future__ import annotations

import hashlib

LABEL_MAX = 63
HASH_LENGTH = 10


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def bounded(text: str, limit: int = LABEL_MAX, *, suffix: str = "") -> str:
    """``text + suffix`` when it fits in ``limit``, else a cut of ``text``, a hash, ``suffix``.

    ``text`` is a Kubernetes name (lowercase alphanumerics, '-' and '.'); the result is one
    too, starts and ends with an alphanumeric and is a valid label value when ``limit`` <= 63.
    """
    if len(text) + len(suffix) <= limit:
        return text + suffix
    room = limit - len(suffix) - HASH_LENGTH - 1
    if room < 1:
        raise ValueError(f"no room for a name in {limit} characters with suffix {suffix!r}")
    prefix = text[:room].rstrip("-.")
    return f"{prefix}-{digest(text)}{suffix}" if prefix else f"{digest(text)}{suffix}"


def label_value(text: str) -> str:
    """``text`` as a label value (a selector, never the relationship itself)."""
    return bounded(text, LABEL_MAX)
