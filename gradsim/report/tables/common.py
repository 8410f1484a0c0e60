"""What the terminal tables share: the number formats, the verdicts' colours, sparklines."""

from __future__ import annotations

import math

import numpy as np

from gradsim.explain import pow10
from gradsim.report.labels import SEP, fold

VERDICT_STYLE = {
    "stable": "bold green",
    "vanishing": "bold blue",
    "exploding": "bold red",
    "overflow": "bold magenta",
}
_SPARK = "▁▂▃▄▅▆▇█"


def sci(log10v: float | None) -> str:
    """10^log10v in 7 characters, exact even beyond float64 ('8.1e-24', '2.0e+400'); '0'
    for −inf, 'inf', '—' for None and NaN: ``pow10`` in its table style."""
    return pow10(log10v, style="e", digits=2, plain=None)


def pct(x: float | None) -> str:
    """A share as a whole percentage, '—' for None and NaN."""
    return "—" if x is None or math.isnan(x) else f"{x:.0%}"


def sparkline(values, width: int = 56) -> str:
    """log10 values as block characters, resampled to at most ``width`` columns."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    v[np.isneginf(v)] = np.nan
    if v.size == 0 or not np.any(np.isfinite(v)):
        return ""
    if v.size > width:
        idx = np.linspace(0, v.size - 1, width).round().astype(int)
        v = v[idx]
    lo, hi = np.nanmin(v), np.nanmax(v)
    span = hi - lo if hi > lo else 1.0
    out = []
    for x in v:
        if math.isnan(x):
            out.append(" ")
        else:
            out.append(_SPARK[min(7, int((x - lo) / span * 7.999))])
    return "".join(out)


class Fitted:
    """A rich Table that fits the width it is rendered at without cutting a number: every
    column keeps its widest cell (a header wraps between words only); where they do not all
    fit, whole columns go, ``drop`` naming them in the order to give them up, and one line
    says which went. Columns named in ``flexible`` (free text) may wrap between words."""

    def __init__(self, table, drop=(), flexible=()):
        self.table, self.drop, self.flexible = table, tuple(drop), set(flexible)

    def fit(self, console, options):
        """(the table that fits ``options.max_width``, the headers of the columns left out)."""
        from dataclasses import replace

        width = options.max_width
        cols = []
        for c in self.table.columns:
            head = str(c.header)
            cells = [console.measure(x).maximum if not isinstance(x, str) else cell_len(x)
                     for x in c._cells]  # fmt: skip
            if head in self.flexible:  # wraps between words
                words = [w for x in c._cells for w in str(x).split()] or [""]
                need = max(cell_len(w) for w in [*head.split(), *words])
                cols.append(replace(c, min_width=need, no_wrap=False, overflow="fold"))
                continue
            heads = [head] if c.no_wrap else head.split() or [""]
            need = max([*cells, *(cell_len(h) for h in heads)])
            cols.append(replace(c, min_width=need, no_wrap=True, overflow="ellipsis"))
        dropped = []
        while True:
            t = _with_columns(self.table, cols)
            if _least_width(t) <= width:
                return t, dropped
            left = [h for h in self.drop if h not in dropped and h in {str(c.header) for c in cols}]
            if not left:
                return t, dropped
            dropped.append(left[0])
            cols = [c for c in cols if str(c.header) != left[0]]

    def __rich_console__(self, console, options):
        t, dropped = self.fit(console, options)
        yield t
        if dropped:
            yield dropped_note(dropped, options.max_width)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement.get(console, options, self.fit(console, options)[0])


class Parts:
    """A line of parts joined by " · " (a title, the settings runs share) that a narrow
    terminal folds between its parts, never inside one ("mse loss", "seed 0" stay whole);
    only a part wider than the terminal wraps, between its words."""

    def __init__(self, text: str, style: str = ""):
        self.text, self.style = text, style

    def lines(self, width: int) -> list[str]:
        return fold(self.text, width, cell_len)

    def __rich_console__(self, console, options):
        from rich.text import Text

        for line in self.lines(options.max_width):
            yield Text(line, style=self.style)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        parts = self.text.split(SEP)
        return Measurement(max(cell_len(p) for p in parts), cell_len(self.text))


def dropped_note(dropped, width: int):
    from rich.text import Text

    return Text(f"not shown at {width} columns: {', '.join(dropped)} (widen the terminal, "
                "or use --format json)", style="dim")  # fmt: skip


def _least_width(t) -> int:
    """The narrowest ``t`` can be drawn with every column at its ``min_width`` (rich's own
    measure stops at the width available)."""
    pads = sum(t._get_padding_width(i) for i in range(len(t.columns)))
    return sum(c.min_width or 1 for c in t.columns) + pads + t._extra_width


def _with_columns(table, cols):
    """A copy of ``table`` (its settings and rows) with only the columns ``cols``."""
    import copy
    from dataclasses import replace

    t = copy.copy(table)
    t.columns = [replace(c, _index=i) for i, c in enumerate(cols)]
    return t


def cell_len(text: str) -> int:
    from rich.cells import cell_len as rich_len

    return rich_len(text)
