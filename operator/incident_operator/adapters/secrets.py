"""Shared secrets the operator is started with, never printed.

A Secret mounted as a volume is updated in place by the kubelet when it is rotated, so the
file is re-read whenever it changes instead of once at start-up. Neither class shows its value
in ``repr`` and no log line or exception here contains it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class StaticToken:
    """A token given in the environment (e.g. a ``secretKeyRef`` env var)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip().encode()

    def current(self) -> bytes | None:
        return self._value or None

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"


class FileToken:
    """A token in a file; surrounding whitespace (the trailing newline) is not part of it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int, int] | None = None
        self._value: bytes | None = None
        self._unreadable = False

    def current(self) -> bytes | None:
        try:
            # stat follows the kubelet's ..data symlink, so a rotation changes the identity.
            info = os.stat(self.path)
            identity = (info.st_ino, info.st_mtime_ns, info.st_size)
            if identity != self._seen:
                self._value = self.path.read_bytes().strip() or None
                self._seen = identity
                if self._value is None:
                    log.warning("token file %s is empty", self.path)
        except OSError as exc:
            if not self._unreadable:  # once per outage, not once per request
                log.warning("cannot read token file %s: %s", self.path, exc.strerror)
            self._unreadable = True
            self._seen, self._value = None, None
            return None
        self._unreadable = False
        return self._value

    def __repr__(self) -> str:
        return f"FileToken({str(self.path)!r})"
