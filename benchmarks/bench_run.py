"""Throughput, memory and start-up benchmark of one gradsim run (``make bench``).

What is measured, and why:

1. Speed against the matmul floor. A 152-layer MLP (n = 512, B = 256, relu, He init, mse
   loss) is built once with ``build_network`` (so drawing the weights is not timed), then
   ``engine.run_pass`` and the whole ``simulation.simulate_network`` (pass + summary) are
   timed against the bare matmuls of the same shapes, in the same process, in float32 and
   float64, and so is the pass of the same weights as a residual network with batch norm
   (H_l = H_{l-1} + φ(BN(H_{l-1}W_l))/√L; target: ≥ 80% of the framework floor):

   * framework floor: per layer the three matmuls that a framework's forward + backward
     does, Z = H @ W, δ @ Wᵀ and the weight gradient Hᵀ @ δ;
   * propagation floor: only H @ W and δ @ Wᵀ.

   The floors use pre-allocated random arrays (a distinct W and a distinct kept H per layer,
   so caches see the same traffic as a real run) and write into pre-allocated outputs, so
   they are pure BLAS time. Throughput ratio = floor time / gradsim time (target: ≥ 85% of
   the framework floor). gradsim does more than the floor (per-layer statistics, log-scaled
   δ) but also less (‖Hᵀδ‖ from two B×B Gram matrices instead of forming the n×n gradient).

2. Speed against a straightforward NumPy implementation: a plain loop that keeps every Z
   and H, forms every ∂E/∂W_l = H_{l-1}ᵀ δ_l and takes its norm, and computes the per-layer
   mean/std/rms with np.mean/np.std (target: gradsim is faster). Both run on the same
   network, and their log10 gradient norms are compared, so the race is between programs
   that compute the same numbers.

3. Peak memory, measured with tracemalloc (NumPy reports its allocations to it) in separate
   runs, since tracing slows things down. Peak = the network's arrays (resident before the
   pass) + the traced peak of the pass. It is compared with what any backward pass must
   hold: the weights plus one (B, n) activation per layer (target: ≤ 1.3×).

4. Start-up: ``import gradsim.cli`` (which must not import matplotlib) and a whole
   ``python -m gradsim run --depth 152 --init he --format json`` process, next to a bare
   ``python -c "import numpy"``.

Timings are best-of-N with time.perf_counter, the candidates interleaved round by round
(in a rotating order) so that drift in the machine's load hits them all alike; the median
is shown too. On a shared machine other processes disturb BLAS badly (OpenBLAS threads wait
for a busy core), so the CPU time other processes used during the timed rounds is measured
and printed beside the timings. Targets are reported as met / NOT met; a benchmark reports,
it never fails.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from gradsim.config import RunConfig
from gradsim.draws import build_network
from gradsim.engine import run_pass
from gradsim.losses import LOSSES
from gradsim.memory import keep_freed_memory
from gradsim.network import Network, blocks_of
from gradsim.simulation import simulate_network

# as the CLI does: freed arrays stay in the process for the next pass (no page faults)
keep_freed_memory()

DEPTH, WIDTH, BATCH = 152, 512, 256
DTYPES = ("float32", "float64")
REPEATS = 7  # timed rounds per candidate ...
MIN_REPEATS = 3  # ... or fewer, down to this, when a round would overrun the budget
ROUND_BUDGET_S = {"float32": 35.0, "float64": 55.0}  # keeps `make bench` under ~3 minutes
PROCESS_REPEATS = 3
FLOOR_TARGET = 0.85  # gradsim's throughput as a share of the framework floor
MEMORY_TARGET = 1.3  # peak memory over weights + one (B, n) activation per layer
AGREEMENT_TOL = {"float32": 1e-4, "float64": 1e-9}  # max |Δ log10 ‖∂E/∂W_l‖|
FRAMEWORK, PROPAGATION = "framework floor (H@W, δ@Wᵀ, Hᵀ@δ)", "propagation floor (H@W, δ@Wᵀ)"
RUN_PASS, SIMULATE = "gradsim engine.run_pass", "gradsim simulation.simulate_network"
RES_NORM = "run_pass, residual + batch norm"
RES_NORM_TARGET = 0.80  # the residual + batch-norm pass as a share of the framework floor
PLAIN = "straightforward NumPy"
CLI_RUN = ("-m", "gradsim", "run", "--depth", "152", "--init", "he", "--format", "json")

Array = np.ndarray


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


# ---------------------------------------------------------------- timing helpers


def interleaved_times(cases: dict[str, Callable[[], object]], budget_s: float) -> dict[str, list]:
    """Time every case once per round, rotating the order each round: REPEATS rounds, or as
    many as fit in ``budget_s`` but at least MIN_REPEATS."""
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    for r in range(REPEATS):
        spent = time.perf_counter() - start
        if r >= MIN_REPEATS and spent * (r + 1) / r > budget_s:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    return times


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


def traced_peak(fn: Callable[[], object]) -> int:
    """Peak bytes allocated (and traced) while ``fn`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- the matmul floors


@dataclass(frozen=True)
class FloorArrays:
    """Random arrays of the run's shapes: W and the kept H_{l-1} distinct per layer."""

    W: list[Array]  # (n, n) per layer
    H: list[Array]  # (B, n) per layer
    delta: Array  # (B, n)
    out_bn: Array  # (B, n) output of H @ W and δ @ Wᵀ
    out_nn: Array  # (n, n) output of Hᵀ @ δ


def make_floor_arrays(dtype: str) -> FloorArrays:
    rng = np.random.default_rng(1)

    def draw(*shape: int) -> Array:
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)

    return FloorArrays(
        W=[draw(WIDTH, WIDTH) for _ in range(DEPTH)],
        H=[draw(BATCH, WIDTH) for _ in range(DEPTH)],
        delta=draw(BATCH, WIDTH),
        out_bn=np.empty((BATCH, WIDTH), dtype),
        out_nn=np.empty((WIDTH, WIDTH), dtype),
    )


def framework_floor(a: FloorArrays) -> None:
    """Forward Z = H @ W; backward δ @ Wᵀ and ∂E/∂W = Hᵀ @ δ, layer L down to 1."""
    for H, W in zip(a.H, a.W, strict=True):
        np.matmul(H, W, out=a.out_bn)
    for H, W in zip(reversed(a.H), reversed(a.W), strict=True):
        np.matmul(a.delta, W.T, out=a.out_bn)
        np.matmul(H.T, a.delta, out=a.out_nn)


def propagation_floor(a: FloorArrays) -> None:
    """Forward Z = H @ W; backward δ @ Wᵀ only."""
    for H, W in zip(a.H, a.W, strict=True):
        np.matmul(H, W, out=a.out_bn)
    for W in reversed(a.W):
        np.matmul(a.delta, W.T, out=a.out_bn)


# ---------------------------------------------------------------- the plain NumPy version


def straightforward_pass(net: Network) -> tuple[Array, list[tuple[float, ...]]]:
    """A plain NumPy forward and backward pass of a relu MLP with zero biases and mse loss.

    Keeps every Z_l and H_l, forms every ∂E/∂W_l explicitly. Returns the log10 gradient
    norms (layers 1..L) and per layer (mean Z, std Z, mean H, std H, rms H).
    """
    Hs, Zs, stats = [net.X], [], []
    for W in net.W:
        Z = Hs[-1] @ W
        H = np.maximum(Z, 0)
        Zs.append(Z)
        Hs.append(H)
        stats.append((np.mean(Z), np.std(Z), np.mean(H), np.std(H), np.sqrt(np.mean(H * H))))
    delta = (Hs[-1] - net.T) / BATCH * (Zs[-1] > 0)  # mse: ∂E/∂H_L = (H_L − T)/B
    norms = np.empty(DEPTH)
    for i in range(DEPTH - 1, -1, -1):  # i = l − 1
        norms[i] = np.linalg.norm(Hs[i].T @ delta)
        if i > 0:
            delta = (delta @ net.W[i].T) * (Zs[i - 1] > 0)
    return np.log10(norms), stats


# ---------------------------------------------------------------- one dtype


def run_config(dtype: str) -> RunConfig:
    return RunConfig(
        depth=DEPTH, width=WIDTH, batch=BATCH, activation="relu", init="he", loss="mse", dtype=dtype
    )


def network_bytes(net: Network) -> int:
    arrays = [*net.W, *net.b, net.X] + ([] if net.T is None else [net.T])
    return sum(a.nbytes for a in arrays)


def time_dtype(cfg: RunConfig, net: Network) -> dict[str, list[float]]:
    blocks, loss = blocks_of(cfg), LOSSES[cfg.loss]
    floor = make_floor_arrays(cfg.dtype)
    # the same weights through residual blocks with batch norm (α = 1/√L keeps H finite)
    res = replace(cfg, residual=True, residual_scale=1 / math.sqrt(DEPTH), norm="batch")
    cases = {
        RES_NORM: lambda: run_pass(net.stack, blocks_of(res), loss, cfg.dtype),
        FRAMEWORK: lambda: framework_floor(floor),
        PROPAGATION: lambda: propagation_floor(floor),
        RUN_PASS: lambda: run_pass(net.stack, blocks, loss, cfg.dtype),
        SIMULATE: lambda: simulate_network(cfg, net),
        PLAIN: lambda: straightforward_pass(net),
    }
    return interleaved_times(cases, ROUND_BUDGET_S[cfg.dtype])


def upcast(net: Network) -> Network:
    def f64(a: Array) -> Array:
        return a.astype(np.float64)

    return Network(tuple(map(f64, net.W)), tuple(map(f64, net.b)), f64(net.X), f64(net.T))


def agreement_rows(cfg: RunConfig, net: Network) -> list[Row]:
    """Max |Δ log10 ‖∂E/∂W_l‖| between gradsim and the straightforward pass; below float64,
    also each one's distance from a float64 pass on the same (upcast) numbers, which is the
    size of the dtype's own rounding error after DEPTH layers."""
    (trace,) = run_pass(net.stack, blocks_of(cfg), LOSSES[cfg.loss], cfg.dtype)
    ours = trace.log10_grad_norm[1:]
    plain, _ = straightforward_pass(net)
    diff = float(np.max(np.abs(ours - plain)))
    tol = AGREEMENT_TOL[cfg.dtype]
    rows = [
        Row(
            f"{cfg.dtype}  max |Δ log10 grad norm|, gradsim vs straightforward",
            f"{diff:.1e}",
            f"≤ {tol:.0e}",
            verdict(diff <= tol),
        )
    ]
    if cfg.dtype != "float64":
        truth, _ = straightforward_pass(upcast(net))
        e_ours, e_plain = (float(np.max(np.abs(v - truth))) for v in (ours, plain))
        rows.append(
            Row(
                f"{cfg.dtype}  ... each vs a float64 pass: gradsim, straightforward",
                f"{e_ours:.1e}, {e_plain:.1e}",
            )
        )
    return rows


def memory_rows(cfg: RunConfig, net: Network) -> list[Row]:
    blocks, loss = blocks_of(cfg), LOSSES[cfg.loss]
    resident = network_bytes(net)
    weights = sum(w.nbytes for w in net.W)
    kept = DEPTH * BATCH * WIDTH * np.dtype(cfg.dtype).itemsize
    ref = weights + kept
    ours = resident + traced_peak(lambda: run_pass(net.stack, blocks, loss, cfg.dtype))
    plain = resident + traced_peak(lambda: straightforward_pass(net))
    mib = 2**20
    basis = f"(W {weights / mib:.0f} + L·B·n {kept / mib:.0f} MiB)"
    return [
        Row(
            f"{cfg.dtype}  peak memory, gradsim pass / {basis}",
            f"{ours / mib:.0f} MiB = {ours / ref:.2f}×",
            f"≤ {MEMORY_TARGET}×",
            verdict(ours <= MEMORY_TARGET * ref),
        ),
        Row(
            f"{cfg.dtype}  peak memory, straightforward / same",
            f"{plain / mib:.0f} MiB = {plain / ref:.2f}×",
        ),
    ]


def speed_rows(dtype: str, times: dict[str, list[float]]) -> list[Row]:
    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    fw, prop, rp, sim, plain, rn = FRAMEWORK, PROPAGATION, RUN_PASS, SIMULATE, PLAIN, RES_NORM

    def pct(floor: str, ours: str) -> str:
        return f"{best[floor] / best[ours]:.1%}  (median {med[floor] / med[ours]:.1%})"

    return [
        Row(
            f"{dtype}  framework floor / run_pass",
            pct(fw, rp),
            f"≥ {FLOOR_TARGET:.0%}",
            verdict(best[fw] / best[rp] >= FLOOR_TARGET),
        ),
        Row(
            f"{dtype}  framework floor / simulate_network",
            pct(fw, sim),
            f"≥ {FLOOR_TARGET:.0%}",
            verdict(best[fw] / best[sim] >= FLOOR_TARGET),
        ),
        Row(f"{dtype}  propagation floor / run_pass", pct(prop, rp)),
        Row(
            f"{dtype}  framework floor / {rn}",
            pct(fw, rn),
            f"≥ {RES_NORM_TARGET:.0%}",
            verdict(best[fw] / best[rn] >= RES_NORM_TARGET),
        ),
        Row(
            f"{dtype}  run_pass speed-up over straightforward",
            f"{best[plain] / best[rp]:.2f}×  (median {med[plain] / med[rp]:.2f}×)",
            "> 1×",
            verdict(best[plain] > best[rp]),
        ),
    ]


def bench_dtype(dtype: str) -> list[Row]:
    cfg = run_config(dtype)
    progress(f"{dtype}: building the network")
    net = build_network(cfg)
    if any(np.any(b) for b in net.b):
        raise SystemExit("bench_run: the straightforward pass assumes zero biases (He init)")
    progress(f"{dtype}: agreement with the straightforward pass")
    agree = agreement_rows(cfg, net)
    progress(f"{dtype}: timing, up to {REPEATS} interleaved rounds")
    meter = CpuMeter()
    times = time_dtype(cfg, net)
    print_times(dtype, times, meter.others())
    progress(f"{dtype}: peak memory with tracemalloc")
    return speed_rows(dtype, times) + agree + memory_rows(cfg, net)


# ---------------------------------------------------------------- processes


def process_seconds(args: tuple[str, ...]) -> tuple[float, str]:
    """Best wall time of ``python *args`` over PROCESS_REPEATS runs, and any error text."""
    best, err = math.inf, ""
    for _ in range(PROCESS_REPEATS):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        best = min(best, time.perf_counter() - t0)
        if proc.returncode not in (0, 3):  # 3: --fail-on verdicts, not an error here
            err = f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
    return best, err


def matplotlib_imported() -> str:
    code = "import sys, gradsim.cli; print('matplotlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or f"error: {proc.stderr.strip()[-200:]}"


def process_rows() -> list[Row]:
    progress("start-up: subprocesses")
    numpy_s, _ = process_seconds(("-c", "import numpy"))

    def versus_numpy(args: tuple[str, ...]) -> str:
        secs, err = process_seconds(args)
        return err or f"{secs:.3f} s  (numpy alone + {secs - numpy_s:.3f} s)"

    mpl = matplotlib_imported()
    return [
        Row("python -c 'import numpy'", f"{numpy_s:.3f} s"),
        Row("python -c 'import gradsim.cli'", versus_numpy(("-c", "import gradsim.cli"))),
        Row(
            "'matplotlib' in sys.modules after import gradsim.cli",
            mpl,
            "False",
            verdict(mpl == "False"),
        ),
        Row("python " + " ".join(CLI_RUN), versus_numpy(CLI_RUN)),
    ]


# ---------------------------------------------------------------- output


def print_times(dtype: str, times: dict[str, list[float]], others: float | None) -> None:
    rounds = len(next(iter(times.values())))
    print(f"\n{dtype}: seconds per pass, best and median of {rounds} rounds ({load_note(others)})")
    for name, ts in times.items():
        print(f"  {name:<36} {min(ts):8.3f} {statistics.median(ts):8.3f}")


def print_table(rows: list[Row]) -> None:
    w = [max(len(getattr(r, f)) for r in rows) for f in ("what", "measured", "target")]
    print(f"\n{'check':<{w[0]}}  {'measured':<{w[1]}}  {'target':<{w[2]}}  status")
    print("-" * (sum(w) + 14))
    for r in rows:
        print(f"{r.what:<{w[0]}}  {r.measured:<{w[1]}}  {r.target:<{w[2]}}  {r.status}")


def load_note(others: float | None) -> str:
    if others is None:
        return "load of other processes unknown"
    note = f"other processes used {others:.2f} of {os.cpu_count()} CPUs"
    return note + (": DISTURBED, re-run on an idle machine" if others > 0.25 else "")


def print_header() -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"gradsim benchmark: L={DEPTH}, n={WIDTH}, B={BATCH}, relu, he, mse")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def main() -> None:
    t0, meter = time.perf_counter(), CpuMeter()
    print_header()
    rows: list[Row] = []
    for dtype in DTYPES:
        rows += bench_dtype(dtype)
        gc.collect()
    rows += process_rows()
    print_table(rows)
    print(
        f"\nbenchmark took {time.perf_counter() - t0:.0f} s; over the whole run "
        f"{load_note(meter.others())}"
    )


if __name__ == "__main__":
    main()
