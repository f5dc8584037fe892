"""Change freeze: guard first, ownership proven from GitOps status, shared holds, exact restore."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from incident_operator.api.merge_patch import merge_patch
from incident_operator.domain import freeze
from incident_operator.domain.mitigation import Target
from incident_operator.errors import Conflict
from incident_operator.services.freeze import FreezeService
from tests.fakes.ports.workloads import FakeWorkloads
from tests.unit.services.test_mitigation_service import NS, World, incident, slo

KUSTOMIZATION = Target(*freeze.FLUX_KUSTOMIZATION, "flux-system", "apps")
APP = Target(*freeze.ARGO_APPLICATION, "argocd", "checkout")
DEPLOYMENT = Target("apps/v1", "Deployment", NS, "checkout")
CONFIG_MAP = Target("v1", "ConfigMap", NS, "flags")
FLUX_LABELS = {
    "kustomize.toolkit.fluxcd.io/name": "apps",
    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
}


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [
        ({}, {}, []),
        (FLUX_LABELS, {}, [KUSTOMIZATION]),
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
def test_labels_only_name_candidates(
    labels: dict[str, str], annotations: dict[str, str], expected: list[Target]
) -> None:
    body = {"metadata": {"namespace": "shop", "labels": labels, "annotations": annotations}}
    assert freeze.candidates(body) == expected


def flux_status(*ids: str) -> dict[str, Any]:
    return {"inventory": {"entries": [{"id": i, "v": "v1"} for i in ids]}}


def argo_status(*resources: dict[str, str]) -> dict[str, Any]:
    return {"resources": list(resources)}


@pytest.mark.parametrize(
    ("owner", "status", "target", "expected"),
    [
        # Flux inventory ids: <namespace>_<name>_<group>_<Kind>, core group empty.
        (KUSTOMIZATION, flux_status("shop_checkout_apps_Deployment"), DEPLOYMENT, True),
        (KUSTOMIZATION, flux_status("shop_flags__ConfigMap"), CONFIG_MAP, True),
        (KUSTOMIZATION, flux_status("other_checkout_apps_Deployment"), DEPLOYMENT, False),
        (KUSTOMIZATION, flux_status("shop_checkout_apps_StatefulSet"), DEPLOYMENT, False),
        (KUSTOMIZATION, {}, DEPLOYMENT, False),
        (KUSTOMIZATION, {"inventory": {"entries": None}}, DEPLOYMENT, False),
        (
            APP,
            argo_status(
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": NS,
                    "name": "checkout",
                    "status": "Synced",
                }
            ),
            DEPLOYMENT,
            True,
        ),
        (
            APP,
            argo_status({"kind": "ConfigMap", "namespace": NS, "name": "flags"}),
            CONFIG_MAP,
            True,
        ),
        (
            APP,
            argo_status(
                {"group": "apps", "kind": "Deployment", "namespace": "b", "name": "checkout"}
            ),
            DEPLOYMENT,
            False,
        ),
        (APP, {}, DEPLOYMENT, False),
    ],
)
def test_ownership_is_proven_by_the_controllers_status(
    owner: Target, status: dict[str, Any], target: Target, expected: bool
) -> None:
    assert freeze.manages(owner, {"status": status}, target) is expected


PROVEN_BODY = {"status": flux_status("shop_checkout_apps_Deployment")}
TENANT_B = Target(*freeze.FLUX_KUSTOMIZATION, "tenant-b", "apps")


@pytest.mark.parametrize(
    ("owner", "body", "scope", "verdict", "says"),
    [
        (KUSTOMIZATION, PROVEN_BODY, freeze.Scope(NS, frozenset({"flux-system"})), "proven", ""),
        (
            KUSTOMIZATION,
            PROVEN_BODY,
            freeze.Scope(NS),
            "out-of-scope",
            "neither the incident's (shop) nor listed in the Severity's",
        ),
        (TENANT_B, None, freeze.Scope(NS), "out-of-scope", "tenant-b"),
        (
            KUSTOMIZATION,
            PROVEN_BODY,
            freeze.Scope(NS, frozenset({"flux-system"}), frozenset({NS})),
            "out-of-scope",
            "outside the namespaces the operator watches",
        ),
        (KUSTOMIZATION, None, freeze.Scope(NS, frozenset({"flux-system"})), "not-found", ""),
        (
            KUSTOMIZATION,
            {"status": flux_status()},
            freeze.Scope(NS, frozenset({"flux-system"})),
            "not-listed",
            "does not list Deployment shop/checkout in its status.inventory",
        ),
    ],
)
def test_owner_checks(
    owner: Target, body: Any, scope: freeze.Scope, verdict: str, says: str
) -> None:
    check = freeze.check_owner(owner, body, DEPLOYMENT, scope)
    assert check.verdict.value == verdict
    assert says in check.reason


PROVEN = freeze.OwnerCheck(KUSTOMIZATION, freeze.Verdict.PROVEN)
UNPROVEN = freeze.OwnerCheck(TENANT_B, freeze.Verdict.OUT_OF_SCOPE, "Kustomization tenant-b/apps")


@pytest.mark.parametrize(
    ("guard_passed", "enabled", "checks", "hold", "refusal"),
    [
        (False, True, [PROVEN], (), ""),  # guard first: nothing, not even a refusal
        (True, False, [PROVEN], (), ""),
        (True, True, [], (), ""),  # not GitOps-managed
        (True, True, [PROVEN], (KUSTOMIZATION,), ""),
        (True, True, [PROVEN, UNPROVEN], (), "nothing frozen: Kustomization tenant-b/apps"),
    ],
)
def test_plan_hold(
    guard_passed: bool,
    enabled: bool,
    checks: list[freeze.OwnerCheck],
    hold: tuple[Target, ...],
    refusal: str,
) -> None:
    plan = freeze.plan_hold(guard_passed=guard_passed, enabled=enabled, checks=checks)
    assert plan.hold == hold
    assert plan.refusal == refusal


def apply(body: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = merge_patch(body, patch)
    out["metadata"]["resourceVersion"] = str(int(out["metadata"]["resourceVersion"]) + 1)
    return out


@pytest.mark.parametrize(
    ("owner", "spec", "original"),
    [
        (KUSTOMIZATION, {"interval": "5m"}, {"interval": "5m"}),
        (KUSTOMIZATION, {"suspend": False}, {"suspend": False}),
        (
            APP,
            {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
            {"syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
        ),
        (APP, {"syncPolicy": {}}, {"syncPolicy": {}}),
    ],
)
def test_overlapping_holders_restore_exactly_on_the_last(
    owner: Target, spec: dict[str, Any], original: dict[str, Any]
) -> None:
    body: dict[str, Any] = {"metadata": {"name": owner.name, "resourceVersion": "1"}, "spec": spec}
    first = freeze.plan_acquire(owner, body, "shop/a/1")
    assert first.patch["metadata"]["resourceVersion"] == "1"  # a precondition on every write
    body = apply(body, first.patch)
    assert freeze.is_frozen(owner, body)
    second = freeze.plan_acquire(owner, body, "shop/b/2")
    assert second.joined
    assert second.previous == first.previous
    body = apply(body, second.patch)
    assert freeze.read_hold(body) == freeze.Hold(first.previous, ("shop/a/1", "shop/b/2"))
    assert not freeze.plan_acquire(owner, body, "shop/a/1").patch  # idempotent

    leave_first = freeze.plan_release(owner, body, "shop/a/1")
    assert leave_first is not None
    assert not leave_first.restored
    body = apply(body, leave_first.patch)
    assert freeze.is_frozen(owner, body)  # the other incident is still open
    assert freeze.plan_release(owner, body, "shop/a/1") is None  # released once only

    last = freeze.plan_release(owner, body, "shop/b/2")
    assert last is not None
    assert last.restored
    body = apply(body, last.patch)
    assert body["spec"] == original
    assert freeze.HOLD_ANNOTATION not in (body["metadata"].get("annotations") or {})


def test_an_unreadable_hold_is_refused_not_guessed() -> None:
    body = {"metadata": {"annotations": {freeze.HOLD_ANNOTATION: "{not json"}}, "spec": {}}
    with pytest.raises(freeze.Unreadable):
        freeze.plan_acquire(KUSTOMIZATION, body, "shop/a/1")


# --- the service, with the in-memory store and workloads -------------------------------------


def kustomization(namespace: str, *ids: str, suspend: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": "5m", "path": "./apps"}
    if suspend is not None:
        spec["suspend"] = suspend
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": namespace},
        "spec": spec,
        "status": flux_status(*ids),
    }


def gitops_world(
    *,
    freeze_changes: bool = True,
    owner_namespace: str = "flux-system",
    listed: bool = True,
    freeze_namespaces: tuple[str, ...] = ("flux-system",),
) -> World:
    world = World(slo())
    allowance = world.store.severities["sev-2"]["spec"]["mitigation"]
    allowance["freezeChanges"] = freeze_changes
    allowance["freezeNamespaces"] = list(freeze_namespaces)
    dep = world.workloads.objects[("Deployment", NS, "checkout")]
    dep["metadata"]["labels"] = {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": owner_namespace,
    }
    ids = ("shop_checkout_apps_Deployment",) if listed else ("shop_other_apps_Deployment",)
    world.workloads.add(kustomization(owner_namespace, *ids))
    return world


def events(world: World) -> list[tuple[str, str, str]]:
    return [(name, reason, message) for name, reason, message, _ in world.store.events]


async def test_gitops_managed_target_without_freeze_is_refused() -> None:
    world = gitops_world(freeze_changes=False)
    results = await world.tick()
    assert results["rollback-checkout"]["state"] == "refused"
    assert "managed by GitOps" in results["rollback-checkout"]["message"]
    assert world.image() == "checkout:v2"
    assert "suspend" not in world.workloads.object("Kustomization", "flux-system", "apps")["spec"]


async def test_proven_owner_frozen_then_mitigated_then_restored_exactly() -> None:
    world = gitops_world()
    results = await world.tick()
    ks = world.workloads.object("Kustomization", "flux-system", "apps")
    assert ks["spec"]["suspend"] is True
    assert freeze.read_hold(ks) == freeze.Hold("null", ("shop/inc/i-uid",))
    assert results["rollback-checkout"]["state"] == "applied"
    assert world.image() == "checkout:v1"
    (record,) = world.store.incidents[(NS, "inc")]["status"]["freezes"]
    assert (record["kind"], record["previous"], bool(record["frozenAt"])) == (
        "Kustomization",
        "null",
        True,
    )
    await world.tick()
    assert len(world.store.incidents[(NS, "inc")]["status"]["freezes"]) == 1

    # A resolve the lifecycle refused (roles unfilled, say) has not happened: still frozen.
    world.store.incidents[(NS, "inc")]["spec"]["state"] = "resolved"
    await world.tick()
    assert world.workloads.object("Kustomization", "flux-system", "apps")["spec"]["suspend"]
    (record,) = world.store.incidents[(NS, "inc")]["status"]["freezes"]
    assert not record.get("restoredAt")

    world.store.accept_state(NS, "inc", "resolved")
    await world.tick()
    ks = world.workloads.object("Kustomization", "flux-system", "apps")
    assert ks["spec"] == {"interval": "5m", "path": "./apps"}  # exactly as before: unset
    assert freeze.HOLD_ANNOTATION not in (ks["metadata"].get("annotations") or {})
    (record,) = world.store.incidents[(NS, "inc")]["status"]["freezes"]
    assert record["restoredAt"]
    assert world.timeline_types().count("change-freeze") == 1
    assert world.timeline_types().count("change-freeze-lifted") == 1


@pytest.mark.parametrize(
    ("owner_namespace", "listed", "freeze_namespaces", "says", "read"),
    [
        # Labels name another tenant's Kustomization: not even read.
        ("tenant-b", True, ("flux-system",), "tenant-b is neither the incident's", False),
        # An allowed namespace, but the Kustomization does not apply this Deployment.
        ("flux-system", False, ("flux-system",), "does not list Deployment shop/checkout", True),
        # Proven, but the Severity does not let a freeze reach flux-system.
        ("flux-system", True, (), "flux-system is neither the incident's", False),
    ],
)
async def test_unproven_or_out_of_scope_owner_is_refused_and_untouched(
    owner_namespace: str,
    listed: bool,
    freeze_namespaces: tuple[str, ...],
    says: str,
    read: bool,
) -> None:
    world = gitops_world(
        owner_namespace=owner_namespace, listed=listed, freeze_namespaces=freeze_namespaces
    )
    before = world.workloads.object("Kustomization", owner_namespace, "apps")
    reads: list[Target] = []
    real_get = world.workloads.get

    async def get(target: Target) -> Any:
        reads.append(target)
        return await real_get(target)

    world.workloads.get = get  # type: ignore[method-assign]
    results = await world.tick()
    assert world.workloads.object("Kustomization", owner_namespace, "apps") == before
    assert results["rollback-checkout"]["state"] == "refused"
    assert says in results["rollback-checkout"]["message"]
    assert world.image() == "checkout:v2"
    assert not world.store.incidents[(NS, "inc")].get("status", {}).get("freezes")
    refused = [e for e in events(world) if e[1] == "ChangeFreezeRefused"]
    assert refused
    assert says in refused[0][2]
    assert (Target(*freeze.FLUX_KUSTOMIZATION, owner_namespace, "apps") in reads) is read


async def test_an_unopted_config_map_never_reaches_the_freeze() -> None:
    """Guard first: labels on a ConfigMap that never opted in freeze nothing anywhere."""
    world = gitops_world()
    world.store.incidents[(NS, "inc")]["spec"].update(
        source={"type": "manual"},
        mitigations=[{"patchConfigMap": {"configMap": "flags", "key": "on", "value": "0"}}],
    )
    world.workloads.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "flags", "namespace": NS, "labels": dict(FLUX_LABELS)},
            "data": {"on": "1"},
        }
    )
    ks = world.workloads.objects[("Kustomization", "flux-system", "apps")]
    ks["status"] = flux_status("shop_flags__ConfigMap")  # even a real owner is not frozen
    results = await world.tick()
    assert results["patch-flags"]["state"] == "refused"
    assert "has not opted in" in results["patch-flags"]["message"]
    assert "suspend" not in world.workloads.object("Kustomization", "flux-system", "apps")["spec"]
    assert not world.store.incidents[(NS, "inc")].get("status", {}).get("freezes")


def second_incident(world: World, name: str) -> None:
    world.store.incidents[(NS, name)] = incident(
        name,
        source={"type": "manual"},
        mitigations=[{"scale": {"name": "checkout", "replicas": 5}}],
    )


async def tick(world: World, name: str) -> None:
    await world.service.reconcile(copy.deepcopy(world.store.incidents[(NS, name)]))


async def test_overlapping_incidents_share_the_freeze_until_the_last_ends() -> None:
    world = gitops_world()
    world.workloads.objects[("Kustomization", "flux-system", "apps")]["spec"]["suspend"] = False
    second_incident(world, "inc2")
    await world.tick()
    await tick(world, "inc2")
    ks = world.workloads.object("Kustomization", "flux-system", "apps")
    assert freeze.read_hold(ks) == freeze.Hold("false", ("shop/inc/i-uid", "shop/inc2/inc2-uid"))
    assert ks["spec"]["suspend"] is True

    world.store.accept_state(NS, "inc", "resolved")
    await world.tick()
    ks = world.workloads.object("Kustomization", "flux-system", "apps")
    assert ks["spec"]["suspend"] is True  # inc2 is still open
    assert freeze.read_hold(ks) == freeze.Hold("false", ("shop/inc2/inc2-uid",))

    world.store.accept_state(NS, "inc2", "resolved")
    await tick(world, "inc2")
    ks = world.workloads.object("Kustomization", "flux-system", "apps")
    assert ks["spec"]["suspend"] is False  # the original, exactly
    assert freeze.HOLD_ANNOTATION not in (ks["metadata"].get("annotations") or {})


class RacingWorkloads(FakeWorkloads):
    """Another incident's hold lands between our read and our write, once."""

    def __init__(self, base: FakeWorkloads, owner: Target, holder: str) -> None:
        super().__init__(objects=base.objects)
        self.owner, self.holder, self.raced = owner, holder, False

    async def merge_patch(self, target: Target, patch: dict[str, Any]) -> dict[str, Any]:
        if not self.raced:
            self.raced = True
            body = await self.get(self.owner)
            assert body is not None
            await super().merge_patch(
                self.owner, freeze.plan_acquire(self.owner, body, self.holder).patch
            )
        return await super().merge_patch(target, patch)


async def test_racing_holders_are_never_lost() -> None:
    world = gitops_world()
    racing = RacingWorkloads(world.workloads, KUSTOMIZATION, "shop/other/o-uid")
    service = FreezeService(world.store, racing, world.clock)
    outcome = await service.hold_for(
        world.store.incidents[(NS, "inc")],
        DEPLOYMENT,
        world.workloads.object("Deployment", NS, "checkout"),
        allowed=frozenset({"flux-system"}),
        dry_run=False,
    )
    assert outcome.frozen
    assert racing.raced
    hold = freeze.read_hold(racing.object("Kustomization", "flux-system", "apps"))
    assert hold == freeze.Hold("null", ("shop/other/o-uid", "shop/inc/i-uid"))


async def test_a_stale_write_is_a_conflict() -> None:
    world = gitops_world()
    body = world.workloads.object("Kustomization", "flux-system", "apps")
    await world.workloads.merge_patch(KUSTOMIZATION, {"metadata": {"labels": {"x": "y"}}})
    with pytest.raises(Conflict):
        await world.workloads.merge_patch(
            KUSTOMIZATION, freeze.plan_acquire(KUSTOMIZATION, body, "shop/a/1").patch
        )


async def test_dry_run_freezes_nothing() -> None:
    world = gitops_world()
    service = FreezeService(world.store, world.workloads, world.clock)
    outcome = await service.hold_for(
        world.store.incidents[(NS, "inc")],
        DEPLOYMENT,
        world.workloads.object("Deployment", NS, "checkout"),
        allowed=frozenset({"flux-system"}),
        dry_run=True,
    )
    assert outcome.frozen
    assert "suspend" not in world.workloads.object("Kustomization", "flux-system", "apps")["spec"]


def test_restore_patch_table() -> None:
    assert freeze.restore_patch(KUSTOMIZATION, json.dumps(None)) == {"spec": {"suspend": None}}
    assert freeze.restore_patch(APP, json.dumps(None)) is None
