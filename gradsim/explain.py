"""Plain language: the sentences that read a run's summary, and ``pow10``, the one formatter
of a log10 value as a number people read, used by every table, figure and sentence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np

from gradsim.config import RunConfig

if TYPE_CHECKING:
    from gradsim.result import Summary

Style = Literal["text", "tex", "e", "short"]
READABLE = (-2.0, 3.0)  # log10 values written as plain decimals by default: 0.01 … 1000
EVERY = (-math.inf, math.inf)  # ``plain=EVERY``: always a plain decimal
_INF = {"text": "∞", "tex": r"$\infty$", "e": "inf", "short": "inf"}


def pow10(
    log10v: float | None,
    *,
    style: Style = "text",
    digits: int = 0,
    plain: tuple[float, float] | None = READABLE,
) -> str:
    """10^log10v as a number people read, exact far beyond float64 (10^400): the power is
    formed from the log10 value only inside the ``plain`` range.

    Parameters
    ----------
    log10v : float or None
        The log10 of the value. None and NaN give '—', −inf gives '0', +inf '∞' ('inf' in
        the e styles, '$\\infty$' in tex).
    style : {"text", "tex", "e", "short"}
        How a power of ten is written, shown for ``digits`` 0 and 2:

        - ``text``: '10^-23', '8.1·10^-24' (sentences);
        - ``tex``: '$10^{-23}$', '$8.1{\\cdot}10^{-24}$' (matplotlib mathtext labels);
        - ``e``: '1e-23', '8.1e-24', printf's form with a sign and two exponent digits at
          least ('1.0e+00'), so that a table's column lines up;
        - ``short``: '1e-23', '8.1e-24', the exponent as short as it goes ('3e-2', '1e0').
    digits : int
        Significant digits of the mantissa outside the ``plain`` range; 0 writes the power
        of ten alone, its exponent log10v rounded to a whole number. A mantissa that rounds
        to 10 carries into the exponent (9.96e+00 → 1.0e+01).
    plain : (low, high) or None
        Where low ≤ log10v ≤ high, 10^log10v is written as a plain decimal of three
        significant digits instead ('0.0316', '447'; ``EVERY``: always); None: never.

    Examples
    --------
    >>> pow10(-23.09), pow10(-1.5), pow10(2.65)          # summary sentences
    ('10^-23', '0.0316', '447')
    >>> pow10(-23.09, style="e", digits=2, plain=None)   # the run table's columns
    '8.1e-24'
    >>> pow10(-1.52, style="short", digits=1, plain=None)  # the train table
    '3e-2'
    >>> pow10(38.53, style="tex", digits=2, plain=None)  # figure labels
    '$3.4{\\\\cdot}10^{38}$'
    """
    if log10v is None or math.isnan(log10v):
        return "—"
    if math.isinf(log10v):
        return "0" if log10v < 0 else _INF[style]
    if plain is not None and plain[0] <= log10v <= plain[1]:
        return f"{10**log10v:.3g}"
    if digits <= 0:
        mantissa, e = "", f"{log10v:.0f}"
    else:
        k = math.floor(log10v)
        mantissa = f"{10 ** (log10v - k):.{digits - 1}f}"
        if float(mantissa) >= 10:  # 9.96 at two digits reads 10.0: one more power of ten
            k, mantissa = k + 1, f"{1:.{digits - 1}f}"
        e = str(k)
    if style == "tex":
        return f"${mantissa}{{\\cdot}}10^{{{e}}}$" if mantissa else f"$10^{{{e}}}$"
    if style == "e":
        return f"{mantissa or '1'}e{int(e):+03d}"
    if style == "short":
        return f"{mantissa or '1'}e{int(e)}"
    return f"{mantissa}·10^{e}" if mantissa else f"10^{e}"


def sentences(cfg: RunConfig, s: Summary, info: np.finfo) -> list[str]:
    """Plain-language reading of a run's summary, most important first: unbroken
    symmetry, where the dtype overflows or underflows, δ and the signal along the depth,
    what weight-gradient norms hide, dead and saturated units. ``info``: the dtype's."""
    out = _symmetry(cfg, s) + _precision(cfg, s, info)
    L = cfg.depth
    if L > 1 and not math.isnan(s.log10_delta_ratio):
        g = s.growth_per_layer
        verb = "shrinks" if g < 1 else "grows"
        tail = {
            "vanishing": "early layers will barely learn.",
            "exploding": "early layers take huge steps; training will diverge.",
            "stable": "the gradient survives the depth.",
        }.get(s.backward, "")
        out.append(
            f"Backward: δ {verb} ×{g:.3g} per layer; layer 1 gets "
            f"{pow10(s.log10_delta_ratio)} of the output layer's δ: {tail}"
        )
    elif s.backward == "vanishing":
        out.append("Backward: δ is exactly zero at the output layer: no gradient flows at all.")
    if not math.isnan(s.log10_act_ratio):
        g = s.act_growth_per_layer
        tail = {
            "vanishing": "the signal dies out before the output.",
            "exploding": "the signal blows up toward the output.",
            "stable": "the signal keeps its size.",
        }[s.forward]
        out.append(
            f"Forward: activation RMS changes ×{g:.3g} per layer; the output's is "
            f"{pow10(s.log10_act_ratio)} of the input's: {tail}"
        )
    return out + _hidden_by_norms(s) + _units(s)


def _symmetry(cfg: RunConfig, s: Summary) -> list[str]:
    if not s.symmetric:
        return []
    L = cfg.depth
    which = "every layer" if len(s.symmetric_layers) == L else (
        f"{len(s.symmetric_layers)} of {L} layers")  # fmt: skip
    return [
        f"Unbroken symmetry: in {which} all weights are equal ({cfg.init}), so every unit "
        "of a layer computes the same value and gets the same gradient; training can never "
        "make them differ."
    ]


def _precision(cfg: RunConfig, s: Summary, info: np.finfo) -> list[str]:
    """Where a plain computation in the dtype meets inf/NaN or leaves the normal numbers."""
    out = []
    nf = s.nonfinite
    if nf and not nf["tracked"]:
        out.append(
            f"Overflow: the {nf['pass']} pass reaches inf/NaN at layer {nf['layer']} in "
            f"{cfg.dtype}; a framework would report a NaN loss."
        )
    elif nf:
        out.append(
            f"Overflow: in plain {cfg.dtype} the {nf['pass']} pass exceeds "
            f"{float(info.max):.3g} at layer {nf['layer']} (a framework would see inf/NaN); "
            "gradsim tracked the true magnitudes below."
        )
    if s.underflow:
        u = s.underflow
        where = [
            f"{what} at layer {u[key]}"
            for what, key in (("the signal", "forward_layer"), ("δ", "backward_layer"))
            if u[key] is not None
        ]
        one = len(where) == 1  # the verbs agree with one thing or two
        fall, are, they, their, them = (
            ("falls", "is", "it", "its", "it") if one else ("fall", "are", "they", "their", "them")
        )
        gives = f"computed as {cfg.dtype} gives"
        if cfg.loss_scale != "ideal":
            tail = f"with --loss-scale {cfg.loss_scale} {they} {are} {gives} {them}."
        elif s.tracked_forward or u["forward_layer"] is None:
            tail = f"gradsim tracks {their} true size."
        elif u["backward_layer"] is not None:  # δ is rescaled, a plain forward's signal is not
            tail = f"gradsim tracks δ's true size; the signal is {gives} it."
        else:
            tail = f"the signal is {gives} it."
        out.append(
            f"Underflow: in plain {cfg.dtype}, {' and '.join(where)} {fall} below the smallest "
            f"normal number ({float(info.tiny):.3g}) and {are} lost to zero soon after; " + tail
        )
    return out + _loss_scale(cfg, s)


def _loss_scale(cfg: RunConfig, s: Summary) -> list[str]:
    """With a loss scale other than ideal: the layers whose δ underflowed to zero, and the
    loss scales that would have kept every layer's δ in the format's normal range."""
    ls = s.loss_scale
    if cfg.loss_scale == "ideal" or not ls:
        return []
    out = []
    under = ls["underflowed_layers"]
    if under:
        span = f"layer {under[0]}" if len(under) == 1 else f"layers {min(under)}–{max(under)}"
        out.append(
            f"Underflowed: in {cfg.dtype} with loss scale {cfg.loss_scale}, δ of {span} is all "
            "zeros although the true δ is not: the gradient is lost to the format, not "
            "vanishing in the network."
        )
    k = ls["log2_advised_range"]
    if k:
        out.append(
            f"Loss scales from 2^{k[0]} to 2^{k[1]} keep every layer's δ in {cfg.dtype}'s "
            "normal range (the summary's advised_range)."
        )
    else:
        out.append(
            f"No single loss scale keeps every layer's δ in {cfg.dtype}'s normal range: "
            "δ spans more decades along the depth than the format holds."
        )
    return out


def _hidden_by_norms(s: Summary) -> list[str]:
    """Why ‖∂E/∂W‖ can look flat while δ vanishes or explodes."""
    if (
        s.backward != "stable"
        and not math.isnan(s.log10_grad_ratio)
        and abs(s.log10_grad_ratio) <= math.log10(s.threshold)
    ):
        return [
            f"Note: ‖∂E/∂W‖ differs only ×{pow10(s.log10_grad_ratio)} from layer 1 to L, "
            "because ∂E/∂W_l = H_{l-1}ᵀδ_l multiplies the forward signal and δ, which change "
            "in opposite directions along the depth; weight-gradient norms alone hide this "
            "(Glorot & Bengio 2010)."
        ]
    return []


def _units(s: Summary) -> list[str]:
    out = []
    if s.mean_dead_frac >= 0.05:
        out.append(f"Dead units: {s.mean_dead_frac:.0%} per layer on average (φ' = 0 for the "
                   "whole batch).")  # fmt: skip
    if s.mean_saturated_frac >= 0.05:
        out.append(f"Saturation: {s.mean_saturated_frac:.0%} of activations sit in a flat tail "
                   "on average.")  # fmt: skip
    return out
