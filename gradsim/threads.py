"""Threads and cores: how many cores gradsim may use, the BLAS held to one thread, and a pool
of threads for the work that splits without changing a number (drawing layers).

**One BLAS thread.** OpenBLAS splits a product between its threads in a way that changes
the rounding: the same float32 gemm gives other last bits on 2 threads than on 1, and over
152 layers the difference grows to 5·10⁻⁵ in a δ ratio. Its threads also spin-wait at every
product for a core that another process may hold: `gradsim train` took 40× longer under
load with 2 BLAS threads than with 1. So every product of gradsim runs on one BLAS thread
(threadpoolctl, the maintained library that sets it), and the numbers depend only on the
configuration; gradsim gets its parallelism where it changes no number: layers drawn in
threads (NumPy's generators release the GIL while they fill), drawing ahead of the pass,
and sweeps' worker processes, one per core.

**Cores.** Those this process may run on: its affinity mask, capped by a cgroup CPU quota
(containers), never below 1.
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

# what the BLAS and OpenMP libraries read for their thread count when they load
THREAD_VARS = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)  # fmt: skip
_POOL: ThreadPoolExecutor | None = None
_LIMITS = None  # the process-wide threadpoolctl limit (kept alive while it applies)


def cores() -> int:
    """Cores this process may use: the affinity mask, capped by the cgroup's CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota) if quota else n)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cgroup_quota() -> int | None:
    """ceil(quota / period) of the cgroup's CPU limit (v2 cpu.max, v1 cfs), or None."""
    v2 = _read("/sys/fs/cgroup/cpu.max")  # "max 100000" or "150000 100000"
    if v2 is not None:
        quota, _, period = v2.partition(" ")
    else:
        quota = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or "-1"
        period = _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") or "100000"
    if quota in ("max", "-1"):
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period or 100000)))
    except (ValueError, ZeroDivisionError):
        return None


def one_thread_at_load() -> None:
    """Ask every BLAS to start with one thread (each variable the user's environment does
    not set); the ``gradsim`` command calls this before NumPy loads (gradsim.console). The
    BLAS then starts no idle thread at all: OpenBLAS's spin-waits for about 0.1 s of CPU when
    the library starts and again after every fork (a sweep's parent and each of its
    workers), cores the work needs. The command holds the BLAS to one thread anyway
    (``hold_blas``); this spares the idle ones."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


def hold_blas(n: int = 1) -> None:
    """Hold every loaded BLAS (and OpenMP pool) of this process to ``n`` threads, for the
    rest of the process: the CLI and sweep workers call this first."""
    global _LIMITS
    from threadpoolctl import threadpool_limits

    _LIMITS = threadpool_limits(limits=n, user_api="blas")


@contextlib.contextmanager
def one_blas_thread():
    """One BLAS thread within the block, the caller's setting restored after (the Python
    API's functions run in it; about half a millisecond to enter)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def blas_threads() -> int | None:
    """The thread count of the first loaded BLAS, or None if none is found."""
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else None


def pool() -> ThreadPoolExecutor:
    """The process's pool of ``cores()`` threads, started on first use."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="gradsim")
    return _POOL
