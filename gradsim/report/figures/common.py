"""What every figure shares: checking a result and a figure path, a new figure, colours, the
light grid, axes of log10 values labelled in powers of ten, layer ticks, the phrases of a
configuration, and saving.

matplotlib is imported inside the functions, never at module level, and only through
``matplotlib.figure.Figure`` and its helpers (no pyplot, no global state), so drawing is
headless (Agg) and importing gradsim never imports matplotlib.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradsim.errors import GradsimError
from gradsim.explain import EVERY, pow10
from gradsim.options import INIT_OPTIONS
from gradsim.report.export import check_writable, write_atomic
from gradsim.report.labels import init_text, precision_text

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
DPI = 150  # png resolution


def check_result(d, kind: str, need: tuple[str, ...] = ()) -> None:
    """Raise a one-line GradsimError unless ``d`` is a gradsim result of ``kind`` whose
    fields ``need`` are present and not empty."""
    if not isinstance(d, dict) or "gradsim" not in d or "kind" not in d:
        raise GradsimError("not a gradsim result: expected an object with 'gradsim' and 'kind'")
    if d["kind"] != kind:
        raise GradsimError(f"expected a gradsim {kind} result, got a {d['kind']} result")
    missing = [k for k in need if not d.get(k)]
    if missing:
        raise GradsimError(f"not a complete gradsim {kind} result: no '{missing[0]}'")


def check_figure_path(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if a figure cannot be written to ``path``.

    The suffix chooses the format (``FIGURE_SUFFIXES``); the folder must exist and be
    writable (``gradsim.files.check_writable``).

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
    check_writable(p, "the figure")
    return p


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` in the format its suffix names, atomically (whole or not
    at all); png at 150 dpi."""
    p = check_figure_path(path)
    fmt = p.suffix.lower()[1:]
    write_atomic(p, writer=lambda f: fig.savefig(f, format=fmt, dpi=DPI))


def new_figure(fig, size: tuple[float, float]):
    """A new figure of ``size`` inches with the constrained layout, or ``fig`` (given by
    the caller) with that layout if it has none: legends outside the axes need it."""
    if fig is None:
        from matplotlib.figure import Figure

        return Figure(figsize=size, layout="constrained")
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    return fig


def colors(n: int = 10) -> list:
    """Distinct line colours: tab10, or tab20 for more than ten lines."""
    import matplotlib

    return list(matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors)


def colors_without(n: int, tab10_out: set[int], tab20_out: set[int]) -> list:
    """Distinct colours for n lines, some left out: tab10's while it has enough left, else
    tab20's."""
    if n <= 10 - len(tab10_out):
        return [c for i, c in enumerate(colors(10)) if i not in tab10_out]
    return [c for i, c in enumerate(colors(20)) if i not in tab20_out]


def curve_colors(n: int = 10) -> list:
    """Distinct line colours without the greys (tab10, or tab20 for more than nine lines):
    grey marks the dtypes' limits, guides and missing cells."""
    return colors_without(n, {7}, {14, 15})


def light_grid(ax) -> None:
    """A light grid behind the data."""
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)


def floats(values) -> np.ndarray:
    """A JSON list with nulls → a float array with NaN."""
    return np.array([np.nan if v is None else v for v in values or []], dtype=float)


def pow10_axis(axis, nbins: int = 7) -> None:
    """Ticks at whole powers of ten, labelled '$10^{k}$', on an axis that plots log10
    values: they may lie beyond float64 (10^400), so 10**x is never formed."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=True, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: pow10(v, style="tex", plain=None)))


def pow10_ticks(axis, lo: float, hi: float) -> None:
    """Labels on an axis of log10 values: 10^k at whole k when it spans two decades or more,
    else plain numbers at 1, 2, 5 × 10^k (0.2, 0.5, 1, 2)."""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter

    if hi - lo >= 2:
        pow10_axis(axis, nbins=6)
        return
    mantissas = (1, 2, 5) if hi - lo >= 0.5 else range(1, 10)
    ticks = [k + math.log10(m) for k in range(math.floor(lo), math.ceil(hi) + 1)
             for m in mantissas]  # fmt: skip
    axis.set_major_locator(FixedLocator([t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: pow10(v, plain=EVERY)))


def pow10_formatter():
    """Tick labels for log10 values wherever matplotlib puts the ticks: '$10^{k}$' at whole
    powers, the plain number between them ('0.316', '31.6')."""
    from matplotlib.ticker import FuncFormatter

    def label(v, _):
        return pow10(v, style="tex", plain=None) if float(v).is_integer() else pow10(v, plain=EVERY)

    return FuncFormatter(label)


def layer_ticks(depth: int, most: int = 9) -> list[int]:
    """1, multiples of a round step, L: at most about ``most`` ticks, none crowding L."""
    if depth <= most:
        return list(range(1, depth + 1))
    # round steps 2, 5, 10, 20, 25, 50, 100, ...
    steps = (s for e in range(12) for s in (10**e, 2 * 10**e, 25 * 10**e // 10, 5 * 10**e))
    step = next(s for s in steps if s >= 2 and s * (most - 1) >= depth)
    inner = [t for t in range(step, depth, step) if depth - t >= 0.5 * step]
    return [1, *inner, depth]


def title_parts(cfg: dict, scale: dict | None = None) -> list[tuple[set, str]]:
    """A run's configuration (JSON) as short phrases, each with the config keys it shows;
    ``scale``: the summary's loss scale (the scale a dynamic one reached)."""
    widths = cfg.get("widths") or []
    if len(set(widths)) <= 1:
        w = ({"width", "widths"}, f"n={cfg.get('width') or (widths or ['?'])[0]}")
    else:
        shown = widths if len(widths) <= 7 else [*widths[:3], "…", *widths[-2:]]
        w = ({"width", "widths"}, "widths " + "-".join(map(str, shown)))
    init = init_text(cfg)  # with mode, truncation, bias…: the phrase the tables show
    return [
        ({"depth"}, f"L={cfg.get('depth', '?')}"),
        w,
        ({"batch"}, f"B={cfg.get('batch', '?')}"),
        ({"activation"}, str(cfg.get("activation", "?"))),
        (set(INIT_OPTIONS), init),
        ({"loss"}, f"{cfg.get('loss', '?')} loss"),
        ({"dtype", "loss_scale"}, precision_text(cfg, scale)),
        ({"seed"}, f"seed {cfg.get('seed', '?')}"),
    ]
