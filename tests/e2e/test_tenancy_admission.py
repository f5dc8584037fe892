"""Tenancy, enforced by the API server: the chart's ValidatingAdmissionPolicies on the real
kube-apiserver, with impersonated users who hold only namespace roles.

The chart is installed with helm (with ``rbac.mitigations`` on, so the operator's
ServiceAccount holds the RBAC to patch workloads everywhere and only the admission policy
stands between it and an object that never opted in). Two tenant namespaces:

- ``alice``: the built-in ``edit`` in tenant A (through a RoleBinding);
- ``bob``: ``edit`` in tenant B only;
- ``carol``: a responder in tenant A: the chart's ``-view`` and ``-edit`` roles for the sre.dev
  kinds, nothing on Deployments;
- ``dave``: ``edit`` plus the chart's ``-approver`` role in tenant A.

Every refusal is checked for its message (the attacker is told why) and for the object it
would have changed staying as it was.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator.domain import mitigation as m
from tests.builders.objects import incident_manifest
from tests.chart.helm import CHART, helm, set_args
from tests.kube import (
    Cluster,
    annotations_of,
    api_client,
    api_error_message,
    as_dict,
    get_custom,
    wait_for,
)

RELEASE = "tenancy"
FULLNAME = f"{RELEASE}-incident-operator"


@dataclass(frozen=True)
class Setup:
    operator_namespace: str
    tenant_a: str
    tenant_b: str
    opted_in: str
    """A namespace labelled sre.dev/mitigation=allowed (by the cluster admin)."""

    @property
    def operator(self) -> str:
        return f"system:serviceaccount:{self.operator_namespace}:{FULLNAME}"


def impersonating(cluster: Cluster, user: str) -> client.ApiClient:
    """A client authenticated as the admin, acting as ``user`` (Impersonate-User)."""
    api = api_client(cluster.kubeconfig)
    api.set_default_header("Impersonate-User", user)  # type: ignore[no-untyped-call]
    return api


def refusal(call: Callable[[], Any]) -> str:
    """The API server's message for a refused call (fails when the call is accepted)."""
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status in (403, 422), info.value
    return api_error_message(info.value)


def deployment(name: str, *, opted_in: bool) -> client.V1Deployment:
    annotations = {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE} if opted_in else {}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"{name}:v1"}]},
            },
        },
    }
    return client.V1Deployment.model_validate(manifest)


SCALE_WEB_TO_ZERO = {"name": "drain", "scale": {"name": "web", "replicas": 0}}


def create_incident(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> Any:
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", body
    )


def patch_incident(api: client.ApiClient, namespace: str, name: str, spec: dict[str, Any]) -> Any:
    return client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": spec}
    )


def bind(api: client.ApiClient, namespace: str, user: str, cluster_role: str) -> None:
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding.model_validate(
            {
                "metadata": {"name": f"{user}-{cluster_role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_role,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            }
        ),
    )


@pytest.fixture(scope="module")
def setup(crds: Cluster, api: client.ApiClient) -> Iterator[Setup]:
    suffix = uuid.uuid4().hex[:6]
    s = Setup(f"tenancy-op-{suffix}", f"tenant-a-{suffix}", f"tenant-b-{suffix}", f"opted-{suffix}")
    core = client.CoreV1Api(api)
    for ns in (s.operator_namespace, s.tenant_a, s.tenant_b):
        core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": ns}}))
    core.create_namespace(
        client.V1Namespace.model_validate(
            {"metadata": {"name": s.opted_in, "labels": {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}}}
        )
    )
    try:
        # The session's `crds` fixture installed the CRDs: the release leaves them alone (their
        # field ownership stays as the other chart tests expect it).
        helm(
            "install", RELEASE, str(CHART), "--namespace", s.operator_namespace,
            *set_args({"rbac.mitigations": True, "crds.install": False}),
            kubeconfig=crds.kubeconfig,
        )  # fmt: skip
        bind(api, s.tenant_a, "alice", "edit")
        bind(api, s.tenant_b, "bob", "edit")
        bind(api, s.tenant_a, "carol", f"{FULLNAME}-view")
        bind(api, s.tenant_a, "carol", f"{FULLNAME}-edit")
        bind(api, s.tenant_a, "dave", "edit")
        bind(api, s.tenant_a, "dave", f"{FULLNAME}-approver")
        apps = client.AppsV1Api(api)
        for ns in (s.tenant_a, s.tenant_b, s.opted_in):
            apps.create_namespaced_deployment(ns, deployment("web", opted_in=True))
            apps.create_namespaced_deployment(ns, deployment("plain", opted_in=False))
        wait_until_enforced(crds, s)
        yield s
    finally:
        helm("uninstall", RELEASE, "-n", s.operator_namespace, kubeconfig=crds.kubeconfig,
             check=False)  # fmt: skip
        for ns in (s.operator_namespace, s.tenant_a, s.tenant_b, s.opted_in):
            core.delete_namespace(ns)


def wait_until_enforced(cluster: Cluster, s: Setup) -> None:
    """Policies are compiled asynchronously after they are created: probe with dry runs."""
    carol = impersonating(cluster, "carol")
    operator = impersonating(cluster, s.operator)

    def carol_refused() -> bool:
        try:
            client.CustomObjectsApi(carol).create_namespaced_custom_object(
                "sre.dev", "v1alpha1", s.tenant_a, "incidents",
                incident_manifest("probe", mitigations=[SCALE_WEB_TO_ZERO]), dry_run="All",
            )  # fmt: skip
        except ApiException as exc:
            return exc.status == 403 and "may not" in api_error_message(exc)
        return False

    def operator_refused() -> bool:
        try:
            client.AppsV1Api(operator).patch_namespaced_deployment(
                "plain", s.tenant_a, {"spec": {"replicas": 1}}, dry_run="All"
            )
        except ApiException as exc:
            return exc.status == 403 and "only if it carries" in api_error_message(exc)
        return False

    wait_for("the requester-authority policy to be enforced", carol_refused, timeout=60)
    wait_for("the operator-bound policy to be enforced", operator_refused, timeout=60)


def replicas(api: client.ApiClient, namespace: str, name: str) -> int:
    spec = client.AppsV1Api(api).read_namespaced_deployment(name, namespace).spec
    assert spec is not None
    assert spec.replicas is not None
    return spec.replicas


def test_an_edit_tenant_writes_incidents_only_in_its_namespace(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    alice, bob = impersonating(cluster, "alice"), impersonating(cluster, "bob")
    # `edit` includes the chart's aggregated sre.dev rules, and alice may scale web herself.
    create_incident(
        alice,
        setup.tenant_a,
        incident_manifest("alice-scales", mitigations=[SCALE_WEB_TO_ZERO]),
    )
    assert get_custom(api, "Incident", "alice-scales", setup.tenant_a)["spec"]["mitigations"]
    # bob's `edit` is in tenant B: tenant A is out of his reach (RBAC, before any admission).
    message = refusal(lambda: create_incident(bob, setup.tenant_a, incident_manifest("bob-in-a")))
    assert 'User "bob" cannot create resource "incidents"' in message
    refusal(lambda: patch_incident(bob, setup.tenant_a, "alice-scales", {"title": "hijacked"}))
    assert get_custom(api, "Incident", "alice-scales", setup.tenant_a)["spec"]["title"] == (
        "Checkout returns 5xx"
    )
    # Nothing carol or anyone else can write is more than the built-in roles: no status.
    refusal(
        lambda: client.CustomObjectsApi(alice).patch_namespaced_custom_object_status(
            "sre.dev", "v1alpha1", setup.tenant_a, "incidents", "alice-scales",
            {"status": {"phase": "closed"}},
        )
    )  # fmt: skip


def test_an_edit_tenant_writes_services_in_its_namespace_but_never_teams(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    alice, bob = impersonating(cluster, "alice"), impersonating(cluster, "bob")
    service = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "checkout"},
        "spec": {"owner": "payments"},
    }
    custom = client.CustomObjectsApi(alice)
    custom.create_namespaced_custom_object(
        "sre.dev", "v1alpha1", setup.tenant_a, "services", service
    )
    assert get_custom(api, "Service", "checkout", setup.tenant_a)["spec"]["owner"] == "payments"
    # Not in another tenant's namespace ...
    message = refusal(
        lambda: client.CustomObjectsApi(bob).create_namespaced_custom_object(
            "sre.dev", "v1alpha1", setup.tenant_a, "services", {**service, "metadata": {
                "name": "bob-in-a"}},
        )
    )  # fmt: skip
    assert 'User "bob" cannot create resource "services"' in message
    # ... nor its status (the resolved owner is the operator's) ...
    refusal(
        lambda: custom.patch_namespaced_custom_object_status(
            "sre.dev", "v1alpha1", setup.tenant_a, "services", "checkout",
            {"status": {"owner": "payments"}},
        )
    )  # fmt: skip
    # ... and never a Team (cluster-scoped, the cluster admin's).
    team = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Team",
        "metadata": {"name": f"alices-{uuid.uuid4().hex[:6]}"},
        "spec": {"namespaces": ["*"]},
    }
    message = refusal(
        lambda: custom.create_cluster_custom_object("sre.dev", "v1alpha1", "teams", team)
    )
    assert 'cannot create resource "teams"' in message


def test_a_mitigation_needs_the_requesters_rights_on_its_target(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    carol, alice = impersonating(cluster, "carol"), impersonating(cluster, "alice")
    ns = setup.tenant_a
    # carol writes incidents, but may not scale Deployments herself: neither may the operator
    # on her behalf.
    message = refusal(
        lambda: create_incident(
            carol, ns, incident_manifest("carol-drains", mitigations=[SCALE_WEB_TO_ZERO])
        )
    )
    assert message.endswith(
        "denied request: spec.mitigations: carol may not patch deployments/web/scale in "
        f"namespace {ns}, and a mitigation runs only with the authority of whoever asks for it"
    ), message
    with pytest.raises(ApiException):
        get_custom(api, "Incident", "carol-drains", ns)
    # An incident without mitigations is hers to write and edit.
    create_incident(carol, ns, incident_manifest("carol-reports"))
    patch_incident(carol, ns, "carol-reports", {"summary": "errors since 10:02"})
    # Adding one later is the same request; each kind of action names its own permission.
    statefulset = {"scale": {"kind": "StatefulSet", "name": "db", "replicas": 1}}
    route = {"shiftTraffic": {"httpRoute": "web", "weights": [{"backend": "v1", "weight": 1}]}}
    flag = {"patchConfigMap": {"configMap": "flags", "key": "new-checkout", "value": "off"}}
    for mitigation, needs in (
        ({"rollback": {"deployment": "web"}}, "patch deployments/web"),
        (statefulset, "patch statefulsets/db/scale"),
        (route, "patch httproutes/web"),
        ({"abortRollout": {"rollout": "web"}}, "patch rollouts/web"),
        (flag, "patch configmaps/flags"),
    ):
        message = refusal(
            functools.partial(
                patch_incident, carol, ns, "carol-reports", {"mitigations": [mitigation]}
            )
        )
        assert f"carol may not {needs} in namespace {ns}" in message, message
    assert not get_custom(api, "Incident", "carol-reports", ns)["spec"].get("mitigations")
    # alice may scale web: her request is accepted; carol may then edit the incident's other
    # fields and remove the mitigation (removing asks nothing of the target), not re-add it.
    patch_incident(alice, ns, "carol-reports", {"mitigations": [SCALE_WEB_TO_ZERO]})
    patch_incident(carol, ns, "carol-reports", {"summary": "rolling back"})
    patch_incident(carol, ns, "carol-reports", {"mitigations": []})
    refusal(
        lambda: patch_incident(carol, ns, "carol-reports", {"mitigations": [SCALE_WEB_TO_ZERO]})
    )
    # The same holds for an SLO's mitigations (run later, under the Severity's policy).
    slo = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "web"},
        "spec": {
            "service": "web",
            "target": 99.9,
            "indicator": {
                "ratio": {
                    "errors": 'sum(rate(http_requests_total{code="500"}[{{window}}]))',
                    "total": "sum(rate(http_requests_total[{{window}}]))",
                }
            },
            "mitigations": [{"rollback": {"deployment": "web"}}],
        },
    }
    message = refusal(
        lambda: client.CustomObjectsApi(carol).create_namespaced_custom_object(
            "sre.dev", "v1alpha1", ns, "servicelevelobjectives", slo
        )
    )
    assert f"carol may not patch deployments/web in namespace {ns}" in message
    assert replicas(api, ns, "web") == 2


def workflow(name: str, *actions: dict[str, Any], cluster: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ClusterIncidentWorkflow" if cluster else "IncidentWorkflow",
        "metadata": {"name": name},
        "spec": {"triggers": [{"event": "declared"}], "actions": list(actions)},
    }


ROLLBACK_WEB = {"type": "mitigate", "mitigation": {"rollback": {"deployment": "web"}}}
NOTE = {"type": "addNote", "text": "declared"}


def create_workflow(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> Any:
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidentworkflows", body
    )


def patch_workflow(api: client.ApiClient, namespace: str, name: str, body: dict[str, Any]) -> Any:
    return client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidentworkflows", name, body
    )


def test_a_workflow_mitigation_needs_its_writers_rights_on_the_target(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    """A workflow's mitigate step runs later with nobody asking: its writer must be allowed
    to make the change now, as for an SLO's mitigations (docs/workflows.md#mitigations)."""
    carol, alice = impersonating(cluster, "carol"), impersonating(cluster, "alice")
    ns = setup.tenant_a
    # carol writes workflows (the chart's -edit) but may not patch Deployments herself.
    message = refusal(lambda: create_workflow(carol, ns, workflow("carol-rolls", ROLLBACK_WEB)))
    assert message.endswith(
        f"denied request: spec.actions: carol may not patch deployments/web in namespace {ns}, "
        "and a mitigation runs only with the authority of whoever asks for it"
    ), message
    with pytest.raises(ApiException):
        get_custom(api, "IncidentWorkflow", "carol-rolls", ns)
    # A workflow without mitigate steps is hers to write; adding one is the same request.
    create_workflow(carol, ns, workflow("carol-notes", NOTE))
    message = refusal(
        lambda: patch_workflow(
            carol, ns, "carol-notes", {"spec": {"actions": [NOTE, ROLLBACK_WEB]}}
        )
    )
    assert f"carol may not patch deployments/web in namespace {ns}" in message
    # alice may roll web back: her workflow is accepted. Its triggers and condition decide
    # when the rollback runs, so carol may not change its spec, only its labels.
    create_workflow(alice, ns, workflow("alice-rolls", ROLLBACK_WEB))
    (step,) = get_custom(api, "IncidentWorkflow", "alice-rolls", ns)["spec"]["actions"]
    assert step["mitigation"]["rollback"] == {"deployment": "web"}
    message = refusal(
        lambda: patch_workflow(
            carol, ns, "alice-rolls", {"spec": {"condition": "incident.severity == 'sev-3'"}}
        )
    )
    assert f"carol may not patch deployments/web in namespace {ns}" in message
    patch_workflow(carol, ns, "alice-rolls", {"metadata": {"labels": {"reviewed": "yes"}}})
    assert "condition" not in get_custom(api, "IncidentWorkflow", "alice-rolls", ns)["spec"]
    # bob's `edit` is in tenant B: he may not write tenant A's workflows at all (RBAC).
    bob = impersonating(cluster, "bob")
    message = refusal(lambda: create_workflow(bob, ns, workflow("bob-in-a", NOTE)))
    assert 'cannot create resource "incidentworkflows"' in message


def test_a_cluster_workflow_mitigation_needs_the_right_in_every_namespace(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    """A ClusterIncidentWorkflow acts on every namespace's incidents: its writer must be
    allowed to make its change in every namespace (a cluster admin is)."""
    name = f"{FULLNAME}-wf-writer-{uuid.uuid4().hex[:6]}"
    rbac = client.RbacAuthorizationV1Api(api)
    role = {
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": ["sre.dev"], "resources": ["clusterincidentworkflows"],
             "verbs": ["create", "get", "delete"]},
        ],
    }  # fmt: skip
    rbac.create_cluster_role(client.V1ClusterRole.model_validate(role))
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "erin"}],
    }
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding.model_validate(binding))
    custom = client.CustomObjectsApi(api)
    try:
        erin = client.CustomObjectsApi(impersonating(cluster, "erin"))
        # erin may write cluster workflows, and alice may patch web in tenant A: neither is the
        # right to roll back every namespace's web.
        erin.create_cluster_custom_object(
            "sre.dev", "v1alpha1", "clusterincidentworkflows", workflow(f"{name}-n", NOTE,
                                                                        cluster=True),
        )  # fmt: skip
        message = refusal(
            lambda: erin.create_cluster_custom_object(
                "sre.dev", "v1alpha1", "clusterincidentworkflows",
                workflow(f"{name}-r", ROLLBACK_WEB, cluster=True),
            )
        )  # fmt: skip
        assert message.endswith(
            "denied request: spec.actions: erin may not patch deployments/web in every "
            "namespace, and a mitigation runs only with the authority of whoever asks for it"
        ), message
        # The cluster admin may.
        custom.create_cluster_custom_object(
            "sre.dev", "v1alpha1", "clusterincidentworkflows",
            workflow(f"{name}-r", ROLLBACK_WEB, cluster=True),
        )  # fmt: skip
        assert get_custom(api, "ClusterIncidentWorkflow", f"{name}-r", "")["spec"]["actions"]
    finally:
        for wf_name in (f"{name}-n", f"{name}-r"):
            with contextlib.suppress(ApiException):
                custom.delete_cluster_custom_object(
                    "sre.dev", "v1alpha1", "clusterincidentworkflows", wf_name
                )
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def test_only_an_approver_approves_a_suggested_mitigation(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    ns = setup.tenant_a
    alice, carol, dave = (impersonating(cluster, u) for u in ("alice", "carol", "dave"))
    create_incident(alice, ns, incident_manifest("needs-approval"))
    for who, user in (("alice", alice), ("carol", carol)):
        message = refusal(
            functools.partial(
                patch_incident,
                user,
                ns,
                "needs-approval",
                {"approvedMitigations": ["rollback-web"]},
            )
        )
        assert (
            f"spec.approvedMitigations: {who} may not approve mitigations in namespace {ns}"
            in message
        ), message
        assert f"{FULLNAME}-approver" in message
    assert not get_custom(api, "Incident", "needs-approval", ns)["spec"].get("approvedMitigations")
    # Nor can one create an incident already approved.
    refusal(
        lambda: create_incident(
            alice,
            ns,
            incident_manifest("pre-approved", approvedMitigations=["rollback-web"]),
        )
    )
    patch_incident(dave, ns, "needs-approval", {"approvedMitigations": ["rollback-web"]})
    assert get_custom(api, "Incident", "needs-approval", ns)["spec"]["approvedMitigations"] == [
        "rollback-web"
    ]
    # Other edits by non-approvers go on; the approval stays as dave left it.
    patch_incident(alice, ns, "needs-approval", {"summary": "approved by dave"})
    refusal(lambda: patch_incident(alice, ns, "needs-approval", {"approvedMitigations": []}))
    # dave's approver role is tenant A's only.
    bob = impersonating(cluster, "bob")
    create_incident(bob, setup.tenant_b, incident_manifest("b"))
    refusal(lambda: patch_incident(bob, setup.tenant_b, "b", {"approvedMitigations": ["x"]}))
    refusal(lambda: patch_incident(dave, setup.tenant_b, "b", {"approvedMitigations": ["x"]}))


def test_the_operator_changes_only_what_opted_in(
    cluster: Cluster, api: client.ApiClient, setup: Setup
) -> None:
    operator = impersonating(cluster, setup.operator)
    apps, core = client.AppsV1Api(operator), client.CoreV1Api(operator)
    ns = setup.tenant_a
    scale_to_one = {"spec": {"replicas": 1}}
    # RBAC grants the patch (rbac.mitigations, cluster-wide): the refusal is admission's.
    can_i = cluster.kubectl(
        "auth", "can-i", "patch", "deployments", "-n", ns, "--as", setup.operator
    )
    assert can_i.stdout.strip() == "yes"
    message = refusal(lambda: apps.patch_namespaced_deployment("plain", ns, scale_to_one))
    assert message.endswith(
        f"the incident-operator ServiceAccount may change deployments {ns}/plain only if it "
        f"carries the annotation {m.OPT_IN_ANNOTATION}: {m.OPT_IN_VALUE} (or its namespace the "
        f"label {m.OPT_IN_ANNOTATION}: {m.OPT_IN_VALUE})"
    ), message
    assert replicas(api, ns, "plain") == 2
    # Opting itself in is the same change: what counts is the object before it.
    opt_in = {"metadata": {"annotations": {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}}, **scale_to_one}
    refusal(lambda: apps.patch_namespaced_deployment("plain", ns, opt_in))
    assert m.OPT_IN_ANNOTATION not in (
        annotations_of(client.AppsV1Api(api).read_namespaced_deployment("plain", ns))
    )
    # The opted-in Deployment is the operator's to change.
    apps.patch_namespaced_deployment("web", ns, scale_to_one)
    assert replicas(api, ns, "web") == 1
    # A namespace the cluster admin labelled opts every object in.
    apps.patch_namespaced_deployment("plain", setup.opted_in, scale_to_one)
    assert replicas(api, setup.opted_in, "plain") == 1
    # kube-system is no different from any un-opted namespace.
    client.CoreV1Api(api).create_namespaced_config_map(
        "kube-system",
        client.V1ConfigMap.model_validate(
            {"metadata": {"name": f"victim-{setup.tenant_a}"}, "data": {"k": "v"}}
        ),
    )
    try:
        refusal(
            lambda: core.patch_namespaced_config_map(
                f"victim-{setup.tenant_a}", "kube-system", {"data": {"k": "owned"}}
            )
        )
    finally:
        client.CoreV1Api(api).delete_namespaced_config_map(
            f"victim-{setup.tenant_a}", "kube-system"
        )
    # Its own postmortem documents: created and replaced with a Postmortem ownerReference.
    # The owner exists: an ownerReference to a missing object is garbage-collected at once.
    postmortem = as_dict(
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "sre.dev",
            "v1alpha1",
            ns,
            "postmortems",
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Postmortem",
                "metadata": {"name": "checkout"},
                "spec": {"incidentRef": "checkout", "owner": "alice", "state": "draft"},
            },
        )
    )
    owner = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Postmortem",
        "name": "checkout",
        "uid": postmortem["metadata"]["uid"],
    }
    document = {"metadata": {"name": "postmortem-checkout", "ownerReferences": [owner]}}
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap.model_validate({**document, "data": {"postmortem.md": "# v1"}})
    )
    core.replace_namespaced_config_map(
        "postmortem-checkout",
        ns,
        client.V1ConfigMap.model_validate({**document, "data": {"postmortem.md": "# v2"}}),
    )
    refusal(
        lambda: core.create_namespaced_config_map(
            ns,
            client.V1ConfigMap.model_validate(
                {"metadata": {"name": "not-a-postmortem"}, "data": {"k": "v"}}
            ),
        )
    )
    # ... and dropping the ownerReference does not make another ConfigMap its own.
    refusal(
        lambda: core.replace_namespaced_config_map(
            "postmortem-checkout",
            ns,
            client.V1ConfigMap.model_validate(
                {"metadata": {"name": "postmortem-checkout"}, "data": {"postmortem.md": "# v3"}}
            ),
        )
    )
    # The tenants themselves are not bound by it: alice changes her own Deployment.
    client.AppsV1Api(impersonating(cluster, "alice")).patch_namespaced_deployment(
        "plain", ns, scale_to_one
    )
    assert replicas(api, ns, "plain") == 1


KINDS = (
    "incidents",
    "servicelevelobjectives",
    "oncallrotations",
    "postmortems",
    "incidentworkflows",
)


def allowed(
    cluster: Cluster, user: str, verb: str, resource: str, namespace: str, subresource: str = ""
) -> bool:
    """The API server's own answer (`kubectl auth can-i`, impersonating ``user``)."""
    done = cluster.kubectl(
        "auth", "can-i", verb, f"{resource}.sre.dev", "-n", namespace, "--as", user,
        f"--subresource={subresource}", check=False,
    )  # fmt: skip
    answer = done.stdout.strip()
    assert answer in {"yes", "no"}, (user, verb, resource, answer, done.stderr)
    return answer == "yes"


def test_no_tenant_role_writes_what_the_operator_observes_and_concludes(
    cluster: Cluster, setup: Setup
) -> None:
    """status (phase, status.conclusions, SLO burn, the rotation's current on-call) is the
    operator's: no role a tenant gets from the chart or the built-in roles may write it, in its
    own namespace or another; the spec stays theirs (the check can fail both ways)."""
    ns, other = setup.tenant_a, setup.tenant_b
    for user in ("alice", "carol", "dave"):
        for kind in KINDS:
            assert allowed(cluster, user, "patch", kind, ns), (user, kind)
            for verb in ("patch", "update"):
                for namespace in (ns, other):
                    assert not allowed(cluster, user, verb, kind, namespace, "status"), (
                        user,
                        verb,
                        kind,
                        namespace,
                    )
    # The cluster-scoped Severities and ClusterIncidentWorkflows (which act on every
    # namespace) are the platform team's: no tenant writes them at all.
    for user in ("alice", "carol", "dave"):
        for verb in ("create", "patch"):
            for kind in ("severities", "clusterincidentworkflows"):
                assert not allowed(cluster, user, verb, kind, ns), (user, verb, kind)
    # The operator itself does write status (the check is not vacuous).
    assert allowed(cluster, setup.operator, "patch", "incidents", ns, "status")
