"""Mean-field theory against independent references: ReLU's and the linear net's closed
forms, tanh's critical point, brute-force quadrature over a fine grid, a brute-force 2-D
correlation map, Monte Carlo through the engine over seeds, the known moments of Jacobian
spectra; and the CLI (theory, phase, spectrum, run --theory) with its bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import gradsim
from gradsim import meanfield as T
from gradsim.activations import Activation
from gradsim.config import RunConfig
from gradsim.draws import build_network
from gradsim.errors import GradsimError

A = gradsim.ACTIVATIONS
ACT_IDS = list(A)
PNG = b"\x89PNG\r\n\x1a\n"


def brute(f, q: float, mu: float = 0.0) -> float:
    """E[f(μ + √q z)] by the midpoint rule on 200k cells each side of u = 0 (where the
    registered activations have their kinks) over |z| ≤ 12: a reference that shares
    nothing with gradsim's quadrature but that split."""
    z0 = min(max(-mu / math.sqrt(q), -12.0), 12.0)
    total = 0.0
    for a, b in ((-12.0, z0), (z0, 12.0)):
        h = (b - a) / 200_000
        z = a + (np.arange(200_000) + 0.5) * h
        total += float(np.sum(np.exp(-0.5 * z * z) * f(mu + math.sqrt(q) * z))) * h
    return total / math.sqrt(2 * math.pi)


def phi2(act):
    return lambda u: np.asarray(act.fn(u), float) ** 2


def dphi2(act):
    def f(u):
        D = act.grad(u, act.fn(u))
        return np.ones_like(u) if D is None else np.asarray(D, float) ** 2

    return f


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("sw, sb", [(1.0, 0.0), (1.2, 0.1), (1.3, 0.5), (2.0, 0.3)])
def test_relu_closed_forms(sw, sb):
    relu = A["relu"]
    q = np.array([1e-3, 0.5, 2.0, 37.0])
    np.testing.assert_allclose(T.length_map(relu, q, sw, sb), sw**2 * q / 2 + sb**2, rtol=1e-10)
    mf = T.mean_field(relu, sw, sb)
    assert float(mf.chi1) == pytest.approx(sw**2 / 2, rel=1e-10)
    if sw**2 < 2:
        assert float(mf.q_star) == pytest.approx(sb**2 / (1 - sw**2 / 2), rel=1e-8, abs=1e-12)
        assert str(mf.phase) == ("critical" if abs(sw**2 / 2 - 1) <= 0.01 else "ordered")
    else:
        assert math.isinf(float(mf.q_star)) and str(mf.phase) == "chaotic"
    # layer by layer: q^1 = σ_w² + σ_b², q^l = σ_w² q^{l-1}/2 + σ_b²; δ² × σ_w²/2 per layer
    prof = T.profile(relu, sw, sb, depth=12)
    ref = [sw**2 + sb**2]
    for _ in range(11):
        ref.append(sw**2 * ref[-1] / 2 + sb**2)
    np.testing.assert_allclose(prof.q, ref, rtol=1e-9)
    np.testing.assert_allclose(np.diff(prof.log10_delta), -0.5 * math.log10(sw**2 / 2), atol=1e-9)


def test_linear_and_leaky_closed_forms():
    mf = T.mean_field(A["linear"], 0.9, 0.3)
    assert float(mf.q_star) == pytest.approx(0.09 / (1 - 0.81), rel=1e-9)
    assert float(mf.chi1) == pytest.approx(0.81, rel=1e-12)
    assert float(mf.xi_q) == pytest.approx(-1 / math.log(0.81), rel=1e-8)
    leaky = A["leaky_relu"].with_param(0.2)
    assert float(T.length_map(leaky, 3.0, 1.0, 0.0)) == pytest.approx(3.0 * (1 + 0.04) / 2)
    assert float(T.mean_field(leaky, 1.0, 0.0).chi1) == pytest.approx((1 + 0.04) / 2)
    # he_normal on relu: exactly critical, the length kept from layer to layer
    mf = T.mean_field(A["relu"], math.sqrt(2), 0.0)
    assert float(mf.q_star) == pytest.approx(2.0) and str(mf.phase) == "critical"
    assert math.isinf(float(mf.xi_c))


def test_tanh_critical_point():
    tanh = A["tanh"]
    # σ_b = 0: φ'(0) = 1 makes σ_w² = 1 critical (q* = 0)
    assert float(T.critical_sigma_w(tanh, 0.0)) == pytest.approx(1.0, abs=1e-6)
    mf = T.mean_field(tanh, 1.0, 0.0)
    assert float(mf.q_star) == 0.0 and float(mf.chi1) == pytest.approx(1.0)
    assert str(mf.phase) == "critical"
    below, above = T.mean_field(tanh, [0.9, 1.1], 0.0).phase
    assert (below, above) == ("ordered", "chaotic")
    # σ_b² = 0.05: σ_w² ≈ 1.76 (Schoenholz et al. 2017)
    assert float(T.critical_sigma_w(tanh, math.sqrt(0.05))) ** 2 == pytest.approx(1.76, abs=0.01)
    c = T.critical_sigma_w(tanh, [0.1, 0.3])
    np.testing.assert_allclose(T.mean_field(tanh, c, [0.1, 0.3]).chi1, 1.0, atol=1e-9)


# ---------------------------------------------------------------- quadrature


@pytest.mark.parametrize("name", ACT_IDS)
def test_expectations_match_brute_force(name):
    act = A[name]
    for q, mu in ((0.3, 0.0), (4.0, 0.0), (60.0, 0.0), (2.0, 0.4)):
        for kind, f in (("phi2", phi2(act)), ("dphi2", dphi2(act))):
            got = float(T.expect(act, q, mu, kind))
            assert got == pytest.approx(brute(f, q, mu), rel=2e-6, abs=1e-12), (kind, q, mu)
    # Stein's lemma: q·dE[φ²]/dq against a central difference in q
    q, h = 1.7, 1e-4
    fd = (brute(phi2(act), q + h) - brute(phi2(act), q - h)) / (2 * h) * q
    assert float(T.expect(act, q, 0.0, "slope")) == pytest.approx(fd, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("name", ACT_IDS)
def test_every_activation_has_a_fixed_point(name):
    act = A[name]
    mf = T.mean_field(act, [0.8, 0.9], [0.1, 0.3])
    assert np.all(np.isfinite(mf.q_star)) and np.all(mf.q_star > 0)
    assert np.all(np.isfinite(mf.chi1)) and np.all(mf.chi1 > 0)
    assert set(mf.phase.tolist()) <= set(T.PHASES)
    # q* is the length map's fixed point, χ₁ its definition
    np.testing.assert_allclose(T.length_map(act, mf.q_star, [0.8, 0.9], [0.1, 0.3]), mf.q_star,
                               rtol=1e-8)  # fmt: skip
    np.testing.assert_allclose(mf.chi1, [0.64, 0.81] * T.expect(act, mf.q_star, 0, "dphi2"),
                               rtol=1e-10)  # fmt: skip
    prof = T.profile(act, 0.9, 0.1, depth=8)
    assert np.all(np.isfinite(prof.log10_q)) and np.all(np.isfinite(prof.log10_delta))


def test_correlation_map_against_2d_quadrature():
    """c* and χ_c (Mehler's series) against a 160×160 Gauss–Hermite correlation map."""
    x, w = hermegauss(160)
    w = w / math.sqrt(2 * math.pi)
    Z1, Z2 = np.meshgrid(x, x)
    W = np.outer(w, w)
    sw, sb = 2.0, 0.3
    mf = T.mean_field(A["tanh"], sw, sb)
    q = float(mf.q_star)

    def cmap(c):
        u1, u2 = math.sqrt(q) * Z1, math.sqrt(q) * (c * Z1 + math.sqrt(1 - c * c) * Z2)
        return ((sw**2 * np.sum(W * np.tanh(u1) * np.tanh(u2)) + sb**2) / q,
                sw**2 * np.sum(W * (1 - np.tanh(u1) ** 2) * (1 - np.tanh(u2) ** 2)))  # fmt: skip

    c = 0.0
    for _ in range(300):
        c, chi_c = cmap(c)
    assert float(mf.c_star) == pytest.approx(c, abs=1e-7)
    assert float(mf.chi_c) == pytest.approx(chi_c, rel=1e-6)
    assert float(mf.xi_c) == pytest.approx(-1 / math.log(chi_c), rel=1e-5)
    assert float(T.correlation_map(A["tanh"], mf.c_star, q, sw, sb)) == pytest.approx(c, abs=1e-7)
    # a kinked φ near its critical line needs the 2-D polish; it agrees with the map itself
    mf = T.mean_field(A["selu"], 0.75, 0.0)
    c_star = float(mf.c_star)
    assert 0 < c_star < 1
    again = T.correlation_map(A["selu"], c_star, float(mf.q_star), 0.75, 0.0)
    assert float(again) == pytest.approx(c_star, abs=1e-6)


# ---------------------------------------------------------------- Monte Carlo


def measured(act: str, sw: float, sb: float, depth: int = 30, seeds: int = 3):
    """Per-layer q (variance of Z_l over batch and units) and δ² factor per layer, from the
    engine at width 512 with the probe loss (∂E/∂H_L ~ N(0, 1)), averaged over seeds."""
    qs, chis = [], []
    for seed in range(seeds):
        r = gradsim.simulate(
            depth=depth, width=512, batch=64, act=act, init="lecun_normal", gain=sw,
            bias_init="normal", bias_std=sb, loss="probe", seed=seed,
        )  # fmt: skip
        ld = r.column("log10_delta_rms")
        qs.append(r.column("z_std") ** 2 + r.column("z_mean") ** 2)
        chis.append(2 * (ld[:-1] - ld[1:]))  # log10 of δ_l²/δ_{l+1}²
    return np.mean(qs, axis=0), 10 ** np.mean(chis, axis=0)


@pytest.mark.parametrize("act, sw, sb", [("tanh", 1.5, 0.3), ("tanh", 1.2, 0.05),
                                         ("sigmoid", 4.0, 0.2)])  # fmt: skip
def test_q_star_and_chi1_match_monte_carlo(act, sw, sb):
    mf = T.mean_field(A[act], sw, sb)
    assert float(mf.xi_q) < 3  # settled well before layer 20
    q, chi = measured(act, sw, sb)
    assert np.mean(q[20:]) == pytest.approx(float(mf.q_star), rel=0.03)
    assert math.exp(np.mean(np.log(chi[20:]))) == pytest.approx(float(mf.chi1), rel=0.03)
    # and layer by layer, through the transient from q^1 = σ_w² + σ_b² (one layer of
    # width 512 strays by a few percent: √(2/512) = 6% for a unit's mean over its inputs)
    ratio = q / T.profile(A[act], sw, sb, depth=30).q
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.02) and np.max(np.abs(ratio - 1)) < 0.15


def test_relu_chi1_matches_monte_carlo():
    _, chi = measured("relu", math.sqrt(1.6), 0.2, depth=16)
    assert math.exp(np.mean(np.log(chi))) == pytest.approx(0.8, rel=0.03)


# ---------------------------------------------------------------- Jacobian spectra


def spectrum(act, init, depth, width, inputs=1, seed=0, **kw):
    cfg = RunConfig(activation=act, init=init, depth=depth, width=width, batch=inputs,
                    dtype="float64", loss="sum", seed=seed, **kw)  # fmt: skip
    return T.jacobian_spectrum(build_network(cfg), A[act])


def test_linear_gaussian_spread_is_depth():
    """Var λ/(E λ)² of JJᵀ for a product of L Gaussian matrices → L at large width
    (Pennington et al. 2017; the Fuss–Catalan moments)."""
    for L in (2, 5):
        spreads = [spectrum("linear", "lecun_normal", L, 256, seed=s).spread for s in range(4)]
        assert np.mean(spreads) == pytest.approx(L, rel=0.06)


def test_orthogonal_linear_net_is_isometric():
    sp = spectrum("linear", "orthogonal", 12, 96, inputs=2)
    np.testing.assert_allclose(10**sp.log10_s, 1.0, atol=1e-12)
    assert sp.spread < 1e-20


def test_spectrum_mean_matches_mean_field_and_relu_is_not_isometric():
    tanh = spectrum("tanh", "orthogonal", 16, 128, inputs=2)
    relu = spectrum("relu", "orthogonal", 16, 128, inputs=2, gain=math.sqrt(2))
    assert tanh.spread < 2 and relu.spread > 5 * tanh.spread  # tanh near isometry, relu far
    prof = T.profile(A["tanh"], 1.0, 0.0, depth=16)
    assert tanh.log10_mean_sq == pytest.approx(np.sum(np.log10(prof.chi)), abs=0.1)


# ---------------------------------------------------------------- bad input


def test_bad_sigmas_and_depth():
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(GradsimError, match="sigma_w"):
            T.mean_field(A["tanh"], bad, 0.1)
        with pytest.raises(GradsimError, match="sigma_b"):
            T.q_star(A["tanh"], 1.0, bad)
    with pytest.raises(GradsimError, match="depth"):
        T.profile(A["tanh"], 1.0, 0.0, depth=0)


def _exploding():
    # E[φ(√q z)²] = E[e^{2qz²}] is infinite for q ≥ 1/4
    return Activation(
        name="expsq", fn=lambda Z: np.exp(Z * Z), grad=lambda Z, H: 2 * Z * H, gain=1.0,
        formula="exp(z²)", derivative="2z·exp(z²)", gain_source="",
    )  # fmt: skip


def test_nonconverging_expectation_is_one_error():
    with pytest.raises(GradsimError, match="does not converge"):
        T.mean_field(_exploding(), 1.0, 0.0)


def test_initializers_outside_the_theory():
    with pytest.raises(GradsimError, match="random"):
        T.layer_params(RunConfig(init="identity"))
    with pytest.raises(GradsimError, match="zero-mean"):
        T.layer_params(RunConfig(init="uniform", low=0.0, high=1.0))
    lp = T.layer_params(RunConfig(init="torch_default", width=300))
    assert lp.sigma_w[0] == pytest.approx(1 / math.sqrt(3))
    assert lp.sigma_b[0] == pytest.approx(1 / math.sqrt(3 * 300))
    lp = T.layer_params(RunConfig(init="xavier_normal", widths=(100, 300), gain=2.0))
    assert lp.sigma_w[0] == pytest.approx(2 * math.sqrt(2 * 100 / 400))


# ---------------------------------------------------------------- CLI


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def one_line_error(r, *words):
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradsim: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_cli_theory_table_and_json(invoke):
    r = ok(invoke("theory", "--act", "tanh", "--sigma-w", 1.33, "--sigma-b", 0.22))
    assert max(map(len, r.stdout.splitlines())) <= 80 and "critical" in r.stdout
    d = json.loads(ok(invoke("theory", "--act", "tanh", "--sigma-w", 1.33, "--sigma-b", 0.22,
                             "--depth", 20, "--format", "json")).stdout)  # fmt: skip
    for key in ("q_star", "chi1", "xi_q", "xi_c", "phase", "critical_sigma_w", "beta"):
        assert key in d, key
    assert d["kind"] == "theory" and len(d["layers"]) == 20
    assert {"q", "log10_delta_pred", "log10_act_pred"} <= set(d["layers"][0])
    mf = T.mean_field(A["tanh"], 1.33, 0.22)
    assert d["chi1"] == pytest.approx(float(mf.chi1)) and d["phase"] == str(mf.phase)
    d = json.loads(ok(invoke("theory", "--act", "relu", "--init", "he", "--format",
                             "json")).stdout)  # fmt: skip
    assert d["config"]["sigma_w"] == pytest.approx(math.sqrt(2)) and d["chi1"] == pytest.approx(1)
    assert d["phase"] == "critical" and d["xi_c"] is None  # ∞ on the critical line


@pytest.mark.parametrize("args, words", [
    (("--sigma-w", -1), ("--sigma-w", "≥ 0")),
    (("--sigma-w", "nan"), ("--sigma-w",)),
    (("--sigma-b", "inf"), ("--sigma-b",)),
    (("--sigma-w", 1, "--init", "he"), ("--init",)),
    (("--depth", 0), ("--depth",)),
    (("--depth", 20000), ("--depth",)),
    (("--init", "identity"), ("random",)),
])  # fmt: skip
def test_cli_theory_bad_input(invoke, args, words):
    one_line_error(invoke("theory", *args), *words)


def test_cli_nonconverging_expectation(invoke, monkeypatch):
    monkeypatch.setitem(gradsim.ACTIVATIONS, "expsq", _exploding())
    one_line_error(invoke("theory", "--act", "expsq", "--sigma-w", 1), "does not converge")


def test_cli_run_theory(invoke, tmp_path):
    args = ("run", "--depth", 12, "--width", 64, "--batch", 16, "--act", "tanh", "--init",
            "xavier", "--bias-init", "normal", "--bias-std", 0.2, "--theory")  # fmt: skip
    r = ok(invoke(*args))
    assert max(map(len, r.stdout.splitlines())) <= 80
    assert "pred" in r.stdout and "Mean field" in r.stdout
    d = json.loads(ok(invoke(*args, "--format", "json")).stdout)
    row = d["layers"][0]
    assert {"log10_act_pred", "log10_delta_pred"} <= set(row)
    th = d["summary"]["theory"]
    for key in ("chi1", "q_star", "phase", "beta", "log10_delta_dev_max", "sentences"):
        assert key in th, key
    assert th["beta"] == pytest.approx(11 / 64)
    api = gradsim.simulate(depth=12, width=64, batch=16, act="tanh", init="xavier",
                           bias_init="normal", bias_std=0.2, theory=True)  # fmt: skip
    assert d == json.loads(json.dumps(api.to_dict()))
    dev = max(abs(r["log10_delta_rms"] - r["log10_delta_pred"]) for r in d["layers"])
    assert th["log10_delta_dev_max"] == pytest.approx(dev)
    csv = ok(invoke(*args, "--format", "csv")).stdout.splitlines()
    assert csv[0].endswith("log10_act_pred,log10_delta_pred")
    # the figure draws the predictions dashed, in the measured colors
    from gradsim.report.figures.run import plot_run

    fig = plot_run(d)
    dashed = [ln for ax in fig.axes for ln in ax.lines if ln.get_linestyle() == "--"
              and "prediction" in ln.get_label()]  # fmt: skip
    assert len(dashed) == 2
    np.testing.assert_allclose(dashed[0].get_ydata(), [r["log10_act_pred"] for r in d["layers"]])
    ok(invoke(*args, "--plot", tmp_path / "run.png"))
    assert (tmp_path / "run.png").read_bytes()[:8] == PNG


def test_cli_run_theory_warns_on_beta_and_refuses_identity(invoke):
    d = json.loads(ok(invoke("run", "--depth", 40, "--width", 32, "--batch", 8, "--theory",
                             "--format", "json")).stdout)  # fmt: skip
    th = d["summary"]["theory"]
    assert th["beta"] > T.BETA_WARN and th["finite_width_warning"]
    assert any("Hanin" in s for s in th["sentences"])
    one_line_error(invoke("run", "--init", "identity", "--theory"), "--theory", "random")


def test_cli_phase(invoke, tmp_path):
    runs = tmp_path / "runs.json"
    ok(invoke("compare", "--act", "tanh", "--init", "xavier", "--gain", "0.8,1.6", "--depth", 6,
              "--width", 16, "--batch", 4, "--format", "json", "-o", runs))  # fmt: skip
    fig, data = tmp_path / "phase.png", tmp_path / "phase.json"
    r = ok(invoke("phase", "--act", "tanh", "--grid", 12, "--overlay", runs, "--data", data,
                  "-o", fig))  # fmt: skip
    assert "critical" in r.stdout and fig.read_bytes()[:8] == PNG
    d = json.loads(data.read_text())
    assert d["kind"] == "phase" and len(d["xi_c"]) == 12 and len(d["overlay"]) == 2
    line = d["critical_line"]
    assert line["sigma_b2"][0] == 0 and line["sigma_w2"][0] == pytest.approx(1.0, abs=1e-6)
    assert any("he_normal" in p["names"] for p in d["initializers"])


@pytest.mark.parametrize("args, words", [
    (("--grid", 1), ("--grid",)),
    (("--sigma-w2", "4:1"), ("--sigma-w2",)),
    (("--sigma-b2", "-1:1"), ("--sigma-b2",)),
    (("--sigma-w2", "a:b"), ("--sigma-w2",)),
])  # fmt: skip
def test_cli_phase_bad_input(invoke, tmp_path, args, words):
    one_line_error(invoke("phase", *args, "-o", tmp_path / "p.png"), *words)


def test_cli_spectrum(invoke, tmp_path):
    args = ("spectrum", "--act", "linear", "--init", "orthogonal", "--depth", 6, "--width", 32)
    r = ok(invoke(*args, "--plot", tmp_path / "s.png"))
    assert "spread" in r.stdout and (tmp_path / "s.png").read_bytes()[:8] == PNG
    d = json.loads(ok(invoke(*args, "--inputs", 2, "--format", "json")).stdout)
    assert d["kind"] == "spectrum" and len(d["singular_values"]) == 2
    assert d["mean_sq"] == pytest.approx(1.0) and d["spread"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(d["singular_values"], 1.0, atol=1e-12)


@pytest.mark.parametrize("args, words", [
    (("--width", 5000), ("width",)),
    (("--inputs", 0), ("--inputs",)),
    (("--depth", 3000), ("--depth",)),
])  # fmt: skip
def test_cli_spectrum_bad_input(invoke, args, words):
    one_line_error(invoke("spectrum", *args), *words)


def test_overlay_reads_runs_compares_and_sweep_records():
    run = gradsim.simulate(depth=4, width=16, batch=4, act="tanh", init="lecun_normal", gain=1.5,
                           bias_init="normal", bias_std=0.3).to_dict()  # fmt: skip
    (p,) = T.overlay_points(run)
    assert p["sigma_w2"] == pytest.approx(2.25) and p["sigma_b2"] == pytest.approx(0.09)
    assert p["verdict"] == run["summary"]["verdict"] and p["activation"] == "tanh"
    records = {"gradsim": gradsim.__version__, "kind": "sweep-records",
               "records": [{"config": run["config"], "summary": run["summary"]}] * 2}  # fmt: skip
    assert len(T.overlay_points(records)) == 2
    identity = gradsim.simulate(depth=2, width=8, batch=2, init="identity").to_dict()
    assert T.overlay_points(identity) == []  # outside the theory: left out, not an error
    with pytest.raises(GradsimError, match="--overlay"):
        T.overlay_points({"gradsim": "0", "kind": "phase"})


def test_plot_redraws_phase_and_spectrum_json(invoke, tmp_path):
    spec = tmp_path / "spec.json"
    r = invoke("spectrum", "--act", "linear", "--init", "orthogonal", "--depth", 4,
               "--width", 32, "--format", "json", "-o", spec)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    phase = tmp_path / "phase.json"
    r = invoke("phase", "--act", "relu", "--grid", 12, "-o", tmp_path / "p.png", "--data", phase)
    assert r.exit_code == 0, r.stderr
    for src in (spec, phase):
        out = tmp_path / f"{src.stem}.png"
        r = invoke("plot", src, "-o", out)
        assert r.exit_code == 0, r.stderr
        assert out.read_bytes()[:4] == b"\x89PNG"
