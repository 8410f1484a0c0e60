"""gradsim run: one network, one forward and backward pass, per-layer statistics."""

from __future__ import annotations

import click

from gradsim.cli._output import check_outputs, emit, output_options
from gradsim.cli.group import cli
from gradsim.cli.options import config_from, given_options, network_options
from gradsim.errors import GradsimError

FAIL_ON = ("vanishing", "exploding", "overflow")


def _parse_fail_on(text: str | None) -> set[str]:
    if not text:
        return set()
    items = {x.strip().lower() for x in text.split(",") if x.strip()}
    bad = items - set(FAIL_ON)
    if bad:
        raise GradsimError(f"--fail-on takes {', '.join(FAIL_ON)} (got '{', '.join(sorted(bad))}')")
    return items


@cli.command("run")
@click.pass_context
@network_options
@output_options("Draw the per-layer curves to FILE (.png, .svg or .pdf).")
@click.option(
    "--save-net",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE.npz",
    help="Save W1..WL, b1..bL, X, T and the config, to rerun anywhere.",
)
@click.option(
    "--hist",
    is_flag=True,
    help="Add histograms of H and of log10|δ| at five layers (to --plot and JSON).",
)
@click.option("--all-layers", is_flag=True, help="Show every layer, not a sample.")
@click.option(
    "--theory",
    is_flag=True,
    help="Add the mean-field prediction beside the measurement (table, JSON, --plot).",
)
@click.option(
    "--low-memory",
    is_flag=True,
    help="Draw the weights again for the backward pass instead of keeping them (the same "
    "numbers; chosen by itself where they would not fit).",
)
@click.option(
    "--fail-on",
    default=None,
    metavar="LIST",
    help="Exit with code 3 if the verdict is one of: vanishing,exploding,overflow.",
)
def run_cmd(ctx, fmt, output, plot_path, save_net, hist, all_layers, theory, low_memory,
            fail_on, **kwargs):  # fmt: skip
    """Simulate an L-layer MLP and report per-layer activation and gradient statistics.

    \b
    gradsim run --depth 152 --init he                  # stable
    gradsim run --depth 152 --init xavier --act relu   # the signal collapses
    gradsim run --init identity --gain 1.2 --act linear --depth 50   # 1.2^L growth
    gradsim run --depth 152 --init xavier --hist --plot xavier.png
    gradsim run --depth 50 --act tanh --init xavier --theory --plot tanh.png
    """
    from gradsim.draws import build_network, build_stack
    from gradsim.memory import check_memory
    from gradsim.report import export
    from gradsim.report.tables.run import render_run
    from gradsim.simulation import simulate_network, simulate_stack

    given_options(ctx, kwargs)
    cfg = config_from(kwargs)
    fails = _parse_fail_on(fail_on)
    if save_net and not save_net.endswith(".npz"):
        raise GradsimError(f"--save-net writes NumPy .npz files; name it FILE.npz (got {save_net})")
    check_outputs(output, plot_path, {"--save-net": save_net})
    if save_net and low_memory:
        raise GradsimError("--save-net keeps every weight matrix: drop --low-memory")
    # the guard first: it reads shapes only, and refuses at once what would not fit
    low = check_memory(cfg, False if save_net else (True if low_memory else None))
    prediction = None
    if theory:  # before the work: the theory may refuse this network
        from gradsim.meanfield import predict_run

        try:
            prediction = predict_run(cfg)
        except GradsimError as e:
            raise GradsimError(f"--theory: {e}") from None
    if save_net:  # every array at hand, to be saved
        net = build_network(cfg)
        result = simulate_network(cfg, net, hist=hist, theory=prediction)
        export.save_network(save_net, net, result.to_dict()["config"])
    else:
        result = simulate_stack(cfg, build_stack(cfg, low), hist=hist, theory=prediction)
    d = result.to_dict()
    emit(fmt, output, plot_path, d, export.to_csv, lambda: render_run(result, all_layers))
    s = result.summary
    hit = fails & {s.verdict, s.forward, s.backward}
    if hit:  # the exit code alone does not say why
        why = f"the verdict is {s.verdict} (forward {s.forward}, backward {s.backward})"
        click.echo(f"gradsim: --fail-on {','.join(sorted(hit))}: {why}; exit code 3", err=True)
    return 3 if hit else 0
