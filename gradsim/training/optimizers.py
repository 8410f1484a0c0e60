"""Optimizers for ``gradsim train``, and global-norm gradient clipping. One registry:
``OPTIMIZERS``.

An optimizer updates the parameters in place and returns the updates it applied. Its
arithmetic runs in each parameter's dtype (float32 or float64), and so does its state
(velocity, moments), kept per parameter index and allocated on the first step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gradsim.errors import GradsimError, unknown_name

Array = np.ndarray


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _positive(name: str, v) -> float:
    if not _is_real(v) or not math.isfinite(v) or v <= 0:
        raise GradsimError(f"{_flag(name)} must be a positive number (got {v!r})")
    return float(v)


def _unit(name: str, v) -> float:
    """A decay rate: in [0, 1), where 1 would never forget and more would diverge."""
    if not _is_real(v) or not 0 <= v < 1:
        raise GradsimError(f"{_flag(name)} must be in [0, 1) (got {v!r})")
    return float(v)


class Optimizer:
    """``step(params, grads)`` sets p ← p + Δp for every parameter, in place, and returns the
    list of Δp (each in its parameter's dtype). ``t`` counts the steps taken.

    Subclasses give ``_state(p)``, the per-parameter state (arrays like p), and
    ``_update(g, state)``, which advances that state and returns Δp; g is already in p's
    dtype, and ``self.t`` is the number of the step being taken (1 on the first).
    """

    name = ""

    def __init__(self, lr: float):
        self.lr = _positive("lr", lr)
        self.t = 0
        self._states: list[tuple[Array, ...]] | None = None

    def _state(self, p: Array) -> tuple[Array, ...]:
        return ()

    def _update(self, g: Array, state: tuple[Array, ...], out: Array | None = None) -> Array:
        """Δp for the gradient g, into ``out`` if given (else a new array)."""
        raise NotImplementedError

    def step(self, params: Sequence[Array], grads: Sequence[Array],
             overwrite: bool = False) -> list[Array]:  # fmt: skip
        """p += Δp for every parameter; returns the Δp. ``overwrite``: write each Δp into its
        gradient's array (the same numbers, without a new array per parameter; the caller
        reads nothing of the gradients after the step)."""
        if len(params) != len(grads):
            raise ValueError(f"{len(params)} parameters but {len(grads)} gradients")
        # (arrays of the right shapes, checked at once; anything else one by one)
        if [getattr(g, "shape", None) for g in grads] != [p.shape for p in params]:
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if np.shape(g) != p.shape:
                    raise ValueError(
                        f"gradient {i} has shape {np.shape(g)}, its parameter {p.shape}"
                    )
        if self._states is None:
            self._states = [self._state(p) for p in params]
        elif len(self._states) != len(params):
            raise ValueError(f"{len(params)} parameters; earlier steps had {len(self._states)}")
        self.t += 1
        updates = []
        for p, g, state in zip(params, grads, self._states, strict=True):
            if getattr(g, "dtype", None) != p.dtype:
                g = np.asarray(g, dtype=p.dtype)
            dp = self._update(g, state, g if overwrite and g.flags.writeable else None)
            np.add(p, dp, out=p)
            updates.append(dp)
        return updates

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in _hyper_defaults(type(self)))
        return f"{type(self).__name__}(lr={self.lr!r}{', ' if hyper else ''}{hyper})"


class SGD(Optimizer):
    """Δp = −lr·g."""

    name = "sgd"
    states = 0  # arrays of state per parameter (the memory estimate counts them)

    def _update(self, g: Array, state: tuple[Array, ...], out: Array | None = None) -> Array:
        return np.multiply(g, g.dtype.type(-self.lr), out=out)


class Momentum(Optimizer):
    """Heavy ball in PyTorch's form: v ← μ·v + g; Δp = −lr·v. v starts at 0, so the first
    step is SGD's; in the steady state of a constant g the step is lr·g/(1 − μ)."""

    name = "momentum"
    states = 1

    def __init__(self, lr: float, momentum: float = 0.9):  # the customary μ (Sutskever 2013)
        super().__init__(lr)
        self.momentum = _unit("momentum", momentum)

    def _state(self, p: Array) -> tuple[Array, ...]:
        return (np.zeros_like(p),)

    def _update(self, g: Array, state: tuple[Array, ...], out: Array | None = None) -> Array:
        (v,) = state
        v *= v.dtype.type(self.momentum)
        v += g
        return np.multiply(v, v.dtype.type(-self.lr), out=out)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1): m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²,
    m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t), Δp = −lr·m̂/(√v̂ + ε). The first step is
    −lr·g/(|g| + ε): lr per element, whatever the size of g."""

    name = "adam"
    states = 2

    # the paper's defaults
    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = _unit("beta1", beta1)
        self.beta2 = _unit("beta2", beta2)
        self.eps = _positive("eps", eps)

    def _state(self, p: Array) -> tuple[Array, ...]:
        return np.zeros_like(p), np.zeros_like(p)

    def _update(self, g: Array, state: tuple[Array, ...], out: Array | None = None) -> Array:
        m, v = state
        f = g.dtype.type
        m *= f(self.beta1)
        m += f(1.0 - self.beta1) * g
        v *= f(self.beta2)
        v += f(1.0 - self.beta2) * (g * g)
        m_hat = np.divide(m, f(1.0 - self.beta1**self.t), out=out)
        v_hat = v / f(1.0 - self.beta2**self.t)
        np.sqrt(v_hat, out=v_hat)
        v_hat += f(self.eps)
        m_hat /= v_hat
        m_hat *= f(-self.lr)
        return m_hat


def _hyper_defaults(cls: type[Optimizer]) -> dict[str, float]:
    """The hyper-parameters of ``cls`` besides lr, with their defaults, from its signature."""
    code, defaults = cls.__init__.__code__, cls.__init__.__defaults__ or ()
    names = code.co_varnames[2 : code.co_argcount]  # after self, lr
    return dict(zip(names, defaults[len(defaults) - len(names) :], strict=True))


@dataclass(frozen=True)
class OptimizerSpec:
    """``factory(lr, **hyper)`` builds the optimizer; ``hyper`` names the keywords it takes,
    with their defaults (each is the command-line option ``--name``)."""

    name: str
    summary: str  # one line, for --help and ``gradsim list``
    formula: str
    factory: Callable[..., Optimizer]
    hyper: Mapping[str, float]


def _spec(cls: type[Optimizer], summary: str, formula: str) -> OptimizerSpec:
    return OptimizerSpec(cls.name, summary, formula, cls, _hyper_defaults(cls))


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": _spec(SGD, "plain gradient descent", "Δp = −lr·g"),
    "momentum": _spec(
        Momentum,
        "SGD with heavy-ball momentum, PyTorch's form (--momentum, default 0.9)",
        "v ← μ·v + g; Δp = −lr·v",
    ),
    "adam": _spec(
        Adam,
        "Adam with bias correction (--beta1 0.9, --beta2 0.999, --eps 1e-8)",
        "m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; Δp = −lr·m̂/(√v̂ + ε)",
    ),
}


def make_optimizer(name: str, lr: float, **hyper) -> Optimizer:
    """The registered optimizer ``name`` with learning rate ``lr``. A hyper-parameter given
    as None takes its default; one the optimizer does not take is an error."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise unknown_name("optimizer", str(name), OPTIMIZERS)
    spec = OPTIMIZERS[key]
    given = {k: v for k, v in hyper.items() if v is not None}
    extra = sorted(set(given) - set(spec.hyper))
    if extra:
        takes = ", ".join(_flag(k) for k in spec.hyper) or "only --lr"
        raise GradsimError(
            f"{_flag(extra[0])} does not apply to optimizer '{key}' (it takes {takes})"
        )
    return spec.factory(lr, **given)


def global_norm(grads: Sequence[Array]) -> float:
    """‖g‖ = √(Σ over every array and entry of g²), in float64; inf or nan when an entry is.
    Entries too large to square in float64 are handled by scaling by the largest one."""
    flat = [np.asarray(g, dtype=np.float64).ravel() for g in grads]
    with np.errstate(over="ignore"):
        ss = sum(float(np.dot(x, x)) for x in flat)
    if math.isinf(ss):
        amax = max(float(np.max(np.abs(x))) for x in flat if x.size)
        if math.isfinite(amax):
            return amax * math.sqrt(sum(float(np.dot(x / amax, x / amax)) for x in flat))
    return math.sqrt(ss)


def clip_by_global_norm(grads: Sequence[Array], max_norm: float) -> tuple[list[Array], float]:
    """(grads·min(1, max_norm/‖g‖), ‖g‖), ‖g‖ the global norm before clipping.

    The inputs are never modified: the result holds new arrays (in the grads' dtypes) when
    clipping, the same arrays otherwise, and also when ‖g‖ is not finite (for the caller
    to report divergence).
    """
    max_norm = _positive("clip_norm", max_norm)
    norm = global_norm(grads)
    if not math.isfinite(norm) or norm <= max_norm:
        return list(grads), norm
    scale = max_norm / norm
    return [g * g.dtype.type(scale) for g in grads], norm
