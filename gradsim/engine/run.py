"""The one pass: forward, the loss's gradient, backward, and the Trace of every run.

``run_pass`` is what every statistic of gradsim comes from (run, compare, sweep); training
calls ``forward`` and ``backward`` itself with ``keep="grads"``, the Jacobian spectrum
``forward`` alone, LSUV the blocks one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradsim.engine.backward_pass import backward, output_gradient
from gradsim.engine.blocks import Block
from gradsim.engine.forward_pass import Forward, forward
from gradsim.engine.trace import FIELDS, Trace
from gradsim.losses import Loss

Array = np.ndarray


def run_pass(
    stack, blocks: Sequence[Block], loss: Loss, dtype: str | np.dtype, *, moments: bool = True,
    capture=(),
) -> list[Trace]:  # fmt: skip
    """Forward and backward pass of every network of ``stack`` (gradsim.network.Stack; its
    runs agree on which layers have biases), with statistics: one Trace per run. The
    backward pass starts from ``loss``'s ∂E/∂H_L. ``moments=False`` leaves the means and
    standard deviations of Z_l and H_l NaN; ``capture``: layers whose H_l and δ_l are copied
    into the traces' ``samples`` (histograms). Never raises on inf/NaN."""
    f = forward(stack, blocks, dtype, moments=moments, capture=capture)
    bad: list[int | None] = [None] * f.size
    if any(f.live):
        G = np.zeros(f.H.shape, dtype=f.p.compute)
        s = [0.0] * f.size
        with np.errstate(all="ignore"):
            for k in range(f.size):
                if f.live[k]:
                    T = None if stack.T is None else stack.T[k]
                    g, s[k] = output_gradient(loss, f.H[k], f.a[k], T)  # ∂E/∂H_L = g·10^s
                    G[k] = g.astype(f.p.compute)
        bad = backward(f, G, s).bad
    return traces(f, bad)


def traces(f: Forward, backward_bad: Sequence[int | None]) -> list[Trace]:
    """One Trace per run of a pass."""
    return [
        Trace(**{name: f.out[name][k].copy() for name in FIELDS}, forward_nonfinite=f.bad[k],
              backward_nonfinite=backward_bad[k], tracked_forward=f.tracked,
              symmetric_layers=f.symmetric[k], samples=f.samples[k])
        for k in range(f.size)
    ]  # fmt: skip
