"""Guarded mitigations with the real operator on the local control plane.

The kube-controller-manager's deployment controller gives the Deployments real ReplicaSets
with revisions. HTTPRoute (Gateway API), Argo Rollouts, Flux and Argo CD are served by their
projects' own CRDs at the versions pinned in hack/upstream-crds.sh (their controllers are not
running: the tests write what those would write into status).

1. An SLO burn (real Prometheus, backfilled history, live scrapes) declares an incident; the
   SLO's auto rollback puts the Deployment's template back at v1; the demo service then stops
   failing, the short-window burn falls, and the incident becomes ``mitigated``. A second
   mitigation is stopped by maxActions.
2. Manual path through ``kubectl incident mitigate``: dry run leaves the object byte-identical;
   a Deployment without the opt-in is untouched and the refusal is an Event on it; HTTPRoute
   weights shifted; Rollout aborted; suggest mode waits for --approve.
3. Benchmark: incident created -> rollback patch accepted by the API server, 20 runs.
4. Change freeze: a Flux Kustomization and an Argo CD Application (upstream CRDs) are paused
   while the incident is open, the Flux-managed Deployment is rolled back, and both settings
   are restored exactly when the incident resolves.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from incident_operator.cli import kubectl_plugin
from incident_operator.domain import mitigation as m
from incident_operator.domain.simulation import Trace, TraceRow
from tests import upstream_objects as upstream
from tests.kube import (
    Cluster,
    annotations_of,
    as_dict,
    create_custom,
    get_custom,
    name_of,
    pod_spec,
    wait_for,
)
from tests.operator_process import running_operator
from tests.services.burn import Burn

OPT_IN = {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}


@pytest.fixture(scope="module")
def target_crds(crds: Cluster, upstream_crds: Cluster) -> Cluster:
    """Our CRDs and the upstream ones of the kinds mitigations and freezes act on."""
    return crds


@pytest.fixture
def severity(api: client.ApiClient) -> Iterator[str]:
    """A Severity of our own (cluster-scoped) that allows automatic mitigation."""
    name = f"sev-mit-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": name},
            "spec": {"level": 2, "displayName": name, "mitigation": {"autoAllowed": True}},
        },
        "",
    )
    yield name
    client.CustomObjectsApi(api).delete_cluster_custom_object(
        "sre.dev", "v1alpha1", "severities", name
    )


def deployment(name: str, image: str, *, opt_in: bool = True) -> client.V1Deployment:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": dict(OPT_IN) if opt_in else {}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }
    return client.V1Deployment.model_validate(manifest)


def image_of(apps: client.AppsV1Api, namespace: str, name: str) -> str:
    dep = apps.read_namespaced_deployment(name, namespace)
    return str(pod_spec(dep).containers[0].image)


def revision_exists(apps: client.AppsV1Api, namespace: str, name: str, revision: int) -> bool:
    return any(
        annotations_of(rs).get(m.REVISION_ANNOTATION) == str(revision)
        and name_of(rs).startswith(f"{name}-")
        for rs in apps.list_namespaced_replica_set(namespace).items
    )


def rolled_to_v2(api: client.ApiClient, namespace: str, name: str, *, opt_in: bool = True) -> None:
    """A Deployment with two real revisions: v1, then v2."""
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment(name, f"{name}:v1", opt_in=opt_in))
    wait_for(f"{name} revision 1", lambda: revision_exists(apps, namespace, name, 1))
    apps.patch_namespaced_deployment(
        name,
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"{name}:v2"}]}}}},
    )
    wait_for(f"{name} revision 2", lambda: revision_exists(apps, namespace, name, 2))


def slo_manifest(severity: str) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "checkout"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "indicator": {
                "ratio": {
                    "errors": 'sum(rate(http_requests_total{job="demo",code="500"}[{{window}}]))',
                    "total": 'sum(rate(http_requests_total{job="demo"}[{{window}}]))',
                }
            },
            # A 30 s short window so that a stopped burn shows within a minute.
            "alerting": {
                "minRequests": 100,
                "windows": [{"long": "1h", "short": "30s", "factor": 14.4, "severity": severity}],
            },
            "declare": {"enabled": True},
            "mitigations": [
                {"rollback": {"deployment": "checkout"}},
                {"name": "scale-up", "scale": {"name": "checkout", "replicas": 6}},
            ],
            "mitigationPolicy": {
                "mode": "auto",
                "cooldown": "1s",
                "maxActions": 1,
                "verifyWithin": "5m",
            },
        },
    }


def first_incident(api: client.ApiClient, namespace: str) -> str | None:
    """The name of an Incident in ``namespace`` (the one an SLO declared), or None yet."""
    items = as_dict(
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents"
        )
    )["items"]
    return str(items[0]["metadata"]["name"]) if items else None


def mitigations(api: client.ApiClient, namespace: str, incident: str) -> dict[str, Any]:
    status = get_custom(api, "Incident", incident, namespace).get("status") or {}
    return {r["name"]: r for r in status.get("mitigations", [])}


def events(api: client.ApiClient, namespace: str, reason: str) -> list[Any]:
    return [
        e  # core/v1 view: the deployment controller's events have no eventTime for EventsV1
        for e in client.CoreV1Api(api).list_namespaced_event(namespace).items
        if e.reason == reason
    ]


def test_slo_burn_auto_rollback_then_burn_stops_and_incident_is_mitigated(
    target_crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    burning: Burn,
    tmp_path: Path,
) -> None:
    prometheus, exporter, trace = burning
    apps = client.AppsV1Api(api)
    rolled_to_v2(api, namespace, "checkout")
    create_custom(api, slo_manifest(severity), namespace)
    with running_operator(
        target_crds,
        tmp_path / "operator.log",
        f"--prometheus-url={prometheus.url}",
        "--evaluation-interval=2s",
    ):
        incident = wait_for(
            "the declared incident", lambda: first_incident(api, namespace), timeout=120
        )
        wait_for(
            "the template back at v1",
            lambda: image_of(apps, namespace, "checkout") == "checkout:v1",
            timeout=60,
        )
        # The bad version is gone: the demo service stops failing from now on.
        exporter.set_trace(Trace((*trace.rows, TraceRow(time.time(), 100.0, 0.0))))
        applied = wait_for(
            "the rollback recorded as applied",
            lambda: (
                (r := mitigations(api, namespace, incident).get("rollback-checkout"))
                and r["state"] in {"applied", "verified"}
                and r
            ),
        )
        assert "from revision 2 to revision 1" in applied["message"]

        wait_for(
            "the incident to be mitigated",
            lambda: (
                get_custom(api, "Incident", incident, namespace).get("status", {}).get("phase")
                == "mitigated"
            ),
            timeout=150,
        )
        results = mitigations(api, namespace, incident)
        assert results["rollback-checkout"]["state"] == "verified"
        assert (
            "below the 14.4x threshold of the 1h/30s pair"
            in (results["rollback-checkout"]["message"])
        )
        assert results["scale-up"]["state"] == "blocked"
        assert "maxActions 1 reached" in results["scale-up"]["message"]
        assert apps.read_namespaced_deployment("checkout", namespace).spec.replicas == 2
        body = get_custom(api, "Incident", incident, namespace)
        # The operator's conclusion is in status; the spec (a human's, Git's) is untouched.
        assert body["spec"]["state"] == "triage"
        assert body["status"]["conclusions"]["state"]["value"] == "mitigated"
        assert body["status"]["conclusions"]["state"]["reason"] == "MitigationVerified"
        steps = {
            e["key"].rsplit("/", 1)[-1]
            for e in body["status"]["timeline"]
            if e["type"] == "mitigation"
        }
        assert {"applied", "verified", "blocked"} <= steps
        # Change correlation at declaration: the v2 rollout is a recent change, linked.
        changes = [e["message"] for e in body["status"]["timeline"] if e["type"] == "recent-change"]
        assert any(
            "deployment/checkout: revision 2" in c and "rollout history" in c for c in changes
        ), changes
        regarding = {
            (e.involved_object.kind, e.involved_object.name)
            for e in events(api, namespace, "MitigationApplied")
        }
        assert regarding == {("Incident", incident), ("Deployment", "checkout")}


def mitigate(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    return kubectl_plugin.main(["mitigate", *argv, "--wait", "30"])


def manual_incident(api: client.ApiClient, namespace: str, name: str, **spec: Any) -> None:
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name},
            "spec": {
                "title": "checkout errors",
                "service": "checkout",
                "severityRef": "sev-2",
                **spec,
            },
        },
        namespace,
    )


def test_manual_mitigations_dry_run_refusal_shift_abort_and_approval(
    target_crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    apps = client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    rolled_to_v2(api, namespace, "checkout")
    rolled_to_v2(api, namespace, "legacy", opt_in=False)
    route = upstream.http_route("checkout", {"stable": 80, "canary": 20}, dict(OPT_IN))
    custom.create_namespaced_custom_object(
        *upstream.HTTP_ROUTE[:2], namespace, upstream.HTTP_ROUTE[2], route
    )
    rollout = upstream.rollout("checkout", dict(OPT_IN))
    custom.create_namespaced_custom_object(
        *upstream.ROLLOUT[:2], namespace, upstream.ROLLOUT[2], rollout
    )
    manual_incident(api, namespace, "inc")

    def stored(kind: str, name: str) -> str:
        return target_crds.kubectl("get", f"{kind}/{name}", "-n", namespace, "-o", "json").stdout

    with running_operator(target_crds, tmp_path / "operator.log"):
        before = stored("deployment", "checkout")
        assert (
            mitigate(
                target_crds,
                monkeypatch,
                "inc",
                "-n",
                namespace,
                "--rollback",
                "deploy/checkout",
                "--dry-run",
            )
            == 0
        )
        assert "dry-run: dry run (nothing changed): would have rolled" in capsys.readouterr().out
        time.sleep(2)
        assert stored("deployment", "checkout") == before

        legacy = stored("deployment", "legacy")
        assert (
            mitigate(
                target_crds, monkeypatch, "inc", "-n", namespace, "--rollback", "deploy/legacy"
            )
            == 1
        )
        assert "has not opted in" in capsys.readouterr().err
        assert stored("deployment", "legacy") == legacy
        refused = events(api, namespace, "MitigationRefused")
        assert ("Deployment", "legacy") in {
            (e.involved_object.kind, e.involved_object.name) for e in refused
        }
        assert any("sre.dev/mitigation: allowed" in (e.message or "") for e in refused)

        assert (
            mitigate(
                target_crds,
                monkeypatch,
                "inc",
                "-n",
                namespace,
                "--shift",
                "httproute/checkout",
                "--to",
                "stable=100,canary=0",
            )
            == 0
        )
        route = as_dict(
            custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", namespace, "httproutes", "checkout"
            )
        )
        assert {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]} == {
            "stable": 100,
            "canary": 0,
        }
        # The default policy (maxActions 1, cooldown 15m) allows one change per incident:
        # the next actions run on incidents of their own.
        manual_incident(api, namespace, "inc-2")
        assert (
            mitigate(
                target_crds, monkeypatch, "inc-2", "-n", namespace, "--abort", "rollout/checkout"
            )
            == 0
        )
        rollout = as_dict(
            custom.get_namespaced_custom_object(
                "argoproj.io", "v1alpha1", namespace, "rollouts", "checkout"
            )
        )
        assert rollout["status"]["abort"] is True

        manual_incident(api, namespace, "inc-3")
        assert (
            mitigate(
                target_crds, monkeypatch, "inc-3", "-n", namespace, "--rollback", "deploy/checkout"
            )
            == 0
        )
        assert image_of(apps, namespace, "checkout") == "checkout:v1"
        capsys.readouterr()
        # The default policy allows one change per incident: a second one is blocked.
        assert (
            mitigate(
                target_crds, monkeypatch, "inc-3", "-n", namespace, "--scale", "deploy/checkout=5"
            )
            == 1
        )
        assert "blocked: maxActions 1 reached" in capsys.readouterr().err
        assert apps.read_namespaced_deployment("checkout", namespace).spec.replicas == 2


def test_benchmark_incident_declared_to_rollback_accepted(
    crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Incident created -> rollback patch accepted by the API server (p50/p95, 20 runs)."""
    apps = client.AppsV1Api(api)
    runs = 20
    for i in range(runs):
        rolled_to_v2(api, namespace, f"svc-{i}")
    latencies = []
    with running_operator(crds, tmp_path / "operator.log"):
        for i in range(runs):
            name = f"svc-{i}"
            started = time.monotonic()
            manual_incident(
                api, namespace, f"bench-{i}", mitigations=[{"rollback": {"deployment": name}}]
            )

            def rolled_back(name: str = name) -> bool:
                return image_of(apps, namespace, name) == f"{name}:v1"

            wait_for(f"{name} rolled back", rolled_back, timeout=30)
            latencies.append(time.monotonic() - started)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * runs) - 1]
    print(
        f"\nincident declared -> rollback accepted over {runs} runs: p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s"
    )
    assert p95 <= 5.0


def test_change_freeze_suspends_flux_and_argo_then_restores_them_exactly(
    target_crds: Cluster, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Flux Kustomization and Argo CD Application of their upstream CRDs."""
    apps = client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    rolled_to_v2(api, namespace, "checkout")
    rolled_to_v2(api, namespace, "web")
    flux = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": namespace,
    }
    apps.patch_namespaced_deployment("checkout", namespace, {"metadata": {"labels": flux}})
    apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"metadata": {"labels": {"argocd.argoproj.io/instance": f"{namespace}_web"}}},
    )
    ks = as_dict(
        custom.create_namespaced_custom_object(
            *upstream.KUSTOMIZATION[:2],
            namespace,
            upstream.KUSTOMIZATION[2],
            upstream.kustomization("apps"),
        )
    )
    automated = {"prune": True, "selfHeal": True}
    custom.create_namespaced_custom_object(
        *upstream.APPLICATION[:2],
        namespace,
        upstream.APPLICATION[2],
        upstream.application("web", namespace, syncPolicy={"automated": automated}),
    )
    # Ownership comes from what the GitOps controllers write into status, never from labels.
    upstream.flux_inventory(
        api, upstream.KUSTOMIZATION, namespace, "apps", [f"{namespace}_checkout_apps_Deployment"]
    )
    web = {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace,
           "name": "web"}  # fmt: skip
    upstream.argocd_resources(api, namespace, "web", [web])
    severity = f"sev-freeze-{uuid.uuid4().hex[:6]}"
    create_custom(
        api,
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": severity},
            "spec": {"level": 1, "displayName": severity, "mitigation": {"freezeChanges": True}},
        },
        "",
    )
    manual_incident(
        api,
        namespace,
        "inc",
        severityRef=severity,
        roles={"commander": "alice"},
        mitigations=[
            {"rollback": {"deployment": "checkout"}},
            {"rollback": {"deployment": "web"}},
        ],
    )

    def kustomization() -> dict[str, Any]:
        return as_dict(
            custom.get_namespaced_custom_object(
                "kustomize.toolkit.fluxcd.io", "v1", namespace, "kustomizations", "apps"
            )
        )

    def application() -> dict[str, Any]:
        return as_dict(
            custom.get_namespaced_custom_object(
                "argoproj.io", "v1alpha1", namespace, "applications", "web"
            )
        )

    try:
        with running_operator(target_crds, tmp_path / "operator.log"):
            wait_for(
                "the Flux-managed Deployment rolled back under the freeze",
                lambda: image_of(apps, namespace, "checkout") == "checkout:v1",
                timeout=30,
            )
            assert kustomization()["spec"]["suspend"] is True
            # The web rollback is held by maxActions (it never passed the gate): its Argo CD
            # Application is not frozen — a freeze is only for a mitigation that runs.
            assert application()["spec"]["syncPolicy"]["automated"] == automated
            frozen = get_custom(api, "Incident", "inc", namespace)["status"]["freezes"]
            assert {(f["kind"], f["previous"]) for f in frozen} == {("Kustomization", "null")}

            client.CustomObjectsApi(api).patch_namespaced_custom_object(
                "sre.dev",
                "v1alpha1",
                namespace,
                "incidents",
                "inc",
                {"spec": {"state": "resolved"}},
            )
            wait_for(
                "the freeze lifted",
                lambda: all(
                    f.get("restoredAt")
                    for f in get_custom(api, "Incident", "inc", namespace)["status"]["freezes"]
                ),
                timeout=30,
            )
            assert kustomization()["spec"] == ks["spec"]  # exactly as before: no suspend
            assert application()["spec"]["syncPolicy"]["automated"] == automated
            types = [
                e["type"]
                for e in get_custom(api, "Incident", "inc", namespace)["status"]["timeline"]
            ]
            assert types.count("change-freeze") == 1
            assert types.count("change-freeze-lifted") == 1
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "severities", severity
        )
