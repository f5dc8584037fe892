"""`kubectl incident simulate`: replay a trace through an SLO's burn-rate policy.

The same domain code the operator runs decides; only the measurements come from the trace
instead of Prometheus. JSON keys are a contract (scripts check the math with them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from incident_operator.api.v1alpha1.slo import ObjectivePolicy
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.simulation import (
    SimulationResult,
    TraceError,
    parse_trace,
    simulate,
)
from incident_operator.domain.slo import Objective

from .manifests import UsageError, problems, slo_document


def add_parser(commands: Any) -> None:
    sim = commands.add_parser(
        "simulate",
        help="replay a request trace through an SLO's burn-rate alerting",
        description=__doc__,
    )
    sim.add_argument("--slo", required=True, type=Path, help="ServiceLevelObjective manifest")
    sim.add_argument("--name", help="which SLO, when the manifest file holds several")
    sim.add_argument("--trace", required=True, type=Path, help="CSV with time,total,errors")
    sim.add_argument("--step", default="15s", help="evaluation interval (default %(default)s)")
    sim.add_argument("--output", choices=["json", "table"], default="table")
    sim.add_argument(
        "--until",
        type=float,
        help="end of the simulation in seconds (default: last row + the longest window)",
    )
    sim.add_argument("--plot", type=Path, help="write a PNG of error ratio and burn rate")
    sim.set_defaults(run=run)


def load_objective(path: Path, name: str | None = None) -> Objective:
    """The burn-rate policy of the ServiceLevelObjective in ``path``."""
    document = slo_document(path, name)
    try:
        return ObjectivePolicy.model_validate(document["spec"]).to_domain()
    except ValidationError as exc:
        raise problems(path, exc, prefix="spec.") from exc


def to_json(result: SimulationResult) -> dict[str, Any]:
    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "windows": [
            {
                "long": r.pair.long_text,
                "short": r.pair.short_text,
                "factor": r.pair.factor,
                "severity": r.pair.severity,
                "fired": r.fired,
                "firstFiredAt": seconds(r.first_fired_at),
                "detectionSeconds": seconds(r.detection_seconds),
                "budgetConsumedAtDetection": (
                    None
                    if r.budget_consumed_at_detection is None
                    else round(r.budget_consumed_at_detection, 6)
                ),
                "resetSeconds": seconds(r.reset_seconds),
            }
            for r in result.pairs
        ],
        "firstDetectionSeconds": seconds(result.first_detection_seconds),
        "severity": result.severity,
    }


def write_table(result: SimulationResult, out: TextIO) -> None:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    header = ["LONG", "SHORT", "FACTOR", "SEVERITY", "FIRED", "FIRST", "DETECT", "BUDGET", "RESET"]
    rows = [
        [
            w["long"],
            w["short"],
            w["factor"],
            w["severity"],
            "yes" if w["fired"] else "no",
            w["firstFiredAt"],
            w["detectionSeconds"],
            None
            if w["budgetConsumedAtDetection"] is None
            else f"{w['budgetConsumedAtDetection']:.2%}",
            w["resetSeconds"],
        ]
        for w in to_json(result)["windows"]
    ]
    table = [header, *[[cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        out.write("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() + "\n")
    detection = result.first_detection_seconds
    out.write(
        f"\nfirst detection: {cell(detection)} s, severity: {result.severity or '-'}\n"
        "(seconds; FIRST from the trace start, DETECT from the first row with errors, "
        "BUDGET = share of the window's error budget spent at detection)\n"
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    objective = load_objective(args.slo, args.name)
    try:
        trace = parse_trace(args.trace.read_text())
    except OSError as exc:
        raise UsageError(f"{args.trace}: {exc}") from exc
    except TraceError as exc:
        raise UsageError(f"{args.trace}: {exc}") from exc
    try:
        step = parse_duration(args.step)
    except ValueError as exc:
        raise UsageError(f"--step: {exc}") from exc
    result = simulate(objective, trace, step, args.until)
    if args.output == "json":
        json.dump(to_json(result), out, indent=2)
        out.write("\n")
    else:
        write_table(result, out)
    if args.plot:
        from .plot import plot_simulation  # noqa: PLC0415 - matplotlib is an optional extra

        plot_simulation(objective, result, args.plot)
    return 0
