"""A picture of the recap: per phase its score, and its time used against its budget (PNG)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# A phase "ran over" when it used more than this share of its budget.
_OVERRUN_RATIO = 1.25
_BUDGET_COLOUR = "#cccccc"
_WITHIN_COLOUR = "#337ab7"
_OVER_COLOUR = "#d9534f"


def _used_colour(used: float, budget: float) -> str:
    return _OVER_COLOUR if used > budget * _OVERRUN_RATIO else _WITHIN_COLOUR


def recap_figure(recap: dict) -> Figure:
    """Build the recap's two-panel figure: scores on the left, minutes used vs budget on the right."""
    names = [p.get("name", p["phase"]) for p in recap["phases"]]
    scores = [p["score"] for p in recap["phases"]]
    used = [p["minutes_used"] for p in recap["phases"]]
    budget = [p["minutes_budget"] for p in recap["phases"]]
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)  # so that callers can draw it and measure what is on it
    left, right = fig.subplots(1, 2)
    colours = ["#d9534f", "#f0ad4e", "#5bc0de", "#5cb85c"]
    y = list(range(len(names)))
    left.barh(y, scores, color=[colours[s - 1] for s in scores])
    left.set_yticks(y, names)
    left.invert_yaxis()
    left.set_xlim(0, 4)
    left.set_xticks([1, 2, 3, 4])
    left.set_title("Score (1-4)")
    for yi, s in zip(y, scores, strict=True):
        left.text(s - 0.1, yi, str(s), va="center", ha="right", color="white", fontweight="bold")
    right.barh([v - 0.2 for v in y], budget, height=0.4, color=_BUDGET_COLOUR, label="_budget")
    right.barh(
        [v + 0.2 for v in y],
        used,
        height=0.4,
        color=[_used_colour(u, b) for u, b in zip(used, budget, strict=True)],
        label="_used",
    )
    right.set_yticks(y, [""] * len(y))
    right.invert_yaxis()
    right.set_title("Minutes used vs budget")
    right.set_xlabel("minutes")
    pct = f"{_OVERRUN_RATIO:.0%}"
    # The legend always shows every colour, whatever the data, and sits under the panel, outside
    # the plot area, so it never covers a bar.
    right.legend(
        handles=[
            Patch(facecolor=_BUDGET_COLOUR, label="budget"),
            Patch(facecolor=_WITHIN_COLOUR, label=f"used (within {pct} of budget)"),
            Patch(facecolor=_OVER_COLOUR, label=f"used (over {pct} of budget)"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=1,
        frameon=False,
        fontsize="small",
    )
    fig.suptitle(
        f"{recap.get('title', recap['problem'])}: {recap['overall']}/100 ({recap['verdict'].replace('_', ' ')})"
    )
    fig.tight_layout()
    return fig


def recap_chart_png(recap: dict) -> bytes:
    """Render the recap's phases as a two-panel PNG."""
    buf = io.BytesIO()
    recap_figure(recap).savefig(buf, format="png")
    return buf.getvalue()
