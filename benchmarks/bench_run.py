"""One run, against the floors of the same shapes (``make bench``; ratios only, ~40 s).

At L=152, n=512, B=256 (relu, He init, mse loss, float32, one BLAS thread as gradsim runs),
in interleaved rounds (benchmarks/common.py):

1. **The pass** (``engine.run_pass`` on a network drawn beforehand) against the
   *framework floor*: per layer the three products a framework's forward and backward do,
   Z = H W, δ Wᵀ and ∂E/∂W = Hᵀ δ, on preallocated arrays (a distinct W and kept H per
   layer, so that caches see a real run's traffic). Target: ≥ 85% of it. The same weights
   as a residual network with batch norm: ≥ 80%. gradsim does more than the floor
   (per-layer statistics, δ kept log-scaled) and less (‖Hᵀδ‖ from two B×B Gram matrices).
2. **The whole job**, ``gradsim.simulate`` with the drawing of the weights, against the
   *draw floor* (the same 152 × 512 × 512 standard normals drawn by NumPy in one thread per
   core, each its own generator) plus the framework floor. Target: within 1.15×.
3. **A straightforward NumPy pass** (keeps every Z and H, forms every ∂E/∂W, np.std for the
   statistics): gradsim must be faster, and agree with it on log10 ‖∂E/∂W_l‖.
4. **Depth**: ``simulate`` at L=760 with low memory (weights drawn again for the backward
   pass) against 5 × L=152 with the weights kept, B=128. Target: ≤ 1.3×. Peak RSS of the
   two ``gradsim run --depth 760`` processes, and the traced peak of the pass against
   weights + one (B, n) activation per layer (target ≤ 1.3×).
5. **Start-up**: ``gradsim --help`` against ``python -c "import numpy"`` (target ≤ 2×).
"""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from common import (
    CpuMeter,
    Row,
    finish,
    peak_rss,
    print_header,
    print_times,
    process_rounds,
    progress,
    ratio_row,
    rounds,
    traced_peak,
    verdict,
)

import gradsim
from gradsim.config import RunConfig
from gradsim.draws import build_network
from gradsim.engine import run_pass
from gradsim.losses import LOSSES
from gradsim.memory import keep_freed_memory
from gradsim.network import Network, blocks_of
from gradsim.threads import cores, hold_blas

hold_blas(1)
keep_freed_memory()  # as the CLI does: freed arrays stay for the next pass

DEPTH, WIDTH, BATCH, DTYPE = 152, 512, 256, "float32"
DEEP, DEEP_BATCH = 5 * DEPTH, 128
ROUNDS = 4
Array = np.ndarray


@dataclass(frozen=True)
class FloorArrays:
    """Random arrays of the run's shapes: W and the kept H_{l-1} distinct per layer."""

    W: list[Array]
    H: list[Array]
    delta: Array
    out_bn: Array
    out_nn: Array


def floor_arrays() -> FloorArrays:
    rng = np.random.default_rng(1)

    def draw(*shape: int) -> Array:
        return rng.standard_normal(shape, dtype=np.float32)

    W = [draw(WIDTH, WIDTH) for _ in range(DEPTH)]
    H = [draw(BATCH, WIDTH) for _ in range(DEPTH)]
    out_bn, out_nn = np.empty((BATCH, WIDTH), DTYPE), np.empty((WIDTH, WIDTH), DTYPE)
    return FloorArrays(W, H, draw(BATCH, WIDTH), out_bn, out_nn)


def framework_floor(a: FloorArrays) -> None:
    """Forward Z = H W; backward δ Wᵀ and ∂E/∂W = Hᵀ δ, layer L down to 1."""
    for H, W in zip(a.H, a.W, strict=True):
        np.matmul(H, W, out=a.out_bn)
    for H, W in zip(reversed(a.H), reversed(a.W), strict=True):
        np.matmul(a.delta, W.T, out=a.out_bn)
        np.matmul(H.T, a.delta, out=a.out_nn)


class DrawFloor:
    """The run's weight normals (float64, as gradsim draws them), one thread per core, each
    with its own generator, into preallocated arrays."""

    def __init__(self) -> None:
        self.k = cores()
        self.pool = ThreadPoolExecutor(self.k)
        self.gens = [np.random.default_rng(i) for i in range(self.k)]
        self.out = [np.empty((WIDTH, WIDTH)) for _ in range(DEPTH)]

    def part(self, t: int) -> None:
        for i in range(t, DEPTH, self.k):
            self.gens[t].standard_normal(out=self.out[i])

    def __call__(self) -> None:
        list(self.pool.map(self.part, range(self.k)))


def straightforward_pass(net: Network) -> Array:
    """A plain NumPy relu pass with zero biases and mse loss, every Z, H and ∂E/∂W formed;
    the log10 gradient norms of layers 1..L."""
    Hs, Zs, stats = [net.X], [], []
    for W in net.W:
        Z = Hs[-1] @ W
        H = np.maximum(Z, 0)
        Zs.append(Z)
        Hs.append(H)
        stats.append((np.mean(Z), np.std(Z), np.mean(H), np.std(H), np.sqrt(np.mean(H * H))))
    delta = (Hs[-1] - net.T) / BATCH * (Zs[-1] > 0)
    norms = np.empty(len(net.W))
    for i in range(len(net.W) - 1, -1, -1):
        norms[i] = np.linalg.norm(Hs[i].T @ delta)
        if i > 0:
            delta = (delta @ net.W[i].T) * (Zs[i - 1] > 0)
    return np.log10(norms)


def config(**kw) -> RunConfig:
    base = dict(depth=DEPTH, width=WIDTH, batch=BATCH, activation="relu", init="he",
                loss="mse", dtype=DTYPE)  # fmt: skip
    return RunConfig(**{**base, **kw})


def pass_rows(cfg: RunConfig, net: Network) -> list[Row]:
    blocks, loss = blocks_of(cfg), LOSSES[cfg.loss]
    res = blocks_of(replace(cfg, residual=True, residual_scale=1 / math.sqrt(DEPTH), norm="batch"))
    floor, draws = floor_arrays(), DrawFloor()
    times = rounds({
        "framework floor": lambda: framework_floor(floor),
        "draw floor": draws,
        "run_pass": lambda: run_pass(net.stack, blocks, loss, DTYPE),
        "run_pass, residual + batch norm": lambda: run_pass(net.stack, res, loss, DTYPE),
        "gradsim.simulate (drawing included)": lambda: gradsim.simulate(cfg),
        "straightforward NumPy pass": lambda: straightforward_pass(net),
    }, ROUNDS)  # fmt: skip
    times["draw floor + framework floor"] = [
        a + b for a, b in zip(times["draw floor"], times["framework floor"], strict=True)
    ]
    print_times(f"L={DEPTH}, n={WIDTH}, B={BATCH}, {DTYPE}", times)
    (trace,) = run_pass(net.stack, blocks, loss, DTYPE)
    diff = float(np.max(np.abs(trace.log10_grad_norm[1:] - straightforward_pass(net))))
    return [
        ratio_row("framework floor / run_pass", times, "framework floor", "run_pass", 0.85),
        ratio_row(
            "framework floor / residual + batch norm pass",
            times,
            "framework floor",
            "run_pass, residual + batch norm",
            0.80,
        ),
        ratio_row(
            "simulate / (draw floor + framework floor)",
            times,
            "gradsim.simulate (drawing included)",
            "draw floor + framework floor",
            1.15,
            at_least=False,
        ),
        ratio_row(
            "straightforward pass / run_pass", times, "straightforward NumPy pass", "run_pass", 1.0
        ),
        Row(
            "max |Δ log10 ‖∂E/∂W_l‖|, gradsim vs straightforward",
            f"{diff:.1e}",
            "≤ 1e-04",
            verdict(diff <= 1e-4),
        ),
    ]


def memory_row(cfg: RunConfig, net: Network) -> Row:
    blocks, loss = blocks_of(cfg), LOSSES[cfg.loss]
    resident = sum(a.nbytes for a in [*net.W, *net.b, net.X, net.T])
    ref = sum(w.nbytes for w in net.W) + DEPTH * BATCH * WIDTH * 4
    peak = resident + traced_peak(lambda: run_pass(net.stack, blocks, loss, DTYPE))
    return Row("peak memory of the pass / (W + L·B·n)", f"{peak / 2**20:.0f} MiB = "
               f"{peak / ref:.2f}×", "≤ 1.3×", verdict(peak <= 1.3 * ref))  # fmt: skip


def depth_rows() -> list[Row]:
    shallow, deep = config(batch=DEEP_BATCH), config(batch=DEEP_BATCH, depth=DEEP)
    times = rounds({
        f"simulate L={DEPTH}, weights kept": lambda: gradsim.simulate(shallow, low_memory=False),
        f"simulate L={DEEP}, low memory": lambda: gradsim.simulate(deep, low_memory=True),
    }, 2)  # fmt: skip
    scale = DEEP / DEPTH
    times[f"{scale:.0f} × L={DEPTH}"] = [
        t * scale for t in times[f"simulate L={DEPTH}, weights kept"]
    ]
    print_times(f"depth, n={WIDTH}, B={DEEP_BATCH}", times)
    progress(f"peak RSS of gradsim run --depth {DEEP}, kept and low memory")
    run = ["-m", "gradsim", "run", "--depth", str(DEEP), "--width", str(WIDTH), "--batch",
           str(DEEP_BATCH), "--init", "he", "--format", "json"]  # fmt: skip
    # both processes at once (a peak RSS does not depend on the other's)
    with ThreadPoolExecutor(2) as ex:
        kept, low = ex.map(peak_rss, [run, [*run, "--low-memory"]])
    return [
        ratio_row(
            f"L={DEEP} low memory / ({scale:.0f} × L={DEPTH} kept)",
            times,
            f"simulate L={DEEP}, low memory",
            f"{scale:.0f} × L={DEPTH}",
            1.3,
            at_least=False,
        ),
        Row(
            f"peak RSS, gradsim run --depth {DEEP}: kept, --low-memory",
            f"{kept / 2**20:.0f} MiB, {low / 2**20:.0f} MiB",
        ),
    ]


def startup_rows() -> list[Row]:
    script = Path(sys.executable).with_name("gradsim")
    times = process_rounds({"python -c 'import numpy'": ["-c", "import numpy"],
                            "gradsim --help": [str(script), "--help"]}, 5)  # fmt: skip
    print_times("start-up", times)
    return [ratio_row("gradsim --help / import numpy", times, "gradsim --help",
                      "python -c 'import numpy'", 2.0, at_least=False)]  # fmt: skip


def main() -> None:
    start, meter = time.perf_counter(), CpuMeter()
    print_header(f"bench_run: L={DEPTH}, n={WIDTH}, B={BATCH}, relu, he, mse, {DTYPE}")
    cfg = config()
    net = build_network(cfg)
    progress(f"the pass and the whole job, {ROUNDS} interleaved rounds")
    rows = pass_rows(cfg, net)
    progress("the traced peak of the pass")
    rows.append(memory_row(cfg, net))
    del net
    progress(f"depth: L={DEPTH} against L={DEEP}")
    rows += depth_rows()
    progress("start-up")
    rows += startup_rows()
    finish(rows, start, meter)


if __name__ == "__main__":
    main()
