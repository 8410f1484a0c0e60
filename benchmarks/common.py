"""What the benchmarks share: interleaved timing, the load of other processes, processes timed
with their peak RSS, and the table of ratios they print. A benchmark reports, it never fails.

Timings are taken in rounds, every candidate once per round in a rotating order, so that a
change in the machine's load hits them all alike; best and median are shown. Only ratios of
times taken in one run are reported against targets, never a time on its own.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    what: str
    measured: str
    target: str = "(info)"
    status: str = ""


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def progress(msg: str) -> None:
    print(f"  … {msg}", file=sys.stderr, flush=True)


def rounds(cases: dict[str, Callable[[], object]], n: int, budget_s: float = 1e9) -> dict:
    """Seconds of every case per round: ``n`` rounds, fewer (at least 2) when the next would
    overrun ``budget_s``; the order rotates every round."""
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    for r in range(n):
        spent = time.perf_counter() - start
        if r >= 2 and spent * (r + 1) / r > budget_s:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def best(times: dict[str, list[float]]) -> dict[str, float]:
    return {k: min(v) for k, v in times.items()}


def median(times: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in times.items()}


def ratio_row(what: str, times: dict, num: str, den: str, target: float | None, at_least=True):
    """Row of times[num]/times[den] (best, and median beside), met when ≥ (or ≤) target."""
    b = min(times[num]) / min(times[den])
    m = statistics.median(times[num]) / statistics.median(times[den])
    if target is None:
        return Row(what, f"{b:.2f}×  (median {m:.2f}×)")
    ok = b >= target if at_least else b <= target
    return Row(what, f"{b:.2f}×  (median {m:.2f}×)", f"{'≥' if at_least else '≤'} {target}×",
               verdict(ok))  # fmt: skip


class CpuMeter:
    """CPU seconds that processes other than this one (and its children) used since start,
    per second of wall time: 0 on an idle machine. None where /proc/stat is missing."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # not idle/iowait
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return time.perf_counter(), busy, own

    def others(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        wall, busy, own = (e - s for e, s in zip(end, self.start, strict=True))
        return max(busy - own, 0.0) / wall


def load_note(others: float | None) -> str:
    if others is None:
        return "load of other processes unknown"
    note = f"other processes used {others:.2f} of {os.cpu_count()} CPUs"
    return note + (": DISTURBED, re-run on an idle machine" if others > 0.25 else "")


def traced_peak(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (and traced: NumPy reports to tracemalloc) while ``fn`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass(frozen=True)
class Process:
    """A finished process: wall seconds, exit code, the end of its stderr."""

    seconds: float
    code: int
    err: str


# child processes start as an installed program does: with its bytecode cached (a shell that
# sets PYTHONDONTWRITEBYTECODE would have every start compile gradsim's sources again)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def process(args: Sequence[str]) -> Process:
    """Run ``python *args`` to the end, its output dropped."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=CHILD_ENV)  # fmt: skip
    return Process(time.perf_counter() - t0, proc.returncode, proc.stderr.strip()[-300:])


# Linux carries a process's peak RSS across exec, so a child forked from a large benchmark
# would report the benchmark's peak: a small launcher starts the child and reports its own.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if p.returncode in (0, 3)"
    " else -1)"
)


def peak_rss(args: Sequence[str]) -> int:
    """Peak resident bytes of ``python *args`` (-1 when it failed)."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, *args],
                         capture_output=True, text=True, check=True,
                         env=CHILD_ENV).stdout  # fmt: skip
    kib = int(out.split()[-1])
    return kib * 1024 if kib >= 0 else -1


def process_rounds(cases: dict[str, Sequence[str]], n: int) -> dict[str, list[float]]:
    """Wall seconds of every ``python *args`` per round, as ``rounds``; a failed process
    ends the benchmark with its error."""

    def runner(name, args):
        def run():
            p = process(args)
            if p.code not in (0, 3):  # 3: --fail-on verdicts, not an error here
                raise SystemExit(f"{name}: exit {p.code}: {p.err}")

        return run

    return rounds({name: runner(name, args) for name, args in cases.items()}, n)


def print_times(title: str, times: dict[str, list[float]], unit: str = "s") -> None:
    n = len(next(iter(times.values())))
    w = max(map(len, times))
    print(f"\n{title}: {unit}, best and median of {n} rounds")
    for name, ts in times.items():
        print(f"  {name:<{w}} {min(ts):9.4f} {statistics.median(ts):9.4f}")


def print_table(rows: list[Row]) -> None:
    w = [max(len(getattr(r, f)) for r in rows) for f in ("what", "measured", "target")]
    print(f"\n{'check':<{w[0]}}  {'measured':<{w[1]}}  {'target':<{w[2]}}  status")
    print("-" * (sum(w) + 14))
    for r in rows:
        print(f"{r.what:<{w[0]}}  {r.measured:<{w[1]}}  {r.target:<{w[2]}}  {r.status}")


def print_header(title: str) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(title)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def finish(rows: list[Row], start: float, meter: CpuMeter) -> None:
    print_table(rows)
    took = time.perf_counter() - start
    print(f"\nbenchmark took {took:.0f} s; over the whole run {load_note(meter.others())}")
