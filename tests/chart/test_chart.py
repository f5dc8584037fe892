"""The chart, rendered by a real helm (built from helm.sh/helm/v4): lint, value sets, schema.

No cluster needed; tests/chart/test_chart_cluster.py installs it into one.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.values_reference import END, README, START, render
from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.app.operator_main import parse
from tests.chart.helm import CHART, find, helm, set_args, template
from tests.kube import REPO

SECRETS = {
    "slack.tokenSecret.name": "slack",
    "slack.signingSecret.name": "slack",
    "pagerduty.routingKeySecret.name": "pagerduty",
    "teams.webhookUrlSecret.name": "teams",
    "webhook.url": "https://hooks.example.com/incidents",
    "webhook.secret.name": "webhook",
    "alertmanager.tokenSecret.name": "alertmanager",
}
SUBSCRIPTIONS = {
    "subscriptions.enabled": True,
    "subscriptions.keySecret.name": "subscriptions",
    "subscriptions.publicSignup": True,
    "subscriptions.smtp.host": "smtp.example.com",
    "subscriptions.smtp.from": "status@example.com",
    "subscriptions.smtp.username": "status",
    "subscriptions.smtp.passwordSecret.name": "smtp",
    "statusPage.externalURL": "https://status.example.com/status",
}
EVERYTHING = {
    **SECRETS,
    "prometheus.url": "http://prometheus.monitoring:9090",
    "prometheus.manageRules": True,
    "serviceMonitor.enabled": True,
    "prometheusRule.enabled": True,
    "dashboard.enabled": True,
    "ingress.enabled": True,
    "ingress.exposeSlack": True,
    "ingress.tls": [{"hosts": ["status.example.com"], "secretName": "status-tls"}],
    "podDisruptionBudget.enabled": True,
    "replicaCount": 2,
    "peering.enabled": True,
    "statusPage.components": [
        {"name": "checkout", "namespaces": ["shop", "shop-eu"]},
        {"name": "search", "namespaces": ["search"]},
    ],
    "statusPage.logoURL": "https://cdn.example.com/acme/logo.svg?v=2&size=64",
    "statusPage.brandColour": "#0B5CAD",
    "catalog.secretNamespace": "pager-keys",
    "chat.declareNamespaces": ["shop", "billing"],
    **SUBSCRIPTIONS,
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "secrets": SECRETS,
    "watch-namespaces": {"watchNamespaces": ["shop", "payments"], "rbac.mitigations": False},
    "everything": EVERYTHING,
}


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find(docs, "Deployment")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def rules(docs: list[dict[str, Any]], suffix: str) -> set[tuple[str, str, str]]:
    role = next(
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith(suffix)
    )
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean(name: str, tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({}))
    result = helm("lint", "--strict", str(CHART), *set_args(VALUE_SETS[name]))
    assert "0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("name", VALUE_SETS)
def test_pod_security_restricted(name: str) -> None:
    docs = template(VALUE_SETS[name])
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = container(docs)["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    assert mounts["/tmp"] == "tmp"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["tmp"]
    assert {"livenessProbe", "readinessProbe", "resources"} <= set(container(docs))
    # restricted allows only these volume types
    allowed = {"emptyDir", "projected", "secret", "configMap", "downwardAPI", "name"}
    assert all(set(v) <= allowed for v in volumes.values())


def test_defaults_cluster_wide_one_replica_no_extras() -> None:
    docs = template()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == len(KINDS)  # one per generated kind
    assert not {"ServiceMonitor", "PrometheusRule", "Ingress", "PodDisruptionBudget"} & set(kinds)
    assert not [d for d in docs if d["kind"] == "ConfigMap"]
    deployment = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # never two standalone operators
    bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert {b["roleRef"]["name"] for b in bindings} == {
        "incident-operator-cluster",
        "incident-operator-namespaced",
    }
    assert not [d for d in docs if d["kind"] == "RoleBinding"]
    args = container(docs)["args"]
    assert not [a for a in args if a.startswith("--namespace")]
    assert not [a for a in args if a.endswith("-file=")]
    assert "--prometheus-url" not in " ".join(args)


def test_crds_are_templated_kept_and_identical_to_the_generated_ones() -> None:
    # files/crds is a symlink to the generated crds/: one source, helm packages the content.
    assert (CHART / "files" / "crds").resolve() == (REPO / "crds").resolve()
    docs = template()
    generated = [yaml.safe_load(p.read_text()) for p in sorted((REPO / "crds").glob("*.yaml"))]
    rendered = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert set(rendered) == {crd["metadata"]["name"] for crd in generated}
    for crd in generated:
        got = rendered[crd["metadata"]["name"]]
        assert got["spec"] == crd["spec"]
        assert got["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert got["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert not [d for d in template({"crds.install": False}) if d["kind"].startswith("Custom")]


def test_secrets_are_mounted_files_never_arguments_or_environment() -> None:
    docs = template(SECRETS)
    c = container(docs)
    args = c["args"]
    for flag in (
        "slack-token-file",
        "slack-signing-secret-file",
        "pagerduty-routing-key-file",
        "teams-webhook-url-file",
        "webhook-secret-file",
        "alertmanager-token-file",
    ):
        assert any(a.startswith(f"--{flag}=/etc/incident-operator/secrets/") for a in args), flag
    assert not [e for e in c["env"] if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]]
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    sources = next(v for v in pod["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    assert {s["secret"]["name"] for s in sources} == {
        "slack",
        "pagerduty",
        "teams",
        "webhook",
        "alertmanager",
    }
    mount = next(m for m in c["volumeMounts"] if m["name"] == "secrets")
    assert mount["readOnly"] is True


def test_watch_namespaces_bind_the_namespaced_role_only_there() -> None:
    docs = template(VALUE_SETS["watch-namespaces"])
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"shop", "payments"}
    assert {b["roleRef"]["name"] for b in bindings} == {"incident-operator-namespaced"}
    cluster_bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in cluster_bindings] == ["incident-operator-cluster"]
    args = container(docs)["args"]
    assert {"--namespace=shop", "--namespace=payments"} <= set(args)
    namespaced = rules(docs, "-namespaced")
    assert not [r for r in namespaced if r[2] == "patch" and r[0] != "sre.dev"]
    assert ("apps", "replicasets", "list") in namespaced  # change correlation stays


def test_catalog_reads_teams_and_writes_services_and_team_keys_in_one_namespace() -> None:
    default = template()
    assert "catalog-secrets" not in " ".join(d["metadata"]["name"] for d in default)
    assert not [a for a in container(default)["args"] if "catalog" in a]
    cluster, namespaced = rules(default, "-cluster"), rules(default, "-namespaced")
    assert ("sre.dev", "teams", "get") in cluster
    assert not {v for g, r, v in cluster if r == "teams"} - {"get", "list", "watch"}
    assert ("sre.dev", "services/status", "patch") in namespaced
    # Tenants with edit write Services in their namespace, never Teams (cluster-scoped).
    edit, view = rules(default, "-edit"), rules(default, "-view")
    assert ("sre.dev", "services", "create") in edit
    assert not [r for r in edit if r[1] == "teams"]
    assert ("sre.dev", "teams", "list") in view
    docs = template({"catalog.secretNamespace": "pager-keys"})
    assert "--catalog-secret-namespace=pager-keys" in container(docs)["args"]
    role = next(d for d in docs if d["kind"] == "Role" and "catalog" in d["metadata"]["name"])
    assert role["metadata"]["namespace"] == "pager-keys"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    binding = next(
        d for d in docs if d["kind"] == "RoleBinding" and "catalog" in d["metadata"]["name"]
    )
    assert binding["metadata"]["namespace"] == "pager-keys"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_optional_features_render_and_reference_the_operator() -> None:
    docs = template(EVERYTHING)
    service = find(docs, "Service")
    monitor = find(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["spec"]["selector"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    rule = find(docs, "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "IncidentOperatorDown" in alerts
    dashboard = find(docs, "ConfigMap", "incident-operator-dashboard")
    shipped = json.loads((CHART / "dashboards" / "incident-operator.json").read_text())
    assert json.loads(dashboard["data"]["incident-operator.json"]) == shipped
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    ingress = find(docs, "Ingress")
    paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/status", "/api/v2", "/slack"}  # never /metrics or /alertmanager
    assert find(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert find(docs, "ClusterKopfPeering")["metadata"]["name"] == "incident-operator"
    args = container(docs)["args"]
    assert "--peering=incident-operator" in args
    assert "--status-page-url=https://status.example.com/status" in args
    assert "--status-page-component=checkout=shop,shop-eu" in args
    assert "--status-page-component=search=search" in args
    assert "--status-page-logo-url=https://cdn.example.com/acme/logo.svg?v=2&size=64" in args
    assert "--status-page-brand-colour=#0B5CAD" in args
    branded = parse(["run", *args])
    assert branded.status_page_brand_colour == "#0b5cad"
    assert not [a for a in container(template())["args"] if "logo" in a or "colour" in a]
    assert "--manage-prometheus-rules" in args
    assert ("monitoring.coreos.com", "prometheusrules", "patch") in rules(docs, "-namespaced")
    assert ("kopf.dev", "clusterkopfpeerings", "watch") in rules(docs, "-cluster")
    assert find(docs, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"


def test_subscribers_live_in_one_secret_the_operator_may_get_and_update_only() -> None:
    default = template()
    assert not [d for d in default if "subscribers" in d["metadata"]["name"]]
    assert not [a for a in container(default)["args"] if "subscri" in a or "smtp" in a]
    docs = template(SUBSCRIPTIONS)
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["metadata"]["name"] == "incident-operator-subscribers"
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "data" not in secret  # an upgrade never overwrites the subscribers
    assert "stringData" not in secret
    role = next(d for d in docs if d["kind"] == "Role" and "subscribers" in d["metadata"]["name"])
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["incident-operator-subscribers"],
            "verbs": ["get", "update"],
        }
    ]
    binding = next(
        d for d in docs if d["kind"] == "RoleBinding" and "subscribers" in d["metadata"]["name"]
    )
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert (
        binding["subjects"][0]["name"]
        == find(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    )
    args = container(docs)["args"]
    parsed = parse(["run", *args])
    assert parsed.subscribers_secret == (
        secret["metadata"]["namespace"],
        secret["metadata"]["name"],
    )
    assert parsed.status_page_subscribe is True
    assert parsed.smtp_host == "smtp.example.com"
    assert parsed.subscriptions_key_file == "/etc/incident-operator/secrets/subscriptions-key"
    assert parsed.smtp_password_file == "/etc/incident-operator/secrets/smtp-password"
    assert not [a for a in args if "password=" in a or a.startswith("--subscriptions-key=")]


def test_subscriptions_need_the_status_page_url() -> None:
    values = {k: v for k, v in SUBSCRIPTIONS.items() if k != "statusPage.externalURL"}
    result = helm("template", "x", str(CHART), *set_args(values), check=False)
    assert result.returncode != 0
    assert "subscriptions.enabled needs statusPage.externalURL" in result.stderr


def test_peering_crds_ship_in_the_crds_directory() -> None:
    docs = template(include_crds=True)
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= names


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "/peering/enabled': value must be true"),
        ({"replicaCount": -1}, "/replicaCount"),
        ({"prometheus.url": "prometheus:9090"}, "/prometheus/url"),
        ({"prometheus.evaluationInterval": "30 seconds"}, "/prometheus/evaluationInterval"),
        ({"watchNamespaces": ["Shop"]}, "/watchNamespaces/0"),
        ({"image.digest": "latest"}, "/image/digest"),
        ({"image.pullPolicy": "Sometimes"}, "/image/pullPolicy"),
        ({"slack.tokenSecret": "xoxb-123"}, "/slack/tokenSecret"),
        ({"slack.token": "xoxb-123"}, "'token'"),
        ({"extraArgs": ["verbose"]}, "/extraArgs/0"),
        ({"service.port": 80}, "/service/port"),
        ({"statusPage.logoURL": "http://cdn.example.com/logo.svg"}, "/statusPage/logoURL"),
        ({"statusPage.logoURL": "javascript:alert(1)"}, "/statusPage/logoURL"),
        ({"statusPage.logoURL": "//cdn.example.com/logo.svg"}, "/statusPage/logoURL"),
        ({"statusPage.logoURL": 'https://x.example.com/"><b>'}, "/statusPage/logoURL"),
        ({"statusPage.brandColour": "red"}, "/statusPage/brandColour"),
        ({"statusPage.brandColour": "#0b5cad;}"}, "/statusPage/brandColour"),
        ({"subscriptions.enabled": True}, "/subscriptions/keySecret/name"),
        (
            {**SUBSCRIPTIONS, "subscriptions.smtp.from": ""},
            "/subscriptions/smtp/from",
        ),
        ({"subscriptions.smtp.security": "ssl"}, "/subscriptions/smtp/security"),
    ],
)
def test_schema_rejects_bad_values_with_the_offending_key(
    values: dict[str, Any], message: str
) -> None:
    result = helm("template", "x", str(CHART), *set_args(values), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def dockerfile_instruction(name: str) -> str:
    text = (REPO / "Dockerfile").read_text()
    # the last stage's instruction wins
    found: list[str] = re.findall(rf"^{name}\s+(.+)$", text, re.MULTILINE)
    (*_, value) = found
    return value.strip()


def test_chart_runs_the_image_as_the_dockerfile_builds_it() -> None:
    docs = template()
    c = container(docs)
    assert c["command"] == json.loads(dockerfile_instruction("ENTRYPOINT"))
    user, group = dockerfile_instruction("USER").split(":")
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (int(user), int(group))
    exposed = {int(p) for p in dockerfile_instruction("EXPOSE").split()}
    assert {p["containerPort"] for p in c["ports"]} == exposed
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "apt-get install" not in final_stage
    assert "pip install" not in final_stage


def test_chat_declarations_reach_only_the_namespaces_listed() -> None:
    assert not [a for a in container(template())["args"] if "declare-namespaces" in a]
    args = container(template(EVERYTHING))["args"]
    assert "--chat-declare-namespaces=shop,billing" in args
    assert parse(["run", *args]).chat_declare_namespaces == "shop,billing"


def test_chart_args_are_flags_the_operator_accepts() -> None:
    for values in VALUE_SETS.values():
        c = container(template(values))
        assert c["command"][-1] == "run"
        parsed = parse(["run", *c["args"]])
        assert parsed.command == "run"


def test_values_reference_in_the_chart_readme_is_generated_from_the_schema() -> None:
    readme = README.read_text()
    assert START in readme, f"{README} lacks the values reference start marker"
    assert END in readme, f"{README} lacks the values reference end marker"
    current = readme.split(START, 1)[1].split(END, 1)[0].strip()
    expected = render(json.loads((CHART / "values.schema.json").read_text()), CHART).strip()
    assert current == expected, "run `make values-reference`"


def test_notes_tell_what_to_do_next() -> None:
    out = helm("install", "x", str(CHART), "--dry-run=client", "-n", "ops").stdout
    notes = out.split("NOTES:", 1)[1]
    assert "prometheus.url is empty" in notes
    assert "kubectl -n ops create secret generic slack" in notes
    assert "port-forward service/x-incident-operator 8081" in notes
    assert shlex.split("kubectl get severities,oncallrotations,slos,incidents -A")[0] in notes


def test_packaged_chart_carries_the_crds_behind_the_symlink(tmp_path: Path) -> None:
    helm("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("incident-operator-*.tgz")
    out = helm("template", "x", str(archive)).stdout
    assert out.count("kind: CustomResourceDefinition") == len(list((REPO / "crds").glob("*.yaml")))
