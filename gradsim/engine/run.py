"""The one pass: forward, the loss's gradient, backward, and the Trace of every run.

``run_pass`` is what every statistic of gradsim comes from (run, compare, sweep); training
calls ``forward`` and ``backward`` itself with ``keep="grads"``, the Jacobian spectrum
``forward`` alone, LSUV the blocks one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from gradsim.engine.backward_pass import backward, output_gradient
from gradsim.engine.blocks import Block
from gradsim.engine.forward_pass import Forward, forward
from gradsim.engine.numerics import NAN
from gradsim.engine.trace import FIELDS, Trace
from gradsim.losses import Loss
from gradsim.scaling import BACKOFF_FACTOR, INIT_SCALE, MIN_SCALE, is_plain, mode_of, static_scale

# what a backward pass writes (cleared before a pass again at another scale)
BACKWARD_FIELDS = ("log10_delta_rms", "log10_grad_norm", "delta_zero", "log10_delta_max")

Array = np.ndarray


def run_pass(
    stack, blocks: Sequence[Block], loss: Loss, dtype, *, moments: bool = True, capture=(),
    loss_scale: str = "ideal",
) -> list[Trace]:  # fmt: skip
    """Forward and backward pass of every network of ``stack`` (gradsim.network.Stack; its
    runs agree on which layers have biases), with statistics: one Trace per run. The
    backward pass starts from ``loss``'s ∂E/∂H_L. ``moments=False`` leaves the means and
    standard deviations of Z_l and H_l, and W_l's standard deviation and norm, NaN;
    ``capture``: layers whose H_l and δ_l are copied into the traces' ``samples``
    (histograms). ``loss_scale`` (gradsim.scaling): ideal, the
    log-scaled pass; any other, the plain computation in the dtype from ∂E/∂H_L × the scale
    (dynamic: 2^16, halved until δ is finite), after an ideal pass whose δ statistics the
    traces keep (``Trace.ideal_delta``). Never raises on inf/NaN."""
    if not is_plain(loss_scale):
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
    ideal = run_pass(stack, blocks, loss, dtype, moments=False)
    f = forward(stack, blocks, dtype, moments=moments, capture=capture, plain=True)
    scales, tried, bad = _scaled_backward(f, stack, loss, loss_scale)
    mode = mode_of(loss_scale)
    out = traces(f, bad)
    return [
        replace(t, loss_scale={"mode": mode, "scale": None if mode == "none" else scales[k],
                               "tried": tried[k]},
                ideal_delta=ideal[k].ideal_delta)
        for k, t in enumerate(out)
    ]  # fmt: skip


def plain_gradient(loss: Loss, H: Array, T: Array | None) -> Array:
    """∂E/∂H_L of an output H_L = H (plain, not rescaled), in float64."""
    g, s = loss.grad(H.astype(np.float64), 0.0, None if T is None else T.astype(np.float64))
    return g * 10.0**s if s else g


def _scaled_backward(f: Forward, stack, loss: Loss, loss_scale: str):
    """The plain backward pass from ∂E/∂H_L × scale; with ``dynamic`` the runs whose δ is
    not finite go again at half the scale (from 2^16, down to MIN_SCALE). Returns per run
    the scale used, the scales tried, and the backward pass's first non-finite layer."""
    K = f.size
    start = INIT_SCALE if loss_scale == "dynamic" else static_scale(loss_scale) or 1.0
    scales, tried = [start] * K, [[] for _ in range(K)]
    if not any(f.live):
        return scales, tried, [None] * K
    with np.errstate(all="ignore"):
        g = [plain_gradient(loss, f.H[k], None if stack.T is None else stack.T[k])
             if f.live[k] else None for k in range(K)]  # fmt: skip
        going = set(range(K))  # the runs at a new scale (the others give the same again)
        while True:
            G = np.zeros(f.H.shape, dtype=f.p.compute)
            for k in range(K):
                if g[k] is not None:
                    G[k] = (g[k] * scales[k]).astype(f.p.compute)
                    if k in going:  # (a run's record does not depend on its stack)
                        tried[k].append(scales[k])
            for name in BACKWARD_FIELDS:  # (a pass again at a new scale starts afresh)
                f.out[name][:] = NAN
            bad = backward(f, G, [-math.log10(x) for x in scales]).bad
            again = [k for k in range(K) if loss_scale == "dynamic" and bad[k] is not None
                     and scales[k] * BACKOFF_FACTOR >= MIN_SCALE]  # fmt: skip
            if not again:
                break
            going = set(again)
            for k in again:
                scales[k] *= BACKOFF_FACTOR
    if loss_scale != "dynamic":
        tried = [[] for _ in range(K)]
    return scales, tried, bad


def traces(f: Forward, backward_bad: Sequence[int | None]) -> list[Trace]:
    """One Trace per run of a pass (its own δ statistics as the ideal ones)."""
    out = []
    for k in range(f.size):
        arrays = {name: f.out[name][k].copy() for name in FIELDS}
        out.append(
            Trace(
                **arrays,
                forward_nonfinite=f.bad[k],
                backward_nonfinite=backward_bad[k],
                tracked_forward=f.tracked,
                symmetric_layers=f.symmetric[k],
                samples=f.samples[k],
                ideal_delta=(arrays["log10_delta_rms"], arrays["log10_delta_max"]),
            )
        )
    return out  # fmt: skip
