"""Slack modals and what they offer: the ports the ``/incident declare`` and
``/incident update --public`` modals need.

``ChatViews`` opens a modal for the user who typed a command (real: SlackChat on
``views.open``, which exchanges the command's ``trigger_id``: valid 3 seconds, once).
``DeclareChoices`` lists what the declaration modal offers: Services (in one namespace, or
every namespace the operator watches), Severities and the owner Team's default severity
(real: KubernetesCatalog, with the operator's list rights).
"""

from __future__ import annotations

from typing import Protocol

from .ports import Body


class ChatViews(Protocol):
    async def open_view(self, trigger_id: str, view: Body) -> str:
        """Open ``view`` for the user behind ``trigger_id``; the view's id. DeliveryRejected
        (code ``expired_trigger_id``, ``exchanged_trigger_id``, ``invalid_trigger_id``) when
        the trigger cannot be used."""
        ...


class DeclareChoices(Protocol):
    async def list_services(self, namespace: str) -> list[Body]:
        """Services in ``namespace`` ("" every namespace)."""
        ...

    async def list_severities(self) -> list[Body]: ...

    async def get_team(self, name: str) -> Body | None:
        """The Team ``name`` (its ``defaultSeverity`` for chat declarations), or None."""
        ...
