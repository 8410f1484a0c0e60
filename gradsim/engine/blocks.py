"""The blocks a network is made of, forward and backward on stacks of K runs.

Layer l (DESIGN.md's network, with two optional parts), on arrays of shape (K, B, n):

    U_l = H_{l-1} W_l
    Z_l = N(U_l) + b_l        with a normalization N (batch or layer), else Z_l = U_l + b_l
    A_l = φ(Z_l)              (φ = identity for a linear read-out)
    H_l = H_{l-1} + α·A_l     with a skip connection of weight α, else H_l = A_l

Backward, with G_l = ∂E/∂H_l:

    δ_l = ∂E/∂Z_l = α·G_l ∘ φ'(Z_l)  (α = 1 without a skip)
    ∂E/∂U_l = N'ᵀ δ_l (``normalize_backward``) or δ_l;  ∂E/∂W_l = H_{l-1}ᵀ ∂E/∂U_l;
    ∂E/∂b_l = Σ_batch δ_l;  G_{l-1} = (G_l if skip else 0) + ∂E/∂U_l W_lᵀ

Normalization has no affine part (b_l plays β, γ is 1). N(U) = (U − μ)/s with
s = √(Var U + ε), the biased variance and ε = 1e-5 (PyTorch's default), along the batch
(per unit, as BatchNorm in training mode) or along the units (per sample, as LayerNorm).
Batch norm in evaluation mode uses given (μ, σ²) instead of the batch's (``moments``: the
running statistics a trainer keeps), a fixed affine map of U.
Its backward, with Y = N(U) and dY = ∂E/∂Y, is exact for any ε:

    ∂E/∂U = (dY − mean(dY) − Y · mean(dY ∘ Y)) / s        (means along the same axis)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradsim.activations import Activation
from gradsim.engine.numerics import Precision

Array = np.ndarray

EPS = 1e-5
# the axis a normalization reduces, counted from the end so that (B, n) and (K, B, n) agree
AXIS = {"batch": -2, "layer": -1}


@dataclass(frozen=True)
class Block:
    """What layer l does after U_l = H_{l-1} W_l: ``norm`` ("batch", "layer" or None), then
    + b_l, then ``act`` (φ; None: linear), then ``alpha`` (H_l = H_{l-1} + α·φ(Z_l); None:
    H_l = φ(Z_l))."""

    act: Activation | None = None
    norm: str | None = None
    alpha: float | None = None

    @property
    def homogeneous(self) -> bool:
        """φ(cz) = c·φ(z) for c > 0, and nothing in the block breaks it (a normalization
        does): with zero biases, a forward signal can be carried rescaled."""
        return (self.act is None or self.act.homogeneous) and self.norm is None


def norm_moments(U: Array, kind: str, work: Array | None = None) -> tuple[Array, Array]:
    """(μ, σ²) of U along ``kind``'s axis (kept, of length 1), σ² the biased variance, as
    ``normalize`` computes them (``work``, of U's shape, holds the squares if given)."""
    axis = AXIS[kind]
    mu = U.mean(axis=axis, keepdims=True)
    C = U - mu
    return mu, np.multiply(C, C, out=work).mean(axis=axis, keepdims=True)


def normalize(
    U: Array, kind: str, eps: float = EPS, work: Array | None = None,
    moments: tuple[Array, Array] | None = None,
) -> tuple[Array, Array]:  # fmt: skip
    """(Y, 1/s): Y = (U − μ)/s along ``kind``'s axis; 1/s keeps the reduced axis (length 1)
    so that it broadcasts against U. Computed in U's dtype, into a new array (``work``, of
    U's shape, holds the squares if given). ``moments``: (μ, σ²) to use instead of U's own
    (batch norm in evaluation mode; they broadcast against U)."""
    if moments is None:
        axis = AXIS[kind]
        mu = U.mean(axis=axis, keepdims=True)
        C = U - mu
        var = np.multiply(C, C, out=work).mean(axis=axis, keepdims=True)
    else:
        mu, var = (np.asarray(m, dtype=U.dtype) for m in moments)
        C = U - mu
    inv = 1.0 / np.sqrt(var + np.asarray(eps, dtype=U.dtype))
    C *= inv
    return C, inv


def normalize_backward(
    dY: Array, Y: Array, inv: Array, kind: str, out: Array | None = None,
    work: Array | None = None,
) -> Array:  # fmt: skip
    """∂E/∂U = (dY − mean(dY) − Y · mean(dY ∘ Y)) / s from ∂E/∂Y, the normalized Y and the
    1/s that ``normalize`` returned; into ``out`` (a new array if None), with ``work`` (of
    dY's shape) for the products if given. Neither may be dY or Y."""
    axis = AXIS[kind]
    m1 = dY.mean(axis=axis, keepdims=True)
    t = np.multiply(dY, Y, out=work)
    m2 = t.mean(axis=axis, keepdims=True)
    out = np.subtract(dY, m1, out=out)
    out -= np.multiply(Y, m2, out=t)
    out *= inv
    return out


def derivative(act: Activation | None, Z: Array, A: Array, p: Precision) -> Array | None:
    """φ'(Z) as the backward pass multiplies by it: None for a linear φ, a boolean mask as
    it is, anything else in the compute dtype with the storage rounding."""
    D = act.grad(Z, A) if act is not None else None
    if D is not None and D.dtype != np.bool_:
        D = p.round(D.astype(p.compute, copy=False))
    return D


def pre_activation(
    blk: Block, U: Array, b: Array | None, p: Precision, work: Array | None = None,
    moments: tuple[Array, Array] | None = None,
) -> tuple[Array, Array | None, Array | None]:  # fmt: skip
    """(Z, Y, 1/s) from U = H W (overwritten where Z can take its place): Z = N(U) + b, with
    Y = N(U) kept apart for the backward pass (None without a normalization); b broadcasts
    against U (None: no bias). ``work``: scratch of U's shape for the normalization;
    ``moments``: the normalization's (μ, σ²) if not U's own (``normalize``)."""
    if blk.norm is None:
        if b is not None:
            U += b
        return p.round(U), None, None
    Y, inv = normalize(p.round(U), blk.norm, work=work, moments=moments)
    if b is not None:
        Z = np.add(Y, b, out=U)
    elif p.half:  # float16's rounding of Z in place must not reach the kept Y
        np.copyto(U, Y)
        Z = U
    else:
        Z = Y
    return p.round(Z), Y, inv


def activate(blk: Block, Z: Array, into: Array | None, p: Precision) -> Array:
    """A = φ(Z), written into ``into`` where φ can (``fn_into``), else a new array."""
    if blk.act is None:
        return Z
    if blk.act.fn_into is not None and into is not None:
        return p.round(blk.act.fn_into(Z, into))
    return p.round(blk.act.fn(Z))


def skip(blk: Block, H: Array, A: Array, into: Array | None, p: Precision) -> Array:
    """H_l = H_{l-1} + α·A (into ``into`` if given), or A without a skip connection."""
    if blk.alpha is None:
        return A
    out = np.multiply(A, np.asarray(blk.alpha, dtype=A.dtype), out=into)
    out += H
    return p.round(out)


def delta_of(
    blk: Block, G: Array, D: Array | None, p: Precision, out: Array | None = None
) -> Array:
    """δ = α·G ∘ φ'(Z) of a block with a skip connection, into ``out`` (a new array if None;
    G is kept: it flows on through the skip)."""
    if D is not None:
        delta = np.multiply(G, D, out=out)
    elif out is None:
        delta = G.copy()
    else:
        np.copyto(out, G)
        delta = out
    delta *= np.asarray(blk.alpha, dtype=delta.dtype)
    return p.round(delta)


def through_norm(
    blk: Block, delta: Array, Y: Array | None, inv: Array | None, p: Precision,
    out: Array | None = None, work: Array | None = None,
) -> Array:  # fmt: skip
    """∂E/∂U from δ = ∂E/∂Z: the normalization's backward (into ``out``, with ``work``), or
    δ itself."""
    if blk.norm is None:
        return delta
    return p.round(normalize_backward(delta, Y, inv, blk.norm, out, work))
