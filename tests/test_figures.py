"""Every figure kind, drawn at the size the docs show it (each kind's own size) with Agg, is
checked from matplotlib's bounding boxes (figcheck): no text overlaps another or leaves the
canvas, no legend covers data, every legend entry looks like its artist. Small networks
keep it fast. Then each check is shown to see its defect (put back on purpose), and each
fix of the figures is pinned by a test that fails without it."""

import numpy as np
import pytest
from figcheck import legend_cover_problems, legend_style_problems, problems, render, text_problems
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import gradsim
from gradsim.report.figures.registry import plot_result
from gradsim.report.figures.sweep import plot_heatmap, plot_lines
from gradsim.report.figures.theory import plot_spectrum
from gradsim.report.figures.train_scales import VERDICT_COLORS

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


def _one_panel() -> dict:
    """The README's sweep: one panel of three depths, its title as long as a base gets."""
    agg = _aggregate()
    depths = [10, 20, 100]
    points = [p | {"values": {k: v for k, v in p["values"].items() if k != "act"}}
              for p in agg["points"]
              if p["values"]["act"] == "relu" and p["values"]["depth"] in depths]  # fmt: skip
    base = agg["base"] | {"activation": "relu", "init": "he_normal", "width": 64}
    return agg | {"axes": {"depth": depths, "gain": agg["axes"]["gain"]}, "base": base,
                  "points": points}  # fmt: skip


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
    # a format's overflow line across the top, the curves everywhere else: the legend beside
    "run float16, no free place": lambda: plot_result(
        gradsim.simulate(
            depth=200, width=16, batch=16, residual=True, norm="batch", dtype="float16"
        ).to_dict()
    ),
    # the mark of the layer where plain float16 overflows, through the lower left corner
    "run float16, a layer marked": lambda: plot_result(
        gradsim.simulate(depth=200, width=64, batch=16, residual=True, dtype="float16").to_dict()
    ),
    "compare": lambda: plot_result(_compare(["he", "xavier", "torch_default", "ones"], depth=100)),
    "compare, bfloat16": lambda: plot_result(
        _compare(["he", "normal"], depth=40, dtype="bfloat16")
    ),
    "compare, every init": lambda: plot_result(_compare(list(gradsim.INITIALIZERS), depth=60)),
    # the end labels beside the panels narrow them: the range note then goes inside the
    # panel, not beside its title (it overlapped (b)'s title at L=40, (a)'s at L=100)
    "compare, every init, L=40": lambda: plot_result(
        _compare(list(gradsim.INITIALIZERS), depth=40)
    ),
    "compare, every init, L=100": lambda: plot_result(
        _compare(list(gradsim.INITIALIZERS), depth=100)
    ),
    "sweep heatmap": lambda: plot_heatmap(_aggregate(), "depth", "gain"),
    "sweep heatmap, one panel": lambda: plot_heatmap(_one_panel(), "depth", "gain"),
    "sweep lines": lambda: plot_lines(_aggregate(), "gain"),
    "sweep lines, one panel": lambda: plot_lines(_one_panel(), "gain"),
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
    # four heatmaps in a row, labels as long as two axes make them beside their verdicts
    "train, four long labels": lambda: plot_result(
        gradsim.train(
            depth=10,
            width=16,
            batch=16,
            samples=64,
            steps=20,
            init=["he", "xavier"],
            lr=[0.01, 30.0],
        ).to_dict()
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


# ---------------------------------------------------------------- what each fix guarantees


def _synthetic_run(act, delta, init="he_normal", nonfinite=None) -> dict:
    """A run dict with the given log10 values per layer (float32)."""
    layers = [{"layer": l, "log10_act_rms": a, "log10_delta_rms": d, "log10_grad_norm": d}
              for l, (a, d) in enumerate(zip(act, delta, strict=True), start=1)]  # fmt: skip
    config = {"depth": len(layers), "width": 8, "widths": [8] * (len(layers) + 1), "batch": 4,
              "activation": "relu", "init": init, "gain": 1.0, "loss": "mse", "seed": 0,
              "dtype": "float32"}  # fmt: skip
    summary = {"verdict": "stable", "forward": "stable", "backward": "stable",
               "nonfinite": nonfinite}  # fmt: skip
    return {"gradsim": gradsim.__version__, "kind": "run", "config": config, "layers": layers,
            "summary": summary}  # fmt: skip


def _synthetic_compare(curves: dict, nonfinite: dict | None = None) -> dict:
    """init name → (act, delta) log10 values per layer."""
    runs = [_synthetic_run(a, d, init=k, nonfinite=(nonfinite or {}).get(k))
            for k, (a, d) in curves.items()]  # fmt: skip
    return {"gradsim": gradsim.__version__, "kind": "compare", "axes": {"init": list(curves)},
            "runs": runs}  # fmt: skip


def _legend(fig) -> dict:
    lg = fig.legends[0]
    return {t.get_text(): h for t, h in zip(lg.get_texts(), lg.legend_handles, strict=True)}


def _lines(ax) -> dict:
    return {ln.get_label(): ln for ln in ax.lines if not ln.get_label().startswith("_")}


L = np.arange(1, 41, dtype=float)


def test_compare_dashes_only_lines_within_the_tolerance_and_the_legend_agrees():
    he = (0.01 * np.sin(L), -0.01 * L)
    d = _synthetic_compare({
        "he": he,
        "copy": (he[0] + 0.01, he[1] - 0.01),  # 2% off: the same line, drawn dashed
        "torch": (he[0] - 1.23, he[1] - 1.23),  # 17× off: a line of its own
        "ones": (1.2 * L, 2.0 * L),  # 10^48 and 10^80: stretches the axes
    })  # fmt: skip
    fig = plot_result(d)
    for ax in fig.axes[:2]:
        lines = _lines(ax)
        assert lines["init=copy"].get_linestyle() == "--"
        assert lines["init=he"].get_linestyle() == lines["init=torch"].get_linestyle() == "-"
    legend = _legend(fig)
    assert legend["init=copy"].get_linestyle() == "--"
    assert legend["init=torch"].get_linestyle() == "-"


def test_compare_clips_a_runaway_line_and_says_where_it_went():
    stable = (0.05 * np.cos(L), -1.0 * L)  # δ down to 10^-40
    d = _synthetic_compare({"he": stable, "ones": (4.0 * L, 8.0 * L)},
                           nonfinite={"ones": {"pass": "forward", "layer": 10}})  # fmt: skip
    fig = plot_result(d)
    tiny, big = (np.log10(float(getattr(np.finfo("float32"), k))) for k in ("tiny", "max"))
    for ax in fig.axes[:2]:
        assert (
            ax.get_ylim()[1] <= big + 0.3 * (big - tiny) + 10
        )  # not 10^320: the window and its pad
        arrows = [ln for ln in ax.lines if ln.get_label() == "_offscale"]
        assert arrows and arrows[0].get_color() == _lines(ax)["init=ones"].get_color()
        assert any("off-scale" in t.get_text() for t in ax.texts)
    # (b): 10^k labels below 10^0 as well as above
    ticks = [t for t in fig.axes[1].get_yticks() if fig.axes[1].get_ylim()[0] <= t]
    assert min(ticks) < 0 < max(ticks)
    # the first inf/NaN: dotted in the run's colour, in the plot and in the legend
    mark = next(ln for ln in fig.axes[0].lines if ln.get_label() == "_nonfinite")
    entry = next(h for t, h in _legend(fig).items() if t.startswith("first inf/NaN"))
    assert to_rgba(entry.get_color()) == to_rgba(mark.get_color())
    assert to_rgba(mark.get_color()) == to_rgba(_lines(fig.axes[0])["init=ones"].get_color())


def test_curve_colours_are_not_the_limits_grey():
    d = _synthetic_compare({f"i{k}": (-1.0 * L + k, -1.0 * L - k) for k in range(17)})
    fig = plot_result(d)
    ax = fig.axes[0]
    limits = {to_rgba(ln.get_color()) for ln in ax.lines if "flow" in ln.get_label()}
    curves = {to_rgba(ln.get_color()) for ln in _lines(ax).values()}
    assert limits and not limits & curves
    assert not any(np.allclose(c[:3], c[0]) for c in curves)  # no grey curve at all
    # 17 runs: each line labelled at its end, beside the panel, instead of a legend
    ends = {t.get_text() for t in ax.texts if t.get_position()[0] > 1}
    assert ends == {f"i{k}" for k in range(17)}


def test_hist_layers_marked_on_the_curves_in_colours_of_their_own():
    fig = plot_result(gradsim.simulate(depth=30, init="xavier", hist=True, **SMALL).to_dict())
    ax_a, ax_b, ax_c, ax_d = fig.axes
    layer_colors = {p.get_label(): to_rgba(p.get_edgecolor()) for p in ax_d.patches
                    if p.get_label().startswith("layer")}  # fmt: skip
    quantity = {to_rgba(ln.get_color()) for ax in (ax_a, ax_b) for ln in _lines(ax).values()}
    assert layer_colors and not set(layer_colors.values()) & quantity
    for ax in (ax_a, ax_b):
        marks = [ln for ln in ax.lines if ln.get_label() == "_sampled"]
        assert sorted(int(m.get_xdata()[0]) for m in marks) == sorted(
            int(k.split()[1]) for k in layer_colors
        )
        assert {to_rgba(m.get_color()) for m in marks} == set(layer_colors.values())
    # the x-range hugs the non-empty bins
    for ax in (ax_c, ax_d):
        filled = [e for p in ax.patches if p.get_label().startswith("layer")
                  for e in _filled_edges(p)]  # fmt: skip
        lo, hi = ax.get_xlim()
        span = max(filled) - min(filled)
        assert min(filled) - 0.05 * span <= lo <= min(filled)
        assert max(filled) <= hi <= max(filled) + 0.05 * span


def _filled_edges(patch) -> list:
    values, edges, _ = patch.get_data()
    nz = np.flatnonzero(values > 0)
    return [edges[nz[0]], edges[nz[-1] + 1]] if nz.size else []


def test_heatmap_in_decades_with_two_marks_and_the_right_plural():
    agg = _aggregate()
    fig = plot_heatmap(agg, "depth", "gain")
    mesh = fig.axes[0].collections[0]
    assert type(mesh.norm).__name__ == "Normalize"  # linear in log10 units
    assert mesh.norm.vmin == -mesh.norm.vmax
    cbar = fig.axes[-1]
    ticks = [t for t in cbar.get_yticks() if cbar.get_ylim()[0] <= t <= cbar.get_ylim()[1]]
    assert len(set(np.round(np.diff(ticks), 9))) == 1  # evenly spaced
    assert "log_{10}" in cbar.get_ylabel() and "decades" in cbar.get_ylabel()
    relu = fig.axes[1]
    marks = {ln.get_label(): ln for ln in relu.lines}
    zeros = next(k for k in marks if k.startswith("δ = 0"))
    nonfinite = next(k for k in marks if k.startswith("inf/NaN"))
    assert len(marks[zeros].get_xdata()) == 2 and len(marks[nonfinite].get_xdata()) == 1
    assert marks[zeros].get_marker() != marks[nonfinite].get_marker()
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {zeros, nonfinite}
    assert "3 seeds" in fig.get_suptitle()
    assert "1 seed " in plot_heatmap(agg | {"seeds": 1}, "depth", "gain").get_suptitle()


def test_phase_markers_clear_of_the_frame_and_above_the_measured_runs():
    overlay = _compare(["lecun_normal"], act="tanh", gain=[0.7, 1.0], depth=10)
    fig = plot_result(gradsim.phase(act="tanh", grid=12, overlay=overlay).to_dict())
    ax = fig.axes[0]
    inits = [ln for ln in ax.lines if ln.get_marker() not in ("o", "None") or ln.get_zorder() == 8]
    measured = [ln for ln in ax.lines if ln.get_zorder() == 7]
    assert inits and measured
    assert min(ln.get_zorder() for ln in inits) > max(ln.get_zorder() for ln in measured)
    lo = ax.get_ylim()[0]
    assert lo < 0 and all(ln.get_ydata()[0] > lo for ln in inits)  # σ_b² = 0: off the frame
    assert ax.get_xlim()[0] < 0
    verdict = {to_rgba(ln.get_color()) for ln in measured}
    assert not verdict & {to_rgba(ln.get_color()) for ln in inits}


def test_spectrum_is_the_whole_cumulative_distribution():
    d = gradsim.spectrum(depth=8, width=32, act="relu").to_dict()
    sv = np.array([v for row in d["singular_values"] for v in row], float)
    fig = plot_result(d)
    ax = fig.axes[0]
    (line,) = _lines(ax).values()
    x, y = line.get_xdata(), line.get_ydata()
    assert y[-1] == pytest.approx(1.0)  # every value counted
    assert y[0] == pytest.approx(np.mean(sv == 0))  # exact zeros: where the curve starts
    lo, hi = ax.get_xlim()
    assert lo <= x.min() and x.max() <= hi  # nothing outside the plot
    assert "≤" in ax.get_ylabel() or "leq" in ax.get_ylabel()


def test_train_one_configuration_one_full_heatmap_and_colours_apart_from_verdicts():
    d = gradsim.train(depth=4, width=16, batch=16, samples=64, steps=20).to_dict()
    fig = plot_result(d)
    heat = [ax for ax in fig.axes if ax.collections and ax.get_ylabel() == "layer $l$"]
    assert len(heat) == 1
    hidden = [ax for ax in fig.axes if not ax.get_visible()]
    assert not hidden  # no empty half-row
    assert heat[0].get_xlim() == (0, max(d["runs"][0]["steps"]))  # no blank strip
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert all("\n" not in t for t in titles if t.startswith("(b)"))
    red = to_rgba(VERDICT_COLORS["stalled"])
    d = gradsim.train(depth=4, width=16, batch=16, samples=64, steps=10,
                      init=["he", "xavier", "lecun", "orthogonal", "zeros"]).to_dict()  # fmt: skip
    fig = plot_result(d)
    assert red not in {to_rgba(ln.get_color()) for ln in _lines(fig.axes[0]).values()}


def test_train_first_loss_far_above_the_rest_is_marked_off_scale():
    """Batch norm evaluated before any step with running statistics at μ̂ = 0, σ̂² = 1 gives
    an unnormalized network's loss (10^34 for a deep residual net): the panel keeps the
    curves' range and marks that first point off-scale instead of squashing them."""
    d = gradsim.train(depth=4, width=16, batch=16, samples=64, steps=20, norm="batch",
                      lr=[0.01, 0.02]).to_dict()  # fmt: skip
    d["runs"][0]["loss"][0] = 1.9e34
    fig = plot_result(d)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 1e10  # the range follows the steps after the first
    notes = [t.get_text() for t in ax.texts if "off-scale" in t.get_text()]
    assert notes and "1.9e+34" in notes[0] and "running statistics" in notes[0]
    assert problems(fig) == []


def test_phase_whose_critical_line_is_off_the_grid_says_so_and_lays_out():
    """sigmoid's critical line lies near σ_w² ≈ 103: on a grid to 4 the whole view is ordered.
    Its label stays in view (it was drawn at the middle of 0…103, off the axes, and the
    layout collapsed with a warning), and the legend says where the line is."""
    import warnings

    fig = plot_result(gradsim.phase(act="sigmoid", grid=6, sigma_w2=(0, 4)).to_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert problems(fig) == []
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["ordered\n$\\chi_1 < 1$: gradients vanish"], texts
    entries = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert any(e.startswith("critical line") and "off the grid" in e and "10" in e
               for e in entries), entries  # fmt: skip
    fig = plot_result(gradsim.phase(act="tanh", grid=6).to_dict())  # the line in view
    entries = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert "critical line $\\chi_1 = 1$" in entries, entries


def test_phase_labels_readable_on_their_regions():
    """White on the colour map's dark cells; dark on the light grey where the length
    diverges (relu's right side: 'exploding' was white on 80% grey)."""
    from matplotlib.colors import to_rgb

    fig = plot_result(gradsim.phase(act="relu", grid=8).to_dict())
    shade = {t.get_text().split("\n")[0]: sum(to_rgb(t.get_color())) / 3 for t in fig.axes[0].texts}
    assert shade["ordered"] == 1.0 and shade["exploding"] < 0.3, shade


def test_many_diverged_runs_share_one_note():
    """Four runs diverged at steps 4–7: one note says so in the loss panel (a note each
    crowded the panel's corner and overlapped); each keeps its × (the legend names it)."""
    d = gradsim.train(init=["orthogonal", "lecun", "he", "xavier"], lr=10.0, task="blobs",
                      depth=10, optimizer="momentum", width=16, batch=16, samples=64,
                      steps=20).to_dict()  # fmt: skip
    assert sum(r["verdict"] == "diverged" for r in d["runs"]) == 4
    fig = plot_result(d)
    assert problems(fig) == []
    loss = next(ax for ax in fig.axes if ax.get_title(loc="left") == "(a) loss")
    notes = [t.get_text() for t in loss.texts]
    assert notes == ["4 runs diverged at steps 4–7\n(×: each one's last finite loss)"], notes
    marks = [ln for ln in loss.lines if ln.get_label() == "_diverged"]
    assert len(marks) == 4
