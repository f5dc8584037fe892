"""Field ownership (issue 16): what another manager applied is refused, never forced."""

from __future__ import annotations

from typing import Any

import pytest

from incident_operator.domain import ownership
from incident_operator.domain.slack_requests import parse_command
from incident_operator.errors import CommandRefused, FieldOwnedElsewhere
from incident_operator.services.lifecycle_plan import plan_lifecycle
from tests.unit.services.test_chat_commands import NAME, NOW, NS, ctx, world

# managedFields in the shape kube-apiserver writes them (`kubectl get -o yaml
# --show-managed-fields`): an SSA by argocd-controller, a `kubectl edit`, the operator's
# edits and kopf's status update. The e2e test (test_gitops.py) reads the real ones.
MANAGED: list[dict[str, Any]] = [
    {
        "manager": "argocd-controller",
        "operation": "Apply",
        "apiVersion": "sre.dev/v1alpha1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:team": {}}},
            "f:spec": {
                "f:severityRef": {},
                "f:state": {},
                "f:title": {},
                "f:roles": {"f:commander": {}},
            },
        },
    },
    {
        "manager": "kubectl-edit",
        "operation": "Update",
        "apiVersion": "sre.dev/v1alpha1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:service": {}}},
    },
    {
        "manager": "incident-operator",
        "operation": "Update",
        "apiVersion": "sre.dev/v1alpha1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:finalizers": {'v:"sre.dev/side-effects"': {}}},
            "f:spec": {"f:approvedMitigations": {}, "f:roles": {"f:scribe": {}}},
        },
    },
    {
        "manager": "kopf",
        "operation": "Update",
        "subresource": "status",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {"f:phase": {}}},
    },
]
CURRENT: dict[str, Any] = {
    "metadata": {"name": "inc", "labels": {"team": "payments"}, "finalizers": ["sre.dev/x"]},
    "spec": {
        "title": "Checkout",
        "service": "checkout",
        "severityRef": "sev-2",
        "state": "investigating",
        "roles": {"commander": "alice", "scribe": "carol"},
        "approvedMitigations": ["rollback"],
    },
}


def test_owned_paths_read_fields_v1_as_the_api_server_writes_it() -> None:
    assert ownership.owned_paths(MANAGED[0]["fieldsV1"]) == {
        ("metadata", "labels", "team"),
        ("spec", "severityRef"),
        ("spec", "state"),
        ("spec", "title"),
        ("spec", "roles", "commander"),
    }
    # A list owned entry by entry (a set) counts as the whole list.
    assert ("metadata", "finalizers") in ownership.owned_paths(MANAGED[2]["fieldsV1"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"spec": {"state": "resolved"}}, [(("spec", "state"), "argocd-controller")]),
        ({"spec": {"state": "investigating"}}, []),  # the value it already has
        ({"spec": {"service": "payments"}}, []),  # an imperative edit is superseded
        ({"spec": {"roles": {"scribe": "dave"}}}, []),  # ours
        (
            {"spec": {"roles": {"commander": "bob"}}},
            [(("spec", "roles", "commander"), "argocd-controller")],
        ),
        ({"spec": {"roles": {"commander": "alice", "operations": "erin"}}}, []),
    ],
)
def test_only_a_field_another_manager_applied_conflicts(
    change: dict[str, Any], expected: list[tuple[tuple[str, ...], str]]
) -> None:
    found = ownership.conflicts(change, CURRENT, MANAGED, "incident-operator")
    assert [(c.path, c.manager) for c in found] == expected


async def test_a_chat_change_to_a_field_git_declares_is_refused_with_a_condition() -> None:
    store, _, service = world("investigating")
    store.applied_elsewhere[".spec.state"] = "argocd-controller"
    with pytest.raises(CommandRefused, match=r"`\.spec\.state` is declared by argocd-controller"):
        await service.execute(parse_command("resolve"), ctx())
    body = store.incidents[(NS, NAME)]
    assert body["spec"]["state"] == "investigating", "never forced"
    (condition,) = [c for c in body["status"]["conditions"] if c["type"] == "FieldConflict"]
    assert condition["status"] == "True"
    assert condition["reason"] == "OwnedByAnotherManager"
    assert "argocd-controller" in condition["message"]

    # A field Git does not declare still changes (as that person's edit).
    await service.execute(parse_command("sev 1"), ctx(trigger="trig-2"))
    assert body["spec"]["severityRef"] == "sev-1"
    assert store.edits == [(NAME, {"spec": {"severityRef": "sev-1"}})]

    # The spec moved on: the lifecycle marks the old conflict over.
    plan = plan_lifecycle(store.incidents[(NS, NAME)], store.severities["sev-1"], NOW)
    (after,) = [c for c in plan.status["conditions"] if c["type"] == "FieldConflict"]
    assert (after["status"], after["reason"]) == ("False", "Superseded")


async def test_the_fake_refuses_like_the_adapter() -> None:
    store, _, _ = world("investigating")
    store.applied_elsewhere[".spec.title"] = "flux"
    with pytest.raises(FieldOwnedElsewhere) as raised:
        await store.edit_incident(NS, NAME, {"spec": {"title": "Other"}})
    assert raised.value.fields == {".spec.title": "flux"}
