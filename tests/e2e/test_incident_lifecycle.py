"""The operator process runs an incident's lifecycle on the real control plane.

Acknowledge -> investigating stamps acknowledged; resolving without the Severity's required
roles is refused (condition + Warning Event, the phase stays); filling the role lets it resolve
with every milestone and MTTx figure stamped.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.kube import Cluster, create_custom, get_custom, temporary_severity, wait_for
from tests.operator_process import OperatorProcess, running_operator


@pytest.fixture
def operator(crds: Cluster, tmp_path: Path) -> Iterator[OperatorProcess]:
    listen = f"--http-listen=127.0.0.1:{free_port()}"
    with running_operator(crds, tmp_path / "operator.log", listen) as process:
        yield process


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-lifecycle",
        {
            "level": 2,
            "displayName": "SEV-2 (lifecycle test)",
            "response": {"requiredRoles": ["commander", "communications"]},
        },
    ) as name:
        yield name


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def test_incident_lifecycle_with_a_refused_resolution(
    operator: OperatorProcess,
    api: client.ApiClient,
    namespace: str,
    severity: str,
) -> None:
    custom = client.CustomObjectsApi(api)
    name = "checkout-errors"

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", name, namespace)

    def patch(spec: dict[str, Any]) -> None:
        custom.patch_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": spec}
        )

    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name},
            "spec": {
                "title": "Checkout returns 5xx",
                "service": "checkout",
                "severityRef": severity,
                "roles": {"commander": "alice"},
            },
        },
        namespace,
    )
    created = wait_for(
        "phase triage, Ready",
        lambda: (
            i
            if (i := incident()).get("status", {}).get("phase") == "triage"
            and conditions(i).get("Ready", {}).get("status") == "True"
            else None
        ),
    )
    assert created["status"]["timestamps"]["declared"] == created["metadata"]["creationTimestamp"]

    patch({"state": "investigating"})
    acked = wait_for(
        "phase investigating",
        lambda: i if (i := incident())["status"].get("phase") == "investigating" else None,
    )
    assert acked["status"]["timestamps"]["acknowledged"]
    assert acked["status"]["durations"]["timeToAcknowledge"] >= 0
    assert acked["status"]["observedGeneration"] == 2

    patch({"state": "resolved"})
    refused = wait_for(
        "the resolution to be refused",
        lambda: (
            i
            if conditions(i := incident()).get("TransitionRefused", {}).get("status") == "True"
            else None
        ),
    )
    condition = conditions(refused)["TransitionRefused"]
    assert condition["reason"] == "RequiredRolesUnfilled"
    assert "communications" in condition["message"]
    assert conditions(refused)["Ready"]["status"] == "False"
    assert refused["status"]["phase"] == "investigating"
    assert "resolved" not in refused["status"]["timestamps"]
    assert refused["spec"]["state"] == "resolved"

    def warning() -> list[Any]:
        events = client.EventsV1Api(api).list_namespaced_event(namespace).items
        return [
            e
            for e in events
            if e.reason == "TransitionRefused"
            and e.type == "Warning"
            and e.regarding is not None
            and e.regarding.name == name
        ]

    (event,) = wait_for("the TransitionRefused Warning Event", warning)
    assert "communications" in event.note

    patch({"roles": {"communications": "bob"}})
    resolved = wait_for(
        "phase resolved",
        lambda: i if (i := incident())["status"].get("phase") == "resolved" else None,
    )
    stamps = resolved["status"]["timestamps"]
    assert {"declared", "acknowledged", "mitigated", "resolved"} <= set(stamps)
    assert stamps["acknowledged"] == acked["status"]["timestamps"]["acknowledged"]
    figures = resolved["status"]["durations"]
    assert 0 <= figures["timeToAcknowledge"] <= figures["timeToMitigate"]
    assert figures["timeToMitigate"] == figures["timeToResolve"]
    assert conditions(resolved)["TransitionRefused"]["status"] == "False"
    assert conditions(resolved)["Ready"]["status"] == "True"
    types = [
        e["type"]
        for e in resolved["status"]["timeline"]
        if e.get("source") != "change-correlation"  # recent changes, tested on their own
    ]
    # Filling the missing role is recorded too (role changes go to the timeline).
    assert types == ["state-changed", "transition-refused", "role-assigned", "state-changed"]
    assert len(warning()) == 1


def plugin(cluster: Cluster, namespace: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`kubectl incident ...` as a user runs it (the plugin on PATH, their kubeconfig)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "kubectl-incident"), *argv, "-n", namespace],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
        timeout=60,
        check=False,
    )


class Streaming:
    """A `kubectl incident ... --follow/--watch` process and its stdout lines as they come."""

    def __init__(self, cluster: Cluster, namespace: str, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "kubectl-incident"), *argv, "-n", namespace],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_lines(self, count: int, timeout: float = 30.0) -> list[str]:
        return [self.lines.get(timeout=timeout) for _ in range(count)]

    def end(self, sig: int | None = None, timeout: float = 30.0) -> tuple[int, str]:
        if sig is not None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


def test_the_plugin_lists_watches_and_follows_the_timeline(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    for name in ("web-down", "db-slow"):
        declared = plugin(
            crds, namespace, "declare", name, "--service", "web", "--severity", "2", "--name", name
        )
        assert declared.returncode == 0, declared.stderr
    names = plugin(crds, namespace, "list", "-o", "name")
    assert (names.returncode, names.stdout) == (
        0,
        "incident.sre.dev/db-slow\nincident.sre.dev/web-down\n",
    ), names.stderr
    listed = json.loads(plugin(crds, namespace, "list", "-o", "json").stdout)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["db-slow", "web-down"]

    watching = Streaming(crds, namespace, "list", "--watch", "-o", "name")
    assert sorted(watching.next_lines(2)) == [
        "incident.sre.dev/db-slow",
        "incident.sre.dev/web-down",
    ]
    following = Streaming(crds, namespace, "timeline", "web-down", "--follow", "-o", "json")
    noted = plugin(crds, namespace, "note", "web-down", "Rolled back", "--author", "alice")
    assert noted.returncode == 0, noted.stderr
    (line,) = following.next_lines(1)
    assert (json.loads(line)["message"], json.loads(line)["author"]) == ("Rolled back", "alice")
    assert watching.next_lines(1) == ["incident.sre.dev/web-down"]  # its status changed
    assert following.end(signal.SIGINT) == (0, "")  # Ctrl-C
    assert watching.end(signal.SIGTERM) == (0, "")

    shown = plugin(crds, namespace, "timeline", "web-down", "--since", "1h")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].split() == ["TIME", "TYPE", "BY", "MESSAGE"]
    assert shown.stdout.splitlines()[-1].split()[1:] == ["note", "alice", "Rolled", "back"]

    following = Streaming(crds, namespace, "timeline", "web-down", "--follow")
    following.next_lines(1)  # the header and the note: the watch is set up by then
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "web-down"
    )
    assert following.end() == (0, f"incident {namespace}/web-down was deleted\n")


def test_the_plugin_runs_an_incident(
    operator: OperatorProcess,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
) -> None:
    declared = plugin(
        crds, namespace, "declare", "Search is slow", "--service", "search",
        "--severity", severity, "--commander", "alice", "--name", "search-slow",
    )  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout == f"incident {namespace}/search-slow declared\n"

    acked = plugin(crds, namespace, "ack", "search-slow")
    assert (acked.returncode, acked.stdout) == (
        0,
        f"incident {namespace}/search-slow is now investigating\n",
    ), acked.stderr

    refused = plugin(crds, namespace, "resolve", "search-slow")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "the operator refused resolved" in refused.stderr
    assert "communications" in refused.stderr

    assigned = plugin(crds, namespace, "assign", "search-slow", "communications", "bob")
    assert assigned.returncode == 0, assigned.stderr
    noted = plugin(crds, namespace, "note", "search-slow", "Index rebuilt", "--author", "bob")
    assert noted.returncode == 0, noted.stderr
    resolved = plugin(crds, namespace, "resolve", "search-slow")
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.endswith("is now resolved\n")

    listing = plugin(crds, namespace, "list")
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split() == ["NAME", "SEVERITY", "STATE", "COMMANDER", "SERVICE", "AGE"]
    assert row.split()[:5] == ["search-slow", severity, "resolved", "alice", "search"]

    shown = plugin(crds, namespace, "show", "search-slow")
    assert shown.returncode == 0, shown.stderr
    assert "State:     resolved" in shown.stdout
    assert "Index rebuilt (bob)" in shown.stdout
    assert "time to resolve" in shown.stdout

    closed = plugin(crds, namespace, "close", "search-slow")
    assert closed.returncode == 0, closed.stderr
    reopened = plugin(crds, namespace, "state", "search-slow", "investigating")
    assert reopened.returncode == 1
    assert "a closed incident cannot change state" in reopened.stderr
    unknown = plugin(crds, namespace, "show", "nope")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        f"error: incident {namespace}/nope not found\n",
    )
    timeline = get_custom(api, "Incident", "search-slow", namespace)["status"]["timeline"]
    assert "note" in [e["type"] for e in timeline]
