"""Singular values of the input–output Jacobian of one drawn network (Pennington et al. 2017),
measured in float64 and kept as log10."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradsim.activations import Activation
from gradsim.engine import Block, forward
from gradsim.errors import GradsimError
from gradsim.meanfield.quadrature import Array
from gradsim.network import Network, Stack


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


def jacobian_spectrum(net: Network, act: Activation, progress=None) -> Spectrum:
    """The singular values of J = D_L W_Lᵀ ⋯ D_1 W_1ᵀ (D_l = diag φ'(Z_l)) at every input
    row of ``net.X``, in float64. The forward pass is gradsim's own (gradsim.engine), with
    each input a run of one sample and the weights shared; the tangents are carried forward
    as M_l = (M_{l−1} W_l) ∘ φ'(Z_l) from M_0 = I (rows are tangent vectors, one per input
    coordinate), renormalized every layer so that nothing over- or underflows; cost L·n³
    per input; ``progress(1)`` after each layer."""
    X = np.asarray(net.X, dtype=np.float64)
    k, n0 = X.shape
    f64 = [np.asarray(w, np.float64)[None] for w in net.W]  # (1, n_{l-1}, n_l): shared
    stack = Stack(tuple(f64), tuple(np.asarray(b, np.float64)[None] for b in net.b),
                  X[:, None, :], None, tuple(bool(np.any(b)) for b in net.b))  # fmt: skip
    D = forward(stack, [Block(act)] * net.depth, np.float64, keep=None, stats=False).D
    M = np.broadcast_to(np.eye(n0), (k, n0, n0)).copy()
    scale = np.zeros(k)
    with np.errstate(all="ignore"):
        for W, Dl in zip(f64, D, strict=True):
            M = M @ W  # (k, n_0, n_l)
            if Dl is not None:
                M = M * Dl  # φ'(Z_l) of each input: (k, 1, n_l)
            r = np.sqrt(np.mean(M * M, axis=(1, 2)))
            ok = (r > 0) & np.isfinite(r)
            M[ok] /= r[ok, None, None]
            scale[ok] += np.log10(r[ok])
            if progress is not None:
                progress(1)
        if not np.all(np.isfinite(M)):
            raise GradsimError("the Jacobian is not finite (φ overflowed in the forward pass)")
        s = np.linalg.svd(M, compute_uv=False)  # (k, min(n_0, n_L)), descending
        # below the SVD's rounding (numpy's matrix_rank tolerance) a singular value is 0:
        # relu's D_l zero whole directions, and their computed s are noise
        s[s <= s[:, :1] * max(M.shape[1:]) * np.finfo(np.float64).eps] = 0.0
        log10_s = np.log10(s) + scale[:, None]
    if not np.all(np.isfinite(log10_s) | (log10_s == -np.inf)):
        raise GradsimError("the Jacobian is not finite (φ overflowed in the forward pass)")
    return Spectrum(log10_s)
