"""The service catalog's ports: Services and Teams as the API server has them, and a pager per
team routing key.

A routing key is a secret: the port takes the reference (Secret name and key, in the one
namespace the operator is configured to read catalog Secrets from) and hands back a ready
Pager, so the key's value never reaches a service, a status, a log line or an Event.
"""

from __future__ import annotations

from typing import Protocol

from incident_operator.domain.catalog import SecretRef, TeamWebhook

from .comms_ports import Notifier, Pager
from .ports import Body


class CatalogStore(Protocol):
    async def get_service(self, namespace: str, name: str) -> Body | None:
        """The Service ``namespace/name``, or None when it does not exist."""
        ...

    async def get_team(self, name: str) -> Body | None:
        """The (cluster-scoped) Team ``name``, or None when it does not exist."""
        ...

    async def list_teams(self) -> list[Body]:
        """Every Team (cluster-scoped)."""
        ...


class TeamPagers(Protocol):
    async def pager(self, secret: SecretRef) -> Pager | None:
        """A pager sending with the routing key in ``secret``; None when the Secret or its
        key is missing or unreadable (the caller falls back, and says so)."""
        ...


class TeamWebhooks(Protocol):
    async def notifier(self, webhook: TeamWebhook) -> Notifier | None:
        """A notifier POSTing to ``webhook``'s URL signed with its Secret's key; None when
        the Secret or its key is missing or unreadable (the step's delivery says so)."""
        ...
