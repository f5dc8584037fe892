"""Executing one comms operation: create the channel, invite, post, pin, announce, archive,
page, notify — each against the real chat, pager or webhook, and each answering with the
status keys it confirmed (``Result``).

Operations are effectively once: after an attempt that was not confirmed (``retry``), a
message or channel is looked up by its idempotency key or name before it is created again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from incident_operator.adapters.comms_ports import Chat, Notifier, Pager
from incident_operator.adapters.ports import Body
from incident_operator.domain import chat_render, outbox, paging
from incident_operator.domain.comms import IncidentSummary
from incident_operator.domain.workflow_actions import card_blocks, card_of
from incident_operator.errors import ChannelNameTaken, DeliveryRejected

from .chat_channels import ChannelIndex
from .comms_escalation import EscalationPagers, direct_text, escalated_summary
from .comms_facts import slack_ids


def escalation_mentions(
    entry: outbox.Entry, roles: Mapping[str, str | None], escalated_to: list[str]
) -> list[str]:
    """Participant names an ``escalated`` entry's chat post mentions.

    A failed mitigation (the outbox re-pages for it) hands the incident back to the commander;
    a response-policy escalation names the person it reached in its message
    (``... to <person> (<target>) ...``, domain/response.escalation_message), who is also in
    ``status.response.escalatedTo`` — the message is matched against that list only, so no
    other word of it can become a mention.
    """
    if entry.type != outbox.ESCALATED:
        return []
    if entry.source in outbox.REPAGED_SOURCES:
        commander = roles.get("commander")
        return [commander] if commander else []
    return [p for p in escalated_to if f" to {p} (" in entry.message]


def _comms_lead(roles: Mapping[str, str | None]) -> str | None:
    """Who a stakeholder update reminder is for: the communications lead, else the commander."""
    return roles.get("communications") or roles.get("commander")


def instructions_text(summary: IncidentSummary, instructions: str) -> str:
    """The role holder's direct message: which incident, then the instructions as written
    (escaped: they cannot mention or link anyone)."""
    return (
        f"Instructions for your role in {chat_render.escape(summary.title)} "
        f"({summary.key}, {chat_render.escape(summary.severity_display or summary.severity)}):"
        f"\n{chat_render.escape(instructions)}"
    )


def status_rendering(summary: IncidentSummary) -> tuple[str, list[dict[str, Any]], str]:
    """(text, blocks, canonical form whose digest is the status message's version)."""
    text = chat_render.status_text(summary)
    blocks = chat_render.status_blocks(summary)
    return text, blocks, json.dumps([text, blocks], sort_keys=True, default=str)


@dataclass(frozen=True)
class Result:
    status: Body
    metadata: Body | None
    delivered: outbox.Delivered


@dataclass(frozen=True)
class Outlets:
    """What a run delivers through: the configured media, the index of which incident holds
    which channel, and the hook that runs before a page or a channel is opened."""

    chat: Chat | None
    pager: Pager | None
    notifiers: Mapping[str, Notifier]
    channels: ChannelIndex | None
    before_opening: Callable[[outbox.Op, Body], Awaitable[None]]


class DeliveryRun:
    """Executes operations for one sync; each returns the status keys it confirmed."""

    def __init__(
        self,
        outlets: Outlets,
        body: Body,
        summary: IncidentSummary,
        wanted: outbox.Wanted,
        delivered: outbox.Delivered,
        *,
        rotation: Body | None = None,
        escalated_to: list[str] | None = None,
        page_route: Body | None = None,
        escalation: EscalationPagers | None = None,
        instructions: Mapping[str, str] | None = None,
    ) -> None:
        """``page_route``: ``{"team", "route"}`` of the pager in the outlets (None values:
        the global key), recorded with a trigger so acknowledge and resolve follow it;
        ``escalation``: the pagers of the escalation steps' own pages; ``instructions``:
        instruction id -> the checklist's private text, for the role holder's message."""
        self.instructions = dict(instructions or {})
        self.escalation = escalation
        self.reaches = {r.level: r for r in wanted.escalations}
        self.page_route = page_route or {"team": None, "route": None}
        self.outlets = outlets
        self.body = body
        self.summary = summary
        self.wanted = wanted
        self.delivered = delivered
        self.rotation = rotation
        self.escalated_to = escalated_to or []
        self.entries = {e.id: e for e in wanted.entries}

    @property
    def chat(self) -> Chat:
        assert self.outlets.chat is not None
        return self.outlets.chat

    @property
    def idempotency_prefix(self) -> str:
        return self.summary.key

    def _chat_status(self, delivered: outbox.Delivered) -> Body:
        return {
            "chat": {
                "channelId": delivered.channel_id,
                "channelName": delivered.channel_name,
                "statusMessageTs": delivered.status_ts,
                "statusDigest": delivered.status_digest,
                "topicDigest": delivered.topic_digest,
                "invited": sorted(delivered.invited),
                "pinned": delivered.pinned,
                "announced": sorted(delivered.announced),
                "posted": sorted(delivered.posted & set(self.entries)),
                "channelPosts": sorted(delivered.channel_posts),
                "archived": delivered.archived,
                "directMessages": sorted(delivered.direct),
                "instructed": sorted(delivered.instructed),
            }
        }

    def _chat_result(self, metadata: Body | None = None, **changes: Any) -> Result:
        after = replace(self.delivered, **changes)
        return Result(self._chat_status(after), metadata, after)

    async def execute(self, op: outbox.Op, *, retry: bool) -> Result:
        kind = outbox.OpKind
        await self.outlets.before_opening(op, self.body)
        if op.target.startswith(outbox.WORKFLOW_TARGET):
            return await self._workflow_page(op.target.removeprefix(outbox.WORKFLOW_TARGET))
        if op.kind is kind.PAGE_ESCALATE or (
            op.kind in (kind.PAGE_ACKNOWLEDGE, kind.PAGE_RESOLVE) and op.target
        ):
            return await self._escalation_page(op)
        if op.kind is kind.DIRECT_MESSAGE:
            return await self._direct_message(op, retry=retry)
        if op.kind is kind.PAGE_TRIGGER and op.target:
            return await self._repage(self.entries[op.target])
        if op.kind in (kind.PAGE_TRIGGER, kind.PAGE_ACKNOWLEDGE, kind.PAGE_RESOLVE):
            return await self._page(op.kind)
        if op.kind is kind.NOTIFY:
            return await self._notify(op)
        return await self._in_chat(op, retry=retry)

    async def _in_chat(self, op: outbox.Op, *, retry: bool) -> Result:
        kind = outbox.OpKind
        if op.kind is kind.CREATE_CHANNEL:
            return await self._create_channel(op.target, retry=retry)
        if op.kind is kind.INVITE:
            missing = sorted(self.wanted.invite - self.delivered.invited)
            await self.chat.invite(op.target, missing)
            return self._chat_result(invited=self.delivered.invited | set(missing))
        if op.kind is kind.TOPIC:
            await self.chat.set_topic(op.target, op.text)
            return self._chat_result(topic_digest=outbox.digest(op.text))
        if op.kind in (kind.POST_STATUS, kind.UPDATE_STATUS):
            return await self._status_message(op, retry=retry)
        if op.kind is kind.PIN_STATUS:
            await self.chat.pin(op.target, self.delivered.status_ts)
            return self._chat_result(pinned=True)
        if op.kind is kind.ANNOUNCE:
            return await self._announce(op.target, retry=retry)
        if op.kind is kind.CHANNEL_POST:
            return await self._channel_post(op, retry=retry)
        if op.kind is kind.POST_ENTRY:
            return await self._post_entry(op, retry=retry)
        if op.kind is kind.ARCHIVE:
            await self.chat.archive(op.target)
            return self._chat_result(archived=True)
        raise AssertionError(f"unknown operation {op.kind}")

    async def _status_message(self, op: outbox.Op, *, retry: bool) -> Result:
        """Post the pinned status message, or edit it in place once it exists."""
        text, blocks, _ = status_rendering(self.summary)
        if op.kind is outbox.OpKind.UPDATE_STATUS:
            await self.chat.update(op.target, self.delivered.status_ts, text, blocks=blocks)
            return self._chat_result(status_digest=op.text)
        ts = await self._post(op.target, text, blocks, f"{self.idempotency_prefix}/status", retry)
        return self._chat_result(status_ts=ts, status_digest=op.text)

    async def _notify(self, op: outbox.Op) -> Result:
        notifier = self.outlets.notifiers[op.target]
        await notifier.notify(
            self.summary,
            event=self.summary.phase,
            idempotency_key=f"{self.idempotency_prefix}/{op.text}",
        )
        notified = {**self.delivered.notified, op.target: op.text}
        after = replace(self.delivered, notified=notified)
        return Result({"notified": {op.target: op.text}}, None, after)

    async def _post_entry(self, op: outbox.Op, *, retry: bool) -> Result:
        entry = self.entries[op.text]
        text = chat_render.timeline_text(entry.type, entry.message, entry.author)
        if entry.type == "update-reminder" and (commander := self.summary.roles.get("commander")):
            text = f"{text} ({commander})"
        if entry.type == "stakeholder-reminder" and (lead := _comms_lead(self.summary.roles)):
            text = f"{text} {self._mention([lead])}"
        if names := escalation_mentions(entry, self.summary.roles, self.escalated_to):
            text = f"{text} {self._mention(names)}"
        blocks = self._card(entry.id, text)
        key = f"{self.idempotency_prefix}/entry/{entry.id}"
        await self._post(op.target, text, blocks, key, retry)
        return self._chat_result(posted=self.delivered.posted | {entry.id})

    def _card(self, post: str, text: str) -> list[dict[str, Any]]:
        """The Block Kit of a workflow card recorded for this post (status.workflows.cards),
        rendered and escaped by the domain; none when the post has no card."""
        workflows = (self.body.get("status") or {}).get("workflows") or {}
        record = (workflows.get("cards") or {}).get(post)
        return card_blocks(card_of(record), text) if isinstance(record, dict) else []

    def _mention(self, names: list[str]) -> str:
        """``<@U…>`` per person with a Slack id in the rotation; the plain name otherwise."""
        mentions = []
        for name in names:
            ids = slack_ids(self.rotation, [name])
            mentions.append(f"<@{next(iter(ids))}>" if ids else chat_render.escape(name))
        return " ".join(mentions)

    async def _post(
        self, channel: str, text: str, blocks: list[dict[str, Any]], key: str, retry: bool
    ) -> str:
        """Post once: after an unconfirmed attempt, find the message by its key first."""
        if retry and not channel.startswith("#"):
            found = await self.chat.find_message(channel, key)
            if found:
                return found
        return await self.chat.post(channel, text, blocks=blocks, idempotency_key=key)

    async def _create_channel(self, name: str, *, retry: bool) -> Result:
        uid = str(self.body["metadata"].get("uid", ""))[:6]
        candidates = [name, chat_render.suffixed(name, 2) if not uid else f"{name[:73]}-{uid}"]
        channel = None
        if retry:  # an earlier attempt may have created it before we could record the id
            for candidate in candidates:
                found = await self.chat.find_channel(candidate)
                if found is not None and not self._claimed(found.id):
                    channel = found
                    break
        if channel is None:
            try:
                channel = await self.chat.create_channel(
                    candidates[0], private=self.summary.private
                )
            except ChannelNameTaken:
                channel = await self.chat.create_channel(
                    candidates[1], private=self.summary.private
                )
        # Only status names the channel (never a label): status.chat.channelId routes its
        # commands and pins (services/chat_channels.py).
        return self._chat_result(channel_id=channel.id, channel_name=channel.name)

    def _claimed(self, channel_id: str) -> bool:
        """Another incident already holds this channel (same name, e.g. same title and day)."""
        index = self.outlets.channels
        meta = self.body["metadata"]
        return index is not None and index.claimed_by_other(
            channel_id, (meta["namespace"], meta["name"])
        )

    async def _announce(self, channel: str, *, retry: bool) -> Result:
        where = f" in <#{self.delivered.channel_id}>" if self.delivered.channel_id else ""
        group = self.wanted.mentions.get(channel)
        text = (
            f":rotating_light: {self.summary.severity_display} declared{where}: "
            f"{chat_render.escape(self.summary.title)} (service {self.summary.service})"
            + (f" <!subteam^{group}>" if group else "")
        )
        key = f"{self.idempotency_prefix}/announce/{channel}"
        if retry and await self._announced_before(channel, key):
            return self._chat_result(announced=self.delivered.announced | {channel})
        await self.chat.post(channel, text, idempotency_key=key)
        return self._chat_result(announced=self.delivered.announced | {channel})

    async def _announced_before(self, channel: str, key: str) -> bool:
        found = await self.chat.find_channel(channel.lstrip("#"))
        return found is not None and bool(await self.chat.find_message(found.id, key))

    async def _channel_post(self, op: outbox.Op, *, retry: bool) -> Result:
        """A workflow's postMessage to a named channel (``#name`` or id), once: after an
        unconfirmed attempt the message is looked up by its key first."""
        workflows = (self.body.get("status") or {}).get("workflows") or {}
        record = (workflows.get("channelPosts") or {}).get(op.text) or {}
        key = f"{self.idempotency_prefix}/workflow/{op.text}"
        if not (retry and await self._posted_before(op.target, key)):
            text = chat_render.timeline_text(
                "workflow-message", str(record.get("text", "")), str(record.get("workflow", ""))
            )
            blocks = self._card(op.text, text)
            await self.chat.post(op.target, text, blocks=blocks, idempotency_key=key)
        return self._chat_result(channel_posts=self.delivered.channel_posts | {op.text})

    async def _posted_before(self, channel: str, key: str) -> bool:
        if channel[:1] in ("C", "G"):  # an id (names are lower case)
            return bool(await self.chat.find_message(channel, key))
        return await self._announced_before(channel, key)

    async def _page(self, kind: outbox.OpKind) -> Result:
        pager = self.outlets.pager
        assert pager is not None
        meta = self.body["metadata"]
        key = paging.dedup_key(meta["namespace"], meta["name"])
        if kind is outbox.OpKind.PAGE_TRIGGER:
            severity_urgency = "high"
            await pager.trigger(self.summary, dedup_key=key, urgency=severity_urgency)
            state = "triggered"
        elif kind is outbox.OpKind.PAGE_ACKNOWLEDGE:
            await pager.acknowledge(key)
            state = "acknowledged"
        else:
            await pager.resolve(key)
            state = "resolved"
        after = replace(self.delivered, page_state=state)
        recorded: Body = {"dedupKey": key, "state": state}
        if kind is outbox.OpKind.PAGE_TRIGGER:
            recorded.update(self.page_route)
        return Result({"pager": recorded}, None, after)

    async def _repage(self, entry: outbox.Entry) -> Result:
        """Trigger the open page again with the incident's dedup key (PagerDuty appends it to
        the alert; the page state is unchanged: an acknowledged alert stays acknowledged)."""
        pager = self.outlets.pager
        assert pager is not None
        meta = self.body["metadata"]
        key = paging.dedup_key(meta["namespace"], meta["name"])
        detail = "\n\n".join(t for t in (entry.message, self.summary.summary) if t)
        await pager.trigger(replace(self.summary, summary=detail), dedup_key=key, urgency="high")
        paged = self.delivered.page_escalations | {entry.id}
        after = replace(self.delivered, page_escalations=paged)
        escalations = sorted(paged & set(self.entries))
        return Result({"pager": {"escalations": escalations}}, None, after)

    async def _direct_message(self, op: outbox.Op, *, retry: bool) -> Result:
        """Tell the person an escalation step reached, in a direct message (once: by key)."""
        if op.text.startswith(outbox.INSTRUCTIONS):
            return await self._instructions(op, retry=retry)
        reach = self.reaches[int(op.text)]
        channel = await self.chat.open_direct(op.target)
        text = direct_text(self.summary, reach, self.delivered.channel_id)
        key = f"{self.idempotency_prefix}/escalation/{reach.level}"
        await self._post(channel, text, [], key, retry)
        return self._chat_result(direct=self.delivered.direct | {reach.level})

    async def _instructions(self, op: outbox.Op, *, retry: bool) -> Result:
        """A checklist's private instructions to the role holder alone, in a direct message
        (once: by key); the text is never logged or recorded."""
        iid = op.text.removeprefix(outbox.INSTRUCTIONS)
        channel = await self.chat.open_direct(op.target)
        text = instructions_text(self.summary, self.instructions.get(iid, ""))
        key = f"{self.idempotency_prefix}/instructions/{iid}"
        await self._post(channel, text, [], key, retry)
        return self._chat_result(instructed=self.delivered.instructed | {iid})

    async def _escalation_page(self, op: outbox.Op) -> Result:
        """An escalation step's own page: triggered on its route, followed up on the same."""
        assert self.escalation is not None
        level = int(op.target)
        meta = self.body["metadata"]
        key = paging.escalation_dedup_key(meta["namespace"], meta["name"], level)
        if op.kind is outbox.OpKind.PAGE_ESCALATE:
            reach = self.reaches[level]
            pager = await self.escalation.for_trigger(reach)
            summary = escalated_summary(self.summary, reach)
            await pager.trigger(summary, dedup_key=key, urgency="high")
            state = "triggered"
        elif op.kind is outbox.OpKind.PAGE_ACKNOWLEDGE:
            await (await self.escalation.for_follow_up(level)).acknowledge(key)
            state = "acknowledged"
        else:
            await (await self.escalation.for_follow_up(level)).resolve(key)
            state = "resolved"
        pages = {**self.delivered.escalation_pages, level: state}
        after = replace(self.delivered, escalation_pages=pages)
        return Result(self.escalation.status(pages), None, after)

    async def _workflow_page(self, page: str) -> Result:
        """Resolve a workflow's page on the key it was triggered with (the only follow-up a
        workflow page is owed: outbox._workflow_pages)."""
        assert self.escalation is not None
        record = (self.body.get("status") or {}).get("pager") or {}
        key = str(((record.get("workflowPages") or {}).get(page) or {}).get("dedupKey", ""))
        if not key:
            raise DeliveryRejected(f"workflow page {page} has no dedup key", code="no_key")
        await (await self.escalation.for_workflow_page(page)).resolve(key)
        pages = {**self.delivered.workflow_pages, page: "resolved"}
        after = replace(self.delivered, workflow_pages=pages)
        return Result({"pager": {"workflowPages": {page: {"state": "resolved"}}}}, None, after)
