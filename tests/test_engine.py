"""The engine against independent references: a plain float64 forward pass differentiated by
central differences, exact results for linear identity nets, the dtype limits, Monte Carlo
over seeds for the classic He/Xavier results."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from fd import central

import gradsim
from gradsim.draws import build_network
from gradsim.network import Network
from gradsim.simulation import simulate_network

ACTS = list(gradsim.ACTIVATIONS.values())
ACT_IDS = [a.name for a in ACTS]
LOSS_NAMES = list(gradsim.LOSSES)

# ---------------------------------------------------------------- the reference
# E(H_L, T) and ∂E/∂H_L for each loss, straight from DESIGN.md
_REF_LOSS = {
    "mse": lambda H, T: 0.5 * np.sum((H - T) ** 2) / H.shape[0],
    "probe": lambda H, T: np.sum(T * H),
    "sum": lambda H, T: np.sum(H) / H.shape[0],
}
_REF_DLOSS = {
    "mse": lambda H, T: (H - T) / H.shape[0],
    "probe": lambda H, T: T,
    "sum": lambda H, T: np.full_like(H, 1.0 / H.shape[0]),
}


def test_every_loss_has_a_reference():
    assert set(_REF_LOSS) == set(gradsim.LOSSES) == set(_REF_DLOSS)


def _forward(W, b, X, fn, dZ=None):
    """Z_l = H_{l-1} W_l + b_l, H_l = φ(Z_l) for l = 1..L; lists Z[0..L-1], H[0..L].

    ``dZ = (l, D)`` adds D to Z_l before φ (to differentiate with respect to Z_l)."""
    H, Zs, Hs = X, [], [X]
    for l, (Wl, bl) in enumerate(zip(W, b, strict=True), start=1):
        Z = H @ Wl + bl
        if dZ is not None and dZ[0] == l:
            Z = Z + dZ[1]
        H = fn(Z)
        Zs.append(Z)
        Hs.append(H)
    return Zs, Hs


def _energy(W, b, X, T, fn, loss, dZ=None):
    return _REF_LOSS[loss](_forward(W, b, X, fn, dZ)[1][-1], T)


def _fd_reference(net: Network, act, loss: str, h: float = 1e-6):
    """δ_l, ∂E/∂W_l, ∂E/∂b_l of the plain float64 forward, all by central differences."""
    W = [w.astype(np.float64).copy() for w in net.W]
    b = [v.astype(np.float64).copy() for v in net.b]
    X = net.X.astype(np.float64)
    T = None if net.T is None else net.T.astype(np.float64)

    def E(dZ=None):
        return _energy(W, b, X, T, act.fn, loss, dZ)

    Zs, Hs = _forward(W, b, X, act.fn)
    dW = [central(E, w, h) for w in W]
    db = [central(E, v, h) for v in b]
    delta = []
    for l, Z in enumerate(Zs, start=1):
        D = np.zeros_like(Z)
        delta.append(central(lambda l=l, D=D: E((l, D)), D, h))
    return Zs, Hs, delta, dW, db


def _backprop(net: Network, act, loss: str):
    """The analytic reference: δ_L = ∂E/∂H_L ∘ φ'(Z_L), δ_l = (δ_{l+1} W_{l+1}ᵀ) ∘ φ'(Z_l),
    ∂E/∂W_l = H_{l-1}ᵀ δ_l; in float64 (checked against central differences below)."""
    W = [w.astype(np.float64) for w in net.W]
    b = [v.astype(np.float64) for v in net.b]
    T = None if net.T is None else net.T.astype(np.float64)
    Zs, Hs = _forward(W, b, net.X.astype(np.float64), act.fn)

    def phi_prime(Z):
        D = act.grad(Z, act.fn(Z))
        return 1.0 if D is None else np.asarray(D, dtype=np.float64)

    L = len(W)
    delta = [None] * L
    delta[L - 1] = _REF_DLOSS[loss](Hs[-1], T) * phi_prime(Zs[-1])
    for l in range(L - 2, -1, -1):
        delta[l] = (delta[l + 1] @ W[l + 1].T) * phi_prime(Zs[l])
    dW = [Hs[l].T @ delta[l] for l in range(L)]
    return Zs, Hs, delta, dW


def _rms(A) -> float:
    return float(np.sqrt(np.mean(np.asarray(A, dtype=np.float64) ** 2)))


def _col(result, name) -> np.ndarray:
    return result.column(name)


def _cfg(**kw) -> gradsim.RunConfig:
    return gradsim.RunConfig(**kw)


def _run(cfg):
    return simulate_network(cfg, build_network(cfg))


# ---------------------------------------------------------------- (a) central differences
@pytest.mark.parametrize("bias", ["zeros", "normal"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
def test_matches_central_differences(act, loss, bias):
    cfg = _cfg(
        widths=(4, 5, 3, 2), batch=3, activation=act.name, loss=loss, init="xavier_normal",
        gain=1.2, bias_init=bias, bias_std=0.3, dtype="float64", seed=7,
    )  # fmt: skip
    net = build_network(cfg)
    res = simulate_network(cfg, net)
    Zs, Hs, delta, dW, db = _fd_reference(net, act, loss)

    # the reference is self-consistent: ∂E/∂W_l = H_{l-1}ᵀ δ_l and ∂E/∂b_l = Σ_batch δ_l
    for l in range(3):
        np.testing.assert_allclose(dW[l], Hs[l].T @ delta[l], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(db[l], delta[l].sum(axis=0), rtol=1e-5, atol=1e-9)
    # the analytic reference (used by later tests) agrees with central differences
    _, _, delta_a, dW_a = _backprop(net, act, loss)
    for l in range(3):
        np.testing.assert_allclose(delta_a[l], delta[l], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(dW_a[l], dW[l], rtol=1e-5, atol=1e-9)

    grad_norm = [np.linalg.norm(g) for g in dW]
    assert min(grad_norm) > 1e-4  # a non-degenerate case: every layer gets a gradient
    np.testing.assert_allclose(10 ** _col(res, "log10_grad_norm"), grad_norm, rtol=1e-5)
    np.testing.assert_allclose(_col(res, "grad_norm"), grad_norm, rtol=1e-5)
    np.testing.assert_allclose(
        10 ** _col(res, "log10_delta_rms"), [_rms(d) for d in delta], rtol=1e-5
    )
    np.testing.assert_allclose(_col(res, "delta_rms"), [_rms(d) for d in delta], rtol=1e-5)

    H, Z = Hs[1:], Zs
    tol = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(10 ** _col(res, "log10_act_rms"), [_rms(h) for h in H], **tol)
    np.testing.assert_allclose(_col(res, "act_rms"), [_rms(h) for h in H], **tol)
    np.testing.assert_allclose(_col(res, "act_mean"), [h.mean() for h in H], **tol)
    np.testing.assert_allclose(_col(res, "act_std"), [h.std() for h in H], **tol)
    np.testing.assert_allclose(_col(res, "z_mean"), [z.mean() for z in Z], **tol)
    np.testing.assert_allclose(_col(res, "z_std"), [z.std() for z in Z], **tol)
    np.testing.assert_allclose(_col(res, "weight_std"), [w.std() for w in net.W], **tol)
    assert all(s.finite for s in res.layers)


# ---------------------------------------------------------------- (b) exact linear nets
@pytest.mark.parametrize("gain", [1.2, 0.5])
def test_identity_linear_net_is_exact(gain):
    L = 40
    cfg = _cfg(depth=L, width=16, batch=8, activation="linear", init="identity", gain=gain,
               loss="probe", dtype="float64")  # fmt: skip
    net = build_network(cfg)
    res = simulate_network(cfg, net)
    s = res.summary
    lg = math.log10(gain)
    assert 10**s.log10_act_ratio / gain**L == pytest.approx(1.0, rel=1e-9)
    assert s.act_ratio / gain**L == pytest.approx(1.0, rel=1e-9)
    assert 10**s.log10_delta_ratio / gain ** (L - 1) == pytest.approx(1.0, rel=1e-9)
    assert s.delta_ratio / gain ** (L - 1) == pytest.approx(1.0, rel=1e-9)
    # H_l = γ^l X, δ_l = γ^(L−l) G, so ∂E/∂W_l = γ^(L−1) XᵀG at every layer
    la0 = math.log10(_rms(net.X))
    np.testing.assert_allclose(_col(res, "log10_act_rms"), la0 + lg * np.arange(1, L + 1),
                               rtol=0, atol=1e-9)  # fmt: skip
    ld_L = math.log10(_rms(net.T))
    np.testing.assert_allclose(_col(res, "log10_delta_rms"), ld_L + lg * (L - np.arange(1, L + 1)),
                               rtol=0, atol=1e-9)  # fmt: skip
    g = math.log10(np.linalg.norm(net.X.T @ net.T)) + (L - 1) * lg
    np.testing.assert_allclose(_col(res, "log10_grad_norm"), g, rtol=0, atol=1e-9)
    assert s.log10_grad_ratio == pytest.approx(0.0, abs=1e-9)
    assert s.growth_per_layer == pytest.approx(gain, rel=1e-9)
    assert s.act_growth_per_layer == pytest.approx(gain, rel=1e-9)


# ---------------------------------------------------------------- (c) underflow
_F32 = np.finfo(np.float32)
_LO32, _HI32 = math.log10(float(_F32.tiny)), math.log10(float(_F32.max))


def test_float32_delta_below_subnormals_is_tracked():
    L = 60
    cfg = _cfg(depth=L, width=16, batch=8, activation="linear", init="identity", gain=0.1,
               loss="probe", dtype="float32")  # fmt: skip
    net = build_network(cfg)
    res = simulate_network(cfg, net)
    la, ld = _col(res, "log10_act_rms"), _col(res, "log10_delta_rms")
    # δ_1 = 0.1^59 δ_L ≈ 1e-59: far below float32's smallest subnormal (1.4e-45)
    assert ld[-1] == pytest.approx(math.log10(_rms(net.T)), abs=1e-5)
    assert ld[0] == pytest.approx(-59 + ld[-1], abs=1e-3)
    assert np.all(np.isfinite(ld))
    np.testing.assert_allclose(np.diff(ld), 1.0, atol=1e-4)
    # a layer underflows where the RMS of H, δ or the entries of ∂E/∂W leaves the normals
    lgw = _col(res, "log10_grad_norm") - 0.5 * math.log10(16 * 16)
    for s, a, d, w in zip(res.layers, la, ld, lgw, strict=True):
        assert s.underflow == (a < _LO32 or d < _LO32 or w < _LO32)
        assert s.finite
    assert res.layers[0].underflow  # by δ (1e-59)
    # H_l = 0.1^l X underflows too, from layer 38 on; the forward pass is named first
    under = res.summary.underflow
    f_first = int(np.argmax(la < _LO32)) + 1
    b_first = max(l for l in range(1, L + 1) if ld[l - 1] < _LO32)  # δ: from L down
    assert (f_first, b_first) == (38, 22)
    assert under["pass"] == "forward" and under["layer"] == f_first
    if "backward_layer" in under:
        assert under["forward_layer"] == f_first and under["backward_layer"] == b_first
    assert any("Underflow" in t for t in res.summary.sentences)


def test_float32_backward_only_underflow_names_the_backward_pass():
    """Forward stays normal (0.5^60 ≈ 1e-18), δ goes from 1e-30 at L to ~1e-48 at layer 1."""
    L = 60
    cfg = _cfg(depth=L, width=16, batch=8, activation="linear", init="identity", gain=0.5,
               loss="probe", dtype="float32")  # fmt: skip
    net = build_network(cfg)
    net = replace(net, T=(net.T * np.float32(1e-30)).astype(np.float32))
    res = simulate_network(cfg, net)
    la, ld = _col(res, "log10_act_rms"), _col(res, "log10_delta_rms")
    assert np.all(la > _LO32)
    expected_1 = math.log10(_rms(net.T)) + (L - 1) * math.log10(0.5)
    assert expected_1 < math.log10(1.4e-45)
    assert ld[0] == pytest.approx(expected_1, abs=1e-3)
    first = max(l for l in range(1, L + 1) if ld[l - 1] < _LO32)  # from L down
    under = res.summary.underflow
    assert under["pass"] == "backward" and under["layer"] == first
    if "backward_layer" in under:
        assert under["forward_layer"] is None and under["backward_layer"] == first
    # per layer: H, δ or the entries of ∂E/∂W (≈ 1e-48 here, in every layer) underflow
    lgw = _col(res, "log10_grad_norm") - 0.5 * math.log10(16 * 16)
    assert [s.underflow for s in res.layers] == list((ld < _LO32) | (lgw < _LO32))
    assert any("Underflow" in t and "δ" in t for t in res.summary.sentences)


def test_float32_plain_forward_small_signal_is_measured():
    """tanh is not homogeneous, so its forward pass runs plainly in float32. With a small
    gain the signal decays like 0.5^l; at 1e-20…1e-30 every entry is still a normal float32
    number (tiny = 1.2e-38), so its rms must be reported, not 0 (its squares underflow)."""
    cfg = _cfg(depth=90, width=64, batch=16, activation="tanh", init="orthogonal", gain=0.5,
               dtype="float32")  # fmt: skip
    la32 = _col(_run(cfg), "log10_act_rms")
    la64 = _col(_run(replace(cfg, dtype="float64")), "log10_act_rms")
    normal = la64 > _LO32 + 2  # layers whose H is a normal float32 array throughout
    assert normal.sum() > 80
    assert la64[normal].min() < -25
    np.testing.assert_allclose(la32[normal], la64[normal], rtol=0, atol=0.01)


# ---------------------------------------------------------------- (d) overflow
def test_float32_relu_overflow_is_tracked():
    L = 60
    cfg = _cfg(depth=L, width=256, batch=32, activation="relu", init="normal", dtype="float32")
    res = _run(cfg)
    la = _col(res, "log10_act_rms")
    s = res.summary
    assert s.verdict == "overflow"
    first = int(np.argmax(la > _HI32)) + 1
    assert la[first - 1] > _HI32 >= la[first - 2]
    assert s.nonfinite == {"pass": "forward", "layer": first, "tracked": True}
    assert s.first_bad_layer == first
    assert s.tracked_forward
    # true magnitudes beyond float32: rms grows by √(n/2)·σ = √128 per layer
    assert np.all(np.isfinite(la))
    assert np.all(np.diff(la[first - 1 :]) > 0.8)
    assert la[-1] > _HI32 + 20
    assert (la[-1] - la[0]) / (L - 1) == pytest.approx(math.log10(math.sqrt(128)), abs=0.05)
    assert np.all(np.isfinite(_col(res, "log10_delta_rms")))
    assert np.all(np.isfinite(_col(res, "log10_grad_norm")))
    ld = _col(res, "log10_delta_rms")  # δ exceeds float32's max too, from an earlier layer
    assert [x.overflow for x in res.layers] == list((la > _HI32) | (ld > _HI32))
    assert any("Overflow" in t for t in s.sentences)


def test_float16_elu_overflow_is_reported_not_raised():
    cfg = _cfg(depth=30, width=256, batch=32, activation="elu", init="normal", dtype="float16")
    assert not gradsim.ACTIVATIONS["elu"].homogeneous
    res = _run(cfg)  # must not raise
    s = res.summary
    assert s.verdict == "overflow"
    assert s.nonfinite is not None
    assert s.nonfinite["pass"] == "forward" and s.nonfinite["tracked"] is False
    bad = s.nonfinite["layer"]
    assert 1 < bad < 30
    d = res.to_dict()
    before, after = d["layers"][bad - 2], d["layers"][bad - 1 :]
    assert before["log10_act_rms"] is not None
    assert before["log10_act_rms"] < math.log10(float(np.finfo(np.float16).max))
    for layer in after:
        for key in ("act_rms", "log10_act_rms", "act_mean", "act_std"):
            assert layer[key] is None, (layer["layer"], key)
        assert layer["finite"] is False
    # the float64 run of the same net: the rms is near float16's max where float16 overflows
    ref = _col(_run(replace(cfg, dtype="float64")), "log10_act_rms")
    hi16 = math.log10(float(np.finfo(np.float16).max))
    assert ref[bad - 1] > hi16 - 1.5
    assert bad <= int(np.argmax(ref > hi16)) + 1
    assert d["summary"]["nonfinite"] == {"pass": "forward", "layer": bad, "tracked": False}


# ---------------------------------------------------------------- (e) He vs Xavier
def test_he_relu_is_stable_xavier_relu_vanishes():
    he = gradsim.simulate(depth=30, width=256, batch=32, init="he_normal", activation="relu")
    assert he.summary.forward == "stable"
    xa = gradsim.simulate(depth=30, width=256, batch=32, init="xavier_normal",
                          activation="relu")  # fmt: skip
    assert xa.summary.forward == "vanishing"  # (1/√2)^30 ≈ 10^-4.5, past the default ÷100
    assert xa.summary.log10_act_ratio < -4
    assert xa.summary.forward_bad_layer is not None
    strict = gradsim.simulate(depth=30, width=256, batch=32, init="xavier_normal",
                              activation="relu", threshold=10)  # fmt: skip
    assert strict.summary.forward_bad_layer < xa.summary.forward_bad_layer


def test_he_and_xavier_relu_monte_carlo():
    he, xa = [], []
    for seed in range(5):
        kw = {"depth": 30, "width": 256, "batch": 32, "activation": "relu", "seed": seed}
        he.append(gradsim.simulate(init="he_normal", **kw).summary.log10_act_ratio)
        xa.append(gradsim.simulate(init="xavier_normal", **kw).summary.act_growth_per_layer)
    assert abs(np.mean(he)) < 0.5
    # Var H_l = n·σ²·Var H_{l−1}/2 with σ² = 1/n: the rms shrinks by √(1/2) per layer
    assert np.mean(xa) == pytest.approx(math.sqrt(0.5), rel=0.05)


# ---------------------------------------------------------------- (f) symmetry
@pytest.mark.parametrize("init", ["zeros", "ones", "constant"])
def test_constant_inits_are_symmetric(init):
    res = gradsim.simulate(depth=5, width=32, batch=16, init=init)
    assert res.summary.symmetric
    assert res.summary.symmetric_layers == [1, 2, 3, 4, 5]
    # also where the float32 sums of many equal entries round (width 256, the default:
    # a test of the standard deviation missed them there), and in the narrow formats
    for width, dtype in ((256, "float32"), (300, "float16"), (128, "bfloat16")):
        wide = gradsim.simulate(depth=3, width=width, batch=4, init=init, dtype=dtype)
        assert wide.summary.symmetric_layers == [1, 2, 3], (width, dtype)
    assert any("symmetry" in t.lower() for t in res.summary.sentences)
    assert res.to_dict()["summary"]["symmetric"] is True


def test_random_init_is_not_symmetric():
    res = gradsim.simulate(depth=5, width=32, batch=16, init="he")
    assert not res.summary.symmetric
    assert res.summary.symmetric_layers == []
    assert not any("symmetry" in t.lower() for t in res.summary.sentences)


# ---------------------------------------------------------------- (g) determinism
def test_same_config_same_numbers():
    kw = {"depth": 8, "width": 32, "batch": 16, "bias_init": "normal", "seed": 3}
    first = gradsim.simulate(**kw).to_dict()
    gradsim.simulate(depth=8, width=32, batch=16, seed=4)  # another run in between
    assert gradsim.simulate(**kw).to_dict() == first
    assert gradsim.simulate(**{**kw, "seed": 4}).to_dict() != first


def test_layers_are_made_when_read_and_columns_agree():
    from gradsim.result import Layers

    res = gradsim.simulate(depth=6, width=16, batch=8, init="normal", activation="tanh")
    assert isinstance(res.layers, Layers) and len(res.layers) == 6
    assert res.layers._rows is None  # nothing built for the summary or len()
    fast = {f: res.column(f) for f in ("log10_act_rms", "log10_delta_rms", "log10_grad_norm")}
    assert res.layers._rows is None  # the log10 columns come from the trace
    rows = list(res.layers)
    assert [r.layer for r in rows] == list(range(1, 7)) and res.layers[-1] is rows[-1]
    for f, col in fast.items():
        assert np.array_equal(col, [getattr(r, f) for r in rows]) and np.all(np.isfinite(col))
    assert res.layers == tuple(rows) and res.layers != tuple(rows[:-1])
    again = gradsim.simulate(depth=6, width=16, batch=8, init="normal", activation="tanh")
    assert again == res  # Results compare by their numbers, layers included


def test_weights_do_not_depend_on_depth():
    short = build_network(_cfg(depth=5, width=16, batch=4, bias_init="normal", seed=11))
    long = build_network(_cfg(depth=10, width=16, batch=4, bias_init="normal", seed=11))
    for l in range(5):
        np.testing.assert_array_equal(short.W[l], long.W[l])
        np.testing.assert_array_equal(short.b[l], long.b[l])
    np.testing.assert_array_equal(short.X, long.X)
    other = build_network(_cfg(depth=5, width=16, batch=4, bias_init="normal", seed=12))
    assert not np.array_equal(short.W[0], other.W[0])


# ---------------------------------------------------------------- (h) float16
_LOG_FIELDS = ("log10_act_rms", "log10_delta_rms", "log10_grad_norm")


def test_float16_close_to_float32():
    cfg = _cfg(depth=20, width=256, batch=64, init="he", activation="relu", dtype="float32")
    r32, r16 = _run(cfg), _run(replace(cfg, dtype="float16"))
    assert r16.summary.verdict == r32.summary.verdict == "stable"
    for name in _LOG_FIELDS:
        np.testing.assert_allclose(_col(r16, name), _col(r32, name), rtol=0, atol=0.05,
                                   err_msg=name)  # fmt: skip


@pytest.mark.parametrize("batch", [64, 512], ids=["gram", "direct"])
def test_float16_with_biases_close_to_float32(batch):
    """Biases switch the rescaled forward off, so H keeps its size (rms ≈ 20 at the last
    layers); every value here, and the true ∂E/∂W_l, is far inside float16's range."""
    assert _uses_gram(256, 256, batch) == (batch == 64)
    cfg = _cfg(depth=8, width=256, batch=batch, init="he", gain=1.5, activation="relu",
               bias_init="normal", bias_std=0.5, dtype="float32")  # fmt: skip
    r32, r16 = _run(cfg), _run(replace(cfg, dtype="float16"))
    assert max(_col(r32, "act_rms")) < 100
    assert r16.summary.nonfinite is None
    for name in _LOG_FIELDS:
        np.testing.assert_allclose(_col(r16, name), _col(r32, name), rtol=0, atol=0.05,
                                   err_msg=name)  # fmt: skip


# ---------------------------------------------------------------- (i) Gram and direct paths
def _uses_gram(n_in: int, n_out: int, B: int) -> bool:
    # the engine's cost rule (engine.py): Grams when B²(n_in + n_out) ≤ 2·B·n_in·n_out
    return B * (n_in + n_out) <= 2 * n_in * n_out


@pytest.mark.parametrize(
    ("width", "batch", "act", "init", "std", "bias"),
    [
        (32, 4, "relu", "he_normal", 1.0, "zeros"),  # Gram, tracked
        (8, 64, "relu", "he_normal", 1.0, "zeros"),  # direct, tracked
        (32, 4, "tanh", "xavier_normal", 1.0, "normal"),  # Gram, plain
        (8, 64, "tanh", "xavier_normal", 1.0, "normal"),  # direct, plain
        (32, 4, "relu", "normal", 1.0, "zeros"),  # Gram, tracked, rms 4^l up to 1e14
        (32, 4, "elu", "normal", 10.0, "normal"),  # Gram, plain, rms up to ~1e40
        (8, 64, "elu", "normal", 10.0, "normal"),  # direct, plain, large rms
    ],
)
def test_grad_norm_paths_match_reference(width, batch, act, init, std, bias):
    cfg = _cfg(depth=24, width=width, batch=batch, activation=act, init=init, std=std,
               bias_init=bias, dtype="float64", seed=5)  # fmt: skip
    gram = _uses_gram(width, width, batch)
    assert gram == (batch == 4)
    net = build_network(cfg)
    res = simulate_network(cfg, net)
    _, Hs, delta, dW = _backprop(net, gradsim.ACTIVATIONS[act], cfg.loss)
    assert all(np.all(np.isfinite(g)) for g in dW)
    ref = np.log10([np.linalg.norm(g) for g in dW])
    np.testing.assert_allclose(_col(res, "log10_grad_norm"), ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(_col(res, "log10_delta_rms"), np.log10([_rms(d) for d in delta]),
                               rtol=0, atol=1e-8)  # fmt: skip
    np.testing.assert_allclose(_col(res, "log10_act_rms"), np.log10([_rms(h) for h in Hs[1:]]),
                               rtol=0, atol=1e-8)  # fmt: skip


def test_mean_of_numbers_is_nanmean_bit_for_bit():
    from gradsim.verdicts import mean_of_numbers

    rng = np.random.default_rng(3)
    for n in (1, 7, 8, 9, 50, 152, 1000):
        x = rng.random(n) ** 3
        for holes in (0, 1, n // 3):
            y = x.copy()
            y[rng.choice(n, holes, replace=False)] = np.nan
            if np.isnan(y).all():
                assert mean_of_numbers(y) == 0.0
                continue
            assert mean_of_numbers(y) == np.nanmean(y), (n, holes)
    assert mean_of_numbers(np.array([np.nan, np.inf])) == 0.0  # no finite number
    assert mean_of_numbers(np.array([np.nan, np.nan])) == 0.0


@pytest.mark.parametrize("shape", [(5, 4, 16), (3, 7, 3), (1, 8), (4, 9)])
def test_count_true_counts_as_count_nonzero(shape):
    from gradsim.engine.numerics import count_true

    rng = np.random.default_rng(0)
    M = rng.random(shape) < 0.3
    want = [np.count_nonzero(m) for m in M]
    assert count_true(M).tolist() == want
    assert count_true(M[:, ::-1]).tolist() == want  # not contiguous: the other way


def test_count_true_without_bitwise_count(monkeypatch):
    """NumPy before 2.0 has no bitwise_count: count_nonzero along the axis counts alike."""
    from gradsim.engine.numerics import count_true

    M = np.random.default_rng(3).random((4, 6, 8)) < 0.4
    monkeypatch.delattr(np, "bitwise_count")
    assert count_true(M).tolist() == [np.count_nonzero(m) for m in M]


def test_rescale_of_many_runs_at_once_is_each_runs_own():
    from gradsim.engine.numerics import rescale

    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 5, 4)) * np.array([1e-9, 1.0, 3e7, 1e-30, 2.0, 5e5])[:, None, None]
    A = A.astype(np.float32)
    r = [float(np.sqrt(np.mean(a.astype(np.float64) ** 2))) for a in A]
    which = [True, True, True, False, True, True]
    one_by_one, s1, c1 = A.copy(), [0.0] * 6, [0] * 6
    for k in range(6):  # a stack of one each
        sub = one_by_one[k : k + 1]
        s, c = [0.0], [0]
        rescale(sub, [r[k]], [which[k]], 8, s, c)
        s1[k], c1[k] = s[0], c[0]
    together, s2, c2 = A.copy(), [0.0] * 6, [0] * 6
    done = rescale(together, r, which, 8, s2, c2)
    assert [k for k, _ in done] == [0, 2, 5]  # (run 3 is not asked, 1 and 4 are near 1)
    assert np.array_equal(together, one_by_one) and s1 == s2 and c1 == c2


@pytest.mark.parametrize("gain", [1.0, 1e-20])
def test_weights_so_small_that_h_is_subnormal_are_tracked_not_overflow(gain):
    """An RMS of H below float32's normal range is rescaled by 2^-p with p < −126, a factor
    float32 cannot hold: it is applied exactly (ldexp), not as inf, which read "overflow"."""
    kw = {"depth": 4, "width": 8, "batch": 4, "init": "normal", "std": 1e-20, "gain": gain}
    r32, r64 = (gradsim.simulate(dtype=d, **kw) for d in ("float32", "float64"))
    assert r32.summary.verdict == r64.summary.verdict == "vanishing"
    assert np.all(np.isfinite(r32.column("log10_act_rms")))
    if gain == 1.0:  # (weights of 1e-40 are subnormal in float32: fewer digits)
        np.testing.assert_allclose(r32.column("log10_act_rms"), r64.column("log10_act_rms"),
                                   atol=1e-5)  # fmt: skip


def test_weights_all_inf_are_not_called_symmetric():
    """A constant beyond float16's range is inf in every entry: the run overflows, and the
    sentence about unbroken symmetry would only add noise (a finite constant is symmetric)."""
    over = gradsim.simulate(init="constant", value=1e5, dtype="float16", depth=3, width=16)
    fine = gradsim.simulate(init="constant", value=0.5, dtype="float16", depth=3, width=16)
    assert over.summary.verdict == "overflow" and over.summary.symmetric_layers == []
    assert fine.summary.symmetric_layers == [1, 2, 3]
