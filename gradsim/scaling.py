"""Loss scaling: how the backward pass keeps δ inside a narrow format's range.

``--loss-scale`` takes:

* ``ideal`` (the default): δ is carried as δ̃·10^s and rescaled by an exact power of two at
  every layer where its RMS leaves the format's comfortable range, so δ never underflows
  or overflows and every number is the true one: mixed precision with a perfect per-layer
  loss scale, which no framework has, but which shows what the network itself does;
* ``none``: the plain computation: ∂E/∂H_L in the format, the backward pass in the format,
  δ underflowing to zero (or overflowing) as it does in a framework without loss scaling;
* a number N (``1024``, ``2^16``): a static scale: ∂E/∂H_L × N in the format, the backward
  pass in the format, the parameter gradients divided by N in float32 (a framework's
  GradScaler unscales before the optimizer's step);
* ``dynamic``: a framework's gradient scaler (PyTorch's ``torch.amp.GradScaler`` defaults):
  start at 2^16; a step whose gradients hold inf/NaN is skipped and the scale halved; after
  ``GROWTH_INTERVAL`` good steps in a row the scale doubles. A single pass (``gradsim run``)
  starts at 2^16 and halves until the backward pass is finite.

``advised_range``: the powers of two s for which every layer's δ·s stays in the format's
normal range, from the ideal pass's statistics (not by trial).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradsim.errors import GradsimError

MODES = ("ideal", "none", "dynamic")
INIT_SCALE = 2.0**16  # PyTorch's GradScaler: init_scale
GROWTH_FACTOR = 2.0  # growth_factor
BACKOFF_FACTOR = 0.5  # backoff_factor
GROWTH_INTERVAL = 2000  # growth_interval: good steps in a row before the scale doubles
MIN_SCALE = 2.0**-64  # a single pass stops halving here (the δ is not finite at any scale)


def canonical_loss_scale(value) -> str:
    """'ideal', 'none', 'dynamic' or a positive finite number as text ('1024', '0.5');
    '2^k' is accepted for a power of two."""
    if isinstance(value, bool):
        raise GradsimError(f"--loss-scale takes ideal, none, dynamic or a number (got {value!r})")
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        key = value.strip().lower()
        if key in MODES:
            return key
        try:
            if "^" in key:
                base, _, k = key.partition("^")
                x = float(base) ** float(k)
            else:
                x = float(key)
        except (ValueError, OverflowError):
            raise GradsimError(
                f"--loss-scale takes ideal, none, dynamic or a number (got '{value}')"
            ) from None
    else:
        raise GradsimError(f"--loss-scale takes ideal, none, dynamic or a number (got {value!r})")
    if not (math.isfinite(x) and x > 0):
        raise GradsimError(f"--loss-scale must be a positive finite number (got {value})")
    return str(int(x)) if x == int(x) and x < 2**63 else repr(x)


def is_plain(loss_scale: str) -> bool:
    """Whether the backward pass runs plainly in the format (every mode but ideal)."""
    return loss_scale != "ideal"


def mode_of(loss_scale: str) -> str:
    """The mode a canonical --loss-scale names: ideal, none, dynamic, or static (a number)."""
    return loss_scale if loss_scale in MODES else "static"


def static_scale(loss_scale: str) -> float | None:
    """N of a static scale, else None."""
    return None if loss_scale in MODES else float(loss_scale)


def log2_text(x: float) -> str:
    """2^k for a power of two, else the number ('2^16', '1000')."""
    m, e = math.frexp(x)
    return f"2^{e - 1}" if m == 0.5 else f"{x:g}"


@dataclass
class Scaler:
    """A framework's dynamic loss scale through training: ``scale`` now, ``update(finite)``
    after each step's gradients; ``history``: (step, new scale) at every change, and
    ``skipped``: the steps skipped for inf/NaN gradients."""

    scale: float = INIT_SCALE
    growth_interval: int = GROWTH_INTERVAL
    good: int = 0

    def __post_init__(self) -> None:
        self.history: list[tuple[int, float]] = []
        self.skipped: list[int] = []

    def update(self, step: int, finite: bool) -> bool:
        """Record step ``step``'s outcome; returns whether the step is taken."""
        if not finite:
            self.scale *= BACKOFF_FACTOR
            self.good = 0
            self.skipped.append(step)
            self.history.append((step, self.scale))
            return False
        self.good += 1
        if self.good >= self.growth_interval:
            self.scale *= GROWTH_FACTOR
            self.good = 0
            self.history.append((step, self.scale))
        return True


def advised_range(log10_rms: list[float], log10_max: list[float], max_: float,
                  tiny: float) -> tuple[int, int] | None:  # fmt: skip
    """(k_lo, k_hi): the powers of two 2^k, k_lo ≤ k ≤ k_hi, for which every layer's δ
    scaled by 2^k stays in the format's normal range: its largest entry below the largest
    finite number (max|δ_l|·2^k < max) and its RMS at or above the smallest normal
    (RMS(δ_l)·2^k ≥ tiny). From the ideal pass's log10 RMS and log10 max|δ_l| per layer
    (layers whose δ is exactly zero or unknown are left out). None when no power of two
    fits, or no layer is measured."""
    pairs = [(r, m) for r, m in zip(log10_rms, log10_max, strict=True)
             if math.isfinite(r) and math.isfinite(m)]  # fmt: skip
    if not pairs:
        return None
    l2 = 1 / math.log10(2.0)
    hi_bound = math.log2(max_) - max(m for _, m in pairs) * l2  # 2^k < max / max|δ|
    k_hi = math.ceil(hi_bound) - 1
    k_lo = math.ceil(math.log2(tiny) - min(r for r, _ in pairs) * l2)  # 2^k·RMS ≥ tiny
    return (k_lo, k_hi) if k_lo <= k_hi else None
