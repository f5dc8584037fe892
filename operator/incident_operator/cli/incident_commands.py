"""`kubectl incident declare|list|show|ack|assign|sev|state|resolve|close|decline|merge|note|
update|task`.

Every command is a spec change a responder could make with `kubectl patch`; the plugin adds
the right field names, a readable table and, for state changes, waits briefly for the
operator's verdict so a refused transition is reported with its reason (exit 1) instead of
looking applied. Errors are one line on stderr and a non-zero exit code.

`list --watch` watches the Incidents (the API server's watch, not polling) and prints a row
again whenever one of its columns changes; Ctrl-C or SIGTERM ends it with exit status 0.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from pydantic import ValidationError

from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.incident import (
    IncidentState,
    Public,
    PublicStatus,
    StakeholderUpdate,
)
from incident_operator.api.v1alpha1.severity import Role, StatusPage
from incident_operator.domain import checklists, timeline
from incident_operator.domain.chat_declare import DeclareRefused, ServiceChoice, choose_service
from incident_operator.domain.comms import Impact
from incident_operator.domain.public_draft import Draft, draft
from incident_operator.domain.status_page import default_public_status
from incident_operator.domain.times import iso
from incident_operator.errors import IncidentOperatorError, InvalidSpecError

from . import output
from .manifests import UsageError

DEFAULT_WAIT = 10.0
TRANSITION_REFUSED = "TransitionRefused"


class Incidents(Protocol):
    """What the commands need from the cluster (real: adapters/incident_client.py)."""

    namespace: str

    def get(self, name: str) -> Body: ...

    def list(self, all_namespaces: bool = False) -> list[Body]: ...

    def create(self, body: Body) -> Body:
        """In the body's ``metadata.namespace`` when set, else ``namespace``."""
        ...

    def list_services(self, all_namespaces: bool = False) -> Sequence[Body]:
        """Catalog Services in ``namespace`` (or every namespace the caller may list)."""
        ...

    def get_severity(self, name: str) -> Body | None:
        """The Severity, or None when it does not exist or may not be read."""
        ...

    def patch_spec(self, name: str, spec: Body | Callable[[Body], Body]) -> Body:
        """Merge-patch the spec; a function of the object as read is called on every read."""
        ...

    def append_timeline(self, name: str, entry: Body) -> None: ...

    def watch(
        self, name: str | None = None, all_namespaces: bool = False, since: str | None = None
    ) -> Iterator[tuple[str, Body]]: ...


ClientFactory = Callable[[str | None], Incidents]


def _real_client(namespace: str | None) -> Incidents:
    from incident_operator.adapters.incident_client import IncidentClient  # noqa: PLC0415

    return IncidentClient(namespace)


class Verdict(Exception):
    """The operator refused the requested state (exit 1 with its reason)."""


def command(
    run: Callable[[argparse.Namespace, Incidents, TextIO], int],
) -> Callable[..., int]:
    """Build the client, run, and turn our errors into one line on stderr and exit 1."""

    @functools.wraps(run)
    def wrapper(
        args: argparse.Namespace,
        out: TextIO | None = None,
        factory: ClientFactory | None = None,
    ) -> int:
        try:
            incidents = (factory or _real_client)(args.namespace)
            return run(args, incidents, out or sys.stdout)
        except (IncidentOperatorError, Verdict) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapper


def add_parsers(commands: Any) -> None:
    def sub(name: str, help_: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_)
        parser.add_argument("-n", "--namespace", help="namespace (default: kubeconfig's)")
        parser.set_defaults(run=run)
        return parser

    def with_wait(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--wait",
            type=float,
            default=DEFAULT_WAIT,
            help="seconds to wait for the operator's verdict (0: do not wait)",
        )
        return parser

    declare = sub("declare", "declare a new incident", run_declare)
    declare.add_argument("title")
    declare.add_argument(
        "--service",
        required=True,
        action="append",
        help="affected service (repeat for an incident touching several: the first is "
        "spec.service, every owning team is involved)",
    )
    declare.add_argument("--severity", required=True, help="Severity name or level (2 = sev-2)")
    declare.add_argument("--name", help="object name (default: from the title and time)")
    declare.add_argument("--summary", default="")
    declare.add_argument("--commander")
    declare.add_argument("--private", action="store_true")

    listing = sub("list", "incidents as a table", run_list)
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.add_argument(
        "-o", "--output", choices=output.LIST_FORMATS, help="default: a table; wide adds columns"
    )
    listing.add_argument(
        "-w", "--watch", action="store_true", help="print incidents again as they change"
    )

    show = sub("show", "status and timeline of one incident", run_show)
    show.add_argument("name")
    show.add_argument("-o", "--output", choices=["text", "json"], default="text")

    with_wait(sub("ack", "acknowledge: move to investigating", run_ack)).add_argument("name")

    assign = sub("assign", "give a role to a person", run_assign)
    assign.add_argument("name")
    assign.add_argument("role", choices=[r.value for r in Role])
    assign.add_argument("person")

    sev = sub("sev", "change the severity", run_sev)
    sev.add_argument("name")
    sev.add_argument("level", help="Severity name or level (2 = sev-2)")

    state = with_wait(sub("state", "request a state", run_state))
    state.add_argument("name")
    state.add_argument("state", choices=[s.value for s in IncidentState if s != "merged"])

    for shortcut, target in (
        ("resolve", IncidentState.RESOLVED),
        ("close", IncidentState.CLOSED),
        ("decline", IncidentState.DECLINED),
    ):
        parser = with_wait(sub(shortcut, f"request state {target}", run_state))
        parser.add_argument("name")
        parser.set_defaults(state=target.value)

    merge = with_wait(sub("merge", "merge into the surviving incident", run_merge))
    merge.add_argument("name")
    merge.add_argument("into")

    note = sub("note", "add a note to the timeline", run_note)
    note.add_argument("name")
    note.add_argument("text")
    note.add_argument("--author", default=None, help="default: your login name")

    _update_arguments(sub("update", "write a public update for the status page", run_update))

    _task_arguments(sub("task", "tick a checklist task (spec.tasksDone) or reopen it", run_task))

    stakeholder = sub(
        "stakeholder-update",
        "edit or send early the next stakeholder update (the Severity sets the cadence)",
        run_stakeholder_update,
    )
    stakeholder.add_argument("name")
    stakeholder.add_argument(
        "text",
        nargs="?",
        default=None,
        help="what is being done, in the stakeholders' words (kept for the following updates); "
        "without TEXT and --now: print the latest update and when the next is due",
    )
    stakeholder.add_argument(
        "--now", action="store_true", help="send it now; the cadence restarts from it"
    )


def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["done", "undo"])
    parser.add_argument("name")
    parser.add_argument("number", type=int, help="the task's number (kubectl incident show)")
    parser.add_argument("--author", default=None, help="default: your login name")


def _update_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("text", nargs="?", default="", help="the update as customers will read it")
    parser.add_argument(
        "--public",
        action="store_true",
        required=True,
        help="publish it on the status page (required: only public updates for now)",
    )
    parser.add_argument(
        "--status",
        choices=[s.value for s in PublicStatus],
        help="default: where the incident's phase stands (resolved once resolved, "
        "monitoring once mitigated, else investigating)",
    )
    parser.add_argument("--title", help="set the public title too (default: unchanged)")
    parser.add_argument("--impact", help="set the public impact too (default: unchanged)")
    parser.add_argument("--author", default=None, help="default: your login name")
    drafted = parser.add_mutually_exclusive_group()
    drafted.add_argument(
        "--draft",
        action="store_true",
        help="print the Severity's suggested wording for the incident's phase (publishes nothing)",
    )
    drafted.add_argument(
        "--accept",
        action="store_true",
        help="publish the suggested wording as drafted (and its title, unless one is written)",
    )


def severity_name(level: str) -> str:
    """``2`` means the conventional ``sev-2``; anything else is a Severity's name."""
    return f"sev-{level}" if level.isdigit() else level


def generated_name(title: str, now: datetime) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "incident"
    return f"{slug}-{now:%Y%m%d}-{secrets.token_hex(2)}"


def declared_on(args: argparse.Namespace, incidents: Incidents) -> tuple[str, str]:
    """(namespace, service) of ``--service``: the catalogued Service it names
    (domain/chat_declare.py's rule, with the caller's own rights: whatever they may list);
    without ``-n`` the incident goes to that Service's namespace. A name no visible Service
    has is declared as given, in the namespace asked for (its incident's ServiceResolved
    condition says so); a name in several namespaces must be narrowed with ``-n``."""
    asked = args.service[0]
    everywhere = args.namespace is None and "/" not in asked
    try:
        listed = incidents.list_services(all_namespaces=everywhere or "/" in asked)
    except IncidentOperatorError:
        try:  # e.g. not allowed to list cluster-wide: what the caller sees where they are
            listed = incidents.list_services() if everywhere else []
        except IncidentOperatorError:
            listed = []
    try:
        choice = choose_service(asked, [_service_choice(b) for b in listed])
    except DeclareRefused as exc:
        if exc.kind == "ambiguous":
            raise Verdict(f"{exc} (use -n NAMESPACE or --service NAMESPACE/NAME)") from exc
        namespace, _, name = asked.rpartition("/")
        print(
            f"warning: {exc} The incident names it anyway; its ServiceResolved condition "
            "stays False until such a Service exists.",
            file=sys.stderr,
        )
        return (namespace or incidents.namespace), name
    if args.namespace is not None and choice.namespace != incidents.namespace:
        raise Verdict(
            f"Service {asked} is in namespace {choice.namespace}, not {incidents.namespace}"
        )
    return choice.namespace, choice.name


def _service_choice(body: Body) -> ServiceChoice:
    meta = body.get("metadata") or {}
    return ServiceChoice(
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
        str((body.get("spec") or {}).get("owner") or ""),
    )


@command
def run_declare(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    now = datetime.now(UTC)
    namespace, service = declared_on(args, incidents)
    spec: Body = {
        "title": args.title,
        "service": service,
        "severityRef": severity_name(args.severity),
        "summary": args.summary,
        "private": args.private,
        "source": {"type": "manual"},
    }
    if more := list(
        dict.fromkeys(s for s in args.service[1:] if s not in (args.service[0], service))
    ):
        spec["services"] = more
    if args.commander:
        spec["roles"] = {"commander": args.commander}
    name = args.name or generated_name(args.title, now)
    created = incidents.create(
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )
    where = created["metadata"].get("namespace") or namespace
    print(f"incident {where}/{created['metadata']['name']} declared", file=out)
    return 0


def age(created: str | None, now: datetime) -> str:
    """kubectl's short age: 45s, 12m, 3h, 5d."""
    if not created:
        return "<unknown>"
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def state_text(body: Body) -> str:
    """The requested state, and the accepted phase when they differ (a refused move, or the
    operator's own conclusion: a verified mitigation, an auto-resolve)."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    requested = spec.get("state", "triage")
    phase = status.get("phase")
    if phase in (None, requested):
        return str(requested)
    concluded = ((status.get("conclusions") or {}).get("state") or {}).get("reason")
    return f"{requested} (is {phase}: {concluded})" if concluded else f"{requested} (is {phase})"


def effective_roles(body: Body) -> dict[str, str]:
    """Roles as the operator applied them (status: spec filled from the rotation), else spec."""
    spec_roles = (body.get("spec") or {}).get("roles") or {}
    status_roles = (body.get("status") or {}).get("roles") or {}
    merged = {**{k: v for k, v in status_roles.items() if v}, **spec_roles}
    return {k: v for k, v in merged.items() if v}


def list_header(*, wide: bool = False, namespaced: bool = False) -> list[str]:
    header = ["NAME", "SEVERITY", "STATE", "COMMANDER", "SERVICE", "AGE"]
    if wide:
        header += ["PHASE", "REQUESTED", "TITLE"]
    return ["NAMESPACE", *header] if wide or namespaced else header


def list_row(
    body: Body, now: datetime, *, wide: bool = False, namespaced: bool = False
) -> list[str]:
    """One incident's cells under :func:`list_header` (wide: also phase, requested, title)."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    row = [
        body["metadata"]["name"],
        status.get("severity") or spec.get("severityRef", ""),
        state_text(body),
        effective_roles(body).get("commander") or "<none>",
        spec.get("service", ""),
        age(body["metadata"].get("creationTimestamp"), now),
    ]
    if wide:
        row += [
            status.get("phase") or "<pending>",
            spec.get("state", "triage"),
            output.one_line(spec.get("title", "")),
        ]
    return [body["metadata"].get("namespace", ""), *row] if wide or namespaced else row


def _position(body: Body) -> tuple[str, str]:
    return (body["metadata"].get("namespace", ""), body["metadata"]["name"])


class Listing:
    """What `list` prints for one object in its format, and whether it changed since."""

    def __init__(self, fmt: str | None, namespaced: bool) -> None:
        self.fmt, self.namespaced = fmt, namespaced
        self.printed: dict[tuple[str, str], str] = {}
        self.widths: list[int] = []

    def cells(self, body: Body, now: datetime) -> list[str]:
        return list_row(body, now, wide=self.fmt == "wide", namespaced=self.namespaced)

    def seen(self, body: Body, now: datetime) -> str:
        """What identifies the printed version: the cells but the age, or resourceVersion."""
        if self.fmt in (None, "wide"):
            cells = self.cells(body, now)
            del cells[list_header(wide=self.fmt == "wide", namespaced=self.namespaced).index("AGE")]
            return "\t".join(cells)
        return str(body["metadata"].get("resourceVersion", ""))

    def text(self, body: Body, now: datetime) -> str:
        if self.fmt == "name":
            return output.resource_name(body) + "\n"
        if self.fmt in ("json", "yaml"):
            return output.document(body, self.fmt)
        cells = self.cells(body, now)
        header = ""
        if not self.widths:
            head = list_header(wide=self.fmt == "wide", namespaced=self.namespaced)
            self.widths = output.widths([head, cells])
            header = output.aligned(head, self.widths) + "\n"
        self.widths = [max(w, len(c)) for w, c in zip(self.widths, cells, strict=True)]
        return header + output.aligned(cells, self.widths) + "\n"

    def changed(self, kind: str, body: Body, now: datetime) -> str:
        """The text for a watch event, or "" when what would be printed is already shown."""
        if kind == "DELETED" and self.fmt in (None, "wide"):
            body = {**body, "spec": {**(body.get("spec") or {}), "state": "deleted"}}
            body["status"] = {**(body.get("status") or {}), "phase": "deleted"}
        key, seen = _position(body), self.seen(body, now)
        if self.printed.get(key) == seen:
            return ""
        self.printed[key] = seen
        return self.text(body, now)


@command
def run_list(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    now = datetime.now(UTC)
    found = sorted(incidents.list(args.all_namespaces), key=_position)
    listing = Listing(args.output, args.all_namespaces)
    if args.output in ("json", "yaml") and not args.watch:
        out.write(output.document(output.kube_list(found), args.output))
        return 0
    if not found and args.output != "name":
        print("No incidents found.", file=sys.stderr)
    if args.output in (None, "wide") and found:
        rows = [list_header(wide=args.output == "wide", namespaced=args.all_namespaces)]
        rows += [listing.cells(body, now) for body in found]
        listing.widths = output.widths(rows)
        out.write(output.aligned(rows[0], listing.widths) + "\n")
    for body in found:
        out.write(listing.changed("ADDED", body, now))
    if args.watch:
        return watch_list(incidents, args.all_namespaces, listing, out)
    return 0


def watch_list(incidents: Incidents, everywhere: bool, listing: Listing, out: TextIO) -> int:
    """Print what changes until Ctrl-C or SIGTERM (exit 0); a broken pipe ends it in main."""
    output.stream_until_interrupted(
        out,
        (
            listing.changed(kind, body, datetime.now(UTC))
            for kind, body in incidents.watch(all_namespaces=everywhere)
        ),
    )
    return 0


def _words(camel: str) -> str:
    """timeToAcknowledge -> time to acknowledge."""
    return re.sub(r"([A-Z])", r" \1", camel).lower()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def refusal(body: Body, generation: int | None = None) -> str | None:
    """The operator's TransitionRefused message (at ``generation`` when given), else None."""
    for condition in (body.get("status") or {}).get("conditions", []):
        if (
            condition.get("type") == TRANSITION_REFUSED
            and condition.get("status") == "True"
            and (generation is None or condition.get("observedGeneration") == generation)
        ):
            return str(condition.get("message", ""))
    return None


@command
def run_show(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    body = incidents.get(args.name)
    if args.output == "json":
        print(json.dumps(body, indent=2, sort_keys=True), file=out)
        return 0
    status = body.get("status") or {}
    lines = [
        *_header_lines(f"{incidents.namespace}/{args.name}", body),
        *_record_lines(status),
        *_task_lines(status),
        *_timeline_lines(status),
    ]
    print("\n".join(lines), file=out)
    return 0


def _header_lines(where: str, body: Body) -> list[str]:
    """What the incident is, who has it, what is due, and a refused request."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    lines = [
        f"Incident:  {where}",
        f"Title:     {spec.get('title', '')}",
        f"Service:   {spec.get('service', '')}",
        f"Severity:  {spec.get('severityRef', '')}",
        f"State:     {state_text(body)}",
    ]
    if spec.get("mergedInto"):
        lines.append(f"Merged:    into {spec['mergedInto']}")
    roles = effective_roles(body)
    lines.append("Roles:     " + (", ".join(f"{k}={v}" for k, v in roles.items()) or "<none>"))
    response = status.get("response") or {}
    if response.get("escalatedTo"):
        lines.append(f"Escalated: {', '.join(response['escalatedTo'])}")
    for label, key in (("Ack due:", "ackDue"), ("Update due:", "updateDue")):
        if response.get(key):
            lines.append(f"{label:<11}{response[key]}")
    if (refused := refusal(body)) is not None:
        lines.append(f"Refused:   {refused}")
    lines.extend(_public_lines(spec.get("public") or {}))
    return lines


def _public_lines(public: Body) -> list[str]:
    """What the status page says instead of the title (spec.public), when written."""
    lines = []
    if public.get("title"):
        lines.append(f"Public:    {public['title']}")
    if public.get("impact"):
        lines.append(f"Impact:    {public['impact']}")
    updates = [u for u in public.get("updates") or [] if isinstance(u, dict)]
    if updates:
        last = updates[-1]
        lines.append(
            f"Published: {len(updates)} update(s), last {last.get('at', '')} "
            f"{last.get('status', '')}: {last.get('text', '')}"
        )
    return lines


def _record_lines(status: Body) -> list[str]:
    """The timestamps, the MTTx figures and the mitigations."""
    lines = [
        f"{key.capitalize() + ':':<11}{value}"
        for key, value in (status.get("timestamps") or {}).items()
    ]
    figures = status.get("durations") or {}
    if figures:
        lines.append(
            "MTTx:      "
            + ", ".join(f"{_words(k)} {_duration(v)}" for k, v in figures.items() if v is not None)
        )
    for result in status.get("mitigations") or []:
        lines.append(
            f"Mitigation: {result.get('name', '')} ({result.get('action', '')} "
            f"{result.get('target', '')}) {result.get('state', '')}: {result.get('message', '')}"
        )
    sent = status.get("stakeholders") or {}
    if sent.get("sequence"):
        lines.append(
            f"Stakeholders: update #{sent['sequence']} at {sent.get('lastSentAt', '?')}, "
            f"next due {sent.get('nextDueAt') or 'none'}"
        )
    return lines


def _task_lines(status: Body) -> list[str]:
    """The roles' checklist tasks by number (ticked with kubectl incident task done)."""
    tasks = [t for t in status.get("tasks") or [] if isinstance(t, dict)]
    if not tasks:
        return []
    lines = ["Tasks:"]
    for t in sorted(tasks, key=lambda t: int(t.get("number") or 0)):
        mark = "[x]" if t.get("done") else "[ ]"
        who = f" (done by {t['doneBy']})" if t.get("done") and t.get("doneBy") else ""
        lines.append(f"  {mark} {t.get('number')}. {t.get('role', '')}: {t.get('text', '')}{who}")
    return lines


def _timeline_lines(status: Body) -> list[str]:
    timeline = status.get("timeline") or []
    lines = ["Timeline:" if timeline else "Timeline:  <empty>"]
    folded = status.get("timelineSummary") or {}
    if folded.get("entries"):
        lines.append(
            f"  ({folded['entries']} older entries summarised, {folded.get('first')} .. "
            f"{folded.get('last')}: "
            + ", ".join(f"{t} {n}" for t, n in (folded.get("byType") or {}).items())
            + ")"
        )
    for entry in timeline:
        who = f" ({entry['author']})" if entry.get("author") else ""
        kind = entry.get("type", "")
        lines.append(f"  {entry.get('at', '')}  {kind:<20} {entry.get('message', '')}{who}")
    return lines


def request_state(
    incidents: Incidents,
    name: str,
    spec: Body,
    wait: float,
    out: TextIO,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Patch the state, then wait up to ``wait`` s for the operator to accept or refuse it."""
    requested = spec["state"]
    patched = incidents.patch_spec(name, spec)
    generation = int(patched["metadata"].get("generation", 0))
    where = f"incident {incidents.namespace}/{name}"
    deadline = clock() + wait
    while wait > 0:
        body = incidents.get(name)
        status = body.get("status") or {}
        if (refused := refusal(body, generation)) is not None:
            raise Verdict(f"{where}: the operator refused {requested}: {refused}")
        if status.get("observedGeneration", 0) >= generation and status.get("phase") == requested:
            print(f"{where} is now {requested}", file=out)
            return 0
        if clock() >= deadline:
            break
        sleep(0.5)
    print(f"{where}: state set to {requested} (not yet confirmed by the operator)", file=out)
    return 0


@command
def run_ack(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    return request_state(incidents, args.name, {"state": "investigating"}, args.wait, out)


@command
def run_state(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    # Leaving merged is refused by the API server; mergedInto only goes with merged.
    return request_state(incidents, args.name, {"state": args.state}, args.wait, out)


@command
def run_merge(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    if args.into == args.name:
        raise Verdict("an incident cannot be merged into itself")
    incidents.get(args.into)  # the survivor must exist: IncidentNotFound names it
    spec = {"state": "merged", "mergedInto": args.into}
    return request_state(incidents, args.name, spec, args.wait, out)


@command
def run_assign(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    incidents.patch_spec(args.name, {"roles": {args.role: args.person}})
    print(f"incident {incidents.namespace}/{args.name}: {args.role} is {args.person}", file=out)
    return 0


@command
def run_sev(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    severity = severity_name(args.level)
    incidents.patch_spec(args.name, {"severityRef": severity})
    print(f"incident {incidents.namespace}/{args.name}: severity {severity}", file=out)
    return 0


@command
def run_note(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    author = args.author or getpass.getuser()
    for problem in (
        timeline.too_long("note", args.text),
        timeline.too_long("author", author, timeline.AUTHOR_MAX),
    ):
        if problem is not None:
            raise InvalidSpecError(f"{problem}: nothing was added")
    entry = timeline.entry(
        datetime.now(UTC).replace(microsecond=0),
        "note",
        args.text,
        author=author,
        source="kubectl",
        key=f"note/{secrets.token_hex(8)}",
    )
    incidents.append_timeline(args.name, entry)
    print(f"incident {incidents.namespace}/{args.name}: note added", file=out)
    return 0


@command
def run_task(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    """``task done|undo NAME N``: add N to (or take it from) spec.tasksDone, as the user (the
    API server's RBAC decides who may); a done tick also says who on the timeline."""
    where = f"incident {incidents.namespace}/{args.name}"
    body = incidents.get(args.name)
    numbers = {t.get("number") for t in (body.get("status") or {}).get("tasks") or []}
    if args.number not in numbers:
        raise InvalidSpecError(f"{where} has no task {args.number} (kubectl incident show)")
    done = args.action == "done"

    def change(current: Body) -> Body:
        have = {int(n) for n in (current.get("spec") or {}).get("tasksDone") or []}
        wanted = have | {args.number} if done else have - {args.number}
        return {"tasksDone": sorted(wanted)}

    incidents.patch_spec(args.name, change)
    if done:
        author = (args.author or getpass.getuser())[: timeline.AUTHOR_MAX]
        entry = timeline.entry(
            datetime.now(UTC).replace(microsecond=0),
            checklists.DONE_ENTRY,
            f"Task {args.number} done",
            author=author,
            source="kubectl",
            key=checklists.done_key(args.number),
        )
        incidents.append_timeline(args.name, entry)
    print(f"{where}: task {args.number} {'done' if done else 'reopened'}", file=out)
    return 0


PUBLIC_UPDATES_MAX = 50


def suggested(incidents: Incidents, body: Body) -> Draft:
    """The incident's Severity's suggested public wording at its phase (the default
    templates when the Severity cannot be read)."""
    spec = body.get("spec") or {}
    severity = incidents.get_severity(str(spec.get("severityRef") or "")) or {}
    try:
        page = StatusPage.model_validate((severity.get("spec") or {}).get("statusPage") or {})
    except ValidationError:
        page = StatusPage()
    phase = str((body.get("status") or {}).get("phase") or "")
    return draft(
        page.draft.to_domain(), str(spec.get("service") or ""), Impact(page.impact.value), phase
    )


@command
def run_update(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    """Append a public update (and set the public title or impact) on the version read;
    ``--draft`` prints the suggested wording, ``--accept`` publishes it."""
    if args.draft:
        proposal = suggested(incidents, incidents.get(args.name))
        print(
            f"status: {proposal.status}\ntitle:  {proposal.title}\ntext:   {proposal.text}",
            file=out,
        )
        return 0
    if not args.accept and not args.text:
        raise UsageError("update: give the TEXT of the update, or --draft / --accept")
    author = args.author or getpass.getuser()
    at = datetime.now(UTC).replace(microsecond=0)

    def change(body: Body) -> Body:
        phase = str((body.get("status") or {}).get("phase") or "")
        public = dict((body.get("spec") or {}).get("public") or {})
        text, title = args.text, args.title
        status = args.status or default_public_status(phase).value
        if args.accept:
            proposal = suggested(incidents, body)
            text, status = args.text or proposal.text, args.status or proposal.status.value
            if title is None and not public.get("title"):
                title = proposal.title
        updates = list(public.get("updates") or [])
        if len(updates) >= PUBLIC_UPDATES_MAX:
            raise InvalidSpecError(
                f"incident {args.name} already has {PUBLIC_UPDATES_MAX} public updates: "
                "nothing was added"
            )
        entry = {"at": iso(at), "status": str(status), "text": text, "author": author}
        patch: Body = {"updates": [*updates, entry]}
        if title is not None:
            patch["title"] = title
        if args.impact is not None:
            patch["impact"] = args.impact
        try:  # the API server's rules, said before anything is sent
            Public.model_validate({**public, **patch})
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidSpecError(f"public {where}: {first['msg']}: nothing was added") from None
        return {"public": patch}

    incidents.patch_spec(args.name, change)
    print(f"incident {incidents.namespace}/{args.name}: public update published", file=out)
    return 0


@command
def run_stakeholder_update(args: argparse.Namespace, incidents: Incidents, out: TextIO) -> int:
    """Set the next stakeholder update's text and/or ask for it now; neither: print the
    latest update and when the next is due."""
    where = f"incident {incidents.namespace}/{args.name}"
    if args.text is None and not args.now:
        status = (incidents.get(args.name).get("status") or {}).get("stakeholders") or {}
        if not status.get("sequence"):
            print(f"{where}: no stakeholder update sent yet", file=out)
        else:
            print(status.get("text", ""), file=out)
        print(f"next due: {status.get('nextDueAt') or 'none'}", file=out)
        return 0
    change: Body = {}
    if args.text is not None:
        change["text"] = args.text
    if args.now:
        change["requestedAt"] = iso(datetime.now(UTC).replace(microsecond=0))
    try:  # the API server's rules, said before anything is sent
        StakeholderUpdate.model_validate(change)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidSpecError(f"stakeholder update: {first['msg']}: nothing was changed") from None
    incidents.patch_spec(args.name, {"stakeholderUpdate": change})
    done = "requested now" if args.now else "text set for the next update"
    print(f"{where}: stakeholder update {done}", file=out)
    return 0
