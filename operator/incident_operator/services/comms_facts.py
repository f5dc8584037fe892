"""What an incident's status says the comms layer owes and did, in the domain's terms.

The summary every channel shows (from the incident and its Severity), what was delivered
(``status.chat``, ``status.pager``, ``status.notified``) and what was attempted
(``status.outbox``): the inputs of ``domain/outbox``'s planning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.incident import ChatRef, Incident, IncidentStatus, PagerRef
from incident_operator.api.v1alpha1.rotation import OnCallRotation
from incident_operator.api.v1alpha1.severity import Severity
from incident_operator.domain import chat_render, outbox
from incident_operator.domain.checklists import TaskLine
from incident_operator.domain.comms import Impact, IncidentSummary
from incident_operator.domain.lifecycle import Phase
from incident_operator.domain.times import iso


@dataclass(frozen=True)
class CommsConfig:
    channel_template: str = chat_render.DEFAULT_CHANNEL_TEMPLATE
    bridge_url_template: str = ""
    """e.g. ``https://meet.example.com/{namespace}-{name}``; empty: no bridge."""
    archive_on_close: bool = True
    status_page_url: str = ""
    """Public URL of the operator's status page, linked from every message; empty: none."""


def summary_of(
    incident: Incident, status: IncidentStatus, severity: Severity | None, config: CommsConfig
) -> IncidentSummary:
    """The facts every channel shows, from the incident and its Severity."""
    meta = incident.metadata
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    spec = incident.spec
    roles = {k: v for k, v in status.roles.model_dump().items() if v}
    roles.update({k: v for k, v in spec.roles.model_dump().items() if v})
    times = [e.at for e in status.timeline]
    declared = status.timestamps.declared
    updated = max([*times, *([declared] if declared else [])], default=None)
    links = {"Status page": config.status_page_url} if config.status_page_url else {}
    bridge = status.conference.url if status.conference else ""  # a workflow's bridge first
    if config.bridge_url_template and not bridge:
        bridge = config.bridge_url_template.replace("{namespace}", namespace).replace(
            "{name}", name
        )
    return IncidentSummary(
        namespace=namespace,
        name=name,
        title=spec.title,
        service=spec.service,
        severity=status.severity or spec.severity_ref,
        severity_display=severity.spec.display_name
        if severity
        else status.severity or spec.severity_ref,
        severity_level=severity.spec.level if severity else 5,
        phase=(status.phase or Phase.TRIAGE).value,
        declared=declared,
        updated=updated or datetime.fromtimestamp(0).astimezone(),
        roles=roles,
        summary=spec.summary,
        slo=f"SLO {spec.source.ref}" if spec.source.type.value == "slo" else "",
        impact=Impact(severity.spec.status_page.impact.value) if severity else Impact.NONE,
        private=spec.private,
        bridge_url=bridge,
        links=links,
        tasks=tuple(
            TaskLine(t.number, t.role.value, t.text, t.done, t.done_by) for t in status.tasks
        ),
    )


def delivered_of(status: IncidentStatus) -> outbox.Delivered:
    chat = status.chat or ChatRef()
    pager = status.pager or PagerRef()
    return outbox.Delivered(
        channel_id=chat.channel_id,
        channel_name=chat.channel_name,
        status_ts=chat.status_message_ts,
        status_digest=chat.status_digest,
        topic_digest=chat.topic_digest,
        invited=frozenset(chat.invited),
        pinned=chat.pinned,
        announced=frozenset(chat.announced),
        posted=frozenset(chat.posted),
        channel_posts=frozenset(chat.channel_posts),
        archived=chat.archived,
        page_state=pager.state,
        page_escalations=frozenset(pager.escalations),
        notified=dict(status.notified),
        direct=frozenset(chat.direct_messages),
        escalation_pages={p.level: p.state for p in pager.escalation_pages},
        workflow_pages={k: p.state for k, p in pager.workflow_pages.items()},
        instructed=frozenset(chat.instructed),
    )


def attempt_record(
    kind: outbox.OpKind,
    count: int,
    now: datetime,
    *,
    error: str = "",
    next_at: datetime | None = None,
) -> Body:
    """One ``status.outbox`` entry, as :func:`attempts_of` reads it back."""
    return {
        "kind": kind.value,
        "attempts": count,
        "lastAttemptAt": iso(now),
        "nextAttemptAt": iso(next_at) if next_at else None,
        "lastError": error[:1024],
    }


def safe_error(exc: BaseException) -> str:
    """An adapter's message for status and logs (adapters keep secrets out of it): its first
    line, at most 300 characters."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def attempts_of(status: IncidentStatus) -> dict[str, outbox.Attempt]:
    out = {}
    for key, record in status.outbox.items():
        try:
            kind = outbox.OpKind(record.kind)
        except ValueError:
            continue
        out[key] = outbox.Attempt(kind, record.attempts, record.next_attempt_at, record.last_error)
    return out


def slack_ids(rotation: Body | None, people: list[str]) -> frozenset[str]:
    """Slack user ids of ``people`` (participant names) from the rotation; unknown: skipped."""
    if rotation is None:
        return frozenset()
    try:
        spec = OnCallRotation.model_validate(
            {k: v for k, v in rotation.items() if k != "status"}
        ).spec
    except ValidationError:
        return frozenset()
    ids = {p.name: p.slack_user_id for p in spec.participants if p.slack_user_id}
    return frozenset(ids[p] for p in people if p in ids)
