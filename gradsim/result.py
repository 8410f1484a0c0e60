"""The records of a run: LayerStats per layer, the Summary, the Result, and their JSON form.

``Result.to_dict()`` is the JSON contract of ``gradsim run`` (DESIGN.md): non-finite numbers
become null (``clean``, ``num``), ``log10_*`` fields stay exact beyond the dtype's range. A
run's LayerStats are made from its trace when first read (``Layers``), so a sweep or a
caller that wants only the summary never pays for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gradsim._version import __version__
from gradsim.config import RunConfig
from gradsim.display import Display
from gradsim.dtypes import fmt
from gradsim.engine.numerics import exp10

if TYPE_CHECKING:
    from gradsim.engine import Trace


@dataclass(frozen=True)
class LayerStats:
    """The statistics of layer l (1 = input side, L = output). Names are the JSON's."""

    layer: int
    fan_in: int
    fan_out: int
    weight_std: float
    z_mean: float  # pre-activation Z_l
    z_std: float
    act_mean: float  # H_l = φ(Z_l)
    act_std: float
    act_rms: float
    log10_act_rms: float
    saturated_frac: float  # entries of H_l within 1% of the range from an asymptote
    dead_frac: float  # units whose φ' is zero for the whole batch
    delta_rms: float  # δ_l = ∂E/∂Z_l
    log10_delta_rms: float
    grad_norm: float  # ‖∂E/∂W_l‖_F
    log10_grad_norm: float
    grad_to_weight: float  # ‖∂E/∂W_l‖ / ‖W_l‖: the relative size of an SGD step at lr 1
    finite: bool  # the computed numbers of this layer are finite
    underflow: bool  # RMS of H, δ or ∂E/∂W below the dtype's smallest normal (plain)
    overflow: bool  # ... or above its largest finite number
    delta_zero_frac: float  # the share of δ_l's entries exactly zero as computed
    log10_delta_max: float  # log10 max|δ_l| (the loss scale's overflow bound)
    # δ_l is all zeros as computed (--loss-scale other than ideal) where the true δ_l is not
    underflowed: bool


@dataclass(frozen=True)
class Summary:
    forward: str  # verdict on the activations
    backward: str  # verdict on δ
    verdict: str  # overflow, else backward's verdict if not stable, else forward's
    act_ratio: float
    log10_act_ratio: float
    delta_ratio: float
    log10_delta_ratio: float
    grad_ratio: float
    log10_grad_ratio: float
    growth_per_layer: float  # δ's factor per layer, input-ward: delta_ratio^(1/(L−1))
    act_growth_per_layer: float  # rms(H)'s factor per layer: act_ratio^(1/L)
    first_bad_layer: int | None  # first layer past the threshold, for the verdict's pass
    forward_bad_layer: int | None  # first l with rms(H_l)/rms(H_0) past the threshold
    backward_bad_layer: int | None  # largest l with rms(δ_l)/rms(δ_L) past the threshold
    nonfinite: dict | None  # {"pass", "layer", "tracked"}: where inf/NaN first appears
    # {"pass", "layer", "forward_layer", "backward_layer"}: where a plain computation in
    # the dtype first falls below its smallest normal number (first in execution order)
    underflow: dict | None
    symmetric: bool  # some layer's weights are all equal: symmetry is never broken
    symmetric_layers: list[int]
    mean_saturated_frac: float
    mean_dead_frac: float
    threshold: float
    tracked_forward: bool
    # {"mode", "scale", "log2_scale", "tried", "underflowed_layers", "log2_advised_range",
    # "advised_range"}: gradsim.verdicts.loss_scale_summary
    loss_scale: dict = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)


def num(x: float | None) -> float | None:
    """A JSON number, or None (null) for None, inf and NaN."""
    return float(x) if x is not None and math.isfinite(x) else None


def clean(d):
    """A copy of nested dicts, lists and tuples (as lists) with every float through ``num``."""
    if isinstance(d, dict):
        return {k: clean(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [clean(v) for v in d]
    if isinstance(d, float):
        return num(d)
    return d


@dataclass(frozen=True)
class Result(Display):
    """What `gradsim run` measured: ``config``, ``layers`` (one LayerStats per layer),
    ``summary``; ``to_dict()`` gives the JSON contract (non-finite numbers as None),
    ``figure()`` the per-layer curves that ``--plot`` draws."""

    config: RunConfig
    layers: Sequence[LayerStats]  # Layers: made when first read
    summary: Summary
    hist: dict | None = None  # histograms of H_l and log10|δ_l| at a few layers
    # mean-field prediction beside the measurement (theory.compare_run): {"layers", "summary"}
    theory: dict | None = None

    def to_dict(self) -> dict:
        d = {
            "gradsim": __version__,
            "kind": "run",
            "config": clean(self.config.to_dict()),
            "layers": [clean(asdict(s)) for s in self.layers],
            "summary": clean(asdict(self.summary)),
        }
        if self.hist is not None:
            d["hist"] = clean(self.hist)
        if self.theory is not None:
            for row, pred in zip(d["layers"], self.theory["layers"], strict=True):
                row.update(clean(pred))
            d["summary"]["theory"] = clean(self.theory["summary"])
        return d

    def column(self, name: str) -> np.ndarray:
        """One per-layer field as a float array (None → NaN), e.g. ``log10_delta_rms``."""
        if isinstance(self.layers, Layers):
            return self.layers.column(name)
        if name == "log10_grad_to_weight":  # rows without the weights' norms: from the ratio
            with np.errstate(divide="ignore"):
                return np.log10(column(self.layers, "grad_to_weight"))
        return column(self.layers, name)

    def __repr__(self) -> str:
        from gradsim.report.labels import init_text

        c, s = self.config, self.summary
        return (
            f"<Result {c.activation} · {init_text(vars(c))} · L={c.depth}: {s.verdict} "
            f"(forward {s.forward}, backward {s.backward}, "
            f"log10 δ ratio {s.log10_delta_ratio:.2f})>"
        )


def column(rows, name: str) -> np.ndarray:
    """Field ``name`` of each LayerStats in ``rows`` as a float array (None → NaN)."""
    return np.array([np.nan if (v := getattr(s, name)) is None else v for s in rows],
                    dtype=float)  # fmt: skip


# the Trace arrays a run's LayerStats are made of
_LAYER_ARRAYS = (
    "log10_act_rms", "log10_delta_rms", "log10_grad_norm", "weight_std", "z_mean", "z_std",
    "act_mean", "act_std", "log10_weight_norm", "saturated", "dead", "delta_zero",
    "log10_delta_max",
)  # fmt: skip


class Layers(Sequence):
    """A run's LayerStats, layer 1 first: a read-only sequence made from the run's trace
    when first read (a sweep, or a caller that wants only the summary, never pays for
    them). ``column`` reads the log10 fields straight from the trace; ``underflowed``: the
    layers whose δ underflowed (the summary's: gradsim.verdicts.loss_scale_summary)."""

    def __init__(self, cfg: RunConfig, tr: Trace, underflowed=()):
        self._cfg = cfg
        self._arrays = {f: getattr(tr, f) for f in _LAYER_ARRAYS}
        self._arrays["underflowed"] = frozenset(underflowed)
        scale = tr.loss_scale.get("scale")
        self._arrays["shift"] = math.log10(scale) if scale else 0.0  # (stored = true × scale)
        self._rows: tuple[LayerStats, ...] | None = None

    def _built(self) -> tuple[LayerStats, ...]:
        if self._rows is None:
            self._rows = _layer_stats(self._cfg, self._arrays)
        return self._rows

    def __len__(self) -> int:
        return self._cfg.depth

    def __getitem__(self, i):
        return self._built()[i]

    def __iter__(self):
        return iter(self._built())

    def __eq__(self, other) -> bool:
        if isinstance(other, (Layers, tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Layers({list(self._built())!r})"

    def column(self, name: str) -> np.ndarray:
        """One field per layer as a float array (NaN where not a number);
        ``log10_grad_to_weight`` is log10 ‖∂E/∂W_l‖/‖W_l‖ taken in log space, exact where the
        ratio itself leaves float64's range (``grad_to_weight`` is then inf)."""
        if name == "log10_grad_to_weight":
            L = self._cfg.depth
            g, w = (np.array(self._arrays[f][1 : L + 1], dtype=float)
                    for f in ("log10_grad_norm", "log10_weight_norm"))  # fmt: skip
            with np.errstate(invalid="ignore"):
                return np.where(np.isfinite(w), g - w, np.nan)
        if self._rows is None and name in ("log10_act_rms", "log10_delta_rms",
                                           "log10_grad_norm"):  # fmt: skip
            return np.array(self._arrays[name][1 : self._cfg.depth + 1], dtype=float)
        return column(self, name)


def _layer_stats(cfg: RunConfig, arrays: dict) -> tuple[LayerStats, ...]:
    n = cfg.layer_widths
    info = fmt(cfg.dtype)
    lo, hi = math.log10(float(info.tiny)), math.log10(float(info.max))
    # plain floats: the loop below runs L times per run, and Python floats are quick
    la_, ld_, lg_, wstd, zm, zs, am, ast, lwn, sat_, dead_, zero_, top_ = (
        arrays[f].tolist() for f in _LAYER_ARRAYS
    )
    underflowed = arrays.get("underflowed", frozenset())
    shift = arrays.get("shift", 0.0)
    nan, isfinite, isnan = math.nan, math.isfinite, math.isnan
    layers = []
    for l in range(1, cfg.depth + 1):
        a, d, g = la_[l], ld_[l], lg_[l]
        fin = (isfinite(a) or a == -math.inf) and (isfinite(d) or d == -math.inf)
        # typical entries of H_l, δ_l and ∂E/∂W_l (RMS = norm/√size)
        # (δ and ∂E/∂W as stored: × the loss scale)
        vals = [v for v in (a, d + shift, g + shift - 0.5 * math.log10(n[l - 1] * n[l]))
                if isfinite(v)]  # fmt: skip
        layers.append(
            LayerStats(
                layer=l,
                fan_in=n[l - 1],
                fan_out=n[l],
                weight_std=wstd[l],
                z_mean=zm[l],
                z_std=zs[l],
                act_mean=am[l],
                act_std=ast[l],
                act_rms=exp10(a) if not isnan(a) else nan,
                log10_act_rms=a,
                saturated_frac=sat_[l],
                dead_frac=dead_[l],
                delta_rms=exp10(d) if not isnan(d) else nan,
                log10_delta_rms=d,
                grad_norm=exp10(g) if not isnan(g) else nan,
                log10_grad_norm=g,
                grad_to_weight=exp10(g - lwn[l]) if isfinite(lwn[l]) and not isnan(g) else nan,
                finite=fin,
                underflow=any(v < lo for v in vals),
                overflow=any(v > hi for v in vals),
                delta_zero_frac=zero_[l],
                log10_delta_max=top_[l],
                underflowed=l in underflowed,
            )
        )
    return tuple(layers)
