"""The incident commands of `kubectl incident` against an in-memory cluster."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.adapters.incident_client import IncidentNotFound, Rejected
from incident_operator.adapters.ports import Body
from incident_operator.cli import incident_commands
from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.manifests import UsageError
from incident_operator.errors import PermanentError
from tests.builders import objects


class FakeIncidents:
    """Objects by name; ``verdict`` plays the operator after each spec patch."""

    def __init__(self, namespace: str = "shop") -> None:
        self.namespace = namespace
        self.objects: dict[str, Body] = {}
        self.patches: list[tuple[str, Body]] = []
        self.verdict: Any = None
        self.severities: dict[str, Body] = {}
        self.services: list[Body] = []
        """Catalog Services in any namespace (what the caller may list)."""
        self.cluster_list_forbidden = False

    def get(self, name: str) -> Body:
        if name not in self.objects:
            raise IncidentNotFound(f"incident {self.namespace}/{name} not found")
        return copy.deepcopy(self.objects[name])

    def list(self, all_namespaces: bool = False) -> list[Body]:
        return [copy.deepcopy(b) for b in self.objects.values()]

    def get_severity(self, name: str) -> Body | None:
        return copy.deepcopy(self.severities.get(name))

    def list_services(self, all_namespaces: bool = False) -> Sequence[Body]:
        if all_namespaces and self.cluster_list_forbidden:
            raise PermanentError("list services in all namespaces: forbidden")
        return [
            copy.deepcopy(b)
            for b in self.services
            if all_namespaces or b["metadata"]["namespace"] == self.namespace
        ]

    def create(self, body: Body) -> Body:
        body = copy.deepcopy(body)
        body["metadata"].setdefault("namespace", self.namespace)
        body["metadata"].update(generation=1)
        body["metadata"]["creationTimestamp"] = "2026-11-27T14:00:00Z"
        self.objects[body["metadata"]["name"]] = body
        return copy.deepcopy(body)

    def patch_spec(self, name: str, spec: Body | Callable[[Body], Body]) -> Body:
        body = self.objects[name] if name in self.objects else self.get(name)
        if callable(spec):
            spec = spec(copy.deepcopy(body))
        if spec.get("state") == "investigating" and body["spec"].get("state") == "closed":
            raise Rejected(f"update incident {name}: a closed incident cannot change state")
        self.patches.append((name, spec))
        for key, value in spec.items():
            if isinstance(value, dict):
                body["spec"].setdefault(key, {}).update(value)
            else:
                body["spec"][key] = value
        body["metadata"]["generation"] += 1
        if self.verdict is not None:
            self.verdict(body)
        return copy.deepcopy(body)

    def append_timeline(self, name: str, entry: Body) -> None:
        self.get(name)
        self.objects[name].setdefault("status", {}).setdefault("timeline", []).append(entry)


def run(fake: FakeIncidents, *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = args.run(args, out, lambda namespace: fake)
    return code, out.getvalue(), err.getvalue()


def incident(fake: FakeIncidents, name: str = "checkout", **spec: Any) -> None:
    spec = {"title": "Checkout 5xx", "roles": {"commander": "alice"}, **spec}
    fake.create(objects.incident(name, fake.namespace, **spec))


def accept(body: Body) -> None:
    body["status"] = {
        "phase": body["spec"]["state"],
        "observedGeneration": body["metadata"]["generation"],
        "conditions": [],
    }


def refuse(body: Body) -> None:
    body["status"] = {
        "phase": "investigating",
        "observedGeneration": body["metadata"]["generation"],
        "conditions": [
            {
                "type": "TransitionRefused",
                "status": "True",
                "message": "cannot move to resolved: severity sev-2 requires role(s) "
                "communications to be filled (spec.roles)",
                "observedGeneration": body["metadata"]["generation"],
            }
        ],
    }


def test_declare_builds_the_spec() -> None:
    fake = FakeIncidents()
    code, out, _ = run(
        fake, "declare", "Checkout returns 5xx!", "--service", "checkout", "--severity", "2",
        "--commander", "alice",
    )  # fmt: skip
    assert code == 0
    (name,) = fake.objects
    assert name.startswith("checkout-returns-5xx-")
    assert fake.objects[name]["spec"] == {
        "title": "Checkout returns 5xx!",
        "service": "checkout",
        "severityRef": "sev-2",
        "summary": "",
        "private": False,
        "source": {"type": "manual"},
        "roles": {"commander": "alice"},
    }
    assert out == f"incident shop/{name} declared\n"


def test_declare_on_several_services_names_them_all() -> None:
    fake = FakeIncidents()
    code, _, _ = run(
        fake, "declare", "Payments down", "--service", "checkout", "--service", "payments",
        "--service", "checkout", "--severity", "sev-1", "--name", "pay",
    )  # fmt: skip
    assert code == 0
    spec = fake.objects["pay"]["spec"]
    assert (spec["service"], spec["services"]) == ("checkout", ["payments"])


def test_list_is_a_table_with_the_promised_columns() -> None:
    fake = FakeIncidents()
    incident(fake, state="resolved")
    fake.objects["checkout"]["status"] = {"phase": "investigating"}
    incident(fake, "search", roles={}, service="search")
    incident(fake, "web", roles={}, service="web")
    fake.objects["web"]["status"] = {"phase": "triage", "roles": {"commander": "carol"}}
    code, out, _ = run(fake, "list")
    assert code == 0
    header, first, second, third = out.splitlines()
    assert header.split() == ["NAME", "SEVERITY", "STATE", "COMMANDER", "SERVICE", "AGE"]
    assert first.split()[:6] == ["checkout", "sev-2", "resolved", "(is", "investigating)", "alice"]
    assert second.split()[:5] == ["search", "sev-2", "triage", "<none>", "search"]
    # The commander the operator filled from the rotation (status.roles) is shown.
    assert third.split()[:5] == ["web", "sev-2", "triage", "carol", "web"]


def test_age_is_kubectl_short() -> None:
    now = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    at = now.isoformat().replace("+00:00", "Z")
    assert incident_commands.age(at, now + timedelta(seconds=42)) == "42s"
    assert incident_commands.age(at, now + timedelta(minutes=12, seconds=5)) == "12m"
    assert incident_commands.age(at, now + timedelta(hours=3, minutes=59)) == "3h"
    assert incident_commands.age(at, now + timedelta(days=5, hours=1)) == "5d"


def test_resolve_accepted_by_the_operator() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.verdict = accept
    code, out, _ = run(fake, "resolve", "checkout")
    assert (code, out) == (0, "incident shop/checkout is now resolved\n")
    assert fake.patches == [("checkout", {"state": "resolved"})]


def test_resolve_refused_by_the_operator_is_one_line_and_exit_1() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.verdict = refuse
    code, out, err = run(fake, "resolve", "checkout")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: incident shop/checkout: the operator refused resolved: ")
    assert "communications" in err


def test_without_an_operator_the_request_is_reported_unconfirmed() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, out, _ = run(fake, "ack", "checkout", "--wait", "0")
    assert code == 0
    assert "state set to investigating (not yet confirmed" in out


def test_rejected_by_the_api_server_and_unknown_incident() -> None:
    fake = FakeIncidents()
    incident(fake, state="closed")
    code, _, err = run(fake, "state", "checkout", "investigating", "--wait", "0")
    assert code == 1
    assert err == "error: update incident checkout: a closed incident cannot change state\n"
    code, _, err = run(fake, "show", "nope")
    assert (code, err) == (1, "error: incident shop/nope not found\n")


@pytest.mark.parametrize(
    ("argv", "patch"),
    [
        (("assign", "checkout", "communications", "bob"), {"roles": {"communications": "bob"}}),
        (("sev", "checkout", "1"), {"severityRef": "sev-1"}),
        (("sev", "checkout", "major"), {"severityRef": "major"}),
        (("close", "checkout", "--wait", "0"), {"state": "closed"}),
        (("decline", "checkout", "--wait", "0"), {"state": "declined"}),
        (("merge", "checkout", "other", "--wait", "0"), {"state": "merged", "mergedInto": "other"}),
    ],
)
def test_spec_changes(argv: tuple[str, ...], patch: Body) -> None:
    fake = FakeIncidents()
    incident(fake)
    incident(fake, "other")
    code, _, err = run(fake, *argv)
    assert (code, err) == (0, "")
    assert fake.patches == [("checkout", patch)]


def test_merge_into_an_unknown_incident_changes_nothing() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, _, err = run(fake, "merge", "checkout", "ghost")
    assert (code, err) == (1, "error: incident shop/ghost not found\n")
    assert fake.patches == []


def test_a_note_too_long_for_the_timeline_is_refused_whole() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, _, err = run(fake, "note", "checkout", "x" * 4097, "--author", "alice")
    assert (code, err) == (
        1,
        "error: the note has 4097 characters, the timeline holds at most 4096: nothing was added\n",
    )
    assert run(fake, "note", "checkout", "x" * 4096, "--author", "alice")[0] == 0
    assert fake.objects["checkout"]["status"]["timeline"][-1]["message"] == "x" * 4096


def test_note_and_show() -> None:
    fake = FakeIncidents()
    incident(fake)
    assert run(fake, "note", "checkout", "Rolled back to v41", "--author", "alice")[0] == 0
    fake.objects["checkout"]["status"].update(
        phase="triage",
        timestamps={"declared": "2026-11-27T14:00:00Z"},
        durations={"timeToAcknowledge": 240.0},
    )
    code, out, _ = run(fake, "show", "checkout")
    assert code == 0
    assert "State:     triage" in out
    assert "Roles:     commander=alice" in out
    assert "Declared:  2026-11-27T14:00:00Z" in out
    assert "MTTx:      time to acknowledge 4m00s" in out
    assert "note" in out
    assert "Rolled back to v41 (alice)" in out


def test_update_public_appends_an_update_on_the_version_read() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, out, _ = run(
        fake, "update", "checkout", "We are investigating failed payments.", "--public",
        "--title", "Card payments fail", "--impact", "Some customers cannot pay.",
        "--author", "bob",
    )  # fmt: skip
    assert (code, out) == (0, "incident shop/checkout: public update published\n")
    public = fake.objects["checkout"]["spec"]["public"]
    assert (public["title"], public["impact"]) == (
        "Card payments fail",
        "Some customers cannot pay.",
    )
    [first] = public["updates"]
    assert (first["status"], first["text"], first["author"]) == (
        "investigating",
        "We are investigating failed payments.",
        "bob",
    )
    assert datetime.fromisoformat(first["at"].replace("Z", "+00:00")) <= datetime.now(UTC)
    shown = run(fake, "show", "checkout")[1]
    assert "Public:    Card payments fail\n" in shown
    assert "Impact:    Some customers cannot pay.\n" in shown
    assert (
        f"Published: 1 update(s), last {first['at']} investigating: We are investigating" in shown
    )
    # The next update is built on the object as read: the earlier one stays.
    fake.objects["checkout"]["status"] = {"phase": "mitigated"}
    assert run(fake, "update", "checkout", "A fix is rolling out.", "--public")[0] == 0
    updates = fake.objects["checkout"]["spec"]["public"]["updates"]
    assert [(u["status"], u["text"]) for u in updates] == [
        ("investigating", "We are investigating failed payments."),
        ("monitoring", "A fix is rolling out."),  # where the phase stands, by default
    ]
    assert fake.objects["checkout"]["spec"]["public"]["title"] == "Card payments fail"
    assert (
        run(fake, "update", "checkout", "Found it.", "--public", "--status", "identified")[0] == 0
    )
    assert fake.objects["checkout"]["spec"]["public"]["updates"][-1]["status"] == "identified"


def test_update_refuses_what_the_api_server_would() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, _, err = run(fake, "update", "checkout", "x" * 2001, "--public")
    assert code == 1
    assert "public updates.0.text" in err
    assert "nothing was added" in err
    assert "public" not in fake.objects["checkout"]["spec"]
    fake.objects["checkout"]["spec"]["public"] = {
        "updates": [{"at": "2026-11-27T14:00:00Z", "status": "investigating", "text": "t"}] * 50
    }
    code, _, err = run(fake, "update", "checkout", "one more", "--public")
    assert code == 1
    assert "already has 50 public updates" in err
    with pytest.raises(SystemExit):  # only public updates for now
        build_parser().parse_args(["update", "checkout", "internal words"])


def test_update_draft_prints_and_accept_publishes_the_suggestion() -> None:
    fake = FakeIncidents()
    incident(fake, service="checkout", severityRef="sev-2")
    fake.severities["sev-2"] = objects.severity("sev-2", statusPage={"impact": "major"})
    code, out, _ = run(fake, "update", "checkout", "--public", "--draft")
    assert code == 0
    assert out == (
        "status: investigating\n"
        "title:  checkout: partial outage\n"
        "text:   We are investigating partial outage of checkout.\n"
    )
    assert "public" not in fake.objects["checkout"]["spec"], "a draft publishes nothing"
    assert run(fake, "update", "checkout", "--public", "--accept", "--author", "bob")[0] == 0
    public = fake.objects["checkout"]["spec"]["public"]
    assert public["title"] == "checkout: partial outage"
    [update] = public["updates"]
    assert (update["status"], update["text"], update["author"]) == (
        "investigating",
        "We are investigating partial outage of checkout.",
        "bob",
    )
    # Unreadable Severity: the default templates at impact none; a written title is kept.
    fake.severities.clear()
    fake.objects["checkout"]["status"] = {"phase": "resolved"}
    assert run(fake, "update", "checkout", "--public", "--accept")[0] == 0
    public = fake.objects["checkout"]["spec"]["public"]
    assert public["title"] == "checkout: partial outage"
    assert public["updates"][-1]["text"] == "The disruption of checkout has been resolved."
    assert public["updates"][-1]["status"] == "resolved"
    with pytest.raises(UsageError, match="give the TEXT"):
        run(fake, "update", "checkout", "--public")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["update", "checkout", "--public", "--draft", "--accept"])


def test_stakeholder_update_sets_the_text_and_asks_for_it_now() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, out, _ = run(fake, "stakeholder-update", "checkout", "Rolling back the deploy")
    assert (code, out) == (
        0,
        "incident shop/checkout: stakeholder update text set for the next update\n",
    )
    assert fake.patches[-1] == (
        "checkout",
        {"stakeholderUpdate": {"text": "Rolling back the deploy"}},
    )
    before = datetime.now(UTC).replace(microsecond=0)
    code, out, _ = run(fake, "stakeholder-update", "checkout", "--now")
    assert (code, out) == (0, "incident shop/checkout: stakeholder update requested now\n")
    change = fake.patches[-1][1]["stakeholderUpdate"]
    assert list(change) == ["requestedAt"], "the text is kept"
    assert datetime.fromisoformat(change["requestedAt"]) >= before
    assert (
        fake.objects["checkout"]["spec"]["stakeholderUpdate"]["text"] == "Rolling back the deploy"
    )


def test_stakeholder_update_refuses_a_text_too_long_and_shows_the_latest() -> None:
    fake = FakeIncidents()
    incident(fake)
    code, _, err = run(fake, "stakeholder-update", "checkout", "x" * 1001)
    assert code == 1
    assert "at most 1000 characters" in err
    assert fake.patches == []
    code, out, _ = run(fake, "stakeholder-update", "checkout")
    assert out == "incident shop/checkout: no stakeholder update sent yet\nnext due: none\n"
    fake.objects["checkout"]["status"] = {
        "stakeholders": {
            "sequence": 2,
            "text": "*Stakeholder update #2*",
            "nextDueAt": "2026-11-27T15:00:00Z",
        }
    }
    code, out, _ = run(fake, "stakeholder-update", "checkout")
    assert out == "*Stakeholder update #2*\nnext due: 2026-11-27T15:00:00Z\n"


def test_show_says_when_stakeholders_heard_last_and_next() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.objects["checkout"]["status"] = {
        "phase": "investigating",
        "stakeholders": {
            "sequence": 3,
            "lastSentAt": "2026-11-27T15:00:00Z",
            "nextDueAt": "2026-11-27T15:30:00Z",
        },
    }
    code, out, _ = run(fake, "show", "checkout")
    assert code == 0
    assert "Stakeholders: update #3 at 2026-11-27T15:00:00Z, next due 2026-11-27T15:30:00Z" in out


def with_tasks(fake: FakeIncidents) -> None:
    fake.objects["checkout"]["status"] = {
        "tasks": [
            {"number": 1, "key": "k1", "role": "commander", "text": "Open a bridge",
             "source": "severity/sev-2/commander", "done": False},
            {"number": 2, "key": "k2", "role": "scribe", "text": "Start notes",
             "source": "severity/sev-2/scribe", "done": True, "doneBy": "bob"},
        ]
    }  # fmt: skip


def test_task_done_writes_the_spec_as_the_user_and_says_who_on_the_timeline() -> None:
    fake = FakeIncidents()
    incident(fake, tasksDone=[2])
    with_tasks(fake)
    code, out, _ = run(fake, "task", "done", "checkout", "1", "--author", "alice")
    assert (code, out) == (0, "incident shop/checkout: task 1 done\n")
    assert fake.patches == [("checkout", {"tasksDone": [1, 2]})]
    (entry,) = fake.objects["checkout"]["status"]["timeline"]
    assert (entry["type"], entry["key"], entry["author"], entry["source"]) == (
        "task-done",
        "task/1/done",
        "alice",
        "kubectl",
    )
    code, out, _ = run(fake, "task", "undo", "checkout", "2")
    assert (code, out) == (0, "incident shop/checkout: task 2 reopened\n")
    assert fake.patches[-1] == ("checkout", {"tasksDone": [1]})
    assert len(fake.objects["checkout"]["status"]["timeline"]) == 1, "an undo adds no entry"


def test_task_done_refuses_a_number_the_incident_does_not_have() -> None:
    fake = FakeIncidents()
    incident(fake)
    with_tasks(fake)
    code, _, err = run(fake, "task", "done", "checkout", "7")
    assert code == 1
    assert "has no task 7" in err
    assert fake.patches == []


def test_show_lists_the_tasks_by_number() -> None:
    fake = FakeIncidents()
    incident(fake)
    with_tasks(fake)
    _, out, _ = run(fake, "show", "checkout")
    assert (
        "Tasks:\n  [ ] 1. commander: Open a bridge\n  [x] 2. scribe: Start notes (done by bob)"
        in out
    )
