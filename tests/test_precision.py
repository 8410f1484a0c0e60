"""Number formats and loss scaling (gradsim/dtypes.py, gradsim/scaling.py) against
independent references: a plain NumPy loop that stores every array in the format (ml_dtypes
rounding) and computes in float32; the advised loss-scale range against runs at scales
inside and outside it; static scales against float32; the dynamic scaler against a hand
trace of PyTorch's GradScaler policy."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import ml_dtypes
import numpy as np
import pytest

import gradsim
from gradsim import scaling
from gradsim.config import RunConfig
from gradsim.draws import build_network
from gradsim.dtypes import DTYPES, FORMATS, canonical_dtype, fmt


def _to(t):
    return lambda a: np.asarray(a).astype(t).astype(np.float32)


# how the reference stores an array of float64 draws: float16 directly (gradsim fills a
# float16 array from the float64 draws), the ml_dtypes formats through float32 (gradsim holds
# them in float32 arrays, as a framework casts its float32 parameters)
ROUND = {
    "float16": _to(np.float16),
    "bfloat16": _to(ml_dtypes.bfloat16),
    "float8_e4m3fn": _to(ml_dtypes.float8_e4m3fn),
    "float8_e5m2": _to(ml_dtypes.float8_e5m2),
}


def _store(dtype: str, a64):
    if dtype == "float16":
        return ROUND["float16"](a64)
    return ROUND[dtype](np.asarray(a64).astype(np.float32))


def reference(cfg: RunConfig, scale: float = 1.0) -> dict:
    """The plain pass of a bias-free relu or tanh network with the mse loss, stored in
    cfg.dtype and computed in float32, from ∂E/∂H_L × scale: per layer log10 RMS of H_l and
    of the true δ_l (the stored δ_l / scale), and the share of δ_l's entries exactly zero."""
    net = build_network(replace(cfg, dtype="float64", loss_scale="ideal"))  # the same draws
    rnd = ROUND[cfg.dtype]
    W = [_store(cfg.dtype, w) for w in net.W]
    H = _store(cfg.dtype, net.X)
    T = _store(cfg.dtype, net.T).astype(np.float64)
    tanh = cfg.activation == "tanh"
    D, rms_h = [], []
    for w in W:
        Z = rnd(H @ w)
        H = rnd(np.tanh(Z)) if tanh else rnd(np.maximum(Z, 0))
        D.append(rnd(1.0 - H * H) if tanh else (Z > 0))
        rms_h.append(np.sqrt(np.mean(H.astype(np.float64) ** 2)))
    g = (H.astype(np.float64) - T) / cfg.batch
    delta = rnd((g * scale).astype(np.float32) * D[-1])
    deltas = [delta]
    for l in range(len(W) - 1, 0, -1):
        delta = rnd((delta @ W[l].T) * D[l - 1])
        deltas.append(delta)
    deltas.reverse()
    with np.errstate(divide="ignore"):
        return {
            "act": np.log10(rms_h),
            "delta": np.array(
                [np.log10(np.sqrt(np.mean(d.astype(np.float64) ** 2)) / scale) for d in deltas]
            ),
            "zero": np.array([1.0 - np.count_nonzero(d) / d.size for d in deltas]),
        }


def _col(result, name):
    return result.column(name)


# -- formats ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d for d in DTYPES if FORMATS[d].ml_name])
def test_format_constants_are_ml_dtypes(name):
    f, info = FORMATS[name], ml_dtypes.finfo(getattr(ml_dtypes, FORMATS[name].ml_name))
    assert (f.max, f.tiny, f.eps) == (float(info.max), float(info.smallest_normal),
                                      float(info.eps))  # fmt: skip


def test_aliases():
    assert canonical_dtype("bf16") == "bfloat16"
    assert canonical_dtype("e4m3") == "float8_e4m3fn"
    assert canonical_dtype("E5M2") == "float8_e5m2"
    assert RunConfig(dtype="bf16").dtype == "bfloat16"


def test_formats_do_not_import_ml_dtypes_at_start():
    import subprocess
    import sys

    code = ("import sys, gradsim.cli, gradsim.dtypes, gradsim.config; "
            "print('ml_dtypes' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e5m2", "float16"])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_plain_pass_equals_the_stored_in_format_reference(dtype, act):
    kw = dict(depth=8, width=48, batch=24, activation=act, init="xavier", dtype=dtype,
              loss_scale="none", seed=3)  # fmt: skip
    cfg, r = RunConfig(**kw), gradsim.simulate(**kw)
    ref = reference(cfg)
    np.testing.assert_allclose(_col(r, "log10_act_rms"), ref["act"], atol=1e-6)
    np.testing.assert_allclose(_col(r, "log10_delta_rms"), ref["delta"], atol=1e-6)
    np.testing.assert_array_equal(_col(r, "delta_zero_frac"), ref["zero"])


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_bfloat16_ideal_agrees_with_the_reference(act):
    """The default (ideal) pass rescales δ by powers of two: in bfloat16's range the same
    numbers, but for the rounding of ∂E/∂H_L normalized (a few bfloat16 units, averaged)."""
    cfg = RunConfig(depth=8, width=48, batch=24, activation=act, init="xavier",
                    dtype="bfloat16", seed=3)  # fmt: skip
    r = gradsim.simulate(depth=8, width=48, batch=24, activation=act, init="xavier",
                         dtype="bf16", seed=3)  # fmt: skip
    ref = reference(cfg)
    np.testing.assert_allclose(_col(r, "log10_act_rms"), ref["act"], atol=1e-6)
    np.testing.assert_allclose(_col(r, "log10_delta_rms"), ref["delta"], atol=3e-3)
    # against float32: bfloat16's 8 bits show
    r32 = gradsim.simulate(depth=8, width=48, batch=24, activation=act, init="xavier", seed=3)
    assert np.abs(_col(r32, "log10_act_rms") - ref["act"]).max() > 1e-5


# -- loss scale none: plain float16 underflow ----------------------------------------


def test_none_reproduces_plain_float16_underflow(invoke):
    """The issue's case: γ = 0.5, B = 256 (the default ReLU network, He init): in plain
    float16 layer 1's δ is all zeros."""
    r = invoke("run", "--gain", 0.5, "--batch", 256, "--dtype", "float16", "--loss-scale", "none",
               "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["config"]["loss_scale"] == "none"
    assert d["layers"][0]["delta_zero_frac"] >= 0.99
    assert d["layers"][0]["underflowed"] is True
    assert d["summary"]["backward"] == d["summary"]["verdict"] == "underflowed"
    assert d["summary"]["loss_scale"]["mode"] == "none"
    ref = reference(RunConfig(gain=0.5, batch=256, dtype="float16", loss_scale="none"))
    zero = [row["delta_zero_frac"] for row in d["layers"]]
    np.testing.assert_array_equal(zero, ref["zero"])
    # the default (ideal) measures the true δ: nothing underflowed, and the verdict says
    # vanishing, not underflowed
    ideal = gradsim.simulate(gain=0.5, batch=256, dtype="float16")
    assert ideal.summary.backward == "vanishing"
    assert not any(row.underflowed for row in ideal.layers)
    assert np.isfinite(_col(ideal, "log10_delta_rms")).all()


def test_none_partial_underflow_matches_plain_float16():
    """tanh at γ = 0.5: some of δ's entries underflow to zero, layer by layer as in a plain
    float16 computation."""
    cfg = RunConfig(depth=20, width=256, batch=256, activation="tanh", gain=0.5,
                    init="xavier", dtype="float16", loss_scale="none")  # fmt: skip
    r = gradsim.simulate(depth=20, width=256, batch=256, activation="tanh", gain=0.5,
                         init="xavier", dtype="float16", loss_scale="none")  # fmt: skip
    ref = reference(cfg)
    zero = _col(r, "delta_zero_frac")
    np.testing.assert_array_equal(zero, ref["zero"])
    assert 0 < zero[0] < 1  # partly lost: neither nothing nor everything
    # (float32's sums of 65,536 squares: a few units of its last place)
    np.testing.assert_allclose(_col(r, "log10_delta_rms"), ref["delta"], atol=2e-5)
    # at the advised range's lower end, almost nothing is lost (the reference agrees): only
    # entries 2^11 times smaller than the layer's RMS round to zero
    k = r.summary.loss_scale["log2_advised_range"][0]
    rk = gradsim.simulate(depth=20, width=256, batch=256, activation="tanh", gain=0.5,
                          init="xavier", dtype="float16", loss_scale=f"2^{k}")  # fmt: skip
    refk = reference(replace(cfg, loss_scale=str(2**k)), scale=2.0**k)
    np.testing.assert_array_equal(_col(rk, "delta_zero_frac"), refk["zero"])
    assert _col(rk, "delta_zero_frac").max() < 1e-3 < zero[0]


# -- the advised range ---------------------------------------------------------------

NETWORKS = [
    dict(activation="tanh", gain=0.7, depth=20, init="xavier"),
    dict(activation="tanh", gain=1.6, depth=20, init="xavier"),
    dict(activation="relu", gain=0.8, depth=12),
    dict(activation="relu", gain=1.25, depth=12),
    dict(activation="tanh", gain=1.0, depth=10, init="xavier", loss="probe"),
]


def _out_of_range(r, k: int) -> tuple[bool, bool]:
    """(under, over) of a run at loss scale 2^k: some layer's stored RMS(δ_l) below float16's
    smallest normal; some layer's stored max|δ_l| at or above its largest number (or inf)."""
    f = fmt("float16")
    shift = k * math.log10(2.0)
    ld, lm = _col(r, "log10_delta_rms") + shift, _col(r, "log10_delta_max") + shift
    under = bool(np.any(~np.isfinite(ld) | (ld < math.log10(f.tiny))))
    over = r.summary.nonfinite is not None or bool(np.any(lm >= math.log10(f.max)))
    return under, over


@pytest.mark.parametrize("net", NETWORKS, ids=lambda d: f"{d['activation']}-{d['gain']}")
def test_advised_range_inside_works_outside_fails(net):
    kw = dict(width=64, batch=32, dtype="float16", **net)
    ideal = gradsim.simulate(**kw).summary.loss_scale
    k_lo, k_hi = ideal["log2_advised_range"]
    assert ideal["advised_range"] == [2.0**k_lo, 2.0**k_hi]
    for k in (k_lo, k_hi):
        assert _out_of_range(gradsim.simulate(**kw, loss_scale=f"2^{k}"), k) == (False, False)
    assert _out_of_range(gradsim.simulate(**kw, loss_scale=f"2^{k_lo - 1}"), k_lo - 1)[0]
    assert _out_of_range(gradsim.simulate(**kw, loss_scale=f"2^{k_hi + 1}"), k_hi + 1)[1]


def test_advised_range_formula():
    # one layer: RMS 2^-20, max 2^-15, float16 (max 65504, tiny 2^-14)
    r, m = -20 * math.log10(2), -15 * math.log10(2)
    assert scaling.advised_range([r], [m], 65504.0, 2.0**-14) == (6, 30)  # 2^30·2^-15 < 65504
    assert scaling.advised_range([r, -30.0], [m, -29.0], 65504.0, 2.0**-14) is None
    assert scaling.advised_range([-math.inf], [-math.inf], 65504.0, 2.0**-14) is None


# -- static and dynamic scales --------------------------------------------------------


def test_static_scale_unscales_to_float32():
    """A run at a static scale reports the true δ and ‖∂E/∂W‖: float32's within float16's
    precision (where ∂E/∂H_L × 1024 keeps δ normal), and training's gradients, unscaled in
    float32, equal float32's to float16's precision."""
    kw = dict(depth=10, width=64, batch=32, activation="tanh", init="xavier", seed=1)
    r16 = gradsim.simulate(dtype="float16", loss_scale="1024", **kw)
    r32 = gradsim.simulate(**kw)
    assert r16.summary.loss_scale["scale"] == 1024.0
    np.testing.assert_allclose(_col(r16, "log10_grad_norm"), _col(r32, "log10_grad_norm"),
                               atol=5e-3)  # fmt: skip
    np.testing.assert_allclose(_col(r16, "log10_delta_rms"), _col(r32, "log10_delta_rms"),
                               atol=5e-3)  # fmt: skip

    from gradsim.training.model import backward, build_model, forward, loss_and_grad

    # a loss whose gradient is 2^-20 times the mse's: below float16's normal range
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 8)), rng.standard_normal((32, 4))
    grads = {}
    for dtype, ls in (("float32", "ideal"), ("float16", "2^20"), ("float16", "none")):
        cfg = RunConfig(depth=6, width=64, batch=32, activation="tanh", init="xavier",
                        dtype=dtype, loss_scale=ls)  # fmt: skip
        model = build_model(cfg, 8, 4, False)
        c = forward(model, X)
        _, dout = loss_and_grad(c.output, Y, False)
        dout = dout * np.float32(2.0**-20)
        grads[dtype, ls] = backward(model, c, dout, scaling.static_scale(cfg.loss_scale) or 1.0)[0]
    for a, b in zip(grads["float16", "2^20"], grads["float32", "ideal"], strict=True):
        assert np.linalg.norm(a - b) <= 2e-2 * np.linalg.norm(b)
    # without the scale, the gradients are lost to underflow
    for a, b in zip(grads["float16", "none"], grads["float32", "ideal"], strict=True):
        assert np.linalg.norm(a - b) > 0.5 * np.linalg.norm(b)


def test_scaler_follows_a_hand_trace():
    """PyTorch's GradScaler rule, by hand: halve and skip on inf/NaN, double after
    ``growth_interval`` good steps in a row (the count restarts after a skip)."""
    s = scaling.Scaler(2.0**16, growth_interval=3)
    finite = [False, False, True, True, True, True, False, True, True, True]
    taken = [s.update(step, ok) for step, ok in enumerate(finite, start=1)]
    assert taken == finite
    # 2^16 → 2^15 (step 1) → 2^14 (2) → 3 good: 2^15 (5) → bad: 2^14 (7) → 3 good: 2^15 (10)
    assert s.history == [(1, 2.0**15), (2, 2.0**14), (5, 2.0**15), (7, 2.0**14),
                         (10, 2.0**15)]  # fmt: skip
    assert s.skipped == [1, 2, 7]
    assert s.scale == 2.0**15


def test_dynamic_scale_in_training_skips_and_halves(tmp_path, monkeypatch, invoke):
    """A float16 network whose δ × 2^16 overflows: the first steps are skipped, each
    halving the scale; the file's skipped steps are those whose gradient norm is not finite;
    with a growth interval of 5, the scale doubles after every 5 good steps in a row."""
    monkeypatch.setattr(scaling, "GROWTH_INTERVAL", 5)
    path = tmp_path / "run.npz"
    r = invoke("train", "--depth", 8, "--width", 64, "--steps", 40, "--gain", 1.5,
               "--dtype", "float16", "--loss-scale", "dynamic", "--optimizer", "adam",
               "--lr", 1e-3, "--save-run", path, "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    ls = run["loss_scale"]
    assert run["config"]["loss_scale"] == "dynamic" and ls["mode"] == "dynamic"
    skipped = ls["skipped_steps"]
    assert skipped and skipped[0] == 1
    # the hand trace of the policy over the run's own skipped steps
    scale, good, history = 2.0**16, 0, []
    for step in range(1, 41):
        if step in skipped:
            scale, good = scale / 2, 0
            history.append([step, scale])
        else:
            good += 1
            if good == 5:
                scale, good = scale * 2, 0
                history.append([step, scale])
    assert ls["history"] == history and ls["scale"] == scale
    f = np.load(path)
    assert np.flatnonzero(f["skipped"]).tolist() == [s - 1 for s in skipped]
    assert np.flatnonzero(~np.isfinite(f["global_grad_norm"])).tolist() == [s - 1 for s in skipped]
    assert run["verdict"] != "diverged"  # the skipped steps left the weights finite


def test_a_loss_scale_names_its_mode():
    from gradsim.scaling import canonical_loss_scale, mode_of

    given = ("ideal", "none", "Dynamic", "1024", "65536.0", "0.5")
    assert [mode_of(canonical_loss_scale(v)) for v in given] == [
        "ideal", "none", "dynamic", "static", "static", "static"
    ]  # fmt: skip


def test_a_dynamic_scales_record_does_not_depend_on_its_stack():
    """The runs that back off go again; the others' record of the scales tried is their own
    (it listed 2^16 once per pass of the whole stack)."""
    from gradsim.config import RunConfig
    from gradsim.simulation import simulate_many

    cfgs = [RunConfig(depth=20, width=16, batch=8, init="he", gain=g, dtype="float16",
                      loss_scale="dynamic") for g in (1.0, 1.3, 1.1)]  # fmt: skip
    together = simulate_many(cfgs)
    alone = [simulate_many([c])[0] for c in cfgs]
    tried = [r.summary.loss_scale["tried"] for r in together]
    assert tried == [r.summary.loss_scale["tried"] for r in alone]
    assert tried[0] == [65536.0] and len(tried[1]) == 12 and len(tried[2]) == 3
    for a, b in zip(together, alone, strict=True):
        assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn"])
def test_a_stack_with_lsuv_in_a_narrow_format_warns_of_nothing(dtype):
    """LSUV's slice of a stack is filled after the others are drawn: it holds zeros until
    then, not whatever the memory held (rounding that to the format warned of invalid
    values from the Python API)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            gradsim.compare(width=16, batch=8, depth=10, init=["he", "lsuv", "xavier"],
                            dtype=dtype)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float8_e4m3fn"])
def test_weights_beyond_the_format_overflow_without_a_warning(dtype):
    """Weights drawn beyond the format's range are its inf (or NaN for e4m3fn): the run says
    overflow, and NumPy's cast warning is not shown on top."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = gradsim.simulate(init="normal", std=1e6, gain=1e6, dtype=dtype, depth=3, width=16)
    assert r.summary.verdict == "overflow"
