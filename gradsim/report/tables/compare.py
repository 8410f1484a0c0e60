"""The rich table of a comparison: one row per configuration, stable ones first, sized to
fit 80 columns."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.comparison import label, ranked
from gradsim.options import axis_name
from gradsim.report.tables.common import VERDICT_STYLE, pct, sci, sparkline
from gradsim.report.tables.run import title
from gradsim.result import Result


def compare_table(axes: dict, results: list[Result]) -> Table:
    """One row per configuration, stable ones first."""
    show_dead = any(r.summary.mean_dead_frac > 0 for r in results)
    show_sat = any(r.summary.mean_saturated_frac > 0 for r in results)
    show_nf = any(r.summary.nonfinite for r in results)
    t = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", pad_edge=False)
    t.add_column(" ".join(axis_name(k) for k in axes) or "init", overflow="fold")
    t.add_column("verdict", no_wrap=True, min_width=9)
    t.add_column("δ₁/δ_L", justify="right")
    t.add_column("act L/0", justify="right")
    t.add_column("δ/layer", justify="right")
    t.add_column("bad@", justify="right")
    if show_dead:
        t.add_column("dead", justify="right")
    if show_sat:
        t.add_column("sat", justify="right")
    if show_nf:
        t.add_column("inf@", justify="right")
    t.add_column("log10 δ 1→L", no_wrap=True)
    for i in ranked(results):
        r = results[i]
        s = r.summary
        g = s.growth_per_layer
        row = [
            label(r.config, axes),
            Text(s.verdict, style=VERDICT_STYLE.get(s.verdict, "")),
            sci(s.log10_delta_ratio),
            sci(s.log10_act_ratio),
            "—" if g is None or math.isnan(g) else f"×{g:.3g}",
            "—" if s.first_bad_layer is None else str(s.first_bad_layer),
        ]
        if show_dead:
            row.append(pct(s.mean_dead_frac))
        if show_sat:
            row.append(pct(s.mean_saturated_frac))
        if show_nf:
            nf = s.nonfinite
            row.append("—" if not nf else f"{nf['layer']}{'f' if nf['pass'] == 'forward' else 'b'}")
        row.append(Text(sparkline([x.log10_delta_rms for x in r.layers], width=11), style="cyan"))
        t.add_row(*row)
    return t


def render_compare(axes: dict, results: list[Result]) -> Group:
    first = results[0]
    fixed = title(first)
    varying = ", ".join(("act" if k == "activation" else k) for k in axes)
    fixed = fixed if not axes else "base: " + fixed
    head = f"compare {len(results)} configurations" + (f" over {varying}" if varying else "")
    notes = (
        "δ₁/δ_L: layer 1's δ over the output layer's · act L/0: output RMS over input RMS · "
        "bad@: first layer past the threshold"
    )
    if any(r.summary.nonfinite for r in results):
        notes += " · inf@: first inf/NaN (f/b: pass)"
    notes = Text(notes, style="dim")
    return Group(Text(head, style="bold"), Text(fixed, style="dim"),
                 compare_table(axes, results), notes)  # fmt: skip
