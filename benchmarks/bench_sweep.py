"""Sweeps against a loop (``make bench``; ~25 s): the CLI sweep end to end, start-up
included, against an in-process loop over ``gradsim.simulate`` of the same runs.

* 200 configurations: L=50, n=64, B=64, tanh, He init, ``--gain 0.5:2:200``, one seed
  each. The CLI process (``gradsim sweep ... --out DIR`` into a fresh folder, workers on
  every core, results committed to SQLite) against the loop in this process, timed over
  every second configuration and scaled by 2 (a run's cost does not depend on its gain).
  Target ≥ 5×.
* 1000 configurations (``--gain 0.5:2:1000``). The loop is timed over every tenth of them
  and scaled by 10. Target ≥ 10×.

The sweep's stored δ ratios are compared with the loop's: they must be equal (a sweep's
stacked pass is bitwise the engine's). Interleaved rounds, best and median.

Beside the targets, what bounds them (info rows): the fixed cost (the same CLI sweep of one
configuration, start-up included) and the pass's floor per run (a stack as large as the
sweep's tasks: its three products and tanh per layer, nothing else, on one core). The
ceiling row is the loop over (fixed cost + N × floor / cores): no sweep of these runs could
do better than that ratio.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    CpuMeter,
    Row,
    finish,
    print_header,
    print_times,
    process,
    progress,
    ratio_row,
    rounds,
)

import gradsim
from gradsim.sweeps import Grid, Store
from gradsim.sweeps.executors import cpu_count
from gradsim.sweeps.tasks import make_tasks
from gradsim.threads import hold_blas

hold_blas(1)

GRADSIM = str(Path(sys.executable).with_name("gradsim"))
AXES = {"depth": (50,), "width": (64,), "batch": (64,), "activation": ("tanh",), "init": ("he",)}
SWEEP = "--depth 50 --width 64 --batch 64 --act tanh --init he --seeds 1".split()
ROUNDS = {200: 3, 1000: 2}
SAMPLE = {200: 100, 1000: 100}  # runs of the loop timed (× count / SAMPLE)
TARGET = {200: 5.0, 1000: 10.0}


def grid(count: int) -> Grid:
    return Grid({**AXES, "gain": tuple(np.linspace(0.5, 2.0, count).tolist())}, seeds=1)


def cli_sweep(count: int, folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    args = [GRADSIM, "sweep", *SWEEP, "--gain", f"0.5:2:{count}", "--out", folder]
    p = process(args)
    if p.code != 0:
        raise SystemExit(f"gradsim sweep: exit {p.code}: {p.err}")


def stored_ratios(folder: str) -> dict:
    with Store.open(folder) as store:
        rows = store.conn.execute("SELECT point, seed, log10_delta_ratio FROM runs")
        return {(point, seed): x for point, seed, x in rows}


def loop(runs) -> dict:
    return {(r.point, r.config.seed): gradsim.simulate(r.config).summary.log10_delta_ratio
            for r in runs}  # fmt: skip


def floor_per_run(K: int) -> float:
    """Seconds per run of what a stack of K runs cannot avoid: per layer H W, δ Wᵀ and Hᵀδ
    as (K, n, n) float32 products of the benchmark's shape (AXES), tanh and 1 − H², best of
    5."""
    L, n, B = AXES["depth"][0], AXES["width"][0], AXES["batch"][0]
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((L, K, n, n)) / np.sqrt(n)).astype(np.float32)
    H0 = rng.standard_normal((K, B, n)).astype(np.float32)
    out = np.empty((K, B, n), np.float32)

    def once():
        H, kept = H0, []
        for l in range(L):
            A = np.tanh(np.matmul(H, W[l]))
            kept.append((H, 1.0 - A * A))
            H = A
        d = np.ones_like(H)
        for l in range(L - 1, -1, -1):
            Hp, D = kept[l]
            np.matmul(Hp.transpose(0, 2, 1), d, out=out)
            d = np.matmul(d, W[l].transpose(0, 2, 1)) * D

    return min(rounds({"floor": once}, 5)["floor"]) / K


def bench(count: int, folder: str) -> list[Row]:
    runs = grid(count).runs()
    stride = count // SAMPLE[count]
    sample = runs[::stride]
    got: dict = {}
    times = {"loop": [], "sweep": [], "one": []}
    for r in range(ROUNDS[count]):
        order = ("loop", "sweep", "one") if r % 2 == 0 else ("one", "sweep", "loop")
        for name in order:
            t0 = time.perf_counter()
            if name == "loop":
                got = loop(sample)
            else:
                cli_sweep(
                    count if name == "sweep" else 1, folder if name == "sweep" else f"{folder}1"
                )
            times[name].append(time.perf_counter() - t0)
    fixed = min(times.pop("one"))
    times["loop"] = [t * stride for t in times["loop"]]
    label = f"loop over gradsim.simulate{f' (1 in {stride}, × {stride})' if stride > 1 else ''}"
    times = {label: times["loop"], "gradsim sweep (process, start-up included)": times["sweep"]}
    print_times(f"{count} configurations", times)
    # the floor at the stack the sweep itself makes of these runs (its tasks' size), on
    # every core
    cores = cpu_count()
    floor = floor_per_run(len(make_tasks(runs, cores)[0]))
    ceiling = min(times[label]) / (fixed + count * floor / cores)
    print(
        f"  fixed cost (a sweep of 1 configuration) {fixed:.3f} s; pass floor "
        f"{floor * 1e3:.2f} ms a run on one core; {cores} cores"
    )
    stored = stored_ratios(folder)
    same = all(stored.get(k) == v for k, v in got.items()) and len(stored) == count
    return [
        ratio_row(
            f"{count} configurations: loop / CLI sweep",
            times,
            label,
            "gradsim sweep (process, start-up included)",
            TARGET[count],
        ),
        Row(
            f"{count} configurations: ceiling, loop / (fixed + {count} × floor / cores)",
            f"{ceiling:.2f}×",
        ),
        Row(
            f"{count} configurations: δ ratios of the sweep equal the loop's",
            "yes" if same else "NO",
            "yes",
            "met" if same else "NOT met",
        ),
    ]


def main() -> None:
    start, meter = time.perf_counter(), CpuMeter()
    print_header("bench_sweep: L=50, n=64, B=64, tanh, he, --gain 0.5:2:COUNT")
    folder = tempfile.mkdtemp(prefix="gradsim-bench-")
    rows: list[Row] = []
    try:
        for count in ROUNDS:
            progress(f"{count} configurations, {ROUNDS[count]} rounds")
            rows += bench(count, str(Path(folder) / "store"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    finish(rows, start, meter)


if __name__ == "__main__":
    main()
