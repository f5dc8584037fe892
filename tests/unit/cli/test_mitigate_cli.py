"""`kubectl incident mitigate` against the in-memory incidents of the CLI tests."""

from __future__ import annotations

from typing import Any

import pytest

from incident_operator.adapters.ports import Body
from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.manifests import UsageError
from tests.unit.cli.test_incident_cli import FakeIncidents, incident, run


def operator_answers(state: str, message: str = "done") -> Any:
    """Plays the operator: every requested mitigation gets ``state``."""

    def verdict(body: Body) -> None:
        body["status"] = {
            "mitigations": [
                {"name": m["name"], "state": state, "message": message}
                for m in body["spec"].get("mitigations", [])
            ]
            + [
                {"name": n, "state": state, "message": message}
                for n in body["spec"].get("approvedMitigations", [])
            ]
        }

    return verdict


@pytest.mark.parametrize(
    ("argv", "fields"),
    [
        (["--rollback", "deploy/checkout"], {"rollback": {"deployment": "checkout"}}),
        (
            ["--rollback", "deployment/checkout", "--to-revision", "3"],
            {"rollback": {"deployment": "checkout", "toRevision": 3}},
        ),
        (
            ["--shift", "httproute/checkout", "--to", "stable=100,canary=0"],
            {
                "shiftTraffic": {
                    "httpRoute": "checkout",
                    "weights": [
                        {"backend": "stable", "weight": 100},
                        {"backend": "canary", "weight": 0},
                    ],
                }
            },
        ),
        (["--abort", "rollout/checkout"], {"abortRollout": {"rollout": "checkout"}}),
        (["--scale", "deploy/checkout=0"], {"scale": {"name": "checkout", "replicas": 0}}),
        (
            ["--scale", "sts/db=2"],
            {"scale": {"name": "db", "replicas": 2, "kind": "StatefulSet"}},
        ),
    ],
)
def test_each_action_becomes_a_requested_mitigation(argv: list[str], fields: Body) -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.verdict = operator_answers("applied", "rolled back")
    code, out, _ = run(fake, "mitigate", "checkout", *argv, "--wait", "1")
    assert code == 0
    (requested,) = fake.objects["checkout"]["spec"]["mitigations"]
    name = requested.pop("name")
    assert requested == fields
    assert f"{name} requested" in out
    assert f"{name} applied: rolled back" in out


def test_dry_run_is_marked_and_an_existing_request_is_kept() -> None:
    fake = FakeIncidents()
    incident(fake, mitigations=[{"name": "old", "scale": {"name": "x", "replicas": 1}}])
    code, out, _ = run(
        fake, "mitigate", "checkout", "--rollback", "deploy/a", "--dry-run", "--wait", "0"
    )
    assert code == 0
    old, new = fake.objects["checkout"]["spec"]["mitigations"]
    assert old["name"] == "old"
    assert new["dryRun"] is True
    assert "(dry run)" in out


def test_a_refusal_is_an_error_with_the_operators_reason() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.verdict = operator_answers("refused", "deployment/checkout has not opted in")
    code, _, err = run(fake, "mitigate", "checkout", "--rollback", "deploy/checkout")
    assert code == 1
    assert "refused: deployment/checkout has not opted in" in err


def test_approve_adds_the_name_and_a_timeline_entry() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.verdict = operator_answers("applied")
    code, out, _ = run(
        fake, "mitigate", "checkout", "--approve", "rollback-checkout", "--wait", "1"
    )
    assert code == 0
    assert fake.objects["checkout"]["spec"]["approvedMitigations"] == ["rollback-checkout"]
    (entry,) = fake.objects["checkout"]["status"]["timeline"]
    assert entry["type"] == "mitigation"
    assert entry["key"] == "mitigation/rollback-checkout/approved"
    assert "rollback-checkout approved" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--rollback", "checkout"],
        ["--rollback", "rollout/checkout"],
        ["--shift", "httproute/x"],
        ["--shift", "httproute/x", "--to", "stable"],
        ["--scale", "deploy/checkout"],
    ],
)
def test_usage_errors(argv: list[str]) -> None:
    fake = FakeIncidents()
    incident(fake)
    args = build_parser().parse_args(["mitigate", "checkout", *argv])
    with pytest.raises(UsageError):
        args.run(args, None, lambda namespace: fake)


def test_show_lists_the_mitigations() -> None:
    fake = FakeIncidents()
    incident(fake)
    fake.objects["checkout"]["status"] = {
        "mitigations": [
            {
                "name": "rollback-checkout",
                "action": "rollback",
                "target": "deployment/checkout",
                "state": "verified",
                "message": "rolled back; burn fell",
            }
        ]
    }
    code, out, _ = run(fake, "show", "checkout")
    assert code == 0
    assert (
        "Mitigation: rollback-checkout (rollback deployment/checkout) verified: rolled back; "
        "burn fell" in out
    )
