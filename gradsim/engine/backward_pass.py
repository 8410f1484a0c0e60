"""The backward half of the one pass: ∂E/∂H_L back to layer 1, in log-scaled form.

The array carried from layer to layer is δ_l = ∂E/∂Z_l where layer l has no skip connection,
G_l = ∂E/∂H_l where it has one (δ_l = α·G_l ∘ φ'(Z_l) is then formed from it). It is kept
as X̃·10^s with RMS(X̃) near 1, rescaled by an exact power of two whenever its RMS leaves
2^±limit, so a δ of 1e-60 in float32 reads log10 = −60 instead of 0, and a gradient that a
plain computation would lose to underflow on the way is still exact.

‖∂E/∂W_l‖_F comes from what the forward pass kept (``Kept``): ‖Hᵀδ‖_F² = Σ (HHᵀ)∘(δδᵀ)
from two B×B Grams where that pays, else the product Hᵀδ. With ``keep="grads"`` the pass
forms ∂E/∂W_l = H_{l-1}ᵀ ∂E/∂U_l and ∂E/∂b_l = Σ_batch δ_l themselves, at their true scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import gradsim.engine.numerics as nx
from gradsim.engine.blocks import delta_of, through_norm
from gradsim.engine.forward_pass import Forward
from gradsim.losses import Loss

Array = np.ndarray


@dataclass
class Backward:
    """What the backward pass found: per run, the first layer (from L down) whose δ is not
    finite; with ``keep="grads"``, ∂E/∂W_l (K, n_{l-1}, n_l) and ∂E/∂b_l (K, n_l) at their
    true scale (plain arithmetic's inf/NaN where a run is not finite)."""

    bad: list[int | None]
    dW: list[Array] | None = None
    db: list[Array] | None = None


def output_gradient(loss: Loss, H: Array, a: float, T: Array | None) -> tuple[Array, float]:
    """(g, s) with ∂E/∂H_L = g·10^s for the output H_L = H·10^a of one run, g in float64
    with RMS 1 (normalized in float64, before the run's dtype can lose it)."""
    g, s = loss.grad(H.astype(np.float64), a, None if T is None else T.astype(np.float64))
    rg = math.sqrt(float(np.mean(g * g)))
    if rg > 0 and math.isfinite(rg):
        g, s = g / rg, s + math.log10(rg)
    return g, s


@dataclass
class _State:
    X: Array  # δ_l or G_l (see the module's docstring), (K, B, n_l)
    s: list[float]  # per run, the log10 scale: the true array is X · 10^s
    e: list[int]  # per run, the powers of two in s (the true scale of the gradients)
    active: list[bool]  # per run: still measured
    out: Backward
    rows: list[bool] | None = None  # per run: its δ_l is measured at this layer


def backward(f: Forward, G: Array, s) -> Backward:
    """The backward pass of ``f``'s runs from ∂E/∂H_L = G·10^s (G: (K, B, n_L) in the
    compute dtype, overwritten; s: K floats, 0 with ``keep="grads"``, whose gradients are
    those of G itself). Runs that are not live (forward not finite) are not measured; with
    ``keep="grads"`` every run is computed, as plain arithmetic would. Fills the δ and
    gradient columns of ``f.out``; never raises on inf/NaN."""
    K, L = f.size, len(f.blocks)
    with np.errstate(all="ignore"):
        out = Backward([None] * K)
        if f.keep == "grads":
            out.dW, out.db = [None] * L, [None] * L
        if f.blocks[-1].alpha is None and f.D[-1] is not None:
            G *= nx.unpack(f.D[-1])
        st = _State(f.p.round(G), [float(x) for x in s], [0] * K, list(f.live), out)
        for l in range(L, 0, -1):
            if not any(st.active) and f.keep != "grads":
                break
            delta = _delta(f, st, l)
            dU = _through_norm(f, l, delta)
            if f.keep == "grads":
                _gradients(f, st, l, delta, dU)
            elif f.keep == "norms":
                _grad_norm(f, st, l, dU)
            if l > 1:
                st.X = _carry(f, st, l, dU)
        return out


def _stop(f: Forward, st: _State, l: int, r: list[float], below: bool) -> None:
    """Runs whose δ (or G) is not finite stop here: their first bad layer is l. Where the
    carried array is exactly zero (``below``), δ and the gradients are zero from layer l
    down; where only δ_l is (a skip connection carries G on), at layer l alone."""
    rows = list(st.active)
    if min(r) > 0 and math.isfinite(sum(r)):  # every run finite and nonzero (NaN fails both)
        st.rows = rows
        return
    first = 1 if below else l
    for k, x in enumerate(r):
        if not st.active[k] or (x != 0 and math.isfinite(x)):
            continue
        rows[k] = False
        if x == 0:
            if f.stats:
                f.out["log10_delta_rms"][k, first : l + 1] = nx.NEG_INF
                f.out["log10_grad_norm"][k, first : l + 1] = nx.NEG_INF
                f.out["log10_delta_max"][k, first : l + 1] = nx.NEG_INF
                f.out["delta_zero"][k, first : l + 1] = 1.0
            st.active[k] = not below
        else:
            st.out.bad[k], st.active[k] = l, False
    st.rows = rows


def _measure(f: Forward, st: _State, l: int, delta: Array, r: list[float]) -> None:
    """log10 RMS(δ_l) of the measured runs, and the copies asked for (histograms)."""
    if not f.stats or not any(st.rows):
        return
    col, zero, top = f.out["log10_delta_rms"], f.out["delta_zero"], f.out["log10_delta_max"]
    # the share of exact zeros (underflow, and φ' = 0), and max|δ| (the loss scale's overflow
    # bound): passes over the stack's B·n entries against the layer's B·n² products, taken
    # for every run at once (a run's own numbers: integer counts, and max/min are exact)
    flat = delta.reshape(delta.shape[0], -1)
    N = flat.shape[1]
    is_zero = flat == 0
    nonzero = (N - nx.count_true(is_zero)).tolist() if is_zero.any() else [N] * len(r)
    big = np.maximum(flat.max(axis=1), -flat.min(axis=1)).tolist()
    if all(st.rows):  # whole columns at once: the same numbers
        col[:, l] = [math.log10(x) + s for x, s in zip(r, st.s, strict=True)]
        zero[:, l] = [1.0 - z / N for z in nonzero]
        top[:, l] = [math.log10(x) + s for x, s in zip(big, st.s, strict=True)]
    else:
        for k in (k for k, ok in enumerate(st.rows) if ok):
            col[k, l] = math.log10(r[k]) + st.s[k]
            zero[k, l] = 1.0 - nonzero[k] / N
            top[k, l] = math.log10(big[k]) + st.s[k]
    if l in f.capture:
        for k in (k for k, ok in enumerate(st.rows) if ok):
            f.samples[k]["delta"][l] = (delta[k].copy(), st.s[k])


def _delta(f: Forward, st: _State, l: int) -> Array:
    """δ_l, measured, with the carried array rescaled."""
    blk, p = f.blocks[l - 1], f.p
    _, _, r = nx.moments_k(st.X, need_mean=False)
    _stop(f, st, l, r, below=True)
    if blk.alpha is None:  # X is δ_l: measured as it is, then rescaled
        _measure(f, st, l, st.X, r)
        if not f.plain:
            nx.rescale(st.X, r, st.active, p.limit, st.s, st.e)
        return st.X
    # X is G_l: rescaled, then δ_l = α·G_l ∘ φ'(Z_l) measured
    if not f.plain:
        nx.rescale(st.X, r, st.active, p.limit, st.s, st.e)
    delta = delta_of(blk, st.X, nx.unpack(f.D[l - 1]), p, out=f.ws.get("delta", st.X.shape))
    _, _, rd = nx.moments_k(delta, need_mean=False)
    _stop(f, st, l, rd, below=False)
    _measure(f, st, l, delta, rd)
    return delta


def _through_norm(f: Forward, l: int, delta: Array) -> Array:
    """∂E/∂U_l: δ_l through layer l's normalization (into a work array), or δ_l itself."""
    blk, Y = f.blocks[l - 1], f.norm[l - 1]
    if Y is None:
        return delta
    out, work = f.ws.get("dU", delta.shape), f.ws.get("N", delta.shape)
    return through_norm(blk, delta, *Y, f.p, out=out, work=work)


def _grad_norm(f: Forward, st: _State, l: int, dU: Array) -> None:
    """log10 ‖∂E/∂W_l‖_F of the measured runs, from what the forward pass kept."""
    kept = f.kept[l - 1]
    K, B = dU.shape[:2]
    if kept.gram:
        # Σ (HHᵀ)∘(δδᵀ) = ‖Hᵀδ‖²: B row sums of B products in the compute dtype, then
        # their sum in float64 (10× faster than casting both B×B matrices to float64)
        G = np.matmul(dU, dU.transpose(0, 2, 1), out=f.ws.get("G", (K, B, B)))
        sq = np.einsum("kij,kij->ki", kept.M, G).sum(axis=1, dtype=np.float64).tolist()
        gn = [math.sqrt(max(x, 0.0)) for x in sq]
    else:
        gn = _norms(np.matmul(kept.M.transpose(0, 2, 1), dU))  # H_{l-1}ᵀ δ_l
    col = f.out["log10_grad_norm"]
    # (log10 ‖·‖ + s) + c, in this order: the last bit depends on it
    if all(st.rows):
        col[:, l] = [nx.log10(g) + s + c for g, s, c in zip(gn, st.s, kept.c, strict=True)]
    else:
        for k in (k for k, ok in enumerate(st.rows) if ok):
            col[k, l] = nx.log10(gn[k]) + st.s[k] + kept.c[k]


def _norms(P: Array) -> list[float]:
    """‖P_k‖_F per run: √(Σ P_k²) with the sum by BLAS dot and the root in P's dtype, as
    np.linalg.norm takes it."""
    if P.shape[0] == 1:
        p = P.reshape(-1)
        return [float(np.sqrt(np.dot(p, p)))]
    return np.sqrt(nx.dots(P, P).astype(P.dtype)).astype(np.float64).tolist()


def _gradients(f: Forward, st: _State, l: int, delta: Array, dU: Array) -> None:
    """∂E/∂W_l = H_{l-1}ᵀ ∂E/∂U_l and ∂E/∂b_l = Σ_batch δ_l at their true scale (every run),
    and log10 ‖∂E/∂W_l‖ of the measured runs."""
    P = np.matmul(f.kept[l - 1].M.transpose(0, 2, 1), dU)  # (K, n_in, n_out)
    gb = np.add.reduce(delta, axis=1)  # (K, n_out): ndarray.sum's numbers, without its wrapper
    if f.stats and any(st.rows):
        gn = _norms(P)
        col = f.out["log10_grad_norm"]
        for k, ok in enumerate(st.rows):
            if ok:
                col[k, l] = nx.log10(gn[k]) + st.s[k]
    if any(st.e):  # 2^e exactly, also where 2^e alone would leave the dtype's range
        e = np.array(st.e, dtype=np.intc)
        P = np.ldexp(P, e[:, None, None])
        gb = np.ldexp(gb, e[:, None])
    st.out.dW[l - 1], st.out.db[l - 1] = P, gb


def _carry(f: Forward, st: _State, l: int, dU: Array) -> Array:
    """The carried array of layer l-1: G_{l-1} = (G_l if skip) + ∂E/∂U_l W_lᵀ, times
    φ'(Z_{l-1}) where layer l-1 has no skip connection."""
    K, B = dU.shape[:2]
    W = f.W[l - 1]
    if W is None:  # low memory: drawn again (the same numbers), a few layers ahead
        W = f.weights[l - 1].astype(f.p.compute, copy=False)
    P = np.matmul(dU, W.transpose(0, 2, 1), out=f.ws.get(f"d{l % 2}", (K, B, W.shape[1])))
    if f.blocks[l - 1].alpha is not None:
        P += st.X
    D = nx.unpack(f.D[l - 2])
    if f.blocks[l - 2].alpha is None and D is not None:
        P *= D
    return f.p.round(P)
