"""The cases of the golden fixture: ``gradsim run --format json`` argument lists covering
initializers × activations × biases × dtypes × losses, overflow, underflow, tracked and
untracked forward passes, residual and normalized networks, histograms and both ways of
taking ‖∂E/∂W_l‖ (the Gram path at B ≤ n/2, the direct product above).

``python tests/golden/make.py`` wrote ``run.json.gz`` from these cases on the main of
2026-11-30 (commit cad3ca8), before the five copies of the pass became one;
tests/test_golden.py holds every later version to those bytes. Issue 15 renamed the tanh
form of GELU `gelu_tanh` and made `gelu` the exact erf form: the `gelu` entries were recorded
again then, and the `gelu_tanh` entries are the old `gelu` ones with the name changed.
"""

from __future__ import annotations

ACTS = ("linear", "tanh", "relu", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "silu",
        "softplus")  # fmt: skip
INITS = ("zeros", "ones", "constant", "normal", "truncated_normal", "uniform",
         "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "lecun_normal",
         "lecun_uniform", "orthogonal", "lsuv", "identity", "torch_default",
         "keras_default")  # fmt: skip
GRAM = ("--depth", "8", "--width", "32", "--batch", "8")  # B(n_in + n_out) <= n_in n_out
DIRECT = ("--depth", "8", "--width", "16", "--batch", "16")  # the direct product


def cases() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    add = out.append
    for act in ACTS:  # every activation, both ways to the gradient norm, every dtype
        for shape in (GRAM, DIRECT):
            for dtype in ("float32", "float64", "float16"):
                add((*shape, "--act", act, "--dtype", dtype))
    for init in INITS:  # every initializer, with a homogeneous and a saturating φ
        for act in ("relu", "tanh"):
            add((*GRAM, "--init", init, "--act", act))
    for bias in ("zeros", "constant", "normal", "uniform"):
        for act in ("relu", "tanh", "gelu"):
            for dtype in ("float32", "float16"):
                add((*DIRECT, "--bias-init", bias, "--act", act, "--dtype", dtype))
    for loss in ("mse", "probe", "sum"):
        for act in ("relu", "tanh", "sigmoid"):
            for dtype in ("float32", "float64", "float16"):
                add((*GRAM, "--loss", loss, "--act", act, "--dtype", dtype))
    deep = ("--width", "24", "--batch", "8")
    # tracked forward far beyond the dtype (relu, linear), and untracked overflow (biases)
    for dtype in ("float32", "float16", "float64"):
        add(("--depth", "120", *deep, "--init", "normal", "--act", "relu", "--dtype", dtype))
        add(("--depth", "120", *deep, "--init", "he", "--gain", "0.5", "--act", "relu",
             "--dtype", dtype))  # fmt: skip
        add(("--depth", "60", *deep, "--init", "he", "--gain", "3", "--act", "linear",
             "--bias-init", "constant", "--dtype", dtype))  # fmt: skip
        add(("--depth", "80", *deep, "--init", "he", "--gain", "0.3", "--act", "tanh",
             "--bias-init", "constant", "--bias-value", "0", "--dtype", dtype))  # fmt: skip
        add(("--depth", "60", *deep, "--init", "xavier", "--gain", "0.2", "--act", "sigmoid",
             "--dtype", dtype))  # fmt: skip
        add(("--depth", "40", *deep, "--init", "normal", "--act", "selu", "--dtype", dtype))
        add(("--depth", "40", *deep, "--init", "normal", "--act", "elu", "--loss", "sum",
             "--dtype", dtype))  # fmt: skip
        add(("--depth", "40", *deep, "--init", "he", "--gain", "2", "--act", "relu",
             "--bias-init", "uniform", "--dtype", dtype))  # fmt: skip
        add(("--depth", "30", *deep, "--init", "zeros", "--act", "relu", "--dtype", dtype))
    # shapes: uneven widths, width 1, batch 1, a layer where the Gram path switches
    add(("--widths", "16,32,8,24,4", "--batch", "8", "--act", "tanh"))
    add(("--widths", "16,32,8,24,4", "--batch", "8", "--act", "relu", "--bias-init", "normal"))
    add(("--widths", "64,4,64,4", "--batch", "16", "--act", "relu", "--init", "orthogonal"))
    add(("--depth", "5", "--width", "1", "--batch", "4", "--act", "tanh"))
    add(("--depth", "5", "--width", "8", "--batch", "1", "--act", "relu"))
    # options of the initializers
    add((*GRAM, "--init", "he", "--mode", "fan_out", "--truncated"))
    add((*GRAM, "--init", "xavier", "--gain", "1.7", "--act", "tanh", "--mode", "fan_in"))
    add((*GRAM, "--init", "uniform", "--low", "-0.3", "--high", "0.2", "--act", "sigmoid"))
    add((*GRAM, "--init", "he", "--act", "leaky_relu",
         "--slope", "0.2"))  # fmt: skip
    add((*GRAM, "--act", "relu", "--threshold", "3", "--seed", "7"))
    # residual and normalized networks
    for act in ("relu", "tanh", "linear", "gelu"):
        for extra in (
            ("--residual",),
            ("--residual", "--residual-scale", "0.1"),
            ("--norm", "batch"),
            ("--norm", "layer"),
            ("--residual", "--norm", "batch", "--residual-scale", "0.5"),
            ("--residual", "--norm", "layer", "--bias-init", "normal"),
            ("--norm", "batch", "--bias-init", "uniform"),
        ):
            for shape in (GRAM, DIRECT):
                add((*shape, "--act", act, *extra))
    for dtype in ("float16", "float64"):
        add((*GRAM, "--residual", "--dtype", dtype))
        add((*GRAM, "--norm", "batch", "--act", "tanh", "--dtype", dtype))
        add((*DIRECT, "--residual", "--norm", "layer", "--act", "selu", "--dtype", dtype))
    add(("--depth", "100", *deep, "--residual", "--act", "relu"))  # grows as 2^L: tracked
    add(("--depth", "100", *deep, "--residual", "--act", "tanh", "--bias-init", "constant"))
    add(("--depth", "60", *deep, "--norm", "batch", "--act", "relu"))
    add(("--depth", "40", *deep, "--residual", "--init", "lsuv", "--act", "relu"))
    add(("--depth", "12", *deep, "--norm", "layer", "--init", "lsuv", "--act", "tanh"))
    add(("--depth", "30", *deep, "--residual", "--init", "zeros", "--act", "relu"))
    # histograms (the pass's captured copies of H_l and δ_l)
    for extra in ((), ("--act", "tanh", "--bias-init", "normal"), ("--residual",),
                  ("--norm", "batch"), ("--dtype", "float16")):  # fmt: skip
        add(("--depth", "12", *deep, "--hist", *extra))
    add(("--depth", "120", *deep, "--init", "normal", "--act", "relu", "--hist"))
    # the mean-field prediction beside the measurement
    add((*GRAM, "--act", "tanh", "--init", "xavier", "--theory"))
    # GELU's tanh form, in every case of the exact form: `gelu` was the tanh form before
    # issue 15, and these entries are its old ones under the new name
    out += [tuple("gelu_tanh" if a == "gelu" else a for a in c) for c in out if "gelu" in c]
    return out


def other_cases() -> list[tuple[str, ...]]:
    """Whole command lines of the pass's other consumers (training, the Jacobian spectrum,
    a comparison) in JSON."""
    small = ("--width", "16", "--batch", "16", "--samples", "64", "--steps", "12",
             "--log-every", "3")  # fmt: skip
    out = [
        ("train", "--depth", "6", *small, "--init", "he,xavier", "--act", "relu,tanh"),
        ("train", "--depth", "6", *small, "--task", "blobs", "--optimizer", "adam",
         "--lr", "0.01", "--residual", "--norm", "batch"),
        ("train", "--depth", "5", *small, "--task", "circles", "--norm", "layer",
         "--optimizer", "momentum", "--clip-norm", "0.5", "--dtype", "float64"),
        ("train", "--depth", "5", *small, "--init", "lsuv", "--bias-init", "normal"),
        ("train", "--depth", "8", *small, "--init", "normal", "--lr", "10"),  # diverges
        ("spectrum", "--depth", "10", "--width", "12", "--inputs", "4", "--act", "tanh"),
        ("spectrum", "--depth", "10", "--widths", "8,16,12,10,9,8,8,8,8,8,6", "--inputs", "3",
         "--act", "relu", "--bias-init", "normal"),
        ("compare", "--depth", "10", "--width", "16", "--batch", "8", "--init", "he,xavier",
         "--act", "relu,tanh", "--residual", "--norm", "none,batch"),
    ]  # fmt: skip
    return out
