"""What ``gradsim theory``, ``spectrum`` and ``phase`` compute, from a configuration to the
JSON form, with the limits that keep each within a few seconds; the command line and the
Python API (gradsim.api) both call these."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.meanfield.field import critical_sigma_w
from gradsim.meanfield.phase import initializer_points, overlay_points, phase_grid
from gradsim.meanfield.predict import activation_of, layer_params
from gradsim.meanfield.records import describe, phase_dict, spectrum_dict
from gradsim.meanfield.spectrum import jacobian_spectrum

MAX_THEORY_DEPTH = 10_000  # the prediction is one quadrature per layer
MAX_SPECTRUM_DEPTH, MAX_SPECTRUM_WIDTH, MAX_INPUTS = 2_000, 4_096, 64  # L·n³ per input
MAX_GRID = 400


def check_sigma(name: str, v: float | None) -> float | None:
    """σ given directly: a finite number ≥ 0, or None."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise GradsimError(f"{name} must be a finite number ≥ 0 (got {v!r})")
    return float(v)


def theory(cfg: RunConfig, sigma_w: float | None = None, sigma_b: float | None = None) -> dict:
    """The mean-field prediction of ``cfg``'s network (kind "theory"), σ_w and σ_b given
    directly or (None) from the initializer and the bias rule."""
    sigma_w, sigma_b = check_sigma("--sigma-w", sigma_w), check_sigma("--sigma-b", sigma_b)
    if cfg.depth > MAX_THEORY_DEPTH:
        raise GradsimError(f"--depth must be at most {MAX_THEORY_DEPTH} (got {cfg.depth})")
    return describe(cfg, sigma_w, sigma_b)


def check_spectrum(cfg: RunConfig) -> None:
    """Refuse, before any work, a network whose Jacobian would take too long."""
    if cfg.depth > MAX_SPECTRUM_DEPTH:
        raise GradsimError(f"--depth must be at most {MAX_SPECTRUM_DEPTH} (got {cfg.depth})")
    if max(cfg.layer_widths) > MAX_SPECTRUM_WIDTH:
        raise GradsimError(f"every width must be at most {MAX_SPECTRUM_WIDTH} for the "
                           f"Jacobian (got {max(cfg.layer_widths)})")  # fmt: skip


def spectrum(cfg: RunConfig, inputs: int = 4, progress=None) -> dict:
    """The singular values of the input–output Jacobian of ``cfg``'s network (its weights
    as ``gradsim run`` draws them) at ``inputs`` inputs x ~ N(0, I), in float64 (kind
    "spectrum"), and the mean-field E[λ] where the weights are in the theory;
    ``progress(1)`` after each of the L layers."""
    from gradsim.draws import build_network
    from gradsim.memory import check_memory

    if isinstance(inputs, bool) or not isinstance(inputs, int) or not 1 <= inputs <= MAX_INPUTS:
        raise GradsimError(f"--inputs must be between 1 and {MAX_INPUTS} (got {inputs!r})")
    cfg = replace(cfg, batch=inputs, dtype="float64", loss="sum")
    check_spectrum(cfg)
    check_memory(cfg)
    try:
        lp = layer_params(cfg)
    except GradsimError:  # no mean-field prediction for this initializer; the spectrum stands
        lp = None
    spec = jacobian_spectrum(build_network(cfg), activation_of(cfg), progress)
    return spectrum_dict(cfg, spec, lp)


def parse_range(value, flag: str) -> tuple[float, float]:
    """'LOW:HIGH' or (LOW, HIGH) → (low, high), 0 ≤ low < high, both finite."""
    try:
        lo, hi = (float(x) for x in (value.split(":") if isinstance(value, str) else value))
    except (ValueError, TypeError):
        raise GradsimError(f"{flag} takes LOW:HIGH, e.g. 0:4 (got '{value}')") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi <= lo:
        raise GradsimError(f"{flag} needs 0 ≤ LOW < HIGH, both finite (got '{value}')")
    return lo, hi


def load_json(path: str) -> dict:
    """A JSON file's value, or a one-line GradsimError (gradsim.files.read_json)."""
    from gradsim.files import read_json

    return read_json(path)


def phase(cfg: RunConfig, sigma_w2=None, sigma_b2=(0.0, 0.25), grid: int = 100,
          overlay: dict | None = None) -> dict:  # fmt: skip
    """The phase diagram of ``cfg``'s activation over (σ_w², σ_b²) (kind "phase"): σ_w²
    over 0 to 4, or (None) half as far again as the critical line at the middle σ_b² where
    that lies beyond; ``overlay``: a run or compare result whose runs to mark."""
    if isinstance(grid, bool) or not isinstance(grid, int) or not 2 <= grid <= MAX_GRID:
        raise GradsimError(f"--grid must be between 2 and {MAX_GRID} (got {grid})")
    act = activation_of(cfg)
    b_lo, b_hi = parse_range(sigma_b2, "--sigma-b2")
    if sigma_w2 is None:
        c = float(critical_sigma_w(act, math.sqrt((b_lo + b_hi) / 2)))
        top = 4.0 if not math.isfinite(c) or 1.5 * c * c <= 4 else float(np.ceil(1.5 * c * c))
        w_lo, w_hi = 0.0, top
    else:
        w_lo, w_hi = parse_range(sigma_w2, "--sigma-w2")
    runs = overlay_points(overlay) if overlay is not None else []
    # cell centers, so the picture's edges are the ranges asked for
    x = w_lo + (np.arange(grid) + 0.5) * (w_hi - w_lo) / grid
    y = b_lo + (np.arange(grid) + 0.5) * (b_hi - b_lo) / grid
    line = np.linspace(b_lo, b_hi, 101)  # the critical line from edge to edge
    return phase_dict(phase_grid(act, x, y, line), initializer_points(cfg.width, act), runs,
                      cfg.width)  # fmt: skip
