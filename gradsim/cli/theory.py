"""gradsim theory, phase and spectrum: mean-field theory beside the measurement."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import click

from gradsim.cli import cli
from gradsim.cli._console import console
from gradsim.cli._output import check_outputs, emit, output_options
from gradsim.cli.options import config_from, given, network_options
from gradsim.errors import GradsimError

MAX_THEORY_DEPTH = 10_000  # the prediction is one quadrature per layer
MAX_SPECTRUM_DEPTH, MAX_SPECTRUM_WIDTH, MAX_INPUTS = 2_000, 4_096, 64  # L·n³ per input
MAX_GRID = 400

# the network options each command takes (the rest describe a pass it does not run)
_SHAPE = ("depth", "width", "widths", "activation", "slope", "init", "gain", "mode", "std",
          "low", "high", "value", "truncated", "bias_init", "bias_std", "bias_value")  # fmt: skip
_DEFAULTS = {"loss": "probe"}  # theory: δ from ∂E/∂H_L ~ N(0, 1), the mean-field convention


def _config(kwargs: dict, **fixed):
    """A RunConfig from the options given (the others at RunConfig's defaults)."""
    cfg = config_from(kwargs)
    return replace(cfg, **fixed) if fixed else cfg


def _sigma(name: str, v: float | None) -> float | None:
    if v is not None and (not math.isfinite(v) or v < 0):
        raise GradsimError(f"{name} must be a finite number ≥ 0 (got {v:g})")
    return v


# ---------------------------------------------------------------- gradsim theory


@cli.command("theory")
@network_options(only=(*_SHAPE, "loss", "batch"), defaults=_DEFAULTS)
@click.option("--sigma-w", type=float, default=None, metavar="σ",
              help="σ_w: Var W = σ_w²/fan_in (instead of --init).")  # fmt: skip
@click.option(
    "--sigma-b",
    type=float,
    default=None,
    metavar="σ",
    help="σ_b: the biases' standard deviation [default: --bias-init's, or 0].",
)
@click.option("--all-layers", is_flag=True, help="Show every layer, not a sample.")
@output_options(formats=("table", "json"))
@click.pass_context
def theory_cmd(ctx, fmt, output, sigma_w, sigma_b, all_layers, **kwargs):
    """Mean-field prediction: the length map q^l, its fixed point q*, χ₁, the depth scales
    ξ_q and ξ_c, the phase, the critical σ_w, and the predicted δ and activation RMS at
    every layer (Poole et al. 2016, Schoenholz et al. 2017).

    \b
    gradsim theory --act tanh --sigma-w 1.33 --sigma-b 0.22 --depth 50
    gradsim theory --act relu --init he             # σ_w = √2 from the initializer
    gradsim theory --act tanh --init xavier --width 512 --format json
    """
    from gradsim.meanfield import describe
    from gradsim.report.tables.theory import render_theory

    _sigma("--sigma-w", sigma_w)
    _sigma("--sigma-b", sigma_b)
    if sigma_w is not None and given(ctx, "init"):
        raise GradsimError("--sigma-w and --init both set σ_w: give one of them")
    check_outputs(output, None)
    cfg = _config(kwargs)
    if cfg.depth > MAX_THEORY_DEPTH:
        raise GradsimError(f"--depth must be at most {MAX_THEORY_DEPTH} (got {cfg.depth})")
    d = describe(cfg, sigma_w, sigma_b)
    emit(fmt, output, None, d, None, lambda: render_theory(d, all_layers))


# ---------------------------------------------------------------- gradsim phase


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise GradsimError(f"cannot read {path}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GradsimError(f"{path} is not JSON ({e})") from None


def _range(text: str, flag: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise GradsimError(f"{flag} takes LOW:HIGH, e.g. 0:4 (got '{text}')") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi <= lo:
        raise GradsimError(f"{flag} needs 0 ≤ LOW < HIGH, both finite (got '{text}')")
    return lo, hi


@cli.command("phase")
@network_options(only=("activation", "slope", "width"))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), metavar="FIG",
              help="The figure to write: .png, .svg or .pdf.")  # fmt: skip
@click.option(
    "--sigma-w2",
    "sw2",
    default=None,
    metavar="LOW:HIGH",
    help="σ_w² range [default: 0:4, wider if the critical line lies beyond].",
)
@click.option("--sigma-b2", "sb2", default="0:0.25", show_default=True, metavar="LOW:HIGH",
              help="σ_b² range.")  # fmt: skip
@click.option("--grid", type=int, default=100, show_default=True,
              help="Cells along each axis.")  # fmt: skip
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="RESULTS",
    help="Mark the runs of a gradsim run or compare JSON on the diagram.",
)
@click.option("--data", type=click.Path(dir_okay=False), default=None, metavar="FILE.json",
              help="Also write the diagram's numbers as JSON.")  # fmt: skip
def phase_cmd(output, sw2, sb2, grid, overlay, data, **kwargs):
    """The order-to-chaos phase diagram over (σ_w², σ_b²): ξ_c as colour, the critical line
    χ₁ = 1, the registered initializers as points (Schoenholz et al. 2017, fig. 1).

    \b
    gradsim phase --act tanh -o phase.png
    gradsim compare --act tanh --init xavier --gain 0.5:2:7 --format json -o runs.json
    gradsim phase --act tanh --overlay runs.json -o phase.png
    """
    import numpy as np

    from gradsim.meanfield import (
        activation_of,
        critical_sigma_w,
        initializer_points,
        overlay_points,  # fmt: skip
        phase_dict,
        phase_grid,
    )
    from gradsim.report import export
    from gradsim.report.figures.common import check_figure_path, save_figure
    from gradsim.report.figures.registry import plot_result
    from gradsim.report.tables.theory import render_phase

    check_figure_path(output)
    if data:
        export.check_writable(data)
    if not 2 <= grid <= MAX_GRID:
        raise GradsimError(f"--grid must be between 2 and {MAX_GRID} (got {grid})")
    cfg = _config(kwargs)
    act = activation_of(cfg)
    b_lo, b_hi = _range(sb2, "--sigma-b2")
    if sw2 is None:  # 0:4, or half as far again as the critical line at the middle σ_b²
        c = float(critical_sigma_w(act, math.sqrt((b_lo + b_hi) / 2)))
        top = 4.0 if not math.isfinite(c) or 1.5 * c * c <= 4 else float(np.ceil(1.5 * c * c))
        w_lo, w_hi = 0.0, top
    else:
        w_lo, w_hi = _range(sw2, "--sigma-w2")
    runs = overlay_points(_load_json(overlay)) if overlay else []
    # cell centers, so the picture's edges are the ranges asked for
    x = w_lo + (np.arange(grid) + 0.5) * (w_hi - w_lo) / grid
    y = b_lo + (np.arange(grid) + 0.5) * (b_hi - b_lo) / grid
    line = np.linspace(b_lo, b_hi, 101)  # the critical line from edge to edge
    grid_ = phase_grid(act, x, y, line)
    d = phase_dict(grid_, initializer_points(cfg.width, act), runs, cfg.width)
    save_figure(plot_result(d), output)
    if data:
        export.write_atomic(data, export.to_json(d))
    console().print(render_phase(d, output))


# ---------------------------------------------------------------- gradsim spectrum


@cli.command("spectrum")
@network_options(only=(*_SHAPE, "seed"))
@click.option("--inputs", type=int, default=4, show_default=True,
              help="Inputs x ~ N(0, I) at which to take the Jacobian.")  # fmt: skip
@output_options("Draw the histogram of singular values to FILE.", formats=("table", "json"))
def spectrum_cmd(fmt, output, inputs, plot_path, **kwargs):
    """Singular values of the input–output Jacobian ∂H_L/∂H_0 of the network `gradsim run`
    builds (same weights for the same seed), at a few inputs: their mean square, spread
    Var λ/(E λ)² (λ = s²) and extremes (Pennington, Schoenholz & Ganguli 2017).

    \b
    gradsim spectrum --act tanh --init orthogonal --depth 64 --width 512
    gradsim spectrum --act relu --init he --depth 64 --width 512 --plot relu.png
    gradsim spectrum --act linear --init lecun --depth 16 --format json
    """
    from gradsim.draws import build_network
    from gradsim.meanfield import activation_of, jacobian_spectrum, layer_params, spectrum_dict
    from gradsim.memory import check_memory
    from gradsim.report.tables.theory import render_spectrum

    check_outputs(output, plot_path)
    if not 1 <= inputs <= MAX_INPUTS:
        raise GradsimError(f"--inputs must be between 1 and {MAX_INPUTS} (got {inputs})")
    cfg = _config(kwargs, batch=inputs, dtype="float64", loss="sum")
    if cfg.depth > MAX_SPECTRUM_DEPTH:
        raise GradsimError(f"--depth must be at most {MAX_SPECTRUM_DEPTH} (got {cfg.depth})")
    if max(cfg.layer_widths) > MAX_SPECTRUM_WIDTH:
        raise GradsimError(f"every width must be at most {MAX_SPECTRUM_WIDTH} for the "
                           f"Jacobian (got {max(cfg.layer_widths)})")  # fmt: skip
    check_memory(cfg)
    try:
        lp = layer_params(cfg)
    except GradsimError:  # no mean-field prediction for this initializer; the spectrum stands
        lp = None
    d = spectrum_dict(cfg, jacobian_spectrum(build_network(cfg), activation_of(cfg)), lp)
    emit(fmt, output, plot_path, d, None, lambda: render_spectrum(d))


__all__ = ["phase_cmd", "spectrum_cmd", "theory_cmd"]
