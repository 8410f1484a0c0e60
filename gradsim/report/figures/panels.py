"""The per-layer panels of the run and compare figures: log10 sizes against the layer on a
linear axis labelled in powers of ten, the y range fitted to the data and to the dtypes'
underflow and overflow limits near it, and vertical marks at layers (the first inf/NaN)."""

from __future__ import annotations

import math

import numpy as np

from gradsim.dtypes import fmt
from gradsim.explain import pow10
from gradsim.report.figures.common import layer_ticks, light_grid, pow10_ticks
from gradsim.report.figures.placement import (
    axes_inches,
    data_lines,
    least_crowded,
    put_label,
    put_note,
    text_size,
)

# (JSON field, legend label) of the plotted per-layer quantities
ACT = ("log10_act_rms", "RMS of $H_l$")
DELTA = ("log10_delta_rms", r"RMS of $\delta_l = \partial E/\partial Z_l$")
GRAD = ("log10_grad_norm", r"$\|\partial E/\partial W_l\|_F$")
# the mean-field predictions of `gradsim run --theory`, drawn dashed in the measured color
ACT_PRED = ("log10_act_pred", "mean-field prediction")
DELTA_PRED = ("log10_delta_pred", r"$\delta_l$, mean-field prediction")

# underflow / overflow marks: neutral greys, never a curve's colour (``curve_colors``)
_LIMIT = "0.3"  # the underflow and overflow lines and bands
# two lines closer than this everywhere (in decades, a factor 1.07) are drawn as one: the
# later dashed, so that both show
COINCIDE_DECADES = 0.03


def series(layers: list[dict], field: str) -> tuple[np.ndarray, np.ndarray]:
    """Layer numbers and values of ``field``, nulls and non-finite values left out."""
    x = np.array([row["layer"] for row in layers], dtype=float)
    y = np.array([np.nan if row.get(field) is None else row[field] for row in layers], float)
    keep = np.isfinite(y)
    return x[keep], y[keep]


def layer_line(ax, layers, quantity, color, **kw) -> None:
    field, label = quantity
    x, y = series(layers, field)
    if x.size == 0:
        return
    # markers where a line would be too short to see
    kw = {"linewidth": 1.5, "marker": "o" if len(x) <= 20 else None, "markersize": 3} | kw
    ax.plot(x, y, color=color, label=label, **kw)


def coinciding(lines: list) -> set[int]:
    """Indices of ``lines`` that lie on an earlier one (float32 vs float64, say): at 80% or
    more of the same layers, within COINCIDE_DECADES at every common layer."""
    out = set()
    for k, line in enumerate(lines):
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        for other in lines[:k]:
            common, i, j = np.intersect1d(x, other.get_xdata(), return_indices=True)
            if len(common) >= max(2, 0.8 * len(x)) and np.all(
                np.abs(y[i] - np.asarray(other.get_ydata(), float)[j]) <= COINCIDE_DECADES
            ):
                out.add(k)
                break
    return out


def label_panels(ax_a, ax_b, delta_only: bool = False) -> None:
    ax_a.set_title("(a) forward pass", loc="left", fontsize=10)
    ax_b.set_title("(b) backward pass", loc="left", fontsize=10)
    ax_a.set_ylabel("RMS of activations $H_l$")
    ax_b.set_ylabel(DELTA[1] if delta_only else "gradient size")


def finish_panel(ax, depth: int, dtypes: list[str], marks=(), clip: bool = False) -> None:
    """Layer axis, y-range, 10^k ticks, the dtypes' underflow/overflow limits, and
    ``marks``: vertical lines ``(layer, text or None, color, linestyle)``. With ``clip``,
    the y-range stops 30% of the dtypes' range beyond it, so that a line running off to
    10^300 does not squash the others; each line cut off gets an arrow at the edge and its
    extreme value."""
    ax.set_xlim(1 - max(0.5, 0.01 * depth), depth + max(0.5, 0.01 * depth))
    # about one tick per 0.55 inch, so that labels of three digits never touch
    ax.set_xticks(layer_ticks(depth, most=max(3, int(axes_inches(ax)[0] / 0.55))))
    ax.set_xlabel("layer $l$")
    light_grid(ax)
    data = [line.get_ydata() for line in data_lines(ax)]
    ys = np.concatenate(data) if data else np.array([])
    if ys.size == 0:
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.5, "nothing to draw:\nevery value is zero or inf/NaN",
                transform=ax.transAxes, ha="center", va="center", color="0.4")  # fmt: skip
        limits, note = [], ""
    else:
        limits, note = _fit_y(ax, float(ys.min()), float(ys.max()), dtypes, clip)
    # label boxes placed so far (axes fractions), starting with the vertical lines
    x0, x1 = ax.get_xlim()
    taken = [((m[0] - x0) / (x1 - x0) - 0.004, (m[0] - x0) / (x1 - x0) + 0.004, 0, 1, "")
             for m in marks]  # fmt: skip
    for kind, v, dt in limits:
        _draw_limit(ax, kind, v, dt, taken)
    for layer, text, color, style in marks:
        _mark_layer(ax, layer, text, color, style, taken)
    _mark_offscale(ax, taken)
    if note:
        put_note(ax, note, taken)


def _mark_offscale(ax, taken: list) -> None:
    """For each line leaving the y-range, an arrow just inside the edge at the layer of its
    extreme value, in its colour; per edge, one label with the farthest value."""
    lo, hi = ax.get_ylim()
    trans = ax.get_xaxis_transform()  # x in data, y in axes fractions
    for up in (True, False):
        far, at, whole = None, None, True
        for line in data_lines(ax):
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            beyond = y > hi if up else y < lo
            if not beyond.any():
                continue
            k = int(np.argmax(y) if up else np.argmin(y))
            ax.plot([x[k]], [0.975 if up else 0.025], marker="^" if up else "v", markersize=6,
                    color=line.get_color(), linestyle="none", transform=trans, clip_on=False,
                    label="_offscale", zorder=6)  # fmt: skip
            whole &= bool(beyond.all())
            if far is None or (y[k] > far if up else y[k] < far):
                far, at = float(y[k]), x[k]
        if far is not None:
            _offscale_label(ax, far, at, up, whole, taken)


def _offscale_label(ax, far: float, at: float, up: bool, whole: bool, taken: list) -> None:
    word = ("max" if up else "min") if not whole else ("all above," if up else "all below,")
    text = f"off-scale {word} {_tex(far)}"
    x0, x1 = ax.get_xlim()
    w, h = text_size(ax, text)
    xa = (at - x0) / (x1 - x0)
    yc = 0.963 if up else 0.037
    yb = (yc - h / 2, yc + h / 2)
    boxes = [(a, a + w, *yb, ha) for a, ha in ((xa + 0.025, "left"), (xa - 0.025 - w, "right"))
             if 0 <= a and a + w <= 1]  # fmt: skip
    boxes = boxes or [(0.99 - w, 0.99, *yb, "right")]
    put_label(ax, text, least_crowded(ax, boxes, taken), "0.25", taken)


def _decade_minor_ticks(ax, lo: float, hi: float) -> None:
    # log-paper minor ticks (2…9 within each decade) where they are few enough to read
    from matplotlib.ticker import FixedLocator, NullFormatter

    if hi - lo > 6:
        return
    ticks = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi) + 1)
             for m in range(2, 10)]  # fmt: skip
    ax.yaxis.set_minor_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _fit_y(ax, ymin: float, ymax: float, dtypes: list[str], clip: bool) -> tuple[list, str]:
    """Set the y-range to the data and to the dtype limits near it (with ``clip``, at most
    30% of the dtypes' range beyond it). Returns the limits to draw, as ``(kind, log10
    value, dtype)``, and a note on those too far to draw."""
    limits = {dt: (math.log10(float(fmt(dt).tiny)), math.log10(float(fmt(dt).max)))
              for dt in dtypes}  # fmt: skip
    if clip and dtypes:
        tiny = min(t for t, _ in limits.values())
        big = max(b for _, b in limits.values())
        lo, hi = max(ymin, tiny - 0.3 * (big - tiny)), min(ymax, big + 0.3 * (big - tiny))
        if hi > lo:
            ymin, ymax = lo, hi
    lo, hi = ymin, ymax
    if hi - lo < 2:  # the data's own range, labelled at 1, 2, 5 × 10^k (pow10_ticks)
        lo, hi = lo - max(0.1 * (hi - lo), 0.15), hi + max(0.1 * (hi - lo), 0.15)
    # a limit this close is drawn (the data keeps most of the height); a farther one is noted
    near = max(2.0, 0.2 * (hi - lo))
    shown, notes = [], []
    for dt in dtypes:
        tiny, big = limits[dt]
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
    pow10_ticks(ax.yaxis, lo, hi)
    _decade_minor_ticks(ax, lo, hi)
    return shown, "\n".join(notes)


def _range_note(dt: str, off: list, tiny: float, big: float, ymin: float, ymax: float) -> str:
    """A short note for dtype limits too far from the data to draw."""
    if len(off) == 2:
        if ymin > big:
            return f"every value above {dt}'s max {_tex(big)}"
        if ymax < tiny:
            return f"every value below {dt}'s smallest normal {_tex(tiny)}"
        return f"{dt} range {_tex(tiny)}…{_tex(big)}, off-scale"
    kind, v, _ = off[0]
    name = "smallest normal" if kind == "under" else "max"
    return f"{dt} {name} {_tex(v)} off-scale"


def _draw_limit(ax, kind: str, v: float, dt: str, taken: list) -> None:
    """A dtype limit: a dashed line, a light band beyond it, a label where the data is not."""
    color = _LIMIT
    lo, hi = ax.get_ylim()
    ax.axhspan(*((lo, v) if kind == "under" else (v, hi)), color=color, alpha=0.07,
               linewidth=0, label="_band")  # fmt: skip
    ax.axhline(v, color=color, linestyle="--", linewidth=1, label=f"_{dt} {kind}flow")
    text = f"{dt} {kind}flow {_tex(v)}"
    w, h = text_size(ax, text)
    y = (v - lo) / (hi - lo)
    y0, y1 = (y - h, y) if kind == "under" else (y, y + h)
    boxes = [(0.01, 0.01 + w, y0, y1, "left"), (0.99 - w, 0.99, y0, y1, "right")]
    put_label(ax, text, least_crowded(ax, boxes, taken), color, taken)


def _mark_layer(ax, layer: int, text: str | None, color, style: str, taken: list) -> None:
    """A vertical line at ``layer``, with ``text`` beside it where the data is not."""
    ax.axvline(layer, color=color, linestyle=style, linewidth=1.2, label="_nonfinite")
    if not text:
        return
    x0, x1 = ax.get_xlim()
    x = (layer - x0) / (x1 - x0)
    w, h = text_size(ax, text)
    gap = 0.008
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((x + gap, "left"), (x - gap - w, "right"))
             for b in (0.97 - h, 0.03) if 0 <= a and a + w <= 1]  # fmt: skip
    boxes = boxes or [(x + gap, x + gap + w, 0.97 - h, 0.97, "left")]
    put_label(ax, text, least_crowded(ax, boxes, taken), color, taken)


def _tex(log10v: float) -> str:
    """A dtype limit as mathtext: '$3.4{\\cdot}10^{38}$'."""
    return pow10(log10v, style="tex", digits=2, plain=None)
