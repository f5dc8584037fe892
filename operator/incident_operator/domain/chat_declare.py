"""Declaring an incident on a catalogued service, from Slack or ``kubectl``: which Service a
name means and whether the asker may declare there; the Slack modals and what their
submissions say — pure.

On whose authority. A Slack user is not a Kubernetes user: the operator writes the Incident
with its own ServiceAccount, so chat may only reach namespaces the cluster admin opened to it
(``--chat-declare-namespaces``, :class:`DeclarePolicy`). The default opens none: a Service
object alone (which any tenant with ``edit`` may create) never lets a Slack user write into
its namespace. ``kubectl incident declare --service`` acts as the person at the keyboard
(their kubeconfig), so there the API server's RBAC is the rule and the policy is "anywhere the
caller can list Services and create Incidents" (``policy=None``).

The name → Service rule is one function for both (:func:`choose_service`): a name is a Service
in exactly one allowed namespace (``namespace/name`` picks one of several); an unknown name
says so. Chat (:func:`choose_for_chat`) looks only among the open namespaces' Services and
refuses a closed namespace the user names as such. Nothing is created on a refusal.

The modal (Slack Block Kit, docs.slack.dev/surfaces/modals): input blocks ``title``,
``service``, ``severity`` and ``private`` whose values come back in a ``view_submission`` as
``view.state.values[block_id][action_id]``. Slack allows at most 100 options in a static
select, so beyond that the service menu is an ``external_select`` whose options are served
from :func:`service_suggestions` (``block_suggestion``); a submission's value is always checked
again (never trusted because we offered it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ANY_NAMESPACE = "*"
DECLARE_CALLBACK = "incident-declare"
PUBLIC_UPDATE_CALLBACK = "incident-public-update"
MAX_OPTIONS = 100
"""Slack: at most 100 options in a static_select (and in a block_suggestion answer)."""
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
TITLE_MAX = 200
"""Incident spec.title's maxLength."""
PUBLIC_TEXT_MAX = 2000
PUBLIC_TITLE_MAX = 200
METADATA_MAX = 3000
"""Slack: a view's private_metadata is at most 3000 characters."""
PUBLIC_STATUSES = ("investigating", "identified", "monitoring", "resolved")

Body = dict[str, Any]


class DeclareRefused(ValueError):
    """The declaration cannot go ahead; ``field`` is the modal block it is about, ``kind``
    what went wrong with a service (``unknown``, ``closed``, ``ambiguous``; "" otherwise)."""

    def __init__(self, field: str, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.kind = kind


@dataclass(frozen=True)
class ServiceChoice:
    """A catalogued Service: where it lives and who owns it."""

    namespace: str
    name: str
    owner: str = ""

    @property
    def value(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class SeverityChoice:
    name: str
    level: int = 99
    display_name: str = ""


@dataclass(frozen=True)
class DeclarePolicy:
    """Where chat may declare: the admin's ``--chat-declare-namespaces``."""

    namespaces: frozenset[str] = frozenset()
    """Namespaces whose Services chat may pick; ``*``: every namespace the operator watches;
    empty (the default): none, so chat declares only without a service, in the default
    namespace, as before."""

    @classmethod
    def parse(cls, text: str) -> DeclarePolicy:
        """``a,b`` or ``*``; blanks ignored."""
        return cls(frozenset(n.strip() for n in text.split(",") if n.strip()))

    @property
    def enabled(self) -> bool:
        return bool(self.namespaces)

    def allows(self, namespace: str) -> bool:
        return ANY_NAMESPACE in self.namespaces or namespace in self.namespaces


def allowed(services: Iterable[ServiceChoice], policy: DeclarePolicy) -> list[ServiceChoice]:
    """The services chat may declare on, sorted by name then namespace."""
    return sorted(
        (s for s in services if policy.allows(s.namespace)), key=lambda s: (s.name, s.namespace)
    )


def choose_service(
    asked: str,
    services: Sequence[ServiceChoice],
    allows: Callable[[str], bool] | None = None,
) -> ServiceChoice:
    """The one Service ``asked`` (``name`` or ``namespace/name``) means among ``services``
    (what the asker can see), in a namespace ``allows`` admits (None: any). DeclareRefused
    (field ``service``) otherwise, saying why."""
    asked = asked.strip()
    namespace, _, name = asked.rpartition("/")
    if not name:
        raise DeclareRefused("service", "Pick a service.")
    found = [s for s in services if s.name == name and (not namespace or s.namespace == namespace)]
    if not found:
        where = f" in namespace {namespace}" if namespace else ""
        raise DeclareRefused("service", f"There is no Service {name}{where}.", "unknown")
    permitted = [s for s in found if allows is None or allows(s.namespace)]
    if not permitted:
        spaces = ", ".join(sorted({s.namespace for s in found}))
        raise DeclareRefused(
            "service",
            f"Service {name} is in namespace {spaces}, where declaring from chat is not "
            "allowed (the operator's --chat-declare-namespaces).",
            "closed",
        )
    if len(permitted) > 1:
        spaces = ", ".join(s.value for s in permitted)
        raise DeclareRefused(
            "service",
            f"Service {name} exists in several namespaces ({spaces}): name one.",
            "ambiguous",
        )
    return permitted[0]


def choose_for_chat(
    asked: str, offered: Sequence[ServiceChoice], policy: DeclarePolicy
) -> ServiceChoice:
    """:func:`choose_service` for a Slack user among ``offered`` (the Services of the
    namespaces ``policy`` opens). A namespace the user names that is not open is refused as
    such; a bare name not found is "not in the namespaces open to chat" — chat never looks
    elsewhere, so it never tells a workspace member where else a Service exists."""
    namespace, _, name = asked.strip().rpartition("/")
    if namespace and not policy.allows(namespace):
        raise DeclareRefused(
            "service",
            f"Declaring from chat into namespace {namespace} is not allowed "
            "(the operator's --chat-declare-namespaces).",
            "closed",
        )
    try:
        return choose_service(asked, offered, policy.allows)
    except DeclareRefused as exc:
        if exc.kind == "unknown" and not namespace and name:
            raise DeclareRefused(
                "service",
                f"There is no Service {name} in the namespaces open to chat declarations.",
                "unknown",
            ) from None
        raise


# -- Block Kit ------------------------------------------------------------------------------


def _text(text: str, limit: int = OPTION_TEXT_MAX) -> Body:
    return {"type": "plain_text", "text": text[:limit] or " "}


def _option(text: str, value: str) -> Body:
    return {"text": _text(text), "value": value[:OPTION_VALUE_MAX]}


def service_option(service: ServiceChoice) -> Body:
    owner = f", {service.owner}" if service.owner else ""
    return _option(f"{service.name} ({service.namespace}{owner})", service.value)


def service_suggestions(services: Sequence[ServiceChoice], typed: str) -> Body:
    """The answer to a ``block_suggestion`` for the service menu: matches of what was typed
    (in name or namespace), at most 100."""
    needle = typed.strip().lower()
    matches = [s for s in services if needle in s.value.lower()]
    return {"options": [service_option(s) for s in matches[:MAX_OPTIONS]]}


def _severity_option(severity: SeverityChoice) -> Body:
    label = f"{severity.name}: {severity.display_name}" if severity.display_name else severity.name
    return _option(label, severity.name)


def metadata(**values: str) -> str:
    """A view's private_metadata (ours; it comes back with the submission)."""
    return json.dumps(values, separators=(",", ":"))[:METADATA_MAX]


def read_metadata(text: str) -> dict[str, str]:
    try:
        values = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(values, dict):
        return {}
    return {str(k): str(v) for k, v in values.items() if isinstance(v, str)}


def declare_view(
    services: Sequence[ServiceChoice],
    severities: Sequence[SeverityChoice],
    *,
    default_severity: str,
    private_metadata: str = "",
    title: str = "",
) -> Body:
    """The declaration modal. ``services``: the ones chat may pick (empty: no service block,
    the incident lands in the default namespace); more than 100: an external_select."""
    ordered = sorted(severities, key=lambda s: (s.level, s.name))
    initial = next((s for s in ordered if s.name == default_severity), None)
    severity_select: Body = {
        "type": "static_select",
        "action_id": "severity",
        "options": [_severity_option(s) for s in ordered[:MAX_OPTIONS]],
    }
    if initial is not None:
        severity_select["initial_option"] = _severity_option(initial)
    title_input: Body = {
        "type": "plain_text_input",
        "action_id": "title",
        "max_length": TITLE_MAX,
        "placeholder": _text("What is wrong, in a few words"),
    }
    if title:
        title_input["initial_value"] = title[:TITLE_MAX]
    blocks: list[Body] = [
        {"type": "input", "block_id": "title", "label": _text("Title"), "element": title_input}
    ]
    if services:
        select: Body = (
            {
                "type": "static_select",
                "action_id": "service",
                "options": [service_option(s) for s in services],
            }
            if len(services) <= MAX_OPTIONS
            else {"type": "external_select", "action_id": "service", "min_query_length": 0}
        )
        select["placeholder"] = _text("The affected service")
        blocks.append(
            {"type": "input", "block_id": "service", "label": _text("Service"), "element": select}
        )
    if ordered:
        blocks.append(
            {
                "type": "input",
                "block_id": "severity",
                "label": _text("Severity"),
                "element": severity_select,
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": "private",
            "optional": True,
            "label": _text("Visibility"),
            "element": {
                "type": "checkboxes",
                "action_id": "private",
                "options": [
                    _option("Private: a private channel, nothing on the status page", "private")
                ],
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": DECLARE_CALLBACK,
        "title": _text("Declare an incident", 24),
        "submit": _text("Declare", 24),
        "close": _text("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


@dataclass(frozen=True)
class DeclareSubmission:
    title: str
    service: str
    """The selected option's value (``namespace/name``), "" when the modal had no menu."""
    severity: str
    private: bool


def _state(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _value(values: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    found = values.get(block)
    element = found.get(block) if isinstance(found, Mapping) else None
    return element if isinstance(element, Mapping) else {}


def _selected(element: Mapping[str, Any]) -> str:
    option = element.get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else ""


def _typed(element: Mapping[str, Any]) -> str:
    value = element.get("value")
    return value.strip() if isinstance(value, str) else ""


def parse_declare(view: Mapping[str, Any]) -> DeclareSubmission:
    """A declaration modal's submitted values; DeclareRefused on the field that is wrong."""
    values = _state(view)
    title = _typed(_value(values, "title"))
    if not title:
        raise DeclareRefused("title", "Give the incident a title.")
    if len(title) > TITLE_MAX:
        raise DeclareRefused("title", f"A title is at most {TITLE_MAX} characters.")
    checked = _value(values, "private").get("selected_options")
    private = isinstance(checked, list) and any(
        isinstance(o, Mapping) and o.get("value") == "private" for o in checked
    )
    return DeclareSubmission(
        title=title,
        service=_selected(_value(values, "service")),
        severity=_selected(_value(values, "severity")),
        private=private,
    )


# -- the public update modal ----------------------------------------------------------------


def public_update_view(
    where: str,
    *,
    text: str,
    status: str,
    title: str = "",
    private_metadata: str = "",
) -> Body:
    """Edit-and-publish modal for a public update, prefilled with the drafted wording;
    ``title``: the drafted public title (empty: the incident has one already, not asked)."""
    initial = status if status in PUBLIC_STATUSES else PUBLIC_STATUSES[0]
    blocks: list[Body] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Public update for {where}: customers read this on the status page.",
                }
            ],
        }
    ]
    if title:
        blocks.append(
            {
                "type": "input",
                "block_id": "title",
                "label": _text("Public title"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "title",
                    "max_length": PUBLIC_TITLE_MAX,
                    "initial_value": title[:PUBLIC_TITLE_MAX],
                },
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": "status",
            "label": _text("Status"),
            "element": {
                "type": "static_select",
                "action_id": "status",
                "options": [_option(s.capitalize(), s) for s in PUBLIC_STATUSES],
                "initial_option": _option(initial.capitalize(), initial),
            },
        },
        {
            "type": "input",
            "block_id": "text",
            "label": _text("Update"),
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": True,
                "max_length": PUBLIC_TEXT_MAX,
                "initial_value": text[:PUBLIC_TEXT_MAX],
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": PUBLIC_UPDATE_CALLBACK,
        "title": _text("Public update", 24),
        "submit": _text("Publish", 24),
        "close": _text("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


@dataclass(frozen=True)
class PublicSubmission:
    text: str
    status: str
    title: str


def parse_public_update(view: Mapping[str, Any]) -> PublicSubmission:
    values = _state(view)
    text = _typed(_value(values, "text"))
    if not text:
        raise DeclareRefused("text", "Write the update (or cancel).")
    if len(text) > PUBLIC_TEXT_MAX:
        raise DeclareRefused("text", f"A public update is at most {PUBLIC_TEXT_MAX} characters.")
    status = _selected(_value(values, "status"))
    if status not in PUBLIC_STATUSES:
        raise DeclareRefused("status", "Pick a status.")
    return PublicSubmission(text, status, _typed(_value(values, "title"))[:PUBLIC_TITLE_MAX])
