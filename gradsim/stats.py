"""Per-layer statistics, the summary with its verdicts, and the Result of a run.

Ratios compare layer 1 with layer L (DESIGN.md): act_ratio = rms(H_L)/rms(H_0),
delta_ratio = rms(δ_1)/rms(δ_L), grad_ratio = ‖∂E/∂W_1‖/‖∂E/∂W_L‖. A ratio beyond
×threshold is "exploding", below ÷threshold "vanishing", else "stable"; "overflow" when a
computation in the run's dtype would meet inf or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from gradsim._version import __version__
from gradsim.config import RunConfig
from gradsim.engine import Trace
from gradsim.engine import exp10 as _exp10

VERDICTS = ("stable", "vanishing", "exploding", "overflow")


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
    sentences: list[str] = field(default_factory=list)


def _num(x: float) -> float | None:
    """JSON number or null."""
    return float(x) if x is not None and math.isfinite(x) else None


def _clean(d):
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_clean(v) for v in d]
    if isinstance(d, float):
        return _num(d)
    return d


@dataclass(frozen=True)
class Result:
    """What `gradsim run` measured: ``config``, ``layers`` (one LayerStats per layer),
    ``summary``; ``to_dict()`` gives the JSON contract (non-finite numbers as None)."""

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
            "config": _clean(self.config.to_dict()),
            "layers": [_clean(asdict(s)) for s in self.layers],
            "summary": _clean(asdict(self.summary)),
        }
        if self.hist is not None:
            d["hist"] = _clean(self.hist)
        if self.theory is not None:
            for row, pred in zip(d["layers"], self.theory["layers"], strict=True):
                row.update(_clean(pred))
            d["summary"]["theory"] = _clean(self.theory["summary"])
        return d

    def column(self, name: str) -> np.ndarray:
        """One per-layer field as a float array (None → NaN), e.g. ``log10_delta_rms``."""
        if isinstance(self.layers, Layers):
            return self.layers.column(name)
        return _column(self.layers, name)

    def __repr__(self) -> str:
        c, s = self.config, self.summary
        return (
            f"<Result {c.init} {c.activation} L={c.depth}: {s.verdict} "
            f"(forward {s.forward}, backward {s.backward}, "
            f"log10 δ ratio {s.log10_delta_ratio:.2f})>"
        )


def _verdict(log10_ratio: float, log10_thr: float) -> str:
    if math.isnan(log10_ratio):
        return "overflow"
    if log10_ratio < -log10_thr:
        return "vanishing"
    if log10_ratio > log10_thr:
        return "exploding"
    return "stable"


def _fmt_pow(x: float) -> str:
    """10^x as people read it: 10^-23, 0.03, 450."""
    if not math.isfinite(x):
        return "0" if x < 0 else "∞"
    if -2 <= x <= 3:
        v = 10**x
        return f"{v:.3g}"
    return f"10^{x:.0f}"


# the Trace arrays a run's LayerStats are made of
_LAYER_ARRAYS = (
    "log10_act_rms", "log10_delta_rms", "log10_grad_norm", "weight_std", "z_mean", "z_std",
    "act_mean", "act_std", "log10_weight_norm", "saturated", "dead",
)  # fmt: skip


class Layers(Sequence):
    """A run's LayerStats, layer 1 first: a read-only sequence made from the run's trace
    when first read (a sweep, or a caller that wants only the summary, never pays for
    them). ``column`` reads the log10 fields straight from the trace."""

    def __init__(self, cfg: RunConfig, tr: Trace):
        self._cfg = cfg
        self._arrays = {f: getattr(tr, f) for f in _LAYER_ARRAYS}
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
        """One field per layer as a float array (NaN where not a number)."""
        if self._rows is None and name in ("log10_act_rms", "log10_delta_rms",
                                           "log10_grad_norm"):  # fmt: skip
            return np.array(self._arrays[name][1 : self._cfg.depth + 1], dtype=float)
        return _column(self, name)


def _column(rows, name: str) -> np.ndarray:
    return np.array([np.nan if (v := getattr(s, name)) is None else v for s in rows],
                    dtype=float)  # fmt: skip


def _layer_stats(cfg: RunConfig, arrays: dict) -> tuple[LayerStats, ...]:
    n = cfg.layer_widths
    info = np.finfo(np.dtype(cfg.dtype))
    lo, hi = math.log10(float(info.tiny)), math.log10(float(info.max))
    # plain floats: the loop below runs L times per run, and Python floats are quick
    la_, ld_, lg_, wstd, zm, zs, am, ast, lwn, sat_, dead_ = (
        arrays[f].tolist() for f in _LAYER_ARRAYS
    )
    nan, isfinite, isnan = math.nan, math.isfinite, math.isnan
    layers = []
    for l in range(1, cfg.depth + 1):
        a, d, g = la_[l], ld_[l], lg_[l]
        fin = (isfinite(a) or a == -math.inf) and (isfinite(d) or d == -math.inf)
        # typical entries of H_l, δ_l and ∂E/∂W_l (RMS = norm/√size)
        vals = [v for v in (a, d, g - 0.5 * math.log10(n[l - 1] * n[l])) if isfinite(v)]
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
                act_rms=_exp10(a) if not isnan(a) else nan,
                log10_act_rms=a,
                saturated_frac=sat_[l],
                dead_frac=dead_[l],
                delta_rms=_exp10(d) if not isnan(d) else nan,
                log10_delta_rms=d,
                grad_norm=_exp10(g) if not isnan(g) else nan,
                log10_grad_norm=g,
                grad_to_weight=_exp10(g - lwn[l]) if isfinite(lwn[l]) and not isnan(g) else nan,
                finite=fin,
                underflow=any(v < lo for v in vals),
                overflow=any(v > hi for v in vals),
            )
        )
    return tuple(layers)


def _mean_of_numbers(x: np.ndarray) -> float:
    """np.nanmean(x) bit for bit (NaNs as zeros in NumPy's pairwise sum, divided by the
    count of numbers), at a tenth of its cost; 0.0 when x holds no finite number."""
    nan = np.isnan(x)
    if not np.isfinite(x).any():
        return 0.0
    if nan.any():
        return float(np.add.reduce(np.where(nan, 0.0, x)) / (x.size - np.count_nonzero(nan)))
    return float(np.add.reduce(x) / x.size)


def summarize(cfg: RunConfig, tr: Trace, symmetric_layers: list[int]) -> Result:
    L = cfg.depth
    info = np.finfo(np.dtype(cfg.dtype))
    lo, hi = math.log10(float(info.tiny)), math.log10(float(info.max))
    # Python floats: the scans below run over every layer, and NumPy scalars are slow there
    la, ld, lg = tr.log10_act_rms.tolist(), tr.log10_delta_rms.tolist(), tr.log10_grad_norm.tolist()

    log10_thr = math.log10(cfg.threshold)
    act_r = la[L] - la[0]
    delta_r = ld[1] - ld[L] if math.isfinite(ld[L]) else math.nan
    grad_r = lg[1] - lg[L] if math.isfinite(lg[L]) else math.nan
    forward = _verdict(act_r, log10_thr)
    if ld[L] == -math.inf:
        backward = "vanishing"  # no gradient reaches even the output layer
    else:
        backward = _verdict(delta_r, log10_thr)
    if tr.forward_nonfinite is not None:
        backward = "overflow"

    # where a plain computation in this dtype meets inf/NaN or leaves the normal numbers
    nonfinite = underflow = None
    if tr.forward_nonfinite is not None:
        nonfinite = {"pass": "forward", "layer": tr.forward_nonfinite, "tracked": False}
    else:
        over = [l for l in range(1, L + 1) if la[l] > hi]
        if over:
            nonfinite = {"pass": "forward", "layer": over[0], "tracked": True}
        elif tr.backward_nonfinite is not None:
            nonfinite = {"pass": "backward", "layer": tr.backward_nonfinite, "tracked": False}
        else:
            over = [l for l in range(L, 0, -1) if ld[l] > hi]
            if over:
                nonfinite = {"pass": "backward", "layer": over[0], "tracked": True}
    f_under = [l for l in range(1, L + 1) if -math.inf < la[l] < lo]
    b_under = [l for l in range(L, 0, -1) if -math.inf < ld[l] < lo]
    if f_under or b_under:
        underflow = {
            "pass": "forward" if f_under else "backward",
            "layer": (f_under or b_under)[0],
            "forward_layer": f_under[0] if f_under else None,
            "backward_layer": b_under[0] if b_under else None,
        }

    verdict = "overflow" if nonfinite else (backward if backward != "stable" else forward)
    fwd_bad = next(
        (l for l in range(1, L + 1) if not abs(la[l] - la[0]) <= log10_thr), None
    ) if forward != "stable" else None  # fmt: skip
    bwd_bad = next(
        (l for l in range(L, 0, -1) if not abs(ld[l] - ld[L]) <= log10_thr), None
    ) if backward != "stable" and math.isfinite(ld[L]) else None  # fmt: skip
    if nonfinite:
        first_bad = nonfinite["layer"]
    elif backward != "stable":
        first_bad = bwd_bad
    else:
        first_bad = fwd_bad

    growth = _exp10(delta_r / (L - 1)) if L > 1 and not math.isnan(delta_r) else math.nan
    act_growth = _exp10(act_r / L) if not math.isnan(act_r) else math.nan
    sat, dead = _mean_of_numbers(tr.saturated[1:]), _mean_of_numbers(tr.dead[1:])

    summary = Summary(
        forward=forward,
        backward=backward,
        verdict=verdict,
        act_ratio=_exp10(act_r) if not math.isnan(act_r) else math.nan,
        log10_act_ratio=act_r,
        delta_ratio=_exp10(delta_r) if not math.isnan(delta_r) else math.nan,
        log10_delta_ratio=delta_r,
        grad_ratio=_exp10(grad_r) if not math.isnan(grad_r) else math.nan,
        log10_grad_ratio=grad_r,
        growth_per_layer=growth,
        act_growth_per_layer=act_growth,
        first_bad_layer=first_bad,
        forward_bad_layer=fwd_bad,
        backward_bad_layer=bwd_bad,
        nonfinite=nonfinite,
        underflow=underflow,
        symmetric=bool(symmetric_layers),
        symmetric_layers=list(symmetric_layers),
        mean_saturated_frac=sat,
        mean_dead_frac=dead,
        threshold=cfg.threshold,
        tracked_forward=tr.tracked_forward,
    )
    summary.sentences[:] = _sentences(cfg, summary, info)  # the new Summary's own list
    return Result(cfg, Layers(cfg, tr), summary)


def _sentences(cfg: RunConfig, s: Summary, info: np.finfo) -> list[str]:
    """Plain-language reading of the summary, most important first."""
    L, out = cfg.depth, []
    if s.symmetric:
        which = "every layer" if len(s.symmetric_layers) == L else (
            f"{len(s.symmetric_layers)} of {L} layers")  # fmt: skip
        out.append(
            f"Unbroken symmetry: in {which} all weights are equal ({cfg.init}), so every unit "
            "of a layer computes the same value and gets the same gradient; training can never "
            "make them differ."
        )
    nf = s.nonfinite
    if nf and not nf["tracked"]:
        out.append(
            f"Overflow: the {nf['pass']} pass reaches inf/NaN at layer {nf['layer']} in "
            f"{cfg.dtype}; a framework would report a NaN loss."
        )
    elif nf:
        out.append(
            f"Overflow: in plain {cfg.dtype} the {nf['pass']} pass exceeds "
            f"{float(info.max):.3g} at layer {nf['layer']} (a framework would see inf/NaN); "
            "gradsim tracked the true magnitudes below."
        )
    if s.underflow:
        u = s.underflow
        where = [
            f"{what} at layer {u[key]}"
            for what, key in (("the signal", "forward_layer"), ("δ", "backward_layer"))
            if u[key] is not None
        ]
        out.append(
            f"Underflow: in plain {cfg.dtype}, {' and '.join(where)} fall below the smallest "
            f"normal number ({float(info.tiny):.3g}) and are lost to zero soon after; "
            "gradsim tracks their true size."
        )
    if L > 1 and not math.isnan(s.log10_delta_ratio):
        g = s.growth_per_layer
        verb = "shrinks" if g < 1 else "grows"
        tail = {
            "vanishing": "early layers will barely learn.",
            "exploding": "early layers take huge steps; training will diverge.",
            "stable": "the gradient survives the depth.",
        }.get(s.backward, "")
        out.append(
            f"Backward: δ {verb} ×{g:.3g} per layer; layer 1 gets "
            f"{_fmt_pow(s.log10_delta_ratio)} of the output layer's δ: {tail}"
        )
    elif s.backward == "vanishing":
        out.append("Backward: δ is exactly zero at the output layer: no gradient flows at all.")
    if not math.isnan(s.log10_act_ratio):
        g = s.act_growth_per_layer
        tail = {
            "vanishing": "the signal dies out before the output.",
            "exploding": "the signal blows up toward the output.",
            "stable": "the signal keeps its size.",
        }[s.forward]
        out.append(
            f"Forward: activation RMS changes ×{g:.3g} per layer; the output's is "
            f"{_fmt_pow(s.log10_act_ratio)} of the input's: {tail}"
        )
    if (
        s.backward != "stable"
        and not math.isnan(s.log10_grad_ratio)
        and abs(s.log10_grad_ratio) <= math.log10(s.threshold)
    ):
        out.append(
            f"Note: ‖∂E/∂W‖ differs only ×{_fmt_pow(s.log10_grad_ratio)} from layer 1 to L, "
            "because ∂E/∂W_l = H_{l-1}ᵀδ_l multiplies the forward signal and δ, which change "
            "in opposite directions along the depth; weight-gradient norms alone hide this "
            "(Glorot & Bengio 2010)."
        )
    if s.mean_dead_frac >= 0.05:
        out.append(f"Dead units: {s.mean_dead_frac:.0%} per layer on average (φ' = 0 for the "
                   "whole batch).")  # fmt: skip
    if s.mean_saturated_frac >= 0.05:
        out.append(f"Saturation: {s.mean_saturated_frac:.0%} of activations sit in a flat tail "
                   "on average.")  # fmt: skip
    return out


def hist_layers(depth: int, count: int = 5) -> list[int]:
    """About ``count`` layers spread evenly from 1 to L (Glorot & Bengio 2010 show five)."""
    return sorted({round(x) for x in np.linspace(1, depth, min(count, depth)).tolist()})


def histograms(samples: dict, bins: int = 60) -> dict:
    """Histograms of activation values H_l and of log10|δ_l| at the sampled layers.

    One set of bin edges per kind, shared by its layers so they can be compared. δ spans
    many decades, so its histogram is of log10|δ|, exact zeros counted apart (``zeros``).
    Activations are binned by value (Glorot & Bengio 2010, fig. 6) while the layers' RMS
    stay within a factor 100 of each other; beyond that one linear axis would put all but
    one layer into a single bin, so they are binned by log10|H| too (``log10: true``).
    """

    def entry(l, v, edges, extra):
        counts, _ = np.histogram(v, edges)
        return {"layer": l, "edges": edges.tolist(), "counts": counts.tolist(), **extra}

    def shared_edges(values):
        allv = np.concatenate(values) if values else np.empty(0)
        lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
        return np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)

    def log_magnitudes(A, scale):
        mag = np.abs(A.astype(np.float64).ravel())
        nz = mag > 0
        return np.log10(mag[nz]) + scale, int(np.count_nonzero(~nz))

    out: dict[str, list] = {"act": [], "delta": []}
    acts = sorted(samples.get("act", {}).items())
    rms = [math.log10(r) + a for _, (H, a) in acts
           if (r := float(np.sqrt(np.mean(H.astype(np.float64) ** 2)))) > 0]  # fmt: skip
    if acts and rms and max(rms) - min(rms) > 2:
        logs = {l: log_magnitudes(H, a) for l, (H, a) in acts}
        edges = shared_edges([v for v, _ in logs.values()])
        out["act"] = [entry(l, v, edges, {"log10": True, "zeros": z}) for l, (v, z) in logs.items()]
    elif acts:
        vals = {}
        for l, (H, a) in acts:
            scale = 0.0 if abs(a) < 300 else a  # keep values finite in float64
            v = H.astype(np.float64).ravel() * 10.0 ** (a - scale)
            vals[l] = (v[np.isfinite(v)], scale)
        edges = shared_edges([v for v, _ in vals.values()])
        out["act"] = [entry(l, v, edges, {"log10_scale": sc}) for l, (v, sc) in vals.items()]
    logs = {l: log_magnitudes(D, sc) for l, (D, sc) in sorted(samples.get("delta", {}).items())}
    if logs:
        edges = shared_edges([v for v, _ in logs.values()])
        out["delta"] = [entry(l, v, edges, {"zeros": z}) for l, (v, z) in logs.items()]
    return out
