"""What the communication layer still owes an incident, and when to try again — pure.

Why desired state instead of a queue of messages: what must be true in chat, on the pager and
at the webhooks follows from the incident itself (there is a channel; the pinned status
message shows *this* summary; every timeline entry was posted once; the page is resolved once
the incident is). Comparing that with what was delivered (``Delivered``, kept in the
Incident's status) gives the operations still owed, each with an idempotency key. Nothing is
queued that a crash could lose: after a restart the same comparison yields the same keys.

The outbox proper is the record of attempts (``Attempt``), written *before* each call: an
operation with an earlier, unconfirmed attempt is retried with a look-up first (find the
channel by name, the message by its key), which makes delivery effectively-once on our side
even when the process died between the call and writing its result. Throttling honours
``Retry-After``; failures back off exponentially; after :data:`DEGRADED_AFTER` failed attempts
the channel is reported degraded — and everything still goes out once the service returns.

Paging again (issue 6's closed loop): a mitigation that did not stop the burn leaves an
``escalated`` entry (source ``mitigation``) in the timeline, and the pager owes one more
``page-trigger`` per such entry not yet paged (``Delivered.page_escalations``, kept in
``status.pager.escalations``). It carries the SAME dedup key as the incident's page, which
PagerDuty's Events API v2 documents as follows (developer.pagerduty.com, "Send an Alert
Event", Event Action Behavior):

* ``trigger``: "A new alert is opened or a trigger log entry is created on an existing alert
  if one already exists with the same dedup_key" — so an open page gets the failure appended
  to its log, not a second incident on the responders' phones;
* ``acknowledge``: "While an incident is acknowledged, it won't generate any additional
  notifications, even if it receives new trigger events" — so a trigger does NOT re-notify
  an acknowledged page (there is no "unacknowledge" event in Events v2). We still send it (the
  failure is on the PagerDuty record) and rely on the chat post of the same entry, which
  mentions the commander, to reach the human who acknowledged;
* ``resolve``: "New trigger events with the same ... dedup_key as a resolved incident won't
  re-open the incident. Instead, a new incident will be created" — so nothing is re-triggered
  once the page is resolved (or before the first page: that trigger comes first).

Escalation that reaches people (issue 19): each step of the Severity's response policy that
ran (``status.response.escalations``, :class:`Reach`) is owed, while the incident is still
unacknowledged and paged, a direct message to the person it reached and a page of its own:
a ``page-escalate`` trigger with the dedup key ``<incident's>/escalation/<level>``, to the
named team's routing key for a ``team/<name>`` step and to the incident's otherwise. A new
dedup key is a new alert, so PagerDuty notifies again (an appended trigger on the open alert
would not, once acknowledged); each such page is acknowledged with the incident and resolved
when it leaves the paged phases (or is deleted), like the incident's own page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .lifecycle import Phase


class Medium(StrEnum):
    CHAT = "chat"
    PAGER = "pager"
    WEBHOOK = "webhook"
    EMAIL = "email"


class OpKind(StrEnum):
    CREATE_CHANNEL = "create-channel"
    INVITE = "invite"
    TOPIC = "topic"
    POST_STATUS = "post-status"
    UPDATE_STATUS = "update-status"
    PIN_STATUS = "pin-status"
    ANNOUNCE = "announce"
    POST_ENTRY = "post-entry"
    ARCHIVE = "archive"
    PAGE_TRIGGER = "page-trigger"
    PAGE_ACKNOWLEDGE = "page-acknowledge"
    PAGE_RESOLVE = "page-resolve"
    PAGE_ESCALATE = "page-escalate"
    DIRECT_MESSAGE = "direct-message"
    NOTIFY = "notify"
    CHANNEL_POST = "channel-post"
    """A workflow's postMessage to a named channel (services/workflows.py records it)."""
    STAKEHOLDER_POST = "stakeholder-post"
    """A stakeholder update to a stakeholder channel (services/stakeholders.py)."""
    STAKEHOLDER_NOTIFY = "stakeholder-notify"
    """A stakeholder update to a webhook."""
    SUBSCRIBER_WEBHOOK = "subscriber-webhook"
    """A public update to a status page subscriber's webhook (services/subscriptions.py)."""
    SUBSCRIBER_EMAIL = "subscriber-email"
    """A public update to a status page subscriber's e-mail address."""
    WORKFLOW_WEBHOOK = "workflow-webhook"
    """A workflow's sendWebhook to a Team's webhook (services/workflow_actions.py)."""


MEDIUM: Mapping[OpKind, Medium] = {
    **{k: Medium.CHAT for k in OpKind if not k.startswith(("page-", "notify", "subscriber-"))},
    OpKind.PAGE_TRIGGER: Medium.PAGER,
    OpKind.PAGE_ACKNOWLEDGE: Medium.PAGER,
    OpKind.PAGE_RESOLVE: Medium.PAGER,
    OpKind.PAGE_ESCALATE: Medium.PAGER,
    OpKind.NOTIFY: Medium.WEBHOOK,
    OpKind.STAKEHOLDER_NOTIFY: Medium.WEBHOOK,
    OpKind.SUBSCRIBER_WEBHOOK: Medium.WEBHOOK,
    OpKind.SUBSCRIBER_EMAIL: Medium.EMAIL,
    OpKind.WORKFLOW_WEBHOOK: Medium.WEBHOOK,
}

DEGRADED_AFTER = 3
"""Failed attempts of one operation before its medium is reported degraded."""
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=5)
REJECTED_RETRY = timedelta(minutes=10)
"""A request the service refused is retried slowly: it needs a human (token, scope, channel)."""
RETRY_AFTER_MAX = timedelta(minutes=15)
"""The longest ``Retry-After`` obeyed: a service (or a proxy) asking for an hour would
otherwise hold a page for that hour; past this we ask again and are told again."""
LONGEST_WAIT = max(BACKOFF_MAX, REJECTED_RETRY, RETRY_AFTER_MAX) * 1.25
"""No wait we ever schedule is longer (the spread adds up to a quarter). A ``next_at``
further ahead was written by a clock that ran fast (a node's clock stepped back since): it
is due now, or a page would wait for the clock to catch up."""
ENTRIES_PER_ROUND = 10
"""Timeline posts per sync: Slack allows about one message per second per channel."""

POSTED_TYPES: frozenset[str] = frozenset(
    {
        "declared",
        "state-changed",
        "role-assigned",
        "role-changed",
        "roles-unfilled",
        "escalated",
        "update-reminder",
        "stakeholder-reminder",
        "severity-changed",
        "transition-refused",
        "note",
        "merged-from",
        "mitigation",
        "recent-change",
        "change-correlation",
        "postmortem",
        "slo-blind",
        "alerts-truncated",
        "workflow-message",
        "workflow-ticket",
        "workflow-page",
        "workflow-conference",
    }
)
"""Timeline entries worth a chat message (chat pins came from the channel: never echoed)."""

ECHO_SOURCES: frozenset[str] = frozenset({"slack", "chat"})
"""Entries that came from the channel are already in it."""

PAGED_PHASES: frozenset[Phase] = frozenset({Phase.TRIAGE, Phase.INVESTIGATING, Phase.MITIGATED})

ESCALATED = "escalated"
REPAGED_SOURCES: frozenset[str] = frozenset({"mitigation"})
"""Escalation entries that page again: a failed mitigation hands the incident back to humans.
(The response policy's escalations are not among them: each gets a page of its own, on its
own dedup key, from ``status.response.escalations``; see the module docstring.)"""
OPEN_PAGE_STATES: frozenset[str] = frozenset({"triggered", "acknowledged"})


def digest(text: str) -> str:
    """Short stable fingerprint (content versions, entry identities) for keys and status."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    key: str
    type: str
    message: str
    author: str
    at: datetime
    source: str = ""

    @property
    def id(self) -> str:
        return digest(self.key or f"{self.at.isoformat()}/{self.type}/{self.message}")


@dataclass(frozen=True)
class Reach:
    """One escalation step that ran, as chat and the pager follow it."""

    level: int
    person: str = ""
    """The participant it reached; empty for a team or an empty layer."""
    slack_id: str = ""
    """Their Slack id (the rotation's participant), for the direct message."""
    team: str = ""
    """The Team a ``team/<name>`` step names: its routing key is paged."""


@dataclass(frozen=True)
class Wanted:
    """What the incident and the operator's configuration ask for right now."""

    phase: Phase
    acknowledged: bool
    chat: bool
    """A channel of its own (chat configured and the Severity creates channels)."""
    channel_name: str
    announce: tuple[str, ...]
    invite: frozenset[str]
    """Slack user ids to be in the channel."""
    topic: str
    status_render: str
    """The status message as rendered now, canonically (its digest is the content version)."""
    entries: tuple[Entry, ...]
    archive_on_close: bool
    page: bool
    """Pager configured and the Severity pages."""
    notifiers: tuple[str, ...]
    declared: datetime | None = None
    """Posts start at the channel: entries older than the declaration are not news."""
    reachable: frozenset[Medium] = frozenset(Medium)
    """The media this operator is configured for: what another configuration opened (a page
    when no pager is configured now) is owed nothing, never a call without a client."""
    mentions: Mapping[str, str] = field(default_factory=dict)
    """Announcement channel -> Slack user group id mentioned there (an owning team's)."""
    escalations: tuple[Reach, ...] = ()
    """The response policy's steps that ran (``status.response.escalations``)."""
    channel_posts: tuple[tuple[str, str], ...] = ()
    """(id, channel) of the workflows' posts to named channels (none for a private incident)."""
    team_pages: bool = False
    """Team routing keys can be read (the catalog): workflow pages can be resolved, whether
    or not the incident's own page has a pager."""
    instructions: tuple[tuple[str, str], ...] = ()
    """(instruction id, Slack user id) of the checklists whose private instructions the role
    holder is owed (domain/checklists.py: the text is read from the source when sent)."""


@dataclass(frozen=True)
class Delivered:
    """What earlier syncs confirmed (kept in ``status.chat``/``status.pager``/``notified``)."""

    channel_id: str = ""
    channel_name: str = ""
    status_ts: str = ""
    status_digest: str = ""
    topic_digest: str = ""
    invited: frozenset[str] = frozenset()
    pinned: bool = False
    announced: frozenset[str] = frozenset()
    posted: frozenset[str] = frozenset()
    archived: bool = False
    page_state: str = ""
    """"" | triggered | acknowledged | resolved"""
    page_escalations: frozenset[str] = frozenset()
    """Ids of the escalation entries the page was re-triggered for."""
    notified: Mapping[str, str] = field(default_factory=dict)
    """notifier -> last event key delivered"""
    direct: frozenset[int] = frozenset()
    """Escalation levels whose person was sent a direct message."""
    escalation_pages: Mapping[int, str] = field(default_factory=dict)
    """Escalation level -> state of its own page (triggered | acknowledged | resolved)."""
    channel_posts: frozenset[str] = frozenset()
    """Ids of the workflows' channel posts delivered."""
    workflow_pages: Mapping[str, str] = field(default_factory=dict)
    """Workflow page id -> state (``status.pager.workflowPages``; triggered | resolved)."""
    instructed: frozenset[str] = frozenset()
    """Instruction ids of the checklists whose instructions were sent (``status.chat``)."""


@dataclass(frozen=True)
class Attempt:
    """One operation's delivery record (the outbox entry), written before each call."""

    kind: OpKind
    attempts: int
    next_at: datetime | None = None
    error: str = ""


@dataclass(frozen=True)
class Op:
    key: str
    kind: OpKind
    target: str = ""
    """Channel id or name, notifier name, entry id — what the executor needs to address."""
    text: str = ""

    @property
    def medium(self) -> Medium:
        return MEDIUM[self.kind]


OPENING: frozenset[OpKind] = frozenset(
    {OpKind.CREATE_CHANNEL, OpKind.PAGE_TRIGGER, OpKind.PAGE_ESCALATE}
)
"""Operations that open something outside the cluster the incident's deletion must close."""

REPEATABLE: frozenset[OpKind] = frozenset(
    {OpKind.TOPIC, OpKind.UPDATE_STATUS, OpKind.PAGE_ACKNOWLEDGE, OpKind.PAGE_RESOLVE}
)
"""Operations that set a state rather than add something: done twice, they leave what done
once leaves (a topic, an edited message, a PagerDuty acknowledge or resolve on one dedup key).
They need no attempt on record before the call (a crash before their result is stored
repeats them, harmlessly), so they cost no write before it; their result rides with the
sync's next write. Everything else creates something and is recorded before it is called,
so that a retry looks up before it creates again."""


def winding_down(wanted: Wanted) -> Wanted:
    """The incident is being deleted: owe only what closes (page resolved, channel archived).

    Nothing new is opened or announced; what is still owed to an existing channel goes out
    first, then it is archived (even where channels are kept after close: nobody would
    archive it later).
    """
    return replace(
        wanted,
        phase=Phase.CLOSED,
        chat=False,
        announce=(),
        channel_posts=(),
        invite=frozenset(),
        instructions=(),
        archive_on_close=True,
        notifiers=(),
    )


def notify_event(phase: Phase, severity: str) -> str:
    """The webhook event key: one notification per phase reached (and per severity)."""
    return f"{phase}/{severity}"


def owed(wanted: Wanted, delivered: Delivered, severity: str = "") -> tuple[Op, ...]:
    """Every operation still owed, in the order they must run."""
    ops: list[Op] = []
    ops += _chat(wanted, delivered)
    ops += _direct(wanted, delivered)
    ops += _pager(wanted, delivered)
    ops += _escalation_pages(wanted, delivered)
    for name in wanted.notifiers:
        event = notify_event(wanted.phase, severity)
        if delivered.notified.get(name) != event:
            ops.append(Op(f"notify/{name}/{event}", OpKind.NOTIFY, name, event))
    ops = [op for op in ops if op.medium in wanted.reachable]
    ops.sort(key=_rank)  # stable: the rest keep the order above
    return (*ops, *(_workflow_pages(wanted, delivered) if wanted.team_pages else ()))


FIRST: tuple[OpKind, ...] = (OpKind.UPDATE_STATUS, OpKind.PAGE_ACKNOWLEDGE, OpKind.PAGE_RESOLVE)
"""Run before anything else owed: the pinned status responders read, then the page's
acknowledge or resolve (a phone keeps ringing until it lands). Both are ``REPEATABLE``: no
write precedes them, so they are not queued behind a creating operation's attempt record
(100 incidents changing state at once: the acknowledge came ~2 s after the pinned status,
``benchmarks.comms --unlimited``, issue 15). The topic is not among them: Slack throttles it
hardest, and a throttled call holds back the rest of its medium for the pass."""


def _rank(op: Op) -> int:
    return FIRST.index(op.kind) if op.kind in FIRST else len(FIRST)


def leading_together(ops: Sequence[Op]) -> int:
    """How many operations at the front of ``ops`` run at once: the ``FIRST`` ones, each on a
    medium of its own. They are ``REPEATABLE`` (no attempt record precedes them) and what one
    confirms is no business of the other's, so the page's acknowledge need not wait for the
    pinned status edit's round trip (100 incidents at once: ~0.5 s behind it at p50,
    ``benchmarks.comms --unlimited``, issue 15)."""
    media: set[Medium] = set()
    for op in ops:
        if op.kind not in FIRST or op.kind not in REPEATABLE or op.medium in media:
            break
        media.add(op.medium)
    return len(media)


def merged(base: Delivered, current: Delivered, after: Delivered) -> Delivered:
    """``current`` with what ``after`` changed from ``base``: the confirmation of an operation
    run beside others from the same ``base`` (``leading_together``)."""
    changed = {
        f.name: getattr(after, f.name)
        for f in fields(Delivered)
        if getattr(after, f.name) != getattr(base, f.name)
    }
    return replace(current, **changed)


WORKFLOW_TARGET = "workflow/"
"""Target prefix of a workflow page's operations (the id follows)."""


def _workflow_pages(wanted: Wanted, done: Delivered) -> list[Op]:
    """A workflow's page (triggered by the workflow runner, services/workflows.py) is resolved
    when the incident leaves the paged phases, or is deleted, like the escalation pages. It is
    not acknowledged with the incident: it calls a further team in, whose own acknowledgement
    is at PagerDuty (the incident's acknowledgement is the first responder's)."""
    if wanted.phase in PAGED_PHASES:
        return []
    return [
        Op(f"page/workflow/{page}/resolve", OpKind.PAGE_RESOLVE, f"{WORKFLOW_TARGET}{page}")
        for page, state in sorted(done.workflow_pages.items())
        if state in OPEN_PAGE_STATES or state == UNCONFIRMED
    ]


def _chat(wanted: Wanted, done: Delivered) -> list[Op]:
    ops: list[Op] = []
    if done.archived:
        return ops
    if wanted.chat and not done.channel_id:
        ops.append(Op("channel", OpKind.CREATE_CHANNEL, wanted.channel_name))
        return ops  # everything else in chat needs the channel (announcements link it)
    for channel in wanted.announce:
        if channel not in done.announced:
            ops.append(Op(f"announce/{channel}", OpKind.ANNOUNCE, channel))
    ops += [
        Op(f"channel-post/{post}", OpKind.CHANNEL_POST, channel, post)
        for post, channel in wanted.channel_posts
        if post not in done.channel_posts
    ]
    if not done.channel_id:
        return ops
    channel = done.channel_id
    ops += _upkeep(wanted, done, channel)
    fresh = _unposted(wanted, done)
    ops += [
        Op(f"entry/{e.id}", OpKind.POST_ENTRY, channel, e.id) for e in fresh[:ENTRIES_PER_ROUND]
    ]
    if (
        wanted.phase is Phase.CLOSED
        and wanted.archive_on_close
        and not ops
        and len(fresh) <= ENTRIES_PER_ROUND
    ):
        ops.append(Op("archive", OpKind.ARCHIVE, channel))
    return ops


def _upkeep(wanted: Wanted, done: Delivered, channel: str) -> list[Op]:
    """The open channel's members, pinned status message and topic."""
    ops: list[Op] = []
    missing = sorted(wanted.invite - done.invited)
    if missing:
        ops.append(Op(f"invite/{digest(','.join(missing))}", OpKind.INVITE, channel))
    # The pinned status first: it is what responders look at, and topics are rate-limited harder.
    version = digest(wanted.status_render)
    if not done.status_ts:
        ops.append(Op("status", OpKind.POST_STATUS, channel, version))
    elif version != done.status_digest:
        ops.append(Op(f"status/{version}", OpKind.UPDATE_STATUS, channel, version))
    if digest(wanted.topic) != done.topic_digest:
        ops.append(Op(f"topic/{digest(wanted.topic)}", OpKind.TOPIC, channel, wanted.topic))
    if done.status_ts and not done.pinned:
        ops.append(Op("pin", OpKind.PIN_STATUS, channel))
    return ops


def _unposted(wanted: Wanted, done: Delivered) -> list[Entry]:
    """Timeline entries the channel has not seen yet, oldest first (none from before the
    declaration, none the channel itself produced)."""
    return [
        e
        for e in sorted(wanted.entries, key=lambda e: e.at)
        if e.type in POSTED_TYPES
        and e.source not in ECHO_SOURCES
        and e.id not in done.posted
        and (wanted.declared is None or e.at >= wanted.declared)
    ]


INSTRUCTIONS = "instructions/"
"""Text prefix of a direct message that carries a checklist's instructions (the id follows)."""


def _direct(wanted: Wanted, done: Delivered) -> list[Op]:
    """A direct message to each person an escalation step reached, while it still matters
    (unacknowledged and paged phases), and one to each role holder owed a checklist's private
    instructions (while open), once the incident's channel exists to link."""
    if wanted.phase not in PAGED_PHASES:
        return []
    if wanted.chat and not done.channel_id:
        return []
    ops = [
        Op(f"dm/instructions/{iid}", OpKind.DIRECT_MESSAGE, slack_id, f"{INSTRUCTIONS}{iid}")
        for iid, slack_id in wanted.instructions
        if slack_id and iid not in done.instructed
    ]
    if wanted.acknowledged:
        return ops
    return [
        *(
            Op(f"dm/{r.level}", OpKind.DIRECT_MESSAGE, r.slack_id, str(r.level))
            for r in wanted.escalations
            if r.slack_id and r.level not in done.direct
        ),
        *ops,
    ]


def escalation_page_key(level: int) -> str:
    """The outbox key of an escalation step's trigger (its attempt record)."""
    return f"page/escalation/{level}"


def _escalation_pages(wanted: Wanted, done: Delivered) -> list[Op]:
    """Each escalation step's own page: triggered while unacknowledged, acknowledged with the
    incident, resolved when paging ends; levels known only from the pager's record (the
    response policy dropped them at resolution) are still closed."""
    ops: list[Op] = []
    paging = wanted.page and wanted.phase in PAGED_PHASES
    levels = sorted({r.level for r in wanted.escalations} | set(done.escalation_pages))
    for level in levels:
        state = done.escalation_pages.get(level, "")
        key = escalation_page_key(level)
        if paging and not wanted.acknowledged:
            if state in ("", UNCONFIRMED):
                ops.append(Op(key, OpKind.PAGE_ESCALATE, str(level)))
        elif paging:
            if state in ("triggered", UNCONFIRMED):
                ops.append(Op(f"{key}/acknowledge", OpKind.PAGE_ACKNOWLEDGE, str(level)))
        elif state in OPEN_PAGE_STATES or state == UNCONFIRMED:
            ops.append(Op(f"{key}/resolve", OpKind.PAGE_RESOLVE, str(level)))
    return ops


def repaged(wanted: Wanted) -> tuple[Entry, ...]:
    """The escalation entries that call for another trigger of the open page, oldest first."""
    return tuple(
        e
        for e in sorted(wanted.entries, key=lambda e: e.at)
        if e.type == ESCALATED
        and e.source in REPAGED_SOURCES
        and (wanted.declared is None or e.at >= wanted.declared)
    )


UNCONFIRMED = "unconfirmed"
"""Page state when a trigger was attempted and never confirmed (the process died between the
call and writing its result): the page may be open at PagerDuty."""


def unconfirmed_page(delivered: Delivered, attempts: Mapping[str, Attempt]) -> Delivered:
    """``delivered`` with the page counted as possibly open when a trigger is on record but
    no page state is: the incident may have moved past paging since (the chaos run: a kill
    right after the trigger of an incident a human resolved seconds later left the attempt in
    ``status.outbox`` for good, and a page possibly open). It is triggered again while paging
    is wanted (same dedup key: idempotent) and resolved otherwise."""
    unsure = {
        int(key.rpartition("/")[2]): UNCONFIRMED
        for key, record in attempts.items()
        if record.kind is OpKind.PAGE_ESCALATE
        and key.rpartition("/")[2].isdigit()
        and int(key.rpartition("/")[2]) not in delivered.escalation_pages
    }
    if unsure:
        delivered = replace(delivered, escalation_pages={**delivered.escalation_pages, **unsure})
    record = attempts.get("page/trigger")
    if delivered.page_state or record is None or record.kind is not OpKind.PAGE_TRIGGER:
        return delivered
    return replace(delivered, page_state=UNCONFIRMED)


def _pager(wanted: Wanted, done: Delivered) -> list[Op]:
    if not wanted.page and done.page_state in ("", "resolved"):
        return []
    state = done.page_state
    if wanted.page and wanted.phase in PAGED_PHASES:
        # Paged once: an incident reopened after its page resolved has humans on it already.
        if state in ("", UNCONFIRMED):
            return [Op("page/trigger", OpKind.PAGE_TRIGGER)]
        ops = []
        if wanted.acknowledged and state == "triggered":
            ops.append(Op("page/acknowledge", OpKind.PAGE_ACKNOWLEDGE))
        if state in OPEN_PAGE_STATES:
            # Same dedup key: appended to the open alert (see the module docstring).
            ops += [
                Op(f"page/trigger/{e.id}", OpKind.PAGE_TRIGGER, e.id)
                for e in repaged(wanted)
                if e.id not in done.page_escalations
            ]
        return ops
    if state in OPEN_PAGE_STATES or state == UNCONFIRMED:
        return [Op("page/resolve", OpKind.PAGE_RESOLVE)]
    return []


SUPERSEDED_KINDS = frozenset(
    {
        OpKind.UPDATE_STATUS,
        OpKind.TOPIC,
        OpKind.INVITE,
        OpKind.NOTIFY,
        OpKind.PAGE_ACKNOWLEDGE,
        OpKind.PAGE_RESOLVE,
    }
)
"""Operations keyed by the version they deliver: a newer version replaces an older one, so an
attempt at a version no longer owed will never be retried and must not be kept. The page's
acknowledge and resolve belong here too: a resolve makes a pending acknowledge moot (the chaos
run found one kept in ``status.outbox`` for good after a 500), a reopened incident a pending
resolve; both are idempotent at PagerDuty (the dedup key), so no look-up needs their record."""


def superseded(
    ops: Iterable[Op],
    attempts: Mapping[str, Attempt],
    page_state: str = "",
    escalation_pages: Mapping[int, str] | None = None,
) -> tuple[str, ...]:
    """Attempt keys of versioned operations that are no longer owed (a newer version is, or
    nothing is): they would otherwise stay in ``status.outbox`` for good and keep the medium
    reported degraded. Attempts of other kinds stay: their record is what makes a retry look
    up an earlier, possibly delivered call (a channel, a page) before repeating it — until the
    page is resolved: then no trigger is ever sent again (see the module docstring)."""
    owed_keys = {op.key for op in ops}
    over = page_state == "resolved"
    closed = {
        escalation_page_key(level)
        for level, state in (escalation_pages or {}).items()
        if state == "resolved"
    }
    return tuple(
        sorted(
            key
            for key, attempt in attempts.items()
            if key not in owed_keys
            and (
                attempt.kind in SUPERSEDED_KINDS
                or (over and attempt.kind is OpKind.PAGE_TRIGGER)
                or (key in closed and attempt.kind is OpKind.PAGE_ESCALATE)
            )
        )
    )


def due(ops: Iterable[Op], attempts: Mapping[str, Attempt], now: datetime) -> tuple[Op, ...]:
    """The owed operations whose backoff has passed (or whose wait could not be ours)."""
    out = []
    for op in ops:
        record = attempts.get(op.key)
        if (
            record is None
            or record.next_at is None
            or record.next_at <= now
            or record.next_at - now > LONGEST_WAIT
        ):
            out.append(op)
    return tuple(out)


def backoff(
    attempts: int, *, retry_after: float | None, rejected: bool, key: str = ""
) -> timedelta:
    """How long to wait after the ``attempts``-th failure.

    Up to a quarter more, spread by the operation's key: operations throttled in the same
    instant get the same Retry-After, and retrying them all at once would be throttled again.
    Deterministic (a digest, not a random draw), so the plan stays a pure function.
    """
    if retry_after is not None:
        wait = min(RETRY_AFTER_MAX, timedelta(seconds=max(1.0, retry_after)))
    elif rejected:
        return REJECTED_RETRY
    else:
        grown: timedelta = BACKOFF_BASE * (2 ** max(0, attempts - 1))
        wait = min(BACKOFF_MAX, grown)
    spread = int(digest(f"{key}/{attempts}")[:4], 16) / 0xFFFF / 4 if key else 0.0
    return wait * (1 + spread)


def degraded(attempts: Mapping[str, Attempt], medium: Medium) -> Sequence[tuple[str, Attempt]]:
    """The operations of ``medium`` that failed often enough to call the service degraded."""
    return [
        (key, a)
        for key, a in sorted(attempts.items())
        if MEDIUM[a.kind] is medium and a.attempts >= DEGRADED_AFTER and a.error
    ]
