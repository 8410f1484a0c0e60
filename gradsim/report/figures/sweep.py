"""Figures of a sweep, drawn from its aggregate (``gradsim.sweeps.aggregate``).

Two or more varying axes: a heatmap over ``x`` × ``y``, color = the median over seeds of
log10 δ₁/δ_L on a diverging map centred on 0 (blue: δ vanishes toward layer 1, red: it
explodes), with contours at ±log10(threshold), the verdicts' borders; one panel per
combination of the other varying axes. One axis: the median against it, with the seeds'
interquartile range as a band, one line per combination of the others.

matplotlib is imported inside the functions only (``common``).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np

from gradsim.errors import GradsimError
from gradsim.report.figures.common import check_result, colors, new_figure, pow10_formatter
from gradsim.report.labels import axis_label, base_text, fold, value_text

MAX_PANELS = 24
MAX_LINES = 12
_QUANTITY = r"median $\delta_1/\delta_L$"
# cells without a finite median: opposite failures, two marks
_ZEROS = {"marker": "o", "markersize": 7, "markerfacecolor": "none", "markeredgecolor": "0.2",
          "markeredgewidth": 1.2, "label": "δ = 0 in some layer: no ratio (vanishing)"}  # fmt: skip
_NONFINITE = {"marker": "x", "markersize": 7, "color": "0.2", "markeredgewidth": 1.5,
              "label": "inf/NaN: no ratio (overflow)"}  # fmt: skip


def _resolve(name: str, axes: dict) -> str:
    """An axis named as on the command line (act, bias-init) → its key in ``axes``."""
    key = name.strip().lstrip("-").replace("-", "_")
    key = {"act": "activation", "L": "depth", "n": "width", "b": "batch"}.get(key, key)
    if key not in axes:
        listed = ", ".join(axis_label(k) for k in axes) or "none"
        raise GradsimError(f"cannot plot over '{name}': it does not vary in this sweep "
                           f"(varying: {listed})")  # fmt: skip
    return key


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def choose_axes(axes: dict, x: str | None = None, y: str | None = None) -> tuple[str, str | None]:
    """The axes to plot over: ``x`` and ``y`` as given (checked), else the first two varying
    numeric axes (then any), or a single one for a line plot; raises GradsimError if the
    figure would need more than MAX_PANELS panels or MAX_LINES lines."""
    if not axes:
        raise GradsimError("--plot needs an axis that varies (give an option several values)")
    if y is not None and x is None:
        raise GradsimError("--y needs --x")
    if x is not None:
        x = _resolve(x, axes)
        y = _resolve(y, axes) if y is not None else None
        if x == y:
            raise GradsimError(f"--x and --y are both {axis_label(x)}")
    else:
        order = sorted(axes, key=lambda k: not _numeric(axes[k]))  # numeric first, stable
        x = order[0]
        y = order[1] if len(order) > 1 else None
    rest = [k for k in axes if k not in (x, y)]
    n = math.prod(len(axes[k]) for k in rest)
    limit, what = (MAX_PANELS, "panels") if y else (MAX_LINES, "lines")
    if n > limit:
        names = " × ".join(axis_label(k) for k in rest)
        raise GradsimError(
            f"the figure would need {n} {what} ({names}): choose --x/--y among them, or "
            "sweep fewer values"
        )
    return x, y


def plot_sweep(agg: dict, x: str | None = None, y: str | None = None, *, fig=None):
    """The figure of a sweep's aggregate: a heatmap over ``x`` × ``y``, or a line plot over
    ``x`` if no ``y`` is given or only one axis varies.

    Parameters
    ----------
    agg : dict
        ``gradsim.sweeps.aggregate`` output (``kind == "sweep"``).
    x, y : str, optional
        Axis names as on the command line; chosen by ``choose_axes`` if not given.
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_result(agg, "sweep", need=("points",))
    x, y = choose_axes(agg.get("axes") or {}, x, y)
    if y is None:
        return plot_lines(agg, x, fig=fig)
    return plot_heatmap(agg, x, y, fig=fig)


# ---------------------------------------------------------------- shared


def _facets(agg: dict, used: tuple[str, ...]) -> tuple[list[str], list[tuple]]:
    rest = [k for k in agg["axes"] if k not in used]
    return rest, list(itertools.product(*(agg["axes"][k] for k in rest)))


def _key(v):
    return tuple(v) if isinstance(v, list) else v


def _lookup(agg: dict) -> dict:
    """(value per axis, in the axes' order) → point row."""
    names = list(agg["axes"])
    return {tuple(_key(p["values"][k]) for k in names): p for p in agg["points"]}


def _facet_title(rest: list[str], combo: tuple) -> str:
    return " ".join(f"{axis_label(k)}={value_text(v)}" for k, v in zip(rest, combo, strict=True))


def _ticks(ax_axis, values: list, most: int = 9) -> None:
    """Tick labels at the cells: numbers thinned to about ``most``, names all (rotated on
    the x axis when they would collide)."""
    labels = [value_text(v) for v in values]
    step = max(1, math.ceil(len(labels) / most)) if _numeric(values) else 1
    pos = list(range(0, len(labels), step))
    ax_axis.set_ticks(pos, [labels[i] for i in pos])
    if ax_axis.axis_name == "x" and not _numeric(values) and sum(map(len, labels)) > 30:
        for t in ax_axis.get_ticklabels():
            t.set_rotation(45)
            t.set_horizontalalignment("right")
            t.set_rotation_mode("anchor")


# ---------------------------------------------------------------- heatmap


def _cells(agg: dict, x: str, y: str, combo: tuple) -> list[list[dict | None]]:
    """The aggregate's row of each cell, [y index][x index] (None: not run), for one
    combination of the other varying axes (in their order)."""
    names = list(agg["axes"])
    rest, _ = _facets(agg, (x, y))
    fixed = dict(zip(rest, combo, strict=True))
    table = _lookup(agg)
    return [[table.get(tuple(_key((fixed | {x: xv, y: yv})[k]) for k in names))
             for xv in agg["axes"][x]] for yv in agg["axes"][y]]  # fmt: skip


def heatmap_data(agg: dict, x: str, y: str, combo: tuple = ()) -> np.ndarray:
    """Median log10 δ₁/δ_L as a (len(y values), len(x values)) array, NaN where no seed
    has a finite ratio, for one combination of the other varying axes (in their order)."""
    return np.array([[np.nan if row is None or row["median"] is None else row["median"]
                      for row in line] for line in _cells(agg, x, y, combo)],
                    dtype=float).reshape(len(agg["axes"][y]), len(agg["axes"][x]))  # fmt: skip


def heatmap_missing(agg: dict, x: str, y: str, combo: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (len(y values), len(x values)) masks of the cells run but without a finite
    median: ``zeros`` (δ = 0 somewhere: the ratio is 0/0 or 0, a vanishing failure) and
    ``nonfinite`` (some seed met inf/NaN: an overflow), told apart by the verdicts."""
    cells = _cells(agg, x, y, combo)
    shape = (len(agg["axes"][y]), len(agg["axes"][x]))
    missing = [[row is not None and row["median"] is None and bool(row.get("runs"))
                for row in line] for line in cells]  # fmt: skip
    over = [[bool(row and row.get("overflow")) for row in line] for line in cells]
    missing, over = np.array(missing, bool).reshape(shape), np.array(over, bool).reshape(shape)
    return missing & ~over, missing & over


def seeds_text(n) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")


def plot_heatmap(agg: dict, x: str, y: str, *, fig=None):
    """Median log10 δ₁/δ_L over ``x`` × ``y``, one panel per combination of the other
    varying axes; contours where it crosses ±log10(threshold). Cells are equal in size
    whatever the values' spacing; tick labels give the values."""
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    x, y = choose_axes(agg["axes"], x, y)
    rest, combos = _facets(agg, (x, y))
    ncols = min(len(combos), 3)
    nrows = math.ceil(len(combos) / ncols)
    xs, ys = agg["axes"][x], agg["axes"][y]
    numeric = _numeric(xs) and _numeric(ys)
    # inches per panel: names need room (and are never thinned), numbers less
    cell_w = min(9.0, max(2.6, (0.32 if _numeric(xs) else 0.42) * len(xs)))
    cell_h = min(7.0, max(2.2, (0.26 if _numeric(ys) else 0.32) * len(ys)))
    fig = new_figure(fig, (cell_w * ncols + 1.6, cell_h * nrows + 1.2))
    axs = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    panels = [heatmap_data(agg, x, y, c) for c in combos]
    finite = np.concatenate([p[np.isfinite(p)] for p in panels])
    thr = agg.get("threshold")
    lt = math.log10(thr) if thr else None
    lin = lt or 1.0
    biggest = float(np.abs(finite).max()) if finite.size else 1.0
    # linear in decades, centred on 0; a few far cells (an overflow at 10^150) beyond the
    # 95th percentile get the end colours (the colourbar's arrows) rather than wash out
    # the ±3 decades beside them
    typical = float(np.percentile(np.abs(finite), 95)) if finite.size else 1.0
    lim = max(typical, 1.5 * lin, 1.0)
    cut = biggest > 1.5 * lim
    lim = lim if cut else max(biggest, lim)
    norm = Normalize(vmin=-lim, vmax=lim)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    mesh, marked = None, [False, False]  # whether any cell has δ = 0, inf/NaN
    for ax, combo, data in zip(axs, combos, panels, strict=False):
        mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5,
                             np.ma.masked_invalid(data), cmap=cmap, norm=norm)  # fmt: skip
        # contours interpolate between cells: only where both axes are numbers
        if numeric and lt is not None and min(data.shape) >= 2 and np.isfinite(data).sum() >= 4:
            lo, hi = np.nanmin(data), np.nanmax(data)
            levels = [v for v in (-lt, lt) if lo < v < hi]
            if levels:
                cs = ax.contour(np.arange(len(xs)), np.arange(len(ys)), np.ma.masked_invalid(data),
                                levels=levels, colors="k", linewidths=1.0)  # fmt: skip
                ax.clabel(cs, fmt={v: ("÷" if v < 0 else "×") + f"{thr:g}" for v in levels},
                          fontsize=7)  # fmt: skip
        if not numeric and data.size <= 400:  # name axes: the decades written in the cells
            _annotate(ax, data, norm)
        zeros, nonfinite = heatmap_missing(agg, x, y, combo)
        marked = [marked[0] or zeros.any(), marked[1] or nonfinite.any()]
        for mask, style in ((zeros, _ZEROS), (nonfinite, _NONFINITE)):
            i, j = np.nonzero(mask)
            ax.plot(j, i, linestyle="none", **style)
        _ticks(ax.xaxis, xs)
        _ticks(ax.yaxis, ys)
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label(y))
        if rest:
            ax.set_title(_facet_title(rest, combo), fontsize=9)
    for ax in axs[len(combos) :]:
        ax.set_visible(False)
    cbar = fig.colorbar(mesh, ax=list(axs[: len(combos)]), shrink=0.9,
                        extend="both" if cut else "neither")  # fmt: skip
    cbar.set_label(r"$\log_{10}$ of median $\delta_1/\delta_L$ (decades)", fontsize=9)
    cbar.ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    if numeric:
        note = f"contours at ×{thr:g} and ÷{thr:g}" if thr else ""
    else:
        note = "in the cells: the median's power of ten"
    _marks_legend(fig, marked)
    head = _fold(
        f"{_QUANTITY} over {seeds_text(agg['seeds'])} · {base_text(agg)}", fig.get_figwidth(), 10
    )  # (a one-panel figure is narrower than a long base)
    fig.suptitle(f"{head}\n{note}", fontsize=10)
    return fig


def _marks_legend(fig, marks: list[bool]) -> None:
    """A legend entry for each mark drawn (δ = 0, inf/NaN), below the panels: side by side,
    or one above the other on a narrow figure."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", **style) for style, m in
               zip((_ZEROS, _NONFINITE), marks, strict=True) if m]  # fmt: skip
    if handles:
        wide = fig.get_figwidth() >= 5
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles) if wide else 1,
                   fontsize=8, frameon=False)  # fmt: skip


def _fold(text: str, inches: float, size: float) -> str:
    """``text`` folded at its ' · ' into lines that fit ``inches`` at ``size`` points (an
    average character is about 0.55 of the size wide)."""
    most = max(20, int(inches * 72 / (0.55 * size)))

    def shown(t: str) -> int:  # characters drawn: a $…$ formula draws about six
        return len(re.sub(r"\$[^$]*\$", "δ₁/δ_L", t))

    return "\n".join(fold(text, most, shown))


def _annotate(ax, data: np.ndarray, norm) -> None:
    """Each cell's median log10 ratio, rounded, in black or white by the cell's shade."""
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            dark = abs(float(norm(v)) - 0.5) > 0.3
            ax.text(j, i, f"{round(v)}", ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")  # fmt: skip


# ---------------------------------------------------------------- lines


def line_data(agg: dict, x: str, combo: tuple = ()) -> dict[str, np.ndarray]:
    """``median``, ``q25``, ``q75`` of log10 δ₁/δ_L along ``x`` (NaN where unknown) for one
    combination of the other varying axes."""
    names = list(agg["axes"])
    rest, _ = _facets(agg, (x,))
    fixed = dict(zip(rest, combo, strict=True))
    table = _lookup(agg)
    out = {k: np.full(len(agg["axes"][x]), np.nan) for k in ("median", "q25", "q75")}
    for j, xv in enumerate(agg["axes"][x]):
        vals = fixed | {x: xv}
        row = table.get(tuple(_key(vals[k]) for k in names))
        for k in out:
            if row is not None and row[k] is not None:
                out[k][j] = row[k]
    return out


def plot_lines(agg: dict, x: str, *, fig=None):
    """Median log10 δ₁/δ_L against ``x`` with the seeds' interquartile range as a band,
    one line per combination of the other varying axes; ±log10(threshold) dashed."""
    x, _ = choose_axes(agg["axes"], x, None)
    rest, combos = _facets(agg, (x,))
    xs = agg["axes"][x]
    numeric = _numeric(xs)
    pos = np.asarray(xs, dtype=float) if numeric else np.arange(len(xs), dtype=float)
    fig = new_figure(fig, (7.5, 4.5))
    ax = fig.subplots()
    thr = agg.get("threshold")
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    if thr:
        for v in (-math.log10(thr), math.log10(thr)):
            ax.axhline(v, color="0.35", linewidth=0.9, linestyle="--")
    palette = colors(len(combos))
    for i, combo in enumerate(combos):
        d = line_data(agg, x, combo)
        c = palette[i % len(palette)]
        label = _facet_title(rest, combo) if rest else None
        ax.plot(pos, d["median"], color=c, marker="o", markersize=3, linewidth=1.5,
                label=label)  # fmt: skip
        ax.fill_between(pos, d["q25"], d["q75"], color=c, alpha=0.25, linewidth=0)
    if not numeric:
        ax.set_xticks(pos, [value_text(v) for v in xs])
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(r"$\delta_1/\delta_L$: median over seeds, band: interquartile range")
    lin = math.log10(thr) if thr else 1.0
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()[1:]] or [np.zeros(1)])
    if np.nanmax(np.abs(ys), initial=0.0) > 10 * lin:  # compress the decades beyond ±10 lin
        ax.set_yscale("symlog", linthresh=lin, linscale=1.0)
    ax.yaxis.set_major_formatter(pow10_formatter())
    if rest and len(combos) > 6:  # beside the axes, not over the lines
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif rest:
        ax.legend(fontsize=8, loc="best")
    note = f" · dashed: ×{thr:g} and ÷{thr:g}" if thr else ""
    # over the whole figure, in two lines: a title over the axes alone is clipped when the
    # legend stands beside them
    fig.suptitle(f"{_QUANTITY} over {seeds_text(agg['seeds'])}\n{base_text(agg)}{note}",
                 fontsize=9)  # fmt: skip
    return fig
