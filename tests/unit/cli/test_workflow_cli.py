"""`kubectl incident workflow test`: a dry run that says what fires, how the CEL evaluated and
what would run, and changes nothing."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.adapters.cel import CelExpressions
from incident_operator.adapters.ports import Body
from incident_operator.cli import workflow as cli
from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.manifests import UsageError
from tests.builders.objects import incident, severity
from tests.kube import REPO

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
EXAMPLE = REPO / "examples" / "60-workflows.yaml"


def example(kind: str) -> dict[str, Any]:
    doc = next(d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d["kind"] == kind)
    doc["metadata"].update(uid="uid-example", creationTimestamp="2026-01-01T00:00:00Z")
    return dict(doc)


class Source:
    def __init__(self, incident_body: Body, workflows: dict[str, Body]) -> None:
        self.namespace = "shop"
        self.incident_body = incident_body
        self.workflows = workflows
        self.reads: list[str] = []

    def incident(self, name: str) -> Body:
        self.reads.append(f"incident/{name}")
        return self.incident_body

    def workflow(self, kind: str, name: str) -> Body:
        self.reads.append(f"{kind}/{name}")
        return self.workflows[kind]

    def severity(self, name: str) -> Body | None:
        return severity(name, 1 if name == "sev-1" else 2)


def body(labels: dict[str, str], sev: str = "sev-1", **status: Any) -> Body:
    return incident(
        "checkout-errors",
        metadata={"labels": labels},
        severityRef=sev,
        status={
            "phase": "investigating",
            "severity": sev,
            "timestamps": {"declared": "2026-11-27T14:00:00Z"},
            **status,
        },
    )


def dry_run(argv: list[str], source: Source) -> tuple[int, str]:
    args = build_parser().parse_args(["workflow", "test", *argv])
    out = io.StringIO()
    code = cli.run(args, out, lambda ns: source, CelExpressions(), NOW)
    return code, out.getvalue()


def test_a_firing_trigger_shows_the_condition_and_the_keyed_steps() -> None:
    source = Source(body({"tier": "1"}), {"IncidentWorkflow": example("IncidentWorkflow")})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert "declared: fires - declared" in text
    assert "severityChanged: no - first look at this incident" in text
    assert "Condition evaluated: true" in text
    assert "Would run now (wf/uid-example/once, on declared):" in text
    assert "1. postMessage to the incident channel '${title} is ${severity}" in text
    assert "2. setLabels escalated=true" in text
    assert "3. page team payments route critical" in text
    assert source.reads == ["IncidentWorkflow/tier1-major", "incident/checkout-errors"]


def test_a_false_condition_is_explained() -> None:
    seen = {"phase": "investigating", "severity": "sev-1"}
    judged = {"seen": seen, "done": ["wf/uid-example/seen/declared"]}
    source = Source(body({}, workflows=judged), {"IncidentWorkflow": example("IncidentWorkflow")})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert "Nothing runs now: no trigger fired" in text
    assert "If declared fired now, the condition would be false" in text


def test_a_done_run_says_so() -> None:
    steps = len(example("IncidentWorkflow")["spec"]["actions"])
    status = {"done": [f"wf/uid-example/once/{i}" for i in range(steps)]}
    source = Source(
        body({"tier": "1"}, workflows=status), {"IncidentWorkflow": example("IncidentWorkflow")}
    )
    _, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert "Nothing runs now: already ran for this occurrence" in text


def test_a_manifest_not_applied_yet_with_bad_cel(tmp_path: Path) -> None:
    doc = example("IncidentWorkflow")
    doc["spec"]["condition"] = "incident.labels.tier =="
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    source = Source(body({}), {})
    code, text = dry_run(["-f", str(path), "--incident", "checkout-errors"], source)
    assert code == 1
    assert "spec.condition: ERROR: 1:24: Syntax error" in text


def test_a_namespaced_workflow_never_reaches_another_namespace() -> None:
    doc = example("IncidentWorkflow")
    doc["metadata"]["namespace"] = "other"
    source = Source(body({"tier": "1"}), {"IncidentWorkflow": doc})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert "never acts on incident shop/checkout-errors" in text


def test_the_cluster_example_waits_for_its_quiet_period() -> None:
    source = Source(body({}), {"ClusterIncidentWorkflow": example("ClusterIncidentWorkflow")})
    _, text = dry_run(["quiet-investigation", "--cluster", "--incident", "x"], source)
    assert "noUpdate (after 1800s; in investigating): fires - no update since" in text
    assert "Would run now" in text


def test_a_name_or_a_file_is_required() -> None:
    args = argparse.Namespace(workflow=None, filename=None, namespace=None, incident="x")
    with pytest.raises(UsageError):
        cli.run(args, io.StringIO(), lambda ns: Source(body({}), {}), CelExpressions(), NOW)


def test_event_chooses_what_the_dry_run_pretends_fired() -> None:
    seen = {"phase": "investigating", "severity": "sev-1", "labels": {"tier": "1"}}
    judged = {"seen": seen, "done": ["wf/uid-example/seen/declared"]}
    source = Source(
        body({"tier": "1"}, workflows=judged), {"IncidentWorkflow": example("IncidentWorkflow")}
    )
    argv = ["tier1-major", "--incident", "checkout-errors", "--event", "labelChanged"]
    code, text = dry_run(argv, source)
    assert code == 0
    assert "Nothing runs now: no trigger fired" in text
    assert "If labelChanged fired now, the condition would be true" in text
    assert "and it would run (wf/uid-example/dry-run, on as if it fired now):" in text


def test_a_checklist_step_is_shown_without_its_instructions() -> None:
    workflow = example("IncidentWorkflow")
    workflow["spec"]["actions"] = [
        {
            "type": "addChecklist",
            "role": "commander",
            "tasks": ["Open a bridge", "Page the lead"],
            "instructions": "The director's phone: 0100",
        }
    ]
    source = Source(body({"tier": "1"}), {"IncidentWorkflow": workflow})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert "1. addChecklist for the commander: 2 task(s) and private instructions" in text
    assert "0100" not in text


def test_a_set_roles_step_names_the_roles_and_their_people() -> None:
    workflow = example("IncidentWorkflow")
    workflow["spec"]["actions"] = [
        {"type": "setRoles", "roles": {"scribe": "carol", "commander": "alice"}}
    ]
    source = Source(body({"tier": "1"}), {"IncidentWorkflow": workflow})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert "1. setRoles commander=alice, scribe=carol" in text


def test_a_mitigate_step_names_its_mitigation_and_its_gate() -> None:
    doc = example("IncidentWorkflow")
    doc["spec"]["actions"] = [
        {"type": "mitigate", "mitigation": {"scale": {"name": "checkout", "replicas": 6}}}
    ]
    source = Source(body({"tier": "1"}), {"IncidentWorkflow": doc})
    code, text = dry_run(["tier1-major", "--incident", "checkout-errors"], source)
    assert code == 0
    assert (
        "1. mitigate scale-checkout (scale deployment/checkout; gated like an SLO's mitigation)"
        in text
    )


def test_the_dry_run_names_a_card_a_bridge_and_a_teams_webhook(tmp_path: Path) -> None:
    doc = example("IncidentWorkflow")
    doc["spec"]["actions"] = [
        {"type": "postMessage", "text": "hi", "card": {"title": "Tier-1 ${title}"}},
        {"type": "startConference", "urlTemplate": "https://meet.example.com/${name}"},
        {"type": "sendWebhook", "team": "payments", "webhook": "erp"},
    ]
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(doc))
    source = Source(body({"tier": "1"}), {})
    _, text = dry_run(["-f", str(path), "--incident", "checkout-errors"], source)
    assert "1. postMessage to the incident channel 'hi' with a card 'Tier-1 ${title}'" in text
    assert "2. startConference https://meet.example.com/${name}" in text
    assert "3. sendWebhook erp of team payments" in text


def waiting_workflow() -> Body:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "IncidentWorkflow",
        "metadata": {
            "name": "later",
            "namespace": "shop",
            "uid": "uid-later",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "triggers": [{"event": "declared"}],
            "actions": [
                {"type": "addNote", "text": "first"},
                {"type": "wait", "duration": "1h30m"},
                {"type": "postMessage", "text": "later"},
            ],
        },
    }


def test_the_dry_run_shows_a_wait_the_steps_after_it_and_a_paused_run() -> None:
    source = Source(body({}), {"IncidentWorkflow": waiting_workflow()})
    _, text = dry_run(["later", "--incident", "checkout-errors"], source)
    assert "2. wait 1h30m (recorded when reached; the later steps run after it)" in text
    assert "then, 1h30m after step 2:\n  3. postMessage to the incident channel 'later'" in text
    paused = {
        "done": ["wf/uid-later/seen/declared", "wf/uid-later/once/0"],
        "waits": {
            "x": {"key": "wf/uid-later/once/1", "resumeAt": "2026-11-27T16:00:00Z"},
        },
    }
    source = Source(body({}, workflows=paused), {"IncidentWorkflow": waiting_workflow()})
    _, text = dry_run(["later", "--incident", "checkout-errors"], source)
    assert (
        "Paused at wait step wf/uid-later/once/1: the later steps run at 2026-11-27T16:00" in text
    )
    assert "Nothing runs now: no trigger fired" in text
