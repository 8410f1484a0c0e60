"""Weight initializers in one registry: ``INITIALIZERS`` (+ ``INIT_ALIASES``).

Each record draws a (fan_in, fan_out) float64 matrix from a ``numpy.random.Generator`` and
states its formula, the standard deviation its entries should have and, for bounded
distributions, their bound. The variance-scaling family (Glorot/Xavier, He/Kaiming, LeCun)
are parameter settings of one factory, as in Keras' VarianceScaling:
Var W = γ² · scale / fan, fan chosen by ``mode``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradsim.errors import unknown_name

Array = np.ndarray

# std of N(0,1) truncated to [-2, 2]: dividing σ by it keeps the variance after truncation
# (the constant Keras' VarianceScaling uses).
TRUNC_STD = 0.87962566103423978
MODES = ("fan_in", "fan_out", "fan_avg")


@dataclass(frozen=True)
class InitParams:
    """The options that shape a draw; defaults match the CLI's."""

    gain: float = 1.0  # γ, multiplies the initializer's own scale
    mode: str | None = None  # fan_in | fan_out | fan_avg; None = the initializer's default
    std: float = 1.0  # normal / truncated_normal: the textbook N(0, 1)
    low: float = -1.0  # uniform: U(low, high)
    high: float = 1.0
    value: float = 0.1  # constant
    truncated: bool = False  # draw normals truncated at ±2σ, variance kept


@dataclass(frozen=True)
class Initializer:
    """One initializer.

    ``draw(fan_in, fan_out, rng, p)`` returns W of shape (fan_in, fan_out) in float64.
    ``std(fan_in, fan_out, p)`` is the standard deviation of its entries (None where it is
    not a distribution's), ``bound(...)`` the largest |w| it can draw (None: unbounded),
    ``mean(...)`` the entries' mean.
    """

    name: str
    draw: Callable[[int, int, np.random.Generator, InitParams], Array]
    formula: str
    std: Callable[[int, int, InitParams], float] | None
    bound: Callable[[int, int, InitParams], float] | None = None
    mean: Callable[[int, int, InitParams], float] = lambda fi, fo, p: 0.0
    default_mode: str | None = None  # set: the record honours --mode
    options: tuple[str, ...] = ()  # the InitParams it reads besides gain and mode (--std …)
    bias: str = "zeros"  # the bias rule it implies when --bias-init is not given
    source: str = ""
    # the draw is only a start: build_network then rescales the weights on a batch of data
    # (gradsim.lsuv); std is None, since the final scale depends on the data
    data_driven: bool = False
    # where ``draw`` is one call scaled, (method, args, factor): draw gives exactly
    # factor · rng.method(*args) (the records' draw is made from it). Runs that share a seed
    # and the call (every gain, every normal variance-scaling init) can share one draw.
    scaled: Callable[[int, int, InitParams], tuple[str, tuple, float] | None] | None = None


def scaled_draw(call: tuple[str, tuple, float], rng: np.random.Generator) -> Array:
    """factor · rng.method(*args) for call = (method, args, factor)."""
    method, args, factor = call
    return factor * getattr(rng, method)(*args)


def _fan(fan_in: int, fan_out: int, mode: str) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def _draw_from(scaled: Callable, otherwise: Callable | None = None) -> Callable:
    """An initializer's draw made from its ``scaled`` call (so the two cannot drift), and
    ``otherwise(fi, fo, rng, p)`` where there is none (truncated normals)."""

    def draw(fi, fo, rng, p):
        call = scaled(fi, fo, p)
        return scaled_draw(call, rng) if call is not None else otherwise(fi, fo, rng, p)

    return draw


def _truncated_normal(rng: np.random.Generator, shape, std: float) -> Array:
    """N(0, σ'²) truncated at ±2σ', σ' = std/TRUNC_STD, so the variance stays std² (a
    negative std flips the sign)."""
    sigma = std / TRUNC_STD
    out = rng.standard_normal(size=shape)
    bad = np.abs(out) > 2
    while bad.any():  # redraw the tails (about 4.6% each round)
        out[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) > 2
    return out * sigma


def _variance_scaling(
    name: str, scale: float, mode: str, dist: str, formula: str, source: str
) -> Initializer:
    def std(fi, fo, p):
        return abs(p.gain) * math.sqrt(scale / _fan(fi, fo, p.mode or mode))

    def scaled(fi, fo, p):
        s = math.copysign(std(fi, fo, p), p.gain)
        if dist == "uniform":
            return "uniform", (-1.0, 1.0, (fi, fo)), math.sqrt(3.0) * s
        return None if p.truncated else ("standard_normal", ((fi, fo),), s)

    draw = _draw_from(scaled, lambda fi, fo, rng, p: _truncated_normal(
        rng, (fi, fo), math.copysign(std(fi, fo, p), p.gain)))  # fmt: skip

    def bound(fi, fo, p):
        if dist == "uniform":
            return math.sqrt(3.0) * std(fi, fo, p)
        return 2.0 * std(fi, fo, p) / TRUNC_STD if p.truncated else None

    return Initializer(name, draw, formula, std, bound, default_mode=mode, source=source,
                       scaled=scaled,
                       options=("truncated",) if dist == "normal" else ())  # fmt: skip


def _orthogonal_draw(fi, fo, rng, p):
    # QR of a Gaussian matrix with the signs of R's diagonal folded into Q, which makes Q
    # Haar-distributed (Mezzadri 2007); the tall orientation handles non-square shapes.
    rows, cols = max(fi, fo), min(fi, fo)
    A = rng.standard_normal((rows, cols))
    Q, R = np.linalg.qr(A)
    Q *= np.where(np.diag(R) < 0, -1.0, 1.0)
    Q = Q if fi >= fo else Q.T
    return p.gain * Q


def _const(c: Callable[[InitParams], float], name: str, formula: str,
           options: tuple[str, ...] = ()) -> Initializer:  # fmt: skip
    return Initializer(
        name,
        lambda fi, fo, rng, p: np.full((fi, fo), c(p)),
        formula,
        std=lambda fi, fo, p: 0.0,
        bound=lambda fi, fo, p: abs(c(p)),
        mean=lambda fi, fo, p: c(p),
        source="all weights equal: symmetry is never broken",
        options=options,
    )


def _torch_bound(fi, fo, p):
    return abs(p.gain) / math.sqrt(fi)


def _normal_call(fi, fo, p):
    return None if p.truncated else ("standard_normal", ((fi, fo),), p.gain * p.std)


def _torch_call(fi, fo, p):
    return "uniform", (-1.0, 1.0, (fi, fo)), p.gain / math.sqrt(fi)


def _uniform_call(fi, fo, p):
    return "uniform", (float(p.low), float(p.high), (fi, fo)), p.gain


_RECORDS = [
    _const(lambda p: 0.0, "zeros", "0"),
    _const(lambda p: p.gain, "ones", "γ"),
    _const(lambda p: p.gain * p.value, "constant", "γ·value", ("value",)),
    Initializer(
        "normal",
        _draw_from(
            _normal_call, lambda fi, fo, rng, p: _truncated_normal(rng, (fi, fo), p.gain * p.std)
        ),
        "N(0, (γ·std)²), std = 1 by default",
        std=lambda fi, fo, p: abs(p.gain) * p.std,
        bound=lambda fi, fo, p: 2 * abs(p.gain) * p.std / TRUNC_STD if p.truncated else None,
        source="the naive textbook init",
        scaled=_normal_call,
        options=("std", "truncated"),
    ),
    Initializer(
        "truncated_normal",
        lambda fi, fo, rng, p: _truncated_normal(rng, (fi, fo), p.gain * p.std),
        "N(0, σ²) cut at ±2σ, σ = γ·std/0.8796 (variance kept)",
        std=lambda fi, fo, p: abs(p.gain) * p.std,
        bound=lambda fi, fo, p: 2 * abs(p.gain) * p.std / TRUNC_STD,
        options=("std", "truncated"),
    ),
    Initializer(
        "uniform",
        _draw_from(_uniform_call),
        "γ·U(low, high), U(−1, 1) by default",
        std=lambda fi, fo, p: abs(p.gain) * (p.high - p.low) / math.sqrt(12.0),
        bound=lambda fi, fo, p: abs(p.gain) * max(abs(p.low), abs(p.high)),
        mean=lambda fi, fo, p: p.gain * (p.low + p.high) / 2,
        scaled=_uniform_call,
        options=("low", "high"),
    ),
    _variance_scaling(
        "xavier_uniform",
        1.0,
        "fan_avg",
        "uniform",
        "U(±γ√(6/(fan_in+fan_out)))",
        "Glorot & Bengio 2010",
    ),
    _variance_scaling(
        "xavier_normal",
        1.0,
        "fan_avg",
        "normal",
        "N(0, γ²·2/(fan_in+fan_out))",
        "Glorot & Bengio 2010",
    ),
    _variance_scaling("he_normal", 2.0, "fan_in", "normal", "N(0, γ²·2/fan_in)", "He et al. 2015"),
    _variance_scaling("he_uniform", 2.0, "fan_in", "uniform", "U(±γ√(6/fan_in))", "He et al. 2015"),
    _variance_scaling(
        "lecun_normal", 1.0, "fan_in", "normal", "N(0, γ²/fan_in)", "LeCun et al. 1998"
    ),
    _variance_scaling(
        "lecun_uniform", 1.0, "fan_in", "uniform", "U(±γ√(3/fan_in))", "LeCun et al. 1998"
    ),
    Initializer(
        "orthogonal",
        _orthogonal_draw,
        "γ·Q, Q orthonormal (QR of a Gaussian, signs fixed)",
        std=lambda fi, fo, p: abs(p.gain) / math.sqrt(max(fi, fo)),
        source="Saxe et al. 2013",
    ),
    Initializer(
        "lsuv",
        lambda fi, fo, rng, p: _orthogonal_draw(fi, fo, rng, InitParams()),
        "orthogonal, then W_l rescaled on a batch until Var Z_l = γ² (±1%)",
        std=None,
        source="Mishkin & Matas 2015",
        data_driven=True,
    ),
    Initializer(
        "identity",
        lambda fi, fo, rng, p: p.gain * np.eye(fi, fo),
        "γ·I (rectangular: ones on the diagonal)",
        std=None,
        bound=lambda fi, fo, p: abs(p.gain),
        source="Le et al. 2015",
    ),
    Initializer(
        "torch_default",
        _draw_from(_torch_call),
        "U(±γ/√fan_in), biases U(±1/√fan_in)",
        std=lambda fi, fo, p: _torch_bound(fi, fo, p) / math.sqrt(3.0),
        bound=_torch_bound,
        bias="uniform",
        source="PyTorch nn.Linear",
        scaled=_torch_call,
    ),
    Initializer(
        "keras_default",
        lambda fi, fo, rng, p: INITIALIZERS["xavier_uniform"].draw(fi, fo, rng, p),
        "glorot_uniform weights, zero biases",
        std=lambda fi, fo, p: INITIALIZERS["xavier_uniform"].std(fi, fo, p),
        bound=lambda fi, fo, p: INITIALIZERS["xavier_uniform"].bound(fi, fo, p),
        default_mode="fan_avg",
        source="Keras Dense",
        scaled=lambda fi, fo, p: INITIALIZERS["xavier_uniform"].scaled(fi, fo, p),
    ),
]

INITIALIZERS: dict[str, Initializer] = {r.name: r for r in _RECORDS}
INIT_ALIASES: dict[str, str] = {
    "xavier": "xavier_uniform",
    "glorot": "xavier_uniform",
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "he": "he_normal",
    "kaiming": "he_normal",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
    "lecun": "lecun_normal",
    "torch": "torch_default",
    "pytorch": "torch_default",
    "keras": "keras_default",
    "eye": "identity",
    "zero": "zeros",
    "one": "ones",
    "gaussian": "normal",
}


def canonical_init(name: str) -> str:
    """The registry name for ``name`` or an alias of it; a GradsimError if unknown."""
    key = name.strip().lower().replace("-", "_")
    key = INIT_ALIASES.get(key, key)
    if key not in INITIALIZERS:
        raise unknown_name("initializer", name, [*INITIALIZERS, *INIT_ALIASES])
    return key


def canonical_mode(name: str) -> str:
    """The fan mode for ``name`` ('fan-out', 'FAN_IN' and 'fan_avg' alike); a GradsimError
    if unknown."""
    key = name.strip().lower().replace("-", "_")
    if key not in MODES:
        raise unknown_name("mode", name, MODES)
    return key


def aliases_of(name: str) -> list[str]:
    """Every alias that resolves to ``name``."""
    return [a for a, target in INIT_ALIASES.items() if target == name]


__all__ = [
    "INITIALIZERS", "INIT_ALIASES", "MODES", "InitParams", "Initializer", "canonical_init",
    "canonical_mode",
    "scaled_draw",
]  # fmt: skip
