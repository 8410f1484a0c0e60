"""The heatmaps of the train figure: per run, log10 ‖∂E/∂W_l‖ over step × layer on one
colour scale shared by all runs."""

from __future__ import annotations

import textwrap

import numpy as np

from gradsim.report.figures.common import layer_ticks, pow10_ticks
from gradsim.report.figures.placement import text_inches
from gradsim.report.figures.train_scales import (
    VERDICT_COLORS,
    WIDTH,
    layer_matrix,
    log_range,
    step_axis,
)

HEATMAPS_PER_ROW = 4
_OFFSCALE_COLOR = VERDICT_COLORS["diverged"]


def heatmaps(subfig, runs, labels, palette, rows: int) -> None:
    """One panel per run: log10 ‖∂E/∂W_l‖ over step × layer, one shared colour scale."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    ncols = min(len(runs), HEATMAPS_PER_ROW)
    axs = np.atleast_1d(subfig.subplots(rows, ncols, squeeze=False, sharex=True)).ravel()
    data = [layer_matrix(run, "log10_grad_norm") for run in runs]
    core = [M for run, (_, M) in zip(runs, data, strict=True) if run["verdict"] != "diverged"]
    vmin, vmax, cut = log_range([M for _, M in data], core)
    if vmin is None:
        vmin, vmax = -1.0, 1.0
    elif cut:  # the red "over" colour marks what lies beyond: the scale is the others'
        vmax -= 1
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    norm = Normalize(vmin, vmax)
    # beyond the scale (a diverged run's huge gradients): red, as the verdict
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.82", over=_OFFSCALE_COLOR)
    x1 = max(max(run["steps"]) for run in runs)
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
        step_axis(ax, runs)
        ax.set_xlim(0, x1)  # to the last step: no blank strip after the last cell
        ax.set_ylim(0.5, L + 0.5)
        ax.set_yticks(layer_ticks(L, most=5))
        ax.tick_params(labelsize=8)
        if k % ncols == 0:
            ax.set_ylabel("layer $l$", fontsize=9)
        if k >= len(runs) - ncols:
            ax.set_xlabel("step", fontsize=9)
        _heatmap_title(ax, labels[k], run["verdict"], palette[k % len(palette)], ncols)
    for ax in axs[len(runs) :]:
        ax.set_visible(False)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cbar = subfig.colorbar(sm, ax=list(axs[: len(runs)]), shrink=0.9, aspect=25,
                           extend="max" if cut else "neither")  # fmt: skip
    note = "\n(grey: 0 or inf/NaN" + (", red: off-scale)" if cut else ")")
    raw = " before clipping" if any(r.get("clipped_steps") is not None for r in runs) else ""
    cbar.set_label(r"$\|\partial E/\partial W_l\|_F$" + raw + note, fontsize=9)
    pow10_ticks(cbar.ax.yaxis, vmin, vmax)
    cbar.ax.tick_params(labelsize=8)


def _empty_note(run: dict, M: np.ndarray) -> str:
    """A note for a panel without a coloured cell, saying why."""
    if np.isfinite(M).any():
        return ""
    nf = run.get("nonfinite") or {}
    if M.shape[0] == 0:
        at = f" at step {nf['step']}" if "step" in nf else ""
        return f"diverged{at},\nbefore any logged update" if nf else "no update logged"
    if nf:
        return "no finite gradient"
    # the weights' gradients only: a read-out bias can still learn and move the loss
    steps = [s for s in run["steps"] if s >= 1]
    return (
        f"$\\partial E/\\partial W_l = 0$ at every logged step\n({steps[0]}–{steps[-1]}): "
        "only biases can learn"
    )


def _heatmap_title(ax, label: str, verdict: str, color, ncols: int) -> None:
    """The label (in the run's colour) left, the verdict (in its colour) right; one line
    under the other when they would not fit side by side (the texts measured as drawn, the
    label in bold, against a panel's width: the figure's less the colour bar and its label,
    about 1 inch, and each panel's tick labels)."""
    panel = (WIDTH - 2.2) / ncols - 0.3
    chars = int(panel / (0.6 * 9 / 72))  # about what fits on a line at 9 pt, in bold
    vcolor = VERDICT_COLORS.get(verdict, "black")
    if text_inches(label, 9, "bold") + 2 * 9 / 72 + text_inches(verdict, 9) <= panel:
        ax.set_title(label, loc="left", fontsize=9, color=color, fontweight="bold")
        ax.set_title(verdict, loc="right", fontsize=9, color=vcolor)
    else:
        # the verdict on a line of its own above the label's: its title moved up by the
        # label's lines (a title's pad is one for the panel's three titles)
        from matplotlib.transforms import ScaledTranslation

        wrapped = textwrap.fill(label, chars)
        ax.set_title(wrapped, loc="left", fontsize=9, color=color, fontweight="bold")
        right = ax.set_title(verdict, loc="right", fontsize=9, color=vcolor)
        up = (wrapped.count("\n") + 1) * 1.3 * 9 / 72  # inches
        right.set_transform(right.get_transform()
                            + ScaledTranslation(0, up, ax.figure.dpi_scale_trans))  # fmt: skip
