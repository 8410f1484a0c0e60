"""He vs Xavier initialization on a deep ReLU network (He et al. 2015).

Xavier/Glorot keeps Var(W) = 2/(fan_in + fan_out), derived for units that are linear
around 0. A ReLU zeroes half of its input, so every layer halves the second moment of the
signal, and δ shrinks by about √½ per layer going back: after 152 layers, layer 1 gets
~10⁻²³ of the output layer's gradient. He's Var(W) = 2/fan_in puts the missing factor 2 back.

Run:  python examples/he_vs_xavier.py [depth]
"""

import sys

import gradsim


def main(depth: int = 152) -> dict[str, gradsim.Result]:
    results = {}
    for init in ("xavier", "he"):
        r = gradsim.simulate(depth=depth, init=init, activation="relu", seed=0)
        s = r.summary
        print(
            f"{init:>7}: verdict {s.verdict:<9}  δ per layer ×{s.growth_per_layer:.3f}  "
            f"log10 δ_1/δ_L = {s.log10_delta_ratio:+.1f}  "
            f"log10 rms(H_L)/rms(X) = {s.log10_act_ratio:+.1f}"
        )
        results[init] = r
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 152)
