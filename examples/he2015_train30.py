"""Training a 30-layer ReLU network: Xavier stalls, He converges (He et al. 2015, fig. 3).

One pass already shows why (examples/he2015_relu30.py): with Xavier's Var(W) = 1/n each
ReLU layer halves the signal's second moment, so after 30 layers the output is ~10^-5 of the
input and the gradient reaching layer 1 is as small. Trained, the Xavier network's output
stays at the constant prediction (the loss does not move from ln 4 on 4 classes), while He's
Var(W) = 2/n network learns. Same task (blobs), same seed, same batches, plain SGD.

Run:  python examples/he2015_train30.py [OUTDIR] [--depth 30] [--steps 500]
Writes OUTDIR/he2015_train30.png and .json and prints one line per initializer.
"""

import argparse
from pathlib import Path

import gradsim
from gradsim.cli.progress import progress, steps


def main(outdir: Path, depth: int = 30, n_steps: int = 500) -> dict:
    with progress(2 * n_steps, "he2015_train30 · steps") as advance:  # on a terminal only
        t = gradsim.train(init=["xavier", "he"], depth=depth, width=64, batch=32, task="blobs",
                          samples=512, steps=n_steps, lr=0.01, progress=steps(advance))  # fmt: skip
    for r in t.runs:
        print(f"{r.config['init']:>15}: {r.verdict:<8} loss {r.initial_loss:.3f} → "
              f"{r.final_loss:.3f} (constant prediction {r.baseline_loss:.3f}), accuracy "
              f"{r.final_accuracy:.0%}")  # fmt: skip
    outdir.mkdir(parents=True, exist_ok=True)
    t.save(outdir / "he2015_train30.json")
    t.save(outdir / "he2015_train30.png")
    return t.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--steps", type=int, default=500)
    a = ap.parse_args()
    main(a.outdir, a.depth, a.steps)
