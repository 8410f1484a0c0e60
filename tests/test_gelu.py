"""GELU's two forms (issue 15) against independent references.

``gelu`` is the exact z·Φ(z) of PyTorch's default ``nn.GELU()``; ``gelu_tanh`` is
``nn.GELU(approximate='tanh')``. The references are written out here from the formulas with
Python's ``math`` (the C library's erf, erfc, tanh and exp, one number at a time, in float64):
nothing of SciPy or of gradsim's vectorized code.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import gradsim
from gradsim.activations import ACTIVATIONS
from gradsim.meanfield.quadrature import expect

GELU, GELU_TANH = ACTIVATIONS["gelu"], ACTIVATIONS["gelu_tanh"]
FORMS = [GELU, GELU_TANH]
EPS32 = float(np.finfo(np.float32).eps)


def _torch_gelu(z: float) -> float:
    """PyTorch's exact GELU as its CPU kernel writes it: x·½·(1 + erf(x·M_SQRT1_2))."""
    return z * 0.5 * (1.0 + math.erf(z * 0.7071067811865476))


def _cdf(z: float) -> float:
    """Φ(z) = ½ erfc(−z/√2): keeps its relative accuracy in the lower tail."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _torch_gelu_tanh(z: float) -> float:
    """PyTorch's approximate='tanh': ½x(1 + tanh(√2·(2/√π)·½·(x + 0.044715x³)))."""
    beta = math.sqrt(2.0) * (2.0 / math.sqrt(math.pi)) * 0.5
    return 0.5 * z * (1.0 + math.tanh(beta * (z + 0.044715 * z * z * z)))


def _each(f, Z: np.ndarray) -> np.ndarray:
    return np.array([f(float(z)) for z in np.ravel(Z)]).reshape(np.shape(Z))


def _points() -> np.ndarray:
    """Both tails (|z| up to 12 densely, then to 37, where Φ(−37) ≈ 6e-300), 0 and tiny z."""
    tails = [-37.0, -30.0, -20.0, -15.0, 15.0, 20.0, 30.0, 37.0]
    tiny = [-1e-300, -5e-8, 0.0, 5e-8, 1e-300]
    return np.concatenate([np.linspace(-12, 12, 24001), tails, tiny])


def test_gelu_equals_pytorchs_formula_to_1e_12():
    Z = _points()
    H = GELU.fn(Z)
    assert H.dtype == np.float64
    assert np.abs(H - _each(_torch_gelu, Z)).max() <= 1e-12


def test_gelu_keeps_its_relative_accuracy_in_the_tails():
    """Where ½(1 + erf) cancels (z ≲ −5), Φ from erfc: every value to 1e-12 relative."""
    Z = _points()
    ref = _each(lambda z: z * _cdf(z), Z)
    np.testing.assert_allclose(GELU.fn(Z), ref, rtol=1e-12, atol=0)
    assert GELU.fn(np.array([-10.0]))[0] == pytest.approx(-10 * 7.61985302416047e-24, rel=1e-12)


def test_gelu_in_float32_to_float32_rounding():
    """φ of float32 inputs, in float32, within two roundings of the float64 value."""
    Z = np.linspace(-12, 12, 24001).astype(np.float32)
    H = GELU.fn(Z)
    assert H.dtype == np.float32
    ref = _each(lambda z: z * _cdf(z), Z.astype(np.float64))
    np.testing.assert_allclose(H.astype(np.float64), ref, rtol=2 * EPS32, atol=0)
    # φ': the terms Φ and z·ϕ each to a few roundings; ϕ = e^(−z²/2) through a float32 z²
    D = GELU.grad(Z, H)
    assert D.dtype == np.float32
    z = Z.astype(np.float64)
    cdf, pdf = _each(_cdf, z), _each(_pdf, z)
    bound = 4 * EPS32 * (cdf + np.abs(z) * pdf * (1 + z * z))
    assert np.all(np.abs(D.astype(np.float64) - (cdf + z * pdf)) <= bound)


@pytest.mark.parametrize("act", FORMS, ids=lambda a: a.name)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_dtype_is_kept(act, dtype):
    """φ and φ' return the input's dtype: the engine hands them float32 arrays for float32
    and float16 runs (float16 computes in float32), and SciPy's Φ of float16 is float64."""
    Z = np.linspace(-6, 6, 13).astype(dtype)
    H = act.fn(Z)
    assert H.dtype == dtype and act.grad(Z, H).dtype == dtype


def test_gelu_tanh_equals_pytorchs_tanh_formula():
    """To 1e-14 relative, or |z| units of the last place where 1 + tanh cancels (z ≲ −3: the
    formula itself keeps no more there, in PyTorch as here)."""
    Z = _points()
    H, ref = GELU_TANH.fn(Z), _each(_torch_gelu_tanh, Z)
    assert np.all(np.abs(H - ref) <= 1e-14 * np.abs(ref) + 4e-16 * np.abs(Z))
    assert np.abs(H - ref).max() <= 1e-14


def test_gelu_derivative_written_out():
    """φ'(z) = Φ(z) + z·ϕ(z), by erfc and exp one number at a time."""
    Z = _points()
    ref = _each(lambda z: _cdf(z) + z * _pdf(z), Z)
    scale = _each(lambda z: _cdf(z) + abs(z) * _pdf(z), Z)  # φ' crosses 0 near z = −0.75
    assert np.all(np.abs(GELU.grad(Z, GELU.fn(Z)) - ref) <= 1e-14 * scale)


@pytest.mark.parametrize("act", FORMS, ids=lambda a: a.name)
def test_derivative_matches_central_differences(act):
    """Five-point central differences (error O(h⁴)) of φ, on |z| ≤ 12."""
    Z = np.linspace(-12, 12, 2401)
    h = 1e-3 * np.maximum(1.0, np.abs(Z))
    f = act.fn
    fd = (f(Z - 2 * h) - 8 * f(Z - h) + 8 * f(Z + h) - f(Z + 2 * h)) / (12 * h)
    # truncation h⁴|φ⁽⁵⁾|/30 ≲ 1e-12·…, rounding ≈ 1.5·eps·|φ|/h ≲ 4e-12 at |z| = 12
    np.testing.assert_allclose(act.grad(Z, f(Z)), fd, rtol=0, atol=1e-9)


@pytest.mark.parametrize("act", FORMS, ids=lambda a: a.name)
def test_gain_by_fine_quadrature(act):
    """1/√E[φ(z)²] against a trapezoid rule on |z| ≤ 12 with the math-module references
    (the gain is taken at import through math.erfc, without SciPy)."""
    z = np.linspace(-12, 12, 48001)
    ref = {"gelu": lambda x: x * _cdf(x), "gelu_tanh": _torch_gelu_tanh}[act.name]
    y = _each(ref, z) ** 2 * _each(_pdf, z)
    m2 = float(np.sum(y[1:] + y[:-1]) / 2 * (z[1] - z[0]))
    assert act.gain == pytest.approx(1 / math.sqrt(m2), rel=1e-10)


def test_the_two_gains_differ_as_the_forms_do():
    assert GELU.gain == pytest.approx(1.5335304412, rel=1e-9)
    assert GELU_TANH.gain == pytest.approx(1.5335805217, rel=1e-9)


# ---------------------------------------------------------------- the theory's φ and φ'

_REF = {"gelu": (lambda z: z * _cdf(z), lambda z: _cdf(z) + z * _pdf(z)),
        "gelu_tanh": (_torch_gelu_tanh, None)}  # fmt: skip


def _mc_samples(q: float, mu: float, n: int = 200_000) -> tuple[np.ndarray, dict]:
    """u = μ + √q z for n draws of z, and each form's φ(u)² and φ'(u)² by the references
    (φ' of the tanh form by central differences of its reference, h = 1e-6)."""
    u = mu + math.sqrt(q) * np.random.default_rng(2026).standard_normal(n)
    out = {}
    for name, (f, df) in _REF.items():
        H = _each(f, u)
        D = _each(df, u) if df else (_each(f, u + 1e-6) - _each(f, u - 1e-6)) / 2e-6
        out[name] = {"phi2": H * H, "dphi2": D * D, "phi": H}
    return u, out


@pytest.mark.parametrize(("q", "mu"), [(0.5, 0.0), (1.0, 0.0), (2.5, 0.3)])
def test_theory_moments_against_monte_carlo(q, mu):
    """E[φ²], E[φ'²] and E[φ] of each form as the mean-field theory integrates them, within
    5 standard errors of a Monte Carlo over the references; and the difference between the
    forms, on the same draws (common random numbers resolve what separate samples cannot)."""
    _, mc = _mc_samples(q, mu)
    n = len(mc["gelu"]["phi"])
    for kind in ("phi2", "dphi2", "phi"):
        for act in FORMS:
            x = mc[act.name][kind]
            got = float(expect(act, q, mu, kind))
            assert abs(got - x.mean()) <= 5 * x.std() / math.sqrt(n), (act.name, kind)
        d = mc["gelu"][kind] - mc["gelu_tanh"][kind]
        got = float(expect(GELU, q, mu, kind) - expect(GELU_TANH, q, mu, kind))
        se = d.std() / math.sqrt(n)
        assert abs(got - d.mean()) <= 5 * se, kind
        assert abs(d.mean()) > 6 * se, kind  # the forms differ, and the theory sees it


# ---------------------------------------------------------------- the forms through a network


@pytest.fixture(scope="module")
def fifty():
    """Both forms at depth 50 with He weights, float64 and float32, the same seed."""
    return {(a, dt): gradsim.simulate(depth=50, width=256, batch=128, act=a, dtype=dt).to_dict()
            for a in ("gelu", "gelu_tanh") for dt in ("float64", "float32")}  # fmt: skip


def _col(d: dict, key: str) -> np.ndarray:
    return np.array([layer[key] for layer in d["layers"]], dtype=float)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_forms_drift_apart_over_fifty_layers(fifty, dtype):
    """Same weights and inputs (the draws do not depend on φ), so Z_1 is the same to the
    bit; φ differs by at most 4.7e-4, so layer 1's activations agree to 1e-4 decades; by
    layer 50 the difference has compounded to about 0.01 decades (measured 0.009 in the RMS
    of H, 0.010 in ‖∂E/∂W‖), far above either dtype's rounding (float32's through 50
    layers: ~1e-6 decades)."""
    e, t = fifty["gelu", dtype], fifty["gelu_tanh", dtype]
    assert (e["config"]["activation"], t["config"]["activation"]) == ("gelu", "gelu_tanh")
    for key in ("weight_std", "fan_in", "fan_out"):
        assert np.array_equal(_col(e, key), _col(t, key))
    for key in ("z_mean", "z_std"):
        assert e["layers"][0][key] == t["layers"][0][key]
    dact = np.abs(np.log10(_col(e, "act_rms")) - np.log10(_col(t, "act_rms")))
    dgrad = np.abs(_col(e, "log10_grad_norm") - _col(t, "log10_grad_norm"))
    assert dact[0] < 1e-4
    assert 0.004 < dact.max() < 0.05 and 0.004 < dgrad.max() < 0.05
    assert e["summary"]["verdict"] == t["summary"]["verdict"]


def test_float32_tracks_float64_for_each_form(fifty):
    """Each form's float32 run agrees with its float64 run far closer than the forms agree
    with each other: the drift is the forms', not rounding."""
    for a in ("gelu", "gelu_tanh"):
        d = np.log10(_col(fifty[a, "float32"], "act_rms")) - np.log10(
            _col(fifty[a, "float64"], "act_rms"))  # fmt: skip
        assert np.abs(d).max() < 1e-4


# ---------------------------------------------------------------- labels and start-up


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
def test_every_output_names_the_form(invoke, name):
    r = invoke("run", "--depth", "4", "--width", "8", "--batch", "4", "--act", name)
    assert r.exit_code == 0 and f"· {name} ·" in r.stdout
    r = invoke("run", "--depth", "4", "--width", "8", "--batch", "4", "--act", name,
               "--format", "json")  # fmt: skip
    assert json.loads(r.stdout)["config"]["activation"] == name
    fig = gradsim.simulate(depth=4, width=8, batch=4, act=name).figure()
    assert f"· {name} ·" in fig.get_suptitle()
    r = invoke("theory", "--depth", "4", "--act", name, "--format", "json")
    assert json.loads(r.stdout)["config"]["activation"] == name


def test_list_describes_both_forms(invoke):
    r = invoke("list")
    text = " ".join(r.stdout.split())
    assert "exact, erf form (PyTorch default)" in text
    assert "tanh approximation" in text
    assert GELU.note == "exact, erf form (PyTorch default)"
    assert GELU_TANH.note.startswith("tanh approximation")


def test_starting_gradsim_imports_no_scipy():
    """`import gradsim.cli`, `gradsim --help` and `gradsim list` leave SciPy unimported; the
    first GELU imports it (so the check can see it)."""
    code = """if True:
        import sys
        import numpy as np
        import gradsim.cli
        from gradsim.cli import cli
        def seen():
            return any(m == "scipy" or m.startswith("scipy.") for m in sys.modules)
        for args in (["--help"], ["run", "--help"], ["list"]):
            try:
                cli(args)
            except SystemExit:
                pass
        print(seen())
        gradsim.ACTIVATIONS["gelu"].fn(np.ones(2))
        print(seen())
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.split()[-2:] == ["False", "True"]
