"""Mean-field theory of signal propagation in wide random MLPs, beside the measurement.

In a wide network whose weights have Var W = σ_w²/fan_in and whose biases have mean μ_b and
variance σ_b², the pre-activations of a layer are Gaussian per unit, Z_l ~ N(μ_b, q^l), with
the *length map* (Poole et al. 2016)::

    q^1 = σ_w² E[x²] + σ_b²                       (E[x²] = 1 for gradsim's N(0, 1) inputs)
    q^l = σ_w² E[φ(μ_b + √q^{l-1} z)²] + σ_b²     z ~ N(0, 1)

Its fixed point q* sets χ₁ = σ_w² E[φ'(μ_b + √q* z)²], the factor by which δ_l² = E[(∂E/∂Z_l)²]
grows per layer toward the input (Schoenholz et al. 2017): ordered (χ₁ < 1, gradients vanish),
critical (χ₁ = 1), chaotic (χ₁ > 1, gradients explode). Two inputs of correlation c^l follow
the correlation map c^{l+1} = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q*, with fixed point c* and slope
χ_c = σ_w² E[φ'(u₁)φ'(u₂)] there; the depth scales are ξ_q = −1/ln χ_q, χ_q the slope of the
length map at q*, and ξ_c = −1/ln χ_c, which diverges on the critical line χ₁ = 1.

Every expectation over z ~ N(0, 1) is a quadrature of the activation record's own ``fn`` and
``grad``, so every registered activation works without a closed form:

* Gauss–Hermite (``numpy.polynomial.hermite_e.hermegauss``) with 48 and with 64 nodes at
  q ≤ 1; where the two agree to 1e-10 the 64-node value is kept. This is exact for
  polynomials and converges fast for smooth φ at small q.
* Elsewhere (a kink, or φ(μ + √q z) changing in z much faster than the Gaussian, as tanh
  does at large q), composite Gauss–Legendre on panels split at u = 0 (where every
  registered activation has its kink or its steepest part), graded geometrically around it,
  over |z| ≤ 10.
* The final values (at q*, at every layer's q^l) are checked against a finer composite rule;
  a disagreement beyond 1e-7 raises ``GradsimError("the expectation of φ does not converge
  ...")``.

Derivatives with respect to q need no φ'': by Stein's lemma,
q · d/dq E[g(μ + √q z)] = E[g(μ + √q z)(z² − 1)]/2. The correlation map is evaluated through
Mehler's expansion, E[φ(u₁)φ(u₂)] = Σ_k b_k² c^k with b_k = E[φ(u) He_k(z)]/√k!, one 1-D
quadrature per (σ_w, σ_b), with the truncation bounded by the exact sums Σ b_k² = E[φ²] and
Σ k b_k² = q E[φ'²]; where that bound stays too loose (a kinked φ with c* near 1), Newton on
the 2-D integral polishes c*.

Every function here is vectorized over arrays of (σ_w, σ_b), so a 100 × 100 phase diagram
takes a second or two. Nothing prints.

Sources: B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli (2016), Exponential
expressivity in deep neural networks through transient chaos; S. Schoenholz, J. Gilmer,
S. Ganguli, J. Sohl-Dickstein (2017), Deep information propagation; J. Pennington,
S. Schoenholz, S. Ganguli (2017), Resurrecting the sigmoid in deep learning through dynamical
isometry; B. Hanin (2018), Which neural net architectures give rise to exploding and
vanishing gradients?
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from gradsim.activations import ACTIVATIONS, Activation
from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES
from gradsim.network import Network, bias_moments

Array = np.ndarray

Z_MAX = 10.0  # the composite rule integrates over |z| ≤ 10 (N(0, 1) mass beyond: 1.5e-23)
Q_MIN, Q_MAX = 1e-200, 1e200  # q* below Q_MIN is 0, above Q_MAX is ∞ (the length diverges)
CRITICAL_TOL = 0.01  # |χ₁ − 1| ≤ this is "critical": δ changes by less than 1% per layer
BETA_WARN = 0.3  # β = Σ 1/n_l above this: one finite network strays from the mean field
PHASES = ("ordered", "critical", "chaotic")

_GH_RTOL = 1e-10  # Gauss–Hermite 48 vs 64 nodes: agreement that counts as converged
_CHECK_RTOL = 1e-7  # the final values against the finer composite rule
_G_TOL = 1e-10  # |F(q) − q| ≤ this · q: q is the fixed point (the quadrature's accuracy)
_CHUNK = 1024  # (σ_w, σ_b) points per vectorized quadrature, to bound memory
_LN10 = math.log(10.0)


# ---------------------------------------------------------------- integrands
# f(z, H, D) with H = φ(u), D = φ'(u) at u = μ + √q z; each returns an array like H.


def _phi2(z, H, D):
    return H * H


def _dphi2(z, H, D):
    return D * D


def _slope(z, H, D):
    # q · d/dq E[φ(u)²] by Stein's lemma: E[φ(u)²(z² − 1)]/2 (no φ'' needed)
    return 0.5 * H * H * (z * z - 1.0)


def _phi(z, H, D):
    return H


def _dphi(z, H, D):
    return D


INTEGRANDS: dict[str, Callable] = {
    "phi2": _phi2,  # E[φ(u)²]
    "dphi2": _dphi2,  # E[φ'(u)²]
    "slope": _slope,  # q · d/dq E[φ(u)²]
    "phi": _phi,  # E[φ(u)]
}


# ---------------------------------------------------------------- quadrature rules


def _gh(n: int) -> tuple[Array, Array]:
    x, w = hermegauss(n)
    return x, w / math.sqrt(2.0 * math.pi)  # weights of the N(0, 1) density


_GH_RULES = (_gh(64), _gh(48))
# (Gauss–Legendre nodes per panel, panels graded around u = 0 on each side)
_GL_COARSE, _GL_FINE = (leggauss(8), 10), (leggauss(12), 14)
# fixed panels for the Gaussian weight itself: unit width where it matters, wider in the tails
_FIXED = np.array([-10, -7, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 7, 10], dtype=float)
_GH_QMAX = 1.0  # above this q, Gauss–Hermite is not even tried (smooth φ need q ≲ 1)


def _composite(q: Array, mu: Array, rule) -> tuple[Array, Array]:
    """Nodes and N(0, 1)-weights (N, n) of composite Gauss–Legendre over |z| ≤ Z_MAX, split
    at z₀ = −μ/√q (u = 0) and graded geometrically around it from 0.1/√q (a tenth of u's
    unit) to 2·Z_MAX, plus fixed panels for the Gaussian weight, so that each panel holds a
    smooth piece of φ."""
    (t, wt), K = rule
    q, mu = np.asarray(q, dtype=float), np.asarray(mu, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.sqrt(q)
        z0 = np.where(sq > 0, -mu / sq, 0.0)
        s0 = np.where(sq > 0, 0.1 / sq, np.inf)
    z0 = np.clip(np.nan_to_num(z0), -Z_MAX - 1, Z_MAX + 1)
    s0 = np.minimum(s0, 2 * Z_MAX)
    offsets = s0[:, None] * (2 * Z_MAX / s0[:, None]) ** (np.arange(K + 1) / K)
    pts = np.concatenate(
        [z0[:, None], z0[:, None] - offsets, z0[:, None] + offsets,
         np.broadcast_to(_FIXED, (len(q), len(_FIXED)))], axis=1)  # fmt: skip
    pts = np.sort(np.clip(pts, -Z_MAX, Z_MAX), axis=1)
    mid, half = (pts[:, 1:] + pts[:, :-1]) / 2, (pts[:, 1:] - pts[:, :-1]) / 2
    z = mid[..., None] + half[..., None] * t  # (N, panels, m)
    w = half[..., None] * wt * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z.reshape(len(q), -1), w.reshape(len(q), -1)


def _phi_dphi(act: Activation, U: Array) -> tuple[Array, Array]:
    H = np.asarray(act.fn(U), dtype=np.float64)
    D = act.grad(U, H)
    D = np.ones_like(U) if D is None else np.asarray(D, dtype=np.float64)
    return H, D


def _integrate(act, z, w, q, mu, fns) -> tuple[Array, Array]:
    """Σ w·f and Σ w·|f| over the nodes, per entry: two arrays (len(fns), N)."""
    U = mu[:, None] + np.sqrt(q)[:, None] * z
    H, D = _phi_dphi(act, U)
    Z = np.broadcast_to(z, U.shape)
    vals = [f(Z, H, D) * w for f in fns]
    return (np.stack([v.sum(axis=-1) for v in vals]),
            np.stack([np.abs(v).sum(axis=-1) for v in vals]))  # fmt: skip


def _expect_flat(act, q: Array, mu: Array, fns, fine: bool = False) -> Array:
    """E[f(z, φ(u), φ'(u))], u = μ + √q z, for each f: (len(fns), N). q, mu: (N,) float."""
    out = np.empty((len(fns), q.size))
    with np.errstate(all="ignore"):
        for s in range(0, q.size, _CHUNK):
            qc, mc = q[s : s + _CHUNK], mu[s : s + _CHUNK]
            if fine:
                z, w = _composite(qc, mc, _GL_FINE)
                out[:, s : s + _CHUNK] = _integrate(act, z, w, qc, mc, fns)[0]
                continue
            e = np.empty((len(fns), qc.size))
            bad = qc > _GH_QMAX
            small = np.flatnonzero(~bad)
            if small.size:
                (x64, w64), (x48, w48) = _GH_RULES
                e64, a64 = _integrate(act, x64, w64, qc[small], mc[small], fns)
                e48, _ = _integrate(act, x48, w48, qc[small], mc[small], fns)
                e[:, small] = e64
                bad[small] = np.any(~(np.abs(e64 - e48) <= _GH_RTOL * a64 + 1e-300), axis=0)
            if bad.any():  # a kink, or φ too sharp for Gauss–Hermite at this q
                z, w = _composite(qc[bad], mc[bad], _GL_COARSE)
                e[:, bad] = _integrate(act, z, w, qc[bad], mc[bad], fns)[0]
            out[:, s : s + _CHUNK] = e
    return out


def _not_converging(act: Activation, q: float, what: str = "") -> GradsimError:
    extra = f" ({what})" if what else ""
    return GradsimError(
        f"the expectation of φ does not converge for {act.name} at q = {q:.3g}{extra}: "
        "mean-field theory needs E[φ(u)²] and E[φ'(u)²] to be finite and smooth enough"
    )


def _check(act, q: Array, mu: Array, fns, values: Array) -> None:
    """Raise GradsimError where ``values`` disagree with the finer rule or are not finite."""
    fine = _expect_flat(act, q, mu, fns, fine=True)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (np.abs(fine - values) <= _CHECK_RTOL * np.abs(fine) + 1e-250)
    if not ok.all():
        i = int(np.flatnonzero(~ok.all(axis=0))[0])
        raise _not_converging(act, float(q[i]))


def expect(act: Activation, q, mu=0.0, kind: str = "phi2") -> Array:
    """E[g(μ + √q z)] for z ~ N(0, 1), g named by ``kind`` (see ``INTEGRANDS``): ``phi2``
    E[φ²], ``dphi2`` E[φ'²], ``slope`` q·dE[φ²]/dq, ``phi`` E[φ]. Arrays broadcast.

    >>> float(expect(ACTIVATIONS["relu"], 2.0))   # E[relu(√2 z)²] = 2/2
    1.0
    """
    q, mu = np.broadcast_arrays(np.asarray(q, float), np.asarray(mu, float))
    fns = (INTEGRANDS[kind],)
    qf, mf = q.ravel().copy(), mu.ravel().copy()
    out = _expect_flat(act, qf, mf, fns)
    _check(act, qf, mf, fns, out)
    return out[0].reshape(q.shape)


# ---------------------------------------------------------------- length map and q*


def _check_sigma(name: str, v) -> Array:
    a = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        bad = a[~(np.isfinite(a) & (a >= 0))].ravel()[0]
        raise GradsimError(f"{name} must be a finite number ≥ 0 (got {bad:g})")
    return a


def length_map(act: Activation, q, sigma_w, sigma_b, mu_b=0.0) -> Array:
    """One step of the length map: σ_w² E[φ(μ_b + √q z)²] + σ_b²."""
    sw, sb = _check_sigma("sigma_w", sigma_w), _check_sigma("sigma_b", sigma_b)
    return sw**2 * expect(act, q, mu_b, "phi2") + sb**2


def _G(act, q, s2w, s2b, mu):
    """F(q) − q, its derivative in ln q, and F(q) (arrays of the active entries)."""
    m2, sl = _expect_flat(act, q, mu, (_phi2, _slope))
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
            raise _not_converging(self.act, float(q[~np.isfinite(G)][0]))
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
        step = np.where(np.isfinite(newton) & ((newton > 0) == up), np.abs(newton), _LN10)
        step = np.clip(step, 1e-3, _LN10)
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
            step[i] = np.maximum(2 * step[i], _LN10)

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


def _q_star_flat(act, s2w: Array, s2b: Array, mu: Array, q1: Array) -> Array:
    """The fixed point of the length map reached from q1: (N,) with 0 and inf allowed.

    In t = ln q: a Newton step from q1, then steps of 1, 2, 4, … decades in the direction
    of F(q1) − q1 until the sign of G = F(q) − q changes; then Newton inside the bracket,
    bisecting whenever Newton would leave it. Converged when |G| ≤ 1e-10 q."""
    root = _LengthRoot(act, s2w, s2b, mu, q1.size)
    root.bracket(*root.start(q1))
    root.refine()
    return root.qs


def _flat_args(*arrays):
    b = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    return b[0].shape, [x.ravel().copy() for x in b]


def q_star(act: Activation, sigma_w, sigma_b, mu_b=0.0, q0: float = 1.0) -> Array:
    """The fixed point q* of the length map, reached from q^1 = σ_w² q0 + σ_b² (q0 = E[x²]):
    0 where the signal dies out (σ_b = 0), inf where the length diverges (beyond 1e200)."""
    sw, sb = _check_sigma("sigma_w", sigma_w), _check_sigma("sigma_b", sigma_b)
    shape, (sw, sb, mu) = _flat_args(sw, sb, mu_b)
    s2w, s2b = sw**2, sb**2
    return _q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b).reshape(shape)


# ---------------------------------------------------------------- correlation map (Mehler)


def _hermite_coeffs(act, q: Array, mu: Array, K: int) -> Array:
    """b_k = E[φ(μ + √q z) He_k(z)]/√k!, k = 0..K: (N, K+1), by the fine composite rule."""
    out = np.empty((q.size, K + 1))
    # enough nodes per panel for He_K's oscillations (zeros π/√K apart near z = 0)
    rule = {32: _GL_COARSE, 64: (leggauss(16), 12), 128: (leggauss(24), 14)}.get(
        K, (leggauss(32), 14)
    )
    with np.errstate(all="ignore"):
        for s in range(0, q.size, 256):
            qc, mc = q[s : s + 256], mu[s : s + 256]
            z, w = _composite(qc, mc, rule)
            H, _ = _phi_dphi(act, mc[:, None] + np.sqrt(qc)[:, None] * z)
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
    z1, w1 = _composite(q, mu, _GL_COARSE)  # (N, n): split at φ's kink in z₁
    with np.errstate(all="ignore"):
        H1, D1 = _phi_dphi(act, mu[:, None] + np.sqrt(q)[:, None] * z1)
    M = mu[:, None] + (np.sqrt(q) * c)[:, None] * z1
    V = np.broadcast_to((q * (1.0 - c * c))[:, None], M.shape)
    psi, psi_d = _expect_flat(act, V.ravel().copy(), M.ravel().copy(), (_phi, _dphi))
    return ((w1 * H1 * psi.reshape(M.shape)).sum(axis=1),
            (w1 * D1 * psi_d.reshape(M.shape)).sum(axis=1))  # fmt: skip


def _correlation_fixed_point(act, q, mu, s2w, s2b, m2, d2, rtol) -> tuple[Array, Array]:
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
                raise _not_converging(act, float(q[j][~np.isfinite(c_new)][0]),
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
            raise _not_converging(act, float(q[todo][bad][0]), "the correlation map")
        c_star[todo], chi_c[todo] = c, s2w[todo] * _cov_2d(act, q[todo], mu[todo], c)[1]
    return c_star, chi_c


def correlation_map(act: Activation, c, q, sigma_w, sigma_b, mu_b=0.0) -> Array:
    """One step of the correlation map at variance q: (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q_next,
    u₁, u₂ ~ N(μ_b, q) with correlation c ∈ [−1, 1], q_next = σ_w² E[φ(u)²] + σ_b²
    (the 2-D integral, not Mehler's series)."""
    sw, sb = _check_sigma("sigma_w", sigma_w), _check_sigma("sigma_b", sigma_b)
    shape, (c, q, sw, sb, mu) = _flat_args(c, q, sw, sb, mu_b)
    if np.any(np.abs(c) > 1):
        raise GradsimError("a correlation c must lie in [−1, 1]")
    cov = sw**2 * _cov_2d(act, q, mu, c)[0] + sb**2
    return (cov / (sw**2 * _expect_flat(act, q, mu, (_phi2,))[0] + sb**2)).reshape(shape)


# ---------------------------------------------------------------- the mean field


@dataclass(frozen=True)
class MeanField:
    """Fixed-point quantities of the mean field, arrays broadcast over (σ_w, σ_b, μ_b).

    ``q_star`` is 0 where the signal dies out and inf where the length diverges (then
    ``chi1`` is the limit at large q, and the correlation quantities are NaN). ``chi_q`` is
    the slope of the length map at q*, ``c_star`` the stable fixed point of the correlation
    map, ``chi_c`` its slope there; ``xi_q``, ``xi_c`` are inf where the slope is ≥ 1.
    """

    sigma_w: Array
    sigma_b: Array
    mu_b: Array
    q_star: Array
    chi1: Array
    chi_q: Array
    xi_q: Array
    c_star: Array
    chi_c: Array
    xi_c: Array
    phase: Array  # "ordered" | "critical" | "chaotic" (strings)


def _depth_scale(chi: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where(chi < 1.0 - 1e-12, -1.0 / np.log(chi), np.inf)
    return np.where(np.isnan(chi), np.nan, xi)


def phase_of(chi1) -> Array:
    """'ordered', 'critical' (|χ₁ − 1| ≤ CRITICAL_TOL) or 'chaotic', per entry."""
    chi1 = np.asarray(chi1, dtype=float)
    return np.where(np.abs(chi1 - 1.0) <= CRITICAL_TOL, "critical",
                    np.where(chi1 < 1.0, "ordered", "chaotic"))  # fmt: skip


def mean_field(act: Activation, sigma_w, sigma_b, mu_b=0.0, q0: float = 1.0,
               rtol: float = 1e-7) -> MeanField:  # fmt: skip
    """q*, χ₁, χ_q, ξ_q, c*, χ_c, ξ_c and the phase at every (σ_w, σ_b, μ_b) (broadcast).
    ``rtol``: the accuracy asked of χ_c (a phase diagram needs less than a single point).

    >>> mf = mean_field(ACTIVATIONS["relu"], 2**0.5, 0.0)
    >>> float(mf.chi1), str(mf.phase)
    (1.0, 'critical')
    """
    sw, sb = _check_sigma("sigma_w", sigma_w), _check_sigma("sigma_b", sigma_b)
    shape, (sw, sb, mu) = _flat_args(sw, sb, mu_b)
    s2w, s2b = sw**2, sb**2
    qs = _q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b)
    # χ's at q* = 0 or ∞ are the limits, taken at Q_MIN and Q_MAX
    qe = np.clip(qs, Q_MIN, Q_MAX)
    fns = (_phi2, _dphi2, _slope)
    m2, d2, sl = E = _expect_flat(act, qe, mu, fns)
    _check(act, qe, mu, fns, E)
    chi1 = s2w * d2
    chi_q = np.where(np.isinf(qs), np.nan, s2w * sl / qe)
    finite = np.isfinite(qs)
    c_star = np.where(finite, 1.0, np.nan)
    chi_c = np.where(finite, chi1, np.nan)
    chaotic = finite & (qs > 0) & (chi1 > 1.0 + 1e-9)
    if chaotic.any():
        i = np.flatnonzero(chaotic)
        c_star[i], chi_c[i] = _correlation_fixed_point(
            act, qs[i], mu[i], s2w[i], s2b[i], m2[i], d2[i], rtol
        )

    def r(a):
        return a.reshape(shape)

    return MeanField(
        sigma_w=r(sw), sigma_b=r(sb), mu_b=r(mu), q_star=r(qs), chi1=r(chi1), chi_q=r(chi_q),
        xi_q=r(_depth_scale(chi_q)), c_star=r(c_star), chi_c=r(chi_c),
        xi_c=r(_depth_scale(chi_c)), phase=r(phase_of(chi1)),
    )  # fmt: skip


def _chi1(act, sw: Array, s2b: Array, mu: Array, q0: float) -> Array:
    s2w = sw**2
    qs = _q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b)
    return s2w * _expect_flat(act, np.clip(qs, Q_MIN, Q_MAX), mu, (_dphi2,))[0]


def critical_sigma_w(act: Activation, sigma_b, mu_b=0.0, q0: float = 1.0,
                     hi: float = 1e3) -> Array:  # fmt: skip
    """The σ_w where χ₁ = 1 for each σ_b (broadcast with μ_b); NaN where χ₁ stays below 1
    up to σ_w = ``hi``. The bracket doubles from [0, 1]; then Illinois' regula falsi
    (vectorized, superlinear) on χ₁(σ_w) − 1 to 1e-12."""
    sb = _check_sigma("sigma_b", sigma_b)
    shape, (sb, mu) = _flat_args(sb, mu_b)
    s2b, N = sb**2, sb.size
    a, b = np.zeros(N), np.ones(N)
    fa = np.full(N, -1.0)  # χ₁ = 0 at σ_w = 0
    fb = _chi1(act, b, s2b, mu, q0) - 1.0
    while True:
        grow = (fb < 0) & (b < hi)
        if not grow.any():
            break
        a[grow], fa[grow] = b[grow], fb[grow]
        b[grow] *= 2
        fb[grow] = _chi1(act, b[grow], s2b[grow], mu[grow], q0) - 1.0
    out = np.full(N, np.nan)
    active = fb >= 0
    out[active & (fb == 0)] = b[active & (fb == 0)]
    active &= fb != 0
    side = np.zeros(N, dtype=int)
    for _ in range(200):
        i = np.flatnonzero(active)
        if i.size == 0:
            break
        x = (a[i] * fb[i] - b[i] * fa[i]) / (fb[i] - fa[i])
        fx = _chi1(act, x, s2b[i], mu[i], q0) - 1.0
        left = np.sign(fx) == np.sign(fa[i])
        # Illinois: halve the kept end's value when the same end is kept twice
        ib, ia = i[left], i[~left]
        a[ib], fa[ib] = x[left], fx[left]
        fb[ib] = np.where(side[ib] == -1, fb[ib] / 2, fb[ib])
        side[ib] = -1
        b[ia], fb[ia] = x[~left], fx[~left]
        fa[ia] = np.where(side[ia] == 1, fa[ia] / 2, fa[ia])
        side[ia] = 1
        conv = (np.abs(fx) <= 1e-12) | (b[i] - a[i] <= 1e-12 * b[i])
        out[i[conv]] = x[conv]
        active[i[conv]] = False
    return out.reshape(shape)


# ---------------------------------------------------------------- layer by layer


def _log_expect(act, ln_q: float, mu: float, fns) -> Array:
    """ln E[f] for each f at q = e^ln_q, continued beyond Q_MAX as the power law through
    Q_MAX·1e-20 and Q_MAX (exact for relu, leaky_relu and linear; for every unbounded
    registered φ, φ(λu)/λ settles to a fixed piecewise-linear shape as λ grows)."""
    with np.errstate(divide="ignore"):
        if ln_q <= math.log(Q_MAX):
            q = math.exp(ln_q)
            return np.log(_expect_flat(act, np.array([q]), np.array([mu]), fns)[:, 0])
        two = _expect_flat(act, np.array([Q_MAX * 1e-20, Q_MAX]), np.array([mu, mu]), fns)
        lo, hi = np.log(two[:, 0]), np.log(two[:, 1])
    slope = (hi - lo) / (20 * _LN10)
    return hi + slope * (ln_q - math.log(Q_MAX))


@dataclass(frozen=True)
class Profile:
    """The mean-field prediction layer by layer (arrays of length L, index l−1 = layer l).

    ``log10_q``: log10 of q^l, the variance of a unit of Z_l; ``log10_act``: ½ log10 E[H_l²]
    (the RMS of the activations); ``log10_delta``: ½ log10 E[δ_l²] (the RMS of δ_l);
    ``chi``: σ_w,l² E[φ'(u_l)²], the factor δ² picks up at layer l (equal widths).
    """

    log10_q: Array
    log10_act: Array
    log10_delta: Array
    chi: Array

    @property
    def q(self) -> Array:
        with np.errstate(over="ignore"):
            return 10.0**self.log10_q


def _per_layer(name: str, v, L: int) -> Array:
    a = np.broadcast_to(np.asarray(v, dtype=float), (L,)).copy()
    if name != "mu_b":
        _check_sigma(name, a)
    elif not np.all(np.isfinite(a)):
        raise GradsimError("mu_b must be a finite number")
    return a


def profile(act: Activation, sigma_w, sigma_b, mu_b=0.0, *, depth: int | None = None,
            widths=None, q0: float = 1.0, loss=None, batch: int = 1) -> Profile:  # fmt: skip
    """q^l, the activation and the δ RMS at every layer of an L-layer net, from q^0 = ``q0``
    (= E[x²], 1 for N(0, 1) inputs). σ_w, σ_b, μ_b: numbers or one per layer.

    δ starts at the output from the loss (a ``Loss`` record: E[(∂E/∂H_L)²] given H_L and
    the batch B; None: the probe loss, ∂E/∂H_L ~ N(0, 1)) and is carried input-ward by
    E[δ_l²] = E[δ_{l+1}²] · σ_w,l+1² (n_{l+1}/n_l) · E[φ'(u_l)²], each layer at its own q^l
    (Schoenholz et al. 2017, with the gradient-independence assumption).
    """
    if widths is not None:
        widths = np.asarray(widths, dtype=float)
        depth = len(widths) - 1
    if depth is None or depth < 1:
        raise GradsimError("the depth must be at least 1")
    L = int(depth)
    n = widths if widths is not None else np.ones(L + 1)
    sw, sb, mu = (_per_layer(k, v, L) for k, v in
                  (("sigma_w", sigma_w), ("sigma_b", sigma_b), ("mu_b", mu_b)))  # fmt: skip
    uniform = bool(np.all(sw == sw[0]) and np.all(sb == sb[0]) and np.all(mu == mu[0]))
    ln_q, ln_a, ln_d = np.empty(L), np.empty(L), np.empty(L)
    with np.errstate(divide="ignore"):
        ln_sw2, ln_sb2 = np.log(sw**2), np.log(sb**2)
    ln_h = math.log(q0) if q0 > 0 else -math.inf  # ln E[H_{l-1}²]
    for l in range(L):
        with np.errstate(invalid="ignore"):  # inf − inf after a divergent E[φ²]: checked below
            ln_q[l] = np.logaddexp(ln_sw2[l] + ln_h, ln_sb2[l])
        if (
            uniform
            and l >= 2
            and (ln_q[l] == ln_q[l - 1] or abs(ln_q[l] - ln_q[l - 1]) <= 1e-13 * abs(ln_q[l]))
        ):
            ln_q[l:], ln_a[l:], ln_d[l:] = ln_q[l - 1], ln_a[l - 1], ln_d[l - 1]  # q*: done
            break
        ln_a[l], ln_d[l] = _log_expect(act, ln_q[l], mu[l], (_phi2, _dphi2))
        ln_h = ln_a[l]
    # check the quadrature at every distinct q the network met (within the direct range)
    direct = np.isfinite(ln_q) & (ln_q <= math.log(Q_MAX))
    qs, idx = np.unique(np.exp(ln_q[direct]), return_index=True)
    if qs.size:
        _check(
            act,
            qs,
            mu[direct][idx],
            (_phi2, _dphi2),
            np.exp(np.stack([ln_a[direct][idx], ln_d[direct][idx]])),
        )
    # δ, from the output layer down
    lossf = (loss.mean_sq_grad if loss is not None else None) or (lambda H, B: np.ones_like(H))

    def start(z, H, D):
        return lossf(H, batch) * D * D

    ln_delta = np.empty(L)
    ln_delta[-1] = _log_expect(act, ln_q[-1], mu[-1], (start,))[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_n = np.log(n)
        for l in range(L - 2, -1, -1):
            ln_delta[l] = ln_delta[l + 1] + ln_sw2[l + 1] + ln_n[l + 2] - ln_n[l + 1] + ln_d[l]
        chi = np.exp(ln_sw2 + ln_d)
    return Profile(log10_q=ln_q / _LN10, log10_act=ln_a / (2 * _LN10),
                   log10_delta=ln_delta / (2 * _LN10), chi=chi)  # fmt: skip


# ---------------------------------------------------------------- from a gradsim network


def beta(widths) -> float:
    """β = Σ 1/n_l over the hidden layers n_1 … n_{L−1}: finite-width fluctuations of a
    single network around the mean field grow like e^{cβ} (Hanin 2018)."""
    n = np.asarray(widths, dtype=float)
    return float(np.sum(1.0 / n[1:-1]))


@dataclass(frozen=True)
class LayerParams:
    """σ_w,l = std(W_l)·√fan_in, σ_b,l and μ_b,l (biases' std and mean), per layer (L,)."""

    sigma_w: Array
    sigma_b: Array
    mu_b: Array

    @property
    def uniform(self) -> bool:
        """Every layer has the same (σ_w, σ_b, μ_b): q*, χ₁ and the phase are defined."""
        return all(bool(np.all(a == a[0])) for a in (self.sigma_w, self.sigma_b, self.mu_b))


def layer_params(cfg: RunConfig) -> LayerParams:
    """The mean-field parameters of the network ``cfg`` describes: Var W_l = σ_w,l²/fan_in
    from the initializer record's ``std`` (so σ_w = γ√2 for he_normal, γ for lecun and for
    square orthogonal, γ√(2n_in/(n_in+n_out)) for xavier), the biases' from the bias rule.
    A GradsimError for weights mean-field theory does not describe (not random, or with a
    nonzero mean)."""
    init = INITIALIZERS[cfg.init]
    n, p = cfg.layer_widths, cfg.init_params
    if cfg.residual or cfg.norm:
        part = " and ".join(x for x in ("--residual" * cfg.residual, cfg.norm and "--norm") if x)
        raise GradsimError(f"mean-field theory here describes plain MLPs; {part} is outside it")
    if init.data_driven:
        raise GradsimError(f"mean-field theory has no σ_w for {cfg.init}: its weights are "
                           "rescaled on a batch of data, not drawn with a known "
                           "variance")  # fmt: skip
    if init.std is None:
        raise GradsimError(f"mean-field theory needs random weights; {cfg.init} weights are "
                           "deterministic (no variance to map to σ_w)")  # fmt: skip
    sw, sb, mb = (np.empty(cfg.depth) for _ in range(3))
    for l in range(cfg.depth):
        fi, fo = n[l], n[l + 1]
        mean = init.mean(fi, fo, p)
        if mean != 0:
            raise GradsimError(f"mean-field theory needs zero-mean weights; {cfg.init} weights "
                               f"have mean {mean:g}")  # fmt: skip
        sw[l] = init.std(fi, fo, p) * math.sqrt(fi)
        mb[l], sb[l] = bias_moments(cfg.resolved_bias_init, fi, cfg)
    return LayerParams(sw, sb, mb)


def activation_of(cfg: RunConfig) -> Activation:
    return ACTIVATIONS[cfg.activation].with_param(cfg.slope)


@dataclass(frozen=True)
class RunPrediction:
    """Everything mean-field theory says about the network of one RunConfig."""

    params: LayerParams
    profile: Profile
    field: MeanField | None  # at the layers' common (σ_w, σ_b, μ_b); None if they differ
    critical_sigma_w: float | None  # for the common σ_b, μ_b
    beta: float
    loss: str
    # share of E[δ_L²] that comes from the output H_L itself (mse's H_L − T): that part is
    # not independent of the weights, which the δ prediction assumes
    output_share: float


def predict_run(cfg: RunConfig) -> RunPrediction:
    """The mean-field prediction for ``gradsim run`` of ``cfg``: raises GradsimError before
    any simulation when the network is outside the theory (see ``layer_params``)."""
    act = activation_of(cfg)
    lp = layer_params(cfg)
    prof = profile(act, lp.sigma_w, lp.sigma_b, lp.mu_b, widths=cfg.layer_widths,
                   loss=LOSSES[cfg.loss], batch=cfg.batch)  # fmt: skip
    field = crit = None
    if lp.uniform:
        field = mean_field(act, lp.sigma_w[0], lp.sigma_b[0], lp.mu_b[0])
        c = float(critical_sigma_w(act, lp.sigma_b[0], lp.mu_b[0]))
        crit = c if math.isfinite(c) else None
    g, B = LOSSES[cfg.loss].mean_sq_grad, cfg.batch
    ln_full, ln_target = _log_expect(
        act, prof.log10_q[-1] * _LN10, lp.mu_b[-1],
        (lambda z, H, D: g(H, B) * D * D, lambda z, H, D: g(0.0 * H, B) * D * D))  # fmt: skip
    with np.errstate(invalid="ignore"):
        share = float(-np.expm1(ln_target - ln_full)) if np.isfinite(ln_full) else 0.0
    return RunPrediction(lp, prof, field, crit, beta(cfg.layer_widths), cfg.loss,
                         max(share, 0.0) if math.isfinite(share) else 0.0)  # fmt: skip


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _pow(x: float | None) -> str:
    """10^x as people read it: 10^-23, 0.03, 450 ('—' for None)."""
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "0" if x < 0 else "∞"
    return f"{10**x:.3g}" if -2 <= x <= 3 else f"10^{x:.0f}"


def field_summary(field: MeanField) -> dict:
    """The scalar fixed-point quantities of a one-point MeanField, JSON-ready (null for
    non-finite; ``q_star_infinite`` tells ∞ from undefined)."""
    return {
        "q_star": _num(field.q_star), "q_star_infinite": bool(np.isinf(field.q_star)),
        "chi1": _num(field.chi1), "chi_q": _num(field.chi_q), "xi_q": _num(field.xi_q),
        "c_star": _num(field.c_star), "chi_c": _num(field.chi_c), "xi_c": _num(field.xi_c),
        "phase": str(field.phase),
    }  # fmt: skip


def compare_run(measured_act: Array, measured_delta: Array, pred: RunPrediction) -> dict:
    """Per-layer predictions beside the measurement (log10 RMS of H_l and δ_l, l = 1…L) and
    how far apart they are, JSON-ready: {"layers": [{"log10_act_pred",
    "log10_delta_pred"}, ...], "summary": {..., "sentences": [...]}}."""
    prof, lp = pred.profile, pred.params
    L = len(prof.log10_act)

    def dev(meas, pr):
        with np.errstate(invalid="ignore"):  # both −∞: exactly zero, measured and predicted
            d = np.abs(np.asarray(meas, float) - pr)
        d = d[np.isfinite(d)]
        return (float(d.max()), float(d.mean())) if d.size else (None, None)

    a_max, a_mean = dev(measured_act, prof.log10_act)
    d_max, d_mean = dev(measured_delta, prof.log10_delta)
    s = {"sigma_w": None, "sigma_b": None, "bias_mean": None}
    if lp.uniform:
        s = {"sigma_w": float(lp.sigma_w[0]), "sigma_b": float(lp.sigma_b[0]),
             "bias_mean": float(lp.mu_b[0])}  # fmt: skip
    s |= field_summary(pred.field) if pred.field is not None else dict.fromkeys(
        ("q_star", "q_star_infinite", "chi1", "chi_q", "xi_q", "c_star", "chi_c", "xi_c",
         "phase"))  # fmt: skip
    s["critical_sigma_w"] = pred.critical_sigma_w
    s["beta"] = pred.beta
    with np.errstate(invalid="ignore"):  # −∞ − (−∞) where σ_w = 0
        ratio = float(prof.log10_delta[0] - prof.log10_delta[-1]) if L > 1 else 0.0
    s |= {
        "log10_delta_ratio_pred": _num(ratio),
        "log10_act_ratio_pred": _num(prof.log10_act[-1]),  # the input's RMS is 1
        "log10_delta_dev_max": d_max, "log10_delta_dev_mean": d_mean,
        "log10_act_dev_max": a_max, "log10_act_dev_mean": a_mean,
        "output_share": pred.output_share,
        "finite_width_warning": pred.beta > BETA_WARN,
    }  # fmt: skip
    s["sentences"] = _sentences(s, pred.loss)
    layers = [{"log10_act_pred": _num(a), "log10_delta_pred": _num(d)}
              for a, d in zip(prof.log10_act, prof.log10_delta, strict=True)]  # fmt: skip
    return {"layers": layers, "summary": s}


def _sentences(s: dict, loss: str) -> list[str]:
    out = []
    if s["chi1"] is not None:
        q = "∞ (the length diverges)" if s["q_star_infinite"] else f"{s['q_star']:.3g}"
        out.append(
            f"Mean field (σ_w = {s['sigma_w']:.3g}, σ_b = {s['sigma_b']:.3g}): q* = {q}, "
            f"χ₁ = {s['chi1']:.4g}, {s['phase']}: δ should change ×{math.sqrt(s['chi1']):.3g} "
            f"per layer; predicted δ ratio (layer 1 / L) {_pow(s['log10_delta_ratio_pred'])}."
        )
    else:
        out.append(
            "Mean field: the layers differ in σ_w or σ_b (unequal widths), so each "
            "layer is predicted with its own; q*, χ₁ and the phase are not defined."
        )
    if s["log10_delta_dev_max"] is not None:
        act = s["log10_act_dev_max"]
        act = f", the activations within {act:.2f}" if act is not None else ""
        out.append(
            f"Measured vs predicted: δ within {s['log10_delta_dev_max']:.2f} decades at every "
            f"layer ({s['log10_delta_dev_mean']:.2f} on average){act}."
        )
    if s["output_share"] > 0.1:
        out.append(
            f"Caveat: {s['output_share']:.0%} of δ_L² comes from the output H_L itself ({loss} "
            "loss), which is not independent of the weights as the prediction assumes: toward "
            "the input δ can exceed it (see gradsim spectrum); --loss probe compares cleanly."
        )
    if s["finite_width_warning"]:
        out.append(
            f"Finite width: β = Σ 1/n_l = {s['beta']:.2f} > {BETA_WARN}: a single network this "
            "deep for its width strays from the mean-field curve by factors that compound "
            "with depth (Hanin 2018); widen the layers or average seeds before reading the gap."
        )
    return out


# ---------------------------------------------------------------- phase diagram


@dataclass(frozen=True)
class PhaseGrid:
    """The mean field over a grid: rows σ_b² (ny,), columns σ_w² (nx,); the critical line
    χ₁ = 1 as σ_w² (``line_sigma_w2``, NaN where there is none) at ``line_sigma_b2``."""

    activation: str
    sigma_w2: Array
    sigma_b2: Array
    field: MeanField  # arrays (ny, nx)
    line_sigma_b2: Array
    line_sigma_w2: Array


def phase_grid(act: Activation, sigma_w2, sigma_b2, line_sigma_b2=None,
               mu_b: float = 0.0) -> PhaseGrid:  # fmt: skip
    """Schoenholz et al. (2017), fig. 1: the mean field at every (σ_w², σ_b²), ξ_c to about
    1e-4 of χ_c (a picture's accuracy), and the critical line at ``line_sigma_b2`` (default:
    the grid's σ_b²)."""
    sw2 = _check_sigma("sigma_w²", sigma_w2).ravel()
    sb2 = _check_sigma("sigma_b²", sigma_b2).ravel()
    line = sb2 if line_sigma_b2 is None else _check_sigma("sigma_b²", line_sigma_b2).ravel()
    SW, SB = np.meshgrid(np.sqrt(sw2), np.sqrt(sb2))
    field = mean_field(act, SW, SB, mu_b, rtol=1e-4)
    crit = critical_sigma_w(act, np.sqrt(line), mu_b) ** 2
    return PhaseGrid(act.name, sw2, sb2, field, line, crit)


def initializer_points(width: int, act: Activation | None = None) -> list[dict]:
    """Where each registered initializer (at gain 1, square layers of ``width``) sits on the
    (σ_w², σ_b²) plane, grouped when they coincide: [{"names", "sigma_w2", "sigma_b2"}].
    Initializers outside the theory (deterministic, nonzero-mean) are left out; with ``act``,
    the variance-preserving ones (σ_w = 1) appear once more at the activation's gain."""
    groups: dict[tuple, list[str]] = {}
    for name in INITIALIZERS:
        try:
            lp = layer_params(RunConfig(init=name, width=width, depth=1))
        except GradsimError:
            continue
        key = (round(float(lp.sigma_w[0]) ** 2, 9), round(float(lp.sigma_b[0]) ** 2, 12))
        groups.setdefault(key, []).append(name)
    points = [{"names": names, "sigma_w2": k[0], "sigma_b2": k[1]}
              for k, names in groups.items()]  # fmt: skip
    gain_key = (round(act.gain**2, 9), 0.0) if act is not None else None
    if gain_key and (1.0, 0.0) in groups and gain_key not in groups:
        points.append({"names": [f"σ_w = {act.name}'s gain {act.gain:.3g}"],
                       "sigma_w2": act.gain**2, "sigma_b2": 0.0})  # fmt: skip
    return points


# where each kind of gradsim JSON keeps its runs (each with "config" and "summary")
_RUNS_OF = {
    "run": lambda d: [d],
    "compare": lambda d: d.get("runs") or [],
    "sweep-records": lambda d: d.get("records") or [],  # gradsim export DIR --format json
}


def overlay_points(result: dict) -> list[dict]:
    """The runs of a gradsim run, compare or sweep-records JSON as points of the phase
    plane: [{"label", "activation", "sigma_w2", "sigma_b2", "verdict",
    "growth_per_layer"}]; runs outside the theory, or with unequal layers, are skipped."""
    kind = result.get("kind") if isinstance(result, dict) else None
    if kind not in _RUNS_OF or "gradsim" not in result:
        raise GradsimError(
            "--overlay takes a gradsim run, compare or sweep-records result (`gradsim export "
            f"DIR --format json`), not {'kind ' + repr(kind) if kind else 'this JSON'}"
        )
    out = []
    for r in _RUNS_OF[kind](result):
        try:
            cfg = RunConfig.from_dict(r["config"])
            lp = layer_params(cfg)
        except (GradsimError, KeyError, TypeError, AttributeError):
            continue
        if not lp.uniform:
            continue
        s = r.get("summary") or {}
        out.append({
            "label": f"{cfg.init}" + (f" γ={cfg.gain:g}" if cfg.gain != 1 else ""),
            "activation": cfg.activation, "sigma_w2": float(lp.sigma_w[0]) ** 2,
            "sigma_b2": float(lp.sigma_b[0]) ** 2, "verdict": s.get("verdict"),
            "growth_per_layer": s.get("growth_per_layer"),
        })  # fmt: skip
    return out


# ---------------------------------------------------------------- Jacobian spectrum


@dataclass(frozen=True)
class Spectrum:
    """Singular values s of the input–output Jacobian J = ∂H_L/∂H_0 at each input, kept as
    log10 (exact beyond float64): ``log10_s`` (inputs, min(n_0, n_L)), largest first.
    λ = s² are the eigenvalues of JJᵀ (Pennington et al. 2017)."""

    log10_s: Array

    @property
    def _lam(self) -> tuple[Array, float]:
        top = float(np.max(self.log10_s))
        return 10.0 ** (2 * (self.log10_s - top)), 2 * top  # λ / 10^scale, scale

    @property
    def log10_mean_sq(self) -> float:
        """log10 E[λ] = log10 of the mean squared singular value (over inputs and values)."""
        lam, scale = self._lam
        return float(np.log10(lam.mean()) + scale)

    @property
    def spread(self) -> float:
        """Var λ / (E λ)²: 0 for dynamical isometry, L for a deep linear Gaussian net."""
        lam, _ = self._lam
        return float(lam.var() / lam.mean() ** 2)


def jacobian_spectrum(net: Network, act: Activation) -> Spectrum:
    """The singular values of J = D_L W_Lᵀ ⋯ D_1 W_1ᵀ (D_l = diag φ'(Z_l)) at every input
    row of ``net.X``, in float64. Carried forward as M_l = (M_{l−1} W_l) ∘ φ'(Z_l) from
    M_0 = I (rows are tangent vectors, one per input coordinate), renormalized every layer
    so that nothing over- or underflows; cost L·n³ per input."""
    X = np.asarray(net.X, dtype=np.float64)
    k, n0 = X.shape
    H = X[:, None, :]  # (k, 1, n_0)
    M = np.broadcast_to(np.eye(n0), (k, n0, n0)).copy()
    scale = np.zeros(k)
    with np.errstate(all="ignore"):
        for W, b in zip(net.W, net.b, strict=True):
            W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
            Z = H @ W + b  # (k, 1, n_l)
            H, D = _phi_dphi(act, Z)
            M = (M @ W) * D  # (k, n_0, n_l)
            r = np.sqrt(np.mean(M * M, axis=(1, 2)))
            ok = (r > 0) & np.isfinite(r)
            M[ok] /= r[ok, None, None]
            scale[ok] += np.log10(r[ok])
        s = np.linalg.svd(M, compute_uv=False)  # (k, min(n_0, n_L)), descending
        # below the SVD's rounding (numpy's matrix_rank tolerance) a singular value is 0:
        # relu's D_l zero whole directions, and their computed s are noise
        s[s <= s[:, :1] * max(M.shape[1:]) * np.finfo(np.float64).eps] = 0.0
        log10_s = np.log10(s) + scale[:, None]
    if not np.all(np.isfinite(log10_s) | (log10_s == -np.inf)):
        raise GradsimError("the Jacobian is not finite (φ overflowed in the forward pass)")
    return Spectrum(log10_s)


# ---------------------------------------------------------------- JSON forms


def _version() -> str:
    from gradsim._version import __version__

    return __version__


def describe(cfg: RunConfig, sigma_w: float | None = None, sigma_b: float | None = None) -> dict:
    """What ``gradsim theory`` reports, JSON-ready (kind "theory"): the fixed point, depth
    scales and phase, and the prediction layer by layer. σ_w, σ_b given directly, or (None)
    from the initializer and the bias rule of ``cfg`` (``layer_params``); δ starts from
    ``cfg.loss``."""
    act = activation_of(cfg)
    L = cfg.depth
    if sigma_w is not None:
        _check_sigma("--sigma-w", sigma_w)
        lp = LayerParams(np.full(L, float(sigma_w)), np.zeros(L), np.zeros(L))
        widths = None  # σ_w given per unit of fan_in: the widths' ratios do not enter
    else:
        lp = layer_params(cfg)
        widths = cfg.layer_widths
    if sigma_b is not None:
        _check_sigma("--sigma-b", sigma_b)
        lp = LayerParams(lp.sigma_w, np.full(L, float(sigma_b)), np.zeros(L))
    prof = profile(act, lp.sigma_w, lp.sigma_b, lp.mu_b, depth=L, widths=widths,
                   loss=LOSSES[cfg.loss], batch=cfg.batch)  # fmt: skip
    d = {"gradsim": _version(), "kind": "theory", "config": {
        "activation": cfg.activation, "slope": cfg.resolved_slope, "depth": L,
        "widths": list(cfg.layer_widths), "init": None if sigma_w is not None else cfg.init,
        "gain": cfg.gain, "bias_init": None if sigma_b is not None else cfg.resolved_bias_init,
        "loss": cfg.loss, "batch": cfg.batch,
        "sigma_w": float(lp.sigma_w[0]) if lp.uniform else None,
        "sigma_b": float(lp.sigma_b[0]) if lp.uniform else None,
        "bias_mean": float(lp.mu_b[0]) if lp.uniform else None}}  # fmt: skip
    keys = ("q_star", "q_star_infinite", "chi1", "chi_q", "xi_q", "c_star", "chi_c", "xi_c",
            "phase", "critical_sigma_w")  # fmt: skip
    d |= dict.fromkeys(keys)
    if lp.uniform:
        d |= field_summary(mean_field(act, lp.sigma_w[0], lp.sigma_b[0], lp.mu_b[0]))
        d["critical_sigma_w"] = _num(critical_sigma_w(act, lp.sigma_b[0], lp.mu_b[0]))
    d["beta"] = beta(cfg.layer_widths)
    with np.errstate(invalid="ignore"):  # −∞ − (−∞) where σ_w = 0
        d["log10_delta_ratio_pred"] = _num(prof.log10_delta[0] - prof.log10_delta[-1])
    d["log10_act_ratio_pred"] = _num(prof.log10_act[-1])
    d["layers"] = [
        {"layer": l + 1, "sigma_w": float(lp.sigma_w[l]), "sigma_b": float(lp.sigma_b[l]),
         "q": _num(prof.q[l]), "log10_q": _num(prof.log10_q[l]),
         "log10_act_pred": _num(prof.log10_act[l]),
         "log10_delta_pred": _num(prof.log10_delta[l]), "chi": _num(prof.chi[l])}
        for l in range(L)
    ]  # fmt: skip
    return d


def phase_dict(grid: PhaseGrid, points: list[dict], overlay: list[dict], width: int) -> dict:
    """The JSON form of a phase diagram (kind "phase"), which ``plots_theory.plot_phase``
    draws: ξ_c and χ₁ as rows over σ_b², columns over σ_w² (null where undefined or ∞;
    ``q_star_infinite`` marks where the length diverges)."""
    f = grid.field

    def rows(a):
        return [[_num(x) for x in row] for row in np.asarray(a, float)]

    return {
        "gradsim": _version(), "kind": "phase", "activation": grid.activation,
        "width": width, "sigma_w2": grid.sigma_w2.tolist(), "sigma_b2": grid.sigma_b2.tolist(),
        "chi1": rows(f.chi1), "xi_c": rows(f.xi_c),
        "q_star_infinite": np.isinf(f.q_star).tolist(),
        "critical_line": {"sigma_b2": grid.line_sigma_b2.tolist(),
                          "sigma_w2": [_num(x) for x in grid.line_sigma_w2]},
        "initializers": points, "overlay": overlay,
    }  # fmt: skip


def spectrum_dict(cfg: RunConfig, spec: Spectrum, lp: LayerParams | None) -> dict:
    """The JSON form of a Jacobian spectrum (kind "spectrum"): ``singular_values`` per input
    (largest first; null beyond float64), ``mean_sq`` = E[λ], λ = s², ``spread`` =
    Var λ/(E λ)², the extremes, and the mean-field E[λ] = (n_L/min(n_0, n_L)) Π_l σ_w,l²
    (n_l/n_{l−1}) E[φ'(u_l)²] when the weights are in the theory (``lp``)."""
    ls = spec.log10_s
    top, bottom = float(np.max(ls)), float(np.min(ls))
    n = cfg.layer_widths
    pred = None
    if lp is not None:
        prof = profile(activation_of(cfg), lp.sigma_w, lp.sigma_b, lp.mu_b, widths=n)
        with np.errstate(divide="ignore"):
            pred = float(np.sum(np.log10(prof.chi)) + math.log10(n[-1] / min(n[0], n[-1])))
    with np.errstate(over="ignore"):
        sv = [[_num(10.0**x) for x in row] for row in ls]
    lm = spec.log10_mean_sq
    cond = top - bottom
    d = {
        "gradsim": _version(), "kind": "spectrum", "config": cfg.to_dict(),
        "inputs": int(ls.shape[0]), "singular_values": sv,
        "mean_sq": _num(10.0**lm) if lm < 308 else None, "log10_mean_sq": _num(lm),
        "spread": _num(spec.spread),
        "max": _num(10.0**top) if top < 308 else None, "log10_max": _num(top),
        "min": 0.0 if bottom == -np.inf else _num(10.0**bottom) if bottom > -308 else None,
        "log10_min": _num(bottom),
        "log10_condition": _num(cond),
        "log10_mean_sq_pred": _num(pred) if pred is not None else None,
    }  # fmt: skip
    out = [
        f"Spread Var λ/(E λ)² = {spec.spread:.3g} over {ls.size} singular values at "
        f"{ls.shape[0]} input{'s' if ls.shape[0] > 1 else ''}; s_max/s_min = {_pow(cond)}: "
        + ("they concentrate, close to dynamical isometry (Pennington et al. 2017)."
           if spec.spread <= 0.25 and cond <= 1 else
           "far from isometry: the input–output map stretches some directions much more "
           "than others.")
    ]  # fmt: skip
    if pred is not None:
        out.append(f"Mean field: E[λ] = Π χ_l = {_pow(pred)} (measured {_pow(lm)}); the "
                   "spread is beyond mean-field theory's first moment.")  # fmt: skip
    d["sentences"] = out
    return d
