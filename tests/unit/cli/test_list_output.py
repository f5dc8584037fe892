"""`kubectl incident list -o json|yaml|wide|name` and `list --watch`, on an in-memory cluster."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import yaml

from incident_operator.adapters.ports import Body
from tests.unit.cli.test_incident_cli import FakeIncidents, incident, run


class WatchedIncidents(FakeIncidents):
    """``events`` are what the watch delivers after the current objects; then it ends, or
    ``interrupt`` plays Ctrl-C."""

    def __init__(self, namespace: str = "shop") -> None:
        super().__init__(namespace)
        self.events: list[tuple[str, Body]] = []
        self.watched: list[tuple[str | None, bool]] = []
        self.interrupt = False

    def watch(
        self, name: str | None = None, all_namespaces: bool = False, since: str | None = None
    ) -> Iterator[tuple[str, Body]]:
        self.watched.append((name, all_namespaces))
        self.since = since
        for body in [] if since else self.list(all_namespaces):  # no version: replay first
            if name in (None, body["metadata"]["name"]):
                yield "ADDED", body
        for kind, body in self.events:
            if name in (None, body["metadata"]["name"]):
                yield kind, copy.deepcopy(body)
        if self.interrupt:
            raise KeyboardInterrupt


def two() -> WatchedIncidents:
    fake = WatchedIncidents()
    incident(fake, "web", service="web", title="Web is down")
    incident(fake, "checkout")
    for rv, body in enumerate(fake.objects.values()):
        body["metadata"]["resourceVersion"] = str(rv + 1)
    return fake


def test_name_is_kubectls_resource_slash_name_sorted() -> None:
    code, out, err = run(two(), "list", "-o", "name")
    assert (code, err) == (0, "")
    assert out == "incident.sre.dev/checkout\nincident.sre.dev/web\n"


def test_json_and_yaml_are_a_v1_list_of_the_objects() -> None:
    code, out, _ = run(two(), "list", "-o", "json")
    listed = json.loads(out)
    assert (code, listed["apiVersion"], listed["kind"]) == (0, "v1", "List")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["checkout", "web"]
    code, out, _ = run(two(), "list", "-o", "yaml")
    assert code == 0
    assert yaml.safe_load(out) == listed


def test_wide_adds_namespace_phase_requested_and_title() -> None:
    fake = two()
    fake.objects["web"]["spec"]["state"] = "resolved"
    fake.objects["web"]["status"] = {"phase": "investigating"}
    code, out, _ = run(fake, "list", "-o", "wide")
    header, checkout, web = out.splitlines()
    assert code == 0
    assert header.split() == [
        "NAMESPACE", "NAME", "SEVERITY", "STATE", "COMMANDER", "SERVICE", "AGE",
        "PHASE", "REQUESTED", "TITLE",
    ]  # fmt: skip
    assert checkout.split()[:2] == ["shop", "checkout"]
    assert checkout.split()[-4:] == ["<pending>", "triage", "Checkout", "5xx"]
    assert web.endswith("investigating   resolved    Web is down")


def test_empty_says_so_on_stderr_only() -> None:
    assert run(WatchedIncidents(), "list") == (0, "", "No incidents found.\n")
    assert run(WatchedIncidents(), "list", "-o", "name") == (0, "", "")
    code, out, _ = run(WatchedIncidents(), "list", "-o", "json")
    assert (code, json.loads(out)["items"]) == (0, [])


def changed(fake: WatchedIncidents, name: str, **spec: str) -> Body:
    body = copy.deepcopy(fake.objects[name])
    body["spec"].update(spec)
    body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 10)
    return body


def test_watch_prints_a_row_again_only_when_it_changes() -> None:
    fake = two()
    status_only = copy.deepcopy(fake.objects["web"])
    status_only["metadata"]["resourceVersion"] = "7"  # e.g. the operator's heartbeat
    fake.events = [
        ("MODIFIED", status_only),
        ("MODIFIED", changed(fake, "web", state="mitigated")),
        ("DELETED", changed(fake, "checkout")),
    ]
    code, out, err = run(fake, "list", "--watch")
    assert (code, err) == (0, "")
    assert fake.watched == [(None, False)]
    lines = out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["NAME", "SEVERITY", "STATE"],
        ["checkout", "sev-2", "triage"],
        ["web", "sev-2", "triage"],
        ["web", "sev-2", "mitigated"],
        ["checkout", "sev-2", "deleted"],
    ]
    assert len({line.index("SEVERITY") if i == 0 else line.index("sev-2") for i, line in
                enumerate(lines)}) == 1  # fmt: skip


def test_watch_from_nothing_prints_the_header_with_the_first_row() -> None:
    fake = WatchedIncidents()
    fake.events = [("ADDED", {"metadata": {"name": "new", "namespace": "shop"}, "spec": {}})]
    code, out, err = run(fake, "list", "-w", "-A")
    assert (code, err) == (0, "No incidents found.\n")
    assert fake.watched == [(None, True)]
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["NAMESPACE", "NAME"],
        ["shop", "new"],
    ]


def test_watch_json_and_name_print_each_new_version_once() -> None:
    fake = two()
    fake.events = [("MODIFIED", changed(fake, "web", state="mitigated"))]
    code, out, _ = run(fake, "list", "-w", "-o", "name")
    assert (code, out.splitlines()) == (
        0,
        ["incident.sre.dev/checkout", "incident.sre.dev/web", "incident.sre.dev/web"],
    )
    code, out, _ = run(fake, "list", "-w", "-o", "json")
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(out):
        doc, at = decoder.raw_decode(out, at)
        docs.append(doc)
        at += 1
    assert [(d["metadata"]["name"], d["spec"].get("state")) for d in docs] == [
        ("checkout", None),
        ("web", None),
        ("web", "mitigated"),
    ]


def test_ctrl_c_ends_the_watch_with_status_0() -> None:
    fake = two()
    fake.interrupt = True
    code, out, _ = run(fake, "list", "-w")
    assert code == 0
    assert len(out.splitlines()) == 3


def test_no_colour_anywhere() -> None:
    fake = two()
    for fmt in ("wide", "name", "json", "yaml"):
        assert "\x1b" not in run(fake, "list", "-o", fmt)[1]
