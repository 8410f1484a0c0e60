"""gradsim plot: redraw a saved result (run, compare, phase, spectrum, train) without
recomputing."""

from __future__ import annotations

import click

from gradsim.cli.group import cli
from gradsim.errors import GradsimError


def load_result(path: str) -> dict:
    """A gradsim result of a kind ``plot_result`` draws, from a JSON file, or a one-line
    GradsimError."""
    from gradsim.files import read_json
    from gradsim.report.figures.registry import FIGURES

    d = read_json(path)
    if not isinstance(d, dict) or "gradsim" not in d or d.get("kind") not in tuple(FIGURES):
        raise GradsimError(f"{path} is not a gradsim {', '.join(FIGURES)} result")
    return d


@cli.command("plot")
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              metavar="FIG", help="The figure to write: .png, .svg or .pdf.")  # fmt: skip
def plot_cmd(result, output):
    """Draw the figure of a saved result (run, compare, spectrum, train: --format json;
    phase: --data).

    \b
    gradsim run --depth 152 --init xavier --hist --format json -o run.json
    gradsim plot run.json -o run.png
    """
    from gradsim.files import check_distinct
    from gradsim.report.figures.common import check_figure_path, save_figure
    from gradsim.report.figures.registry import plot_result

    check_figure_path(output)
    check_distinct(outputs={"--output": output}, inputs={"RESULT": result})
    d = load_result(result)
    try:
        fig = plot_result(d)
    except GradsimError as e:
        raise GradsimError(f"{result}: {e}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        # the file is a result of a known kind whose fields are missing or of the wrong type
        raise GradsimError(f"{result} is a damaged gradsim {d['kind']} result "
                           f"({type(e).__name__}: {e})") from None  # fmt: skip
    save_figure(fig, output)
