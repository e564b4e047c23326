"""The recap chart: a legend that never hides a bar, and a colour key that always explains the bars."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from bot.chart import recap_chart_png, recap_figure

PHASES = [
    ("requirements", "Requirements"),
    ("estimation", "Estimation"),
    ("api", "API"),
    ("data_model", "Data Model"),
    ("high_level", "High-Level Design"),
    ("deep_dives", "Deep Dives"),
]
EXPECTED_LABELS = ["budget", "used (within 125% of budget)", "used (over 125% of budget)"]


def make_recap(minutes: list[tuple[float, float]], phases=PHASES) -> dict:
    """A recap whose phases used/budgeted the given (used, budget) minutes, in order."""
    return {
        "problem": "url-shortener",
        "title": "URL Shortener",
        "overall": 72,
        "verdict": "lean_hire",
        "phases": [
            {"phase": pid, "name": name, "score": i % 4 + 1, "minutes_used": u, "minutes_budget": b}
            for i, ((pid, name), (u, b)) in enumerate(zip(phases, minutes, strict=True))
        ],
    }


FIVE_PHASES = [p for p in PHASES if p[0] != "high_level"]
RECAPS = {
    "long deep dives": make_recap([(6.2, 5), (4, 5), (5, 5), (5.5, 5), (8, 10), (30, 10)]),
    "all short": make_recap([(0.5, 5), (0.2, 5), (1, 5), (0.3, 5), (0.4, 10), (0.1, 10)]),
    "all over budget": make_recap([(20, 5), (20, 5), (20, 5), (20, 5), (40, 10), (40, 10)]),
    "five phases, long deep dives": make_recap(
        [(6.2, 5), (4, 5), (5, 5), (5.5, 5), (30, 10)], phases=FIVE_PHASES
    ),
    "five phases, all within budget": make_recap(
        [(5, 5), (5, 5), (5, 5), (5, 5), (10, 10)], phases=FIVE_PHASES
    ),
}


def drawn(recap: dict):
    """The recap's figure, drawn on its Agg canvas so that extents are final."""
    fig = recap_figure(recap)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    fig.canvas.draw()
    return fig


def right_legend(fig):
    legend = fig.axes[1].get_legend()
    assert legend is not None
    return legend


def bars(ax) -> list[Rectangle]:
    return [bar for container in ax.containers for bar in container]


def legend_colours(fig) -> dict[str, str]:
    legend = right_legend(fig)
    return {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }


@pytest.mark.parametrize("case", RECAPS)
def test_the_legend_overlaps_no_bar_in_either_panel(case):
    fig = drawn(RECAPS[case])
    renderer = fig.canvas.get_renderer()
    legend_box = right_legend(fig).get_window_extent(renderer)
    all_bars = bars(fig.axes[0]) + bars(fig.axes[1])
    assert len(all_bars) == 3 * len(RECAPS[case]["phases"])
    for bar in all_bars:
        assert not legend_box.overlaps(bar.get_window_extent(renderer)), case


@pytest.mark.parametrize("case", RECAPS)
def test_the_legend_lies_inside_the_image(case):
    fig = drawn(RECAPS[case])
    legend_box = right_legend(fig).get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.x0 <= legend_box.x0 and legend_box.x1 <= fig.bbox.x1
    assert fig.bbox.y0 <= legend_box.y0 and legend_box.y1 <= fig.bbox.y1


@pytest.mark.parametrize("case", RECAPS)
def test_the_legend_shows_the_same_three_entries_whatever_the_data(case):
    fig = drawn(RECAPS[case])
    assert [t.get_text() for t in right_legend(fig).get_texts()] == EXPECTED_LABELS


def test_the_legend_colours_are_fixed_and_distinct():
    colours = [legend_colours(drawn(recap)) for recap in RECAPS.values()]
    assert all(c == colours[0] for c in colours)
    assert len(set(colours[0].values())) == 3


@pytest.mark.parametrize("case", RECAPS)
def test_each_bar_has_the_colour_of_the_legend_entry_that_describes_it(case):
    recap = RECAPS[case]
    fig = drawn(recap)
    key = legend_colours(fig)
    right = fig.axes[1]
    budget_bars, used_bars = right.containers
    for phase, budget_bar, used_bar in zip(recap["phases"], budget_bars, used_bars, strict=True):
        assert budget_bar.get_width() == phase["minutes_budget"]
        assert used_bar.get_width() == phase["minutes_used"]
        assert to_hex(budget_bar.get_facecolor()) == key["budget"]
        over = phase["minutes_used"] > 1.25 * phase["minutes_budget"]
        expected = key["used (over 125% of budget)" if over else "used (within 125% of budget)"]
        assert to_hex(used_bar.get_facecolor()) == expected, phase["phase"]


def test_a_phase_at_exactly_125_percent_counts_as_within_budget():
    recap = make_recap([(6.25, 5), (4, 5), (5, 5), (5, 5), (10, 10), (12.5, 10)])
    fig = drawn(recap)
    key = legend_colours(fig)
    _, used_bars = fig.axes[1].containers
    assert {to_hex(b.get_facecolor()) for b in used_bars} == {key["used (within 125% of budget)"]}


def test_the_png_has_the_png_signature_and_real_content():
    png = recap_chart_png(RECAPS["long deep dives"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def test_the_png_is_the_figure_at_its_full_size():
    png = recap_chart_png(RECAPS["all short"])
    fig = recap_figure(RECAPS["all short"])
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert (width, height) == (round(fig.bbox.width), round(fig.bbox.height))
