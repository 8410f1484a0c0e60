"""The rich table of a comparison: one row per configuration, stable ones first, one
column per varying option, fitted to the terminal's width (``Fitted``: whole columns go,
never a cut number or a word broken in two)."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.comparison import label, ranked
from gradsim.options import axis_name
from gradsim.report.tables.common import VERDICT_STYLE, Fitted, Parts, pct, sci, sparkline
from gradsim.report.tables.run import title
from gradsim.result import Result

SPARK = "log10 δ 1→L"
# the columns a narrow terminal gives up, first to last; the axes and the verdict stay
COMPARE_DROP = (SPARK, "sat", "dead", "δ/layer", "bad@", "act L/0", "inf@")


def compare_table(axes: dict, results: list[Result]) -> Table:
    """One row per configuration, stable ones first; one column per axis."""
    show_dead = any(r.summary.mean_dead_frac > 0 for r in results)
    show_sat = any(r.summary.mean_saturated_frac > 0 for r in results)
    show_nf = any(r.summary.nonfinite for r in results)
    t = Table(box=None, padding=(0, 1, 0, 0), header_style="bold", pad_edge=False)
    for k in axes or ("init",):
        t.add_column(axis_name(k))
    t.add_column("verdict", min_width=9)
    for head in ("δ₁/δ_L", "act L/0", "δ/layer", "bad@"):
        t.add_column(head, justify="right")
    for head, shown in (("dead", show_dead), ("sat", show_sat), ("inf@", show_nf)):
        if shown:
            t.add_column(head, justify="right")
    t.add_column(SPARK, no_wrap=True)
    for i in ranked(results):
        r = results[i]
        s = r.summary
        g = s.growth_per_layer
        row = [label(r.config, {k: None}) for k in axes] if axes else [r.config.init]
        row += [
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
    varying = ", ".join(axis_name(k) for k in axes)
    fixed = title(first, varying=tuple(axes))
    fixed = fixed if not axes else "base: " + fixed
    head = f"compare {len(results)} configurations" + (f" over {varying}" if varying else "")
    notes = (
        "δ₁/δ_L: layer 1's δ over the output layer's · act L/0: output RMS over input RMS · "
        "bad@: first layer past the threshold"
    )
    if any(r.summary.nonfinite for r in results):
        notes += " · inf@: first inf/NaN (f/b: pass)"
    notes = Parts(notes, style="dim")
    return Group(Text(head, style="bold"), Parts(fixed, style="dim"),
                 Fitted(compare_table(axes, results), COMPARE_DROP), notes)  # fmt: skip
