"""gradsim theory, phase and spectrum: mean-field theory beside the measurement."""

from __future__ import annotations

import click

from gradsim.cli._console import console
from gradsim.cli._output import check_outputs, emit, output_options
from gradsim.cli.group import cli
from gradsim.cli.options import config_from, given_options, network_options
from gradsim.options import (
    PHASE_OPTIONS,
    SPECTRUM_OPTIONS,
    THEORY_DEFAULTS,
    THEORY_OPTIONS,
    check_sigmas,
)

# ---------------------------------------------------------------- gradsim theory


@cli.command("theory")
@network_options(only=THEORY_OPTIONS, defaults=THEORY_DEFAULTS)
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
    from gradsim.meanfield.commands import theory
    from gradsim.report.tables.theory import render_theory

    check_sigmas(given_options(ctx, kwargs), sigma_w, sigma_b)
    check_outputs(output, None)
    d = theory(config_from(kwargs), sigma_w, sigma_b)
    emit(fmt, output, None, d, None, lambda: render_theory(d, all_layers))


# ---------------------------------------------------------------- gradsim phase


@cli.command("phase")
@network_options(only=PHASE_OPTIONS)
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
    from gradsim.files import check_distinct
    from gradsim.meanfield.commands import load_json, phase
    from gradsim.report import export
    from gradsim.report.figures.common import check_figure_path, save_figure
    from gradsim.report.figures.registry import plot_result
    from gradsim.report.tables.theory import render_phase

    check_figure_path(output)
    if data is not None:
        export.check_writable(data, "--data")
    check_distinct({"--output": output, "--data": data}, {"--overlay": overlay})
    from gradsim.cli.progress import progress

    runs = load_json(overlay) if overlay is not None else None
    with progress(None, "phase diagram"):  # one vectorized computation: a bar of no length
        d = phase(config_from(kwargs), sw2, sb2, grid, runs)
        save_figure(plot_result(d), output)
    if data is not None:
        export.write_atomic(data, export.to_json(d))
    console().print(render_phase(d, output))


# ---------------------------------------------------------------- gradsim spectrum


@cli.command("spectrum")
@click.pass_context
@network_options(only=SPECTRUM_OPTIONS)
@click.option("--inputs", type=int, default=4, show_default=True,
              help="Inputs x ~ N(0, I) at which to take the Jacobian.")  # fmt: skip
@output_options("Draw the histogram of singular values to FILE.", formats=("table", "json"))
def spectrum_cmd(ctx, fmt, output, inputs, plot_path, **kwargs):
    """Singular values of the input–output Jacobian ∂H_L/∂H_0 of the network `gradsim run`
    builds (same weights for the same seed), at a few inputs: their mean square, spread
    Var λ/(E λ)² (λ = s²) and extremes (Pennington, Schoenholz & Ganguli 2017).

    \b
    gradsim spectrum --act tanh --init orthogonal --depth 64 --width 512
    gradsim spectrum --act relu --init he --depth 64 --width 512 --plot relu.png
    gradsim spectrum --act linear --init lecun --depth 16 --format json
    """
    from gradsim.cli.progress import progress
    from gradsim.meanfield.commands import spectrum
    from gradsim.report.tables.theory import render_spectrum

    given_options(ctx, kwargs)
    check_outputs(output, plot_path)
    cfg = config_from(kwargs)
    with progress(cfg.depth, "spectrum · layers") as advance:
        d = spectrum(cfg, inputs, advance)
    emit(fmt, output, plot_path, d, None, lambda: render_spectrum(d))


__all__ = ["phase_cmd", "spectrum_cmd", "theory_cmd"]
