"""`kubectl incident doctor`: check a cluster for what the operator needs, and say what to fix.

One line per check: OK, WARN or FAIL, the check's name, what was found and, unless OK, what to
do. -o json prints the same as JSON. Exits 0 when nothing FAILed, 1 otherwise.

Checks: the five sre.dev CRDs at the version this plugin was built for (served, storage,
Established); the operator's Deployment (label app.kubernetes.io/name=incident-operator) with
a replica available; Prometheus ready (--prometheus-url); the Secrets the operator's pods
mount, and any --secret; the chart's ValidatingAdmissionPolicies and their bindings; someone
on call in every OnCallRotation; every Severity that Incidents and SLOs name exists.
Incidents, SLOs and rotations are read in -n NAMESPACE, or in all namespaces. A check that
may not read what it needs (403) is a WARN naming the permission.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, TextIO

from incident_operator import GROUP, VERSION
from incident_operator.adapters.ports import Body
from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.errors import IncidentOperatorError
from incident_operator.services.incidents import is_open

Status = Literal["OK", "WARN", "FAIL"]
OPERATOR_LABEL = "app.kubernetes.io/name=incident-operator"
PART_OF = ("app.kubernetes.io/part-of", "incident-operator")
POLICIES: dict[str, str] = {
    # name suffix (after the release's full name) -> the chart value that installs it
    "requester-authority": "admission.requesterAuthority",
    "approval": "admission.requesterAuthority",
    "operator-bound": "admission.operatorBound",
}
PROMETHEUS_TIMEOUT = 3.0


@dataclass(frozen=True)
class Result:
    status: Status
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check:<10}  {self.detail}"
        return f"{text}: {self.fix}" if self.fix and self.status != "OK" else text


class ClusterChecks(Protocol):
    """What the checks read (real: adapters/cluster_check.py); every list holds API JSON."""

    def crds(self) -> list[Body]: ...

    def deployments(self, namespace: str | None, label_selector: str) -> list[Body]: ...

    def secret_exists(self, namespace: str, name: str) -> bool: ...

    def admission_policies(self) -> list[Body]: ...

    def admission_bindings(self) -> list[Body]: ...

    def objects(self, plural: str, namespace: str | None) -> list[Body]: ...

    def prometheus_error(self, url: str, timeout: float) -> str | None: ...


Factory = Callable[[], ClusterChecks]


def _real() -> ClusterChecks:
    from incident_operator.adapters.cluster_check import ClusterReader  # noqa: PLC0415

    return ClusterReader()


# --- the checks: pure functions of what was read ---------------------------------------------


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


def _condition(body: Mapping[str, Any], kind: str) -> str | None:
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def check_crds(crds: Iterable[Body]) -> Result:
    """Each of our kinds has its CRD, serving and storing VERSION, and Established."""
    by_name = {str((c.get("metadata") or {}).get("name")): c for c in crds}
    problems: list[str] = []
    for info in KINDS:
        name = f"{info.plural}.{GROUP}"
        found = by_name.get(name)
        if found is None:
            problems.append(f"{name} missing")
            continue
        spec = found.get("spec") or {}
        if (spec.get("names") or {}).get("kind") != info.kind:
            problems.append(f"{name} is not kind {info.kind}")
        versions = {v.get("name"): v for v in spec.get("versions") or []}
        ours = versions.get(VERSION)
        storage = sorted(str(v) for v, body in versions.items() if body.get("storage"))
        if ours is None or not ours.get("served"):
            problems.append(f"{name} does not serve {VERSION}")
        elif not ours.get("storage"):
            problems.append(f"{name} stores {', '.join(storage) or 'nothing'}, not {VERSION}")
        if _condition(found, "Established") != "True":
            problems.append(f"{name} is not Established")
    if problems:
        return Result(
            "FAIL",
            "crds",
            "; ".join(problems),
            "install or upgrade the CRDs of this version: helm upgrade the chart, or "
            "kubectl apply --server-side -f crds/ (docs/install.md)",
        )
    return Result("OK", "crds", f"{len(KINDS)} {GROUP} CRDs serve and store {VERSION}")


def check_operator(deployments: Iterable[Body], namespace: str | None) -> Result:
    """A Deployment labelled as the chart labels it, with at least one available replica."""
    found = list(deployments)
    where = f"namespace {namespace}" if namespace else "any namespace"
    if not found:
        return Result(
            "FAIL",
            "operator",
            f"no Deployment labelled {OPERATOR_LABEL} in {where}",
            "install the operator with its Helm chart (docs/install.md)",
        )
    for deployment in found:
        status = deployment.get("status") or {}
        if int(status.get("availableReplicas") or 0) >= 1:
            wanted = (deployment.get("spec") or {}).get("replicas", 1)
            return Result(
                "OK",
                "operator",
                f"{_name(deployment)}: {status['availableReplicas']}/{wanted} replicas available",
            )
    first = found[0]
    meta = first.get("metadata") or {}
    return Result(
        "FAIL",
        "operator",
        f"{_name(first)} has no available replica",
        f"see why: kubectl -n {meta.get('namespace')} describe deployment {meta.get('name')}; "
        f"kubectl -n {meta.get('namespace')} logs deployment/{meta.get('name')}",
    )


def check_prometheus(url: str, error: str | None) -> Result:
    if error is None:
        return Result("OK", "prometheus", f"{url} is ready")
    return Result(
        "FAIL",
        "prometheus",
        error,
        "start Prometheus or correct the URL (the chart's prometheus.url; SLOs are not "
        "evaluated without it)",
    )


def referenced_secrets(deployments: Iterable[Body]) -> list[tuple[str, str]]:
    """(namespace, name) of every Secret the Deployments' pods mount or read from env."""
    refs: list[tuple[str, str]] = []
    for deployment in deployments:
        namespace = str((deployment.get("metadata") or {}).get("namespace"))
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        names: list[Any] = []
        for volume in pod.get("volumes") or []:
            names.append((volume.get("secret") or {}).get("secretName"))
            for source in (volume.get("projected") or {}).get("sources") or []:
                names.append((source.get("secret") or {}).get("name"))
        for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
            for env in container.get("env") or []:
                names.append(((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name"))
            for source in container.get("envFrom") or []:
                names.append((source.get("secretRef") or {}).get("name"))
        refs.extend((namespace, str(n)) for n in names if n)
    return sorted(set(refs))


def check_secrets(wanted: Iterable[tuple[str, str]], present: Iterable[tuple[str, str]]) -> Result:
    wanted, found = sorted(set(wanted)), set(present)
    missing = [ref for ref in wanted if ref not in found]
    if missing:
        names = ", ".join(f"{ns}/{name}" for ns, name in missing)
        return Result(
            "FAIL",
            "secrets",
            f"missing: {names}",
            "create them with the keys the chart's values name (kubectl -n NAMESPACE create "
            "secret generic NAME --from-literal=KEY=...; docs/install.md)",
        )
    if not wanted:
        return Result("OK", "secrets", "no Secret referenced")
    return Result("OK", "secrets", f"{len(wanted)} present")


def check_admission(policies: Iterable[Body], bindings: Iterable[Body]) -> Result:
    """The chart's ValidatingAdmissionPolicies (labelled part-of incident-operator), each bound."""
    ours = [
        str((p.get("metadata") or {}).get("name"))
        for p in policies
        if ((p.get("metadata") or {}).get("labels") or {}).get(PART_OF[0]) == PART_OF[1]
    ]
    bound = {(b.get("spec") or {}).get("policyName") for b in bindings}
    problems: list[str] = []
    values: set[str] = set()
    for suffix, value in POLICIES.items():
        names = [n for n in ours if n.endswith(f"-{suffix}")]
        if not names:
            problems.append(f"no *-{suffix} policy")
            values.add(value)
        problems.extend(f"{n} has no binding" for n in names if n not in bound)
    if problems:
        fix = "helm upgrade the chart" + (
            f" with {', '.join(f'{v}=true' for v in sorted(values))}" if values else ""
        )
        return Result(
            "WARN", "admission", "; ".join(problems), f"{fix} (docs/security.md explains them)"
        )
    return Result("OK", "admission", f"{len(ours)} policies installed and bound")


def check_rotations(rotations: Iterable[Body]) -> Result:
    found = list(rotations)
    if not found:
        return Result(
            "WARN",
            "rotations",
            "no OnCallRotation: incidents have nobody to page",
            "create one (examples/20-oncallrotation.yaml, docs/rotations.md)",
        )
    nobody = [_name(r) for r in found if not (r.get("status") or {}).get("onCall")]
    if nobody:
        return Result(
            "WARN",
            "rotations",
            f"nobody on call now in {', '.join(sorted(nobody))}",
            "check the schedule covers now (kubectl incident oncall --name NAME -n NAMESPACE) "
            "and that the operator runs: it writes status.onCall",
        )
    return Result("OK", "rotations", f"someone on call in all {len(found)}")


def check_severities(
    incidents: Iterable[Body], slos: Iterable[Body], severities: Iterable[Body]
) -> Result:
    """Severities named by open Incidents' spec.severityRef and SLOs' alerting windows exist."""
    known = {(s.get("metadata") or {}).get("name") for s in severities}
    referrers: dict[str, list[str]] = {}
    for incident in incidents:
        spec = incident.get("spec") or {}
        if not is_open(incident) or not spec.get("severityRef"):
            continue
        referrers.setdefault(str(spec["severityRef"]), []).append(f"incident {_name(incident)}")
    for slo in slos:
        windows = ((slo.get("spec") or {}).get("alerting") or {}).get("windows") or []
        for severity in sorted({str(w["severity"]) for w in windows if w.get("severity")}):
            referrers.setdefault(severity, []).append(f"slo {_name(slo)}")
    missing = sorted(name for name in referrers if name not in known)
    if missing:
        detail = "; ".join(f"{n} (named by {', '.join(referrers[n])})" for n in missing)
        return Result(
            "FAIL",
            "severities",
            f"missing Severity {detail}",
            "create them (examples/10-severities.yaml) or correct the references",
        )
    return Result("OK", "severities", f"all {len(referrers)} referenced Severities exist")


# --- the command ------------------------------------------------------------------------------


def _secret_ref(text: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/NAME, got {text!r}")
    return namespace, name


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check a cluster for what the operator needs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-n", "--namespace", help="read Incidents, SLOs and rotations here (default: all)"
    )
    parser.add_argument(
        "--operator-namespace", help="where the operator runs (default: search all namespaces)"
    )
    parser.add_argument("--prometheus-url", help="also check that this Prometheus is ready")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        type=_secret_ref,
        metavar="NAMESPACE/NAME",
        help="a Secret that must exist (repeatable)",
    )
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    parser.set_defaults(run=run)


def _guarded(check: str, fn: Callable[[], Result]) -> Result:
    """One check's result, or a WARN naming the missing permission, or a FAIL saying why it
    could not be read."""
    from incident_operator.adapters.cluster_check import Forbidden  # noqa: PLC0415

    try:
        return fn()
    except Forbidden as exc:
        return Result(
            "WARN",
            check,
            f"not checked: may not {exc.permission}",
            "ask for that permission, or run doctor as someone who has it",
        )
    except IncidentOperatorError as exc:
        return Result("FAIL", check, f"could not read: {exc}", "check the cluster connection")


def diagnose(cluster: ClusterChecks, args: argparse.Namespace) -> list[Result]:
    namespace: str | None = args.namespace
    operators: list[Body] = []

    def operator() -> Result:
        operators.extend(cluster.deployments(args.operator_namespace, OPERATOR_LABEL))
        return check_operator(operators, args.operator_namespace)

    def secrets() -> Result:
        wanted = [*args.secret, *referenced_secrets(operators)]
        present = [ref for ref in set(wanted) if cluster.secret_exists(*ref)]
        return check_secrets(wanted, present)

    def severities() -> Result:
        return check_severities(
            cluster.objects("incidents", namespace),
            cluster.objects("servicelevelobjectives", namespace),
            cluster.objects("severities", None),
        )

    results = [
        _guarded("crds", lambda: check_crds(cluster.crds())),
        _guarded("operator", operator),
    ]
    if args.prometheus_url:
        url = str(args.prometheus_url)
        results.append(
            _guarded(
                "prometheus",
                lambda: check_prometheus(url, cluster.prometheus_error(url, PROMETHEUS_TIMEOUT)),
            )
        )
    results += [
        _guarded("secrets", secrets),
        _guarded(
            "admission",
            lambda: check_admission(cluster.admission_policies(), cluster.admission_bindings()),
        ),
        _guarded(
            "rotations", lambda: check_rotations(cluster.objects("oncallrotations", namespace))
        ),
        _guarded("severities", severities),
    ]
    return results


def run(args: argparse.Namespace, out: TextIO | None = None, factory: Factory | None = None) -> int:
    out = out or sys.stdout
    try:
        cluster = (factory or _real)()
    except IncidentOperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    results = diagnose(cluster, args)
    if args.output == "json":
        json.dump({"checks": [asdict(r) for r in results]}, out, indent=2)
        out.write("\n")
    else:
        for result in results:
            out.write(result.line() + "\n")
    return 1 if any(r.status == "FAIL" for r in results) else 0
