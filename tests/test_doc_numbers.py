"""The numbers the docs quote in their prose, recomputed (the excerpts are checked by
tests/test_docs.py, the benchmark numbers of docs/performance.md are quoted as measured, with
the machine and its load). Each test reads the page, computes the number the way the page
says it was got, and finds it, formatted as the page formats it, in the page's text.

When one fails, the page (or the comment) states a number the code no longer gives: fix the
sentence, not the test.
"""

import math
from pathlib import Path

import numpy as np
import pytest

import gradsim
from gradsim.options import BY_DEST, parse_axis

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def page(name: str) -> str:
    return " ".join((ROOT / name).read_text(encoding="utf-8").split())  # lines joined


def sup(n: int) -> str:
    """10⁻²³ for -23."""
    return "10" + str(n).translate(SUP)


@pytest.fixture(scope="module")
def relu152():
    """The README's and network.md's 152-layer ReLU nets (width 256, batch 128, seed 0)."""
    return {init: gradsim.simulate(depth=152, init=init).summary
            for init in ("he", "xavier", "torch_default", "normal")}  # fmt: skip


def test_readme_relu152(relu152):
    text = page("README.md")
    x = relu152["xavier"]
    # "loses a factor √2 of δ per ReLU layer: layer 1 gets 10⁻²³ of the output layer's"
    assert "loses a factor √2 of δ per ReLU layer" in text
    assert abs(x.growth_per_layer - 2**-0.5) < 0.01
    assert f"layer 1 gets {sup(round(x.log10_delta_ratio))} of the output" in text
    # "PyTorch's default U(±1/√fan_in) loses more"
    assert "loses more" in text
    assert relu152["torch_default"].log10_delta_ratio < x.log10_delta_ratio
    # "N(0, 1) weights overflow float32 at layer 37"
    n = relu152["normal"]
    assert n.verdict == "overflow" and n.nonfinite["pass"] == "forward"
    assert f"overflow float32 at layer {n.nonfinite['layer']}" in text


def test_network_page_relu152(relu152):
    text = page("docs/network.md")
    x = relu152["xavier"]
    assert f"δ at layer 1 is {sup(round(x.log10_delta_ratio))} of δ at layer 152" in text
    g = max(x.grad_ratio, 1 / x.grad_ratio)  # "differs by ×2.06 between the two"
    assert f"‖∂E/∂W‖ differs by ×{g:.2f}" in text
    layer = relu152["normal"].nonfinite["layer"]
    assert f"overflows float32 at layer {layer}" in text


def test_theory_page_xavier_relu152():
    """ "χ₁ = 1/2, so δ should shrink by √2 per layer, 10^−22.7 over the depth; the measurement
    is 10^−23.1"."""
    r = gradsim.simulate(depth=152, init="xavier", theory=True).to_dict()["summary"]
    t = r["theory"]
    text = page("docs/theory.md")
    assert t["chi1"] == pytest.approx(0.5)
    assert f"10^−{-t['log10_delta_ratio_pred']:.1f} over the depth" in text
    assert f"the measurement is 10^−{-r['log10_delta_ratio']:.1f}" in text


def test_theory_page_mse_share():
    """ "For He/ReLU at the default settings (L = 50, n = 256), 2/3 of δ_L² comes from H_L and
    the measured δ grows ×1.04 per layer where the theory says ×1"."""
    r = gradsim.simulate(init="he", theory=True).to_dict()["summary"]
    assert r["theory"]["output_share"] == pytest.approx(2 / 3, abs=0.01)
    text = page("docs/theory.md")
    assert "2/3 of δ_L² comes from H_L" in text
    assert f"the measured δ grows ×{r['growth_per_layer']:.2f} per layer" in text


def test_theory_page_sigmoid_critical_line():
    """ "as for sigmoid at σ_w² ≈ 103": the critical σ_w at σ_b = 0."""
    sw2 = (
        gradsim.theory(act="sigmoid", sigma_w=1.0, sigma_b=0.0, depth=2).to_dict()[
            "critical_sigma_w"
        ]
        ** 2
    )
    assert f"sigmoid at σ_w² ≈ {sw2:.0f}" in page("docs/theory.md")


def test_theory_page_phase_overlay_count():
    """ "The hollow circles are the 27 runs of the `compare` above": 9 gains × 3 bias stds."""
    text = page("docs/theory.md")
    gains = parse_axis(BY_DEST["gain"], "0.7:1.9:9")
    stds = parse_axis(BY_DEST["bias_std"], "0,0.25,0.4")
    assert f"the {len(gains) * len(stds)} runs of the `compare` above" in text


def test_training_page_numbers():
    text = page("docs/training.md")
    # "Xavier's 30 ReLU layers pass on 3·10⁻⁵ of the signal (`gradsim run --depth 30 --init
    # xavier`)"
    a = gradsim.simulate(depth=30, init="xavier").summary.act_ratio
    m, e = f"{a:.0e}".split("e")
    assert f"pass on {m}·{sup(int(e))} of the signal" in text
    # "the constant prediction's loss ln 4 = 1.386"; "0.9¹² = 28%"
    assert f"ln 4 = {math.log(4):.3f}" in text
    assert f"0.9¹² = {0.9**12:.0%}" in text
    # "at initialization its δ grows by 10^13.6 over the depth, see `gradsim run --depth 152
    # --width 32 --batch 64 --norm batch --loss probe`"
    s = gradsim.simulate(depth=152, width=32, batch=64, norm="batch", loss="probe").summary
    assert f"its δ grows by 10^{s.log10_delta_ratio:.1f} over the depth" in text


def test_sweeps_page_run_count():
    """ "(6 depths × 21 gains × 2 activations, Xavier, width 128, batch 64, 5 seeds: 1260
    runs)", read from the grid file."""
    grid = tomllib.loads((ROOT / "examples/grids/depth_gain_tanh_relu.toml").read_text())
    d, g, a = len(grid["depth"]), len(parse_axis(BY_DEST["gain"], grid["gain"])), len(grid["act"])
    n = d * g * a * grid["seeds"]
    text = page("docs/sweeps.md")
    assert f"({d} depths × {g} gains × {a} activations, Xavier, width {grid['width']}" in text
    assert f"{grid['seeds']} seeds: {n} runs)" in text


def test_width_depth_grid_comment(tmp_path):
    """examples/grids/width_depth_he.toml: at width 16 the median δ ratio falls to 10^-6.7 at
    depth 200 with every one of the 20 seeds vanishing; at width 128 it stays within a decade
    (every seed stable). The same seeds as the grid's (a seed depends on the master seed, the
    replica and the shape only)."""
    text = (ROOT / "examples/grids/width_depth_he.toml").read_text(encoding="utf-8")
    grid = tomllib.loads(text)
    comment = " ".join(ln.lstrip("# ") for ln in text.splitlines() if ln.startswith("#"))
    res = gradsim.sweep(depth=200, width=[16, 128], init="he", act="relu", batch=grid["batch"],
                        seeds=grid["seeds"], seed=grid["seed"], out=tmp_path, jobs=1)  # fmt: skip
    runs: dict[int, list[dict]] = {}
    for r in res.records:
        runs.setdefault(r["config"]["width"], []).append(r["summary"])
    med = {w: float(np.median([r["log10_delta_ratio"] for r in rs])) for w, rs in runs.items()}
    vanish = {w: sum(r["verdict"] == "vanishing" for r in rs) for w, rs in runs.items()}
    assert len(runs[16]) == grid["seeds"] == 20
    assert f"at width 16 it falls to 10^{med[16]:.1f} at depth 200" in comment
    assert vanish[16] == 20 and "with all 20 seeds vanishing" in comment
    assert abs(med[128]) < 1 and all(r["verdict"] == "stable" for r in runs[128])


def test_theory_page_spectra():
    """ "orthogonal tanh layers at criticality (σ_w = 1, σ_b = 0) keep the spread at 1.3, while
    Gaussian weights with the same variance (`xavier_normal`) spread it to 76, and orthogonal
    ReLU layers at their critical gain √2 to 68" (depth 64, width 256), and linear orthogonal
    layers are exactly isometric."""
    nets = {"linear": dict(act="linear", init="orthogonal"),
            "tanh": dict(act="tanh", init="orthogonal"),
            "gauss": dict(act="tanh", init="xavier_normal"),
            "relu": dict(act="relu", init="orthogonal", gain=2**0.5)}  # fmt: skip
    s = {k: gradsim.spectrum(depth=64, width=256, **n).to_dict()["spread"] for k, n in nets.items()}
    text = page("docs/theory.md")
    assert s["linear"] < 1e-12 and "orthogonal linear layers are exactly isometric" in text
    assert f"keep the spread at {s['tanh']:.1f}" in text
    assert f"(`xavier_normal`) spread it to {s['gauss']:.0f}" in text
    assert f"critical gain √2 to {s['relu']:.0f}" in text


def test_sweep_sizes_quoted():
    """The run counts docs/sweeps.md and the README quote for their sweep commands."""

    def runs(line: str) -> int:
        argv = line.split()
        n = int(argv[argv.index("--seeds") + 1])
        for flag, dest in (("--depth", "depth"), ("--init", "init"), ("--act", "activation"),
                           ("--gain", "gain")):  # fmt: skip
            if flag in argv:
                n *= len(parse_axis(BY_DEST[dest], argv[argv.index(flag) + 1]))
        return n

    sweeps, readme = page("docs/sweeps.md"), page("README.md")
    first = next(ln for ln in (ROOT / "docs/sweeps.md").read_text().splitlines()
                 if ln.startswith("gradsim sweep --depth"))  # fmt: skip
    assert f"16 gains × 5 seeds = {runs(first)} runs of width 256" in sweeps
    assert f"the {runs(first)}-run sweep of [docs/sweeps.md]" in readme
    example = next(s for s in readme.split("`") if s.startswith("gradsim sweep --depth"))
    assert f"× 3 seeds = {runs(example)} runs of width 64" in sweeps


def test_theory_page_finite_width_ranges():
    """ "ReLU/He nets stray from the prediction by at most 0.05–0.19 decades (depending on the
    seed) at β ≈ 0.15–0.19 (L = 152, n = 1024; L = 50, n = 256), and by at most 0.17–0.46
    decades at β ≈ 0.6–0.8 (L = 152, n = 256; L = 100, n = 128)", over seeds 0–3 with the
    probe loss. The n = 1024 net (the range's low end) is left out here: it is the slow one."""

    def devs(depth, width):
        return [gradsim.simulate(depth=depth, width=width, init="he", loss="probe", seed=s,
                                 theory=True).to_dict()["summary"]["theory"]["log10_delta_dev_max"]
                for s in range(4)]  # fmt: skip

    text = page("docs/theory.md")
    narrow = devs(152, 256) + devs(100, 128)
    assert f"by at most 0.05–{max(devs(50, 256)):.2f} decades" in text
    # β = (L − 1)/n of the nets named, as the page rounds it
    assert (f"by at most {min(narrow):.2f}–{max(narrow):.2f} decades at "
            f"β ≈ {151 / 256:.1f}–{99 / 128:.1f} (L = 152, n = 256; L = 100") in text  # fmt: skip
    assert f"β ≈ {151 / 1024:.2f}–{49 / 256:.2f} (L = 152, n = 1024" in text


def test_python_page_comments():
    """The values python.md's example shows in its comments."""
    m = gradsim.theory(act="tanh", sigma_w=1.33, sigma_b=0.22)
    sp = gradsim.spectrum(act="tanh", init="orthogonal", depth=32, width=128)
    text = page("docs/python.md")
    assert f"# ({str(m.q_star)[:6]}..., {str(m.chi1)[:6]}..., '{m.phase}')" in text
    assert f"sp.spread # {sp.spread:.2f}: Var λ/(E λ)²" in text  # spaces joined
