"""`kubectl incident doctor`: each check on what was read, and the command on a fake reader."""

from __future__ import annotations

import io
import json
from typing import Any

from incident_operator import GROUP, VERSION
from incident_operator.adapters.cluster_check import Forbidden
from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.cli import doctor
from incident_operator.cli.kubectl_plugin import build_parser


def crd(plural: str, kind: str, *, storage: bool = True, established: str = "True") -> Body:
    return {
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind},
            "versions": [{"name": VERSION, "served": True, "storage": storage}],
        },
        "status": {"conditions": [{"type": "Established", "status": established}]},
    }


GOOD_CRDS = [crd(info.plural, info.kind) for info in KINDS]


def deployment(available: int, secret: str | None = None) -> Body:
    volumes = [{"name": "s", "projected": {"sources": [{"secret": {"name": secret}}]}}]
    return {
        "metadata": {"name": "incident-operator", "namespace": "ops"},
        "spec": {"replicas": 1, "template": {"spec": {"volumes": volumes if secret else []}}},
        "status": {"availableReplicas": available},
    }


def policy(name: str) -> Body:
    labels = {"app.kubernetes.io/part-of": "incident-operator"}
    return {"metadata": {"name": name, "labels": labels}}


def binding(policy_name: str) -> Body:
    return {"metadata": {"name": policy_name}, "spec": {"policyName": policy_name}}


POLICY_NAMES = [f"incident-operator-{suffix}" for suffix in doctor.POLICIES]


def named(name: str, namespace: str | None = "team", **fields: Any) -> Body:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, **fields}


def test_crds_of_this_version_pass() -> None:
    assert doctor.check_crds(GOOD_CRDS).status == "OK"


def test_a_missing_crd_a_wrong_storage_version_or_not_established_fail() -> None:
    changed = {
        "incidents": crd("incidents", "Incident", storage=False),
        "severities": crd("severities", "Severity", established="False"),
    }
    crds = [
        changed.get(i.plural, crd(i.plural, i.kind)) for i in KINDS if i.plural != "postmortems"
    ]
    result = doctor.check_crds(crds)
    assert result.status == "FAIL"
    assert f"postmortems.{GROUP} missing" in result.detail
    assert f"incidents.{GROUP} stores nothing, not {VERSION}" in result.detail
    assert f"severities.{GROUP} is not Established" in result.detail
    assert "crds/" in result.fix


def test_an_available_operator_passes() -> None:
    result = doctor.check_operator([deployment(1)], None)
    assert (result.status, result.detail) == ("OK", "ops/incident-operator: 1/1 replicas available")


def test_no_operator_or_none_available_fails() -> None:
    missing = doctor.check_operator([], "ops")
    assert missing.status == "FAIL"
    assert "docs/install.md" in missing.fix
    assert "namespace ops" in missing.detail
    assert doctor.check_operator([deployment(0)], None).status == "FAIL"


def test_prometheus() -> None:
    assert doctor.check_prometheus("http://p:9090", None).status == "OK"
    down = doctor.check_prometheus("http://p:9090", "GET http://p:9090/-/ready: ConnectError")
    assert down.status == "FAIL"
    assert "ConnectError" in down.detail


def test_secrets_the_operator_mounts_are_wanted() -> None:
    assert doctor.referenced_secrets([deployment(1, secret="slack")]) == [("ops", "slack")]


def test_secrets() -> None:
    assert doctor.check_secrets([("ops", "slack")], [("ops", "slack")]).status == "OK"
    assert doctor.check_secrets([], []).status == "OK"
    missing = doctor.check_secrets([("ops", "slack"), ("ops", "pd")], [("ops", "slack")])
    assert (missing.status, missing.detail) == ("FAIL", "missing: ops/pd")


def test_the_charts_policies_bound_pass() -> None:
    policies = [policy(n) for n in POLICY_NAMES]
    result = doctor.check_admission(policies, [binding(n) for n in POLICY_NAMES])
    assert result.status == "OK"


def test_a_missing_or_unbound_policy_warns() -> None:
    policies = [policy(n) for n in POLICY_NAMES if not n.endswith("operator-bound")]
    result = doctor.check_admission(policies, [binding(POLICY_NAMES[0])])
    assert result.status == "WARN"
    assert "no *-operator-bound policy" in result.detail
    assert "incident-operator-approval has no binding" in result.detail
    assert "admission.operatorBound=true" in result.fix


def test_rotations_with_someone_on_call_pass() -> None:
    on_call = named("web", status={"onCall": [{"layer": "primary", "person": "ana"}]})
    assert doctor.check_rotations([on_call]).status == "OK"


def test_a_rotation_with_nobody_on_call_or_none_at_all_warns() -> None:
    result = doctor.check_rotations([named("web", status={})])
    assert result.status == "WARN"
    assert "team/web" in result.detail
    assert doctor.check_rotations([]).status == "WARN"


def test_referenced_severities_that_exist_pass() -> None:
    incidents = [named("inc", spec={"severityRef": "sev-2"})]
    slos = [named("api", spec={"alerting": {"windows": [{"severity": "sev-1"}]}})]
    severities = [named("sev-1", None), named("sev-2", None)]
    assert doctor.check_severities(incidents, slos, severities).status == "OK"


def test_missing_severities_fail_naming_who_refers_to_them() -> None:
    incidents = [
        named("inc", spec={"severityRef": "sev-9"}),
        named("old", spec={"severityRef": "sev-8", "state": "closed"}, status={"phase": "closed"}),
    ]
    slos = [named("api", spec={"alerting": {"windows": [{"severity": "sev-9"}]}})]
    result = doctor.check_severities(incidents, slos, [named("sev-1", None)])
    assert result.status == "FAIL"
    assert result.detail == "missing Severity sev-9 (named by incident team/inc, slo team/api)"


def test_a_refused_close_still_needs_its_severity() -> None:
    """Open is the accepted phase: a close the lifecycle refused has not happened."""
    refused = named(
        "inc", spec={"severityRef": "sev-8", "state": "closed"}, status={"phase": "resolved"}
    )
    result = doctor.check_severities([refused], [], [named("sev-1", None)])
    assert result.status == "FAIL"
    assert result.detail == "missing Severity sev-8 (named by incident team/inc)"


class FakeCluster:
    def __init__(self, *, forbid_secrets: bool = False) -> None:
        self.forbid_secrets = forbid_secrets
        self.prometheus_urls: list[str] = []

    def crds(self) -> list[Body]:
        return GOOD_CRDS

    def deployments(self, namespace: str | None, label_selector: str) -> list[Body]:
        assert label_selector == doctor.OPERATOR_LABEL
        return [deployment(1, secret="slack")]

    def secret_exists(self, namespace: str, name: str) -> bool:
        if self.forbid_secrets:
            raise Forbidden("forbidden", permission=f"get secrets in namespace {namespace}")
        return (namespace, name) == ("ops", "slack")

    def admission_policies(self) -> list[Body]:
        return [policy(n) for n in POLICY_NAMES]

    def admission_bindings(self) -> list[Body]:
        return [binding(n) for n in POLICY_NAMES]

    def objects(self, plural: str, namespace: str | None) -> list[Body]:
        if plural == "oncallrotations":
            return [named("web", status={"onCall": [{"layer": "l", "person": "ana"}]})]
        if plural == "severities":
            return [named("sev-1", None)]
        if plural == "incidents":
            return [named("inc", spec={"severityRef": "sev-1"})]
        return []

    def prometheus_error(self, url: str, timeout: float) -> str | None:
        self.prometheus_urls.append(url)
        return None


def run(cluster: FakeCluster, *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args(["doctor", *argv])
    out = io.StringIO()
    return doctor.run(args, out=out, factory=lambda: cluster), out.getvalue()


def test_a_healthy_cluster_exits_0_with_a_line_per_check() -> None:
    cluster = FakeCluster()
    code, text = run(cluster, "--prometheus-url", "http://p:9090")
    assert code == 0
    lines = text.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["OK", name]
        for name in (
            "crds",
            "operator",
            "prometheus",
            "secrets",
            "admission",
            "rotations",
            "severities",
        )
    ]
    assert cluster.prometheus_urls == ["http://p:9090"]


def test_a_missing_secret_fails_and_a_403_warns_naming_the_permission() -> None:
    code, text = run(FakeCluster(), "--secret", "ops/pagerduty", "-o", "json")
    assert code == 1
    checks = {c["check"]: c for c in json.loads(text)["checks"]}
    assert checks["secrets"]["status"] == "FAIL"
    assert checks["secrets"]["detail"] == "missing: ops/pagerduty"

    code, text = run(FakeCluster(forbid_secrets=True))
    assert code == 0
    line = next(line for line in text.splitlines() if " secrets " in line)
    assert line.startswith("WARN")
    assert "may not get secrets in namespace ops" in line
