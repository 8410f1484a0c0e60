"""The figure of a comparison: per-layer activation and δ sizes of several runs, drawn from
the compare result's JSON form."""

from __future__ import annotations

from gradsim.dtypes import fmt
from gradsim.options import axis_name
from gradsim.report.figures.common import check_result, colors, new_figure, title_parts
from gradsim.report.figures.panels import (
    ACT,
    DELTA,
    dash_coinciding,
    finish_panel,
    label_panels,
    layer_line,
)

_SIZE = (11.0, 4.5)  # inches; two panels side by side


def plot_compare(d: dict, *, fig=None):
    """Per-layer activation and δ sizes of several runs, one line (and color) per run.

    Panel (a): RMS of H_l; panel (b): RMS of δ_l = ∂E/∂Z_l. A run keeps its color in both
    panels; the legend names each run by its values on the varying axes
    (``init=he_normal, act=relu``). The dtypes' ranges and each run's first inf/NaN layer
    are marked as in ``plot_run``.

    Parameters
    ----------
    d : dict
        A compare result's JSON form (``kind == "compare"``: ``axes``, ``runs``).
    fig : matplotlib.figure.Figure, optional
        Draw into this (empty) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D

    check_result(d, "compare", need=("runs",))
    runs, axes = d["runs"], d.get("axes") or {}
    fig = new_figure(fig, _SIZE)
    ax_a, ax_b = fig.subplots(1, 2)
    palette = colors()
    handles, marks = [], []
    for i, run in enumerate(runs):
        # tab10 repeats after ten runs; the line style then tells them apart
        style = {"color": palette[i % len(palette)], "linestyle": ("-", "--", "-.")[i // 10 % 3]}
        label = _run_label(run["config"], axes, i)
        for ax, quantity in ((ax_a, ACT), (ax_b, DELTA)):
            layer_line(ax, run["layers"], (quantity[0], label), **style)
        handles.append(Line2D([], [], label=label, **style))
        nf = (run.get("summary") or {}).get("nonfinite")
        if nf:
            marks.append((nf["layer"], None, style["color"], ":"))
    depth = max(run["config"]["depth"] for run in runs)
    dtypes = sorted({run["config"]["dtype"] for run in runs}, key=_dtype_bits)
    label_panels(ax_a, ax_b, delta_only=True)
    for ax in (ax_a, ax_b):
        dash_coinciding(ax)
        finish_panel(ax, depth, dtypes, marks)
    if marks:
        handles.append(Line2D([], [], color="0.4", linestyle=":", label="first inf/NaN"))
    # as many columns as fit the width (about 0.06 in per character at 8 pt)
    widest = max(len(h.get_label()) for h in handles) * 0.06 + 0.6
    ncols = max(1, min(len(handles), int(fig.get_figwidth() * 0.95 / widest)))
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=8,
               frameon=False)  # fmt: skip
    # the phrases every run shares, leaving out the axes compared
    parts = [title_parts(run["config"]) for run in runs]
    fixed = [text for k, (keys, text) in enumerate(parts[0])
             if not keys & set(axes) and all(p[k][1] == text for p in parts)]  # fmt: skip
    over = ", ".join(axis_name(k) for k in axes) or "runs"
    fig.suptitle(f"compare {len(runs)} configurations over {over}\n" + " · ".join(fixed),
                 fontsize=11)  # fmt: skip
    return fig


def _run_label(cfg: dict, axes: dict, i: int) -> str:
    """'init=he_normal, act=relu': the run's values on the varying axes."""
    parts = []
    for key in axes:
        v = cfg.get(key)
        if isinstance(v, float):
            v = f"{v:g}"
        elif isinstance(v, list):  # widths
            v = "-".join(map(str, v))
        parts.append(f"{axis_name(key)}={v}")
    return ", ".join(parts) or f"run {i + 1}"


def _dtype_bits(name: str) -> int:
    return fmt(name).bits
