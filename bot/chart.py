"""A picture of the recap: per phase its score, and its time used against its budget (PNG)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

SCORE_COLOURS = ["#d9534f", "#f0ad4e", "#5bc0de", "#5cb85c"]
BUDGET_COLOUR = "#cccccc"
USED_COLOUR = "#337ab7"
OVER_COLOUR = "#d9534f"
OVER_FACTOR = 1.25  # a phase that used more than this share of its budget is drawn as over
LEGEND = (
    ("budget", BUDGET_COLOUR),
    ("used", USED_COLOUR),
    (f"used, over {OVER_FACTOR:.0%} of budget", OVER_COLOUR),
)


def used_colour(used: float, budget: float) -> str:
    """The colour of a phase's "used" bar: over colour past OVER_FACTOR of its budget."""
    return OVER_COLOUR if used > budget * OVER_FACTOR else USED_COLOUR


def recap_figure(recap: dict) -> Figure:
    """The recap's phases as a two-panel figure; the legend sits under the bars, never on them."""
    names = [p.get("name", p["phase"]) for p in recap["phases"]]
    scores = [p["score"] for p in recap["phases"]]
    used = [p["minutes_used"] for p in recap["phases"]]
    budget = [p["minutes_budget"] for p in recap["phases"]]
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    y = list(range(len(names)))
    left.barh(y, scores, color=[SCORE_COLOURS[s - 1] for s in scores])
    left.set_yticks(y, names)
    left.invert_yaxis()
    left.set_xlim(0, 4)
    left.set_xticks([1, 2, 3, 4])
    left.set_title("Score (1-4)")
    for yi, s in zip(y, scores, strict=True):
        left.text(s - 0.1, yi, str(s), va="center", ha="right", color="white", fontweight="bold")
    right.barh([v - 0.2 for v in y], budget, height=0.4, color=BUDGET_COLOUR)
    right.barh(
        [v + 0.2 for v in y],
        used,
        height=0.4,
        color=[used_colour(u, b) for u, b in zip(used, budget, strict=True)],
    )
    right.set_yticks(y, [""] * len(y))
    right.invert_yaxis()
    right.set_title("Minutes used vs budget")
    # The same three entries on every chart, whatever the data, below the panel: the colours
    # always mean the same thing and the legend never covers a bar.
    right.legend(
        handles=[Patch(color=colour, label=label) for label, colour in LEGEND],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=3,
        fontsize="small",
        frameon=False,
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
