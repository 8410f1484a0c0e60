"""Sweep benchmark (``make bench``): the sweep machinery against a Python loop, and the
use of every core on large networks.

What is measured, and why:

1. 200 small runs (L=50, n=64, B=64: 2 initializers × 2 activations × 10 gains × 5 seeds),
   each computed three ways in this one process:

   * loop: ``gradsim.simulate(cfg)`` for every run's configuration, one after the other,
     what a user would write;
   * sweep, one core: the whole machinery (grid, store, tasks of stacked networks through
     ``gradsim.simulation.simulate_many``, records committed to SQLite), ``--jobs 1``;
   * sweep, every core: the same with one worker process per core (``--jobs`` default),
     from start-up of the workers to the last commit.

   Target: the sweep on every core is ≥ 5× faster than the loop. The sweep's δ ratios are
   compared with the loop's (they must be equal: the batched pass is bitwise the engine's).

2. Large networks (L=24, n=768, B=256: too large to stack, each run alone): runs per second
   on one core (``--jobs 1``) and on every core, and the CPU time the workers used per
   second of wall time (cores busy). Target: close to the number of cores.

3. As 1. with 1000 runs (50 gains), one round: a sweep's fixed costs (starting the
   workers, their first touch of the memory a task needs) weigh less.

Timings in 1. are the best of 5 rounds, the three ways interleaved within each round, and
the ratio of the medians is printed beside the best (on a shared virtual machine single
timings vary by ±15%); every sweep runs into a fresh store. BLAS runs with one thread in
this process (set before NumPy loads), so "one core" means one core; worker processes get
cores // jobs threads.
Other processes' CPU use during the benchmark is printed: on a shared machine the
every-core numbers are only as good as the cores that were free. It reports, never fails.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import multiprocessing  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_run import CpuMeter, load_note  # noqa: E402

import gradsim  # noqa: E402
from gradsim.sweeps import Grid, Store, execute, plan  # noqa: E402
from gradsim.sweeps.executors import Processes, Serial, cpu_count  # noqa: E402

SMALL = Grid(
    {"depth": (50,), "width": (64,), "batch": (64,), "init": ("he", "xavier"),
     "activation": ("relu", "tanh"), "gain": tuple(np.linspace(0.5, 2.0, 10).tolist())},
    seeds=5,
)  # fmt: skip
SMALL_1000 = Grid({**SMALL.axes, "gain": tuple(np.linspace(0.5, 2.0, 50).tolist())}, seeds=5)
LARGE = Grid({"depth": (24,), "width": (768,), "batch": (256,), "gain": (0.9, 1.0, 1.1, 1.2)},
             seeds=2)  # fmt: skip
ROUNDS = 5


def sweep_once(grid: Grid, executor) -> tuple[float, float, list]:
    """(wall seconds, worker CPU seconds, stored δ ratios by point and seed) of a whole sweep
    into a fresh store."""
    folder = tempfile.mkdtemp(prefix="gradsim-bench-")
    try:
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        with Store.open(folder) as store:
            p = plan(grid, store)
            for _ in execute(p, store, executor):
                pass
            wall = time.perf_counter() - t
            ratios = dict(
                ((pt, seed), x)
                for pt, seed, x in store.conn.execute(
                    "SELECT point, seed, log10_delta_ratio FROM runs"
                )
            )
        # the workers exit after the sweep returns (the pool does not wait for them); their
        # CPU time counts once they are reaped
        while multiprocessing.active_children():
            time.sleep(0.005)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
        return wall, cpu, ratios
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def loop_once(grid: Grid) -> tuple[float, dict]:
    runs = grid.runs()
    t = time.perf_counter()
    results = [gradsim.simulate(r.config) for r in runs]
    wall = time.perf_counter() - t
    return wall, {(r.point, r.config.seed): res.summary.log10_delta_ratio
                  for r, res in zip(runs, results, strict=True)}  # fmt: skip


def bench_small(cores: int) -> None:
    n = SMALL.size
    loop, one, every = [], [], []
    ref = same = None
    for _ in range(ROUNDS):
        w, ref = loop_once(SMALL)
        loop.append(w)
        w, _, got = sweep_once(SMALL, Serial())
        one.append(w)
        w, _, got_all = sweep_once(SMALL, Processes(cores))
        every.append(w)
        same = ref == got == got_all
    lo, o, e = min(loop), min(one), min(every)
    med = sorted(loop)[ROUNDS // 2] / sorted(every)[ROUNDS // 2]
    print(f"\n1. {n} small runs (L=50, n=64, B=64), best of {ROUNDS}")
    print(f"   loop over gradsim.simulate      {lo:6.2f} s  {n / lo:7.1f} runs/s")
    print(f"   sweep, 1 core (stacked)         {o:6.2f} s  {n / o:7.1f} runs/s  ×{lo / o:.2f}")
    print(f"   sweep, {cores} processes             {e:6.2f} s  {n / e:7.1f} runs/s  ×{lo / e:.2f}"
          f"  (target ≥ ×5: {'met' if lo / e >= 5 else 'NOT met'};"
          f" medians ×{med:.2f})")  # fmt: skip
    print(f"   δ ratios of the sweep equal the loop's: {'yes' if same else 'NO'}")


def bench_scale(cores: int) -> None:
    """The fixed costs of a sweep (starting the workers, their first touch of memory) weigh
    on 200 runs: the same comparison over 1000 runs, one round."""
    n = SMALL_1000.size
    lo, ref = loop_once(SMALL_1000)
    e, _, got = sweep_once(SMALL_1000, Processes(cores))
    print(f"\n3. {n} small runs (as 1. with 50 gains), one round")
    print(f"   loop over gradsim.simulate      {lo:6.2f} s  {n / lo:7.1f} runs/s")
    print(f"   sweep, {cores} processes             {e:6.2f} s  {n / e:7.1f} runs/s  ×{lo / e:.2f}"
          f"  (δ ratios equal: {'yes' if got == ref else 'NO'})")  # fmt: skip


def bench_large(cores: int) -> None:
    n = LARGE.size
    w1, _, _ = sweep_once(LARGE, Serial())
    wn, cn, _ = sweep_once(LARGE, Processes(cores))
    r1, rn = n / w1, n / wn
    busy = cn / wn
    print(f"\n2. {n} large runs (L=24, n=768, B=256), one per task")
    print(f"   1 core                          {w1:6.2f} s  {r1:7.2f} runs/s")
    print(f"   {cores} processes                     {wn:6.2f} s  {rn:7.2f} runs/s  ×{rn / r1:.2f}"
          f"  cores busy {busy:.2f} of {cores}"
          f"  (target ≈ {cores}: {'met' if busy >= 0.85 * cores else 'NOT met'})")  # fmt: skip


def main() -> None:
    t0, meter = time.perf_counter(), CpuMeter()
    cores = cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("gradsim sweep benchmark")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {cores} cores, "
          f"load average {load}")  # fmt: skip
    bench_small(cores)
    bench_large(cores)
    bench_scale(cores)
    print(f"\nbenchmark took {time.perf_counter() - t0:.0f} s; {load_note(meter.others())}")


if __name__ == "__main__":
    main()
