"""Xavier vs He initialization on a 30-layer ReLU network (He et al. 2015, §2.2 and fig. 3).

He et al. derive Var(W) = 2/fan_in for rectifiers: a ReLU zeroes half of its input, so
Xavier's Var(W) = 2/(fan_in + fan_out) = 1/n halves the signal's second moment at every
layer and δ shrinks by √½ per layer going back. Over 30 layers that is 2^-15 ≈ 3·10⁻⁵;
over 152 layers 10⁻²³. He's init keeps both near 1.

Run:  python examples/he2015_relu30.py [OUTDIR] [--depth 30]
Writes OUTDIR/he2015_relu30.png and prints the two verdicts.
"""

import argparse
from pathlib import Path

import gradsim
from gradsim.cli.progress import progress


def main(outdir: Path, depth: int = 30) -> dict:
    with progress(2, "he2015_relu30") as advance:  # on a terminal only
        c = gradsim.compare(init=["xavier", "he"], depth=depth, width=256, act="relu",
                            progress=advance)  # fmt: skip
    for r in c.results:
        s = r.summary
        print(f"{r.config.init:>15}: {s.verdict:<9} δ ×{s.growth_per_layer:.3f} per layer, "
              f"log10 δ_1/δ_L = {s.log10_delta_ratio:+.1f}")  # fmt: skip
    outdir.mkdir(parents=True, exist_ok=True)
    c.save(outdir / "he2015_relu30.png")
    return c.to_dict()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--depth", type=int, default=30)
    a = ap.parse_args()
    main(a.outdir, a.depth)
