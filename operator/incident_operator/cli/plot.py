"""PNG charts of a simulation (matplotlib is the optional `plot` extra)."""

from __future__ import annotations

from pathlib import Path

from incident_operator.domain.durations import format_duration
from incident_operator.domain.simulation import SimulationResult
from incident_operator.domain.slo import Objective


def plot_simulation(objective: Objective, result: SimulationResult, path: Path) -> None:
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SystemExit("--plot needs matplotlib: pip install 'incident-operator[plot]'") from exc
    times = [t / 3600 for t, _ in result.timeline]
    fig, (ratio_ax, burn_ax) = plt.subplots(2, 1, sharex=True, figsize=(10, 7))
    for index, window in enumerate(objective.windows):
        ratios = [
            None if (m := ev.windows[index].measurement) is None else m.error_ratio
            for _, ev in result.timeline
        ]
        burns = [ev.windows[index].burn_rate for _, ev in result.timeline]
        label = format_duration(window)
        ratio_ax.plot(times, ratios, label=label)
        burn_ax.plot(times, burns, label=label)
    for pair in objective.pairs:
        burn_ax.axhline(pair.factor, linestyle="--", linewidth=0.8, color="grey")
        fired = next((r.first_fired_at for r in result.pairs if r.pair == pair), None)
        if fired is not None:
            burn_ax.axvline(fired / 3600, linestyle=":", color="red")
            burn_ax.annotate(
                f"{pair.long_text}/{pair.short_text} fires",
                (fired / 3600, pair.factor),
                fontsize=7,
            )
    ratio_ax.set_ylabel("error ratio")
    burn_ax.set_ylabel("burn rate (x budget)")
    burn_ax.set_xlabel("hours since trace start")
    ratio_ax.legend(title="window", fontsize=7)
    ratio_ax.set_title(f"SLO {objective.target * 100:g}% over {format_duration(objective.window)}")
    burn_ax.set_yscale("symlog", linthresh=1)  # thresholds 1..14.4 stay visible next to 1000
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
