"""The mean-field prediction layer by layer, and for the network of one RunConfig: σ_w, σ_b
and μ_b from the initializer and the bias rule, q^l, the activations' and δ's RMS, β."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gradsim.activations import ACTIVATIONS, Activation
from gradsim.config import RunConfig
from gradsim.draws import bias_moments
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS
from gradsim.losses import LOSSES
from gradsim.meanfield.field import MeanField, critical_sigma_w, mean_field
from gradsim.meanfield.maps import LN10, Q_MAX, check_sigma
from gradsim.meanfield.quadrature import Array, check, dphi2, expect_flat, phi2

BETA_WARN = 0.3  # β = Σ 1/n_l above this: one finite network strays from the mean field

# ---------------------------------------------------------------- layer by layer


def _log_expect(act, ln_q: float, mu: float, fns) -> Array:
    """ln E[f] for each f at q = e^ln_q, continued beyond Q_MAX as the power law through
    Q_MAX·1e-20 and Q_MAX (exact for relu, leaky_relu and linear; for every unbounded
    registered φ, φ(λu)/λ settles to a fixed piecewise-linear shape as λ grows)."""
    with np.errstate(divide="ignore"):
        if ln_q <= math.log(Q_MAX):
            q = math.exp(ln_q)
            return np.log(expect_flat(act, np.array([q]), np.array([mu]), fns)[:, 0])
        two = expect_flat(act, np.array([Q_MAX * 1e-20, Q_MAX]), np.array([mu, mu]), fns)
        lo, hi = np.log(two[:, 0]), np.log(two[:, 1])
    slope = (hi - lo) / (20 * LN10)
    return hi + slope * (ln_q - math.log(Q_MAX))


@dataclass(frozen=True)
class Profile:
    """The mean-field prediction layer by layer (arrays of length L, index l−1 = layer l).

    ``log10_q``: log10 of q^l, the variance of a unit of Z_l; ``log10_act``: ½ log10 E[H_l²]
    (the RMS of the activations); ``log10_delta``: ½ log10 E[δ_l²] (the RMS of δ_l);
    ``chi``: σ_w,l² E[φ'(u_l)²], the factor δ² picks up at layer l (equal widths).
    """

    log10_q: Array
    log10_act: Array
    log10_delta: Array
    chi: Array

    @property
    def q(self) -> Array:
        with np.errstate(over="ignore"):
            return 10.0**self.log10_q


def _per_layer(name: str, v, L: int) -> Array:
    a = np.broadcast_to(np.asarray(v, dtype=float), (L,)).copy()
    if name != "mu_b":
        check_sigma(name, a)
    elif not np.all(np.isfinite(a)):
        raise GradsimError("mu_b must be a finite number")
    return a


def profile(act: Activation, sigma_w, sigma_b, mu_b=0.0, *, depth: int | None = None,
            widths=None, q0: float = 1.0, loss=None, batch: int = 1) -> Profile:  # fmt: skip
    """q^l, the activation and the δ RMS at every layer of an L-layer net, from q^0 = ``q0``
    (= E[x²], 1 for N(0, 1) inputs). σ_w, σ_b, μ_b: numbers or one per layer.

    δ starts at the output from the loss (a ``Loss`` record: E[(∂E/∂H_L)²] given H_L and
    the batch B; None: the probe loss, ∂E/∂H_L ~ N(0, 1)) and is carried input-ward by
    E[δ_l²] = E[δ_{l+1}²] · σ_w,l+1² (n_{l+1}/n_l) · E[φ'(u_l)²], each layer at its own q^l
    (Schoenholz et al. 2017, with the gradient-independence assumption).
    """
    if widths is not None:
        widths = np.asarray(widths, dtype=float)
        depth = len(widths) - 1
    if depth is None or depth < 1:
        raise GradsimError("the depth must be at least 1")
    L = int(depth)
    n = widths if widths is not None else np.ones(L + 1)
    sw, sb, mu = (_per_layer(k, v, L) for k, v in
                  (("sigma_w", sigma_w), ("sigma_b", sigma_b), ("mu_b", mu_b)))  # fmt: skip
    uniform = bool(np.all(sw == sw[0]) and np.all(sb == sb[0]) and np.all(mu == mu[0]))
    ln_q, ln_a, ln_d = np.empty(L), np.empty(L), np.empty(L)
    with np.errstate(divide="ignore"):
        ln_sw2, ln_sb2 = np.log(sw**2), np.log(sb**2)
    ln_h = math.log(q0) if q0 > 0 else -math.inf  # ln E[H_{l-1}²]
    for l in range(L):
        with np.errstate(invalid="ignore"):  # inf − inf after a divergent E[φ²]: checked below
            ln_q[l] = np.logaddexp(ln_sw2[l] + ln_h, ln_sb2[l])
        if (
            uniform
            and l >= 2
            and (ln_q[l] == ln_q[l - 1] or abs(ln_q[l] - ln_q[l - 1]) <= 1e-13 * abs(ln_q[l]))
        ):
            ln_q[l:], ln_a[l:], ln_d[l:] = ln_q[l - 1], ln_a[l - 1], ln_d[l - 1]  # q*: done
            break
        ln_a[l], ln_d[l] = _log_expect(act, ln_q[l], mu[l], (phi2, dphi2))
        ln_h = ln_a[l]
    # check the quadrature at every distinct q the network met (within the direct range)
    direct = np.isfinite(ln_q) & (ln_q <= math.log(Q_MAX))
    qs, idx = np.unique(np.exp(ln_q[direct]), return_index=True)
    if qs.size:
        check(
            act,
            qs,
            mu[direct][idx],
            (phi2, dphi2),
            np.exp(np.stack([ln_a[direct][idx], ln_d[direct][idx]])),
        )
    # δ, from the output layer down
    lossf = (loss.mean_sq_grad if loss is not None else None) or (lambda H, B: np.ones_like(H))

    def start(z, H, D):
        return lossf(H, batch) * D * D

    ln_delta = np.empty(L)
    ln_delta[-1] = _log_expect(act, ln_q[-1], mu[-1], (start,))[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_n = np.log(n)
        for l in range(L - 2, -1, -1):
            ln_delta[l] = ln_delta[l + 1] + ln_sw2[l + 1] + ln_n[l + 2] - ln_n[l + 1] + ln_d[l]
        chi = np.exp(ln_sw2 + ln_d)
    return Profile(log10_q=ln_q / LN10, log10_act=ln_a / (2 * LN10),
                   log10_delta=ln_delta / (2 * LN10), chi=chi)  # fmt: skip


# ---------------------------------------------------------------- from a gradsim network


def beta(widths) -> float:
    """β = Σ 1/n_l over the hidden layers n_1 … n_{L−1}: finite-width fluctuations of a
    single network around the mean field grow like e^{cβ} (Hanin 2018)."""
    n = np.asarray(widths, dtype=float)
    return float(np.sum(1.0 / n[1:-1]))


@dataclass(frozen=True)
class LayerParams:
    """σ_w,l = std(W_l)·√fan_in, σ_b,l and μ_b,l (biases' std and mean), per layer (L,)."""

    sigma_w: Array
    sigma_b: Array
    mu_b: Array

    @property
    def uniform(self) -> bool:
        """Every layer has the same (σ_w, σ_b, μ_b): q*, χ₁ and the phase are defined."""
        return all(bool(np.all(a == a[0])) for a in (self.sigma_w, self.sigma_b, self.mu_b))


def layer_params(cfg: RunConfig) -> LayerParams:
    """The mean-field parameters of the network ``cfg`` describes: Var W_l = σ_w,l²/fan_in
    from the initializer record's ``std`` (so σ_w = γ√2 for he_normal, γ for lecun and for
    square orthogonal, γ√(2n_in/(n_in+n_out)) for xavier), the biases' from the bias rule.
    A GradsimError for weights mean-field theory does not describe (not random, or with a
    nonzero mean)."""
    init = INITIALIZERS[cfg.init]
    n, p = cfg.layer_widths, cfg.init_params
    if cfg.residual or cfg.norm:
        part = " and ".join(x for x in ("--residual" * cfg.residual, cfg.norm and "--norm") if x)
        raise GradsimError(f"mean-field theory here describes plain MLPs; {part} is outside it")
    if init.data_driven:
        raise GradsimError(f"mean-field theory has no σ_w for {cfg.init}: its weights are "
                           "rescaled on a batch of data, not drawn with a known "
                           "variance")  # fmt: skip
    if init.std is None:
        raise GradsimError(f"mean-field theory needs random weights; {cfg.init} weights are "
                           "deterministic (no variance to map to σ_w)")  # fmt: skip
    sw, sb, mb = (np.empty(cfg.depth) for _ in range(3))
    for l in range(cfg.depth):
        fi, fo = n[l], n[l + 1]
        mean = init.mean(fi, fo, p)
        if mean != 0:
            raise GradsimError(f"mean-field theory needs zero-mean weights; {cfg.init} weights "
                               f"have mean {mean:g}")  # fmt: skip
        sw[l] = init.std(fi, fo, p) * math.sqrt(fi)
        mb[l], sb[l] = bias_moments(cfg.resolved_bias_init, fi, cfg)
    return LayerParams(sw, sb, mb)


def activation_of(cfg: RunConfig) -> Activation:
    """The activation record of ``cfg``, with its slope parameter applied."""
    return ACTIVATIONS[cfg.activation].with_param(cfg.slope)


@dataclass(frozen=True)
class RunPrediction:
    """Everything mean-field theory says about the network of one RunConfig."""

    params: LayerParams
    profile: Profile
    field: MeanField | None  # at the layers' common (σ_w, σ_b, μ_b); None if they differ
    critical_sigma_w: float | None  # for the common σ_b, μ_b
    beta: float
    loss: str
    # share of E[δ_L²] that comes from the output H_L itself (mse's H_L − T): that part is
    # not independent of the weights, which the δ prediction assumes
    output_share: float


def predict_run(cfg: RunConfig) -> RunPrediction:
    """The mean-field prediction for ``gradsim run`` of ``cfg``: raises GradsimError before
    any simulation when the network is outside the theory (see ``layer_params``)."""
    act = activation_of(cfg)
    lp = layer_params(cfg)
    prof = profile(act, lp.sigma_w, lp.sigma_b, lp.mu_b, widths=cfg.layer_widths,
                   loss=LOSSES[cfg.loss], batch=cfg.batch)  # fmt: skip
    field = crit = None
    if lp.uniform:
        field = mean_field(act, lp.sigma_w[0], lp.sigma_b[0], lp.mu_b[0])
        c = float(critical_sigma_w(act, lp.sigma_b[0], lp.mu_b[0]))
        crit = c if math.isfinite(c) else None
    g, B = LOSSES[cfg.loss].mean_sq_grad, cfg.batch
    ln_full, ln_target = _log_expect(
        act, prof.log10_q[-1] * LN10, lp.mu_b[-1],
        (lambda z, H, D: g(H, B) * D * D, lambda z, H, D: g(0.0 * H, B) * D * D))  # fmt: skip
    with np.errstate(invalid="ignore"):
        share = float(-np.expm1(ln_target - ln_full)) if np.isfinite(ln_full) else 0.0
    return RunPrediction(lp, prof, field, crit, beta(cfg.layer_widths), cfg.loss,
                         max(share, 0.0) if math.isfinite(share) else 0.0)  # fmt: skip
