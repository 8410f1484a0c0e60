"""Sweeps: a grid of configurations × seeds, run into a resumable store, on one core, on
every core, or on a Dask cluster.

>>> from gradsim.sweeps import Grid, Store, execute, plan, executor     # doctest: +SKIP
>>> grid = Grid({"depth": (10, 50), "init": ("he", "xavier")}, seeds=3)
>>> with Store.open("results") as store:
...     p = plan(grid, store)
...     for n in execute(p, store, executor(jobs=2)): pass
...     agg = aggregate(grid, records(p, store))

``grid``: expansion and seeds; ``store``: the SQLite file; ``tasks``: what a worker runs
(small networks stacked, ``gradsim.simulation.simulate_many``); ``executors``: where;
``runner``: plan and execute; ``aggregate``: statistics over the seeds.
"""

from gradsim.sweeps.aggregate import aggregate
from gradsim.sweeps.executors import executor
from gradsim.sweeps.grid import GRID_VERSION, Grid, Run, derive_seed, point_key
from gradsim.sweeps.runner import (
    Plan,
    Session,
    SweepResult,
    check_memory_for,
    execute,
    plan,
    records,
)
from gradsim.sweeps.store import STORE_FORMAT, Store, store_path

__all__ = [
    "GRID_VERSION",
    "STORE_FORMAT",
    "Grid",
    "Plan",
    "Run",
    "Session",
    "Store",
    "SweepResult",
    "aggregate",
    "check_memory_for",
    "derive_seed",
    "execute",
    "executor",
    "plan",
    "point_key",
    "records",
    "store_path",
]
