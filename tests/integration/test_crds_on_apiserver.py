"""The generated CRDs on the real API server: accepted, printable, and strict."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION
from incident_operator.api.v1alpha1.kinds import KINDS
from incident_operator.api.v1alpha1.slo_import import ConversionError, convert
from incident_operator.cli.manifests import read_sources
from incident_operator.crdgen.generate import crd
from tests.kube import REPO, Cluster, api_error_message, create_custom, get_custom, load_documents

INVALID = sorted((REPO / "tests" / "invalid").glob("*.yaml"))
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def expectations(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect:").strip()
        for line in path.read_text().splitlines()
        if line.startswith("# expect:")
    ]


def test_crds_are_established_without_schema_complaints(
    crds: Cluster, api: client.ApiClient
) -> None:
    ext = client.ApiextensionsV1Api(api)
    for info in KINDS:
        definition = ext.read_custom_resource_definition(f"{info.plural}.sre.dev")
        assert definition.status is not None
        conditions = {c.type: c.status for c in definition.status.conditions or []}
        assert conditions.get("Established") == "True"
        assert conditions.get("NonStructuralSchema") is None


def test_kubectl_explain_describes_every_spec_and_status(crds: Cluster) -> None:
    """`kubectl explain` reads the OpenAPI the API server publishes from the CRDs (a moment
    after they are established): spec and status show their class docstrings, and metadata
    (which the CRD may not describe) ObjectMeta's; never ``DESCRIPTION: <empty>``."""
    for info in KINDS:
        properties = crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        for field in ("spec", "status", "metadata"):
            expected = " ".join(properties[field].get("description", "").split())
            deadline = time.monotonic() + 60
            while True:
                explained = crds.kubectl(
                    "explain",
                    f"{info.singular}.{field}",
                    f"--api-version={GROUP}/{VERSION}",
                    check=False,
                )
                text = " ".join(explained.stdout.split())
                if (explained.returncode == 0 and expected in text) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert explained.returncode == 0, explained.stderr
            assert "DESCRIPTION: <empty>" not in text, explained.stdout
            assert expected in text, explained.stdout


def test_invalid_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 25
    for path in INVALID:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_manifest_is_rejected_naming_the_field(
    crds: Cluster, api: client.ApiClient, namespace: str, path: Path
) -> None:
    (manifest,) = load_documents(path)
    with pytest.raises(ApiException) as rejected:  # dry run: an accepted one is not stored
        create_custom(api, manifest, namespace, dry_run=True)
    assert rejected.value.status == 422
    message = api_error_message(rejected.value)
    for expected in expectations(path):
        assert expected in message, f"{path.name}: {expected!r} not in {message!r}"


def test_examples_are_accepted_and_listed_with_printer_columns(crds: Cluster) -> None:
    applied = crds.kubectl("apply", "-f", str(REPO / "examples"))
    count = sum(1 for p in EXAMPLES for _ in load_documents(p))
    assert applied.stdout.count("\n") == count, applied.stdout
    try:
        listing = crds.kubectl("get", "inc,sev,ocr,slo,pm", "-A").stdout
        headers = [line for line in listing.splitlines() if line.startswith("NAMESPACE")]
        assert any(
            all(
                h in line
                for h in ("SEVERITY", "PHASE", "REQUESTED", "COMMANDER", "SERVICE", "UPDATED")
            )
            for line in headers
        )
        assert any(all(h in line for h in ("LEVEL", "DISPLAY NAME", "PAGE")) for line in headers)
        assert any(
            all(h in line for h in ("TARGET", "WINDOW", "BUDGET", "BURN")) for line in headers
        )
        (row,) = [
            line.split()
            for line in listing.splitlines()
            if "incident.sre.dev/checkout-errors-20261127" in line
        ]
        # No operator runs here: nothing is in force yet (severity, phase and commander
        # print empty), only what was requested.
        assert row[1:4] == [
            "incident.sre.dev/checkout-errors-20261127",
            "investigating",
            "checkout",
        ]
        for name in (
            "sev-1",
            "sev-2",
            "sev-3",
            "sev-4",
            "checkout-oncall",
            "checkout-availability",
        ):
            assert name in listing
        category = crds.kubectl("get", "incident-management", "-n", "shop", "-o", "name").stdout
        assert "postmortem.sre.dev/checkout-errors-20261127" in category
    finally:
        crds.kubectl("delete", "-f", str(REPO / "examples"), "--wait=false")


def test_api_server_fills_documented_defaults(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    manifest: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "defaults"},
        "spec": {
            "service": "checkout",
            "target": 99.5,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
        },
    }
    stored = create_custom(api, manifest, namespace)["spec"]
    assert stored["window"] == "30d"
    assert [
        (w["long"], w["short"], w["factor"], w["severity"]) for w in stored["alerting"]["windows"]
    ] == [
        ("1h", "5m", 14.4, "sev-2"),
        ("6h", "30m", 6, "sev-2"),
        ("1d", "2h", 3, "sev-3"),
        ("3d", "6h", 1, "sev-4"),
    ]
    assert stored["mitigationPolicy"] == {
        "mode": "suggest",
        "cooldown": "15m",
        "maxActions": 1,
        "verifyWithin": "10m",
        "dryRun": False,
        "revertOnFailure": False,
    }
    assert "summary" not in stored  # empty Python defaults are not written into objects
    assert "mitigations" not in stored


@pytest.mark.parametrize(
    ("window", "long", "short", "accepted"),
    [
        ("30d", "30d", "6h", True),  # a long window equal to the SLO window fits
        ("4w", "28d", "1d", True),  # 4w == 28d: units are converted, not compared as text
        ("1d", "25h", "1h", False),
        ("30d", "1h", "60m", False),  # 60m is not shorter than 1h
        ("30d", "1h", "59m", True),
        # Compound durations, as Pyrra's 30d windows: 4d6h51m < 30d, 6h26m < 4d6h51m.
        ("30d", "4d6h51m", "6h26m", True),
        ("30d", "1h4m", "64m", False),  # equal once converted
        ("1d", "1d1h43m", "2h9m", False),  # longer than the SLO window
        ("1d1h", "1d1h", "1h30m", True),
    ],
)
def test_window_arithmetic_in_cel(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    window: str,
    long: str,
    short: str,
    accepted: bool,
) -> None:
    manifest: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "windows"},
        "spec": {
            "service": "checkout",
            "target": 99.9,
            "window": window,
            "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            "alerting": {
                "windows": [{"long": long, "short": short, "factor": 2, "severity": "sev-3"}]
            },
        },
    }
    if accepted:
        create_custom(api, manifest, namespace, dry_run=True)
    else:
        with pytest.raises(ApiException) as rejected:
            create_custom(api, manifest, namespace, dry_run=True)
        assert "spec.alerting.windows" in api_error_message(rejected.value)


def test_status_is_a_subresource(crds: Cluster, api: client.ApiClient, namespace: str) -> None:
    """Users cannot write status through the main resource: it is the operator's observation."""
    manifest: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Severity",
        "metadata": {"name": f"sev-{namespace}"},
        "spec": {"level": 3, "displayName": "SEV-3"},
        "status": {"observedGeneration": 7},
    }
    create_custom(api, manifest, namespace)
    try:
        stored = get_custom(api, "Severity", manifest["metadata"]["name"], namespace)
        assert "status" not in stored or "observedGeneration" not in stored["status"]
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "severities", manifest["metadata"]["name"]
        )


def test_imported_slos_are_accepted_by_the_crd(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    """Every SLO `kubectl incident slo import` makes of the upstream examples (tests/data,
    see tests/unit/cli/test_slo_import.py), as is and with --recorded, passes the real API
    server's schema and CEL rules (server-side dry run)."""
    paths = sorted(
        p
        for project in ("sloth", "pyrra", "openslo")
        for p in (REPO / "tests" / "data" / project / "examples").glob("*.y*ml")
    )
    imported = []
    for path in paths:
        for recorded in (False, True):
            try:
                imported += convert(read_sources([path]), recorded=recorded).manifests
            except ConversionError:
                continue  # refused with a reason: tests/unit/cli/test_slo_import.py checks which
    assert len(imported) >= 60
    for manifest in imported:
        placed = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
        try:
            create_custom(api, placed, namespace, dry_run=True)
        except ApiException as exc:
            pytest.fail(f"{manifest['metadata']['name']}: {api_error_message(exc)}")


# `kubectl get` as an operator reads it: each kind's columns, rendered by the real API server
# from the example objects and a status as the operator writes it. AGE is left out (it moves).
GOLDEN = REPO / "tests" / "data" / "kubectl_get"
"""One file per plural: the table without AGE, reviewed by eye when it was first written."""
WIDE_INCIDENT = "MitigationVerified"


def _ready(now: str) -> list[dict[str, Any]]:
    return [
        {"type": "Ready", "status": "True", "reason": "Valid", "message": "ok",
         "lastTransitionTime": now}
    ]  # fmt: skip


def _without_age(table: str) -> str:
    return "\n".join(line.rsplit(None, 1)[0].rstrip() for line in table.strip().splitlines())


def test_kubectl_get_renders_each_kind_as_the_golden_table(
    crds: Cluster, api: client.ApiClient, namespace: str
) -> None:
    """Future instants print as instants (never ``<invalid>``), the budget as a percentage,
    the time since the last update as an age; the operator's conclusion shows with -o wide."""
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    custom = client.CustomObjectsApi(api)
    statuses: dict[str, dict[str, Any]] = {
        "ServiceLevelObjective": {
            "errorBudgetRemaining": 0.951116,
            "budgetRemaining": "95.1%",
            "burnNow": "0.421x/5m",
            "activeIncident": "checkout-errors-20261127",
        },
        "OnCallRotation": {
            "onCall": [{"layer": "primary", "person": "alice", "start": stamp}],
            "nextHandoff": "2099-03-02T08:00:00Z",
        },
        "Incident": {
            "severity": "sev-2",
            "phase": "mitigated",
            "roles": {"commander": "alice"},
            "conclusions": {
                "state": {"value": "mitigated", "over": "investigating", "reason": WIDE_INCIDENT}
            },
            "response": {
                "lastUpdate": (now - timedelta(minutes=30, seconds=20))
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
            },
        },
        "Postmortem": {"due": "2099-01-01T09:00:00Z"},
        "Service": {
            "owner": "payments",
            "conditions": [
                {"type": "OwnerResolved", "status": "True", "reason": "Resolved",
                 "message": "owned by team payments", "lastTransitionTime": stamp}
            ],
        },
    }  # fmt: skip
    plurals = {info.model.model_fields["kind"].default: info.plural for info in KINDS}
    for path in EXAMPLES:
        for document in load_documents(path):
            kind = document["kind"]
            if kind not in statuses:
                continue
            document["metadata"]["namespace"] = namespace
            create_custom(api, document, namespace)
            custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, plurals[kind], document["metadata"]["name"],
                {"status": {"conditions": _ready(stamp), **statuses[kind]}},
            )  # fmt: skip
    for plural in (
        "servicelevelobjectives", "oncallrotations", "incidents", "postmortems", "services",
    ):  # fmt: skip
        # `services` alone is the core kind: ours is asked for by group.
        shown = crds.kubectl("get", f"{plural}.{GROUP}", "-n", namespace).stdout
        expected = (GOLDEN / f"{plural}.txt").read_text().rstrip("\n")
        assert _without_age(shown) == expected, f"kubectl get {plural}:\n{shown}"
        assert "<invalid>" not in shown
    wide = crds.kubectl("get", "incidents", "-n", namespace, "-o", "wide").stdout
    assert "CONCLUDED" in wide
    assert WIDE_INCIDENT in wide
    assert "Checkout returns 5xx" in wide
