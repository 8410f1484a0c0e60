"""The batched pass against the single-run pass: bitwise-equal networks and statistics."""

import math
from dataclasses import asdict

import numpy as np
import pytest

from gradsim.activations import ACTIVATIONS
from gradsim.batched import build_stack, simulate_batched
from gradsim.config import RunConfig
from gradsim.core import simulate_network
from gradsim.network import build_network
from gradsim.streams import generators


def _same(a, b) -> bool:
    # exact equality, NaN equal to NaN
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))  # fmt: skip


def _assert_equal_results(cfgs):
    for cfg, got in zip(cfgs, simulate_batched(cfgs), strict=True):
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
    for s, k, g in zip(seeds, keys, generators(seeds, keys), strict=True):
        ref = np.random.default_rng(np.random.SeedSequence(s, spawn_key=k))
        assert g.bit_generator.state == ref.bit_generator.state


def test_stack_holds_build_networks_arrays():
    cfgs = [RunConfig(depth=4, width=6, batch=3, init=i, seed=s, bias_init=b)
            for i, s, b in (("he", 0, None), ("orthogonal", 9, "normal"),
                            ("torch_default", 2**40, None))]  # fmt: skip
    st = build_stack(cfgs)
    for k, cfg in enumerate(cfgs):
        net = build_network(cfg)
        for l in range(cfg.depth):
            assert np.array_equal(st.W[l][k], net.W[l]) and np.array_equal(st.b[l][k], net.b[l])
        assert np.array_equal(st.X[k], net.X) and np.array_equal(st.T[k], net.T)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_every_activation_bitwise_equal(dtype):
    # odd shapes (no SIMD-friendly sizes), every loss, biases, overflowing and symmetric inits
    cfgs = [
        RunConfig(widths=(13, 9, 11, 5), batch=7, activation=act, init=init, gain=g, seed=s,
                  dtype=dtype, loss=loss, bias_init=bias)
        for act in ACTIVATIONS
        for init, g, s, loss, bias in (("he", 1.0, 0, "mse", None), ("normal", 3.0, 5, "probe",
                                       "normal"), ("zeros", 1.0, 2, "sum", None))
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


def test_a_run_does_not_depend_on_its_stack():
    cfgs = [RunConfig(depth=6, width=24, batch=10, init="he", seed=s) for s in range(6)]
    together = simulate_batched(cfgs)
    alone = [simulate_batched([c])[0] for c in reversed(cfgs)][::-1]
    for a, b in zip(together, alone, strict=True):
        assert asdict(a.summary) == asdict(b.summary)
        assert all(np.array_equal(a.column(f), b.column(f), equal_nan=True)
                   for f in ("log10_act_rms", "log10_delta_rms", "log10_grad_norm"))  # fmt: skip
