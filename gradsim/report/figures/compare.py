"""The figure of a comparison: per-layer activation and δ sizes of several runs, drawn from
the compare result's JSON form."""

from __future__ import annotations

from gradsim.dtypes import fmt
from gradsim.options import axis_name
from gradsim.report.figures.common import check_result, curve_colors, new_figure, title_parts
from gradsim.report.figures.panels import (
    ACT,
    DELTA,
    coinciding,
    finish_panel,
    label_panels,
    layer_line,
)
from gradsim.report.figures.placement import data_lines, end_labels, reserve_beside

_SIZE = (11.0, 4.5)  # inches; two panels side by side
MAX_LEGEND = 9  # more runs: each line labelled at its end instead of a legend


def plot_compare(d: dict, *, fig=None):
    """Per-layer activation and δ sizes of several runs, one line (and color) per run.

    Panel (a): RMS of H_l; panel (b): RMS of δ_l = ∂E/∂Z_l. A run keeps its color and line
    style in both panels (dashed where it lies on an earlier run's line); the legend names
    each run by its values on the varying axes (``init=he_normal, act=relu``), or, beyond
    MAX_LEGEND runs, each line is labelled at its end (layer L in (a), layer 1 in (b)). The
    y-range stops 30% of the dtypes' range beyond it, so that an overflowing run does not
    squash the others; a line cut off gets an arrow and its extreme value at the edge. The
    dtypes' ranges and each run's first inf/NaN layer (dotted, in the run's colour) are
    marked as in ``plot_run``.

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
    many = len(runs) > MAX_LEGEND
    fig = new_figure(fig, (_SIZE[0], max(_SIZE[1], 1.6 + 0.17 * len(runs))) if many else _SIZE)
    ax_a, ax_b = fig.subplots(1, 2)
    palette = curve_colors(len(runs))
    labels = [_run_label(run["config"], axes, i, short=many) for i, run in enumerate(runs)]
    marks = []
    for i, run in enumerate(runs):
        # colours repeat after the palette; the line style then tells them apart
        style = {"color": palette[i % len(palette)],
                 "linestyle": ("-", "-.", ":")[i // len(palette) % 3]}  # fmt: skip
        for ax, quantity in ((ax_a, ACT), (ax_b, DELTA)):
            layer_line(ax, run["layers"], (quantity[0], labels[i]), **style)
        nf = (run.get("summary") or {}).get("nonfinite")
        if nf:
            marks.append((nf["layer"], None, style["color"], ":"))
    _dash_coinciding_runs(ax_a, ax_b)
    depth = max(run["config"]["depth"] for run in runs)
    dtypes = sorted({run["config"]["dtype"] for run in runs}, key=_dtype_bits)
    label_panels(ax_a, ax_b, delta_only=True)
    for ax in (ax_a, ax_b):
        if many:  # (end_labels below: the panels are narrower by their width)
            reserve_beside(ax)
        finish_panel(ax, depth, dtypes, marks, clip=True)
    handles = [] if many else _run_handles(ax_a, ax_b, labels)
    for layer, _, color, style in dict.fromkeys(marks):  # one entry per run that met inf/NaN
        who = [labels[i] for i, run in enumerate(runs)
               if ((run.get("summary") or {}).get("nonfinite") or {}).get("layer") == layer
               and palette[i % len(palette)] == color]  # fmt: skip
        handles.append(Line2D([], [], color=color, linestyle=style, linewidth=1.2,
                              label=f"first inf/NaN ({', '.join(who)})"))  # fmt: skip
    if many:
        handles += _label_ends(ax_a, ax_b, runs, labels)
    if handles:
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


def _label_ends(ax_a, ax_b, runs: list, labels: list[str]) -> list:
    """Each line labelled at its end (many runs: no legend of them); the legend entry that
    names the runs not drawn, if any."""
    from matplotlib.lines import Line2D

    end_labels(ax_a, "right")
    # (b)'s labels at layer 1, where its lines part; its ticks go right
    ax_b.yaxis.tick_right()
    ax_b.yaxis.set_label_position("right")
    end_labels(ax_b, "left")
    missing = [labels[i] for i, run in enumerate(runs) if not _drawn(run)]
    if not missing:
        return []
    return [Line2D([], [], linestyle="none",
                   label=f"not drawn, no finite value: {', '.join(missing)}")]  # fmt: skip


def _dash_coinciding_runs(ax_a, ax_b) -> None:
    """Dash a run's lines in both panels if they lie on an earlier run's in either, so that
    both show and the legend can show the one style each run has."""
    la, lb = data_lines(ax_a), data_lines(ax_b)
    dashed = {la[k].get_label() for k in coinciding(la)} | {
        lb[k].get_label() for k in coinciding(lb)
    }
    for line in la + lb:
        if line.get_label() in dashed and line.get_linestyle() == "-":
            line.set_linestyle("--")


def _run_handles(ax_a, ax_b, labels: list[str]) -> list:
    """Legend entries copied from the drawn lines: their colour and style."""
    from matplotlib.lines import Line2D

    drawn = {line.get_label(): line for line in data_lines(ax_b) + data_lines(ax_a)}
    out = []
    for label in labels:
        line = drawn.get(label)
        if line is None:
            out.append(Line2D([], [], linestyle="none", label=f"{label}: no finite value"))
        else:
            out.append(Line2D([], [], color=line.get_color(), linestyle=line.get_linestyle(),
                              linewidth=1.5, label=label))  # fmt: skip
    return out


def _drawn(run: dict) -> bool:
    return any(row.get(f) is not None for row in run["layers"] for f in (ACT[0], DELTA[0]))


def _run_label(cfg: dict, axes: dict, i: int, short: bool = False) -> str:
    """'init=he_normal, act=relu': the run's values on the varying axes ('he_normal' alone
    when ``short`` and one axis varies: the title names it)."""
    parts = []
    for key in axes:
        v = cfg.get(key)
        if isinstance(v, float):
            v = f"{v:g}"
        elif isinstance(v, list):  # widths
            v = "-".join(map(str, v))
        parts.append(str(v) if short and len(axes) == 1 else f"{axis_name(key)}={v}")
    return ", ".join(parts) or f"run {i + 1}"


def _dtype_bits(name: str) -> int:
    return fmt(name).bits
