"""Least privilege, proven: the core scenario with the operator authenticated as the chart's
ServiceAccount.

The chart is installed with helm (built from helm.sh/helm/v4) into its own namespace; the
operator process then runs with the arguments the chart renders for its Deployment, secrets
read from files as the mounted Secret provides them, and a kubeconfig holding a TokenRequest
token of the chart's ServiceAccount — so it can do exactly what the chart's RBAC grants
(with ``rbac.mitigations``), and no more than the chart's admission policies admit (the
ServiceAccount changes only opted-in objects and its own postmortem ConfigMaps).

The story: SLO burn (real Prometheus) → incident declared with severity → commander from the
rotation → Slack channel with the pinned status → automatic rollback of the Deployment → burn
stops → mitigated → resolved → postmortem drafted and rendered.

A missing permission fails the scenario (and the API server's audit log shows the 403). An
excess one is listed: every (group, resource, verb) the chart grants is matched against the
audit log of this run, and what was never used must be in ``NOT_EXERCISED`` with the feature
that needs it — a grant that no feature explains fails the test.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.domain import mitigation as m
from incident_operator.domain.simulation import Trace, TraceRow
from tests.chart.helm import CHART, helm, set_args
from tests.cluster.controlplane import free_port
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.kube import (
    REPO,
    Cluster,
    annotations_of,
    as_dict,
    create_custom,
    get_custom,
    pod_spec,
    temporary_severity,
    token_of,
    wait_for,
)
from tests.operator_process import running_operator
from tests.services.burn import Burn

TOKEN = "xoxb-rbac-" + uuid.uuid4().hex
RELEASE = "rbac-proof"
ROTATION = REPO / "examples" / "20-oncallrotation.yaml"
ARTIFACTS = REPO / "test-artifacts"
Triple = tuple[str, str, str]

# Granted, but the core scenario does not reach the feature that needs it.
NOT_EXERCISED: dict[Triple, str] = {
    **{
        (g, r, v): "traffic shift, rollout abort, StatefulSet mitigations"
        for g, r in (
            ("apps", "statefulsets"),
            ("gateway.networking.k8s.io", "httproutes"),
            ("argoproj.io", "rollouts"),
        )
        for v in ("get", "patch")
    },
    ("argoproj.io", "rollouts/status", "patch"): "rollout abort",
    **{
        (g, r, v): "change freeze of GitOps-managed mitigation targets"
        for g, r in (
            ("kustomize.toolkit.fluxcd.io", "kustomizations"),
            ("helm.toolkit.fluxcd.io", "helmreleases"),
            ("argoproj.io", "applications"),
        )
        for v in ("get", "patch")
    },
    ("sre.dev", "incidents", "approve"): "Slack approval of a suggested mitigation",
    ("", "configmaps", "get"): "allow-listed ConfigMap key mitigation",
    ("", "configmaps", "patch"): "allow-listed ConfigMap key mitigation",
    ("", "events", "create"): "kopf's own warning Events (a handler failing)",
    ("sre.dev", "postmortems", "get"): "look-up after a create conflict (a retried draft)",
    **{
        ("sre.dev", r, v): "workflows (tests/e2e/test_workflows.py): none in this scenario"
        for r in ("incidentworkflows", "clusterincidentworkflows")
        for v in ("get", "patch")
    },
    **{
        ("sre.dev", f"{r}/status", "patch"): "workflows: Ready and run counts"
        for r in ("incidentworkflows", "clusterincidentworkflows")
    },
    **dict.fromkeys(
        (
            ("sre.dev", "teams", "get"),
            ("sre.dev", "services", "get"),
            ("sre.dev", "services", "patch"),
            ("sre.dev", "services/status", "patch"),
        ),
        "service catalog: a Service and its owner Team (tests/e2e/test_catalog.py)",
    ),
}


def service_account_kubeconfig(cluster: Cluster, token: str, path: Path) -> Path:
    """The admin kubeconfig's cluster, with the ServiceAccount's token as the only user."""
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])
    entry = next(c for c in admin["clusters"] if c["name"] == context["context"]["cluster"])
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [entry],
                "users": [{"name": "operator", "user": {"token": token}}],
                "contexts": [
                    {"name": "sa", "context": {"cluster": entry["name"], "user": "operator"}}
                ],
                "current-context": "sa",
            }
        )
    )
    path.chmod(0o600)
    return path


def chart_args(deployment: Any, secrets_dir: Path) -> list[str]:
    """The Deployment's args, for a local process: own ports, secrets from a local directory."""
    args = []
    for arg in deployment.spec.template.spec.containers[0].args:
        if arg.startswith(("--liveness=", "--http-listen=")):
            continue
        args.append(arg.replace("/etc/incident-operator/secrets", str(secrets_dir)))
    return [*args, f"--http-listen=127.0.0.1:{free_port()}"]


def granted(cluster: Cluster, user: str) -> dict[Triple, str]:
    """Every (apiGroup, resource, verb) the ClusterRoles bound to ``user`` grant, with the role
    (the chart's roles for people, aggregated into view/edit/admin, are not the operator's)."""
    _, _, namespace, name = user.split(":")
    bindings = json.loads(
        cluster.kubectl("get", "clusterrolebindings,rolebindings", "-A", "-o", "json").stdout
    )["items"]
    bound = {
        b["roleRef"]["name"]
        for b in bindings
        if b["roleRef"]["kind"] == "ClusterRole"
        and any(
            s["kind"] == "ServiceAccount" and s["name"] == name and s.get("namespace") == namespace
            for s in b.get("subjects") or []
        )
    }
    roles = json.loads(cluster.kubectl("get", "clusterroles", "-o", "json").stdout)["items"]
    out: dict[Triple, str] = {}
    for role in roles:
        if role["metadata"]["name"] not in bound:
            continue
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule["verbs"]:
                        out[(group, resource, verb)] = role["metadata"]["name"]
    return out


def audited(log: Path, user: str, since: float) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text(errors="replace").splitlines():
        event = json.loads(line)
        if event["user"]["username"] != user or event.get("stage") != "ResponseComplete":
            continue
        at = event.get("requestReceivedTimestamp", "")
        if at and time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) < since - 86400:
            continue
        events.append(event)
    return events


def used(event: dict[str, Any]) -> Triple | None:
    ref = event.get("objectRef")
    if not ref or "resource" not in ref:
        return None  # discovery (/apis, /version): granted to every authenticated user
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return (ref.get("apiGroup", ""), resource, event["verb"])


@pytest.fixture
def severity(api: client.ApiClient, namespace: str) -> Iterator[str]:
    rotation = yaml.safe_load(ROTATION.read_text())
    rotation["metadata"]["namespace"] = namespace
    create_custom(api, rotation, namespace)
    with temporary_severity(
        api,
        "sev-rbac",
        {
            "level": 2,
            "displayName": "SEV-2 (Major)",
            "chat": {"createChannel": True, "announceChannels": ["#incidents"]},
            "mitigation": {"autoAllowed": True},
            "postmortem": {"required": True, "dueWithin": "5d"},
            "rotationRef": rotation["metadata"]["name"],
        },
    ) as name:
        yield name


def slo(severity: str, rotation: str) -> dict[str, Any]:
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
            "alerting": {
                "minRequests": 100,
                "windows": [{"long": "1h", "short": "30s", "factor": 14.4, "severity": severity}],
            },
            "declare": {"enabled": True, "rotationRef": rotation},
            "mitigations": [{"rollback": {"deployment": "checkout"}}],
            "mitigationPolicy": {
                "mode": "auto",
                "cooldown": "1s",
                "maxActions": 1,
                "verifyWithin": "5m",
            },
        },
    }


def rolled_to_v2(apps: client.AppsV1Api, namespace: str) -> None:
    def revisions() -> set[str]:
        return {
            annotations_of(rs).get(m.REVISION_ANNOTATION, "")
            for rs in apps.list_namespaced_replica_set(namespace).items
        }

    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "annotations": {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "app", "image": "checkout:v1"}]},
            },
        },
    }
    apps.create_namespaced_deployment(namespace, client.V1Deployment.model_validate(body))
    wait_for("revision 1", lambda: "1" in revisions())
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "checkout:v2"}]}}}
    }
    apps.patch_namespaced_deployment("checkout", namespace, patch)
    wait_for("revision 2", lambda: "2" in revisions())


@pytest.fixture
def release(crds: Cluster, api: client.ApiClient) -> Iterator[str]:
    ns = f"rbac-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    yield ns
    helm("uninstall", RELEASE, "-n", ns, kubeconfig=crds.kubeconfig, check=False)
    core.delete_namespace(ns)


@pytest.mark.parametrize("mode", ["cluster-wide", "watch-namespaces"])
def test_core_scenario_as_the_charts_service_account(
    mode: str,
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    severity: str,
    release: str,
    burning: Burn,
    tmp_path: Path,
) -> None:
    prometheus, exporter, _ = burning
    # Failing from now on (the previous mode's run ended with the service healthy again).
    exporter.set_trace(Trace((*exporter.trace.rows, TraceRow(time.time(), 100.0, 100.0))))
    slack = FakeSlack(TOKEN)
    with serving(slack, slack.start) as (slack_url, slack_t):
        slack_t.call(slack.add_channel, "incidents")
        helm(
            "install", RELEASE, str(CHART), "--namespace", release,
            "--take-ownership", "--force-conflicts",
            *set_args({
                "prometheus.url": prometheus.url,
                "prometheus.evaluationInterval": "2s",
                "slack.tokenSecret.name": "slack",
                "slack.apiUrl": slack_url,
                "rbac.mitigations": True,
                "watchNamespaces": [namespace] if mode == "watch-namespaces" else [],
            }),
            kubeconfig=crds.kubeconfig,
        )  # fmt: skip
        apps = client.AppsV1Api(api)
        deployment = apps.read_namespaced_deployment(f"{RELEASE}-incident-operator", release)
        sa = pod_spec(deployment).service_account_name
        assert sa is not None
        token = token_of(
            client.CoreV1Api(api).create_namespaced_service_account_token(
                sa, release, client.AuthenticationV1TokenRequest(spec={"expirationSeconds": 3600})
            )
        )
        secrets_dir = tmp_path / "secrets"
        secrets_dir.mkdir()
        (secrets_dir / "slack-token").write_text(TOKEN + "\n")
        as_sa = Cluster(
            kubeconfig=str(service_account_kubeconfig(crds, token, tmp_path / "sa.kubeconfig")),
            existing=crds.existing,
        )
        whoami = as_sa.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
        user = f"system:serviceaccount:{release}:{sa}"
        assert whoami.stdout == user
        started = time.time()
        rolled_to_v2(apps, namespace)
        rotation = yaml.safe_load(ROTATION.read_text())["metadata"]["name"]
        create_custom(api, slo(severity, rotation), namespace)
        log = tmp_path / "operator.log"
        with running_operator(as_sa, log, *chart_args(deployment, secrets_dir)):
            custom = client.CustomObjectsApi(api)

            def declared() -> str | None:
                items = as_dict(
                    custom.list_namespaced_custom_object(
                        "sre.dev", "v1alpha1", namespace, "incidents"
                    )
                )["items"]
                return items[0]["metadata"]["name"] if items else None

            name = wait_for("the declared incident", declared, timeout=120)

            def status() -> dict[str, Any]:
                return get_custom(api, "Incident", name, namespace).get("status") or {}

            commander = wait_for(
                "a commander from the rotation",
                lambda: (status().get("roles") or {}).get("commander"),
                timeout=60,
            )
            participants = {
                p["name"] for p in yaml.safe_load(ROTATION.read_text())["spec"]["participants"]
            }
            assert commander in participants
            chat = wait_for(
                "channel with the pinned status",
                lambda: (c := status().get("chat") or {}).get("pinned") and c,
                timeout=90,
            )
            assert chat["statusMessageTs"] in slack.channels[chat["channelId"]].pins
            wait_for(
                "the rollback to v1",
                lambda: (
                    pod_spec(apps.read_namespaced_deployment("checkout", namespace))
                    .containers[0]
                    .image
                    == "checkout:v1"
                ),
                timeout=90,
            )
            exporter.set_trace(Trace((*exporter.trace.rows, TraceRow(time.time(), 100.0, 0.0))))
            wait_for("mitigated", lambda: status().get("phase") == "mitigated", timeout=150)
            custom.patch_namespaced_custom_object(
                "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": {"state": "resolved"}}
            )
            wait_for("resolved", lambda: status().get("phase") == "resolved", timeout=60)
            pm_name = wait_for(
                "the drafted postmortem", lambda: status().get("postmortemRef"), timeout=90
            )
            config_map = wait_for(
                "the rendered postmortem",
                lambda: (get_custom(api, "Postmortem", pm_name, namespace).get("status") or {}).get(
                    "renderedConfigMap"
                ),
                timeout=120,
            )
            client.CoreV1Api(api).read_namespaced_config_map(config_map, namespace)

    check_permissions(crds, log, user, started, ARTIFACTS / f"rbac-unused-rules-{mode}.txt")


def check_permissions(
    cluster: Cluster, log: Path, user: str, started: float, artifact: Path
) -> None:
    """No request was refused; every granted rule was used or is explained."""
    operator_log = log.read_text(errors="replace")
    assert "Forbidden" not in operator_log
    audit_log = Path(cluster.kubeconfig).parent / "audit.log"
    if cluster.existing or not audit_log.exists():
        pytest.skip("no audit log of this cluster: permissions proven, unused rules not listed")
    events = audited(audit_log, user, started)
    forbidden = [
        f"{e['verb']} {e['requestURI']}" for e in events if e["responseStatus"]["code"] == 403
    ]
    assert not forbidden, "missing permissions:\n" + "\n".join(forbidden)
    seen = {t for e in events if (t := used(e)) is not None}
    grants = granted(cluster, user)
    unused = sorted(set(grants) - seen)
    artifact.parent.mkdir(exist_ok=True)
    artifact.write_text(
        "".join(
            f"{g or 'core'} {r} {v}\t{grants[(g, r, v)]}\t"
            f"{NOT_EXERCISED.get((g, r, v), 'UNEXPLAINED')}\n"
            for g, r, v in unused
        )
    )
    print(f"rules never used in this run ({artifact}):\n{artifact.read_text()}")
    unexplained = [t for t in unused if t not in NOT_EXERCISED]
    assert not unexplained, f"granted but never used and not explained: {unexplained}"
