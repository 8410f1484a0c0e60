"""Where a sweep's tasks run: in this process, in worker processes, or on a Dask cluster
(gradsim.sweeps.cluster).

Every executor has ``workers`` (how many tasks run at once), ``label`` (for the user) and
``run(fn, tasks)``, which submits every task at once and returns an iterator over their
results in the order they finish; ``close()`` stops whatever is still running. They all
call the same ``fn`` on the same tasks, so they give the same records.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

from gradsim.errors import GradsimError


def cpu_count() -> int:
    """Cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Serial:
    """Every task in this process, one after the other (--jobs 1)."""

    workers = 1
    label = "in this process"

    def run(self, fn: Callable, tasks: list) -> Iterator:
        return (fn(t) for t in tasks)

    def close(self) -> None:
        pass


class Processes:
    """``jobs`` worker processes, each with cores // jobs BLAS threads (at least one), so
    that the processes do not oversubscribe the cores.

    On Linux the workers are forked, which costs milliseconds, and set their inherited BLAS
    to its share of threads through the library's own API (``threads``); elsewhere, or if
    the BLAS is not one ``threads`` knows, they are spawned with OPENBLAS_NUM_THREADS & co.
    in their environment, read when NumPy loads in the fresh process."""

    def __init__(self, jobs: int):
        self.workers = jobs
        self.threads = max(1, cpu_count() // jobs)
        self.label = f"{jobs} processes"
        self._pool = None
        self._env: dict[str, str | None] = {}
        self._futures: list = []

    def run(self, fn: Callable, tasks: list) -> Iterator:
        import multiprocessing as mp
        import warnings
        from concurrent.futures import ProcessPoolExecutor

        from gradsim.sweeps.tasks import THREAD_VARS, init_worker
        from gradsim.sweeps.threads import blas_threads

        if sys.platform.startswith("linux") and blas_threads() is not None:
            ctx = mp.get_context("fork")
        else:
            ctx = mp.get_context("spawn")
            self._env = {v: os.environ.get(v) for v in THREAD_VARS}
            os.environ.update({v: str(self.threads) for v in THREAD_VARS})
        self._pool = ProcessPoolExecutor(
            max(1, min(self.workers, len(tasks))), mp_context=ctx,
            initializer=init_worker, initargs=(self.threads, os.getpid()),
        )  # fmt: skip
        with warnings.catch_warnings():
            # Python ≥ 3.12 warns on fork() while the BLAS has threads; its pool is idle and
            # OpenBLAS re-initializes it in the child (pthread_atfork)
            warnings.simplefilter("ignore", DeprecationWarning)
            self._futures = [self._pool.submit(fn, t) for t in tasks]
        return self._collect()

    def _collect(self) -> Iterator:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        try:
            for f in as_completed(self._futures):
                try:
                    yield f.result()
                except BrokenProcessPool:
                    raise GradsimError(
                        "a worker process died (out of memory?); the finished runs are in "
                        "the store: rerun to continue, with fewer --jobs"
                    ) from None
        finally:
            self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for f in self._futures:
                f.cancel()
            finished = all(f.done() for f in self._futures)
            if not finished:  # interrupted: stop the workers
                for p in list(getattr(pool, "_processes", {}).values()):
                    p.terminate()
            # every result is in: the workers exit in the background (the pool's own thread
            # joins them, and Python waits for it at exit) instead of holding up the sweep
            pool.shutdown(wait=not finished, cancel_futures=True)
        for var, value in self._env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        self._env = {}


def executor(jobs: int | None = None, scheduler: str | None = None, timeout: float = 5.0,
             worker_timeout: float = 60.0):  # fmt: skip
    """The executor for --jobs / --scheduler (jobs: None = every core); with a scheduler,
    ``timeout`` to connect and ``worker_timeout`` to wait when every worker is lost
    (gradsim.sweeps.cluster)."""
    if scheduler is not None:
        from gradsim.sweeps.cluster import Dask

        return Dask(scheduler, timeout, worker_timeout)
    jobs = cpu_count() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise GradsimError(f"--jobs must be a whole number of at least 1 (got {jobs!r})")
    return Serial() if jobs == 1 else Processes(jobs)
