"""gradsim sweep: a grid × seeds into a resumable store; gradsim export: the store as files."""

from __future__ import annotations

import logging

import click

from gradsim.cli._console import show_progress
from gradsim.cli._output import plot_option
from gradsim.cli.group import cli
from gradsim.cli.options import given, network_options
from gradsim.errors import GradsimError
from gradsim.options import CONNECT_TIMEOUT, OPTIONS, WORKER_TIMEOUT


def _grid(ctx: click.Context, grid_file: str | None, kwargs: dict, seeds: int | None):
    """The sweep's Grid (gradsim.sweeps.gridfile.grid_of): the grid file's values, replaced
    by the options given on the command line; the network options are popped from
    ``kwargs``."""
    from gradsim.sweeps.gridfile import grid_of

    raw = {o.dest: kwargs.pop(o.dest) for o in OPTIONS}
    return grid_of(grid_file, {k: v for k, v in raw.items() if given(ctx, k)}, seeds)


@cli.command("sweep")
@click.argument("grid_file", required=False, metavar="[GRID.toml]", type=click.Path(dir_okay=False))
@network_options(listable=True)
@click.option(
    "--seeds",
    type=int,
    default=None,
    metavar="N",
    help="Runs per point, each with a seed derived from --seed and the point. [default: 1]",
)
@click.option(
    "--out",
    "out",
    default="results",
    show_default=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Folder of the store (DIR/sweep.db), created if missing; a rerun skips the runs it holds.",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=None,
    metavar="N",
    help="Worker processes [default: every core].",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on the workers of this Dask scheduler instead (pip install 'gradsim[dask]').",
)
@click.option(
    "--connect-timeout",
    type=float,
    default=CONNECT_TIMEOUT,
    show_default=True,
    metavar="S",
    help="Give up on --scheduler after S seconds.",
)
@click.option(
    "--worker-timeout",
    type=float,
    default=WORKER_TIMEOUT,
    show_default=True,
    metavar="S",
    help="With --scheduler: when every worker is lost, wait S seconds for one, then stop "
    "(the finished runs stay in the store).",
)
@click.option("--force", is_flag=True, help="Rerun every run of the grid, replacing stored ones.")
@click.option(
    "--csv", "csv_out", is_flag=True, help="Also write DIR/sweep.csv: one row per run of this grid."
)
@plot_option("Draw the median δ ratio over --x (and --y) to FILE.")
@click.option(
    "--x",
    "x_axis",
    default=None,
    metavar="AXIS",
    help="Option along the figure's x axis [default: the first varying one].",
)
@click.option(
    "--y",
    "y_axis",
    default=None,
    metavar="AXIS",
    help="Option along its y axis: a heatmap (without it: lines with bands).",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Runs per task [default: about a quarter second of work].",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Refuse grids with more runs.",
)
@click.option("--table/--no-table", default=True, help="Print the table over seeds.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar [default: on a terminal, not in CI].",
)
@click.pass_context
def sweep_cmd(ctx, grid_file, seeds, out, jobs, scheduler, connect_timeout, worker_timeout,
              force, csv_out, plot_path, x_axis, y_axis, chunk, max_runs, table, progress,
              **kwargs):  # fmt: skip
    """Run every combination of option values, several seeds each, into a store.

    Any network option takes a comma list or start:stop:count, or the axes come from a
    grid file (the same names, in TOML). --seed is the master seed: every point runs
    --seeds times; replica r's seed derives from the master seed, r and the network's
    shape (points of one shape share it: common random numbers). Runs are
    stored in DIR/sweep.db as they finish; rerunning the command computes only what is
    missing, so an interrupted sweep resumes.

    \b
    gradsim sweep --depth 10,50,100,152 --init he,xavier --act relu,tanh \\
                  --gain 0.5:2.0:16 --seeds 5 --out results/ --plot map.png --x depth --y gain
    gradsim sweep examples/grids/depth_gain_tanh_relu.toml --csv
    gradsim sweep grid.toml --scheduler tcp://10.0.0.5:8786
    """
    from gradsim.files import check_distinct, check_writable
    from gradsim.report.figures.sweep import choose_axes
    from gradsim.sweeps import Session
    from gradsim.sweeps.aggregate import varying_axes
    from gradsim.sweeps.store import store_path

    grid = _grid(ctx, grid_file, kwargs, seeds)
    if scheduler is not None:
        _quiet_dask()
    if y_axis is not None and x_axis is None:
        raise GradsimError("--y needs --x")
    if x_axis is not None and plot_path is None:
        raise GradsimError("--x (and --y) choose the axes of --plot: give --plot FILE too")
    db = store_path(out)
    check_distinct({"--out": db, "--plot": plot_path, "--csv": db.parent / "sweep.csv" if csv_out
                    else None}, {"GRID.toml": grid_file})  # fmt: skip
    if plot_path:  # the axes to draw must exist before anything is computed
        choose_axes(varying_axes(grid), x_axis, y_axis)
    with Session(grid, out, jobs=jobs, scheduler=scheduler, connect_timeout=connect_timeout,
                 force=force, max_runs=max_runs, chunk=chunk,
                 worker_timeout=worker_timeout) as s:  # fmt: skip
        if plot_path:  # (the figure may go into DIR: checked once the store made it)
            from gradsim.report.figures.common import check_figure_path

            check_figure_path(plot_path)
        if csv_out:
            check_writable(s.store.path.parent / "sweep.csv")
        _execute(s, show_progress(progress))
        _report(s.result(), table, csv_out, plot_path, x_axis, y_axis)


def _quiet_dask() -> None:
    """Dask's failures reach the user as one line (gradsim.sweeps.cluster), not as its logs:
    its loggers (each with its own level once distributed is imported) and asyncio's say
    nothing below CRITICAL."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return  # the executor says how to install it
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(logging.CRITICAL)
    # a wait for a result that the lost cluster never gave ends as "Task exception was
    # never retrieved" at exit: the one line has said what happened
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def _execute(s, show: bool) -> None:
    """Run the pending runs, with a progress bar on stderr if ``show``."""
    events = s.run()
    try:
        if not show or not s.plan.pending:
            for _ in events:
                pass
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,  # fmt: skip
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task):
                return Text(f"{task.speed:.3g} runs/s" if task.speed else "", style="cyan")

        class Status(ProgressColumn):  # what the sweep waits for: a lost cluster's workers
            def render(self, task):
                return Text(getattr(s.executor, "status", ""), style="yellow")

        stored = f" ({s.plan.stored} stored)" if s.plan.stored else ""
        with Progress(TextColumn(f"sweep · {s.executor.label}{stored}"), BarColumn(),
                      MofNCompleteColumn(), Rate(), TimeElapsedColumn(), TextColumn("eta"),
                      TimeRemainingColumn(), Status(), console=Console(stderr=True),
                      transient=True) as bar:  # fmt: skip
            task = bar.add_task("runs", total=len(s.plan.pending))
            for n in events:
                bar.advance(task, n)
    except KeyboardInterrupt:
        events.close()
        click.echo(f"gradsim: interrupted; {s.store.count()} runs are in {s.store.path}: rerun "
                   "the same command to continue", err=True)  # fmt: skip
        raise click.exceptions.Abort() from None


def _report(res, table, csv_out, plot_path, x_axis, y_axis) -> None:
    from gradsim.report.export import write_atomic

    if table:
        from gradsim.cli._console import console
        from gradsim.report.tables.sweep import render_sweep

        console().print(render_sweep(res.aggregate, res.head))
    if csv_out:
        from gradsim.report.export_sweep import records_csv

        write_atomic(res.path.parent / "sweep.csv", records_csv(res.records))
    if plot_path:
        from gradsim.cli._output import say_figure
        from gradsim.report.figures.common import save_figure

        save_figure(res.figure(x=x_axis, y=y_axis), plot_path)
        say_figure(plot_path)


@cli.command("export")
@click.argument("store", metavar="DIR", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="csv: one row per run; json: every record [default: the --output file's extension "
    "(.csv, .json), else csv].",
)
@click.option(
    "--layers", is_flag=True, help="csv: one row per run and layer, with the per-layer log10 norms."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to FILE (atomically), not the terminal.",
)
def export_cmd(store, fmt, layers, output):
    """Write every run in a sweep store (DIR/sweep.db) as CSV or JSON, for pandas.

    \b
    gradsim export results/ -o runs.csv                  # pandas.read_csv("runs.csv")
    gradsim export results/ --layers -o layers.csv       # long form, one row per layer
    gradsim export results/ --format json -o runs.json
    """
    from gradsim.cli._output import resolve_format
    from gradsim.files import check_distinct, check_writable, write_atomic
    from gradsim.report import export_sweep
    from gradsim.sweeps import Store
    from gradsim.sweeps.store import store_path

    fmt = resolve_format(fmt, output, ("csv", "json"), default="csv")
    if layers and fmt != "csv":
        raise GradsimError("--layers applies to --format csv")
    if output is not None:
        check_writable(output, "--output")
        db = store_path(store)
        check_distinct({"--output": output}, {"DIR": db, "its journal": f"{db}-wal",
                                              "its index": f"{db}-shm"})  # fmt: skip
    with Store.open(store, create=False) as st:
        records = list(st.records(layers=fmt == "json" or layers))
    if fmt == "json":
        text = export_sweep.records_json(records)
    else:
        text = (export_sweep.layers_csv if layers else export_sweep.records_csv)(records)
    if output is not None:
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)
