"""Synthetic tasks for ``gradsim train``, generated from a seed: no download, NumPy only.
One registry: ``TASKS``.

Every draw comes from the stream (streams.TASK, k) of the seed, with one k per use
(streams.TASK_STREAMS), so a task never shares a stream with the network or with another
task. The same seed gives the same arrays on any machine: besides the draws,
only correctly rounded operations are used (+, −, ×, ÷, √ and NumPy's fixed-order sums);
the teacher's matrix product and tanh are computed here rather than by BLAS and libm, whose
results may differ in the last bit between CPUs and builds.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradsim import streams
from gradsim.errors import GradsimError, unknown_name

Array = np.ndarray


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare
class Task:
    """A data set: X (N, n_in) float64 and its targets.

    Y: regression (N, n_out) float64; classification (N,) int64 labels in 0..n_out-1, the
    network having one logit per class (n_out = number of classes). The arrays made by the
    generators below are read-only.
    """

    name: str
    kind: str  # "regression" or "classification"
    X: Array
    Y: Array
    n_in: int
    n_out: int
    description: str  # one line, for a table title


@dataclass(frozen=True)
class TaskSpec:
    """``make(samples, seed)`` returns the task with that many samples."""

    name: str
    kind: str
    summary: str  # one line, for --help and ``gradsim list``
    make: Callable[[int, int], Task]
    dims: tuple[int, int]  # (n_in, n_out) of the tasks it makes


def _rng(seed: int, name: str) -> np.random.Generator:
    return streams.rng(seed, streams.TASK, streams.TASK_STREAMS[name])


def _frozen(*arrays: Array) -> None:
    for a in arrays:
        a.setflags(write=False)


def _matmul_T(X: Array, A: Array) -> Array:
    """(X A)ᵀ for X (N, K), A (K, M), summed over k in order: bitwise the same everywhere."""
    XT = np.ascontiguousarray(X.T)  # (K, N)
    Z = np.multiply(A[0][:, None], XT[0])  # (M, N)
    term = np.empty_like(Z)
    for k in range(1, A.shape[0]):
        Z += np.multiply(A[k][:, None], XT[k], out=term)
    return Z


# expm1(x) = 2^k·(expm1(r) + 1) − 1 with r = x − k·ln 2, |r| ≤ ln2/2 (Cody–Waite split of
# ln 2 with fdlibm's constants: k·_LN2_HI is exact); expm1(r) by its Taylor series to r^13
# (the next term is below 1e-17)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXPM1_TAYLOR = [1.0 / math.factorial(n) for n in range(13, 0, -1)]


def _tanh_(Z: Array) -> Array:
    """tanh(Z) in place: tanh(z) = sign(z)·|m/(2 + m)|, m = expm1(−2|z|), from correctly
    rounded operations only (within 2 ulp of np.tanh, whose last bit depends on the CPU)."""
    x = np.abs(Z)
    np.minimum(x, 20.0, out=x)  # tanh(20) is 1 in float64
    x *= -2.0
    k = np.rint(x * _INV_LN2)
    r = x - k * _LN2_HI
    r -= k * _LN2_LO
    m = np.full_like(r, _EXPM1_TAYLOR[0])
    for c in _EXPM1_TAYLOR[1:]:
        m *= r
        m += c
    m *= r  # expm1(r); exact relative accuracy near 0, where k = 0
    big = k != 0
    m[big] = np.ldexp(m[big] + 1.0, k[big].astype(np.int32)) - 1.0
    np.copysign(m / (m + 2.0), Z, out=Z)
    return Z


def _teacher_net(X: Array, A1: Array, c1: Array, A2: Array, rows: int = 4096) -> Array:
    """tanh(X A1 + c1) A2, X (N, n_in) → (N, n_out), in blocks of rows that stay in cache."""
    Y = np.empty((X.shape[0], A2.shape[1]))
    for i in range(0, X.shape[0], rows):
        HT = _matmul_T(X[i : i + rows], A1)  # (n_hidden, rows)
        HT += c1[:, None]
        Y[i : i + rows] = _matmul_T(_tanh_(HT).T, A2).T
    return Y


def _teacher(samples: int, seed: int) -> Task:
    n_in, n_hidden, n_out = 16, 32, 4
    X = _rng(seed, "teacher_x").standard_normal((samples, n_in))  # (N, 16)
    net = _rng(seed, "teacher_net")
    # Var(X A1)_j = 2 and c1 ~ N(0, 0.5²): pre-activations of std 1.5, so tanh bends the
    # signal (a linear fit leaves ~15% of the variance) with most units out of saturation
    A1 = net.standard_normal((n_in, n_hidden)) * math.sqrt(2.0 / n_in)  # (16, 32)
    c1 = net.standard_normal(n_hidden) * 0.5  # (32,)
    A2 = net.standard_normal((n_hidden, n_out)) / math.sqrt(n_hidden)  # (32, 4)
    Y = _teacher_net(X, A1, c1, A2)  # (N, 4)
    Y = (Y - Y.mean(axis=0)) / Y.std(axis=0)  # zero mean, unit variance per output
    _frozen(X, Y)
    return Task(
        "teacher",
        "regression",
        X,
        Y,
        n_in,
        n_out,
        f"teacher: regression onto a random 2-layer tanh network, {n_in} → {n_out}, "
        f"{samples} samples",
    )


def _balanced_labels(samples: int, classes: int, rng: np.random.Generator) -> Array:
    """N // classes labels per class, the remainder one each to the first classes, shuffled."""
    return rng.permutation(np.arange(samples, dtype=np.int64) % classes)


def _blobs(samples: int, seed: int) -> Task:
    n_in, classes = 16, 4
    C = _rng(seed, "blobs_centres").standard_normal((classes, n_in))  # (4, 16) centres
    # Scaled so that the RMS distance between centres is 4 noise stds: a nearest-centre
    # classifier then scores ≈ 93% (88–95% over seeds), where unscaled N(0, σ²) centres
    # would range over 15 points from seed to seed.
    D2 = ((C[:, None, :] - C[None, :, :]) ** 2).sum(axis=-1)  # (4, 4) squared distances
    C *= 4.0 / np.sqrt(D2.sum() / (classes * (classes - 1)))
    Y = _balanced_labels(samples, classes, _rng(seed, "blobs_order"))  # (N,)
    X = C[Y] + _rng(seed, "blobs_noise").standard_normal((samples, n_in))  # (N, 16)
    _frozen(X, Y)
    return Task(
        "blobs",
        "classification",
        X,
        Y,
        n_in,
        classes,
        f"blobs: {classes} Gaussian classes in {n_in} dimensions, unit noise, {samples} samples",
    )


def _circles(samples: int, seed: int) -> Task:
    # sklearn.datasets.make_circles(noise=0.05, factor=0.5), with i.i.d. uniform angles
    noise, factor = 0.05, 0.5
    Y = _balanced_labels(samples, 2, _rng(seed, "circles_order"))  # (N,): 0 outer, 1 inner
    # a normalised 2-D Gaussian is uniform on the circle, without cos and sin
    G = _rng(seed, "circles_direction").standard_normal((samples, 2))  # (N, 2)
    U = G / np.sqrt(G[:, :1] * G[:, :1] + G[:, 1:] * G[:, 1:])
    radius = np.where(Y == 0, 1.0, factor)[:, None]  # (N, 1)
    X = radius * U + noise * _rng(seed, "circles_noise").standard_normal((samples, 2))
    _frozen(X, Y)
    return Task(
        "circles",
        "classification",
        X,
        Y,
        2,
        2,
        f"circles: two concentric circles in 2-D, radii 1 and {factor}, noise {noise}, "
        f"{samples} samples",
    )


TASKS: dict[str, TaskSpec] = {
    "teacher": TaskSpec(
        "teacher",
        "regression",
        "regression onto a random 2-layer tanh network (16 → 32 → 4), standardized targets",
        _teacher,
        (16, 4),
    ),
    "blobs": TaskSpec(
        "blobs",
        "classification",
        "4 Gaussian classes in 16-D, overlapping a little (nearest centre ≈ 93%)",
        _blobs,
        (16, 4),
    ),
    "circles": TaskSpec(
        "circles",
        "classification",
        "two concentric circles in 2-D (radii 1 and 0.5, noise 0.05), as make_circles",
        _circles,
        (2, 2),
    ),
}


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def make_task(name: str, samples: int, seed: int) -> Task:
    """The registered task ``name`` with ``samples`` samples drawn from ``seed``."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in TASKS:
        raise unknown_name("task", str(name), TASKS)
    if not _is_int(samples) or samples < 2:
        raise GradsimError(f"--samples must be a whole number ≥ 2 (got {samples!r})")
    if not _is_int(seed) or seed < 0:
        raise GradsimError(f"--seed must be a whole number ≥ 0 (got {seed!r})")
    return TASKS[key].make(int(samples), int(seed))
