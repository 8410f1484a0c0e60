"""Training speed (``make bench``): steps per second at L=30, n=256, B=128 against the bare
matmul floor of the same shapes, timed in one run.

What is measured (float32, one BLAS thread as gradsim runs, interleaved rounds, best and
median of the rounds; ~10 s):

* ``step``: one training step as ``gradsim train`` takes it: forward (Z = H W + b, ReLU),
  the mse loss and its gradient, the exact backward (∂E/∂W_l, ∂E/∂b_l, ∂E/∂H_{l-1}) and an
  SGD update, through ``gradsim.training.model`` and ``gradsim.training.optimizers``;
* ``loop``: ``train()`` itself over 30 steps on the teacher task (n_0 = 16, n_L = 4), per
  step: drawing the weights, the batch order, logging every 10 steps, the divergence checks
  and the final evaluation on the 512 samples included;
* ``plain``: the same step written straight in NumPy (Z = H W + b, ReLU; δ, ∂E/∂W, ∂E/∂b;
  p += −lr·g), the same numbers without gradsim's pass (the floor of a NumPy program);
* ``floor``: the matrix products a step cannot avoid, on preallocated arrays with ``out=``:
  L products H W (B×n · n×n), L products Hᵀ δ (n×B · B×n) and L−1 products δ Wᵀ.

The ratio floor/step is the share of a step spent in those products (target: ≥ 85%); the rest
is NumPy's elementwise work (ReLU and its mask, the bias, the update) and Python. A benchmark
reports, it never fails.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from gradsim.config import RunConfig
from gradsim.memory import keep_freed_memory
from gradsim.threads import hold_blas
from gradsim.training.config import TrainConfig
from gradsim.training.loop import train
from gradsim.training.model import backward, build_model, forward, loss_and_grad
from gradsim.training.optimizers import make_optimizer
from gradsim.training.tasks import make_task

hold_blas(1)

# as the CLI does: freed arrays stay in the process for the next pass (no page faults)
keep_freed_memory()

L, N, B = 30, 256, 128
STEPS = 12  # steps per timed round
LOOP_STEPS = 30  # train() per round: its set-up (weights, task) and final evaluation included
ROUNDS = 3
TARGET = 0.85  # a training step as a share of its matmul floor


def floor_fn(dtype):
    rng = np.random.default_rng(0)
    W = [rng.standard_normal((N, N)).astype(dtype) for _ in range(L)]
    H = [rng.standard_normal((B, N)).astype(dtype) for _ in range(L + 1)]
    D = rng.standard_normal((B, N)).astype(dtype)
    G = np.empty((N, N), dtype)
    P = np.empty((B, N), dtype)

    def run():
        for _ in range(STEPS):
            for l in range(L):
                np.matmul(H[l], W[l], out=H[l + 1])
            for l in range(L - 1, -1, -1):
                np.matmul(H[l].T, D, out=G)
                if l:
                    np.matmul(D, W[l].T, out=P)

    return run


def step_fn(dtype):
    net = RunConfig(depth=L, width=N, batch=B, dtype=dtype, seed=0)
    # a square network: n_0 = n_L = N, so every layer has the floor's shape
    model = build_model(net, N, N, False)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((B, N)).astype(dtype)
    Y = rng.standard_normal((B, N))
    opt = make_optimizer("sgd", 1e-4)

    def run():
        for _ in range(STEPS):
            c = forward(model, X)
            _, dout = loss_and_grad(c.output, Y, False)
            gW, gb = backward(model, c, dout)
            opt.step(model.params, [*gW, *gb], overwrite=True)  # as gradsim train steps

    return run


def plain_fn(dtype):
    """The step in plain NumPy: what a hand-written program does, with the same numbers."""
    rng = np.random.default_rng(2)
    W = [(rng.standard_normal((N, N)) * np.sqrt(2 / N)).astype(dtype) for _ in range(L)]
    b = [np.zeros(N, dtype) for _ in range(L)]
    X = rng.standard_normal((B, N)).astype(dtype)
    Y = rng.standard_normal((B, N)).astype(dtype)
    lr = np.dtype(dtype).type(-1e-4)

    def run():
        for _ in range(STEPS):
            H, Zs = [X], []
            for l in range(L):
                Z = H[-1] @ W[l] + b[l]
                Zs.append(Z)
                H.append(np.maximum(Z, 0) if l < L - 1 else Z)  # a linear read-out
            G = (H[-1] - Y) / B
            for l in range(L - 1, -1, -1):
                if l < L - 1:
                    G = G * (Zs[l] > 0)
                gW, gb = H[l].T @ G, G.sum(axis=0)
                if l:
                    G = G @ W[l].T
                W[l] += gW * lr
                b[l] += gb * lr

    return run


def loop_fn(dtype):
    net = RunConfig(depth=L, width=N, batch=B, dtype=dtype, seed=0)
    cfg = TrainConfig(net=net, task="teacher", samples=4 * B, steps=LOOP_STEPS, lr=1e-4,
                      log_every=10)  # fmt: skip
    task = make_task("teacher", 4 * B, 0)
    return lambda: train(cfg, task)


def main() -> None:
    print(f"training step, L={L} n={N} B={B}, {STEPS} steps per round, best of {ROUNDS} "
          "(median in brackets)")  # fmt: skip
    for dtype in ("float32",):
        cases = {
            "floor": floor_fn(dtype),
            "step": step_fn(dtype),
            "plain": plain_fn(dtype),
            "loop": loop_fn(dtype),
        }
        for f in cases.values():
            f()  # warm up
        times = {k: [] for k in cases}
        for _ in range(ROUNDS):  # interleaved: a busy spell hits every case alike
            for k, f in cases.items():
                t0 = time.perf_counter()
                f()
                times[k].append((time.perf_counter() - t0) / (LOOP_STEPS if k == "loop" else STEPS))
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"  {dtype}: matmul floor {best['floor'] * 1e3:6.2f} ms/step "
              f"({1 / best['floor']:5.1f} steps/s)")  # fmt: skip
        for k in ("step", "plain", "loop"):
            print(f"  {dtype}: {k:5s}        {best[k] * 1e3:6.2f} ms/step ({1 / best[k]:5.1f} "
                  f"steps/s) · floor/{k} {best['floor'] / best[k]:.0%} "
                  f"[{med['floor'] / med[k]:.0%}]")  # fmt: skip
        ratio = best["floor"] / best["step"]
        status = "met" if ratio >= TARGET else "NOT met"
        print(f"  {dtype}: target floor/step ≥ {TARGET:.0%}: {status} ({ratio:.0%})")


if __name__ == "__main__":
    main()
