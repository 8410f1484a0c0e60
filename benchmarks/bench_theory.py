"""Speed of the mean-field theory (``make bench``; ~10 s): the phase diagram must take
seconds.

What is measured:

1. The mean-field grid at 100 × 100 values of (σ_w², σ_b²) for tanh (the default of
   ``gradsim phase``) and selu (a kinked φ whose chaotic cells need the 2-D polish of the
   correlation map), on one BLAS thread as every command (the quadrature is elementwise
   NumPy); one round each (``make bench`` stays within two minutes).
   The parts: the fixed points and χ₁ over the grid (``mean_field``) and the critical line
   (``critical_sigma_w`` at 101 values of σ_b²).
2. A whole ``python -m gradsim phase --act tanh -o FIG.png`` process (grid, figure and
   start-up together), one round.
3. ``gradsim theory`` at depth 1000, and ``jacobian_spectrum`` at L = 64, n = 512, 4 inputs.

Target: the 100 × 100 tanh diagram (item 2) within 10 s on a 2-core machine. A benchmark
reports, it never fails.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from gradsim import ACTIVATIONS
from gradsim import meanfield as T
from gradsim.config import RunConfig
from gradsim.draws import build_network
from gradsim.threads import hold_blas

hold_blas(1)

GRID = 100
REPEATS = 1  # `make bench` stays within two minutes
TARGET_S = 10.0


def best(f, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def grid_axes():
    x = (np.arange(GRID) + 0.5) * 4.0 / GRID
    y = (np.arange(GRID) + 0.5) * 0.25 / GRID
    return x, y, np.linspace(0.0, 0.25, 101)


def bench_grid(name: str) -> tuple[str, float, float]:
    act = ACTIVATIONS[name]
    x, y, line = grid_axes()
    SW, SB = np.meshgrid(np.sqrt(x), np.sqrt(y))
    field = best(lambda: T.mean_field(act, SW, SB, rtol=1e-4))
    crit = best(lambda: T.critical_sigma_w(act, np.sqrt(line)))
    return name, field, crit


def bench_cli() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        fig = os.path.join(tmp, "phase.png")
        cmd = [sys.executable, "-m", "gradsim", "phase", "--act", "tanh", "-o", fig]
        return best(lambda: subprocess.run(cmd, check=True, capture_output=True))


def main() -> None:
    print(f"mean-field theory benchmark · {GRID}×{GRID} grid · one BLAS thread · "
          f"{os.cpu_count()} cores · best of {REPEATS}")  # fmt: skip
    print(f"{'activation':<12}{'fixed points + χ₁ + ξ_c':>26}{'critical line (101)':>22}")
    for name in ("tanh", "selu"):
        n, field, crit = bench_grid(name)
        print(f"{n:<12}{field:>24.2f} s{crit:>20.2f} s")
    cli = bench_cli()
    status = "met" if cli <= TARGET_S else "NOT met"
    print(f"\n`gradsim phase --act tanh -o phase.png` (whole process): {cli:.2f} s "
          f"(target ≤ {TARGET_S:.0f} s: {status})")  # fmt: skip
    cfg = RunConfig(activation="tanh", depth=1000)
    t = best(lambda: T.describe(cfg, 1.33, 0.22), repeats=3)
    print(f"`gradsim theory` at depth 1000: {t:.2f} s")
    cfg = RunConfig(activation="tanh", init="orthogonal", depth=64, width=512, batch=4,
                    dtype="float64", loss="sum")  # fmt: skip
    net = build_network(cfg)
    t = best(lambda: T.jacobian_spectrum(net, ACTIVATIONS["tanh"]), repeats=1)
    flops = 2 * 64 * 4 * 512**3
    print(
        f"Jacobian spectrum, L=64 n=512, 4 inputs: {t:.2f} s "
        f"({flops / t / 1e9:.1f} GFLOP/s in the products; weights drawn beforehand)"
    )
    tanh = ACTIVATIONS["tanh"]
    c0, c05 = (float(T.critical_sigma_w(tanh, s)) for s in (0.0, math.sqrt(0.05)))
    print(
        f"(check: tanh is critical at σ_w = {c0:.6f} for σ_b = 0, at σ_w² = {c05**2:.4f} "
        "for σ_b² = 0.05)"
    )


if __name__ == "__main__":
    main()
