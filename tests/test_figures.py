"""Every figure kind, drawn at the size the docs show it (each kind's own size) with Agg, is
checked from matplotlib's bounding boxes (figcheck): no text overlaps another or leaves the
canvas, no legend covers data, every legend entry looks like its artist. Small networks
keep it fast. The last tests put each defect back on purpose and see its check fail."""

import pytest
from figcheck import legend_cover_problems, legend_style_problems, problems, render, text_problems
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import gradsim
from gradsim.report.figures.registry import plot_result
from gradsim.report.figures.sweep import plot_heatmap, plot_lines
from gradsim.report.figures.theory import plot_spectrum

SMALL = {"width": 16, "batch": 8}


def _compare(values: list, **options) -> dict:
    return gradsim.compare(init=values, **(SMALL | options)).to_dict()


def _aggregate() -> dict:
    """A sweep aggregate over depth × gain × act with every kind of cell: finite medians
    from -40 to +150 decades, δ = 0 (vanishing, no ratio) and inf/NaN (overflow)."""
    depths, gains = [5, 10, 20, 50, 100], [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
    points = []
    for act in ("tanh", "relu"):
        for gi, g in enumerate(gains):
            for d in depths:
                med = (gi - 2) * d**0.9 / 3
                row = {"values": {"depth": d, "gain": g, "act": act}, "runs": 3, "finite": 3,
                       "median": med, "q25": med - 0.5, "q75": med + 0.5, "min": med - 1,
                       "max": med + 1, "stable": 1.0, "vanishing": 0.0, "exploding": 0.0,
                       "overflow": 0.0}  # fmt: skip
                if act == "relu" and g == 0.5 and d >= 50:  # δ = 0: vanishing, no ratio
                    row |= {"median": None, "finite": 0, "vanishing": 1.0, "stable": 0.0}
                if act == "relu" and g == 2.0 and d == 100:  # inf/NaN
                    row |= {"median": None, "finite": 0, "overflow": 1.0, "stable": 0.0}
                points.append(row)
    return {"gradsim": gradsim.__version__, "kind": "sweep",
            "axes": {"depth": depths, "gain": gains, "act": ["tanh", "relu"]},
            "base": {"width": 128, "batch": 64, "init": "xavier_uniform", "loss": "mse",
                     "dtype": "float32"},
            "seeds": 3, "seed": 0, "threshold": 100.0, "points": points}  # fmt: skip


FIGURES = {
    "run": lambda: plot_result(gradsim.simulate(depth=30, **SMALL).to_dict()),
    "run --hist": lambda: plot_result(
        gradsim.simulate(depth=30, init="xavier", hist=True, **SMALL).to_dict()
    ),
    "run overflow": lambda: plot_result(
        gradsim.simulate(depth=60, init="normal", **SMALL).to_dict()
    ),
    "run --theory": lambda: plot_result(
        gradsim.simulate(depth=30, init="xavier", theory=True, **SMALL).to_dict()
    ),
    "compare": lambda: plot_result(_compare(["he", "xavier", "torch_default", "ones"], depth=100)),
    "compare, every init": lambda: plot_result(_compare(list(gradsim.INITIALIZERS), depth=60)),
    "sweep heatmap": lambda: plot_heatmap(_aggregate(), "depth", "gain"),
    "sweep lines": lambda: plot_lines(_aggregate(), "gain"),
    "theory": lambda: plot_result(gradsim.theory(depth=30, init="xavier").to_dict()),
    "phase": lambda: plot_result(
        gradsim.phase(
            act="tanh",
            grid=16,
            overlay=_compare(
                ["lecun_normal"],
                act="tanh",
                gain=[0.7, 1.3, 1.9],
                bias_init="normal",
                bias_std=[0, 0.4],
                depth=20,
            ),
        ).to_dict()
    ),
    "spectrum": lambda: plot_result(gradsim.spectrum(depth=8, width=32, act="tanh").to_dict()),
    "spectra": lambda: plot_spectrum(
        [
            gradsim.spectrum(depth=8, width=32, init="orthogonal", act=a).to_dict()
            for a in ("linear", "tanh", "relu")
        ]
    ),
    "train, one run": lambda: plot_result(
        gradsim.train(depth=4, width=16, batch=16, samples=64, steps=20).to_dict()
    ),
    "train, diverged": lambda: plot_result(
        gradsim.train(depth=4, width=16, batch=16, samples=64, steps=20, lr=[0.01, 30.0]).to_dict()
    ),
    "train, circles": lambda: plot_result(
        gradsim.train(
            task="circles",
            depth=4,
            width=10,
            batch=32,
            samples=64,
            steps=40,
            lr=0.05,
            init=["zeros", "he", "xavier", "lecun"],
        ).to_dict()
    ),
}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_figure_layout(kind):
    assert problems(FIGURES[kind]()) == []


# ---------------------------------------------------------------- each check sees its defect


def _line_figure():
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 10], [0, 10], color="tab:red", label="data")
    return fig, ax


def test_a_legend_over_the_data_is_seen():
    fig, ax = _line_figure()
    ax.legend(loc="center")  # on the diagonal
    assert legend_cover_problems(fig, render(fig))
    fig, ax = _line_figure()
    ax.legend(loc="upper left")  # beside it
    assert not legend_cover_problems(fig, render(fig))


def test_overlapping_texts_and_texts_off_the_canvas_are_seen():
    fig, ax = _line_figure()
    ax.text(5, 5, "one note")
    ax.text(5.2, 5, "another note")
    assert any("overlap" in p for p in text_problems(fig, render(fig)))
    fig, ax = _line_figure()
    t = ax.text(1.05, 0.5, "beyond the right edge of the figure", transform=fig.transFigure)
    t.set_in_layout(False)  # as a label placed by hand, which the layout does not move
    assert any("leaves the canvas" in p for p in text_problems(fig, render(fig)))


def test_a_legend_entry_unlike_its_artist_is_seen():
    fig, ax = _line_figure()
    ax.axvline(5, color="tab:red", linestyle=":", label="_mark")
    ax.legend(handles=[Line2D([], [], color="0.4", linestyle=":", label="first inf/NaN")],
              loc="upper left")  # fmt: skip
    assert legend_style_problems(fig)  # grey in the legend, red in the plot
    fig, ax = _line_figure()
    ax.lines[0].set_linestyle("--")
    ax.legend(handles=[Line2D([], [], color="tab:red", label="data")], loc="upper left")
    assert legend_style_problems(fig)  # solid in the legend, dashed in the plot
    fig, ax = _line_figure()
    ax.legend(loc="upper left")
    assert not legend_style_problems(fig)
