"""Stacks of K runs against each run alone: bitwise-equal networks and statistics, for
plain, residual, normalized and LSUV networks."""

import math
from dataclasses import asdict

import numpy as np
import pytest

from gradsim.activations import ACTIVATIONS
from gradsim.config import RunConfig
from gradsim.draws import build_network, build_stacks
from gradsim.initializers import INITIALIZERS, scaled_draw
from gradsim.simulation import simulate_many, simulate_network, stacks_of
from gradsim.streams import StreamSet


def _same(a, b) -> bool:
    # exact equality, NaN equal to NaN
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))  # fmt: skip


def _assert_equal_results(cfgs):
    assert any(len(g) > 1 for g in stacks_of(cfgs))  # some do share a stack
    for cfg, got in zip(cfgs, simulate_many(cfgs), strict=True):
        ref = simulate_network(cfg, build_network(cfg))
        for a, b in zip(ref.layers, got.layers, strict=True):
            da, db = asdict(a), asdict(b)
            bad = [k for k in da if not _same(da[k], db[k])]
            assert not bad, (cfg, a.layer, bad)
        sa, sb = asdict(ref.summary), asdict(got.summary)
        assert all(_same(sa[k], sb[k]) for k in sa), cfg


def test_streams_are_numpys():
    rng = np.random.default_rng(7)
    seeds = [int(s) for s in rng.integers(0, 2**63, 40)] + [0, 2**32 - 1, 2**32, 2**64 - 1]
    keys = [(int(rng.integers(0, 4)), int(rng.integers(0, 2**32))) if i % 3 else (i % 4,)
            for i in range(len(seeds))]  # fmt: skip
    streams = StreamSet(list(zip(seeds, keys, strict=True)))
    for s, k in reversed(list(zip(seeds, keys, strict=True))):  # any order
        ref = np.random.default_rng(np.random.SeedSequence(s, spawn_key=k))
        assert streams.get(s, k).bit_generator.state == ref.bit_generator.state
    g = StreamSet([]).get(5, (2,))  # a pair not given: NumPy's own
    assert g.bit_generator.state == np.random.default_rng(
        np.random.SeedSequence(5, spawn_key=(2,))).bit_generator.state  # fmt: skip


def test_stack_holds_build_networks_arrays():
    cfgs = [RunConfig(depth=4, width=6, batch=3, init=i, seed=s, bias_init=b)
            for i, s, b in (("he", 0, None), ("orthogonal", 9, "normal"),
                            ("torch_default", 2**40, None))]  # fmt: skip
    (st,) = build_stacks([cfgs])
    for k, cfg in enumerate(cfgs):
        net = build_network(cfg)
        for l in range(cfg.depth):
            assert np.array_equal(st.W[l][k], net.W[l]) and np.array_equal(st.b[l][k], net.b[l])
        assert np.array_equal(st.X[k], net.X) and np.array_equal(st.T[k], net.T)


def test_shared_draws_hold_build_networks_arrays():
    # one seed for many initializers, gains and shapes: every run whose layer is a scaled
    # call of the stream shares that draw, every other draws its own; all as build_network
    inits = [("he", 1.0, {}), ("he", -0.5, {}), ("xavier", 2.0, {}), ("xavier_normal", 1.0, {}),
             ("lecun_uniform", 0.7, {}), ("normal", 1.3, {"truncated": True}), ("normal", 0.4, {}),
             ("uniform", 1.1, {"low": -2, "high": 0.5}), ("torch_default", 1.0, {}),
             ("keras", 1.0, {}), ("orthogonal", 1.5, {}), ("constant", 0.3, {}),
             ("identity", 1.0, {}), ("he", 1.0, {"truncated": True})]  # fmt: skip
    groups = [
        [RunConfig(depth=3, width=5, batch=4, init=i, gain=g, seed=seed, activation=act, **kw)
         for i, g, kw in inits for seed in (3, 2**40)]
        for act in ("relu", "tanh")
    ] + [[RunConfig(widths=(5, 7, 5), batch=4, init=i, gain=g, seed=3, **kw)
          for i, g, kw in inits]]  # fmt: skip
    for group, st in zip(groups, build_stacks(groups), strict=True):
        for k, cfg in enumerate(group):
            net = build_network(cfg)
            for l in range(cfg.depth):
                assert np.array_equal(st.W[l][k], net.W[l]), (cfg.init, cfg.gain, l)
                assert np.array_equal(st.b[l][k], net.b[l])
            assert np.array_equal(st.X[k], net.X) and np.array_equal(st.T[k], net.T)


@pytest.mark.parametrize("name", [n for n, r in INITIALIZERS.items() if r.scaled is not None])
def test_scaled_initializers_draw_their_scaled_call(name):
    from gradsim.initializers import InitParams

    init = INITIALIZERS[name]
    for p in (InitParams(), InitParams(gain=-1.7, mode="fan_out", low=-3.0, high=0.25,
                                       std=0.2)):  # fmt: skip
        call = init.scaled(6, 4, p)
        got = scaled_draw(call, StreamSet([(5, (0, 1))]).get(5, (0, 1)))
        assert np.array_equal(init.draw(6, 4, np.random.default_rng(
            np.random.SeedSequence(5, spawn_key=(0, 1))), p), got)  # fmt: skip
        assert got.std() > 0 and got.shape == (6, 4)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_every_activation_bitwise_equal(dtype):
    # odd shapes (no SIMD-friendly sizes), every loss, biases, overflowing and symmetric inits
    cfgs = [
        RunConfig(widths=(13, 9, 11, 5), batch=7, activation=act, init=init, gain=g, seed=s,
                  dtype=dtype, loss=loss, bias_init=bias)
        for act in ACTIVATIONS
        for loss in ("mse", "probe", "sum")
        for init, g, s, bias in (("he", 1.0, 0, None), ("normal", 3.0, 5, "normal"),
                                 ("zeros", 1.0, 2, None), ("he", 0.5, 0, None))
    ]  # fmt: skip
    _assert_equal_results(cfgs)


def test_deep_overflow_and_underflow_bitwise_equal():
    # the tracked forward pass rescales; plain tanh with N(0,1) weights and biases does not
    cfgs = [RunConfig(depth=60, width=16, batch=8, init=i, activation=a, gain=g, seed=s)
            for i, a, g in (("normal", "relu", 1.0), ("xavier", "relu", 0.5),
                            ("normal", "tanh", 3.0), ("he", "sigmoid", 1.0))
            for s in (0, 1)]  # fmt: skip
    biased = RunConfig(depth=60, width=16, batch=8, init="normal", activation="elu",
                       bias_init="uniform")  # fmt: skip
    _assert_equal_results([*cfgs, biased])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_residual_normalized_and_lsuv_stacks_bitwise_equal(dtype):
    # the blocks of every kind in one stack each, with biases, inits and seeds that differ
    cfgs = [
        RunConfig(depth=7, width=12, batch=5, activation=act, init=init, seed=s, dtype=dtype,
                  residual=res, residual_scale=0.4, norm=norm, bias_init=bias)
        for act in ("relu", "tanh")
        for res, norm in ((True, None), (False, "batch"), (False, "layer"), (True, "batch"))
        for init, s, bias in (("he", 0, None), ("xavier", 3, "normal"), ("lsuv", 1, None),
                              ("orthogonal", 1, "uniform"), ("he", 2, None))
    ]  # fmt: skip
    _assert_equal_results(cfgs)


def test_a_run_does_not_depend_on_its_stack():
    cfgs = [RunConfig(depth=6, width=24, batch=10, init="he", seed=s) for s in range(6)]
    together = simulate_many(cfgs)
    alone = [simulate_many([c])[0] for c in reversed(cfgs)][::-1]
    for a, b in zip(together, alone, strict=True):
        assert asdict(a.summary) == asdict(b.summary)
        assert all(np.array_equal(a.column(f), b.column(f), equal_nan=True)
                   for f in ("log10_act_rms", "log10_delta_rms", "log10_grad_norm"))  # fmt: skip


def test_without_moments_only_the_moments_are_missing():
    # what a sweep record holds (summary, log10 columns) is the same; the moments and the
    # weights' statistics are NaN. Constant weights (all equal: symmetry never broken) are
    # found either way, and so are a zero gain's (all zero).
    cfgs = [RunConfig(depth=12, width=10, batch=6, activation=a, init=i, gain=g, seed=s)
            for a, i, g, s in (("relu", "he", 1.0, 0), ("tanh", "xavier", 2.5, 1),
                               ("relu", "normal", 3.0, 2), ("sigmoid", "he", 0.3, 3),
                               ("tanh", "constant", 1.0, 4), ("tanh", "he", 0.0, 5))]  # fmt: skip
    full, lean = simulate_many(cfgs), simulate_many(cfgs, moments=False)
    assert [a.summary.symmetric for a in full] == [False] * 4 + [True, True]
    for a, b in zip(full, lean, strict=True):
        assert asdict(a.summary) == asdict(b.summary)
        for f in ("log10_act_rms", "log10_delta_rms", "log10_grad_norm", "saturated_frac",
                  "dead_frac"):  # fmt: skip
            assert np.array_equal(a.column(f), b.column(f), equal_nan=True), f
        for f in ("z_mean", "z_std", "act_mean", "act_std", "weight_std"):
            assert np.all(np.isfinite(a.column(f))) and np.all(np.isnan(b.column(f))), f
        assert np.all(np.isnan(b.column("grad_to_weight")))  # (‖W_l‖ not taken)
