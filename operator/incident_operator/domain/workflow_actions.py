"""Workflow actions that reach past the incident's own channel: a Block Kit card, a
conference bridge and a signed webhook — what each renders to, and on whose authority.

Pure. The rules:

- **Cards** are a restricted subset WE render (a header, up to 10 fields, up to 5 link
  buttons), never blocks an author writes: every text is escaped as timeline posts are
  (``chat_render.escape``), so ``<!here>`` or ``<@U…>`` is shown and never acted on, and each
  piece is clipped to Slack's Block Kit limits (header text 150, a section field 2000, a
  button's text 75 and its url 3000 characters; at most 10 fields, 25 elements in an actions
  block). A button links only to an ``https`` URL, checked after rendering.
- **Conference bridges** come from a URL template with the workflow text placeholders; each
  value is percent-encoded before it is put in (nothing in an incident's name or title can
  add a ``/``, ``@``, ``?`` or ``#``), the template's host may hold no placeholder, and the
  result must be ``https`` on the template's own host.
- **Webhooks** are the Team's (``Team.spec.webhooks``, cluster-admin written: URL and the
  signing secret's reference in the operator's catalog Secret namespace). A workflow names
  one by team and name; an IncidentWorkflow only a webhook of a Team that admits its
  namespace, a ClusterIncidentWorkflow any. A private incident goes only to a webhook its
  Team marked ``includePrivate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Template
from typing import Any
from urllib.parse import quote, urlsplit

from .catalog import TeamEntry, TeamWebhook
from .chat_render import (
    MAX_BUTTON_TEXT,
    MAX_BUTTON_URL,
    MAX_FIELD,
    MAX_HEADER,
    MAX_TEXT,
    escape,
)
from .chat_render import _clip as clip

MAX_FIELDS = 10
"""Slack: at most 10 fields in a section (each at most ``MAX_FIELD`` characters)."""
MAX_BUTTONS = 5
"""Ours (Slack allows 25 elements in an actions block)."""
CONFERENCE_URL_MAX = 2048
"""status.conference.url's maxLength."""


@dataclass(frozen=True)
class CardField:
    label: str
    value: str


@dataclass(frozen=True)
class CardButton:
    text: str
    url: str


@dataclass(frozen=True)
class Card:
    title: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[CardButton, ...] = ()


def _render(text: str, values: Mapping[str, str]) -> str:
    return Template(text).safe_substitute(values)


def https_problem(url: str) -> str:
    """Why ``url`` is not an absolute https URL with a host ("" when it is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{url[:100]!r} is not a URL"
    if parts.scheme != "https" or not parts.hostname:
        return f"{url[:100]!r} is not an https URL with a host"
    if any(c.isspace() for c in url) or "${" in url:
        return f"{url[:100]!r} has spaces or an unknown placeholder"
    return ""


def render_card(card: Card, values: Mapping[str, str]) -> Card | str:
    """The card with its placeholders replaced, or why it cannot be posted (a button's URL
    that is not https once rendered, or longer than Slack takes)."""
    buttons = []
    for button in card.buttons:
        url = _render(button.url, {k: quote(v, safe="") for k, v in values.items()})
        problem = https_problem(url)
        if problem:
            return f"card button {button.text!r}: {problem}"
        if len(url) > MAX_BUTTON_URL:
            return (
                f"card button {button.text!r}: the URL is longer than {MAX_BUTTON_URL} characters"
            )
        buttons.append(CardButton(_render(button.text, values), url))
    fields = tuple(
        CardField(_render(f.label, values), _render(f.value, values)) for f in card.fields
    )
    return Card(_render(card.title, values), fields[:MAX_FIELDS], tuple(buttons[:MAX_BUTTONS]))


def card_record(card: Card) -> dict[str, Any]:
    """The card as ``status.workflows.cards`` keeps it (rendered, not yet escaped)."""
    out: dict[str, Any] = {}
    if card.title:
        out["title"] = card.title
    if card.fields:
        out["fields"] = [{"label": f.label, "value": f.value} for f in card.fields]
    if card.buttons:
        out["buttons"] = [{"text": b.text, "url": b.url} for b in card.buttons]
    return out


def card_of(record: Mapping[str, Any]) -> Card:
    """A recorded card read back (what is not a string is left out)."""
    fields = tuple(
        CardField(str(f.get("label", "")), str(f.get("value", "")))
        for f in record.get("fields") or []
        if isinstance(f, Mapping)
    )
    buttons = tuple(
        CardButton(str(b.get("text", "")), str(b.get("url", "")))
        for b in record.get("buttons") or []
        if isinstance(b, Mapping)
    )
    return Card(str(record.get("title", "")), fields, buttons)


def card_blocks(card: Card, text: str) -> list[dict[str, Any]]:
    """Block Kit for a card under the message ``text`` (already escaped): a header, the text,
    the fields and the link buttons, each escaped and clipped to Slack's limits; a button
    whose URL is not https (a record written by hand) is left out."""
    blocks: list[dict[str, Any]] = []
    if card.title:
        title = {"type": "plain_text", "text": clip(card.title, MAX_HEADER), "emoji": False}
        blocks.append({"type": "header", "text": title})
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_TEXT)}})
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{escape(f.label)}*\n{escape(f.value)}", MAX_FIELD)}
        for f in card.fields[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    buttons = [
        {
            "type": "button",
            "action_id": f"workflow-card-link-{i}",
            "text": {"type": "plain_text", "text": clip(b.text, MAX_BUTTON_TEXT), "emoji": False},
            "url": b.url,
        }
        for i, b in enumerate(card.buttons[:MAX_BUTTONS])
        if not https_problem(b.url) and len(b.url) <= MAX_BUTTON_URL
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def conference_url(template: str, values: Mapping[str, str]) -> str | tuple[str]:
    """The bridge's URL from ``template``, or (why not,).

    Values are percent-encoded (``quote(..., safe="")``) before they are put in, and the host
    is the template's alone, so an incident's name or title can never point the bridge
    elsewhere."""
    problem = https_problem(template.replace("${", "x").replace("}", "x"))
    host = urlsplit(template).netloc if not problem else ""
    if problem or "$" in host:
        return (
            "urlTemplate must be an https URL whose host holds no placeholder: "
            + (problem or host),
        )
    url = _render(template, {k: quote(v, safe="") for k, v in values.items()})
    problem = https_problem(url)
    if problem:
        return (f"the bridge URL {problem}",)
    if urlsplit(url).netloc != host:
        return (f"the bridge URL's host is not the template's {host}",)
    if len(url) > CONFERENCE_URL_MAX:
        return (f"the bridge URL is longer than {CONFERENCE_URL_MAX} characters",)
    return url


def webhook_target(
    team: TeamEntry | None,
    team_name: str,
    webhook: str,
    *,
    namespaced: bool,
    namespace: str,
    private: bool,
) -> TeamWebhook | str:
    """The Team webhook a ``sendWebhook`` step may call, or why not (on whose authority).

    ``namespaced``: the workflow is an IncidentWorkflow (a tenant's): it may use only a
    webhook of a Team that admits the incident's namespace (``Team.spec.namespaces``), the
    rule a ``page`` step meets. A ClusterIncidentWorkflow (a cluster admin's) may use any
    Team's. A private incident's summary goes only to a webhook marked ``includePrivate``."""
    if team is None:
        return f"team {team_name} does not exist"
    if namespaced and not team.admits(namespace):
        return (
            f"team {team.name} does not admit namespace {namespace} (its spec.namespaces): "
            "an IncidentWorkflow may call only the webhooks of a Team that admits its namespace"
        )
    found = team.webhooks.get(webhook)
    if found is None:
        return f"team {team.name} declares no webhook {webhook} (its spec.webhooks)"
    if private and not found.include_private:
        return (
            f"the incident is private and webhook {webhook} of team {team.name} does not "
            "set includePrivate"
        )
    return found
