"""The recap chart: a legend that never covers a bar, and colours that always mean the same."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_hex

from bot.chart import BUDGET_COLOUR, LEGEND, OVER_COLOUR, USED_COLOUR, recap_chart_png, recap_figure

PHASES = ["requirements", "core_entities", "api", "data_flow", "high_level_design", "deep_dives"]


def recap(used: list[float], budgets: list[float]) -> dict:
    return {
        "problem": "top-k",
        "title": "Top K",
        "overall": 61,
        "verdict": "lean_no_hire",
        "phases": [
            {
                "phase": p,
                "name": p.replace("_", " ").title(),
                "score": 1 + i % 4,
                "minutes_used": u,
                "minutes_budget": b,
            }
            for i, (p, u, b) in enumerate(zip(PHASES, used, budgets, strict=False))
        ],
    }


CASES = {
    "deep dives far over": recap([4, 2, 5, 4, 12, 30], [5, 2, 5, 5, 12, 10]),
    "all short": recap([0.5, 0.2, 0.1, 0.3, 0.4, 0.2], [5, 2, 5, 5, 12, 10]),
    "five phases, all over": recap([9, 5, 9, 25, 20], [5, 2, 5, 12, 10]),
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_the_legend_covers_no_bar(data):
    fig = recap_figure(data)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    right = fig.axes[1]
    box = right.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for ax in fig.axes for patch in ax.patches]
    assert bars and not [bar for bar in bars if box.overlaps(bar)]


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_the_legend_names_every_colour_the_same_way_on_every_chart(data):
    fig = recap_figure(data)
    legend = fig.axes[1].get_legend()
    entries = {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }
    assert entries == {label: colour for label, colour in LEGEND}
    drawn = {to_hex(p.get_facecolor()) for p in fig.axes[1].patches}
    assert drawn <= {BUDGET_COLOUR, USED_COLOUR, OVER_COLOUR}


def test_a_phase_far_over_budget_is_drawn_in_the_over_colour_and_others_in_the_used_colour():
    fig = recap_figure(CASES["deep dives far over"])
    used_bars = fig.axes[1].patches[len(PHASES) :]
    colours = [to_hex(p.get_facecolor()) for p in used_bars]
    assert colours[-1] == OVER_COLOUR and colours[0] == USED_COLOUR


def test_the_png_is_a_real_picture():
    png = recap_chart_png(CASES["all short"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
