"""Workflows on the real control plane, with the Slack, PagerDuty and Jira fakes
(docs/workflows.md).

A team's IncidentWorkflow on a level-1 Severity and label ``tier=1`` posts to the incident's
channel, sets a label and a role (spec.roles, then status.roles), exactly once however many
timer ticks pass; the same kind of workflow in another namespace never acts on this namespace's
incident; a workflow whose CEL does not compile is Ready=False with the compiler's message; a
noUpdate timer reminds once per quiet period; the example workflows are accepted and Ready; on
a tier-1 sev-1 one workflow invites a Slack user group, pages a second team that admits the
namespace (resolved with the incident), opens a Jira ticket and adds a checklist to the
commander, each once: the tasks land in status and the pinned status message, the private
instructions reach the commander alone in one direct message, and a task ticked from Slack is
done. A wait step's later post comes after its duration, once, across an operator restart;
createFollowUp items land in the postmortem once, before and after it is drafted; the default
workflows (the built-in announcement and reminder as examples) fire.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster.controlplane import free_port
from tests.e2e.test_comms import slash
from tests.e2e.test_incident_lifecycle import plugin
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import Threaded, serving
from tests.fakes.trackers import FakeJira
from tests.kube import (
    REPO,
    Cluster,
    create_custom,
    delete_namespace,
    get_custom,
    load_documents,
    temporary_severity,
    wait_for,
)
from tests.operator_process import OperatorProcess, running_operator

TOKEN = "xoxb-e2e-" + uuid.uuid4().hex
SIGNING_SECRET = "signing-" + uuid.uuid4().hex
CONDITION = "severity.level == 1 && 'tier' in incident.labels && incident.labels.tier == '1'"
TEXT = "tier-1 sev-1: leads paged by workflow"
EXAMPLES = sorted((REPO / "examples").glob("6*-*workflows.yaml"))
"""60-workflows.yaml and 61-default-workflows.yaml (the built-ins written as workflows)."""


class World:
    def __init__(self, slack: FakeSlack, thread: Threaded, op: OperatorProcess) -> None:
        self.slack, self.thread, self.op = slack, thread, op

    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for c in self.slack.channels.values() for m in c.messages]


def slack_args(tmp_path: Path, slack_url: str) -> tuple[str, ...]:
    """The operator's flags for the Slack fake (the secrets written as mounted files)."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "slack-token").write_text(TOKEN + "\n")
    (secrets / "slack-signing-secret").write_text(SIGNING_SECRET + "\n")
    return (
        f"--http-listen=127.0.0.1:{free_port()}",
        f"--slack-token-file={secrets / 'slack-token'}",
        f"--slack-signing-secret-file={secrets / 'slack-signing-secret'}",
        f"--slack-api-url={slack_url}",
    )


@pytest.fixture
def world(crds: Cluster, tmp_path: Path) -> Iterator[World]:
    slack = FakeSlack(TOKEN)
    with serving(slack, slack.start) as (slack_url, thread):
        args = slack_args(tmp_path, slack_url)
        with running_operator(crds, tmp_path / "operator.log", *args) as op:
            yield World(slack, thread, op)


@pytest.fixture
def severity(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    spec = {"level": 1, "displayName": "SEV-1 (wf)", "chat": {"createChannel": True}}
    with temporary_severity(api, "sev-wf", spec) as name:
        yield name


@pytest.fixture
def other_namespace(api: client.ApiClient) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    yield name
    delete_namespace(api, name)


def workflow(
    name: str, condition: str, text: str, label: str, roles: dict[str, str] | None = None
) -> dict[str, Any]:
    set_roles = [{"type": "setRoles", "roles": roles}] if roles else []
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": name},
        "spec": {
            "triggers": [
                {"event": "declared"},
                {"event": "severityChanged"},
                {"event": "labelChanged", "labels": ["tier"]},
            ],
            "condition": condition,
            "actions": [
                {"type": "postMessage", "text": text},
                {"type": "setLabels", "labels": {label: "yes"}},
                *set_roles,
            ],
        },
    }


def ready(api: client.ApiClient, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    body = get_custom(api, kind, name, namespace)
    found = [c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
    return found[0] if found else None


def test_a_tier1_sev1_workflow_acts_exactly_once_and_only_in_its_namespace(
    world: World,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    other_namespace: str,
    severity: str,
) -> None:
    roles = {"scribe": "carol"}
    create_custom(api, workflow("tier1", CONDITION, TEXT, "escalated", roles), namespace)
    # Another tenant's workflow whose condition always holds: it must never see our incident.
    create_custom(api, workflow("foreign", "true", "FOREIGN", "foreign"), other_namespace)
    for ns, name in ((namespace, "tier1"), (other_namespace, "foreign")):
        wait_for(f"{name} Ready", functools.partial(ready, api, "IncidentWorkflow", name, ns))
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "db-down"},
            "spec": {
                "title": "Payments DB down",
                "service": "payments",
                "severityRef": severity,
                "state": "investigating",
            },
        },
        namespace,
    )
    custom = client.CustomObjectsApi(api)

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", "db-down", namespace)

    # Declared at sev-1 but without tier=1: judged once, nothing happens.
    wait_for(
        "the workflows' first look",
        lambda: (incident().get("status") or {}).get("workflows", {}).get("done"),
        timeout=60,
    )
    assert not [t for t in world.texts() if TEXT in t]
    custom.patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "db-down",
        {"metadata": {"labels": {"tier": "1"}}},
    )  # fmt: skip
    wait_for("the workflow's message", lambda: [t for t in world.texts() if TEXT in t], 60)
    wait_for("the workflow's label", lambda: incident()["metadata"]["labels"].get("escalated"))

    # setRoles wrote spec.roles; the lifecycle puts it in force (status.roles follows).
    def in_force() -> dict[str, Any]:
        return {k: v for k, v in (incident()["status"].get("roles") or {}).items() if v}

    wait_for("the workflow's role in force", lambda: in_force() == roles)
    time.sleep(12)  # more than two timer intervals: nothing may run again
    assert len([t for t in world.texts() if TEXT in t]) == 1
    body = incident()
    assert body["metadata"]["labels"] == {"tier": "1", "escalated": "yes"}
    assert body["spec"]["roles"] == roles
    assert {k: v for k, v in body["status"]["workflows"]["seen"]["roles"].items() if v} == roles
    (run,) = body["status"]["workflows"]["runs"]
    assert run["result"] == "succeeded"
    assert run["workflow"] == f"IncidentWorkflow {namespace}/tier1"
    assert run["events"] == ["labelChanged"]

    def counted() -> dict[str, Any] | None:
        found = get_custom(api, "IncidentWorkflow", "tier1", namespace).get("status") or {}
        return found if found.get("runs") else None

    status = wait_for("the workflow's counts", counted)
    assert (status["runs"], status["actions"], status["errors"]) == (1, 3, 0)
    assert status["lastIncident"] == f"{namespace}/db-down"
    # Each run is an Event on the incident and on the workflow (emitted before the counts).
    events = client.EventsV1Api(api).list_namespaced_event(namespace).items
    reasons = sorted(
        (e.regarding.kind if e.regarding else "", e.reason)
        for e in events
        if (e.reason or "").startswith("Workflow")
    )
    assert reasons == [("Incident", "WorkflowRan"), ("IncidentWorkflow", "WorkflowRan")]
    # The dry run agrees: nothing is owed any more.
    shown = plugin(crds, namespace, "workflow", "test", "tier1", "--incident", "db-down")
    assert shown.returncode == 0, shown.stderr
    assert "Nothing runs now: no trigger fired" in shown.stdout
    assert "If declared fired now, the condition would be true" in shown.stdout
    # The other namespace's workflow never acted here.
    assert not [t for t in world.texts() if "FOREIGN" in t]
    assert "foreign" not in body["metadata"]["labels"]
    foreign = get_custom(api, "IncidentWorkflow", "foreign", other_namespace)
    assert not (foreign.get("status") or {}).get("runs")


def test_a_workflow_with_bad_cel_is_not_ready_with_the_compilers_message(
    world: World, api: client.ApiClient, namespace: str
) -> None:
    create_custom(api, workflow("broken", "incident.severity ==", "x", "x"), namespace)
    condition = wait_for(
        "Ready=False", lambda: ready(api, "IncidentWorkflow", "broken", namespace), timeout=60
    )
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidSpec"
    assert condition["message"].startswith("spec.condition: ERROR: 1:21: Syntax error")
    create_custom(api, workflow("typo", "sevrity.level == 1", "x", "x"), namespace)
    typo = wait_for("Ready", lambda: ready(api, "IncidentWorkflow", "typo", namespace))
    assert typo["message"] == (
        "spec.condition: undeclared reference to sevrity (use incident, severity, trigger)"
    )


def test_the_example_workflows_are_accepted_and_ready(
    world: World, api: client.ApiClient, namespace: str
) -> None:
    assert [p.name for p in EXAMPLES] == ["60-workflows.yaml", "61-default-workflows.yaml"]
    documents = [d for p in EXAMPLES for d in load_documents(p)]
    assert {d["kind"] for d in documents} == {"IncidentWorkflow", "ClusterIncidentWorkflow"}
    custom = client.CustomObjectsApi(api)
    created: list[str] = []
    try:
        for doc in documents:
            if doc["kind"] == "ClusterIncidentWorkflow":
                doc["metadata"]["name"] += f"-{uuid.uuid4().hex[:6]}"  # shared control plane
                created.append(doc["metadata"]["name"])
            else:
                doc["metadata"]["namespace"] = namespace
            create_custom(api, doc, namespace)
        for doc in documents:
            kind, name = doc["kind"], doc["metadata"]["name"]
            condition = wait_for(
                f"{name} Ready", functools.partial(ready, api, kind, name, namespace)
            )
            assert condition["status"] == "True", condition
    finally:
        for name in created:
            custom.delete_cluster_custom_object(
                "sre.dev", "v1alpha1", "clusterincidentworkflows", name
            )


def test_a_quiet_incident_gets_one_reminder_per_quiet_period(
    world: World, crds: Cluster, api: client.ApiClient, namespace: str, severity: str
) -> None:
    """A noUpdate timer: one message per quiet period, however many ticks see it; a note
    starts a new period and so, once that is quiet too, a second message."""
    quiet = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": "quiet"},
        "spec": {
            "triggers": [{"event": "noUpdate", "after": "10s", "phases": ["investigating"]}],
            "repeat": "everyTrigger",
            "actions": [{"type": "postMessage", "text": "QUIET ${title}"}],
        },
    }
    create_custom(api, quiet, namespace)
    wait_for("quiet Ready", functools.partial(ready, api, "IncidentWorkflow", "quiet", namespace))
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "slow"},
            "spec": {
                "title": "Search slow",
                "service": "search",
                "severityRef": severity,
                "state": "investigating",
            },
        },
        namespace,
    )

    def reminders() -> list[str]:
        return [t for t in world.texts() if "QUIET Search slow" in t]

    wait_for("the first reminder", reminders, timeout=60)
    time.sleep(12)  # the same quiet period, looked at twice more: no second message
    assert len(reminders()) == 1
    noted = plugin(crds, namespace, "note", "slow", "Looking at the index rebuild")
    assert noted.returncode == 0, noted.stderr
    wait_for("the reminder of the next quiet period", lambda: len(reminders()) == 2, 60)
    runs = get_custom(api, "Incident", "slow", namespace)["status"]["workflows"]["runs"]
    assert [r["events"] for r in runs] == [["noUpdate"], ["noUpdate"]]
    assert len({r["key"] for r in runs}) == 2


JIRA_TOKEN = "ATATT3xJiraWorkflowToken0123"
SEARCH_KEY = uuid.uuid4().hex
LEADS = ("U0LEAD0001", "U0LEAD0002")


INSTRUCTIONS = "Private: the payments director is on +49 30 555 0100 " + uuid.uuid4().hex[:8]
CHECKLIST_TASKS = ["Confirm the blast radius", "Decide on a rollback"]


def test_a_tier1_sev1_workflow_invites_pages_opens_a_ticket_and_adds_a_checklist(
    crds: Cluster, api: client.ApiClient, namespace: str, severity: str, tmp_path: Path
) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    keys = f"wf-keys-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=keys)))
    team = f"wf-search-{uuid.uuid4().hex[:6]}"
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="search-pd"), string_data={"routing-key": SEARCH_KEY}
    )
    core.create_namespaced_secret(keys, secret)
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Team",
            "metadata": {"name": team},
            "spec": {
                "namespaces": [namespace],
                "paging": {"routingKey": {"name": "search-pd", "key": "routing-key"}},
            },
        },
        "",
    )
    slack, pd = FakeSlack(TOKEN), FakePagerDuty([SEARCH_KEY])
    jira = FakeJira("sre@example.com", JIRA_TOKEN)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack-token").write_text(TOKEN + "\n")
    (secrets / "slack-signing-secret").write_text(SIGNING_SECRET + "\n")
    (secrets / "jira-token").write_text(JIRA_TOKEN + "\n")
    rotation = yaml.safe_load((REPO / "examples" / "20-oncallrotation.yaml").read_text())
    rotation["metadata"]["namespace"] = namespace
    create_custom(api, rotation, namespace)
    custom.patch_cluster_custom_object(
        "sre.dev", "v1alpha1", "severities", severity,
        {"spec": {"checklists": [{"role": "commander", "tasks": ["Open the bridge"]}]}},
    )  # fmt: skip
    port = free_port()
    try:
        with (
            serving(slack, slack.start) as (slack_url, slack_thread),
            serving(pd, pd.start) as (_, _pd_thread),
            serving(jira, jira.start) as (jira_url, _jira_thread),
        ):
            slack_thread.call(slack.add_usergroup, "S0LEADS01", *LEADS)
            args = (
                f"--http-listen=127.0.0.1:{port}",
                f"--namespace={namespace}",
                f"--slack-token-file={secrets / 'slack-token'}",
                f"--slack-signing-secret-file={secrets / 'slack-signing-secret'}",
                f"--slack-api-url={slack_url}",
                f"--catalog-secret-namespace={keys}",
                f"--pagerduty-url={pd.url}",
                f"--jira-url={jira_url}",
                "--jira-project=OPS",
                "--jira-email=sre@example.com",
                f"--jira-token-file={secrets / 'jira-token'}",
            )
            with running_operator(crds, tmp_path / "operator.log", *args):
                run_tier1_automation(
                    api, custom, namespace, severity, team, (slack, port), pd, jira
                )
            assert INSTRUCTIONS not in (tmp_path / "operator.log").read_text(errors="replace")
    finally:
        custom.delete_cluster_custom_object("sre.dev", "v1alpha1", "teams", team)
        delete_namespace(api, keys)


def run_tier1_automation(
    api: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    severity: str,
    team: str,
    chat: tuple[FakeSlack, int],
    pd: FakePagerDuty,
    jira: FakeJira,
) -> None:
    """``chat``: the Slack fake and the operator's web port (for slash commands)."""
    slack, port = chat
    automation = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": "tier1-leads"},
        "spec": {
            "triggers": [{"event": "labelChanged", "labels": ["tier"]}],
            "condition": CONDITION,
            "actions": [
                {"type": "invite", "name": "leads", "userGroup": "S0LEADS01"},
                {"type": "page", "name": "search", "team": team, "text": "tier-1: join"},
                {"type": "createTicket", "name": "ticket", "text": "Follow up ${title}"},
                {
                    "type": "addChecklist",
                    "name": "commander-duties",
                    "role": "commander",
                    "tasks": CHECKLIST_TASKS,
                    "instructions": INSTRUCTIONS,
                },
            ],
        },
    }
    create_custom(api, automation, namespace)
    wait_for("tier1-leads Ready", functools.partial(ready, api, "IncidentWorkflow",
                                                    "tier1-leads", namespace))  # fmt: skip
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": "db-down"},
            "spec": {
                "title": "Payments DB down",
                "service": "payments",
                "severityRef": severity,
                "state": "investigating",
                "roles": {"commander": "alice"},
                "rotationRef": "checkout-oncall",
            },
        },
        namespace,
    )

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", "db-down", namespace)

    wait_for(
        "the workflows' first look and the Severity's checklist",
        lambda: (
            (incident().get("status") or {}).get("workflows", {}).get("seen")
            and (incident().get("status") or {}).get("tasks")
        ),
        timeout=60,
    )
    custom.patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "db-down",
        {"metadata": {"labels": {"tier": "1"}}},
    )  # fmt: skip
    key = f"incident-operator/{namespace}/db-down/workflow/tier1-leads/search"
    alert = wait_for("the second team's page", lambda: pd.open_alert(key, SEARCH_KEY), 60)
    assert f"[team {team}, IncidentWorkflow {namespace}/tier1-leads]" in alert.summary
    assert alert.events[0]["payload"]["custom_details"]["summary"] == "tier-1: join"

    def members() -> set[str]:
        channel = ((incident().get("status") or {}).get("chat") or {}).get("channelId")
        return set(slack.channels[channel].members) if channel in slack.channels else set()

    wait_for("the user group invited", lambda: set(LEADS) <= members(), 60)
    wait_for("the ticket", lambda: list(jira.issues), 60)
    time.sleep(12)  # more than two timer intervals: nothing may run again
    assert list(jira.issues) == ["OPS-1"]
    assert jira.issues["OPS-1"]["fields"]["summary"] == "Follow up Payments DB down"
    assert len(pd.alerts_for(key)) == 1
    body = incident()
    (run,) = body["status"]["workflows"]["runs"]
    assert (run["result"], run["actions"]) == (
        "succeeded",
        ["leads", "search", "ticket", "commander-duties"],
    )
    assert set(LEADS) <= set(body["status"]["chat"]["invited"])
    (page,) = body["status"]["pager"]["workflowPages"].values()
    assert (page["team"], page["state"], page["dedupKey"]) == (team, "triggered", key)
    assert SEARCH_KEY not in str(body)
    check_the_checklist(api, namespace, slack, port)
    # Resolving the incident resolves the second team's page on its key.
    custom.patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", "db-down",
        {"spec": {"state": "resolved"}},
    )  # fmt: skip
    wait_for("the second team's page resolved", lambda: pd.open_alert(key) is None, 60)
    assert [a.state for a in pd.alerts_for(key)] == ["resolved"]


def check_the_checklist(
    api: client.ApiClient,
    namespace: str,
    slack: FakeSlack,
    port: int,
) -> None:
    """The commander's tasks (the Severity's, then the workflow's) in status and in the
    pinned status message; the instructions in one direct message to the commander (alice,
    U0AAAAAAA in the rotation) and nowhere else; a task ticked from the channel is done."""

    def incident() -> dict[str, Any]:
        return get_custom(api, "Incident", "db-down", namespace)

    def tasks() -> list[dict[str, Any]]:
        return list((incident().get("status") or {}).get("tasks") or [])

    wait_for("the workflow's tasks", lambda: len(tasks()) == 3, 60)
    assert [(t["number"], t["role"], t["text"], t["done"]) for t in tasks()] == [
        (1, "commander", "Open the bridge", False),
        (2, "commander", CHECKLIST_TASKS[0], False),
        (3, "commander", CHECKLIST_TASKS[1], False),
    ]
    channel_id = incident()["status"]["chat"]["channelId"]
    channel = slack.channels[channel_id]

    def pinned() -> str:
        return " ".join(
            str(m.get("blocks", "")) for m in channel.messages if m.get("ts") in channel.pins
        )

    wait_for("the tasks in the pinned status", lambda: CHECKLIST_TASKS[1] in pinned(), 60)
    assert "1. [commander] Open the bridge" in pinned()
    wait_for("the commander's instructions", lambda: slack.direct_messages("U0AAAAAAA"), 60)
    time.sleep(6)  # more than a timer interval: nothing is sent again
    (dm,) = slack.direct_messages("U0AAAAAAA")
    assert INSTRUCTIONS in str(dm["text"])
    elsewhere = [
        m
        for c in slack.channels.values()
        if c.id != "DU0AAAAAAA"
        for m in c.messages
        if INSTRUCTIONS in str(m)
    ]
    assert elsewhere == [], "the instructions go to the commander alone"
    assert INSTRUCTIONS not in str(incident())
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    assert not [e for e in events if INSTRUCTIONS in (e.message or "")]
    status, reply = slash(port, "task done 2", channel_id, secret=SIGNING_SECRET)
    assert status == 200, reply
    assert "task 2 done" in reply
    wait_for("task 2 done", lambda: tasks()[1]["done"], 60)
    assert (tasks()[1]["doneBy"], tasks()[0]["done"], tasks()[2]["done"]) == ("bob", False, False)
    assert incident()["spec"]["tasksDone"] == [2]
    wait_for(
        "the tick in the pinned status",
        lambda: f"~2. [commander] {CHECKLIST_TASKS[0]}~" in pinned(),
        60,
    )


def test_a_wait_step_posts_after_its_duration_once_across_an_operator_restart(
    crds: Cluster, api: client.ApiClient, namespace: str, severity: str, tmp_path: Path
) -> None:
    """declared -> post, wait 15s, post: the second post comes no sooner than the recorded
    resume time and exactly once, although the operator is stopped while the run waits and
    a new process resumes it from the incident's status. The API server refuses a wait
    over 24h (the CRD's CEL rule), and the dry run shows the paused run."""
    later: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": "later"},
        "spec": {
            "triggers": [{"event": "declared"}],
            "actions": [
                {"type": "postMessage", "text": "WAIT-START ${title}"},
                {"type": "wait", "duration": "15s"},
                {"type": "postMessage", "text": "WAIT-END ${title}"},
            ],
        },
    }
    too_long = {**later, "metadata": {"name": "too-long"}}
    too_long["spec"] = {**later["spec"], "actions": [{"type": "wait", "duration": "25h"}]}
    with pytest.raises(client.ApiException) as refused:
        create_custom(api, too_long, namespace)
    assert "a wait lasts at most 24h" in str(refused.value.body)
    slack = FakeSlack(TOKEN)
    with serving(slack, slack.start) as (slack_url, _):
        args = slack_args(tmp_path, slack_url)

        def texts(word: str) -> list[str]:
            return [
                str(m.get("text", ""))
                for c in slack.channels.values()
                for m in c.messages
                if word in str(m.get("text", ""))
            ]

        def incident() -> dict[str, Any]:
            return get_custom(api, "Incident", "later-inc", namespace)

        with running_operator(crds, tmp_path / "operator-1.log", *args):
            create_custom(api, later, namespace)
            wait_for(
                "later Ready", functools.partial(ready, api, "IncidentWorkflow", "later", namespace)
            )
            create_custom(
                api,
                {
                    "apiVersion": "sre.dev/v1alpha1",
                    "kind": "Incident",
                    "metadata": {"name": "later-inc"},
                    "spec": {
                        "title": "Cart slow",
                        "service": "cart",
                        "severityRef": severity,
                        "state": "investigating",
                    },
                },
                namespace,
            )
            waits = wait_for(
                "the recorded wait",
                lambda: (incident().get("status") or {}).get("workflows", {}).get("waits"),
                timeout=60,
            )
            (wait,) = waits.values()
            shown = plugin(crds, namespace, "workflow", "test", "later", "--incident", "later-inc")
            assert shown.returncode == 0, shown.stderr
            assert f"Paused at wait step {wait['key']}" in shown.stdout
        stopped = datetime.now(UTC)
        assert stopped < datetime.fromisoformat(wait["resumeAt"])  # stopped while it waited
        with running_operator(crds, tmp_path / "operator-2.log", *args):
            wait_for("the post after the wait", lambda: texts("WAIT-END Cart slow"), timeout=60)
            time.sleep(12)  # two more timer intervals: nothing repeats
        assert len(texts("WAIT-START Cart slow")) == 1
        assert len(texts("WAIT-END Cart slow")) == 1
    status = incident()["status"]
    entries = {e["key"]: e for e in status["timeline"] if e.get("type") == "workflow-message"}
    end = entries[wait["key"].removesuffix("/1") + "/2"]
    assert datetime.fromisoformat(end["at"]) >= datetime.fromisoformat(wait["resumeAt"])
    assert status["workflows"].get("waits") in (None, {})
    (run,) = status["workflows"]["runs"]
    assert run["result"] == "succeeded"


def test_the_default_workflows_announce_and_remind_as_the_built_ins_do(
    world: World, api: client.ApiClient, namespace: str, severity: str
) -> None:
    """examples/61-default-workflows.yaml as shipped (the reminder's 15m shortened to 10s):
    a declared incident is announced in #incidents once, and a quiet one gets one reminder
    in its channel per quiet period. The test's Severity announces nowhere and reminds
    hourly, so every message here is the workflows'."""
    world.slack.add_channel("incidents")
    documents = list(load_documents(REPO / "examples" / "61-default-workflows.yaml"))
    announce = next(d for d in documents if d["kind"] == "ClusterIncidentWorkflow")
    reminder = next(d for d in documents if d["kind"] == "IncidentWorkflow")
    announce["metadata"]["name"] += f"-{uuid.uuid4().hex[:6]}"  # shared control plane
    reminder["metadata"]["namespace"] = namespace
    assert reminder["spec"]["triggers"][0]["after"] == "15m"
    reminder["spec"]["triggers"][0]["after"] = "10s"
    custom = client.CustomObjectsApi(api)
    create_custom(api, announce, namespace)
    try:
        create_custom(api, reminder, namespace)
        for kind, name in (
            ("ClusterIncidentWorkflow", announce["metadata"]["name"]),
            ("IncidentWorkflow", "update-reminder"),
        ):
            wait_for(f"{name} Ready", functools.partial(ready, api, kind, name, namespace))
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": "quiet-search"},
                "spec": {
                    "title": "Search quiet",
                    "service": "search",
                    "severityRef": severity,
                    "state": "investigating",
                },
            },
            namespace,
        )
        announced = f"New {severity} incident in {namespace}: Search quiet (service search;"

        def announcements() -> list[str]:
            messages = world.slack.by_name("incidents").messages
            return [str(m.get("text", "")) for m in messages if announced in str(m.get("text"))]

        def reminders() -> list[str]:
            return [t for t in world.texts() if "No status update on Search quiet" in t]

        wait_for("the announcement in #incidents", announcements, timeout=60)
        wait_for("the update reminder", reminders, timeout=60)
        time.sleep(12)  # the same quiet period, looked at twice more: nothing repeats
        assert len(announcements()) == 1
        assert len(reminders()) == 1
        assert not [t for t in reminders() if t in announcements()]
    finally:
        custom.delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "clusterincidentworkflows", announce["metadata"]["name"]
        )


def test_follow_ups_land_in_the_postmortem_once_before_and_after_it_is_drafted(
    world: World, api: client.ApiClient, namespace: str
) -> None:
    """One createFollowUp at the declaration (no Postmortem yet: the draft starts with it)
    and one at the resolution (racing the draft: added once, whichever comes first); the
    Postmortem ends with both, once each, and stays so."""
    followups = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {"name": "followups"},
        "spec": {
            "triggers": [{"event": "declared"}, {"event": "phaseChanged", "to": ["resolved"]}],
            "repeat": "everyTrigger",
            "actions": [
                {
                    "type": "createFollowUp",
                    "if": "trigger.event == 'declared'",
                    "text": "Load test ${service}",
                    "owner": "alice",
                    "dueIn": "14d",
                },
                {
                    "type": "createFollowUp",
                    "if": "trigger.event == 'phaseChanged'",
                    "text": "Review the alerts of ${service}",
                },
            ],
        },
    }
    spec = {"level": 3, "displayName": "SEV-3 (fu)", "postmortem": {"required": True}}
    with temporary_severity(api, "sev-fu", spec) as sev:
        create_custom(api, followups, namespace)
        wait_for("Ready", functools.partial(ready, api, "IncidentWorkflow", "followups", namespace))
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": "fu-inc"},
                "spec": {
                    "title": "Search errors",
                    "service": "search",
                    "severityRef": sev,
                    "state": "investigating",
                    "roles": {"commander": "alice"},
                },
            },
            namespace,
        )

        def follow_ups() -> dict[str, Any]:
            status = get_custom(api, "Incident", "fu-inc", namespace).get("status") or {}
            return dict((status.get("workflows") or {}).get("followUps") or {})

        (first,) = wait_for("the first follow-up", lambda: follow_ups().values(), 60)
        assert (first["title"], first["owner"]) == ("Load test search", "alice")
        assert "postmortem" not in first
        custom = client.CustomObjectsApi(api)
        custom.patch_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents", "fu-inc",
            {"spec": {"state": "resolved"}},
        )  # fmt: skip

        def items() -> list[str]:
            try:
                found = get_custom(api, "Postmortem", "fu-inc", namespace)
            except client.ApiException:
                return []
            return [i["title"] for i in found["spec"].get("actionItems") or []]

        want = ["Load test search", "Review the alerts of search"]
        wait_for("both items in the postmortem", lambda: sorted(items()) == want, timeout=90)
        wait_for(
            "both follow-ups marked added",
            lambda: [f.get("postmortem") for f in follow_ups().values()] == ["fu-inc"] * 2,
            timeout=30,
        )
        time.sleep(12)  # more looks: nothing is added twice
        assert sorted(items()) == want
        (load,) = [
            i
            for i in get_custom(api, "Postmortem", "fu-inc", namespace)["spec"]["actionItems"]
            if i["title"] == "Load test search"
        ]
        assert (load["owner"], load["status"]) == ("alice", "open")
        assert load["due"]
