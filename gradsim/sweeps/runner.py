"""Run a grid into a store: skip what is stored, compute the rest, commit as tasks finish;
``Session`` does it all in order, and ``SweepResult`` is what it gives back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gradsim._version import __version__
from gradsim.display import Display
from gradsim.errors import GradsimError
from gradsim.memory import check_memory
from gradsim.options import CONNECT_TIMEOUT, WORKER_TIMEOUT, check_whole
from gradsim.sweeps.aggregate import aggregate
from gradsim.sweeps.grid import Grid, Run
from gradsim.sweeps.store import Row, Store, read_only
from gradsim.sweeps.tasks import make_tasks, run_task

MAX_RUNS = 100_000  # the largest grid a sweep takes by default
# seconds of work (sweeps.tasks.seconds) below which a sweep runs in this process: less than
# the workers' start-up and their first touch of memory (measured: ~0.1 s on 2 cores)
WORKER_START = 0.15


def _seconds(p: Plan) -> float:
    from gradsim.sweeps.tasks import seconds

    return sum(seconds(r.config) for r in p.pending)


@dataclass(frozen=True)
class Plan:
    """The grid's runs, and those still to compute (all of them with ``force``)."""

    grid: Grid
    runs: list[Run]
    pending: list[Run]
    force: bool = False

    @property
    def stored(self) -> int:
        """Runs of the grid already in the store and kept."""
        return len(self.runs) - len(self.pending)

    @property
    def points(self) -> int:
        return len({r.point for r in self.runs})


def check_size(grid: Grid, max_runs: int | None) -> None:
    """Refuse a grid of more than ``max_runs`` runs, before expanding it."""
    check_whole(max_runs, "--max-runs")
    if max_runs is not None and grid.size > max_runs:
        raise GradsimError(
            f"the grid has {grid.size} runs, more than --max-runs {max_runs}: shorten an "
            "axis or raise --max-runs"
        )


def plan(grid: Grid, store: Store, force: bool = False, max_runs: int | None = None) -> Plan:
    """The runs of ``grid`` and which of them ``store`` lacks (``check_size`` first)."""
    check_size(grid, max_runs)
    runs = grid.runs()
    done = set() if force else store.keys()
    pending = [r for r in runs if (r.point, r.config.seed) not in done]
    return Plan(grid, runs, pending, force)


def check_memory_for(plan: Plan, workers: int) -> None:
    """Refuse a sweep whose largest run does not fit, or does not fit ``workers`` times."""
    from gradsim.memory import available_bytes, estimate_bytes

    if not plan.pending:
        return
    big = max((r.config for r in plan.pending), key=estimate_bytes)
    check_memory(big)
    at_once = min(workers, len(plan.pending))
    need, have = estimate_bytes(big) * at_once, available_bytes()
    if at_once > 1 and have is not None and need > 0.8 * have:
        raise GradsimError(
            f"{at_once} of the largest runs at once need about {need / 2**30:.1f} GiB but only "
            f"{have / 2**30:.1f} GiB is available: lower --jobs"
        )


def execute(plan: Plan, store: Store, executor, chunk: int | None = None) -> Iterator[int]:
    """Compute the pending runs on ``executor``, writing each finished task's records to
    ``store`` in one transaction. Yields 0 once every task is submitted, then the number of
    runs each finished task added."""
    tasks = make_tasks(plan.pending, executor.workers, chunk)
    results = executor.run(run_task, tasks) if tasks else iter(())
    yield 0
    for rows in results:
        bad = {_version_of(r) for r in rows} - {__version__}
        if bad:
            raise GradsimError(
                f"the workers run gradsim {', '.join(sorted(bad))}, this is {__version__}: "
                "install the same version where the workers run"
            )
        store.add(rows, plan.grid.seed, replace=plan.force)
        yield len(rows)


def _version_of(row) -> str:
    """The gradsim version a worker's result says it ran. Anything but a Row comes from
    another version (an older one sends dicts), whatever version it names."""
    if isinstance(row, Row):
        return row.gradsim
    version = row.get("gradsim") if isinstance(row, dict) else None
    return version if isinstance(version, str) and version != __version__ else "of another version"


def records(plan: Plan, store: Store, layers: bool = True) -> list[dict]:
    """The stored records of the plan's runs, in the grid's order (``layers=False``:
    without the per-layer norms, all that the aggregate and the CSV need)."""
    return list(store.records(((r.point, r.config.seed) for r in plan.runs), layers=layers))


@dataclass(frozen=True)
class SweepResult(Display):
    """A finished sweep: its plan (``runs``, what was ``new`` and ``stored``), the store's
    path, the records of the grid's runs and their ``aggregate`` over seeds (what the table
    and the figures read). ``to_dict()`` is the aggregate; ``figure(x=, y=)`` the heatmap
    (with ``y``) or lines with bands, as ``gradsim sweep --plot`` draws them."""

    plan: Plan
    path: Path
    records: list[dict]
    aggregate: dict
    executor: str = ""

    def to_dict(self) -> dict:
        return self.aggregate

    @property
    def head(self) -> str:
        """One line: points × seeds = runs (new, stored) · the store."""
        p = self.plan

        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        return (f"sweep · {n(p.points, 'point')} × {n(p.grid.seeds, 'seed')} = "
                f"{n(len(p.runs), 'run')} ({len(p.pending)} new, {p.stored} stored) · "
                f"{self.path}")  # fmt: skip

    def __repr__(self) -> str:
        return f"<SweepResult {self.head}>"


class Session:
    """A sweep from start to end, in the order that makes bad input fail before any work:
    the executor (a dead scheduler fails here), the store, the plan, the memory guard;
    then ``run()`` computes what is missing, and ``result()`` reads it back.

    >>> with Session(grid, "results", jobs=2) as s:      # doctest: +SKIP
    ...     for n in s.run(): pass
    ...     r = s.result()
    """

    def __init__(self, grid: Grid, out="results", *, jobs: int | None = None,
                 scheduler: str | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 force: bool = False, max_runs: int | None = MAX_RUNS,
                 chunk: int | None = None, worker_timeout: float = WORKER_TIMEOUT):  # fmt: skip
        check_whole(chunk, "--chunk")
        self.grid, self.out, self.chunk = grid, out, chunk
        self._args = (jobs, scheduler, connect_timeout, worker_timeout)
        self._plan_args = (force, max_runs)

    def __enter__(self) -> Session:
        from gradsim.sweeps.executors import Serial, executor

        check_size(self.grid, self._plan_args[1])  # before the store exists
        self.executor = executor(*self._args)
        if hasattr(self.executor, "start"):  # the workers boot while the plan is made
            self.executor.start()
        try:
            self.store = Store.open(self.out)
            self.plan = plan(self.grid, self.store, *self._plan_args)
            auto = self._args[0] is None and self._args[1] is None  # --jobs not given
            if auto and self.executor.workers > 1 and _seconds(self.plan) < WORKER_START:
                self.executor.close()  # less work than starting workers: in this process
                self.executor = Serial()
            check_memory_for(self.plan, self.executor.workers)
            if self.plan.pending and self.store.readonly:
                raise read_only(self.store.path, len(self.plan.pending))
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise
        return self

    def __exit__(self, exc_type, *_) -> None:
        try:
            store = getattr(self, "store", None)
            if store is not None and exc_type is not None:
                store.discard()  # a refused or interrupted new store: nothing left behind
            elif store is not None:
                store.close()
        finally:
            self.executor.close()

    def run(self) -> Iterator[int]:
        """Compute the pending runs; yields the number of runs each finished task added."""
        events = execute(self.plan, self.store, self.executor, self.chunk)
        next(events)  # every task submitted: worker processes exist before any thread here
        yield from events

    def result(self) -> SweepResult:
        """The grid's stored records and their aggregate over seeds."""
        recs = records(self.plan, self.store, layers=False)
        return SweepResult(self.plan, self.store.path, recs, aggregate(self.grid, recs),
                           self.executor.label)  # fmt: skip
