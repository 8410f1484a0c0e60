"""The figure of ``gradsim train``, drawn from its JSON (``gradsim.train.loop.to_dict``).

Top row: the loss of every run against the step (log scale) with the loss of the best
constant prediction dashed; the size of each update relative to the weights it changes,
‖ΔW_l‖/‖W_l‖ (median over the layers, min–max band), with the ~1e-3 rule of thumb of
Karpathy's "A Recipe for Training Neural Networks" (2019); and, for classification tasks,
the accuracy (top right). Below: one heatmap per run of log10 ‖∂E/∂W_l‖ over layer × step,
all on one colour scale, so a gradient that vanishes toward layer 1 or dies during training
shows at a glance.

Null values (inf/NaN, or zero where a log is taken) are drawn as gaps. matplotlib is imported
inside the functions, through ``matplotlib.figure.Figure`` only, as in ``report/plots.py``.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from gradsim.errors import GradsimError
from gradsim.report.labels import RATIO_GUIDE, run_label, settings_text

# verdict → colour, as the terminal table shows them (learned green, slow yellow, else red)
VERDICT_COLORS = {"learned": "#2ca02c", "slow": "#b8860b", "stalled": "#d62728",
                  "diverged": "#d62728"}  # fmt: skip
HEATMAPS_PER_ROW = 4

_WIDTH = 12.5  # inches
_TOP_HEIGHT = 3.6  # the row of curves
_HEATMAP_HEIGHT = 2.3  # one row of heatmaps
_BASELINE_COLOR = "0.45"
_OFFSCALE_COLOR = VERDICT_COLORS["diverged"]
_OFFSCALE_DECADES = 3  # a diverged run's loss this far above the others is cut off


# ---------------------------------------------------------------- public functions


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
    from matplotlib.figure import Figure

    runs = _check(d)
    classification = _is_classification(runs)
    rows = math.ceil(len(runs) / HEATMAPS_PER_ROW)
    legend_rows = math.ceil(len(runs) / _legend_columns(runs))
    top_h = _TOP_HEIGHT + 0.25 * legend_rows
    size = (_WIDTH, 0.7 + top_h + _HEATMAP_HEIGHT * rows)
    if fig is None:
        fig = Figure(figsize=size, layout="constrained")
    elif fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[top_h, _HEATMAP_HEIGHT * rows])
    axs = top.subplots(1, 3 if classification else 2)
    colors = _run_colors(len(runs))
    labels = [run_label(run, i) for i, run in enumerate(runs)]
    _loss_panel(axs[0], runs, labels, colors)
    _ratio_panel(axs[1], runs, labels, colors)
    if classification:
        _accuracy_panel(axs[2], runs, labels, colors)
    _legend(top, axs, runs, labels, colors)
    _heatmaps(bottom, runs, labels, colors, rows)
    fig.suptitle(f"{_title(d)}\n{settings_text(runs)}", fontsize=11)
    return fig


# ---------------------------------------------------------------- checks and labels


def _check(d) -> list[dict]:
    if not isinstance(d, dict) or d.get("kind") != "train":
        raise GradsimError("expected a gradsim train result")
    runs = d.get("runs")
    if not runs:
        raise GradsimError("not a complete gradsim train result: no 'runs'")
    return runs


def _is_classification(runs: list[dict]) -> bool:
    return any(run.get("accuracy") is not None for run in runs)


def _title(d: dict) -> str:
    runs, axes = d["runs"], d.get("axes") or {}
    task = d.get("task") or runs[0]["config"].get("task", "?")
    if len(runs) == 1:
        return f"train · {task}"
    over = f" over {', '.join(axes)}" if axes else ""
    return f"train {len(runs)} configurations{over} · {task}"


def _floats(values) -> np.ndarray:
    """A JSON list with nulls → float array with NaN."""
    return np.array([np.nan if v is None else v for v in values or []], dtype=float)


def layer_matrix(run: dict, field: str) -> tuple[np.ndarray, np.ndarray]:
    """The logged steps s ≥ 1 and ``run[field]`` at them as a (steps, L) array (NaN for
    null); step 0 has no update and is left out."""
    steps = np.asarray(run["steps"], dtype=int)
    L = run["config"]["depth"]
    keep = [k for k, s in enumerate(steps) if s >= 1]
    M = np.full((len(keep), L), np.nan)
    rows = run.get(field) or []
    for i, k in enumerate(keep):
        if k < len(rows) and rows[k] is not None:
            M[i] = _floats(rows[k])[:L]
    return steps[keep], M


# ---------------------------------------------------------------- drawing helpers


def _run_colors(n: int) -> list:
    import matplotlib

    return list(matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors)


def _color(colors: list, i: int):
    return colors[i % len(colors)]


def _style(colors: list, i: int, n_points: int) -> dict:
    # markers where a line would be too short to see (a run that stopped early)
    return {"color": _color(colors, i), "linewidth": 1.5, "marker": "o" if n_points <= 3 else None,
            "markersize": 3}  # fmt: skip


def _grid(ax) -> None:
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)


def _loss_panel(ax, runs, labels, colors) -> None:
    values, core = [], []  # log10 losses: all, and of the runs that did not diverge
    for i, run in enumerate(runs):
        x, y = np.asarray(run["steps"], float), _floats(run["loss"])
        ax.plot(x, y, label=labels[i], **_style(colors, i, len(x)))
        with np.errstate(divide="ignore", invalid="ignore"):
            values.append(np.log10(y))
        if run["verdict"] != "diverged":
            core.append(values[-1])
    for v in sorted({round(r["baseline_loss"], 12) for r in runs if r.get("baseline_loss")}):
        ax.axhline(v, color=_BASELINE_COLOR, linestyle="--", linewidth=1.1,
                   label="_constant prediction")  # fmt: skip
        values.append(np.log10([v]))
        core.append(values[-1])
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("(a) loss", loc="left", fontsize=10)
    _grid(ax)
    _step_axis(ax, runs)
    lo, hi, _ = _log_range(values, core)
    if lo is not None:
        pad = 0.05 * (hi - lo) if hi > lo else 0.3
        ax.set_ylim(10 ** (lo - pad), 10 ** (hi + pad))
        _log_labels(ax.yaxis, 10 ** (hi - lo))
    top = ax.get_ylim()[1]
    for i, run in enumerate(runs):
        if run["verdict"] == "diverged":
            _mark_divergence(ax, run, _color(colors, i), top)


def _log_range(values: list, core: list) -> tuple[float | None, float | None, bool]:
    """The (min, max) of the finite log10 ``values``, and whether the max was cut: a diverged
    run's values more than _OFFSCALE_DECADES above the ``core`` (those of the runs that did
    not diverge) would flatten every other curve, so the range then stops one decade above
    the core's. (None, None, False) when nothing is finite."""
    every = np.concatenate([np.ravel(v) for v in values] + [np.zeros(0)])
    every = every[np.isfinite(every)]
    if not every.size:
        return None, None, False
    lo, hi = float(every.min()), float(every.max())
    core = np.concatenate([np.ravel(v) for v in core] + [np.zeros(0)])
    core = core[np.isfinite(core)]
    if core.size and hi > float(core.max()) + _OFFSCALE_DECADES:
        return lo, float(core.max()) + 1, True
    return lo, hi, False


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


def _step_axis(ax, runs) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(*_step_range(runs))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10]))


def _mark_divergence(ax, run: dict, color, top: float) -> None:
    """An × at the run's last finite loss (on the top edge if above it), and a note."""
    x, y = np.asarray(run["steps"], float), _floats(run["loss"])
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
    x0, x1 = ax.get_xlim()
    right = (xs - x0) / (x1 - x0) < 0.6  # the note on the side with room
    ax.annotate(text, (xs, ys), xytext=(7 if right else -7, -4), textcoords="offset points",
                ha="left" if right else "right", va="top", fontsize=8, color=color,
                annotation_clip=False)  # fmt: skip


def _step_range(runs) -> tuple[float, float]:
    last = max(max(run["steps"]) for run in runs)
    last = max(last, max(run["config"].get("steps", 0) for run in runs), 1)
    pad = 0.02 * last
    return -pad, last + pad


def _layer_stats(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, min and max over the layers (axis 1) of the finite values; NaN for none."""
    med, lo, hi = (np.full(M.shape[0], np.nan) for _ in range(3))
    for i, row in enumerate(M):
        v = row[np.isfinite(row)]
        if v.size:
            med[i], lo[i], hi[i] = np.median(v), v.min(), v.max()
    return med, lo, hi


def _ratio_panel(ax, runs, labels, colors) -> None:
    values, core = [np.array([RATIO_GUIDE])], [np.array([RATIO_GUIDE])]
    for i, run in enumerate(runs):
        steps, M = layer_matrix(run, "log10_update_ratio")
        stats = _layer_stats(M)
        values.append(stats)
        if run["verdict"] != "diverged":
            core.append(stats)
        med, lo, hi = (10.0 ** np.clip(v, -300, 300) for v in stats)
        ax.plot(steps, med, label=labels[i], **_style(colors, i, len(steps)))
        # fainter bands when many overlap
        ax.fill_between(steps, lo, hi, color=_color(colors, i),
                        alpha=0.18 if len(runs) <= 4 else 0.08, linewidth=0)  # fmt: skip
    ax.axhline(10.0**RATIO_GUIDE, color="0.2", linestyle=":", linewidth=1.3,
               label="_~1e-3 rule of thumb")  # fmt: skip
    ax.set_yscale("log")
    lo, hi, cut = _log_range(values, core)
    pad = 0.05 * (hi - lo) if hi > lo else 0.3
    ax.set_ylim(10 ** (lo - pad), 10 ** (hi + pad))
    if cut:
        ax.text(0.99, 0.98, "diverged runs off-scale ↑", transform=ax.transAxes, ha="right",
                va="top", fontsize=8, color=VERDICT_COLORS["diverged"])  # fmt: skip
    _step_axis(ax, runs)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\|\Delta W_l\| / \|W_l\|$ (log scale)")
    ax.set_title("(b) update / weight: median over layers,\nband: min–max", loc="left",
                 fontsize=10)  # fmt: skip
    _grid(ax)


def _accuracy_panel(ax, runs, labels, colors) -> None:
    from matplotlib.ticker import PercentFormatter

    for i, run in enumerate(runs):
        if run.get("accuracy") is None:
            continue
        x = np.asarray(run["steps"], float)
        ax.plot(x, _floats(run["accuracy"]), label=labels[i], **_style(colors, i, len(x)))
    classes = {run["config"]["widths"][-1] for run in runs if run["config"].get("widths")}
    if len(classes) == 1:
        k = classes.pop()
        ax.axhline(1 / k, color=_BASELINE_COLOR, linestyle="--", linewidth=1.1,
                   label=f"_chance (1/{k})")  # fmt: skip
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _step_axis(ax, runs)
    ax.set_xlabel("step")
    ax.set_ylabel("training accuracy")
    ax.set_title("(c) accuracy", loc="left", fontsize=10)
    _grid(ax)


def _legend_columns(runs) -> int:
    # as many columns as fit the width (about 0.06 in per character at 8 pt)
    widest = max(len(run_label(r, i)) + len(r.get("verdict", "")) + 3 for i, r in enumerate(runs))
    return max(1, min(len(runs) + 2, int(_WIDTH * 0.95 / (widest * 0.06 + 0.6))))


def _legend(subfig, axs, runs, labels, colors) -> None:
    """One legend below the row: the runs with their verdicts, then the guide lines."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=_color(colors, i), linewidth=1.5, label=f"{labels[i]}: {r['verdict']}")
        for i, r in enumerate(runs)
    ]
    dashed = "(a) constant prediction's loss" + (", (c) chance" if len(axs) > 2 else "")
    handles.append(Line2D([], [], color=_BASELINE_COLOR, linestyle="--", label=dashed))
    handles.append(Line2D([], [], color="0.2", linestyle=":", label="(b) ~1e-3 rule of thumb"))
    if any(run["verdict"] == "diverged" for run in runs):
        handles.append(Line2D([], [], color="0.3", marker="x", linestyle="none",
                              markeredgewidth=2, label="last finite loss"))  # fmt: skip
    subfig.legend(handles=handles, loc="outside lower center", ncols=_legend_columns(runs),
                  fontsize=8, frameon=False)  # fmt: skip


def _heatmaps(subfig, runs, labels, colors, rows: int) -> None:
    """One panel per run: log10 ‖∂E/∂W_l‖ over step × layer, one shared colour scale."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from gradsim.report.plots import _layer_ticks

    ncols = min(max(len(runs), 2), HEATMAPS_PER_ROW)  # a single run: half the width
    axs = np.atleast_1d(subfig.subplots(rows, ncols, squeeze=False, sharex=True)).ravel()
    data = [layer_matrix(run, "log10_grad_norm") for run in runs]
    core = [M for run, (_, M) in zip(runs, data, strict=True) if run["verdict"] != "diverged"]
    vmin, vmax, cut = _log_range([M for _, M in data], core)
    if vmin is None:
        vmin, vmax = -1.0, 1.0
    elif cut:  # the red "over" colour marks what lies beyond: the scale is the others'
        vmax -= 1
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    norm = Normalize(vmin, vmax)
    # beyond the scale (a diverged run's huge gradients): red, as the verdict
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.82", over=_OFFSCALE_COLOR)
    x0, x1 = _step_range(runs)
    for k, (ax, run, (steps, M)) in enumerate(zip(axs, runs, data, strict=False)):
        L = M.shape[1]
        if steps.size:
            # cell k spans the steps since the previous logged one (0 before the first)
            edges = np.concatenate([[0], steps]).astype(float)
            ax.pcolormesh(edges, np.arange(L + 1) + 0.5, np.ma.masked_invalid(M.T), cmap=cmap,
                          norm=norm)  # fmt: skip
        note = _empty_note(run, M)
        if note:
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                    fontsize=8, color="0.25", wrap=True)  # fmt: skip
        nf = run.get("nonfinite")
        if nf and nf.get("step") is not None:
            ax.axvline(nf["step"], color=VERDICT_COLORS["diverged"], linewidth=1.5)
        _step_axis(ax, runs)
        ax.set_xlim(max(x0, 0), x1)
        ax.set_ylim(0.5, L + 0.5)
        ax.set_yticks(_layer_ticks(L, most=5))
        ax.tick_params(labelsize=8)
        if k % ncols == 0:
            ax.set_ylabel("layer $l$", fontsize=9)
        if k >= len(runs) - ncols:
            ax.set_xlabel("step", fontsize=9)
        _heatmap_title(ax, labels[k], run["verdict"], _color(colors, k), ncols)
    for ax in axs[len(runs) :]:
        ax.set_visible(False)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cbar = subfig.colorbar(sm, ax=list(axs[: len(runs)]), shrink=0.9, aspect=25,
                           extend="max" if cut else "neither")  # fmt: skip
    note = "\n(grey: 0 or inf/NaN" + (", red: off-scale)" if cut else ")")
    cbar.set_label(r"$\|\partial E/\partial W_l\|_F$" + note, fontsize=9)
    _pow10_ticks(cbar.ax.yaxis, vmin, vmax)
    cbar.ax.tick_params(labelsize=8)


def _pow10_ticks(axis, lo: float, hi: float) -> None:
    """Labels on an axis of log10 values: 10^k at whole k when it spans two decades or more,
    else plain numbers at 1, 2, 5 × 10^k (0.2, 0.5, 1, 2)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    if hi - lo >= 2:
        axis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{v:.0f}}}$"))
        return
    mantissas = (1, 2, 5) if hi - lo >= 0.5 else range(1, 10)
    ticks = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi) + 1)
             for m in mantissas]  # fmt: skip
    axis.set_major_locator(FixedLocator([t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{10.0**v:.3g}"))


def _empty_note(run: dict, M: np.ndarray) -> str:
    """A note for a panel without a coloured cell, saying why."""
    if np.isfinite(M).any():
        return ""
    nf = run.get("nonfinite") or {}
    if M.shape[0] == 0:
        at = f" at step {nf['step']}" if "step" in nf else ""
        return f"diverged{at},\nbefore any logged update" if nf else "no update logged"
    return "every gradient\nis exactly zero" if not nf else "no finite gradient"


def _heatmap_title(ax, label: str, verdict: str, color, ncols: int) -> None:
    """The label (in the run's colour) left, the verdict (in its colour) right; one line
    under the other when they would not fit side by side."""
    chars = int((_WIDTH - 1.2) / ncols / (0.55 * 9 / 72))  # about what fits at 9 pt
    vcolor = VERDICT_COLORS.get(verdict, "black")
    if len(label) + len(verdict) + 3 <= chars:
        ax.set_title(label, loc="left", fontsize=9, color=color, fontweight="bold")
        ax.set_title(verdict, loc="right", fontsize=9, color=vcolor)
    else:
        wrapped = textwrap.fill(label, chars)
        ax.set_title(wrapped + "\n", loc="left", fontsize=9, color=color, fontweight="bold")
        ax.set_title(verdict, loc="right", fontsize=9, color=vcolor)
