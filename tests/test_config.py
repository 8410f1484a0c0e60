"""RunConfig: defaults, alias resolution, validation, round trip through its dict."""

import dataclasses

import pytest

from gradsim import GradsimError, RunConfig
from gradsim.initializers import INIT_ALIASES


def test_defaults_match_the_documented_ones():
    c = RunConfig()
    assert (c.depth, c.width, c.batch, c.activation, c.init) == (50, 256, 128, "relu", "he_normal")
    assert (c.gain, c.loss, c.seed, c.dtype, c.threshold) == (1.0, "mse", 0, "float32", 100.0)
    assert c.layer_widths == (256,) * 51
    assert c.resolved_mode == "fan_in" and c.resolved_bias_init == "zeros"


@pytest.mark.parametrize("alias, name", sorted(INIT_ALIASES.items()))
def test_aliases_resolve(alias, name):
    assert RunConfig(init=alias).init == name
    assert RunConfig(init=alias.upper()).init == name


def test_widths_set_depth():
    c = RunConfig(widths=(10, 8, 4))
    assert c.depth == 2 and c.layer_widths == (10, 8, 4)
    with pytest.raises(GradsimError, match="needs 4"):
        RunConfig(widths=(10, 8), depth=3)


def test_frozen_and_replace():
    c = RunConfig(depth=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.depth = 4
    d = dataclasses.replace(c, init="xavier")
    assert d.init == "xavier_uniform" and d.depth == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"init": "torch_default", "bias_init": None},
        {"init": "he", "mode": "fan_out", "activation": "leaky_relu", "slope": 0.3},
        {"widths": (5, 4, 3), "dtype": "float16", "loss": "probe", "truncated": True},
    ],
)
def test_round_trip_through_dict(kwargs):
    c = RunConfig(**kwargs)
    assert RunConfig.from_dict(c.to_dict()).to_dict() == c.to_dict()


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(GradsimError, match="unknown config key"):
        RunConfig.from_dict({"depht": 3})


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"depth": 0}, "--depth"),
        ({"depth": 2.5}, "--depth"),
        ({"batch": True}, "--batch"),
        ({"std": -1.0}, "--std"),
        ({"low": 2.0, "high": 1.0}, "--low"),
        ({"gain": float("inf")}, "--gain"),
        ({"threshold": 0.5}, "--threshold"),
        ({"init": "xaiver"}, "xavier"),
        ({"activation": "tahn"}, "tanh"),
        ({"loss": "mae"}, "loss"),
        ({"dtype": "bfloat8"}, "dtype"),
        ({"loss_scale": "-2"}, "--loss-scale"),
        ({"loss_scale": "often"}, "--loss-scale"),
        ({"loss_scale": float("inf")}, "--loss-scale"),
        ({"bias_init": "ones"}, "bias init"),
        ({"init": "orthogonal", "mode": "fan_in"}, "--mode"),
        ({"activation": "relu", "slope": 0.1}, "--slope"),
    ],
)
def test_bad_values_name_the_problem(kwargs, words):
    with pytest.raises(GradsimError) as e:
        RunConfig(**kwargs)
    assert words in str(e.value) and "\n" not in str(e.value)
