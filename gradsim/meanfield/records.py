"""The JSON forms of the theory (kinds "theory", "phase", "spectrum", and the prediction
beside a run), with the English sentences that go with them."""

from __future__ import annotations

import math

import numpy as np

from gradsim.config import RunConfig
from gradsim.explain import pow10
from gradsim.losses import LOSSES
from gradsim.meanfield.field import MeanField, critical_sigma_w, mean_field
from gradsim.meanfield.maps import check_sigma
from gradsim.meanfield.phase import PhaseGrid
from gradsim.meanfield.predict import (
    BETA_WARN,
    LayerParams,
    RunPrediction,
    activation_of,
    beta,
    layer_params,
    profile,
)
from gradsim.meanfield.quadrature import Array
from gradsim.meanfield.spectrum import Spectrum
from gradsim.result import num

# ---------------------------------------------------------------- beside a measured run


def field_summary(field: MeanField) -> dict:
    """The scalar fixed-point quantities of a one-point MeanField, JSON-ready (null for
    non-finite; ``q_star_infinite`` tells ∞ from undefined)."""
    return {
        "q_star": num(field.q_star), "q_star_infinite": bool(np.isinf(field.q_star)),
        "chi1": num(field.chi1), "chi_q": num(field.chi_q), "xi_q": num(field.xi_q),
        "c_star": num(field.c_star), "chi_c": num(field.chi_c), "xi_c": num(field.xi_c),
        "phase": str(field.phase),
    }  # fmt: skip


def compare_run(measured_act: Array, measured_delta: Array, pred: RunPrediction) -> dict:
    """Per-layer predictions beside the measurement (log10 RMS of H_l and δ_l, l = 1…L) and
    how far apart they are, JSON-ready: {"layers": [{"log10_act_pred",
    "log10_delta_pred"}, ...], "summary": {..., "sentences": [...]}}."""
    prof, lp = pred.profile, pred.params
    L = len(prof.log10_act)

    def dev(meas, pr):
        with np.errstate(invalid="ignore"):  # both −∞: exactly zero, measured and predicted
            d = np.abs(np.asarray(meas, float) - pr)
        d = d[np.isfinite(d)]
        return (float(d.max()), float(d.mean())) if d.size else (None, None)

    a_max, a_mean = dev(measured_act, prof.log10_act)
    d_max, d_mean = dev(measured_delta, prof.log10_delta)
    s = {"sigma_w": None, "sigma_b": None, "bias_mean": None}
    if lp.uniform:
        s = {"sigma_w": float(lp.sigma_w[0]), "sigma_b": float(lp.sigma_b[0]),
             "bias_mean": float(lp.mu_b[0])}  # fmt: skip
    s |= field_summary(pred.field) if pred.field is not None else dict.fromkeys(
        ("q_star", "q_star_infinite", "chi1", "chi_q", "xi_q", "c_star", "chi_c", "xi_c",
         "phase"))  # fmt: skip
    s["critical_sigma_w"] = pred.critical_sigma_w
    s["beta"] = pred.beta
    with np.errstate(invalid="ignore"):  # −∞ − (−∞) where σ_w = 0
        ratio = float(prof.log10_delta[0] - prof.log10_delta[-1]) if L > 1 else 0.0
    s |= {
        "log10_delta_ratio_pred": num(ratio),
        "log10_act_ratio_pred": num(prof.log10_act[-1]),  # the input's RMS is 1
        "log10_delta_dev_max": d_max, "log10_delta_dev_mean": d_mean,
        "log10_act_dev_max": a_max, "log10_act_dev_mean": a_mean,
        "output_share": pred.output_share,
        "finite_width_warning": pred.beta > BETA_WARN,
    }  # fmt: skip
    s["sentences"] = _sentences(s, pred.loss)
    layers = [{"log10_act_pred": num(a), "log10_delta_pred": num(d)}
              for a, d in zip(prof.log10_act, prof.log10_delta, strict=True)]  # fmt: skip
    return {"layers": layers, "summary": s}


def _sentences(s: dict, loss: str) -> list[str]:
    out = []
    if s["chi1"] is not None:
        q = "∞ (the length diverges)" if s["q_star_infinite"] else f"{s['q_star']:.3g}"
        out.append(
            f"Mean field (σ_w = {s['sigma_w']:.3g}, σ_b = {s['sigma_b']:.3g}): q* = {q}, "
            f"χ₁ = {s['chi1']:.4g}, {s['phase']}: δ should change ×{math.sqrt(s['chi1']):.3g} "
            f"per layer; predicted δ ratio (layer 1 / L) {pow10(s['log10_delta_ratio_pred'])}."
        )
    else:
        out.append(
            "Mean field: the layers differ in σ_w or σ_b (unequal widths), so each "
            "layer is predicted with its own; q*, χ₁ and the phase are not defined."
        )
    if s["log10_delta_dev_max"] is not None:
        act = s["log10_act_dev_max"]
        act = f", the activations within {act:.2f}" if act is not None else ""
        out.append(
            f"Measured vs predicted: δ within {s['log10_delta_dev_max']:.2f} decades at every "
            f"layer ({s['log10_delta_dev_mean']:.2f} on average){act}."
        )
    if s["output_share"] > 0.1:
        out.append(
            f"Caveat: {s['output_share']:.0%} of δ_L² comes from the output H_L itself ({loss} "
            "loss), which is not independent of the weights as the prediction assumes: toward "
            "the input δ can exceed it (see gradsim spectrum); --loss probe compares cleanly."
        )
    if s["finite_width_warning"]:
        out.append(
            f"Finite width: β = Σ 1/n_l = {s['beta']:.2f} > {BETA_WARN}: a single network this "
            "deep for its width strays from the mean-field curve by factors that compound "
            "with depth (Hanin 2018); widen the layers or average seeds before reading the gap."
        )
    return out


# ---------------------------------------------------------------- theory, phase and spectrum


def _version() -> str:
    from gradsim._version import __version__

    return __version__


def describe(cfg: RunConfig, sigma_w: float | None = None, sigma_b: float | None = None) -> dict:
    """What ``gradsim theory`` reports, JSON-ready (kind "theory"): the fixed point, depth
    scales and phase, and the prediction layer by layer. σ_w, σ_b given directly, or (None)
    from the initializer and the bias rule of ``cfg`` (``layer_params``); δ starts from
    ``cfg.loss``."""
    act = activation_of(cfg)
    L = cfg.depth
    if sigma_w is not None:
        check_sigma("--sigma-w", sigma_w)
        lp = LayerParams(np.full(L, float(sigma_w)), np.zeros(L), np.zeros(L))
        widths = None  # σ_w given per unit of fan_in: the widths' ratios do not enter
    else:
        lp = layer_params(cfg)
        widths = cfg.layer_widths
    if sigma_b is not None:
        check_sigma("--sigma-b", sigma_b)
        lp = LayerParams(lp.sigma_w, np.full(L, float(sigma_b)), np.zeros(L))
    prof = profile(act, lp.sigma_w, lp.sigma_b, lp.mu_b, depth=L, widths=widths,
                   loss=LOSSES[cfg.loss], batch=cfg.batch)  # fmt: skip
    d = {"gradsim": _version(), "kind": "theory", "config": {
        "activation": cfg.activation, "slope": cfg.resolved_slope, "depth": L,
        "widths": list(cfg.layer_widths), "init": None if sigma_w is not None else cfg.init,
        "gain": cfg.gain, "bias_init": None if sigma_b is not None else cfg.resolved_bias_init,
        "loss": cfg.loss, "batch": cfg.batch,
        "sigma_w": float(lp.sigma_w[0]) if lp.uniform else None,
        "sigma_b": float(lp.sigma_b[0]) if lp.uniform else None,
        "bias_mean": float(lp.mu_b[0]) if lp.uniform else None}}  # fmt: skip
    keys = ("q_star", "q_star_infinite", "chi1", "chi_q", "xi_q", "c_star", "chi_c", "xi_c",
            "phase", "critical_sigma_w")  # fmt: skip
    d |= dict.fromkeys(keys)
    if lp.uniform:
        d |= field_summary(mean_field(act, lp.sigma_w[0], lp.sigma_b[0], lp.mu_b[0]))
        d["critical_sigma_w"] = num(critical_sigma_w(act, lp.sigma_b[0], lp.mu_b[0]))
    d["beta"] = beta(cfg.layer_widths)
    with np.errstate(invalid="ignore"):  # −∞ − (−∞) where σ_w = 0
        d["log10_delta_ratio_pred"] = num(prof.log10_delta[0] - prof.log10_delta[-1])
    d["log10_act_ratio_pred"] = num(prof.log10_act[-1])
    d["layers"] = [
        {"layer": l + 1, "sigma_w": float(lp.sigma_w[l]), "sigma_b": float(lp.sigma_b[l]),
         "q": num(prof.q[l]), "log10_q": num(prof.log10_q[l]),
         "log10_act_pred": num(prof.log10_act[l]),
         "log10_delta_pred": num(prof.log10_delta[l]), "chi": num(prof.chi[l])}
        for l in range(L)
    ]  # fmt: skip
    return d


def phase_dict(grid: PhaseGrid, points: list[dict], overlay: list[dict], width: int) -> dict:
    """The JSON form of a phase diagram (kind "phase"), which ``report.figures.theory.plot_phase``
    draws: ξ_c and χ₁ as rows over σ_b², columns over σ_w² (null where undefined or ∞;
    ``q_star_infinite`` marks where the length diverges)."""
    f = grid.field

    def rows(a):
        return [[num(x) for x in row] for row in np.asarray(a, float)]

    return {
        "gradsim": _version(), "kind": "phase", "activation": grid.activation,
        "width": width, "sigma_w2": grid.sigma_w2.tolist(), "sigma_b2": grid.sigma_b2.tolist(),
        "chi1": rows(f.chi1), "xi_c": rows(f.xi_c),
        "q_star_infinite": np.isinf(f.q_star).tolist(),
        "critical_line": {"sigma_b2": grid.line_sigma_b2.tolist(),
                          "sigma_w2": [num(x) for x in grid.line_sigma_w2]},
        "initializers": points, "overlay": overlay,
    }  # fmt: skip


def spectrum_dict(cfg: RunConfig, spec: Spectrum, lp: LayerParams | None) -> dict:
    """The JSON form of a Jacobian spectrum (kind "spectrum"): ``singular_values`` per input
    (largest first; null beyond float64), ``mean_sq`` = E[λ], λ = s², ``spread`` =
    Var λ/(E λ)², the extremes, and the mean-field E[λ] = (n_L/min(n_0, n_L)) Π_l σ_w,l²
    (n_l/n_{l−1}) E[φ'(u_l)²] when the weights are in the theory (``lp``)."""
    ls = spec.log10_s
    top, bottom = float(np.max(ls)), float(np.min(ls))
    n = cfg.layer_widths
    pred = None
    if lp is not None:
        prof = profile(activation_of(cfg), lp.sigma_w, lp.sigma_b, lp.mu_b, widths=n)
        with np.errstate(divide="ignore"):
            pred = float(np.sum(np.log10(prof.chi)) + math.log10(n[-1] / min(n[0], n[-1])))
    with np.errstate(over="ignore"):
        sv = [[num(10.0**x) for x in row] for row in ls]
    lm = spec.log10_mean_sq
    cond = top - bottom
    d = {
        "gradsim": _version(), "kind": "spectrum", "config": cfg.to_dict(),
        "inputs": int(ls.shape[0]), "singular_values": sv,
        "mean_sq": num(10.0**lm) if lm < 308 else None, "log10_mean_sq": num(lm),
        "spread": num(spec.spread),
        "max": num(10.0**top) if top < 308 else None, "log10_max": num(top),
        "min": 0.0 if bottom == -np.inf else num(10.0**bottom) if bottom > -308 else None,
        "log10_min": num(bottom),
        "log10_condition": num(cond),
        "log10_mean_sq_pred": num(pred) if pred is not None else None,
    }  # fmt: skip
    out = [
        f"Spread Var λ/(E λ)² = {spec.spread:.3g} over {ls.size} singular values at "
        f"{ls.shape[0]} input{'s' if ls.shape[0] > 1 else ''}; s_max/s_min = {pow10(cond)}: "
        + ("they concentrate, close to dynamical isometry (Pennington et al. 2017)."
           if spec.spread <= 0.25 and cond <= 1 else
           "far from isometry: the input–output map stretches some directions much more "
           "than others.")
    ]  # fmt: skip
    if pred is not None:
        out.append(f"Mean field: E[λ] = Π χ_l = {pow10(pred)} (measured {pow10(lm)}); the "
                   "spread is beyond mean-field theory's first moment.")  # fmt: skip
    d["sentences"] = out
    return d
