"""The rich table of a sweep's aggregate: one row per point, statistics over its seeds,
sized to fit 80 columns."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.report.labels import axis_label, base_text, value_text

_SHARES = (("vanishing", "vanish", "blue"), ("exploding", "explode", "red"),
           ("overflow", "overflow", "magenta"))  # fmt: skip


def _share(x: float | None, style: str) -> Text:
    if x is None:
        return Text("—")
    return Text(f"{x:.0%}", style=style if x > 0 else "dim")


def _median(v: float | None, log10_thr: float | None) -> Text:
    if v is None:
        return Text("—", style="magenta")
    style = ""
    if log10_thr is not None:
        style = "blue" if v < -log10_thr else ("red" if v > log10_thr else "green")
    return Text(f"{v:+.2f}", style=style)


def sweep_table(agg: dict) -> Table:
    """One row per point in the grid's order: the varying options' values, the seeds
    stored (n), the median and interquartile range of log10 δ₁/δ_L, the share of seeds
    per unstable verdict."""
    axes = agg["axes"]
    thr = agg.get("threshold")
    lt = math.log10(thr) if thr else None
    t = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", pad_edge=False)
    for k in axes:
        numeric = all(isinstance(v, (int, float)) for v in axes[k])
        t.add_column(axis_label(k), justify="right" if numeric else "left", overflow="fold")
    t.add_column("n", justify="right")
    t.add_column("median", justify="right")
    t.add_column("IQR", justify="right")
    for _, head, _ in _SHARES:
        t.add_column(head, justify="right")
    for p in agg["points"]:
        row = [value_text(p["values"][k]) for k in axes]
        iqr = "—" if p["q25"] is None else f"{p['q75'] - p['q25']:.2f}"
        row += [str(p["runs"]), _median(p["median"], lt), iqr]
        row += [_share(p[v], style) for v, _, style in _SHARES]
        t.add_row(*row)
    return t


def render_sweep(agg: dict, head: str) -> Group:
    """``head`` (counts and where the store is), the fixed options, the table, a legend."""
    base = base_text(agg)
    thr = agg.get("threshold")
    legend = (
        "median, IQR: of log10 δ₁/δ_L (layer 1's δ over the output layer's) over the seeds; "
        "vanish, explode, overflow: share of the seeds with that verdict"
        + (f"; threshold ×{thr:g}" if thr else "")
    )
    parts = [Text(head, style="bold")]
    if base:
        parts.append(Text(("base: " if agg["axes"] else "") + base, style="dim"))
    parts += [sweep_table(agg), Text(legend, style="dim")]
    return Group(*parts)
