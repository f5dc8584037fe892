"""createFollowUp: the action item recorded on the incident once per step key, carried into
the postmortem's draft or added to the existing one once, never over a person's item and
never into action items Git declares (services/workflow_follow_up.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incident_operator.api.v1alpha1.incident import IncidentStatus
from incident_operator.domain import workflow_follow_up as fu
from incident_operator.errors import TemporaryError
from incident_operator.services.postmortems import PostmortemService
from tests.builders.objects import severity
from tests.fakes.ports.postmortems import FakePostmortems
from tests.unit.services.test_workflow_service import NS, Harness, workflow_body

KEY = "wf/uid-followup/once/0"
TITLE = "Add a load test for Checkout returns 5xx"


def follow_up_workflow() -> dict[str, Any]:
    body = workflow_body("followup", condition="true")
    body["spec"]["triggers"] = [{"event": "declared"}]
    body["spec"]["actions"] = [
        {
            "type": "createFollowUp",
            "text": "Add a load test for ${title}",
            "owner": "alice",
            "dueIn": "14d",
        }
    ]
    return body


def harness(postmortem: dict[str, Any] | None = None) -> tuple[Harness, FakePostmortems]:
    h = Harness(follow_up_workflow())
    pms = FakePostmortems(incidents=h.store.incidents)
    h = Harness(follow_up_workflow(), store=h.store, action_items=pms)
    h.add()
    if postmortem is not None:
        pms.postmortems[(NS, "db-down")] = postmortem
        h.body()["status"]["postmortemRef"] = "db-down"
    return h, pms


def postmortem(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Postmortem",
        "metadata": {"name": "db-down", "namespace": NS},
        "spec": {"incidentRef": "db-down", "actionItems": list(items)},
    }


def recorded(h: Harness) -> dict[str, Any]:
    return dict(h.body()["status"]["workflows"].get("followUps") or {})


async def test_without_a_postmortem_it_is_recorded_once_and_carried_into_the_draft() -> None:
    h, pms = harness()
    for _ in range(3):
        await h.tick()
    (entry,) = recorded(h).values()
    due = (h.clock.now() - timedelta(seconds=10) + timedelta(days=14)).date().isoformat()
    assert entry == {
        "title": TITLE,
        "owner": "alice",
        "due": due,
        "workflow": f"IncidentWorkflow {NS}/followup 0-createfollowup",
    }
    assert list(recorded(h)) == [fu.follow_up_id(KEY)]
    IncidentStatus.model_validate(h.body()["status"])
    notes = [e for e in h.store.timeline(NS, "db-down") if e["type"] == "workflow-follow-up"]
    assert [n["message"] for n in notes] == [
        f"Follow-up for the postmortem: {TITLE}, owner alice, due {due}"
    ]
    # The incident resolves and its Severity requires a postmortem: the draft starts with it.
    h.store.severities["sev-2"] = severity(postmortem={"required": True})
    h.body()["status"]["phase"] = "resolved"
    h.body()["status"]["timestamps"]["resolved"] = h.clock.now().isoformat()
    h.body()["status"]["roles"] = {"commander": "bob"}
    h.body()["metadata"]["uid"] = "u-1"
    service = PostmortemService(h.store, pms, h.clock)
    assert await service.ensure(h.body()) == "db-down"
    spec = pms.postmortems[(NS, "db-down")]["spec"]
    assert spec["actionItems"] == [{"title": TITLE, "owner": "alice", "due": due}]
    assert recorded(h)[fu.follow_up_id(KEY)]["postmortem"] == "db-down"
    # A person removes it from the postmortem: no look adds it again.
    spec["actionItems"] = []
    for _ in range(3):
        await h.tick()
    assert spec["actionItems"] == []
    assert pms.item_edits == 0


async def test_an_existing_postmortem_gets_it_once_and_a_persons_items_stay() -> None:
    mine = {"title": "Page the DB team sooner", "owner": "carol", "status": "in-progress"}
    h, pms = harness(postmortem(mine))
    for _ in range(3):
        await h.tick()
    items = pms.postmortems[(NS, "db-down")]["spec"]["actionItems"]
    assert items == [mine, {"title": TITLE, "owner": "alice", "due": items[1]["due"]}]
    assert pms.item_edits == 1
    assert recorded(h)[fu.follow_up_id(KEY)]["postmortem"] == "db-down"


async def test_a_crash_before_the_status_write_adds_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h, pms = harness(postmortem())
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
    items = pms.postmortems[(NS, "db-down")]["spec"]["actionItems"]
    assert [i["title"] for i in items] == [TITLE]
    assert pms.item_edits == 1
    assert KEY in h.body()["status"]["workflows"]["done"]


async def test_action_items_git_declares_are_not_touched_and_the_step_says_so() -> None:
    h, pms = harness(postmortem({"title": "From Git"}))
    pms.applied_elsewhere[".spec.actionItems"] = "argocd-controller"
    for _ in range(3):
        await h.tick()
    assert pms.postmortems[(NS, "db-down")]["spec"]["actionItems"] == [{"title": "From Git"}]
    entry = recorded(h)[fu.follow_up_id(KEY)]
    assert "applied by argocd-controller" in entry["message"]
    assert "postmortem" not in entry
    (run,) = h.body()["status"]["workflows"]["runs"]
    assert run["result"] == "failed"
    assert "add the item in Git" in run["message"]
    assert pms.item_edits == 0


async def test_a_draft_made_from_an_older_incident_gets_the_missing_item_at_the_next_look() -> None:
    h, pms = harness()
    await h.tick()  # recorded; no postmortem
    # A draft was created from an incident read before the step (no action items).
    pms.postmortems[(NS, "db-down")] = postmortem()
    h.body()["status"]["postmortemRef"] = "db-down"
    await h.tick()
    await h.tick()
    assert [i["title"] for i in pms.postmortems[(NS, "db-down")]["spec"]["actionItems"]] == [TITLE]
    assert recorded(h)[fu.follow_up_id(KEY)]["postmortem"] == "db-down"
    assert pms.item_edits == 1


def test_to_add_skips_titles_already_there_and_stops_at_the_postmortems_limit() -> None:
    owed = [fu.FollowUp("a"), fu.FollowUp("b"), fu.FollowUp("b")]
    assert [f.title for f in fu.to_add([{"title": "a"}], owed)] == ["b"]
    full = [{"title": str(i)} for i in range(fu.MAX_ACTION_ITEMS - 1)]
    assert [f.title for f in fu.to_add(full, [fu.FollowUp("x"), fu.FollowUp("y")])] == ["x"]
