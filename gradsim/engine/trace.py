"""What a pass measured of one run: the Trace, raw per-layer numbers that the result
module (gradsim.result) turns into statistics and verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradsim.engine.numerics import NAN

Array = np.ndarray

# the per-layer arrays of a Trace, in its order
FIELDS = (
    "log10_act_rms", "act_mean", "act_std", "z_mean", "z_std", "saturated", "dead",
    "log10_delta_rms", "log10_grad_norm", "log10_weight_norm", "weight_std",
    "delta_zero", "log10_delta_max",
)  # fmt: skip


@dataclass(frozen=True)
class Trace:
    """Raw per-layer numbers of one pass. Arrays have L+1 entries, index l = layer l
    (index 0 = the input H_0 where it applies, NaN elsewhere). True values are float64,
    ±inf where beyond float64; NaN where unknown (after a non-finite value)."""

    log10_act_rms: Array
    act_mean: Array
    act_std: Array
    z_mean: Array
    z_std: Array
    saturated: Array
    dead: Array
    log10_delta_rms: Array
    log10_grad_norm: Array
    log10_weight_norm: Array
    weight_std: Array
    delta_zero: Array  # the share of δ_l's entries that are exactly zero as computed
    log10_delta_max: Array  # log10 max|δ_l|
    forward_nonfinite: int | None  # first layer whose computed H_l is not finite
    backward_nonfinite: int | None  # first layer (from L down) whose computed δ_l is not finite
    tracked_forward: bool  # forward carried in rescaled form (true magnitudes)
    # the ideal pass's log10 RMS and max of δ_l (this pass's own arrays with --loss-scale
    # ideal), which the advised range and the underflowed layers are read from
    ideal_delta: tuple[Array, Array]
    symmetric_layers: list[int] = field(default_factory=list)  # layers whose W_l is constant
    # copies of H_l and δ_l at the requested layers, as (array, log10 scale): the true
    # values are array · 10^scale
    samples: dict[str, dict[int, tuple[Array, float]]] = field(default_factory=dict)
    # the loss scale (gradsim.scaling): {"mode", "scale", "tried"}
    loss_scale: dict = field(default_factory=lambda: {"mode": "ideal", "scale": None, "tried": []})


def blank(K: int, L: int) -> dict[str, Array]:
    """Every per-layer array of K traces, (K, L+1) each, NaN until a pass fills them."""
    return {f: np.full((K, L + 1), NAN) for f in FIELDS}
