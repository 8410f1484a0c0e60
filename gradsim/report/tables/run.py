"""The rich table and summary panel of a run, sized to fit 80 columns."""

from __future__ import annotations

import math

import numpy as np
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradsim.report.labels import architecture_parts, init_text, precision_text
from gradsim.report.tables.common import (
    VERDICT_STYLE,
    Fitted,
    Parts,
    dropped_note,
    pct,
    sci,
    sparkline,
)
from gradsim.result import Result


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


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


def run_table(result: Result, all_layers: bool = False) -> Table:
    layers = result.layers
    # with --theory the predicted RMS stand beside the measured (‖∂W‖/‖W‖ makes room)
    pred = result.theory["layers"] if result.theory else None
    ids = range(1, len(layers) + 1) if all_layers else sample_layers(result)
    show_dead = any(s.dead_frac and s.dead_frac > 0 for s in layers)
    show_sat = any(s.saturated_frac and s.saturated_frac > 0 for s in layers)
    # with a plain backward pass (a loss scale other than ideal): δ's entries lost to zero
    show_zero = result.config.loss_scale != "ideal"
    ld_out = layers[-1].log10_delta_rms
    rels = [
        None if (s.log10_delta_rms is None or ld_out is None or not math.isfinite(ld_out))
        else s.log10_delta_rms - ld_out
        for s in layers
    ]  # fmt: skip
    ratio = result.column("log10_grad_to_weight")  # in log space: exact beyond float64
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
    if show_zero:
        t.add_column("δ=0", justify="right")
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
                   sci(s.log10_grad_norm), sci(_num(ratio[l - 1]))]  # fmt: skip
        if show_dead:
            row.append(pct(s.dead_frac))
        if show_sat:
            row.append(pct(s.saturated_frac))
        if show_zero:
            row.append(pct(s.delta_zero_frac))
        row.append(_bar(rels[l - 1], scale))
        style = "magenta" if not s.finite else ("yellow" if s.underflow or s.overflow else None)
        t.add_row(*row, style=style)
    return t


def title(result: Result, varying=()) -> str:
    """'L=152 n=256 B=128 · relu · he_normal fan_out · mse loss · float32 · seed 0': every
    setting of the run, options in ``varying`` (a comparison's axes) left out."""
    c = result.config
    cfg = vars(c)
    widths = c.layer_widths
    w = f"n={c.width}" if c.widths is None else f"widths {widths[0]}…{widths[-1]}"
    shape = [f"L={c.depth}" if "depth" not in varying else "",
             w if not {"width", "widths"} & set(varying) else "",
             f"B={c.batch}" if "batch" not in varying else ""]  # fmt: skip
    parts = [
        " ".join(p for p in shape if p),
        c.activation if "activation" not in varying else "",
        init_text(cfg, varying),
        *architecture_parts(cfg, varying),
        f"{c.loss} loss" if "loss" not in varying else "",
        precision_text(cfg, result.summary.loss_scale)
        if not {"dtype", "loss_scale"} & set(varying)
        else "",
        f"seed {c.seed}" if "seed" not in varying else "",
    ]
    return " · ".join(p for p in parts if p)


def summary_panel(result: Result, width: int | None = None) -> Panel:
    """The verdict, the ratios and the sentences, ``width`` columns wide (None: all)."""
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
    room = 56 if width is None else max(8, min(56, width - 4 - 20))
    advice = _advised(result)
    if advice:
        lines.append(advice + "\n")
    spark = sparkline([x.log10_delta_rms for x in result.layers], width=room)
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
    return Panel(lines, title="summary", title_align="left", border_style=border, width=width)


def _advised(result: Result) -> str:
    """The advised loss-scale range, for a run in a low-precision format or with a loss
    scale other than ideal ('' otherwise)."""
    c, ls = result.config, result.summary.loss_scale
    if not ls or (c.loss_scale == "ideal" and c.dtype in ("float32", "float64")):
        return ""
    k = ls.get("log2_advised_range")
    if not k:
        return f"loss scale: none keeps every layer's δ in {c.dtype}'s normal range"
    return f"loss scale advised: 2^{k[0]} … 2^{k[1]} (every layer's δ in {c.dtype}'s normal range)"


# the columns a narrow terminal gives up first, then next…; layer, act rms, δ rms and the bar
# stay (at 60 columns: ‖∂W‖/‖W‖ goes; with --theory's predictions, ‖∂E/∂W‖ too)
RUN_DROP = ("‖∂W‖/‖W‖", "sat", "dead", "‖∂E/∂W‖", "pred")


class RunView:
    """The header, the table (fitted to the width: ``Fitted``) and the summary panel, the
    panel exactly as wide as the table."""

    def __init__(self, result: Result, all_layers: bool = False):
        self.result, self.all_layers = result, all_layers

    def __rich_console__(self, console, options):
        from rich.measure import Measurement

        t, dropped = Fitted(run_table(self.result, self.all_layers), RUN_DROP).fit(console, options)
        width = min(options.max_width, Measurement.get(console, options, t).maximum)
        # a table left narrow by what it gave up widens to the panel's least width (60)
        width = max(width, min(options.max_width, 60))
        t.min_width = width
        yield Parts(title(self.result), style="bold")
        yield t
        if dropped:
            yield dropped_note(dropped, options.max_width)
        yield summary_panel(self.result, width)


def render_run(result: Result, all_layers: bool = False) -> RunView:
    return RunView(result, all_layers)
