"""ChartRenderer with matplotlib (the optional ``plot`` extra): PNG bytes, no files."""

from __future__ import annotations

import io
import threading

from incident_operator.domain.postmortem import ChartData

_LOCK = threading.Lock()
"""pyplot keeps global state: one figure at a time."""
STAGGER = 5
"""Label heights cycled through: one per moment (started ... resolved), so none overlap."""


class MatplotlibCharts:
    def render(self, chart: ChartData) -> bytes | None:
        try:
            import matplotlib  # noqa: PLC0415 - optional dependency

            matplotlib.use("Agg")
            import matplotlib.dates as mdates  # noqa: PLC0415
            import matplotlib.pyplot as plt  # noqa: PLC0415
        except ImportError:
            return None
        with _LOCK:
            fig, (ratio_ax, budget_ax) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
            try:
                if chart.ratio:
                    ratio_ax.plot(
                        [t for t, _ in chart.ratio], [v for _, v in chart.ratio], color="tab:red"
                    )
                ratio_ax.axhline(1 - chart.target, linestyle="--", color="grey", linewidth=0.8)
                ratio_ax.set_ylabel("error ratio (5m)")
                if chart.remaining:
                    budget_ax.plot(
                        [t for t, _ in chart.remaining],
                        [v * 100 for _, v in chart.remaining],
                        color="tab:blue",
                    )
                budget_ax.set_ylabel("error budget remaining (%)")
                for axis in (ratio_ax, budget_ax):
                    axis.axvspan(chart.start, chart.end, color="tab:orange", alpha=0.08)
                    for _label, at in chart.moments:
                        axis.axvline(at, linestyle=":", color="black", linewidth=0.8)
                # Staggered in height, horizontal, on a white box: five moments minutes apart
                # would otherwise print over each other into one unreadable block.
                for i, (label, at) in enumerate(chart.moments):
                    ratio_ax.annotate(
                        f"{label} {at:%H:%M}",
                        (mdates.date2num(at), 0.97 - (i % STAGGER) * 0.16),  # type: ignore[no-untyped-call]
                        xycoords=("data", "axes fraction"),
                        fontsize=8,
                        va="top",
                        ha="left",
                        xytext=(3, 0),
                        textcoords="offset points",
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "grey", "lw": 0.5},
                    )
                ratio_ax.set_title(f"SLO {chart.slo}: target {chart.target * 100:g}%")
                budget_ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))  # type: ignore[no-untyped-call]
                budget_ax.set_xlabel("UTC")
                fig.tight_layout()
                out = io.BytesIO()
                fig.savefig(out, format="png", dpi=80)
                return out.getvalue()
            finally:
                plt.close(fig)
