"""Where a figure's labels go: inside a panel, in the box the data lines cross least and no
label placed before overlaps, sized by an estimate made before the layout runs."""

from __future__ import annotations

import weakref

import numpy as np

# panels with labels standing beside them (end_labels): the inches of their width those take,
# which the layout will give the labels instead of the panel
_BESIDE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def data_lines(ax) -> list:
    """The panel's lines of data: guides and marks have labels starting with '_'."""
    return [line for line in ax.lines if not line.get_label().startswith("_")]


def put_note(ax, text: str, taken: list) -> None:
    """A small grey note: right of the panel's title if it fits there, else inside."""
    w, _ = text_size(ax, text)
    if w + text_size(ax, ax.get_title(loc="left"), fontsize=10)[0] < 0.95:
        ax.set_title(text, loc="right", fontsize=8, color="0.35")
        return
    w, h = text_size(ax, text)
    boxes = [(a, a + w, b, b + h, ha) for a, ha in ((0.01, "left"), (0.99 - w, "right"))
             for b in (0.98 - h, 0.02)]  # fmt: skip
    put_label(ax, text, least_crowded(ax, boxes, taken), "0.35", taken)


def reserve_beside(ax, fontsize: float = 8) -> None:
    """Say before a panel is finished that ``end_labels`` will put its lines' labels beside
    it, so that what is sized by ``axes_inches`` (notes, ticks) expects the narrower panel."""
    labels = [line.get_label() for line in data_lines(ax)]
    _BESIDE[ax] = max(map(len, labels), default=0) * 0.55 * fontsize / 72 + 0.35


def axes_inches(ax) -> tuple[float, float]:
    """About the size a panel gets from the constrained layout, before it has run."""
    nrows, ncols = ax.get_subplotspec().get_geometry()[:2]
    # the (sub)figure's own size: its bbox is in pixels before any drawing
    box, dpi = ax.figure.bbox, ax.figure.dpi
    fw, fh = box.width / dpi, box.height / dpi
    # less the tick labels and axis label beside it (and labels said to stand beside it),
    # the suptitle and titles above it
    return max(fw / ncols - 0.9 - _BESIDE.get(ax, 0.0), 1.0), max((fh - 0.6) / nrows - 0.8, 1.0)


def text_size(ax, text: str, fontsize: float = 8) -> tuple[float, float]:
    """A generous estimate of a label's width and height in axes fractions."""
    visible = text.replace("{\\cdot}", "·")
    for ch in "${}^\\":
        visible = visible.replace(ch, "")
    lines = visible.split("\n")
    w_in = max(map(len, lines)) * 0.55 * fontsize / 72
    h_in = 1.5 * fontsize / 72 * len(lines)
    aw, ah = axes_inches(ax)
    return w_in / aw, h_in / ah


def least_crowded(ax, boxes: list, taken: list, lines: list | None = None) -> tuple:
    """Of ``boxes`` (x0, x1, y0, y1 in axes fractions, alignment), the one the data lines
    (or ``lines``) cross least and that overlaps no box ``taken``."""
    count = _crowding(ax, data_lines(ax) if lines is None else lines)

    def crowding(box):
        a, b, c, d, _ = box
        overlaps = sum(a < t[1] and t[0] < b and c < t[3] and t[2] < d for t in taken)
        return count(box) + 10_000 * overlaps

    return min(boxes, key=crowding)


def _crowding(ax, lines: list):
    """A function of a box (x0, x1, y0, y1 in axes fractions, …): how many points of
    ``lines``, sampled densely (a steep segment through a box is seen), it holds."""
    curves = []
    for line in lines:
        # (a guide's x may be in axes fractions: each line through its own transform)
        to_axes = line.get_transform() + ax.transAxes.inverted()
        xy = to_axes.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
        if len(xy) > 1:  # points along every segment, as drawn (a vertical mark too)
            t = np.linspace(0, 1, max(2, -(-600 // len(xy))), endpoint=False)[:, None, None]
            xy = np.concatenate([(xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2), xy[-1:]])
        curves.append(xy)

    def count(box) -> int:
        a, b, c, d = box[:4]
        return sum(int(np.count_nonzero((p[:, 0] >= a) & (p[:, 0] <= b) & (p[:, 1] >= c)
                                        & (p[:, 1] <= d))) for p in curves)  # fmt: skip

    return count


# matplotlib's nine places for a legend inside a panel, in its own order of preference
LEGEND_PLACES = ("upper right", "upper left", "lower left", "lower right", "center left",
                 "center right", "lower center", "upper center", "center")  # fmt: skip


def text_inches(text: str, fontsize: float = 8, weight: str = "normal") -> float:
    """The width of ``text`` as matplotlib draws it (its widest line; formulas in $…$ too),
    in inches: measured from the glyphs, before any figure is drawn."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=fontsize, weight=weight)
    return max(text_to_path.get_text_width_height_descent(line, font, ismath="$" in line)[0]
               for line in text.split("\n")) / 72  # fmt: skip


def put_legend(ax, fontsize: float = 8) -> None:
    """The panel's legend in the first place (of ``LEGEND_PLACES``) whose box no line
    crosses, guides included (a format's overflow line runs the panel's whole width, and
    ``loc="best"`` counts it as one crossing however much of the legend it runs under);
    beside the panel where every place inside holds some line."""
    _, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    em = fontsize / 72
    aw, ah = axes_inches(ax)
    widest = max(text_inches(t, fontsize) for t in labels)
    w = (widest + 3.6 * em) / aw  # + the handle, its gap and the borders
    h = (len(labels) * 1.5 + 0.8) * em / ah
    px, py = 0.5 * em / aw, 0.5 * em / ah  # matplotlib's borderaxespad

    def box(place: str) -> tuple:
        x0 = {"left": px, "right": 1 - px - w}.get(place.split()[-1], 0.5 - w / 2)
        y0 = {"upper": 1 - py - h, "lower": py}.get(place.split()[0], 0.5 - h / 2)
        return (x0, x0 + w, y0, y0 + h, place)

    count = _crowding(ax, [line for line in ax.lines if line.get_visible()])
    best = min((box(p) for p in LEGEND_PLACES), key=count)
    if count(best) == 0:
        ax.legend(loc=best[4], fontsize=fontsize)
    else:  # no place inside is free: beside the panel, which the layout makes room for
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                  fontsize=fontsize)  # fmt: skip


def put_label(ax, text: str, box: tuple, color, taken: list) -> None:
    a, b, c, d, ha = box
    ax.text(a if ha == "left" else b, (c + d) / 2, text, transform=ax.transAxes, ha=ha,
            va="center_baseline", fontsize=8, color=color, zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1})  # fmt: skip
    taken.append(box)


def spread(ys: np.ndarray, gap: float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Positions near ``ys`` (sorted), at least ``gap`` apart, within [lo, hi] if they fit:
    pushed up from the bottom, then down from the top."""
    p = np.clip(np.asarray(ys, float), lo, hi)
    for k in range(1, len(p)):
        p[k] = max(p[k], p[k - 1] + gap)
    if len(p) and p[-1] > hi:
        p[-1] = hi
        for k in range(len(p) - 2, -1, -1):
            p[k] = min(p[k], p[k + 1] - gap)
    return p


def end_labels(ax, side: str) -> None:
    """Each data line's label beside the panel at the line's ``side`` ('right': its last
    point, 'left': its first), in its colour, spread apart, with a thin leader to the end."""
    from matplotlib.colors import to_rgb

    to_axes = ax.transData + ax.transAxes.inverted()
    ends = []
    for line in data_lines(ax):
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        if x.size == 0:
            continue
        k = -1 if side == "right" else 0
        ya = float(np.clip(to_axes.transform((x[k], y[k]))[1], 0.0, 1.0))
        ends.append((ya, x[k], y[k], line))
    if not ends:
        return
    ends.sort(key=lambda e: e[0])
    gap = 1.3 * 8 / 72 / axes_inches(ax)[1]  # one line of 8 pt
    pos = spread(np.array([e[0] for e in ends]), gap)
    xt, ha = (1.06, "left") if side == "right" else (-0.06, "right")
    lo, hi = ax.get_ylim()
    for (_, x, y, line), p in zip(ends, pos, strict=True):
        # the text darker than the line: tab20's light colours are faint as letters
        dark = tuple(0.72 * np.asarray(to_rgb(line.get_color())))
        ax.annotate(line.get_label(), (x, min(max(y, lo), hi)), xytext=(xt, p),
                    textcoords="axes fraction", ha=ha, va="center", fontsize=8,
                    color=dark, annotation_clip=False,
                    arrowprops={"arrowstyle": "-", "color": line.get_color(), "linewidth": 0.6,
                                "shrinkA": 1, "shrinkB": 0})  # fmt: skip
