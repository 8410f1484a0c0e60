"""The figure of a run, drawn from its JSON form (``Result.to_dict()`` or ``gradsim run
--format json``), so a saved result is redrawn without recomputing: the per-layer panels
(``panels``) and, with ``--hist``, a row of histograms. Null values (non-finite or exactly
zero) are left out; matplotlib is imported inside the functions only (``common``).
"""

from __future__ import annotations

import numpy as np

from gradsim.explain import pow10
from gradsim.report.figures.common import (
    check_result,
    colors,
    light_grid,
    new_figure,
    pow10_axis,
    title_parts,
)
from gradsim.report.figures.panels import (
    ACT,
    ACT_PRED,
    DELTA,
    DELTA_PRED,
    GRAD,
    finish_panel,
    label_panels,
    layer_line,
    series,
)
from gradsim.report.figures.placement import data_lines, put_legend

_SIZE = (11.0, 4.5)  # inches; two panels side by side
_SIZE_HIST = (11.0, 8.0)  # with the row of histograms
_NONFINITE = "#9467bd"


def plot_run(d: dict, *, fig=None):
    """Per-layer signal and gradient sizes of one run, with the dtype's range marked.

    Panel (a): RMS of the activations H_l against the layer l = 1…L. Panel (b): RMS of
    δ_l = ∂E/∂Z_l and ‖∂E/∂W_l‖_F. Horizontal lines mark the dtype's smallest normal and
    largest finite number where they fall near the data; a vertical line marks the first
    layer a plain computation in the dtype meets inf/NaN. If ``d`` has ``"hist"``, a second
    row shows histograms of the activation values and of log10|δ_l| at a few layers, in the
    style of Glorot & Bengio (2010), figs. 6-7. Layers that carry ``log10_act_pred`` and
    ``log10_delta_pred`` (``gradsim run --theory``) get the mean-field prediction dashed, in
    the color of the measured curve.

    Parameters
    ----------
    d : dict
        A run result's JSON form (``kind == "run"``).
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_result(d, "run", need=("config", "layers"))
    cfg, layers, summary = d["config"], d["layers"], d.get("summary") or {}
    hist = d.get("hist") or None
    fig = new_figure(fig, _SIZE_HIST if hist else _SIZE)
    if hist:
        (ax_a, ax_b), (ax_c, ax_d) = fig.subplots(2, 2)
    else:
        ax_a, ax_b = fig.subplots(1, 2)
    palette = colors()
    layer_line(ax_a, layers, ACT, palette[0])
    layer_line(ax_b, layers, DELTA, palette[1])
    theory = any(ACT_PRED[0] in row for row in layers)
    if theory:
        dashed = {"linestyle": "--", "marker": None, "linewidth": 1.3}
        layer_line(ax_a, layers, ACT_PRED, palette[0], **dashed)
        layer_line(ax_b, layers, DELTA_PRED, palette[1], **dashed)
    layer_line(ax_b, layers, GRAD, palette[2])
    depth = cfg["depth"]
    label_panels(ax_a, ax_b)  # before the notes, which go beside the titles if they fit
    nf = summary.get("nonfinite")
    for ax, pass_ in ((ax_a, "forward"), (ax_b, "backward")):
        marks = []
        if nf:  # the first inf/NaN, labelled in the panel of the pass that met it
            text = _nonfinite_text(nf, cfg["dtype"]) if nf["pass"] == pass_ else None
            marks.append((nf["layer"], text, _NONFINITE, "-"))
        finish_panel(ax, depth, [cfg["dtype"]], marks)
    if data_lines(ax_b):
        put_legend(ax_b)
    if theory and len(data_lines(ax_a)) > 1:
        put_legend(ax_a)
    if hist:
        color = _histograms(ax_c, ax_d, hist)
        _mark_sampled(ax_a, ACT[0], layers, color)
        _mark_sampled(ax_b, DELTA[0], layers, color)
    verdict = summary.get("verdict", "?")
    fig.suptitle(
        f"{' · '.join(text for _, text in title_parts(cfg, summary.get('loss_scale')))}\n"
        f"verdict: {verdict.upper()} (forward {summary.get('forward', '?')}, "
        f"backward {summary.get('backward', '?')})",
        fontsize=11,
    )
    return fig


def _nonfinite_text(nf: dict, dtype: str) -> str:
    if nf.get("tracked"):
        return f"layer {nf['layer']}: plain {dtype} overflows here"
    return f"layer {nf['layer']}: {dtype} {nf['pass']} pass meets inf/NaN"


def layer_colors(layers: list[int]) -> dict:
    """A colour per sampled layer, light to dark with depth, from a map (cyan → magenta)
    that shares no colour with the quantities of panels (a) and (b)."""
    import matplotlib

    cmap = matplotlib.colormaps["cool"]
    n = max(len(layers) - 1, 1)
    return {l: cmap(0.05 + 0.9 * i / n) for i, l in enumerate(layers)}


def _mark_sampled(ax, field: str, layers: list[dict], color: dict) -> None:
    """The histogrammed layers marked on the curve of ``field``, in their colours."""
    x, y = series(layers, field)
    for layer, c in color.items():
        k = np.flatnonzero(x == layer)
        if k.size:
            ax.plot(x[k], y[k], marker="o", markersize=6, color=c, markeredgecolor="black",
                    markeredgewidth=0.6, linestyle="none", zorder=4, label="_sampled")  # fmt: skip


def _fit_x(ax, entries: list, edges_of) -> None:
    """The x-range from the first to the last non-empty bin of any entry, padded 3%."""
    spans = []
    for h in entries:
        edges, nz = edges_of(h), np.flatnonzero(np.asarray(h["counts"]) > 0)
        if nz.size:
            spans += [edges[nz[0]], edges[nz[-1] + 1]]
    if spans:
        lo, hi = min(spans), max(spans)
        pad = 0.03 * (hi - lo) if hi > lo else 0.5
        ax.set_xlim(lo - pad, hi + pad)


def _histograms(ax_act, ax_delta, hist: dict) -> dict:
    """Step histograms of activation values and of log10|δ_l|, one color per layer; returns
    the colours."""
    from matplotlib.lines import Line2D

    acts = [h for h in hist.get("act") or [] if _hist_ok(h)]
    deltas = [h for h in hist.get("delta") or [] if _hist_ok(h)]
    layers = sorted({h["layer"] for h in (*acts, *deltas)})
    color = layer_colors(layers)
    one_bin = set()
    if any(h.get("log10") for h in acts):  # layers decades apart: binned by log10|H|
        _log_histograms(ax_act, acts, color, "H_l", "H")
        _fit_x(ax_act, acts, lambda h: np.asarray(h["edges"], float))
        ax_act.set_title("(c) activation sizes $|H_l|$", loc="left", fontsize=10)
    else:
        # a common power of ten keeps every layer's values finite on one axis
        scale = max((h.get("log10_scale") or 0.0 for h in acts), default=0.0)

        def scaled(h):
            return np.asarray(h["edges"], float) * 10.0 ** ((h.get("log10_scale") or 0.0) - scale)

        for h in acts:
            edges = scaled(h)
            ax_act.stairs(_shares(h), edges, color=color[h["layer"]],
                          label=f"layer {h['layer']}", linewidth=1.3)  # fmt: skip
            if np.count_nonzero(h["counts"]) == 1:  # e.g. values far smaller than the bins
                one_bin.add(h["layer"])
        _fit_x(ax_act, acts, scaled)
        unit = f" (×{pow10(scale, style='tex', plain=None)})" if scale else ""
        ax_act.set_xlabel(f"activation value $H_l${unit}")
        ax_act.set_title("(c) activation values", loc="left", fontsize=10)
    if one_bin:
        which = ", ".join(map(str, sorted(one_bin)))
        ax_act.set_title(f"all in one bin: layer {which}", loc="right", fontsize=8, color="0.35")
    _log_histograms(ax_delta, deltas, color, r"\delta_l", "δ")
    _fit_x(ax_delta, deltas, lambda h: np.asarray(h["edges"], float))
    ax_delta.set_title(r"(d) back-propagated gradients $|\delta_l|$", loc="left", fontsize=10)
    for ax, entries in ((ax_act, acts), (ax_delta, deltas)):
        ax.set_ylabel("share of the layer's values")
        light_grid(ax)
        if not entries:
            ax.text(0.5, 0.5, "no histogram", transform=ax.transAxes, ha="center", color="0.4")
    # one legend for both panels, below them, where it cannot cover a histogram
    handles = [Line2D([], [], color=color[l], linewidth=1.3, label=f"layer {l}") for l in layers]
    if handles:
        ax_act.figure.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                             fontsize=8, frameon=False)  # fmt: skip
    return color


def _log_histograms(ax, entries: list, color: dict, tex: str, name: str) -> None:
    """Step histograms over log10|x| with 10^k ticks; exact zeros are named, not drawn."""
    zeros, total = 0, 0
    for h in entries:
        ax.stairs(_shares(h), h["edges"], color=color[h["layer"]], label=f"layer {h['layer']}",
                  linewidth=1.3)  # fmt: skip
        zeros += h.get("zeros") or 0
        total += (h.get("zeros") or 0) + int(np.sum(h["counts"]))
    ax.set_xlabel(f"$|{tex}|$ (log scale)")
    pow10_axis(ax.xaxis)
    if zeros:
        ax.set_title(f"exact zeros not shown ({zeros / total:.0%} of {name})", loc="right",
                     fontsize=8, color="0.35")  # fmt: skip


def _shares(h: dict) -> np.ndarray:
    # shares rather than counts, so that layers of different widths compare
    counts = np.asarray(h["counts"], float)
    return counts / max(counts.sum() + (h.get("zeros") or 0), 1.0)


def _hist_ok(h: dict) -> bool:
    """A histogram entry that can be drawn: finite edges, one more than the counts."""
    edges, counts = h.get("edges") or [], h.get("counts") or []
    values = [*edges, *counts]
    return (len(edges) == len(counts) + 1 and len(counts) > 0 and None not in values
            and bool(np.all(np.isfinite(np.asarray(values, float)))))  # fmt: skip
