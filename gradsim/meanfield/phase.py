"""The order-to-chaos phase diagram (Schoenholz et al. 2017, fig. 1): the mean field over a
grid of (σ_w², σ_b²), the critical line, and where initializers and measured runs sit on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradsim.activations import Activation
from gradsim.config import RunConfig
from gradsim.errors import GradsimError
from gradsim.initializers import INITIALIZERS
from gradsim.meanfield.field import MeanField, critical_sigma_w, mean_field
from gradsim.meanfield.maps import check_sigma
from gradsim.meanfield.predict import layer_params
from gradsim.meanfield.quadrature import Array


@dataclass(frozen=True)
class PhaseGrid:
    """The mean field over a grid: rows σ_b² (ny,), columns σ_w² (nx,); the critical line
    χ₁ = 1 as σ_w² (``line_sigma_w2``, NaN where there is none) at ``line_sigma_b2``."""

    activation: str
    sigma_w2: Array
    sigma_b2: Array
    field: MeanField  # arrays (ny, nx)
    line_sigma_b2: Array
    line_sigma_w2: Array


def phase_grid(act: Activation, sigma_w2, sigma_b2, line_sigma_b2=None,
               mu_b: float = 0.0) -> PhaseGrid:  # fmt: skip
    """Schoenholz et al. (2017), fig. 1: the mean field at every (σ_w², σ_b²), ξ_c to about
    1e-4 of χ_c (a picture's accuracy), and the critical line at ``line_sigma_b2`` (default:
    the grid's σ_b²)."""
    sw2 = check_sigma("sigma_w²", sigma_w2).ravel()
    sb2 = check_sigma("sigma_b²", sigma_b2).ravel()
    line = sb2 if line_sigma_b2 is None else check_sigma("sigma_b²", line_sigma_b2).ravel()
    SW, SB = np.meshgrid(np.sqrt(sw2), np.sqrt(sb2))
    field = mean_field(act, SW, SB, mu_b, rtol=1e-4)
    crit = critical_sigma_w(act, np.sqrt(line), mu_b) ** 2
    return PhaseGrid(act.name, sw2, sb2, field, line, crit)


def initializer_points(width: int, act: Activation | None = None) -> list[dict]:
    """Where each registered initializer (at gain 1, square layers of ``width``) sits on the
    (σ_w², σ_b²) plane, grouped when they coincide: [{"names", "sigma_w2", "sigma_b2"}].
    Initializers outside the theory (deterministic, nonzero-mean) are left out; with ``act``,
    the variance-preserving ones (σ_w = 1) appear once more at the activation's gain."""
    groups: dict[tuple, list[str]] = {}
    for name in INITIALIZERS:
        try:
            lp = layer_params(RunConfig(init=name, width=width, depth=1))
        except GradsimError:
            continue
        key = (round(float(lp.sigma_w[0]) ** 2, 9), round(float(lp.sigma_b[0]) ** 2, 12))
        groups.setdefault(key, []).append(name)
    points = [{"names": names, "sigma_w2": k[0], "sigma_b2": k[1]}
              for k, names in groups.items()]  # fmt: skip
    gain_key = (round(act.gain**2, 9), 0.0) if act is not None else None
    if gain_key and (1.0, 0.0) in groups and gain_key not in groups:
        points.append({"names": [f"σ_w = {act.name}'s gain {act.gain:.3g}"],
                       "sigma_w2": act.gain**2, "sigma_b2": 0.0})  # fmt: skip
    return points


# where each kind of gradsim JSON keeps its runs (each with "config" and "summary")
_RUNS_OF = {
    "run": lambda d: [d],
    "compare": lambda d: d.get("runs") or [],
    "sweep-records": lambda d: d.get("records") or [],  # gradsim export DIR --format json
}


def overlay_points(result: dict) -> list[dict]:
    """The runs of a gradsim run, compare or sweep-records JSON as points of the phase
    plane: [{"label", "activation", "sigma_w2", "sigma_b2", "verdict",
    "growth_per_layer"}]; runs outside the theory, or with unequal layers, are skipped."""
    kind = result.get("kind") if isinstance(result, dict) else None
    if kind not in _RUNS_OF or "gradsim" not in result:
        raise GradsimError(
            "--overlay takes a gradsim run, compare or sweep-records result (`gradsim export "
            f"DIR --format json`), not {'kind ' + repr(kind) if kind else 'this JSON'}"
        )
    out = []
    for r in _RUNS_OF[kind](result):
        try:
            cfg = RunConfig.from_dict(r["config"])
            lp = layer_params(cfg)
        except (GradsimError, KeyError, TypeError, AttributeError):
            continue
        if not lp.uniform:
            continue
        s = r.get("summary") or {}
        out.append({
            "label": f"{cfg.init}" + (f" γ={cfg.gain:g}" if cfg.gain != 1 else ""),
            "activation": cfg.activation, "sigma_w2": float(lp.sigma_w[0]) ** 2,
            "sigma_b2": float(lp.sigma_b[0]) ** 2, "verdict": s.get("verdict"),
            "growth_per_layer": s.get("growth_per_layer"),
        })  # fmt: skip
    return out
