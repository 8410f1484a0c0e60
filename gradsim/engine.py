"""Forward and backward pass of an MLP with per-layer statistics, in log-scaled form.

Semantics (DESIGN.md): Z_l = H_{l-1} W_l + b_l, H_l = φ(Z_l), H_0 = X, for l = 1 … L;
δ_l = ∂E/∂Z_l = (δ_{l+1} W_{l+1}ᵀ) ∘ φ'(Z_l), δ_L = ∂E/∂H_L ∘ φ'(Z_L); ∂E/∂W_l = H_{l-1}ᵀ δ_l.

Magnitudes are reported truthfully beyond the dtype's range:

* The backward pass keeps δ_l as δ̃_l · 10^{s_l}, rescaling δ̃ by an exact power of two
  whenever its RMS leaves 2^±16 (2^±4 in float16), so a δ of 1e-60 in float32 reads
  log10 = −60 instead of 0.
* When φ is positively homogeneous (φ(cz) = cφ(z), c > 0) and every bias is zero, the
  forward pass is carried the same way, H_l = H̃_l · 10^{a_l}; otherwise it runs plainly in
  the dtype, and an overflow to inf/NaN is recorded (not raised) where it first appears.
* ‖∂E/∂W_l‖_F is computed without forming ∂E/∂W_l when that is cheaper:
  ‖Hᵀδ‖_F² = Σ (HHᵀ)∘(δδᵀ), two B×B Gram matrices (B²(n_in + n_out) multiply-adds with
  BLAS syrk) instead of n_in·n_out·B, and only the B×B Gram of H_{l-1} is kept.

float16 runs store every array in float16 and compute in float32, rounding each result
back to float16, as mixed-precision frameworks do (fp16 storage, fp32 accumulation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradsim.activations import Activation
from gradsim.losses import Loss
from gradsim.network import Network

Array = np.ndarray
_NAN = float("nan")
_NEG_INF = float("-inf")


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
    forward_nonfinite: int | None  # first layer whose computed H_l is not finite
    backward_nonfinite: int | None  # first layer (from L down) whose computed δ_l is not finite
    tracked_forward: bool  # forward carried in rescaled form (true magnitudes)
    # copies of H_l and δ_l at the requested layers, as (array, log10 scale): the true
    # values are array · 10^scale
    samples: dict[str, dict[int, tuple[Array, float]]] = field(default_factory=dict)


def _exp10(x: float) -> float:
    x = float(x)
    if x > 308.25:
        return math.inf
    if x < -330:
        return 0.0
    return 10.0**x


def gram_pays(B: int, n_in: int, n_out: int) -> bool:
    """Whether ‖Hᵀδ‖ is cheaper through the Grams HHᵀ and δδᵀ (B²(n_in + n_out)
    multiply-adds, as two syrk) than through Hᵀδ itself (B·n_in·n_out, one gemm). Counted
    alike: syrk does half a gemm's work but runs at about half its rate (OpenBLAS, one
    thread: at B = n the Grams take 1.3–1.5× the product's time, at B = n/2 and n ≥ 256
    0.6–0.7×)."""
    return B * (n_in + n_out) <= n_in * n_out


def _log10(x: float) -> float:
    if x == 0:
        return _NEG_INF
    return math.log10(x) if x > 0 and math.isfinite(x) else _NAN


def _ones(n: int, dtype: np.dtype, _cache: dict = {}) -> Array:  # noqa: B006 (a cache)
    key = (n, dtype.str)
    if key not in _cache:
        _cache.clear() if len(_cache) > 16 else None
        _cache[key] = np.ones(n, dtype=dtype)
    return _cache[key]


def _moments(A: Array, need_mean: bool = True) -> tuple[float, float, float]:
    """(mean, std, rms) of every entry of A, in float64; NaN if any entry is not finite.

    Two BLAS dots (with a ones vector, and with itself), faster than ndarray.sum; a second
    pass only when the squares overflow or underflow the dtype although the entries do not,
    or when the variance is lost to cancellation. ``need_mean=False`` skips the sum
    (mean and std are then NaN).
    """
    flat = A.reshape(-1)
    N = flat.size
    s1 = float(np.dot(flat, _ones(N, flat.dtype))) if need_mean else 0.0
    s2 = float(np.dot(flat, flat))
    info = np.finfo(flat.dtype)
    if not (math.isfinite(s1) and math.isfinite(s2)) or s2 < N * float(info.tiny / info.eps):
        m = float(np.max(np.abs(flat)))
        if not math.isfinite(m):
            return _NAN, _NAN, _NAN
        if m == 0:
            return 0.0, 0.0, 0.0
        scaled = flat / np.asarray(m, dtype=flat.dtype)
        s1 = float(scaled.sum(dtype=np.float64)) * m if need_mean else 0.0
        s2 = float(np.dot(scaled, scaled)) * m * m
    ms = s2 / N
    if not need_mean:
        return _NAN, _NAN, math.sqrt(ms)
    mean = s1 / N
    var = ms - mean * mean
    if var < 1e-4 * mean * mean:  # cancellation: do it in two passes
        d = flat.astype(np.float64) - mean
        var = float(np.dot(d, d)) / N
    return mean, math.sqrt(max(var, 0.0)), math.sqrt(ms)


_LOG10_2 = math.log10(2.0)


def _pow2(r: float, limit: int) -> int:
    """The power of two to divide by so that an RMS of r comes back near 1, or 0 when
    r is within 2^±limit: scaling by a power of two is exact, and skipping it saves a pass."""
    if r == 0 or 2.0**-limit <= r <= 2.0**limit:
        return 0
    return round(math.log2(r))


class _Precision:
    """Storage rounding: a no-op for float32/64; float16 rounds computed float32 results."""

    def __init__(self, dtype: np.dtype):
        self.half = dtype == np.float16
        self.compute = np.dtype(np.float32) if self.half else dtype

    def __call__(self, A: Array) -> Array:
        if self.half and A.dtype != np.bool_:
            np.copyto(A, A.astype(np.float16))
        return A


def derivative(act: Activation, Z: Array, H: Array, rnd: _Precision) -> Array | None:
    """φ'(Z) as the backward pass multiplies by it: None for a linear φ, a boolean mask as
    it is, anything else in the compute dtype with the storage rounding."""
    D = act.grad(Z, H)
    if D is not None and D.dtype != np.bool_:
        D = rnd(D.astype(rnd.compute, copy=False))
    return D


def cast_parameters(net, cdt: np.dtype) -> tuple[list[Array], list[bool], list[Array]]:
    """A network's weights and biases in the compute dtype, and which layers have biases."""
    W = [w.astype(cdt, copy=False) for w in net.W]
    biased = [bool(np.any(b)) for b in net.b]
    return W, biased, [b.astype(cdt, copy=False) for b in net.b]


class _Workspace:
    """Work arrays reused from layer to layer, so that a pass does not touch fresh memory
    for every intermediate (first touches of fresh pages cost more than the arithmetic).
    ``get(name, shape)`` returns a view of a flat buffer sized for the widest layer."""

    def __init__(self, size: int, dtype: np.dtype):
        self.size, self.dtype, self.bufs = size, dtype, {}

    def get(self, name: str, shape: tuple[int, ...]) -> Array:
        if name not in self.bufs:
            self.bufs[name] = np.empty(self.size, dtype=self.dtype)
        return self.bufs[name][: math.prod(shape)].reshape(shape)

    def owns(self, A: Array) -> bool:
        return any(np.shares_memory(A, b) for b in self.bufs.values())


def _dead_fraction(D: Array | None, n: int) -> float:
    """Share of units whose derivative is zero for every sample in the batch."""
    if D is None:
        return 0.0
    alive = D.any(axis=0) if D.dtype == np.bool_ else (D != 0).any(axis=0)
    return 1.0 - float(np.count_nonzero(alive)) / n


def blank_stats(L: int) -> dict[str, Array]:
    """The Trace's per-layer arrays (L+1 entries each), NaN until the pass fills them."""
    return {
        k: np.full(L + 1, _NAN)
        for k in (
            "log10_act_rms", "act_mean", "act_std", "z_mean", "z_std", "saturated", "dead",
            "log10_delta_rms", "log10_grad_norm", "log10_weight_norm", "weight_std",
        )
    }  # fmt: skip


def output_gradient(loss: Loss, H: Array, a: float, T: Array | None) -> tuple[Array, float]:
    """(g, s) with ∂E/∂H_L = g·10^s for the output H_L = H·10^a, g in float64 with RMS 1
    (normalized in float64, before the run's dtype can lose it): where every backward
    pass starts."""
    g, s = loss.grad(H.astype(np.float64), a, None if T is None else T.astype(np.float64))
    rg = math.sqrt(float(np.mean(g * g)))
    if rg > 0 and math.isfinite(rg):
        g, s = g / rg, s + math.log10(rg)
    return g, s


def run_pass(net: Network, act: Activation, loss: Loss, dtype: str | np.dtype, capture=()) -> Trace:
    """Forward and backward pass with statistics; never raises on inf/NaN.

    ``capture``: layers whose H_l and δ_l are copied into ``Trace.samples`` (histograms).
    """
    with np.errstate(all="ignore"):
        return _run(net, act, loss, np.dtype(dtype), frozenset(capture))


def _run(net: Network, act: Activation, loss: Loss, dtype: np.dtype, capture) -> Trace:
    L = net.depth
    B = net.X.shape[0]
    rnd = _Precision(dtype)
    cdt = rnd.compute
    out = blank_stats(L)
    W, biased, bias = cast_parameters(net, cdt)
    tracked = act.homogeneous and not any(biased)
    # rescale by powers of two once an RMS leaves 2^±limit (float16 has less room)
    limit = 4 if rnd.half else 16

    _, out["weight_std"][1:], out["log10_weight_norm"][1:] = net.weight_stats

    # ---------------- forward ----------------
    H = net.X.astype(cdt)  # (B, n_0)
    m, s, r = _moments(H)
    a = 0.0  # H_true = H · 10^a (a stays 0 unless tracked)
    out["act_mean"][0], out["act_std"][0] = m, s
    out["log10_act_rms"][0] = _log10(r)

    use_gram = [gram_pays(B, *w.shape) for w in W]
    ws = _Workspace(B * max(max(w.shape) for w in W), cdt)
    # per layer: how to get ‖H_{l-1}ᵀ δ_l‖ later: ("gram", HHᵀ, c) or ("direct", H, c),
    # with the stored matrix's H equal to the true H_{l-1} · 10^{-c}
    keep: list[tuple[str, Array, float]] = []
    D_list: list[Array | None] = []
    fwd_bad = None
    samples: dict[str, dict] = {"act": {}, "delta": {}}
    r_prev = r  # RMS of the H held now (scaled by 10^-a when tracked)
    for l in range(1, L + 1):
        n_in, n_out = W[l - 1].shape
        if tracked or 1e-12 < r_prev < 1e12 or r_prev == 0:
            Hs, c = H, a
        else:  # plain run with a signal far from 1: normalize so the Gram cannot overflow
            Hs, c = H / np.asarray(r_prev, dtype=cdt), math.log10(r_prev)
        if use_gram[l - 1]:
            # the Gram is an internal sum: kept in the compute dtype, not rounded to float16
            keep.append(("gram", Hs @ Hs.T, c))
        else:  # H_{l-1} itself is kept: it must not live in a reused work array
            keep.append(("direct", Hs.copy() if ws.owns(Hs) else Hs, c))

        Z = np.matmul(H, W[l - 1], out=ws.get("Z", (B, n_out)))  # (B, n_l)
        if biased[l - 1]:
            Z += bias[l - 1]
        rnd(Z)
        zm, zs, _ = _moments(Z)
        out["z_mean"][l], out["z_std"][l] = zm * _exp10(a), zs * _exp10(a)
        if act.fn_into is not None:  # ping-pong between two work arrays
            H = rnd(act.fn_into(Z, ws.get("H" + str(l % 2), (B, n_out))))
        else:
            H = rnd(act.fn(Z))
        D_list.append(D := derivative(act, Z, H, rnd))
        del Z
        m, s, r = _moments(H)
        if not math.isfinite(r):
            fwd_bad = l
            break
        out["dead"][l] = _dead_fraction(D, n_out)
        out["saturated"][l] = float(np.mean(act.saturated(H))) if act.saturated else 0.0
        scale = _exp10(a)
        out["act_mean"][l], out["act_std"][l] = m * scale, s * scale
        out["log10_act_rms"][l] = _log10(r) + a if r > 0 else _NEG_INF
        r_prev = r
        if l in capture:
            samples["act"][l] = (H.copy(), a)
        if tracked and (k := _pow2(r, limit)):
            H *= np.asarray(2.0**-k, dtype=cdt)
            a += k * _LOG10_2
            r_prev = r * 2.0**-k

    if fwd_bad is not None:
        return Trace(**out, forward_nonfinite=fwd_bad, backward_nonfinite=None,
                     tracked_forward=tracked, samples=samples)  # fmt: skip

    # ---------------- backward ----------------
    g, sg = output_gradient(loss, H, a, net.T)
    delta = g.astype(cdt)
    if D_list[-1] is not None:
        delta *= D_list[-1]
    rnd(delta)
    bwd_bad = None
    for l in range(L, 0, -1):
        _, _, r = _moments(delta, need_mean=False)
        if not math.isfinite(r):
            bwd_bad = l
            break
        if r == 0:  # exactly zero: so is every δ below it, and every gradient
            out["log10_delta_rms"][1 : l + 1] = _NEG_INF
            out["log10_grad_norm"][1 : l + 1] = _NEG_INF
            break
        out["log10_delta_rms"][l] = math.log10(r) + sg
        if l in capture:
            samples["delta"][l] = (delta.copy(), sg)
        if k := _pow2(r, limit):
            delta *= np.asarray(2.0**-k, dtype=cdt)
            sg += k * _LOG10_2
        how, M, c = keep[l - 1]
        n_in = W[l - 1].shape[0]
        if how == "gram":
            # Σ (HHᵀ)∘(δδᵀ) = ‖Hᵀδ‖²: B row sums of B products in the compute dtype, then
            # their sum in float64 (10× faster than casting both B×B matrices to float64)
            G = np.matmul(delta, delta.T, out=ws.get("G", (B, B)))
            sq = float(np.einsum("ij,ij->i", M, G).sum(dtype=np.float64))
            gn = math.sqrt(max(sq, 0.0))
        else:
            gn = float(np.linalg.norm(M.T @ delta))
        out["log10_grad_norm"][l] = _log10(gn) + sg + c
        if l > 1:
            delta = np.matmul(delta, W[l - 1].T, out=ws.get("d" + str(l % 2), (B, n_in)))
            D = D_list[l - 2]
            if D is not None:
                delta *= D
            rnd(delta)
    return Trace(**out, forward_nonfinite=None, backward_nonfinite=bwd_bad,
                 tracked_forward=tracked, samples=samples)  # fmt: skip
