"""The activation registry against independent references.

Every test loops over ``gradsim.ACTIVATIONS``: a new record is checked without editing this
file (except ``test_gain``, which needs a reference for each kind of ``gain_source``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradsim
from gradsim.activations import ACTIVATION_ALIASES, canonical_activation, get_activation

RECORDS = list(gradsim.ACTIVATIONS.values())
IDS = [a.name for a in RECORDS]


def _grad(act: gradsim.Activation, Z: np.ndarray) -> np.ndarray:
    """φ'(Z) as a float64 array (the record may return None for φ' ≡ 1, or a bool mask)."""
    D = act.grad(Z, act.fn(Z))
    return np.ones_like(Z) if D is None else np.asarray(D, dtype=np.float64)


def _points() -> np.ndarray:
    """Negative, small, positive and large |z|, none within 1e-3 of the kinks at 0."""
    z = np.concatenate([np.linspace(-30, 30, 1201), [-20.5, -7.3, -1e-2, 1e-2, 7.3, 20.5]])
    return z[np.abs(z) > 1e-3]


@pytest.mark.parametrize("act", RECORDS, ids=IDS)
def test_grad_matches_central_differences(act):
    Z = _points()
    h = 1e-6 * np.maximum(1.0, np.abs(Z))  # relative step: rounding error ~ eps·|φ|/h
    fd = (act.fn(Z + h) - act.fn(Z - h)) / (2 * h)
    # truncation O(h²φ''') ≈ 1e-12, rounding ≈ 2e-16·30/3e-5 ≈ 2e-10 at |z| = 30
    np.testing.assert_allclose(_grad(act, Z), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("act", RECORDS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_for_large_inputs(act, dtype):
    Z = np.array([-1000.0, -700.0, -100.0, -30.0, 30.0, 100.0, 700.0, 1000.0], dtype=dtype)
    # an overflow inside exp (e.g. 1/(1+e^1000)) would warn and may turn into NaN: raise instead
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        H = act.fn(Z)
        D = _grad(act, Z)
    assert np.all(np.isfinite(H)), H
    assert np.all(np.isfinite(D)), D
    assert H.dtype == dtype


def test_large_input_values():
    """The saturating ones reach their asymptotes at ±1000 without NaN."""
    Z = np.array([-1000.0, 1000.0])
    expected = {
        "sigmoid": [0.0, 1.0],
        "softplus": [0.0, 1000.0],
        "silu": [0.0, 1000.0],
        "tanh": [-1.0, 1.0],
        "gelu": [0.0, 1000.0],
        "gelu_tanh": [0.0, 1000.0],
    }
    for name, want in expected.items():
        np.testing.assert_allclose(get_activation(name).fn(Z), want, atol=1e-300, err_msg=name)


# torch.nn.init.calculate_gain's documented values, for records that cite it
_TORCH_GAIN = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "selu": 0.75}


def _second_moment(fn, n=2_000_000, seed=12345) -> float:
    z = np.random.default_rng(seed).standard_normal(n)
    return float(np.mean(fn(z) ** 2))


@pytest.mark.parametrize("act", RECORDS, ids=IDS)
def test_gain(act):
    if "1/√E[φ(z)²]" in act.gain_source:
        # Monte Carlo: relative s.e. of E[φ²] with 2e6 samples is ~1e-3, so 1% is > 5 s.e.
        assert act.gain**2 * _second_moment(act.fn) == pytest.approx(1.0, rel=0.01)
    elif act.param == "slope":
        a = act.value
        assert act.gain == pytest.approx(math.sqrt(2.0 / (1.0 + a * a)), rel=1e-12)
    elif act.name == "relu":
        assert act.gain == pytest.approx(math.sqrt(2.0), rel=1e-12)
    elif act.name in _TORCH_GAIN:
        assert act.gain == pytest.approx(_TORCH_GAIN[act.name], rel=1e-12)
    else:
        pytest.fail(f"no reference for the gain of {act.name} ({act.gain_source})")


def test_relu_gain_keeps_second_moment():
    """He's √2 is the 1/√E[φ(z)²] rule for ReLU too (E[relu(z)²] = 1/2)."""
    relu = gradsim.ACTIVATIONS["relu"]
    assert relu.gain**2 * _second_moment(relu.fn) == pytest.approx(1.0, rel=0.01)


def test_leaky_relu_with_param():
    base = gradsim.ACTIVATIONS["leaky_relu"]
    steep = base.with_param(0.2)
    assert steep.value == 0.2
    assert base.value != 0.2  # the registry record is not modified
    np.testing.assert_allclose(steep.fn(np.array([-1.0, 2.0])), [-0.2, 2.0])
    np.testing.assert_allclose(base.fn(np.array([-1.0])), [-base.value])
    np.testing.assert_allclose(_grad(steep, np.array([-3.0, 3.0])), [0.2, 1.0])
    assert steep.gain == pytest.approx(math.sqrt(2.0 / 1.04), rel=1e-12)
    assert base.with_param(None) is base
    assert get_activation("leaky_relu", 0.2).value == 0.2


@pytest.mark.parametrize("act", RECORDS, ids=IDS)
def test_homogeneous_flag(act):
    Z = np.random.default_rng(1).standard_normal(1000) * 3
    close = [np.allclose(act.fn(c * Z), c * act.fn(Z), rtol=1e-12, atol=0) for c in (0.5, 3, 1e3)]
    # the flag lets the engine rescale the forward pass: it must be exactly right when set,
    # and set whenever it is true (else magnitudes beyond the dtype are lost needlessly)
    assert all(close) == act.homogeneous


SATURATING = [a for a in RECORDS if a.saturated is not None]


@pytest.mark.parametrize("act", SATURATING, ids=[a.name for a in SATURATING])
def test_saturated_mask(act):
    lo, hi = (float(v) for v in act.fn(np.array([-1e3, 1e3])))  # the flat asymptotes
    span = hi - lo
    near = np.array([lo, lo + 0.004 * span, hi - 0.004 * span, hi])
    far = np.array([lo + 0.03 * span, lo + 0.5 * span, hi - 0.03 * span])
    assert act.saturated(near).all()
    assert not act.saturated(far).any()
    # on real activations: saturated iff |z| is large
    Z = np.array([-50.0, -0.5, 0.0, 0.5, 50.0])
    np.testing.assert_array_equal(act.saturated(act.fn(Z)), [True, False, False, False, True])


@pytest.mark.parametrize("alias", sorted(ACTIVATION_ALIASES))
def test_aliases_resolve(alias):
    target = ACTIVATION_ALIASES[alias]
    assert target in gradsim.ACTIVATIONS
    assert canonical_activation(alias) == target
    assert canonical_activation(alias.upper().replace("_", "-")) == target


@pytest.mark.parametrize("name", IDS)
def test_canonical_names_resolve_to_themselves(name):
    assert canonical_activation(name) == name
    assert canonical_activation(f" {name.upper()} ") == name


@pytest.mark.parametrize(
    ("typo", "closest"),
    [("rleu", "relu"), ("tahn", "tanh"), ("sigmod", "sigmoid"), ("leaky_rel", "leaky_relu")],
)
def test_unknown_name_suggests_closest(typo, closest):
    with pytest.raises(gradsim.GradsimError, match=f"'{closest}'"):
        canonical_activation(typo)


def test_unknown_name_without_close_match_lists_choices():
    with pytest.raises(gradsim.GradsimError) as e:
        canonical_activation("qqqqqqqq")
    assert all(name in str(e.value) for name in gradsim.ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(gradsim.ACTIVATIONS))
def test_every_derivative_takes_a_scalar_as_an_array_of_one(name):
    """NumPy scalars and 0-d arrays, as every φ' took them (tanh's once did not)."""
    act = gradsim.ACTIVATIONS[name]
    for z in (-0.7, 0.3, 2.0):
        h = act.fn(np.array([z]))
        want = act.grad(np.array([z]), h)
        for Z, H in ((np.float64(z), np.float64(h[0])), (np.array(z), np.array(h[0]))):
            got = act.grad(Z, H)
            if want is None:
                assert got is None
            else:
                assert np.array_equal(np.asarray(got, dtype=float).reshape(1), want), (name, Z)
