"""The pass's numerical kit: log-scaled magnitudes, moments in one BLAS call, the storage
precision, and work arrays.

Magnitudes beyond the dtype's range are carried as A·10^s with A near unit RMS; rescaling is
by exact powers of two (``pow2``), so it never rounds. Moments of a stack of K arrays are
taken per run with the same BLAS routine a single array gets (``dot`` on each slice), so a
run's numbers do not depend on the stack it is in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from gradsim.dtypes import fmt

Array = np.ndarray
NAN = float("nan")
NEG_INF = float("-inf")
LOG10_2 = math.log10(2.0)


def exp10(x: float) -> float:
    """10^x as a float: inf above float64's range, 0 below it."""
    x = float(x)
    if x > 308.25:
        return math.inf
    if x < -330:
        return 0.0
    return 10.0**x


def log10(x: float) -> float:
    """log10 x: −inf at 0, NaN where x is negative or not finite."""
    if x == 0:
        return NEG_INF
    return math.log10(x) if x > 0 and math.isfinite(x) else NAN


def pow2(r: float, limit: int) -> int:
    """The power of two to divide by so that an RMS of r comes back near 1, or 0 when r is
    within 2^±limit: scaling by a power of two is exact, and skipping it saves a pass."""
    if r == 0 or 2.0**-limit <= r <= 2.0**limit:
        return 0
    return round(math.log2(r))


def gram_pays(B: int, n_in: int, n_out: int) -> bool:
    """Whether ‖Hᵀδ‖ is cheaper through the Grams HHᵀ and δδᵀ (B²(n_in + n_out)
    multiply-adds, as two syrk) than through Hᵀδ itself (B·n_in·n_out, one gemm). Counted
    alike: syrk does half a gemm's work but runs at about half its rate (OpenBLAS, one
    thread: at B = n the Grams take 1.3–1.5× the product's time, at B = n/2 and n ≥ 256
    0.6–0.7×)."""
    return B * (n_in + n_out) <= n_in * n_out


class Precision:
    """The number format of a run (gradsim.dtypes): float32 and float64 compute and store in
    their own dtype; the low-precision formats (float16, bfloat16, float8) store in the
    format and compute in float32, rounding every result back to it (``round``), as
    mixed-precision frameworks do (low-precision storage, float32 accumulation).
    ``limit``: rescale once an RMS leaves 2^±limit (a narrow format has less room)."""

    def __init__(self, dtype):
        self.format = fmt(dtype)
        self.dtype = np.dtype(self.format.container)
        self.half = self.format.low
        self.compute = self.format.compute
        self.limit = self.format.limit

    def round(self, A: Array) -> Array:
        """A rounded to the storage format, in place (a no-op for float32 and float64)."""
        return self.format.round(A)

    def stored(self, W: Array) -> Array:
        """W in the compute dtype with the format's values (rounded where W is not already
        held in the format: a trainer's float32 master weights)."""
        if not self.half or (W.dtype == np.float16 and self.format.name == "float16"):
            return W.astype(self.compute, copy=False)
        return self.round(W.astype(self.compute, copy=True))


class Workspace:
    """Work arrays reused from layer to layer, so that a pass does not touch fresh memory for
    every intermediate (first touches of fresh pages cost more than the arithmetic).
    ``get(name, shape)`` returns a view of a flat buffer sized for the widest layer."""

    def __init__(self, size: int, dtype: np.dtype):
        self.size, self.dtype, self.bufs = size, dtype, {}
        self._views: dict[tuple, Array] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> Array:
        view = self._views.get((name, shape))
        if view is None:
            if name not in self.bufs:
                self.bufs[name] = np.empty(self.size, dtype=self.dtype)
            view = self._views[name, shape] = self.bufs[name][: math.prod(shape)].reshape(shape)
        return view

    def owns(self, A: Array) -> bool:
        """Whether A is a view of one of the work arrays (``get`` hands out only views)."""
        return A.base is not None and any(A.base is b for b in self.bufs.values())


class Bits(NamedTuple):
    """A boolean array (K, B, n) packed 8 to a byte along its last axis (``pack``)."""

    packed: Array
    n: int


def pack(D: Array | None):
    """A boolean mask as bits (an eighth of its bytes), anything else as it is."""
    if D is None or D.dtype != np.bool_:
        return D
    return Bits(np.packbits(D, axis=-1), D.shape[-1])


def unpack(D):
    """The array ``pack`` was given."""
    if isinstance(D, Bits):
        return np.unpackbits(D.packed, axis=-1, count=D.n).view(np.bool_)
    return D


def count_true(M: Array) -> Array:
    """Per run k, the number of True entries of the boolean M[k], as integers (K,): eight
    entries a word through ``np.bitwise_count`` where NumPy has it (3× faster than
    ``count_nonzero`` along an axis), else ``count_nonzero``."""
    flat = M.reshape(M.shape[0], -1)
    popcount = getattr(np, "bitwise_count", None)
    if popcount is not None and flat.shape[1] % 8 == 0 and flat.flags.c_contiguous:
        return popcount(flat.view(np.uint64)).sum(axis=1, dtype=np.intp)
    return np.count_nonzero(flat, axis=1)


def ones(n: int, dtype: np.dtype, _cache: dict = {}) -> Array:  # noqa: B006 (a cache)
    """A read-only vector of n ones, cached (the right-hand side of a BLAS sum)."""
    key = (n, dtype.str)
    v = _cache.get(key)  # (one lookup: another thread may clear the cache in between)
    if v is None:
        _cache.clear() if len(_cache) > 16 else None
        v = np.ones(n, dtype=dtype)
        v.flags.writeable = False
        _cache[key] = v
    return v


# tiny/eps: squares below N times this have lost precision (subnormal sums)
_TINY_OVER_EPS = {np.dtype(t).char: float(np.finfo(t).tiny / np.finfo(t).eps)
                  for t in (np.float16, np.float32, np.float64)}  # fmt: skip


def moments(A: Array, need_mean: bool = True) -> tuple[float, float, float]:
    """(mean, std, rms) of every entry of A, in float64; NaN if any entry is not finite.

    Two BLAS dots (with a ones vector, and with itself), faster than ndarray.sum; a second
    pass only when the squares overflow or underflow the dtype although the entries do not,
    or when the variance is lost to cancellation. ``need_mean=False`` skips the sum (mean
    and std are then NaN).
    """
    flat = A.reshape(-1)
    N = flat.size
    s1 = float(np.dot(flat, ones(N, flat.dtype))) if need_mean else 0.0
    s2 = float(np.dot(flat, flat))
    if not (math.isfinite(s1) and math.isfinite(s2)) or s2 < N * _TINY_OVER_EPS[flat.dtype.char]:
        m = float(np.max(np.abs(flat)))
        if not math.isfinite(m):
            return NAN, NAN, NAN
        if m == 0:
            return 0.0, 0.0, 0.0
        scaled = flat / np.asarray(m, dtype=flat.dtype)
        s1 = float(scaled.sum(dtype=np.float64)) * m if need_mean else 0.0
        s2 = float(np.dot(scaled, scaled)) * m * m
    ms = s2 / N
    if not need_mean:
        return NAN, NAN, math.sqrt(ms)
    mean = s1 / N
    var = ms - mean * mean
    if var < 1e-4 * mean * mean:  # cancellation: do it in two passes
        d = flat.astype(np.float64) - mean
        var = float(np.dot(d, d)) / N
    return mean, math.sqrt(max(var, 0.0)), math.sqrt(ms)


def dots(A: Array, B: Array | None = None) -> Array:
    """Σ A_k·B_k per run k over all entries (B of A's shape), or Σ A_k when B is None, as
    float64 (K,): BLAS dot on each slice, as np.dot gives for one run, through a
    (1, N)·(N, 1) matmul per slice."""
    K = A.shape[0]
    a = A.reshape(K, 1, -1)
    b = ones(a.shape[2], A.dtype)[:, None] if B is None else B.reshape(K, -1, 1)
    return np.matmul(a, b).reshape(K).astype(np.float64)


def moments_k(A: Array, need_mean: bool = True) -> tuple[list[float], list[float], list[float]]:
    """``moments`` of every run's slice A[k]: (mean, std, rms), lists of K floats.

    A single run takes ``moments`` itself. For more, the sums are batched and the float
    operations done elementwise (IEEE arithmetic and sqrt give the same bits); the rare
    runs that need the second pass (squares out of range, or cancellation) take it on
    their own slice."""
    K = A.shape[0]
    if K == 1:
        mean, std, rms = moments(A[0], need_mean)
        return [mean], [std], [rms]
    flat = A.reshape(K, -1)
    N = flat.shape[1]
    s2 = dots(flat, flat)
    ms = s2 / N
    rms = np.sqrt(ms)
    small = N * _TINY_OVER_EPS[flat.dtype.char]  # squares too small for their precision
    if need_mean:
        s1 = dots(flat)
        mean = s1 / N
        var = ms - mean * mean
        # a sum not finite (s1 + s2 is not finite then, and rarely otherwise: such runs only
        # take the exact second pass), squares too small, or cancellation
        slow = ~np.isfinite(s1 + s2) | (s2 < small) | (var < 1e-4 * mean * mean)
        std = np.sqrt(np.maximum(var, 0.0))
    else:
        if s2.min() >= small and s2.max() < math.inf:  # the common case (NaN fails both)
            return [NAN] * K, [NAN] * K, rms.tolist()
        slow = ~np.isfinite(s2) | (s2 < small)
        mean = std = np.full(K, NAN)
    if slow.any():
        for k in np.flatnonzero(slow).tolist():
            mean[k], std[k], rms[k] = moments(flat[k], need_mean)
    return mean.tolist(), std.tolist(), rms.tolist()


def _pow2(e: int, dtype: np.dtype) -> float | None:
    """2^e where ``dtype`` holds it (subnormals included), else None: a product by it would
    give inf or 0 there instead of the exact A·2^e."""
    lo, hi = _EXPONENTS.get(dtype.char) or _exponents(dtype)
    return 2.0**e if lo <= e <= hi else None


_EXPONENTS: dict[str, tuple[int, int]] = {}


def _exponents(dtype: np.dtype) -> tuple[int, int]:
    """The least and greatest e with 2^e a number of ``dtype``."""
    info = np.finfo(dtype)
    _EXPONENTS[dtype.char] = (int(info.minexp) - int(info.nmant), int(info.maxexp) - 1)
    return _EXPONENTS[dtype.char]


def rescale(A: Array, r: list[float], which: list[bool], limit: int, shift: list[float],
            count: list[int] | None = None) -> list[tuple[int, int]]:  # fmt: skip
    """Divide A[k] by the power of two ``pow2(r[k], limit)`` for the runs in ``which``,
    adding its log10 to shift[k] (and its exponent to count[k], if given); returns the
    (k, power) pairs applied."""
    if len(r) == 1 and not (which[0] and pow2(r[0], limit)):  # a stack of one, near 1
        return []
    done = [(k, p) for k, (x, ok) in enumerate(zip(r, which, strict=True))
            if ok and (p := pow2(x, limit))]  # fmt: skip
    factors = [_pow2(-p, A.dtype) for _, p in done]
    if 4 * len(done) > len(r) > 1 and all(f is not None for f in factors):
        # many runs: one pass over the stack (× 1.0 is exact)
        every = [1.0] * len(r)
        for (k, _), f in zip(done, factors, strict=True):
            every[k] = f
        A *= np.array(every, dtype=A.dtype).reshape((-1,) + (1,) * (A.ndim - 1))
    else:
        for (k, p), f in zip(done, factors, strict=True):
            if f is not None:
                A[k] *= np.asarray(f, dtype=A.dtype)
            else:  # 2^-p is no number of the dtype (a subnormal RMS, say): exact all the same
                np.ldexp(A[k], -p, out=A[k])
    for k, p in done:
        shift[k] += p * LOG10_2
        if count is not None:
            count[k] += p
    return done
