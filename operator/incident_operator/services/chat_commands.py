"""Use case: ``/incident`` slash commands and 📌 reactions from chat, applied to Incidents.

Every command is a spec change (or a timeline entry) a responder could make with
``kubectl incident``: the lifecycle service judges the transition and writes status, exactly
as for a ``kubectl patch``, so chat is one more way to express intent, never a second writer
of the lifecycle. The incident of a channel is the one whose ``status.chat.channelId`` names it
(written only by the operator when it opens the channel; services/chat_channels.py): a command
acts on that one incident and nothing else, and a channel claimed by several incidents, or by
none, takes no commands. Labels are never used to route — anyone who may edit an Incident
could set one.

People: Slack says ``<@U123>``; incidents say participant names. The incident's
OnCallRotation (its ``spec.rotationRef``, else its Severity's ``rotationRef``) maps one to the
other through the participants' ``slackUserId``; an unknown user is refused for a role (a role
held by someone the rotation does not know could not be paged) and shows as the raw user id as
an author.

Mitigations: ``/incident mitigate`` lists the suggestions waiting for approval (mode suggest)
and ``/incident mitigate approve [NAME]`` approves one — the same ``spec.approvedMitigations``
entry ``kubectl incident mitigate --approve`` writes, and only for the Slack user who maps to
the incident's commander: approving runs an action against a workload, which the commander
decides. The Slack user must be exactly one participant (by ``slackUserId``) of that rotation,
and that participant must be the commander; a Slack id shared by two participants approves
nothing.

Declaring on a service: ``/incident declare`` without arguments opens a form (a Slack modal:
title, service, severity, private); ``/incident declare --service NAME TITLE`` does the same
without it. The incident is created in the namespace of the chosen Service (and so resolves to
its owner team there), but only where the admin opened chat declarations
(``ChatCommandConfig.declare``, domain/chat_declare.py says why and how); without a service it
lands in ``default_namespace`` as ``default_service``, as before. ``/incident update --public``
without text, in an incident channel, opens a form prefilled with the Severity's drafted
public wording; submitting it is the human acceptance that publishes it.

Repeats: a note and a declaration are keyed by Slack's ``trigger_id``, a form's declaration by
its view id (Slack sends a retried ``view_submission`` for the same view), a pin by channel
and message ts, so a retried request or a re-added reaction changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from incident_operator.adapters.chat_views_port import ChatViews, DeclareChoices
from incident_operator.adapters.ports import Body, Clock, ResourceStore
from incident_operator.api.v1alpha1.severity import StatusPage
from incident_operator.domain import chat_declare, checklists, timeline
from incident_operator.domain.chat_declare import (
    ANY_NAMESPACE,
    DECLARE_CALLBACK,
    PUBLIC_UPDATE_CALLBACK,
    DeclarePolicy,
    DeclareRefused,
    ServiceChoice,
    SeverityChoice,
)
from incident_operator.domain.comms import Impact
from incident_operator.domain.lifecycle import ACTIVE, accepted
from incident_operator.domain.public_draft import Draft, draft
from incident_operator.domain.slack_requests import Command, ReactionAdded, Verb
from incident_operator.domain.status_page import default_public_status
from incident_operator.domain.times import iso
from incident_operator.errors import (
    CommandRefused,
    DeliveryRejected,
    FieldOwnedElsewhere,
    IncidentOperatorError,
)

from .chat_channels import ChannelIndex, channel_of
from .chat_people import ChatPeople
from .chat_replies import HELP, pending_mitigations, pending_reply, status_reply, tasks_reply
from .field_ownership import apply_intent
from .incidents import SERVICE_LABEL
from .status_page import StatusPageIndex

log = logging.getLogger(__name__)

SOURCE = "slack"
MAX_APPROVED = 16
"""IncidentSpec.approvedMitigations' maxItems."""
PUBLIC_UPDATES_MAX, PUBLIC_TEXT_MAX, PUBLIC_AUTHOR_MAX = 50, 2000, 64
"""spec.public.updates' maxItems, and its entries' text and author maxLength."""
STAKEHOLDER_TEXT_MAX = 1000
"""spec.stakeholderUpdate.text's maxLength."""
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class ChatCommandConfig:
    default_namespace: str = "default"
    """Where ``/incident declare`` creates the Incident."""
    default_severity: str = "sev-3"
    default_service: str = "unknown"
    """``spec.service`` of a chat-declared incident (a responder corrects it later)."""
    pin_emoji: str = "pushpin"
    """The reaction that copies a message into the incident's timeline."""
    declare: DeclarePolicy = field(default_factory=DeclarePolicy)
    """Namespaces whose Services chat may declare on (``--chat-declare-namespaces``)."""


@dataclass(frozen=True)
class CommandContext:
    """Who asked, where: from the slash command's form fields."""

    channel_id: str
    user_id: str
    user_name: str = ""
    request_id: str = ""
    """Slack's ``trigger_id``: unique per invocation, the dedup key of what it writes."""


class ChatReader(Protocol):
    """Reading back from chat what an event only points at (real: SlackChat)."""

    async def message_text(self, channel_id: str, ts: str) -> str | None: ...


class ChatCommandExecutor(Protocol):
    """What the web endpoints call; the reply is shown to the user who typed the command."""

    async def execute(self, command: Command, context: CommandContext) -> str: ...

    async def reaction(self, event: ReactionAdded) -> None: ...


class ChatInteractions(Protocol):
    """What the interactivity endpoint calls: a submitted form (the answer for Slack, None
    to close it) and the options of a form's external select menu."""

    async def submit(self, payload: Mapping[str, Any]) -> Body | None: ...

    async def suggest(self, payload: Mapping[str, Any]) -> Body: ...


class ChatCommandService:
    def __init__(
        self,
        store: ResourceStore,
        clock: Clock,
        reader: ChatReader,
        config: ChatCommandConfig | None = None,
        channels: ChannelIndex | None = None,
        *,
        views: ChatViews | None = None,
        choices: DeclareChoices | None = None,
        page: StatusPageIndex | None = None,
    ) -> None:
        """``channels``: the watch-fed channel index (a fresh one is seeded on first use);
        ``views``: opens forms (none: commands take arguments only); ``choices``: the Services
        and Severities a form offers; ``page``: the status page's index, so a drafted public
        wording names the components the page shows (none: the incident's service)."""
        self._page = page
        self._store = store
        self._clock = clock
        self._reader = reader
        self._views = views
        self._choices = choices
        self.config = config or ChatCommandConfig()
        self.channels = channels if channels is not None else ChannelIndex()
        self._people = ChatPeople(store)

    # -- lookups ------------------------------------------------------------------------

    async def incident_keys(self, channel_id: str) -> tuple[tuple[str, str], ...]:
        """(namespace, name) of every incident whose status names the channel."""
        if not _CHANNEL_ID.match(channel_id):
            return ()
        if not self.channels.seeded:
            self.channels.seed(await self._store.find_incidents("", {}))
        return self.channels.incidents(channel_id)

    async def incident_for_channel(self, channel_id: str) -> Body | None:
        """The channel's incident, read fresh; None when no incident, or several, claim it."""
        keys = await self.incident_keys(channel_id)
        if len(keys) != 1:
            if keys:
                log.warning(
                    "chat channel %s is claimed by %d incidents (%s): none takes its commands",
                    channel_id,
                    len(keys),
                    ", ".join(f"{ns}/{name}" for ns, name in keys),
                )
            return None
        body = await self._store.get_incident(*keys[0])
        if body is None or channel_of(body) != channel_id:  # the index lags a change
            return None
        return body

    async def _incident(self, context: CommandContext) -> Body:
        keys = await self.incident_keys(context.channel_id)
        if len(keys) > 1:
            raise CommandRefused(
                f"This channel is claimed by {len(keys)} incidents, so commands from it are "
                "refused rather than applied to the wrong one. Ask the operator's admins to "
                "look at the operator log; use `kubectl incident` meanwhile."
            )
        incident = await self.incident_for_channel(context.channel_id)
        if incident is None:
            raise CommandRefused(
                "This channel is not an incident channel. "
                "Use `/incident declare TITLE` to open an incident."
            )
        return incident

    async def _severity(self, name: str) -> str:
        if await self._store.get_severity(name) is None:
            raise CommandRefused(f"There is no Severity {name}.")
        return name

    # -- commands -----------------------------------------------------------------------

    async def execute(self, command: Command, context: CommandContext) -> str:
        """Apply one command; the reply for the user. CommandRefused when it cannot apply."""
        if command.verb is Verb.HELP:
            return HELP
        if command.verb is Verb.DECLARE:
            return await self._declare(command, context)
        incident = await self._incident(context)
        meta = incident["metadata"]
        where = f"{meta['namespace']}/{meta['name']}"
        if command.verb is Verb.STATUS:
            return status_reply(incident)
        if command.verb is Verb.NOTE:
            await self._note(incident, command.text, context)
            return f"Note added to {where}."
        if command.verb is Verb.UPDATE:
            return await self._public_update(incident, command, context, where)
        if command.verb is Verb.STAKEHOLDER_UPDATE:
            return await self._stakeholder_update(incident, command, context, where)
        if command.verb in (Verb.MITIGATE, Verb.TASK):
            return await self._listed(incident, command, context, where)
        spec, reply = await self._spec_change(incident, command, where)
        if spec is None:
            return reply
        await self._apply(incident, spec)
        await self._record(incident, command, context)
        return reply

    async def _spec_change(
        self, incident: Body, command: Command, where: str
    ) -> tuple[Body | None, str]:
        """The spec change an ack, resolve, sev or role command asks for, and the reply;
        None when it asks nothing new."""
        # The request, not its acceptance: a second /incident ack or resolve asks nothing new.
        state = (incident.get("spec") or {}).get("state", "triage")
        if command.verb is Verb.ACK:
            if state != "triage":
                return None, f"{where} is already {state}."
            return {"state": "investigating"}, f"Acknowledged {where}: investigating."
        if command.verb is Verb.RESOLVE:
            if accepted(state) not in ACTIVE:
                return None, f"{where} is already {state}."
            return {"state": "resolved"}, f"Requested resolved for {where}."
        if command.verb is Verb.SEV:
            severity = await self._severity(command.severity or "")
            return {"severityRef": severity}, f"{where}: severity {severity}."
        # Verb.ROLE
        assert command.person is not None
        name = await self._people.person(incident, command.person)
        return {"roles": {command.role: name}}, f"{where}: {command.role} is {name}."

    async def _approve(self, incident: Body, name: str, context: CommandContext) -> str:
        """Add a pending suggestion to ``spec.approvedMitigations``, as the commander only."""
        meta, spec = incident["metadata"], incident.get("spec") or {}
        where = f"{meta['namespace']}/{meta['name']}"
        who = await self._people.commander_of(incident, context.user_id)
        pending = pending_mitigations(incident)
        approved = list(spec.get("approvedMitigations") or [])
        if not name:
            waiting = [n for n in pending if n not in approved]
            if len(waiting) != 1:
                listed = ", ".join(waiting) if waiting else "none"
                raise CommandRefused(
                    f"Name the mitigation: `/incident mitigate approve NAME` "
                    f"(waiting for approval: {listed})."
                )
            name = waiting[0]
        if name in approved:
            return f"{where}: {name} is already approved."
        if name not in pending:
            listed = ", ".join(pending) or "none"
            raise CommandRefused(
                f"{name} is not a mitigation waiting for approval in {where} (waiting: {listed})."
            )
        if len(approved) >= MAX_APPROVED:
            raise CommandRefused(
                f"{where} already has {MAX_APPROVED} approved mitigations (the most it holds)."
            )
        await self._apply(incident, {"approvedMitigations": [*approved, name]})
        await self._append(
            incident,
            "mitigation",
            f"{name} approved by the commander ({who}) from Slack",
            who,
            f"mitigation/{name}/approved",
        )
        return f"{where}: {name} approved; the operator runs it and reports in the timeline."

    async def _listed(
        self, incident: Body, command: Command, context: CommandContext, where: str
    ) -> str:
        """``mitigate`` and ``task``: the list, or approving / ticking one of it."""
        if command.verb is Verb.MITIGATE:
            if not command.approve:
                return pending_reply(incident)
            return await self._approve(incident, command.mitigation, context)
        if not command.task:
            return tasks_reply(incident)
        return await self._tick(incident, command.task, context, where)

    async def _tick(self, incident: Body, number: int, context: CommandContext, where: str) -> str:
        """Add task ``number`` to ``spec.tasksDone`` (the checklist writer marks it done in
        status) and say who ticked it on the timeline (key ``task/<N>/done``: a retry adds
        nothing). Anyone whose command comes from the incident's channel may, as for a note
        or an ack: the channel is the responders' room."""
        tasks = (incident.get("status") or {}).get("tasks") or []
        task = next((t for t in tasks if isinstance(t, dict) and t.get("number") == number), None)
        if task is None:
            raise CommandRefused(f"{where} has no task {number} (`/incident task` lists them).")
        done = list((incident.get("spec") or {}).get("tasksDone") or [])
        if number in done:
            return f"{where}: task {number} is already done."
        await self._apply(incident, {"tasksDone": sorted({*done, number})})
        author = await self._people.author(incident, context.user_id)
        await self._append(
            incident,
            checklists.DONE_ENTRY,
            f"Task {number} done: {task.get('text', '')}",
            author,
            checklists.done_key(number),
        )
        return f"{where}: task {number} done."

    async def _draft(self, incident: Body) -> Draft:
        """The incident's Severity's suggested public wording at its phase."""
        spec = incident.get("spec") or {}
        severity = await self._store.get_severity(str(spec.get("severityRef") or ""))
        try:
            page = StatusPage.model_validate(
                ((severity or {}).get("spec") or {}).get("statusPage") or {}
            )
        except ValidationError:
            page = StatusPage()
        phase = str((incident.get("status") or {}).get("phase") or "")
        service = str(spec.get("service") or "")
        if self._page is not None:
            namespace = str((incident.get("metadata") or {}).get("namespace") or "")
            further = [str(s) for s in spec.get("services") or []]
            service = self._page.public_service(namespace, [service, *further])
        return draft(page.draft.to_domain(), service, Impact(page.impact.value), phase)

    async def _public_update(
        self,
        incident: Body,
        command: Command,
        context: CommandContext,
        where: str,
        *,
        public_title: str = "",
    ) -> str:
        """Append a public update to ``spec.public.updates`` (the status page shows it);
        a retried request (same text by the same person last) adds nothing. ``draft``:
        show the Severity's suggested wording, or publish it as drafted (``accept``, which
        also sets the drafted title when there is no public title yet)."""
        title: str | None = None
        existing_title = ((incident.get("spec") or {}).get("public") or {}).get("title")
        if public_title and not existing_title:
            title = public_title
        if command.draft == "modal":
            return await self._public_form(incident, command, context, where)
        if command.draft:
            suggested = await self._draft(incident)
            if command.draft == "show":
                return (
                    f"Suggested public update for {where} ({suggested.status}):\n"
                    f"*{suggested.title}*\n{suggested.text}\n"
                    "Publish it with `/incident update --public accept`, or write your own "
                    "with `/incident update --public TEXT`."
                )
            command = replace(
                command, text=suggested.text, status=command.status or suggested.status.value
            )
            title = None if existing_title else suggested.title
        if len(command.text) > PUBLIC_TEXT_MAX:
            raise CommandRefused(
                f"A public update is at most {PUBLIC_TEXT_MAX} characters. Nothing was published."
            )
        author = (await self._people.author(incident, context.user_id))[:PUBLIC_AUTHOR_MAX]
        public = dict((incident.get("spec") or {}).get("public") or {})
        updates = list(public.get("updates") or [])
        last = updates[-1] if updates else {}
        if (last.get("text"), last.get("author")) == (command.text, author):
            return f"{where}: that public update is already published."
        if len(updates) >= PUBLIC_UPDATES_MAX:
            raise CommandRefused(
                f"{where} already has {PUBLIC_UPDATES_MAX} public updates (the most it holds)."
            )
        phase = str((incident.get("status") or {}).get("phase") or "")
        status = command.status or default_public_status(phase).value
        entry = {
            "at": iso(self._clock.now()),
            "status": status,
            "text": command.text,
            "author": author,
        }
        change: Body = {"updates": [*updates, entry]}
        if title is not None:
            change["title"] = title
        await self._apply(incident, {"public": change})
        await self._record(incident, command, context)
        return f"{where}: public update published ({status}); the status page shows it."

    async def _apply(self, incident: Body, spec: Body) -> None:
        """The person's change, by server-side apply; refused where Git declares the field."""
        try:
            await apply_intent(self._store, incident, spec, self._clock.now())
        except FieldOwnedElsewhere as exc:
            meta = incident["metadata"]
            owners = ", ".join(f"`{f}` is declared by {m}" for f, m in exc.fields.items())
            raise CommandRefused(
                f"{meta['namespace']}/{meta['name']}: not changed, {owners}; "
                "change it in Git (a change here would be undone at the next sync)."
            ) from exc

    async def _record(self, incident: Body, command: Command, context: CommandContext) -> None:
        """Who changed the spec from chat (the lifecycle entries say what it became)."""
        if not context.request_id:
            return
        detail = {
            Verb.SEV: f" {command.severity}",
            Verb.ROLE: f" {command.role} {command.person.name if command.person else ''}",
            Verb.UPDATE: " --public",
        }.get(command.verb, "")
        author = await self._people.author(incident, context.user_id)
        await self._append(
            incident,
            "chat-command",
            f"/incident {command.verb}{detail}".strip(),
            author,
            f"slack/command/{context.request_id}",
        )

    async def _note(self, incident: Body, text: str, context: CommandContext) -> None:
        problem = timeline.too_long("note", text)
        if problem is not None:
            raise CommandRefused(
                f"{problem.capitalize()}. Nothing was added: split it into shorter notes."
            )
        key = context.request_id or _digest(context.channel_id, context.user_id, text)
        author = await self._people.author(incident, context.user_id)
        await self._append(incident, "note", text, author, f"slack/note/{key}")

    async def _append(
        self, incident: Body, type_: str, message: str, author: str, key: str
    ) -> None:
        entry = timeline.entry(
            self._clock.now(), type_, message, author=author, source=SOURCE, key=key
        )
        meta = incident["metadata"]
        await self._store.append_timeline(meta["namespace"], meta["name"], [entry])

    async def _stakeholder_update(
        self, incident: Body, command: Command, context: CommandContext, where: str
    ) -> str:
        """Set the next stakeholder update's text and/or ask for it now (the same
        ``spec.stakeholderUpdate`` kubectl incident stakeholder-update writes); neither: the
        latest update and when the next is due."""
        if not command.text and not command.now:
            sent = (incident.get("status") or {}).get("stakeholders") or {}
            latest = sent.get("text") if sent.get("sequence") else "No stakeholder update yet."
            return f"{latest}\nNext due: {sent.get('nextDueAt') or 'none'}"
        if len(command.text) > STAKEHOLDER_TEXT_MAX:
            raise CommandRefused(
                f"A stakeholder update text is at most {STAKEHOLDER_TEXT_MAX} characters. "
                "Nothing was changed."
            )
        change: Body = {}
        if command.text:
            change["text"] = command.text
        if command.now:
            change["requestedAt"] = iso(self._clock.now())
        await self._apply(incident, {"stakeholderUpdate": change})
        await self._record(incident, command, context)
        if command.now:
            return f"{where}: stakeholder update requested; it goes out within seconds."
        return f"{where}: text set for the next stakeholder update."

    async def _declare(self, command: Command, context: CommandContext) -> str:
        """``/incident declare [sev-N] [--service NAME] [--private] TITLE``; no title: the
        form."""
        if command.modal:
            return await self._declare_form(context)
        try:
            choice = await self._choose(command.service) if command.service else None
        except DeclareRefused as exc:
            raise CommandRefused(f"{exc} Nothing was declared.") from exc
        now = self._clock.now()
        seed = context.request_id or f"{context.channel_id}/{context.user_id}/{iso(now)}"
        namespace, name, severity = await self._create(
            command.title,
            command.severity,
            choice,
            private=command.private,
            seed=seed,
            channel_id=context.channel_id,
            who=context.user_name or context.user_id,
        )
        return f"Declared incident {namespace}/{name} ({severity})."

    async def _create(
        self,
        title: str,
        severity_asked: str | None,
        choice: ServiceChoice | None,
        *,
        private: bool,
        seed: str,
        channel_id: str,
        who: str,
    ) -> tuple[str, str, str]:
        """Create the Incident (or find the one this ``seed`` created before); (namespace,
        name, severity)."""
        severity = await self._severity(
            severity_asked or await self._team_severity(choice) or self.config.default_severity
        )
        now = self._clock.now()
        name = declared_name(title, now, seed)
        namespace = choice.namespace if choice is not None else self.config.default_namespace
        service = choice.name if choice is not None else self.config.default_service
        spec: Body = {
            "title": title,
            "service": service,
            "severityRef": severity,
            "state": "triage",
            "source": {"type": "chat", "ref": f"slack:{channel_id}"[:512]},
        }
        if private:
            spec["private"] = True
        body: Body = {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name, "namespace": namespace, "labels": {SERVICE_LABEL: service}},
            "spec": spec,
        }
        created = await self._store.create_incident(namespace, body)
        on = f" on {namespace}/{service}" if choice is not None else ""
        await self._store.append_timeline(
            namespace,
            created["metadata"]["name"],
            [
                timeline.entry(
                    now,
                    "declared",
                    f"Declared from Slack by {who} at {severity}{on}.",
                    author=who,
                    source=SOURCE,
                    key="slack/declared",
                )
            ],
        )
        return namespace, str(created["metadata"]["name"]), severity

    # -- forms (Slack modals) -------------------------------------------------------------

    async def declarable_services(self) -> list[ServiceChoice]:
        """The Services chat may declare on: in the namespaces the policy opens, by name."""
        policy = self.config.declare
        if not policy.enabled or self._choices is None:
            return []
        spaces = [""] if ANY_NAMESPACE in policy.namespaces else sorted(policy.namespaces)
        found: list[ServiceChoice] = []
        for namespace in spaces:
            found += [_service_choice(b) for b in await self._choices.list_services(namespace)]
        return chat_declare.allowed(found, policy)

    async def _choose(self, asked: str) -> ServiceChoice:
        """The Service ``asked`` names, where chat may declare; DeclareRefused otherwise."""
        offered = await self.declarable_services()
        return chat_declare.choose_for_chat(asked, offered, self.config.declare)

    async def _team_severity(self, choice: ServiceChoice | None) -> str:
        """The owner Team's ``defaultSeverity`` for chat declarations ("" when none)."""
        if choice is None or not choice.owner or self._choices is None:
            return ""
        team = await self._choices.get_team(choice.owner)
        return str(((team or {}).get("spec") or {}).get("defaultSeverity") or "")

    async def _severity_choices(self) -> list[SeverityChoice]:
        if self._choices is None:
            return []
        return [_severity_choice(b) for b in await self._choices.list_severities()]

    async def _open(self, context: CommandContext, view: Body) -> None:
        if self._views is None or not context.request_id:
            raise CommandRefused(
                "Forms are not available here: give the arguments, e.g. "
                "`/incident declare sev-2 --service checkout Checkout is slow`."
            )
        try:
            await self._views.open_view(context.request_id, view)
        except DeliveryRejected as exc:
            if exc.code in ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"):
                raise CommandRefused(
                    "The form could not be opened in time; please run the command again."
                ) from exc
            raise

    async def _declare_form(self, context: CommandContext) -> str:
        view = chat_declare.declare_view(
            await self.declarable_services(),
            await self._severity_choices(),
            default_severity=self.config.default_severity,
            private_metadata=chat_declare.metadata(channel=context.channel_id),
        )
        await self._open(context, view)
        return ""

    async def _public_form(
        self, incident: Body, command: Command, context: CommandContext, where: str
    ) -> str:
        suggested = await self._draft(incident)
        has_title = ((incident.get("spec") or {}).get("public") or {}).get("title")
        view = chat_declare.public_update_view(
            where,
            text=suggested.text,
            status=command.status or suggested.status.value,
            title="" if has_title else suggested.title,
            private_metadata=chat_declare.metadata(channel=context.channel_id),
        )
        await self._open(context, view)
        return ""

    async def suggest(self, payload: Mapping[str, Any]) -> Body:
        """Options for the declaration form's service menu (an external_select)."""
        if payload.get("action_id") != "service":
            return {"options": []}
        typed = payload.get("value")
        return chat_declare.service_suggestions(
            await self.declarable_services(), typed if isinstance(typed, str) else ""
        )

    async def submit(self, payload: Mapping[str, Any]) -> Body | None:
        """A submitted form: ``response_action: errors`` naming the field that is wrong
        (nothing written), or an updated view saying what was done."""
        view = payload.get("view")
        user = payload.get("user")
        if not isinstance(view, Mapping) or not isinstance(user, Mapping):
            return None
        user_id = str(user.get("id") or "")
        who = str(user.get("username") or user.get("name") or user_id)
        view_id = str(view.get("id") or "")
        fields = _block_ids(view)
        try:
            if view.get("callback_id") == DECLARE_CALLBACK:
                done = await self._submit_declare(view, view_id, who)
            elif view.get("callback_id") == PUBLIC_UPDATE_CALLBACK:
                done = await self._submit_public(view, view_id, user_id)
            else:
                return None
        except DeclareRefused as exc:
            return _errors(fields, exc.field, str(exc))
        except CommandRefused as exc:
            return _errors(fields, "", str(exc))
        except IncidentOperatorError as exc:  # e.g. the API server is unreachable
            log.warning("Slack form %s: %s", view.get("callback_id"), exc)
            return _errors(fields, "", f"Could not do that right now, please try again: {exc}")
        return {"response_action": "update", "view": _done_view(done)}

    async def _submit_declare(self, view: Mapping[str, Any], view_id: str, who: str) -> str:
        submission = chat_declare.parse_declare(view)
        choice = await self._choose(submission.service) if submission.service else None
        if submission.severity and await self._store.get_severity(submission.severity) is None:
            raise DeclareRefused("severity", f"There is no Severity {submission.severity}.")
        channel = chat_declare.read_metadata(str(view.get("private_metadata") or ""))
        namespace, name, severity = await self._create(
            submission.title,
            submission.severity or None,
            choice,
            private=submission.private,
            seed=f"view/{view_id}",
            channel_id=channel.get("channel", ""),
            who=who,
        )
        return f"Declared incident {namespace}/{name} ({severity})."

    async def _submit_public(self, view: Mapping[str, Any], view_id: str, user_id: str) -> str:
        channel = chat_declare.read_metadata(str(view.get("private_metadata") or ""))
        context = CommandContext(
            channel_id=channel.get("channel", ""), user_id=user_id, request_id=f"view-{view_id}"
        )
        incident = await self._incident(context)
        submission = chat_declare.parse_public_update(view)
        meta = incident["metadata"]
        command = Command(Verb.UPDATE, text=submission.text, status=submission.status)
        return await self._public_update(
            incident,
            command,
            context,
            f"{meta['namespace']}/{meta['name']}",
            public_title=submission.title,
        )

    # -- events -------------------------------------------------------------------------

    async def reaction(self, event: ReactionAdded) -> None:
        """A pin emoji on a message in an incident channel copies it into the timeline."""
        if event.reaction != self.config.pin_emoji:
            return
        incident = await self.incident_for_channel(event.channel)
        if incident is None:
            return
        text = await self._reader.message_text(event.channel, event.ts)
        message = text if text else f"(message {event.ts} could not be read)"
        author = await self._people.author(incident, event.user)
        await self._append(
            incident, "chat-pin", message, author, f"slack/{event.channel}/{event.ts}"
        )


def declared_name(title: str, now: datetime, seed: str) -> str:
    """``<slug>-<yyyymmdd>-<4 hex>``; the hex from the request, so a retry names the same."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "incident"
    return f"{slug}-{now:%Y%m%d}-{_digest(seed)[:4]}"


def _service_choice(body: Body) -> ServiceChoice:
    meta = body.get("metadata") or {}
    return ServiceChoice(
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str((body.get("spec") or {}).get("owner") or ""),
    )


def _severity_choice(body: Body) -> SeverityChoice:
    spec = body.get("spec") or {}
    level = spec.get("level")
    return SeverityChoice(
        str((body.get("metadata") or {}).get("name") or ""),
        level if isinstance(level, int) else 99,
        str(spec.get("displayName") or ""),
    )


def _block_ids(view: Mapping[str, Any]) -> list[str]:
    blocks = view.get("blocks")
    return [
        str(b["block_id"])
        for b in (blocks if isinstance(blocks, list) else [])
        if isinstance(b, Mapping) and b.get("type") == "input" and b.get("block_id")
    ]


def _errors(fields: list[str], field: str, message: str) -> Body:
    """Slack's ``response_action: errors``: keyed by an input block the view has."""
    block = field if field in fields else (fields[0] if fields else field)
    return {"response_action": "errors", "errors": {block: message[:150]}}


def _done_view(text: str) -> Body:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Incident"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
