"""The initializer registry against its own formulas and against the textbook ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradsim
from gradsim.initializers import TRUNC_STD, InitParams, canonical_init

RECORDS = list(gradsim.INITIALIZERS.values())
IDS = [r.name for r in RECORDS]
SHAPES = [(400, 300), (300, 400)]

# N = 120,000 entries per draw. The sample std of N i.i.d. draws has relative standard error
# √((κ − 1)/(4N)) (κ the kurtosis): 0.0020 for a normal (κ = 3), 0.0013 for a uniform
# (κ = 1.8). A 1.5% tolerance is over 7 standard errors, so a correct initializer fails with
# negligible probability while a wrong constant (√2, √3, a swapped fan: ≥ 12%) always fails.
STD_RTOL = 0.015


_DEFAULT = InitParams()


def _draw(rec, shape, p=_DEFAULT, seed=0):
    return rec.draw(*shape, np.random.default_rng(seed), p)


def _bound(rec, fi, fo, p) -> float | None:
    """The record's bound; None where it has none (no function, or it returns None)."""
    return None if rec.bound is None else rec.bound(fi, fo, p)


def _is_uniform(rec, fi, fo, p) -> bool:
    """U(−b, b) has std b/√3: recognise the uniform records by their own std and bound."""
    b = _bound(rec, fi, fo, p)
    if rec.std is None or b is None:
        return False
    s = rec.std(fi, fo, p)
    return s > 0 and math.isclose(b, math.sqrt(3.0) * s, rel_tol=1e-9)


@pytest.mark.parametrize("p", [InitParams(), InitParams(gain=1.7)], ids=["gain1", "gain1.7"])
@pytest.mark.parametrize("shape", SHAPES, ids=["tall", "wide"])
@pytest.mark.parametrize("rec", RECORDS, ids=IDS)
def test_draw_matches_record(rec, shape, p):
    fi, fo = shape
    W = _draw(rec, shape, p)
    assert W.shape == (fi, fo)
    assert W.dtype == np.float64
    assert np.all(np.isfinite(W))
    N = W.size
    if rec.std is not None:
        s = rec.std(fi, fo, p)
        assert s >= 0
        if s == 0:
            assert W.std() == pytest.approx(0.0, abs=1e-12)
        else:
            assert W.std() == pytest.approx(s, rel=STD_RTOL)
        # the mean of N draws has standard error s/√N; allow 6 of them
        assert W.mean() == pytest.approx(rec.mean(fi, fo, p), abs=6 * s / math.sqrt(N) + 1e-12)
    b = _bound(rec, fi, fo, p)
    if b is not None:
        assert np.abs(W).max() <= b * (1 + 1e-12)
        # every bounded record reaches near its bound (constants and γI reach it exactly)
        assert np.abs(W).max() >= 0.99 * b
        if _is_uniform(rec, fi, fo, p):
            # P(max of N uniforms < b(1 − 1e-3)) = (1 − 1e-3)^N ≈ e^-120
            assert np.abs(W).max() >= (1 - 1e-3) * b


@pytest.mark.parametrize("rec", RECORDS, ids=IDS)
def test_draw_is_deterministic(rec):
    np.testing.assert_array_equal(_draw(rec, (40, 30), seed=3), _draw(rec, (40, 30), seed=3))


# ---------------------------------------------------------------- textbook formulas
FI, FO = 400, 100  # unequal fans, so a wrong fan shows (√(2/400) vs √(2/100) vs √(2/250))


def _sample_std(name, fi=FI, fo=FO, **kw):
    return _draw(gradsim.INITIALIZERS[name], (fi, fo), InitParams(**kw)).std()


@pytest.mark.parametrize(
    ("name", "kw", "expected"),
    [
        ("xavier_uniform", {}, math.sqrt(6 / (FI + FO)) / math.sqrt(3)),
        ("xavier_normal", {}, math.sqrt(2 / (FI + FO))),
        ("he_normal", {}, math.sqrt(2 / FI)),
        ("he_uniform", {}, math.sqrt(6 / FI) / math.sqrt(3)),
        ("lecun_normal", {}, math.sqrt(1 / FI)),
        ("lecun_uniform", {}, math.sqrt(3 / FI) / math.sqrt(3)),
        ("torch_default", {}, 1 / math.sqrt(FI) / math.sqrt(3)),
        ("keras_default", {}, math.sqrt(6 / (FI + FO)) / math.sqrt(3)),
        ("he_normal", {"mode": "fan_out"}, math.sqrt(2 / FO)),
        ("he_normal", {"mode": "fan_avg"}, math.sqrt(2 / ((FI + FO) / 2))),
        ("xavier_normal", {"mode": "fan_in"}, math.sqrt(1 / FI)),
        ("he_normal", {"gain": 3.0}, 3 * math.sqrt(2 / FI)),
        ("xavier_uniform", {"gain": 0.5}, 0.5 * math.sqrt(2 / (FI + FO))),
        ("normal", {}, 1.0),
        ("normal", {"std": 0.02, "gain": 2.0}, 0.04),
        ("uniform", {}, 2 / math.sqrt(12)),
        ("uniform", {"low": 0.0, "high": 3.0}, 3 / math.sqrt(12)),
        ("orthogonal", {}, 1 / math.sqrt(max(FI, FO))),
    ],
)
def test_textbook_std(name, kw, expected):
    assert _sample_std(name, **kw) == pytest.approx(expected, rel=STD_RTOL)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("xavier_uniform", math.sqrt(6 / (FI + FO))),
        ("he_uniform", math.sqrt(6 / FI)),
        ("lecun_uniform", math.sqrt(3 / FI)),
        ("torch_default", 1 / math.sqrt(FI)),
    ],
)
def test_textbook_uniform_bound(name, expected):
    W = _draw(gradsim.INITIALIZERS[name], (FI, FO), InitParams())
    assert np.abs(W).max() <= expected
    assert np.abs(W).max() >= (1 - 1e-3) * expected  # (1 − 1e-3)^40000 ≈ e^-40
    assert gradsim.INITIALIZERS[name].bound(FI, FO, InitParams()) == pytest.approx(expected)


def test_uniform_mean():
    W = _draw(gradsim.INITIALIZERS["uniform"], (FI, FO), InitParams(low=1.0, high=3.0, gain=2))
    assert W.mean() == pytest.approx(4.0, abs=0.01)
    assert 2.0 <= W.min() and W.max() <= 6.0


def test_trunc_std_constant():
    """std of N(0, 1) cut at ±2: Var = 1 − 2·2·φ(2)/(2Φ(2) − 1), φ, Φ the normal pdf, cdf."""
    pdf2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))  # 2Φ(2) − 1
    assert math.sqrt(1 - 4 * pdf2 / mass) == pytest.approx(TRUNC_STD, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "kw", "sigma"),
    [
        ("he_normal", {"truncated": True}, math.sqrt(2 / FI)),
        ("xavier_normal", {"truncated": True}, math.sqrt(2 / (FI + FO))),
        ("lecun_normal", {"truncated": True}, math.sqrt(1 / FI)),
        ("normal", {"truncated": True, "std": 0.5}, 0.5),
        ("truncated_normal", {"std": 0.5}, 0.5),
    ],
)
def test_truncated_keeps_variance(name, kw, sigma):
    W = _draw(gradsim.INITIALIZERS[name], (FI, FO), InitParams(**kw))
    bound = 2 * sigma / 0.87962566103423978
    assert W.std() == pytest.approx(sigma, rel=STD_RTOL)
    assert np.abs(W).max() <= bound * (1 + 1e-12)
    # the cut is really at 2σ': an untruncated normal would pass 2.27σ in ~2% of 40,000 draws
    assert np.abs(W).max() >= 0.99 * bound
    assert np.mean(np.abs(W) > 0.9 * bound) > 0.005


def test_untruncated_normal_exceeds_truncation_bound():
    """Guards the test above: without truncation the same draw goes beyond 2σ/0.8796."""
    W = _draw(gradsim.INITIALIZERS["he_normal"], (FI, FO), InitParams())
    assert np.abs(W).max() > 2 * math.sqrt(2 / FI) / TRUNC_STD


@pytest.mark.parametrize("gain", [1.0, 1.3, 0.25])
@pytest.mark.parametrize("shape", [(400, 300), (300, 400), (64, 64)], ids=["tall", "wide", "sq"])
def test_orthogonal(shape, gain):
    W = _draw(gradsim.INITIALIZERS["orthogonal"], shape, InitParams(gain=gain))
    fi, fo = shape
    G = W.T @ W if fi >= fo else W @ W.T
    np.testing.assert_allclose(G, gain**2 * np.eye(min(fi, fo)), atol=1e-10)


def test_orthogonal_is_random():
    rec = gradsim.INITIALIZERS["orthogonal"]
    assert not np.allclose(_draw(rec, (64, 64), seed=0), _draw(rec, (64, 64), seed=1))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3)])
def test_identity(shape):
    W = _draw(gradsim.INITIALIZERS["identity"], shape, InitParams(gain=1.2))
    np.testing.assert_array_equal(W, 1.2 * np.eye(*shape))


@pytest.mark.parametrize(
    ("name", "kw", "value"),
    [("zeros", {}, 0.0), ("ones", {}, 1.0), ("ones", {"gain": 2.0}, 2.0),
     ("constant", {"value": 0.3}, 0.3), ("constant", {"value": 0.3, "gain": 2.0}, 0.6)],
)  # fmt: skip
def test_constants(name, kw, value):
    W = _draw(gradsim.INITIALIZERS[name], (6, 4), InitParams(**kw))
    np.testing.assert_array_equal(W, np.full((6, 4), value))


# Records with a nonzero spread, for the sign-of-gain test below.
SPREAD = [r for r in RECORDS if r.std is not None and r.std(40, 30, InitParams()) > 0]


@pytest.mark.parametrize("rec", SPREAD, ids=[r.name for r in SPREAD])
def test_negative_gain_is_rejected_or_scales_by_its_magnitude(rec):
    """A negative γ passes RunConfig's validation, so it must either be refused there with a
    GradsimError or give weights of spread |γ|·σ: not all-zero weights, not a NumPy error."""
    try:
        cfg = gradsim.RunConfig(depth=1, width=200, init=rec.name, gain=-1.5, dtype="float64")
    except gradsim.GradsimError:
        return
    from gradsim.draws import build_network

    ref = build_network(gradsim.RunConfig(depth=1, width=200, init=rec.name, dtype="float64"))
    W = build_network(cfg).W[0]
    assert W.std() == pytest.approx(1.5 * ref.W[0].std(), rel=0.05)


# ---------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("xavier", "xavier_uniform"),
        ("glorot", "xavier_uniform"),
        ("glorot_uniform", "xavier_uniform"),
        ("glorot_normal", "xavier_normal"),
        ("he", "he_normal"),
        ("kaiming", "he_normal"),
        ("kaiming_normal", "he_normal"),
        ("kaiming_uniform", "he_uniform"),
        ("Kaiming-Uniform", "he_uniform"),
        (" HE ", "he_normal"),
    ],
)
def test_aliases(alias, target):
    assert canonical_init(alias) == target


@pytest.mark.parametrize("alias", sorted(gradsim.INIT_ALIASES))
def test_every_alias_resolves_to_a_record(alias):
    assert canonical_init(alias) == gradsim.INIT_ALIASES[alias]
    assert gradsim.INIT_ALIASES[alias] in gradsim.INITIALIZERS


@pytest.mark.parametrize("name", IDS)
def test_names_resolve_to_themselves(name):
    assert canonical_init(name) == name
    assert gradsim.RunConfig(depth=1, width=2, init=name).init == name


@pytest.mark.parametrize(
    ("typo", "closest"),
    [("xavir_normal", "xavier_normal"), ("he_norml", "he_normal"), ("orthogonl", "orthogonal"),
     ("lecun_uniformm", "lecun_uniform"), ("truncated_norm", "truncated_normal")],
)  # fmt: skip
def test_unknown_name_suggests_closest(typo, closest):
    with pytest.raises(gradsim.GradsimError, match=f"did you mean '{closest}'"):
        canonical_init(typo)
    with pytest.raises(gradsim.GradsimError, match=f"'{closest}'"):
        gradsim.RunConfig(init=typo)
