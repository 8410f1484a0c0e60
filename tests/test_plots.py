"""Figures: the numbers drawn are the JSON's, null layers are skipped, the dtype's range and
the first inf/NaN are marked, files are valid, bad input is one GradsimError."""

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import gradsim
from gradsim.errors import GradsimError
from gradsim.report.figures.common import FIGURE_SUFFIXES, check_figure_path, save_figure
from gradsim.report.figures.compare import plot_compare
from gradsim.report.figures.panels import ACT, DELTA, GRAD
from gradsim.report.figures.registry import plot_result
from gradsim.report.figures.run import plot_run

SMALL = {"width": 16, "batch": 8}


def run_dict(**options) -> dict:
    return gradsim.simulate(**(SMALL | options)).to_dict()


def compare_dict(axis: str, values: list, **options) -> dict:
    runs = [run_dict(**options, **{axis: v}) for v in values]
    return {"gradsim": gradsim.__version__, "kind": "compare",
            "axes": {axis: [r["config"][axis] for r in runs]}, "runs": runs}  # fmt: skip


def synthetic_run(act, delta, grad=None, dtype="float32", nonfinite=None) -> dict:
    """A run dict with the given log10 values per layer (None: null in the JSON)."""
    grad = grad if grad is not None else delta
    rows = zip(act, delta, grad, strict=True)
    layers = [{"layer": l, "log10_act_rms": a, "log10_delta_rms": d, "log10_grad_norm": g}
              for l, (a, d, g) in enumerate(rows, start=1)]  # fmt: skip
    config = {"depth": len(layers), "width": 8, "widths": [8] * (len(layers) + 1), "batch": 4,
              "activation": "relu", "init": "he_normal", "gain": 1.0, "loss": "mse", "seed": 0,
              "dtype": dtype}  # fmt: skip
    summary = {"verdict": "stable", "forward": "stable", "backward": "stable",
               "nonfinite": nonfinite, "underflow": None}  # fmt: skip
    return {"gradsim": gradsim.__version__, "kind": "run", "config": config, "layers": layers,
            "summary": summary}  # fmt: skip


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}


def expected(d: dict, field: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in d["layers"] if r[field] is not None]
    return np.array([r["layer"] for r in rows], float), np.array([r[field] for r in rows])


@pytest.fixture(scope="module")
def xavier():
    return run_dict(depth=40, init="xavier")


def test_run_draws_the_json_numbers(xavier):
    fig = plot_run(xavier)
    ax_a, ax_b = fig.axes
    a, b = lines_by_label(ax_a), lines_by_label(ax_b)
    assert set(a) == {ACT[1]} and set(b) == {DELTA[1], GRAD[1]}
    for line, (field, _) in ((a[ACT[1]], ACT), (b[DELTA[1]], DELTA), (b[GRAD[1]], GRAD)):
        x, y = expected(xavier, field)
        np.testing.assert_array_equal(line.get_xdata(), x)
        np.testing.assert_array_equal(line.get_ydata(), y)
    # the x-axis runs over the layers 1…L and the title carries the verdict
    assert ax_a.get_xticks()[0] == 1 and ax_a.get_xticks()[-1] == 40
    assert "VANISHING" in fig.get_suptitle() and "xavier_uniform" in fig.get_suptitle()


def test_y_axis_is_log10_values_labelled_as_powers_of_ten():
    # 10^400 is beyond float64: it must be drawn as its exponent, never as 10**400
    d = synthetic_run([300.0, 350.0, 400.0], [0.0, -1.0, -2.0])
    ax = plot_run(d).axes[0]
    np.testing.assert_array_equal(lines_by_label(ax)[ACT[1]].get_ydata(), [300, 350, 400])
    lo, hi = ax.get_ylim()
    assert lo <= 300 and hi >= 400
    assert ax.yaxis.get_major_formatter()(400, 0) == "$10^{400}$"


def test_null_layers_are_skipped():
    nan_row = [0.5, None, -0.5, None, -1.5]
    d = synthetic_run(nan_row, [None] * 5, grad=[1.0, 1.1, None, 1.3, 1.4])
    fig = plot_run(d)
    ax_a, ax_b = fig.axes
    act = lines_by_label(ax_a)[ACT[1]]
    np.testing.assert_array_equal(act.get_xdata(), [1, 3, 5])
    np.testing.assert_array_equal(act.get_ydata(), [0.5, -0.5, -1.5])
    assert DELTA[1] not in lines_by_label(ax_b)  # every δ is null: no line, no crash
    np.testing.assert_array_equal(lines_by_label(ax_b)[GRAD[1]].get_xdata(), [1, 2, 4, 5])
    # a panel with nothing finite says so instead of drawing an empty frame
    empty = plot_run(synthetic_run([None] * 3, [None] * 3)).axes[0]
    assert "nothing to draw" in " ".join(t.get_text() for t in empty.texts)


def test_first_nonfinite_layer_is_marked():
    d = run_dict(depth=12, act="elu", init="normal", dtype="float16")
    nf = d["summary"]["nonfinite"]
    assert nf is not None and not nf["tracked"]
    fig = plot_result(d)
    for ax in fig.axes:
        vlines = [ln for ln in ax.lines if ln.get_label() == "_nonfinite"]
        assert [ln.get_xdata()[0] for ln in vlines] == [nf["layer"]]
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"layer {nf['layer']}" in texts and "inf/NaN" in texts
    # tracked: gradsim kept the true magnitudes, a plain float32 computation would overflow
    tracked = synthetic_run([10.0, 30.0, 50.0], [0.0] * 3,
                            nonfinite={"pass": "forward", "layer": 2, "tracked": True})  # fmt: skip
    texts = " ".join(t.get_text() for t in plot_run(tracked).axes[0].texts)
    assert "plain float32 overflows here" in texts


def test_dtype_limits_drawn_near_the_data_and_noted_when_far():
    tiny, big = np.log10(np.finfo(np.float32).tiny), np.log10(np.finfo(np.float32).max)
    # the signal crosses float32's smallest normal: a line there, and the data not squashed
    d = synthetic_run(list(np.linspace(-1, -60, 60)), [0.0] * 60)
    ax = plot_run(d).axes[0]
    under = [ln for ln in ax.lines if ln.get_label() == "_float32 underflow"]
    assert len(under) == 1 and under[0].get_ydata()[0] == pytest.approx(tiny)
    assert not [ln for ln in ax.lines if ln.get_label() == "_float32 overflow"]
    assert ax.get_ylim()[1] < 10  # float32's max (10^38) is noted, not drawn
    assert "max" in ax.get_title(loc="right") or any("max" in t.get_text() for t in ax.texts)
    # a stable run far from both limits: no limit line, one note naming the range
    ax = plot_run(synthetic_run([0.1, -0.2, 0.0], [-1.0, -1.2, -1.1])).axes[0]
    assert not [ln for ln in ax.lines if "flow" in ln.get_label()]
    assert "float32 range" in ax.get_title(loc="right")
    assert ax.get_ylim()[0] > tiny and ax.get_ylim()[1] < big


def test_compare_one_line_per_run_per_panel_same_color():
    d = compare_dict("init", ["he", "xavier", "normal"], depth=20, act="relu")
    fig = plot_compare(d)
    ax_a, ax_b = fig.axes
    labels = ["init=he_normal", "init=xavier_uniform", "init=normal"]
    a, b = lines_by_label(ax_a), lines_by_label(ax_b)
    assert list(a) == labels and list(b) == labels
    for label, run in zip(labels, d["runs"], strict=True):
        assert a[label].get_color() == b[label].get_color()
        np.testing.assert_array_equal(a[label].get_ydata(), expected(run, ACT[0])[1])
        np.testing.assert_array_equal(b[label].get_ydata(), expected(run, DELTA[0])[1])
    assert len({a[label].get_color() for label in labels}) == 3
    # the legend names the runs; the title keeps what they share and leaves out the axis
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == legend[:3]
    assert "relu" in fig.get_suptitle() and "he_normal" not in fig.get_suptitle()


def test_compare_labels_name_every_varying_axis():
    runs = [run_dict(depth=6, init=i, act=a) for i in ("he", "xavier") for a in ("relu", "tanh")]
    d = {"gradsim": gradsim.__version__, "kind": "compare",
         "axes": {"init": ["he_normal", "xavier_uniform"], "activation": ["relu", "tanh"]},
         "runs": runs}  # fmt: skip
    labels = list(lines_by_label(plot_result(d).axes[0]))
    assert labels[0] == "init=he_normal, act=relu" and labels[3] == "init=xavier_uniform, act=tanh"


def synthetic_hist(layers=(1, 5, 10)) -> dict:
    rng = np.random.default_rng(0)
    act, delta = [], []
    edges_a, edges_d = np.linspace(-1, 1, 31), np.linspace(-8, 0, 31)
    for k, l in enumerate(layers):
        h = np.tanh(rng.normal(0, 1 / (k + 1), 500))
        g = np.log10(np.abs(rng.normal(0, 10.0**-k, 500)))
        act.append(
            {
                "layer": l,
                "edges": edges_a.tolist(),
                "counts": np.histogram(h, edges_a)[0].tolist(),
                "log10_scale": 0.0,
            }
        )
        delta.append({"layer": l, "edges": edges_d.tolist(),
                      "counts": np.histogram(g, edges_d)[0].tolist(), "zeros": 7})  # fmt: skip
    return {"act": act, "delta": delta}


def test_hist_row_of_step_histograms_colored_per_layer():
    d = synthetic_run(list(np.linspace(0, -1, 10)), [-2.0] * 10) | {"hist": synthetic_hist()}
    fig = plot_run(d)
    assert len(fig.axes) == 4
    ax_c, ax_d = fig.axes[2], fig.axes[3]

    def steps(ax):
        return {p.get_label(): p for p in ax.patches if p.get_label().startswith("layer")}

    c, dd = steps(ax_c), steps(ax_d)
    assert list(c) == list(dd) == ["layer 1", "layer 5", "layer 10"]
    for label in c:
        assert c[label].get_edgecolor() == dd[label].get_edgecolor()
        # drawn as shares of the layer's values (the zeros of δ count in the total)
        values, edges, _ = c[label].get_data()
        assert values.sum() == pytest.approx(1.0)
        np.testing.assert_array_equal(edges, np.linspace(-1, 1, 31))
        assert dd[label].get_data()[0].sum() == pytest.approx(1 - 7 / 507, abs=0.02)
    assert len({p.get_edgecolor() for p in c.values()}) == 3
    assert "zeros" in ax_d.get_title(loc="right")
    # a broken entry (null edges) is left out, not a crash
    bad = synthetic_hist()
    bad["act"][0]["edges"][3] = None
    d["hist"] = bad
    assert "layer 1" not in steps(plot_run(d).axes[2])


@pytest.mark.parametrize(
    "bad",
    [{}, [], "run", {"kind": "run"}, {"gradsim": "0.1.0"}, {"gradsim": "0.1.0", "kind": "sweep"},
     {"gradsim": "0.1.0", "kind": "run", "layers": []}],
)  # fmt: skip
def test_plot_result_rejects_what_is_not_a_gradsim_result(bad):
    with pytest.raises(GradsimError) as e:
        plot_result(bad)
    assert "\n" not in str(e.value)


def test_plot_result_dispatches_on_kind(xavier):
    assert len(plot_result(xavier).axes) == 2
    with pytest.raises(GradsimError, match="compare"):
        plot_compare(xavier)


@pytest.fixture(scope="module")
def figure(xavier):
    return plot_run(xavier)


@pytest.mark.parametrize("suffix", FIGURE_SUFFIXES)
def test_saved_file_is_valid(figure, tmp_path, suffix):
    path = tmp_path / f"fig{suffix}"
    save_figure(figure, path)
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif suffix == ".svg":
        assert ET.fromstring(data).tag.endswith("svg")
    else:
        assert data.startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("name", ["fig.jpg2", "fig", "missing/fig.png"])
def test_bad_figure_path_is_refused_and_nothing_written(figure, tmp_path, name):
    for call in (lambda: check_figure_path(tmp_path / name),
                 lambda: save_figure(figure, tmp_path / name)):  # fmt: skip
        with pytest.raises(GradsimError) as e:
            call()
        assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_figure_suffix_is_case_insensitive(tmp_path):
    assert check_figure_path(tmp_path / "FIG.PNG") == tmp_path / "FIG.PNG"


def test_importing_the_figures_does_not_import_matplotlib():
    # the registry imports every figure module
    code = "import sys, gradsim.report.figures.registry; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_large_depth_stays_readable():
    # 152 layers: ticks at round numbers, from 1 to L, and not crowded
    d = synthetic_run([math.sin(l / 9) for l in range(152)], [-l / 7 for l in range(152)])
    ticks = list(plot_run(d).axes[0].get_xticks())
    assert ticks[0] == 1 and ticks[-1] == 152 and 5 <= len(ticks) <= 10
    assert all(t % 5 == 0 for t in ticks[1:-1])


# ---------------------------------------------------------------- through the CLI
SMALLRUN = ("--depth", 12, "--width", 32, "--batch", 16)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])  # fmt: skip
def test_run_plot_and_redraw_from_json(invoke, tmp_path, suffix, magic):
    fig_path, json_path = tmp_path / f"run{suffix}", tmp_path / "run.json"
    r = invoke("run", *SMALLRUN, "--init", "xavier", "--hist", "--plot", fig_path,
               "--format", "json", "-o", json_path)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert fig_path.read_bytes()[: len(magic)] == magic
    again = tmp_path / f"again{suffix}"
    r = invoke("plot", json_path, "-o", again)
    assert r.exit_code == 0, r.stderr
    assert again.read_bytes()[: len(magic)] == magic
    # the redrawn figure holds the same numbers as the JSON
    d = json.loads(json_path.read_text())
    fig = plot_result(d)
    ys = [line.get_ydata() for ax in fig.axes for line in ax.get_lines()]
    want = [row["log10_delta_rms"] for row in d["layers"]]
    assert any(len(y) == len(want) and np.allclose(y, want) for y in ys)


def test_compare_plot(invoke, tmp_path):
    path = tmp_path / "cmp.png"
    r = invoke("compare", *SMALLRUN, "--init", "he,xavier", "--plot", path)
    assert r.exit_code == 0 and path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "args, words",
    [
        (("run", *SMALLRUN, "--plot", "x.jpg2"), "not a figure format"),
        (("compare", *SMALLRUN, "--init", "he,xavier", "--plot", "nodir/x.png"), "does not exist"),
    ],
)
def test_bad_plot_paths(invoke, tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    r = invoke(*args)
    assert r.exit_code == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["not json", '{"a": 1}', '{"gradsim": "0.1.0", "kind": "x"}'])
def test_plot_rejects_non_results(invoke, tmp_path, content):
    src = tmp_path / "in.json"
    src.write_text(content)
    r = invoke("plot", src, "-o", tmp_path / "out.png")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_hist_numbers_match_the_run():
    import gradsim

    r = gradsim.simulate(depth=20, width=64, batch=32, init="xavier", act="tanh", hist=True)
    h = r.hist
    assert [e["layer"] for e in h["act"]] == [1, 6, 10, 15, 20]
    for e in h["act"]:  # every activation value counted once
        assert sum(e["counts"]) == 32 * 64 and not e.get("log10")
    # deep ReLU under Xavier: layers decades apart are binned by log10|H|, zeros apart
    r = gradsim.simulate(depth=60, width=64, batch=32, init="xavier", hist=True)
    acts = r.hist["act"]
    assert all(e["log10"] for e in acts)
    for e in acts:
        assert sum(e["counts"]) + e["zeros"] == 32 * 64
        centre = np.average(np.asarray(e["edges"][:-1]) + 0.5 * np.diff(e["edges"]),
                            weights=e["counts"])  # fmt: skip
        assert abs(centre - r.layers[e["layer"] - 1].log10_act_rms) < 1.0
    for e in r.hist["delta"]:
        assert sum(e["counts"]) + e["zeros"] == 32 * 64
