"""The rich table and summary panel of a run, sized to fit 80 columns."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradsim.report.labels import architecture_parts
from gradsim.result import Result

VERDICT_STYLE = {
    "stable": "bold green",
    "vanishing": "bold blue",
    "exploding": "bold red",
    "overflow": "bold magenta",
}
_SPARK = "▁▂▃▄▅▆▇█"


def sci(log10v: float | None) -> str:
    """10^log10v in 7 characters, exact even beyond float64 (1.2e+400); '0' and '—'."""
    if log10v is None or math.isnan(log10v):
        return "—"
    if log10v == -math.inf:
        return "0"
    if log10v == math.inf:
        return "inf"
    e = math.floor(log10v)
    m = 10 ** (log10v - e)
    if m >= 9.95:
        m, e = 1.0, e + 1
    return f"{m:.1f}e{e:+03d}"


def _pct(x: float | None) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.0%}"


def _log(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return math.log10(x) if x > 0 else -math.inf


def sample_layers(result: Result, rows: int = 16) -> list[int]:
    """About ``rows`` layer indices spread over the depth, always the first, the last and
    the worst (the largest departure of δ from the output layer's)."""
    L = result.config.depth
    if L <= rows:
        return list(range(1, L + 1))
    ld = result.column("log10_delta_rms")
    with np.errstate(invalid="ignore"):  # -inf - -inf where δ is exactly zero
        dev = np.abs(ld - ld[-1])
    worst = int(np.nanargmax(dev)) + 1 if np.any(np.isfinite(dev)) else L
    picks = {1, L, worst, *np.linspace(1, L, rows - 1).round().astype(int).tolist()}
    return sorted(picks)


def _bar(rel: float | None, scale: float, half: int = 7) -> Text:
    """A diverging bar: left (blue) where δ is smaller than at the output, right (red) larger."""
    t = Text()
    if rel is None or math.isnan(rel):
        return Text(" " * half + "?" + " " * half, style="magenta")
    if rel == -math.inf:
        rel = -scale
    k = min(half, round(abs(rel) / scale * half)) if scale > 0 else 0
    if rel < 0:
        t.append(" " * (half - k))
        t.append("━" * k, style="blue")
        t.append("│")
        t.append(" " * half)
    else:
        t.append(" " * half)
        t.append("│")
        t.append("━" * k, style="red")
        t.append(" " * (half - k))
    return t


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


def run_table(result: Result, all_layers: bool = False) -> Table:
    layers = result.layers
    # with --theory the predicted RMS stand beside the measured (‖∂W‖/‖W‖ makes room)
    pred = result.theory["layers"] if result.theory else None
    ids = range(1, len(layers) + 1) if all_layers else sample_layers(result)
    show_dead = any(s.dead_frac and s.dead_frac > 0 for s in layers)
    show_sat = any(s.saturated_frac and s.saturated_frac > 0 for s in layers)
    ld_out = layers[-1].log10_delta_rms
    rels = [
        None if (s.log10_delta_rms is None or ld_out is None or not math.isfinite(ld_out))
        else s.log10_delta_rms - ld_out
        for s in layers
    ]  # fmt: skip
    finite_rels = [abs(r) for r in rels if r is not None and math.isfinite(r)]
    scale = max([math.log10(result.config.threshold), *finite_rels])

    shown = len(ids) if not isinstance(ids, range) else len(layers)
    notes = []
    if shown < len(layers):
        notes.append(f"{shown}/{len(layers)} layers (first, last, worst, spaced) · --all-layers")
    if pred:
        notes.append("pred: mean-field prediction")
    caption = "\n".join(notes) or None
    t = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False, caption=caption,
              caption_justify="left", caption_style="dim")  # fmt: skip
    t.add_column("layer", justify="right")
    t.add_column("act rms", justify="right")
    if pred:
        t.add_column("pred", justify="right", style="dim")
    t.add_column("δ rms", justify="right")
    if pred:
        t.add_column("pred", justify="right", style="dim")
    t.add_column("‖∂E/∂W‖", justify="right")
    if not pred:
        t.add_column("‖∂W‖/‖W‖", justify="right")
    if show_dead:
        t.add_column("dead", justify="right")
    if show_sat:
        t.add_column("sat", justify="right")
    # the bar's header says what a full half-bar means, in decades of δ/δ_L
    head = f"δ/δ_L ±{scale:.0f} dec" if scale >= 10 else f"δ/δ_L ±{scale:.1f} dec"
    t.add_column(head, justify="center", no_wrap=True)
    for l in ids:
        s = layers[l - 1]
        if pred:
            p = pred[l - 1]
            row = [
                str(l),
                sci(s.log10_act_rms),
                sci(p["log10_act_pred"]),
                sci(s.log10_delta_rms),
                sci(p["log10_delta_pred"]),
                sci(s.log10_grad_norm),
            ]
        else:
            row = [str(l), sci(s.log10_act_rms), sci(s.log10_delta_rms),
                   sci(s.log10_grad_norm), sci(_log(s.grad_to_weight))]  # fmt: skip
        if show_dead:
            row.append(_pct(s.dead_frac))
        if show_sat:
            row.append(_pct(s.saturated_frac))
        row.append(_bar(rels[l - 1], scale))
        style = "magenta" if not s.finite else ("yellow" if s.underflow or s.overflow else None)
        t.add_row(*row, style=style)
    return t


def title(result: Result) -> str:
    c = result.config
    widths = c.layer_widths
    w = f"n={c.width}" if c.widths is None else f"widths {widths[0]}…{widths[-1]}"
    g = f" γ={c.gain:g}" if c.gain != 1 else ""
    return (
        f"L={c.depth} {w} B={c.batch} · {c.activation} · {c.init}{g}{architecture(c)} · "
        f"{c.loss} loss · {c.dtype} · seed {c.seed}"
    )


def architecture(c) -> str:
    """' · residual α=0.5 · batch norm', or '' for a plain MLP."""
    return "".join(" · " + p for p in architecture_parts(vars(c)))


def summary_panel(result: Result) -> Panel:
    s = result.summary
    lines = Text()
    lines.append("verdict: ")
    lines.append(s.verdict.upper(), style=VERDICT_STYLE.get(s.verdict, "bold"))
    lines.append(f"   forward {s.forward} · backward {s.backward}\n")
    lines.append(
        f"δ ratio (layer 1 / L) {sci(s.log10_delta_ratio)}   "
        f"act ratio (L / input) {sci(s.log10_act_ratio)}\n"
    )
    lines.append(f"‖∂E/∂W‖ ratio (1 / L) {sci(s.log10_grad_ratio)}   threshold ×{s.threshold:g}\n")
    spark = sparkline([x.log10_delta_rms for x in result.layers])
    if spark:
        lines.append("log10 δ, layer 1→L  ")
        lines.append(spark, style="cyan")
        lines.append("\n")
    for sentence in s.sentences:
        lines.append("• " + sentence + "\n")
    if result.theory:
        th = result.theory["summary"]
        said = th["sentences"]
        for i, sentence in enumerate(said):
            # the finite-width warning, when there is one, is the last sentence
            warn = th.get("finite_width_warning") and i == len(said) - 1
            lines.append("• " + sentence + "\n", style="yellow" if warn else "")
    lines.rstrip()
    border = VERDICT_STYLE.get(s.verdict, "white").replace("bold ", "")
    return Panel(lines, title="summary", title_align="left", border_style=border)


def render_run(result: Result, all_layers: bool = False) -> Group:
    return Group(
        Text(title(result), style="bold"),
        run_table(result, all_layers),
        summary_panel(result),
    )


def compare_table(axes: dict, results: list[Result]) -> Table:
    """One row per configuration, stable ones first."""
    from gradsim.compare import axis_name, label, ranked

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
            row.append(_pct(s.mean_dead_frac))
        if show_sat:
            row.append(_pct(s.mean_saturated_frac))
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
