"""Under load (``make bench``; ~40 s): the two commands of the issue timed on an idle
machine and while a competing process keeps every core busy (a pure-Python loop per core).

* ``gradsim train --depth 30 --init he,xavier --steps 500``
* ``gradsim run --depth 152 --width 512 --batch 256``

Each round times both commands idle, then starts the competitors and times both loaded,
then stops them; best and median over the rounds. With one spinning competitor per core a
single-threaded program gets about (cores / (cores + 1)) of a core, so ~1.5× on 2 cores is
what fair sharing gives; a program whose BLAS threads spin-wait for each other gets far
worse (the old train took 40×). Target: loaded ≤ 2.5× idle.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from common import CpuMeter, Row, finish, print_header, print_times, process, progress

from gradsim.threads import cores

ROUNDS = 2
TARGET = 2.5
GRADSIM = str(Path(sys.executable).with_name("gradsim"))
COMMANDS = {
    "train --depth 30 --init he,xavier --steps 500": [
        "train", "--depth", "30", "--init", "he,xavier", "--steps", "500"],
    "run --depth 152 --width 512 --batch 256": [
        "run", "--depth", "152", "--width", "512", "--batch", "256"],
}  # fmt: skip
SPIN = "while True: pass"


def timed(args: list[str]) -> float:
    p = process([GRADSIM, *args])
    if p.code not in (0, 3):
        raise SystemExit(f"gradsim {' '.join(args)}: exit {p.code}: {p.err}")
    return p.seconds


def main() -> None:
    start, meter = time.perf_counter(), CpuMeter()
    n = cores()
    print_header(f"bench_load: idle, and with {n} competing busy processes (one per core)")
    times: dict[str, list[float]] = {}
    for r in range(ROUNDS):
        progress(f"round {r + 1} of {ROUNDS}: idle")
        for name, args in COMMANDS.items():
            times.setdefault(f"{name}, idle", []).append(timed(args))
        progress(f"round {r + 1} of {ROUNDS}: loaded")
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
        try:
            time.sleep(0.2)  # the spinners running before the clock starts
            for name, args in COMMANDS.items():
                times.setdefault(f"{name}, loaded", []).append(timed(args))
        finally:
            for s in spinners:
                s.kill()
                s.wait()
    print_times("gradsim commands", times)
    rows = []
    for name in COMMANDS:
        idle, loaded = min(times[f"{name}, idle"]), min(times[f"{name}, loaded"])
        ok = loaded <= TARGET * idle
        rows.append(Row(f"{name}: loaded / idle", f"{loaded / idle:.2f}×", f"≤ {TARGET}×",
                        "met" if ok else "NOT met"))  # fmt: skip
    finish(rows, start, meter)


if __name__ == "__main__":
    main()
