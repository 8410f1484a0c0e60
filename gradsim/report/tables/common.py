"""What the terminal tables share: the number formats, the verdicts' colours, sparklines."""

from __future__ import annotations

import math

import numpy as np

from gradsim.explain import pow10

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
