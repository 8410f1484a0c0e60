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
from gradsim.options import CONNECT_TIMEOUT, WORKER_TIMEOUT


def cpu_count() -> int:
    """Cores this process may use (gradsim.threads.cores: affinity and CPU quota)."""
    from gradsim.threads import cores

    return cores()


class Serial:
    """Every task in this process, one after the other (--jobs 1)."""

    workers = 1
    label = "in this process"

    def run(self, fn: Callable, tasks: list) -> Iterator:
        return (fn(t) for t in tasks)

    def close(self) -> None:
        pass


class Processes:
    """``jobs`` worker processes, each with one BLAS thread (gradsim.threads: the numbers
    do not depend on a thread count, and the processes never oversubscribe the cores).

    On Linux the workers are forked, which costs milliseconds, and hold their inherited
    BLAS to one thread through threadpoolctl; elsewhere they are spawned with
    OPENBLAS_NUM_THREADS & co. in their environment, read when NumPy loads in the fresh
    process."""

    def __init__(self, jobs: int):
        self.workers = jobs
        self.threads = 1
        self.label = f"{jobs} processes"
        self._pool = None
        self._env: dict[str, str | None] = {}
        self._futures: list = []

    def start(self) -> None:
        """Start the worker processes now (they boot while the caller prepares the work)."""
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from gradsim.sweeps.tasks import init_worker
        from gradsim.threads import THREAD_VARS

        if self._pool is not None:
            return
        if sys.platform.startswith("linux"):
            ctx = mp.get_context("fork")
        else:
            ctx = mp.get_context("spawn")
            self._env = {v: os.environ.get(v) for v in THREAD_VARS}
            os.environ.update({v: str(self.threads) for v in THREAD_VARS})
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=init_worker,
            initargs=(self.threads, os.getpid()),
        )  # fmt: skip
        self._submit([(os.getpid, ())] * self.workers)  # every worker forks, initializes

    def _submit(self, calls: list[tuple[Callable, tuple]]) -> list:
        import warnings

        with warnings.catch_warnings():
            # Python ≥ 3.12 warns on fork() while the BLAS has threads; its pool is idle and
            # OpenBLAS re-initializes it in the child (pthread_atfork)
            warnings.simplefilter("ignore", DeprecationWarning)
            return [self._pool.submit(fn, *args) for fn, args in calls]

    def run(self, fn: Callable, tasks: list) -> Iterator:
        self.start()
        self._futures = self._submit([(fn, (t,)) for t in tasks])
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


def executor(jobs: int | None = None, scheduler: str | None = None,
             timeout: float = CONNECT_TIMEOUT, worker_timeout: float = WORKER_TIMEOUT):  # fmt: skip
    """The executor for --jobs / --scheduler (jobs: None = every core); with a scheduler,
    ``timeout`` to connect and ``worker_timeout`` to wait when every worker is lost
    (gradsim.sweeps.cluster)."""
    if scheduler is not None:
        from gradsim.sweeps.cluster import Dask

        return Dask(scheduler, timeout, worker_timeout)
    jobs = cpu_count() if jobs is None else jobs
    most = max(8, 4 * cpu_count())  # every worker is a process: none forks without bound
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= most:
        raise GradsimError(f"--jobs must be a whole number from 1 to {most} (4 per core) "
                           f"(got {jobs!r})")  # fmt: skip
    return Serial() if jobs == 1 else Processes(jobs)
