"""The mean field at its fixed point: q*, χ₁, χ_q, ξ_q, c*, χ_c, ξ_c and the phase
(Schoenholz et al. 2017), and the critical line χ₁ = 1 as σ_w for each σ_b."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradsim.activations import Activation
from gradsim.meanfield.maps import (
    Q_MAX,
    Q_MIN,
    check_sigma,
    correlation_fixed_point,
    flat_args,
    q_star_flat,
)
from gradsim.meanfield.quadrature import Array, check, dphi2, expect_flat, phi2, slope

CRITICAL_TOL = 0.01  # |χ₁ − 1| ≤ this is "critical": δ changes by less than 1% per layer
PHASES = ("ordered", "critical", "chaotic")


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

    >>> from gradsim.activations import ACTIVATIONS
    >>> mf = mean_field(ACTIVATIONS["relu"], 2**0.5, 0.0)
    >>> float(mf.chi1), str(mf.phase)
    (1.0, 'critical')
    """
    sw, sb = check_sigma("sigma_w", sigma_w), check_sigma("sigma_b", sigma_b)
    shape, (sw, sb, mu) = flat_args(sw, sb, mu_b)
    s2w, s2b = sw**2, sb**2
    qs = q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b)
    # χ's at q* = 0 or ∞ are the limits, taken at Q_MIN and Q_MAX
    qe = np.clip(qs, Q_MIN, Q_MAX)
    fns = (phi2, dphi2, slope)
    m2, d2, sl = E = expect_flat(act, qe, mu, fns)
    check(act, qe, mu, fns, E)
    chi1 = s2w * d2
    chi_q = np.where(np.isinf(qs), np.nan, s2w * sl / qe)
    finite = np.isfinite(qs)
    c_star = np.where(finite, 1.0, np.nan)
    chi_c = np.where(finite, chi1, np.nan)
    chaotic = finite & (qs > 0) & (chi1 > 1.0 + 1e-9)
    if chaotic.any():
        i = np.flatnonzero(chaotic)
        c_star[i], chi_c[i] = correlation_fixed_point(
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
    qs = q_star_flat(act, s2w, s2b, mu, s2w * q0 + s2b)
    return s2w * expect_flat(act, np.clip(qs, Q_MIN, Q_MAX), mu, (dphi2,))[0]


def critical_sigma_w(act: Activation, sigma_b, mu_b=0.0, q0: float = 1.0,
                     hi: float = 1e3) -> Array:  # fmt: skip
    """The σ_w where χ₁ = 1 for each σ_b (broadcast with μ_b); NaN where χ₁ stays below 1
    up to σ_w = ``hi``. The bracket doubles from [0, 1]; then Illinois' regula falsi
    (vectorized, superlinear) on χ₁(σ_w) − 1 to 1e-12."""
    sb = check_sigma("sigma_b", sigma_b)
    shape, (sb, mu) = flat_args(sb, mu_b)
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
