"""Activation functions, each beside its derivative, in one registry: ``ACTIVATIONS``.

Every record carries φ, φ', the recommended initializer gain and the formulas that
``gradsim list`` and the README show. Adding an activation means adding one record here;
the CLI choices, the listing and the parametrized tests all read this dict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradsim.errors import unknown_name

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """One activation φ with its derivative.

    ``fn(Z)`` returns H = φ(Z); ``grad(Z, H)`` returns φ'(Z) (given H = φ(Z) too, so the
    derivative can reuse it), or ``None`` when φ' ≡ 1. Both take and return arrays of any
    shape, elementwise.
    """

    name: str
    fn: Callable[[Array], Array]
    grad: Callable[[Array, Array], Array | None]
    gain: float  # recommended initializer gain (see gain_source)
    formula: str
    derivative: str
    gain_source: str
    # φ(cz) = c·φ(z) for c > 0: with zero biases the forward pass can be tracked exactly
    # in rescaled form, so magnitudes beyond the dtype's range stay known.
    homogeneous: bool = False
    # mask of entries of H within 1% of φ's range from a flat asymptote (None: no flat tail)
    saturated: Callable[[Array], Array] | None = None
    param: str | None = None  # name of the one shape parameter, if any
    value: float | None = None  # its value
    factory: Callable[[float], Activation] | None = None  # rebuild with another value
    # fn_into(Z, out) writes φ(Z) into out without allocating (None: use fn)
    fn_into: Callable[[Array, Array], Array] | None = None
    # which of the frameworks' forms this is, where they have several (GELU's)
    note: str = ""

    def with_param(self, value: float | None) -> Activation:
        """This activation with its parameter set to ``value`` (unchanged if None)."""
        if value is None or self.factory is None:
            return self
        return self.factory(value)


def _sigmoid(Z: Array) -> Array:
    # split by sign so that exp never overflows
    out = np.empty_like(Z)
    pos = Z >= 0
    e = np.exp(-Z[pos])
    out[pos] = 1.0 / (1.0 + e)
    e = np.exp(Z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _softplus(Z: Array) -> Array:
    # log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact for large |z|
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


@functools.cache
def _hermite_nodes(n: int = 80) -> tuple[Array, Array]:
    return np.polynomial.hermite_e.hermegauss(n)


def _second_moment_gain(fn: Callable[[Array], Array]) -> float:
    """1/√E[φ(z)²] for z ~ N(0, 1): the gain that keeps the second moment at unit input."""
    x, w = _hermite_nodes()
    return float(1.0 / math.sqrt(np.dot(w, fn(x) ** 2) / math.sqrt(2 * math.pi)))


def _zeros_like(Z: Array, _cache: dict = {}) -> Array:  # noqa: B006 (a cache)
    """A read-only array of +0.0 shaped like Z: NumPy's maximum of two arrays runs about 3×
    faster than against a scalar 0 (its SIMD loop; the same numbers)."""
    key = (Z.size, Z.dtype.str)
    zeros = _cache.get(key)  # (one lookup: another thread may clear the cache in between)
    if zeros is None:
        _cache.clear() if len(_cache) > 16 else None
        zeros = np.zeros(Z.size, dtype=Z.dtype)
        zeros.flags.writeable = False
        _cache[key] = zeros
    return zeros.reshape(Z.shape)


def _tanh_grad(Z: Array, H: Array) -> Array:
    """1 − H² in one new array (the numbers of ``1.0 - H * H``; a scalar for a scalar)."""
    D = np.multiply(H, H)
    if not isinstance(D, np.ndarray):  # (a scalar has no buffer to write into)
        return 1.0 - D
    return np.subtract(1.0, D, out=D)


def _tail_mask(lo: float, hi: float) -> Callable[[Array], Array]:
    span = 0.01 * (hi - lo)

    def mask(H: Array) -> Array:
        out = H <= lo + span
        out |= H >= hi - span
        return out

    return mask


def _leaky_relu(a: float) -> Activation:
    return Activation(
        name="leaky_relu",
        fn=lambda Z: np.where(Z > 0, Z, a * Z),
        grad=lambda Z, H: np.where(Z > 0, 1.0, a).astype(Z.dtype),
        gain=math.sqrt(2.0 / (1.0 + a * a)),
        formula="max(z, a·z)",
        derivative="1 if z > 0 else a",
        gain_source="√(2/(1+a²)), He et al. 2015",
        homogeneous=True,
        param="slope",
        value=a,
        factory=_leaky_relu,
    )


def _elu(alpha: float) -> Activation:
    return Activation(
        name="elu",
        fn=lambda Z: np.where(Z > 0, Z, alpha * np.expm1(np.minimum(Z, 0))),
        grad=lambda Z, H: np.where(Z > 0, 1.0, H + alpha).astype(Z.dtype),
        gain=_second_moment_gain(lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))),
        formula="z if z > 0 else α(eᶻ − 1)",
        derivative="1 if z > 0 else φ(z) + α",
        gain_source="1/√E[φ(z)²]",
    )


# SELU constants from Klambauer et al. 2017 (self-normalizing networks)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946


def _selu_fn(Z: Array) -> Array:
    return _SELU_LAMBDA * np.where(Z > 0, Z, _SELU_ALPHA * np.expm1(np.minimum(Z, 0)))


# GELU (Hendrycks & Gimpel 2016) in both of the frameworks' forms: ``gelu`` the exact
# z·Φ(z), PyTorch's default nn.GELU(); ``gelu_tanh`` the tanh approximation of GPT-2 and
# BERT, nn.GELU(approximate='tanh'). Over 50 He-initialized layers they drift apart by about
# 0.01 decades, so a comparison with a framework needs the same form.
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _ndtr(Z: Array) -> Array:
    """Φ(Z) = ½(1 + erf(Z/√2)) in Z's dtype. SciPy's ndtr takes erf near 0 and ½erfc(|z|/√2)
    in the tails, in double precision: Φ keeps its relative accuracy where it is tiny
    (Φ(−10) ≈ 7.6e-24), where ½(1 + erf) would cancel to 0, and Z/√2 is not rounded to
    float32 first (a relative error z² times float32's in the tails). SciPy is imported
    here, when a GELU runs, so that importing gradsim stays fast."""
    from scipy.special import ndtr

    return np.asarray(ndtr(Z)).astype(Z.dtype, copy=False)


def _gelu_fn(Z: Array) -> Array:
    """φ(z) = z·Φ(z) = ½z(1 + erf(z/√2)), Φ the standard normal CDF."""
    return Z * _ndtr(Z)


def _gelu_grad(Z: Array, H: Array) -> Array:
    """φ'(z) = Φ(z) + z·ϕ(z), ϕ(z) = e^(−z²/2)/√(2π) the standard normal density (ϕ
    underflows to 0 for large |z|, so that φ' → 0 and 1 without inf·0)."""
    pdf = np.exp(np.multiply(Z, Z, dtype=Z.dtype) * np.asarray(-0.5, Z.dtype))
    pdf *= np.asarray(1.0 / _SQRT_2PI, Z.dtype)
    pdf *= Z
    pdf += _ndtr(Z)
    return pdf


def _gelu_nodes(x: Array) -> Array:
    """φ of the exact GELU on float64 quadrature nodes through math.erfc (its gain is taken
    at import, which must not import SciPy)."""
    return x * np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x.tolist()])


_GELU_C = math.sqrt(2.0 / math.pi)


def _gelu_tanh_fn(Z: Array) -> Array:
    """φ(z) = ½z(1 + tanh(√(2/π)(z + 0.044715z³)))."""
    return 0.5 * Z * (1.0 + np.tanh(_GELU_C * (Z + 0.044715 * Z**3)))


def _gelu_tanh_grad(Z: Array, H: Array) -> Array:
    """φ'(z) = ½(1 + t) + ½z(1 − t²)·√(2/π)(1 + 3·0.044715z²), t = tanh(√(2/π)(z + 0.044715z³))."""
    t = np.tanh(_GELU_C * (Z + 0.044715 * Z**3))
    return 0.5 * (1.0 + t) + 0.5 * Z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * Z * Z)


def _silu_grad(Z: Array, H: Array) -> Array:
    s = _sigmoid(Z)
    return s * (1.0 + Z * (1.0 - s))


_BASE = [
    Activation(
        name="linear",
        fn=lambda Z: Z,
        grad=lambda Z, H: None,
        gain=1.0,
        formula="z",
        derivative="1",
        gain_source="PyTorch calculate_gain",
        homogeneous=True,
    ),
    Activation(
        name="tanh",
        fn=np.tanh,
        fn_into=lambda Z, out: np.tanh(Z, out=out),
        grad=_tanh_grad,
        gain=5.0 / 3.0,
        formula="tanh z",
        derivative="1 − φ(z)²",
        gain_source="PyTorch calculate_gain",
        saturated=_tail_mask(-1.0, 1.0),
    ),
    Activation(
        name="relu",
        fn=lambda Z: np.maximum(Z, _zeros_like(Z)),
        fn_into=lambda Z, out: np.maximum(Z, _zeros_like(Z), out=out),
        grad=lambda Z, H: Z > 0,
        gain=math.sqrt(2.0),
        formula="max(z, 0)",
        derivative="1 if z > 0 else 0",
        gain_source="He et al. 2015",
        homogeneous=True,
    ),
    Activation(
        name="sigmoid",
        fn=_sigmoid,
        grad=lambda Z, H: H * (1.0 - H),
        gain=1.0,
        formula="1/(1 + e⁻ᶻ)",
        derivative="φ(z)(1 − φ(z))",
        gain_source="PyTorch calculate_gain",
        saturated=_tail_mask(0.0, 1.0),
    ),
    _leaky_relu(0.01),
    _elu(1.0),
    Activation(
        name="selu",
        fn=_selu_fn,
        grad=lambda Z, H: np.where(Z > 0, _SELU_LAMBDA, H + _SELU_LAMBDA * _SELU_ALPHA).astype(
            Z.dtype
        ),
        gain=0.75,
        formula="λ(z if z > 0 else α(eᶻ − 1)), λ≈1.0507, α≈1.6733",
        derivative="λ if z > 0 else φ(z) + λα",
        gain_source="PyTorch calculate_gain (use lecun_normal with gain 1 to self-normalize)",
    ),
    Activation(
        name="gelu",
        fn=_gelu_fn,
        grad=_gelu_grad,
        gain=_second_moment_gain(_gelu_nodes),
        formula="z·Φ(z) = ½z(1 + erf(z/√2))",
        derivative="Φ(z) + z·ϕ(z), ϕ(z) = e^(−z²/2)/√(2π)",
        gain_source="1/√E[φ(z)²]",
        note="exact, erf form (PyTorch default)",
    ),
    Activation(
        name="gelu_tanh",
        fn=_gelu_tanh_fn,
        grad=_gelu_tanh_grad,
        gain=_second_moment_gain(_gelu_tanh_fn),
        formula="½z(1 + tanh(√(2/π)(z + 0.044715z³)))",
        derivative="½(1 + t) + ½z(1 − t²)√(2/π)(1 + 0.134145z²), t = tanh(…)",
        gain_source="1/√E[φ(z)²]",
        note="tanh approximation (PyTorch approximate='tanh')",
    ),
    Activation(
        name="silu",
        fn=lambda Z: Z * _sigmoid(Z),
        grad=_silu_grad,
        gain=_second_moment_gain(lambda z: z * _sigmoid(z)),
        formula="z·σ(z)",
        derivative="σ(z)(1 + z(1 − σ(z)))",
        gain_source="1/√E[φ(z)²]",
    ),
    Activation(
        name="softplus",
        fn=_softplus,
        grad=lambda Z, H: _sigmoid(Z),
        gain=_second_moment_gain(_softplus),
        formula="log(1 + eᶻ)",
        derivative="σ(z)",
        gain_source="1/√E[φ(z)²]",
    ),
]

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in _BASE}
ACTIVATION_ALIASES: dict[str, str] = {"identity": "linear", "swish": "silu", "lrelu": "leaky_relu"}


def canonical_activation(name: str) -> str:
    """The registry name for ``name`` or an alias of it; a GradsimError if unknown."""
    key = name.strip().lower().replace("-", "_")
    key = ACTIVATION_ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise unknown_name("activation", name, [*ACTIVATIONS, *ACTIVATION_ALIASES])
    return key


def get_activation(name: str, param: float | None = None) -> Activation:
    """The activation record for ``name``, with its shape parameter set if given."""
    return ACTIVATIONS[canonical_activation(name)].with_param(param)


__all__ = ["ACTIVATIONS", "Activation", "canonical_activation", "get_activation"]
