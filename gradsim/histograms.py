"""Histograms of a run's activations H_l and of log10|δ_l| at a few layers (Glorot & Bengio
2010, figs. 6-7), from the samples the pass copies; JSON-ready lists."""

from __future__ import annotations

import math

import numpy as np


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
