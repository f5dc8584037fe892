"""Change freeze: GitOps owners of a target are paused for the incident and restored exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incident_operator.domain import freeze
from incident_operator.domain.mitigation import Target
from tests.unit.test_mitigation_service import NS, World, slo

KUSTOMIZATION = Target(*freeze.FLUX_KUSTOMIZATION, "flux-system", "apps")
APP = Target(*freeze.ARGO_APPLICATION, "argocd", "checkout")


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [
        ({}, {}, []),
        (
            {
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
            },
            {},
            [KUSTOMIZATION],
        ),
        (
            {"helm.toolkit.fluxcd.io/name": "web"},
            {},
            [Target(*freeze.FLUX_HELM_RELEASE, "shop", "web")],
        ),
        ({}, {"argocd.argoproj.io/tracking-id": "checkout:apps/Deployment:shop/checkout"}, [APP]),
        (
            {"argocd.argoproj.io/instance": "team_checkout"},
            {},
            [Target(*freeze.ARGO_APPLICATION, "team", "checkout")],
        ),
    ],
)
def test_owners_from_gitops_labels(
    labels: dict[str, str], annotations: dict[str, str], expected: list[Target]
) -> None:
    body = {"metadata": {"namespace": "shop", "labels": labels, "annotations": annotations}}
    assert freeze.owners(body) == expected


@pytest.mark.parametrize(
    ("target", "spec", "previous", "restore"),
    [
        (KUSTOMIZATION, {}, None, {"spec": {"suspend": None}}),
        (KUSTOMIZATION, {"suspend": False}, False, {"spec": {"suspend": False}}),
        (
            APP,
            {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
            {"prune": True, "selfHeal": True},
            {"spec": {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}},
        ),
        (APP, {"syncPolicy": {}}, None, None),
    ],
)
def test_freeze_records_the_setting_and_restores_it_exactly(
    target: Target, spec: dict[str, Any], previous: Any, restore: Any
) -> None:
    assert freeze.current_setting(target, {"spec": spec}) == previous
    assert freeze.restore_patch(target, json.dumps(previous)) == restore


def test_decide_freezes_new_owners_and_restores_on_close() -> None:
    opened = freeze.decide(
        enabled=True, incident_open=True, owners_needed=[KUSTOMIZATION, APP], frozen={APP: False}
    )
    assert opened.freeze == (KUSTOMIZATION,)
    off = freeze.decide(enabled=False, incident_open=True, owners_needed=[APP], frozen={})
    assert off.freeze == ()
    closed = freeze.decide(
        enabled=True,
        incident_open=False,
        owners_needed=[],
        frozen={APP: False, KUSTOMIZATION: True},
    )
    assert closed.restore == (APP,)


def gitops_world(freeze_changes: bool) -> World:
    world = World(slo())
    world.store.severities["sev-2"]["spec"]["mitigation"]["freezeChanges"] = freeze_changes
    dep = world.workloads.objects[("Deployment", NS, "checkout")]
    dep["metadata"]["labels"] = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }
    world.workloads.add(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"interval": "5m", "path": "./apps"},
        }
    )
    return world


async def test_gitops_managed_target_without_freeze_is_refused() -> None:
    world = gitops_world(freeze_changes=False)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "refused"
    assert (
        "managed by GitOps (label kustomize.toolkit.fluxcd.io/name=apps)"
        in (results["rollback-checkout"]["message"])
    )
    assert world.image() == "checkout:v2"


async def test_freeze_then_mitigate_then_restore_exactly_on_resolution() -> None:
    world = gitops_world(freeze_changes=True)
    results = await world.tick()
    kustomization = world.workloads.object("Kustomization", "flux-system", "apps")
    assert kustomization["spec"]["suspend"] is True
    assert results["rollback-checkout"]["state"] == "applied"
    assert world.image() == "checkout:v1"
    (record,) = world.store.incidents[(NS, "inc")]["status"]["freezes"]
    assert (record["kind"], record["previous"]) == ("Kustomization", "null")
    await world.tick()
    assert len(world.store.incidents[(NS, "inc")]["status"]["freezes"]) == 1

    world.store.incidents[(NS, "inc")]["spec"]["state"] = "resolved"
    await world.tick()
    kustomization = world.workloads.object("Kustomization", "flux-system", "apps")
    assert "suspend" not in kustomization["spec"]  # exactly as before: unset
    (record,) = world.store.incidents[(NS, "inc")]["status"]["freezes"]
    assert record["restoredAt"]
    assert world.timeline_types().count("change-freeze") == 1
    assert world.timeline_types().count("change-freeze-lifted") == 1
