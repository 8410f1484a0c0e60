"""Every initializer gradsim knows, on a 152-layer ReLU network.

Only the inits whose variance is 2/fan_in (he_normal, he_uniform) keep the signal and the
gradient; the ones derived for linear units (xavier, lecun, orthogonal with gain 1) lose
√2 per layer, PyTorch's default U(±1/√fan_in) loses √6, N(0, 1) overflows float32 within
40 layers, and the constant ones never break symmetry.

Run:  python examples/all_inits_152.py [OUTDIR] [--depth 152]
Writes OUTDIR/all_inits_152.png and OUTDIR/all_inits_152.json and prints the ranking.
"""

import argparse
import math
from pathlib import Path

import gradsim
from gradsim.cli.progress import progress


def main(outdir: Path, depth: int = 152) -> dict:
    inits = list(gradsim.INITIALIZERS)
    with progress(len(inits), "all_inits_152") as advance:  # on a terminal only
        c = gradsim.compare(init=inits, depth=depth, act="relu", progress=advance)
    for r in c.ranked():
        print(f"{r.config.init:>17}: {r.summary.verdict:<9} {delta_ratio_text(r)}")
    outdir.mkdir(parents=True, exist_ok=True)
    c.save(outdir / "all_inits_152.json")
    c.save(outdir / "all_inits_152.png")
    return c.to_dict()


def delta_ratio_text(r) -> str:
    """'log10 δ_1/δ_L = -23.1', or what is true where that ratio is not a number: every δ
    exactly zero (zeros: φ'(0) = 0 stops the gradient at the output), or where inf/NaN
    appeared."""
    x = r.summary.log10_delta_ratio
    if x is not None and math.isfinite(x):
        return f"log10 δ_1/δ_L = {x:+.1f}"
    if all(v == -math.inf for v in r.column("log10_delta_rms")):
        return "δ = 0 at every layer: no gradient at all"
    nf = r.summary.nonfinite
    if nf:
        return f"inf/NaN from layer {nf['layer']} ({nf['pass']} pass)"
    return "log10 δ_1/δ_L = — (not a number)"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?", default="results/examples", type=Path)
    ap.add_argument("--depth", type=int, default=152)
    a = ap.parse_args()
    main(a.outdir, a.depth)
