"""The text of the read-only chat replies: help, ``/incident status``, ``/incident mitigate``."""

from __future__ import annotations

from incident_operator.adapters.ports import Body
from incident_operator.domain.slack_requests import USAGE
from incident_operator.services.incidents import severity_of

PENDING_APPROVAL = "pending-approval"
"""MitigationResult.state of a suggestion (mode suggest) the commander has not approved."""


HELP = "\n".join(
    [
        USAGE,
        "• declare — a form: title, service, severity, private",
        "• declare [sev-N] [--service NAME] [--private] TITLE — the same without the form",
        "• status — this channel's incident",
        "• ack — acknowledge (triage -> investigating)",
        "• sev LEVEL — change the severity (2 or sev-2)",
        "• role ROLE @person — commander, communications, operations or scribe",
        "• note TEXT — add a note to the timeline (or react with :pushpin: to a message)",
        "• update --public [--status STATUS] TEXT — publish an update on the status page",
        "• update --public draft — the suggested public wording; update --public accept: "
        "publish it",
        "• update --public — a form with the suggested wording to edit and publish",
        "• mitigate — list the suggested mitigations waiting for approval",
        "• mitigate approve [NAME] — approve one (the commander only)",
        "• task — the roles' checklist tasks; task done N — tick task N",
        "• resolve — request the resolved state",
        "• stakeholder-update [--now] [TEXT] — the next stakeholder update: set what is being "
        "done, send it now, or (neither) show the latest",
    ]
)


def pending_mitigations(incident: Body) -> list[str]:
    """Names of the suggested mitigations waiting for the commander's approval."""
    results = (incident.get("status") or {}).get("mitigations") or []
    return [
        str(r["name"])
        for r in results
        if isinstance(r, dict) and r.get("name") and r.get("state") == PENDING_APPROVAL
    ]


def pending_reply(incident: Body) -> str:
    """``/incident mitigate``: what waits for approval, and how to approve it."""
    meta = incident["metadata"]
    where = f"{meta['namespace']}/{meta['name']}"
    approved = set((incident.get("spec") or {}).get("approvedMitigations") or [])
    results = (incident.get("status") or {}).get("mitigations") or []
    lines = []
    for r in results:
        if isinstance(r, dict) and r.get("name") and r.get("state") == PENDING_APPROVAL:
            mark = " (approved, starting)" if r["name"] in approved else ""
            detail = f" — {r['message']}" if r.get("message") else ""
            lines.append(
                f"• {r['name']}: {r.get('action', '')} {r.get('target', '')}{mark}{detail}"
            )
    if not lines:
        return f"No mitigations are waiting for approval in {where}."
    return "\n".join(
        [
            f"Mitigations waiting for the commander's approval in {where}:",
            *lines,
            "Approve with `/incident mitigate approve NAME`.",
        ]
    )


def status_reply(incident: Body) -> str:
    """The incident in a few lines, for ``/incident status``."""
    meta, spec = incident["metadata"], incident.get("spec") or {}
    status = incident.get("status") or {}
    roles = {k: v for k, v in (status.get("roles") or spec.get("roles") or {}).items() if v}
    state = spec.get("state", "triage")
    phase = status.get("phase")
    shown = state if phase in (None, state) else f"{state} (is {phase})"
    lines = [
        f"*{spec.get('title', '')}* ({meta['namespace']}/{meta['name']})",
        f"Severity: {severity_of(incident)} · State: {shown} · Service: {spec.get('service', '')}",
        "Roles: " + (", ".join(f"{k}: {v}" for k, v in roles.items()) or "none"),
    ]
    timeline = status.get("timeline") or []
    if timeline:
        last = timeline[-1]
        lines.append(f"Last: {last.get('at', '')} {last.get('type', '')} {last.get('message', '')}")
    return "\n".join(lines)


def tasks_reply(incident: Body) -> str:
    """``/incident task``: the checklist tasks, open ones first."""
    meta = incident["metadata"]
    tasks = [
        t
        for t in (incident.get("status") or {}).get("tasks") or []
        if isinstance(t, dict) and t.get("number")
    ]
    if not tasks:
        return f"{meta['namespace']}/{meta['name']} has no checklist tasks."
    lines = [f"Tasks of {meta['namespace']}/{meta['name']} (`/incident task done N` ticks one):"]
    for t in sorted(tasks, key=lambda t: (bool(t.get("done")), int(t["number"]))):
        mark = "done" if t.get("done") else "open"
        who = f" ({t['doneBy']})" if t.get("done") and t.get("doneBy") else ""
        lines.append(f"• {t['number']}. [{t.get('role', '')}] {t.get('text', '')} — {mark}{who}")
    return "\n".join(lines)
