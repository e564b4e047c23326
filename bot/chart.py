"""A picture of the recap: per phase its score, and its time used against its budget (PNG)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402


def recap_chart_png(recap: dict) -> bytes:
    """Render the recap's phases as a two-panel PNG."""
    names = [p.get("name", p["phase"]) for p in recap["phases"]]
    scores = [p["score"] for p in recap["phases"]]
    used = [p["minutes_used"] for p in recap["phases"]]
    budget = [p["minutes_budget"] for p in recap["phases"]]
    fig = Figure(figsize=(9, 4.5), dpi=100)
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
    right.barh([v - 0.2 for v in y], budget, height=0.4, color="#cccccc", label="budget")
    right.barh(
        [v + 0.2 for v in y],
        used,
        height=0.4,
        color=["#d9534f" if u > b * 1.25 else "#337ab7" for u, b in zip(used, budget, strict=True)],
        label="used",
    )
    right.set_yticks(y, [""] * len(y))
    right.invert_yaxis()
    right.set_title("Minutes used vs budget")
    right.legend(loc="lower right")
    fig.suptitle(
        f"{recap.get('title', recap['problem'])}: {recap['overall']}/100 ({recap['verdict'].replace('_', ' ')})"
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
