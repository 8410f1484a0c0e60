"""The verdict rules: a run's trace → its Summary (ratios, verdicts, where it breaks) → Result.

Ratios compare layer 1 with layer L (DESIGN.md): act_ratio = rms(H_L)/rms(H_0),
delta_ratio = rms(δ_1)/rms(δ_L), grad_ratio = ‖∂E/∂W_1‖/‖∂E/∂W_L‖. A ratio beyond
×threshold is "exploding", below ÷threshold "vanishing", else "stable"; "overflow" when a
computation in the run's dtype would meet inf or NaN; "underflowed" when, with a loss scale
other than ideal, some layer's δ is all zeros as computed although the true δ is not (the
gradient lost to the format's underflow, not vanishing in the network).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from gradsim.config import RunConfig
from gradsim.dtypes import fmt
from gradsim.engine.numerics import exp10
from gradsim.explain import sentences
from gradsim.result import Layers, Result, Summary
from gradsim.scaling import advised_range

if TYPE_CHECKING:
    from gradsim.engine import Trace

VERDICTS = ("stable", "vanishing", "exploding", "overflow", "underflowed")


def summarize(cfg: RunConfig, tr: Trace) -> Result:
    """The Result of one pass: its Summary now, its LayerStats when first read.

    Parameters
    ----------
    cfg : RunConfig
        The run's configuration (depth, dtype, threshold).
    tr : Trace
        The pass's per-layer log10 sizes (index l = layer l, 0 = the input), and the
        layers whose weights are all equal (symmetry never broken).
    """
    L = cfg.depth
    info = fmt(cfg.dtype)
    lo, hi = math.log10(float(info.tiny)), math.log10(float(info.max))
    # Python floats: the scans below run over every layer, and NumPy scalars are slow there
    la, ld, lg = tr.log10_act_rms.tolist(), tr.log10_delta_rms.tolist(), tr.log10_grad_norm.tolist()

    log10_thr = math.log10(cfg.threshold)
    act_r = la[L] - la[0]
    delta_r = ld[1] - ld[L] if math.isfinite(ld[L]) else math.nan
    grad_r = lg[1] - lg[L] if math.isfinite(lg[L]) else math.nan
    forward = _verdict(act_r, log10_thr)
    if ld[L] == -math.inf:
        backward = "vanishing"  # no gradient reaches even the output layer
    else:
        backward = _verdict(delta_r, log10_thr)
    if tr.forward_nonfinite is not None:
        backward = "overflow"

    # a loss scale holds δ at scale × its true size: the format's range is met there
    shift = stored_shift(tr)
    lds = [x + shift for x in ld] if shift else ld
    nonfinite = _nonfinite(tr, la, lds, hi, L)
    scale = loss_scale_summary(tr, info, L)
    if scale["underflowed_layers"] and not nonfinite:
        backward = "underflowed"
    verdict = "overflow" if nonfinite else (backward if backward != "stable" else forward)
    fwd_bad = next(
        (l for l in range(1, L + 1) if not abs(la[l] - la[0]) <= log10_thr), None
    ) if forward != "stable" else None  # fmt: skip
    bwd_bad = next(
        (l for l in range(L, 0, -1) if not abs(ld[l] - ld[L]) <= log10_thr), None
    ) if backward != "stable" and math.isfinite(ld[L]) else None  # fmt: skip
    if nonfinite:
        first_bad = nonfinite["layer"]
    elif backward == "underflowed":
        bwd_bad = first_bad = scale["underflowed_layers"][0]
    elif backward != "stable":
        first_bad = bwd_bad
    else:
        first_bad = fwd_bad

    growth = exp10(delta_r / (L - 1)) if L > 1 and not math.isnan(delta_r) else math.nan
    summary = Summary(
        forward=forward,
        backward=backward,
        verdict=verdict,
        act_ratio=exp10(act_r) if not math.isnan(act_r) else math.nan,
        log10_act_ratio=act_r,
        delta_ratio=exp10(delta_r) if not math.isnan(delta_r) else math.nan,
        log10_delta_ratio=delta_r,
        grad_ratio=exp10(grad_r) if not math.isnan(grad_r) else math.nan,
        log10_grad_ratio=grad_r,
        growth_per_layer=growth,
        act_growth_per_layer=exp10(act_r / L) if not math.isnan(act_r) else math.nan,
        first_bad_layer=first_bad,
        forward_bad_layer=fwd_bad,
        backward_bad_layer=bwd_bad,
        nonfinite=nonfinite,
        underflow=_underflow(la, lds, lo, L),
        symmetric=bool(tr.symmetric_layers),
        symmetric_layers=list(tr.symmetric_layers),
        mean_saturated_frac=mean_of_numbers(tr.saturated[1:]),
        mean_dead_frac=mean_of_numbers(tr.dead[1:]),
        threshold=cfg.threshold,
        tracked_forward=tr.tracked_forward,
        loss_scale=scale,
    )
    summary.sentences[:] = sentences(cfg, summary, info)  # the new Summary's own list
    return Result(cfg, Layers(cfg, tr, scale["underflowed_layers"]), summary)


def loss_scale_summary(tr: Trace, info, L: int) -> dict:
    """The loss scale of a run (gradsim.scaling): its mode, the scale used and those tried
    (dynamic), the layers whose δ underflowed to all zeros (from L down), and the advised
    range: the powers of two 2^k, k from ``log2_advised_range[0]`` to ``[1]``, that keep
    every layer's max|δ_l|·2^k below the format's largest number and RMS(δ_l)·2^k at or
    above its smallest normal (from the ideal pass; None when no power of two does)."""
    rms, top = (a.tolist() for a in tr.ideal_delta)
    k = advised_range(rms[1 : L + 1], top[1 : L + 1], info.max, info.tiny)
    ls = tr.loss_scale
    plain = ls["mode"] != "ideal"
    ld = tr.log10_delta_rms.tolist()
    under = [l for l in range(L, 0, -1) if plain and ld[l] == -math.inf and math.isfinite(rms[l])]
    return {
        "mode": ls["mode"],
        "scale": ls["scale"],
        "log2_scale": math.log2(ls["scale"]) if ls["scale"] else None,
        "tried": list(ls["tried"]),
        "underflowed_layers": under,
        "log2_advised_range": list(k) if k else None,
        "advised_range": [_pow2(k[0]), _pow2(k[1])] if k else None,
    }


def stored_shift(tr: Trace) -> float:
    """log10 of the factor between the δ a plain pass stores and the true δ: the loss scale
    (0 for ideal and none)."""
    scale = tr.loss_scale.get("scale")
    return math.log10(scale) if scale else 0.0


def _pow2(k: int) -> float:
    """2^k as a float: inf beyond float64's range (null in JSON; the log2 is exact)."""
    return math.inf if k > 1023 else 2.0**k


def _verdict(log10_ratio: float, log10_thr: float) -> str:
    if math.isnan(log10_ratio):
        return "overflow"
    if log10_ratio < -log10_thr:
        return "vanishing"
    if log10_ratio > log10_thr:
        return "exploding"
    return "stable"


def _nonfinite(tr: Trace, la: list[float], ld: list[float], hi: float, L: int) -> dict | None:
    """Where a plain computation in the dtype first meets inf/NaN: the pass, the layer, and
    whether gradsim tracked the true magnitudes past it (None if nowhere). ``hi`` is log10
    of the dtype's largest finite number; ``la``, ``ld`` the trace's log10 RMS of H and δ."""
    if tr.forward_nonfinite is not None:
        return {"pass": "forward", "layer": tr.forward_nonfinite, "tracked": False}
    over = [l for l in range(1, L + 1) if la[l] > hi]
    if over:
        return {"pass": "forward", "layer": over[0], "tracked": True}
    if tr.backward_nonfinite is not None:
        return {"pass": "backward", "layer": tr.backward_nonfinite, "tracked": False}
    over = [l for l in range(L, 0, -1) if ld[l] > hi]
    if over:
        return {"pass": "backward", "layer": over[0], "tracked": True}
    return None


def _underflow(la: list[float], ld: list[float], lo: float, L: int) -> dict | None:
    """Where the signal (layer 1 up) and δ (layer L down) first fall below the dtype's
    smallest normal number, 10^lo, without being exactly zero; None if neither does."""
    f_under = [l for l in range(1, L + 1) if -math.inf < la[l] < lo]
    b_under = [l for l in range(L, 0, -1) if -math.inf < ld[l] < lo]
    if not (f_under or b_under):
        return None
    return {
        "pass": "forward" if f_under else "backward",
        "layer": (f_under or b_under)[0],
        "forward_layer": f_under[0] if f_under else None,
        "backward_layer": b_under[0] if b_under else None,
    }


def mean_of_numbers(x: np.ndarray) -> float:
    """np.nanmean(x) bit for bit (NaNs as zeros in NumPy's pairwise sum, divided by the
    count of numbers), at a tenth of its cost; 0.0 when x holds no finite number."""
    nan = np.isnan(x)
    if not np.isfinite(x).any():
        return 0.0
    if nan.any():
        return float(np.add.reduce(np.where(nan, 0.0, x)) / (x.size - np.count_nonzero(nan)))
    return float(np.add.reduce(x) / x.size)
