"""The parts of ``gradsim train``: optimizers against their formulas worked element by element,
global-norm clipping, and the synthetic tasks against independent checks of what they claim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradsim.errors import GradsimError
from gradsim.training import optimizers as opt
from gradsim.training import tasks
from gradsim.training.optimizers import OPTIMIZERS, clip_by_global_norm, make_optimizer
from gradsim.training.tasks import TASKS, make_task

# ---------------------------------------------------------------- optimizers: the formulas
#
# Each reference is the paper's formula on one scalar entry in Python floats: state in a
# dict, t the step number from 1. Nothing is shared with the implementation but the formula.


def _ref_sgd(lr, g, s, t):
    return -lr * g


def _ref_momentum(lr, g, s, t, momentum=0.9):
    s["v"] = momentum * s.get("v", 0.0) + g
    return -lr * s["v"]


def _ref_adam(lr, g, s, t, beta1=0.9, beta2=0.999, eps=1e-8):
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = s["v"] / (1 - beta2**t)
    return -lr * m_hat / (math.sqrt(v_hat) + eps)


REFERENCE = {"sgd": _ref_sgd, "momentum": _ref_momentum, "adam": _ref_adam}
# non-default values, so that a hyper-parameter that is ignored or swapped shows; Adam's eps
# is large enough to matter for the small gradients below
HYPER = {
    "sgd": {},
    "momentum": {"momentum": 0.7},
    "adam": {"beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
}
NAMES = list(OPTIMIZERS)
LR = 0.05
SHAPES = [(2, 3), (4,)]


def test_every_optimizer_has_a_reference():
    assert set(REFERENCE) == set(OPTIMIZERS)
    for name, spec in OPTIMIZERS.items():
        assert spec.name == name and spec.summary and spec.formula
        assert set(spec.hyper) == set(HYPER[name])


def test_defaults_are_the_textbook_ones():
    assert OPTIMIZERS["momentum"].hyper == {"momentum": 0.9}
    assert OPTIMIZERS["adam"].hyper == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    # and they are what an optimizer built without them uses
    a = make_optimizer("adam", 0.1)
    assert (a.beta1, a.beta2, a.eps) == (0.9, 0.999, 1e-8)
    assert make_optimizer("momentum", 0.1).momentum == 0.9


def _problem(dtype, steps=3):
    """Two parameter arrays and a fixed gradient sequence per array, sizes 1e-3 to 10."""
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [
        [(rng.standard_normal(s) * 10.0 ** rng.uniform(-3, 1, s)).astype(dtype) for s in SHAPES]
        for _ in range(steps)
    ]
    return params, grads


def _reference_updates(name, hyper, params, grads):
    """Δp per step and array from the scalar reference, in float64."""
    ref, states = REFERENCE[name], [[{} for _ in range(p.size)] for p in params]
    out = []
    for t, gs in enumerate(grads, start=1):
        out.append(
            [
                np.array(
                    [ref(LR, float(gi), s, t, **hyper) for gi, s in zip(g.ravel(), st, strict=True)]
                ).reshape(g.shape)
                for g, st in zip(gs, states, strict=True)
            ]
        )
    return out


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("name", NAMES)
def test_updates_match_the_formula_over_three_steps(name, dtype, rtol):
    params, grads = _problem(dtype)
    expected = _reference_updates(name, HYPER[name], params, grads)
    o = make_optimizer(name, LR, **HYPER[name])
    start = [p.copy() for p in params]
    for t, (gs, want) in enumerate(zip(grads, expected, strict=True), start=1):
        before = [p.copy() for p in params]
        ids = [id(p) for p in params]
        dps = o.step(params, gs)
        assert o.t == t
        assert [id(p) for p in params] == ids  # updated in place, not replaced
        for p, b, dp, w in zip(params, before, dps, want, strict=True):
            assert p.dtype == dtype and dp.dtype == dtype and dp.shape == p.shape
            np.testing.assert_array_equal(p, b + dp)  # Δp is what was applied
            np.testing.assert_allclose(dp, w, rtol=rtol, atol=0)
    # the parameters moved by the sum of the reference updates
    for i, (p, p0) in enumerate(zip(params, start, strict=True)):
        total = sum(w[i] for w in expected)
        np.testing.assert_allclose(p, p0.astype(np.float64) + total, rtol=10 * rtol, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_state_stays_in_the_parameters_dtype(name):
    params, grads = _problem(np.float32, steps=1)
    o = make_optimizer(name, LR)
    o.step(params, [g.astype(np.float64) for g in grads[0]])  # float64 grads are cast
    assert all(p.dtype == np.float32 for p in params)
    for state in o._states:
        assert all(a.dtype == np.float32 for a in state)


def test_momentum_first_step_is_sgd():
    params, grads = _problem(np.float64, steps=1)
    p_sgd, p_mom = [p.copy() for p in params], [p.copy() for p in params]
    d_sgd = make_optimizer("sgd", LR).step(p_sgd, grads[0])
    d_mom = make_optimizer("momentum", LR, momentum=0.9).step(p_mom, grads[0])
    for a, b in zip(d_sgd, d_mom, strict=True):
        np.testing.assert_array_equal(a, b)


def test_momentum_velocity_accumulates_to_lr_over_one_minus_mu():
    # constant g: Δp_t = −lr·g·(1 − μ^t)/(1 − μ)
    p, g, mu = [np.zeros(3)], [np.array([1.0, -2.0, 0.5])], 0.9
    o = make_optimizer("momentum", LR, momentum=mu)
    for t in range(1, 6):
        (dp,) = o.step(p, g)
        np.testing.assert_allclose(dp, -LR * g[0] * (1 - mu**t) / (1 - mu), rtol=1e-13)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_adam_first_step_is_lr_per_element(scale):
    # m̂ = g and v̂ = g² on the first step, so Δp = −lr·g/(|g| + ε) ≈ −lr·sign(g) for |g| ≫ ε
    params, grads = _problem(np.float64, steps=1)
    gs = [g / np.abs(g).max() * scale for g in grads[0]]
    for g in gs:
        g[np.abs(g) < 1e-3 * scale] = 1e-3 * scale  # every |g| ≥ 1e-6 ≫ ε = 1e-8
    dps = make_optimizer("adam", LR).step(params, gs)
    for dp, g in zip(dps, gs, strict=True):
        np.testing.assert_allclose(dp, -LR * np.sign(g), rtol=1e-2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_each_optimizer_descends_a_convex_quadratic(name, dtype):
    # E = ½ pᵀAp, A SPD with eigenvalues in [0.5, 2]; lr·λ_max well inside every stability bound
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = (Q * np.linspace(0.5, 2.0, 6)) @ Q.T
    p = rng.standard_normal(6).astype(dtype)
    loss0 = 0.5 * p @ A @ p
    o = make_optimizer(name, 0.05)
    for _ in range(200):
        o.step([p], [(A @ p).astype(dtype)])
    assert 0.5 * p @ A @ p < 0.01 * loss0


def test_step_rejects_mismatched_gradients():
    o = make_optimizer("adam", 0.1)
    with pytest.raises(ValueError, match="shape"):
        o.step([np.zeros(3)], [np.zeros(4)])
    with pytest.raises(ValueError, match="gradients"):
        o.step([np.zeros(3)], [])
    o.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="earlier steps"):
        o.step([np.zeros(3), np.zeros(2)], [np.ones(3), np.ones(2)])


# ---------------------------------------------------------------- clipping


def _grads(dtype=np.float64):
    rng = np.random.default_rng(11)
    return [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (5,), (2, 2, 2)]]


def _sum_sq_norm(grads):
    return math.sqrt(math.fsum(float(x) ** 2 for g in grads for x in g.ravel()))


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_clip_above_the_threshold(dtype, rtol):
    grads = _grads(dtype)
    copies = [g.copy() for g in grads]
    norm = _sum_sq_norm(grads)
    out, got = clip_by_global_norm(grads, norm / 4)
    assert got == pytest.approx(norm, rel=1e-14)  # the norm before clipping
    assert _sum_sq_norm(out) == pytest.approx(norm / 4, rel=rtol)
    for g, c, o in zip(grads, copies, out, strict=True):
        np.testing.assert_array_equal(g, c)  # inputs untouched
        assert o.dtype == dtype and o.shape == g.shape
        np.testing.assert_allclose(o, c / 4, rtol=rtol)  # same direction


def test_clip_below_the_threshold_changes_nothing():
    grads = _grads()
    copies = [g.copy() for g in grads]
    norm = _sum_sq_norm(grads)
    for max_norm in (norm * 1.01, norm * 100):
        out, got = clip_by_global_norm(grads, max_norm)
        assert got == pytest.approx(norm, rel=1e-14)
        for g, c, o in zip(grads, copies, out, strict=True):
            np.testing.assert_array_equal(o, c)
            np.testing.assert_array_equal(g, c)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_leaves_non_finite_gradients_for_the_caller(bad):
    grads = _grads()
    grads[1][2] = bad
    copies = [g.copy() for g in grads]
    out, got = clip_by_global_norm(grads, 1.0)
    assert not math.isfinite(got) and (math.isnan(got) if np.isnan(bad) else got == math.inf)
    for o, c in zip(out, copies, strict=True):
        np.testing.assert_array_equal(o, c)


def test_clip_norm_of_huge_finite_gradients_is_finite():
    # squares overflow float64, the norm does not: it is clipped, not taken for divergence
    grads = [np.full(4, 1e200), np.full(5, -1e200)]
    out, got = clip_by_global_norm(grads, 1.0)
    assert got == pytest.approx(3e200, rel=1e-14)
    assert _sum_sq_norm(out) == pytest.approx(1.0, rel=1e-13)


def test_clip_empty_and_zero():
    assert clip_by_global_norm([], 1.0) == ([], 0.0)
    out, got = clip_by_global_norm([np.zeros(3)], 1.0)
    assert got == 0.0
    np.testing.assert_array_equal(out[0], np.zeros(3))


# ---------------------------------------------------------------- tasks

N = 1000


@pytest.fixture(scope="module", params=list(TASKS))
def spec(request):
    return TASKS[request.param]


def test_task_shapes_dtypes_and_kind(spec):
    for n in (N, 1001, 2):
        t = make_task(spec.name, n, 0)
        assert t.name == spec.name and t.kind == spec.kind and spec.summary
        assert t.X.shape == (n, t.n_in) and t.X.dtype == np.float64
        assert np.isfinite(t.X).all() and not t.X.flags.writeable and not t.Y.flags.writeable
        assert t.description.startswith(f"{spec.name}: ") and f"{n} samples" in t.description
        assert "\n" not in t.description and "\n" not in spec.summary
        if t.kind == "regression":
            assert t.Y.shape == (n, t.n_out) and t.Y.dtype == np.float64
            assert np.isfinite(t.Y).all()
        else:
            assert t.kind == "classification"
            assert t.Y.shape == (n,) and t.Y.dtype == np.int64
            assert t.Y.min() >= 0 and t.Y.max() < t.n_out


def test_task_sizes():
    got = {name: (make_task(name, 10, 0).n_in, make_task(name, 10, 0).n_out) for name in TASKS}
    assert got == {"teacher": (16, 4), "blobs": (16, 4), "circles": (2, 2)}


def test_task_same_seed_same_arrays_other_seed_other_arrays(spec):
    a, b, c = (make_task(spec.name, N, s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    assert not np.array_equal(a.X, c.X)
    assert not np.array_equal(a.Y, c.Y)


def test_task_streams_are_the_documented_ones():
    # spawn key (16, k): apart from the network's streams (0..4, …)
    stream = np.random.default_rng(np.random.SeedSequence(9, spawn_key=(16, 0)))
    np.testing.assert_array_equal(make_task("teacher", 50, 9).X, stream.standard_normal((50, 16)))


def test_tasks_are_independent_of_one_another():
    # distinct streams: no task's inputs are another's at the same seed
    X = {name: make_task(name, 100, 0).X for name in TASKS}
    assert not np.array_equal(X["teacher"], X["blobs"])
    assert not np.isin(X["teacher"].ravel(), X["blobs"].ravel()).any()


@pytest.mark.parametrize("n", [1000, 1001, 7])
def test_classification_labels_are_balanced_and_shuffled(n):
    for name, spec in TASKS.items():
        if spec.kind != "classification":
            continue
        t = make_task(name, n, 1)
        counts = np.bincount(t.Y, minlength=t.n_out)
        assert counts.sum() == n and counts.max() - counts.min() <= 1
        if n >= 100:  # shuffled: not sorted, not in blocks
            assert (np.diff(t.Y) != 0).mean() > 0.3


def test_circles_radii_and_angles():
    t = make_task("circles", 4000, 2)
    r = np.hypot(t.X[:, 0], t.X[:, 1])
    # E|x| = R + σ²/(2R) to first order for isotropic noise σ = 0.05 around radius R
    for label, R in ((0, 1.0), (1, 0.5)):
        rr = r[t.Y == label]
        assert rr.mean() == pytest.approx(R + 0.05**2 / (2 * R), abs=0.006)
        assert rr.std() == pytest.approx(0.05, rel=0.15)
    assert np.bincount(t.Y).tolist() == [2000, 2000]
    # angles uniform: 8 sectors of 500 ± 5 standard deviations (√(500·7/8) ≈ 21)
    counts = np.histogram(np.arctan2(t.X[:, 1], t.X[:, 0]), bins=8, range=(-np.pi, np.pi))[0]
    assert np.abs(counts - 500).max() < 5 * 21


def test_teacher_targets_are_standardized_and_not_linear():
    t = make_task("teacher", 4000, 3)
    np.testing.assert_allclose(t.Y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(t.Y.std(axis=0), 1.0, rtol=1e-12)
    # a linear fit explains most but not all of the variance: the tanh bends the targets
    Xa = np.c_[t.X, np.ones(len(t.X))]
    res = t.Y - Xa @ np.linalg.lstsq(Xa, t.Y, rcond=None)[0]
    assert 0.03 < res.var(axis=0).mean() < 0.5
    # and the outputs are not copies of each other
    assert np.abs(np.corrcoef(t.Y.T)[np.triu_indices(4, 1)]).max() < 0.95


def test_teacher_network_does_not_depend_on_the_sample_count():
    # inputs are a prefix of one stream; the targets differ only by the standardization
    small, big = make_task("teacher", 300, 4), make_task("teacher", 900, 4)
    np.testing.assert_array_equal(small.X, big.X[:300])
    Ya = np.c_[big.Y[:300], np.ones(300)]
    coef = np.linalg.lstsq(Ya, small.Y, rcond=None)[0]
    np.testing.assert_allclose(Ya @ coef, small.Y, atol=1e-10)


def test_teacher_parts_against_numpy():
    rng = np.random.default_rng(0)
    z = np.concatenate([np.linspace(-30, 30, 60001), rng.standard_normal(5000) * 3])
    z = np.concatenate([z, [0.0, -0.0, 1e-300, -1e-12, 5e-9, np.inf, -np.inf]])
    got = tasks._tanh_(z.copy())
    np.testing.assert_allclose(got, np.tanh(z), rtol=1e-15, atol=5e-16)
    assert np.signbit(got[z == 0]).tolist() == np.signbit(z[z == 0]).tolist()
    X, A = rng.standard_normal((50, 16)), rng.standard_normal((16, 32))
    np.testing.assert_allclose(tasks._matmul_T(X, A).T, X @ A, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blobs_overlap_a_little(seed):
    # nearest centre, centres estimated on one half and scored on the other: the Bayes rule
    # for isotropic classes of equal weight, up to the estimation of the centres
    t = make_task("blobs", 4000, seed)
    train, test = slice(0, 2000), slice(2000, None)
    C = np.stack([t.X[train][t.Y[train] == k].mean(axis=0) for k in range(t.n_out)])
    d = ((t.X[test][:, None, :] - C[None]) ** 2).sum(axis=-1)
    acc = (d.argmin(axis=1) == t.Y[test]).mean()
    assert 0.85 <= acc <= 0.97
    # unit isotropic noise around the centres
    R = t.X[train] - C[t.Y[train]]
    np.testing.assert_allclose(R.std(axis=0), 1.0, rtol=0.1)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: make_task("tacher", 10, 0), "unknown task 'tacher'; did you mean 'teacher'"),
        (lambda: make_task("mnist", 10, 0), r"unknown task 'mnist' \(choose from"),
        (lambda: make_task("blobs", 1, 0), r"--samples must be a whole number ≥ 2 \(got 1\)"),
        (lambda: make_task("blobs", 2.5, 0), "--samples"),
        (lambda: make_task("blobs", True, 0), "--samples"),
        (lambda: make_task("blobs", 10, -1), "--seed"),
        (lambda: make_optimizer("adan", 0.1), "unknown optimizer 'adan'; did you mean 'adam'"),
        (lambda: make_optimizer("lbfgs", 0.1), "unknown optimizer 'lbfgs'"),
        (lambda: make_optimizer("sgd", 0), r"--lr must be a positive number \(got 0\)"),
        (lambda: make_optimizer("sgd", -0.1), "--lr must be a positive number"),
        (lambda: make_optimizer("adam", float("nan")), r"--lr must be a positive number \(got nan"),
        (lambda: make_optimizer("adam", float("inf")), "--lr must be a positive number"),
        (lambda: make_optimizer("adam", "0.1"), "--lr must be a positive number"),
        (lambda: make_optimizer("momentum", 0.1, momentum=1.0), r"--momentum must be in \[0, 1\)"),
        (lambda: make_optimizer("momentum", 0.1, momentum=-0.1), "--momentum"),
        (lambda: make_optimizer("momentum", 0.1, momentum=float("nan")), "--momentum"),
        (lambda: make_optimizer("adam", 0.1, beta1=1.0), r"--beta1 must be in \[0, 1\)"),
        (lambda: make_optimizer("adam", 0.1, beta2=1.5), "--beta2"),
        (lambda: make_optimizer("adam", 0.1, eps=0.0), "--eps must be a positive number"),
        (
            lambda: make_optimizer("sgd", 0.1, momentum=0.9),
            "--momentum does not apply to optimizer",
        ),
        (lambda: make_optimizer("adam", 0.1, momentum=0.9), "it takes --beta1, --beta2, --eps"),
        (lambda: clip_by_global_norm([np.ones(2)], 0.0), "must be a positive number"),
    ],
)
def test_bad_input_is_one_clear_line(call, match):
    with pytest.raises(GradsimError, match=match) as err:
        call()
    assert "\n" not in str(err.value)


def test_names_are_forgiving_and_none_means_default():
    assert make_task(" Circles ", 10, 0).name == "circles"
    o = make_optimizer("ADAM", 0.1, beta1=None, eps=1e-6)
    assert isinstance(o, opt.Adam) and o.beta1 == 0.9 and o.eps == 1e-6
    assert "Adam(lr=0.1" in repr(o)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_step_overwriting_the_gradients_gives_the_same_bits(name):
    """overwrite=True (how gradsim train steps) writes each Δp into its gradient's array and
    changes no number: parameters and updates equal the default step's, bit for bit, over
    three steps."""
    rng = np.random.default_rng(3)
    p0 = [rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape).astype(p.dtype) for p in p0] for _ in range(3)]
    a, b = [p.copy() for p in p0], [p.copy() for p in p0]
    oa, ob = make_optimizer(name, 0.1), make_optimizer(name, 0.1)
    for gs in grads:
        ua = oa.step(a, [g.copy() for g in gs])
        mine = [g.copy() for g in gs]
        ub = ob.step(b, mine, overwrite=True)
        for x, y, u, v, m in zip(a, b, ua, ub, mine, strict=True):
            assert np.array_equal(x, y) and np.array_equal(u, v)
            assert v is m  # the update lives in the gradient's array
