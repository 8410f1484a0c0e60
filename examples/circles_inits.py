"""The classic initialization notebook on the two-circle data: zeros, N(0,1)·10 and He.

A 4-layer ReLU network (widths 2 → 10 → 10 → 10 → 2) trained by SGD on the same batches:

* zeros: every unit of a layer computes the same thing and receives the same gradient, so
  the units stay identical forever (symmetry is never broken) and, with ReLU's φ'(0) = 0,
  nothing but the read-out bias moves: the loss stays at ln 2, accuracy 50%;
* N(0,1)·10: the initial loss is in the tens of thousands; the first huge steps push every
  ReLU into its flat half for every input, and the network ends exactly where zeros did
  (its final loss equals the zeros run's to the last digit: only the read-out bias learns);
* He: learns the circles (accuracy 100%).

Run:  python examples/circles_inits.py [OUTDIR] [--steps 2000]
Writes OUTDIR/circles_inits.png and .json and prints one line per initializer.
"""

import argparse
from dataclasses import replace
from pathlib import Path

import gradsim
from gradsim.cli.progress import progress, steps

INITS = {"zeros": {"init": "zeros"}, "N(0,1)·10": {"init": "normal", "gain": 10.0},
         "he": {"init": "he"}}  # fmt: skip


def main(outdir: Path, n_steps: int = 2000) -> dict:
    # train() runs the product of its lists and these three are not one: a call each (the
    # same seed gives each the same data and batches), relabelled, then drawn together
    runs = []
    with progress(len(INITS) * n_steps, "circles_inits · steps") as advance:  # on a terminal
        for name, kw in INITS.items():
            t = gradsim.train(task="circles", depth=4, width=10, batch=64, samples=300,
                              steps=n_steps, lr=0.05, progress=steps(advance), **kw)  # fmt: skip
            r = replace(t.runs[0], label=name)
            sym = " · symmetry never broken" if r.symmetric_layers == [1, 2, 3] else ""
            print(f"{name:>10}: {r.verdict:<8} loss {r.initial_loss:.4g} → {r.final_loss:.4g}, "
                  f"accuracy {r.final_accuracy:.0%}{sym}")  # fmt: skip
            runs.append(r)
    t = replace(t, axes={"init": list(INITS)}, runs=runs)
    outdir.mkdir(parents=True, exist_ok=True)
    t.save(outdir / "circles_inits.json")
    t.save(outdir / "circles_inits.png")
    return t.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--steps", type=int, default=2000)
    a = ap.parse_args()
    main(a.outdir, a.steps)
