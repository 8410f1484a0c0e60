"""Losses: where the backward pass starts, as ∂E/∂H_L. One registry: ``LOSSES``.

Each gradient is returned in rescaled form (G, s) with ∂E/∂H_L = G·10^s, so that an output
whose true size is beyond the dtype's range (tracked by the engine as H̃·10^a) still gives
the right gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradsim.errors import unknown_name

Array = np.ndarray


@dataclass(frozen=True)
class Loss:
    """``grad(H, a, T)`` returns (G, s): ∂E/∂H_L = G·10^s, where H_L = H·10^a, T the target.

    H: (B, n_L) float64, T: (B, n_L) float64 or None.
    """

    name: str
    grad: Callable[[Array, float, Array | None], tuple[Array, float]]
    formula: str
    needs_target: bool  # draws T ~ N(0, 1) of the output's shape
    # E over the targets of (∂E/∂H_L)² per entry, given H_L (any shape) and the batch B:
    # where the mean-field prediction of δ starts (gradsim.meanfield)
    mean_sq_grad: Callable[[Array, int], Array] | None = None


def _mse_grad(H: Array, a: float, T: Array) -> tuple[Array, float]:
    B = H.shape[0]
    # (H·10^a − T)/B, factored so neither term overflows: T is exactly negligible against an
    # output 10^300 times larger, and the output against T when 10^a underflows.
    if a >= 0:
        return (H - T * 10.0 ** (-a) if a < 320 else H) / B, a
    return ((H * 10.0**a if a > -320 else 0.0) - T) / B, 0.0


def _mse_mean_sq(H: Array, B: int) -> Array:
    # (H − T)/B with T ~ N(0, 1) independent of H: E_T[(H − T)²] = H² + 1
    return (H * H + 1.0) / (B * B)


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", _mse_grad, "E = 1/(2B)·Σ‖H_L − T‖², T ~ N(0, 1)", True, _mse_mean_sq),
    "probe": Loss(
        "probe",
        lambda H, a, T: (T, 0.0),
        "∂E/∂H_L = G, G ~ N(0, 1) (pure propagation, as in mean-field studies)",
        True,
        lambda H, B: np.ones_like(H),
    ),
    "sum": Loss(
        "sum",
        lambda H, a, T: (np.full_like(H, 1.0 / H.shape[0]), 0.0),
        "E = Σ H_L / B (the out.sum() idiom)",
        False,
        lambda H, B: np.full_like(H, 1.0 / (B * B)),
    ),
}


def canonical_loss(name: str) -> str:
    key = name.strip().lower()
    if key not in LOSSES:
        raise unknown_name("loss", name, LOSSES)
    return key
