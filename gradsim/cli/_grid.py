"""A sweep's grid from the command line: a grid file's axes (gradsim.sweeps.gridfile),
replaced by the options given on the command line."""

from __future__ import annotations

import click

from gradsim.cli.options import given
from gradsim.options import OPTIONS
from gradsim.sweeps.grid import Grid
from gradsim.sweeps.gridfile import grid_of


def grid_from(ctx: click.Context, grid_file: str | None, kwargs: dict, seeds: int | None) -> Grid:
    """The sweep's Grid (gradsim.sweeps.gridfile.grid_of): the grid file's values, replaced
    by the options given on the command line; the network options are popped from
    ``kwargs``."""
    raw = {o.dest: kwargs.pop(o.dest) for o in OPTIONS}
    return grid_of(grid_file, {k: v for k, v in raw.items() if given(ctx, k)}, seeds)
