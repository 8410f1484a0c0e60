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

from gradsim import RunConfig
from gradsim.report.export import to_json, write_atomic
from gradsim.report.figures.common import save_figure
from gradsim.report.figures.registry import plot_result
from gradsim.training import TrainConfig, to_dict, train_all


def main(outdir: Path, depth: int = 30, steps: int = 500) -> dict:
    configs = [
        TrainConfig(net=RunConfig(depth=depth, width=64, batch=32, init=init), task="blobs",
                    samples=512, steps=steps, lr=0.01)
        for init in ("xavier", "he")
    ]  # fmt: skip
    runs = train_all(configs)
    for r, c in zip(runs, configs, strict=True):
        r.label = c.net.init
        print(f"{r.label:>15}: {r.verdict:<8} loss {r.initial_loss:.3f} → {r.final_loss:.3f} "
              f"(constant prediction {r.baseline_loss:.3f}), accuracy "
              f"{r.final_accuracy:.0%}")  # fmt: skip
    d = to_dict({"init": ["xavier_uniform", "he_normal"]}, runs)
    outdir.mkdir(parents=True, exist_ok=True)
    write_atomic(outdir / "he2015_train30.json", to_json(d))
    save_figure(plot_result(d), outdir / "he2015_train30.png")
    return d


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--steps", type=int, default=500)
    a = ap.parse_args()
    main(a.outdir, a.depth, a.steps)
