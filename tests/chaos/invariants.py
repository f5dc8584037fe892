"""What must hold after a chaos run, as plain functions over a recorded :class:`History`.

Each invariant takes the history and returns its violations (empty: it holds). They are pure,
so ``tests/chaos/test_invariants.py`` feeds each one a fabricated violating history to show it
can fail. The history is what the harness observed from the outside: the API server's objects,
the Slack/PagerDuty/Jira fakes' records and the phases it polled during the run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

OPEN_PHASES = frozenset({"triage", "investigating", "mitigated"})


@dataclass(frozen=True)
class Expected:
    """What the inputs of one flow imply for the incident it drives."""

    namespace: str
    flow: str
    """``slo``, ``alertmanager``, ``kubectl`` or ``calm`` (a healthy SLO: no incident at all)."""
    source_type: str = ""
    source_ref: str = ""
    """SLO name, Alertmanager group label value or the incident's own name (kubectl)."""
    states: tuple[str, ...] = ()
    """The states humans set, in order (each must become a ``state-changed`` entry)."""
    final_phase: str = ""
    resolved_by_human_at: float | None = None
    """Wall-clock seconds when a human asked for ``resolved``; before it, resolved is false."""
    chat: bool = True
    page: bool = True
    postmortem: bool = False
    mitigation: str = ""
    """Name of a mitigation that must have been recorded exactly once."""
    tickets: tuple[str, ...] = ()
    """Postmortem action item titles that must have exactly one ticket each."""
    timeline: tuple[str, ...] = ()
    """Timeline entry types that must be present."""


@dataclass(frozen=True)
class Observation:
    at: float
    namespace: str
    name: str
    phase: str
    pager: str = ""


@dataclass
class History:
    incidents: list[dict[str, Any]] = field(default_factory=list)
    """Incident objects as the API server returned them at the end."""
    expected: list[Expected] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    """Slack channels: ``id``, ``name``, ``messages`` (each with ``key``: its idempotency key)."""
    pages: list[dict[str, Any]] = field(default_factory=list)
    """PagerDuty alerts: ``dedup_key``, ``state``, ``actions``."""
    postmortems: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    """Jira issues: ``key``, ``summary``."""
    converged: list[tuple[str, float | None]] = field(default_factory=list)
    """(what, seconds until the implied state was observed; None: never)."""
    bound: float = 300.0


Invariant = Callable[[History], list[str]]


def _ident(incident: dict[str, Any]) -> str:
    meta = incident["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


def _source(incident: dict[str, Any]) -> tuple[str, str]:
    source = incident.get("spec", {}).get("source") or {}
    return str(source.get("type", "manual")), str(source.get("ref", ""))


def matching(history: History, exp: Expected) -> list[dict[str, Any]]:
    """The incidents that the flow ``exp`` drove (by namespace and source)."""
    found = []
    for incident in history.incidents:
        if incident["metadata"]["namespace"] != exp.namespace:
            continue
        kind, ref = _source(incident)
        if exp.flow == "kubectl":
            if incident["metadata"]["name"] == exp.source_ref:
                found.append(incident)
        elif kind == exp.source_type and (exp.flow == "alertmanager" or ref == exp.source_ref):
            found.append(incident)
    return found


def no_duplicate_incidents(history: History) -> list[str]:
    out = []
    for exp in history.expected:
        if exp.flow == "calm":
            continue
        found = matching(history, exp)
        if len(found) > 1:
            names = sorted(_ident(i) for i in found)
            out.append(f"{exp.flow} flow in {exp.namespace}: {len(found)} incidents {names}")
    return out


def no_false_declaration(history: History) -> list[str]:
    """Every incident was implied by some flow, and none where the service was healthy."""
    out = []
    for incident in history.incidents:
        namespace = incident["metadata"]["namespace"]
        owners = [
            e
            for e in history.expected
            if e.namespace == namespace and e.flow != "calm" and incident in matching(history, e)
        ]
        if not owners:
            out.append(f"{_ident(incident)} ({_source(incident)}) was declared without cause")
    return out


def no_missing_incident(history: History) -> list[str]:
    return [
        f"{exp.flow} flow in {exp.namespace}: no incident"
        for exp in history.expected
        if exp.flow != "calm" and not matching(history, exp)
    ]


def no_duplicate_channels(history: History) -> list[str]:
    out = []
    names = Counter(c["name"] for c in history.channels)
    out += [f"channel name {n} created {k} times" for n, k in names.items() if k > 1]
    ids = Counter(
        chat["channelId"]
        for i in history.incidents
        if (chat := (i.get("status") or {}).get("chat") or {}).get("channelId")
    )
    out += [f"channel {c} claimed by {k} incidents" for c, k in ids.items() if k > 1]
    for incident in history.incidents:
        own = re.compile(rf".*-{re.escape(incident['metadata']['name'])}(-[0-9a-f]{{6}})?$")
        mine = [c["name"] for c in history.channels if own.fullmatch(c["name"])]
        if len(mine) > 1:
            out.append(f"{_ident(incident)} has {len(mine)} channels: {mine}")
    return out


def no_duplicate_chat_messages(history: History) -> list[str]:
    """Each idempotency key was posted once per channel (status, entries, announcements)."""
    out = []
    for channel in history.channels:
        keys = Counter(m["key"] for m in channel["messages"] if m.get("key"))
        out += [
            f"#{channel['name']}: message {key} posted {n} times"
            for key, n in keys.items()
            if n > 1
        ]
    return out


def no_duplicate_pages(history: History) -> list[str]:
    counts = Counter(p["dedup_key"] for p in history.pages)
    return [f"page {key} opened {n} times" for key, n in counts.items() if n > 1]


def no_duplicate_postmortems(history: History) -> list[str]:
    counts = Counter(
        f"{p['metadata']['namespace']}/{p['spec'].get('incidentRef', '')}"
        for p in history.postmortems
    )
    return [f"incident {ref} has {n} postmortems" for ref, n in counts.items() if n > 1]


def no_duplicate_tickets(history: History) -> list[str]:
    counts = Counter(t["summary"] for t in history.tickets)
    return [f"ticket {s!r} created {n} times" for s, n in counts.items() if n > 1]


_REACHED = re.compile(r"-> (\w+)")


def _reached(entry: dict[str, Any]) -> str:
    """The phase a state-changed entry moved to: from its key ``state/<phase>/<generation>``,
    else from its message ``State a -> b``."""
    key = str(entry.get("key", ""))
    if key.startswith("state/"):
        return key.split("/")[1]
    match = _REACHED.search(str(entry.get("message", "")))
    return match.group(1) if match else ""


def no_lost_transition(history: History) -> list[str]:
    """Every state a human set appears, in order, as a state-changed entry."""
    out = []
    for exp in history.expected:
        for incident in matching(history, exp)[:1]:
            timeline = (incident.get("status") or {}).get("timeline") or []
            seen = [_reached(e) for e in timeline if e.get("type") == "state-changed"]
            position = 0
            for state in exp.states:
                hit = next((k for k in range(position, len(seen)) if seen[k] == state), None)
                if hit is None:
                    out.append(f"{_ident(incident)}: state change to {state} lost ({seen})")
                else:
                    position = hit + 1
    return out


def no_lost_timeline_entry(history: History) -> list[str]:
    out = []
    for exp in history.expected:
        for incident in matching(history, exp)[:1]:
            timeline = (incident.get("status") or {}).get("timeline") or []
            types = {e.get("type") for e in timeline}
            out += [
                f"{_ident(incident)}: no {t} entry in the timeline"
                for t in exp.timeline
                if t not in types
            ]
            keys = Counter(e["key"] for e in timeline if e.get("key"))
            out += [f"{_ident(incident)}: entry {k} {n} times" for k, n in keys.items() if n > 1]
    return out


def no_lost_chat_update(history: History) -> list[str]:
    """Every posted timeline entry reached the channel, the status message shows the phase,
    and the page follows the incident (triggered while open, resolved once resolved)."""
    out = []
    channels = {c["id"]: c for c in history.channels}
    for exp in history.expected:
        for incident in matching(history, exp)[:1]:
            status = incident.get("status") or {}
            chat = status.get("chat") or {}
            who = _ident(incident)
            if exp.chat:
                channel = channels.get(chat.get("channelId", ""))
                if channel is None:
                    out.append(f"{who}: no channel")
                    continue
                keys = {str(m.get("key")).rpartition("/entry/")[2] for m in channel["messages"]}
                out += [
                    f"{who}: posted entry {p} missing from #{channel['name']}"
                    for p in chat.get("posted") or []
                    if p not in keys
                ]
                status_text = next(
                    (
                        m.get("text", "")
                        for m in channel["messages"]
                        if str(m.get("key")).endswith("/status")
                    ),
                    "",
                )
                if exp.final_phase and exp.final_phase.lower() not in status_text.lower():
                    out.append(f"{who}: status message does not say {exp.final_phase}")
                if status.get("outbox"):
                    out.append(f"{who}: outbox still owes {sorted(status['outbox'])}")
            if exp.page:
                pages = [p for p in history.pages if p["dedup_key"].endswith(who)]
                want = "resolved" if exp.final_phase in ("resolved", "closed") else "open"
                got = pages[-1]["state"] if pages else "none"
                if (want == "open") != (got in ("triggered", "acknowledged")):
                    out.append(f"{who}: page is {got}, the incident implies {want}")
    return out


def no_false_resolution(history: History) -> list[str]:
    out = []
    for exp in history.expected:
        names = {i["metadata"]["name"] for i in matching(history, exp)}
        until = exp.resolved_by_human_at
        for obs in history.observations:
            if obs.namespace != exp.namespace or obs.name not in names:
                continue
            early = until is None or obs.at < until
            if early and (obs.phase in ("resolved", "closed") or obs.pager == "resolved"):
                out.append(
                    f"{exp.namespace}/{obs.name}: {obs.phase or obs.pager} at {obs.at:.0f} "
                    "before anyone resolved it"
                )
                break
    return out


def converges(history: History) -> list[str]:
    out = []
    for exp in history.expected:
        for incident in matching(history, exp)[:1]:
            phase = (incident.get("status") or {}).get("phase", "")
            if exp.final_phase and phase != exp.final_phase:
                out.append(f"{_ident(incident)}: phase {phase}, inputs imply {exp.final_phase}")
            if exp.mitigation:
                done = [
                    m
                    for m in (incident.get("status") or {}).get("mitigations") or []
                    if m.get("name") == exp.mitigation
                ]
                if len(done) != 1:
                    out.append(f"{_ident(incident)}: mitigation {exp.mitigation} x{len(done)}")
        if exp.postmortem:
            names = {i["metadata"]["name"] for i in matching(history, exp)}
            if not any(
                p["metadata"]["namespace"] == exp.namespace
                and p["spec"].get("incidentRef") in names
                for p in history.postmortems
            ):
                out.append(f"{exp.flow} flow in {exp.namespace}: no postmortem")
        for title in exp.tickets:
            if not any(title in t["summary"] for t in history.tickets):
                out.append(f"{exp.flow} flow in {exp.namespace}: no ticket for {title!r}")
    out += [
        f"{what}: not converged within {history.bound:.0f} s"
        if seconds is None
        else f"{what}: converged after {seconds:.0f} s > {history.bound:.0f} s"
        for what, seconds in history.converged
        if seconds is None or seconds > history.bound
    ]
    return out


INVARIANTS: Sequence[Invariant] = (
    no_duplicate_incidents,
    no_duplicate_channels,
    no_duplicate_chat_messages,
    no_duplicate_pages,
    no_duplicate_postmortems,
    no_duplicate_tickets,
    no_missing_incident,
    no_lost_transition,
    no_lost_timeline_entry,
    no_lost_chat_update,
    no_false_declaration,
    no_false_resolution,
    converges,
)


def check(history: History) -> dict[str, list[str]]:
    """Every invariant's violations, by name (all names present)."""
    return {inv.__name__: inv(history) for inv in INVARIANTS}
