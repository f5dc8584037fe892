"""Mitigation planning, guardrails, the gate and the closed-loop verdict (pure domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain import mitigation as m

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def template(image: str, hash_: str | None = None) -> dict[str, Any]:
    labels = {"app": "checkout", **({"pod-template-hash": hash_} if hash_ else {})}
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(image: str = "checkout:v2", revision: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": "d-uid",
            "resourceVersion": "42",
            "generation": 3,
            "annotations": {
                m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE,
                m.REVISION_ANNOTATION: str(revision),
                "kubernetes.io/change-cause": "deploy v2",
            },
        },
        "spec": {"template": template(image), **spec},
    }


def replicaset(revision: int, image: str, cause: str = "") -> dict[str, Any]:
    annotations = {
        m.REVISION_ANNOTATION: str(revision),
        "deployment.kubernetes.io/max-replicas": "4",
    }
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return {
        "metadata": {"name": f"checkout-{revision}abc", "annotations": annotations},
        "spec": {"template": template(image, f"{revision}abc")},
    }


def request(action: m.ActionKind = m.ActionKind.ROLLBACK, **kwargs: Any) -> m.Request:
    kind = {
        m.ActionKind.ROLLBACK: m.DEPLOYMENT,
        m.ActionKind.SCALE: m.DEPLOYMENT,
        m.ActionKind.SHIFT_TRAFFIC: m.HTTP_ROUTE,
        m.ActionKind.ABORT_ROLLOUT: m.ROLLOUT,
        m.ActionKind.PATCH_CONFIG_MAP: m.CONFIG_MAP,
    }[action]
    source = kwargs.pop("source", m.Source.SLO)
    name = kwargs.pop("name", f"{action}-x")
    target = kwargs.pop("target", "checkout")
    return m.Request(name, action, m.Target(*kind, "shop", target), source, **kwargs)


HISTORY = [replicaset(1, "checkout:v1", "deploy v1"), replicaset(2, "checkout:v2", "deploy v2")]

# --- rollback -------------------------------------------------------------------------------


def test_rollback_picks_the_previous_revision_and_copies_its_template_and_annotations() -> None:
    plan = m.plan(request(), deployment(), HISTORY, incident="inc-1")
    assert isinstance(plan, m.Plan)
    assert plan.patch_type is m.PatchType.JSON
    assert plan.patch[0] == {"op": "test", "path": "/metadata/generation", "value": 3}
    ops = {op["path"]: op["value"] for op in plan.patch if op["op"] == "replace"}
    assert ops["/spec/template"] == template("checkout:v1")  # no pod-template-hash
    annotations = ops["/metadata/annotations"]
    assert annotations["kubernetes.io/change-cause"] == "deploy v1"  # from the ReplicaSet
    assert annotations[m.REVISION_ANNOTATION] == "2"  # bookkeeping stays the Deployment's
    assert "deployment.kubernetes.io/max-replicas" not in annotations
    assert annotations[m.OPT_IN_ANNOTATION] == m.OPT_IN_VALUE
    assert annotations[m.MITIGATED_BY_ANNOTATION] == "inc-1"
    assert "from revision 2 to revision 1" in plan.summary
    assert "deploy v1" in plan.summary


def test_rollback_summary_names_the_running_revision_while_the_annotation_lags() -> None:
    # Right after a rollout the controller has created revision 2's ReplicaSet but not yet
    # moved the Deployment's own revision annotation.
    plan = m.plan(request(), deployment("checkout:v2", 1), HISTORY, incident="inc-1")
    assert isinstance(plan, m.Plan)
    assert "from revision 2 to revision 1" in plan.summary


def test_rollback_to_a_given_revision() -> None:
    history = [*HISTORY, replicaset(3, "checkout:v3")]
    plan = m.plan(request(to_revision=1), deployment("checkout:v3", 3), history, incident="i")
    assert isinstance(plan, m.Plan)
    assert {op["path"]: op["value"] for op in plan.patch}["/spec/template"] == template(
        "checkout:v1"
    )


def test_rollback_previous_is_second_highest_revision_not_list_order() -> None:
    history = [replicaset(5, "checkout:v5"), replicaset(3, "checkout:v3"), replicaset(4, "c:v4")]
    plan = m.plan(request(), deployment("checkout:v5", 5), history, incident="i")
    assert isinstance(plan, m.Plan)
    assert "to revision 4" in plan.summary


@pytest.mark.parametrize(
    ("deploy", "history", "to_revision", "reason", "no_op"),
    [
        (deployment(paused=True), HISTORY, None, "is paused; resume it first", False),
        (deployment(), [], None, "no rollout history found", False),
        (deployment(), HISTORY[1:], None, "only revision 2 exists", False),
        (deployment(), HISTORY, 7, "unable to find revision 7 of deployment/checkout", False),
        (deployment(), HISTORY, 2, "already runs the template of revision 2", True),
        (deployment("checkout:v1", 3), HISTORY, 1, "already runs the template", True),
    ],
)
def test_rollback_refusals_say_why(
    deploy: dict[str, Any], history: list[Any], to_revision: int | None, reason: str, no_op: bool
) -> None:
    refusal = m.plan(request(to_revision=to_revision), deploy, history, incident="i")
    assert isinstance(refusal, m.Refusal)
    assert reason in refusal.reason
    assert refusal.no_op is no_op


# --- the other actions ----------------------------------------------------------------------


def route() -> dict[str, Any]:
    return {
        "metadata": {"name": "checkout", "resourceVersion": "7"},
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"name": "stable", "weight": 50},
                        {"name": "canary", "weight": 50},
                    ]
                }
            ]
        },
    }


def test_shift_traffic_sets_the_named_backend_weights() -> None:
    req = request(m.ActionKind.SHIFT_TRAFFIC, weights=(("stable", 100), ("canary", 0)))
    plan = m.plan(req, route(), incident="i")
    assert isinstance(plan, m.Plan)
    rules = {op["path"]: op["value"] for op in plan.patch}["/spec/rules"]
    assert rules[0]["backendRefs"] == [
        {"name": "stable", "weight": 100},
        {"name": "canary", "weight": 0},
    ]
    assert "canary 50->0" in plan.summary


def test_shift_traffic_unknown_backend_is_refused_naming_the_known_ones() -> None:
    refusal = m.plan(
        request(m.ActionKind.SHIFT_TRAFFIC, weights=(("blue", 1),)), route(), incident="i"
    )
    assert isinstance(refusal, m.Refusal)
    assert "no backendRef named blue (it has: canary, stable)" in refusal.reason


def test_abort_rollout_patches_status_abort_and_is_a_no_op_when_aborted() -> None:
    plan = m.plan(request(m.ActionKind.ABORT_ROLLOUT), {"status": {}}, incident="i")
    assert isinstance(plan, m.Plan)
    assert (plan.patch, plan.subresource, plan.fallback_to_main) == (
        {"status": {"abort": True}},
        "status",
        True,
    )
    done = m.plan(request(m.ActionKind.ABORT_ROLLOUT), {"status": {"abort": True}}, incident="i")
    assert isinstance(done, m.Refusal)
    assert done.no_op


def test_scale_and_its_no_op() -> None:
    plan = m.plan(request(m.ActionKind.SCALE, replicas=0), {"spec": {"replicas": 3}}, incident="i")
    assert isinstance(plan, m.Plan)
    assert plan.patch == {"spec": {"replicas": 0}}
    same = m.plan(request(m.ActionKind.SCALE, replicas=3), {"spec": {"replicas": 3}}, incident="i")
    assert isinstance(same, m.Refusal)
    assert same.no_op


def test_config_map_key_must_be_allow_listed_and_the_value_never_shows() -> None:
    cm = {
        "metadata": {"annotations": {m.ALLOWED_KEYS_ANNOTATION: "new-checkout, beta"}},
        "data": {"new-checkout": "on"},
    }
    req = request(m.ActionKind.PATCH_CONFIG_MAP, key="new-checkout", value="s3cr3t-off")
    plan = m.plan(req, cm, incident="i")
    assert isinstance(plan, m.Plan)
    assert plan.patch == {"data": {"new-checkout": "s3cr3t-off"}}
    assert "s3cr3t" not in plan.summary
    other = m.plan(
        request(m.ActionKind.PATCH_CONFIG_MAP, key="db-url", value="x"), cm, incident="i"
    )
    assert isinstance(other, m.Refusal)
    assert "db-url is not in its allow-list" in other.reason


# --- guardrails -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "labels", "namespace", "reason"),
    [
        ({m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}, {}, "shop", None),
        ({}, {}, "shop", "has not opted in: it needs the annotation sre.dev/mitigation: allowed"),
        ({m.OPT_IN_ANNOTATION: "yes"}, {}, "shop", "has not opted in"),
        ({m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE}, {}, "other", "outside the incident's namespace"),
        (
            {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE},
            {"kustomize.toolkit.fluxcd.io/name": "apps"},
            "shop",
            "managed by GitOps (label kustomize.toolkit.fluxcd.io/name=apps)",
        ),
        (
            {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE, "argocd.argoproj.io/tracking-id": "a:x"},
            {},
            "shop",
            "managed by GitOps (annotation argocd.argoproj.io/tracking-id)",
        ),
    ],
)
def test_guardrail_matrix(
    annotations: dict[str, str], labels: dict[str, str], namespace: str, reason: str | None
) -> None:
    body = {"metadata": {"annotations": annotations, "labels": labels}}
    refusal = m.guard_target(request(), body, namespace)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert reason in refusal.reason


# --- the gate -------------------------------------------------------------------------------

AUTO = m.Policy(mode=m.Mode.AUTO, auto_allowed=True, cooldown=15 * MIN, max_actions=2)


@pytest.mark.parametrize(
    ("policy", "source", "approved", "kind"),
    [
        (AUTO, m.Source.SLO, False, m.GateKind.GO),
        (
            m.Policy(mode=m.Mode.AUTO, auto_allowed=False),
            m.Source.SLO,
            False,
            m.GateKind.PENDING_APPROVAL,
        ),
        (m.Policy(mode=m.Mode.AUTO, auto_allowed=False), m.Source.SLO, True, m.GateKind.GO),
        (
            m.Policy(mode=m.Mode.SUGGEST, auto_allowed=True),
            m.Source.SLO,
            False,
            m.GateKind.PENDING_APPROVAL,
        ),
        (m.Policy(mode=m.Mode.SUGGEST), m.Source.SLO, True, m.GateKind.GO),
        (m.Policy(mode=m.Mode.OFF, auto_allowed=True), m.Source.SLO, True, m.GateKind.OFF),
        (m.Policy(mode=m.Mode.SUGGEST), m.Source.INCIDENT, False, m.GateKind.GO),
        # A person's request runs without the Severity's autoAllowed: admission proved the
        # person may make that change (docs/security.md, chart -requester-authority).
        (m.Policy(mode=m.Mode.AUTO), m.Source.INCIDENT, False, m.GateKind.GO),
        (m.Policy(mode=m.Mode.SUGGEST, dry_run=True), m.Source.SLO, False, m.GateKind.GO),
        # A workflow's step is declared in advance like an SLO's, by an author the admission
        # policy checked: the Severity's autoAllowed or an approval lets it run (the step is
        # its author's mode auto, whatever the SLO's mode says of the SLO's own list).
        (m.Policy(mode=m.Mode.AUTO), m.Source.WORKFLOW, False, m.GateKind.PENDING_APPROVAL),
        (m.Policy(mode=m.Mode.SUGGEST), m.Source.WORKFLOW, False, m.GateKind.PENDING_APPROVAL),
        (m.Policy(mode=m.Mode.SUGGEST), m.Source.WORKFLOW, True, m.GateKind.GO),
        (m.Policy(mode=m.Mode.SUGGEST, auto_allowed=True), m.Source.WORKFLOW, False, m.GateKind.GO),
        (m.Policy(mode=m.Mode.OFF, auto_allowed=True), m.Source.WORKFLOW, False, m.GateKind.GO),
    ],
)
def test_gate_by_mode_severity_and_approval(
    policy: m.Policy, source: m.Source, approved: bool, kind: m.GateKind
) -> None:
    gate = m.gate(request(source=source), policy, [], approved=approved, now=NOW)
    assert gate.kind is kind
    if kind is m.GateKind.PENDING_APPROVAL:
        assert "--approve rollback-x" in gate.message


def test_dry_run_gate_is_marked_and_ignores_max_actions() -> None:
    done = [m.Record("a", m.State.VERIFIED, NOW - MIN), m.Record("b", m.State.FAILED, NOW - MIN)]
    gate = m.gate(request(dry_run=True), AUTO, done, approved=False, now=NOW)
    assert (gate.kind, gate.dry_run) == (m.GateKind.GO, True)


def test_cooldown_then_max_actions() -> None:
    first = [m.Record("a", m.State.FAILED, NOW - 10 * MIN)]
    waiting = m.gate(request(), AUTO, first, approved=False, now=NOW)
    assert waiting.kind is m.GateKind.WAITING
    assert "cooldown" in waiting.message
    assert m.gate(request(), AUTO, first, approved=False, now=NOW + 5 * MIN).kind is m.GateKind.GO
    two = [*first, m.Record("b", m.State.VERIFIED, NOW - 20 * MIN)]
    blocked = m.gate(request(), AUTO, two, approved=False, now=NOW + 60 * MIN)
    assert blocked.kind is m.GateKind.BLOCKED
    assert "maxActions 2 reached for this incident (a, b)" in blocked.message


def test_refused_dry_run_and_no_op_do_not_count_as_actions() -> None:
    records = [
        m.Record("a", m.State.REFUSED, NOW),
        m.Record("b", m.State.DRY_RUN, NOW),
        m.Record("c", m.State.NO_OP, NOW),
    ]
    policy = m.Policy(mode=m.Mode.AUTO, auto_allowed=True, max_actions=1)
    assert m.gate(request(), policy, records, approved=False, now=NOW).kind is m.GateKind.GO


def test_an_action_being_verified_holds_the_next() -> None:
    records = [m.Record("a", m.State.APPLIED, NOW - 20 * MIN, verify_by=NOW + MIN)]
    gate = m.gate(request(), AUTO, records, approved=False, now=NOW)
    assert gate.kind is m.GateKind.WAITING
    assert "waiting for a to be verified" in gate.message


# --- closed loop ----------------------------------------------------------------------------


def applied(started: datetime = NOW) -> m.Record:
    return m.Record("rb", m.State.APPLIED, started, verify_by=started + 10 * MIN)


@pytest.mark.parametrize(
    ("short", "evaluated", "now", "verdict"),
    [
        (2.0, NOW + MIN, NOW + MIN, m.Verdict.VERIFIED),
        (2.0, NOW - MIN, NOW + MIN, m.Verdict.PENDING),  # evaluated before the action
        (20.0, NOW + MIN, NOW + MIN, m.Verdict.PENDING),
        (20.0, NOW + 9 * MIN, NOW + 10 * MIN, m.Verdict.FAILED),
        (None, None, NOW + 11 * MIN, m.Verdict.FAILED),
        (14.4, NOW + MIN, NOW + MIN, m.Verdict.PENDING),  # at the threshold still fires
    ],
)
def test_verify_decision(
    short: float | None, evaluated: datetime | None, now: datetime, verdict: m.Verdict
) -> None:
    burn = m.Burn("1h/5m", 14.4, short, evaluated)
    result = m.verify(applied(), burn, now)
    assert result.verdict is verdict
    if verdict is m.Verdict.VERIFIED:
        assert "burn over 5m fell to 2.00x, below the 14.4x threshold" in result.message
    if verdict is m.Verdict.FAILED:
        assert "verifyWithin deadline" in result.message


def test_undo_of_rollback_scale_and_shift_and_none_for_abort_and_flags() -> None:
    back = m.undo(request(), deployment())
    assert back is not None
    assert (back.name, back.to_revision, back.source) == ("rollback-x-revert", 2, m.Source.INCIDENT)
    scale = m.undo(request(m.ActionKind.SCALE, replicas=0), {"spec": {"replicas": 4}})
    assert scale is not None
    assert scale.replicas == 4
    shift = m.undo(request(m.ActionKind.SHIFT_TRAFFIC, weights=(("canary", 0),)), route())
    assert shift is not None
    assert shift.weights == (("canary", 50),)
    assert m.undo(request(m.ActionKind.ABORT_ROLLOUT), {}) is None
    assert m.undo(request(m.ActionKind.PATCH_CONFIG_MAP, key="k", value="v"), {}) is None
