"""The figure of ``gradsim train``, drawn from its JSON (``gradsim.training.loop.to_dict``).

Top row: the loss of every run against the step (log scale) with the loss of the best
constant prediction dashed; the size of each update relative to the weights it changes,
‖ΔW_l‖/‖W_l‖ (median over the layers, min–max band), with the ~1e-3 rule of thumb of
Karpathy's "A Recipe for Training Neural Networks" (2019); and, for classification tasks,
the accuracy (top right). Below: one heatmap per run of log10 ‖∂E/∂W_l‖ over layer × step,
all on one colour scale, so a gradient that vanishes toward layer 1 or dies during training
shows at a glance.

Null values (inf/NaN, or zero where a log is taken) are drawn as gaps. The curves are drawn
here, the heatmaps in ``train_heatmaps``, on the scales of ``train_scales``; matplotlib is
imported inside the functions only (``common``).
"""

from __future__ import annotations

import math

import numpy as np

from gradsim.explain import pow10
from gradsim.report.figures.common import (
    check_result,
    colors_without,
    floats,
    light_grid,
    new_figure,
)
from gradsim.report.figures.placement import least_crowded, put_label, text_size
from gradsim.report.figures.train_heatmaps import HEATMAPS_PER_ROW, heatmaps
from gradsim.report.figures.train_scales import (
    OFFSCALE_DECADES,
    VERDICT_COLORS,
    WIDTH,
    layer_matrix,
    log_range,
    step_axis,
)
from gradsim.report.labels import RATIO_GUIDE, run_label, settings_text

MAX_DIVERGENCE_NOTES = 2  # diverged runs that get a note each in the loss panel

_TOP_HEIGHT = 3.6  # the row of curves
_HEATMAP_HEIGHT = 2.3  # one row of heatmaps
_BASELINE_COLOR = "0.45"
_GUIDE = "~" + pow10(RATIO_GUIDE, style="short", digits=1, plain=None)  # '~1e-3'


def plot_train(d: dict, *, fig=None):
    """Loss, accuracy and update sizes over training, and per-layer gradient heatmaps.

    Panels, top row from the left: (a) loss against the step on a log scale, one colour per
    run (its label in the legend below the row), the constant prediction's loss dashed grey;
    a diverged run ends with an ×, annotated, at its last finite point (at the top edge if
    its loss is far above the others'). (b) ‖ΔW_l‖/‖W_l‖ of the logged updates: the median
    over the layers l = 1…L as a line, the min–max across layers as a band, the 1e-3 rule of
    thumb dotted. (c) accuracy, for classification tasks, with chance (1/classes) dashed.
    Below, four to a row, one heatmap per run: step on x (each cell spans the steps since the
    previous logged one), layer on y with layer 1 at the bottom, colour log10 ‖∂E/∂W_l‖_F on
    one scale shared by all runs; grey where the norm is zero or not finite.

    Parameters
    ----------
    d : dict
        A train result's JSON form (``kind == "train"``: ``task``, ``axes``, ``runs``).
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_result(d, "train", need=("runs",))
    runs = d["runs"]
    classification = _is_classification(runs)
    rows = math.ceil(len(runs) / HEATMAPS_PER_ROW)
    legend_rows = math.ceil(len(runs) / _legend_columns(runs))
    top_h = _TOP_HEIGHT + 0.25 * legend_rows
    size = (WIDTH, 0.7 + top_h + _HEATMAP_HEIGHT * rows)
    fig = new_figure(fig, size)
    top, bottom = fig.subfigures(2, 1, height_ratios=[top_h, _HEATMAP_HEIGHT * rows])
    axs = top.subplots(1, 3 if classification else 2)
    palette = run_colors(len(runs))
    labels = [run_label(run, i) for i, run in enumerate(runs)]
    _loss_panel(axs[0], runs, labels, palette)
    _ratio_panel(axs[1], runs, labels, palette)
    if classification:
        _accuracy_panel(axs[2], runs, labels, palette)
    _legend(top, axs, runs, labels, palette)
    heatmaps(bottom, runs, labels, palette, rows)
    fig.suptitle(f"{_title(d)}\n{settings_text(runs)}", fontsize=11)
    return fig


def run_colors(n: int) -> list:
    """Line colours without the verdicts' red and green (and the guides' greys), so that no
    run looks stalled or learned by its colour."""
    return colors_without(n, {2, 3, 7}, {4, 5, 6, 7, 14, 15})


def _is_classification(runs: list[dict]) -> bool:
    return any(run.get("accuracy") is not None for run in runs)


def _title(d: dict) -> str:
    runs, axes = d["runs"], d.get("axes") or {}
    task = d.get("task") or runs[0]["config"].get("task", "?")
    if len(runs) == 1:
        return f"train · {task}"
    over = f" over {', '.join(axes)}" if axes else ""
    return f"train {len(runs)} configurations{over} · {task}"


def _color(palette: list, i: int):
    return palette[i % len(palette)]


def _style(palette: list, i: int, n_points: int) -> dict:
    # markers where a line would be too short to see (a run that stopped early)
    return {"color": _color(palette, i), "linewidth": 1.5, "marker": "o" if n_points <= 3 else None,
            "markersize": 3}  # fmt: skip


def _loss_panel(ax, runs, labels, palette) -> None:
    values, core = [], []  # log10 losses: all, and of the runs that did not diverge
    for i, run in enumerate(runs):
        x, y = np.asarray(run["steps"], float), floats(run["loss"])
        ax.plot(x, y, label=labels[i], **_style(palette, i, len(x)))
        with np.errstate(divide="ignore", invalid="ignore"):
            values.append(np.log10(y))
        if run["verdict"] != "diverged":
            core.append(values[-1][_settled(values[-1])])
    for v in sorted({round(r["baseline_loss"], 12) for r in runs if r.get("baseline_loss")}):
        ax.axhline(v, color=_BASELINE_COLOR, linestyle="--", linewidth=1.1,
                   label="_constant prediction")  # fmt: skip
        values.append(np.log10([v]))
        core.append(values[-1])
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("(a) loss", loc="left", fontsize=10)
    light_grid(ax)
    step_axis(ax, runs)
    lo, hi, _ = log_range(values, core)
    if lo is not None:
        pad = 0.05 * (hi - lo) if hi > lo else 0.3
        ax.set_ylim(10 ** (lo - pad), 10 ** (hi + pad))
        _log_labels(ax.yaxis, 10 ** (hi - lo))
    top = ax.get_ylim()[1]
    taken: list = []  # the notes placed: runs that diverge at one step get one each
    diverged = [run for run in runs if run["verdict"] == "diverged"]
    # a note per run for one or two; beyond, one note for them all (the legend names them)
    each = len(diverged) <= MAX_DIVERGENCE_NOTES
    for i, run in enumerate(runs):
        if run["verdict"] == "diverged":
            _mark_divergence(ax, run, _color(palette, i), top, taken if each else None)
        elif len(values[i]) > 1 and 10 ** values[i][0] > top:
            _mark_first(ax, run, _color(palette, i), top)
    if not each:
        _divergence_note(ax, diverged)


def _settled(logs: np.ndarray) -> slice:
    """The losses that set a run's range: all, or all but the first where it stands over
    OFFSCALE_DECADES above the rest (batch norm evaluated, before any step, with running
    statistics still at μ̂ = 0, σ̂² = 1: an unnormalized network's loss)."""
    rest = logs[1:][np.isfinite(logs[1:])]
    if rest.size and np.isfinite(logs[0]) and logs[0] > rest.max() + OFFSCALE_DECADES:
        return slice(1, None)
    return slice(None)


def _mark_first(ax, run: dict, color, top: float) -> None:
    """A ▲ on the top edge at step 0 for a first loss above the range, and its value."""
    y0 = floats(run["loss"])[0]
    ax.plot([run["steps"][0]], [top], marker="^", markersize=8, color=color, linestyle="none",
            clip_on=False, label="_off-scale", zorder=5)  # fmt: skip
    why = "\n(batch norm: running statistics\nnot updated yet)" if _running_bn(run) else ""
    ax.annotate(f"step 0: {y0:.1e}, off-scale{why}", (0.04, 0.97), xycoords="axes fraction",
                ha="left", va="top", fontsize=7, color=color)  # fmt: skip


def _running_bn(run: dict) -> bool:
    cfg = run.get("config") or {}
    return cfg.get("norm") == "batch" and cfg.get("bn_eval", "running") == "running"


def _log_labels(axis, span: float) -> None:
    """Plain numbers (0.4, 2, 30) on a log axis spanning under two decades, 10^k beyond."""
    import math

    from matplotlib.ticker import FuncFormatter

    if span >= 100:
        return
    # the minor ticks labelled: fewer as the span grows, so that labels never touch
    shown = {2, 3, 5} if span >= 4 else ({2, 3, 4, 5, 6, 8} if span >= 2 else set(range(10)))
    shown = shown if span < 20 else {2, 5}

    def fmt(v, _, minor=False):
        if v <= 0:
            return ""
        m = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6)
        return f"{v:.3g}" if not minor or m in shown else ""

    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_formatter(FuncFormatter(lambda v, p: fmt(v, p, minor=True)))


def _divergence_note(ax, runs: list[dict]) -> None:
    """One note for several diverged runs: how many, and at which steps."""
    steps = sorted({(r.get("nonfinite") or {}).get("step") for r in runs} - {None})
    at = "" if not steps else (f" at step {steps[0]}" if len(steps) == 1
                               else f" at steps {steps[0]}–{steps[-1]}")  # fmt: skip
    text = f"{len(runs)} runs diverged{at}\n(×: each one's last finite loss)"
    w, h = text_size(ax, text)
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((0.02, "left"), (0.98 - w, "right"))
             for b in (0.97 - h, 0.5 - h / 2, 0.03)]  # fmt: skip
    put_label(ax, text, least_crowded(ax, boxes, []), VERDICT_COLORS["diverged"], [])


def _mark_divergence(ax, run: dict, color, top: float, taken: list | None) -> None:
    """An × at the run's last finite loss (on the top edge if above it), and a note clear of
    the notes ``taken`` before it (None: the × alone)."""
    x, y = np.asarray(run["steps"], float), floats(run["loss"])
    ok = np.flatnonzero(np.isfinite(y) & (y > 0))
    if ok.size == 0:
        return
    xs, ys = x[ok[-1]], y[ok[-1]]
    nf = run.get("nonfinite") or {}
    text = "diverged" + (f" at step {nf['step']}" if "step" in nf else "")
    if ys > top:
        text += f"\n(loss {ys:.1e}, off-scale)"
        ys = top
    ax.plot([xs], [ys], marker="x", markersize=9, markeredgewidth=2, color=color,
            linestyle="none", clip_on=False, label="_diverged", zorder=5)  # fmt: skip
    if taken is None:
        return
    # the note where the lines are not: right or left of the ×, near it or higher up
    to_axes = ax.transData + ax.transAxes.inverted()
    xa, ya = to_axes.transform((xs, ys))
    w, h = text_size(ax, text)
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((xa + 0.03, "left"), (xa - 0.03 - w, "right"))
             for b in (min(ya + 0.03, 0.98 - h), max(ya - 0.03 - h, 0.02), 0.5, 0.7, 0.9 - h)
             if 0 <= a and a + w <= 1]  # fmt: skip
    boxes = boxes or [(0.99 - w, 0.99, 0.02, 0.02 + h, "right")]
    put_label(ax, text, least_crowded(ax, boxes, taken), color, taken)


def _layer_stats(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, min and max over the layers (axis 1) of the finite values; NaN for none."""
    med, lo, hi = (np.full(M.shape[0], np.nan) for _ in range(3))
    for i, row in enumerate(M):
        v = row[np.isfinite(row)]
        if v.size:
            med[i], lo[i], hi[i] = np.median(v), v.min(), v.max()
    return med, lo, hi


def _ratio_panel(ax, runs, labels, palette) -> None:
    values, core = [np.array([RATIO_GUIDE])], [np.array([RATIO_GUIDE])]
    for i, run in enumerate(runs):
        steps, M = layer_matrix(run, "log10_update_ratio")
        stats = _layer_stats(M)
        values.append(stats)
        if run["verdict"] != "diverged":
            core.append(stats)
        med, lo, hi = (10.0 ** np.clip(v, -300, 300) for v in stats)
        ax.plot(steps, med, label=labels[i], **_style(palette, i, len(steps)))
        # fainter bands when many overlap
        ax.fill_between(steps, lo, hi, color=_color(palette, i),
                        alpha=0.18 if len(runs) <= 4 else 0.08, linewidth=0)  # fmt: skip
    ax.axhline(10.0**RATIO_GUIDE, color="0.2", linestyle=":", linewidth=1.3,
               label=f"_{_GUIDE} rule of thumb")  # fmt: skip
    ax.set_yscale("log")
    lo, hi, cut = log_range(values, core)
    pad = 0.05 * (hi - lo) if hi > lo else 0.3
    ax.set_ylim(10 ** (lo - pad), 10 ** (hi + pad))
    if cut:
        text = "diverged runs off-scale ↑"
        w, h = text_size(ax, text)
        boxes = [(0.99 - w, 0.99, 0.97 - h, 0.97, "right"),
                 (0.01, 0.01 + w, 0.97 - h, 0.97, "left"),
                 (0.99 - w, 0.99, 0.03, 0.03 + h, "right")]  # fmt: skip
        put_label(ax, text, least_crowded(ax, boxes, []), VERDICT_COLORS["diverged"], [])
    step_axis(ax, runs)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\|\Delta W_l\| / \|W_l\|$ (log scale; band: min–max)")
    ax.set_title("(b) update / weight, median of layers", loc="left", fontsize=10)
    light_grid(ax)


def _accuracy_panel(ax, runs, labels, palette) -> None:
    from matplotlib.ticker import PercentFormatter

    for i, run in enumerate(runs):
        if run.get("accuracy") is None:
            continue
        x = np.asarray(run["steps"], float)
        ax.plot(x, floats(run["accuracy"]), label=labels[i], **_style(palette, i, len(x)))
    classes = {run["config"]["widths"][-1] for run in runs if run["config"].get("widths")}
    if len(classes) == 1:
        k = classes.pop()
        ax.axhline(1 / k, color=_BASELINE_COLOR, linestyle="--", linewidth=1.1,
                   label=f"_chance (1/{k})")  # fmt: skip
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    step_axis(ax, runs)
    ax.set_xlabel("step")
    ax.set_ylabel("training accuracy")
    ax.set_title("(c) accuracy", loc="left", fontsize=10)
    light_grid(ax)


def _legend_columns(runs) -> int:
    # as many columns as fit the width (about 0.06 in per character at 8 pt)
    widest = max(len(run_label(r, i)) + len(r.get("verdict", "")) + 3 for i, r in enumerate(runs))
    return max(1, min(len(runs) + 2, int(WIDTH * 0.95 / (widest * 0.06 + 0.6))))


def _legend(subfig, axs, runs, labels, palette) -> None:
    """One legend below the row: the runs with their verdicts, then the guide lines."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [], [], color=_color(palette, i), linewidth=1.5, label=f"{labels[i]}: {r['verdict']}"
        )
        for i, r in enumerate(runs)
    ]
    dashed = "(a) constant prediction's loss" + (", (c) chance" if len(axs) > 2 else "")
    handles.append(Line2D([], [], color=_BASELINE_COLOR, linestyle="--", label=dashed))
    handles.append(Line2D([], [], color="0.2", linestyle=":", label=f"(b) {_GUIDE} rule of thumb"))
    diverged = [i for i, run in enumerate(runs) if run["verdict"] == "diverged"]
    for i in diverged:  # the × in the run's colour, as drawn
        who = f" ({labels[i]})" if len(diverged) > 1 else ""
        handles.append(Line2D([], [], color=_color(palette, i), marker="x", linestyle="none",
                              markeredgewidth=2, label=f"last finite loss{who}"))  # fmt: skip
    subfig.legend(handles=handles, loc="outside lower center", ncols=_legend_columns(runs),
                  fontsize=8, frameon=False)  # fmt: skip
