"""Layout checks of a drawn figure from matplotlib's own bounding boxes (Agg renderer):
texts that overlap or leave the canvas, legends over data, and legend entries whose colour
or line style differs from the artist they stand for. Each returns a list of problems, one
line each, so that a test shows them all."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.colors import to_rgba
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

_LS = {"-": "solid", "--": "dashed", "-.": "dashdot", ":": "dotted", "": "None", " ": "None",
       "none": "None"}  # fmt: skip


def render(fig):
    """Draw ``fig`` with Agg (the layout runs); its renderer."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def axes_of(fig) -> list:
    return [a for a in fig.findobj(lambda o: isinstance(o, Axes)) if a.get_visible()]


def legends_of(fig) -> list:
    return [lg for lg in fig.findobj(lambda o: isinstance(o, Legend)) if lg.get_visible()]


def drawn_texts(fig) -> list:
    """Every visible, non-empty text the figure draws: tick labels only of the ticks drawn
    (an axis keeps label objects for ticks outside its view)."""
    ticks, drawn = set(), set()
    for ax in axes_of(fig):
        for axis in ax._axis_map.values():
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks |= {id(tick.label1), id(tick.label2)}
            for tick in axis._update_ticks():
                drawn |= {id(tick.label1), id(tick.label2)}
    out = []
    for t in fig.findobj(lambda o: isinstance(o, Text)):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if id(t) in ticks and id(t) not in drawn:
            continue
        if not _shown(t):
            continue
        out.append(t)
    return out


def _shown(t) -> bool:
    """Not in a hidden Axes (an unused panel of a grid)."""
    return t.axes is None or t.axes.get_visible()


def text_box(t: Text, renderer):
    return Text.get_window_extent(t, renderer)  # the text alone, not an annotation's arrow


def text_problems(fig, renderer) -> list[str]:
    """Texts that overlap another text (by more than a pixel each way) or leave the
    canvas."""
    texts = drawn_texts(fig)
    boxes = [text_box(t, renderer) for t in texts]
    canvas = fig.bbox
    out = []
    for t, b in zip(texts, boxes, strict=True):
        if (b.x0 < canvas.x0 - 1 or b.y0 < canvas.y0 - 1 or b.x1 > canvas.x1 + 1
                or b.y1 > canvas.y1 + 1):  # fmt: skip
            out.append(f"text {t.get_text()!r} leaves the canvas ({_r(b)} vs {_r(canvas)})")
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            a, b = boxes[i], boxes[j]
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            if w > 1 and h > 1:
                out.append(f"texts {texts[i].get_text()!r} and {texts[j].get_text()!r} overlap")
    return out


def _r(b) -> str:
    return f"[{b.x0:.0f}, {b.x1:.0f}] × [{b.y0:.0f}, {b.y1:.0f}]"


def _dense(xy: np.ndarray, per: int = 24) -> np.ndarray:
    """Points along a polyline (display coordinates), so that a legend between two distant
    points of a straight segment is seen."""
    ok = np.all(np.isfinite(xy), axis=1)
    xy = xy[ok]
    if len(xy) < 2:
        return xy
    t = np.linspace(0, 1, per, endpoint=False)[:, None, None]
    seg = xy[:-1][None] + t * (xy[1:] - xy[:-1])[None]
    return np.concatenate([seg.reshape(-1, 2), xy[-1:]])


def data_points(ax) -> np.ndarray:
    """Display coordinates of the data an Axes draws inside its frame: lines (densified),
    scatter points."""
    pts = []
    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        pts.append(_dense(xy) if line.get_linestyle() not in ("None", "") else xy)
    for c in ax.collections:
        off = c.get_offsets()
        if c.get_visible() and len(off) and c.get_offset_transform() is not None:
            pts.append(c.get_offset_transform().transform(np.asarray(off, float)))
    if not pts:
        return np.zeros((0, 2))
    p = np.concatenate(pts)
    box = ax.bbox
    inside = (p[:, 0] >= box.x0) & (p[:, 0] <= box.x1) & (p[:, 1] >= box.y0) & (p[:, 1] <= box.y1)
    return p[inside & np.all(np.isfinite(p), axis=1)]


def legend_cover_problems(fig, renderer) -> list[str]:
    """Legends whose box holds a data point of any Axes."""
    out = []
    for lg in legends_of(fig):
        box = lg.get_window_extent(renderer)
        for ax in axes_of(fig):
            p = data_points(ax)
            n = int(np.count_nonzero((p[:, 0] > box.x0) & (p[:, 0] < box.x1)
                                     & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)))  # fmt: skip
            if n:
                out.append(f"legend ({', '.join(t.get_text() for t in lg.get_texts())[:60]}…) "
                           f"covers {n} data points of a panel")  # fmt: skip
    return out


def _style(a) -> dict:
    """Colour, line style and marker of a line, patch or collection, comparable."""
    if isinstance(a, Line2D):
        marker = a.get_marker()
        marker = None if marker in ("None", "none", "", " ", None) else marker
        s = {"color": to_rgba(a.get_color()), "ls": _LS.get(a.get_linestyle(), a.get_linestyle()),
             "marker": marker}  # fmt: skip
        if marker is not None:
            s["face"] = to_rgba(a.get_markerfacecolor())
        return s
    if isinstance(a, (Patch, Collection)):
        ec = np.asarray(a.get_edgecolor(), float)
        if ec.size == 0:  # a mesh without edges
            return {}
        ec = ec.reshape(-1, 4)[0]
        ls = a.get_linestyle()
        ls = "solid" if not isinstance(ls, str) else _LS.get(ls, ls)
        s = {"color": to_rgba(ec), "ls": ls, "marker": None}
        if isinstance(a, Collection) and len(a.get_offsets()):  # scatter: markers of any shape
            fc = np.asarray(a.get_facecolor(), float).reshape(-1, 4)
            s |= {"marker": "*", "fill": to_rgba(fc[0]) if len(fc) else None}
        return s
    return {}


def _matches(handle: dict, artist: dict) -> bool:
    if not artist or not np.allclose(handle["color"], artist["color"], atol=0.01):
        return False
    if handle["ls"] != "None" and handle["ls"] != artist["ls"]:
        return False
    if handle["marker"] is not None and artist.get("marker") == "*":  # a scatter
        return True
    if handle["marker"] is not None:
        if handle["marker"] != artist.get("marker"):
            return False
        faces = (handle.get("face"), artist.get("face"))
        if None not in faces and not np.allclose(*faces, atol=0.01):
            return False
    return True


def legend_style_problems(fig) -> list[str]:
    """Legend entries (lines and markers) whose colour, line style or marker no drawn artist
    has: the artists carrying the entry's label when there are any (then every one of
    them must match), else any artist of the figure."""
    artists = []
    for ax in axes_of(fig):
        artists += [a for a in (*ax.lines, *ax.patches, *ax.collections) if a.get_visible()]
    out = []
    for lg in legends_of(fig):
        for handle, text in zip(lg.legend_handles, lg.get_texts(), strict=True):
            if not isinstance(handle, Line2D):
                continue  # patches (a shaded region) are not checked
            h = _style(handle)
            if h["ls"] == "None" and h["marker"] is None:
                continue  # a text-only entry
            label = text.get_text()
            named = [a for a in artists if a.get_label() == label]
            if named:
                bad = [a for a in named if not _matches(h, _style(a))]
                if bad:
                    out.append(f"legend entry {label!r} ({_fmt(h)}) differs from its artist "
                               f"({_fmt(_style(bad[0]))})")  # fmt: skip
            elif not any(_matches(h, _style(a)) for a in artists):
                out.append(f"legend entry {label!r} ({_fmt(h)}): no artist drawn so")
    return out


def _fmt(s: dict) -> str:
    c = ",".join(f"{v:.2f}" for v in s.get("color", ())[:3])
    return f"colour ({c}), {s.get('ls')}, marker {s.get('marker')}"


def problems(fig) -> list[str]:
    """Every check on ``fig``, drawn with Agg."""
    renderer = render(fig)
    return [
        *text_problems(fig, renderer),
        *legend_cover_problems(fig, renderer),
        *legend_style_problems(fig),
    ]
