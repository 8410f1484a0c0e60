"""Mean-field theory of signal propagation in wide random MLPs, beside the measurement.

In a wide network whose weights have Var W = σ_w²/fan_in and whose biases have mean μ_b and
variance σ_b², the pre-activations of a layer are Gaussian per unit, Z_l ~ N(μ_b, q^l), with
the *length map* (Poole et al. 2016)::

    q^1 = σ_w² E[x²] + σ_b²                       (E[x²] = 1 for gradsim's N(0, 1) inputs)
    q^l = σ_w² E[φ(μ_b + √q^{l-1} z)²] + σ_b²     z ~ N(0, 1)

Its fixed point q* sets χ₁ = σ_w² E[φ'(μ_b + √q* z)²], the factor by which δ_l² = E[(∂E/∂Z_l)²]
grows per layer toward the input (Schoenholz et al. 2017): ordered (χ₁ < 1, gradients vanish),
critical (χ₁ = 1), chaotic (χ₁ > 1, gradients explode). Two inputs of correlation c^l follow
the correlation map c^{l+1} = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q*, with fixed point c* and slope
χ_c = σ_w² E[φ'(u₁)φ'(u₂)] there; the depth scales are ξ_q = −1/ln χ_q, χ_q the slope of the
length map at q*, and ξ_c = −1/ln χ_c, which diverges on the critical line χ₁ = 1.

Every expectation over z ~ N(0, 1) is a quadrature of the activation record's own ``fn`` and
``grad`` (``quadrature``), so every registered activation works without a closed form. Every
function here is vectorized over arrays of (σ_w, σ_b), so a 100 × 100 phase diagram takes a
second or two. Nothing prints.

The modules, each building on the ones before it:

* ``quadrature``: the integrands, Gauss–Hermite and composite Gauss–Legendre rules, ``expect``;
* ``maps``: the length map and q*, the correlation map (Mehler's series) and c*;
* ``field``: ``MeanField`` (q*, χ₁, χ_q, ξ_q, c*, χ_c, ξ_c, phase), ``critical_sigma_w``;
* ``predict``: the per-layer ``profile``, ``beta``, ``layer_params`` and ``predict_run``;
* ``phase``: the phase diagram over (σ_w², σ_b²) and the points drawn on it;
* ``spectrum``: the singular values of a network's input–output Jacobian;
* ``records``: the JSON forms (``describe``, ``compare_run``, ``phase_dict``,
  ``spectrum_dict``) and their sentences.

Sources: B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli (2016), Exponential
expressivity in deep neural networks through transient chaos; S. Schoenholz, J. Gilmer,
S. Ganguli, J. Sohl-Dickstein (2017), Deep information propagation; J. Pennington,
S. Schoenholz, S. Ganguli (2017), Resurrecting the sigmoid in deep learning through dynamical
isometry; B. Hanin (2018), Which neural net architectures give rise to exploding and
vanishing gradients?
"""

from gradsim.meanfield.field import (
    CRITICAL_TOL,
    PHASES,
    MeanField,
    critical_sigma_w,
    mean_field,
    phase_of,
)
from gradsim.meanfield.maps import Q_MAX, Q_MIN, correlation_map, length_map, q_star
from gradsim.meanfield.phase import PhaseGrid, initializer_points, overlay_points, phase_grid
from gradsim.meanfield.predict import (
    BETA_WARN,
    LayerParams,
    Profile,
    RunPrediction,
    activation_of,
    beta,
    layer_params,
    predict_run,
    profile,
)
from gradsim.meanfield.quadrature import INTEGRANDS, Z_MAX, expect
from gradsim.meanfield.records import (
    compare_run,
    describe,
    field_summary,
    phase_dict,
    spectrum_dict,
)
from gradsim.meanfield.spectrum import Spectrum, jacobian_spectrum

__all__ = [
    "BETA_WARN",
    "CRITICAL_TOL",
    "INTEGRANDS",
    "PHASES",
    "Q_MAX",
    "Q_MIN",
    "Z_MAX",
    "LayerParams",
    "MeanField",
    "PhaseGrid",
    "Profile",
    "RunPrediction",
    "Spectrum",
    "activation_of",
    "beta",
    "compare_run",
    "correlation_map",
    "critical_sigma_w",
    "describe",
    "expect",
    "field_summary",
    "initializer_points",
    "jacobian_spectrum",
    "layer_params",
    "length_map",
    "mean_field",
    "overlay_points",
    "phase_dict",
    "phase_grid",
    "phase_of",
    "predict_run",
    "profile",
    "q_star",
    "spectrum_dict",
]
