"""Figures of a run or a comparison, drawn from the result's JSON form.

Every function takes the dict of ``Result.to_dict()`` (or of ``gradsim run/compare --format
json``), so a saved result is redrawn without recomputing. Magnitudes are plotted as their
``log10_*`` fields on a linear axis labelled in powers of ten: they may lie beyond float64
(10^400), so 10**x is never formed. Null values (non-finite or exactly zero) are left out.

matplotlib is imported inside the functions, never at module level, and only through
``matplotlib.figure.Figure`` (no pyplot, no global state), so drawing is headless (Agg).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from gradsim.errors import GradsimError
from gradsim.report.export import check_writable, write_atomic

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
KINDS = ("run", "compare")
PLOTTABLE = (*KINDS, "phase", "spectrum", "train")  # every kind plot_result draws

# (JSON field, legend label) of the plotted per-layer quantities
ACT = ("log10_act_rms", "RMS of $H_l$")
DELTA = ("log10_delta_rms", r"RMS of $\delta_l = \partial E/\partial Z_l$")
GRAD = ("log10_grad_norm", r"$\|\partial E/\partial W_l\|_F$")
# the mean-field predictions of `gradsim run --theory`, drawn dashed in the measured color
ACT_PRED = ("log10_act_pred", "mean-field prediction")
DELTA_PRED = ("log10_delta_pred", r"$\delta_l$, mean-field prediction")

_SIZE = (11.0, 4.5)  # inches; two panels side by side
_SIZE_HIST = (11.0, 8.0)  # with the row of histograms
_DPI = 150  # png resolution
_UNDER, _OVER = "#1f77b4", "#d62728"  # underflow / overflow marks
_NONFINITE = "#9467bd"
_AXIS_NAMES = {"activation": "act"}  # as the CLI spells the option


# ---------------------------------------------------------------- public functions


def plot_result(d: dict, **kw):
    """The figure of any gradsim result, by ``d["kind"]``: ``plot_run``, ``plot_compare``,
    the theory module's ``plot_phase`` and ``plot_spectrum``, or ``plots_train.plot_train``.

    Parameters
    ----------
    d : dict
        A result's JSON form (``"gradsim"``, ``"kind"``: run, compare, phase, spectrum or
        train, ...).
    **kw
        Passed on (``fig``).

    Raises
    ------
    GradsimError
        If ``d`` is not a gradsim result of one of those kinds.
    """
    if isinstance(d, dict) and d.get("kind") in ("phase", "spectrum") and "gradsim" in d:
        from gradsim.report import plots_theory

        draw = plots_theory.plot_phase if d["kind"] == "phase" else plots_theory.plot_spectrum
        return draw(d, **kw)
    if isinstance(d, dict) and d.get("kind") == "train" and "gradsim" in d:
        from gradsim.report.plots_train import plot_train

        return plot_train(d, **kw)
    kind = _kind(d)
    return (plot_run if kind == "run" else plot_compare)(d, **kw)


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
    _check_kind(d, "run")
    cfg, layers, summary = d["config"], d["layers"], d.get("summary") or {}
    hist = d.get("hist") or None
    fig = _new_figure(fig, _SIZE_HIST if hist else _SIZE)
    if hist:
        (ax_a, ax_b), (ax_c, ax_d) = fig.subplots(2, 2)
    else:
        ax_a, ax_b = fig.subplots(1, 2)
    colors = _colors()
    _line(ax_a, layers, ACT, colors[0])
    _line(ax_b, layers, DELTA, colors[1])
    theory = any(ACT_PRED[0] in row for row in layers)
    if theory:
        dashed = {"linestyle": "--", "marker": None, "linewidth": 1.3}
        _line(ax_a, layers, ACT_PRED, colors[0], **dashed)
        _line(ax_b, layers, DELTA_PRED, colors[1], **dashed)
    _line(ax_b, layers, GRAD, colors[2])
    depth = cfg["depth"]
    _label_panels(ax_a, ax_b)  # before the notes, which go beside the titles if they fit
    nf = summary.get("nonfinite")
    for ax, pass_ in ((ax_a, "forward"), (ax_b, "backward")):
        marks = []
        if nf:  # the first inf/NaN, labelled in the panel of the pass that met it
            text = _nonfinite_text(nf, cfg["dtype"]) if nf["pass"] == pass_ else None
            marks.append((nf["layer"], text, _NONFINITE, "-"))
        _finish_panel(ax, depth, [cfg["dtype"]], marks)
    if _data_lines(ax_b):
        ax_b.legend(loc="best", fontsize=8)
    if theory and len(_data_lines(ax_a)) > 1:
        ax_a.legend(loc="best", fontsize=8)
    if hist:
        _histograms(ax_c, ax_d, hist)
    verdict = summary.get("verdict", "?")
    fig.suptitle(
        f"{' · '.join(text for _, text in _title_parts(cfg))}\n"
        f"verdict: {verdict.upper()} (forward {summary.get('forward', '?')}, "
        f"backward {summary.get('backward', '?')})",
        fontsize=11,
    )
    return fig


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

    _check_kind(d, "compare")
    runs, axes = d["runs"], d.get("axes") or {}
    fig = _new_figure(fig, _SIZE)
    ax_a, ax_b = fig.subplots(1, 2)
    colors = _colors()
    handles, marks = [], []
    for i, run in enumerate(runs):
        # tab10 repeats after ten runs; the line style then tells them apart
        style = {"color": colors[i % len(colors)], "linestyle": ("-", "--", "-.")[i // 10 % 3]}
        label = _run_label(run["config"], axes, i)
        for ax, quantity in ((ax_a, ACT), (ax_b, DELTA)):
            _line(ax, run["layers"], (quantity[0], label), **style)
        handles.append(Line2D([], [], label=label, **style))
        nf = (run.get("summary") or {}).get("nonfinite")
        if nf:
            marks.append((nf["layer"], None, style["color"], ":"))
    depth = max(run["config"]["depth"] for run in runs)
    dtypes = sorted({run["config"]["dtype"] for run in runs}, key=_dtype_bits)
    _label_panels(ax_a, ax_b, delta_only=True)
    for ax in (ax_a, ax_b):
        _dash_coinciding(ax)
        _finish_panel(ax, depth, dtypes, marks)
    if marks:
        handles.append(Line2D([], [], color="0.4", linestyle=":", label="first inf/NaN"))
    # as many columns as fit the width (about 0.06 in per character at 8 pt)
    widest = max(len(h.get_label()) for h in handles) * 0.06 + 0.6
    ncols = max(1, min(len(handles), int(fig.get_figwidth() * 0.95 / widest)))
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, fontsize=8,
               frameon=False)  # fmt: skip
    # the phrases every run shares, leaving out the axes compared
    parts = [_title_parts(run["config"]) for run in runs]
    fixed = [text for k, (keys, text) in enumerate(parts[0])
             if not keys & set(axes) and all(p[k][1] == text for p in parts)]  # fmt: skip
    over = ", ".join(_AXIS_NAMES.get(k, k) for k in axes) or "runs"
    fig.suptitle(f"compare {len(runs)} configurations over {over}\n" + " · ".join(fixed),
                 fontsize=11)  # fmt: skip
    return fig


def check_figure_path(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if a figure cannot be written to ``path``.

    The suffix chooses the format (``FIGURE_SUFFIXES``); the folder must exist and be
    writable (``export.check_writable``).

    Raises
    ------
    GradsimError
        One line naming the problem.
    """
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        what = f"'{p.suffix}'" if p.suffix else "no suffix"
        raise GradsimError(
            f"cannot save a figure as {p}: {what} is not a figure format; "
            f"use {', '.join(FIGURE_SUFFIXES)}"
        )
    return check_writable(p)


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` in the format its suffix names, atomically (whole or not
    at all); png at 150 dpi."""
    p = check_figure_path(path)
    fmt = p.suffix.lower()[1:]
    write_atomic(p, writer=lambda f: fig.savefig(f, format=fmt, dpi=_DPI))


# ---------------------------------------------------------------- checks and labels


def _kind(d) -> str:
    if not isinstance(d, dict) or "gradsim" not in d or "kind" not in d:
        raise GradsimError("not a gradsim result: expected an object with 'gradsim' and 'kind'")
    if d["kind"] not in KINDS:
        raise GradsimError(
            f"cannot plot a gradsim result of kind '{d['kind']}' (can plot: {', '.join(PLOTTABLE)})"
        )
    need = ("config", "layers") if d["kind"] == "run" else ("runs",)
    missing = [k for k in need if not d.get(k)]
    if missing:
        raise GradsimError(f"not a complete gradsim {d['kind']} result: no '{missing[0]}'")
    return d["kind"]


def _check_kind(d, kind: str) -> None:
    if _kind(d) != kind:
        raise GradsimError(f"expected a gradsim {kind} result, got a {d['kind']} result")


def _title_parts(cfg: dict) -> list[tuple[set, str]]:
    """The configuration as short phrases, each with the config keys it shows."""
    widths = cfg.get("widths") or []
    if len(set(widths)) <= 1:
        w = ({"width", "widths"}, f"n={cfg.get('width') or (widths or ['?'])[0]}")
    else:
        shown = widths if len(widths) <= 7 else [*widths[:3], "…", *widths[-2:]]
        w = ({"width", "widths"}, "widths " + "-".join(map(str, shown)))
    gain = cfg.get("gain")
    init = cfg.get("init", "?") + (f" γ={gain:g}" if gain not in (None, 1) else "")
    return [
        ({"depth"}, f"L={cfg.get('depth', '?')}"),
        w,
        ({"batch"}, f"B={cfg.get('batch', '?')}"),
        ({"activation"}, str(cfg.get("activation", "?"))),
        ({"init", "gain"}, init),
        ({"loss"}, f"{cfg.get('loss', '?')} loss"),
        ({"dtype"}, str(cfg.get("dtype", "?"))),
        ({"seed"}, f"seed {cfg.get('seed', '?')}"),
    ]


def _run_label(cfg: dict, axes: dict, i: int) -> str:
    """'init=he_normal, act=relu': the run's values on the varying axes."""
    parts = []
    for key in axes:
        v = cfg.get(key)
        if isinstance(v, float):
            v = f"{v:g}"
        elif isinstance(v, list):  # widths
            v = "-".join(map(str, v))
        parts.append(f"{_AXIS_NAMES.get(key, key)}={v}")
    return ", ".join(parts) or f"run {i + 1}"


def _nonfinite_text(nf: dict, dtype: str) -> str:
    if nf.get("tracked"):
        return f"layer {nf['layer']}: plain {dtype} overflows here"
    return f"layer {nf['layer']}: {dtype} {nf['pass']} pass meets inf/NaN"


def _sci_tex(log10v: float) -> str:
    """10^log10v as mathtext, e.g. '$3.4{\\cdot}10^{38}$'."""
    e = math.floor(log10v)
    m = 10 ** (log10v - e)
    if round(m, 1) >= 10:
        m, e = 1.0, e + 1
    return f"${m:.1f}{{\\cdot}}10^{{{e}}}$"


def _dtype_bits(name: str) -> int:
    return np.finfo(name).bits


# ---------------------------------------------------------------- drawing helpers


def _new_figure(fig, size):
    if fig is None:
        from matplotlib.figure import Figure

        return Figure(figsize=size, layout="constrained")
    if fig.get_layout_engine() is None:  # legends placed outside the axes need it
        fig.set_layout_engine("constrained")
    return fig


def _colors() -> list:
    import matplotlib

    return list(matplotlib.colormaps["tab10"].colors)


def _series(layers: list[dict], field: str) -> tuple[np.ndarray, np.ndarray]:
    """Layer numbers and values of ``field``, nulls and non-finite values left out."""
    x = np.array([row["layer"] for row in layers], dtype=float)
    y = np.array([np.nan if row.get(field) is None else row[field] for row in layers], float)
    keep = np.isfinite(y)
    return x[keep], y[keep]


def _line(ax, layers, quantity, color, **kw) -> None:
    field, label = quantity
    x, y = _series(layers, field)
    if x.size == 0:
        return
    # markers where a line would be too short to see
    kw = {"linewidth": 1.5, "marker": "o" if len(x) <= 20 else None, "markersize": 3} | kw
    ax.plot(x, y, color=color, label=label, **kw)


def _dash_coinciding(ax) -> None:
    """Dash a line that lies on an earlier one (float32 vs float64, say), so both show."""
    lines = _data_lines(ax)
    ys = np.concatenate([line.get_ydata() for line in lines]) if lines else np.zeros(1)
    tol = 0.01 * max(float(ys.max() - ys.min()), 2.0)  # 1% of the panel's height
    for k, line in enumerate(lines):
        x, y = line.get_xdata(), line.get_ydata()
        for other in lines[:k]:
            common, i, j = np.intersect1d(x, other.get_xdata(), return_indices=True)
            if len(common) >= max(2, 0.8 * len(x)) and np.all(
                np.abs(y[i] - other.get_ydata()[j]) <= tol
            ):
                line.set_dashes((4, 3))
                break


def _label_panels(ax_a, ax_b, delta_only: bool = False) -> None:
    ax_a.set_title("(a) forward pass", loc="left", fontsize=10)
    ax_b.set_title("(b) backward pass", loc="left", fontsize=10)
    ax_a.set_ylabel("RMS of activations $H_l$")
    ax_b.set_ylabel(DELTA[1] if delta_only else "gradient size")


def _layer_ticks(depth: int, most: int = 9) -> list[int]:
    """1, multiples of a round step, L: at most about ``most`` ticks, none crowding L."""
    if depth <= most:
        return list(range(1, depth + 1))
    # round steps 2, 5, 10, 20, 25, 50, 100, ...
    steps = (s for e in range(12) for s in (10**e, 2 * 10**e, 25 * 10**e // 10, 5 * 10**e))
    step = next(s for s in steps if s >= 2 and s * (most - 1) >= depth)
    inner = [t for t in range(step, depth, step) if depth - t >= 0.5 * step]
    return [1, *inner, depth]


def _pow10_axis(axis) -> None:
    """Tick labels 10^k on an axis that plots log10 values."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=7, integer=True, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"$10^{{{v:.0f}}}$"))


def _decade_minor_ticks(ax, lo: float, hi: float) -> None:
    # log-paper minor ticks (2…9 within each decade) where they are few enough to read
    from matplotlib.ticker import FixedLocator, NullFormatter

    if hi - lo > 6:
        return
    ticks = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi) + 1)
             for m in range(2, 10)]  # fmt: skip
    ax.yaxis.set_minor_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _finish_panel(ax, depth: int, dtypes: list[str], marks=()) -> None:
    """Layer axis, y-range, 10^k ticks, the dtypes' underflow/overflow limits, and
    ``marks``: vertical lines ``(layer, text or None, color, linestyle)``."""
    ax.set_xlim(1 - max(0.5, 0.01 * depth), depth + max(0.5, 0.01 * depth))
    # about one tick per 0.55 inch, so that labels of three digits never touch
    ax.set_xticks(_layer_ticks(depth, most=max(3, int(_axes_inches(ax)[0] / 0.55))))
    ax.set_xlabel("layer $l$")
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)
    data = [line.get_ydata() for line in _data_lines(ax)]
    ys = np.concatenate(data) if data else np.array([])
    if ys.size == 0:
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.5, "nothing to draw:\nevery value is zero or inf/NaN",
                transform=ax.transAxes, ha="center", va="center", color="0.4")  # fmt: skip
        limits, note = [], ""
    else:
        limits, note = _fit_y(ax, float(ys.min()), float(ys.max()), dtypes)
    # label boxes placed so far (axes fractions), starting with the vertical lines
    x0, x1 = ax.get_xlim()
    taken = [((m[0] - x0) / (x1 - x0) - 0.004, (m[0] - x0) / (x1 - x0) + 0.004, 0, 1, "")
             for m in marks]  # fmt: skip
    for kind, v, dt in limits:
        _draw_limit(ax, kind, v, dt, taken)
    for layer, text, color, style in marks:
        _mark_layer(ax, layer, text, color, style, taken)
    if note:
        _note(ax, note, taken)


def _fit_y(ax, ymin: float, ymax: float, dtypes: list[str]) -> tuple[list, str]:
    """Set the y-range to the data and to the dtype limits near it. Returns the limits to
    draw, as ``(kind, log10 value, dtype)``, and a note on those too far to draw."""
    lo, hi = ymin, ymax
    if hi - lo < 2:  # at least two whole decades, so that 10^k ticks appear
        lo, hi = math.floor((lo + hi) / 2 - 1), math.ceil((lo + hi) / 2 + 1)
    # a limit this close is drawn (the data keeps most of the height); a farther one is noted
    near = max(2.0, 0.2 * (hi - lo))
    shown, notes = [], []
    for dt in dtypes:
        fi = np.finfo(dt)
        tiny, big = math.log10(float(fi.tiny)), math.log10(float(fi.max))
        off = []
        for kind, v in (("under", tiny), ("over", big)):
            (shown if lo - near <= v <= hi + near else off).append((kind, v, dt))
        if off:
            notes.append(_range_note(dt, off, tiny, big, ymin, ymax))
    for _, v, _ in shown:
        lo, hi = min(lo, v), max(hi, v)
    pad = 0.06 * (hi - lo)
    # more room beyond a drawn limit at the edge, for its light band and label
    lo -= pad + (pad if any(k == "under" and v <= lo for k, v, _ in shown) else 0)
    hi += pad + (pad if any(k == "over" and v >= hi for k, v, _ in shown) else 0)
    ax.set_ylim(lo, hi)
    _pow10_axis(ax.yaxis)
    _decade_minor_ticks(ax, lo, hi)
    return shown, "\n".join(notes)


def _range_note(dt: str, off: list, tiny: float, big: float, ymin: float, ymax: float) -> str:
    """A short note for dtype limits too far from the data to draw."""
    if len(off) == 2:
        if ymin > big:
            return f"every value above {dt}'s max {_sci_tex(big)}"
        if ymax < tiny:
            return f"every value below {dt}'s smallest normal {_sci_tex(tiny)}"
        return f"{dt} range {_sci_tex(tiny)}…{_sci_tex(big)}, off-scale"
    kind, v, _ = off[0]
    name = "smallest normal" if kind == "under" else "max"
    return f"{dt} {name} {_sci_tex(v)} off-scale"


def _data_lines(ax) -> list:
    return [line for line in ax.lines if not line.get_label().startswith("_")]


def _draw_limit(ax, kind: str, v: float, dt: str, taken: list) -> None:
    """A dtype limit: a dashed line, a light band beyond it, a label where the data is not."""
    color = _UNDER if kind == "under" else _OVER
    lo, hi = ax.get_ylim()
    ax.axhspan(*((lo, v) if kind == "under" else (v, hi)), color=color, alpha=0.07,
               linewidth=0, label="_band")  # fmt: skip
    ax.axhline(v, color=color, linestyle="--", linewidth=1, label=f"_{dt} {kind}flow")
    text = f"{dt} {kind}flow {_sci_tex(v)}"
    w, h = _text_size(ax, text)
    y = (v - lo) / (hi - lo)
    y0, y1 = (y - h, y) if kind == "under" else (y, y + h)
    boxes = [(0.01, 0.01 + w, y0, y1, "left"), (0.99 - w, 0.99, y0, y1, "right")]
    _put_label(ax, text, _least_crowded(ax, boxes, taken), color, taken)


def _mark_layer(ax, layer: int, text: str | None, color, style: str, taken: list) -> None:
    """A vertical line at ``layer``, with ``text`` beside it where the data is not."""
    ax.axvline(layer, color=color, linestyle=style, linewidth=1.2, label="_nonfinite")
    if not text:
        return
    x0, x1 = ax.get_xlim()
    x = (layer - x0) / (x1 - x0)
    w, h = _text_size(ax, text)
    gap = 0.008
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((x + gap, "left"), (x - gap - w, "right"))
             for b in (0.97 - h, 0.03) if 0 <= a and a + w <= 1]  # fmt: skip
    boxes = boxes or [(x + gap, x + gap + w, 0.97 - h, 0.97, "left")]
    _put_label(ax, text, _least_crowded(ax, boxes, taken), color, taken)


def _note(ax, text: str, taken: list) -> None:
    """A small grey note: right of the panel's title if it fits there, else inside."""
    w, _ = _text_size(ax, text)
    if w + _text_size(ax, ax.get_title(loc="left"), fontsize=10)[0] < 0.95:
        ax.set_title(text, loc="right", fontsize=8, color="0.35")
        return
    w, h = _text_size(ax, text)
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((0.01, "left"), (0.99 - w, "right"))
             for b in (0.98 - h, 0.02)]  # fmt: skip
    _put_label(ax, text, _least_crowded(ax, boxes, taken), "0.35", taken)


def _axes_inches(ax) -> tuple[float, float]:
    """About the size a panel gets from the constrained layout, before it has run."""
    nrows, ncols = ax.get_subplotspec().get_geometry()[:2]
    fw, fh = ax.figure.get_size_inches()
    # less the tick labels and axis label beside it, the suptitle and titles above it
    return max(fw / ncols - 0.9, 1.0), max((fh - 0.6) / nrows - 0.8, 1.0)


def _text_size(ax, text: str, fontsize: float = 8) -> tuple[float, float]:
    """A generous estimate of a label's width and height in axes fractions."""
    visible = text.replace("{\\cdot}", "·")
    for ch in "${}^\\":
        visible = visible.replace(ch, "")
    lines = visible.split("\n")
    w_in = max(map(len, lines)) * 0.55 * fontsize / 72
    h_in = 1.5 * fontsize / 72 * len(lines)
    aw, ah = _axes_inches(ax)
    return w_in / aw, h_in / ah


def _least_crowded(ax, boxes: list, taken: list) -> tuple:
    """Of ``boxes`` (x0, x1, y0, y1 in axes fractions, alignment), the one the data lines
    cross least and that overlaps no box ``taken``."""
    to_axes = ax.transData + ax.transAxes.inverted()
    xs = np.linspace(0, 1, 600)
    curves = []
    for line in _data_lines(ax):
        xy = to_axes.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
        # sampled densely, so a steep segment through a box is seen
        dense = np.interp(xs, xy[:, 0], xy[:, 1], left=np.nan, right=np.nan)
        curves += [np.column_stack([xs, dense]), xy]

    def crowding(box):
        a, b, c, d, _ = box
        n = sum(int(np.count_nonzero((p[:, 0] >= a) & (p[:, 0] <= b) & (p[:, 1] >= c)
                                     & (p[:, 1] <= d))) for p in curves)  # fmt: skip
        overlaps = sum(a < t[1] and t[0] < b and c < t[3] and t[2] < d for t in taken)
        return n + 10_000 * overlaps

    return min(boxes, key=crowding)


def _put_label(ax, text: str, box: tuple, color, taken: list) -> None:
    a, b, c, d, ha = box
    ax.text(a if ha == "left" else b, (c + d) / 2, text, transform=ax.transAxes, ha=ha,
            va="center_baseline", fontsize=8, color=color, zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1})  # fmt: skip
    taken.append(box)


def _histograms(ax_act, ax_delta, hist: dict) -> None:
    """Step histograms of activation values and of log10|δ_l|, one color per layer."""
    from matplotlib.lines import Line2D

    acts = [h for h in hist.get("act") or [] if _hist_ok(h)]
    deltas = [h for h in hist.get("delta") or [] if _hist_ok(h)]
    layers = sorted({h["layer"] for h in (*acts, *deltas)})
    colors = _colors()
    color = {l: colors[i % len(colors)] for i, l in enumerate(layers)}
    one_bin = set()
    if any(h.get("log10") for h in acts):  # layers decades apart: binned by log10|H|
        _log_histograms(ax_act, acts, color, "H_l", "H")
        ax_act.set_title("(c) activation sizes $|H_l|$", loc="left", fontsize=10)
    else:
        # a common power of ten keeps every layer's values finite on one axis
        scale = max((h.get("log10_scale") or 0.0 for h in acts), default=0.0)
        for h in acts:
            edges = np.asarray(h["edges"], float) * 10.0 ** ((h.get("log10_scale") or 0.0) - scale)
            ax_act.stairs(_shares(h), edges, color=color[h["layer"]],
                          label=f"layer {h['layer']}", linewidth=1.3)  # fmt: skip
            if np.count_nonzero(h["counts"]) == 1:  # e.g. values far smaller than the bins
                one_bin.add(h["layer"])
        unit = f" (×$10^{{{scale:.0f}}}$)" if scale else ""
        ax_act.set_xlabel(f"activation value $H_l${unit}")
        ax_act.set_title("(c) activation values", loc="left", fontsize=10)
    if one_bin:
        which = ", ".join(map(str, sorted(one_bin)))
        ax_act.set_title(f"all in one bin: layer {which}", loc="right", fontsize=8, color="0.35")
    _log_histograms(ax_delta, deltas, color, r"\delta_l", "δ")
    ax_delta.set_title(r"(d) back-propagated gradients $|\delta_l|$", loc="left", fontsize=10)
    for ax, entries in ((ax_act, acts), (ax_delta, deltas)):
        ax.set_ylabel("share of the layer's values")
        ax.grid(True, color="0.92", linewidth=0.8)
        ax.set_axisbelow(True)
        if not entries:
            ax.text(0.5, 0.5, "no histogram", transform=ax.transAxes, ha="center", color="0.4")
    # one legend for both panels, below them, where it cannot cover a histogram
    handles = [Line2D([], [], color=color[l], linewidth=1.3, label=f"layer {l}") for l in layers]
    if handles:
        ax_act.figure.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                             fontsize=8, frameon=False)  # fmt: skip


def _log_histograms(ax, entries: list, color: dict, tex: str, name: str) -> None:
    """Step histograms over log10|x| with 10^k ticks; exact zeros are named, not drawn."""
    zeros, total = 0, 0
    for h in entries:
        ax.stairs(_shares(h), h["edges"], color=color[h["layer"]], label=f"layer {h['layer']}",
                  linewidth=1.3)  # fmt: skip
        zeros += h.get("zeros") or 0
        total += (h.get("zeros") or 0) + int(np.sum(h["counts"]))
    ax.set_xlabel(f"$|{tex}|$ (log scale)")
    _pow10_axis(ax.xaxis)
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
