"""gradsim compare: the cartesian product of option lists, side by side."""

from __future__ import annotations

import click

from gradsim.cli import cli
from gradsim.cli._console import console, render_text
from gradsim.cli.options import configs_from, network_options


@cli.command("compare")
@network_options(listable=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report to FILE (atomically) instead of the terminal.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Overlay every configuration's curves in FILE (.png/.svg/.pdf).",
)
@click.option(
    "--max-configs",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Refuse lists whose product is larger.",
)
def compare_cmd(fmt, output, plot_path, max_configs, **kwargs):
    """Compare initializers, activations, depths... in one table and one figure.

    Any network option takes a comma list (or start:stop:count); every combination runs
    with the same seed, so configurations of equal input width and batch share the input.

    \b
    gradsim compare --init he,xavier,normal,torch_default --act relu --depth 152
    gradsim compare --act tanh,relu --init xavier --gain 1,1.414,1.667 --plot cmp.png
    """
    from gradsim import compare
    from gradsim.report import export

    axes, configs = configs_from(kwargs, max_configs)
    for path in (output,):
        if path:
            export.check_writable(path)
    if plot_path:
        from gradsim.report.plots import check_figure_path

        check_figure_path(plot_path)
    results = compare.run_all(configs)
    d = compare.to_dict(axes, results)
    if fmt == "json":
        text = export.to_json(d)
    elif fmt == "csv":
        text = export.compare_csv(d)
    else:
        from gradsim.report.table import render_compare

        renderable = render_compare(axes, results)
        text = render_text(renderable) if output else None
        if not output:
            console().print(renderable)
    if plot_path:
        from gradsim.report.plots import plot_result, save_figure

        save_figure(plot_result(d), plot_path)
    if output:
        export.write_atomic(output, text)
    elif text is not None:
        click.echo(text, nl=False)
