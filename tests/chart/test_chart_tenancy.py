"""The chart's tenancy defaults, rendered (no cluster): admission policies, roles for people,
and the operator's write and Secret permissions only where enabled.

tests/e2e/test_tenancy_admission.py proves the policies on a real API server.
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.chart.helm import find, template
from tests.kube import REPO

POLICIES = {"requester-authority", "approval", "operator-bound"}


def rules(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def granted_to_operator(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    bound = {
        d["roleRef"]["name"]
        for d in docs
        if d["kind"] in {"ClusterRoleBinding", "RoleBinding"}
        and any(s["kind"] == "ServiceAccount" for s in d["subjects"])
    }
    roles = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] in bound]
    return {r for role in roles for r in rules(role)}


def test_defaults_ship_the_policies_and_no_writes_or_secret_reads() -> None:
    docs = template()
    policies = {d["metadata"]["name"] for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    assert policies == {f"incident-operator-{p}" for p in POLICIES}
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert {b["spec"]["policyName"] for b in bindings} == policies
    assert all(b["spec"]["validationActions"] == ["Deny"] for b in bindings)
    assert all(
        d["spec"]["failurePolicy"] == "Fail"
        for d in docs
        if d["kind"] == "ValidatingAdmissionPolicy"
    )
    operator = granted_to_operator(docs)
    assert not {r for r in operator if r[1] == "secrets"}
    writes = {r for r in operator if r[2] in {"patch", "update", "create"} and r[0] != "sre.dev"}
    assert writes == {
        ("", "configmaps", "create"),  # postmortem documents
        ("", "configmaps", "update"),
        ("", "events", "create"),
        ("events.k8s.io", "events", "create"),
    }
    assert ("sre.dev", "incidents", "approve") not in operator
    args = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--no-secret-metadata" in args


def test_the_operator_bound_names_the_releases_service_account() -> None:
    label = {"admission.namespaceOptInLabel": "example.com/mitigate"}
    docs = template(label, namespace="ops", release="io")
    policy = find(docs, "ValidatingAdmissionPolicy", "io-incident-operator-operator-bound")
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == (
        "request.userInfo.username == 'system:serviceaccount:ops:io-incident-operator'"
    )
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert (
        "'example.com/mitigate' in namespaceObject.metadata.labels"
        in (variables["namespaceOptedIn"])
    )
    assert "'sre.dev/mitigation' in oldObject.metadata.annotations" in variables["objectOptedIn"]


def test_mitigation_writes_are_bound_only_where_enabled() -> None:
    cluster_wide = template({"rbac.mitigations": True})
    assert find(cluster_wide, "ClusterRoleBinding", "incident-operator-mitigations")
    operator = granted_to_operator(cluster_wide)
    assert {("apps", "deployments", "patch"), ("sre.dev", "incidents", "approve")} <= operator
    only_shop = template({"rbac.mitigations": True, "rbac.mitigationNamespaces": ["shop"]})
    assert not [
        d for d in only_shop if d["kind"] == "ClusterRoleBinding" and "mitigations" in str(d)
    ]
    bindings = [d for d in only_shop if d["kind"] == "RoleBinding"]
    assert [(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in bindings] == [
        ("shop", "incident-operator-mitigations")
    ]
    watched = template({"rbac.mitigations": True, "watchNamespaces": ["shop", "payments"]})
    mitigation_bindings = [
        b
        for b in watched
        if b["kind"] == "RoleBinding" and b["roleRef"]["name"].endswith("-mitigations")
    ]
    assert {b["metadata"]["namespace"] for b in mitigation_bindings} == {"shop", "payments"}


def test_people_get_the_kinds_through_the_built_in_roles_but_not_approval() -> None:
    docs = template()
    edit = find(docs, "ClusterRole", "incident-operator-edit")
    labels = edit["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert labels["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert ("sre.dev", "incidents", "create") in rules(edit)
    assert not {r for r in rules(edit) if r[1].endswith("/status") or r[2] == "approve"}
    view = find(docs, "ClusterRole", "incident-operator-view")
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert {r[2] for r in rules(view)} == {"get", "list", "watch"}
    approver = find(docs, "ClusterRole", "incident-operator-approver")
    assert rules(approver) == {("sre.dev", "incidents", "approve")}
    assert not [k for k, _ in approver["metadata"]["labels"].items() if "aggregate" in k]


def test_everything_tenancy_can_be_turned_off() -> None:
    docs = template(
        {
            "admission.requesterAuthority": False,
            "admission.operatorBound": False,
            "rbac.userRoles": False,
            "rbac.secretMetadata": True,
        }
    )
    assert not [d for d in docs if d["kind"].startswith("ValidatingAdmissionPolicy")]
    assert not [d for d in docs if d["metadata"]["name"].endswith(("-edit", "-view", "-approver"))]
    assert ("", "secrets", "list") in granted_to_operator(docs)
    args = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--no-secret-metadata" not in args


def test_every_mitigation_an_incident_or_workflow_may_hold_is_checked() -> None:
    """One authorizer check per entry (messageExpression cannot call the authorizer, so each
    check names its entry by index): as many checks as spec.mitigations of an incident, or
    mitigate steps of a workflow, may hold."""
    policy = find(template(), "ValidatingAdmissionPolicy", "incident-operator-requester-authority")

    def spec_of(kind: str) -> dict[str, Any]:
        crd = yaml.safe_load((REPO / "crds" / f"sre.dev_{kind}.yaml").read_text())
        spec: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        return spec["properties"]["spec"]["properties"]  # type: ignore[no-any-return]

    limit = max(
        spec_of("incidents")["mitigations"]["maxItems"],
        spec_of("incidentworkflows")["actions"]["maxItems"],
        spec_of("clusterincidentworkflows")["actions"]["maxItems"],
    )
    assert limit == 16
    checks = policy["spec"]["validations"]
    assert len(checks) == limit
    assert [f"variables.added[{i}]" in c["expression"] for i, c in enumerate(checks)] == [
        True
    ] * limit
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} == {
        "incidents",
        "servicelevelobjectives",
        "incidentworkflows",
        "clusterincidentworkflows",
    }
