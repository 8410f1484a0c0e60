"""The report of `gradsim train`: the 80-column table names every run, its verdict and why it
failed; the CSV and the figure carry the JSON's numbers; `gradsim plot` redraws a saved run."""

import copy
import csv
import io
import json
import re
import warnings

import numpy as np
import pytest
from matplotlib.collections import QuadMesh

from gradsim import RunConfig
from gradsim.cli._console import render_text
from gradsim.errors import GradsimError
from gradsim.report.figures.registry import plot_result
from gradsim.report.figures.train import plot_train
from gradsim.report.tables.train import gradients_table, render_train, train_csv
from gradsim.training.config import TrainConfig
from gradsim.training.loop import to_dict, train_all

# he learns, xavier moves slowly, zeros never breaks symmetry, normal×10 overflows
INITS = (("he_normal", 1.0), ("xavier_uniform", 1.0), ("zeros", 1.0), ("normal", 10.0))


def _train(task: str, specs: list[dict], axes: dict, steps: int = 40, lr: float = 0.05) -> dict:
    cfgs = [TrainConfig(net=RunConfig(width=16, batch=16, **s), task=task, steps=steps, lr=lr,
                        samples=256) for s in specs]  # fmt: skip
    runs = train_all(cfgs)
    for run, s in zip(runs, specs, strict=True):
        run.label = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in s.items() if k in axes)  # fmt: skip
    # through JSON, as `gradsim plot` reads it: nulls, no NaN
    return json.loads(json.dumps(to_dict(axes, runs), allow_nan=False))


@pytest.fixture(scope="module")
def blobs() -> dict:
    specs = [{"depth": 6, "init": i, "gain": g} for i, g in INITS]
    return _train("blobs", specs, {"init": [i for i, _ in INITS], "gain": [1.0, 10.0]})


@pytest.fixture(scope="module")
def teacher() -> dict:
    specs = [{"depth": d, "activation": a} for d in (3, 6) for a in ("relu", "tanh")]
    return _train("teacher", specs, {"depth": [3, 6], "activation": ["relu", "tanh"]}, steps=20)


@pytest.fixture(scope="module")
def blobs_fig(blobs):
    return plot_train(blobs)


def by_label(d: dict) -> dict:
    return {r["label"]: r for r in d["runs"]}


def flat(text: str) -> str:
    """The rendered text with its line wraps undone."""
    return " ".join(text.split())


def floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_fixture_has_the_cases_the_report_explains(blobs):
    runs = by_label(blobs)
    assert runs["init=normal gain=10"]["verdict"] == "diverged"
    assert runs["init=normal gain=10"]["nonfinite"] is not None
    assert runs["init=zeros gain=1"]["symmetric_layers"] == [1, 2, 3, 4, 5]
    assert runs["init=zeros gain=1"]["verdict"] == "stalled"


# ---------------------------------------------------------------- table


def test_table_fits_80_columns_and_names_every_run_and_verdict(blobs):
    text = render_text(render_train(blobs))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert blobs["task"].split(":")[0] in text
    for run in blobs["runs"]:
        row = next(line for line in lines if line.startswith(run["label"] + " "))
        assert run["verdict"] in row  # the verdict on the run's own row


def test_table_rows_in_json_order_with_losses_and_half_step(blobs):
    lines = render_text(render_train(blobs)).splitlines()
    rows = [next(i for i, line in enumerate(lines) if line.startswith(r["label"] + " "))
            for r in blobs["runs"]]  # fmt: skip
    assert rows == sorted(rows)
    for r, i in zip(blobs["runs"], rows, strict=True):
        cells = lines[i][len(r["label"]) :].split()
        assert cells[1] == f"{r['initial_loss']:.4g}"
        assert cells[3] == ("never" if r["half_step"] is None else str(r["half_step"]))
        acc = r["final_accuracy"]
        assert cells[4] == ("—" if acc is None else f"{acc:.1%}")


def test_diverged_run_is_explained_with_its_step_and_layer(blobs):
    text = flat(render_text(render_train(blobs)))
    nf = by_label(blobs)["init=normal gain=10"]["nonfinite"]
    assert (
        f"init=normal gain=10: diverged at step {nf['step']}: the {nf['where']} of layer "
        f"{nf['layer']} became inf/NaN"
    ) in text


def test_symmetric_and_stalled_runs_are_explained(blobs):
    text = flat(render_text(render_train(blobs)))
    line = text[text.index("init=zeros gain=1: ") :]
    assert line.startswith("init=zeros gain=1: symmetry never broken")
    assert "same gradient" in line
    assert "stalled at the constant prediction's loss" in line
    # a run that learned needs no note
    assert "• init=he_normal gain=1:" not in text


def test_regression_has_no_accuracy_column(teacher, blobs):
    assert "final acc" not in render_text(render_train(teacher))
    assert "final acc" in render_text(render_train(blobs))
    assert max(map(len, render_text(render_train(teacher)).splitlines())) <= 80


def test_gradient_table_first_middle_last_layer_and_flags_far_ratios(blobs):
    d = copy.deepcopy(blobs)
    run = by_label(d)["init=he_normal gain=1"]
    run["log10_update_ratio"][-1][0] = -7.2  # layer 1: far below the ~1e-3 rule of thumb
    run["log10_update_ratio"][-1][-1] = -3.0  # layer L: on it
    t = gradients_table(d)
    labels, layers, ratios = (t.columns[k]._cells for k in (0, 2, 5))
    i = labels.index("init=he_normal gain=1")
    assert layers[i : i + 3] == ["1", "3", "6"]  # L = 6: first, middle, last
    assert str(ratios[i]) == "6e-8" and ratios[i].style == "yellow"
    assert str(ratios[i + 2]) == "1e-3" and ratios[i + 2].style != "yellow"
    text = render_text(render_train(d))
    assert "gradients over training" in text
    assert max(map(len, text.splitlines())) <= 80


# ---------------------------------------------------------------- csv


@pytest.mark.parametrize("name", ["blobs", "teacher"])
def test_csv_one_row_per_run_and_logged_step_with_the_json_numbers(name, request):
    d = request.getfixturevalue(name)
    rows = list(csv.DictReader(io.StringIO(train_csv(d))))
    assert len(rows) == sum(len(r["steps"]) for r in d["runs"])
    L = max(r["config"]["depth"] for r in d["runs"])
    assert list(rows[0])[:7] == ["label", "verdict", "step", "loss", "accuracy",
                                 "log10_global_grad_norm", "clipped"]  # fmt: skip
    assert list(rows[0])[7:] == [f"log10_grad_norm_{l}" for l in range(1, L + 1)] + [
        f"log10_update_ratio_{l}" for l in range(1, L + 1)
    ]
    it = iter(rows)
    for r in d["runs"]:
        for k, step in enumerate(r["steps"]):
            row = next(it)
            assert (row["label"], row["verdict"], int(row["step"])) == (r["label"], r["verdict"],
                                                                       step)  # fmt: skip
            assert row["loss"] == ("" if r["loss"][k] is None else repr(r["loss"][k]))
            if r["loss"][k] is not None:
                assert float(row["loss"]) == r["loss"][k]
            acc = None if r["accuracy"] is None else r["accuracy"][k]
            assert row["accuracy"] == ("" if acc is None else repr(acc))
            G = r["log10_global_grad_norm"][k]
            assert row["log10_global_grad_norm"] == ("" if G is None else repr(G))
            assert row["clipped"] == ""  # (no clipping)
            g = r["log10_grad_norm"][k] or []
            for l in range(1, L + 1):
                v = g[l - 1] if l <= len(g) else None
                assert row[f"log10_grad_norm_{l}"] == ("" if v is None else repr(v))


# ---------------------------------------------------------------- figure


def _panel(fig, title: str):
    return next(ax for ax in fig.axes if ax.get_title(loc="left").startswith(title))


def _lines(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()
            if not line.get_label().startswith("_")}  # fmt: skip


def heatmaps(fig) -> list:
    """(axes, mesh) of each heatmap, leaving out the colour bar's."""
    return [(ax, c) for ax in fig.axes if ax.get_title(loc="left") for c in ax.collections
            if isinstance(c, QuadMesh)]  # fmt: skip


def test_loss_lines_are_the_json_losses(blobs, blobs_fig):
    lines = _lines(_panel(blobs_fig, "(a) loss"))
    assert set(lines) == {r["label"] for r in blobs["runs"]}
    for r in blobs["runs"]:
        np.testing.assert_array_equal(lines[r["label"]].get_xdata(), r["steps"])
        np.testing.assert_array_equal(lines[r["label"]].get_ydata(), floats(r["loss"]))
    assert _panel(blobs_fig, "(a) loss").get_yscale() == "log"


def test_accuracy_and_update_ratio_panels(blobs, blobs_fig):
    acc = _lines(_panel(blobs_fig, "(c) accuracy"))
    ratio = _lines(_panel(blobs_fig, "(b) update"))
    for r in blobs["runs"]:
        np.testing.assert_array_equal(acc[r["label"]].get_ydata(), floats(r["accuracy"]))
        # the median over layers of the logged updates (step ≥ 1), drawn as 10^x
        rows = [row for s, row in zip(r["steps"], r["log10_update_ratio"], strict=True) if s >= 1]
        with warnings.catch_warnings():  # all-NaN rows (zero updates): NaN, as drawn
            warnings.simplefilter("ignore", RuntimeWarning)
            want = 10.0 ** np.array([np.nanmedian(floats(row)) for row in rows])
        np.testing.assert_allclose(ratio[r["label"]].get_ydata(), want, rtol=1e-12)


def test_diverged_run_ends_with_an_x_at_its_last_finite_loss(blobs, blobs_fig):
    ax = _panel(blobs_fig, "(a) loss")
    r = by_label(blobs)["init=normal gain=10"]
    marks = [line for line in ax.get_lines() if line.get_label() == "_diverged"]
    assert len(marks) == 1 and marks[0].get_marker() == "x"
    last = max(k for k, v in enumerate(r["loss"]) if v is not None)
    assert marks[0].get_xdata()[0] == r["steps"][last]
    assert marks[0].get_ydata()[0] == min(r["loss"][last], ax.get_ylim()[1])
    assert any("diverged" in t.get_text() for t in ax.texts)


def test_heatmaps_are_the_json_gradient_norms(blobs, blobs_fig):
    meshes = {ax.get_title(loc="left"): (ax, c) for ax, c in heatmaps(blobs_fig)}
    assert set(meshes) == {r["label"] for r in blobs["runs"]}
    norms = set()
    for r in blobs["runs"]:
        ax, mesh = meshes[r["label"]]
        keep = [k for k, s in enumerate(r["steps"]) if s >= 1]
        M = np.array([floats(r["log10_grad_norm"][k]) for k in keep])  # (steps, L)
        drawn = np.ma.filled(np.ma.asarray(mesh.get_array(), dtype=float), np.nan)
        np.testing.assert_array_equal(drawn, M.T)  # layer on y (row 0 = layer 1), step on x
        xy = mesh.get_coordinates()
        np.testing.assert_array_equal(xy[0, :, 0], [0, *[r["steps"][k] for k in keep]])
        assert xy[0, 0, 1] < xy[-1, 0, 1]  # layer 1 at the bottom
        assert ax.get_ylim()[0] < ax.get_ylim()[1]
        assert r["verdict"] in ax.get_title(loc="right")
        norms.add((mesh.norm.vmin, mesh.norm.vmax))
    assert len(norms) == 1  # one colour scale for all


def test_regression_figure_has_no_accuracy_panel(teacher):
    fig = plot_train(teacher)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert not any(t.startswith("(c)") for t in titles)
    assert titles[:2] == ["(a) loss", "(b) update / weight, median of layers"]


def test_single_logged_step_and_all_null_runs_do_not_crash(blobs):
    d = copy.deepcopy(blobs)
    r = d["runs"][0]
    r.update(steps=[0], loss=[r["loss"][0]], accuracy=[r["accuracy"][0]], verdict="diverged",
             log10_grad_norm=[None], log10_update_ratio=[None], final_loss=None,
             nonfinite={"step": 1, "layer": 2, "where": "loss"})  # fmt: skip
    d["runs"][1]["loss"] = [None] * len(d["runs"][1]["loss"])
    d["runs"] = d["runs"][:2]
    fig = plot_train(d)
    fig.canvas.draw()  # the layout runs
    text = render_text(render_train(d))
    assert "diverged at step 1: the loss became inf/NaN" in flat(text)
    assert len(list(csv.DictReader(io.StringIO(train_csv(d))))) == 1 + len(d["runs"][1]["steps"])


def test_incomplete_train_result_is_one_error():
    with pytest.raises(GradsimError, match="runs"):
        plot_train({"gradsim": "0.1.0", "kind": "train", "runs": []})


# ---------------------------------------------------------------- dispatch and CLI


def test_plot_result_dispatches_train(blobs):
    fig = plot_result(blobs)
    assert fig.axes[0].get_title(loc="left") == "(a) loss"
    assert len(heatmaps(fig)) == len(blobs["runs"])


def test_unknown_kind_lists_train_among_the_plottable():
    with pytest.raises(GradsimError, match=re.escape("train")):
        plot_result({"gradsim": "0.1.0", "kind": "nope"})


def test_gradsim_plot_redraws_a_saved_train_result(invoke, tmp_path, teacher):
    src, out = tmp_path / "train.json", tmp_path / "fig.png"
    src.write_text(json.dumps(teacher))
    r = invoke("plot", src, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stalled_loss_with_high_accuracy_is_not_called_chance():
    """Xavier at depth 10 on circles: the loss stays near ln 2 while most samples are already
    classified right (tiny logits of the right sign); the note must not say 'no better than
    the class frequencies'."""
    d = _train("circles", [{"depth": 10, "init": "xavier"}], {},
               steps=200, lr=0.01)  # fmt: skip
    r = d["runs"][0]
    assert r["verdict"] == "stalled" and r["final_accuracy"] > 0.7
    text = render_text(render_train(d))
    assert "classified" in text and "no better than" not in text
