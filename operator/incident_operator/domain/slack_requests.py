"""What Slack sends us: request signatures, ``/incident`` commands, Events API payloads — pure.

Kept out of the web layer so the security check (signature, replay window) and the command
grammar are tested without a server, and the clock comes in as ``now`` (a stale request is a
fact about two instants, not about the machine's clock).

Signature: Slack signs ``v0:{X-Slack-Request-Timestamp}:{raw body}`` with HMAC-SHA256 under
the app's signing secret and sends ``v0=<hex>`` in ``X-Slack-Signature``; requests older than
five minutes are to be refused to stop replays (api.slack.com/authentication/verifying-requests).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

VERSION = "v0"
DEFAULT_WINDOW = timedelta(minutes=5)


class Rejection(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    STALE = "stale"
    FUTURE = "future"
    FORGED = "forged"


class RequestRejected(Exception):
    """The request is not provably from Slack now; nothing in it may be acted upon.

    The message names the reason only: never the expected signature or the secret.
    """

    def __init__(self, reason: Rejection, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sign(signing_secret: bytes, timestamp: str, body: bytes) -> str:
    """``v0=<hex>`` as Slack computes it (tests and the Slack fake sign with this too)."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(signing_secret, base, hashlib.sha256).hexdigest()


def verify_signature(
    signing_secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    *,
    window: timedelta = DEFAULT_WINDOW,
) -> None:
    """Raise RequestRejected unless the body was signed with the secret within ``window``.

    The timestamp is checked first (cheap, and a replayed old request is refused even when its
    signature is genuine); the comparison is constant-time.
    """
    if not timestamp or not signature:
        raise RequestRejected(
            Rejection.MISSING, "missing X-Slack-Request-Timestamp or X-Slack-Signature"
        )
    if not signing_secret:
        raise RequestRejected(Rejection.MISSING, "no signing secret configured")
    try:
        sent = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise RequestRejected(
            Rejection.MALFORMED, "X-Slack-Request-Timestamp is not a Unix time"
        ) from None
    if sent < now - window:
        raise RequestRejected(Rejection.STALE, f"request timestamp older than {window}")
    if sent > now + window:
        raise RequestRejected(Rejection.FUTURE, f"request timestamp more than {window} ahead")
    expected = sign(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise RequestRejected(Rejection.FORGED, "signature does not match")


# -- /incident commands -------------------------------------------------------------------

USAGE = (
    "Usage: /incident declare [sev-N] [--service NAME] [--private] [TITLE] | status | ack | "
    "sev LEVEL | role ROLE @person | note TEXT | "
    "update --public [--status STATUS] [TEXT|draft|accept] | mitigate [approve [NAME]] | "
    "task [done N] | resolve | help"
)
PUBLIC_STATUSES = ("investigating", "identified", "monitoring", "resolved")
ROLES = ("commander", "communications", "operations", "scribe")
ROLE_ALIASES = {"ic": "commander", "comms": "communications", "ops": "operations"}
_SEVERITY = re.compile(r"^(?:sev-?)?([1-9])$", re.IGNORECASE)
_SEVERITY_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|([^>]*))?>$")
_PERSON_NAME = re.compile(r"^@?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$")


class CommandError(ValueError):
    """The command cannot be understood; ``str()`` is one line to show to the user."""


class Verb(StrEnum):
    DECLARE = "declare"
    STATUS = "status"
    ACK = "ack"
    SEV = "sev"
    ROLE = "role"
    NOTE = "note"
    UPDATE = "update"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    HELP = "help"
    STAKEHOLDER_UPDATE = "stakeholder-update"
    TASK = "task"


@dataclass(frozen=True)
class Person:
    """Who a ``role`` command names: a Slack user (mention) or a participant name."""

    user_id: str | None
    name: str
    """Participant name, or the display name from ``<@U123|name>`` (may be empty)."""


@dataclass(frozen=True)
class Command:
    verb: Verb
    title: str = ""
    severity: str | None = None
    """``sev-N`` or a Severity's name (declare, sev)."""
    role: str = ""
    person: Person | None = None
    text: str = ""
    approve: bool = False
    """mitigate: approve a suggested mitigation (False: list the pending suggestions)."""
    mitigation: str = ""
    """mitigate approve: the suggestion's name ("": the only pending one)."""
    status: str = ""
    """update: the public status (investigating, identified, monitoring, resolved); "": where
    the incident's phase stands."""
    draft: str = ""
    """update: ``show`` the suggested wording, ``accept`` it (publish it as drafted), or
    ``modal``: open a form prefilled with it (``update --public`` without text)."""
    now: bool = False
    """stakeholder-update: send the next stakeholder update now."""
    service: str = ""
    """declare: the Service (``name`` or ``namespace/name``); "": none named."""
    private: bool = False
    """declare: a private incident."""
    task: int = 0
    """task done: the task's number (0: list the tasks)."""

    @property
    def modal(self) -> bool:
        """``declare`` without a title, or ``update --public`` without a text: a form."""
        return (self.verb is Verb.DECLARE and not self.title) or self.draft == "modal"


_USAGES = {
    Verb.DECLARE: "Usage: /incident declare [sev-N] TITLE (before the title: --service NAME, "
    "--private; no arguments: a form)",
    Verb.SEV: "Usage: /incident sev LEVEL (e.g. sev 2 or sev sev-2)",
    Verb.ROLE: f"Usage: /incident role ROLE @person (ROLE: {', '.join(ROLES)})",
    Verb.NOTE: "Usage: /incident note TEXT",
    Verb.UPDATE: "Usage: /incident update --public [--status STATUS] TEXT|draft|accept (STATUS: "
    + ", ".join(PUBLIC_STATUSES)
    + "; only public updates for now)",
    Verb.MITIGATE: "Usage: /incident mitigate [approve [NAME]]",
    Verb.STAKEHOLDER_UPDATE: "Usage: /incident stakeholder-update [--now] [TEXT]",
    Verb.TASK: "Usage: /incident task [done N] (N: the task's number in the status message)",
}


def severity_name(level: str) -> str | None:
    """``2``, ``sev2``, ``SEV-2`` -> ``sev-2``; another Severity name as is; None if invalid."""
    if match := _SEVERITY.match(level):
        return f"sev-{match.group(1)}"
    lowered = level.lower()
    return lowered if _SEVERITY_NAME.match(lowered) else None


def person(text: str) -> Person | None:
    """``<@U123|alice>``, ``<@U123>`` or ``alice``/``@alice`` (a participant name)."""
    if match := _MENTION.match(text):
        return Person(match.group(1), match.group(2) or "")
    if match := _PERSON_NAME.match(text.lower()):
        return Person(None, match.group(1))
    return None


def parse_command(text: str) -> Command:
    """The ``text`` of an ``/incident`` slash command; CommandError with its usage line."""
    words = text.split()
    if not words:
        return Command(Verb.HELP)
    try:
        verb = Verb(words[0].lower())
    except ValueError:
        raise CommandError(f"Unknown subcommand {words[0][:32]!r}. {USAGE}") from None
    return _arguments(verb, words[1:], text.strip()[len(words[0]) :].strip())


def _arguments(verb: Verb, args: list[str], rest: str) -> Command:
    """``args``: the words after the verb; ``rest``: the same as text (titles, notes)."""
    if verb is Verb.DECLARE:
        return _declare(args, rest)
    if verb is Verb.SEV:
        if len(args) != 1 or (name := severity_name(args[0])) is None:
            raise CommandError(_USAGES[verb])
        return Command(verb, severity=name)
    if verb is Verb.ROLE:
        return _role(args)
    if verb is Verb.NOTE:
        if not rest:
            raise CommandError(_USAGES[verb])
        return Command(verb, text=rest)
    if verb in (Verb.MITIGATE, Verb.TASK):
        return (_mitigate if verb is Verb.MITIGATE else _task)(args)
    if verb in (Verb.UPDATE, Verb.STAKEHOLDER_UPDATE):
        return (_update if verb is Verb.UPDATE else _stakeholder_update)(args, rest)
    if args:
        raise CommandError(f"Usage: /incident {verb} (takes no arguments)")
    return Command(verb)


_SERVICE_REF = re.compile(
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
)


def _declare(args: list[str], rest: str) -> Command:
    """``declare [sev-N] [--service NAME] [--private] TITLE`` (options in any order before the
    title); no arguments at all: the form."""
    if not args:
        return Command(Verb.DECLARE)
    severity, service, private = None, "", False
    while args:
        word = args[0]
        if severity is None and (match := _SEVERITY.match(word)):
            severity = f"sev-{match.group(1)}"
        elif word.lower() == "--private" and not private:
            private = True
        elif word.lower() == "--service" and not service:
            if len(args) < 2 or not _SERVICE_REF.match(args[1].lower()):
                raise CommandError(_USAGES[Verb.DECLARE])
            service = args[1].lower()
            rest = rest[len(word) :].strip()
            args, word = args[1:], args[1]
        else:
            break
        rest = rest[len(word) :].strip()
        args = args[1:]
    if not rest:
        raise CommandError(_USAGES[Verb.DECLARE])
    return Command(
        Verb.DECLARE, title=rest[:200], severity=severity, service=service, private=private
    )


def _role(args: list[str]) -> Command:
    """``role ROLE @person`` (or a participant name)."""
    if len(args) != 2:
        raise CommandError(_USAGES[Verb.ROLE])
    role = ROLE_ALIASES.get(args[0].lower(), args[0].lower())
    who = person(args[1])
    if role not in ROLES or who is None:
        raise CommandError(_USAGES[Verb.ROLE])
    return Command(Verb.ROLE, role=role, person=who)


def _update(args: list[str], rest: str) -> Command:
    """``update --public [--status STATUS] TEXT``; the text may be in straight or curly
    quotes (as people type it), which are taken off."""
    if not args or args[0].lower() != "--public":
        raise CommandError(_USAGES[Verb.UPDATE])
    rest = rest[len(args[0]) :].strip()
    if len(args) == 1:
        return Command(Verb.UPDATE, draft="modal")
    status = ""
    if len(args) > 1 and args[1].lower() == "--status":
        if len(args) < 3 or args[2].lower() not in PUBLIC_STATUSES:
            raise CommandError(_USAGES[Verb.UPDATE])
        status = args[2].lower()
        rest = rest[len(args[1]) :].strip()[len(args[2]) :].strip()
    for quotes in ('""', "\u201c\u201d", "''"):
        if len(rest) >= 2 and rest[0] == quotes[0] and rest[-1] == quotes[1]:
            rest = rest[1:-1].strip()
            break
    if not rest:
        raise CommandError(_USAGES[Verb.UPDATE])
    if rest.lower() in ("draft", "accept"):  # the suggested wording, not a text
        return Command(
            Verb.UPDATE, status=status, draft="show" if rest.lower() == "draft" else "accept"
        )
    return Command(Verb.UPDATE, text=rest, status=status)


def _stakeholder_update(args: list[str], rest: str) -> Command:
    """``stakeholder-update [--now] [TEXT]``: neither shows the latest update."""
    now = bool(args) and args[0].lower() == "--now"
    if now:
        rest = rest[len(args[0]) :].strip()
    return Command(Verb.STAKEHOLDER_UPDATE, text=rest, now=now)


def _task(args: list[str]) -> Command:
    """``task``: the tasks; ``task done N``: tick task N."""
    if not args:
        return Command(Verb.TASK)
    number = args[1].removeprefix("#") if len(args) == 2 else ""
    if args[0].lower() != "done" or not number.isdigit() or not 1 <= int(number) <= 1000:
        raise CommandError(_USAGES[Verb.TASK])
    return Command(Verb.TASK, task=int(number))


def _mitigate(args: list[str]) -> Command:
    """``mitigate`` / ``mitigate list``: pending suggestions; ``mitigate approve [NAME]``."""
    if not args or (len(args) == 1 and args[0].lower() == "list"):
        return Command(Verb.MITIGATE)
    if args[0].lower() != "approve" or len(args) > 2:
        raise CommandError(_USAGES[Verb.MITIGATE])
    name = args[1].lower() if len(args) == 2 else ""
    if name and not _SEVERITY_NAME.match(name):  # a mitigation name is a DNS label too
        raise CommandError(f"{args[1][:64]!r} is not a mitigation name. {_USAGES[Verb.MITIGATE]}")
    return Command(Verb.MITIGATE, approve=True, mitigation=name)


# -- Events API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlVerification:
    """Slack's handshake when the Request URL is saved: answer with the challenge."""

    challenge: str


@dataclass(frozen=True)
class ReactionAdded:
    event_id: str
    channel: str
    ts: str
    """The reacted-to message."""
    user: str
    """Who reacted."""
    reaction: str
    """Emoji name without colons, e.g. ``pushpin``."""


@dataclass(frozen=True)
class Ignored:
    reason: str


Event = UrlVerification | ReactionAdded | Ignored


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_event(payload: Mapping[str, Any]) -> Event:
    """An Events API body -> what we act on; anything else is Ignored with a reason."""
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = _text(payload.get("challenge"))
        if not challenge:
            return Ignored("url_verification without a challenge")
        return UrlVerification(challenge)
    if kind != "event_callback":
        return Ignored(f"envelope type {str(kind)[:40]!r} is not handled")
    event = payload.get("event")
    if not isinstance(event, Mapping):
        return Ignored("event_callback without an event")
    if event.get("type") != "reaction_added":
        return Ignored(f"event type {str(event.get('type'))[:40]!r} is not handled")
    item = event.get("item")
    if not isinstance(item, Mapping) or item.get("type") != "message":
        return Ignored("reaction on something other than a message")
    fields = (
        _text(payload.get("event_id")),
        _text(item.get("channel")),
        _text(item.get("ts")),
        _text(event.get("user")),
        _text(event.get("reaction")),
    )
    if not all(fields):
        return Ignored("reaction_added without event_id, channel, ts, user or reaction")
    return ReactionAdded(*fields)
