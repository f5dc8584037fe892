"""Workflows run for one incident: exactly-once steps, tenant isolation, Ready from CEL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incident_operator.adapters.cel import CelExpressions
from incident_operator.adapters.comms_ports import Channel
from incident_operator.api.v1alpha1.kinds import BY_KIND
from incident_operator.errors import TemporaryError
from incident_operator.services.catalog import CatalogService
from incident_operator.services.comms import CommsService
from incident_operator.services.status import observed_status
from incident_operator.services.workflows import WorkflowIndex, WorkflowService
from tests.builders.objects import incident, severity
from tests.fakes.ports.catalog import FakeCatalog, FakeTeamPagers
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.postmortems import FakePostmortems
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.tickets import FakeTracker
from tests.fakes.ports.workflows import FakeWorkflowStore

NS = "payments"
CEL = CelExpressions()
CONDITION = (
    "incident.severity == 'sev-1' && 'tier' in incident.labels && incident.labels.tier == '1'"
)


def workflow_body(
    name: str = "tier1",
    namespace: str | None = NS,
    *,
    condition: str = CONDITION,
    repeat: str = "oncePerIncident",
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow" if namespace else "ClusterIncidentWorkflow",
        "metadata": {
            "name": name,
            **({"namespace": namespace} if namespace else {}),
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": created,
        },
        "spec": {
            "triggers": [
                {"event": "declared"},
                {"event": "severityChanged"},
                {"event": "labelChanged", "labels": ["tier"]},
            ],
            "condition": condition,
            "repeat": repeat,
            "actions": [
                {"type": "postMessage", "text": "${title}: tier-1 ${severity}, paging leads"},
                {"type": "setLabels", "labels": {"escalated": "yes"}},
            ],
        },
    }


class Harness:
    def __init__(
        self,
        *workflows: dict[str, Any],
        tracker: FakeTracker | None = None,
        catalog: CatalogService | None = None,
        store: FakeStore | None = None,
        groups: FakeChat | None = None,
        action_items: FakePostmortems | None = None,
    ) -> None:
        self.store = store or FakeStore()
        self.store.severities["sev-1"] = severity("sev-1", 1)
        self.clock = FakeClock()
        self.workflow_store = FakeWorkflowStore()
        self.index = WorkflowIndex(CEL)
        for body in workflows:
            self.index.observe(body)
        self.service = WorkflowService(
            self.store,
            self.workflow_store,
            CEL,
            self.clock,
            self.index,
            tracker=tracker,
            catalog=catalog,
            groups=groups,
            action_items=action_items,
        )

    def add(self, namespace: str = NS, labels: dict[str, str] | None = None) -> None:
        body = incident(
            "db-down",
            namespace,
            metadata={"labels": labels or {}, "generation": 1},
            severityRef="sev-2",
            status={
                "phase": "investigating",
                "severity": "sev-2",
                "timestamps": {"declared": "2026-01-01T00:00:01Z"},
            },
        )
        self.store.incidents[(namespace, "db-down")] = body
        body["metadata"]["resourceVersion"] = "1"

    def body(self, namespace: str = NS) -> dict[str, Any]:
        return self.store.incidents[(namespace, "db-down")]

    async def tick(self, namespace: str = NS) -> None:
        self.clock.advance(timedelta(seconds=5))
        await self.service.run(dict(self.body(namespace)))

    def escalate(self, namespace: str = NS) -> None:
        """A person raises the severity and labels the incident tier 1."""
        body = self.body(namespace)
        body["spec"]["severityRef"] = "sev-1"
        body["status"]["severity"] = "sev-1"
        body["metadata"].setdefault("labels", {})["tier"] = "1"

    def messages(self, namespace: str = NS) -> list[dict[str, Any]]:
        timeline = self.store.timeline(namespace, "db-down")
        return [e for e in timeline if e["type"] == "workflow-message"]


async def test_a_matching_change_posts_once_and_labels_once() -> None:
    h = Harness(workflow_body())
    h.add()
    await h.tick()  # declared, but sev-2 without tier: the condition is false
    assert h.messages() == []
    h.escalate()
    for _ in range(4):
        await h.tick()
    (message,) = h.messages()
    assert message["message"] == "Checkout returns 5xx: tier-1 sev-1, paging leads"
    assert message["key"] == "wf/uid-tier1/once/0"
    assert h.body()["metadata"]["labels"] == {"tier": "1", "escalated": "yes"}
    assert [change for _, change in h.store.edits] == [
        {"metadata": {"labels": {"escalated": "yes"}}}
    ]
    status = h.body()["status"]["workflows"]
    assert status["done"] == [
        "wf/uid-tier1/seen/declared",  # judged at the first look (false then)
        "wf/uid-tier1/once/0",
        "wf/uid-tier1/once/1",
    ]
    (run,) = status["runs"]
    assert run["result"] == "succeeded"
    assert set(run["events"]) == {"severityChanged", "labelChanged"}
    assert h.workflow_store.status["uid-tier1"]["runs"] == 1
    assert h.workflow_store.status["uid-tier1"]["actions"] == 2
    assert [e[:2] for e in h.store.events] == [("db-down", "WorkflowRan"), ("tier1", "WorkflowRan")]


async def test_a_restart_between_the_actions_and_the_status_write_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(workflow_body())
    h.add()
    await h.tick()
    h.escalate()
    before = dict(h.body())
    original = h.store.patch_incident

    async def crash(*args: Any, **kwargs: Any) -> Any:
        if "workflows" in (kwargs.get("status") or {}):
            raise TemporaryError("operator killed before the status write (test)")
        return await original(*args, **kwargs)

    monkeypatch.setattr(h.store, "patch_incident", crash)
    with pytest.raises(TemporaryError):
        await h.service.run(before)
    monkeypatch.setattr(h.store, "patch_incident", original)
    assert len(h.messages()) == 1  # the effects happened ...
    assert "workflows" in h.body()["status"]  # ... the first look was recorded earlier
    assert h.body()["status"]["workflows"]["done"] == ["wf/uid-tier1/seen/declared"]
    for _ in range(3):
        await h.tick()
    assert len(h.messages()) == 1
    assert len(h.store.edits) == 1  # the label was there: not set again
    assert h.body()["status"]["workflows"]["done"][1:] == [
        "wf/uid-tier1/once/0",
        "wf/uid-tier1/once/1",
    ]


async def test_every_trigger_acts_once_per_change_even_when_triggers_overlap() -> None:
    h = Harness(workflow_body(repeat="everyTrigger"))
    h.add()
    await h.tick()
    h.escalate()  # severity and tier label change together: one change occurrence
    await h.tick()
    await h.tick()
    assert [m["key"] for m in h.messages()] == ["wf/uid-tier1/change-1/0"]
    h.body()["metadata"]["labels"]["tier"] = "2"
    await h.tick()  # condition false now
    h.body()["metadata"]["labels"]["tier"] = "1"
    await h.tick()  # a new change occurrence: acts again, once
    await h.tick()
    assert [m["key"] for m in h.messages()] == [
        "wf/uid-tier1/change-1/0",
        "wf/uid-tier1/change-3/0",
    ]


async def test_a_namespaced_workflow_never_acts_in_another_namespace() -> None:
    h = Harness(workflow_body(namespace="other-team"))
    h.add()
    await h.tick()
    h.escalate()
    for _ in range(3):
        await h.tick()
    assert h.messages() == []
    assert h.index.visible(NS) == []
    assert [w.ref.name for w in h.index.visible("other-team")] == ["tier1"]


async def test_a_cluster_workflow_acts_in_every_namespace() -> None:
    h = Harness(workflow_body("everywhere", None))
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    assert [m["key"] for m in h.messages()] == ["wf/uid-everywhere/once/0"]
    assert h.messages()[0]["author"] == "ClusterIncidentWorkflow everywhere"


async def test_a_workflow_with_bad_cel_is_not_indexed_and_not_ready() -> None:
    bad = workflow_body(condition="incident.severity ==")
    h = Harness(bad)
    assert len(h.index) == 0
    status = observed_status(BY_KIND["IncidentWorkflow"], bad, h.clock.now(), expressions=CEL)
    (ready,) = status["conditions"]
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.condition: ERROR: 1:21: Syntax error")
    assert status["observedGeneration"] == 1
    good = observed_status(
        BY_KIND["IncidentWorkflow"], workflow_body(), h.clock.now(), expressions=CEL
    )
    assert good["conditions"][0]["status"] == "True"


async def test_a_failing_step_is_recorded_and_stops_the_run() -> None:
    h = Harness(workflow_body())
    h.store.applied_elsewhere[".metadata.labels.escalated"] = "argocd"
    body = workflow_body()
    body["spec"]["actions"].reverse()  # label first, then the message
    h.index.observe(body)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert "applied by argocd" in run["message"] or "applied elsewhere" in run["message"]
    assert h.messages() == []  # the run stopped at the failed step
    assert h.workflow_store.status["uid-tier1"]["errors"] == 1
    assert [e[1] for e in h.store.events] == ["WorkflowFailed", "WorkflowFailed"]


def ticket_workflow() -> dict[str, Any]:
    body = workflow_body()
    body["spec"]["actions"] = [
        {
            "type": "createTicket",
            "text": "Follow up: ${title}",
            "description": "Tier-1 at ${severity}.",
        }
    ]
    return body


async def test_a_ticket_is_created_once_and_adopted_after_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracker = FakeTracker()
    h = Harness(ticket_workflow(), tracker=tracker)
    h.add()
    await h.tick()
    h.escalate()
    original = h.store.patch_incident

    async def crash(*args: Any, **kwargs: Any) -> Any:
        if "workflows" in (kwargs.get("status") or {}):
            raise TemporaryError("operator killed before the status write (test)")
        return await original(*args, **kwargs)

    monkeypatch.setattr(h.store, "patch_incident", crash)
    with pytest.raises(TemporaryError):
        await h.tick()
    monkeypatch.setattr(h.store, "patch_incident", original)
    for _ in range(3):
        await h.tick()
    (request,) = tracker.created
    assert request.title == "Follow up: Checkout returns 5xx"
    assert request.description == (
        "Tier-1 at sev-1.\n\nIncident payments/db-down, opened by IncidentWorkflow payments/tier1."
    )
    assert request.marker.startswith("incident-operator-")
    (entry,) = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-ticket"]
    assert entry["message"] == "Ticket OPS-1: https://jira.example.com/browse/OPS-1"


async def test_a_ticket_step_without_a_tracker_fails_and_says_why() -> None:
    h = Harness(ticket_workflow())
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == "0-createticket: no ticket tracker is configured (Jira or GitHub)"


async def test_a_stale_event_body_does_not_run_twice() -> None:
    """kopf may hand the timer a body from before our own status write: the service reads
    the incident again before acting, so the second look finds the keys done."""
    h = Harness(workflow_body())
    h.add()
    await h.tick()
    h.escalate()
    stale = dict(h.body())
    stale["status"] = dict(stale["status"])
    await h.service.run(stale)
    await h.service.run(stale)
    assert len(h.messages()) == 1
    assert len(h.store.events) == 2  # one on the incident, one on the workflow
    assert h.workflow_store.status["uid-tier1"]["runs"] == 1


async def test_an_incident_no_workflow_sees_is_not_written() -> None:
    h = Harness(workflow_body(namespace="other-team"))
    h.add()
    await h.tick()
    assert "workflows" not in h.body()["status"]


def steps_workflow(*actions: dict[str, Any]) -> dict[str, Any]:
    body = workflow_body(repeat="everyTrigger")
    body["spec"]["triggers"] = [{"event": "labelChanged", "labels": ["tier"]}]
    body["spec"]["condition"] = "'tier' in incident.labels"
    body["spec"]["actions"] = list(actions)
    return body


async def test_set_severity_and_a_note_and_their_own_change_is_no_news() -> None:
    h = Harness(
        steps_workflow(
            {"type": "setSeverity", "severity": "sev-1"},
            {"type": "addNote", "text": "raised by ${workflow}"},
        )
    )
    h.add()
    await h.tick()
    h.body()["metadata"]["labels"] = {"tier": "1"}
    await h.tick()
    assert h.body()["spec"]["severityRef"] == "sev-1"
    (note,) = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]
    assert note["message"] == "raised by tier1"
    assert h.body()["status"]["workflows"]["seen"]["severity"] == "sev-1"
    h.body()["status"]["severity"] = "sev-1"  # the lifecycle accepts it
    for _ in range(3):
        await h.tick()
    assert len(h.body()["status"]["workflows"]["runs"]) == 1


async def test_set_roles_once_and_their_own_change_is_no_news() -> None:
    body = steps_workflow(
        {"type": "setRoles", "roles": {"commander": "alice", "scribe": "carol"}},
        {"type": "addNote", "text": "roles set by ${workflow}"},
    )
    body["spec"]["triggers"].append({"event": "roleChanged"})
    h = Harness(body)
    h.add()
    h.body()["spec"]["roles"] = {"operations": "dave"}
    h.body()["status"]["roles"] = {"commander": "bob", "operations": "dave"}  # bob: rotation
    await h.tick()
    h.body()["metadata"]["labels"] = {"tier": "1"}
    await h.tick()
    assert h.body()["spec"]["roles"] == {
        "commander": "alice",
        "operations": "dave",
        "scribe": "carol",
    }
    assert [e[1] for e in h.store.edits] == [
        {"spec": {"roles": {"commander": "alice", "scribe": "carol"}}}
    ]
    seen = h.body()["status"]["workflows"]["seen"]["roles"]
    assert seen == {"commander": "alice", "operations": "dave", "scribe": "carol"}
    # the lifecycle puts the spec's roles in force: no roleChanged for the workflow's own change
    h.body()["status"]["roles"] = dict(h.body()["spec"]["roles"])
    for _ in range(3):
        await h.tick()
    assert len(h.body()["status"]["workflows"]["runs"]) == 1
    assert len([e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]) == 1


async def test_set_roles_leaves_a_role_already_held_by_that_person_alone() -> None:
    h = Harness(steps_workflow({"type": "setRoles", "roles": {"commander": "alice"}}))
    h.add()
    h.body()["spec"]["roles"] = {"commander": "alice"}
    await h.tick()
    h.body()["metadata"]["labels"] = {"tier": "1"}
    await h.tick()
    assert h.store.edits == []
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "succeeded"


async def test_set_roles_never_overrides_a_role_git_applied() -> None:
    h = Harness(
        steps_workflow(
            {"type": "setRoles", "roles": {"commander": "alice"}},
            {"type": "addNote", "text": "not reached"},
        )
    )
    h.add()
    h.body()["spec"]["roles"] = {"commander": "bob"}
    h.store.applied_elsewhere[".spec.roles.commander"] = "argocd-controller"
    await h.tick()
    h.body()["metadata"]["labels"] = {"tier": "1"}
    await h.tick()
    assert h.body()["spec"]["roles"] == {"commander": "bob"}
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == "0-setroles: .spec.roles.commander applied elsewhere"
    assert [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"] == []
    await h.tick()  # a refusal is final for the step: it is not tried again
    assert h.store.edits == []


async def test_a_passing_failure_leaves_the_step_owed_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(
        steps_workflow(
            {"type": "setLabels", "labels": {"escalated": "yes"}},
            {"type": "postMessage", "text": "escalated"},
        )
    )
    h.add()
    await h.tick()
    h.body()["metadata"]["labels"] = {"tier": "1"}
    original = h.store.edit_incident
    calls = []

    async def busy_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise TemporaryError("API server busy (test)")
        return await original(*args, **kwargs)

    monkeypatch.setattr(h.store, "edit_incident", busy_once)
    await h.tick()
    assert h.messages() == []
    assert h.body()["status"]["workflows"]["done"] == []
    await h.tick()
    await h.tick()
    assert len(calls) == 2
    assert [m["message"] for m in h.messages()] == ["escalated"]
    (run,) = h.body()["status"]["workflows"]["runs"]  # the retry replaced the failed record
    assert run["result"] == "succeeded"


async def test_a_role_handover_fires_a_role_changed_workflow_once() -> None:
    body = workflow_body(repeat="everyTrigger")
    body["spec"]["triggers"] = [{"event": "roleChanged", "roles": ["commander"]}]
    body["spec"]["condition"] = "'commander' in incident.roles"
    body["spec"]["actions"] = [{"type": "postMessage", "text": "IC now ${name}"}]
    h = Harness(body)
    h.add()
    h.body()["status"]["roles"] = {"commander": "alice"}
    await h.tick()
    assert h.body()["status"]["workflows"]["seen"]["roles"] == {"commander": "alice"}
    h.body()["status"]["roles"] = {"commander": "bob", "scribe": "carol"}
    for _ in range(3):
        await h.tick()
    assert [m["key"] for m in h.messages()] == ["wf/uid-tier1/change-1/0"]
    h.body()["status"]["roles"] = {"commander": "bob"}  # only the scribe left: not watched
    await h.tick()
    assert len(h.messages()) == 1
    assert h.body()["status"]["workflows"]["seen"]["roles"] == {"commander": "bob"}


# --- page ---------------------------------------------------------------------------------


class Teams:
    """The catalog a page step resolves against: team search with its own routing key."""

    def __init__(self, *namespaces: str) -> None:
        self.catalog = FakeCatalog()
        self.catalog.add_team(
            "search",
            namespaces=list(namespaces),
            paging={"routingKey": {"name": "search-pd", "key": "routing-key"}},
        )
        self.pagers = FakeTeamPagers()
        self.search = self.pagers.add("search-pd", "routing-key")
        self.store = FakeStore()
        self.service = CatalogService(self.catalog, self.store, FakeClock(), pagers=self.pagers)


def page_workflow(namespace: str | None = NS) -> dict[str, Any]:
    body = workflow_body("pager", namespace)
    body["spec"]["actions"] = [
        {"type": "page", "name": "search", "team": "search", "text": "${title}: join us"}
    ]
    return body


class DiesBeforeTheWorkflowStatus(FakeStore):
    """The operator is killed after the step's effects, before status.workflows is written."""

    dying = False

    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> Any:
        if self.dying and "workflows" in (kwargs.get("status") or {}):
            raise TemporaryError("operator killed before the status write (test)")
        return await super().patch_incident(namespace, name, **kwargs)


async def test_a_page_step_pages_an_admitting_team_once_across_a_restart() -> None:
    teams = Teams(NS)
    store = DiesBeforeTheWorkflowStatus()
    h = Harness(page_workflow(), catalog=teams.service, store=store)
    h.add()
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()
    store.dying = False
    for _ in range(3):
        await h.tick()
    key = "incident-operator/payments/db-down/workflow/pager/search"
    assert [(c.action.value, c.dedup_key) for c in teams.search.calls] == [
        ("trigger", key),
        ("trigger", key),  # the restart triggered again on the same key: one alert
    ]
    assert teams.search.pages == 1
    (alert,) = teams.search.alerts
    assert alert.summary.title == (
        "[team search, IncidentWorkflow payments/pager] Checkout returns 5xx"
    )
    assert alert.summary.summary.startswith("Checkout returns 5xx: join us")
    (record,) = h.body()["status"]["pager"]["workflowPages"].values()
    assert record == {
        "dedupKey": key,
        "state": "triggered",
        "team": "search",
        "workflow": "IncidentWorkflow payments/pager search",
    }
    (entry,) = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-page"]
    assert entry["message"] == "Paged team search (search of IncidentWorkflow payments/pager)"
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "succeeded"


async def test_the_finalizer_is_held_before_a_page_and_none_for_a_deleted_incident() -> None:
    teams = Teams(NS)
    held: list[tuple[str, str]] = []

    async def hold(namespace: str, name: str) -> None:
        held.append((namespace, name))
        assert teams.search.calls == [], "held before the page is opened"

    h = Harness(page_workflow(), catalog=teams.service)
    h.service = WorkflowService(
        h.store, h.workflow_store, CEL, h.clock, h.index, catalog=teams.service,
        before_side_effect=hold,
    )  # fmt: skip
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    assert held == [(NS, "db-down")]
    assert teams.search.pages == 1
    gone = Harness(page_workflow(), catalog=teams.service)
    gone.add()
    await gone.tick()
    gone.escalate()
    gone.body()["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
    await gone.tick()
    (run,) = gone.body()["status"]["workflows"]["runs"]
    assert run["message"] == "search: the incident is being deleted: nothing to page"
    assert teams.search.pages == 1


async def test_a_recorded_page_is_not_triggered_again() -> None:
    """Its record (written with the done keys) is checked too: a step key folded out of the
    bounded done list must not page a second time."""
    teams = Teams(NS)
    h = Harness(page_workflow(), catalog=teams.service)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    h.body()["status"]["workflows"]["done"] = ["wf/uid-pager/seen/declared"]
    for _ in range(2):
        await h.tick()
    assert teams.search.pages == 1
    assert len(teams.search.calls) == 1


async def test_a_namespaced_workflow_cannot_page_a_team_that_does_not_admit_it() -> None:
    teams = Teams("search")  # admits namespace search only
    h = Harness(page_workflow(), catalog=teams.service)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    assert teams.search.calls == []
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == (
        "search: team search does not admit namespace payments (its spec.namespaces): "
        "an IncidentWorkflow may page only a Team that admits its namespace"
    )
    assert "workflowPages" not in (h.body()["status"].get("pager") or {})
    assert [e[1] for e in h.store.events] == ["WorkflowFailed", "WorkflowFailed"]


async def test_a_cluster_workflow_may_page_any_team() -> None:
    teams = Teams("search")
    h = Harness(page_workflow(None), catalog=teams.service)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (call,) = teams.search.calls
    assert call.dedup_key == "incident-operator/payments/db-down/clusterworkflow/pager/search"


async def test_a_page_step_without_team_keys_or_for_a_resolved_incident_fails() -> None:
    h = Harness(page_workflow())
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["message"] == (
        "search: team routing keys are not read (no catalog Secret namespace)"
    )
    teams = Teams(NS)
    late = Harness(page_workflow(), catalog=teams.service)
    late.add()
    await late.tick()
    late.escalate()
    late.body()["status"]["phase"] = "resolved"
    await late.tick()
    (run,) = late.body()["status"]["workflows"]["runs"]
    assert run["message"] == "search: the incident is resolved: nothing to page"
    assert teams.search.calls == []


async def test_a_workflow_page_is_resolved_with_the_incident_not_acknowledged_with_it() -> None:
    """Comms follows the record up on the team's key: the incident's acknowledgement is its
    first responder's, so the further team's page stays theirs to acknowledge; leaving the
    paged phases resolves it (once)."""
    teams = Teams(NS)
    h = Harness(page_workflow(), catalog=teams.service)
    comms = CommsService(h.store, h.clock, catalog=teams.service)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    h.body()["status"]["timestamps"]["acknowledged"] = "2026-01-01T00:05:00Z"
    await comms.sync(NS, "db-down")
    assert [c.action.value for c in teams.search.calls] == ["trigger"]
    h.body()["status"]["phase"] = "resolved"
    await comms.sync(NS, "db-down")
    await comms.sync(NS, "db-down")
    key = "incident-operator/payments/db-down/workflow/pager/search"
    assert [(c.action.value, c.dedup_key) for c in teams.search.calls] == [
        ("trigger", key),
        ("resolve", key),
    ]
    (record,) = h.body()["status"]["pager"]["workflowPages"].values()
    assert record["state"] == "resolved"
    assert h.body()["status"].get("outbox", {}) == {}


# --- invite -------------------------------------------------------------------------------


def invite_workflow(**action: Any) -> dict[str, Any]:
    body = workflow_body("inviter")
    body["spec"]["actions"] = [{"type": "invite", "name": "leads", **action}]
    return body


class DiesBeforeTheWorkflowStatusOnce(DiesBeforeTheWorkflowStatus):
    async def patch_incident(self, namespace: str, name: str, **kwargs: Any) -> Any:
        try:
            return await super().patch_incident(namespace, name, **kwargs)
        finally:
            if "workflows" in (kwargs.get("status") or {}):
                self.dying = False


async def test_invite_asks_comms_for_users_and_a_groups_members_once_across_a_restart() -> None:
    chat = FakeChat()
    chat.channels["C1"] = Channel("C1", "inc-db-down")
    chat.usergroups["S0LEADS"] = ["U0LEAD001", "U0AAAAAAA"]
    store = DiesBeforeTheWorkflowStatusOnce()
    h = Harness(invite_workflow(users=["U0AAAAAAA"], userGroup="S0LEADS"), groups=chat, store=store)
    comms = CommsService(h.store, h.clock, chat=chat)
    h.add()
    h.body()["status"]["chat"] = {"channelId": "C1", "channelName": "inc-db-down"}
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()
    for _ in range(3):
        await h.tick()
    assert h.body()["status"]["workflows"]["invitees"] == ["U0AAAAAAA", "U0LEAD001"]
    assert [c for c in chat.calls if c[0] == "group_members"] == [
        ("group_members", ("S0LEADS",)),
        ("group_members", ("S0LEADS",)),  # looked up again after the restart: a read
    ]
    await comms.sync(NS, "db-down")
    await comms.sync(NS, "db-down")
    invites = [args for method, args in chat.calls if method == "invite"]
    assert invites == [("C1", ("U0AAAAAAA", "U0LEAD001"))]
    assert chat.members["C1"] == {"U0AAAAAAA", "U0LEAD001"}
    assert h.body()["status"]["chat"]["invited"] == ["U0AAAAAAA", "U0LEAD001"]


async def test_an_unknown_user_group_fails_the_step_with_slacks_code() -> None:
    chat = FakeChat()
    h = Harness(invite_workflow(userGroup="S0NOPE"), groups=chat)
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == "leads: Slack usergroups.users.list: no_such_subteam"
    assert "invitees" not in h.body()["status"]["workflows"]
    without_chat = Harness(invite_workflow(userGroup="S0LEADS"))
    without_chat.add()
    await without_chat.tick()
    without_chat.escalate()
    await without_chat.tick()
    (run,) = without_chat.body()["status"]["workflows"]["runs"]
    assert run["message"] == "leads: no chat is configured to look up user group S0LEADS"


# --- postMessage to a named channel -------------------------------------------------------


def channel_workflow(channel: str, namespace: str | None = NS) -> dict[str, Any]:
    body = workflow_body("teller", namespace)
    body["spec"]["actions"] = [
        {"type": "postMessage", "name": "tell", "channel": channel, "text": "${title} <!here>"}
    ]
    return body


class DiesAfterPosting(FakeChat):
    """Killed after Slack took the message, before comms could record it (once)."""

    dead = False

    async def post(self, channel: str, text: str, **kwargs: Any) -> str:
        ts = await super().post(channel, text, **kwargs)
        if not self.dead:
            self.dead = True
            raise SystemExit("killed after the post, before its result was written")
        return ts


def team_catalog() -> CatalogService:
    catalog = FakeCatalog()
    catalog.add_team("payments", namespaces=[NS], slack={"channel": "#team-payments"})
    catalog.add_team("search", namespaces=["search"], slack={"channel": "#team-search"})
    return CatalogService(catalog, FakeStore(), FakeClock())


async def test_a_post_to_a_teams_channel_goes_out_once_across_restarts() -> None:
    chat = DiesAfterPosting()
    chat.channels["C0PAY"] = Channel("C0PAY", "team-payments")
    store = DiesBeforeTheWorkflowStatusOnce()
    h = Harness(channel_workflow("#team-payments"), catalog=team_catalog(), store=store)
    h.add()
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()  # killed before status.workflows: the step runs again
    for _ in range(2):
        await h.tick()
    (post,) = h.body()["status"]["workflows"]["channelPosts"].values()
    assert post == {
        "channel": "#team-payments",
        "text": "Checkout returns 5xx <!here>",
        "workflow": "IncidentWorkflow payments/teller tell",
    }
    with pytest.raises(SystemExit):
        await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")  # the restarted one
    await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    (message,) = [m for m in chat.messages if m.channel == "C0PAY"]
    assert message.text == (
        "*workflow-message* Checkout returns 5xx &lt;!here&gt;"
        " — IncidentWorkflow payments/teller tell"
    )  # user text is data: no mention smuggled in
    assert len(h.body()["status"]["chat"]["channelPosts"]) == 1
    (entry,) = [
        e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-channel-message"
    ]
    assert entry["message"] == "To #team-payments: Checkout returns 5xx <!here>"


async def test_a_namespaced_workflow_posts_only_to_its_teams_channels() -> None:
    h = Harness(channel_workflow("#team-search"), catalog=team_catalog())
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert run["message"] == (
        "tell: #team-search is not the Slack channel of a Team that admits namespace payments:"
        " an IncidentWorkflow may post only there (a ClusterIncidentWorkflow anywhere)"
    )
    assert "channelPosts" not in h.body()["status"]["workflows"]


async def test_no_workflow_posts_a_private_incidents_details_to_a_named_channel() -> None:
    chat = FakeChat()
    chat.channels["C0EXEC"] = Channel("C0EXEC", "exec")
    h = Harness(channel_workflow("#exec", None), catalog=team_catalog())
    h.add()
    h.body()["spec"]["private"] = True
    await h.tick()
    h.escalate()
    await h.tick()
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["message"] == (
        "tell: the incident is private: its details are never posted to a named channel"
        " (nor announced)"
    )
    # And comms holds it too, should a post be owed from before it turned private.
    h.body()["status"]["workflows"]["channelPosts"] = {
        "p1": {"channel": "#exec", "text": "secret", "workflow": "x"}
    }
    await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    assert chat.messages == []


async def test_a_cluster_workflow_may_post_to_any_channel() -> None:
    chat = FakeChat()
    chat.channels["C0EXEC"] = Channel("C0EXEC", "exec")
    h = Harness(channel_workflow("C0EXEC", None), catalog=team_catalog())
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    await CommsService(h.store, h.clock, chat=chat).sync(NS, "db-down")
    (message,) = chat.messages
    assert message.channel == "C0EXEC"


# --- stop ---------------------------------------------------------------------------------


def stopper(name: str, namespace: str | None, *, when: str | None = None) -> dict[str, Any]:
    body = workflow_body(name, namespace)
    step: dict[str, Any] = {"type": "stop", "name": "enough"}
    if when:
        step["if"] = when
    body["spec"]["actions"] = [{"type": "addNote", "text": "${workflow} handles it"}, step]
    return body


async def test_a_stop_step_keeps_later_workflows_from_this_occurrence_across_a_restart() -> None:
    """The cluster's workflow runs first (cluster before namespaced) and stops; the
    namespace's tier1 does not post for that occurrence, not after a restart either."""
    store = DiesBeforeTheWorkflowStatusOnce()
    h = Harness(stopper("first", None), workflow_body(), store=store)
    h.add()
    await h.tick()
    h.escalate()
    store.dying = True
    with pytest.raises(TemporaryError):
        await h.tick()
    for _ in range(3):
        await h.tick()
    assert h.messages() == []
    assert h.body()["metadata"]["labels"] == {"tier": "1"}
    notes = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]
    assert [n["message"] for n in notes] == ["first handles it"]
    runs = {r["workflow"]: r for r in h.body()["status"]["workflows"]["runs"]}
    assert runs["ClusterIncidentWorkflow first"]["result"] == "succeeded"
    assert runs["IncidentWorkflow payments/tier1"]["result"] == "stopped"
    assert runs["IncidentWorkflow payments/tier1"]["message"] == (
        "stopped by ClusterIncidentWorkflow first"
    )
    assert {"wf/uid-tier1/once/0", "wf/uid-tier1/once/1"} <= set(
        h.body()["status"]["workflows"]["done"]
    )
    assert "uid-tier1" not in h.workflow_store.status  # it did not run: nothing counted
    assert [e[1] for e in h.store.events] == ["WorkflowRan"]


async def test_a_stop_ends_only_later_workflows_and_only_when_its_step_runs() -> None:
    """In name order: a posts (before the stop), b's stop is skipped by its if, c stops,
    d does not run."""
    h = Harness(
        workflow_body("a-before"),
        stopper("b-stops-not", NS, when="incident.severity == 'sev-9'"),
        stopper("c-stops", NS),
        workflow_body("d-after"),
    )
    h.add()
    await h.tick()
    h.escalate()
    await h.tick()
    await h.tick()
    assert [m["key"] for m in h.messages()] == ["wf/uid-a-before/once/0"]
    notes = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]
    assert [n["message"] for n in notes] == ["b-stops-not handles it", "c-stops handles it"]
    runs = {r["workflow"]: r["result"] for r in h.body()["status"]["workflows"]["runs"]}
    assert runs == {
        "IncidentWorkflow payments/a-before": "succeeded",
        "IncidentWorkflow payments/b-stops-not": "succeeded",
        "IncidentWorkflow payments/c-stops": "succeeded",
        "IncidentWorkflow payments/d-after": "stopped",
    }


def waiting_workflow() -> dict[str, Any]:
    body = workflow_body("later", condition="true")
    body["spec"]["triggers"] = [{"event": "declared"}]
    body["spec"]["actions"] = [
        {"type": "addNote", "text": "before the wait"},
        {"type": "wait", "duration": "10m"},
        {"type": "postMessage", "text": "ten minutes on: ${title}"},
    ]
    return body


async def test_a_wait_pauses_the_run_in_status_and_a_restarted_operator_resumes_it_once() -> None:
    from incident_operator.api.v1alpha1.incident import IncidentStatus  # noqa: PLC0415

    h = Harness(waiting_workflow())
    h.add()
    await h.tick()
    reached_at = h.clock.now()
    status = h.body()["status"]["workflows"]
    (wait,) = status["waits"].values()
    assert wait["key"] == "wf/uid-later/once/1"
    assert wait["resumeAt"] == (reached_at + timedelta(minutes=10)).isoformat().replace(
        "+00:00", "Z"
    )
    (run,) = status["runs"]
    assert (run["result"], run["actions"]) == ("waiting", ["0-addnote"])
    assert run["message"].startswith("waiting until ")
    IncidentStatus.model_validate(h.body()["status"])  # the CRD's schema admits it
    notes = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]
    assert len(notes) == 1
    for _ in range(3):
        await h.tick()
    h.clock.advance(timedelta(minutes=9))
    # A restart: a new service (and index) reads only what the incident's status says.
    h = Harness(waiting_workflow(), store=h.store)
    h.clock.advance(reached_at + timedelta(minutes=9, seconds=50) - h.clock.now())
    await h.tick()  # 9m55s after the wait was reached
    assert h.messages() == []
    await h.tick()  # 10m after
    (message,) = h.messages()
    assert message["message"] == "ten minutes on: Checkout returns 5xx"
    assert message["key"] == "wf/uid-later/once/2"
    for _ in range(3):
        await h.tick()
    assert len(h.messages()) == 1
    status = h.body()["status"]["workflows"]
    assert status.get("waits") == {}  # the finished wait's record is gone
    (run,) = status["runs"]
    assert run["result"] == "succeeded"
    assert "wf/uid-later/once/2" in status["done"]
    assert len([e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-note"]) == 1
    assert h.workflow_store.status["uid-later"]["runs"] == 0  # the first process counted it
