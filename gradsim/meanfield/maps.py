"""The length map and its fixed point q*, and the correlation map with its fixed point c*.

The length map q^l = σ_w² E[φ(μ_b + √q^{l-1} z)²] + σ_b² (Poole et al. 2016) is solved for
q* in ln q, vectorized over (σ_w, σ_b). The correlation map is evaluated through Mehler's
expansion, E[φ(u₁)φ(u₂)] = Σ_k b_k² c^k with b_k = E[φ(u) He_k(z)]/√k!, one 1-D quadrature
per (σ_w, σ_b), with the truncation bounded by the exact sums Σ b_k² = E[φ²] and
Σ k b_k² = q E[φ'²]; where that bound stays too loose (a kinked φ with c* near 1), Newton on
the 2-D integral polishes c*.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from gradsim.activations import Activation
from gradsim.errors import GradsimError
from gradsim.meanfield.quadrature import (
    GL_COARSE,
    Array,
    composite,
    dphi,
    expect,
    expect_flat,
    not_converging,
    phi,
    phi2,
    phi_dphi,
    slope,
)

Q_MIN, Q_MAX = 1e-200, 1e200  # q* below Q_MIN is 0, above Q_MAX is ∞ (the length diverges)
_G_TOL = 1e-10  # |F(q) − q| ≤ this · q: q is the fixed point (the quadrature's accuracy)
LN10 = math.log(10.0)


# ---------------------------------------------------------------- length map and q*


def check_sigma(name: str, v) -> Array:
    """``v`` as a float array; a GradsimError naming ``name`` unless every entry is finite, ≥ 0."""
    a = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        bad = a[~(np.isfinite(a) & (a >= 0))].ravel()[0]
        raise GradsimError(f"{name} must be a finite number ≥ 0 (got {bad:g})")
    return a


def length_map(act: Activation, q, sigma_w, sigma_b, mu_b=0.0) -> Array:
    """One step of the length map: σ_w² E[φ(μ_b + √q z)²] + σ_b²."""
    sw, sb = check_sigma("sigma_w", sigma_w), check_sigma("sigma_b", sigma_b)
    return sw**2 * expect(act, q, mu_b, "phi2") + sb**2


def _G(act, q, s2w, s2b, mu):
    """F(q) − q, its derivative in ln q, and F(q) (arrays of the active entries)."""
    m2, sl = expect_flat(act, q, mu, (phi2, slope))
    F = s2w * m2 + s2b
    return F - q, s2w * sl - q, F


class _LengthRoot:
    """The search for the length map's fixed point per entry (N,), in t = ln q: the roots
    found (``qs``, NaN while open) and the bracket ends (G > 0 at ``lo``, G < 0 at ``hi``)
    with G and dG/dt there."""

    def __init__(self, act, s2w: Array, s2b: Array, mu: Array, N: int):
        self.act, self.s2w, self.s2b, self.mu = act, s2w, s2b, mu
        self.qs = np.full(N, np.nan)
        self.lo, self.hi = np.full(N, -np.inf), np.full(N, np.inf)
        self.G_lo, self.G_hi, self.D_lo, self.D_hi = (np.full(N, np.nan) for _ in range(4))

    def evaluate(self, i, t, up):
        """G at t for entries i; records bracket ends; returns the entries still open."""
        qs = self.qs
        q = np.exp(t)
        G, dG, F = _G(self.act, q, self.s2w[i], self.s2b[i], self.mu[i])
        if not np.all(np.isfinite(G)):
            raise not_converging(self.act, float(q[~np.isfinite(G)][0]))
        hit = np.abs(G) <= _G_TOL * np.maximum(q, F)
        # a drift below 1e-10 per layer where the map's slope is 1 is no fixed point: the
        # length creeps on without bound (relu at σ_w² = 2 with σ_b > 0) or to 0 (tanh at
        # σ_w = 1, σ_b = 0), algebraically rather than exponentially
        creep = hit & (np.abs(dG) <= 1e-6 * q) & (up is not None)
        if up is not None:
            qs[i[hit]] = np.where(creep[hit], np.where(up[hit], np.inf, 0.0), q[hit])
        else:
            qs[i[hit]] = q[hit]
        pos = G > 0
        for sel, end, g, d in ((pos, self.lo, self.G_lo, self.D_lo),
                               (~pos, self.hi, self.G_hi, self.D_hi)):  # fmt: skip
            k = i[sel & ~hit]
            end[k], g[k], d[k] = t[sel & ~hit], G[sel & ~hit], dG[sel & ~hit]
        return ~hit

    def start(self, q1: Array) -> tuple[Array, Array, Array, Array]:
        """Evaluate at q1; return the entries still open, the direction (``up``: G(q1) > 0),
        the floor ln σ_b² and the first step in t toward the fixed point."""
        s2b, lo, hi = self.s2b, self.lo, self.hi
        G_lo, G_hi, D_lo, D_hi = self.G_lo, self.G_hi, self.D_lo, self.D_hi
        i = np.arange(q1.size)
        t1 = np.log(np.maximum(q1, Q_MIN))
        open_ = self.evaluate(i, t1, None)
        # q1 = 0 (σ_w = σ_b = 0) is its own fixed point; so is any q1 where G vanishes
        up = np.isfinite(lo) & ~np.isfinite(hi)  # G(q1) > 0: the length grows toward q*
        # from below σ_b², F(q) ≥ σ_b² > q: σ_b² bounds q* from below without evaluating
        with np.errstate(divide="ignore"):
            floor = np.where(s2b > 0, np.log(s2b), -np.inf)
        down_floor = open_ & ~up & (s2b > 0)
        lo[down_floor], G_lo[down_floor] = floor[down_floor], np.inf
        with np.errstate(all="ignore"):
            newton = np.where(up, -G_lo / D_lo, -G_hi / D_hi)
        step = np.where(np.isfinite(newton) & ((newton > 0) == up), np.abs(newton), LN10)
        step = np.clip(step, 1e-3, LN10)
        return open_, up, floor, step

    def bracket(self, open_: Array, up: Array, floor: Array, step: Array) -> None:
        """Steps of 1, 2, 4, … decades in the direction ``up`` until the sign of G changes;
        q* is ∞ (or 0) where the steps leave [Q_MIN, Q_MAX] first."""
        qs, lo, hi = self.qs, self.lo, self.hi
        active = open_ & ~(np.isfinite(lo) & np.isfinite(hi))
        while active.any():
            i = np.flatnonzero(active)
            t = np.where(up[i], lo[i] + step[i], np.maximum(hi[i] - step[i], floor[i]))
            over, under = up[i] & (t > math.log(Q_MAX)), ~up[i] & (t < math.log(Q_MIN))
            qs[i[over]], qs[i[under]] = np.inf, 0.0  # the length diverges, or dies out
            active[i[over | under]] = False
            keep = ~(over | under)
            i, t = i[keep], t[keep]
            if i.size == 0:
                continue
            still = self.evaluate(i, t, up[i])
            active[i] = still & ~(np.isfinite(lo[i]) & np.isfinite(hi[i]))
            step[i] = np.maximum(2 * step[i], LN10)

    def refine(self) -> None:
        """Newton from the end nearer the root, bisecting when Newton leaves the bracket."""
        qs, lo, hi = self.qs, self.lo, self.hi
        G_lo, G_hi, D_lo, D_hi = self.G_lo, self.G_hi, self.D_lo, self.D_hi
        active = np.isnan(qs)
        for it in range(300):
            i = np.flatnonzero(active)
            if i.size == 0:
                break
            with np.errstate(all="ignore"):
                n_lo, n_hi = lo[i] - G_lo[i] / D_lo[i], hi[i] - G_hi[i] / D_hi[i]
            ok_lo = np.isfinite(n_lo) & (n_lo > lo[i]) & (n_lo < hi[i])
            ok_hi = np.isfinite(n_hi) & (n_hi > lo[i]) & (n_hi < hi[i])
            near_lo = np.abs(n_lo - lo[i]) < np.abs(n_hi - hi[i])
            mid = (lo[i] + hi[i]) / 2
            t = np.where(ok_lo & (near_lo | ~ok_hi), n_lo, np.where(ok_hi, n_hi, mid))
            if it >= 30:  # Newton crawls (a near double root): bisect to the end
                t = mid
            tiny = hi[i] - lo[i] < 1e-10
            qs[i[tiny]] = np.exp(mid[tiny])
            active[i[tiny]] = False
            i, t = i[~tiny], t[~tiny]
            if i.size:
                active[i] = self.evaluate(i, t, None)
        left = np.isnan(qs)
        qs[left] = np.exp((lo[left] + hi[left]) / 2)


def q_star_flat(act, s2w: Array, s2b: Array, mu: Array, q1: Array) -> Array:
    """The fixed point of the length map reached from q1: (N,) with 0 and inf allowed.

    In t = ln q: a Newton step from q1, then steps of 1, 2, 4, … decades in the direction
    of F(q1) − q1 until the sign of G = F(q) − q changes; then Newton inside the bracket,
    bisecting whenever Newton would leave it. Converged when |G| ≤ 1e-10 q."""
    root = _LengthRoot(act, s2w, s2b, mu, q1.size)
    root.bracket(*root.start(q1))
    root.refine()
    return root.qs


def flat_args(*arrays):
    """The arrays broadcast together: their shape, and each as a flat float copy."""
    b = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    return b[0].shape, [x.ravel().copy() for x in b]


def q_star(act: Activation, sigma_w, sigma_b, mu_b=0.0, q0: float = 1.0) -> Array:
    """The fixed point q* of the length map, reached from q^1 = σ_w² q0 + σ_b² (q0 = E[x²]):
    0 where the signal dies out (σ_b = 0), inf where the length diverges (beyond 1e200)."""
    sw, sb = check_sigma("sigma_w", sigma_w), check_sigma("sigma_b", sigma_b)
    shape, (sw, sb, mu) = flat_args(sw, sb, mu_b)
    s2w, s2b = sw**2, sb**2
    return q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b).reshape(shape)


# ---------------------------------------------------------------- correlation map (Mehler)


def _hermite_coeffs(act, q: Array, mu: Array, K: int) -> Array:
    """b_k = E[φ(μ + √q z) He_k(z)]/√k!, k = 0..K: (N, K+1), by the fine composite rule."""
    out = np.empty((q.size, K + 1))
    # enough nodes per panel for He_K's oscillations (zeros π/√K apart near z = 0)
    rule = {32: GL_COARSE, 64: (leggauss(16), 12), 128: (leggauss(24), 14)}.get(
        K, (leggauss(32), 14)
    )
    with np.errstate(all="ignore"):
        for s in range(0, q.size, 256):
            qc, mc = q[s : s + 256], mu[s : s + 256]
            z, w = composite(qc, mc, rule)
            H, _ = phi_dphi(act, mc[:, None] + np.sqrt(qc)[:, None] * z)
            Hw = H * w
            h0, h1 = np.ones_like(z), z
            out[s : s + 256, 0] = Hw.sum(axis=1)
            out[s : s + 256, 1] = (Hw * h1).sum(axis=1)
            for k in range(1, K):  # orthonormal recurrence: no factorials, no overflow
                h0, h1 = h1, (z * h1 - math.sqrt(k) * h0) / math.sqrt(k + 1)
                out[s : s + 256, k + 1] = (Hw * h1).sum(axis=1)
    return out


def _cov_2d(act, q: Array, mu: Array, c: Array) -> tuple[Array, Array]:
    """E[φ(u₁)φ(u₂)] and E[φ'(u₁)φ'(u₂)], u₁, u₂ ~ N(μ, q) with correlation c ∈ [−1, 1], as
    an iterated integral: u₂ = μ + √q(c z₁ + √(1 − c²) z₂), so the inner expectation over z₂
    is Ψ(m) = E[φ(m + √(q(1 − c²)) z₂)] at m = μ + √q c z₁ (likewise for φ')."""
    z1, w1 = composite(q, mu, GL_COARSE)  # (N, n): split at φ's kink in z₁
    with np.errstate(all="ignore"):
        H1, D1 = phi_dphi(act, mu[:, None] + np.sqrt(q)[:, None] * z1)
    M = mu[:, None] + (np.sqrt(q) * c)[:, None] * z1
    V = np.broadcast_to((q * (1.0 - c * c))[:, None], M.shape)
    psi, psi_d = expect_flat(act, V.ravel().copy(), M.ravel().copy(), (phi, dphi))
    return ((w1 * H1 * psi.reshape(M.shape)).sum(axis=1),
            (w1 * D1 * psi_d.reshape(M.shape)).sum(axis=1))  # fmt: skip


def correlation_fixed_point(act, q, mu, s2w, s2b, m2, d2, rtol) -> tuple[Array, Array]:
    """c* in [0, 1) and χ_c = σ_w² E[φ'(u₁)φ'(u₂)] there, for entries with χ₁ > 1 and
    0 < q* < ∞; m2 = E[φ²] and d2 = E[φ'²] at q*.

    Mehler's series f(c) = Σ a_k c^k (a_k ≥ 0, f convex, f(1) = 1, f'(1) = χ₁ > 1), so
    Newton from c = 0 climbs monotonically to the one root in [0, 1). What the terms beyond
    K can add is bounded by the exact sums Σ b_k² = E[φ²] and Σ k b_k² = q E[φ'²]; where that
    bound exceeds ``rtol`` of χ_c even at K = 256 (a kink in φ makes b_k² decay only as a power
    of k, and c* near 1 needs many terms), c* is polished by Newton on the 2-D integral."""
    c_star, chi_c = np.full(q.size, np.nan), np.full(q.size, np.nan)
    todo = np.arange(q.size)
    for K in (32, 64, 128, 256):
        if todo.size == 0:
            break
        b2 = _hermite_coeffs(act, q[todo], mu[todo], K) ** 2  # (n, K+1)
        k = np.arange(K + 1)
        a = s2w[todo, None] * b2 / q[todo, None]  # f(c) = Σ a_k c^k + s2b/q
        a[:, 0] += s2b[todo] / q[todo]
        da = (k[1:] * a[:, 1:]).T  # f'(c) coefficients of c^(k-1)
        a = a.T
        c = np.zeros(todo.size)
        for _ in range(60):
            f = np.polynomial.polynomial.polyval(c, a, tensor=False)
            df = np.polynomial.polynomial.polyval(c, da, tensor=False)
            with np.errstate(all="ignore"):
                c_new = np.clip(c - (f - c) / (df - 1.0), 0.0, 1.0)
            c_new = np.where(np.isfinite(c_new), c_new, c)
            if np.all(np.abs(c_new - c) <= 1e-15):
                c = c_new
                break
            c = c_new
        dfc = np.polynomial.polynomial.polyval(c, da, tensor=False)
        # what the terms beyond K can add at c (every term is ≥ 0)
        tail0 = np.maximum(m2[todo] - b2.sum(axis=1), 0.0) * s2w[todo] / q[todo]
        tail1 = np.maximum(q[todo] * d2[todo] - (k * b2).sum(axis=1), 0.0) * s2w[todo] / q[todo]
        ok = (tail0 * c ** (K + 1) <= 0.1 * rtol) & (tail1 * c**K <= rtol * dfc)
        ok |= c >= 1.0  # χ₁ within rounding of 1: the fixed point is c* = 1 itself
        c_star[todo[ok]], chi_c[todo[ok]] = c[ok], dfc[ok]
        c_star[todo[~ok]] = c[~ok]  # the start of the 2-D polish
        todo = todo[~ok]
    if todo.size:
        c = np.minimum(c_star[todo], 1.0 - 1e-6)
        active = np.ones(todo.size, dtype=bool)
        g_last = np.full(todo.size, np.inf)
        for _ in range(60):  # Newton on the exact map, from Mehler's estimate nearby
            j = todo[active]
            E11, E_dd = _cov_2d(act, q[j], mu[j], c[active])
            g = (s2w[j] * E11 + s2b[j]) / q[j] - c[active]
            with np.errstate(all="ignore"):
                c_new = np.clip(c[active] - g / (s2w[j] * E_dd - 1.0), 0.0, 1.0 - 1e-12)
            if not np.all(np.isfinite(c_new)):
                raise not_converging(act, float(q[j][~np.isfinite(c_new)][0]),
                                      "the correlation map")  # fmt: skip
            # converged (|g| at the quadrature's noise: near χ_c = 1 that leaves c* uncertain
            # by noise/(1 − χ_c), χ_c itself is fine), or c* ≈ 1 where Newton crawls
            done = (np.abs(c_new - c[active]) <= 1e-12) | (np.abs(g) <= 1e-9)
            done |= c_new >= 1.0 - 1e-9
            g_last[active] = g
            c[active] = np.where(np.abs(g) <= 1e-9, c[active], c_new)
            active[np.flatnonzero(active)[done]] = False
            if not active.any():
                break
        if np.any(active & (np.abs(g_last) > 1e-7)):
            bad = active & (np.abs(g_last) > 1e-7)
            raise not_converging(act, float(q[todo][bad][0]), "the correlation map")
        c_star[todo], chi_c[todo] = c, s2w[todo] * _cov_2d(act, q[todo], mu[todo], c)[1]
    return c_star, chi_c


def correlation_map(act: Activation, c, q, sigma_w, sigma_b, mu_b=0.0) -> Array:
    """One step of the correlation map at variance q: (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q_next,
    u₁, u₂ ~ N(μ_b, q) with correlation c ∈ [−1, 1], q_next = σ_w² E[φ(u)²] + σ_b²
    (the 2-D integral, not Mehler's series)."""
    sw, sb = check_sigma("sigma_w", sigma_w), check_sigma("sigma_b", sigma_b)
    shape, (c, q, sw, sb, mu) = flat_args(c, q, sw, sb, mu_b)
    if np.any(np.abs(c) > 1):
        raise GradsimError("a correlation c must lie in [−1, 1]")
    cov = sw**2 * _cov_2d(act, q, mu, c)[0] + sb**2
    return (cov / (sw**2 * expect_flat(act, q, mu, (phi2,))[0] + sb**2)).reshape(shape)
