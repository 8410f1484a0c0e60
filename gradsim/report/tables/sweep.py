"""The rich table of a sweep's aggregate: one row per point, statistics over its seeds,
sized to fit 80 columns; beyond MAX_ROWS points, one row per run of points along the last
axis that share a verdict (every point stays in the store: ``gradsim export``, ``--csv``)."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.report.labels import axis_digits, axis_label, base_text, value_text
from gradsim.report.tables.common import VERDICT_STYLE, Fitted, Parts
from gradsim.verdicts import VERDICTS

_SHARES = (("vanishing", "vanish", "blue"), ("exploding", "explode", "red"),
           ("overflow", "overflow", "magenta"))  # fmt: skip
MAX_ROWS = 40  # longer, the table runs of points with one verdict together


def _verdict(p: dict) -> tuple[str, float] | None:
    """The verdict most of the point's seeds got, and its share (None: no seed stored)."""
    shares = [p.get(v) for v in VERDICTS]  # (a point saved before a verdict existed: 0)
    if all(x is None for x in shares):
        return None
    shares = [x or 0.0 for x in shares]
    i = max(range(len(VERDICTS)), key=shares.__getitem__)
    return VERDICTS[i], shares[i]


def verdict_runs(agg: dict) -> list[list[int]]:
    """The points in grid order cut into runs along the last axis: consecutive points that
    differ only in the last axis's value and share a majority verdict."""
    axes = list(agg["axes"])
    outer = axes[:-1]
    runs: list[list[int]] = []
    prev = None
    for i, p in enumerate(agg["points"]):
        v = _verdict(p)
        key = (tuple(_hashable(p["values"][k]) for k in outer), v and v[0])
        if runs and key == prev:
            runs[-1].append(i)
        else:
            runs.append([i])
        prev = key
    return runs


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _span(a: str, b: str, sep: str = "–") -> str:
    return a if a == b else f"{a}{sep}{b}"


def runs_table(agg: dict) -> Table:
    """One row per run of points with one verdict (``verdict_runs``): the other axes'
    values, the last axis's range and how many points, the range of the medians, the
    verdict and the least share of seeds that got it."""
    axes, points = list(agg["axes"]), agg["points"]
    last, outer = axes[-1], axes[:-1]
    digits = {k: axis_digits(v) for k, v in agg["axes"].items()}  # once, not per row
    t = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", pad_edge=False)
    for k in outer:
        numeric = all(isinstance(v, (int, float)) for v in agg["axes"][k])
        t.add_column(axis_label(k), justify="right" if numeric else "left", overflow="fold")
    t.add_column(axis_label(last), justify="left", no_wrap=True)
    t.add_column("points", justify="right", no_wrap=True)
    t.add_column("median", justify="right", no_wrap=True)  # a range reads on one line
    t.add_column("verdict", justify="left")
    for run in verdict_runs(agg):
        first, end = points[run[0]], points[run[-1]]
        row = [value_text(first["values"][k], digits[k]) for k in outer]
        row.append(_span(value_text(first["values"][last], digits[last]),
                         value_text(end["values"][last], digits[last])))  # fmt: skip
        meds = [points[i]["median"] for i in run if points[i]["median"] is not None]
        row += [str(len(run)), _span(f"{min(meds):+.2f}", f"{max(meds):+.2f}", " … ") if meds
                else "—"]  # fmt: skip
        v = [_verdict(points[i]) for i in run]
        if v[0] is None:
            row.append(Text("—"))
        else:
            share = min(x[1] for x in v)
            note = "" if share == 1 else f" ({share:.0%}+)"
            style = VERDICT_STYLE.get(v[0][0], "white").replace("bold ", "")
            row.append(Text(v[0][0] + note, style=style))
        t.add_row(*row)
    return t


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
    digits = {k: axis_digits(axes[k]) for k in axes}
    for p in agg["points"]:
        row = [value_text(p["values"][k], digits[k]) for k in axes]
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
    parts = [Parts(head, style="bold")]
    if base:
        parts.append(Parts(("base: " if agg["axes"] else "") + base, style="dim"))
    if len(agg["points"]) <= MAX_ROWS or not agg["axes"]:
        # a narrow terminal gives up whole columns, never a cut number or name
        table = Fitted(sweep_table(agg), ("overflow", "explode", "vanish", "IQR", "n"))
    else:
        table = Fitted(runs_table(agg), ("points",))
        last = axis_label(list(agg["axes"])[-1])
        legend = (
            f"{len(agg['points'])} points, one row per run of {last} values whose seeds "
            "mostly share a verdict (the least share in brackets where not all do); median: "
            "the range of the points' medians of log10 δ₁/δ_L over the seeds; every point: "
            "gradsim export DIR, or --csv" + (f"; threshold ×{thr:g}" if thr else "")
        )
    parts += [table, Text(legend, style="dim")]
    return Group(*parts)
