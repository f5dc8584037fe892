"""`kubectl incident report` over seeded objects: the bodies of the domain test's history
(tests/unit/domain/test_insights.py), read back to the same hand-computed figures."""

from __future__ import annotations

import builtins
import io
import json
from pathlib import Path
from typing import Any

import pytest

from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.manifests import UsageError
from incident_operator.cli.report import run
from incident_operator.domain.times import iso
from incident_operator.errors import PermanentError
from tests.unit.domain.test_insights import INCIDENTS, NOW, POSTMORTEMS, SLOS


def incident_body(fact: Any, *, catalogued: bool) -> dict[str, Any]:
    status: dict[str, Any] = {
        "severity": fact.severity,
        "timestamps": {"declared": iso(fact.declared)},
        "durations": {k: v for k, v in fact.durations.items() if v is not None},
    }
    if catalogued and fact.team:
        status["catalog"] = {"owners": [{"service": fact.service, "team": fact.team}]}
    return {
        "metadata": {"namespace": fact.namespace, "name": fact.name},
        "spec": {"service": fact.service, "severityRef": "ignored-when-status-has-one"},
        "status": status,
    }


class Client:
    """The seeded objects; the payments team's incidents resolve through the catalog (status),
    search's only through a Service object, as in a cluster where the catalog came later."""

    def __init__(self, forbidden: frozenset[str] = frozenset()) -> None:
        self.forbidden = forbidden
        self.calls: list[tuple[str, bool]] = []

    def list(self, all_namespaces: bool = False) -> list[dict[str, Any]]:
        self.calls.append(("incidents", all_namespaces))
        bodies = [incident_body(i, catalogued=i.team == "payments") for i in INCIDENTS]
        bodies.append({"metadata": {"namespace": "shop", "name": "new"}, "spec": {}, "status": {}})
        return bodies

    def list_objects(
        self, plural: str, all_namespaces: bool = False
    ) -> builtins.list[dict[str, Any]]:
        self.calls.append((plural, all_namespaces))
        if plural in self.forbidden:
            raise PermanentError(f"list {plural}: forbidden")
        if plural == "postmortems":
            return [
                {
                    "metadata": {"namespace": p.namespace, "name": f"{p.incident}-pm"},
                    "spec": {
                        "incidentRef": p.incident,
                        "state": "published" if p.published else "draft",
                        "actionItems": [
                            {"title": "t", "status": a.status}
                            | ({"due": a.due.isoformat()} if a.due else {})
                            for a in p.action_items
                        ],
                    },
                }
                for p in POSTMORTEMS
            ]
        if plural == "servicelevelobjectives":
            return [
                {
                    "metadata": {"namespace": s.namespace, "name": s.name},
                    "spec": {"service": s.service},
                    "status": {}
                    if s.budget_remaining is None
                    else {"errorBudgetRemaining": s.budget_remaining},
                }
                for s in SLOS
            ]
        assert plural == "services"
        owners = {("shop", "checkout"): "payments", ("shop", "billing"): "payments",
                  ("find", "search"): "search"}  # fmt: skip
        return [
            {"metadata": {"namespace": ns, "name": name}, "spec": {"owner": team}}
            for (ns, name), team in owners.items()
        ]


def report(*argv: str, client: Client | None = None) -> str:
    args = build_parser().parse_args(["report", *argv])
    out = io.StringIO()
    assert run(args, out=out, client=client or Client(), now=NOW) == 0
    return out.getvalue()


def test_json_carries_the_hand_computed_figures() -> None:
    data = json.loads(report("--since", "30d", "-A", "-o", "json"))
    assert (data["since"], data["until"]) == ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    teams = {t["name"]: t for t in data["teams"]}
    payments = teams["payments"]
    assert payments["incidents"] == 3
    assert payments["bySeverity"] == {"sev-1": 1, "sev-2": 2}
    assert payments["figures"]["MTTA"] == {"count": 3, "p50Seconds": 120, "p90Seconds": 300}
    assert payments["figures"]["MTTR"] == {"count": 2, "p50Seconds": 1800, "p90Seconds": 3600}
    assert payments["postmortems"] == {"owed": 2, "published": 1, "completion": 0.5}
    assert payments["overdueActionItems"] == 2
    assert payments["worstBudgetSpent"] == pytest.approx(1.2)
    # search's team comes from its Service object (no catalog resolution in status).
    assert teams["search"]["incidents"] == 1
    assert "MTTD" not in teams["search"]["figures"]
    assert data["total"]["incidents"] == 5, "the undeclared incident is not counted"


def test_markdown_tables_per_team_and_service() -> None:
    text = report("--since", "30d", "-A")
    assert text.startswith("# Incident report: 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if "|" in line}
    assert rows["payments"] == (
        "| payments | 3 | sev-1 1, sev-2 2 | 2m / 5m | 10m / 20m | 30m / 1h | 1m / 5m "
        "| 1/2 | 2 | 120 % |"
    )
    assert rows["search"].endswith("| 15m / 15m | 15m / 15m | 2h / 2h | - | - | 0 | - |")
    assert rows["checkout"].split(" | ")[1] == "2"


def test_one_team_and_a_trend_chart(tmp_path: Path) -> None:
    chart = tmp_path / "trend.png"
    data = json.loads(report("--team", "search", "-o", "json", "--chart", str(chart)))
    assert [t["name"] for t in data["teams"]] == ["search"]
    assert data["total"]["incidents"] == 1
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_what_may_not_be_listed_is_left_out_and_said(capsys: pytest.CaptureFixture[str]) -> None:
    client = Client(forbidden=frozenset({"postmortems"}))
    data = json.loads(report("-o", "json", client=client))
    assert data["total"]["postmortems"] == {"owed": 0, "published": 0, "completion": None}
    assert "postmortems left out of the report: list postmortems: forbidden" in (
        capsys.readouterr().err
    )
    assert ("incidents", False) in client.calls, "without -A: the current namespace only"


def test_a_bad_period_is_a_usage_error() -> None:
    args = build_parser().parse_args(["report", "--since", "a month"])
    with pytest.raises(UsageError, match="a duration such as 7d"):
        run(args, out=io.StringIO(), client=Client(), now=NOW)
