"""Terminal renderings of ``gradsim theory``, ``phase`` and ``spectrum``, from their JSON
forms (``theory.describe``, ``phase_dict``, ``spectrum_dict``), sized to fit 80 columns."""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from gradsim.report.tables.common import sci

_PHASE_STYLE = {"ordered": "blue", "critical": "green", "chaotic": "red"}


def _kv() -> Table:
    """A borderless key · value · note table; cells are Text, so E[s²] is not markup."""
    kv = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    kv.add_column(style="bold")
    kv.add_column(justify="right")
    kv.add_column(style="dim")
    return kv


def _row(kv: Table, *cells) -> None:
    kv.add_row(*(c if isinstance(c, Text) else Text(c) for c in cells))


def _f(x, fmt: str = ".4g", inf: str = "∞") -> str:
    return inf if x is None else format(x, fmt)


def _rows(L: int, all_layers: bool, rows: int = 16) -> list[int]:
    if all_layers or L <= rows:
        return list(range(1, L + 1))
    return sorted({1, L, *np.linspace(1, L, rows - 1).round().astype(int).tolist()})


def render_theory(d: dict, all_layers: bool = False) -> Group:
    """The fixed point, depth scales and phase, then the prediction layer by layer."""
    c = d["config"]
    if c["init"]:
        how = f"{c['init']}" + (f" γ={c['gain']:g}" if c["gain"] != 1 else "")
        how += f" at n={c['widths'][1]}" if len(set(c["widths"])) == 1 else " (widths vary)"
    else:
        how = "σ given"
    head = Text(f"mean field · {c['activation']} · {how} · L={c['depth']} · {c['loss']} loss",
                style="bold")  # fmt: skip
    kv = _kv()
    if c["sigma_w"] is not None:
        _row(kv, "σ_w, σ_b", f"{c['sigma_w']:.4g}, {c['sigma_b']:.4g}",
                   "Var W = σ_w²/fan_in, Var b = σ_b²"
                   + (f", bias mean {c['bias_mean']:.3g}" if c["bias_mean"] else ""))  # fmt: skip
    if d["chi1"] is not None:
        q = "∞" if d["q_star_infinite"] else _f(d["q_star"])
        _row(kv, "q*", q, "fixed point of the length map"
                   + (": it diverges" if d["q_star_infinite"] else ""))  # fmt: skip
        phase = Text(d["phase"], style=_PHASE_STYLE.get(d["phase"], ""))
        _row(kv, "χ₁", _f(d["chi1"]), Text.assemble(phase, f": δ ×"
                   f"{math.sqrt(d['chi1']):.4g} per layer toward the input"))  # fmt: skip
        _row(kv, "ξ_q", _f(d["xi_q"], ".3g"), "layers for the length to settle")
        if d["c_star"] is not None:
            _row(kv, "c*, χ_c", f"{d['c_star']:.4g}, {d['chi_c']:.4g}",
                       "correlation fixed point and its slope")  # fmt: skip
        _row(kv, "ξ_c", _f(d["xi_c"], ".3g"),
                   "layers over which two inputs stay told apart")  # fmt: skip
        crit = d["critical_sigma_w"]
        _row(
            kv,
            "critical σ_w",
            _f(crit, ".5g", "none ≤ 1000"),
            f"χ₁ = 1 at this σ_b (σ_w² = {crit**2:.4g})" if crit else "χ₁ < 1 always",
        )
    _row(kv, "β = Σ 1/n_l", f"{d['beta']:.3g}",
               "finite-width spread grows like e^{cβ} (Hanin 2018)")  # fmt: skip
    _row(kv, "δ ratio 1/L", sci(d["log10_delta_ratio_pred"]), "predicted, layer 1 over L")
    t = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False,
              caption=None if all_layers or c["depth"] <= 16 else
              f"16/{c['depth']} layers · --all-layers", caption_justify="left",
              caption_style="dim")  # fmt: skip
    for name in ("layer", "q", "act rms", "δ rms", "χ_l"):
        t.add_column(name, justify="right")
    layers = d["layers"]
    for l in _rows(len(layers), all_layers):
        row = layers[l - 1]
        t.add_row(str(l), sci(row["log10_q"]), sci(row["log10_act_pred"]),
                  sci(row["log10_delta_pred"]), _f(row["chi"], ".4g", "—"))  # fmt: skip
    return Group(head, kv, Text(""), t)


def render_spectrum(d: dict) -> Group:
    c = d["config"]
    g = f" γ={c['gain']:g}" if c["gain"] != 1 else ""
    head = Text(
        f"Jacobian spectrum · L={c['depth']} n={c['width']} · {c['activation']} · "
        f"{c['init']}{g} · {d['inputs']} inputs · seed {c['seed']}",
        style="bold",
    )
    kv = _kv()
    pred = d["log10_mean_sq_pred"]
    _row(kv, "mean λ = E[s²]", sci(d["log10_mean_sq"]),
               f"mean field Π χ_l: {sci(pred)}" if pred is not None else "")  # fmt: skip
    _row(kv, "spread", _f(d["spread"], ".4g", "—"), "Var λ / (E λ)²: 0 is isometry")
    smin = "0" if d["min"] == 0 else sci(d["log10_min"])
    cond = "∞" if d["min"] == 0 else sci(d["log10_condition"])
    _row(kv, "s max, s min", f"{sci(d['log10_max'])}, {smin}", f"ratio {cond}")
    vals = np.array([v for row in d["singular_values"] for v in row if v is not None])
    if vals.size:
        q = np.quantile(vals, [0.05, 0.5, 0.95])
        _row(kv, "s at 5/50/95%", " ".join(f"{x:.3g}" for x in q), "quantiles over inputs")
    said = Text("\n".join("• " + s for s in d["sentences"]))
    return Group(head, kv, said)


def render_phase(d: dict, path: str) -> Group:
    """A few points of the critical line, and where the figure went."""
    y = np.asarray(d["critical_line"]["sigma_b2"], float)
    crit = d["critical_line"]["sigma_w2"]
    t = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
    t.add_column("σ_b²", justify="right")
    t.add_column("critical σ_w²", justify="right")
    for i in sorted(set(np.linspace(0, len(y) - 1, 5).round().astype(int).tolist())):
        t.add_row(f"{y[i]:.4g}", _f(crit[i], ".4g", "none"))
    nx, ny = len(d["sigma_w2"]), len(d["sigma_b2"])
    return Group(Text(f"order-to-chaos phase diagram · {d['activation']} · {nx}×{ny} grid",
                      style="bold"), t, Text(f"figure: {path}", style="dim"))  # fmt: skip
