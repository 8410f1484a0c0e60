"""What every result-producing command shares: --format, --output, --plot, and writing them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import click

from gradsim.cli._console import console, render_text
from gradsim.errors import GradsimError

# the format an --output file's extension names
EXTENSIONS = {".json": "json", ".csv": "csv", ".txt": "table"}


def plot_option(help: str):
    """--plot FILE (.png, .svg or .pdf)."""
    return click.option(
        "--plot",
        "plot_path",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help=help,
    )


def output_options(plot_help: str | None = None, formats=("table", "json", "csv")):
    """--format (one of ``formats``), --output FILE, and --plot FILE if ``plot_help``."""

    def deco(f):
        body = f

        @functools.wraps(body)
        def command(*args, fmt=None, output=None, **kwargs):
            return body(*args, fmt=resolve_format(fmt, output, formats), output=output, **kwargs)

        f = command
        if plot_help:
            f = plot_option(plot_help)(f)
        f = click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False),
            default=None,
            help="Write the report to FILE (atomically), not the terminal.",
        )(f)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=None,
            help="What to print (or write with --output) [default: the --output file's "
            "extension (" + ", ".join(e for e, k in EXTENSIONS.items() if k in formats) + "), "
            "else table].",
        )(f)

    return deco


def resolve_format(fmt: str | None, output: str | None, formats=("table", "json", "csv"),
                   default: str = "table") -> str:  # fmt: skip
    """--format, or the one the --output file's extension names (.json, .csv, .txt), or
    table; an extension naming another format than --format's, or one this command does not
    write, is refused before any work; else ``default``."""
    ext = Path(output).suffix.lower() if output else ""
    named = EXTENSIONS.get(ext)
    if named == "table" and "table" not in formats:  # .txt: any text, for export
        named = None
    if fmt is not None and named is not None and named != fmt:
        raise GradsimError(f"--format {fmt} does not match --output {output} (a {ext} file "
                           f"holds {named}): change one of them")  # fmt: skip
    if fmt is None and named is not None and named not in formats:
        raise GradsimError(f"--output {output}: this command writes "
                           f"{' or '.join(formats)}, not {named}")  # fmt: skip
    return fmt or named or default


def say_figure(path) -> None:
    """Where a figure went, on stderr (stdout may be JSON or CSV)."""
    click.echo(f"figure: {path}", err=True)


def check_outputs(output: str | None, plot_path: str | None, extra: dict | None = None,
                  inputs: dict | None = None) -> None:  # fmt: skip
    """Refuse, before any work is done, unwritable paths, unknown figure suffixes, an
    output that is an input, and two outputs at one path (``extra``, ``inputs``: more
    paths by option name)."""
    from gradsim.files import check_distinct, check_writable

    outputs = {"--output": output, "--plot": plot_path, **(extra or {})}
    for name, path in outputs.items():
        if path is not None:
            check_writable(path, name)
    if plot_path is not None:
        from gradsim.report.figures.common import check_figure_path

        check_figure_path(plot_path)
    check_distinct(outputs, inputs)


def emit(
    fmt: str,
    output: str | None,
    plot_path: str | None,
    d: dict,
    to_csv: Callable[[dict], str] | None,
    renderable: Callable[[], object],
) -> None:
    """Print or write the report in ``fmt`` and draw the figure of ``d`` if asked."""
    from gradsim.report import export

    if fmt == "json":
        text = export.to_json(d)
    elif fmt == "csv":
        text = to_csv(d)
    else:
        r = renderable()
        text = render_text(r) if output else None
        if not output:
            console().print(r)
    if plot_path:
        from gradsim.report.figures.common import save_figure
        from gradsim.report.figures.registry import plot_result

        save_figure(plot_result(d), plot_path)
        say_figure(plot_path)
    if output:
        export.write_atomic(output, text)
    elif text is not None:
        click.echo(text, nl=False)
