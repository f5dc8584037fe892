"""The newest body of each incident this process has seen, so a sync need not GET it.

Watch events bring a body; so does the answer to every write the comms layer makes. Acting
on a body older than the process's own last write would deliver again what that write
recorded as delivered, so a body is handed out only when it is at least as new as that
write (resourceVersions compared as KEP-5504 allows, ``domain/versions``); otherwise, or
when versions cannot be compared, the caller reads fresh.

Bodies are kept only while their incident is being synced (``release``); the version of
the last write is kept until the incident is deleted — one short string per incident.
"""

from __future__ import annotations

from incident_operator.adapters.ports import Body
from incident_operator.domain import versions

Key = tuple[str, str]


class LatestBodies:
    def __init__(self) -> None:
        self._bodies: dict[Key, Body] = {}
        self._written: dict[Key, str] = {}

    def seen(self, key: Key, body: Body) -> None:
        """A body from a watch event or a read; kept when newer than the one held."""
        held = self._bodies.get(key)
        if held is None:
            self._bodies[key] = body
            return
        order = versions.compare(versions.version_of(body), versions.version_of(held))
        if order is None or order > 0:
            self._bodies[key] = body

    def wrote(self, key: Key, body: Body) -> None:
        """The answer to this process's own write: the floor every later body must reach."""
        self._written[key] = versions.version_of(body)
        self.seen(key, body)

    def fresh(self, key: Key) -> Body | None:
        """The held body when it is at least as new as this process's last write."""
        body = self._bodies.get(key)
        if body is None:
            return None
        written = self._written.get(key)
        if written is None:
            return body if versions.comparable(versions.version_of(body)) else None
        return body if versions.at_least(body, written) else None

    def release(self, key: Key) -> None:
        """The sync is over: the body goes (the next event brings a newer one)."""
        self._bodies.pop(key, None)

    def forget(self, key: Key) -> None:
        """The incident is gone."""
        self._bodies.pop(key, None)
        self._written.pop(key, None)

    def __len__(self) -> int:
        return len(self._bodies)
