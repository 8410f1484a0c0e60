"""gradsim explore: the simulator live in the browser (the optional extra ``explore``)."""

from __future__ import annotations

import click

from gradsim.cli.group import cli
from gradsim.errors import GradsimError

INSTALL = "pip install 'gradsim[explore]'"


@cli.command("explore")
@click.option("--port", type=int, default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Print the URL but do not open a browser.")
def explore_cmd(port, no_browser):
    """Open a page where the network's controls rerun the pass as they move: per-layer
    curves, the verdict, histograms, the mean-field prediction, pinned networks, short
    training runs, a shareable URL. Serves on 127.0.0.1 only; Ctrl-C stops it.

    \b
    gradsim explore
    gradsim explore --port 8765 --no-browser
    """
    from importlib.util import find_spec

    missing = [m for m in ("starlette", "uvicorn") if find_spec(m) is None]
    if missing:  # the extra is not installed
        raise GradsimError(f"gradsim explore needs {' and '.join(missing)}: {INSTALL}")
    from gradsim.explore.server import serve

    serve(port, open_browser=not no_browser, echo=lambda s: click.echo(s))
