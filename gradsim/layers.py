"""Batch and layer normalization, forward and exact backward, shared by the statistics pass
(``gradsim.arch``), LSUV and training (``gradsim.train``).

Both normalize U to zero mean and unit variance along one axis, with no affine part (the
layer's bias b_l, added after the normalization, plays the role of β; γ is 1):

* batch: per unit, over the B samples of the batch (axis 0), as BatchNorm in training mode;
* layer: per sample, over the n units of the layer (axis 1), as LayerNorm.

N(U) = (U − μ)/s with s = √(Var U + ε), the biased variance and ε = 1e-5 (PyTorch's default).
Its backward, with Y = N(U) and dY = ∂E/∂Y, is exact for any ε:

    ∂E/∂U = (dY − mean(dY) − Y · mean(dY ∘ Y)) / s        (means along the same axis)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

EPS = 1e-5
AXIS = {"batch": 0, "layer": 1}


def normalize(U: Array, kind: str, eps: float = EPS) -> tuple[Array, Array]:
    """(Y, 1/s): Y = (U − μ)/s along ``kind``'s axis; 1/s keeps the reduced axis (length 1)
    so that it broadcasts against U. Computed in U's dtype."""
    axis = AXIS[kind]
    mu = U.mean(axis=axis, keepdims=True)
    C = U - mu
    var = np.mean(C * C, axis=axis, keepdims=True)
    inv = 1.0 / np.sqrt(var + np.asarray(eps, dtype=U.dtype))
    C *= inv
    return C, inv


def normalize_backward(dY: Array, Y: Array, inv: Array, kind: str) -> Array:
    """∂E/∂U from ∂E/∂Y, the normalized Y and the 1/s that ``normalize`` returned."""
    axis = AXIS[kind]
    m1 = dY.mean(axis=axis, keepdims=True)
    m2 = np.mean(dY * Y, axis=axis, keepdims=True)
    return (dY - m1 - Y * m2) * inv


@dataclass(frozen=True)
class Block:
    """What layer l does after U_l = H_{l-1} W_l: ``norm`` ("batch", "layer" or None), then
    + b_l, then ``fn`` (φ; None: linear), then ``alpha`` (H_l = H_{l-1} + α·φ(Z_l); None:
    H_l = φ(Z_l))."""

    norm: str | None = None
    fn: Callable[[Array], Array] | None = None
    alpha: float | None = None


def pre_activation(
    H: Array, W: Array, b: Array, blk: Block
) -> tuple[Array, Array | None, Array | None]:
    """(Z, Y, 1/s) of one layer: Z = N(H W) + b, with Y = N(H W) (None without a norm)."""
    U = H @ W
    if blk.norm is None:
        return U + b, None, None
    Y, inv = normalize(U, blk.norm)
    return Y + b, Y, inv


def block_output(H: Array, Z: Array, blk: Block) -> tuple[Array, Array]:
    """(A, H_l): A = φ(Z) and the layer's output."""
    A = blk.fn(Z) if blk.fn is not None else Z
    return A, (H + blk.alpha * A if blk.alpha is not None else A)
