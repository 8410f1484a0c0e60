"""Layer-sequential unit-variance initialization (Mishkin & Matas 2015, "All you need is a
good init").

The weights start orthogonal (the ``lsuv`` record in gradsim.initializers draws them). Then,
layer by layer from the input, a batch is propagated through the layers already done and
W_l is rescaled by γ/√Var(Z_l) until the variance of its pre-activations Z_l is γ² within
``tol`` (relative), at most ``max_iter`` times: one step suffices for a linear map without
bias, a few with biases or a normalization in between. Data-driven, it runs one network at a
time, through the pass's own blocks (gradsim.engine.blocks) in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gradsim.engine import Block, Precision, activate, pre_activation, skip

Array = np.ndarray

TOL = 0.01  # |Var Z_l / γ² − 1| below this ends a layer's iterations (the paper uses 0.1)
MAX_ITER = 10  # the paper's T_max
_F64 = Precision(np.float64)


def _z(H: Array, W: Array, b: Array, blk: Block) -> Array:
    Z, _, _ = pre_activation(blk, H @ W, b, _F64)
    return Z


def lsuv(
    W: list[Array],
    b: Sequence[Array],
    X: Array,
    blocks: Sequence[Block],
    target: float = 1.0,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
) -> list[float]:
    """Rescale ``W`` (float64 arrays, in place) layer by layer on the batch ``X``; returns
    each layer's final Var Z_l. A layer whose variance is 0 or not finite is left as it is
    (nothing to rescale by)."""
    target2 = float(target) * float(target)  # inf, not OverflowError, beyond float64
    H = np.asarray(X, dtype=np.float64)
    final = []
    with np.errstate(all="ignore"):
        for l, blk in enumerate(blocks):
            Wl = W[l]
            Z = _z(H, Wl, b[l], blk)
            for _ in range(max_iter):
                v = float(np.var(Z))
                if not (math.isfinite(v) and v > 0) or abs(v - target2) < tol * target2:
                    break
                Wl *= math.sqrt(target2 / v)
                Z = _z(H, Wl, b[l], blk)
            final.append(float(np.var(Z)))
            H = skip(blk, H, activate(blk, Z, None, _F64), None, _F64)
    return final
