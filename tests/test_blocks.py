"""Residual connections and normalization (gradsim.engine.blocks) against a plain
float64 forward pass differentiated by central differences, and against known results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fd import central

import gradsim
from gradsim.draws import build_network
from gradsim.engine import normalize, normalize_backward
from gradsim.errors import GradsimError
from gradsim.simulation import simulate_network

_LOSS = {
    "mse": lambda H, T: 0.5 * np.sum((H - T) ** 2) / H.shape[0],
    "probe": lambda H, T: np.sum(T * H),
    "sum": lambda H, T: np.sum(H) / H.shape[0],
}


def _ref_norm(U, kind, eps=1e-5):
    # written out independently of gradsim.engine.blocks
    if kind == "batch":
        mu, var = U.mean(axis=0), U.var(axis=0)
        return (U - mu) / np.sqrt(var + eps)
    mu, var = U.mean(axis=1, keepdims=True), U.var(axis=1, keepdims=True)
    return (U - mu) / np.sqrt(var + eps)


def _energy(W, b, X, T, fn, loss, alpha, norm, dZ=None):
    H = X
    for l, (Wl, bl) in enumerate(zip(W, b, strict=True), start=1):
        U = H @ Wl
        Z = (_ref_norm(U, norm) if norm else U) + bl
        if dZ is not None and dZ[0] == l:
            Z = Z + dZ[1]
        H = H + alpha * fn(Z) if alpha is not None else fn(Z)
    return _LOSS[loss](H, T)


def _rms(A):
    return float(np.sqrt(np.mean(np.asarray(A) ** 2)))


CASES = [
    (True, None),
    (True, "batch"),
    (True, "layer"),
    (False, "batch"),
    (False, "layer"),
]


@pytest.mark.parametrize("loss", ["mse", "probe"])
@pytest.mark.parametrize("act", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("bias", ["zeros", "normal"])
@pytest.mark.parametrize(("residual", "norm"), CASES)
def test_matches_central_differences(residual, norm, bias, act, loss):
    cfg = gradsim.RunConfig(
        width=5, depth=3, batch=4, activation=act, init="xavier_normal", gain=1.3,
        bias_init=bias, bias_std=0.3, loss=loss, dtype="float64", seed=3,
        residual=residual, residual_scale=0.7, norm=norm,
    )  # fmt: skip
    net = build_network(cfg)
    res = simulate_network(cfg, net)
    fn = gradsim.ACTIVATIONS[cfg.activation].fn
    W = [w.copy() for w in net.W]
    b = [v.copy() for v in net.b]
    alpha = 0.7 if residual else None

    def E(dZ=None):
        return _energy(W, b, net.X, net.T, fn, loss, alpha, norm, dZ)

    dW = [central(E, w) for w in W]
    delta = []
    for l in range(1, 4):
        D = np.zeros((4, 5))
        delta.append(central(lambda l=l, D=D: E((l, D)), D))
    assert min(np.linalg.norm(g) for g in dW) > 1e-5  # every layer gets a gradient
    np.testing.assert_allclose(
        10 ** res.column("log10_grad_norm"), [np.linalg.norm(g) for g in dW], rtol=1e-5
    )
    np.testing.assert_allclose(
        10 ** res.column("log10_delta_rms"), [_rms(d) for d in delta], rtol=1e-5
    )
    # the forward statistics against the reference forward
    H, Hs, Zs = net.X, [], []
    for Wl, bl in zip(W, b, strict=True):
        Z = (_ref_norm(H @ Wl, norm) if norm else H @ Wl) + bl
        H = H + alpha * fn(Z) if alpha is not None else fn(Z)
        Hs.append(H)
        Zs.append(Z)
    tol = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(res.column("act_rms"), [_rms(h) for h in Hs], **tol)
    np.testing.assert_allclose(res.column("z_std"), [z.std() for z in Zs], **tol)


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_norm_backward_matches_central_differences(kind):
    rng = np.random.default_rng(0)
    U = rng.normal(size=(6, 5)) * 3 + 1
    G = rng.normal(size=(6, 5))
    Y, inv = normalize(U.copy(), kind)
    np.testing.assert_allclose(Y, _ref_norm(U, kind), rtol=1e-12)
    fd = central(lambda: float(np.sum(G * _ref_norm(U, kind))), U)
    np.testing.assert_allclose(normalize_backward(G, Y, inv, kind), fd, rtol=1e-6, atol=1e-9)


def test_tracked_residual_float32_reports_beyond_the_range():
    """N(0,1) weights with a residual ReLU net overflow float32 in a plain computation;
    the tracked pass still reports the true magnitudes: they match float64's."""
    kw = dict(width=64, depth=60, batch=32, init="normal", residual=True, loss="probe")
    r32 = gradsim.simulate(dtype="float32", **kw)
    r64 = gradsim.simulate(dtype="float64", **kw)
    a32, a64 = r32.column("log10_act_rms"), r64.column("log10_act_rms")
    assert a64[-1] > 39  # beyond float32's 3.4e38
    np.testing.assert_allclose(a32, a64, atol=1e-3)
    np.testing.assert_allclose(
        r32.column("log10_delta_rms"), r64.column("log10_delta_rms"), atol=1e-3
    )
    assert r32.summary.verdict == "overflow"


def test_residual_relu_mean_field_growth():
    """He + ReLU with identity skips: E[H_l²] = E[H_{l-1}²](1 + α²) + 2α E[H φ(Z)] grows
    geometrically; with α = 0 (no branch) the skip alone keeps H = X exactly."""
    r = gradsim.simulate(width=128, depth=10, batch=64, residual=True, residual_scale=0.0,
                         dtype="float64")  # fmt: skip
    np.testing.assert_allclose(r.column("act_rms"), r.layers[0].act_rms, rtol=1e-12)
    # α small: the skip dominates, the signal grows like (1 + α²)^(L/2) at first order
    a = 0.05
    r = gradsim.simulate(width=512, depth=20, batch=256, residual=True, residual_scale=a,
                         dtype="float64", loss="probe")  # fmt: skip
    growth = r.column("act_rms")[-1] / r.layers[0].act_rms
    assert 1.0 < growth < (1 + 2 * a + a * a) ** 20


def test_batch_norm_relu_gradients_explode_at_the_mean_field_rate():
    """Yang et al. 2019: at initialization a deep BatchNorm-ReLU net's gradients grow by
    π/(π−1) in squared norm per layer going back; measured over 3 seeds, width 512."""
    rates = []
    for seed in range(3):
        r = gradsim.simulate(width=512, depth=40, batch=256, norm="batch", loss="probe",
                             seed=seed)  # fmt: skip
        d = r.column("log10_delta_rms")
        rates.append((d[5] - d[-6]) / (len(d) - 11))  # away from both ends
    per_layer_sq = 10 ** (2 * float(np.mean(rates)))
    assert per_layer_sq == pytest.approx(math.pi / (math.pi - 1), rel=0.05)


def test_layer_norm_keeps_every_layer_at_unit_scale():
    r = gradsim.simulate(depth=60, width=256, norm="layer", init="normal", gain=10.0)
    np.testing.assert_allclose(r.column("z_std"), 1.0, rtol=1e-3)


def test_residual_needs_equal_widths():
    with pytest.raises(GradsimError, match="equal widths"):
        gradsim.RunConfig(widths=(8, 16, 16), residual=True)
    with pytest.raises(GradsimError, match="unknown norm"):
        gradsim.RunConfig(norm="group")
    assert gradsim.RunConfig(norm="None").norm is None


def test_cli_run_takes_the_architecture_options(invoke):
    import json

    r = invoke("run", "--depth", 12, "--width", 32, "--residual", "--residual-scale", 0.5,
               "--norm", "batch", "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["config"]["residual"], d["config"]["residual_scale"], d["config"]["norm"]) == (
        True, 0.5, "batch")  # fmt: skip
    direct = gradsim.simulate(depth=12, width=32, residual=True, residual_scale=0.5, norm="batch")
    assert [x["log10_delta_rms"] for x in d["layers"]] == list(direct.column("log10_delta_rms"))
    table = invoke("run", "--depth", 3, "--width", 8, "--residual", "--norm", "layer").stdout
    assert "residual α=1" in table and "layer norm" in table
    bad = invoke("run", "--norm", "group")
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
