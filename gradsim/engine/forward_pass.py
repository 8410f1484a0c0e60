"""The forward half of the one pass, over a stack of K networks of one shape.

Layer by layer (gradsim.engine.blocks): Z = N(H W) + b, A = φ(Z), H' = H + α·A or A, with
the statistics of Z and H' per run, φ'(Z) kept for the backward pass, and what the backward
pass needs for ∂E/∂W_l (``Kept``).

* **Tracked forward.** When every block is positively homogeneous (φ(cz) = cφ(z), no
  normalization) and no layer has a bias, H is carried as H̃·10^a with RMS(H̃) near 1,
  rescaled by exact powers of two, so magnitudes beyond the dtype's range stay known.
  Otherwise the forward runs plainly in the dtype, and a run whose H goes non-finite stops
  being measured at that layer (``Forward.bad``) while the others in its stack go on.
* **Kept for ∂E/∂W_l.** For its norm (``keep="norms"``): the B×B Gram H_{l-1}H_{l-1}ᵀ where
  that pays (``numerics.gram_pays``), else H_{l-1}, normalized when a plain signal is far
  from 1 so that the products stay finite. For the gradient itself (``keep="grads"``,
  training): H_{l-1} as it is, and the forward is never rescaled (a trainer's loss reads
  the true output).
* **Work arrays.** Z, A and H live in arrays reused from layer to layer; what the backward
  pass keeps never does.
* **Batch norm's moments.** A trainer keeps running statistics of each batch-norm layer's
  (μ, σ²) (``record=True``: they are in ``Forward.batch_stats``) and evaluates with them
  instead of the batch's (``running``: evaluation mode, a forward pass only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

import gradsim.engine.numerics as nx
from gradsim.engine.blocks import (
    Block,
    activate,
    derivative,
    norm_moments,
    pre_activation,
    skip,
)
from gradsim.engine.trace import blank

Array = np.ndarray


class Kept(NamedTuple):
    """What layer l keeps for ∂E/∂W_l: the Gram H_{l-1}H_{l-1}ᵀ (K, B, B) when ``gram``,
    else H_{l-1} itself (K, B, n_{l-1}); the true H_{l-1} is the stored one · 10^c[k]."""

    gram: bool
    M: Array
    c: list[float]


@dataclass
class Forward:
    """The forward pass's results and the state its backward pass needs."""

    p: nx.Precision
    blocks: Sequence[Block]
    W: list[Array]  # (K, n_{l-1}, n_l) in the compute dtype
    out: dict[str, Array]  # the Trace's per-layer arrays, (K, L+1) each
    keep: str | None
    stats: bool
    tracked: bool
    gram: list[bool]  # per layer: ‖∂E/∂W_l‖ from Grams (numerics.gram_pays)
    # the weights are not kept but drawn again (stack.W does not keep them): φ'(Z_l) masks
    # are kept as bits too
    low_memory: bool
    weights: object  # stack.W
    bias: list[Array | None]  # per layer: b_l as (K, 1, n_l) in the compute dtype, or None
    ws: nx.Workspace
    H: Array  # the output H_L, (K, B, n_L): true values H · 10^a
    a: list[float]  # per run
    live: list[bool]  # per run: its forward pass stayed finite
    bad: list[int | None]  # per run, the first layer whose H went non-finite
    kept: list[Kept] = field(default_factory=list)
    D: list[Array | None] = field(default_factory=list)  # φ'(Z_l)
    norm: list[tuple[Array, Array] | None] = field(default_factory=list)  # (Y_l, 1/s_l)
    samples: list[dict] = field(default_factory=list)  # per run: {"act": {}, "delta": {}}
    symmetric: list[list[int]] = field(default_factory=list)  # per run: layers of equal W
    capture: frozenset = frozenset()  # layers whose H_l and δ_l are copied into samples
    # per layer: the (μ, σ²) a batch-norm layer normalized with, when recorded or given
    # (``forward``'s record and running), else None; each (K, 1, n_l)
    batch_stats: list[tuple[Array, Array] | None] = field(default_factory=list)
    running: Sequence | None = None
    record: bool = False
    plain: bool = False  # no rescaling anywhere: the plain computation in the dtype

    @property
    def size(self) -> int:
        return self.H.shape[0]


def forward(
    stack,
    blocks: Sequence[Block],
    dtype: str | np.dtype,
    *,
    keep: str | None = "norms",
    stats: bool = True,
    moments: bool = True,
    capture=(),
    record: bool = False,
    running: Sequence[tuple[Array, Array] | None] | None = None,
    plain: bool = False,
) -> Forward:
    """The forward pass of every network of ``stack`` (gradsim.network.Stack: W[l-1]
    (K, n_{l-1}, n_l), b[l-1] (K, n_l), X (K, B, n_0), ``biased``), one ``Block`` per layer.

    ``keep``: "norms" (for ‖∂E/∂W_l‖), "grads" (for ∂E/∂W_l itself) or None (no backward
    pass). ``stats=False`` measures nothing per layer (and never rescales the forward);
    ``moments=False`` skips the means and standard deviations of Z and H (their RMS is taken
    either way) and W's standard deviation and norm (whether its entries are all equal is
    found either way); ``capture``: layers whose H_l is copied into ``samples`` (histograms).
    ``record``: keep each batch-norm layer's batch (μ, σ²) in ``Forward.batch_stats``;
    ``running``: per layer, the (μ, σ²) a batch-norm layer normalizes with instead of its
    batch's (evaluation mode; None for a layer: its batch's). The backward pass of a forward
    with ``running`` is not evaluation mode's gradient. ``plain``: neither this pass nor its
    backward pass rescales anything (a loss scale other than ideal: gradsim.scaling).
    Never raises on inf/NaN."""
    if keep == "norms" and not stats:
        raise ValueError("keep='norms' needs the statistics (stats=True)")
    with np.errstate(all="ignore"):
        f = _start(stack, blocks, dtype, keep, stats)
        if plain:
            f.plain, f.tracked = True, False
        f.capture = frozenset(capture)
        f.record, f.running = record, running
        r = _measure_input(f, moments)
        for l in range(1, len(blocks) + 1):
            r = _layer(f, stack, l, r, moments)
            if not any(f.live):
                break
        if f.stats:  # every layer's weights are measured, also past a run gone non-finite
            for rest in range(l + 1, len(blocks) + 1):
                _weigh(f, rest, stack.W[rest - 1], moments)
        return f


def _start(stack, blocks, dtype, keep, stats) -> Forward:
    p = nx.Precision(dtype)
    K, L = stack.size, stack.depth
    tracked = (stats and keep != "grads" and not any(stack.biased)
               and all(b.homogeneous for b in blocks))  # fmt: skip
    B, n = stack.X.shape[1], stack.widths
    gram = [keep == "norms" and nx.gram_pays(B, n[l], n[l + 1]) for l in range(L)]
    bias = [p.stored(b)[:, None, :] if on else None
            for b, on in zip(stack.b, stack.biased, strict=True)]  # fmt: skip
    return Forward(
        p=p, blocks=blocks, W=[None] * L, out=blank(K, L) if stats else {}, keep=keep,
        stats=stats, tracked=tracked, gram=gram, bias=bias, weights=stack.W,
        low_memory=not getattr(stack.W, "keep", True),
        ws=nx.Workspace(K * B * max(n), p.compute),
        H=p.stored(stack.X) if p.half else stack.X.astype(p.compute),
        a=[0.0] * K, live=[True] * K, bad=[None] * K,
        samples=[{"act": {}, "delta": {}} for _ in range(K)],
        symmetric=[[] for _ in range(K)],
    )  # fmt: skip


def _weigh(f: Forward, l: int, W: Array, moments: bool = True) -> None:
    """The statistics of W_l per run: std and log10 ‖W_l‖_F (``moments`` only), and whether
    its entries are all equal and finite (max = min: the layer's units then never differ)."""
    K = W.shape[0]
    if moments:
        w = W.astype(np.float32) if W.dtype == np.float16 else W
        _, std, rms = nx.moments_k(w)
        root = math.sqrt(W[0].size)
        f.out["weight_std"][:, l] = std
        f.out["log10_weight_norm"][:, l] = [nx.log10(r * root) for r in rms]
    if W[0].size > 1:
        flat = W.reshape(K, -1)
        # a first entry unlike the last settles it without a pass over W (random weights);
        # weights all inf are not called symmetric (their overflow is what the run says)
        for k in np.flatnonzero(flat[:, 0] == flat[:, -1]).tolist():
            if flat[k].max() == flat[k].min() and math.isfinite(flat[k, 0]):
                f.symmetric[k].append(l)


def _measure_input(f: Forward, moments: bool) -> list[float] | None:
    """The statistics of H_0 = X; returns its RMS per run (None without statistics)."""
    if not f.stats:
        return None
    mean, std, r = nx.moments_k(f.H)
    if moments:
        f.out["act_mean"][:, 0], f.out["act_std"][:, 0] = mean, std
    f.out["log10_act_rms"][:, 0] = [nx.log10(x) for x in r]
    return r


def _keep(f: Forward, l: int, r_prev: list[float] | None) -> Kept:
    """What layer l keeps of H_{l-1} (= f.H) for the backward pass."""
    H, K = f.H, f.size
    if f.keep == "grads":
        return Kept(False, H.copy() if f.ws.owns(H) else H, [0.0] * K)
    Hs, c = H, list(f.a)
    if not f.tracked:  # a plain signal far from 1 is normalized, so the Gram stays finite
        far = [
            k for k in range(K) if f.live[k] and not (1e-12 < r_prev[k] < 1e12 or r_prev[k] == 0)
        ]
        if far:
            Hs = H.copy()
            for k in far:
                Hs[k] = H[k] / np.asarray(r_prev[k], dtype=H.dtype)
                c[k] = math.log10(r_prev[k])
    if f.gram[l - 1]:
        return Kept(True, np.matmul(Hs, Hs.transpose(0, 2, 1)), c)
    return Kept(False, Hs.copy() if f.ws.owns(Hs) else Hs, c)


def _next_keeps_h(f: Forward, l: int) -> bool:
    """Whether layer l+1 keeps H_l itself (so H_l must not live in a work array)."""
    return f.keep is not None and l < len(f.blocks) and not f.gram[l]


def _layer(f: Forward, stack, l: int, r_prev, moments: bool) -> Array | None:
    """Layer l: H_l from H_{l-1} (= f.H), its statistics, and what the backward pass needs.
    Returns the RMS of the H now held (after any rescaling)."""
    blk, p, ws = f.blocks[l - 1], f.p, f.ws
    K, B = f.H.shape[:2]
    W = stack.W[l - 1]  # (drawn ahead in threads, or drawn now: gradsim.draws)
    if f.stats:
        _weigh(f, l, W, moments)
    # a trainer's float32 master weights are rounded to the format here; a run's weights
    # were drawn in it
    W = p.stored(W) if f.keep == "grads" else W.astype(p.compute, copy=False)
    if not f.low_memory:  # (else the backward pass has W_l drawn again)
        f.W[l - 1] = W
    n_out = W.shape[2]
    if f.keep is not None:
        f.kept.append(_keep(f, l, r_prev))
    U = np.matmul(f.H, W, out=ws.get("Z", (K, B, n_out)))  # (K, B, n_l)
    mom = _batch_moments(f, l, U)
    Z, Y, inv = pre_activation(blk, U, f.bias[l - 1], p,
                               ws.get("N", U.shape) if blk.norm else None, mom)  # fmt: skip
    f.norm.append((Y, inv) if Y is not None else None)
    if f.stats and moments:
        zm, zs, _ = nx.moments_k(Z)
        _put(f.out["z_mean"], l, _scaled(zm, f.a), f.live)
        _put(f.out["z_std"], l, _scaled(zs, f.a), f.live)
    # H_l goes straight into an array of its own where layer l+1 keeps it (no copy), else
    # into one of two work arrays used in turn
    fresh = _next_keeps_h(f, l)
    into_h = np.empty((K, B, n_out), p.compute) if fresh else ws.get(f"H{l % 2}", (K, B, n_out))
    A = activate(blk, Z, into_h if blk.alpha is None else ws.get("A", (K, B, n_out)), p)
    f.D.append(derivative(blk.act, Z, A, p))
    f.H = skip(blk, f.H, A, into_h, p)  # (a linear φ hands back Z: _keep copies it)
    if not f.stats:
        r_now = None
    else:
        r_now = _measure(f, l, A, r_prev, moments)
    if f.low_memory:
        f.D[-1] = nx.pack(f.D[-1])
    return r_now


def _batch_moments(f: Forward, l: int, U: Array) -> tuple[Array, Array] | None:
    """The (μ, σ²) batch-norm layer l normalizes U with when they are given (``running``) or
    recorded (``record``), into ``f.batch_stats``; None otherwise (``normalize`` computes them)."""
    mom = None
    if f.blocks[l - 1].norm == "batch":
        if f.running is not None and f.running[l - 1] is not None:
            mom = f.running[l - 1]
        elif f.record:
            mom = norm_moments(f.p.round(U), "batch", f.ws.get("N", U.shape))
    f.batch_stats.append(mom)
    return mom


def _measure(f: Forward, l: int, A: Array, r_prev, moments) -> list[float]:
    """The statistics of layer l's output (f.H), dead and saturated units; the rescaling of
    a tracked forward. Returns the RMS of the H now held."""
    H, a, live, out = f.H, f.a, f.live, f.out
    K, B, n = H.shape
    hm, hs, hr = nx.moments_k(H, need_mean=moments)  # the RMS is the same either way
    if not math.isfinite(sum(hr)):  # a run's H went non-finite here
        for k in range(K):
            if live[k] and not math.isfinite(hr[k]):
                f.bad[k], live[k] = l, False
    _put(out["dead"], l, _dead_fractions(f.D[-1], K, n), live)
    act = f.blocks[l - 1].act
    if act is not None and act.saturated:
        # the share of entries, as np.mean gives it (an exact count over B·n)
        sat = (nx.count_true(act.saturated(A)) / (B * n)).tolist()
        _put(out["saturated"], l, sat, live)
    else:
        _put(out["saturated"], l, [0.0] * K, live)
    if moments:
        _put(out["act_mean"], l, _scaled(hm, a), live)
        _put(out["act_std"], l, _scaled(hs, a), live)
    every = all(live)
    if every and not any(a):  # (nx.log10 of a finite r > 0 is math.log10; + 0.0 is exact)
        out["log10_act_rms"][:, l] = [math.log10(r) if r > 0 else nx.NEG_INF for r in hr]
    else:
        out["log10_act_rms"][:, l] = [
            (nx.log10(r) + ak if r > 0 else nx.NEG_INF) if ok else nx.NAN
            for r, ak, ok in zip(hr, a, live, strict=True)
        ]  # fmt: skip
    if l in f.capture:
        for k in range(K):
            if live[k]:
                f.samples[k]["act"][l] = (H[k].copy(), a[k])
    if every:
        r_now = list(hr)
    else:
        r_now = [x if ok else x0 for x, x0, ok in zip(hr, r_prev, live, strict=True)]
    if f.tracked:
        for k, p in nx.rescale(H, hr, live, f.p.limit, a):
            r_now[k] = math.ldexp(hr[k], -p)  # (hr·2^-p, also where 2^-p is no float)
    return r_now


def _scaled(x: list[float], a: list[float]) -> list[float]:
    """x_k · 10^a_k (by ``exp10``, so that every run gets a single run's bits)."""
    if not any(a):  # untracked: nothing to scale (× 1.0 is exact)
        return x
    return [v * nx.exp10(s) for v, s in zip(x, a, strict=True)]


def _put(col: Array, l: int, values: list[float], live: list[bool]) -> None:
    """col[k, l] = values[k] for the live runs (the others stay NaN)."""
    col[:, l] = (
        values if all(live) else [v if ok else nx.NAN for v, ok in zip(values, live, strict=True)]
    )


def _dead_fractions(D: Array | None, K: int, n: int) -> list[float]:
    """Per run, the share of units whose φ' is zero for the whole batch."""
    if D is None:
        return [0.0] * K
    if K == 1:
        alive = D[0].any(axis=0) if D.dtype == np.bool_ else (D[0] != 0).any(axis=0)
        return [1.0 - float(np.count_nonzero(alive)) / n]
    if D.all():  # no zero at all (tanh, sigmoid, ...): nothing is dead
        return [0.0] * K
    alive = D.any(axis=1) if D.dtype == np.bool_ else (D != 0).any(axis=1)  # (K, n)
    return (1.0 - alive.sum(axis=1) / n).tolist()  # a count (count_nonzero with an axis is slower)
