"""The statistics pass of residual and normalized MLPs (``--residual``, ``--norm``).

Layer l = 1 … L (DESIGN.md's network, with two optional parts):

    U_l = H_{l-1} W_l
    Z_l = N(U_l) + b_l      with --norm batch|layer (gradsim.layers), else Z_l = U_l + b_l
    H_l = H_{l-1} + α·φ(Z_l) with --residual (α = --residual-scale), else H_l = φ(Z_l)

Backward, with G_l = ∂E/∂H_l (G_L from the loss):

    δ_l = ∂E/∂Z_l = G_l ∘ φ'(Z_l) · (α if residual else 1)
    ∂E/∂U_l = N'ᵀ δ_l (the normalization's backward) or δ_l;  ∂E/∂W_l = H_{l-1}ᵀ ∂E/∂U_l
    G_{l-1} = (G_l if residual else 0) + ∂E/∂U_l W_lᵀ

The Trace is the engine's (``engine.Trace``), with the same meaning: δ_l is ∂E/∂Z_l, the
gradient norm is ‖∂E/∂W_l‖_F, ``saturated`` and ``dead`` read φ(Z_l) and φ'(Z_l). Magnitudes
are kept in log-scaled form as in the engine: G (and so δ) always, by exact powers of two;
the forward only when φ is homogeneous, every bias is zero and there is no normalization
(a normalized layer brings the signal back to unit scale by itself).

This pass is simpler and a little slower than the engine's plain-MLP pass (it forms
∂E/∂W_l's norm directly and allocates its arrays): the plain network keeps the fast path.
"""

from __future__ import annotations

import math

import numpy as np

from gradsim.activations import Activation
from gradsim.engine import (
    _LOG10_2,
    _NEG_INF,
    Trace,
    _dead_fraction,
    _exp10,
    _log10,
    _moments,
    _pow2,
    _Precision,
    blank_stats,
    cast_parameters,
    derivative,
    output_gradient,
)
from gradsim.layers import normalize, normalize_backward
from gradsim.losses import Loss
from gradsim.network import Network

Array = np.ndarray


def run_arch_pass(
    net: Network,
    act: Activation,
    loss: Loss,
    dtype: str | np.dtype,
    *,
    residual: float | None,
    norm: str | None,
    capture=(),
) -> Trace:
    """Forward and backward pass of the residual/normalized MLP; never raises on inf/NaN.
    ``residual``: α, or None for no skip connections; ``norm``: "batch", "layer" or None."""
    with np.errstate(all="ignore"):
        return _run(net, act, loss, np.dtype(dtype), residual, norm, frozenset(capture))


def _run(net, act, loss, dtype, alpha, norm, capture) -> Trace:
    L = net.depth
    rnd = _Precision(dtype)
    cdt = rnd.compute
    out = blank_stats(L)
    W, biased, bias = cast_parameters(net, cdt)
    tracked = act.homogeneous and not any(biased) and norm is None
    limit = 4 if rnd.half else 16
    _, out["weight_std"][1:], out["log10_weight_norm"][1:] = net.weight_stats
    samples: dict[str, dict] = {"act": {}, "delta": {}}

    # ---------------- forward ----------------
    H = net.X.astype(cdt)
    m, s, r = _moments(H)
    a = 0.0  # H_true = H · 10^a
    out["act_mean"][0], out["act_std"][0], out["log10_act_rms"][0] = m, s, _log10(r)
    # per layer: (H_{l-1} as kept, its log10 scale c, φ'(Z_l), normalized Y_l and 1/s)
    keep: list[tuple[Array, float, Array | None, Array | None, Array | None]] = []
    fwd_bad = None
    for l in range(1, L + 1):
        if tracked or 1e-12 < r < 1e12 or r == 0:
            Hs, c = H, a
        else:  # a plain signal far from 1: keep it normalized so its products stay finite
            Hs, c = H / np.asarray(r, dtype=cdt), math.log10(r)
        U = rnd(H @ W[l - 1])
        Y = inv = None
        if norm is not None:
            Y, inv = normalize(U, norm)
            # Y is kept for the backward pass: float16's rounding of Z in place must not reach it
            Z = Y + bias[l - 1] if biased[l - 1] else (Y.copy() if rnd.half else Y)
            zscale = 0.0
        else:
            Z = U + bias[l - 1] if biased[l - 1] else U
            zscale = a
        rnd(Z)
        zm, zs, _ = _moments(Z)
        out["z_mean"][l], out["z_std"][l] = zm * _exp10(zscale), zs * _exp10(zscale)
        A = rnd(act.fn(Z))
        D = derivative(act, Z, A, rnd)
        keep.append((Hs, c, D, Y, inv))
        H = rnd(H + np.asarray(alpha, dtype=cdt) * A) if alpha is not None else A
        m, s, r = _moments(H)
        if not math.isfinite(r):
            fwd_bad = l
            break
        n_out = W[l - 1].shape[1]
        out["dead"][l] = _dead_fraction(D, n_out)
        out["saturated"][l] = float(np.mean(act.saturated(A))) if act.saturated else 0.0
        scale = _exp10(a)
        out["act_mean"][l], out["act_std"][l] = m * scale, s * scale
        out["log10_act_rms"][l] = _log10(r) + a if r > 0 else _NEG_INF
        if l in capture:
            samples["act"][l] = (H.copy(), a)
        if tracked and (k := _pow2(r, limit)):
            H = H * np.asarray(2.0**-k, dtype=cdt)  # a new array: H_{l-1} is kept above
            a += k * _LOG10_2
            r = r * 2.0**-k
    if fwd_bad is not None:
        return Trace(**out, forward_nonfinite=fwd_bad, backward_nonfinite=None,
                     tracked_forward=tracked, samples=samples)  # fmt: skip

    # ---------------- backward ----------------
    g, sg = output_gradient(loss, H, a, net.T)  # ∂E/∂H_L = g · 10^sg
    G = rnd(g.astype(cdt))
    bwd_bad = None
    for l in range(L, 0, -1):
        Hs, c, D, Y, inv = keep[l - 1]
        _, _, rG = _moments(G, need_mean=False)
        if not math.isfinite(rG):
            bwd_bad = l
            break
        if k := _pow2(rG, limit):
            G = G * np.asarray(2.0**-k, dtype=cdt)
            sg += k * _LOG10_2
        delta = G * D if D is not None else G.copy()
        if alpha is not None:
            delta *= np.asarray(alpha, dtype=cdt)
        rnd(delta)
        _, _, r = _moments(delta, need_mean=False)
        if not math.isfinite(r):
            bwd_bad = l
            break
        if r == 0:  # this layer passes nothing back; the skip connection may still
            out["log10_delta_rms"][l] = out["log10_grad_norm"][l] = _NEG_INF
            if alpha is None:
                out["log10_delta_rms"][1:l] = out["log10_grad_norm"][1:l] = _NEG_INF
                break
            continue
        out["log10_delta_rms"][l] = math.log10(r) + sg
        if l in capture:
            samples["delta"][l] = (delta.copy(), sg)
        dU = rnd(normalize_backward(delta, Y, inv, norm)) if norm is not None else delta
        gn = float(np.linalg.norm(Hs.T @ dU))
        out["log10_grad_norm"][l] = _log10(gn) + sg + c
        if l > 1:
            P = dU @ W[l - 1].T
            G = rnd(G + P) if alpha is not None else rnd(P)
    return Trace(**out, forward_nonfinite=None, backward_nonfinite=bwd_bad,
                 tracked_forward=tracked, samples=samples)  # fmt: skip
