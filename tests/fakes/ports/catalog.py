"""In-memory CatalogStore and TeamPagers: Services by (namespace, name), Teams by name, and
one FakePager per routing key Secret reference (the key's value never exists here)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from incident_operator.domain.catalog import SecretRef, TeamWebhook

from .paging import FakeNotifier, FakePager

Body = dict[str, Any]


@dataclass
class FakeCatalog:
    services: dict[tuple[str, str], Body] = field(default_factory=dict)
    teams: dict[str, Body] = field(default_factory=dict)
    reads: list[tuple[str, str]] = field(default_factory=list)
    """("service", "ns/name") or ("team", name), in order: what was asked for."""
    severities: dict[str, Body] = field(default_factory=dict)
    """What ``list_severities`` answers (DeclareChoices); share a FakeStore's dict."""

    def add_service(self, namespace: str, name: str, **spec: Any) -> None:
        self.services[(namespace, name)] = {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "generation": 1},
            "spec": spec,
        }

    def add_team(self, name: str, **spec: Any) -> None:
        self.teams[name] = {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Team",
            "metadata": {"name": name, "generation": 1},
            "spec": spec,
        }

    async def get_service(self, namespace: str, name: str) -> Body | None:
        self.reads.append(("service", f"{namespace}/{name}"))
        found = self.services.get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list_services(self, namespace: str) -> list[Body]:
        self.reads.append(("services", namespace))
        return [
            copy.deepcopy(body)
            for (ns, _), body in sorted(self.services.items())
            if not namespace or ns == namespace
        ]

    async def list_severities(self) -> list[Body]:
        return [copy.deepcopy(body) for _, body in sorted(self.severities.items())]

    async def list_teams(self) -> list[Body]:
        self.reads.append(("teams", ""))
        return [copy.deepcopy(body) for _, body in sorted(self.teams.items())]

    async def get_team(self, name: str) -> Body | None:
        self.reads.append(("team", name))
        found = self.teams.get(name)
        return copy.deepcopy(found) if found is not None else None


@dataclass
class FakeTeamPagers:
    """``pagers`` per Secret reference; a reference missing here is a missing Secret."""

    pagers: dict[SecretRef, FakePager] = field(default_factory=dict)
    errors: dict[SecretRef, Exception] = field(default_factory=dict)
    """Raised for that reference (e.g. PermanentError for a 403), as the adapter would."""

    def add(self, name: str, key: str) -> FakePager:
        pager = self.pagers[SecretRef(name, key)] = FakePager()
        return pager

    async def pager(self, secret: SecretRef) -> FakePager | None:
        if secret in self.errors:
            raise self.errors[secret]
        return self.pagers.get(secret)


@dataclass
class FakeTeamWebhooks:
    """One FakeNotifier per webhook signing Secret reference and URL; a reference missing
    here is a missing Secret (``notifier`` answers None, as the adapter does)."""

    notifiers: dict[tuple[SecretRef, str], FakeNotifier] = field(default_factory=dict)

    def add(self, name: str, key: str, url: str) -> FakeNotifier:
        notifier = self.notifiers[(SecretRef(name, key), url)] = FakeNotifier()
        return notifier

    async def notifier(self, webhook: TeamWebhook) -> FakeNotifier | None:
        return self.notifiers.get((webhook.secret, webhook.url))
