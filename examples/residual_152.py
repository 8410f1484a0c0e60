"""Depth 152 with and without residual connections and batch normalization.

He-initialized ReLU networks of 152 layers (width 32) trained on blobs with plain SGD:

* plain: the loss does not move (a 152-layer product of random layers);
* batch norm alone: the gradients explode at initialization (Yang et al. 2019: ×π/(π−1) in
  squared norm per layer, 10^12 over 152 layers, see `gradsim run --norm batch`) and the
  first steps overflow;
* residual, α = 1/√L: the skip connections carry the signal and the gradient; it learns,
  slowly;
* residual + batch norm (H_l = H_{l-1} + φ(BN(H_{l-1} W_l) + b_l)): learns.

Run:  python examples/residual_152.py [OUTDIR] [--depth 152] [--steps 300]
Writes OUTDIR/residual_152.png and .json and prints one line per architecture (its verdict,
loss and accuracy), with the one-pass δ ratio of `gradsim run` for the same network.
"""

import argparse
import math
from dataclasses import replace
from pathlib import Path

import gradsim
from gradsim.cli.progress import progress
from gradsim.cli.progress import steps as on_steps


def architectures(depth: int) -> dict[str, dict]:
    a = 1 / math.sqrt(depth)
    return {
        "plain": {},
        "batch norm": {"norm": "batch"},
        "residual α=1/√L": {"residual": True, "residual_scale": a},
        "residual + batch norm": {"residual": True, "norm": "batch"},
    }


def main(outdir: Path, depth: int = 152, steps: int = 300) -> dict:
    archs = architectures(depth)
    net = {"depth": depth, "width": 32, "batch": 64, "init": "he"}
    # train() runs the product of its lists and these four are not one: a call each (the
    # same seed gives each the same data and batches), relabelled, then drawn together
    runs = []
    with progress(len(archs) * steps, "residual_152 · steps") as advance:  # on a terminal
        for name, kw in archs.items():
            t = gradsim.train(**net, **kw, task="blobs", samples=512, steps=steps, lr=0.01,
                              progress=on_steps(advance))  # fmt: skip
            r = replace(t.runs[0], label=name)
            one = gradsim.simulate(**net, **kw, loss="probe").summary  # the pass at init
            nf = r.nonfinite
            where = f" at step {nf['step']} ({nf['where']}, layer {nf['layer']})" if nf else ""
            acc = r.final_accuracy
            acc = f", accuracy {acc:.0%}" if acc is not None and acc == acc else ""
            print(f"{name:>22}: {r.verdict:<8}{where} loss {r.initial_loss:.4g} → "
                  f"{r.final_loss:.4g}{acc} · one pass: log10 δ_1/δ_L = "
                  f"{one.log10_delta_ratio:+.1f}")  # fmt: skip
            runs.append(r)
    t = replace(t, axes={"architecture": list(archs)}, runs=runs)
    outdir.mkdir(parents=True, exist_ok=True)
    t.save(outdir / "residual_152.json")
    t.save(outdir / "residual_152.png")
    return t.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--depth", type=int, default=152)
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    main(a.outdir, a.depth, a.steps)
