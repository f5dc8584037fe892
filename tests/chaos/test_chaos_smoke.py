"""A small chaos run inside the normal suite: a few kills and faults, every invariant checked.

The full run is ``make chaos`` (tests/chaos/harness.py, docs/reliability.md); this one runs
the Alertmanager and kubectl flows and a healthy SLO in one namespace while the operator is
``kill -9``-ed a few times and Prometheus, Slack, PagerDuty and the API server misbehave.
``CHAOS_SEED`` replays a schedule; the seed in use is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.chaos.harness import Run, Settings, seed_from_env
from tests.kube import Cluster


def test_incident_flows_survive_a_few_kills_and_faults(crds: Cluster, tmp_path: Path) -> None:
    seed = seed_from_env()
    print(f"chaos smoke: CHAOS_SEED={seed}")
    state_dir = None if crds.existing else Path(crds.kubeconfig).parent
    report = Run(crds, state_dir, Settings.smoke(seed)).execute(tmp_path)
    figures = report.figures()
    sys.stdout.write(figures + "\n")
    if report.violation_count:
        sys.stdout.write((tmp_path / "operator.log").read_text(errors="replace")[-8000:])
    assert report.faults["operator-kill"] >= Settings.smoke(seed).min_kills
    assert report.violation_count == 0, figures
