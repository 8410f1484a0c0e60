"""gradsim compare: the cartesian product of option lists, side by side."""

from __future__ import annotations

import click

from gradsim.cli._output import check_outputs, emit, output_options
from gradsim.cli.group import cli
from gradsim.cli.options import given_options, network_options


@cli.command("compare")
@click.pass_context
@network_options(listable=True)
@output_options("Overlay every configuration's curves in FILE (.png/.svg/.pdf).")
@click.option("--max-configs", type=click.IntRange(min=1), default=64, show_default=True,
              help="Refuse lists whose product is larger.")  # fmt: skip
def compare_cmd(ctx, fmt, output, plot_path, max_configs, **kwargs):
    """Compare initializers, activations, depths... in one table and one figure.

    Any network option takes a comma list (or start:stop:count); every combination runs
    with the same seed, so configurations of equal input width and batch share the input.

    \b
    gradsim compare --init he,xavier,normal,torch_default --act relu --depth 152
    gradsim compare --act tanh,relu --init xavier --gain 1,1.414,1.667 --plot cmp.png
    """
    from gradsim.cli.progress import progress
    from gradsim.comparison import Comparison, run_all
    from gradsim.options import expand, values_of
    from gradsim.report.export import compare_csv
    from gradsim.report.tables.compare import render_compare

    check_outputs(output, plot_path)
    axes, configs = expand(values_of(given_options(ctx, kwargs)), max_configs)
    with progress(len(configs), "compare") as advance:
        c = Comparison(axes, run_all(configs, advance))
    emit(fmt, output, plot_path, c.to_dict(), compare_csv,
         lambda: render_compare(c.axes, c.results))  # fmt: skip
