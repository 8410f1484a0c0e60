"""LSUV (Mishkin & Matas 2015): after it, every layer's pre-activations have unit variance."""

from __future__ import annotations

import numpy as np
import pytest

import gradsim
from gradsim import streams
from gradsim.draws import build_network
from gradsim.engine import Block
from gradsim.lsuv import TOL, lsuv
from gradsim.network import blocks_of


def _pre_activation_vars(net, cfg, X):
    """Var Z_l of every layer for the batch X, by a plain float64 forward written here."""
    fn = gradsim.ACTIVATIONS[cfg.activation].fn
    H, out = X.astype(np.float64), []
    for W, b in zip(net.W, net.b, strict=True):
        Z = H @ W.astype(np.float64) + b
        out.append(Z.var())
        H = H + cfg.residual_scale * fn(Z) if cfg.residual else fn(Z)
    return np.array(out)


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "selu"])
@pytest.mark.parametrize("bias", ["zeros", "normal"])
def test_unit_pre_activation_variance_in_every_layer(act, bias):
    cfg = gradsim.RunConfig(depth=30, width=128, batch=256, activation=act, init="lsuv",
                            bias_init=bias, dtype="float64", seed=1)  # fmt: skip
    net = build_network(cfg)
    lsuv_batch = streams.rng(cfg.seed, streams.LSUV).standard_normal((cfg.batch, cfg.width))
    v = _pre_activation_vars(net, cfg, lsuv_batch)
    np.testing.assert_allclose(v, 1.0, rtol=TOL)
    # on the run's own batch (another draw) the variance is 1 up to sampling noise
    res = gradsim.simulate(cfg)
    np.testing.assert_allclose(res.column("z_std") ** 2, 1.0, rtol=0.15)


def test_gain_sets_the_target_and_residual_nets_are_handled():
    cfg = gradsim.RunConfig(depth=20, width=64, batch=128, init="lsuv", gain=0.5,
                            residual=True, residual_scale=0.3, dtype="float64")  # fmt: skip
    net = build_network(cfg)
    X = streams.rng(cfg.seed, streams.LSUV).standard_normal((cfg.batch, cfg.width))
    np.testing.assert_allclose(_pre_activation_vars(net, cfg, X), 0.25, rtol=TOL)


def test_weights_start_orthogonal_and_are_only_rescaled():
    cfg = gradsim.RunConfig(depth=5, width=32, batch=64, init="lsuv", dtype="float64")
    lsuv_net = build_network(cfg)
    ortho = build_network(gradsim.RunConfig(depth=5, width=32, batch=64, init="orthogonal",
                                            dtype="float64"))  # fmt: skip
    for W, Q in zip(lsuv_net.W, ortho.W, strict=True):
        c = W[0, 0] / Q[0, 0]
        np.testing.assert_allclose(W, c * Q, rtol=1e-12)
        assert c > 0


def test_he_relu_lsuv_is_stable_at_depth_152():
    r = gradsim.simulate(depth=152, init="lsuv")
    assert r.summary.verdict == "stable"


def test_a_dead_layer_is_left_alone():
    W = [np.zeros((4, 4)), np.eye(4)]
    b = [np.zeros(4), np.zeros(4)]
    v = lsuv(W, b, np.ones((8, 4)), [Block(gradsim.ACTIVATIONS["tanh"])] * 2)
    assert v == [0.0, 0.0]  # nothing to rescale by: no division by zero, no NaN
    assert not np.any(W[0])


def test_lsuv_is_refused_by_theory():
    from gradsim.errors import GradsimError
    from gradsim.meanfield import predict_run

    with pytest.raises(GradsimError, match="lsuv"):
        predict_run(gradsim.RunConfig(init="lsuv"))


def test_blocks_follow_the_config():
    cfg = gradsim.RunConfig(depth=3, residual=True, residual_scale=0.5, norm="layer")
    assert blocks_of(cfg) == [Block(gradsim.ACTIVATIONS["relu"], "layer", 0.5)] * 3
