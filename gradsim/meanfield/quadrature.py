"""Expectations over z ~ N(0, 1) of the activation record's own ``fn`` and ``grad``, so
every registered activation works without a closed form.

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
q · d/dq E[g(μ + √q z)] = E[g(μ + √q z)(z² − 1)]/2 (the ``slope`` integrand).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from gradsim.activations import Activation
from gradsim.errors import GradsimError

Array = np.ndarray

Z_MAX = 10.0  # the composite rule integrates over |z| ≤ 10 (N(0, 1) mass beyond: 1.5e-23)

_GH_RTOL = 1e-10  # Gauss–Hermite 48 vs 64 nodes: agreement that counts as converged
_CHECK_RTOL = 1e-7  # the final values against the finer composite rule
_CHUNK = 1024  # (σ_w, σ_b) points per vectorized quadrature, to bound memory


# ---------------------------------------------------------------- integrands
# f(z, H, D) with H = φ(u), D = φ'(u) at u = μ + √q z; each returns an array like H.


def phi2(z, H, D):
    """φ(u)²: the integrand of E[φ(u)²]."""
    return H * H


def dphi2(z, H, D):
    """φ'(u)²: the integrand of E[φ'(u)²]."""
    return D * D


def slope(z, H, D):
    """φ(u)²(z² − 1)/2: the integrand of q · d/dq E[φ(u)²]."""
    # q · d/dq E[φ(u)²] by Stein's lemma: E[φ(u)²(z² − 1)]/2 (no φ'' needed)
    return 0.5 * H * H * (z * z - 1.0)


def phi(z, H, D):
    """φ(u): the integrand of E[φ(u)]."""
    return H


def dphi(z, H, D):
    """φ'(u): the integrand of E[φ'(u)]."""
    return D


INTEGRANDS: dict[str, Callable] = {
    "phi2": phi2,  # E[φ(u)²]
    "dphi2": dphi2,  # E[φ'(u)²]
    "slope": slope,  # q · d/dq E[φ(u)²]
    "phi": phi,  # E[φ(u)]
}


# ---------------------------------------------------------------- quadrature rules


def _gh(n: int) -> tuple[Array, Array]:
    x, w = hermegauss(n)
    return x, w / math.sqrt(2.0 * math.pi)  # weights of the N(0, 1) density


_GH_RULES = (_gh(64), _gh(48))
# (Gauss–Legendre nodes per panel, panels graded around u = 0 on each side)
GL_COARSE, _GL_FINE = (leggauss(8), 10), (leggauss(12), 14)
# fixed panels for the Gaussian weight itself: unit width where it matters, wider in the tails
_FIXED = np.array([-10, -7, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 7, 10], dtype=float)
_GH_QMAX = 1.0  # above this q, Gauss–Hermite is not even tried (smooth φ need q ≲ 1)


def composite(q: Array, mu: Array, rule) -> tuple[Array, Array]:
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


def phi_dphi(act: Activation, U: Array) -> tuple[Array, Array]:
    """φ(U) and φ'(U) in float64, from the activation record (φ' = 1 where it has no grad)."""
    H = np.asarray(act.fn(U), dtype=np.float64)
    D = act.grad(U, H)
    D = np.ones_like(U) if D is None else np.asarray(D, dtype=np.float64)
    return H, D


def _integrate(act, z, w, q, mu, fns) -> tuple[Array, Array]:
    """Σ w·f and Σ w·|f| over the nodes, per entry: two arrays (len(fns), N)."""
    U = mu[:, None] + np.sqrt(q)[:, None] * z
    H, D = phi_dphi(act, U)
    Z = np.broadcast_to(z, U.shape)
    vals = [f(Z, H, D) * w for f in fns]
    return (np.stack([v.sum(axis=-1) for v in vals]),
            np.stack([np.abs(v).sum(axis=-1) for v in vals]))  # fmt: skip


def expect_flat(act, q: Array, mu: Array, fns, fine: bool = False) -> Array:
    """E[f(z, φ(u), φ'(u))], u = μ + √q z, for each f: (len(fns), N). q, mu: (N,) float."""
    out = np.empty((len(fns), q.size))
    with np.errstate(all="ignore"):
        for s in range(0, q.size, _CHUNK):
            qc, mc = q[s : s + _CHUNK], mu[s : s + _CHUNK]
            if fine:
                z, w = composite(qc, mc, _GL_FINE)
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
                z, w = composite(qc[bad], mc[bad], GL_COARSE)
                e[:, bad] = _integrate(act, z, w, qc[bad], mc[bad], fns)[0]
            out[:, s : s + _CHUNK] = e
    return out


def not_converging(act: Activation, q: float, what: str = "") -> GradsimError:
    """The GradsimError for an expectation of φ that does not converge at q."""
    extra = f" ({what})" if what else ""
    return GradsimError(
        f"the expectation of φ does not converge for {act.name} at q = {q:.3g}{extra}: "
        "mean-field theory needs E[φ(u)²] and E[φ'(u)²] to be finite and smooth enough"
    )


def check(act, q: Array, mu: Array, fns, values: Array) -> None:
    """Raise GradsimError where ``values`` disagree with the finer rule or are not finite."""
    fine = expect_flat(act, q, mu, fns, fine=True)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (np.abs(fine - values) <= _CHECK_RTOL * np.abs(fine) + 1e-250)
    if not ok.all():
        i = int(np.flatnonzero(~ok.all(axis=0))[0])
        raise not_converging(act, float(q[i]))


def expect(act: Activation, q, mu=0.0, kind: str = "phi2") -> Array:
    """E[g(μ + √q z)] for z ~ N(0, 1), g named by ``kind`` (see ``INTEGRANDS``): ``phi2``
    E[φ²], ``dphi2`` E[φ'²], ``slope`` q·dE[φ²]/dq, ``phi`` E[φ]. Arrays broadcast.

    >>> from gradsim.activations import ACTIVATIONS
    >>> float(expect(ACTIVATIONS["relu"], 2.0))   # E[relu(√2 z)²] = 2/2
    1.0
    """
    q, mu = np.broadcast_arrays(np.asarray(q, float), np.asarray(mu, float))
    fns = (INTEGRANDS[kind],)
    qf, mf = q.ravel().copy(), mu.ravel().copy()
    out = expect_flat(act, qf, mf, fns)
    check(act, qf, mf, fns, out)
    return out[0].reshape(q.shape)
