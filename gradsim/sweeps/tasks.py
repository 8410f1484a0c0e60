"""What a worker does: run a task (a list of runs) and return its records.

This module is what worker processes and Dask workers import; it needs NumPy and gradsim's
numerical core only. Small networks of one shape are computed as one stack, larger ones one
by one (``simulation.simulate_many``); a run's numbers never depend on its stack, so a
record never depends on the task it was in or the executor.
"""

from __future__ import annotations

import itertools
import math
import os

from gradsim._version import __version__
from gradsim.activations import ACTIVATIONS
from gradsim.config import RunConfig
from gradsim.initializers import INITIALIZERS
from gradsim.memory import estimate_bytes, keep_freed_memory
from gradsim.network import shape_key
from gradsim.result import Result, clean, num
from gradsim.simulation import STACK_RUNS, simulate_many, stackable
from gradsim.sweeps.grid import Run
from gradsim.sweeps.store import LAYER_FIELDS, Row, encode

STACK_MIN = 6  # a task holds at least this many runs of a shape, where there are as many
TASK_SECONDS = 0.25  # about this much work per task: progress, balance and loss on a kill
TASK_BYTES = 256 * 2**20  # memory of one task's stack
TASKS_PER_WORKER = 5  # at least, where runs are many enough for stacks of STACK_MIN


def seconds(cfg: RunConfig) -> float:
    """A rough cost of one run on one core (measured at n = B = 64): three products per
    layer at ~40 GFLOP/s, the elementwise steps at ~4 ns per entry of H for piecewise-linear
    φ and ~8 ns for those with a transcendental function (tanh, exp), the weight draws (~15
    ns an entry, ~2 ns where a stack shares them between a replica's runs) and ~1 ms of
    bookkeeping."""
    pairs = list(itertools.pairwise(cfg.layer_widths))
    flops = sum(6.0 * cfg.batch * a * b for a, b in pairs)
    entries = cfg.batch * sum(cfg.layer_widths[1:])
    per_entry = 4e-9 if ACTIVATIONS[cfg.activation].homogeneous else 8e-9
    shared = stackable(cfg) and not INITIALIZERS[cfg.init].data_driven
    draw = 2e-9 if shared else 15e-9
    return flops / 4e10 + entries * per_entry + sum(a * b for a, b in pairs) * draw + 1e-3


def make_tasks(runs: list[Run], workers: int, chunk: int | None = None) -> list[list[Run]]:
    """Split runs into tasks: stackable runs of one shape together, a replica's runs side
    by side (they share their draws), in equal parts of at most ``chunk`` runs (default:
    ~TASK_SECONDS of work, within TASK_BYTES, and small enough for TASKS_PER_WORKER tasks
    per worker, but not below STACK_MIN runs); other runs one per task. Longest first."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        key = shape_key(run.config) if stackable(run.config) else ("single", len(groups))
        groups.setdefault(key, []).append(run)
    # five tasks per worker at least: the sweep ends with one worker's last task, so the
    # tail that one worker idles while the other finishes is about half a task (≈ 10%)
    balance = max(STACK_MIN, math.ceil(len(runs) / (TASKS_PER_WORKER * max(workers, 1))))
    tasks = []
    for group in groups.values():
        # a replica's runs of one shape share their seed, hence their draws (build_stack)
        group.sort(key=lambda r: r.replica)
        cfg = group[0].config
        if chunk is not None:
            size = chunk
        elif not stackable(cfg):
            size = 1
        else:
            size = min(
                STACK_RUNS,
                max(1, int(TASK_SECONDS / seconds(cfg))),
                max(1, TASK_BYTES // max(estimate_bytes(cfg), 1)),
                balance,
            )
        parts = math.ceil(len(group) / size)  # as many tasks as needed, evenly filled
        cuts = [len(group) * i // parts for i in range(parts + 1)]
        tasks += [group[a:b] for a, b in itertools.pairwise(cuts)]
    # longest first: the workers take tasks in this order, so the short ones fill the gaps
    # at the end and the workers finish together (a stable sort keeps the grid's order)
    tasks.sort(key=lambda t: -seconds(t[0].config) * len(t))
    return tasks


def record(run: Run, result: Result) -> dict:
    """The stored form of a run: its key, configuration, summary (without the sentences)
    and per-layer log10 norms, with the names and nulls of ``gradsim run --format json``."""
    summary = clean(vars(result.summary))  # a new dict: clean copies while it cleans
    summary.pop("sentences", None)
    return {
        "point": run.point,
        "replica": run.replica,
        "seed": run.config.seed,
        "config": clean(result.config.to_dict()),
        "summary": summary,
        "layers": {f: [num(x) for x in result.column(f).tolist()] for f in LAYER_FIELDS},
        "gradsim": __version__,
    }


def run_task(task: list[Run]) -> list[Row]:
    """The records of a task's runs, in order, encoded for the store."""
    # one stack per shape (gradsim.simulation.stacks_of); a record holds no moments
    results = simulate_many([r.config for r in task], moments=False)
    return [encode(record(run, res)) for run, res in zip(task, results, strict=True)]


# ---------------------------------------------------------------- worker processes


def init_worker(threads: int, parent: int) -> None:
    """Initializer of a worker process: BLAS and OpenMP pools of ``threads`` threads (one:
    gradsim.threads), Ctrl-C left to the parent, and an exit when the parent process
    ``parent`` dies (killed with -9, say), instead of waiting forever for work."""
    import signal

    from gradsim.threads import THREAD_VARS, hold_blas

    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    hold_blas(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        try:  # the kernel sends SIGKILL when the parent dies: prctl(PR_SET_PDEATHSIG)
            ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        else:
            if os.getppid() != parent:  # it died before the prctl
                os._exit(1)
            return
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="gradsim-parent-watch").start()


def worker_info() -> dict:
    """What a worker runs with (for tests and the benchmark)."""
    from gradsim.threads import blas_threads

    return {"pid": os.getpid(), "blas_threads": blas_threads(), "gradsim": __version__}
